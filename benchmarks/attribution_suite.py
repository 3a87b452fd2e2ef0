"""Attribution evaluation: targets among confounders of several classes, at realistic sensor noise.

    python benchmarks/attribution_suite.py [--scenarios 40] [--first-seed 0] [--workers 2]

Each scenario hides 2-4 sources drawn from the classes of benchmarks/data/attribution_library.toml
(fossil gas, livestock, landfill and a user-defined "target"), each emitting its class's mixture
with the between-site spread of its ratios, in meandering wind; the aircraft carries CH4, C2H6,
NH3 and CO sensors with realistic noise. `analyze` locates the sources (from CH4) and attributes
each one. An estimated source is matched to the nearest true source within 50 m; the matched
sources' attributions are scored: confusion matrix, accuracy over the library classes, and the
reliability of the probabilities (predicted probability of the chosen class vs how often it is
right, in bins). Runs on dask.distributed. Writes benchmarks/results/attribution.md, .json and
the reliability diagram attribution_reliability.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

LIB = Path(__file__).parent / "data" / "attribution_library.toml"
MIN_BIN = 10  # sources in a reliability bin for its gap to count in the headline
SENSORS = [
    {"species": "c2h6", "unit": "ppb", "background_ppm": 0.002, "noise_ppm": 0.0005, "detection_limit_ppm": 0.002,
     "resolution_ppm": 0.0001},
    {"species": "nh3", "unit": "ppb", "background_ppm": 0.005, "noise_ppm": 0.001, "detection_limit_ppm": 0.005,
     "resolution_ppm": 0.0001},
    {"species": "co", "unit": "ppb", "background_ppm": 0.12, "noise_ppm": 0.002, "detection_limit_ppm": 0.01,
     "resolution_ppm": 0.0001},
]  # fmt: skip


def scenario(seed: int, noise_factor: float = 1.0, rates=(0.2, 1.5)) -> dict:
    from plumescout.attribution import load_library

    lib = load_library(LIB)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    srcs = []
    while len(srcs) < n:
        x, y = rng.uniform(-320, 320), rng.uniform(-230, 230)
        if any(np.hypot(x - s["x_m"], y - s["y_m"]) < 120 for s in srcs):
            continue
        c = lib.classes[int(rng.integers(len(lib.classes)))]
        mix = {}
        for sp, r in c.ratios.items():
            if sp != c.reference:
                mix[sp] = float(r * np.exp(rng.normal(0.0, np.log(c.spread_of(sp)))))
        q = float(np.exp(rng.uniform(np.log(rates[0]), np.log(rates[1]))))
        srcs.append({"x_m": float(x), "y_m": float(y), "rate_g_s": q,
                     "species": c.reference, "mixture": mix, "kind": c.name, "height_m": 1.0})  # fmt: skip
    return {
        "name": f"attr-{seed}",
        "seed": seed,
        "site": {"origin": [51.0, -1.0], "area_m": [[-400, -300], [400, -300], [400, 300], [-400, 300]]},
        "sources": srcs,
        "wind": {"speed_m_s": float(rng.uniform(2.0, 6.0)), "from_deg": float(rng.uniform(0, 360)),
                 "meander_deg": float(rng.uniform(8, 15))},
        "aircraft": {"speed_m_s": 6.0, "altitude_m": 5.0, "min_altitude_m": 5.0, "endurance_s": 4000},
        "sensor": {"species": "ch4", "noise_ppm": 0.01},
        "extra_sensors": [
            {**e, "noise_ppm": e["noise_ppm"] * f, "detection_limit_ppm": e["detection_limit_ppm"] * f}
            for e in SENSORS
            for f in [noise_factor]
        ],
        "flight": {"line_spacing_m": 60.0},
    }  # fmt: skip


def run_one(seed: int, noise_factor: float = 1.0, rates=(0.2, 1.5)) -> list[dict]:
    from plumescout.attribution import load_library
    from plumescout.pipeline import analyze
    from plumescout.simulate import Scenario, simulate_flight

    sc = Scenario.model_validate(scenario(seed, noise_factor, rates))
    fl = simulate_flight(sc)
    res = analyze(fl.observations, None, library=load_library(LIB))
    rows = []
    truth = fl.truth["sources"]
    cands = [s for s in res.sources if s.probability >= 0.5 and s.attribution]
    # one-to-one: each true source keeps its nearest estimate within 50 m (closest pairs first)
    pairs = sorted(
        (float(np.hypot(s.x_m - t["x_m"], s.y_m - t["y_m"])), i, k)
        for i, s in enumerate(cands)
        for k, t in enumerate(truth)
    )
    used_s, used_t = set(), set()
    for d, i, k in pairs:
        if d > 50.0 or i in used_s or k in used_t:
            continue
        used_s.add(i)
        used_t.add(k)
        a = cands[i].attribution
        rows.append({"seed": seed, "true": truth[k]["kind"], "pred": a["source_class"],
                     "probs": a["class_probabilities"], "distance_m": d})  # fmt: skip
    return rows


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """Wilson score 95 % interval of a binomial frequency k/n."""
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(c - h), float(c + h)]


def reliability(rows, out_png: Path) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one-vs-rest over every (source, class) pair: predicted probability vs outcome
    p = np.array([pr for r in rows for pr in r["probs"].values()])
    y = np.array([float(c == r["true"]) for r in rows for c in r["probs"]])
    edges = np.linspace(0, 1, 6)
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (p >= lo) & ((p < hi) | (hi == 1.0))
        if sel.any():
            k, m = int(y[sel].sum()), int(sel.sum())
            ci = wilson(k, m)
            bins.append({"lo": float(lo), "hi": float(hi), "n": m, "mean_p": float(p[sel].mean()),
                         "frequency": k / m, "ci95": ci})  # fmt: skip
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect")
    ax.fill_between([0, 1], [-0.1, 0.9], [0.1, 1.1], color="0.9", label="within 0.1")
    ax.errorbar(
        [b["mean_p"] for b in bins],
        [b["frequency"] for b in bins],
        yerr=[[b["frequency"] - b["ci95"][0] for b in bins], [b["ci95"][1] - b["frequency"] for b in bins]],
        fmt="o-",
        capsize=3,
        label="plumescout (95 % Wilson interval)",
    )
    for b in bins:
        ax.annotate(str(b["n"]), (b["mean_p"], b["frequency"]), fontsize=7, xytext=(4, -10), textcoords="offset points")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted class probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Attribution reliability (one-vs-rest)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return bins


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--noise-factor", type=float, default=1.0, help="scale the C2H6/NH3/CO sensor noise (harder)")
    ap.add_argument("--rates", default="0.2,1.5", help="range of the CH4 emission rates, g/s")
    ap.add_argument("--tag", default="", help="suffix of the result files (e.g. _hard)")
    ap.add_argument("--report-only", action="store_true", help="re-write the table from the saved .json")
    args = ap.parse_args(argv)
    rates = tuple(float(v) for v in args.rates.split(","))
    from dask.distributed import Client, LocalCluster, as_completed

    from plumescout.attribution import load_library

    out = Path(args.out)
    tag = args.tag
    if args.report_only:  # re-write the table from the scored sources of an earlier run
        saved = json.loads((out / f"attribution{tag}.json").read_text())
        rows, wall = saved["rows"], saved.get("wall_s", float("nan"))
    else:
        if args.scheduler:
            client = Client(args.scheduler)
        else:
            os.environ.setdefault("NUMBA_NUM_THREADS", "1")
            client = Client(LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None))
        t0 = time.perf_counter()
        seeds = list(range(args.first_seed, args.first_seed + args.scenarios))
        rows = []
        futures = client.map(run_one, seeds, noise_factor=args.noise_factor, rates=rates, pure=False)
        for f in as_completed(futures):
            r = f.result()
            rows += r
            print(f"{len(rows)} sources scored", flush=True)
        client.close()
        wall = time.perf_counter() - t0
    classes = [c.name for c in load_library(LIB).classes] + ["unknown"]
    conf = {t: {p: 0 for p in classes} for t in classes[:-1]}
    for r in rows:
        conf[r["true"]][r["pred"]] += 1
    acc = float(np.mean([r["true"] == r["pred"] for r in rows])) if rows else float("nan")
    chosen = np.array([r["probs"][r["pred"]] for r in rows])
    right = np.array([r["true"] == r["pred"] for r in rows], float)
    bins = reliability(rows, out / f"attribution{tag}_reliability.png")
    # the gap of a bin of a few sources is noise (one of two wrong is a gap of 0.5): the headline
    # takes bins of at least MIN_BIN sources; every bin, small ones too, is in the table with its
    # 95 % interval
    big = [b for b in bins if b["n"] >= MIN_BIN]
    max_gap = max(abs(b["mean_p"] - b["frequency"]) for b in big)
    small = [b for b in bins if b["n"] < MIN_BIN]
    small_ok = all(b["ci95"][0] <= b["mean_p"] <= b["ci95"][1] for b in small)
    (out / f"attribution{tag}.json").write_text(
        json.dumps({"rows": rows, "confusion": conf, "bins": bins, "wall_s": wall}, indent=1) + "\n"
    )
    lines = [
        "# Attribution evaluation: targets among confounders",
        "",
        f"`python benchmarks/attribution_suite.py --scenarios {args.scenarios} --first-seed {args.first_seed}"
        + (f" --noise-factor {args.noise_factor} --rates {args.rates} --tag {tag}" if tag else "")
        + f"` on {machine()}; {args.workers} dask workers; {wall:.0f} s.",
        "Library: benchmarks/data/attribution_library.toml (fossil gas, livestock, landfill, a user 'target');",
        f"sensors CH4 (0.01 ppm noise), C2H6 ({0.5 * args.noise_factor:g} ppb), NH3 ({args.noise_factor:g} ppb), "
        f"CO ({2 * args.noise_factor:g} ppb); CH4 rates {rates[0]:g}-{rates[1]:g} g/s.",
        f"Located sources (p >= 0.5, within 50 m of a true one): {len(rows)}.",
        "",
        f"Accuracy over the library classes: **{acc:.3f}** (target >= 0.90). Mean probability of the chosen",
        f"class {chosen.mean():.3f} vs its accuracy {right.mean():.3f}; largest reliability gap {max_gap:.3f}",
        f"over the bins of >= {MIN_BIN} sources (target <= 0.1)"
        + (
            f"; {len(small)} smaller bin(s), each with its prediction "
            + ("inside" if small_ok else "NOT inside")
            + " the observed frequency's 95 % interval."
            if small
            else "."
        ),
        "",
        "Confusion matrix (rows: true class, columns: attributed):",
        "",
        "| true \\ attributed | " + " | ".join(classes) + " |",
        "|---" * (len(classes) + 1) + "|",
    ]
    for t in classes[:-1]:
        lines.append(f"| {t} | " + " | ".join(str(conf[t][p]) for p in classes) + " |")
    lines += ["", "Reliability (one-vs-rest, every source x class; observed with its 95 % Wilson interval):", "",
              "| bin | n | mean predicted | observed | 95 % interval | gap | predicted inside interval |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['n']} | {b['mean_p']:.3f} | {b['frequency']:.3f} | "
        f"[{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}] | {abs(b['mean_p'] - b['frequency']):.3f} | "
        f"{'yes' if b['ci95'][0] <= b['mean_p'] <= b['ci95'][1] else 'no'} |"
        for b in bins
    ]
    lines += ["", f"![reliability diagram](attribution{tag}_reliability.png)", ""]
    (out / f"attribution{tag}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

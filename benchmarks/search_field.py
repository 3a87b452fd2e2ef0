"""Realistic search: adaptive policies vs the lawnmower survey plus follow-up, in the simulator.

    python benchmarks/search_field.py [--episodes 50] [--first-seed 0] [--scheduler ADDRESS]

Each episode hides one source (0.2-1.5 g/s, 1 m high) in an 800 m x 800 m area, with wind of 2-6 m/s
from any direction, meandering 8-15 deg, and intermittent puffs (the simulator of
plumescout.simulate). The aircraft flies at 6 m/s, 4 m above ground, sampling at 2 Hz with 0.01 ppm
noise. An episode counts as localised when the reported location is within 10 m of the source;
the time is the flight time until the strategy reports it. Episodes run in parallel on
dask.distributed (a LocalCluster unless --scheduler names one). Writes
benchmarks/results/search_field.md and .json, and a figure of one episode's track.
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

STRATEGIES = ["lookahead", "perseus", "sweep-space-aware", "space-aware", "infotaxis", "cast-and-surge", "lawnmower"]


def run(strategy: str, seed: int) -> dict:
    from plumescout.search.field import random_episode, run_adaptive, run_lawnmower

    ep = random_episode(seed)
    t0 = time.perf_counter()
    r = run_lawnmower(ep) if strategy == "lawnmower" else run_adaptive(ep, strategy)
    return {**r.as_dict(), "policy": strategy, "wall_s": round(time.perf_counter() - t0, 2)}


def summarise(rows: list[dict]) -> dict:
    t = np.array([r["time_s"] for r in rows])
    ok = np.array([r["found"] for r in rows])
    tf = t[ok]
    return {
        "episodes": len(rows),
        "localised_within_10m": float(ok.mean()),
        "mean_time_to_localise_s": float(tf.mean()) if tf.size else float("nan"),
        "ci95_s": float(1.96 * tf.std() / np.sqrt(tf.size)) if tf.size > 1 else float("nan"),
        "median_time_s": float(np.median(tf)) if tf.size else float("nan"),
        "median_error_m": float(np.median([r["error_m"] for r in rows])),
    }


def paired(rows: list[dict], strategies: list[str], limit_s: float = 3600.0) -> list[str]:
    """Each strategy against the first on the same episodes (same source, wind and puffs): the
    mean difference in time to localise, an episode not localised counted at the time limit."""
    if len(strategies) < 2:
        return []
    by = {(r["policy"], r["seed"]): r for r in rows}

    def t(r):
        return r["time_s"] if r["found"] else limit_s

    from scipy.stats import wilcoxon

    ref = strategies[0]
    out = [
        "",
        f"Paired on the same episodes: {ref} minus each other strategy. Time to localise with an episode",
        f"not localised counted at the {limit_s:.0f} s limit: mean difference with its 95 % half-width, the",
        f"episodes {ref} was faster / slower in, and the Wilcoxon signed-rank test's two-sided p (the",
        "differences are heavy-tailed: one miss weighs ~3,000 s); then the mean difference over the",
        f"episodes both localised, and the episodes only {ref} / only the other localised.",
        "",
        "| other | episodes | mean difference (s) | ci95 (s) | faster / slower | signed-rank p "
        "| both localised: mean difference (s) | ci95 (s) | only ours | only other |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in strategies[1:]:
        seeds = sorted(k[1] for k in by if k[0] == s and (ref, k[1]) in by)
        if not seeds:
            continue
        d = np.array([t(by[(ref, q)]) - t(by[(s, q)]) for q in seeds])
        both = np.array([by[(ref, q)]["time_s"] - by[(s, q)]["time_s"] for q in seeds
                         if by[(ref, q)]["found"] and by[(s, q)]["found"]])  # fmt: skip
        a = sum(by[(ref, q)]["found"] and not by[(s, q)]["found"] for q in seeds)
        b = sum(by[(s, q)]["found"] and not by[(ref, q)]["found"] for q in seeds)

        def ci(x):
            return 1.96 * x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")

        p = wilcoxon(d).pvalue if np.any(d != 0) else 1.0
        out.append(
            f"| {s} | {d.size} | {d.mean():+.0f} | {ci(d):.0f} | {(d < 0).sum()} / {(d > 0).sum()} | {p:.3f} "
            f"| {both.mean():+.0f} | {ci(both):.0f} | {a} | {b} |"
        )
    return out


def figure(seed: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plumescout.geo import bearing_to_unit
    from plumescout.search.field import random_episode, run_adaptive

    ep = random_episode(seed)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
    for ax, pol in zip(axes, ("lookahead", "space-aware"), strict=True):
        r = run_adaptive(ep, pol)
        ax.plot(*r.track.T, "-", lw=0.8, color="tab:blue", label="track")
        ax.plot(*r.track[0], "o", color="tab:blue", label="launch")
        ax.plot(*ep.source_xy, "r*", ms=14, label="source")
        ax.plot(*r.estimate_xy, "kx", ms=10, mew=2, label=f"reported ({r.error_m:.1f} m off)")
        ux, uy = bearing_to_unit(ep.wind_from_deg + 180.0)
        ax.annotate("", xy=(-300 + 80 * ux, 330 + 80 * uy), xytext=(-300, 330), arrowprops={"arrowstyle": "->"})
        ax.text(-300, 350, f"wind {ep.wind_speed_m_s:.1f} m/s", fontsize=8)
        h = ep.half_size_m
        ax.set_xlim(-h, h)
        ax.set_ylim(-h, h)
        ax.set_aspect("equal")
        ax.set_title(f"{pol}: {'localised' if r.found else 'not localised'} in {r.time_s / 60:.1f} min")
        ax.set_xlabel("east (m)")
        ax.set_ylabel("north (m)")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def tables(rows: list[dict], strategies: list[str], summ: dict, run_line: str, fig_seed: int) -> list[str]:
    lines = [
        "# Realistic search: adaptive policies vs lawnmower survey + follow-up",
        "",
        run_line,
        "One source per episode (0.2-1.5 g/s) in 800 m x 800 m, wind 2-6 m/s from any direction, meander",
        "8-15 deg, intermittent puffs; aircraft 6 m/s at 4 m, 2 Hz, 0.01 ppm noise. Localised = the",
        "reported location within 10 m of the source; time = flight time until the strategy reports it",
        "(mean over the localised episodes, with its 95 % half-width).",
        "",
        "| strategy | episodes | localised within 10 m | mean time (s) | ci95 (s) | median time (s) "
        "| median error (m) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in strategies:
        m = summ[s]
        lines.append(
            f"| {s} | {m['episodes']} | {m['localised_within_10m']:.2f} | {m['mean_time_to_localise_s']:.0f} | "
            f"{m['ci95_s']:.0f} | {m['median_time_s']:.0f} | {m['median_error_m']:.1f} |"
        )
    return [*lines, *paired(rows, strategies), "", f"![tracks of episode {fig_seed}](search_field_track.png)", ""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument(
        "--reuse",
        default=None,
        help="a previous search_field.json: its episodes of the strategies not run now join the table "
        "(episodes are deterministic per seed, so this is valid while those strategies' code is unchanged)",
    )
    ap.add_argument("--figure-seed", type=int, default=None, help="the episode in the figure (default: the first)")
    ap.add_argument(
        "--tabulate",
        action="store_true",
        help="run nothing: rewrite search_field.md from the search_field.json in --out (its run line kept)",
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.tabulate:
        data = json.loads((out / "search_field.json").read_text())
        old = (out / "search_field.md").read_text().splitlines()
        run_line = next(ln for ln in old if ln.startswith("`python benchmarks/search_field.py"))
        fig_seed = args.figure_seed if args.figure_seed is not None else min(r["seed"] for r in data["episodes"])
        if args.figure_seed is not None:
            figure(fig_seed, out / "search_field_track.png")
        lines = tables(data["episodes"], list(data["summary"]), data["summary"], run_line, fig_seed)
        (out / "search_field.md").write_text("\n".join(lines))
        print("\n".join(lines))
        return 0
    from dask.distributed import Client, LocalCluster, as_completed

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")
        client = Client(LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None))
    strategies = args.strategies.split(",")
    if "perseus" in strategies:
        # trained (or read from the cache) here, once, before the workers each load it
        from plumescout.search.field import WindGrid
        from plumescout.search.perseus import trained_alphas

        trained_alphas(WindGrid(), progress=lambda h: print(f"training: {h}", flush=True))
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    t0 = time.perf_counter()
    futs = [client.submit(run, s, seed, pure=False) for s in strategies for seed in seeds]
    rows = []
    for i, f in enumerate(as_completed(futs), start=1):
        r = f.result()
        rows.append(r)
        print(f"[{i}/{len(futs)}] {r['policy']} seed {r['seed']}: found={r['found']} {r['time_s']:.0f} s "
              f"err {r['error_m']:.1f} m", flush=True)  # fmt: skip
    total = time.perf_counter() - t0
    client.close()
    reused = []
    if args.reuse:
        old = json.loads(Path(args.reuse).read_text())["episodes"]
        keep = [r for r in old if r["policy"] not in strategies and r["seed"] in seeds]
        reused = [s for s in STRATEGIES if any(r["policy"] == s for r in keep)]
        rows += keep
        strategies = strategies + [s for s in reused if s not in strategies]
    summ = {s: summarise([r for r in rows if r["policy"] == s]) for s in strategies}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_field.json").write_text(json.dumps({"summary": summ, "episodes": rows}, indent=1) + "\n")
    fig_seed = args.first_seed if args.figure_seed is None else args.figure_seed
    figure(fig_seed, out / "search_field_track.png")
    run_line = (
        f"`python benchmarks/search_field.py --episodes {args.episodes} --first-seed {args.first_seed}"
        + (f" --strategies {args.strategies}" if args.strategies != ",".join(STRATEGIES) else "")
        + (f" --reuse {args.reuse}" if args.reuse else "")
        + "` on "
        f"{machine()}; {args.workers} dask workers; {total:.0f} s in all."
        + (
            f" Rows of {', '.join(reused)}: the episodes of the previous run (`--reuse`; same seeds, code "
            "unchanged for them)."
            if reused
            else ""
        )
    )
    lines = tables(rows, strategies, summ, run_line, fig_seed)
    (out / "search_field.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

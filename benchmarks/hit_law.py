"""The search's hit law against the puff simulator: how often a stretch of flight really sees the plume.

    python benchmarks/hit_law.py [--seeds 6] [--fit-seeds 6] [--out hit_law]

The adaptive search and live mode update their posterior from hits: a stretch of flight whose
largest reading is more than the threshold (0.1 ppm) above background. `search.field.hit_probability`
gives the chance of that for a source at a given offset. Here the aircraft flies crosswind legs
120 m long at 6 m/s and 4 m up, each at a random distance of 3-150 m downwind of a 1 m high
source, through the puff simulator's plume (`simulate.flight.puff_concentration`, a new wind
series per seed, 20 minutes each); every 3 s of flight (one live-mode window, 18 m) is one
observation. Each regime (rate, wind speed, meander) is scored by the mean log-likelihood per
window of what was observed, under the fluctuating-plume law (session 30) and under the mean-field
law it replaced (reproduced here as the baseline: ``p_fa + (p_max - p_fa)(1 - exp(-c/c_thr))``
of a Gaussian plume widened by the meander, 1 m and 2 m more width at the source, evaluated at
the window's middle, p_max 0.9). Before that, the law's source size and p_max are chosen by the
same score on streams of their own (seeds 100 on, ``--fit-seeds`` per regime) and the choice is
printed beside the law's settings; then, per bin of downwind distance and crosswind offset of the
window's middle, the observed hit frequency against each law's mean. Last, the law's inner
sum compiled with numba against its numpy form on the same inputs (a ratio in one run). Writes
benchmarks/results/<out>.md and .json with the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402
from live_accuracy import write_record  # noqa: E402

from plumescout.dispersion import gaussian_plume, sigma_yz  # noqa: E402
from plumescout.search import field  # noqa: E402
from plumescout.search.field import FieldBelief, FieldEpisode, hit_probability  # noqa: E402
from plumescout.simulate.flight import puff_concentration  # noqa: E402
from plumescout.simulate.wind import simulate_wind  # noqa: E402
from plumescout.units import g_m3_to_ppm  # noqa: E402

REGIMES = [  # (rate g/s, wind m/s, meander deg): the corners and middle of live_accuracy --varied
    (0.3, 2.0, 15.0),
    (1.0, 3.0, 10.0),
    (1.0, 5.0, 15.0),
    (3.0, 6.0, 5.0),
]
GEOMETRY = FieldEpisode(200.0, (0.0, 0.0), 1.0, 3.0, 270.0, 10.0, 0)  # a 1 m source, 4 m up, D, CH4, 0.1 ppm
X_BINS = [(3, 10), (10, 20), (20, 40), (40, 70), (70, 110), (110, 150)]
Y_BINS = [(0, 5), (5, 10), (10, 20), (20, 35), (35, 60)]


def mean_field_law(xd, yc, rate, speed, meander_deg, p_fa=0.002, p_max=0.9, sigma0_m=(1.0, 2.0)):
    """The law before session 30, at a point (the baseline)."""
    out = np.full(xd.size, p_fa)
    down = xd > 0.5
    x = xd[down]
    sy, sz = sigma_yz(x, GEOMETRY.stability)
    sy = np.sqrt(sy**2 + (x * np.tan(np.deg2rad(meander_deg))) ** 2 + sigma0_m[0] ** 2)
    sz = np.sqrt(sz**2 + sigma0_m[1] ** 2)
    c = gaussian_plume(x, yc[down], GEOMETRY.altitude_m, GEOMETRY.source_height_m, rate, speed, sy, sz)
    out[down] = p_fa + (p_max - p_fa) * (1.0 - np.exp(-g_m3_to_ppm(c, "ch4") / GEOMETRY.threshold_ppm))
    return out


def windows(rate, speed, meander, seed, duration_s=1200.0, leg_m=120.0, v=6.0, window_s=3.0):
    """(downwind of the window's middle, across, half its crosswind extent, hit) per window."""
    rng = np.random.default_rng([seed, int(rate * 100), int(speed * 10), int(meander * 10)])
    wind = simulate_wind(-900.0, duration_s + 10, speed, 270.0, meander, 120.0, 0.15, 20.0, 0.5, rng)
    dt = 0.1
    per_leg = int(round(leg_m / v / dt))
    t = np.arange(0.0, duration_s, dt)
    n_legs = t.size // per_leg + 1
    x = np.repeat(rng.uniform(3.0, 150.0, n_legs), per_leg)[: t.size]
    sweep = np.linspace(-leg_m / 2, leg_m / 2, per_leg)
    y = np.concatenate([sweep if k % 2 == 0 else sweep[::-1] for k in range(n_legs)])[: t.size]
    # wind from 270 deg blows toward +x: the source at the origin, downwind = +x
    c = puff_concentration(t, np.column_stack([x, y, np.full(t.size, GEOMETRY.altitude_m)]),
                           (0.0, 0.0, GEOMETRY.source_height_m), rate, wind, "D", max_age_s=900.0, rng=rng)  # fmt: skip
    ppm = g_m3_to_ppm(c, "ch4") + rng.normal(0.0, 0.01, t.size)
    k = int(round(window_s / dt))
    out = []
    for a in range(0, t.size - k + 1, k):
        s = slice(a, a + k)
        if np.ptp(x[s]) > 0:  # the window spans two legs
            continue
        lo, hi = y[s].min(), y[s].max()
        out.append((x[s].mean(), 0.5 * (lo + hi), 0.5 * (hi - lo), ppm[s].max() > GEOMETRY.threshold_ppm))
    return np.array(out, float)


CANDIDATES = [(s0, pm) for s0 in (0.3, 0.5, 0.75, 1.0) for pm in (0.9, 0.95)]  # (source size m, p_max)


def loglik(p, hit) -> float:
    """Mean log-likelihood per window of the hits observed under the probabilities ``p``."""
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(np.mean(np.where(hit, np.log(p), np.log1p(-p))))


def choose(ref: FieldBelief, fit_seeds: int, first: int = 100) -> tuple[list[str], list[dict]]:
    """The law's source size and p_max by the mean log-likelihood over the four regimes, on
    streams of their own (seeds from ``first``: other winds and puffs than the scored ones);
    ``ref`` holds the law's settings today."""
    streams = [(r, np.vstack([windows(*r, first + k) for k in range(fit_seeds)])) for r in REGIMES]
    rows = []
    for s0, pm in CANDIDATES:
        per = []
        for (rate, speed, meander), R in streams:
            p = hit_probability(GEOMETRY, R[:, 0], R[:, 1], [rate], speed, meander, ref.p_fa, pm, s0, R[:, 2])
            per.append(loglik(p[:, 0], R[:, 3] > 0))
        rows.append({"sigma0_m": s0, "p_max": pm, "loglik": float(np.mean(per)), "per_regime": per})
    best = max(rows, key=lambda r: r["loglik"])
    lines = [
        f"Chosen on seeds {first}-{first + fit_seeds - 1} of each regime (not the scored ones): mean log-likelihood "
        "per window over the four regimes, by source size and p_max.",
        "",
        "| source size (m) | p_max 0.9 | p_max 0.95 |",
        "|---|---|---|",
    ]
    for s0 in sorted({r["sigma0_m"] for r in rows}):
        cells = [f"{r['loglik']:.4f}" + (" **best**" if r is best else "") for r in rows if r["sigma0_m"] == s0]
        lines.append(f"| {s0:g} | {' | '.join(cells)} |")
    lines += ["", f"The law today: source size {ref.sigma0_m} m, p_max {ref.p_max}; the best here: "
              f"{best['sigma0_m']} m, {best['p_max']}.", ""]  # fmt: skip
    return lines, rows


def kernel_timing(n_cells: int = 8000, repeats: int = 30) -> list[str]:
    """The inner sum of `hit_probability` (cells x 5 rates x 5 puff masses, two normal CDFs each)
    compiled and as numpy, on one set of inputs of the sizes a 5 m posterior grid gives."""
    rng = np.random.default_rng(0)
    args = (rng.uniform(-60, 60, n_cells), rng.uniform(0, 9, n_cells), rng.uniform(0.8, 5, n_cells),
            rng.uniform(2, 30, n_cells), rng.uniform(-3, 6, n_cells), np.log([0.1, 0.25, 0.6, 1.5, 3.5]),
            0.6 * field._GH_NODES - 0.18, field._GH_WEIGHTS)  # fmt: skip
    diff = float(np.abs(field._seen(*args) - field._seen_numpy(*args)).max())  # also compiles it
    times = {}
    for name, f in (("numba", field._seen), ("numpy", field._seen_numpy)):
        t = time.perf_counter()
        for _ in range(repeats):
            f(*args)
        times[name] = (time.perf_counter() - t) / repeats
    return [
        f"The law's inner sum over {n_cells} cells x 5 rates x 5 puff masses: compiled {times['numba'] * 1e3:.1f} ms, "
        f"numpy {times['numpy'] * 1e3:.1f} ms per call, **{times['numpy'] / times['numba']:.1f}x**; largest "
        f"difference {diff:.1e}.",
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--fit-seeds", type=int, default=6, help="streams per regime the law's settings are chosen on")
    ap.add_argument("--out", default="hit_law")
    a = ap.parse_args(argv)
    t0 = time.time()
    ref = FieldBelief(GEOMETRY, cell_m=200.0)  # the law's settings as the search uses them
    cmd = " ".join(["python benchmarks/hit_law.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# The search's hit law against the puff simulator",
        "",
        f"`{cmd}` on {machine()}; {{wall}} s in all. Crosswind legs at 6 m/s, 4 m up, 3-150 m downwind "
        f"of a 1 m high source; {a.seeds} seeds of 20 minutes per regime; one observation per 3 s window. "
        f"The law today: p_fa {ref.p_fa}, p_max {ref.p_max}, source size {ref.sigma0_m} m, over the "
        "window's crosswind extent.",
        "",
        "| rate (g/s) | wind (m/s) | meander (deg) | windows | observed hits | mean of the law | "
        "log-likelihood per window | the mean-field law's mean | its log-likelihood per window |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    fit_lines, fit_rows = choose(ref, a.fit_seeds)
    records, bins = [], []
    for rate, speed, meander in REGIMES:
        R = np.vstack([windows(rate, speed, meander, s) for s in range(a.seeds)])
        hit = R[:, 3] > 0
        p_new = hit_probability(GEOMETRY, R[:, 0], R[:, 1], [rate], speed, meander, ref.p_fa, ref.p_max,
                                ref.sigma0_m, R[:, 2])[:, 0]  # fmt: skip
        p_old = mean_field_law(R[:, 0], R[:, 1], rate, speed, meander)

        rec = {"rate_g_s": rate, "wind_m_s": speed, "meander_deg": meander, "windows": int(len(R)),
               "observed": float(hit.mean()), "law": float(p_new.mean()), "loglik": loglik(p_new, hit),
               "mean_field": float(p_old.mean()), "mean_field_loglik": loglik(p_old, hit)}  # fmt: skip
        records.append(rec)
        lines.append(f"| {rate:g} | {speed:g} | {meander:g} | {len(R)} | {rec['observed']:.3f} | {rec['law']:.3f} | "
                     f"{rec['loglik']:.3f} | {rec['mean_field']:.3f} | {rec['mean_field_loglik']:.3f} |")  # fmt: skip
        for x0, x1 in X_BINS:
            for y0, y1 in Y_BINS:
                m = (R[:, 0] >= x0) & (R[:, 0] < x1) & (np.abs(R[:, 1]) >= y0) & (np.abs(R[:, 1]) < y1)
                if m.sum() >= 8:
                    bins.append((rate, speed, meander, f"{x0}-{x1}", f"{y0}-{y1}", int(m.sum()),
                                 float(hit[m].mean()), float(p_new[m].mean()), float(p_old[m].mean())))  # fmt: skip
    lines += [
        "",
        *fit_lines,
        "By the window's middle (downwind and across the mean wind, m): observed hit frequency against "
        "each law's mean.",
        "",
        "| rate, wind, meander | downwind | across | windows | observed | the law | the mean-field law |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r:g}, {s:g}, {m:g} | {xb} | {yb} | {n} | {o:.2f} | {pn:.2f} | {po:.2f} |"
              for r, s, m, xb, yb, n, o, pn, po in bins]  # fmt: skip
    lines += ["", *kernel_timing()]
    lines[2] = lines[2].replace("{wall}", f"{time.time() - t0:.0f}")
    rows = [{"kind": "regime", **r} for r in records] + [{"kind": "candidate", **r} for r in fit_rows]
    write_record(a.out, lines, cmd, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

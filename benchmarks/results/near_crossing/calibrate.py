"""The near-crossing widening (`EstimatorConfig.point_near_crossing_m`) read off committed records.

    python benchmarks/results/near_crossing/calibrate.py --near NEAR.json ... --suite SUITE.json ...

NEAR: `combined_survey.py --modes flight` records (or `--modes combined`, read with `--mode
combined` at the flight-and-beams factors 1.1 and 1.5; raw regions: factor 1, no floor, so each
radius is the posterior's 90 % radius times the fit's widening, and times the near-crossing
widening where the run had it: `near_crossing_widening`, divided out here). SUITE:
`estimator_suite.py` records at the committed factors (their raw radius is recovered as
sqrt(r^2 - floor^2) / factor). Prints the coverage of the committed circle (factor 0.79, floor 3 m)
by the source's farthest plume crossing, and then with the widening d0 / farthest crossing (at
most 4x) for a range of d0; for NEAR records, the rate intervals' coverage too (the committed
0.58 and x/÷1.2), and what the same widening would make of it (measured, not adopted: the
estimator widens the regions only)."""

import argparse
import json

import numpy as np

FACTOR, FLOOR, CAP = 0.79, 3.0, 4.0
RATE_FACTOR, RATE_FLOOR = 0.58, 1.2
# per fit recorded: the committed circle's and rate interval's factors (EstimatorConfig's point_*
# and combined_*)
FACTORS = {"flight": (FACTOR, RATE_FACTOR), "combined": (1.1, 1.5)}


def near_rows(paths, mode="flight"):
    k, kr = FACTORS[mode]
    for p in paths:
        for r in json.load(open(p))["releases"]:
            g = r[mode]
            if g.get("found"):
                cd = g["crossing_distances_m"]
                raw = g["radius_m"] / g.get("near_crossing_widening", 1.0)
                rate = (g["rate_ci90"], g["rate_est"], g["rate_g_s"])
                yield {"seed": r["seed"], "e": g["error_m"], "r": raw, "far": max(cd) if cd else np.nan, "rate": rate,
                       "k": k, "kr": kr}  # fmt: skip


def suite_rows(paths):
    for p in paths:
        for f in json.load(open(p))["flights"]:
            for e, r, cd in zip(f["location_errors_m"], f["location_radius_m"], f["crossing_distances_m"], strict=True):
                raw = np.sqrt(max(r**2 - FLOOR**2, 0.0)) / FACTOR
                yield {"seed": f["name"], "e": e, "r": raw, "far": max(cd) if cd else np.nan, "k": FACTOR}


def widening(x, d0):
    d = x["far"]
    return 1.0 if d0 <= 0 or not np.isfinite(d) or d >= d0 else min(CAP, d0 / d)


def coverage(rows, d0=0.0):
    if not rows:
        return np.nan
    return float(np.mean([x["e"] <= np.hypot(x["k"] * widening(x, d0) * x["r"], FLOOR) for x in rows]))


def rate_coverage(rows, d0=0.0):
    from plumescout.inference.estimate import widen_interval

    held = []
    for x in rows:
        (lo, hi), med, q = x["rate"]
        a, b = widen_interval(lo, med, hi, x["kr"] * widening(x, d0), RATE_FLOOR)
        held.append(a <= q <= b)
    return float(np.mean(held)) if held else np.nan


def radius(rows, d0=0.0):
    return float(np.median([np.hypot(x["k"] * widening(x, d0) * x["r"], FLOOR) for x in rows])) if rows else np.nan


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--near", nargs="+", default=[])
    ap.add_argument("--suite", nargs="+", default=[])
    ap.add_argument(
        "--committed", type=float, default=80.0, help="the distance of the 'with' columns (m; session 26's: 60)"
    )
    ap.add_argument("--mode", choices=sorted(FACTORS), default="flight", help="the NEAR records' fit")
    ap.add_argument("--d0", type=float, nargs="+", default=[0, 40, 50, 60, 70, 80, 100])
    args = ap.parse_args(argv)
    near, suite = list(near_rows(args.near, args.mode)), list(suite_rows(args.suite))
    print(f"near-field sources found: {len(near)}; suite sources: {len(suite)}")
    d0 = args.committed  # (for the "with" columns)
    print(
        f"\n| farthest crossing (m) | near: sources | coverage | with {d0:g} m | rate coverage | (widened alike) "
        "| suite: sources | coverage |\n|---|---|---|---|---|---|---|---|"
    )
    for lo, hi in ((0, 40), (40, 60), (60, 100), (100, 150), (150, 300), (300, 1e9)):
        n = [x for x in near if lo <= x["far"] < hi]
        s = [x for x in suite if lo <= x["far"] < hi]
        label = f"{lo}-{hi:.0f}" if hi < 1e9 else f">= {lo}"
        rates = [rate_coverage(n, d) for d in (0.0, d0)]
        print(
            f"| {label} | {len(n)} | {coverage(n):.2f} | {coverage(n, d0):.2f} | {rates[0]:.2f} | {rates[1]:.2f} "
            f"| {len(s)} | {coverage(s):.2f} |"
        )
    print(
        "\n| d0 (m) | near coverage | near rate coverage (widened alike) | near widened | near median radius (m) "
        "| suite coverage "
        "| suite widened |\n|---|---|---|---|---|---|---|"
    )
    for d0 in args.d0:
        wn = sum(widening(x, d0) > 1 for x in near)
        ws = sum(widening(x, d0) > 1 for x in suite)
        cn, cs, cr = coverage(near, d0), coverage(suite, d0), rate_coverage(near, d0)
        print(f"| {d0:g} | {cn:.3f} | {cr:.3f} | {wn} | {radius(near, d0):.1f} | {cs:.3f} | {ws} |")


if __name__ == "__main__":
    main()

"""Do the 90 % regions hold their truths alike in every regime, and would widening each fit's
regions by its in-plume correlation (``(temper / temper_in_plume) ** gamma``) make them?

Reads the raw records of runs made with the committed estimator (fits unchanged):
``benchmarks/estimator_suite.py`` JSON (its regions as reported: the raw radius and rate interval
are recovered from the committed factors and floors) and ``benchmarks/combined_survey.py --modes
flight`` JSON (raw fits). For each gamma the factor of each region kind (circle, ellipse, rate
interval) is set so that the calibration files pooled hold 0.90, floors as committed; then each
file's coverage, the coverage of the fits whose temper is 1 (the whole series' correlation found
nothing) and of the rest, and the median region size over gamma 0's.

    python regime_check.py --cal S2000.json DENSE0.json SPARSE0.json --hold S1000.json ... [--gamma 0 0.5]
    python regime_check.py --at-one --cal FILE ...    # the rule adopted, at the committed factors
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

FLOOR_M, RATE_FLOOR = 3.0, math.log(1.2)  # the committed floors (EstimatorConfig)
K_CIRCLE, K_RATE = 0.79, 0.58  # the committed factors the suite's reported regions carry


def load(path: str) -> list[dict]:
    """Per matched source: temper, in-plume temper, error, raw radius, raw ellipse, rate error and
    the raw interval's log half-width on the truth's side."""
    d = json.loads(Path(path).read_text())
    out = []
    if "flights" in d:  # the suite
        for f in d["flights"]:
            t, tp = f["nuisance"]["temper"][0], (f["nuisance"].get("temper_in_plume") or [None])[0]
            axes, offs = f.get("ellipse_raw_axes_m", []), f.get("ellipse_truth_offset", [])
            for i, (e, big_r) in enumerate(zip(f["location_errors_m"], f["location_radius_m"], strict=True)):
                w, a = f["rate_widening_needed"][i], abs(f["log10_rate_ratios"][i]) * math.log(10)
                half = a / w if w > 0 else float("nan")  # the reported interval's half-width
                out.append({
                    "t": t, "tp": tp, "e": e, "r": math.sqrt(max(big_r**2 - FLOOR_M**2, 1e-12)) / K_CIRCLE,
                    "axes": axes[i] if i < len(axes) else None, "off": offs[i] if i < len(offs) else None,
                    "a": a, "L": math.sqrt(max(half**2 - RATE_FLOOR**2, 1e-12)) / K_RATE,
                })  # fmt: skip
    else:  # combined_survey.py, the flight alone, raw
        for r in d["releases"]:
            f = r["flight"]
            if not f.get("found"):
                continue
            (lo, hi), q, m = f["rate_ci90"], r["rate_g_s"], f["rate_est"]
            out.append({
                "t": f["temper"][0], "tp": (f.get("temper_in_plume") or [None])[0], "e": f["error_m"],
                "r": f["radius_m"], "axes": f.get("ellipse_raw_axes_m"), "off": f.get("ellipse_truth_offset"),
                "a": abs(math.log(q / m)), "L": math.log(hi / m) if q > m else math.log(m / lo),
            })  # fmt: skip
    return out


def widen(s: dict, gamma: float) -> float:
    """gamma > 0: every fit by (temper / in-plume temper) ** gamma; gamma < 0 (``--at-one``, the
    rule adopted): only fits at temper 1, by sqrt(1 / in-plume temper)."""
    if not s["tp"] or gamma == 0:
        return 1.0
    if gamma < 0:
        return math.sqrt(s["t"] / s["tp"]) if s["t"] >= 1.0 else 1.0
    return (s["t"] / s["tp"]) ** gamma


def covered(s: dict, kind: str, k: float, gamma: float) -> bool | None:
    g = k * widen(s, gamma)
    if kind == "circle":
        return s["e"] <= math.hypot(g * s["r"], FLOOR_M)
    if kind == "rate":
        return s["a"] <= math.hypot(g * s["L"], RATE_FLOOR)
    if not s["axes"]:
        return None
    (a, b), (u, v) = s["axes"], s["off"]
    ea, eb = math.hypot(g * a, FLOOR_M), math.hypot(g * b, FLOOR_M)
    return (u * a / ea) ** 2 + (v * b / eb) ** 2 <= 1.0


def coverage(rows, kind, k, gamma) -> tuple[float, int]:
    c = [x for x in (covered(s, kind, k, gamma) for s in rows) if x is not None]
    return (float(np.mean(c)) if c else float("nan")), len(c)


def size(s: dict, kind: str, k: float, gamma: float) -> float:
    g = k * widen(s, gamma)
    if kind == "circle":
        return math.hypot(g * s["r"], FLOOR_M)
    if kind == "rate":
        return math.hypot(g * s["L"], RATE_FLOOR)
    return math.sqrt(math.hypot(g * s["axes"][0], FLOOR_M) * math.hypot(g * s["axes"][1], FLOOR_M))


def calibrate(rows, kind, gamma, target=0.9) -> float:
    lo, hi = 0.01, 20.0
    for _ in range(60):
        k = math.sqrt(lo * hi)
        lo, hi = (lo, k) if coverage(rows, kind, k, gamma)[0] >= target else (k, hi)
    return hi


def at_one(files: dict) -> int:
    """Each file's coverage at the committed factors, as committed and with the fits at temper 1
    widened (the others unchanged), and that of the fits at temper 1 pooled."""
    committed = {"circle": K_CIRCLE, "ellipse": 0.74, "rate": K_RATE}
    names = " | ".join(Path(p).name for p in files)
    print(f"| region | widened | {names} | fits at temper 1, pooled | the rest, pooled |")
    print("|---" * (len(files) + 4) + "|")
    rows = [s for v in files.values() for s in v]
    for kind, k in committed.items():
        for gamma, label in ((0.0, "no (committed)"), (-1.0, "at temper 1")):
            cells = [f"{coverage(files[p], kind, k, gamma)[0]:.3f}" for p in files]
            for one in (True, False):
                c, n = coverage([s for s in rows if (s["t"] >= 0.999) == one], kind, k, gamma)
                cells.append(f"{c:.2f} ({n})")
            print(f"| {kind} | {label} | " + " | ".join(cells) + " |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cal", nargs="+", required=True)
    ap.add_argument("--hold", nargs="+", default=[])
    ap.add_argument("--gamma", nargs="+", type=float, default=[0.0, 0.25, 0.5])
    ap.add_argument("--at-one", action="store_true", help="the adopted rule at the committed factors, no recalibration")
    args = ap.parse_args(argv)
    files = {p: load(p) for p in args.cal + args.hold}
    if args.at_one:
        return at_one(files)
    cal = [s for p in args.cal for s in files[p]]
    hold = [s for p in args.hold for s in files[p]]
    for kind in ("circle", "ellipse", "rate"):
        print(f"\n## {kind}\n")
        strata = "held out: temper 1 | held out: temper < 1 | all: temper 1 | all: temper < 1"
        names = " | ".join(Path(p).parent.name or p for p in files)
        print(f"| gamma | factor | {names} | {strata} | size / gamma 0's (median) |")
        print("|---" * (len(files) + 7) + "|")
        k0 = calibrate(cal, kind, 0.0)
        for gamma in args.gamma:
            k = calibrate(cal, kind, gamma)
            cells = [f"{coverage(files[p], kind, k, gamma)[0]:.3f}" for p in files]
            strata = []
            for rows in (hold, cal + hold):
                for one in (True, False):
                    c, n = coverage([s for s in rows if (s["t"] >= 0.999) == one], kind, k, gamma)
                    strata.append(f"{c:.2f} ({n})")
            ok = [s for s in cal + hold if kind != "ellipse" or s["axes"]]
            ratio = np.median([size(s, kind, k, gamma) / size(s, kind, k0, 0.0) for s in ok])
            print(f"| {gamma:g} | {k:.3f} | " + " | ".join(cells + strata) + f" | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

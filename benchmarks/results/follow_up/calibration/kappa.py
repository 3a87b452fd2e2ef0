"""The factors the fits of follow_up.py's records would need (the rows with a raw record):
the 0.9 quantile of error / (raw radius x widenings), and of the rate's log error / the raw
interval's log half-width on the truth's side of the median (x widening). Run as
`python kappa.py RECORD.json ...`."""

import json
import sys

import numpy as np


def rows(doc):
    for r in doc["releases"]:
        for arm in ("survey", "follow_up", "control"):
            g = r.get(arm)
            if not g:
                continue
            gs = g["watch"].values() if "watch" in g else [g]
            for w in gs:
                if w.get("found") and "radius_raw_m" in w:
                    med = w.get("rate_g_s") or r["rate_g_s"] * 10 ** w["log10_rate_ratio"]
                    q = med / 10 ** w["log10_rate_ratio"]
                    yield arm, w, med, q


def main(paths):
    by = {}
    for p in paths:
        for arm, w, med, q in rows(json.load(open(p))):
            by.setdefault(arm, []).append((w, med, q))
    for arm, items in by.items():
        # (the location's widening for crossings near the source: recorded from session 26)
        loc = np.array([
            w["error_m"] / (w["radius_raw_m"] * w["region_widening"] * w.get("near_crossing_widening", 1.0))
            for w, _, _ in items
        ])  # fmt: skip
        rn = []
        for w, med, q in items:
            lo, hi = w["rate_raw_ci90"]
            edge = hi if q >= med else lo
            half = abs(np.log(edge / med)) * w["region_widening"]
            rn.append(abs(np.log(q / med)) / half if half > 0 else np.inf)
        rn = np.array(rn)
        print(
            f"{arm:10s} n {len(items):3d} | region cov {np.mean([w['region_holds'] for w, _, _ in items]):.2f}, "
            f"kappa(0.9) {np.quantile(loc, 0.9):.2f} | rate cov {np.mean([w['rate_holds'] for w, _, _ in items]):.2f}, "
            f"raw {np.mean(rn <= 1):.2f}, kappa_rate(0.9) {np.quantile(rn, 0.9):.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

"""Table the probe's rows (run in this directory): rate coverage and abs S per set, and with widening."""

import json

import numpy as np

rows = [r for r in map(json.loads, open("rows.jsonl")) if "error" not in r]
sets = sorted(set(r["set"] for r in rows))
for st in sets:
    R = [r for r in rows if r["set"] == st]
    S = np.array([abs(r["S"]) for r in R])
    h = np.array([r["holds"] for r in R])
    print(
        f"{st:15s} n {len(R):3d} cov {h.mean():.3f} |S| median {np.median(S):.2f} "
        f"[10-90%: {np.percentile(S, 10):.2f}-{np.percentile(S, 90):.2f}]  |S| of misses {np.round(np.sort(S[~h]), 1)}"
    )
ln10 = np.log(10)


def cov(R, d):
    return np.mean([abs(r["log10_ratio"]) <= np.hypot(r["half_log10"], 1.645 * abs(r["S"]) * d / ln10) for r in R])


print("delta  " + "  ".join(f"{s[:12]:>12s}" for s in sets) + "  pooled")
for d in (0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
    print(
        f"{d:.2f}  "
        + "  ".join(f"{cov([r for r in rows if r['set'] == s], d):12.3f}" for s in sets)
        + f"  {cov(rows, d):.3f}"
    )
# bins of |S|
allS = np.array([abs(r["S"]) for r in rows])
H = np.array([r["holds"] for r in rows])
for lo, hi in ((0, 1), (1, 2), (2, 3), (3, 5), (5, 100)):
    m = (allS >= lo) & (allS < hi)
    print(f"|S| {lo}-{hi}: n {m.sum()} cov {H[m].mean() if m.any() else float('nan'):.2f}")

"""Model-evaluation statistics of Hanna et al. (1993) and Chang & Hanna (2004)."""

from __future__ import annotations

import numpy as np

__all__ = ["model_evaluation_stats", "CHANG_HANNA_GOOD", "meets_criteria"]

#: "Good model" acceptance criteria for research-grade rural data (Chang & Hanna 2004).
CHANG_HANNA_GOOD = {"FAC2": (0.5, None), "FB": (-0.3, 0.3), "MG": (0.7, 1.3), "NMSE": (None, 4.0), "VG": (None, 1.6)}


def model_evaluation_stats(observed, predicted) -> dict:
    """FB, MG, NMSE, VG and FAC2 of paired positive observations and predictions.

    FB = 2 (mean_o - mean_p) / (mean_o + mean_p) (positive = under-prediction);
    MG = exp(<ln Co> - <ln Cp>); NMSE = <(Co - Cp)^2> / (mean_o mean_p);
    VG = exp(<(ln Co - ln Cp)^2>); FAC2 = fraction with 0.5 <= Cp / Co <= 2.
    """
    co = np.asarray(observed, dtype=float)
    cp = np.asarray(predicted, dtype=float)
    if co.shape != cp.shape or co.size == 0:
        raise ValueError("observed and predicted must be non-empty and of one shape")
    if np.any(co <= 0) or np.any(cp <= 0):
        raise ValueError("MG and VG need positive values; drop zero pairs first")
    mo, mp = co.mean(), cp.mean()
    lo, lp = np.log(co), np.log(cp)
    ratio = cp / co
    return {
        "n": int(co.size),
        "FAC2": float(np.mean((ratio >= 0.5) & (ratio <= 2.0))),
        "FB": float(2.0 * (mo - mp) / (mo + mp)),
        "NMSE": float(np.mean((co - cp) ** 2) / (mo * mp)),
        "MG": float(np.exp(np.mean(lo) - np.mean(lp))),
        "VG": float(np.exp(np.mean((lo - lp) ** 2))),
    }


def meets_criteria(stats: dict, criteria: dict = CHANG_HANNA_GOOD) -> dict[str, bool]:
    out = {}
    for k, (lo, hi) in criteria.items():
        v = stats[k]
        out[k] = (lo is None or v >= lo) and (hi is None or v <= hi)
    return out

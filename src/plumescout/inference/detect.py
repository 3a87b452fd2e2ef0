"""Background, enhancement and plume crossings with a stated false-alarm rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, stats

__all__ = ["Detection", "rolling_background", "detect_plumes", "detect_observations"]


def rolling_background(time_s, values, window_s: float = 180.0, quantile: float = 0.2):
    """Slowly varying background: a rolling low quantile over ``window_s``, then smoothed.

    A low quantile ignores plumes (which only add) as long as a plume occupies less than
    ``1 - quantile`` of any window; the median filter afterwards removes the quantile's steps.
    NaN readings are filled from their neighbours first.
    """
    t = np.asarray(time_s, dtype=float)
    y = np.asarray(values, dtype=float)
    good = np.isfinite(y)
    if not good.any():
        return np.full_like(y, np.nan)
    y = np.where(good, y, np.interp(t, t[good], y[good]))
    dt = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    n = int(max(3, round(window_s / max(dt, 1e-6))) | 1)
    n = min(n, y.size | 1) if y.size >= 3 else 1
    if n <= 1:
        return y.copy()
    bg = ndimage.percentile_filter(y, 100.0 * quantile, size=n, mode="nearest")
    bg = ndimage.uniform_filter1d(bg, size=n, mode="nearest")
    # A low quantile sits below the centre of the noise: shift it up by the median residual,
    # which plumes (a minority of samples) do not move, so that background noise is centred on 0.
    return bg + float(np.median(y - bg))


@dataclass
class Detection:
    """What detection found in one species of one flight."""

    species: str
    background_ppm: np.ndarray
    enhancement_ppm: np.ndarray
    noise_ppm: float
    threshold_ppm: float
    sigma_threshold: float
    false_alarms_per_hour: float
    crossings: list[tuple[int, int]] = field(default_factory=list)
    # logs flown at the same time: each aircraft's own detection (the fields above join them)
    pieces: list[Detection] = field(default_factory=list)

    @property
    def n_crossings(self) -> int:
        return len(self.crossings)

    def summary(self) -> dict:
        peak = [float(np.nanmax(self.enhancement_ppm[a:b])) for a, b in self.crossings]
        return {
            "species": self.species,
            "noise_ppm": round(self.noise_ppm, 6),
            "threshold_ppm": round(self.threshold_ppm, 6),
            "false_alarms_per_hour": self.false_alarms_per_hour,
            "crossings": len(self.crossings),
            "peak_enhancements_ppm": [round(p, 4) for p in peak],
            "background_ppm": [
                round(float(np.nanmin(self.background_ppm)), 4),
                round(float(np.nanmax(self.background_ppm)), 4),
            ],
            **({"by_aircraft": [p.summary() for p in self.pieces]} if self.pieces else {}),
        }


def detect_observations(obs, species: str, window_s: float = 180.0, false_alarms_per_hour: float = 0.1) -> Detection:
    """:func:`detect_plumes` on one species of an :class:`~plumescout.observations.Observations`
    table; for logs of several aircraft flown at the same time, on each aircraft's series alone
    (its own background and noise), joined: the enhancement per sample, the crossings of every
    aircraft, and the largest noise and threshold (each aircraft's in ``pieces``)."""
    pieces = obs.pieces()
    values = obs.species[species]
    if len(pieces) == 1:
        return detect_plumes(obs.time_s, values, species, window_s, false_alarms_per_hour)
    parts = [detect_plumes(obs.time_s[i], values[i], species, window_s, false_alarms_per_hour) for i in pieces]
    bg, e = np.empty(len(obs)), np.empty(len(obs))
    crossings = []
    for i, d in zip(pieces, parts, strict=True):
        bg[i], e[i] = d.background_ppm, d.enhancement_ppm
        crossings += [(int(i[a]), int(i[b - 1]) + 1) for a, b in d.crossings]
    return Detection(
        species,
        bg,
        e,
        max(d.noise_ppm for d in parts),
        max(d.threshold_ppm for d in parts),
        max(d.sigma_threshold for d in parts),
        false_alarms_per_hour,
        crossings,
        parts,
    )


def detect_plumes(
    time_s,
    values_ppm,
    species: str = "ch4",
    window_s: float = 180.0,
    false_alarms_per_hour: float = 0.1,
    min_samples: int = 2,
) -> Detection:
    """Background, enhancement, noise and plume crossings of one species.

    The noise is the robust (MAD) standard deviation of the enhancement's lower half reflected
    about zero, which plumes cannot inflate. A crossing is a run of at least ``min_samples``
    consecutive samples above ``k`` sigma, with ``k`` chosen so that white noise alone would give
    ``false_alarms_per_hour`` runs at this sample rate: ``P(run) ~ (1 - Phi(k))^min_samples``.
    """
    t = np.asarray(time_s, dtype=float)
    y = np.asarray(values_ppm, dtype=float)
    bg = rolling_background(t, y, window_s)
    e = y - bg
    fin = e[np.isfinite(e)]
    lower = fin[fin <= np.median(fin)]
    lower = lower - np.median(fin)
    noise = float(1.4826 * np.median(np.abs(np.concatenate([lower, -lower])))) if lower.size else 0.0
    noise = max(noise, 1e-9)
    dt = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    per_sample = false_alarms_per_hour * dt / 3600.0
    p = per_sample ** (1.0 / min_samples)
    k = float(stats.norm.isf(p))
    thr = k * noise
    above = np.isfinite(e) & (e > thr)
    crossings = []
    i = 0
    while i < e.size:
        if above[i]:
            j = i
            while j < e.size and above[j]:
                j += 1
            if j - i >= min_samples:
                crossings.append((i, j))
            i = j
        else:
            i += 1
    return Detection(species, bg, e, noise, thr, k, false_alarms_per_hour, crossings)

"""The evidence for attribution: each estimated source's integrated enhancement of every species.

For each source the fitted model says where its plume was crossed: the samples where that source's
predicted contribution is at least ``min_fraction`` of its largest and at least ``dominance`` of
all sources' together (so a neighbour's plume is not counted). Over those samples each species'
enhancement above its own rolling background is integrated in time (ppm*s), with an uncertainty of
the sensor noise integrated over the same samples plus ``calibration`` (relative) for the sensor
and ratio calibration.
"""

from __future__ import annotations

import numpy as np

from ..inference.detect import detect_observations

__all__ = ["integrated_enhancements", "integrate"]


def integrate(det, sel, dt: float) -> tuple[float, float] | None:
    """One species' enhancement above its background integrated over the samples ``sel`` (a mask
    or a slice), in ppm*s, with the sensor noise integrated alike (1 sigma); None if no finite
    sample."""
    e = det.enhancement_ppm[sel]
    e = e[np.isfinite(e)]
    if e.size == 0:
        return None
    return float(e.sum() * dt), float(det.noise_ppm * dt * np.sqrt(e.size))


def integrated_enhancements(
    obs,
    est,
    detections=None,
    min_fraction: float = 0.2,
    dominance: float = 0.6,
    calibration: float = 0.1,
    background_window_s: float = 180.0,
) -> list[dict[str, tuple[float, float]] | None]:
    """Per estimated source (in ``est.sources_`` order): {species: (ppm*s, 1-sigma)}, or None
    where the fitted model gives the source no samples of its own. ``detections`` (species ->
    Detection, with each species' background and noise) are reused when the caller has them;
    species missing from it are detected here."""
    if not est.sources_ or not hasattr(est, "sampler_"):
        return [None] * len(est.sources_)
    s = est.sampler_
    th = np.mean(est.chain_.theta, axis=0) if est.chain_.theta else s.theta0()
    xy = np.array([[src.x_m, src.y_m] for src in est.sources_])
    ks = s.columns(xy, th)  # per data set (one per aircraft), (n_data, m) couplings at its samples
    q = np.array([src.rate_g_s for src in est.sources_])
    # on the observation times (the data may have skipped samples without a reading), each
    # aircraft's data set on its own samples
    c_obs = np.zeros((len(obs), q.size))
    for idx, d, k in zip(obs.pieces(), s.data, ks, strict=True):
        contrib = k * q[None, :]
        for j in range(q.size):
            c_obs[idx, j] = np.interp(obs.time_s[idx], d.spec.t, contrib[:, j], left=0.0, right=0.0)
    total = c_obs.sum(axis=1)
    dt = float(np.median(np.diff(obs.time_s))) if len(obs) > 1 else 1.0
    dets = dict(detections or {})
    for sp in obs.species:
        if sp not in dets:
            dets[sp] = detect_observations(obs, sp, background_window_s, 0.1)
    out = []
    for j in range(q.size):
        cj = c_obs[:, j]
        if not np.any(cj > 0):
            out.append(None)
            continue
        sel = (cj >= min_fraction * cj.max()) & (cj >= dominance * np.maximum(total, 1e-300))
        if sel.sum() < 2:
            out.append(None)
            continue
        ev = {}
        for sp, det in dets.items():
            got = integrate(det, sel, dt)
            if got is None:
                continue
            y, noise = got
            ev[sp] = (y, max(float(np.hypot(noise, calibration * abs(y))), 1e-12))
        out.append(ev or None)
    return out

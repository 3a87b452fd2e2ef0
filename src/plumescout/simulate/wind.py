"""Time-varying wind: Ornstein-Uhlenbeck meander of direction and gusts of speed."""

from __future__ import annotations

import numpy as np

from ..met import WindSeries

__all__ = ["simulate_wind", "ou_process"]


def ou_process(n: int, dt_s: float, sigma: float, timescale_s: float, rng=None) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck series with standard deviation ``sigma`` and correlation
    time ``timescale_s``, started from its stationary distribution (exact discretisation)."""
    rng = np.random.default_rng(rng)
    if sigma == 0 or n == 0:
        return np.zeros(n)
    phi = np.exp(-dt_s / timescale_s)
    eps = rng.normal(0.0, sigma * np.sqrt(1.0 - phi * phi), n)
    eps[0] = rng.normal(0.0, sigma)
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], eps)


def simulate_wind(
    t0_s: float,
    t1_s: float,
    speed_m_s: float,
    from_deg: float,
    meander_deg: float = 12.0,
    meander_timescale_s: float = 120.0,
    gust_fraction: float = 0.15,
    gust_timescale_s: float = 20.0,
    dt_s: float = 0.5,
    rng=None,
) -> WindSeries:
    """A wind series from ``t0_s`` to ``t1_s`` with meandering direction and gusty speed."""
    rng = np.random.default_rng(rng)
    t = np.arange(t0_s, t1_s + dt_s, dt_s)
    d = from_deg + ou_process(t.size, dt_s, meander_deg, meander_timescale_s, rng)
    s = speed_m_s * (1.0 + ou_process(t.size, dt_s, gust_fraction, gust_timescale_s, rng))
    return WindSeries(t, np.maximum(s, 0.2 * speed_m_s), np.mod(d, 360.0))

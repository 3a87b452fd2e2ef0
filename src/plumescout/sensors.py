"""Gas-sensor response: lag, noise, resolution and detection limit (pure functions)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

__all__ = ["first_order_response", "apply_sensor"]


def first_order_response(signal, dt_s: float, response_time_s: float):
    """A first-order lag (time constant ``response_time_s``) applied to an evenly sampled signal.

    Exact discretisation of ``tau dy/dt = x - y`` for a piecewise-constant input:
    ``y[k] = y[k-1] + a (x[k] - y[k-1])`` with ``a = 1 - exp(-dt / tau)``; starts at ``x[0]``.
    """
    x = np.asarray(signal, dtype=float)
    if response_time_s <= 0 or x.size == 0:
        return x.copy()
    a = 1.0 - np.exp(-dt_s / response_time_s)
    y, _ = lfilter([a], [1.0, a - 1.0], x, zi=[(1.0 - a) * x[0]])
    return y


def apply_sensor(
    true_ppm,
    dt_s: float,
    response_time_s: float = 0.0,
    noise_ppm: float = 0.0,
    resolution_ppm: float = 0.0,
    rng=None,
):
    """What a sensor reports for a true mole-fraction series: lag, then white noise, then
    quantisation to ``resolution_ppm``; never negative."""
    rng = np.random.default_rng(rng)
    y = first_order_response(true_ppm, dt_s, response_time_s)
    if noise_ppm > 0:
        y = y + rng.normal(0.0, noise_ppm, y.shape)
    if resolution_ppm > 0:
        y = np.round(y / resolution_ppm) * resolution_ppm
    return np.maximum(y, 0.0)

"""Gaussian puff: an instantaneous release carried by a time-varying wind."""

from __future__ import annotations

import numpy as np

from .plume import vertical_term

__all__ = ["gaussian_puff"]


def gaussian_puff(dx_m, dy_m, z_m, puff_h_m, mass_g, sigma_x_m, sigma_y_m, sigma_z_m, mixing_height_m=None):
    """Concentration (g/m3) of a Gaussian puff with ground reflection; everything broadcasts.

    ``dx_m``, ``dy_m`` are the receptor's offsets from the puff centre along any two orthogonal
    horizontal axes (sigma_x along the first).

    Notes
    -----
    ``C = M / ((2 pi)^1.5 sx sy sz) exp(-dx^2/2sx^2 - dy^2/2sy^2) [exp(-(z-H)^2/2sz^2) +
    exp(-(z+H)^2/2sz^2)]`` (+ lid images). Its integral over x, y and z >= 0 is M.

    References
    ----------
    CCPS (1999) Guidelines for Consequence Analysis of Chemical Releases, eq. 2.65.
    """
    sx = np.asarray(sigma_x_m, dtype=float)
    sy = np.asarray(sigma_y_m, dtype=float)
    sz = np.asarray(sigma_z_m, dtype=float)
    horiz = np.exp(-0.5 * ((np.asarray(dx_m) / sx) ** 2 + (np.asarray(dy_m) / sy) ** 2))
    fz = vertical_term(z_m, puff_h_m, sz, mixing_height_m)  # 1/m, includes 1/(sqrt(2 pi) sz)
    return np.asarray(mass_g, dtype=float) / (2.0 * np.pi * sx * sy) * horiz * fz

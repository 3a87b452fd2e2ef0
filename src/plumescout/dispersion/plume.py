"""Steady Gaussian plume with ground and mixing-lid reflections."""

from __future__ import annotations

import numpy as np

from ..geo import bearing_to_unit
from .sigmas import sigma_yz

__all__ = [
    "to_plume_coordinates",
    "vertical_term",
    "gaussian_plume",
    "crosswind_integrated",
    "plume_coupling",
]

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def to_plume_coordinates(x_r, y_r, x_s, y_s, wind_from_deg):
    """Receptor position relative to a source in the plume frame.

    Returns ``(downwind_m, crosswind_m)``: distance along the direction the wind blows TOWARD,
    and to its left (positive crosswind is 90 degrees counter-clockwise from downwind).
    """
    fe, fn = bearing_to_unit(wind_from_deg)
    de, dn = -fe, -fn  # toward
    dx = np.asarray(x_r, dtype=float) - np.asarray(x_s, dtype=float)
    dy = np.asarray(y_r, dtype=float) - np.asarray(y_s, dtype=float)
    return dx * de + dy * dn, -dx * dn + dy * de


def vertical_term(z_m, h_m, sigma_z_m, mixing_height_m=None, n_images: int = 5):
    """Vertical factor of the plume, ``F_z`` (1/m), with reflections.

    ``F_z = [exp(-(z-h)^2/2sz^2) + exp(-(z+h)^2/2sz^2) + lid images] / (sqrt(2 pi) sz)``.
    With a mixing height ``h_m``, images at ``+-2 k h_m`` for ``k = 1..n_images``; the well-mixed
    limit is ``F_z -> 1 / h_m`` (ISC3 switches to it at ``sz > 1.6 h_m``; here the images are
    summed, and :func:`gaussian_plume` does the switch).
    """
    z = np.asarray(z_m, dtype=float)
    h = np.asarray(h_m, dtype=float)
    sz = np.asarray(sigma_z_m, dtype=float)
    inv2 = -0.5 / (sz * sz)
    f = np.exp((z - h) ** 2 * inv2) + np.exp((z + h) ** 2 * inv2)
    if mixing_height_m is not None:
        zi = np.asarray(mixing_height_m, dtype=float)
        for k in range(1, n_images + 1):
            for sgn in (-1.0, 1.0):
                off = sgn * 2.0 * k * zi
                f = f + np.exp((z - h + off) ** 2 * inv2) + np.exp((z + h + off) ** 2 * inv2)
    return f / (_SQRT_2PI * sz)


def gaussian_plume(
    x_m,
    y_m,
    z_m,
    source_h_m,
    rate_g_s,
    wind_speed_m_s,
    sigma_y_m,
    sigma_z_m,
    mixing_height_m=None,
):
    """Steady Gaussian plume concentration (g/m3) in plume coordinates; everything broadcasts.

    Parameters
    ----------
    x_m, y_m, z_m : array_like
        Downwind distance, crosswind offset and height of the receptor (source at ``x = y = 0``).
    source_h_m : array_like
        Effective source height.
    rate_g_s : array_like
        Emission rate.
    wind_speed_m_s : array_like
        Transport wind speed.
    sigma_y_m, sigma_z_m : array_like
        Dispersion widths at ``x_m`` (see :func:`plumescout.dispersion.sigma_yz`).
    mixing_height_m : array_like, optional
        Lid height; ``None`` for none.

    Notes
    -----
    ``C = Q / (2 pi u sy sz) exp(-y^2 / 2 sy^2) [exp(-(z-H)^2/2sz^2) + exp(-(z+H)^2/2sz^2)]``,
    with reflections from a lid at ``h_m`` when given, and the well-mixed form
    ``Q / (sqrt(2 pi) u sy h_m) exp(-y^2/2sy^2)`` once ``sz > 1.6 h_m`` (ISC3). Zero upwind.

    References
    ----------
    Turner, D. B. (1970) Workbook of Atmospheric Dispersion Estimates, AP-26, eq. 3.1 and 3.5.
    """
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    sy = np.asarray(sigma_y_m, dtype=float)
    sz = np.asarray(sigma_z_m, dtype=float)
    down = x > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        fy = np.exp(-0.5 * (y / sy) ** 2) / (_SQRT_2PI * sy)
        fz = vertical_term(z_m, source_h_m, sz, mixing_height_m)
        if mixing_height_m is not None:
            zi = np.asarray(mixing_height_m, dtype=float)
            fz = np.where(sz > 1.6 * zi, 1.0 / zi, fz)
        c = np.asarray(rate_g_s, dtype=float) / np.asarray(wind_speed_m_s, dtype=float) * fy * fz
    return np.where(down & np.isfinite(c), c, 0.0)


def crosswind_integrated(x_m, z_m, source_h_m, rate_g_s, wind_speed_m_s, sigma_z_m, mixing_height_m=None):
    """Crosswind-integrated concentration ``C_y`` (g/m2) = integral of C over y.

    ``C_y = Q / u * F_z``; for a ground source at ground level ``sqrt(2/pi) Q / (u sz)``.
    """
    x = np.asarray(x_m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        fz = vertical_term(z_m, source_h_m, sigma_z_m, mixing_height_m)
        c = np.asarray(rate_g_s, dtype=float) / np.asarray(wind_speed_m_s, dtype=float) * fz
    return np.where((x > 0) & np.isfinite(c), c, 0.0)


def plume_coupling(
    receptors_xyz,
    sources_xyz,
    wind_speed_m_s,
    wind_from_deg,
    stability="D",
    scheme="briggs_rural",
    mixing_height_m=None,
    min_sigma_m: float = 0.0,
):
    """Concentration per unit emission rate, (n_receptors, n_sources), in s/m3.

    Each receptor sample has its own wind (``wind_speed_m_s``, ``wind_from_deg`` of shape (n,) or
    scalars), or each receptor-source pair has (shape (n, m)); ``stability`` may be a letter, a
    float index, or an array (n,). ``min_sigma_m`` adds
    an initial plume width in quadrature (source size, sensor footprint).
    """
    r = np.atleast_2d(np.asarray(receptors_xyz, dtype=float))
    s = np.atleast_2d(np.asarray(sources_xyz, dtype=float))
    u = np.asarray(wind_speed_m_s, dtype=float)
    wd = np.asarray(wind_from_deg, dtype=float)
    u = u.reshape(-1, 1) if u.ndim == 1 else u
    wd = wd.reshape(-1, 1) if wd.ndim == 1 else wd
    st = stability
    if not isinstance(st, str):
        st = np.asarray(st, dtype=float)
        st = st.reshape(-1, 1) if st.ndim == 1 else st
    xd, yc = to_plume_coordinates(r[:, 0:1], r[:, 1:2], s[None, :, 0], s[None, :, 1], wd)
    sy, sz = sigma_yz(xd, st, scheme)
    if min_sigma_m:
        sy = np.sqrt(sy * sy + min_sigma_m**2)
        sz = np.sqrt(sz * sz + min_sigma_m**2)
    return gaussian_plume(xd, yc, r[:, 2:3], s[None, :, 2], 1.0, u, sy, sz, mixing_height_m)

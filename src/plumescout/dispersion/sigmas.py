"""Dispersion widths sigma_y(x), sigma_z(x) for Pasquill-Gifford stability classes A-F.

Every scheme has one signature ``scheme(x_m, cls) -> (sigma_y_m, sigma_z_m)`` with ``cls`` an
integer class index array (A = 0 .. F = 5) broadcast against ``x_m``; :func:`sigma_yz` adds
fractional class indices (geometric interpolation between neighbouring classes) and the choice by
name from :data:`SIGMA_SCHEMES`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..met import class_index

__all__ = ["briggs_rural", "briggs_urban", "pg_isc3", "sigma_yz", "SIGMA_SCHEMES"]

# Briggs (1973) as tabulated by Gifford (1976) and Hanna, Briggs & Hosker (1982), in the form
# sigma = a x (1 + b x)^p. Rows A..F; urban A-B share a row, as do urban E-F.
_BRIGGS_RURAL_Y = np.array(
    [
        [0.22, 1e-4, -0.5],
        [0.16, 1e-4, -0.5],
        [0.11, 1e-4, -0.5],
        [0.08, 1e-4, -0.5],
        [0.06, 1e-4, -0.5],
        [0.04, 1e-4, -0.5],
    ]
)
_BRIGGS_RURAL_Z = np.array(
    [
        [0.20, 0.0, 1.0],
        [0.12, 0.0, 1.0],
        [0.08, 2e-4, -0.5],
        [0.06, 1.5e-3, -0.5],
        [0.03, 3e-4, -1.0],
        [0.016, 3e-4, -1.0],
    ]
)
_BRIGGS_URBAN_Y = np.array(
    [
        [0.32, 4e-4, -0.5],
        [0.32, 4e-4, -0.5],
        [0.22, 4e-4, -0.5],
        [0.16, 4e-4, -0.5],
        [0.11, 4e-4, -0.5],
        [0.11, 4e-4, -0.5],
    ]
)
_BRIGGS_URBAN_Z = np.array(
    [
        [0.24, 1e-3, 0.5],
        [0.24, 1e-3, 0.5],
        [0.20, 0.0, 1.0],
        [0.14, 3e-4, -0.5],
        [0.08, 1.5e-3, -0.5],
        [0.08, 1.5e-3, -0.5],
    ]
)


def _briggs(x, cls, ty, tz):
    x = np.asarray(x, dtype=float)
    c = np.asarray(cls, dtype=int)
    ay, by, py = ty[c, 0], ty[c, 1], ty[c, 2]
    az, bz, pz = tz[c, 0], tz[c, 1], tz[c, 2]
    return ay * x * (1.0 + by * x) ** py, az * x * (1.0 + bz * x) ** pz


def briggs_rural(x_m, cls):
    """Briggs (1973) open-country sigmas.

    References
    ----------
    Briggs, G. A. (1973) Diffusion estimation for small emissions, ATDL-106; Griffiths, R. F.
    (1994) Errors in the use of the Briggs parameterization, Atmos. Environ. 28, 2861-2865.
    """
    return _briggs(x_m, cls, _BRIGGS_RURAL_Y, _BRIGGS_RURAL_Z)


def briggs_urban(x_m, cls):
    """Briggs (1973) urban sigmas (McElroy-Pooler St Louis data)."""
    return _briggs(x_m, cls, _BRIGGS_URBAN_Y, _BRIGGS_URBAN_Z)


# ISC3 (EPA-454/B-95-003b vol. 2) Table 1-1: sigma_y = 465.11628 x tan(0.017453293 (c - d ln x)).
_ISC_CD = np.array(
    [[24.1670, 2.5334], [18.3330, 1.8096], [12.5000, 1.0857], [8.3330, 0.72382], [6.2500, 0.54287], [4.1667, 0.36191]]
)
# Table 1-2: sigma_z = a x^b, x in km, piecewise: (upper bound of x in km, a, b).
_ISC_Z = (
    (
        (0.10, 122.800, 0.94470),
        (0.15, 158.080, 1.05420),
        (0.20, 170.220, 1.09320),
        (0.25, 179.520, 1.12620),
        (0.30, 217.410, 1.26440),
        (0.40, 258.890, 1.40940),
        (0.50, 346.750, 1.72830),
        (np.inf, 453.850, 2.11660),
    ),
    ((0.20, 90.673, 0.93198), (0.40, 98.483, 0.98332), (np.inf, 109.300, 1.09710)),
    ((np.inf, 61.141, 0.91465),),
    (
        (0.30, 34.459, 0.86974),
        (1.00, 32.093, 0.81066),
        (3.00, 32.093, 0.64403),
        (10.00, 33.504, 0.60486),
        (30.00, 36.650, 0.56589),
        (np.inf, 44.053, 0.51179),
    ),
    (
        (0.10, 24.260, 0.83660),
        (0.30, 23.331, 0.81956),
        (1.00, 21.628, 0.75660),
        (2.00, 21.628, 0.63077),
        (4.00, 22.534, 0.57154),
        (10.00, 24.703, 0.50527),
        (20.00, 26.970, 0.46713),
        (40.00, 35.420, 0.37615),
        (np.inf, 47.618, 0.29592),
    ),
    (
        (0.20, 15.209, 0.81558),
        (0.70, 14.457, 0.78407),
        (1.00, 13.953, 0.68465),
        (2.00, 13.953, 0.63227),
        (3.00, 14.823, 0.54503),
        (7.00, 16.187, 0.46490),
        (15.00, 17.836, 0.41507),
        (30.00, 22.651, 0.32681),
        (60.00, 27.074, 0.27436),
        (np.inf, 34.219, 0.21716),
    ),
)


def pg_isc3(x_m, cls):
    """Pasquill-Gifford sigmas as fitted in ISC3, rural mode; sigma_z capped at 5000 m.

    References
    ----------
    US EPA (1995) User's Guide for the Industrial Source Complex (ISC3) Dispersion Models,
    EPA-454/B-95-003b, vol. 2, Tables 1-1 and 1-2.
    """
    x = np.asarray(x_m, dtype=float)
    c = np.asarray(cls, dtype=int)
    x, c = np.broadcast_arrays(x, c)
    xk = x / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        th = 0.017453293 * (_ISC_CD[c, 0] - _ISC_CD[c, 1] * np.log(xk))
        sy = 465.11628 * xk * np.tan(th)
    sz = np.empty_like(xk)
    for k, rows in enumerate(_ISC_Z):
        m = c == k
        if not np.any(m):
            continue
        xs = xk[m]
        bounds = np.array([r[0] for r in rows])
        i = np.minimum(np.searchsorted(bounds, xs, side="left"), len(rows) - 1)
        a = np.array([r[1] for r in rows])[i]
        b = np.array([r[2] for r in rows])[i]
        sz[m] = np.minimum(a * xs**b, 5000.0)
    return sy, sz


SigmaScheme = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: Registry of dispersion-width schemes, chosen by name.
SIGMA_SCHEMES: dict[str, SigmaScheme] = {
    "briggs_rural": briggs_rural,
    "briggs_urban": briggs_urban,
    "pg_isc3": pg_isc3,
}


def sigma_yz(x_m, stability, scheme: str | SigmaScheme = "briggs_rural"):
    """sigma_y, sigma_z (m) at downwind distance ``x_m`` for a (possibly fractional) class.

    Parameters
    ----------
    x_m : array_like
        Downwind distance, metres; values <= 0 give NaN.
    stability : str, float or array_like
        Class letter(s) (``"D"``) or float index A = 0 .. F = 5; fractional indices interpolate
        the logarithm of sigma linearly between neighbouring classes.
    scheme : str or callable
        A name in :data:`SIGMA_SCHEMES` or a function with the same signature.
    """
    fn = SIGMA_SCHEMES[scheme] if isinstance(scheme, str) else scheme
    x = np.asarray(x_m, dtype=float)
    if isinstance(stability, str):
        s = np.asarray(class_index(stability))
    else:
        s = np.clip(np.asarray(stability, dtype=float), 0.0, 5.0)
    xp = np.where(x > 0, x, np.nan)
    lo = np.floor(s).astype(int)
    hi = np.minimum(lo + 1, 5)
    w = s - lo
    sy0, sz0 = fn(xp, lo)
    if np.all(w == 0):
        return sy0, sz0
    sy1, sz1 = fn(xp, hi)
    return sy0 ** (1 - w) * sy1**w, sz0 ** (1 - w) * sz1**w

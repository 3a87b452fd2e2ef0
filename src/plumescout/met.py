"""Meteorology: wind time series and Pasquill-Gifford stability classes.

Stability is carried as a class letter at the edges (``"A"`` .. ``"F"``) and as a continuous
*class index* inside (A = 0 .. F = 5; ``"A-B"`` = 0.5). Dispersion widths for a fractional index
are interpolated geometrically between the neighbouring classes (see
:func:`plumescout.dispersion.sigmas.sigma_yz`), which lets the estimator treat stability as a
continuous unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geo import bearing_to_unit, unit_to_bearing

__all__ = [
    "CLASSES",
    "class_index",
    "class_letter",
    "stability_from_insolation",
    "stability_from_sigma_theta",
    "stability_from_obukhov",
    "WindSeries",
]

CLASSES = ("A", "B", "C", "D", "E", "F")


def class_index(cls) -> float:
    """Class letter (``"D"``, ``"A-B"``) or index -> float index (A = 0 .. F = 5)."""
    if isinstance(cls, (int, float, np.floating, np.integer)):
        v = float(cls)
        if not 0.0 <= v <= 5.0:
            raise ValueError(f"stability class index {v} outside [0, 5] (A..F)")
        return v
    s = str(cls).strip().upper()
    parts = s.split("-")
    try:
        idx = [CLASSES.index(p) for p in parts]
    except ValueError:
        raise ValueError(f"unknown stability class '{cls}'; expected one of A-F or e.g. 'A-B'") from None
    return float(np.mean(idx))


def class_letter(index: float) -> str:
    """Float index -> nearest class letter (ties to the more stable class)."""
    i = int(np.floor(float(index) + 0.5))
    return CLASSES[min(max(i, 0), 5)]


# Pasquill (1961) / Turner (1970) table as given in EPA-454/R-99-005 (Meteorological Monitoring
# Guidance for Regulatory Modeling Applications, 2000), Table 6-7. Columns: day insolation strong,
# moderate, slight; night cloud cover >= 4/8 (thinly overcast or low cloud), <= 3/8.
_TURNER_SPEED_EDGES = (2.0, 3.0, 5.0, 6.0)
_TURNER = (
    ("A", "A-B", "B", "E", "F"),
    ("A-B", "B", "C", "E", "F"),
    ("B", "B-C", "C", "D", "E"),
    ("C", "C-D", "D", "D", "D"),
    ("C", "D", "D", "D", "D"),
)
_INSOLATION = {"strong": 0, "moderate": 1, "slight": 2, "night_cloudy": 3, "night_clear": 4}


def stability_from_insolation(wind_speed_10m_m_s: float, insolation: str, overcast: bool = False) -> str:
    """Pasquill class from 10 m wind speed and insolation or night-time cloud cover.

    Parameters
    ----------
    wind_speed_10m_m_s : float
        Surface wind speed at 10 m.
    insolation : {"strong", "moderate", "slight", "night_cloudy", "night_clear"}
        Daytime incoming solar radiation, or night-time cloud cover (``night_cloudy``: thinly
        overcast or >= 4/8 low cloud; ``night_clear``: <= 3/8 cloud).
    overcast : bool
        Heavy overcast, day or night: always class D.

    References
    ----------
    Turner, D. B. (1970) Workbook of Atmospheric Dispersion Estimates, AP-26, Table 1;
    US EPA (2000) EPA-454/R-99-005, Table 6-7.
    """
    if overcast:
        return "D"
    try:
        col = _INSOLATION[insolation]
    except KeyError:
        raise ValueError(f"insolation must be one of {sorted(_INSOLATION)}, got '{insolation}'") from None
    u = float(wind_speed_10m_m_s)
    if not np.isfinite(u) or u < 0:
        raise ValueError(f"wind speed must be a non-negative number, got {wind_speed_10m_m_s}")
    row = int(np.searchsorted(_TURNER_SPEED_EDGES, u, side="right"))
    return _TURNER[row][col]


# EPA-454/R-99-005 Table 6-8a (sigma_A, daytime) lower bounds in degrees for A..E; below -> F.
_SIGMA_A_BOUNDS = (22.5, 17.5, 12.5, 7.5, 3.8)
# Table 6-8b night-time adjustment: initial class -> list of (speed upper bound, class).
_NIGHT_ADJUST = {
    "A": ((2.9, "F"), (3.6, "E"), (np.inf, "D")),
    "B": ((2.4, "F"), (3.0, "E"), (np.inf, "D")),
    "C": ((2.4, "E"), (np.inf, "D")),
}


def stability_from_sigma_theta(
    sigma_theta_deg: float,
    wind_speed_10m_m_s: float | None = None,
    night: bool = False,
    z0_m: float = 0.15,
) -> str:
    """Pasquill class from the standard deviation of the horizontal wind direction.

    The sigma-A method of US EPA (2000) EPA-454/R-99-005, Tables 6-8a/6-8b: the category bounds
    (22.5, 17.5, 12.5, 7.5, 3.8 degrees for A..E) are scaled by ``(z0 / 0.15 m) ** 0.2`` for
    roughness, and at night unstable initial classes are moved toward stable with wind speed.
    """
    s = float(sigma_theta_deg)
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"sigma-theta must be a non-negative number of degrees, got {sigma_theta_deg}")
    scale = (float(z0_m) / 0.15) ** 0.2
    cls = "F"
    for letter, bound in zip(CLASSES[:5], _SIGMA_A_BOUNDS, strict=True):
        if s >= bound * scale:
            cls = letter
            break
    if night:
        if wind_speed_10m_m_s is None:
            raise ValueError("night-time sigma-theta classes need the 10 m wind speed")
        for upper, adj in _NIGHT_ADJUST.get(cls, ()):
            if wind_speed_10m_m_s < upper:
                cls = adj
                break
    return cls


# Seinfeld & Pandis (2006) Atmospheric Chemistry and Physics, 2nd ed., eq. 16.83 and the table
# beside it (after Golder 1972): 1/L = a + b log10(z0) for each Pasquill class.
_GOLDER_A = np.array([-0.096, -0.037, -0.002, 0.0, 0.004, 0.035])
_GOLDER_B = np.array([0.029, 0.029, 0.018, 0.0, -0.018, -0.036])


def stability_from_obukhov(obukhov_length_m, z0_m: float) -> np.ndarray:
    """Continuous Pasquill class index (A = 0 .. F = 5) from the Obukhov length.

    Interpolates ``1/L`` between the class values of Golder (1972) as fitted by Seinfeld & Pandis
    (2006), eq. 16.83, for roughness ``z0_m``. Use :func:`class_letter` for the nearest letter.
    """
    inv_l = 1.0 / np.asarray(obukhov_length_m, dtype=float)
    ref = _GOLDER_A + _GOLDER_B * np.log10(z0_m)
    return np.interp(inv_l, ref, np.arange(6.0))


@dataclass(frozen=True)
class WindSeries:
    """Wind as a time series.

    Attributes
    ----------
    time_s : array
        Sample times, seconds (strictly increasing).
    speed_m_s : array
        Horizontal wind speed.
    from_deg : array
        Meteorological direction the wind comes FROM, degrees clockwise from north.
    sigma_theta_deg : array or None
        Standard deviation of the horizontal wind direction (turbulence), degrees.
    """

    time_s: np.ndarray
    speed_m_s: np.ndarray
    from_deg: np.ndarray
    sigma_theta_deg: np.ndarray | None = None

    def __post_init__(self):
        t = np.asarray(self.time_s, dtype=float)
        if t.ndim != 1 or t.size == 0:
            raise ValueError("wind time series needs at least one sample")
        if np.any(np.diff(t) <= 0):
            raise ValueError("wind time series times must be strictly increasing")
        for name in ("speed_m_s", "from_deg"):
            v = np.asarray(getattr(self, name), dtype=float)
            if v.shape != t.shape:
                raise ValueError(f"wind {name} has shape {v.shape}, time has {t.shape}")
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "speed_m_s", np.asarray(self.speed_m_s, dtype=float))
        object.__setattr__(self, "from_deg", np.mod(np.asarray(self.from_deg, dtype=float), 360.0))

    @property
    def to_unit(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vector (east, north) the wind blows TOWARD."""
        e, n = bearing_to_unit(self.from_deg)
        return -e, -n

    def at(self, t) -> tuple[np.ndarray, np.ndarray]:
        """Speed and from-direction at times ``t``, interpolated by wind vector components."""
        t = np.asarray(t, dtype=float)
        ue, un = self.to_unit
        ve = np.interp(t, self.time_s, self.speed_m_s * ue)
        vn = np.interp(t, self.time_s, self.speed_m_s * un)
        speed = np.interp(t, self.time_s, self.speed_m_s)  # keep mean speed, not vector mean
        return speed, unit_to_bearing(-ve, -vn)

    def mean(self) -> tuple[float, float]:
        """Vector-mean from-direction and scalar-mean speed."""
        ue, un = self.to_unit
        return float(np.mean(self.speed_m_s)), float(
            unit_to_bearing(-np.mean(self.speed_m_s * ue), -np.mean(self.speed_m_s * un))
        )

    def direction_sigma_deg(self) -> float:
        """Yamartino (1984) estimate of the standard deviation of the wind direction, degrees."""
        b = np.deg2rad(self.from_deg)
        sa, ca = np.mean(np.sin(b)), np.mean(np.cos(b))
        eps = np.sqrt(max(0.0, 1.0 - (sa * sa + ca * ca)))
        return float(np.rad2deg(np.arcsin(eps) * (1.0 + (2.0 / np.sqrt(3.0) - 1.0) * eps**3)))

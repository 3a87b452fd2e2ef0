"""Crosswind back-and-forth survey lines over an area polygon, spaced by the plume's reach.

A crosswind line crosses every plume whose source lies upwind of it at a downwind distance in
``[x_lo, x_hi]``: nearer than ``x_lo`` the plume has not yet grown up to the flight altitude (or
is too narrow), farther than ``x_hi`` it has diluted below the detection limit. Lines spaced by
``x_hi - x_lo`` therefore see every source of the reference rate in the area at least once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon

from ..dispersion import gaussian_plume, sigma_yz
from ..errors import ConfigError
from ..units import g_m3_to_ppm

__all__ = ["SurveyPlan", "detectable_range", "weakest_detectable_rate", "plan_survey", "split_sorties"]


def detectable_range(
    rate_g_s: float,
    wind_speed_m_s: float,
    altitude_m: float,
    detection_limit_ppm: float,
    species: str = "ch4",
    stability="D",
    scheme: str = "briggs_rural",
    source_height_m: float = 1.0,
    x_max_m: float = 10000.0,
) -> tuple[float, float]:
    """Downwind distances ``(x_lo, x_hi)`` between which the plume centreline at ``altitude_m``
    exceeds the detection limit; ``(nan, nan)`` if it never does."""
    x, c = _centreline_ppm(rate_g_s, wind_speed_m_s, altitude_m, species, stability, scheme, source_height_m, x_max_m)
    ok = c >= detection_limit_ppm
    if not ok.any():
        return float("nan"), float("nan")
    i = np.flatnonzero(ok)
    return float(x[i[0]]), float(x[i[-1]])


def _centreline_ppm(rate_g_s, wind_speed_m_s, altitude_m, species, stability, scheme, source_height_m, x_max_m):
    """The downwind distances :func:`detectable_range` looks at, and the plume centreline's
    concentration (ppm) at ``altitude_m`` there."""
    x = np.geomspace(1.0, x_max_m, 4000)
    sy, sz = sigma_yz(x, stability, scheme)
    c = gaussian_plume(x, 0.0, altitude_m, source_height_m, rate_g_s, wind_speed_m_s, sy, sz)
    return x, g_m3_to_ppm(c, species)


def weakest_detectable_rate(
    wind_speed_m_s: float,
    altitude_m: float,
    detection_limit_ppm: float,
    species: str = "ch4",
    stability="D",
    scheme: str = "briggs_rural",
    source_height_m: float = 1.0,
    x_max_m: float = 10000.0,
) -> float:
    """The weakest rate (g/s) whose plume centreline at ``altitude_m`` reaches the detection limit
    anywhere downwind (:func:`detectable_range` is finite for any rate above it; the
    concentration is linear in the rate); inf if no plume reaches that height."""
    _, c = _centreline_ppm(1.0, wind_speed_m_s, altitude_m, species, stability, scheme, source_height_m, x_max_m)
    peak = float(np.max(c))
    return detection_limit_ppm / peak if peak > 0.0 else float("inf")


@dataclass
class SurveyPlan:
    """A planned survey, in local metres.

    Attributes
    ----------
    waypoints_m : (n, 2) array
        The survey path (line ends in flying order), without transits from and to home.
    sorties : list of (k, 2) arrays
        Each sortie's waypoints, home to home.
    """

    waypoints_m: np.ndarray
    altitude_m: float
    line_spacing_m: float
    wind_from_deg: float
    speed_m_s: float
    n_lines: int
    home_m: tuple[float, float]
    sorties: list[np.ndarray] = field(default_factory=list)
    detect_range_m: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def survey_length_m(self) -> float:
        return float(np.sum(np.hypot(*np.diff(self.waypoints_m, axis=0).T)))

    @property
    def total_length_m(self) -> float:
        return float(sum(np.sum(np.hypot(*np.diff(s, axis=0).T)) for s in self.sorties))

    @property
    def flight_time_s(self) -> float:
        return self.total_length_m / self.speed_m_s

    def summary(self) -> dict:
        return {
            "lines": self.n_lines,
            "line_spacing_m": round(self.line_spacing_m, 1),
            "altitude_m": self.altitude_m,
            "survey_length_m": round(self.survey_length_m, 1),
            "total_length_m": round(self.total_length_m, 1),
            "flight_time_s": round(self.flight_time_s, 1),
            "sorties": len(self.sorties),
            "sortie_times_s": [
                round(float(np.sum(np.hypot(*np.diff(s, axis=0).T))) / self.speed_m_s, 1) for s in self.sorties
            ],
        }


def plan_survey(
    area_m,
    wind_from_deg: float,
    wind_speed_m_s: float,
    speed_m_s: float,
    endurance_s: float,
    min_altitude_m: float,
    detection_limit_ppm: float,
    reference_rate_g_s: float = 0.5,
    species: str = "ch4",
    stability="D",
    altitude_m: float | None = None,
    line_spacing_m: float | None = None,
    home_m: tuple[float, float] | None = None,
    reserve_fraction: float = 0.1,
    max_spacing_m: float = 150.0,
    min_crossings: int = 2,
) -> SurveyPlan:
    """Plan crosswind back-and-forth lines over ``area_m`` (polygon of local ``[x, y]``).

    The altitude is the aircraft's lowest allowed (``min_altitude_m``) unless given; the spacing
    comes from :func:`detectable_range` for ``reference_rate_g_s`` unless given, capped at
    ``max_spacing_m``, and divided by ``min_crossings`` so that every such plume is crossed at
    least that many times (two crossings at different distances fix a source along the wind).
    """
    poly = Polygon(area_m)
    if not poly.is_valid or poly.area <= 0:
        raise ConfigError(f"the survey area is not a valid polygon: {shapely.is_valid_reason(poly)}")
    z = float(altitude_m if altitude_m is not None else min_altitude_m)
    if z < min_altitude_m:
        raise ConfigError(f"altitude {z} m is below the aircraft's minimum {min_altitude_m} m")
    x_lo, x_hi = detectable_range(reference_rate_g_s, wind_speed_m_s, z, detection_limit_ppm, species, stability)
    if line_spacing_m is None:
        if not np.isfinite(x_lo):
            raise ConfigError(
                f"a {reference_rate_g_s} g/s source is never above the {detection_limit_ppm} ppm detection "
                f"limit at {z} m in {wind_speed_m_s} m/s wind: fly lower, use a better sensor, or plan for "
                "a larger reference rate"
            )
        line_spacing_m = float(np.clip((x_hi - x_lo) / max(1, min_crossings), 10.0, max_spacing_m))
    offset = float(x_lo) if np.isfinite(x_lo) else 0.0
    offset = min(offset, 0.5 * line_spacing_m)

    # Rotate the area so that +u is downwind: wind FROM bearing b blows toward b + 180.
    toward = np.deg2rad((wind_from_deg + 180.0) % 360.0)
    # angle of the downwind direction measured counter-clockwise from +x (east)
    theta = np.rad2deg(np.pi / 2 - toward)
    rot = affinity.rotate(poly, -theta, origin=(0, 0))
    u0, v0, u1, v1 = rot.bounds
    # Lines from just downwind of the upwind edge until one lies at least ``offset`` past the
    # downwind edge (sources there leave the area before their plume reaches flight altitude);
    # the lines may leave the area downwind, over the area's copy shifted by the line reach.
    n = int(np.ceil((u1 - u0) / line_spacing_m - 1e-9)) + 1
    us = u0 + offset + line_spacing_m * np.arange(n)
    region = shapely.convex_hull(shapely.union(rot, affinity.translate(rot, us[-1] - u1 + 1.0, 0)))
    pts: list[tuple[float, float]] = []
    n_lines = 0
    for k, u in enumerate(us):
        seg = region.intersection(LineString([(u, v0 - 1.0), (u, v1 + 1.0)]))
        if seg.is_empty:
            continue
        parts = list(getattr(seg, "geoms", [seg]))
        coords = sorted((c for p in parts for c in p.coords), key=lambda c: c[1])
        a, b = coords[0], coords[-1]
        if k % 2:
            a, b = b, a
        pts.extend([a, b])
        n_lines += 1
    if not pts:
        raise ConfigError("no survey line fits in the area")
    path = affinity.rotate(LineString(pts), theta, origin=(0, 0))
    wps = np.asarray(path.coords)
    home = tuple(home_m) if home_m is not None else tuple(wps[0])
    sorties = split_sorties(wps, home, speed_m_s * endurance_s * (1.0 - reserve_fraction))
    return SurveyPlan(
        wps,
        z,
        float(line_spacing_m),
        float(wind_from_deg),
        float(speed_m_s),
        n_lines,
        (float(home[0]), float(home[1])),
        sorties,
        (x_lo, x_hi),
    )


def split_sorties(waypoints_m, home_m, max_length_m: float, step_m: float = 2.0) -> list[np.ndarray]:
    """Cut a path into sorties home -> path piece -> home, each no longer than ``max_length_m``."""
    wps = np.asarray(waypoints_m, dtype=float)
    home = np.asarray(home_m, dtype=float)
    line = LineString(wps)
    total = line.length
    s = np.append(np.arange(0.0, total, step_m), total)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    back = np.hypot(*(pts - home).T)
    cum_wp = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(wps, axis=0).T))])
    sorties = []
    i = 0
    while i < s.size - 1:
        reach = back[i] + (s - s[i]) + back
        ok = np.flatnonzero((reach <= max_length_m) & (np.arange(s.size) > i))
        if ok.size == 0:
            raise ConfigError(
                f"endurance too short: the aircraft cannot reach the survey path and return "
                f"(needs more than {max_length_m:.0f} m of flight)"
            )
        # the end of the first run of reachable points after i (the path stays within reach)
        breaks = np.flatnonzero(np.diff(ok) > 1)
        j = int(ok[breaks[0]] if breaks.size else ok[-1])
        inner = wps[(cum_wp > s[i]) & (cum_wp < s[j])]
        sorties.append(
            np.vstack([home, pts[i], *inner, pts[j], home]) if inner.size else np.vstack([home, pts[i], pts[j], home])
        )
        i = j
    return sorties

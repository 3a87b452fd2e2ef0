"""Mission planning: a crosswind survey of an area for one or several aircraft, around no-fly zones.

The survey lines are those of :func:`~.coverage.plan_survey` (crosswind, spaced so that a plume of
the reference rate is crossed at least twice), cut where they enter a no-fly zone (with a safety
margin). The lines are flown back and forth; the connections between line pieces, and the
transits from take-off and to landing, go around the no-fly zones by the shortest path in the
visibility graph of the zones' (buffered) corners. The path is then shared between the aircraft
in contiguous pieces proportional to their speeds, and each piece cut into sorties that fit the
aircraft's endurance (less a reserve), each from take-off to landing.

The probability that the plan detects a source of a given rate anywhere in the area is estimated
with the simulator: sources placed uniformly at random in the area, a meandering, gusty wind,
puffs carried to the aircraft along the planned path; a source counts as detected when its plume
is above the detection limit in at least ``min_crossings`` separate passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

from ..errors import ConfigError
from ..met import class_index
from .coverage import detectable_range

__all__ = ["Aircraft", "MissionSettings", "Mission", "Sortie", "plan_mission", "route_around", "detection_probability"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Aircraft(_Model):
    """One aircraft of the fleet."""

    name: str = "UAV1"
    speed_m_s: float = Field(default=8.0, gt=0, description="survey ground speed")
    endurance_s: float = Field(default=1800.0, gt=0, description="flight time on one battery / tank")
    min_altitude_m: float = Field(default=5.0, ge=0)
    max_altitude_m: float = Field(default=120.0, gt=0)
    turnaround_s: float = Field(default=300.0, ge=0, description="ground time between sorties")
    vehicle: str = Field(default="multirotor", pattern="^(multirotor|fixed_wing|vtol)$")
    firmware: str = Field(default="ardupilot", pattern="^(ardupilot|px4)$")


class MissionSettings(_Model):
    """What a survey plan needs besides the area."""

    wind_from_deg: float
    wind_speed_m_s: float = Field(default=3.0, gt=0.3, le=30)
    altitude_m: float = Field(gt=0, description="flight height above the take-off point")
    max_altitude_m: float = Field(default=120.0, gt=0, description="airspace ceiling")
    aircraft: list[Aircraft] = Field(default_factory=lambda: [Aircraft()], min_length=1)
    species: str = "ch4"
    detection_limit_ppm: float = Field(default=0.05, gt=0)
    reference_rate_g_s: float = Field(default=0.5, gt=0)
    # a Pasquill-Gifford class letter, or its index A = 0 .. F = 5 (fractional: between classes,
    # as an analysis fits it)
    stability: str | float = Field(default="D", description="Pasquill-Gifford class or index 0-5")
    line_spacing_m: float | None = Field(default=None, gt=0)
    max_spacing_m: float = Field(default=150.0, gt=0)
    min_crossings: int = Field(default=2, ge=1)
    no_fly_margin_m: float = Field(default=10.0, ge=0)
    reserve_fraction: float = Field(default=0.15, ge=0, lt=1)

    @field_validator("stability")
    @classmethod
    def _stability(cls, v):
        if isinstance(v, str):
            try:
                v = float(v)  # an index given as text (a command-line option)
            except ValueError:
                pass
        class_index(v)  # a ValueError naming the letters, or the index's range
        return v

    @model_validator(mode="after")
    def _altitudes(self):
        if self.altitude_m > self.max_altitude_m:
            raise ValueError(f"altitude {self.altitude_m} m is above the airspace ceiling {self.max_altitude_m} m")
        for a in self.aircraft:
            if not a.min_altitude_m <= self.altitude_m <= a.max_altitude_m:
                raise ValueError(
                    f"altitude {self.altitude_m} m is outside aircraft {a.name}'s limits "
                    f"[{a.min_altitude_m}, {a.max_altitude_m}] m"
                )
        names = [a.name for a in self.aircraft]
        if len(set(names)) != len(names):
            raise ValueError(f"aircraft names must be unique: {names}")
        return self


@dataclass
class Sortie:
    """One flight of one aircraft: take-off -> survey piece -> landing (local metres)."""

    aircraft: str
    index: int
    waypoints_m: np.ndarray
    survey_m: float
    speed_m_s: float

    @property
    def length_m(self) -> float:
        return float(np.sum(np.hypot(*np.diff(self.waypoints_m, axis=0).T)))

    @property
    def time_s(self) -> float:
        return self.length_m / self.speed_m_s


@dataclass
class Mission:
    """A planned survey (local metres about the site origin)."""

    settings: MissionSettings
    area_m: Polygon
    no_fly_m: list[Polygon]
    takeoff_m: tuple[float, float]
    landing_m: tuple[float, float]
    line_spacing_m: float
    n_lines: int
    path_m: np.ndarray
    sorties: list[Sortie]
    detect_range_m: tuple[float, float]
    detection: dict = field(default_factory=dict)

    def aircraft_time_s(self, name: str) -> float:
        """Flight time plus ground turnarounds of one aircraft."""
        ac = next(a for a in self.settings.aircraft if a.name == name)
        mine = [s for s in self.sorties if s.aircraft == name]
        return sum(s.time_s for s in mine) + ac.turnaround_s * max(0, len(mine) - 1)

    @property
    def duration_s(self) -> float:
        """Time until the last aircraft lands (they fly at the same time)."""
        return max(self.aircraft_time_s(a.name) for a in self.settings.aircraft)

    def summary(self) -> dict:
        return {
            "lines": self.n_lines,
            "line_spacing_m": round(self.line_spacing_m, 1),
            "altitude_m": self.settings.altitude_m,
            "survey_length_m": round(float(np.sum(np.hypot(*np.diff(self.path_m, axis=0).T))), 1),
            "flight_time_s": round(sum(s.time_s for s in self.sorties), 1),
            "mission_duration_s": round(self.duration_s, 1),
            "sorties": [
                {
                    "aircraft": s.aircraft,
                    "sortie": s.index,
                    "length_m": round(s.length_m, 1),
                    "flight_time_s": round(s.time_s, 1),
                    "waypoints": len(s.waypoints_m),
                }
                for s in self.sorties
            ],
            "aircraft": {a.name: round(self.aircraft_time_s(a.name), 1) for a in self.settings.aircraft},
            "no_fly_zones": len(self.no_fly_m),
            "detection": self.detection,
        }


# -- geometry ------------------------------------------------------------------------------------
def _obstacles(no_fly: list[Polygon], margin: float) -> shapely.Geometry | None:
    if not no_fly:
        return None
    return unary_union([p.buffer(margin, join_style="mitre") for p in no_fly])


def _corner_nodes(obst, clearance: float) -> np.ndarray:
    """Corners of the obstacles pushed slightly outwards (so paths between them stay clear)."""
    if obst is None:
        return np.empty((0, 2))
    grown = obst.buffer(clearance, join_style="mitre")
    polys = getattr(grown, "geoms", [grown])
    return np.vstack([np.asarray(p.exterior.coords)[:-1] for p in polys])


def route_around(a, b, obst, nodes: np.ndarray | None = None) -> np.ndarray:
    """Shortest path from ``a`` to ``b`` that does not enter ``obst`` (visibility graph over the
    obstacle corners); a straight segment when nothing is in the way."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if obst is None:
        return np.vstack([a, b])
    core = obst.buffer(-0.5)  # points on the zone's edge (line ends) may touch it
    if not LineString([a, b]).intersects(core):
        return np.vstack([a, b])
    if core.contains(Point(a)) or core.contains(Point(b)):
        raise ConfigError("a take-off, landing or survey point lies inside a no-fly zone")
    if nodes is None:
        nodes = _corner_nodes(obst, 1.0)
    pts = np.vstack([a, b, nodes])
    n = len(pts)
    lines = shapely.linestrings(np.stack([np.repeat(pts, n, axis=0), np.tile(pts, (n, 1))], axis=1))
    free = ~shapely.intersects(lines, core)
    w = np.hypot(*(np.repeat(pts, n, axis=0) - np.tile(pts, (n, 1))).T)
    w = np.where(free, w, 0.0).reshape(n, n)
    np.fill_diagonal(w, 0.0)
    dist, pred = dijkstra(csr_matrix(w), directed=False, indices=0, return_predecessors=True)
    if not np.isfinite(dist[1]):
        raise ConfigError("no path around the no-fly zones joins two parts of the plan")
    seq = [1]
    while seq[-1] != 0:
        seq.append(int(pred[seq[-1]]))
    return pts[seq[::-1]]


def _path_length(p) -> float:
    return float(np.sum(np.hypot(*np.diff(np.asarray(p), axis=0).T)))


def _survey_segments(area: Polygon, obst, wind_from_deg: float, spacing: float, offset: float):
    """Crosswind line pieces, line by line from upwind to downwind, each line's pieces in the
    back-and-forth flying order (local metres)."""
    toward = np.deg2rad((wind_from_deg + 180.0) % 360.0)
    theta = np.rad2deg(np.pi / 2 - toward)  # downwind direction, counter-clockwise from east
    rot = affinity.rotate(area, -theta, origin=(0, 0))
    u0, v0, u1, v1 = rot.bounds
    n = int(np.ceil((u1 - u0) / spacing - 1e-9)) + 1
    us = u0 + offset + spacing * np.arange(n)
    # lines may reach past the downwind edge (sources there are seen farther downwind)
    region = shapely.convex_hull(shapely.union(rot, affinity.translate(rot, us[-1] - u1 + 1.0, 0)))
    if obst is not None:
        region = region.difference(affinity.rotate(obst, -theta, origin=(0, 0)))
    out = []
    for _k, u in enumerate(us):
        seg = region.intersection(LineString([(u, v0 - 1.0), (u, v1 + 1.0)]))
        parts = [g for g in getattr(seg, "geoms", [seg]) if isinstance(g, LineString) and g.length > 1.0]
        if not parts:
            continue
        pieces = sorted((sorted(p.coords, key=lambda c: c[1]) for p in parts), key=lambda c: c[0][1])
        pieces = [(pc[0], pc[-1]) for pc in pieces]
        if len(out) % 2:
            pieces = [(b, a) for a, b in reversed(pieces)]
        out.append([np.asarray(affinity.rotate(LineString(pc), theta, origin=(0, 0)).coords) for pc in pieces])
    return out


def _split(path: np.ndarray, fractions: list[float]) -> list[np.ndarray]:
    """Cut a polyline into contiguous pieces with the given length fractions."""
    line = LineString(path)
    total = line.length
    cum = np.concatenate([[0.0], np.cumsum(fractions)]) * total
    cum_wp = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    out = []
    for s0, s1 in zip(cum[:-1], cum[1:], strict=True):
        a = np.asarray(line.interpolate(s0).coords[0])
        b = np.asarray(line.interpolate(s1).coords[0])
        inner = path[(cum_wp > s0 + 1e-6) & (cum_wp < s1 - 1e-6)]
        out.append(np.vstack([a, *inner, b]) if len(inner) else np.vstack([a, b]))
    return out


def _sorties_for(piece, takeoff, landing, budget_m, obst, nodes, step_m=2.0):
    """Cut a path piece into take-off -> piece part -> landing flights within ``budget_m``."""
    line = LineString(piece)
    total = line.length
    s = np.append(np.arange(0.0, total, step_m), total)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    out_len = np.array([_path_length(route_around(takeoff, p, obst, nodes)) for p in pts[:: max(1, len(pts) // 400)]])
    back_len = np.array([_path_length(route_around(p, landing, obst, nodes)) for p in pts[:: max(1, len(pts) // 400)]])
    idx = np.arange(0, len(pts), max(1, len(pts) // 400))
    out_i = np.interp(np.arange(len(pts)), idx, out_len)
    back_i = np.interp(np.arange(len(pts)), idx, back_len)
    cum_wp = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(piece, axis=0).T))])
    flights = []
    i = 0
    while i < s.size - 1:
        reach = out_i[i] + (s - s[i]) + back_i
        ok = np.flatnonzero((reach <= budget_m) & (np.arange(s.size) > i))
        if ok.size == 0:
            raise ConfigError(
                f"endurance too short: an aircraft cannot reach the survey and return within {budget_m:.0f} m of flight"
            )
        breaks = np.flatnonzero(np.diff(ok) > 1)
        j = int(ok[breaks[0]] if breaks.size else ok[-1])
        inner = piece[(cum_wp > s[i]) & (cum_wp < s[j])]
        body = np.vstack([pts[i], *inner, pts[j]]) if len(inner) else np.vstack([pts[i], pts[j]])
        go = route_around(takeoff, body[0], obst, nodes)
        ret = route_around(body[-1], landing, obst, nodes)
        flights.append((np.vstack([go[:-1], body, ret[1:]]), float(s[j] - s[i])))
        i = j
    return flights


def plan_mission(
    area_m,
    settings: MissionSettings,
    takeoff_m=None,
    landing_m=None,
    no_fly_m=(),
) -> Mission:
    """Plan the survey of polygon ``area_m`` (local metres) under ``settings``."""
    area = Polygon(area_m)
    if not area.is_valid or area.area <= 0:
        raise ConfigError(f"the survey area is not a valid polygon: {shapely.is_valid_reason(area)}")
    zones = [Polygon(z) for z in no_fly_m]
    for i, z in enumerate(zones):
        if not z.is_valid or z.area <= 0:
            raise ConfigError(f"no-fly zone {i + 1} is not a valid polygon: {shapely.is_valid_reason(z)}")
    st = settings
    obst = _obstacles(zones, st.no_fly_margin_m)
    nodes = _corner_nodes(obst, 1.0)
    z = st.altitude_m
    x_lo, x_hi = detectable_range(
        st.reference_rate_g_s, st.wind_speed_m_s, z, st.detection_limit_ppm, st.species, st.stability
    )
    spacing = st.line_spacing_m
    if spacing is None:
        if not np.isfinite(x_lo):
            raise ConfigError(
                f"a {st.reference_rate_g_s} g/s source is never above the {st.detection_limit_ppm} ppm detection "
                f"limit at {z} m in {st.wind_speed_m_s} m/s wind: fly lower, use a better sensor, or plan for a "
                "larger reference rate"
            )
        spacing = float(np.clip((x_hi - x_lo) / st.min_crossings, 10.0, st.max_spacing_m))
    offset = min(float(x_lo) if np.isfinite(x_lo) else 0.0, 0.5 * spacing)
    lines = _survey_segments(area, obst, st.wind_from_deg, spacing, offset)
    if not lines:
        raise ConfigError("no survey line fits in the area outside the no-fly zones")
    pieces = [p for line in lines for p in line]
    path = [pieces[0]]
    for p in pieces[1:]:
        link = route_around(path[-1][-1], p[0], obst, nodes)
        path.append(link[1:-1]) if len(link) > 2 else None
        path.append(p)
    path_m = np.vstack(path)
    # drop repeated points
    keep = np.concatenate([[True], np.hypot(*np.diff(path_m, axis=0).T) > 1e-6])
    path_m = path_m[keep]
    takeoff = tuple(np.asarray(takeoff_m, float)) if takeoff_m is not None else tuple(path_m[0])
    landing = tuple(np.asarray(landing_m, float)) if landing_m is not None else takeoff
    for name, p in (("take-off", takeoff), ("landing", landing)):
        if obst is not None and obst.contains(Point(p)):
            raise ConfigError(f"the {name} point lies inside a no-fly zone (or its {st.no_fly_margin_m} m margin)")
    speeds = np.array([a.speed_m_s for a in st.aircraft])

    def allocate(frac):
        sorties = []
        for ac, piece in zip(st.aircraft, _split(path_m, list(frac)), strict=True):
            budget = ac.speed_m_s * ac.endurance_s * (1.0 - st.reserve_fraction)
            for k, (wps, surv) in enumerate(_sorties_for(piece, takeoff, landing, budget, obst, nodes), start=1):
                sorties.append(Sortie(ac.name, k, wps, surv, ac.speed_m_s))
        return Mission(
            st, area, zones, takeoff, landing, float(spacing), len(lines), path_m, sorties, (float(x_lo), float(x_hi))
        )

    # shares of the path: start in proportion to speed, then rebalance so that the aircraft
    # finish together (transits, sorties and turnarounds differ between them); keep the best
    frac = speeds / speeds.sum()
    best = allocate(frac)
    for _ in range(8 if len(speeds) > 1 else 0):
        times = np.array([best.aircraft_time_s(a.name) for a in st.aircraft])
        frac = frac * (times.mean() / np.maximum(times, 1e-9)) ** 0.7
        frac = frac / frac.sum()
        cand = allocate(frac)
        if cand.duration_s < best.duration_s - 1e-6:
            best = cand
    return best


def detection_probability(
    mission: Mission,
    trials: int = 100,
    rng=None,
    meander_deg: float = 12.0,
    sample_rate_hz: float = 2.0,
    progress=None,
) -> dict:
    """Monte Carlo, with the simulator's puffs in meandering wind: the probability that a source
    of the reference rate placed uniformly at random in the area is seen above the detection
    limit in at least one, and in at least ``min_crossings``, separate passes."""
    from ..simulate.flight import fly_path, puff_concentration
    from ..simulate.wind import simulate_wind
    from ..units import g_m3_to_ppm

    st = mission.settings
    rng = np.random.default_rng(rng)
    x0, y0, x1, y1 = mission.area_m.bounds
    spin = 600.0
    seen1 = seen2 = 0
    for k in range(trials):
        while True:
            p = (rng.uniform(x0, x1), rng.uniform(y0, y1))
            if mission.area_m.contains(Point(p)):
                break
        # fly the sorties one after another (each aircraft's flights in its own time)
        n_pass = 0
        wind = None
        for s in mission.sorties:
            t, xy = fly_path(s.waypoints_m, s.speed_m_s, sample_rate_hz)
            wind = simulate_wind(
                -spin, t[-1] + 1.0, st.wind_speed_m_s, st.wind_from_deg, meander_deg, 120.0, 0.15, 20.0, 0.5, rng
            )
            # only samples that can be downwind of the source need the puffs
            ue, un = np.sin(np.deg2rad(st.wind_from_deg + 180)), np.cos(np.deg2rad(st.wind_from_deg + 180))
            dx, dy = xy[:, 0] - p[0], xy[:, 1] - p[1]
            along = dx * ue + dy * un
            across = -dx * un + dy * ue
            near = (
                (along > 0) & (np.abs(across) < 0.6 * along + 20.0) & (along < 3 * max(mission.detect_range_m[1], 100))
            )
            if not near.any():
                continue
            xyz = np.column_stack([xy[near], np.full(near.sum(), st.altitude_m)])
            c = puff_concentration(
                t[near], xyz, (p[0], p[1], 1.0), st.reference_rate_g_s, wind, st.stability, rng=rng, max_age_s=spin
            )
            above = np.zeros(t.size, bool)
            above[near] = g_m3_to_ppm(c, st.species) >= st.detection_limit_ppm
            # separate passes: runs of detections more than 10 s apart
            tt = t[above]
            if tt.size:
                n_pass += 1 + int(np.sum(np.diff(tt) > 10.0))
        seen1 += n_pass >= 1
        seen2 += n_pass >= st.min_crossings
        if progress:
            progress(k + 1, trials)
    n = max(trials, 1)

    def ci(k):
        from scipy.stats import beta

        lo = beta.ppf(0.05, k, n - k + 1) if k > 0 else 0.0
        hi = beta.ppf(0.95, k + 1, n - k) if k < n else 1.0
        return [round(float(lo), 3), round(float(hi), 3)]

    return {
        "reference_rate_g_s": st.reference_rate_g_s,
        "trials": trials,
        "p_detect": round(seen1 / n, 3),
        "p_detect_ci90": ci(seen1),
        f"p_detect_{st.min_crossings}_passes": round(seen2 / n, 3),
        f"p_detect_{st.min_crossings}_passes_ci90": ci(seen2),
    }

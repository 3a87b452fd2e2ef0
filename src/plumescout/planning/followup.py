"""Follow-up lines over the sources an analysis could not pin down.

A source seen on one plume crossing (flag ``single_crossing``) is placed along the wind by the
plume model's growth alone: one crossing fixes where the plume passed, not how far it had come.
Crosswind lines over its 90 % region, closely spaced, from where a source at the region's
upwind edge would first be seen to past where one at its downwind edge would be, cross the
plume at several distances from the source and miss it upwind of it; that fixes the distance.
A source whose region reaches the edge of the search area (``region_at_search_edge``) gets the
same lines over the part of its region the survey did not cover. A source reported at a low
probability of existing (``low_probability``) gets them to confirm it or show it is not there
(on the suite's far-field flights they confirmed 25 of 26 true ones and left 3 of 18 false ones:
benchmarks/results/follow_up/). A target whose weakest plume never reaches the flight's
height is refused (:func:`follow_up_area`, naming the altitude that would see it).

Each target gets a mission of its own (the planner's crosswind lines, sorties and exports),
planned for the low end of its rate interval: the lines are spaced so that even that rate is
seen on three of them. A source seen only near it has its reported interval widened for the
model's error there (``near_crossing_widening``); its lines are laid for the low end before that
widening (``emission_rate_g_s_ci90_before_widening``: laid for the widened one, the near-field
follow-ups of benchmarks/follow_up.py took twice the flight for the same result). Where the survey
crossed the target's plume, the rate planned for is no weaker than the weakest whose plume
reaches the survey's height at all (:func:`planned_rate`): the survey saw it there, so a low end
below that is ruled out by the survey itself. Targets whose areas overlap share one mission
where that is the shorter flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

from ..dispersion import sigma_yz
from ..errors import ConfigError, InputError
from ..geo import LocalFrame
from ..jsonio import read_json
from .coverage import detectable_range, weakest_detectable_rate
from .mission import Mission, MissionSettings, plan_mission

__all__ = [
    "FOLLOW_UP_FLAGS",
    "Target",
    "FollowUp",
    "Analysis",
    "read_analysis",
    "parse_analysis",
    "follow_up_area",
    "plannable",
    "plan_follow_up",
    "plan_every_target",
    "lower_altitude",
    "lower_altitude_advice",
    "below_altitude_advice",
    "planned_rate",
]

FOLLOW_UP_FLAGS = ("single_crossing", "region_at_search_edge", "low_probability")
"""The flags that call for a follow-up flight by default."""


@dataclass(frozen=True)
class Target:
    """One source to fly again (local metres about the analysis' origin)."""

    id: str
    x_m: float
    y_m: float
    radius_m: float  # its 90 % region
    # the low end of its 90 % rate interval (before any near-crossing widening; what the lines must
    # see: planned_rate)
    rate_g_s: float
    height_m: float = 1.0
    # the altitude (m) the survey flew when it crossed its plume; None: no flight crossed it (a
    # beam analysis, or an older file)
    seen_at_m: float | None = None
    # flights: its 90 % region as an ellipse (semi-major m, semi-minor m, major axis azimuth deg
    # east of north), to lay the lines over in place of the circle; None: the circle (the default:
    # on simulated near-field surveys the ellipse took a fifth less flight but left the sources
    # 3.0 m from the truth against 2.0 m; benchmarks/results/follow_up/, session 27)
    ellipse_m: tuple[float, float, float] | None = None
    # its rate interval was widened for its near crossings: rate_g_s is the low end before that
    low_before_widening: bool = False

    def half_extents(self, wind_from_deg: float) -> tuple[float, float]:
        """How far its 90 % region reaches from the estimate along the wind and across it (m):
        the ellipse's projections on those axes where it has one, else the circle's radius."""
        if self.ellipse_m is None:
            return float(self.radius_m), float(self.radius_m)
        a, b, az = self.ellipse_m
        major = np.array([np.sin(np.deg2rad(az)), np.cos(np.deg2rad(az))])
        minor = np.array([major[1], -major[0]])
        down, cross = _axes(wind_from_deg)
        return tuple(float(np.hypot(a * (u @ major), b * (u @ minor))) for u in (down, cross))

    @classmethod
    def of_source(cls, source, flight_altitude_m: float | None, ellipse: bool = False) -> Target:
        """The target of an estimator's source (:class:`~plumescout.inference.SourceEstimate`)
        from a flight flown at ``flight_altitude_m`` (None: beams), as :func:`parse_analysis`
        reads it from the GeoJSON (``ellipse``: with its ellipse, where it has one)."""
        seen = flight_altitude_m if (source.crossings or 0) > 0 else None
        ell = source.ellipse_ci90_m if ellipse else None
        ellipse = None if ell is None else tuple(float(v) for v in ell)
        before = getattr(source, "rate_g_s_ci90_before_near", None)
        low = (before or source.rate_g_s_ci90)[0]
        return cls(source.id, source.x_m, source.y_m, source.location_ci90_m, float(low), source.height_m, seen,
                   ellipse, before is not None)  # fmt: skip


def planned_rate(target: Target, settings: MissionSettings) -> float:
    """The rate (g/s) a follow-up's lines are laid for over ``target``: the low end of its rate
    interval, raised, where the survey crossed its plume at ``seen_at_m``, to just above the
    weakest rate whose plume reaches that height at the detection limit under ``settings``' wind
    and stability (:func:`~plumescout.planning.coverage.weakest_detectable_rate`): a weaker
    plume would not have been seen there."""
    if target.seen_at_m is None:
        return float(target.rate_g_s)
    st = settings
    weakest = weakest_detectable_rate(
        st.wind_speed_m_s, target.seen_at_m, st.detection_limit_ppm, st.species, st.stability,
        source_height_m=target.height_m,
    )  # fmt: skip
    if not np.isfinite(weakest):  # (no plume reaches it under these settings: they disagree with the survey)
        return float(target.rate_g_s)
    return float(max(target.rate_g_s, 1.001 * weakest))


@dataclass
class FollowUp:
    """One follow-up mission: the sources it flies over (one, or several whose areas overlap),
    the area its lines cover and their spacing; per source, the distances (m, downwind of its
    estimate; negative: upwind) between which the lines were laid for it, and between which its
    plume is detectable at the flight altitude."""

    targets: list[Target]
    area_m: Polygon
    spacing_m: float
    along_m: dict[str, tuple[float, float]]
    mission: Mission
    reach_m: dict[str, tuple[float, float]]
    # per source, the rate its lines were laid for (:func:`planned_rate`)
    rates_g_s: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The sources' ids joined by '+' (a directory name)."""
        return "+".join(t.id for t in self.targets)

    def summary(self) -> dict:
        return {
            "sources": [
                {
                    "id": t.id,
                    "radius_m": round(t.radius_m, 1),
                    "reference_rate_g_s": round(self.rates_g_s.get(t.id, t.rate_g_s), 6),
                    "rate_ci90_low_g_s": round(t.rate_g_s, 6),
                    **({"seen_at_m": t.seen_at_m} if t.seen_at_m is not None else {}),
                    "lines_from_m": round(self.along_m[t.id][0], 1),
                    "lines_to_m": round(self.along_m[t.id][1], 1),
                    "plume_detectable_from_m": round(self.reach_m[t.id][0], 1),
                    "plume_detectable_to_m": round(self.reach_m[t.id][1], 1),
                }
                for t in self.targets
            ],
            "line_spacing_m": round(self.spacing_m, 1),
            **self.mission.summary(),
        }


@dataclass
class Analysis:
    """What a follow-up needs of an analysis' GeoJSON (``plumescout analyze``'s sources.geojson):
    every source as a :class:`Target` in the local frame about ``frame``, their flags, and the
    flight's mean wind, altitude and fitted stability where the provenance records them (None
    otherwise)."""

    path: Path
    frame: LocalFrame
    targets: list[Target]
    flags: dict[str, list[str]] = field(default_factory=dict)
    wind_speed_m_s: float | None = None
    wind_from_deg: float | None = None
    altitude_m: float | None = None
    # the stability class index the analysis fitted (A = 0 .. F = 5; flights only)
    stability_index: float | None = None

    def select(self, ids: list[str] | None = None) -> list[Target]:
        """The targets named by ``ids``, or by default those carrying a follow-up flag."""
        if ids:
            ids = list(dict.fromkeys(ids))  # each once
            known = {t.id: t for t in self.targets}
            missing = [i for i in ids if i not in known]
            if missing:
                raise InputError(
                    self.path, f"no source {', '.join(missing)} in this file (it has: {', '.join(known) or 'none'})"
                )
            return [known[i] for i in ids]
        return [t for t in self.targets if set(self.flags.get(t.id, [])) & set(FOLLOW_UP_FLAGS)]

    def flight(self, given: dict[str, float | None]) -> dict[str, float]:
        """The wind and altitude to plan with: ``given`` maps the caller's names for the wind's
        from-direction, its speed and the altitude (in that order; e.g. command-line options) to a
        value or None; None falls back to what the analysis recorded. Returns ``wind_from_deg``,
        ``wind_speed_m_s``, ``altitude_m``; a value neither given nor recorded is a
        :class:`ConfigError` naming what to give."""
        recorded = (self.wind_from_deg, self.wind_speed_m_s, self.altitude_m)
        value = [v if v is not None else r for v, r in zip(given.values(), recorded, strict=True)]
        if missing := [k for k, v in zip(given, value, strict=True) if v is None]:
            raise ConfigError(
                f"{self.path} does not record the flight's {', '.join(k.lstrip('-') for k in missing)} "
                f"(a beam analysis, or an older file): give {' and '.join(missing)}"
            )
        return dict(zip(("wind_from_deg", "wind_speed_m_s", "altitude_m"), value, strict=True))

    def stability(self, given: str | float | None = None) -> str | float:
        """The stability to plan with: ``given`` (a class letter or index), else the index the
        analysis fitted, else class D (neutral: beam analyses and older files record none)."""
        if given is not None:
            return given
        return round(self.stability_index, 2) if self.stability_index is not None else "D"


def _number(path, where: str, value, name: str, positive: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"{where}: '{name}' must be a number, not {value!r}") from None
    if not np.isfinite(v) or (positive and v <= 0):
        kind = "positive" if positive else "finite"
        raise InputError(path, f"{where}: '{name}' must be a {kind} number, not {value!r}")
    return v


def read_analysis(path, ellipse: bool = False) -> Analysis:
    """Read an analysis' source estimates (the GeoJSON of ../shared/FORMATS.md section 2).

    Each Point feature's position ([lon, lat]), ``location_ci90_m`` and
    ``emission_rate_g_s_ci90`` are required; ``height_m`` and ``flags`` are used when present.
    The local frame is the provenance's ``origin``, else the first source. ``ellipse``: as
    :func:`parse_analysis`."""
    path = Path(path)
    return parse_analysis(read_json(path), path, ellipse)


def parse_analysis(doc, path, ellipse: bool = False) -> Analysis:
    """:func:`read_analysis` of an already parsed document; ``path`` names it in errors;
    ``ellipse``: each target with its 90 % ellipse where the file records one (the lines are then
    laid over it), else the circle."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise InputError(path, "not a GeoJSON FeatureCollection of source estimates (plumescout analyze's output)")
    prov = doc.get("properties") if isinstance(doc.get("properties"), dict) else {}
    rows = []
    for i, f in enumerate(doc["features"]):
        where = f"feature {i}"
        props = f.get("properties") if isinstance(f, dict) else None
        geom = f.get("geometry") if isinstance(f, dict) else None
        if not isinstance(props, dict) or not isinstance(geom, dict) or geom.get("type") != "Point":
            raise InputError(path, f"{where}: a source estimate is a Feature with a Point geometry and properties")
        coords = geom.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise InputError(path, f"{where}: 'coordinates' must be [lon, lat]")
        lon, lat = (_number(path, where, c, "coordinates", positive=False) for c in coords[:2])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise InputError(path, f"{where}: position [{lon}, {lat}] is not [longitude, latitude] in degrees")
        sid = str(props.get("id", f.get("id", f"S{i + 1}")))
        where = f"feature {i} ({sid})"
        radius = _number(path, where, props.get("location_ci90_m"), "location_ci90_m")
        ci = props.get("emission_rate_g_s_ci90")
        if not isinstance(ci, list) or len(ci) != 2:
            raise InputError(path, f"{where}: 'emission_rate_g_s_ci90' must be [low, high] (g/s)")
        low = _number(path, where, ci[0], "emission_rate_g_s_ci90")
        before = props.get("emission_rate_g_s_ci90_before_widening")  # (a source seen only near it)
        if before is not None:
            if not isinstance(before, list) or len(before) != 2:
                raise InputError(path, f"{where}: 'emission_rate_g_s_ci90_before_widening' must be [low, high] (g/s)")
            low = _number(path, where, before[0], "emission_rate_g_s_ci90_before_widening")
        height = props.get("height_m")
        height = 1.0 if height is None else _number(path, where, height, "height_m", positive=False)
        flags = props.get("flags") or []
        if not isinstance(flags, list):
            raise InputError(path, f"{where}: 'flags' must be a list of names")
        crossings = props.get("plume_crossings")
        if crossings is not None:
            crossings = _number(path, where, crossings, "plume_crossings", positive=False)
            if crossings < 0:
                raise InputError(path, f"{where}: 'plume_crossings' must be a count (0 or more), not {crossings:g}")
        ell = props.get("location_ci90_ellipse")
        if ell is not None:
            if not isinstance(ell, dict):
                raise InputError(path, f"{where}: 'location_ci90_ellipse' must be an object of semi-axes and azimuth")
            ell = (
                _number(path, where, ell.get("semi_major_m"), "location_ci90_ellipse.semi_major_m"),
                _number(path, where, ell.get("semi_minor_m"), "location_ci90_ellipse.semi_minor_m"),
                _number(path, where, ell.get("major_axis_azimuth_deg"), "location_ci90_ellipse.major_axis_azimuth_deg",
                        positive=False),
            )  # fmt: skip
        rows.append((sid, lat, lon, radius, low, max(height, 0.0), [str(x) for x in flags], crossings, ell,
                     before is not None))  # fmt: skip
    origin = prov.get("origin") if isinstance(prov.get("origin"), dict) else None
    if origin is not None:
        lat0 = _number(path, "properties.origin", origin.get("lat"), "lat", positive=False)
        lon0 = _number(path, "properties.origin", origin.get("lon"), "lon", positive=False)
    elif rows:
        lat0, lon0 = rows[0][1], rows[0][2]
    else:
        raise InputError(path, "has no source estimates and no origin")
    frame = LocalFrame(lat0, lon0)
    targets = []
    wind = prov.get("mean_wind") if isinstance(prov.get("mean_wind"), dict) else {}
    speed, from_deg, alt = wind.get("speed_m_s"), wind.get("from_deg"), prov.get("flight_altitude_m")
    alt = None if alt is None else _number(path, "properties", alt, "flight_altitude_m")
    for sid, lat, lon, radius, low, height, _, crossings, ell, widened in rows:
        x, y = frame.to_local(lat, lon)
        # the height the survey crossed its plume at (None: not crossed, or not recorded)
        seen = alt if crossings is not None and crossings > 0 and alt is not None else None
        targets.append(Target(sid, float(x), float(y), radius, low, height, seen, ell if ellipse else None, widened))
    post = prov.get("posterior") if isinstance(prov.get("posterior"), dict) else {}
    stab = post.get("stability_index_fitted")
    if stab is not None:
        stab = _number(path, "properties.posterior", stab, "stability_index_fitted", positive=False)
        if not 0.0 <= stab <= 5.0:
            raise InputError(path, f"properties.posterior: 'stability_index_fitted' {stab} is not in 0 (A) .. 5 (F)")
    return Analysis(
        Path(str(path)),
        frame,
        targets,
        {r[0]: r[6] for r in rows},
        None if speed is None else _number(path, "properties.mean_wind", speed, "speed_m_s"),
        None if from_deg is None else _number(path, "properties.mean_wind", from_deg, "from_deg", positive=False),
        alt,
        stab,
    )


def _axes(wind_from_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (east, north) downwind and crosswind (90 degrees to its right)."""
    toward = np.deg2rad((wind_from_deg + 180.0) % 360.0)
    down = np.array([np.sin(toward), np.cos(toward)])
    return down, np.array([down[1], -down[0]])


def follow_up_area(
    target: Target,
    settings: MissionSettings,
    crossings: int = 3,
    lines_across_region: int = 4,
    min_spacing_m: float = 5.0,
) -> tuple[Polygon, float, tuple[float, float], tuple[float, float]]:
    """The area to fly over ``target``, the line spacing, the lines' span along the wind, and
    the downwind distances between which its plume is detectable at the flight altitude.

    The spacing resolves the region (``lines_across_region`` lines across its diameter) and lets
    a plume of the target's rate be crossed ``crossings`` times before it fades below the
    detection limit; it is never below ``min_spacing_m`` (the position accuracy of a small
    aircraft) nor above the settings' ``max_spacing_m``. Along the wind the lines run from the
    first distance a plume reaches the flight altitude (``detectable_range``), counted from the
    region's upwind edge, to ``crossings - 1`` spacings past that distance from its downwind
    edge; across it they cover the region and 2.5 plume widths either side at the farthest line.
    """
    st = settings
    rate = planned_rate(target, st)
    x_lo, x_hi = detectable_range(
        rate,
        st.wind_speed_m_s,
        st.altitude_m,
        st.detection_limit_ppm,
        st.species,
        st.stability,
        source_height_m=target.height_m,
    )
    if not np.isfinite(x_lo):
        low = lower_altitude(target, st)
        hint = "" if low is None else f" (at {low[0]:g} m it would be detectable from {low[1]:.0f} m downwind)"
        raise ConfigError(
            f"source {target.id}: a {rate:.3g} g/s plume never reaches the {st.detection_limit_ppm} ppm "
            f"detection limit at {st.altitude_m} m in {st.wind_speed_m_s} m/s wind; fly lower{hint}"
        )
    r, rc = target.half_extents(st.wind_from_deg)  # (along the wind, across it)
    spacing = st.line_spacing_m or float(
        np.clip(min(2.0 * r / lines_across_region, (x_hi - x_lo) / crossings), min_spacing_m, st.max_spacing_m)
    )
    u0 = -r + x_lo
    u1 = r + x_lo + (crossings - 1) * spacing
    sy, _ = sigma_yz(np.array([u1 + r]), st.stability)
    half = rc + 2.5 * float(sy[0])
    down, cross = _axes(st.wind_from_deg)
    centre = np.array([target.x_m, target.y_m])
    # the planner starts its lines min(x_lo, spacing / 2) past the area's upwind edge
    start = u0 - min(x_lo, 0.5 * spacing)
    corners = [centre + u * down + v * cross for u, v in ((start, -half), (u1, -half), (u1, half), (start, half))]
    return Polygon(corners), spacing, (u0, u1), (float(x_lo), float(x_hi))


def lower_altitude(target: Target, settings: MissionSettings, step_m: float = 0.5) -> tuple[float, float] | None:
    """Where the target's plume first reaches the flight altitude farther downwind than its 90 %
    region's radius (the lines then all lie beyond the region, far from the source): the highest
    altitude, no lower than every aircraft's minimum, at which it would reach it within the
    radius, and that distance; else the lowest allowed altitude if that is closer at all. None
    when the settings' altitude already does, or no allowed altitude is closer."""
    st = settings
    rate = planned_rate(target, st)

    def first_reach(alt: float) -> float:
        x_lo, _ = detectable_range(
            rate, st.wind_speed_m_s, alt, st.detection_limit_ppm, st.species, st.stability,
            source_height_m=target.height_m,
        )  # fmt: skip
        return x_lo

    now = first_reach(st.altitude_m)
    floor = max(a.min_altitude_m for a in st.aircraft)
    if (np.isfinite(now) and now <= target.radius_m) or floor >= st.altitude_m:
        return None
    best = None
    for alt in np.arange(st.altitude_m - step_m, floor - 1e-9, -step_m):
        x = first_reach(float(alt))
        if np.isfinite(x) and (best is None or x < best[1]):
            best = (round(float(alt), 1), x)
            if x <= target.radius_m:
                break
    if best is None or (np.isfinite(now) and best[1] >= now):
        return None
    return best


def lower_altitude_advice(
    target: Target, altitude_m: float, reach_m: float, low: tuple[float, float], option: str
) -> str:
    """:func:`lower_altitude`'s advice ``low`` for ``target`` in words: its plume first reaches
    ``altitude_m`` at ``reach_m`` downwind (a :class:`FollowUp`'s ``reach_m``); ``option`` names how
    the caller sets the altitude (``--altitude ``, ``altitude=``)."""
    a, x = low
    return (
        f"its plume first reaches {altitude_m:g} m {reach_m:.0f} m downwind, beyond its {target.radius_m:.0f} m "
        f"region; at {a:g} m it would be detectable from {x:.0f} m ({option}{a:g}, if the site allows)"
    )


def below_altitude_advice(survey_altitude_m: float, flown_m: float, option: str) -> str:
    """Why a mission of :func:`plan_every_target` flies below the survey's height, in words;
    ``option`` names how the caller sets the lowest height allowed (``--min-altitude ``,
    ``min_altitude=``)."""
    return (
        f"its weakest plume never reaches {survey_altitude_m:g} m; planned at {flown_m:g} m, where it is "
        f"detectable: check the site's obstacles before flying it that low ({option}sets the lowest height allowed)"
    )


def plannable(targets: list[Target], settings: MissionSettings) -> tuple[list[Target], dict[str, str]]:
    """The targets that can be flown at ``settings``' altitude, and the others by id with why not
    (:func:`follow_up_area`'s refusal: the weakest plume never reaches that height, and the
    altitude that would see it)."""
    ok, refused = [], {}
    for t in targets:
        try:
            follow_up_area(t, settings)
            ok.append(t)
        except ConfigError as e:
            refused[t.id] = str(e)
    return ok, refused


def plan_every_target(
    targets: list[Target],
    settings: MissionSettings,
    takeoff_m=None,
    landing_m=None,
    no_fly_m=(),
) -> tuple[list[FollowUp], dict[str, str]]:
    """The follow-up missions over ``targets``: those the settings' altitude can see, planned
    there (:func:`plan_follow_up`); each other whose plume :func:`lower_altitude` finds detectable
    lower (no lower than every aircraft's minimum), planned at that altitude, one set of missions
    per such altitude, highest first. Returns the missions and the targets flown nowhere, by id
    with why (:func:`follow_up_area`'s refusal). The lower missions are flown below the surveyed
    height: whether the site allows it (masts, trees, buildings) is the crew's to check."""
    ok, refused = plannable(targets, settings)
    plans = plan_follow_up(ok, settings, takeoff_m, landing_m, no_fly_m) if ok else []
    lower: dict[float, list[Target]] = {}
    left = {}
    for t in targets:
        if t.id not in refused:
            continue
        low = lower_altitude(t, settings)
        if low is None:
            left[t.id] = refused[t.id]
        else:
            lower.setdefault(low[0], []).append(t)
    for alt in sorted(lower, reverse=True):
        st = settings.model_copy(update={"altitude_m": alt})
        ok, refused = plannable(lower[alt], st)
        left.update(refused)
        if ok:
            plans += plan_follow_up(ok, st, takeoff_m, landing_m, no_fly_m)
    return plans, left


def plan_follow_up(
    targets: list[Target],
    settings: MissionSettings,
    takeoff_m=None,
    landing_m=None,
    no_fly_m=(),
) -> list[FollowUp]:
    """The follow-up missions over ``targets`` (lines, sorties and exports as
    :func:`plan_mission` plans them): one per target, except that targets whose areas overlap
    share one mission over the hull of their areas, at the closest of their spacings and for the
    weakest of their rates, where that takes less flight than their missions apart (no ground is
    flown twice, but the hull also covers the ground between them). In the order of each group's
    first target."""
    parts = []
    for t in targets:
        if not (np.isfinite(t.radius_m) and t.radius_m > 0):
            raise ConfigError(f"source {t.id}: its 90 % region radius {t.radius_m} m is not a positive number")
        if not (np.isfinite(t.rate_g_s) and t.rate_g_s > 0):
            raise ConfigError(f"source {t.id}: its rate {t.rate_g_s} g/s is not a positive number")
        parts.append((t, *follow_up_area(t, settings)))
    # groups of overlapping areas (connected components)
    group = list(range(len(parts)))

    def root(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            if parts[i][1].intersects(parts[j][1]):
                group[root(j)] = root(i)

    def plan(members) -> FollowUp:
        area = members[0][1] if len(members) == 1 else shapely.convex_hull(shapely.union_all([m[1] for m in members]))
        spacing = min(m[2] for m in members)
        rates = {m[0].id: planned_rate(m[0], settings) for m in members}
        rate = min(rates.values())
        st = settings.model_copy(update={"line_spacing_m": spacing, "reference_rate_g_s": rate})
        mission = plan_mission(area, st, takeoff_m, landing_m, no_fly_m)
        ids = [m[0].id for m in members]
        return FollowUp([m[0] for m in members], area, spacing, dict(zip(ids, [m[3] for m in members], strict=True)),
                        mission, dict(zip(ids, [m[4] for m in members], strict=True)), rates)  # fmt: skip

    def flight_s(plans) -> float:
        return sum(s.time_s for f in plans for s in f.mission.sorties)

    out = []
    for g in dict.fromkeys(root(i) for i in range(len(parts))):
        members = [p for i, p in enumerate(parts) if root(i) == g]
        apart = [plan([m]) for m in members]
        # one mission over the hull where that is shorter (the hull also covers the ground between)
        joint = plan(members) if len(members) > 1 else None
        out.extend([joint] if joint is not None and flight_s([joint]) < flight_s(apart) else apart)
    return out

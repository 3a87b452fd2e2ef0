"""Fly a scenario: aircraft along a path through puffs carried by a meandering wind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..dispersion import gaussian_puff, sigma_yz
from ..geo import LocalFrame
from ..met import WindSeries, class_index
from ..observations import Observations
from ..planning import SurveyPlan, plan_survey
from ..sensors import apply_sensor
from ..units import g_m3_to_ppm
from .scenario import Scenario
from .wind import simulate_wind

__all__ = [
    "SimulatedFlight",
    "simulate_flight",
    "fly_path",
    "plan_for_scenario",
    "puff_concentration",
    "puff_masses",
]


@dataclass
class SimulatedFlight:
    """What the simulator produced: the logged observations, the truth and the plan flown."""

    observations: Observations
    truth: dict
    wind_true: WindSeries
    plan: SurveyPlan | None


def fly_path(waypoints_m, speed_m_s: float, sample_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and (n, 2) positions of samples along a polyline flown at constant speed."""
    wps = np.asarray(waypoints_m, dtype=float)
    seg = np.hypot(*np.diff(wps, axis=0).T)
    keep = np.concatenate([[True], seg > 1e-9])
    wps = wps[keep]
    cum = np.concatenate([[0.0], np.cumsum(seg[seg > 1e-9])])
    t = np.arange(0.0, cum[-1] / speed_m_s, 1.0 / sample_rate_hz)
    s = t * speed_m_s
    return t, np.column_stack([np.interp(s, cum, wps[:, 0]), np.interp(s, cum, wps[:, 1])])


def puff_masses(wind: WindSeries, release_dt_s: float = 1.0, intermittency: float = 0.6, rng=None) -> np.ndarray:
    """Relative masses (mean 1, log-normal with log-std ``intermittency``) of every puff released
    every ``release_dt_s`` over ``wind``'s span, numbered from ``wind.time_s[0]``: drawn once and
    passed to each :func:`puff_concentration` call as ``masses``, a puff weighs the same whenever
    and wherever it is read (a sensor read sample by sample, or several read in separate calls)."""
    rng = np.random.default_rng(rng)
    n = int(np.floor((wind.time_s[-1] - wind.time_s[0]) / release_dt_s)) + 2
    return rng.lognormal(-0.5 * intermittency**2, intermittency, n)


def puff_concentration(
    t_s,
    xyz,
    source_xyz,
    rate_g_s,
    wind: WindSeries,
    stability,
    release_dt_s: float = 1.0,
    max_age_s: float = 1500.0,
    relative_dispersion: float = 0.6,
    intermittency: float = 0.6,
    initial_sigma_m: float = 0.5,
    rng=None,
    chunk: int = 256,
    turbulence: tuple[np.ndarray, np.ndarray] | None = None,
    masses: np.ndarray | None = None,
) -> np.ndarray:
    """Concentration (g/m3) at samples ``(t_s, xyz)`` from puffs released every ``release_dt_s``.

    Puffs move with the (spatially uniform, time-varying) wind; each grows with its travel
    distance as ``relative_dispersion`` times the Briggs plume width (the rest of the plume's
    spread comes from the meander itself), its widths at a receptor being those at the receptor's
    own travel distance (a slug of the plume: in a steady wind the train is the steady plume from
    a few release spacings on, however far the puffs are smoothed along the wind). Puff masses are
    log-normal with log-std ``intermittency`` and mean ``rate * release_dt`` (mass is conserved on
    average), drawn anew at each call unless ``masses`` (from :func:`puff_masses` for the same
    wind and ``release_dt_s``) fixes them: calls that read the same puffs at different times or
    places must share them, or a puff's mass changes between readings.

    ``turbulence``: measured (tan sigma_theta_h, tan sigma_theta_v) on ``wind.time_s``; a puff
    then grows as its travel distance times the values at its release (Taylor's near-field
    law, for distances of tens of metres) instead of the Briggs curves of ``stability``.
    """
    rng = np.random.default_rng(rng)
    t_s = np.asarray(t_s, dtype=float)
    xyz = np.asarray(xyz, dtype=float)
    grid = wind.time_s
    ue, un = wind.to_unit
    vx, vy = wind.speed_m_s * ue, wind.speed_m_s * un
    dt = np.diff(grid, prepend=grid[0])
    cx = np.cumsum(vx * dt)
    cy = np.cumsum(vy * dt)
    cd = np.cumsum(wind.speed_m_s * dt)
    rel = np.arange(grid[0], t_s.max() + release_dt_s, release_dt_s)
    number = np.flatnonzero(rel >= t_s.min() - max_age_s)
    rel = rel[number]
    if masses is None:
        s2 = intermittency**2
        relative = rng.lognormal(-0.5 * s2, intermittency, rel.size)
    elif number.size and number[-1] >= len(masses):
        raise ValueError(
            f"masses: {len(masses)} puffs given, puff {number[-1]} needed (puff_masses over the same wind "
            "and release_dt_s)"
        )
    else:
        relative = np.asarray(masses, dtype=float)[number]
    mass = rate_g_s * release_dt_s * relative
    rx, ry, rd = np.interp(rel, grid, cx), np.interp(rel, grid, cy), np.interp(rel, grid, cd)
    spacing = np.interp(rel, grid, wind.speed_m_s) * release_dt_s
    st = class_index(stability) if isinstance(stability, str) else float(stability)
    if turbulence is not None:
        tan_y, tan_z = (np.interp(rel, grid, np.asarray(v, dtype=float)) for v in turbulence)
    out = np.zeros(t_s.size)
    for a in range(0, t_s.size, chunk):
        tk = t_s[a : a + chunk]
        px = np.interp(tk, grid, cx)[:, None] - rx[None, :]
        py = np.interp(tk, grid, cy)[:, None] - ry[None, :]
        dist = np.interp(tk, grid, cd)[:, None] - rd[None, :]
        # offsets of the receptor from each puff centre, along and across the puff's motion
        dx = xyz[a : a + chunk, 0:1] - (source_xyz[0] + px)
        dy = xyz[a : a + chunk, 1:2] - (source_xyz[1] + py)
        norm = np.hypot(px, py)
        norm = np.where(norm > 0, norm, 1.0)
        along = (dx * px + dy * py) / norm
        across = (-dx * py + dy * px) / norm
        # each puff is a slug of the plume: its cross-section at the receptor is the plume's at
        # the receptor's own travel distance (the puff's along-wind smoothing, set by the release
        # interval, must not carry wider, older plume into the first metres)
        dr = dist + along
        alive = (rel[None, :] <= tk[:, None]) & (tk[:, None] - rel[None, :] <= max_age_s) & (dist > 0) & (dr > 0)
        d = np.where(alive, dr, 1.0)
        if turbulence is None:
            sy, sz = sigma_yz(d, st)
        else:
            sy, sz = d * tan_y[None, :], d * tan_z[None, :]
        sy = np.sqrt((relative_dispersion * sy) ** 2 + initial_sigma_m**2)
        sz = np.sqrt(sz**2 + initial_sigma_m**2)
        sx = np.sqrt(sy**2 + (0.8 * spacing[None, :]) ** 2)
        c = gaussian_puff(along, across, xyz[a : a + chunk, 2:3], source_xyz[2], mass[None, :], sx, sy, sz)
        out[a : a + chunk] = np.where(alive, c, 0.0).sum(axis=1)
    return out


def plan_for_scenario(sc: Scenario, altitude_m: float | None = None, line_spacing_m: float | None = None):
    """The crosswind survey a scenario asks for (its aircraft, sensor, wind and flight settings);
    ``altitude_m`` and ``line_spacing_m`` override the scenario's."""
    ac, sn, wc = sc.aircraft, sc.sensor, sc.wind
    alt = altitude_m if altitude_m is not None else max(ac.altitude_m, ac.min_altitude_m)
    return plan_survey(
        sc.site.area_m,
        wc.from_deg,
        wc.speed_m_s,
        ac.speed_m_s,
        ac.endurance_s,
        min(ac.min_altitude_m, alt),
        sn.detection_limit_ppm,
        sc.flight.reference_rate_g_s,
        sn.species,
        wc.stability,
        altitude_m=alt,
        line_spacing_m=line_spacing_m if line_spacing_m is not None else sc.flight.line_spacing_m,
        home_m=sc.flight.home_m,
    )


def simulate_flight(scenario: Scenario, plan: SurveyPlan | None = None, rng=None, progress=None) -> SimulatedFlight:
    """Fly ``scenario`` (along ``plan``, or the plan the scenario asks for) and log it.

    ``progress``, if given, is called as ``progress(done, total)`` while sources are computed.
    """
    sc = scenario
    rng = np.random.default_rng(sc.seed if rng is None else rng)
    frame = LocalFrame(*sc.site.origin)
    ac, sn, wc = sc.aircraft, sc.sensor, sc.wind
    if sc.flight.pattern == "waypoints":
        path = np.asarray(sc.flight.waypoints_m, dtype=float)
        plan = None
    else:
        if plan is None:
            plan = plan_for_scenario(sc)
        path = np.vstack(plan.sorties)
    t, xy = fly_path(path, ac.speed_m_s, ac.sample_rate_hz)
    z = np.full(t.size, plan.altitude_m if plan is not None else ac.altitude_m)

    # wind from well before the flight, so that the plume is established over the whole area
    spin = min(1500.0, 2.5 * float(np.ptp(np.asarray(sc.site.area_m), axis=0).max()) / wc.speed_m_s + 120.0)
    wind = simulate_wind(
        -spin,
        t[-1] + 1.0,
        wc.speed_m_s,
        wc.from_deg,
        wc.meander_deg,
        wc.meander_timescale_s,
        wc.gust_fraction,
        wc.gust_timescale_s,
        0.5,
        rng,
    )
    measured = [sn.species, *(e.species for e in sc.extra_sensors)]
    srcs = [s for s in sc.sources if any(s.ratio(m) > 0 for m in measured)]
    fine_dt = min(0.25, 1.0 / ac.sample_rate_hz)
    tf = np.arange(0.0, t[-1] + 1e-9, fine_dt)
    xyf = np.column_stack([np.interp(tf, t, xy[:, 0]), np.interp(tf, t, xy[:, 1]), np.interp(tf, t, z)])
    # each source's enhancement in ppm of its own species; every species measured gets its share
    enh_f = {m: np.zeros(tf.size) for m in measured}
    for i, s in enumerate(srcs):
        c_src = puff_concentration(
            tf,
            xyf,
            (s.x_m, s.y_m, s.height_m),
            s.rate_g_s,
            wind,
            wc.stability,
            release_dt_s=1.0,
            max_age_s=spin,
            relative_dispersion=wc.relative_dispersion,
            intermittency=wc.intermittency,
            rng=rng,
        )
        ppm_src = g_m3_to_ppm(c_src, s.species, sc.temperature_k, sc.pressure_pa)
        for m in measured:
            if s.ratio(m) > 0:
                enh_f[m] += s.ratio(m) * ppm_src
        if progress:
            progress(i + 1, len(srcs))
    enh_ppm_f = enh_f[sn.species]
    drift = sn.background_ppm + sn.drift_ppm_per_h * tf / 3600.0
    read_f = apply_sensor(drift + enh_ppm_f, fine_dt, sn.response_time_s, 0.0, 0.0, rng)
    reading = np.interp(t, tf, read_f)
    reading = apply_sensor(reading, 1.0 / ac.sample_rate_hz, 0.0, sn.noise_ppm, sn.resolution_ppm, rng)
    enh_primary = np.interp(t, tf, enh_ppm_f)

    ws_true, wd_true = wind.at(t)
    ws_meas = np.maximum(ws_true + rng.normal(0, wc.measurement_noise_speed_m_s, t.size), 0.1)
    wd_meas = np.mod(wd_true + rng.normal(0, wc.measurement_noise_dir_deg, t.size), 360.0)
    gx = xy[:, 0] + rng.normal(0, ac.gps_noise_m, t.size)
    gy = xy[:, 1] + rng.normal(0, ac.gps_noise_m, t.size)
    lat, lon = frame.to_wgs84(gx, gy)
    species = {sn.species: reading}
    units = {sn.species: sn.unit}
    for ex in sc.extra_sensors:  # after everything else, so the primary's draws do not change
        drift_x = ex.background_ppm + ex.drift_ppm_per_h * tf / 3600.0
        rx = apply_sensor(drift_x + enh_f[ex.species], fine_dt, ex.response_time_s, 0.0, 0.0, rng)
        species[ex.species] = apply_sensor(
            np.interp(t, tf, rx), 1.0 / ac.sample_rate_hz, 0.0, ex.noise_ppm, ex.resolution_ppm, rng
        )
        units[ex.species] = ex.unit
    t0 = datetime.fromisoformat(sc.flight.start_time.replace("Z", "+00:00"))
    obs = Observations(
        time_s=t,
        x_m=gx,
        y_m=gy,
        z_m=z,
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        wind_speed_m_s=ws_meas,
        wind_from_deg=wd_meas,
        species=species,
        frame=frame,
        t0=t0,
        units=units,
        source_files=(),
        repairs=[],
    )
    truth = {
        "scenario": sc.name,
        "seed": sc.seed,
        "origin": {"lat": sc.site.origin[0], "lon": sc.site.origin[1]},
        "sources": [
            {
                "id": f"truth-{i + 1}",
                "x_m": s.x_m,
                "y_m": s.y_m,
                "height_m": s.height_m,
                "rate_g_s": s.rate_g_s,
                "species": s.species,
                **({"mixture": dict(s.mixture)} if s.mixture else {}),
                **({"kind": s.kind} if s.kind else {}),
                "lat": float(frame.to_wgs84(s.x_m, s.y_m)[0]),
                "lon": float(frame.to_wgs84(s.x_m, s.y_m)[1]),
            }
            for i, s in enumerate(sc.sources)
        ],
        "wind": {
            "speed_m_s": wc.speed_m_s,
            "from_deg": wc.from_deg,
            "meander_deg": wc.meander_deg,
            "stability": wc.stability,
        },
        "max_enhancement_ppm": float(enh_primary.max()) if enh_primary.size else 0.0,
        "samples": int(t.size),
        "duration_s": float(t[-1]),
    }
    return SimulatedFlight(obs, truth, wind, plan)

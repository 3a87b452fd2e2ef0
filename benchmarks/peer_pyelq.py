"""The peer side by side: pyELQ (Shell's Bayesian RJMCMC estimator, PyPI `pyelq`) and plumescout
in the same run, on the same real data (Chilbolton 2017 source 1) and on the same simulated
flights of the evaluation suite.

    python benchmarks/peer_pyelq.py [--iterations 5000] [--flights 10 --first-seed 3000]
                                    [--windows 4] [--beam-releases 0]
                                    [--data ../shared/datasets/chilbolton-2017/source_1]

Chilbolton: both get the same 973 path-averaged beam readings, per-minute wind and turbulence;
``--windows N`` also fits both on N consecutive time windows of the record, ``--beam-releases N``
on N simulated releases seen by the same beams (``calibrate_beams.py``'s simulator).
Flights: both get the same samples of the suite's scenarios (``plumescout.evaluation.run_one``'s
simulation): the raw methane mole fraction, the aircraft's position, and the wind smoothed as
plumescout smooths it; pyELQ's plume spreads as tan(angle) x distance, so it is given the angles
of the Briggs rural curves at 100 m for the stability class plumescout reads from the same
wind record (sigma-theta), i.e. the same dispersion information. pyELQ is set up as in its own
basic example (Gaussian plume, reversible jump, background in time, per-sensor offsets and
errors); its sampled source sets are summarised with plumescout's own grouping and both are
scored by the suite's own matching (``score_flight``). Writes benchmarks/results/peer_pyelq.md
and peer_pyelq.json. Needs the `peer` extra (`pip install -e '.[peer]'`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

from plumescout.geo import LocalFrame  # noqa: E402
from plumescout.inference import EstimatorConfig, PlumeEstimator  # noqa: E402
from plumescout.inference.data import read_beam_dataset  # noqa: E402
from plumescout.inference.estimate import group_sources  # noqa: E402
from plumescout.units import g_m3_to_ppm  # noqa: E402
from plumescout.validation.prairie_grass import MATCH_M, RATE_SCALE_G_S  # noqa: E402

ORIGIN = (51.1445, -1.4370)


def beam_inputs(data):
    """pyELQ's sensors and meteorology for a beam data set (one Beam per path)."""
    import pandas as pd
    from pyelq.coordinate_system import ENU
    from pyelq.meteorology.meteorology import Meteorology
    from pyelq.sensor.beam import Beam
    from pyelq.sensor.sensor import SensorGroup

    minutes = np.unique(data.reading_time_s)
    time_axis = pd.to_datetime("2017-05-10 10:00:00") + pd.to_timedelta(minutes, unit="s")
    ref = dict(ref_latitude=ORIGIN[0], ref_longitude=ORIGIN[1], ref_altitude=0.0)
    group = SensorGroup()
    for b in range(len(data.beam_start)):
        sel = data.reading_beam == b
        idx = np.searchsorted(minutes, data.reading_time_s[sel])
        conc = np.full(minutes.size, np.nan)
        conc[idx] = data.y[sel]
        enu = ENU(**ref)
        enu.from_array(np.vstack([data.beam_start[b], data.beam_end[b]]))
        s = Beam()
        s.label = f"beam {b + 1}"
        s.location = enu.to_lla()
        s.time = time_axis[np.isfinite(conc)].array
        s.concentration = g_m3_to_ppm(conc[np.isfinite(conc)], "ch4")
        group.add_sensor(s)
    # per-minute meteorology: one reading of each beam per minute shares the minute's wind
    first = np.array([np.flatnonzero(data.reading_time_s == m)[0] for m in minutes]) * data.points_per_reading
    met = Meteorology()
    met.time = time_axis.array
    met.wind_speed = data.spec.speed[first]
    met.wind_direction = data.spec.from_deg[first]
    met.calculate_uv_from_wind_speed_direction()
    met.temperature = np.full(minutes.size, 288.15)
    met.pressure = np.full(minutes.size, 101.325)
    met.wind_turbulence_horizontal = np.rad2deg(np.arctan(data.spec.tan_sigma_y[first]))
    met.wind_turbulence_vertical = np.rad2deg(np.arctan(data.spec.tan_sigma_z[first]))
    background = _background(spatial=True, n_time=None)
    return group, met, background, ORIGIN


def _background(spatial: bool, n_time, mean_bg: float = 2.0):
    from pyelq.component.background import SpatioTemporalBackground

    background = SpatioTemporalBackground()
    background.n_time = n_time
    background.mean_bg = mean_bg
    background.spatial_dependence = spatial
    background.initial_precision = 1 / np.power(3e-4, 2)
    background.precision_time_0 = 1 / np.power(0.1, 2)
    background.spatial_correlation_param = 25.0
    background.update_precision = False
    return background


def flight_inputs(obs, stability_index: float, smoothing_s: float):
    """pyELQ's sensor (one moving point sensor: location per sample) and meteorology for a flight."""
    import pandas as pd
    from pyelq.coordinate_system import ENU
    from pyelq.meteorology.meteorology import Meteorology
    from pyelq.sensor.sensor import Sensor, SensorGroup

    from plumescout.dispersion import sigma_yz
    from plumescout.inference.data import _smooth_wind

    ok = np.isfinite(obs.species["ch4"]) & np.isfinite(obs.wind_speed_m_s) & np.isfinite(obs.wind_from_deg)
    t = obs.time_s[ok]
    times = (pd.to_datetime("2024-06-01 10:00:00") + pd.to_timedelta(t, unit="s")).array
    origin = (float(obs.frame.lat0), float(obs.frame.lon0))
    enu = ENU(ref_latitude=origin[0], ref_longitude=origin[1], ref_altitude=0.0)
    enu.from_array(np.column_stack([obs.x_m[ok], obs.y_m[ok], obs.z_m[ok]]))
    s = Sensor()
    s.label = "drone"
    s.location = enu
    s.time = times
    s.concentration = obs.species["ch4"][ok]
    group = SensorGroup()
    group.add_sensor(s)
    sp, wd = _smooth_wind(obs.time_s, obs.wind_speed_m_s, obs.wind_from_deg, smoothing_s)
    met = Meteorology()
    met.time = times
    met.wind_speed = sp[ok]
    met.wind_direction = wd[ok]
    met.calculate_uv_from_wind_speed_direction()
    met.temperature = np.full(t.size, 288.15)
    met.pressure = np.full(t.size, 101.325)
    sy, sz = sigma_yz(100.0, stability_index)
    met.wind_turbulence_horizontal = np.full(t.size, np.rad2deg(np.arctan(float(sy) / 100.0)))
    met.wind_turbulence_vertical = np.full(t.size, np.rad2deg(np.arctan(float(sz) / 100.0)))
    # background in time only (one sensor), a knot a minute
    background = _background(spatial=False, n_time=max(2, int(np.ptp(t) // 60) + 1))
    return group, met, background, origin


def sampler_inputs(s, origin=(42.49, -98.57)):
    """pyELQ's sensors and meteorology for one Prairie Grass run: a point sensor per arc (a
    location per sampler; each arc its own offset and error level, as pyELQ models a sensor), the
    run's wind and the same turbulence angles plumescout is given; readings 1 s apart (one
    10-minute mean each) with the run's meteorology at each. Mass concentrations are passed as
    the methane mole fraction that has them (both estimators convert back with the same
    molar mass, so rates come out in g/s of SO2)."""
    import pandas as pd
    from pyelq.coordinate_system import ENU
    from pyelq.meteorology.meteorology import Meteorology, MeteorologyGroup
    from pyelq.sensor.sensor import Sensor, SensorGroup

    tan_y, tan_z = s.turbulence()
    group, mets, start = SensorGroup(), MeteorologyGroup(), 0
    t0 = pd.to_datetime("1956-07-06 14:00:00")
    for r in np.unique(s.arc):
        sel = s.arc == r
        k = int(sel.sum())
        enu = ENU(ref_latitude=origin[0], ref_longitude=origin[1], ref_altitude=0.0)
        enu.from_array(s.xyz[sel])
        sensor = Sensor()
        sensor.label = f"arc {r:g} m"
        sensor.location = enu
        sensor.time = (t0 + pd.to_timedelta(np.arange(start, start + k), unit="s")).array
        sensor.concentration = g_m3_to_ppm(s.conc_g_m3[sel], "ch4")
        group.add_sensor(sensor)
        met = Meteorology()
        met.label = sensor.label
        met.time = sensor.time
        met.wind_speed = np.full(k, s.met["u"])
        met.wind_direction = np.full(k, s.met["wdir"])
        met.calculate_uv_from_wind_speed_direction()
        met.temperature = np.full(k, 288.15)
        met.pressure = np.full(k, 101.325)
        met.wind_turbulence_horizontal = np.full(k, s.met["sigma_theta"])
        met.wind_turbulence_vertical = np.full(k, np.rad2deg(np.arctan(tan_z)))
        mets.add_object(met)
        start += k
    return group, mets, _background(spatial=False, n_time=2, mean_bg=0.0), origin


@contextmanager
def _seeded_hypercube(seed: int):
    """pyELQ draws its coverage-map initial sources from a Latin hypercube on an unseeded generator
    (``pyelq.coordinate_system.make_latin_hypercube``, imported by ``pyelq.source_map``); within
    this block the same design is drawn from a generator seeded with ``seed``, so runs repeat."""
    import pyelq.source_map as source_map
    from scipy.stats import qmc

    rng = np.random.default_rng([seed, 1956])

    def seeded(bounds, nof_samples):
        sample = qmc.LatinHypercube(d=bounds.shape[0], rng=rng).random(n=nof_samples)
        return qmc.scale(sample, np.min(bounds, axis=1), np.max(bounds, axis=1))

    original = source_map.make_latin_hypercube
    source_map.make_latin_hypercube = seeded
    try:
        yield
    finally:
        source_map.make_latin_hypercube = original


def run_pyelq(
    inputs,
    box,
    n_iter: int,
    seed: int = 0,
    initial_map: str = "one",
    height: float | None = None,
    rate_sd_kg_h: float = 2.5,
):
    """pyELQ's RJMCMC. ``initial_map`` "one": one random initial source in the box (the beam
    set-up); "coverage": pyELQ draws its initial sources itself among those the sensors can see.
    ``height``: the sources' height is known (its site limits pinned to +-1 mm of it); else 0-2 m.
    ``rate_sd_kg_h``: the 1-sigma of the rates' prior (normal about 0, truncated at 0)."""
    from pyelq.component.error_model import BySensor
    from pyelq.component.offset import PerSensor
    from pyelq.component.source_model import Normal
    from pyelq.coordinate_system import ENU
    from pyelq.dispersion_model.gaussian_plume import GaussianPlume
    from pyelq.gas_species import CH4
    from pyelq.model import ELQModel
    from pyelq.source_map import SourceMap

    group, met, background, origin = inputs
    ref = dict(ref_latitude=origin[0], ref_longitude=origin[1], ref_altitude=0.0)
    np.random.seed(seed)  # noqa: NPY002 (pyELQ and openMCMC draw from NumPy's global generator)
    z_limits = [0.0, 2.0] if height is None else [height - 1e-3, height + 1e-3]
    site_limits = np.array([[box[0], box[2]], [box[1], box[3]], z_limits])
    # the initial source: a seeded uniform draw in the box (pyELQ's own "hypercube" draw is
    # unseeded, and a place no beam sees is screened out at initialise: the next draw is taken)
    draws = np.random.default_rng(seed).uniform(site_limits[:, 0], site_limits[:, 1], size=(50, 3))
    source_map = SourceMap()
    source_map.location = ENU(**ref)
    source_map.location.from_array(array=draws[:1])
    source_model = Normal()
    source_model.emission_rate_mean = np.array([0], ndmin=1)
    source_model.initial_precision = np.array([1 / rate_sd_kg_h**2], ndmin=1)
    source_model.reversible_jump = True
    source_model.rate_num_sources = 1.0
    if initial_map == "one":
        source_model.dispersion_model = GaussianPlume(source_map=source_map)
    else:
        # a survey sees each place in a few per cent of its samples: a place is covered if any
        # sample sees it (one of the thresholds pyELQ's documentation lists), not the default 95th
        # percentile, which a fixed sensor suits
        source_model.threshold_function = lambda x: np.max(x, axis=0)
    source_model.update_precision = False
    source_model.site_limits = site_limits
    offset = PerSensor()
    offset.update_precision = False
    offset.initial_precision = 1 / 0.001**2
    error = BySensor()
    error.initial_precision = 1 / 0.1**2
    error.prior_precision_shape = 1e-2
    error.prior_precision_rate = 1e-2
    model = ELQModel(
        sensor_object=group,
        meteorology=met,
        gas_species=CH4(),
        background=background,
        source_model=source_model,
        error_model=error,
        offset_model=offset if len(group) > 1 else None,
    )
    model.n_iter = n_iter
    t0 = time.perf_counter()
    for draw in draws[1:]:
        try:
            with _seeded_hypercube(seed):
                model.initialise()
            break
        except ValueError as e:  # "All sources in the source map are screened out by the coverage area"
            if initial_map != "one" or "screened out" not in str(e):
                raise
            source_map.location = ENU(**ref)
            source_map.location.from_array(array=draw[None, :])
    model.to_mcmc()
    model.run_mcmc()
    model.from_mcmc()
    wall = time.perf_counter() - t0
    sm = model.components["source"]
    loc = sm.all_source_locations  # ENU, (n_max, n_iter)
    rates = np.asarray(model.mcmc.store[sm.map["source"]])  # kg/h, (n_max, n_iter)
    burn = n_iter // 2
    positions, qs, heights = [], [], []
    for it in range(burn, n_iter):
        e, n = np.asarray(loc.east)[:, it], np.asarray(loc.north)[:, it]
        ok = np.isfinite(e) & np.isfinite(n)
        positions.append(np.column_stack([e[ok], n[ok]]))
        qs.append(rates[: ok.size, it][ok] / 3.6)  # g/s
        heights.append(np.asarray(loc.up)[:, it][ok])
    h = np.concatenate(heights)
    return positions, qs, wall, float(np.median(h)) if h.size else float("nan")


def summarise(positions, rates, seeds, gate):
    out = []
    for xy, q, p in group_sources(positions, rates, seeds, gate_m=gate):
        if p < EstimatorConfig().min_probability:  # the same reporting threshold as plumescout
            continue
        med = np.median(xy, axis=0)
        out.append(
            {
                "x": med[0],
                "y": med[1],
                "r90": float(np.quantile(np.hypot(*(xy - med).T), 0.9)),
                "q": float(np.median(q)),
                "q90": (float(np.quantile(q, 0.05)), float(np.quantile(q, 0.95))),
                "p": p,
            }
        )
    return out


@dataclass
class PeerSource:
    """A pyELQ source in the shape the suite's scoring reads."""

    x_m: float
    y_m: float
    location_ci90_m: float
    rate_g_s: float
    rate_g_s_ci90: tuple
    probability: float


def compare_flights(seeds, n_iter: int, log=print):
    """Both estimators on the suite's simulated flights: per-flight scores of each."""
    from plumescout.evaluation import score_flight, simulate_scenario
    from plumescout.met import class_index, stability_from_sigma_theta

    cfg = EstimatorConfig()
    ours, peer = [], []
    for seed in seeds:
        sc, pattern, flight = simulate_scenario(seed)
        obs = flight.observations
        t0 = time.perf_counter()
        est = PlumeEstimator(cfg).fit(obs)
        t_ours = time.perf_counter() - t0
        truth = flight.truth["sources"]
        ours.append(score_flight(sc.name, truth, est.sources_, t_ours, len(obs), pattern=pattern))
        stab = class_index(stability_from_sigma_theta(obs.wind.direction_sigma_deg()))
        box = getattr(est, "box_", None)  # unset when the flight has no plume crossing
        if box is None:
            x0, y0, x1, y1 = obs.x_m.min(), obs.y_m.min(), obs.x_m.max(), obs.y_m.max()
            box = (x0 - cfg.margin_m, y0 - cfg.margin_m, x1 + cfg.margin_m, y1 + cfg.margin_m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            positions, qs, t_peer, _ = run_pyelq(
                flight_inputs(obs, stab, cfg.wind_smoothing_s), box, n_iter, initial_map="coverage"
            )
        diag = float(np.hypot(box[2] - box[0], box[3] - box[1]))
        best = max(((len(p), i) for i, p in enumerate(positions)), default=(0, 0))
        found = summarise(positions, qs, positions[best[1]] if best[0] else None, 0.1 * diag)
        srcs = [PeerSource(r["x"], r["y"], r["r90"], r["q"], r["q90"], r["p"]) for r in found]
        peer.append(score_flight(sc.name, truth, srcs, t_peer, len(obs), pattern=pattern))
        log(
            f"{sc.name}: truth {len(truth)}, plumescout {len(est.sources_)} ({t_ours:.1f} s), "
            f"pyELQ {len(srcs)} ({t_peer:.1f} s)"
        )
    return ours, peer


def flight_section(ours, peer, n_iter, first_seed) -> list[str]:
    from plumescout.evaluation import summarise_scores

    rows = []
    for name, scores in (("plumescout", ours), ("pyELQ " + _version(), peer)):
        m = summarise_scores(scores)
        rows.append(
            f"| {name} | {m['recall']:.3f} | {m['precision']:.3f} | {m['median_location_error_m']:.1f} "
            f"| {m['median_abs_log10_rate_ratio']:.3f} | {m['location_coverage_90']:.3f} | {m['rate_coverage_90']:.3f} "
            f"| {m['false_sources_per_flight']:.2f} | {sum(s.wall_time_s for s in scores):.0f} "
            f"| {m['median_wall_time_s']:.1f} |"
        )
    t_o = sum(s.wall_time_s for s in ours)
    t_p = sum(s.wall_time_s for s in peer)
    per = [
        f"| {o.name} | {o.n_true} | {o.n_est} / {p.n_est} | {o.matched} / {p.matched} "
        f"| {_med(o.location_errors_m)} / {_med(p.location_errors_m)} | {o.wall_time_s:.1f} / {p.wall_time_s:.1f} |"
        for o, p in zip(ours, peer, strict=True)
    ]
    return [
        "",
        f"## Simulated flights: the evaluation suite's scenarios {first_seed}-{first_seed + len(ours) - 1}",
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {n_iter} --flights {len(ours)} --first-seed {first_seed}`: "
        "the same samples for both (raw CH4, positions, smoothed wind; pyELQ's spread angles from the Briggs rural "
        "curves at 100 m for the class plumescout reads from sigma-theta). Matching within 100 m, as in the suite.",
        "",
        "| estimator | recall | precision | median location error (m) | median abs log10 rate ratio "
        "| 90 % location coverage | 90 % rate coverage | false sources / flight | total wall (s) | median wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Wall-time ratio pyELQ / plumescout over the flights: {t_p / t_o:.1f}x.",
        "",
        "| flight | sources | found (ours / pyELQ) | matched | median error m | wall s |",
        "|---|---|---|---|---|---|",
        *per,
    ]


def _med(v) -> str:
    return f"{np.median(v):.1f}" if v else "-"


def compare_beams(data, n_iter: int, height: float | None = None, seed: int = 0):
    """Both estimators on one beam data set: their reported sources (dicts) and wall times.
    ``height``: the source height given to both (else each estimates it). ``seed``: both
    samplers' seed."""
    known = {} if height is None else {"source_height_m": height, "source_height_sd_m": 0.0}
    t0 = time.perf_counter()
    est = PlumeEstimator(EstimatorConfig(seed=seed, **known)).fit_beams(data, LocalFrame(*ORIGIN))
    t_ours = time.perf_counter() - t0
    ours = [
        {
            "x": s.x_m,
            "y": s.y_m,
            "r90": s.location_ci90_m,
            "q": s.rate_g_s,
            "q90": s.rate_g_s_ci90,
            "p": s.probability,
            "h": s.height_m,
        }
        for s in est.sources_
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        positions, qs, t_peer, h_peer = run_pyelq(beam_inputs(data), est.box_, n_iter, seed=seed, height=height)
    diag = float(np.hypot(est.box_[2] - est.box_[0], est.box_[3] - est.box_[1]))
    best = max(((len(p), i) for i, p in enumerate(positions)), default=(0, 0))
    seeds = positions[best[1]] if best[0] else None
    peer = [{**r, "h": h_peer} for r in summarise(positions, qs, seeds, 0.1 * diag)]  # pyELQ's median height
    return ours, peer, t_ours, t_peer


def chilbolton_rows(ours, peer, t_ours, t_peer, truth: dict, height: float | None) -> list[str]:
    """The full record's table rows: each estimator's source nearest the truth."""
    q_true = truth["q_kg_s"] * 1000.0
    label = "estimated" if height is None else f"given, {height:g} m"
    rows = []
    for name, res, wall in (("plumescout", ours, t_ours), ("pyELQ " + _version(), peer, t_peer)):
        s, err = nearest(res, truth)
        if s:
            rows.append(
                f"| {name} | {label} | {len(res)} | {err:.1f} | {s['r90']:.1f} | {s['q']:.3f} "
                f"[{s['q90'][0]:.3f}, {s['q90'][1]:.3f}] | {s['q'] / q_true - 1:+.0%} | {s['h']:.2f} | {wall:.1f} |"
            )
        else:
            rows.append(f"| {name} | {label} | 0 | - | - | - | - | - | {wall:.1f} |")
    return rows


def nearest(res: list[dict], truth: dict):
    """The reported source nearest the truth and its distance (None, nan when none is reported)."""
    if not res:
        return None, float("nan")
    s = min(res, key=lambda r: np.hypot(r["x"] - truth["x_m"], r["y"] - truth["y_m"]))
    return s, float(np.hypot(s["x"] - truth["x_m"], s["y"] - truth["y_m"]))


def _paired_cells(ours, peer, truth: dict, errs: dict, with_height: bool = False) -> list[str]:
    """Table cells of both estimators' source nearest the truth (sources reported, location error,
    90 % radius, rate error[, height]); each error is appended to ``errs["ours"|"peer"]``."""
    q_true = truth["q_kg_s"] * 1000.0
    cells = []
    for key, res in (("ours", ours), ("peer", peer)):
        s, err = nearest(res, truth)
        errs[key].append(err)
        if s:
            cells.append(
                f"{len(res)} | {err:.1f} | {s['r90']:.1f} | {s['q'] / q_true - 1:+.0%}"
                + (f" | {s['h']:.2f}" if with_height else "")
            )
        else:
            cells.append(f"{len(res)} | - | - | -" + (" | -" if with_height else ""))
    return cells


def seed_section(d: Path, truth: dict, n_seeds: int, n_iter: int, height: float | None = None, log=print) -> list[str]:
    """The full record fitted again by both under seeds 0 .. n_seeds - 1 (each sampler's own
    seed; seed 0 is the table above): how much of one full-record difference is Monte Carlo."""
    rows, errs = [], {"ours": [], "peer": []}
    for seed in range(n_seeds):
        ours, peer, t_ours, t_peer = compare_beams(read_beam_dataset(d), n_iter, height, seed)
        cells = _paired_cells(ours, peer, truth, errs, with_height=True)
        rows.append(f"| {seed} | {cells[0]} | {cells[1]} | {t_ours:.1f} / {t_peer:.1f} |")
        log(rows[-1])
    e_o, e_p = np.array(errs["ours"]), np.array(errs["peer"])
    both = np.isfinite(e_o) & np.isfinite(e_p)
    given = "estimated by each" if height is None else f"given to both ({height:g} m)"
    return [
        "",
        f"### The full record under {n_seeds} seeds (source height {given})",
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {n_iter} --chilbolton-seeds {n_seeds}"
        f"{'' if height is not None else ' --no-given-height'}`: the same fit as the table above, repeated with "
        "each estimator's sampler seeded 0, 1, ... (plumescout's chains and pyELQ's NumPy generator and initial "
        "source). Seeds and their number fixed before the runs. Columns per estimator: sources reported, "
        "location error (m) of the one nearest the truth, its 90 % radius (m), rate error, height (m).",
        "",
        "| seed | ours: sources | error | radius | rate | height | pyELQ: sources | error | radius | rate | height "
        "| wall s (ours / pyELQ) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Median location error over the seeds: plumescout {np.nanmedian(e_o):.1f} m (range "
        f"{np.nanmin(e_o):.1f}-{np.nanmax(e_o):.1f}), pyELQ {np.nanmedian(e_p):.1f} m (range "
        f"{np.nanmin(e_p):.1f}-{np.nanmax(e_p):.1f}); plumescout closer at {int(np.sum(e_o[both] < e_p[both]))} "
        f"of {int(both.sum())} seeds where both report a source.",
    ]


def window_section(
    d: Path, truth: dict, n_windows: int, n_iter: int, height: float | None = None, log=print
) -> list[str]:
    """The release cut into ``n_windows`` consecutive time windows, each fitted alone by both: as
    many shorter deployments over the same source, which says whether one full-data difference
    is more than the spread of either estimator's error. ``height``: given to both."""
    minutes = np.unique(read_beam_dataset(d).reading_time_s) / 60.0
    edges = np.linspace(minutes.min(), minutes.max() + 1.0, n_windows + 1)
    rows, errs = [], {"ours": [], "peer": []}
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        data = read_beam_dataset(d, minutes=(a, b - 1e-9))
        ours, peer, t_ours, t_peer = compare_beams(data, n_iter, height)
        cells = _paired_cells(ours, peer, truth, errs)
        rows.append(f"| {a:.0f}-{b - 1:.0f} ({len(data)}) | {cells[0]} | {cells[1]} | {t_ours:.1f} / {t_peer:.1f} |")
        log(rows[-1])
    e_o, e_p = np.array(errs["ours"]), np.array(errs["peer"])
    both = np.isfinite(e_o) & np.isfinite(e_p)
    given = "" if height is None else f", the release height ({height:g} m) given to both"
    return [
        "",
        f"### The same release in {n_windows} consecutive windows, each fitted alone{given}",
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {n_iter} --windows {n_windows}"
        f"{'' if height is None else ' --given-height'}`: the readings cut by minute "
        "into windows of equal length; each window is a shorter deployment over the same source, fitted from "
        "scratch by both with the same settings as above. Columns per estimator: sources reported, location "
        "error (m) of the one nearest the truth, its 90 % radius (m), rate error.",
        "",
        "| minutes (readings) | ours: sources | error | radius | rate | pyELQ: sources | error | radius | rate "
        "| wall s (ours / pyELQ) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Median location error over the windows: plumescout {np.nanmedian(e_o):.1f} m, pyELQ "
        f"{np.nanmedian(e_p):.1f} m; plumescout closer in {int(np.sum(e_o[both] < e_p[both]))} of {int(both.sum())} "
        "windows where both report a source.",
    ]


def release_section(
    d: Path, n_releases: int, first_seed: int, n_iter: int, given_height: bool = False, log=print
) -> list[str]:
    """Both estimators on simulated releases seen by the Chilbolton beams (``calibrate_beams.py``'s
    simulator: the real layout, minute winds and noise level; puffs on the Briggs class-D curves,
    a dispersion law neither estimator assumes): beam data with more than one truth.
    ``given_height``: each release's height is given to both."""
    from calibrate_beams import simulate

    from plumescout.inference.data import BeamData

    noise_ppm = float(g_m3_to_ppm(read_beam_dataset(d).noise_g_m3, "ch4"))
    rows, errs = [], {"ours": [], "peer": []}
    for seed in range(first_seed, first_seed + n_releases):
        sim = simulate(seed, str(d), noise_ppm)
        data = BeamData.from_readings(
            sim["start"], sim["end"], sim["reading_beam"], sim["time_s"], sim["ppm"], sim["wind_speed"],
            sim["wind_from"], "ch4", tan_sigma_y=sim["tan_y"], tan_sigma_z=sim["tan_z"],
        )  # fmt: skip
        truth = {"x_m": sim["source"][0], "y_m": sim["source"][1]}
        ours, peer, t_ours, t_peer = compare_beams(data, n_iter, sim["source"][2] if given_height else None)
        cells = []
        for key, res in (("ours", ours), ("peer", peer)):
            s, err = nearest(res, truth)
            errs[key].append(err)
            cells.append(f"{len(res)} | {err:.1f} | {s['r90']:.1f}" if s else f"{len(res)} | - | -")
        rows.append(
            f"| {seed} | ({truth['x_m']:.0f}, {truth['y_m']:.0f}, {sim['source'][2]:.1f}) | {sim['rate_g_s']:.2f} "
            f"| {cells[0]} | {cells[1]} | {t_ours:.1f} / {t_peer:.1f} |"
        )
        log(rows[-1])
    e_o, e_p = np.array(errs["ours"]), np.array(errs["peer"])
    both = np.isfinite(e_o) & np.isfinite(e_p) & (e_o <= 30.0) & (e_p <= 30.0)
    out = [
        "",
        f"## Simulated releases seen by the same beams: seeds {first_seed}-{first_seed + n_releases - 1}"
        + (", each release's height given to both" if given_height else ""),
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {n_iter} --beam-releases {n_releases}"
        f"{' --given-height' if given_height else ''}`: "
        "`calibrate_beams.py`'s simulator (the Chilbolton beam layout, minute winds and noise level only; "
        "a release of 0.1-1 g/s, 0.2-1.5 m high, placed near the beams; puffs on the Briggs class-D "
        "curves, a dispersion law neither estimator assumes); both fitted as on the real record. "
        "Columns per estimator: sources reported, error (m) of the one nearest the truth, its 90 % radius (m).",
        "",
        "| seed | release x, y, z (m) | g/s | ours: sources | error | radius | pyELQ: sources | error | radius "
        "| wall s (ours / pyELQ) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Found within 30 m: plumescout {int(np.sum(e_o <= 30.0))}, pyELQ {int(np.sum(e_p <= 30.0))} of "
        f"{n_releases}. Where both found it ({int(both.sum())}): median error plumescout "
        f"{np.median(e_o[both]) if both.any() else float('nan'):.1f} m, pyELQ "
        f"{np.median(e_p[both]) if both.any() else float('nan'):.1f} m; plumescout closer in "
        f"{int(np.sum(e_o[both] < e_p[both]))} of {int(both.sum())}",
    ]
    if both.sum() >= 6:
        from scipy.stats import wilcoxon

        out[-1] += f" (Wilcoxon signed-rank p = {wilcoxon(e_o[both], e_p[both]).pvalue:.2g})."
    else:
        out[-1] += "."
    return out


def prairie_grass_section(
    directory: Path, n_runs: int, n_iter: int, peer_rate_sd_g_s: float = RATE_SCALE_G_S, log=print
) -> tuple[list[str], list[dict]]:
    """Both estimators on the Prairie Grass runs with meteorology (the first ``n_runs`` by
    number): real releases of known place (the origin) and rate, seen by fixed samplers on arcs
    50-800 m downwind; each estimator searches plumescout's search area (the samplers' extent
    widened by 30 m, the sides its source's region reached grown)."""
    from plumescout.validation.prairie_grass import (
        estimate_run,
        load_prairie_grass,
        run_samplers,
        runs_with_meteorology,
    )

    loaded = load_prairie_grass(directory)
    runs = runs_with_meteorology(loaded)[:n_runs]
    truth = {"x_m": 0.0, "y_m": 0.0}
    out, rows = [], []
    for run in runs:
        s = run_samplers(loaded, run)
        mine = estimate_run(loaded, run)  # plumescout with the run's settings (estimator_config())
        est, t_ours, n = mine["estimator"], mine["wall_s"], mine["samplers"]
        ours = [
            {"x": e.x_m, "y": e.y_m, "r90": e.location_ci90_m, "q": e.rate_g_s, "q90": e.rate_g_s_ci90}
            for e in est.sources_
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            positions, qs, t_peer, _ = run_pyelq(
                sampler_inputs(s), est.box_, n_iter, initial_map="coverage", rate_sd_kg_h=peer_rate_sd_g_s * 3.6
            )
        diag = float(np.hypot(est.box_[2] - est.box_[0], est.box_[3] - est.box_[1]))
        best = max(((len(p), i) for i, p in enumerate(positions)), default=(0, 0))
        peer = summarise(positions, qs, positions[best[1]] if best[0] else None, 0.1 * diag)
        rec = {"run": run, "class": float(s.stability_index), "u": s.met["u"], "q_true": s.rate_g_s, "n": n}
        rec["margins_m"], rec["search_refits"] = est.info_["margins_m"], est.info_["search_refits"]
        cells = []
        for key, res, wall in (("ours", ours, t_ours), ("peer", peer, t_peer)):
            src, err = nearest(res, truth)
            found = src is not None and err <= MATCH_M
            rec[key] = {
                "sources": len(res),
                "error_m": err if found else None,
                "r90": src["r90"] if found else None,
                "rate_g_s": src["q"] if found else None,
                "rate_ci90": list(src["q90"]) if found else None,
                "false": len(res) - int(found),
                "wall_s": wall,
            }
            cells.append(
                f"{len(res)} | {err:.1f} | {src['r90']:.1f} | {src['q'] / s.rate_g_s:.2f}"
                if found
                else f"{len(res)} | - | - | -"
            )
        out.append(rec)
        rows.append(
            f"| {run} | {s.stability_index:.1f} | {s.met['u']:.1f} | {s.rate_g_s:.1f} | {n} | {cells[0]} "
            f"| {cells[1]} | {t_ours:.1f} / {t_peer:.1f} |"
        )
        log(rows[-1])
    return prairie_grass_summary(out, rows, n_iter, len(runs), peer_rate_sd_g_s), out


def prairie_grass_summary(
    recs: list[dict], rows: list[str], n_iter: int, n_runs: int, peer_rate_sd_g_s: float = RATE_SCALE_G_S
) -> list[str]:
    from scipy.stats import wilcoxon

    lines = [
        "",
        f"## Real releases: Project Prairie Grass (1956), {n_runs} runs"
        + ("" if peer_rate_sd_g_s == RATE_SCALE_G_S else f"; pyELQ's rate prior sd {peer_rate_sd_g_s:g} g/s"),
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {n_iter} --prairie-grass {n_runs}"
        + ("" if peer_rate_sd_g_s == RATE_SCALE_G_S else f" --prairie-grass-peer-rate-sd {peer_rate_sd_g_s:g}")
        + "`: the runs of "
        "`../shared/datasets/prairie-grass-1956` with meteorology (SO2 released 10 minutes at 0.46 m; samplers "
        "at 1.5 m on arcs 50-800 m downwind; US Air Force Cambridge Research Center, Barad 1958, public domain). "
        "Each sampler's 10-minute mean (corrected for the SO2 loss) is one reading of a fixed receptor. Both get "
        "the run's wind speed and direction, its measured sigma-theta as the horizontal spread angle and, as the "
        "vertical one, sigma_z(100 m) / 100 m of the Briggs rural curve for the class of the Obukhov length; "
        "both search the same area, plumescout's (the samplers' extent widened by 30 m, a side doubled and "
        "refitted while plumescout's 90 % region reached it: the upwind side, to 60-120 m; margins per run in the "
        "JSON; plumescout's wall time includes its refits), estimate the source height, and are given a rate "
        f"prior on the releases' scale ({RATE_SCALE_G_S:g} g/s: plumescout's half-Cauchy scale; pyELQ's normal "
        f"sd {peer_rate_sd_g_s:g} g/s). A source within {MATCH_M:g} m of the release is found; others reported "
        "are false. Columns per "
        "estimator: sources reported, error (m) of the one nearest the release, its 90 % radius (m), rate / truth.",
        "",
        "| run | class index | wind m/s | Q g/s | samplers | ours: sources | error | radius | rate ratio "
        "| pyELQ: sources | error | radius | rate ratio | wall s (ours / pyELQ) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| estimator | found | false sources | median error (m) | truth in 90 % region | median abs log10 rate "
        "ratio | rate interval holds truth | median wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, name in (("ours", "plumescout"), ("peer", "pyELQ " + _version())):
        hit = [r[key] for r in recs if r[key]["error_m"] is not None]
        err = np.array([h["error_m"] for h in hit])
        cov = np.mean([h["error_m"] <= h["r90"] for h in hit]) if hit else float("nan")
        lr = [abs(np.log10(h["rate_g_s"] / r["q_true"])) for r in recs if (h := r[key])["error_m"] is not None]
        rcov = [h["rate_ci90"][0] <= r["q_true"] <= h["rate_ci90"][1] for r in recs if (h := r[key])["rate_ci90"]]
        lines.append(
            f"| {name} | {len(hit)} of {len(recs)} | {sum(r[key]['false'] for r in recs)} "
            f"| {np.median(err) if hit else float('nan'):.1f} | {cov:.2f} "
            f"| {np.median(lr) if lr else float('nan'):.3f} "
            f"| {np.mean(rcov) if rcov else float('nan'):.2f} | {np.median([r[key]['wall_s'] for r in recs]):.1f} |"
        )
    both = [r for r in recs if r["ours"]["error_m"] is not None and r["peer"]["error_m"] is not None]
    e_o = np.array([r["ours"]["error_m"] for r in both])
    e_p = np.array([r["peer"]["error_m"] for r in both])
    t_o = sum(r["ours"]["wall_s"] for r in recs)
    t_p = sum(r["peer"]["wall_s"] for r in recs)
    text = (
        f"Where both found the release ({len(both)} runs): median error plumescout "
        f"{np.median(e_o) if both else float('nan'):.1f} m, pyELQ {np.median(e_p) if both else float('nan'):.1f} m; "
        f"plumescout closer in {int(np.sum(e_o < e_p))} of {len(both)}"
    )
    if len(both) >= 6:
        text += f" (Wilcoxon signed-rank p = {wilcoxon(e_o, e_p).pvalue:.2g})"
    lines += ["", text + f". Total wall time {t_o:.0f} s vs {t_p:.0f} s: pyELQ / plumescout {t_p / t_o:.1f}x."]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "chilbolton-2017" / "source_1"),
    )
    ap.add_argument("--iterations", type=int, default=5000)
    ap.add_argument("--flights", type=int, default=10, help="simulated flights of the suite (0: Chilbolton only)")
    ap.add_argument("--first-seed", type=int, default=3000)
    ap.add_argument("--windows", type=int, default=4, help="Chilbolton also cut into this many time windows (0: not)")
    ap.add_argument(
        "--chilbolton-seeds", type=int, default=0, help="Chilbolton's full record again under seeds 0..N-1 (0: not)"
    )
    ap.add_argument(
        "--beam-releases", type=int, default=0, help="simulated releases seen by the Chilbolton beams (0: none)"
    )
    ap.add_argument(
        "--given-height",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="each beam section also with the release height given to both (Chilbolton: truth.json z_m; "
        "simulated releases: their own)",
    )
    ap.add_argument(
        "--prairie-grass",
        type=int,
        default=0,
        help="the first N Prairie Grass runs with meteorology (real releases, fixed samplers; 0: none)",
    )
    ap.add_argument(
        "--prairie-grass-data",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "prairie-grass-1956"),
    )
    ap.add_argument(
        "--prairie-grass-peer-rate-sd",
        type=float,
        default=RATE_SCALE_G_S,
        help="the sd (g/s) of pyELQ's rate prior on Prairie Grass (default: plumescout's half-Cauchy scale)",
    )
    ap.add_argument(
        "--chilbolton",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the Chilbolton full-record comparison at the top (--no-chilbolton: skip it)",
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "peer_pyelq.md"))
    args = ap.parse_args(argv)
    d = Path(args.data)
    truth = json.loads((d / "truth.json").read_text())["sources"][0]
    heights = [None] + ([truth["z_m"]] if args.given_height else [])
    rows, ratios = [], []
    for h in heights if args.chilbolton else []:
        ours, peer, t_ours, t_peer = compare_beams(read_beam_dataset(d), args.iterations, h)
        rows += chilbolton_rows(ours, peer, t_ours, t_peer, truth, h)
        ratios.append(f"{t_peer / t_ours:.1f}x" + ("" if h is None else f" (height given: {h:g} m)"))
    lines = [
        "# Peer comparison: pyELQ and plumescout in the same run",
        "",
        "## Real data: Chilbolton 2017 source 1",
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {args.iterations}` on {machine()}. Truth: "
        f"({truth['x_m']:.1f}, {truth['y_m']:.1f}) m, {truth['q_kg_s'] * 1000.0:.3f} g/s, released "
        f"{truth['z_m']:g} m above ground. Same readings, wind and turbulence for both; "
        f"sources reported at existence probability >= {EstimatorConfig().min_probability:g} for both, "
        "summarised the same way (plumescout's 90 % regions include its calibrated widening). Source height: "
        "estimated by each (plumescout: normal prior, median 0.5 m, sd 1 m, truncated at the ground; pyELQ: "
        "uniform 0-2 m), or, with `--given-height`, the release's height given to both (plumescout "
        "`--source-height-sd 0`; pyELQ's site limits pinned to it). The height column is the posterior median.",
        "",
        "| estimator | source height | sources | location error (m) | 90 % radius (m) | rate g/s [90 %] "
        "| rate error | height (m) | wall time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Wall-time ratio pyELQ / plumescout: {', '.join(ratios)}.",
    ]
    if not args.chilbolton:
        lines = lines[:1]
    if args.windows:
        for h in heights:
            lines += window_section(d, truth, args.windows, args.iterations, h)
    if args.chilbolton_seeds:
        for h in heights:
            lines += seed_section(d, truth, args.chilbolton_seeds, args.iterations, h)
    if args.beam_releases:
        for h in heights:
            lines += release_section(d, args.beam_releases, 0, args.iterations, given_height=h is not None)
    record = {}
    if args.prairie_grass:
        pg_lines, record["prairie_grass"] = prairie_grass_section(
            Path(args.prairie_grass_data), args.prairie_grass, args.iterations, args.prairie_grass_peer_rate_sd
        )
        lines += pg_lines
    if args.flights:
        seeds = range(args.first_seed, args.first_seed + args.flights)
        f_ours, f_peer = compare_flights(seeds, args.iterations)
        lines += flight_section(f_ours, f_peer, args.iterations, args.first_seed)
        record.update({"plumescout": [asdict(s) for s in f_ours], "pyelq": [asdict(s) for s in f_peer]})
    if record:
        Path(args.out).with_suffix(".json").write_text(json.dumps(record, indent=1))
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _version() -> str:
    from importlib.metadata import version

    return version("pyelq")


if __name__ == "__main__":
    sys.exit(main())

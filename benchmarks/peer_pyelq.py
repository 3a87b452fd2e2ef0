"""The peer side by side: pyELQ (Shell's Bayesian RJMCMC estimator, PyPI `pyelq`) and plumescout
on the same real data, Chilbolton 2017 source 1, in the same run.

    python benchmarks/peer_pyelq.py [--iterations 5000] [--data ../shared/datasets/chilbolton-2017/source_1]

Both get the same 973 path-averaged beam readings, per-minute wind and turbulence. pyELQ is set up
as in its own basic example (Gaussian plume, reversible jump, spatio-temporal background,
per-sensor offsets and errors); its sampled source sets are summarised with plumescout's own
grouping so the two are scored alike. Writes benchmarks/results/peer_pyelq.md. Needs the `peer`
extra (`pip install -e '.[peer]'`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

from plumescout.geo import LocalFrame  # noqa: E402
from plumescout.inference import EstimatorConfig, PlumeEstimator  # noqa: E402
from plumescout.inference.data import read_beam_dataset  # noqa: E402
from plumescout.inference.estimate import group_sources  # noqa: E402
from plumescout.units import g_m3_to_ppm  # noqa: E402

ORIGIN = (51.1445, -1.4370)


def run_pyelq(data, box, n_iter: int, seed: int = 0):
    import pandas as pd
    from pyelq.component.background import SpatioTemporalBackground
    from pyelq.component.error_model import BySensor
    from pyelq.component.offset import PerSensor
    from pyelq.component.source_model import Normal
    from pyelq.coordinate_system import ENU
    from pyelq.dispersion_model.gaussian_plume import GaussianPlume
    from pyelq.gas_species import CH4
    from pyelq.meteorology.meteorology import Meteorology
    from pyelq.model import ELQModel
    from pyelq.sensor.beam import Beam
    from pyelq.sensor.sensor import SensorGroup
    from pyelq.source_map import SourceMap

    np.random.seed(seed)  # noqa: NPY002 (pyELQ and openMCMC draw from NumPy's global generator)
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

    site_limits = np.array([[box[0], box[2]], [box[1], box[3]], [0.0, 2.0]])
    source_map = SourceMap()
    source_map.generate_sources(
        coordinate_object=ENU(**ref), sourcemap_limits=site_limits, sourcemap_type="hypercube", nof_sources=1
    )
    source_model = Normal()
    source_model.emission_rate_mean = np.array([0], ndmin=1)
    source_model.initial_precision = np.array([1 / (2.5**2)], ndmin=1)
    source_model.reversible_jump = True
    source_model.rate_num_sources = 1.0
    source_model.dispersion_model = GaussianPlume(source_map=source_map)
    source_model.update_precision = False
    source_model.site_limits = site_limits
    background = SpatioTemporalBackground()
    background.n_time = None
    background.mean_bg = 2.0
    background.spatial_dependence = True
    background.initial_precision = 1 / np.power(3e-4, 2)
    background.precision_time_0 = 1 / np.power(0.1, 2)
    background.spatial_correlation_param = 25.0
    background.update_precision = False
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
        offset_model=offset,
    )
    model.n_iter = n_iter
    t0 = time.perf_counter()
    model.initialise()
    model.to_mcmc()
    model.run_mcmc()
    model.from_mcmc()
    wall = time.perf_counter() - t0
    sm = model.components["source"]
    loc = sm.all_source_locations  # ENU, (n_max, n_iter)
    rates = np.asarray(model.mcmc.store[sm.map["source"]])  # kg/h, (n_max, n_iter)
    burn = n_iter // 2
    positions, qs = [], []
    for it in range(burn, n_iter):
        e, n = np.asarray(loc.east)[:, it], np.asarray(loc.north)[:, it]
        ok = np.isfinite(e) & np.isfinite(n)
        positions.append(np.column_stack([e[ok], n[ok]]))
        qs.append(rates[: ok.size, it][ok] / 3.6)  # g/s
    return positions, qs, wall


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "chilbolton-2017" / "source_1"),
    )
    ap.add_argument("--iterations", type=int, default=5000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "peer_pyelq.md"))
    args = ap.parse_args(argv)
    d = Path(args.data)
    truth = json.loads((d / "truth.json").read_text())["sources"][0]
    data = read_beam_dataset(d)

    t0 = time.perf_counter()
    est = PlumeEstimator(EstimatorConfig()).fit_beams(data, LocalFrame(*ORIGIN))
    t_ours = time.perf_counter() - t0
    ours = [
        {"x": s.x_m, "y": s.y_m, "r90": s.location_ci90_m, "q": s.rate_g_s, "q90": s.rate_g_s_ci90, "p": s.probability}
        for s in est.sources_
    ]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        positions, qs, t_peer = run_pyelq(data, est.box_, args.iterations)
    diag = float(np.hypot(est.box_[2] - est.box_[0], est.box_[3] - est.box_[1]))
    best = max(((len(p), i) for i, p in enumerate(positions)), default=(0, 0))
    seeds = positions[best[1]] if best[0] else None
    peer = summarise(positions, qs, seeds, 0.1 * diag)

    q_true = truth["q_kg_s"] * 1000.0
    rows = []
    for name, res, wall in (("plumescout", ours, t_ours), ("pyELQ " + _version(), peer, t_peer)):
        if res:
            s = min(res, key=lambda r: np.hypot(r["x"] - truth["x_m"], r["y"] - truth["y_m"]))
            err = float(np.hypot(s["x"] - truth["x_m"], s["y"] - truth["y_m"]))
            rows.append(
                f"| {name} | {len(res)} | {err:.1f} | {s['r90']:.1f} | {s['q']:.3f} "
                f"[{s['q90'][0]:.3f}, {s['q90'][1]:.3f}] | {s['q'] / q_true - 1:+.0%} | {wall:.1f} |"
            )
        else:
            rows.append(f"| {name} | 0 | - | - | - | - | {wall:.1f} |")
    lines = [
        "# Peer comparison on real data: Chilbolton 2017 source 1",
        "",
        f"`python benchmarks/peer_pyelq.py --iterations {args.iterations}` on {machine()}. Truth: "
        f"({truth['x_m']:.1f}, {truth['y_m']:.1f}) m, {q_true:.3f} g/s. Same readings, wind and turbulence for both; "
        f"sources reported at existence probability >= {EstimatorConfig().min_probability:g} for both, "
        "summarised the same way (plumescout's 90 % regions include its calibrated widening).",
        "",
        "| estimator | sources | location error (m) | 90 % radius (m) | rate g/s [90 %] | rate error | wall time (s) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Wall-time ratio pyELQ / plumescout: {t_peer / t_ours:.1f}x.",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _version() -> str:
    from importlib.metadata import version

    return version("pyelq")


if __name__ == "__main__":
    sys.exit(main())

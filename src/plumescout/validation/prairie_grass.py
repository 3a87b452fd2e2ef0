"""Project Prairie Grass (1956): crosswind-integrated concentrations per arc vs the plume model.

Data: ../shared/datasets/prairie-grass-1956 (public domain, US Air Force Cambridge Research
Center; Barad 1958; Haugen 1959; ASTM D6589 layout by J. Irwin 2010, as redistributed with
G. Bijloos' 2022 KU Leuven thesis). SO2 released at 0.46 m, samplers at 1.5 m on arcs at 50-800 m.

Observed CWIC per arc: the arc concentrations (mg/m3, corrected for SO2 loss by dividing by the
evap.txt factor) integrated along the arc, ``integral C R dtheta`` with azimuths unwrapped through
360 degrees; missing samplers (negative values) are left out of the integral. Predicted CWIC: the
Gaussian plume's ``C_y = Q/u F_z`` (see :func:`plumescout.dispersion.crosswind_integrated`) with
Briggs rural sigma_z and the Pasquill class from the Obukhov length (Golder 1972 as fitted by
Seinfeld & Pandis 2006) for z0 = 0.006 m, at the measured wind speed.

The same runs are real releases of known place and rate for the source estimator:
:func:`run_samplers` gives one run's samplers (local metres about the release) and
:func:`sampler_data` turns them into the estimator's data (each sampler a fixed receptor with
one 10-minute reading: the beam model with paths of zero length; :func:`write_beam_dataset` writes
the same as a beam data set for ``plumescout analyze``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dispersion import crosswind_integrated, sigma_yz
from ..errors import ConfigError, InputError
from ..inference.data import BeamData
from ..met import class_index, class_letter, stability_from_obukhov
from .stats import meets_criteria, model_evaluation_stats

__all__ = [
    "Arc",
    "RunSamplers",
    "Z0_M",
    "estimate_run",
    "estimator_config",
    "load_prairie_grass",
    "run_samplers",
    "runs_with_meteorology",
    "sampler_data",
    "validate_prairie_grass",
    "write_beam_dataset",
]

Z0_M = 0.006
#: a reported source within this of the release has found it (the evaluation suite's matching distance)
MATCH_M = 100.0
#: the releases were tens of g/s (41-92 g/s in the runs with meteorology): the rate prior's scale
RATE_SCALE_G_S = 50.0
ORIGIN = (42.49, -98.57)  # O'Neill, Nebraska: only for the WGS84 fields of the estimates


@dataclass
class Arc:
    run: int
    distance_m: float
    rate_g_s: float
    release_height_m: float
    sampler_height_m: float
    azimuth_deg: np.ndarray
    conc_mg_m3: np.ndarray  # NaN = missing

    def cwic_mg_m2(self, correction: float = 1.0) -> float:
        az = np.rad2deg(np.unwrap(np.deg2rad(self.azimuth_deg)))
        ok = np.isfinite(self.conc_mg_m3)
        if ok.sum() < 2:
            return float("nan")
        order = np.argsort(az[ok])
        c = self.conc_mg_m3[ok][order] / correction
        y = np.deg2rad(az[ok][order]) * self.distance_m
        return float(np.trapezoid(c, y))


def _read_arcs(path: Path) -> list[Arc]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    arcs = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if "'" not in line:
            raise InputError(path, "expected a block header (run, arc, 'date', 'time', distance)", line=i + 1)
        head = [p.strip() for p in line.split(",")]
        try:
            run = int(head[0])
            dist = float(head[4])
            second = [p.strip() for p in lines[i + 1].split(",")]
            nrows = int(second[0])
            q, h_rel, h_samp = float(second[7]), float(second[8]), float(second[9])
        except (IndexError, ValueError):
            raise InputError(path, "malformed block header", line=i + 1) from None
        az, conc = [], []
        for k in range(nrows):
            parts = lines[i + 2 + k].split()
            try:
                az.append(float(parts[0]))
                c = float(parts[3])
            except (IndexError, ValueError):
                raise InputError(path, "malformed sampler row", line=i + 3 + k) from None
            conc.append(c if c >= 0 else np.nan)
        arcs.append(Arc(run, dist, q, h_rel, h_samp, np.array(az), np.array(conc)))
        i += 2 + nrows
    return arcs


def _read_met(path: Path) -> dict[int, dict]:
    met = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            run = int(parts[0])
            met[run] = {
                "L": float(parts[1]),
                "ustar": float(parts[2]),
                "hi": float(parts[3]),
                "wdir": float(parts[4]),
                "sigma_theta": float(parts[8]),
                "u": float(parts[9]),
            }
        except (IndexError, ValueError):
            raise InputError(
                path, "expected 10 numbers: run, L, u*, h_i, wd, su, sv, sw, sigma_theta, u", line=n
            ) from None
    return met


def _read_evap(path: Path) -> dict[tuple[int, float], float]:
    out = {}
    arcs = (50.0, 100.0, 200.0, 400.0, 800.0)
    for line in path.read_text().splitlines():
        if not re.match(r"^\s*\d+\s", line):
            continue
        parts = line.split()
        run = int(parts[0])
        for d, v in zip(arcs, parts[1:], strict=False):
            out[(run, d)] = float(v)
    return out


def load_prairie_grass(directory) -> tuple[list[Arc], dict, dict]:
    d = Path(directory)
    for name in ("PGARCS.txt", "modelParamList.txt", "evap.txt"):
        if not (d / name).exists():
            raise InputError(
                d / name, "missing: expected the Prairie Grass files PGARCS.txt, modelParamList.txt, evap.txt"
            )
    return _read_arcs(d / "PGARCS.txt"), _read_met(d / "modelParamList.txt"), _read_evap(d / "evap.txt")


def _evap_factor(evap: dict, run: int, distance_m: float, enabled: bool = True) -> float:
    """The SO2-loss factor of one arc (1 where missing, off, or outside 0.5-1: e.g. run 12 at
    200 m reads 0.09, a transcription slip)."""
    corr = evap.get((run, distance_m), 1.0) if enabled else 1.0
    return corr if 0.5 <= corr <= 1.0 else 1.0


@dataclass
class RunSamplers:
    """One run's samplers as the source estimator sees them: local metres, x east, y north, the
    release at the origin; samplers of an arc together, in the file's (azimuth) order."""

    run: int
    xyz: np.ndarray  # (n, 3) m
    conc_g_m3: np.ndarray  # 10-minute means, corrected for the SO2 loss
    arc: np.ndarray  # the arc each sampler is on, its radius (m)
    rate_g_s: float
    release_height_m: float
    met: dict  # the run's row of modelParamList.txt (see _read_met)

    @property
    def stability_index(self) -> float:
        """The continuous Pasquill class index from the Obukhov length (z0 = 0.006 m)."""
        return float(stability_from_obukhov(self.met["L"], Z0_M))

    def turbulence(self) -> tuple[float, float]:
        """(tan sigma-theta horizontal, vertical): the horizontal from the measured sigma-theta;
        the vertical (not measured) as sigma_z / x of the Briggs rural curve at 100 m for the
        class of the Obukhov length, so that sigma_z ~ x tan(angle) near the first arcs."""
        sz = float(sigma_yz(100.0, self.stability_index)[1])
        return float(np.tan(np.deg2rad(self.met["sigma_theta"]))), sz / 100.0


def runs_with_meteorology(loaded) -> list[int]:
    """The runs that have arcs and a row of meteorology (53 in the shared data set)."""
    return sorted({a.run for a in loaded[0]} & set(loaded[1]))


def run_samplers(loaded, run: int, evap_correction: bool = True) -> RunSamplers:
    """The samplers of ``run`` (``loaded``: :func:`load_prairie_grass`'s result); missing
    readings are left out. Azimuths are bearings of the samplers from the release, clockwise
    from north."""
    arcs, met, evap = loaded
    if run not in met:
        have = ", ".join(str(r) for r in runs_with_meteorology(loaded))
        raise ConfigError(f"Prairie Grass run {run} has no meteorology in modelParamList.txt (runs with it: {have})")
    xyz, conc, arc = [], [], []
    mine = [a for a in arcs if a.run == run]
    for a in mine:
        ok = np.isfinite(a.conc_mg_m3)
        az = np.deg2rad(a.azimuth_deg[ok])
        r = a.distance_m
        xyz.append(np.column_stack([r * np.sin(az), r * np.cos(az), np.full(az.size, a.sampler_height_m)]))
        conc.append(a.conc_mg_m3[ok] / _evap_factor(evap, run, r, evap_correction) * 1e-3)
        arc.append(np.full(az.size, r))
    return RunSamplers(
        run,
        np.vstack(xyz),
        np.concatenate(conc),
        np.concatenate(arc),
        mine[0].rate_g_s,
        mine[0].release_height_m,
        met[run],
    )


def sampler_data(s: RunSamplers, species: str = "so2") -> BeamData:
    """The estimator's data for one run: each sampler a beam of zero length read once, with the
    run's measured wind and turbulence (:meth:`RunSamplers.turbulence`). The readings share one
    time, so the residuals are grouped in space (neighbouring samplers see the same 10 minutes of
    the same plume) and one background serves them all: what ``analyze`` does with the same run
    written as a beam data set (:func:`write_beam_dataset`)."""
    from ..units import g_m3_to_ppm

    n = s.conc_g_m3.size
    tan_y, tan_z = s.turbulence()
    return BeamData.from_readings(
        s.xyz,
        s.xyz,
        np.arange(n),
        np.zeros(n),
        g_m3_to_ppm(s.conc_g_m3, species),
        np.full(n, s.met["u"]),
        np.full(n, s.met["wdir"]),
        species,
        tan_sigma_y=np.full(n, tan_y),
        tan_sigma_z=np.full(n, tan_z),
        points_per_beam=1,
    )


def write_beam_dataset(s: RunSamplers, directory, species: str = "so2") -> Path:
    """Write one run as a beam data set (``beams.csv`` with each sampler a beam of zero length,
    ``measurements.csv`` with its reading at minute 0, ``wind.csv`` with the run's wind and
    turbulence) for ``plumescout analyze DIR --origin LAT,LON --species so2``; the release at
    (0, 0) m. Returns the directory."""
    import csv

    from ..units import g_m3_to_ppm

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tan_y, tan_z = s.turbulence()
    with (d / "beams.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["beam", "x0_m", "y0_m", "z0_m", "x1_m", "y1_m", "z1_m"])
        for i, (x, y, z) in enumerate(s.xyz, start=1):
            w.writerow([i, f"{x:.3f}", f"{y:.3f}", f"{z:.3f}", f"{x:.3f}", f"{y:.3f}", f"{z:.3f}"])
    with (d / "measurements.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["minute", "beam", f"{species}_path_avg_ppm"])
        for i, c in enumerate(g_m3_to_ppm(s.conc_g_m3, species), start=1):
            w.writerow([0, i, f"{c:.9g}"])
    with (d / "wind.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["minute", "wind_speed_m_s", "wind_from_deg", "tan_sigma_theta_h", "tan_sigma_theta_v"])
        w.writerow([0, s.met["u"], s.met["wdir"], f"{tan_y:.6g}", f"{tan_z:.6g}"])
    return d


def estimator_config(**overrides):
    """The estimator's settings for these runs: the defaults, with the rate prior on the
    releases' scale (half-Cauchy scale 50 g/s, at most 1 kg/s) instead of about 1 g/s. The search
    area is the beams' default, 30 m beyond the samplers: the samplers all stand downwind, the
    first arc 50 m from the release, so the upwind side is grown (doubled, refitted) until the
    source's 90 % region no longer reaches it, as ``analyze`` does (session 14 set 100 m here)."""
    from ..inference import EstimatorConfig

    base = {"rate_scale_g_s": RATE_SCALE_G_S, "max_rate_g_s": 1000.0}
    return EstimatorConfig(**{**base, **overrides})


def estimate_run(loaded, run: int, config=None) -> dict:
    """The source estimator on one run (``loaded``: :func:`load_prairie_grass`'s result), the
    search area the samplers' extent widened by the config's beam margin (grown where needed), scored against the
    release: the reported source nearest it, whether it is within :data:`MATCH_M`, whether the
    release is inside its 90 % region and its rate inside the 90 % interval."""
    import time

    from ..geo import LocalFrame
    from ..inference import PlumeEstimator

    cfg = config or estimator_config()
    s = run_samplers(loaded, run)
    data = sampler_data(s)
    t0 = time.perf_counter()
    est = PlumeEstimator(cfg).fit_beams(data, LocalFrame(*ORIGIN))
    wall = time.perf_counter() - t0
    near = min(est.sources_, key=lambda e: np.hypot(e.x_m, e.y_m), default=None)
    err = float(np.hypot(near.x_m, near.y_m)) if near else float("nan")
    found = near is not None and err <= MATCH_M
    return {
        "run": run,
        "stability_index": s.stability_index,
        "wind_speed_m_s": s.met["u"],
        "rate_true_g_s": s.rate_g_s,
        "samplers": len(data),
        "sources": len(est.sources_),
        "found": found,
        "error_m": err if found else None,
        "radius_m": near.location_ci90_m if found else None,
        "rate_g_s": near.rate_g_s if found else None,
        "rate_ci90_g_s": list(near.rate_g_s_ci90) if found else None,
        "in_region": bool(found and err <= near.location_ci90_m),
        "rate_in_interval": bool(found and near.rate_g_s_ci90[0] <= s.rate_g_s <= near.rate_g_s_ci90[1]),
        "false_sources": len(est.sources_) - int(found),
        "margins_m": est.info_["margins_m"],
        "wall_s": wall,
        "estimator": est,
    }


def validate_prairie_grass(
    directory, scheme: str = "pg_isc3", z0_m: float = Z0_M, continuous_class: bool = True, evap_correction: bool = True
) -> dict:
    """Score the plume model's CWIC against every arc of the runs that have meteorology.

    Returns the statistics of :func:`model_evaluation_stats`, whether each meets the Chang &
    Hanna (2004) criteria, and the per-arc pairs. ``continuous_class`` interpolates the widths
    between classes at the Obukhov length's fractional class index instead of rounding to a letter;
    ``evap_correction`` divides the observations by the SO2-loss factors of evap.txt.
    """
    arcs, met, evap = load_prairie_grass(directory)
    pairs = []
    for arc in arcs:
        m = met.get(arc.run)
        if m is None:
            continue
        obs = arc.cwic_mg_m2(_evap_factor(evap, arc.run, arc.distance_m, evap_correction))
        if not np.isfinite(obs) or obs <= 0:
            continue
        idx = float(stability_from_obukhov(m["L"], z0_m))
        cls = idx if continuous_class else class_index(class_letter(idx))
        sz = sigma_yz(arc.distance_m, cls, scheme)[1]
        pred = float(
            crosswind_integrated(
                arc.distance_m, arc.sampler_height_m, arc.release_height_m, arc.rate_g_s * 1000.0, m["u"], sz
            )
        )
        pairs.append(
            {
                "run": arc.run,
                "arc_m": arc.distance_m,
                "class": class_letter(idx),
                "observed_mg_m2": obs,
                "predicted_mg_m2": pred,
            }
        )
    co = np.array([p["observed_mg_m2"] for p in pairs])
    cp = np.array([p["predicted_mg_m2"] for p in pairs])
    stats = model_evaluation_stats(co, cp)
    settings = {
        "scheme": scheme,
        "z0_m": z0_m,
        "continuous_class": continuous_class,
        "evap_correction": evap_correction,
    }
    return {**stats, "meets": meets_criteria(stats), "settings": settings, "pairs": pairs}

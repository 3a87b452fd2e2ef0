"""The main job, wired once: input -> data -> detect -> estimate -> report files.

The CLI, the demo, the benchmarks (and later the service and live mode) all call
:func:`analyze`; it returns an :class:`AnalysisResult` and writes nothing unless ``out_dir`` is
given. Input is a flight log (the open CSV) or a directory holding an open-path beam data set
(``beams.csv``, ``measurements.csv``, ``wind.csv`` in local metres; needs ``origin``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, InputError
from .flightlog import read_flight_csv
from .geo import LocalFrame
from .inference import EstimatorConfig, PlumeEstimator
from .inference.data import read_beam_dataset
from .inference.detect import detect_observations
from .inference.estimate import FITTED_NUISANCE, SOURCE_FLAGS, flagged
from .met import WindSeries
from .observations import Observations, aircraft_of, join_sorties
from .report import provenance, write_geojson, write_html_map, write_kml, write_png
from .report.maps import ReportView

# the fit's record kept in the GeoJSON's provenance (``posterior``)
POSTERIOR_KEYS = (
    "k_posterior", "temper", "temper_in_plume", "region_widening", "chains", "acceptance", "theta_mean", "theta_names",
    *FITTED_NUISANCE,
)  # fmt: skip

__all__ = [
    "AnalysisResult",
    "analyze",
    "load_observations",
    "normalise_truth",
    "truth_in_frame",
    "MODEL_POINT",
    "MODEL_BEAM",
    "MODEL_COMBINED",
]

MODEL_POINT = (
    "Gaussian plume (Briggs rural, class from sigma-theta) with Lagrangian travel-time wind; reversible-jump MCMC "
    "over source sets with rates and background marginalised (Laplace)"
)
MODEL_BEAM = (
    "path-averaged Gaussian plume with widths from the measured turbulence (x tan sigma-theta); reversible-jump "
    "MCMC over source sets with rates and a drifting background marginalised (Laplace); Student-t errors"
)
MODEL_COMBINED = (
    "a flight and a beam network in one fit: the flight's Gaussian plume (Briggs rural, class from sigma-theta, "
    "Lagrangian travel-time wind) and the beams' path-averaged plume (widths from the measured turbulence), each "
    "with its own wind bias, width multiplier, noise and background; the sources, rates and height shared; "
    "reversible-jump MCMC over source sets with rates and backgrounds marginalised (Laplace)"
)


@dataclass
class AnalysisResult:
    estimator: PlumeEstimator
    provenance: dict
    observations: Observations | None = None
    beams: object | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    # the truth given (a simulation's), in the analysis' frame (:func:`truth_in_frame`)
    truth: dict | None = None

    @property
    def sources(self):
        return self.estimator.sources_

    @property
    def detection(self):
        return self.estimator.detection_


def load_observations(path, origin=None, ground_elevation_m=None, mapping=None) -> Observations:
    """Read any supported flight log into :class:`Observations`, chosen by the file's content:
    the open CSV, a MAVLink telemetry log, an ArduPilot DataFlash log or a PX4 ULog (``mapping``,
    a :class:`~plumescout.flightlog.autopilot.LogMapping`, says where the gas and wind are)."""
    from .flightlog.autopilot import read_dataflash, read_tlog, read_ulog, sniff_format

    try:
        kind = sniff_format(path)
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None
    readers = {"tlog": read_tlog, "dataflash": read_dataflash, "ulog": read_ulog}
    if kind in readers:
        return readers[kind](path, mapping, origin=origin)
    return read_flight_csv(path, origin=origin, ground_elevation_m=ground_elevation_m)


def _clock(t) -> str:
    """A clock time as ISO 8601, UTC, to the millisecond."""
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalise_truth(doc: dict | None) -> dict | None:
    """Truth as the simulator writes it: sources with ids, x_m, y_m and rate_g_s (a data set's
    ``q_kg_s`` is converted)."""
    if doc is None:
        return None
    out = dict(doc)
    srcs = []
    for i, s in enumerate(doc.get("sources", [])):
        s = dict(s)
        s.setdefault("id", f"truth-{i + 1}")
        if "rate_g_s" not in s and "q_kg_s" in s:
            s["rate_g_s"] = float(s["q_kg_s"]) * 1000.0
        srcs.append(s)
    out["sources"] = srcs
    return out


def truth_in_frame(truth: dict | None, frame: LocalFrame) -> dict | None:
    """``truth`` (:func:`normalise_truth`) with its sources' ``x_m, y_m`` in ``frame``, carried
    through WGS84: from each source's own ``lat, lon`` where it has them, else from the ``origin``
    of the truth's frame where that is recorded (the simulator writes both). A truth with neither
    is taken to be in ``frame`` already (a data set's truth, about the origin given)."""
    if truth is None:
        return None
    o = truth.get("origin") if isinstance(truth.get("origin"), dict) else {}
    own = LocalFrame(float(o["lat"]), float(o["lon"])) if {"lat", "lon"} <= set(o) else None
    srcs = []
    for s in truth.get("sources", []):
        if "lat" in s and "lon" in s:
            lat, lon = float(s["lat"]), float(s["lon"])
        elif own is not None:
            lat, lon = own.to_wgs84(float(s["x_m"]), float(s["y_m"]))
        else:
            srcs.append(s)
            continue
        x, y = frame.to_local(lat, lon)
        srcs.append({**s, "x_m": float(x), "y_m": float(y)})
    return {**truth, "sources": srcs, **({"origin": {"lat": frame.lat0, "lon": frame.lon0}} if own else {})}


def analyze(
    flight,
    out_dir=None,
    config: EstimatorConfig | None = None,
    truth: dict | None = None,
    origin=None,
    ground_elevation_m=None,
    title: str | None = None,
    progress=None,
    library=None,
) -> AnalysisResult:
    """Estimate the sources in one flight (or beam data set) and optionally write the reports.

    Parameters
    ----------
    flight : path or Observations, or a list of them
        A flight-log CSV, an :class:`Observations` table, or a beam data set directory; or the
        sorties of one survey (flight logs flown in turn), joined in clock order and estimated
        from together (:func:`~plumescout.observations.join_sorties`); or one beam data set
        with the flight logs of a survey over it, estimated from in one fit
        (:meth:`~plumescout.inference.PlumeEstimator.fit_combined`; the logs are read about
        ``origin``, the beams' frame).
    out_dir : path, optional
        Where to write ``sources.geojson``, ``sources.kml``, ``report.html`` and ``report.png``.
    truth : dict, optional
        Known sources (simulator truth or a data set's truth.json), drawn on the pictures.
    origin : (lat, lon), optional
        Local frame origin; required for beam data sets (their geometry is in local metres).
    """
    t0 = time.perf_counter()
    truth = normalise_truth(truth)
    cfg = config or EstimatorConfig()
    obs = beams = sorties = None
    if isinstance(flight, list | tuple) and len(flight) == 1:
        flight = flight[0]
    beam_dir = None
    if isinstance(flight, list | tuple):  # the sorties of one survey, estimated from together
        dirs = [f for f in flight if not isinstance(f, Observations) and Path(f).is_dir()]
        if len(dirs) > 1:
            raise ConfigError(f"{', '.join(map(str, dirs))}: one beam data set at a time (with the flights over it)")
        if dirs:  # a beam network and the flights over it: one fit
            beam_dir = Path(dirs[0])
            if origin is None:
                raise ConfigError(
                    f"{beam_dir}: a beam data set is in local metres: give its origin (--origin LAT,LON), "
                    "the flights are read about it"
                )
            flight = [f for f in flight if f is not dirs[0]]
    if isinstance(flight, list | tuple) and len(flight) == 1:
        flight = flight[0]
    if isinstance(flight, list | tuple):  # the sorties of one survey, estimated from together
        parts = [f if isinstance(f, Observations) else load_observations(f, None, ground_elevation_m) for f in flight]
        obs = join_sorties(parts, origin)
        inputs = [p for p in obs.source_files if Path(p).exists()]
        craft = aircraft_of(parts)
        sorties = sorted(
            (
                {
                    "file": Path(p.source_files[0]).name if p.source_files else None,
                    "start_time": _clock(p.start_time),
                    "end_time": _clock(p.end_time),
                    "samples": len(p),
                    **({"aircraft": craft[k] + 1} if max(craft) > 0 else {}),  # flown at the same time
                }
                for k, p in enumerate(parts)
            ),
            key=lambda d: d["start_time"],
        )
    elif isinstance(flight, Observations):
        obs = flight
        inputs = [p for p in flight.source_files if Path(p).exists()]
    elif Path(flight).is_dir():
        d = Path(flight)
        if origin is None:
            raise ConfigError(f"{d}: a beam data set is in local metres: give its origin (--origin LAT,LON)")
        beams = read_beam_dataset(d, cfg.species or "ch4")
        inputs = [d / n for n in ("beams.csv", "measurements.csv", "wind.csv")]
    else:
        obs = load_observations(flight, origin, ground_elevation_m)
        inputs = [flight]
    if beam_dir is not None:
        if (obs.frame.lat0, obs.frame.lon0) != tuple(origin):  # an Observations table given
            obs = obs.in_frame(LocalFrame(*origin))  # in the beams' frame
        beams = read_beam_dataset(beam_dir, cfg.species or "ch4")
        inputs = [*inputs, *(beam_dir / n for n in ("beams.csv", "measurements.csv", "wind.csv"))]
    est = PlumeEstimator(cfg)
    if beams is not None and obs is None:
        frame = LocalFrame(*origin)
        est.fit_beams(beams, frame, progress=progress)
        model, n = MODEL_BEAM, {"readings": len(beams), "readings_skipped": beams.readings_skipped}
        # one wind per reading time (the spec repeats it for every point of every beam)
        times, first = np.unique(beams.spec.t, return_index=True)
        wind = WindSeries(times, beams.spec.speed[first], beams.spec.from_deg[first]).mean()
    else:
        if beams is not None:
            est.fit_combined(obs, beams, progress=progress)
        else:
            est.fit(obs, progress=progress)
        frame = obs.frame
        # every species in the file (the estimate uses one; the others are evidence for attribution)
        dets = {
            sp: est.detection_
            if sp == est.species_
            else detect_observations(obs, sp, cfg.background_window_s, cfg.false_alarms_per_hour)
            for sp in obs.species
        }
        model = MODEL_POINT if beams is None else MODEL_COMBINED
        n = {
            **({} if beams is None else {"readings": len(beams), "readings_skipped": beams.readings_skipped}),
            "samples": len(obs),
            "duration_s": round(obs.duration_s, 2),
            "start_time": obs.t0.isoformat() if obs.t0 else None,
            "repairs": [str(r) for r in obs.repairs],
            **({"sorties": sorties} if sorties else {}),  # the logs joined, in clock order
            "detection": est.detection_.summary(),
            "detection_by_species": {sp: d.summary() for sp, d in dets.items()},
        }
        wind = obs.wind.mean()
        n["flight_altitude_m"] = round(float(np.median(obs.z_m)), 2)  # (a follow-up flies at it)
        extra = _secondary_estimates(obs, est, cfg, dets, library, progress) if len(obs.species) > 1 else []
        if extra:
            n["secondary_estimates"] = [
                {"species": e.species_, "sources": [s.id for s in kept], "k_posterior": e.info_.get("k_posterior")}
                for e, kept in extra
            ]
        if len(obs.species) > 1 and (est.sources_ or extra):
            n["signature_library"] = _attribute_sources(obs, est, library, dets)
            for e, kept in extra:
                _attribute_sources(obs, e, library, dets)
                e.sources_[:] = kept
        _append_secondary(est, extra)
    wall = time.perf_counter() - t0
    box = est.info_.get("box")
    search_area = {
        "box_m": None if box is None else [round(float(v), 2) for v in box],  # x0, y0, x1, y1 in the local frame
        "margin_m": est.info_["margin_m"],  # where the search started, on every side
        "margins_m": est.info_.get("margins_m"),  # where it ended: west, south, east, north (grown)
        "search_refits": est.info_.get("search_refits", 0),
        "sources_at_edge": est.info_.get("sources_at_edge", []),
    }
    rate_prior = {
        "scale_g_s": cfg.rate_scale_g_s,
        "max_g_s": cfg.max_rate_g_s,
        "sources_at_cap": est.info_.get("sources_at_rate_cap", []),  # their rates held by the cap
    }
    if est.detection_ is not None:  # flights: the sources seen on one plume crossing at most
        n["sources_on_one_crossing"] = est.info_.get("sources_on_one_crossing", [])
    # those reported below the probability of existing at which false sources began (estimator_suite_pooled.md)
    n["sources_low_probability"] = est.info_.get("sources_low_probability", [])
    prov = provenance(
        inputs,
        model=model,
        settings=est.settings(),
        wall_time_s=wall,
        origin={"lat": frame.lat0, "lon": frame.lon0},
        crs="EPSG:4326 (RFC 7946 lon, lat); local frame: azimuthal equidistant about origin",
        search_area=search_area,
        mean_wind={"speed_m_s": round(wind[0], 3), "from_deg": round(wind[1], 2)},
        rate_prior=rate_prior,
        posterior={k: v for k, v in est.info_.items() if k in POSTERIOR_KEYS},
        **n,
    )
    # drawn and compared where it is, whatever frame it was written in
    res = AnalysisResult(est, prov, obs, beams, truth=truth_in_frame(truth, frame))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        name = title or (Path(inputs[0]).name if inputs else "flight")
        bl = None if beams is None else (beams.beam_start, beams.beam_end)
        view = ReportView(frame, est.sources_, obs, est.detection_, bl, wind, res.truth, est, est.species_)
        res.outputs["geojson"] = write_geojson(out / "sources.geojson", est.sources_, prov)
        res.outputs["kml"] = write_kml(
            out / "sources.kml", est.sources_, obs, frame, name=f"plumescout: {name}", beams=bl
        )
        figures = []
        if any(s.attribution_detail is not None for s in est.sources_):
            from .report.maps import write_attribution_png

            res.outputs["attribution"] = write_attribution_png(out / "attribution.png", est.sources_, title=name)
            figures.append(("Species evidence per source (what kind of site)", res.outputs["attribution"]))
        res.outputs["html"] = write_html_map(
            out / "report.html", view, title=f"plumescout report: {name}", figures=figures
        )
        res.outputs["png"] = write_png(out / "report.png", view, title=name)
    return res


def _append_secondary(est, extra) -> None:
    """List the sources other species found (``[(estimator, kept sources)]``) after the primary
    species' ones, renumbered after them; each keeps its flags (from its own estimate), and the
    estimate's lists of flagged sources (``info_``) name them under their new names."""
    for _, kept in extra:
        for src in kept:
            src.id = f"S{len(est.sources_) + 1}"
            est.sources_.append(src)
    for flag, key in SOURCE_FLAGS.items():
        est.info_[key] = flagged(est.sources_, flag)


def _secondary_estimates(obs, est, cfg, dets, library, progress=None) -> list:
    """Sources the primary species cannot see: a site whose mixture has none of it (a fire gives
    CO2 and CO but no methane) is located from the reference species of its signature class.

    For each other species that is the reference of a library class, its plume crossings during
    which the primary species stayed below its detection threshold are counted; with at least two
    such crossings the estimator runs again on that species, and the sources it finds away from
    every primary source (farther than both 90 % radii, and 30 m) are kept.
    Returns ``[(estimator, kept sources)]``."""
    from .attribution import default_library

    lib = library or default_library()
    primary = dets[est.species_]
    refs = dict.fromkeys(c.reference for c in lib.classes if c.reference != est.species_ and c.reference in dets)
    out = []
    for sp in refs:
        unexplained = [
            (a, b)
            for a, b in dets[sp].crossings
            if not np.nanmax(primary.enhancement_ppm[a:b], initial=-np.inf) >= primary.threshold_ppm
        ]
        if len(unexplained) < 2:
            continue
        e2 = PlumeEstimator(cfg.model_copy(update={"species": sp}))
        e2.fit(obs, progress=progress)
        kept = [
            s
            for s in e2.sources_
            if all(
                np.hypot(s.x_m - p.x_m, s.y_m - p.y_m) > max(30.0, s.location_ci90_m + p.location_ci90_m)
                for p in est.sources_
            )
        ]
        if kept:
            out.append((e2, kept))
    return out


def _attribute_sources(obs, est, library, detections) -> str | None:
    """Give every source the probability of each class of ``library`` (default: the shipped
    generic examples) from its integrated enhancements of all species measured (``detections``:
    species -> Detection, their backgrounds and noise)."""
    from .attribution import attribute, default_library
    from .attribution.evidence import integrated_enhancements

    lib = library or default_library()
    if not set(obs.species) & set(lib.species):
        return None
    for src, ev in zip(est.sources_, integrated_enhancements(obs, est, detections), strict=True):
        if not ev or not set(ev) & set(lib.species):
            continue
        a = attribute(ev, lib)
        src.attribution_detail = a
        src.attribution = {
            **a.as_properties(),
            "species_enhancement_ppm_s": {sp: [round(v, 6), round(e, 6)] for sp, (v, e) in a.observed.items()},
        }
    return lib.name


def dump_json(path, obj) -> Path:
    path = Path(path)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    return path

"""The main job, wired once: flight log -> observations -> detect -> estimate -> report files.

The CLI, the demo, the benchmarks (and later the service and live mode) all call
:func:`analyze`; it returns an :class:`AnalysisResult` and writes nothing unless ``out_dir`` is
given.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .flightlog import read_flight_csv
from .inference import EstimatorConfig, PlumeEstimator
from .observations import Observations
from .report import provenance, write_geojson, write_html_map, write_kml, write_png

__all__ = ["AnalysisResult", "analyze", "load_observations"]

MODEL_POINT = (
    "Gaussian plume (Briggs rural, class from sigma-theta) with Lagrangian travel-time wind; reversible-jump MCMC "
    "over source sets with rates and background marginalised (Laplace)"
)


@dataclass
class AnalysisResult:
    observations: Observations
    estimator: PlumeEstimator
    provenance: dict
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def sources(self):
        return self.estimator.sources_

    @property
    def detection(self):
        return self.estimator.detection_


def load_observations(path, origin=None, ground_elevation_m=None) -> Observations:
    """Read any supported flight log (now: the open CSV) into :class:`Observations`."""
    return read_flight_csv(path, origin=origin, ground_elevation_m=ground_elevation_m)


def analyze(
    flight,
    out_dir=None,
    config: EstimatorConfig | None = None,
    truth: dict | None = None,
    origin=None,
    ground_elevation_m=None,
    title: str | None = None,
    progress=None,
) -> AnalysisResult:
    """Estimate the sources in one flight and (optionally) write the report files.

    Parameters
    ----------
    flight : path or Observations
    out_dir : path, optional
        Where to write ``sources.geojson``, ``sources.kml``, ``report.html`` and ``report.png``.
    truth : dict, optional
        A simulator truth file's content, drawn on the pictures for comparison.
    """
    t0 = time.perf_counter()
    if isinstance(flight, Observations):
        obs, inputs = flight, [p for p in flight.source_files if Path(p).exists()]
    else:
        obs, inputs = load_observations(flight, origin, ground_elevation_m), [flight]
    est = PlumeEstimator(config).fit(obs, progress=progress)
    wall = time.perf_counter() - t0
    prov = provenance(
        inputs,
        model=MODEL_POINT,
        settings=est.settings(),
        wall_time_s=wall,
        origin={"lat": obs.frame.lat0, "lon": obs.frame.lon0},
        crs="EPSG:4326 (RFC 7946 lon, lat); local frame: azimuthal equidistant about origin",
        detection=est.detection_.summary(),
        repairs=[str(r) for r in obs.repairs],
        samples=len(obs),
        duration_s=round(obs.duration_s, 2),
        start_time=obs.t0.isoformat() if obs.t0 else None,
    )
    res = AnalysisResult(obs, est, prov)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        name = title or (Path(inputs[0]).name if inputs else "flight")
        res.outputs["geojson"] = write_geojson(out / "sources.geojson", est.sources_, prov)
        res.outputs["kml"] = write_kml(out / "sources.kml", est.sources_, obs, name=f"plumescout: {name}")
        res.outputs["html"] = write_html_map(
            out / "report.html", obs, est.detection_, est.sources_, truth, title=f"plumescout report: {name}"
        )
        res.outputs["png"] = write_png(out / "report.png", obs, est.detection_, est.sources_, truth, title=name)
    return res


def sources_as_dicts(sources) -> list[dict]:
    out = []
    for s in sources:
        d = asdict(s)
        d.pop("samples_xy")
        d.pop("samples_rate")
        out.append(d)
    return out


def dump_json(path, obj) -> Path:
    path = Path(path)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    return path

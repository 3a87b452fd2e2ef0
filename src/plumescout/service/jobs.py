"""Analysis runs as background jobs: the estimator in worker processes, progress and log in the store.

A run is a row; :func:`run_analysis` is the job, executed by a standard executor (a
``concurrent.futures.ProcessPoolExecutor`` by default, or a ``dask.distributed`` scheduler by address:
both have ``submit``). The job opens its own database connection, so it runs the same in a local
process or on a Dask worker that sees the same store and data directory. When it finishes, the run's
sources become source reports in the same transaction that marks the run done; a run left queued or
running by a stopped server is submitted again when the server starts.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import traceback
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..observations import track_breaks
from .db import AnalysisRun, Flight, Mission, Report, ReportEvent, make_engine, now, sessions

__all__ = ["JobRunner", "run_analysis", "run_dir", "MAX_TRACK_POINTS"]

MAX_TRACK_POINTS = 3000


def run_dir(data_dir, run_id: int) -> Path:
    return Path(data_dir) / "runs" / str(run_id)


def _track(obs, det) -> dict:
    """The flight track for the map, at most MAX_TRACK_POINTS points, with the enhancement of the
    estimated species (the largest in each decimation block, so no plume is lost)."""
    n = len(obs)
    step = max(1, -(-n // MAX_TRACK_POINTS))
    idx = np.arange(0, n, step)
    enh = np.asarray(det.enhancement_ppm, dtype=float)
    blocks = [float(np.nanmax(enh[i : i + step])) for i in idx]
    lat = [round(float(v), 8) for v in obs.lat[idx]]
    lon = [round(float(v), 8) for v in obs.lon[idx]]
    enhancement = [round(v, 5) if np.isfinite(v) else None for v in blocks]
    # a break in the log (between the sorties of a survey, a long dropout): a null point, so the
    # map does not draw a line the aircraft did not fly while logging
    for k in track_breaks(np.asarray(obs.time_s, float)[idx])[::-1]:
        lat.insert(k, None)
        lon.insert(k, None)
        enhancement.insert(k, None)
    return {
        "species": det.species,
        "threshold_ppm": round(float(det.threshold_ppm), 6),
        "lat": lat,
        "lon": lon,
        "enhancement_ppm": enhancement,
    }


def run_analysis(db_url: str, data_dir: str, run_id: int, signatures: str | None = None) -> str:
    """Run one analysis (the job). Returns the final state."""
    from .. import pipeline
    from ..errors import PlumescoutError
    from ..geo import LocalFrame
    from ..inference import EstimatorConfig
    from ..report.geojson import source_features
    from ..report.kml import write_kml
    from .beamsets import extract
    from .beamsets import track as beams_track

    engine = make_engine(db_url)
    Session = sessions(engine)
    log: list[str] = []
    last = [0.0]

    def update(**fields):
        with Session.begin() as s:
            s.query(AnalysisRun).filter_by(id=run_id).update({**fields, "log": "\n".join(log)})

    def note(line: str):
        log.append(f"{now().isoformat(timespec='seconds')} {line}")

    def progress(stage, done, total):
        t = time.monotonic()
        if t - last[0] >= 0.5 or done >= total:
            last[0] = t
            update(progress=round(0.05 + 0.85 * done / max(total, 1), 4), stage=str(stage)[:100])

    names: dict[str, tuple[str, int]] = {}  # blob digest -> (file name, flight id)
    try:
        with Session() as s:
            run = s.get(AnalysisRun, run_id)
            flight = s.get(Flight, run.flight_id)
            mission = s.get(Mission, run.mission_id)
            blob = Path(data_dir) / "blobs" / flight.sha256
            fname, mname, org_id, mission_id = flight.filename, mission.name, mission.org_id, mission.id
            asked = (run.settings or {}).get("estimator") or {}
            fmt, origin, species = flight.format, flight.origin, list(flight.species or [])
            ids = (run.settings or {}).get("flights") or [flight.id]
            sorties = [s.get(Flight, i) for i in ids]  # the sorties of one survey, in clock order
            names = {f.sha256: (f.filename, f.id) for f in sorties}
            blobs = [Path(data_dir) / "blobs" / f.sha256 for f in sorties]
        title = fname  # the reports' title: the run's flight's file name, and what else was fitted
        combined = fmt == "beams" and len(sorties) > 1  # the beam data set first, then the flights over it
        if combined:
            title = f"{fname} with {len(sorties) - 1} flight log(s)"
            note(
                f"started on beam data set {fname} (flight {flight.id}) with the flights over it: "
                + ", ".join(f"{n} (flight {i})" for n, i in list(names.values())[1:])
            )
        elif len(sorties) > 1:
            title = f"{fname} and {len(sorties) - 1} more sortie(s)"
            note(f"started on {len(sorties)} sorties: " + ", ".join(f"{n} (flight {i})" for n, i in names.values()))
        else:
            note(f"started on {fname} ({flight.format}, {flight.samples} samples)")
        if asked:
            note("estimator settings: " + ", ".join(f"{k} {v:g}" for k, v in sorted(asked.items())))
        update(state="running", started_at=now(), progress=0.02, stage="reading")
        library = None
        if signatures:
            from ..attribution import load_library

            library = load_library(signatures)
        out = run_dir(data_dir, run_id)
        if fmt == "beams":  # a beam data set: its three CSVs, from the stored archive, about its origin
            beamset = extract(blob, out / "input", fname, limit=1 << 40)  # its size was checked at upload
            asked = {"species": species[0] if species else beamset.species, **asked}
            source, frame = beamset.directory, LocalFrame(*origin)
            if combined:  # one fit of the beams and the flights, read about the beams' origin
                source = [beamset.directory, *blobs[1:]]
        else:
            source, frame = blobs, None  # one flight, or the logs of one survey
        config = EstimatorConfig(**asked)  # checked when the run was queued; refused here too if not
        res = pipeline.analyze(
            source, out_dir=out, config=config, origin=origin, title=title, progress=progress, library=library
        )
        note(f"estimated {len(res.sources)} source(s) in {res.provenance['wall_time_s']:.1f} s")
        update(progress=0.92, stage="writing reports")
        frame = frame or res.observations.frame
        if combined:  # the flights' track and the beams, on one map
            shown = {**_track(res.observations, res.detection), "beams": beams_track(res.beams, frame)["beams"]}
        elif fmt == "beams":
            shown = beams_track(res.beams, frame)
        else:
            shown = _track(res.observations, res.detection)
        (out / "track.json").write_text(json.dumps(shown), encoding="utf-8")
        prov = json.loads(json.dumps(res.provenance, default=str))
        for inp in prov.get("inputs", []):  # the stored blob's path means nothing to a reader
            if fmt == "beams" and Path(inp["path"]).name not in names:  # a member of the beam archive
                member = f":{inp['file']}"
                inp["file"], inp["path"] = f"{fname}{member}", f"flight {run.flight_id}{member}"
            else:
                name, fid = names.get(Path(inp["path"]).name, (title, run.flight_id))
                inp["file"], inp["path"] = name, f"flight {fid}"
        features = source_features(res.sources)
        with Session.begin() as s:
            for src, feat in zip(res.sources, features, strict=True):
                uid = uuid.uuid4().hex
                write_kml(out / f"{src.id}.kml", [src], frame=frame, name=f"plumescout {uid}")
                rep = Report(
                    mission_id=mission_id,
                    run_id=run_id,
                    org_id=org_id,
                    uid=uid,
                    source_id=src.id,
                    title=f"{mname}: {src.species} source {src.id}",
                    lat=float(src.lat),
                    lon=float(src.lon),
                    location_ci90_m=float(src.location_ci90_m),
                    species=src.species,
                    rate_g_s=float(src.rate_g_s),
                    rate_g_s_lo=float(src.rate_g_s_ci90[0]),
                    rate_g_s_hi=float(src.rate_g_s_ci90[1]),
                    probability=float(src.probability),
                    source_class=(getattr(src, "attribution", None) or {}).get("source_class"),
                    feature=feat,
                )
                s.add(rep)
                s.flush()
                s.add(ReportEvent(report_id=rep.id, kind="created", detail={"run_id": run_id, "status": "candidate"}))
            note(f"{len(features)} report(s) created")
            s.query(AnalysisRun).filter_by(id=run_id).update(
                {
                    "state": "done",
                    "progress": 1.0,
                    "stage": "done",
                    "finished_at": now(),
                    "provenance": prov,
                    "log": "\n".join(log),
                }
            )
        return "done"
    except PlumescoutError as exc:
        msg = str(exc)
        for digest, (name, fid) in names.items():  # blob paths mean nothing to a reader
            msg = msg.replace(str(Path(data_dir) / "blobs" / digest), f"{name} (flight {fid})")
        note(f"refused: {msg}")
        update(state="failed", error=msg, finished_at=now(), stage="failed")
        return "failed"
    except Exception as exc:  # noqa: BLE001 - a job must record every failure, not crash the worker
        note("crashed:\n" + traceback.format_exc())
        update(state="failed", error=f"{type(exc).__name__}: {exc}", finished_at=now(), stage="failed")
        return "failed"
    finally:
        engine.dispose()


class JobRunner:
    """Submits runs to an executor: local processes by default, a Dask scheduler by address."""

    def __init__(self, db_url: str, data_dir, workers: int = 1, scheduler: str | None = None, signatures=None):
        self.db_url, self.data_dir = db_url, str(data_dir)
        self.signatures = str(signatures) if signatures else None
        self._client = None
        if scheduler:
            from dask.distributed import Client

            self._client = Client(scheduler)
            self.executor: Executor = self._client
        else:
            self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self._futures = {}

    def submit(self, run_id: int):
        fut = self.executor.submit(run_analysis, self.db_url, self.data_dir, run_id, self.signatures)
        self._futures[run_id] = fut
        fut.add_done_callback(lambda f, r=run_id: self._finished(r, f))
        return fut

    def _finished(self, run_id: int, fut) -> None:
        """A job that could not even run (a worker killed, a broken pool) is recorded as failed."""
        self._futures.pop(run_id, None)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            return
        engine = make_engine(self.db_url)
        try:
            with sessions(engine).begin() as s:
                s.query(AnalysisRun).filter(
                    AnalysisRun.id == run_id, AnalysisRun.state.in_(("queued", "running"))
                ).update(
                    {"state": "failed", "error": f"worker lost: {type(exc).__name__}: {exc}", "finished_at": now()}
                )
        finally:
            engine.dispose()

    def resume(self, session) -> list[int]:
        """Submit again every run a stopped server left unfinished."""
        ids = []
        for run in session.query(AnalysisRun).filter(AnalysisRun.state.in_(("queued", "running"))).all():
            if run.state == "running":
                run.state = "queued"
                run.log = (run.log + "\n" if run.log else "") + f"{now().isoformat(timespec='seconds')} resubmitted"
            ids.append(run.id)
        session.commit()
        for i in ids:
            self.submit(i)
        return ids

    def shutdown(self):
        if self._client is not None:
            self._client.close()
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)

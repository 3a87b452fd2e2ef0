"""The FastAPI application: missions, flights, analysis runs, source reports, partners, audit.

Access rules (one place: the ``_mission``/``_report`` helpers):

- **admin** and **analyst** of an organisation work on all of its own missions, flights, runs and
  reports; analysts create, upload, run, annotate, change status and release. Only admins manage
  organisations, users and other users' tokens, and read the audit log.
- **partner** viewers see only the reports released to their organisation (and not withdrawn):
  the report, its exports and evidence; never missions, flights, runs, notes or other partners.

Anything outside the caller's reach answers 404 (its existence is not confirmed); a role that can
never use a route answers 403; no or bad credentials 401. Every read or change of a report writes an
audit entry in the same transaction as the change.
"""

import hashlib
import json
import os
import tempfile
import time
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, Response, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordRequestForm
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import __version__
from ..errors import ConfigError, InputError
from . import cot
from .beamsets import extract, is_beam_archive, parse_origin
from .db import (
    AnalysisRun,
    ApiToken,
    AuditEntry,
    Flight,
    Mission,
    Organisation,
    Release,
    Report,
    ReportEvent,
    User,
    make_engine,
    migrate,
    now,
    sessions,
)
from .jobs import JobRunner, run_dir
from .security import Principal, hash_password, issue_jwt, new_api_token, resolve_bearer, verify_password
from .settings import ServiceSettings

__all__ = ["create_app", "bootstrap"]

STATIC = Path(__file__).with_name("static")
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
PathId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
PRINCIPAL_TTL_S = 5.0
EVIDENCE = {"map": "report.png", "species": "attribution.png"}


# ---------------------------------------------------------------- request / response models
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")
    org_id: Id
    role: Literal["admin", "analyst", "partner"]
    password: str | None = Field(None, min_length=8, max_length=1000)


class TokenIn(Strict):
    name: str = Field("api", min_length=1, max_length=200)
    user_id: Id | None = None
    expires_days: int | None = Field(None, ge=1, le=3650)


class EstimatorIn(Strict):
    """The estimator settings a mission may need (the options of ``plumescout analyze``; unset:
    the defaults). Bounded here beyond what the estimator checks, so that one request cannot tie
    up a worker with a search area of a continent."""

    rate_scale_g_s: float | None = Field(None, gt=0.0, le=1e6, description="--rate-scale: the rate prior's scale, g/s")
    max_rate_g_s: float | None = Field(None, gt=0.0, le=1e6, description="--max-rate: the rate prior's cap, g/s")
    source_height_m: float | None = Field(None, ge=0.0, le=500.0, description="--source-height, m")
    source_height_sd_m: float | None = Field(None, ge=0.0, le=500.0, description="--source-height-sd, m (0: known)")
    margin_m: float | None = Field(None, ge=0.0, le=5000.0, description="--margin: search area about the track, m")
    max_margin_m: float | None = Field(None, ge=0.0, le=20000.0, description="--max-margin: how far it may grow, m")
    sensor_response_s: float | None = Field(None, ge=0.0, le=60.0, description="--sensor-response-s, s")


class MissionIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10000)
    estimator: EstimatorIn | None = Field(None, description="the estimator settings every run of it uses")


class MissionPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10000)
    estimator: EstimatorIn | None = Field(None, description="replaces the mission's settings ({}: the defaults)")


MAX_SORTIES = 20


class RunIn(Strict):
    flight_id: Id | None = Field(None, description="the flight (or beam data set) to analyse")
    flight_ids: list[Id] | None = Field(
        None,
        min_length=2,
        max_length=MAX_SORTIES,
        description="or the logs of one survey (sorties flown in turn, aircraft flown at once): estimated together",
    )
    estimator: EstimatorIn | None = None

    @model_validator(mode="after")
    def _one_way(self):
        if (self.flight_id is None) == (self.flight_ids is None):
            raise ValueError("give flight_id (one flight) or flight_ids (the sorties of one survey), not both")
        if self.flight_ids is not None and len(set(self.flight_ids)) != len(self.flight_ids):
            raise ValueError("flight_ids names a flight twice")
        return self

    @property
    def flights(self) -> list[int]:
        return [self.flight_id] if self.flight_id is not None else list(self.flight_ids)


class ReportPatch(Strict):
    status: Literal["candidate", "confirmed", "dismissed"]
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="the version you saw (refused if stale)")
    reason: str = Field("", max_length=5000)


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=20000)


class ReleaseIn(Strict):
    org_id: Id


def _iso(t):
    return None if t is None else t.isoformat()


def _org(o: Organisation) -> dict:
    return {"id": o.id, "name": o.name}


def _user(u: User) -> dict:
    return {"id": u.id, "username": u.username, "org_id": u.org_id, "role": u.role, "active": u.active}


def _mission(m: Mission) -> dict:
    return {
        "id": m.id,
        "name": m.name,
        "description": m.description,
        "org_id": m.org_id,
        "estimator": (m.settings or {}).get("estimator", {}),  # every run's, unless the run says otherwise
        "created_at": _iso(m.created_at),
    }


def _flight(f: Flight) -> dict:
    return {
        "id": f.id,
        "mission_id": f.mission_id,
        "filename": f.filename,
        "sha256": f.sha256,
        "size_bytes": f.size_bytes,
        "format": f.format,
        "samples": f.samples,
        "species": f.species,
        "repairs": f.repairs,
        "origin": f.origin,  # a beam data set's [lat, lon]; null for a flight log
        "uploaded_at": _iso(f.uploaded_at),
    }


def _run(r: AnalysisRun, with_log: bool = False) -> dict:
    d = {
        "id": r.id,
        "mission_id": r.mission_id,
        "flight_id": r.flight_id,
        "state": r.state,
        "progress": r.progress,
        "stage": r.stage,
        "error": r.error,
        "created_at": _iso(r.created_at),
        "started_at": _iso(r.started_at),
        "finished_at": _iso(r.finished_at),
        "flight_ids": (r.settings or {}).get("flights") or [r.flight_id],  # several: sorties estimated together
        "estimator": (r.settings or {}).get("estimator", {}),  # the settings asked for; unset: defaults
    }
    if with_log:
        d["log"] = r.log.splitlines() if r.log else []
        d["provenance"] = r.provenance
    return d


def _report(r: Report) -> dict:
    props = r.feature.get("properties", {})
    return {
        "id": r.id,
        "uid": r.uid,
        "title": r.title,
        "mission_id": r.mission_id,
        "run_id": r.run_id,
        "status": r.status,
        "version": r.version,
        "lat": r.lat,
        "lon": r.lon,
        "location_ci90_m": r.location_ci90_m,
        # flights: the same 90 % region as an ellipse (semi-axes m, major axis azimuth deg)
        "location_ci90_ellipse": props.get("location_ci90_ellipse"),
        "species": r.species,
        "emission_rate_g_s": r.rate_g_s,
        "emission_rate_g_s_ci90": [r.rate_g_s_lo, r.rate_g_s_hi],
        "probability": r.probability,
        "source_class": r.source_class,
        "class_probabilities": props.get("class_probabilities"),
        "flags": props.get("flags", []),  # what to know before trusting it (region at the edge, rate at the cap)
        # flights: the factor its regions and rate interval were widened by, its plume crossings all near it
        "near_crossing_widening": props.get("near_crossing_widening", 1.0),
        "created_at": _iso(r.created_at),
        "updated_at": _iso(r.updated_at),
    }


def _event(e: ReportEvent) -> dict:
    return {"id": e.id, "kind": e.kind, "user_id": e.user_id, "detail": e.detail, "at": _iso(e.at)}


# ---------------------------------------------------------------- the application
def create_app(settings: ServiceSettings | None = None, start_jobs: bool = True) -> FastAPI:
    """Build the application for ``settings`` (migrating the store to the current schema)."""
    settings = settings or ServiceSettings()
    url = settings.url
    migrate(url)
    engine = make_engine(url)  # FULL sync: what is acknowledged to a user
    fast_engine = make_engine(url, synchronous="NORMAL")  # reads and their audit entries
    Session_ = sessions(engine)
    FastSession = sessions(fast_engine)
    data = settings.data_path
    for sub in ("blobs", "runs", "tmp"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    for stale in (data / "tmp").iterdir():  # an upload cut off by a stopped server was never acknowledged
        stale.unlink(missing_ok=True)
    secret = settings.secret()
    state: dict = {"jobs": None}

    @asynccontextmanager
    async def lifespan(_app):
        # few request threads: with the GIL and one SQLite writer, more threads only lengthen the tail
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if start_jobs:
            state["jobs"] = JobRunner(url, data, settings.workers, settings.scheduler, settings.signatures)
            if settings.resume_runs:
                with Session_() as s:
                    state["jobs"].resume(s)
        yield
        if state["jobs"] is not None:
            state["jobs"].shutdown()
        engine.dispose()
        fast_engine.dispose()

    app = FastAPI(
        title="plumescout",
        version=__version__,
        summary="Chemical emission sources located from the air: missions, flights, runs, source reports.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = Session_
    app.state.engine = engine
    app.state.engines = (engine, fast_engine)
    # credential -> (valid until, principal): saves the token lookup on every call. A revocation
    # empties it at once; an expiry takes effect within PRINCIPAL_TTL_S.
    principals: dict[str, tuple[float, Principal]] = {}
    bearer = HTTPBearer(auto_error=False, description="an API token (ps_...) or a JWT from /api/auth/token")

    def db():
        with FastSession() as s:
            yield s

    def durable_db():
        with Session_() as s:
            yield s

    DB = Annotated[Session, Depends(db)]
    DurableDB = Annotated[Session, Depends(durable_db)]  # for changes acknowledged to the caller

    def principal(s: DB, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        p = None
        if cred is not None:
            hit = principals.get(cred.credentials)
            if hit is not None and hit[0] > time.monotonic():
                p = hit[1]
            else:
                p = resolve_bearer(s, cred.credentials, secret)
                if p is not None:
                    if len(principals) > 10000:
                        principals.clear()
                    principals[cred.credentials] = (time.monotonic() + PRINCIPAL_TTL_S, p)
        if p is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "missing or invalid credentials", headers={"WWW-Authenticate": "Bearer"}
            )
        return p

    Who = Annotated[Principal, Depends(principal)]

    def staff(p: Who) -> Principal:
        if not p.is_staff:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "partner viewers see released reports only")
        return p

    def admin(p: Who) -> Principal:
        if not p.is_admin:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "admins only")
        return p

    Staff = Annotated[Principal, Depends(staff)]
    Admin = Annotated[Principal, Depends(admin)]

    def audit(s: Session, p: Principal | None, action: str, resource: str, rid=None, request=None, **detail):
        s.execute(  # a plain INSERT (no ORM unit of work): it is on every read
            insert(AuditEntry).values(
                at=now(),
                user_id=p.user_id if p else None,
                org_id=p.org_id if p else None,
                action=action,
                resource=resource,
                resource_id=rid,
                detail=detail,
                client=(request.client.host if request is not None and request.client else None),
            )
        )

    def get_mission(s: Session, p: Principal, mission_id: int) -> Mission:
        m = s.get(Mission, mission_id)
        if m is None or m.org_id != p.org_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no mission {mission_id}")
        return m

    def in_mission(s: Session, p: Principal, model, rid: int, what: str):
        """A flight or run of one of the caller's organisation's missions, or 404."""
        row = s.get(model, rid)
        if row is None or s.get(Mission, row.mission_id).org_id != p.org_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {what} {rid}")
        return row

    def get_flight(s: Session, p: Principal, flight_id: int) -> Flight:
        return in_mission(s, p, Flight, flight_id, "flight")

    def get_run(s: Session, p: Principal, run_id: int) -> AnalysisRun:
        return in_mission(s, p, AnalysisRun, run_id, "run")

    def get_report(s: Session, p: Principal, report_id: int) -> Report:
        r = s.get(Report, report_id)
        if r is not None:
            if p.is_staff and r.org_id == p.org_id:
                return r
            if p.role == "partner":
                rel = s.scalar(
                    select(Release).where(
                        Release.report_id == r.id, Release.org_id == p.org_id, Release.withdrawn_at.is_(None)
                    )
                )
                if rel is not None:
                    return r
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report {report_id}")

    # ------------------------------------------------------------ public
    @app.get("/api/health", tags=["service"])
    def health():
        return {"status": "ok", "version": __version__}

    @app.post("/api/auth/token", tags=["auth"])
    def login(request: Request, s: DB, form: Annotated[OAuth2PasswordRequestForm, Depends()]):
        """OAuth2 password flow: a bearer JWT for a user with a password."""
        u = s.scalar(select(User).where(User.username == form.username))
        if u is None or not u.active or not verify_password(form.password, u.password_hash if u else None):
            audit(s, None, "login.failed", "user", None, request, username=form.username[:200])
            s.commit()
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"}
            )
        tok, ttl = issue_jwt(u, secret, settings.jwt_ttl_s)
        audit(s, Principal(u.id, u.username, u.org_id, u.org.name, u.role, "jwt"), "login", "user", u.id, request)
        s.commit()
        return {"access_token": tok, "token_type": "bearer", "expires_in": ttl}

    # ------------------------------------------------------------ who am I, organisations, users, tokens
    @app.get("/api/me", tags=["auth"])
    def me(p: Who):
        return {"id": p.user_id, "username": p.username, "org_id": p.org_id, "org": p.org_name, "role": p.role}

    @app.get("/api/config", tags=["service"])
    def config(p: Who):
        return {
            "tile_url": settings.tile_url,
            "tile_attribution": settings.tile_attribution,
            "tak": bool(settings.tak_url),
        }

    @app.get("/api/organisations", tags=["admin"])
    def list_orgs(s: DB, p: Staff):
        return [_org(o) for o in s.scalars(select(Organisation).order_by(Organisation.id))]

    @app.post("/api/organisations", tags=["admin"], status_code=201)
    def create_org(body: OrgIn, request: Request, s: DurableDB, p: Admin):
        o = Organisation(name=body.name)
        s.add(o)
        try:
            s.flush()
        except IntegrityError:
            raise HTTPException(status.HTTP_409_CONFLICT, f"organisation '{body.name}' exists") from None
        audit(s, p, "organisation.create", "organisation", o.id, request, name=o.name)
        s.commit()
        return _org(o)

    @app.get("/api/users", tags=["admin"])
    def list_users(s: DB, p: Admin):
        return [_user(u) for u in s.scalars(select(User).order_by(User.id))]

    @app.post("/api/users", tags=["admin"], status_code=201)
    def create_user(body: UserIn, request: Request, s: DurableDB, p: Admin):
        if s.get(Organisation, body.org_id) is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no organisation {body.org_id}")
        u = User(
            username=body.username,
            org_id=body.org_id,
            role=body.role,
            password_hash=hash_password(body.password) if body.password else None,
        )
        s.add(u)
        try:
            s.flush()
        except IntegrityError:
            raise HTTPException(status.HTTP_409_CONFLICT, f"user '{body.username}' exists") from None
        audit(s, p, "user.create", "user", u.id, request, username=u.username, role=u.role, org_id=u.org_id)
        s.commit()
        return _user(u)

    @app.post("/api/tokens", tags=["auth"], status_code=201)
    def create_token(body: TokenIn, request: Request, s: DurableDB, p: Who):
        """A new API token (shown once). Admins may issue one for another user."""
        uid = body.user_id or p.user_id
        if uid != p.user_id and not p.is_admin:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins issue tokens for other users")
        if s.get(User, uid) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {uid}")
        token, digest, prefix = new_api_token()
        exp = None if body.expires_days is None else now() + timedelta(days=body.expires_days)
        t = ApiToken(user_id=uid, name=body.name, token_sha256=digest, prefix=prefix, expires_at=exp)
        s.add(t)
        s.flush()
        audit(s, p, "token.create", "token", t.id, request, for_user=uid, name=body.name)
        s.commit()
        return {"id": t.id, "token": token, "prefix": prefix, "user_id": uid, "expires_at": _iso(exp)}

    @app.get("/api/tokens", tags=["auth"])
    def list_tokens(s: DB, p: Who):
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == p.user_id).order_by(ApiToken.id))
        return [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix,
                "created_at": _iso(t.created_at),
                "expires_at": _iso(t.expires_at),
                "revoked_at": _iso(t.revoked_at),
            }
            for t in rows
        ]

    @app.delete("/api/tokens/{token_id}", tags=["auth"], status_code=204)
    def revoke_token(token_id: PathId, request: Request, s: DurableDB, p: Who):
        t = s.get(ApiToken, token_id)
        if t is None or (t.user_id != p.user_id and not p.is_admin):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
        t.revoked_at = t.revoked_at or now()
        principals.clear()
        audit(s, p, "token.revoke", "token", t.id, request)
        s.commit()
        return Response(status_code=204)

    # ------------------------------------------------------------ missions and flights
    @app.get("/api/missions", tags=["missions"])
    def list_missions(s: DB, p: Staff):
        q = select(Mission).where(Mission.org_id == p.org_id).order_by(Mission.id)
        return [_mission(m) for m in s.scalars(q)]

    @app.post("/api/missions", tags=["missions"], status_code=201)
    def create_mission(body: MissionIn, request: Request, s: DurableDB, p: Staff):
        asked = _estimator_settings(body.estimator)
        m = Mission(
            org_id=p.org_id,
            name=body.name,
            description=body.description,
            settings={"estimator": asked},
            created_by=p.user_id,
        )
        s.add(m)
        s.flush()
        audit(s, p, "mission.create", "mission", m.id, request, name=m.name)
        s.commit()
        return _mission(m)

    @app.patch("/api/missions/{mission_id}", tags=["missions"])
    def update_mission(mission_id: PathId, body: MissionPatch, request: Request, s: DurableDB, p: Staff):
        """Rename a mission, or set the estimator settings its runs use (a run's own override
        them); checked as a run's are."""
        m = get_mission(s, p, mission_id)
        changed = body.model_dump(exclude_unset=True)
        if "estimator" in changed:
            m.settings = {**(m.settings or {}), "estimator": _estimator_settings(body.estimator)}
        if body.name is not None:
            m.name = body.name
        if body.description is not None:
            m.description = body.description
        audit(s, p, "mission.update", "mission", m.id, request, **json.loads(json.dumps(changed, default=str)))
        s.commit()
        return _mission(m)

    @app.get("/api/missions/{mission_id}", tags=["missions"])
    def read_mission(mission_id: PathId, s: DB, p: Staff):
        m = get_mission(s, p, mission_id)
        flights = s.scalars(select(Flight).where(Flight.mission_id == m.id).order_by(Flight.id))
        runs = s.scalars(select(AnalysisRun).where(AnalysisRun.mission_id == m.id).order_by(AnalysisRun.id))
        return {**_mission(m), "flights": [_flight(f) for f in flights], "runs": [_run(r) for r in runs]}

    @app.post("/api/missions/{mission_id}/flights", tags=["flights"], status_code=201)
    def upload_flight(
        mission_id: PathId,
        request: Request,
        response: Response,
        s: DurableDB,
        p: Staff,
        file: Annotated[
            UploadFile,
            File(description="any supported flight log (CSV, tlog, DataFlash .bin, ULog), or a beam data set as a ZIP"),
        ],
        origin: Annotated[
            str | None, Form(description="a beam data set's origin 'LAT,LON' (its geometry is in metres about it)")
        ] = None,
    ):
        """Upload a flight log, or a beam or fixed-sensor data set: a ZIP of ``beams.csv``,
        ``measurements.csv`` and ``wind.csv`` (as ``plumescout analyze DIR`` reads) with its
        ``origin``. It is kept byte for byte with its SHA-256; the same file again is acknowledged
        with the one already stored (200, ``duplicate: true``; 409 if given another origin). The
        answer comes only after the file and its record are on disk."""
        m = get_mission(s, p, mission_id)
        name = Path(file.filename or "flight").name[:300] or "flight"
        limit = settings.max_upload_mb << 20
        fd, tmp = tempfile.mkstemp(dir=data / "tmp", prefix="upload-")
        tmp = Path(tmp)
        try:
            h, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while block := file.file.read(1 << 20):
                    size += len(block)
                    if size > limit:
                        raise HTTPException(413, f"{name}: larger than {settings.max_upload_mb} MB")
                    h.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            beamset = is_beam_archive(tmp)
            with _refusing(name):
                if beamset:
                    at = list(parse_origin(origin, name))
                elif origin is not None:
                    msg = "an origin is for a beam data set (a ZIP), not for a flight log"
                    raise InputError(name, msg, column="origin")
            old = s.scalar(select(Flight).where(Flight.mission_id == m.id, Flight.sha256 == digest))
            if old is not None:
                if beamset and old.origin != at:
                    raise HTTPException(
                        status.HTTP_409_CONFLICT,
                        f"{name}: already uploaded as flight {old.id} with origin {old.origin}; not stored twice",
                    )
                response.status_code = status.HTTP_200_OK
                return {**_flight(old), "duplicate": True}
            obs = None
            if beamset:
                fmt, samples, species, repairs = _read_beamset(tmp, name, limit)
            else:
                fmt, obs = _read_flight(tmp, name)
                samples, species, repairs, at = len(obs), sorted(obs.species), [str(r) for r in obs.repairs], None
            blob = data / "blobs" / digest
            if blob.exists():
                tmp.unlink()
            else:
                tmp.replace(blob)
                _fsync_dir(blob.parent)
            f = Flight(
                mission_id=m.id,
                filename=name,
                sha256=digest,
                size_bytes=size,
                format=fmt,
                samples=samples,
                species=species,
                repairs=repairs,
                origin=at,
                started_at=None if beamset else obs.start_time,
                ended_at=None if beamset else obs.end_time,
                uploaded_by=p.user_id,
            )
            s.add(f)
            try:
                s.flush()
            except IntegrityError:  # the same file uploaded concurrently: the other one won
                s.rollback()
                old = s.scalar(select(Flight).where(Flight.mission_id == m.id, Flight.sha256 == digest))
                response.status_code = status.HTTP_200_OK
                return {**_flight(old), "duplicate": True}
            audit(s, p, "flight.upload", "flight", f.id, request, sha256=digest, filename=name, size=size)
            s.commit()
            return {**_flight(f), "duplicate": False}
        finally:
            tmp.unlink(missing_ok=True)

    @app.get("/api/missions/{mission_id}/flights", tags=["flights"])
    def list_flights(mission_id: PathId, s: DB, p: Staff):
        m = get_mission(s, p, mission_id)
        return [_flight(f) for f in s.scalars(select(Flight).where(Flight.mission_id == m.id).order_by(Flight.id))]

    @app.get("/api/flights/{flight_id}", tags=["flights"])
    def read_flight(flight_id: PathId, s: DB, p: Staff):
        return _flight(get_flight(s, p, flight_id))

    @app.get("/api/flights/{flight_id}/raw", tags=["flights"])
    def flight_raw(flight_id: PathId, request: Request, s: DB, p: Staff):
        """The uploaded file, byte for byte."""
        f = get_flight(s, p, flight_id)
        audit(s, p, "flight.download", "flight", f.id, request)
        s.commit()
        return FileResponse(data / "blobs" / f.sha256, filename=f.filename, media_type="application/octet-stream")

    # ------------------------------------------------------------ analysis runs
    @app.post("/api/missions/{mission_id}/runs", tags=["runs"], status_code=202)
    def start_run(mission_id: PathId, body: RunIn, request: Request, s: DurableDB, p: Staff):
        """Queue an analysis of one flight; follow it at ``/api/runs/{id}``. ``estimator``: the
        settings this mission needs (a rate cap above the releases hunted, a known source height,
        a wider search area); refused, naming the fields, before anything is queued."""
        m = get_mission(s, p, mission_id)
        chosen = []
        for fid in body.flights:
            f = s.get(Flight, fid)
            if f is None or f.mission_id != m.id:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flight {fid} in mission {m.id}")
            chosen.append(f)
        if len(chosen) > 1:
            _check_sorties(chosen)
        # the run's flight: a beam data set the flights flew over (their frame is its origin), else
        # the first sortie; the others follow it in clock order
        beams = [c for c in chosen if c.format == "beams"]
        logs = sorted((c for c in chosen if c.format != "beams"), key=lambda c: c.started_at or datetime.min)
        chosen = beams + logs
        f = chosen[0]
        # the mission's settings, and over them the run's own; checked before anything is queued
        own = body.estimator.model_dump(exclude_none=True) if body.estimator else {}
        asked = _estimator_settings({**(m.settings or {}).get("estimator", {}), **own})
        r = AnalysisRun(
            mission_id=m.id,
            flight_id=f.id,
            created_by=p.user_id,
            settings={
                "signatures": str(settings.signatures) if settings.signatures else None,
                "estimator": asked,
                **({"flights": [c.id for c in chosen]} if len(chosen) > 1 else {}),
            },
        )
        s.add(r)
        s.flush()
        audit(s, p, "run.start", "run", r.id, request, flight_ids=[c.id for c in chosen], estimator=asked)
        s.commit()
        if state["jobs"] is not None:
            state["jobs"].submit(r.id)
        return _run(r)

    @app.get("/api/missions/{mission_id}/runs", tags=["runs"])
    def list_runs(mission_id: PathId, s: DB, p: Staff):
        m = get_mission(s, p, mission_id)
        q = select(AnalysisRun).where(AnalysisRun.mission_id == m.id).order_by(AnalysisRun.id)
        return [_run(r) for r in s.scalars(q)]

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def read_run(run_id: PathId, s: DB, p: Staff):
        """State, progress (0-1), stage and log of a run; its reports once done."""
        r = get_run(s, p, run_id)
        reports = s.scalars(select(Report.id).where(Report.run_id == r.id).order_by(Report.id)).all()
        return {**_run(r, with_log=True), "reports": list(reports)}

    @app.get("/api/runs/{run_id}/track", tags=["runs"])
    def run_track(run_id: PathId, s: DB, p: Staff):
        """The flight track (decimated) with the gas enhancement along it, for the map."""
        r = get_run(s, p, run_id)
        path = run_dir(data, r.id) / "track.json"
        if r.state != "done" or not path.exists():
            raise HTTPException(status.HTTP_409_CONFLICT, f"run {r.id} is {r.state}")
        return JSONResponse(json.loads(path.read_text(encoding="utf-8")))

    # ------------------------------------------------------------ reports
    @app.get("/api/reports", tags=["reports"])
    def list_reports(
        request: Request,
        s: DB,
        p: Who,
        mission_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        report_status: Annotated[Literal["candidate", "confirmed", "dismissed"] | None, Query(alias="status")] = None,
        bbox: Annotated[
            str | None,
            Query(
                max_length=200,
                pattern=r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
                description="west,south,east,north in degrees (WGS84)",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ):
        """The reports the caller may see: its organisation's, or for a partner those released to it;
        optionally only those inside ``bbox``."""
        q = select(Report)
        if p.is_staff:
            q = q.where(Report.org_id == p.org_id)
        else:
            q = q.join(Release, Release.report_id == Report.id).where(
                Release.org_id == p.org_id, Release.withdrawn_at.is_(None)
            )
        if mission_id is not None:
            q = q.where(Report.mission_id == mission_id)
        if report_status is not None:
            q = q.where(Report.status == report_status)
        if bbox is not None:
            try:
                w, so, e, n = (float(v) for v in bbox.split(","))
            except ValueError:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bbox: not four numbers: {bbox}") from None
            if not (-180 <= w <= e <= 180 and -90 <= so <= n <= 90):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "bbox must be west<=east, south<=north")
            q = q.where(Report.lon.between(w, e), Report.lat.between(so, n))
        rows = s.scalars(q.order_by(Report.id.desc()).limit(limit)).all()
        audit(s, p, "report.list", "report", None, request, ids=[r.id for r in rows])
        s.commit()
        return JSONResponse([_report(r) for r in rows])  # plain JSON types already: skip the encoder

    @app.get("/api/reports/{report_id}", tags=["reports"])
    def read_report(report_id: PathId, request: Request, s: DB, p: Who):
        r = get_report(s, p, report_id)
        out = _report(r)
        out["evidence"] = [k for k, v in EVIDENCE.items() if (run_dir(data, r.run_id) / v).exists()]
        out["feature"] = r.feature
        if p.is_staff:
            evs = s.scalars(select(ReportEvent).where(ReportEvent.report_id == r.id).order_by(ReportEvent.id))
            out["history"] = [_event(e) for e in evs]
            rels = s.scalars(select(Release).where(Release.report_id == r.id).order_by(Release.id))
            out["releases"] = [
                {"org_id": x.org_id, "released_at": _iso(x.released_at), "withdrawn_at": _iso(x.withdrawn_at)}
                for x in rels
            ]
        audit(s, p, "report.read", "report", r.id, request)
        s.commit()
        return JSONResponse(out)

    def _change(s, p, r: Report, kind: str, request, **detail):
        r.version += 1
        r.updated_at = now()
        s.add(ReportEvent(report_id=r.id, user_id=p.user_id, kind=kind, detail=detail))
        audit(s, p, f"report.{kind}", "report", r.id, request, **detail)
        s.commit()

    @app.patch("/api/reports/{report_id}", tags=["reports"])
    def update_report(report_id: PathId, body: ReportPatch, request: Request, s: DurableDB, p: Staff):
        """Change the status (candidate / confirmed / dismissed). Give ``version`` to be refused
        (409) if someone changed the report since you read it."""
        r = get_report(s, p, report_id)
        if body.version is not None and body.version != r.version:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"report {r.id} is at version {r.version}, not {body.version}"
            )
        old = r.status
        r.status = body.status
        _change(s, p, r, "status", request, old=old, new=body.status, reason=body.reason)
        return _report(r)

    @app.post("/api/reports/{report_id}/notes", tags=["reports"], status_code=201)
    def add_note(report_id: PathId, body: NoteIn, request: Request, s: DurableDB, p: Staff):
        r = get_report(s, p, report_id)
        _change(s, p, r, "note", request, text=body.text)
        return _report(r)

    @app.post("/api/reports/{report_id}/releases", tags=["reports"], status_code=201)
    def release(report_id: PathId, body: ReleaseIn, request: Request, s: DurableDB, p: Staff):
        """Release the report to a partner organisation."""
        r = get_report(s, p, report_id)
        org = s.get(Organisation, body.org_id)
        if org is None or org.id == p.org_id:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no partner organisation {body.org_id}")
        rel = s.scalar(select(Release).where(Release.report_id == r.id, Release.org_id == org.id))
        if rel is None:
            s.add(Release(report_id=r.id, org_id=org.id, released_by=p.user_id))
        else:
            rel.withdrawn_at, rel.released_at, rel.released_by = None, now(), p.user_id
        _change(s, p, r, "release", request, org_id=org.id, org=org.name)
        return {"report_id": r.id, "org_id": org.id, "released": True}

    @app.delete("/api/reports/{report_id}/releases/{org_id}", tags=["reports"], status_code=204)
    def withdraw(
        report_id: PathId,
        org_id: PathId,
        request: Request,
        s: DurableDB,
        p: Staff,
    ):
        r = get_report(s, p, report_id)
        rel = s.scalar(select(Release).where(Release.report_id == r.id, Release.org_id == org_id))
        if rel is None or rel.withdrawn_at is not None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"report {r.id} is not released to organisation {org_id}")
        rel.withdrawn_at = now()
        _change(s, p, r, "withdraw", request, org_id=org_id)
        return Response(status_code=204)

    def _export(s, p, r, request, fmt):
        audit(s, p, "report.export", "report", r.id, request, format=fmt)
        s.commit()

    @app.get("/api/reports/{report_id}/geojson", tags=["exports"])
    def report_geojson(report_id: PathId, request: Request, s: DB, p: Who):
        """The source as GeoJSON (FORMATS.md section 2) with the run's provenance."""
        r = get_report(s, p, report_id)
        run = s.get(AnalysisRun, r.run_id)
        feat = json.loads(json.dumps(r.feature))
        feat["properties"].update({"report_uid": r.uid, "status": r.status, "report_version": r.version})
        doc = {"type": "FeatureCollection", "features": [feat], "properties": run.provenance or {}}
        _export(s, p, r, request, "geojson")
        return JSONResponse(doc, media_type="application/geo+json")

    @app.get("/api/reports/{report_id}/kml", tags=["exports"])
    def report_kml(report_id: PathId, request: Request, s: DB, p: Who):
        r = get_report(s, p, report_id)
        path = run_dir(data, r.run_id) / f"{r.source_id}.kml"
        if not path.exists():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"report {r.id} has no KML")
        _export(s, p, r, request, "kml")
        return FileResponse(path, media_type="application/vnd.google-earth.kml+xml", filename=f"{r.uid}.kml")

    @app.get("/api/reports/{report_id}/cot", tags=["exports"])
    def report_cot(report_id: PathId, request: Request, s: DB, p: Who):
        """The source as a Cursor-on-Target event (full precision; ``ce`` at one sigma)."""
        r = get_report(s, p, report_id)
        _export(s, p, r, request, "cot")
        return Response(cot.report_event(r), media_type="application/xml")

    FOLLOW_UP_FORMATS = {
        "plan": ("plan", "application/json"),
        "waypoints": ("waypoints", "text/plain"),
        "kml": ("kml", "application/vnd.google-earth.kml+xml"),
    }

    @app.get("/api/reports/{report_id}/follow-up", tags=["exports"])
    def report_follow_up(
        report_id: PathId,
        request: Request,
        s: DB,
        p: Staff,
        fmt: Annotated[Literal["plan", "waypoints", "kml"], Query(alias="format")] = "plan",
        altitude: Annotated[float | None, Query(gt=0, le=120, description="m above take-off")] = None,
        wind_from: Annotated[float | None, Query(ge=0, lt=360, description="deg")] = None,
        wind_speed: Annotated[float | None, Query(gt=0.3, le=30, description="m/s")] = None,
        speed: Annotated[float, Query(gt=0, le=40, description="survey speed, m/s")] = 5.0,
        endurance: Annotated[float, Query(gt=0, le=86400, description="s per sortie")] = 1800.0,
        sortie: Annotated[int, Query(ge=1, le=1000)] = 1,
        min_altitude: Annotated[
            float | None, Query(ge=0, le=120, description="the lowest height the site allows, m (obstacles)")
        ] = None,
    ):
        """The flight that pins this source down (``plumescout follow-up``): crosswind lines over
        its 90 % region, spaced to resolve it and to cross its plume three times. One sortie as a
        QGroundControl plan or QGC WPL waypoints (``X-Sorties`` tells how many), or every sortie
        as KML. The wind, altitude and stability default to the analysed flight's (``X-Stability``
        says which); ``X-Altitude-M`` is the height flown: where the weakest plume never reaches
        the altitude, the lines are laid lower, where it would be seen (no lower than 5 m or
        ``min_altitude``), and ``X-Follow-Up-Advice`` says so; where the plume first reaches the
        altitude beyond the region, ``X-Lower-Altitude-M`` and ``X-Follow-Up-Advice`` say how low
        it would be seen within it. ``X-Rate-G-S`` is the rate the lines were laid for: the low
        end of the rate interval, or, where the survey crossed the plume, no less than the weakest
        plume its height sees."""
        from ..planning.export import write_mission_kml, write_qgc_plan, write_wpl
        from ..planning.followup import (
            below_altitude_advice,
            lower_altitude,
            lower_altitude_advice,
            parse_analysis,
            plan_every_target,
        )
        from ..planning.mission import Aircraft, MissionSettings

        r = get_report(s, p, report_id)
        run = s.get(AnalysisRun, r.run_id)
        doc = {"type": "FeatureCollection", "features": [r.feature], "properties": run.provenance or {}}
        try:
            an = parse_analysis(doc, f"report {r.uid}")
            flight = an.flight({"wind_from": wind_from, "wind_speed": wind_speed, "altitude": altitude})
            floor = min(5.0, flight["altitude_m"]) if min_altitude is None else min_altitude
            craft = Aircraft(speed_m_s=speed, endurance_s=endurance, min_altitude_m=floor)
            st = MissionSettings(**flight, stability=an.stability(), aircraft=[craft])
            plans, refused = plan_every_target(an.targets, st)
            if not plans:
                raise ConfigError("; ".join(refused.values()))
            (f,) = plans
            below = f.mission.settings.altitude_m != st.altitude_m  # too weak to see at the altitude
            low = None if below else lower_altitude(an.targets[0], st)
        except (InputError, ConfigError, ValueError) as exc:  # (pydantic's ValidationError is a ValueError)
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        m = f.mission
        if sortie > len(m.sorties):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"the follow-up has {len(m.sorties)} sortie(s)")
        ext, media = FOLLOW_UP_FORMATS[fmt]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"follow-up.{ext}"
            if fmt == "plan":
                write_qgc_plan(out, m, m.sorties[sortie - 1], an.frame)
            elif fmt == "waypoints":
                write_wpl(out, m, m.sorties[sortie - 1], an.frame)
            else:
                write_mission_kml(out, m, an.frame, name=f"plumescout follow-up: {r.title}")
            body = out.read_bytes()
        _export(s, p, r, request, f"follow-up.{fmt}")
        headers = {
            "Content-Disposition": f'attachment; filename="{r.uid}-follow-up.{ext}"',
            "X-Sorties": str(len(m.sorties)),
            "X-Stability": str(st.stability),  # what the lines were laid for (the run's fitted index)
            "X-Altitude-M": f"{m.settings.altitude_m:g}",
            # the rate its lines were laid for: the rate interval's low end, or the weakest plume
            # the survey's height sees where that is more (planning.followup.planned_rate)
            "X-Rate-G-S": f"{f.rates_g_s[an.targets[0].id]:.4g}",
        }
        if below:
            headers["X-Follow-Up-Advice"] = below_altitude_advice(st.altitude_m, m.settings.altitude_m, "min_altitude=")
        if low is not None:  # the plume first reaches the flight's height beyond the region
            t = an.targets[0]
            headers["X-Lower-Altitude-M"] = f"{low[0]:g}"
            headers["X-Follow-Up-Advice"] = lower_altitude_advice(
                t, st.altitude_m, f.reach_m[t.id][0], low, "altitude="
            )
        return Response(body, media_type=media, headers=headers)

    @app.post("/api/reports/{report_id}/cot/push", tags=["exports"])
    async def push_cot(report_id: PathId, request: Request, p: Staff):
        """Send the report's CoT event to the configured TAK server (``--tak-url``)."""
        with Session_() as s:
            r = get_report(s, p, report_id)
            event = cot.report_event(r)
        if not settings.tak_url:
            raise HTTPException(status.HTTP_409_CONFLICT, "no TAK server configured (serve --tak-url)")
        try:
            await cot.send_events(settings.tak_url, [event], settings.tak_tls)
        except (OSError, TimeoutError) as exc:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"TAK server {settings.tak_url}: {exc}") from None
        with Session_() as s:
            audit(s, p, "report.push", "report", r.id, request, url=settings.tak_url)
            s.commit()
        return {"report_id": r.id, "sent_to": settings.tak_url}

    @app.get("/api/reports/{report_id}/evidence/{name}", tags=["reports"])
    def evidence(
        report_id: PathId,
        name: Literal["map", "species"],
        request: Request,
        s: DB,
        p: Who,
    ):
        """Evidence plots: ``map`` (posterior over the area with the track, rate posterior, residuals)
        and ``species`` (the co-measured enhancements against each signature class)."""
        r = get_report(s, p, report_id)
        path = run_dir(data, r.run_id) / EVIDENCE[name]
        if not path.exists():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"report {r.id} has no '{name}' evidence")
        _export(s, p, r, request, f"evidence:{name}")
        return FileResponse(path, media_type="image/png")

    # ------------------------------------------------------------ audit
    @app.get("/api/audit", tags=["admin"])
    def read_audit(
        s: DB,
        p: Admin,
        report_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        action: Annotated[str | None, Query(max_length=50)] = None,
        after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ):
        """The append-only audit log, oldest first; page with ``after_id``."""
        q = select(AuditEntry).where(AuditEntry.id > after_id)
        if report_id is not None:
            q = q.where(AuditEntry.resource == "report", AuditEntry.resource_id == report_id)
        if user_id is not None:
            q = q.where(AuditEntry.user_id == user_id)
        if action is not None:
            q = q.where(AuditEntry.action == action)
        rows = s.scalars(q.order_by(AuditEntry.id).limit(limit))
        return [
            {
                "id": a.id,
                "at": _iso(a.at),
                "user_id": a.user_id,
                "org_id": a.org_id,
                "action": a.action,
                "resource": a.resource,
                "resource_id": a.resource_id,
                "detail": a.detail,
                "client": a.client,
            }
            for a in rows
        ]

    # ------------------------------------------------------------ dashboard
    @app.get("/", include_in_schema=False)
    def index():
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _estimator_settings(asked) -> dict:
    """Estimator settings (an :class:`EstimatorIn` or a dict of its fields) as plain data, checked
    by the estimator itself (a cap below the scale, ...): 422 naming the fields."""
    from ..inference import EstimatorConfig  # here: the estimator's imports cost the server's start 0.9 s

    if isinstance(asked, BaseModel):
        asked = asked.model_dump(exclude_none=True)
    asked = dict(asked or {})
    try:
        EstimatorConfig(**asked)
    except ConfigError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"estimator: {exc}") from None
    return asked


def _check_sorties(flights) -> None:
    """Logs to be estimated together: flight logs with clock times (sorties flown in turn, and
    aircraft flown at the same time), and at most one beam data set they flew over (one flight
    over it needs no clock times); else 422 naming the flights. A log that repeats another's
    samples is refused by the job, which reads them."""
    beams = [f for f in flights if f.format == "beams"]
    if len(beams) > 1:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "one beam data set at a time (with the flights over it): "
            + ", ".join(f"flight {f.id} ({f.filename})" for f in beams),
        )
    logs = [f for f in flights if f.format != "beams"]
    for f in logs if len(logs) > 1 else []:
        if f.started_at is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"flight {f.id} ({f.filename}) has no clock times (seconds from its start): sorties are joined "
                "by clock time",
            )


@contextmanager
def _refusing(name: str, path: Path | None = None):
    """``with _refusing(name, path):`` an :class:`InputError` inside becomes a 422 naming the file
    (the upload's ``name`` where the error names its temporary ``path``), line and field."""
    try:
        yield
    except InputError as exc:
        where = exc.path if path is None else exc.path.replace(str(path), name)
        detail = {"file": where, "line": exc.line, "field": exc.column, "message": exc.reason}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None


def _read_beamset(path: Path, name: str, limit: int):
    """Check an uploaded beam data set with ``analyze``'s reader: (format, readings, species,
    notes). Refusals name the archive, its member, the line and the field."""
    from ..errors import InputError
    from ..inference.data import read_beam_dataset

    with tempfile.TemporaryDirectory(prefix="beamset-") as d, _refusing(name):
        bs = extract(path, Path(d), name, limit)
        try:
            data = read_beam_dataset(bs.directory, bs.species)
        except InputError as exc:
            raise bs.where(exc, name) from None
        notes = [f"archive member {m} not used" for m in bs.ignored]
        if data.readings_skipped:
            notes.append(f"{data.readings_skipped} reading(s) left out (nan, or their minute's wind nan)")
        return "beams", len(data), [bs.species], notes


def _read_flight(path: Path, name: str):
    """Parse an upload with the same readers as ``plumescout analyze``; refusals name the file."""
    from ..errors import PlumescoutError
    from ..flightlog.autopilot import sniff_format
    from ..pipeline import load_observations

    try:
        with _refusing(name, path):
            fmt = sniff_format(path)
            obs = load_observations(path)
    except PlumescoutError as exc:  # a refusal other than a malformed line (those are 422 above)
        msg = str(exc).replace(str(path), name)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"file": name, "message": msg}) from None
    if len(obs) == 0:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"file": name, "message": "no samples"})
    return fmt, obs


def bootstrap(settings: ServiceSettings, org: str, admin: str, password: str | None = None) -> tuple[int, str]:
    """Create the first organisation and its admin (idempotent for an existing org), and return
    ``(user id, API token)``: the token is shown once and stored only as its SHA-256."""
    url = settings.url
    migrate(url)
    engine = make_engine(url)
    try:
        with sessions(engine)() as s:
            o = s.scalar(select(Organisation).where(Organisation.name == org))
            if o is None:
                o = Organisation(name=org)
                s.add(o)
                s.flush()
            u = s.scalar(select(User).where(User.username == admin))
            if u is None:
                u = User(
                    username=admin,
                    org_id=o.id,
                    role="admin",
                    password_hash=hash_password(password) if password else None,
                )
                s.add(u)
                s.flush()
            token, digest, prefix = new_api_token()
            s.add(ApiToken(user_id=u.id, name="bootstrap", token_sha256=digest, prefix=prefix))
            s.add(AuditEntry(user_id=u.id, org_id=o.id, action="token.create", resource="token", detail={"via": "cli"}))
            s.commit()
            return u.id, token
    finally:
        engine.dispose()

"""The service's store: SQLAlchemy models, engines for SQLite (WAL) and PostgreSQL, and the
Alembic migrations that create and upgrade the schema.

One SQLite file by default (``sqlite:///PATH``; WAL journal, foreign keys on; see
:func:`make_engine` for what is synced when), any
PostgreSQL by URL (``postgresql+psycopg://...``). The schema is only ever created by the
migrations in ``migrations/`` (:func:`migrate`), never by ``create_all``; a test checks that the
migrations and these models agree.

The audit log is append-only in the database itself: a trigger refuses UPDATE and DELETE on it in
both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

__all__ = [
    "Base",
    "Organisation",
    "User",
    "ApiToken",
    "Mission",
    "Flight",
    "AnalysisRun",
    "Report",
    "ReportEvent",
    "Release",
    "AuditEntry",
    "ROLES",
    "REPORT_STATUSES",
    "RUN_STATES",
    "database_url",
    "make_engine",
    "migrate",
    "now",
]

ROLES = ("admin", "analyst", "partner")
REPORT_STATUSES = ("candidate", "confirmed", "dismissed")
RUN_STATES = ("queued", "running", "done", "failed")


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    org: Mapped[Organisation] = relationship(lazy="joined")


class ApiToken(Base):
    """An API token: only its SHA-256 is stored (tokens are 256-bit random, so a fast hash is
    enough; passwords, which are not, use Argon2)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    user: Mapped[User] = relationship(lazy="joined")


class Mission(Base):
    __tablename__ = "missions"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # what the mission asks of every run: {"estimator": {...}} (a run's own settings override it)
    settings: Mapped[dict | None] = mapped_column(JSON, default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class Flight(Base):
    """An uploaded flight log, or a beam data set (a ZIP of its three CSVs, ``format`` "beams"),
    kept verbatim under ``blobs/<sha256>``."""

    __tablename__ = "flights"
    __table_args__ = (UniqueConstraint("mission_id", "sha256", name="uq_flight_mission_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(20))
    samples: Mapped[int] = mapped_column(Integer)
    species: Mapped[list] = mapped_column(JSON, default=list)
    repairs: Mapped[list] = mapped_column(JSON, default=list)
    # a beam data set's origin [lat, lon] (its geometry is in local metres about it); None: a flight log
    origin: Mapped[list | None] = mapped_column(JSON, default=None)
    # a flight log's first and last clock time (None: its times are seconds from its start)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=now)


class AnalysisRun(Base):
    __tablename__ = "analysis_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"), index=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(100), default="")
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    provenance: Mapped[dict | None] = mapped_column(JSON, default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Report(Base):
    """One estimated source of one analysis run, and what analysts made of it."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    location_ci90_m: Mapped[float] = mapped_column(Float)
    species: Mapped[str] = mapped_column(String(20))
    rate_g_s: Mapped[float] = mapped_column(Float)
    rate_g_s_lo: Mapped[float] = mapped_column(Float)
    rate_g_s_hi: Mapped[float] = mapped_column(Float)
    probability: Mapped[float] = mapped_column(Float)
    source_class: Mapped[str | None] = mapped_column(String(100), default=None)
    feature: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class ReportEvent(Base):
    """The report's history: created, status changes, notes, releases and withdrawals."""

    __tablename__ = "report_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=now)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("report_id", "org_id", name="uq_release_report_org"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    released_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime] = mapped_column(default=now)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """Append-only: a database trigger refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), default=None)
    action: Mapped[str] = mapped_column(String(50), index=True)
    resource: Mapped[str] = mapped_column(String(50))
    resource_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    client: Mapped[str | None] = mapped_column(String(100), default=None)


def database_url(db: str | Path) -> str:
    """A path means an SQLite file; anything with ``://`` is a SQLAlchemy URL."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(synchronous: str):
    def on_connect(dbapi_connection, _record):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return on_connect


def make_engine(url: str, synchronous: str = "FULL", **kwargs) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout (several
    processes write: the server and its analysis workers).

    ``synchronous``: SQLite's ``FULL`` (the default) makes every commit survive a power cut;
    ``NORMAL`` (SQLite's advice for WAL) survives the process being killed, but the last commits may
    roll back on power loss. The service commits what it acknowledges to a user (uploads, status,
    releases, tokens) through a FULL engine, and the audit entries of plain reads through a NORMAL
    one. PostgreSQL commits are always durable."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(synchronous))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating it if new)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)

"""The store on both backends (SQLite here, PostgreSQL where PLUMESCOUT_TEST_PG_URL is set, always
on CI): migrations, the append-only audit log, uploads kept verbatim and idempotent, reports."""

import hashlib

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from plumescout.service.db import Base, alembic_config, make_engine, migrate


def test_migrations_build_exactly_the_models_and_go_down_and_up(store_url):
    migrate(store_url)
    engine = make_engine(store_url)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    command.downgrade(alembic_config(store_url), "base")
    with engine.connect() as c:
        tables = set(MigrationContext.configure(c).impl.dialect.get_table_names(c)) - {"alembic_version"}
    assert tables == set()
    migrate(store_url)
    engine.dispose()


def test_sqlite_store_runs_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_audit_log_refuses_update_and_delete(world):
    w = world
    w.get("admin", "/api/reports")  # writes an audit entry
    engine = make_engine(w.settings.url)
    with engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM audit_log")).scalar()
        assert n > 0
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with engine.connect() as c, pytest.raises(DBAPIError, match="append-only"):
            c.execute(text(sql))
            c.commit()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log")).scalar() == n
    engine.dispose()


def test_upload_is_verbatim_and_idempotent(world, flight_csv):
    w = world
    m = w.post("analyst", "/api/missions", json={"name": "m"}).json()
    raw = flight_csv.read_bytes()
    r1 = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("a.csv", raw)})
    assert r1.status_code == 201, r1.text
    assert r1.json()["sha256"] == hashlib.sha256(raw).hexdigest()
    assert r1.json()["duplicate"] is False
    r2 = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("renamed.csv", raw)})
    assert r2.status_code == 200
    assert r2.json()["id"] == r1.json()["id"] and r2.json()["duplicate"] is True
    assert len(w.get("analyst", f"/api/missions/{m['id']}/flights").json()) == 1
    got = w.get("analyst", f"/api/flights/{r1.json()['id']}/raw")
    assert got.status_code == 200 and got.content == raw


def test_bad_flight_is_refused_with_file_line_and_field_and_nothing_is_kept(world, flight_csv, tmp_path):
    w = world
    m = w.post("analyst", "/api/missions", json={"name": "m"}).json()
    lines = flight_csv.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("lat")
    for i in range(5, len(lines)):  # every latitude from line 6 on unreadable: the reader gives up
        row = lines[i].split(",")
        row[col] = "north"
        lines[i] = ",".join(row)
    bad = ("\n".join(lines) + "\n").encode()
    r = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("broken.csv", bad)})
    assert r.status_code == 422, r.text
    d = r.json()["detail"]
    assert d["file"] == "broken.csv" and d["line"] == 6 and d["field"] == "lat", d
    assert w.get("analyst", f"/api/missions/{m['id']}/flights").json() == []
    assert list((w.settings.data_path / "tmp").iterdir()) == []
    assert list((w.settings.data_path / "blobs").iterdir()) == []
    # what was accepted before stays
    ok = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("good.csv", flight_csv.read_bytes())})
    assert ok.status_code == 201
    r = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("empty.csv", b"")})
    assert r.status_code == 422 and r.json()["detail"]["file"] == "empty.csv"
    assert [f["filename"] for f in w.get("analyst", f"/api/missions/{m['id']}/flights").json()] == ["good.csv"]


def test_acknowledged_changes_go_through_a_full_sync_engine_and_reads_through_normal(tmp_path):
    from plumescout.service.app import create_app
    from plumescout.service.settings import ServiceSettings

    app = create_app(ServiceSettings(db=str(tmp_path / "x.db")), start_jobs=False)
    durable, fast = app.state.engines
    for engine, level in ((durable, 2), (fast, 1)):  # SQLite: 2 = FULL, 1 = NORMAL
        with engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == level
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    # the routes that acknowledge a change use the durable engine
    routes = {r.name: r for r in app.routes if hasattr(r, "dependant")}
    for name in ("upload_flight", "update_report", "release", "create_token", "revoke_token"):
        deps = [d.call.__name__ for d in routes[name].dependant.dependencies]
        assert "durable_db" in deps, name
    assert "durable_db" not in [d.call.__name__ for d in routes["read_report"].dependant.dependencies]
    for e in (durable, fast):
        e.dispose()

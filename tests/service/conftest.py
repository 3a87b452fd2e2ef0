"""Fixtures for the service: stores on both backends, a populated world of organisations, users
and tokens, and one real analysis (the estimator run by the job system) shared by the tests."""

import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402

from plumescout.service.app import bootstrap, create_app  # noqa: E402
from plumescout.service.db import AnalysisRun, Report, ReportEvent, make_engine, sessions  # noqa: E402
from plumescout.service.settings import ServiceSettings  # noqa: E402

PG_ENV = "PLUMESCOUT_TEST_PG_URL"


def pg_url() -> str:
    """The PostgreSQL test database; skipped where none is configured, but never on CI
    (.ci/run installs and starts PostgreSQL and sets PLUMESCOUT_TEST_PG_URL)."""
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set on CI: .ci/run should have started PostgreSQL")
        pytest.skip(f"PostgreSQL store tests skipped: set {PG_ENV} (e.g. postgresql+psycopg://u:p@127.0.0.1/db)")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # tests run in parallel (pytest-xdist): each worker in a schema of its own
        url = make_url(url).update_query_dict({"options": f"-csearch_path={worker}"}).render_as_string(False)
    return url


def reset_pg(url: str) -> None:
    """An empty schema: the worker's own (see :func:`pg_url`), else ``public``."""
    opts = make_url(url).query.get("options", "")
    schema = opts.split("search_path=", 1)[1] if "search_path=" in opts else "public"
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """An empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = pg_url()
    reset_pg(url)
    return url


@dataclass
class World:
    """Two agencies and two partner organisations, with a user and token of every role."""

    client: TestClient
    settings: ServiceSettings
    tokens: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    orgs: dict = field(default_factory=dict)

    def h(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who, path, **kw):
        return self.client.get(path, headers=self.h(who), **kw)

    def post(self, who, path, **kw):
        return self.client.post(path, headers=self.h(who), **kw)


def populate(client: TestClient, settings: ServiceSettings) -> World:
    w = World(client, settings)
    uid, tok = bootstrap(settings, "Agency", "admin", "correct horse battery")
    w.tokens["admin"], w.users["admin"] = tok, uid
    w.orgs["Agency"] = client.get("/api/me", headers=w.h("admin")).json()["org_id"]
    for org in ("Agency2", "PartnerA", "PartnerB"):
        r = client.post("/api/organisations", json={"name": org}, headers=w.h("admin"))
        assert r.status_code == 201, r.text
        w.orgs[org] = r.json()["id"]
    for name, org, role in (
        ("analyst", "Agency", "analyst"),
        ("analyst2", "Agency2", "analyst"),
        ("partner_a", "PartnerA", "partner"),
        ("partner_b", "PartnerB", "partner"),
    ):
        r = client.post(
            "/api/users",
            json={"username": name, "org_id": w.orgs[org], "role": role, "password": f"pw-{name}-123"},
            headers=w.h("admin"),
        )
        assert r.status_code == 201, r.text
        w.users[name] = r.json()["id"]
        r = client.post("/api/tokens", json={"name": "t", "user_id": w.users[name]}, headers=w.h("admin"))
        assert r.status_code == 201, r.text
        w.tokens[name] = r.json()["token"]
    return w


@pytest.fixture
def world(store_url, tmp_path):
    settings = ServiceSettings(db=store_url, data_dir=tmp_path / "data", jwt_secret="test-secret-" + "x" * 32)
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        yield populate(client, settings)
    app.state.engine.dispose()


def seed(w: World, flight_csv) -> dict:
    """A mission with a flight, a finished run and one report of Agency (made-up numbers: for access
    and robustness tests), released to PartnerA; returns the ids to fill paths with."""
    m = w.post("analyst", "/api/missions", json={"name": "m"}).json()
    f = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("f.csv", flight_csv.read_bytes())})
    f = f.json()
    engine = make_engine(w.settings.url)
    with sessions(engine).begin() as s:
        run = AnalysisRun(mission_id=m["id"], flight_id=f["id"], created_by=w.users["analyst"], state="done")
        s.add(run)
        s.flush()
        feat = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-105.0, 40.0]}, "properties": {}}
        rep = Report(
            mission_id=m["id"],
            run_id=run.id,
            org_id=w.orgs["Agency"],
            uid="r" * 32,
            source_id="S1",
            title="t",
            lat=40.0,
            lon=-105.0,
            location_ci90_m=10.0,
            species="ch4",
            rate_g_s=0.5,
            rate_g_s_lo=0.3,
            rate_g_s_hi=0.8,
            probability=0.9,
            feature=feat,
        )
        s.add(rep)
        s.flush()
        s.add(ReportEvent(report_id=rep.id, kind="created"))
        ids = {"mission_id": m["id"], "flight_id": f["id"], "run_id": run.id, "report_id": rep.id}
    engine.dispose()
    r = w.post("analyst", f"/api/reports/{ids['report_id']}/releases", json={"org_id": w.orgs["PartnerA"]})
    assert r.status_code == 201, r.text
    tok = w.post("analyst", "/api/tokens", json={"name": "mine"}).json()
    ids["token_id"] = tok["id"]
    ids["org_id"] = w.orgs["PartnerA"]
    ids["name"] = "map"
    return ids


def wait_run(client, headers, run_id, timeout_s=240.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        run = client.get(f"/api/runs/{run_id}", headers=headers).json()
        if run["state"] in ("done", "failed"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s: {run}")


@pytest.fixture(scope="session")
def flight_csv(tmp_path_factory, single_flight) -> Path:
    from plumescout.flightlog import write_flight_csv

    return write_flight_csv(tmp_path_factory.mktemp("flight") / "flight.csv", single_flight.observations)


@pytest.fixture(scope="session")
def analysed(tmp_path_factory, flight_csv):
    """A SQLite service in which the analyst uploaded a simulated flight and the job system ran
    the estimator on it: (world, mission id, flight id, run). The world is shared: tests that
    change it make their own reports' changes only."""
    d = tmp_path_factory.mktemp("service")
    settings = ServiceSettings(db=str(d / "store.db"), jwt_secret="test-secret-" + "y" * 32)
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        w = populate(client, settings)
        m = w.post("analyst", "/api/missions", json={"name": "field A"}).json()
        with flight_csv.open("rb") as fh:
            f = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("flight.csv", fh)}).json()
        r = w.post("analyst", f"/api/missions/{m['id']}/runs", json={"flight_id": f["id"]})
        assert r.status_code == 202, r.text
        run = wait_run(client, w.h("analyst"), r.json()["id"])
        assert run["state"] == "done", run
        yield w, m["id"], f["id"], run
    app.state.engine.dispose()


CAP = {"rate_scale_g_s": 0.1, "max_rate_g_s": 0.2}
"""A rate prior capped at 0.2 g/s, below the test flight's 0.5 g/s leak (tests/conftest.py): the
estimate must press against the cap and say so."""


@pytest.fixture(scope="session")
def capped(analysed):
    """The analysed world's flight run again with the estimator settings :data:`CAP` (as a
    mission hunting small leaks would ask): (world, the run)."""
    w, m, f, _run = analysed
    r = w.post("analyst", f"/api/missions/{m}/runs", json={"flight_id": f, "estimator": CAP})
    assert r.status_code == 202, r.text
    run = wait_run(w.client, w.h("analyst"), r.json()["id"])
    assert run["state"] == "done", run
    return w, run


def zip_dir(directory: Path, archive: Path, folder: str | None = "source_1", replace: dict | None = None) -> Path:
    """``directory``'s files zipped as a user would (in one ``folder``, or at the root), with the
    members named in ``replace`` given new text (a malformed data set) or left out (None)."""
    import zipfile

    replace = replace or {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(Path(directory).iterdir()):
            text = replace.get(p.name, p.read_text(encoding="utf-8"))
            if text is not None:
                zf.writestr(f"{folder}/{p.name}" if folder else p.name, text)
        for name, text in replace.items():  # members the directory does not have
            if text is not None and not (Path(directory) / name).exists():
                zf.writestr(f"{folder}/{name}" if folder else name, text)
    return archive


CHILBOLTON_ORIGIN = "51.1445,-1.4370"


@pytest.fixture(scope="session")
def beam_analysed(tmp_path_factory, chilbolton_dir):
    """A SQLite service in which the analyst uploaded the Chilbolton 2017 beam data set (source 1,
    zipped with its truth.json, which the service leaves out) and the job system ran the
    estimator on it: (world, mission id, flight, run)."""
    d = tmp_path_factory.mktemp("beam-service")
    archive = zip_dir(chilbolton_dir, d / "chilbolton.zip")
    settings = ServiceSettings(db=str(d / "store.db"), jwt_secret="test-secret-" + "b" * 32)
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        w = populate(client, settings)
        m = w.post("analyst", "/api/missions", json={"name": "Chilbolton"}).json()
        with archive.open("rb") as fh:
            f = w.post(
                "analyst",
                f"/api/missions/{m['id']}/flights",
                files={"file": ("chilbolton.zip", fh)},
                data={"origin": CHILBOLTON_ORIGIN},
            )
        assert f.status_code == 201, f.text
        r = w.post("analyst", f"/api/missions/{m['id']}/runs", json={"flight_id": f.json()["id"]})
        assert r.status_code == 202, r.text
        run = wait_run(client, w.h("analyst"), r.json()["id"])
        assert run["state"] == "done", run
        yield w, m["id"], f.json(), run
    app.state.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(settings, start_jobs: bool = False):
    """The store of ``settings`` served by uvicorn on loopback, as `plumescout serve` does:
    (base URL, app)."""
    import uvicorn

    app = create_app(settings, start_jobs=start_jobs)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    t0 = time.monotonic()
    while not server.started and time.monotonic() - t0 < 20:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        t.join(10)
        app.state.engine.dispose()

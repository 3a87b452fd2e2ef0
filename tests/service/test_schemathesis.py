"""Property-based API testing with schemathesis against the OpenAPI spec: whatever it sends, no
route answers with a server error. Each operation is fuzzed twice: with generated path ids (mostly
absent), and with the ids of a real mission, flight, run and report so that bodies, queries and
uploaded files reach the code behind them. Runs as an admin, who reaches every route."""

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from plumescout.service.app import create_app
from plumescout.service.settings import ServiceSettings

from .conftest import populate, seed


@pytest.fixture(scope="module")
def api(tmp_path_factory, flight_csv):
    d = tmp_path_factory.mktemp("schemathesis")
    st = ServiceSettings(db=str(d / "s.db"), jwt_secret="s" * 40)
    app = create_app(st, start_jobs=False)
    with TestClient(app) as c:
        w = populate(c, st)
        ids = seed(w, flight_csv)
        # a JWT, so that a generated DELETE /api/tokens/{id} cannot lock the test out
        jwt = c.post("/api/auth/token", data={"username": "analyst", "password": "pw-analyst-123"}).json()
        admin = c.post("/api/auth/token", data={"username": "admin", "password": "correct horse battery"}).json()
    yield (
        app,
        ids,
        {"Authorization": f"Bearer {jwt['access_token']}"},
        {"Authorization": f"Bearer {admin['access_token']}"},
    )
    app.state.engine.dispose()


def _fuzz(op, headers, ids: dict | None, calls: dict) -> None:
    """Run one operation's generated cases; with ``ids``, its path parameters are real ids."""

    @given(case=op.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        if ids and case.path_parameters:
            case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
            calls["real ids"] += 1
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()


def test_no_route_answers_with_a_server_error(api):
    app, ids, analyst, admin = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, operations, calls = [], 0, {"real ids": 0}
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        admin_only = any(p in op.path for p in ("/api/audit", "/api/users", "/api/organisations"))
        for real in (None, ids):
            try:
                _fuzz(op, admin if admin_only else analyst, real, calls)
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, report together
                failures.append(f"{op.label} ({'real' if real else 'generated'} ids): {str(exc)[:3000]}")
    assert failures == [], "\n\n".join(failures)
    assert operations >= 25 and calls["real ids"] > 200

"""Who sees what, generated over every route of the application: no credentials -> 401; a partner
of another organisation and an analyst of another agency never get another's data; a partner sees
a report once it is released to it and not after it is withdrawn; the audit log records it all."""

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from plumescout.service.db import make_engine, sessions

from .conftest import seed

# the sign-in page (static, no data), the health probe and the login itself
PUBLIC = {("GET", "/"), ("GET", "/api/health"), ("POST", "/api/auth/token")}


@pytest.fixture
def seeded(world, flight_csv):
    """A mission with a flight, a finished run and one report of Agency, released to PartnerA."""
    return world, seed(world, flight_csv)


def _bodies(w, ids) -> dict:
    return {
        ("POST", "/api/organisations"): {"json": {"name": "NewOrg"}},
        ("POST", "/api/users"): {"json": {"username": "u9", "org_id": w.orgs["Agency"], "role": "analyst"}},
        ("POST", "/api/tokens"): {"json": {"name": "x", "user_id": w.users["analyst"]}},
        ("POST", "/api/missions"): {"json": {"name": "x"}},
        ("POST", "/api/missions/{mission_id}/flights"): {"files": {"file": ("x.csv", b"t,lat\n")}},
        ("POST", "/api/missions/{mission_id}/runs"): {"json": {"flight_id": ids["flight_id"]}},
        ("PATCH", "/api/reports/{report_id}"): {"json": {"status": "confirmed"}},
        ("PATCH", "/api/missions/{mission_id}"): {"json": {"estimator": {"max_rate_g_s": 50.0}}},
        ("POST", "/api/reports/{report_id}/notes"): {"json": {"text": "x"}},
        ("POST", "/api/reports/{report_id}/releases"): {"json": {"org_id": w.orgs["PartnerB"]}},
    }


def _routes(app):
    for r in app.routes:
        if isinstance(r, APIRoute):
            for m in sorted(r.methods):
                yield m, r.path


def _call(w, who, method, path, ids, bodies):
    url = path.format(**ids)
    headers = {} if who is None else w.h(who)
    return w.client.request(method, url, headers=headers, **bodies.get((method, path), {}))


def test_every_route_refuses_a_caller_without_credentials_or_with_a_bad_one(seeded):
    w, ids = seeded
    bodies = _bodies(w, ids)
    routes = list(_routes(w.client.app))
    assert len(routes) >= 25
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        for headers in ({}, {"Authorization": "Bearer ps_not-a-token"}, {"Authorization": "Bearer e.y.j"}):
            r = w.client.request(method, path.format(**ids), headers=headers, **bodies.get((method, path), {}))
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text)


# what another organisation may call and get an answer from: its own identity, settings and tokens,
# and lists filtered to its own data
OWN = {
    ("GET", "/api/me"),
    ("GET", "/api/config"),
    ("GET", "/api/tokens"),
    ("POST", "/api/tokens"),
    ("GET", "/api/reports"),
}


@pytest.mark.parametrize("who", ["partner_b", "analyst2"])
def test_another_organisation_gets_nothing_of_ours(seeded, who):
    w, ids = seeded
    bodies = _bodies(w, ids)
    bodies[("POST", "/api/tokens")] = {"json": {"name": "x"}}  # for themselves
    staff_own = {("GET", "/api/missions"), ("POST", "/api/missions"), ("GET", "/api/organisations")}
    for method, path in _routes(w.client.app):
        if (method, path) in PUBLIC:
            continue
        r = _call(w, who, method, path, ids, bodies)
        if (method, path) in OWN or (who == "analyst2" and (method, path) in staff_own):
            assert r.status_code < 400, (method, path, r.status_code, r.text)
            if (method, path) in (("GET", "/api/reports"), ("GET", "/api/missions")):
                assert r.json() == [], (method, path, r.json())
            continue
        assert r.status_code in (403, 404), (who, method, path, r.status_code, r.text)
    # nothing changed on our report
    rep = w.get("analyst", f"/api/reports/{ids['report_id']}").json()
    assert rep["status"] == "candidate" and rep["version"] == 2  # created, then released to PartnerA


def test_partner_sees_only_what_was_released_to_it(seeded):
    w, ids = seeded
    rid = ids["report_id"]
    reports = w.get("partner_a", "/api/reports").json()
    assert [r["id"] for r in reports] == [rid]
    d = w.get("partner_a", f"/api/reports/{rid}").json()
    assert "history" not in d and "releases" not in d  # analysts' working notes stay inside
    for fmt in ("geojson", "cot"):
        assert w.get("partner_a", f"/api/reports/{rid}/{fmt}").status_code == 200
    for path in ("/api/missions", f"/api/missions/{ids['mission_id']}", f"/api/runs/{ids['run_id']}"):
        assert w.get("partner_a", path).status_code == 403
    assert w.post("partner_a", f"/api/reports/{rid}/notes", json={"text": "x"}).status_code == 403
    assert w.get("partner_b", f"/api/reports/{rid}").status_code == 404
    # withdrawn: gone for the partner
    assert w.client.delete(f"/api/reports/{rid}/releases/{ids['org_id']}", headers=w.h("analyst")).status_code == 204
    assert w.get("partner_a", "/api/reports").json() == []
    assert w.get("partner_a", f"/api/reports/{rid}").status_code == 404


def test_status_history_notes_and_stale_versions(seeded):
    w, ids = seeded
    rid = ids["report_id"]
    v = w.get("analyst", f"/api/reports/{rid}").json()["version"]
    r = w.client.patch(f"/api/reports/{rid}", json={"status": "confirmed", "version": v}, headers=w.h("analyst"))
    assert r.status_code == 200 and r.json()["status"] == "confirmed" and r.json()["version"] == v + 1
    stale = w.client.patch(f"/api/reports/{rid}", json={"status": "dismissed", "version": v}, headers=w.h("analyst"))
    assert stale.status_code == 409
    assert w.post("analyst", f"/api/reports/{rid}/notes", json={"text": "seen from the road"}).status_code == 201
    hist = w.get("analyst", f"/api/reports/{rid}").json()["history"]
    assert [e["kind"] for e in hist] == ["created", "release", "status", "note"]
    assert hist[2]["detail"]["old"] == "candidate" and hist[2]["detail"]["new"] == "confirmed"
    assert w.client.patch(f"/api/reports/{rid}", json={"status": "nonsense"}, headers=w.h("analyst")).status_code == 422


def test_every_read_and_change_of_a_report_is_audited_and_only_admins_read_the_log(seeded):
    w, ids = seeded
    rid = ids["report_id"]
    w.get("partner_a", "/api/reports")
    w.get("partner_a", f"/api/reports/{rid}")
    w.get("partner_a", f"/api/reports/{rid}/cot")
    w.client.patch(f"/api/reports/{rid}", json={"status": "dismissed"}, headers=w.h("analyst"))
    assert w.get("analyst", "/api/audit").status_code == 403
    log = w.get("admin", f"/api/audit?report_id={rid}").json()
    seen = [(e["action"], e["user_id"]) for e in log]
    assert ("report.release", w.users["analyst"]) in seen
    assert ("report.read", w.users["partner_a"]) in seen
    assert ("report.export", w.users["partner_a"]) in seen
    assert ("report.status", w.users["analyst"]) in seen
    assert [e["id"] for e in log] == sorted(e["id"] for e in log)
    listed = w.get("admin", "/api/audit?action=report.list").json()
    assert any(rid in e["detail"]["ids"] and e["user_id"] == w.users["partner_a"] for e in listed)


def test_passwords_are_hashed_and_jwt_login_works(seeded):
    w, _ids = seeded
    engine = make_engine(w.settings.url)
    from plumescout.service.db import User

    with sessions(engine)() as s:
        for u in s.scalars(select(User)):
            assert u.password_hash is None or (
                u.password_hash.startswith("$argon2id$") and "pw-" not in u.password_hash
            )
    engine.dispose()
    bad = w.client.post("/api/auth/token", data={"username": "analyst", "password": "wrong"})
    assert bad.status_code == 401
    tok = w.client.post("/api/auth/token", data={"username": "analyst", "password": "pw-analyst-123"}).json()
    me = w.client.get("/api/me", headers={"Authorization": f"Bearer {tok['access_token']}"}).json()
    assert me["username"] == "analyst" and me["role"] == "analyst"
    # a revoked API token stops working at once
    t = w.post("analyst", "/api/tokens", json={"name": "short"}).json()
    assert w.client.get("/api/me", headers={"Authorization": f"Bearer {t['token']}"}).status_code == 200
    assert w.client.delete(f"/api/tokens/{t['id']}", headers=w.h("analyst")).status_code == 204
    assert w.client.get("/api/me", headers={"Authorization": f"Bearer {t['token']}"}).status_code == 401


def test_reports_can_be_filtered_by_bounding_box(seeded):
    w, ids = seeded
    rid = ids["report_id"]  # at 40.0 N, 105.0 W
    inside = w.get("analyst", "/api/reports?bbox=-105.1,39.9,-104.9,40.1").json()
    assert [r["id"] for r in inside] == [rid]
    assert w.get("analyst", "/api/reports?bbox=-104.9,39.9,-104.8,40.1").json() == []
    for bad in ("1,2,3", "10,0,5,1", "a,b,c,d", "-200,0,0,1"):
        assert w.get("analyst", f"/api/reports?bbox={bad}").status_code == 422, bad

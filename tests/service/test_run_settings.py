"""A run's estimator settings: asked for with the run, checked before anything is queued, used by
the job, recorded with the run and in its provenance, and visible in what they change (a rate
pressed against a low cap is flagged on the report a partner receives)."""

import pytest

from .conftest import CAP


def test_a_run_uses_the_settings_it_was_given(capped):
    w, run = capped
    assert run["estimator"] == CAP
    assert any("estimator settings: max_rate_g_s 0.2, rate_scale_g_s 0.1" in line for line in run["log"])
    used = run["provenance"]["settings"]
    assert used["max_rate_g_s"] == CAP["max_rate_g_s"] and used["rate_scale_g_s"] == CAP["rate_scale_g_s"]
    assert run["provenance"]["rate_prior"]["max_g_s"] == CAP["max_rate_g_s"]
    reports = [w.get("analyst", f"/api/reports/{i}").json() for i in run["reports"]]
    assert reports
    # the 0.5 g/s leak (tests/conftest.py) against a 0.2 g/s cap: the strongest source is held by
    # the cap (its median at most a little above it: the cap is a penalty, not a wall) and flagged
    top = max(reports, key=lambda r: r["emission_rate_g_s"])
    assert top["emission_rate_g_s"] < 0.5
    assert "rate_at_prior_cap" in top["flags"]
    geo = w.get("analyst", f"/api/reports/{top['id']}/geojson").json()
    assert "rate_at_prior_cap" in geo["features"][0]["properties"]["flags"]


def test_a_run_without_settings_records_none_and_uses_the_defaults(analysed):
    from plumescout.inference import EstimatorConfig

    w, _m, _f, run = analysed
    assert run["estimator"] == {}
    assert run["provenance"]["settings"]["max_rate_g_s"] == EstimatorConfig().max_rate_g_s
    assert not any("estimator settings" in line for line in run["log"])


@pytest.mark.parametrize(
    ("estimator", "named"),
    [
        ({"rate_scale_g_s": 1.0, "max_rate_g_s": 0.5}, ["rate_scale_g_s", "max_rate_g_s"]),  # the cap below the scale
        ({"iterations": 10}, ["iterations"]),  # not a setting a run may change
        ({"margin_m": 1e7}, ["margin_m"]),  # a search area of a continent
        ({"source_height_m": -1}, ["source_height_m"]),
        ({"sensor_response_s": "slow"}, ["sensor_response_s"]),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_queued(analysed, estimator, named):
    w, m, f, _run = analysed
    before = len(w.get("analyst", f"/api/missions/{m}/runs").json())
    r = w.post("analyst", f"/api/missions/{m}/runs", json={"flight_id": f, "estimator": estimator})
    assert r.status_code == 422, r.text
    for name in named:
        assert name in r.text
    assert len(w.get("analyst", f"/api/missions/{m}/runs").json()) == before


def test_a_mission_keeps_settings_that_its_runs_use_and_a_run_overrides(world, flight_csv):
    """Settings kept with the mission (PATCH, or given when it is made) reach every run of it;
    a run's own override them field by field; bad ones are refused naming the field."""
    w = world
    m = w.post("analyst", "/api/missions", json={"name": "big leaks", "estimator": {"max_rate_g_s": 500.0}})
    assert m.status_code == 201, m.text
    m = m.json()
    assert m["estimator"] == {"max_rate_g_s": 500.0}
    r = w.client.patch(
        f"/api/missions/{m['id']}",
        json={"estimator": {"max_rate_g_s": 500.0, "rate_scale_g_s": 20.0}},
        headers=w.h("analyst"),
    )
    assert r.status_code == 200 and r.json()["estimator"] == {"max_rate_g_s": 500.0, "rate_scale_g_s": 20.0}
    f = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("f.csv", flight_csv.read_bytes())})
    fid = f.json()["id"]
    plain = w.post("analyst", f"/api/missions/{m['id']}/runs", json={"flight_id": fid}).json()
    assert plain["estimator"] == {"max_rate_g_s": 500.0, "rate_scale_g_s": 20.0}
    own = w.post(
        "analyst",
        f"/api/missions/{m['id']}/runs",
        json={"flight_id": fid, "estimator": {"rate_scale_g_s": 5.0, "source_height_m": 2.0}},
    ).json()
    assert own["estimator"] == {"max_rate_g_s": 500.0, "rate_scale_g_s": 5.0, "source_height_m": 2.0}
    # a run whose settings, with the mission's, break the estimator's rules is refused
    runs = f"/api/missions/{m['id']}/runs"
    bad = w.post("analyst", runs, json={"flight_id": fid, "estimator": {"rate_scale_g_s": 600}})
    assert bad.status_code == 422 and "rate_scale_g_s" in bad.text and "max_rate_g_s" in bad.text
    worse = w.client.patch(f"/api/missions/{m['id']}", json={"estimator": {"margin_m": -1}}, headers=w.h("analyst"))
    assert worse.status_code == 422 and "margin_m" in worse.text
    # {} returns the mission to the defaults; another organisation cannot touch it
    reset = w.client.patch(f"/api/missions/{m['id']}", json={"estimator": {}}, headers=w.h("analyst"))
    assert reset.json()["estimator"] == {}
    other = w.client.patch(f"/api/missions/{m['id']}", json={"name": "x"}, headers=w.h("analyst2"))
    assert other.status_code == 404

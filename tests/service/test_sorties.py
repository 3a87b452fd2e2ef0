"""The sorties of one survey analysed together by the service: ``POST /api/missions/{id}/runs
{"flight_ids": [...]}`` (the command line's ``plumescout analyze a.csv b.csv``, tested in
tests/cli/test_sorties.py, where the joined sorties are shown to give the uncut flight's estimate).

Data: the test flight (tests/conftest.py: one 0.5 g/s leak at x -60, y 30 m of the site origin
40.0, -105.0), cut at its middle sample, the second half flown 12 minutes later (a battery swap).
"""

import math
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from plumescout.flightlog import write_flight_csv
from plumescout.geo import LocalFrame
from plumescout.service.app import create_app
from plumescout.service.settings import ServiceSettings

from .conftest import populate, wait_run

SITE = LocalFrame(40.0, -105.0)
LEAK = (-60.0, 30.0, 0.5)


@pytest.fixture(scope="module")
def survey(tmp_path_factory, single_flight, chilbolton_dir):
    """A service with jobs, a mission holding the two sorties, the uncut flight, a log without
    clock times and a beam data set; the sorties analysed together: (world, mission, ids, run)."""
    from .conftest import CHILBOLTON_ORIGIN, zip_dir

    d = tmp_path_factory.mktemp("sorties")
    obs = single_flight.observations
    i = np.arange(len(obs))
    files = {
        "sortie1.csv": write_flight_csv(d / "sortie1.csv", obs.select(i < len(obs) // 2)),
        "sortie2.csv": write_flight_csv(
            d / "sortie2.csv", obs.select(i >= len(obs) // 2), t0=obs.t0 + timedelta(minutes=12)
        ),
        "whole.csv": write_flight_csv(d / "whole.csv", obs),
    }
    files["seconds.csv"] = write_flight_csv(d / "seconds.csv", _without_clock(obs.select(i < 400)))
    settings = ServiceSettings(db=str(d / "store.db"), jwt_secret="test-secret-" + "s" * 32)
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        w = populate(client, settings)
        m = w.post("analyst", "/api/missions", json={"name": "survey"}).json()["id"]
        ids = {}
        for name, path in files.items():
            r = w.post("analyst", f"/api/missions/{m}/flights", files={"file": (name, path.read_bytes())})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        z = zip_dir(chilbolton_dir, d / "beams.zip")
        r = w.post(
            "analyst",
            f"/api/missions/{m}/flights",
            files={"file": ("beams.zip", z.read_bytes())},
            data={"origin": CHILBOLTON_ORIGIN},
        )
        ids["beams.zip"] = r.json()["id"]
        z2 = zip_dir(chilbolton_dir, d / "beams2.zip", folder=None)  # the same data set, zipped otherwise
        r = w.post(
            "analyst",
            f"/api/missions/{m}/flights",
            files={"file": ("beams2.zip", z2.read_bytes())},
            data={"origin": CHILBOLTON_ORIGIN},
        )
        assert r.status_code == 201, r.text
        ids["beams2.zip"] = r.json()["id"]
        r = w.post("analyst", f"/api/missions/{m}/runs", json={"flight_ids": [ids["sortie2.csv"], ids["sortie1.csv"]]})
        assert r.status_code == 202, r.text
        run = wait_run(client, w.h("analyst"), r.json()["id"])
        assert run["state"] == "done", run
        yield w, m, ids, run
    app.state.engine.dispose()


def _without_clock(obs):
    """``obs`` with its start date forgotten: a log whose times are seconds from its start."""
    import dataclasses

    return dataclasses.replace(obs, t0=None)


def test_sorties_are_estimated_together(survey):
    w, _m, ids, run = survey
    assert run["flight_ids"] == [ids["sortie1.csv"], ids["sortie2.csv"]]  # clock order
    assert run["flight_id"] == ids["sortie1.csv"]
    assert any("started on 2 sorties" in line for line in run["log"])
    assert [i["file"] for i in run["provenance"]["inputs"]] == ["sortie1.csv", "sortie2.csv"]
    reports = [w.get("analyst", f"/api/reports/{i}").json() for i in run["reports"]]
    assert len(reports) == 1
    x, y = SITE.to_local(reports[0]["lat"], reports[0]["lon"])
    # issue 3's single-pass target (median error <= 35 m; this survey is one pass in two sorties)
    assert math.hypot(float(x) - LEAK[0], float(y) - LEAK[1]) <= 35.0
    lo, hi = reports[0]["emission_rate_g_s_ci90"]
    assert lo <= LEAK[2] <= hi


def test_the_track_breaks_between_sorties(survey):
    w, _m, _ids, run = survey
    t = w.get("analyst", f"/api/runs/{run['id']}/track").json()
    breaks = [k for k, v in enumerate(t["lat"]) if v is None]
    assert len(breaks) == 1  # one battery swap, no line across the field
    assert t["lon"][breaks[0]] is None and t["enhancement_ppm"][breaks[0]] is None


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"flight_ids": ["sortie1.csv", "seconds.csv"]}, 422, "has no clock times"),
        ({"flight_ids": ["beams.zip", "beams2.zip", "sortie1.csv"]}, 422, "one beam data set at a time"),
        ({"flight_ids": ["sortie1.csv"]}, 422, "at least 2"),
        ({"flight_ids": ["sortie1.csv", "sortie1.csv"]}, 422, "twice"),
        ({"flight_id": "sortie1.csv", "flight_ids": ["sortie1.csv", "sortie2.csv"]}, 422, "not both"),
        ({}, 422, "not both"),
        ({"flight_ids": ["sortie1.csv", 999]}, 404, "no flight 999"),
    ],
)
def test_bad_sorties_are_refused_naming_the_flights_and_nothing_is_queued(survey, body, code, words):
    w, m, ids, _run = survey
    body = {k: ([ids.get(v, v) for v in vals] if isinstance(vals, list) else ids[vals]) for k, vals in body.items()}
    before = len(w.get("analyst", f"/api/missions/{m}/runs").json())
    r = w.post("analyst", f"/api/missions/{m}/runs", json=body)
    assert r.status_code == code, r.text
    assert words in r.text
    assert len(w.get("analyst", f"/api/missions/{m}/runs").json()) == before


def test_a_log_given_twice_fails_its_run_naming_both(survey):
    """Logs flown at the same time are taken for two aircraft, unless one repeats the other's
    samples (here a sortie and the uncut flight it was cut from): the run fails, saying so with
    the files' names, not the server's paths."""
    w, m, ids, _run = survey
    r = w.post("analyst", f"/api/missions/{m}/runs", json={"flight_ids": [ids["whole.csv"], ids["sortie1.csv"]]})
    assert r.status_code == 202, r.text
    run = wait_run(w.client, w.h("analyst"), r.json()["id"])
    assert run["state"] == "failed"
    assert "repeats the samples of whole.csv" in run["error"] and "sortie1.csv" in run["error"]
    assert "blobs" not in run["error"]


def test_a_flight_far_from_the_beams_fails_its_run_saying_so(survey):
    """A run of a beam data set with a flight over another site (Chilbolton's beams, a flight in
    Colorado) is queued (both are sound files) and fails before any estimate, saying why."""
    w, m, ids, _run = survey
    r = w.post("analyst", f"/api/missions/{m}/runs", json={"flight_ids": [ids["sortie1.csv"], ids["beams.zip"]]})
    assert r.status_code == 202, r.text
    run = wait_run(w.client, w.h("analyst"), r.json()["id"])
    assert run["state"] == "failed"
    assert run["flight_id"] == ids["beams.zip"]  # the beams' frame: the run's flight
    assert "from the nearest beam" in run["error"] and "not a survey of the beams' site" in run["error"]

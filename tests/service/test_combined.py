"""A drone flown over a beam network, analysed by the service in one fit: a beam data set (ZIP
with its origin) and a flight log of one mission, ``POST /api/missions/{id}/runs {"flight_ids":
[beams, flight]}`` (the command line's ``analyze BEAMS FLIGHT --origin``, tested in
tests/inference/test_combined.py, whose simulated survey this is)."""

import math

import pytest
from fastapi.testclient import TestClient

from plumescout.geo import LocalFrame
from plumescout.service.app import create_app
from plumescout.service.settings import ServiceSettings

from ..inference.test_combined import SEED, _survey_module
from .conftest import populate, wait_run, zip_dir


@pytest.fixture(scope="module")
def combined(tmp_path_factory, chilbolton_dir):
    mod = _survey_module()
    d = tmp_path_factory.mktemp("combined")
    files = mod.write_survey(SEED, d / "survey", chilbolton_dir)
    origin = ",".join(map(str, mod.ORIGIN))
    settings = ServiceSettings(db=str(d / "store.db"), jwt_secret="test-secret-" + "c" * 32)
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        w = populate(client, settings)
        m = w.post("analyst", "/api/missions", json={"name": "drone over lasers"}).json()["id"]
        z = zip_dir(files["beams"], d / "beams.zip", folder="beams")
        b = w.post(
            "analyst",
            f"/api/missions/{m}/flights",
            files={"file": ("beams.zip", z.read_bytes())},
            data={"origin": origin},
        )
        assert b.status_code == 201, b.text
        f = w.post("analyst", f"/api/missions/{m}/flights", files={"file": ("drone.csv", files["flight"].read_bytes())})
        assert f.status_code == 201, f.text
        r = w.post("analyst", f"/api/missions/{m}/runs", json={"flight_ids": [f.json()["id"], b.json()["id"]]})
        assert r.status_code == 202, r.text
        run = wait_run(client, w.h("analyst"), r.json()["id"])
        yield w, files, mod.ORIGIN, b.json()["id"], f.json()["id"], run
    app.state.engine.dispose()


def test_the_beams_and_the_flight_over_them_are_one_fit(combined):
    w, files, origin, beams_id, flight_id, run = combined
    assert run["state"] == "done", run
    assert run["flight_ids"] == [beams_id, flight_id]  # the beams first: their origin is the frame
    assert any("with the flights over it: drone.csv" in line for line in run["log"])
    prov = run["provenance"]
    assert prov["model"].startswith("a flight and a beam network in one fit")
    assert sorted(i["file"] for i in prov["inputs"]) == [
        "beams.zip:beams.csv", "beams.zip:measurements.csv", "beams.zip:wind.csv", "drone.csv",
    ]  # fmt: skip
    reports = [w.get("analyst", f"/api/reports/{i}").json() for i in run["reports"]]
    assert len(reports) == 1
    x, y = LocalFrame(*origin).to_local(reports[0]["lat"], reports[0]["lon"])
    truth = files["sources"][0]
    assert math.hypot(float(x) - truth["x_m"], float(y) - truth["y_m"]) <= reports[0]["location_ci90_m"]


def test_the_map_shows_the_flight_and_the_beams(combined):
    w, _files, _origin, _b, _f, run = combined
    t = w.get("analyst", f"/api/runs/{run['id']}/track").json()
    assert len(t["beams"]) == 7  # the Chilbolton layout's beams (beams.csv)
    assert len(t["lat"]) == len(t["lon"]) == len(t["enhancement_ppm"]) > 100
    assert max(v for v in t["enhancement_ppm"] if v is not None) > t["threshold_ppm"]  # plumes crossed

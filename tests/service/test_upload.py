"""`plumescout upload`: a crew's logs sent to a running service (uvicorn on loopback, as
`plumescout serve` runs it), analysed there, and the sources printed; refusals named, never a
traceback, and nothing already uploaded lost."""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.flightlog import write_flight_csv
from plumescout.service.app import create_app
from plumescout.service.settings import ServiceSettings

from .conftest import CHILBOLTON_ORIGIN, free_port, populate, serving

runner = CliRunner()


@pytest.fixture(scope="module")
def field(tmp_path_factory, single_flight):
    """A store with the test world's users, served with its job system; a mission, and three logs:
    one line of the test flight (its plume crossed once), a copy with a bad value on line 5 (the
    reader drops that row and says so) and one without its lat column (refused)."""
    d = tmp_path_factory.mktemp("upload")
    settings = ServiceSettings(db=str(d / "store.db"), jwt_secret="test-secret-" + "u" * 32)
    setup = create_app(settings, start_jobs=False)
    with TestClient(setup) as client:
        w = populate(client, settings)
        mission = w.post("analyst", "/api/missions", json={"name": "from the field"}).json()["id"]
    setup.state.engine.dispose()
    obs = single_flight.observations
    part = obs.select(np.flatnonzero((obs.time_s >= 460.0) & (obs.time_s <= 560.0)))
    good = write_flight_csv(d / "line.csv", part)
    rows = good.read_text().splitlines()
    col = rows[0].split(",").index("lat")
    cells = rows[4].split(",")
    cells[col] = "north"
    repaired = d / "repaired.csv"
    repaired.write_text("\n".join([*rows[:4], ",".join(cells), *rows[5:]]) + "\n")
    bad = d / "nolat.csv"
    bad.write_text("\n".join(",".join(v for k, v in enumerate(r.split(",")) if k != col) for r in rows) + "\n")
    with serving(settings, start_jobs=True) as (base, _app):
        yield w, base, mission, good, (repaired, bad)


def _run(w, base, mission, *args, who="analyst"):
    env = {"PLUMESCOUT_SERVICE": base, "PLUMESCOUT_TOKEN": w.tokens[who]}
    return runner.invoke(app, ["upload", *map(str, args), "--mission", str(mission)], env=env)


def test_a_refused_log_is_named_and_the_one_before_it_is_kept(field):
    w, base, mission, good, (repaired, bad) = field
    res = _run(w, base, mission, repaired, bad)
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in res.output
    # the service's reason names the file and the field; the log before it uploaded and kept
    assert "nolat.csv" in text and "'lat'" in text and "refused it (422)" in text
    assert "uploaded before it, and kept: repaired.csv (flight" in text
    flights = w.client.get(f"/api/missions/{mission}/flights", headers=w.h("analyst")).json()
    assert [f["filename"] for f in flights] == ["repaired.csv"]
    # the row the reader dropped is on the record, as the crew was shown it
    assert flights[0]["repairs"] == ["dropped 1 row(s): not a number in column 'lat' (line 5)"]
    # the same log again: recognised, not stored twice
    res = _run(w, base, mission, repaired)
    assert res.exit_code == 0, res.output
    assert "already there" in " ".join(res.output.split())
    res = _run(w, base, mission, good)  # another log: uploaded beside it
    assert res.exit_code == 0 and "line.csv" in res.output
    assert len(w.client.get(f"/api/missions/{mission}/flights", headers=w.h("analyst")).json()) == 2


def test_uploaded_and_analysed_the_sources_are_printed(field):
    w, base, mission, good, _bad = field
    res = _run(w, base, mission, good, "--analyse")
    assert res.exit_code == 0, res.output
    runs = w.client.get(f"/api/missions/{mission}/runs", headers=w.h("analyst")).json()
    run = w.client.get(f"/api/runs/{runs[-1]['id']}", headers=w.h("analyst")).json()
    assert run["state"] == "done" and run["reports"]
    text = " ".join(res.output.split())
    assert f"run {run['id']}: {len(run['reports'])} source(s)" in text
    for rid in run["reports"]:  # each report's position as the service holds it
        r = w.client.get(f"/api/reports/{rid}", headers=w.h("analyst")).json()
        assert f"{r['lat']:.6f}" in text and f"{r['lon']:.6f}" in text, res.output


def test_a_wrong_token_or_address_is_said_before_anything_is_sent(field, tmp_path):
    w, base, mission, good, _bad = field
    env = {"PLUMESCOUT_SERVICE": base, "PLUMESCOUT_TOKEN": "not-a-token"}
    before = len(w.client.get(f"/api/missions/{mission}/flights", headers=w.h("analyst")).json())
    res = runner.invoke(app, ["upload", str(good), "--mission", str(mission)], env=env)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "refused it (401)" in " ".join(res.output.split())
    # a partner may not upload to an agency's mission
    res = _run(w, base, mission, good, who="partner_a")
    assert res.exit_code == 2 and "Traceback" not in res.output and "refused it (403)" in " ".join(res.output.split())
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    res = runner.invoke(app, ["upload", str(good), "--mission", str(mission), "--service", dead, "--token", "x"])
    assert res.exit_code == 2 and "cannot reach the service" in " ".join(res.output.split())
    res = _run(w, base, mission, tmp_path / "nowhere.csv")
    assert res.exit_code == 2 and "no such file" in res.output and "nothing uploaded" in res.output
    assert len(w.client.get(f"/api/missions/{mission}/flights", headers=w.h("analyst")).json()) == before


def test_a_beam_data_set_directory_is_sent_with_its_origin(field, chilbolton_dir):
    """A beam data set's directory (as `plumescout analyze DIR` reads it) goes as the ZIP the
    service takes, with its origin; without the origin the service's refusal says so."""
    w, base, _mission, _good, _bad = field
    m = w.post("analyst", "/api/missions", json={"name": "beams"}).json()["id"]
    res = _run(w, base, m, chilbolton_dir)
    assert res.exit_code == 2 and "Traceback" not in res.output and "origin" in res.output
    res = _run(w, base, m, chilbolton_dir, "--origin", CHILBOLTON_ORIGIN)
    assert res.exit_code == 0, res.output
    (f,) = w.client.get(f"/api/missions/{m}/flights", headers=w.h("analyst")).json()
    assert f["format"] == "beams" and f["filename"] == "source_1.zip"
    assert f["origin"] == [float(v) for v in CHILBOLTON_ORIGIN.split(",")]

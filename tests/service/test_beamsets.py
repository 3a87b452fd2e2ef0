"""Beam and fixed-sensor data sets in the service: a ZIP of the three CSVs ``plumescout analyze
DIR --origin`` reads, uploaded with its origin, analysed by the job system like a flight.

Real data: Chilbolton 2017 controlled release, source 1 (STFC Rutherford Appleton Laboratory, PI D.
Weidmann, Chilbolton Observatory, May 2017, CC-BY; ../shared/datasets/chilbolton-2017). The
targets are issue 3's, item 4 (within 5 m of the weighed release, exactly one source, the truth
inside the 90 % region), which the same estimator meets from the command line
(tests/validation/test_chilbolton.py).
"""

import json
import math
import zipfile

import pytest
from fastapi.testclient import TestClient

from plumescout.geo import LocalFrame
from plumescout.service.app import create_app
from plumescout.service.jobs import run_dir
from plumescout.service.settings import ServiceSettings

from .conftest import CHILBOLTON_ORIGIN, populate, zip_dir

ORIGIN = tuple(float(v) for v in CHILBOLTON_ORIGIN.split(","))


def test_a_beam_data_set_is_stored_with_its_origin_and_what_was_left_out(beam_analysed):
    _w, _m, f, _run = beam_analysed
    assert f["format"] == "beams"
    assert f["samples"] == 973  # 139 minutes x 7 beams (the data set's README)
    assert f["species"] == ["ch4"]
    assert f["origin"] == list(ORIGIN)
    assert f["repairs"] == ["archive member source_1/truth.json not used"]


def test_a_beam_data_set_is_analysed_to_the_real_data_targets(beam_analysed, chilbolton_dir):
    w, _m, f, run = beam_analysed
    truth = json.loads((chilbolton_dir / "truth.json").read_text())["sources"][0]
    assert len(run["reports"]) == 1  # exactly one source
    rep = w.get("analyst", f"/api/reports/{run['reports'][0]}").json()
    x, y = LocalFrame(*ORIGIN).to_local(rep["lat"], rep["lon"])
    err = math.hypot(float(x) - truth["x_m"], float(y) - truth["y_m"])
    assert err <= 5.0
    assert err <= rep["location_ci90_m"]  # the weighed release inside the 90 % region
    assert abs(rep["emission_rate_g_s"] / (truth["q_kg_s"] * 1000.0) - 1.0) <= 0.30
    assert rep["species"] == "ch4"
    # the provenance names the archive's members, never the server's paths
    files = [i["file"] for i in run["provenance"]["inputs"]]
    assert files == [f"chilbolton.zip:{n}" for n in ("beams.csv", "measurements.csv", "wind.csv")]
    assert run["provenance"]["origin"] == {"lat": ORIGIN[0], "lon": ORIGIN[1]}
    assert run["provenance"]["model"].startswith("path-averaged")  # the beam model, not the flight one


def test_the_map_shows_the_beams_coloured_by_their_excess(beam_analysed, chilbolton_dir):
    w, _m, _f, run = beam_analysed
    t = w.get("analyst", f"/api/runs/{run['id']}/track").json()
    assert t["species"] == "ch4" and len(t["beams"]) == 7
    frame = LocalFrame(*ORIGIN)
    lat, lon = frame.to_wgs84(60.0, 100.0)  # every beam starts at the spectrometer (beams.csv)
    for b in t["beams"]:
        assert b["lat"][0] == pytest.approx(float(lat), abs=1e-7) and b["lon"][0] == pytest.approx(float(lon), abs=1e-7)
        assert b["readings"] == 139
        assert b["enhancement_ppm"] >= 0.0  # an excess over the lowest beam of the same minute
    assert max(b["enhancement_ppm"] for b in t["beams"]) > 0.0
    # the blob is kept as uploaded; the run's copy of the three CSVs is what was read
    inp = run_dir(w.settings.data_path, run["id"]) / "input"
    for name in ("beams.csv", "measurements.csv", "wind.csv"):
        assert (inp / name).read_bytes() == (chilbolton_dir / name).read_bytes()
    assert sorted(p.name for p in inp.iterdir()) == ["beams.csv", "measurements.csv", "wind.csv"]


@pytest.fixture
def small(tmp_path):
    """A service whose uploads are limited to 1 MB (no jobs): (world, mission id)."""
    settings = ServiceSettings(db=str(tmp_path / "s.db"), jwt_secret="s" * 40, max_upload_mb=1)
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        w = populate(client, settings)
        m = w.post("analyst", "/api/missions", json={"name": "m"}).json()
        yield w, m["id"]
    app.state.engine.dispose()


def _upload(w, m, path, origin=CHILBOLTON_ORIGIN):
    data = {} if origin is None else {"origin": origin}
    return w.post("analyst", f"/api/missions/{m}/flights", files={"file": (path.name, path.read_bytes())}, data=data)


def _measurements_with(chilbolton_dir, line: int, text: str) -> str:
    lines = (chilbolton_dir / "measurements.csv").read_text().splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("case", "file", "line", "field", "words"),
    [
        ("no_wind", "bad.zip", None, None, "missing: wind.csv"),
        ("bad_reading", "bad.zip:source_1/measurements.csv", 5, "ch4_path_avg_ppm", "number"),
        ("unknown_beam", "bad.zip:source_1/measurements.csv", 7, "beam", "beam 9 is not in beams.csv"),
        ("two_winds", "bad.zip:other/wind.csv", None, None, "twice"),
        ("no_species_column", "bad.zip:source_1/measurements.csv", 1, None, "_path_avg_ppm"),
        ("truncated", "bad.zip", None, None, "not a readable ZIP archive"),
        ("bomb", "bad.zip:source_1/measurements.csv", None, None, "larger than 1 MB unpacked"),
    ],
)
def test_a_malformed_beam_data_set_is_refused_naming_member_line_and_field(
    small, chilbolton_dir, tmp_path, case, file, line, field, words
):
    w, m = small
    bad = tmp_path / "bad.zip"
    if case == "no_wind":
        zip_dir(chilbolton_dir, bad, replace={"wind.csv": None})
    elif case == "bad_reading":
        zip_dir(chilbolton_dir, bad, replace={"measurements.csv": _measurements_with(chilbolton_dir, 5, "3,1,high")})
    elif case == "unknown_beam":
        zip_dir(chilbolton_dir, bad, replace={"measurements.csv": _measurements_with(chilbolton_dir, 7, "5,9,2.1")})
    elif case == "two_winds":
        zip_dir(chilbolton_dir, bad)
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("other/wind.csv", (chilbolton_dir / "wind.csv").read_text())
    elif case == "no_species_column":
        text = (chilbolton_dir / "measurements.csv").read_text().replace("ch4_path_avg_ppm", "reading", 1)
        zip_dir(chilbolton_dir, bad, replace={"measurements.csv": text})
    elif case == "truncated":
        zip_dir(chilbolton_dir, tmp_path / "whole.zip")
        bad.write_bytes((tmp_path / "whole.zip").read_bytes()[:3000])
    elif case == "bomb":  # 2 MB of readings packed into a few kB, against a 1 MB limit
        body = "minute,beam,ch4_path_avg_ppm\n" + "0,1,2.0\n" * 300_000
        zip_dir(chilbolton_dir, bad, replace={"measurements.csv": body})
        assert bad.stat().st_size < 1 << 20
    r = _upload(w, m, bad)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["file"] == file
    assert detail["line"] == line
    if field is not None:
        assert detail["field"] == field
    assert words in detail["message"]
    assert w.get("analyst", f"/api/missions/{m}/flights").json() == []  # nothing stored


@pytest.mark.parametrize(
    ("origin", "words"), [(None, "give its origin"), ("51.1", "not 'LAT,LON'"), ("95,-1.4", "off the globe")]
)
def test_a_beam_data_set_needs_a_valid_origin(small, chilbolton_dir, tmp_path, origin, words):
    w, m = small
    r = _upload(w, m, zip_dir(chilbolton_dir, tmp_path / "c.zip"), origin=origin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["field"] == "origin" and words in r.json()["detail"]["message"]
    assert w.get("analyst", f"/api/missions/{m}/flights").json() == []


def test_an_origin_given_with_a_flight_log_is_refused(small, flight_csv):
    w, m = small
    r = _upload(w, m, flight_csv)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["field"] == "origin"


def test_the_same_data_set_again_is_the_stored_one_unless_its_origin_differs(small, chilbolton_dir, tmp_path):
    w, m = small
    z = zip_dir(chilbolton_dir, tmp_path / "c.zip", folder=None)  # the CSVs at the archive's root
    first = _upload(w, m, z)
    assert first.status_code == 201, first.text
    again = _upload(w, m, z)
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["id"] == first.json()["id"]
    moved = _upload(w, m, z, origin="51.2,-1.4")
    assert moved.status_code == 409 and f"flight {first.json()['id']}" in moved.text
    assert len(w.get("analyst", f"/api/missions/{m}/flights").json()) == 1

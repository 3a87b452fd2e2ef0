"""The command line, end to end: analyze, simulate, demo, and refusals without tracebacks."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.flightlog import write_flight_csv
from plumescout.inference import EstimatorConfig

DATA = Path(__file__).parent.parent / "data" / "flightlogs"
runner = CliRunner()


def test_analyze_writes_every_product(single_flight, tmp_path):
    csv = write_flight_csv(tmp_path / "flight.csv", single_flight.observations)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(single_flight.truth))
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(csv), "--out", str(out), "--truth", str(truth)])
    assert res.exit_code == 0, res.output
    for name in ("sources.geojson", "sources.kml", "report.html", "report.png"):
        assert (out / name).stat().st_size > 0
    doc = json.loads((out / "sources.geojson").read_text())
    assert doc["properties"]["inputs"][0]["file"] == "flight.csv"
    assert len(doc["features"]) == 1
    assert doc["properties"]["rate_prior"]["sources_at_cap"] == []  # 0.5 g/s, far below the 100 g/s cap
    assert doc["features"][0]["properties"]["flags"] == []
    assert "rate prior's cap" not in res.output
    html = (out / "report.html").read_text()
    assert "Warning:" not in html
    # the stability class the fit settled on is recorded (a follow-up plans with it) and shown
    fitted = doc["properties"]["posterior"]["stability_index_fitted"]
    assert 0.0 <= fitted <= 5.0 and f"Stability class index {fitted:.1f}" in html
    # the 90 % region as an ellipse too (an extra property), its axes floored as the circle's radius
    ell = doc["features"][0]["properties"]["location_ci90_ellipse"]
    assert ell["semi_major_m"] >= ell["semi_minor_m"] >= EstimatorConfig().point_location_floor_m
    assert 0.0 <= ell["major_axis_azimuth_deg"] < 180.0 and '<ellipse class="region"' in html
    # and in the KML: a ring whose points lie between the semi-minor and semi-major axis from it
    from fastkml import kml as fkml

    from plumescout.geo import LocalFrame

    assert fkml.KML.parse(str(out / "sources.kml"), strict=True, validate=True) is not None
    text = (out / "sources.kml").read_text()
    block = text[text.index('id="ellipse-S1"') :]
    coords = block[block.index("<coordinates>") + 13 : block.index("</coordinates>")].split()
    lon, lat = np.array([[float(v) for v in c.split(",")[:2]] for c in coords]).T
    origin = doc["properties"]["origin"]
    x, y = LocalFrame(origin["lat"], origin["lon"]).to_local(lat, lon)
    p = doc["features"][0]["properties"]
    r = np.hypot(x - p["x_m"], y - p["y_m"])
    assert r.max() == pytest.approx(ell["semi_major_m"], rel=0.01) and r.min() == pytest.approx(
        ell["semi_minor_m"], rel=0.01
    )
    # its description gives the same figures, as semi-axes (as the GeoJSON and CoT do)
    said = f"semi-axes {ell['semi_major_m']:.1f} x {ell['semi_minor_m']:.1f} m, long axis"
    assert said in text


@pytest.mark.parametrize(
    ("name", "words"),
    [("bad_time.csv", "line 2, column 'time'"), ("empty.csv", "empty"), ("no_wind.csv", "no wind")],
)
def test_analyze_refuses_bad_files_cleanly(name, words, tmp_path):
    res = runner.invoke(app, ["analyze", str(DATA / name), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert name in res.output and words in res.output
    assert "Traceback" not in res.output


def test_analyze_reports_repairs(tmp_path):
    res = runner.invoke(app, ["analyze", str(DATA / "repairable.csv"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "repaired:" in res.output and "unparsable time" in res.output


def test_bad_origin_option(tmp_path):
    res = runner.invoke(app, ["analyze", str(DATA / "good.csv"), "--origin", "north", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--origin" in res.output


def test_a_known_plume_width_fraction_is_used_not_estimated(tmp_path):
    res = runner.invoke(
        app, ["analyze", str(DATA / "good.csv"), "--out", str(tmp_path), "--plume-width-fraction", "0.6"]
    )
    assert res.exit_code == 0, res.output
    post = json.loads((tmp_path / "sources.geojson").read_text())["properties"]["posterior"]
    assert post["horizontal_width_factor"] == pytest.approx(0.6, rel=1e-12)  # fixed: every sample holds it


@pytest.mark.parametrize("value", ["0", "-1", "5"])
def test_an_impossible_plume_width_fraction_is_refused(value, tmp_path):
    res = runner.invoke(
        app, ["analyze", str(DATA / "good.csv"), "--out", str(tmp_path), "--plume-width-fraction", value]
    )
    assert res.exit_code == 2
    assert "--plume-width-fraction" in res.output and "Traceback" not in res.output


def test_a_known_source_height_is_used_not_estimated(single_flight, tmp_path):
    csv = write_flight_csv(tmp_path / "flight.csv", single_flight.observations)
    res = runner.invoke(
        app, ["analyze", str(csv), "--out", str(tmp_path), "--source-height", "2.5", "--source-height-sd", "0"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "sources.geojson").read_text())
    assert doc["properties"]["posterior"]["source_height_m"] == 2.5  # fixed: every sample holds it
    assert doc["features"] and all(f["properties"]["height_m"] == 2.5 for f in doc["features"])


def test_the_rate_prior_options_reach_the_estimator(single_flight, tmp_path):
    """--rate-scale / --max-rate set the rate prior: the settings say so, and with the cap below
    the release's 0.5 g/s (conftest's scenario) no reported rate (posterior median) exceeds it.
    (The cap is a steep penalty, not a hard wall: the interval's top may pass it a little.)"""
    csv = write_flight_csv(tmp_path / "flight.csv", single_flight.observations)
    res = runner.invoke(app, ["analyze", str(csv), "--out", str(tmp_path), "--rate-scale", "0.05", "--max-rate", "0.2"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "sources.geojson").read_text())
    assert doc["properties"]["settings"]["rate_scale_g_s"] == 0.05
    assert doc["properties"]["settings"]["max_rate_g_s"] == 0.2
    assert doc["features"]
    assert all(f["properties"]["emission_rate_g_s"] <= 0.2 for f in doc["features"])
    # the release (0.5 g/s) wants more than the cap allows: said in the GeoJSON and on the console
    cap = doc["properties"]["rate_prior"]
    assert cap["max_g_s"] == 0.2 and "S1" in cap["sources_at_cap"]
    s1 = next(f["properties"] for f in doc["features"] if f["id"] == "S1")  # the feature a partner gets
    assert "rate_at_prior_cap" in s1["flags"]
    assert "warning: rate at prior cap" in (tmp_path / "sources.kml").read_text()
    assert "presses against the rate prior's cap (0.2 g/s)" in " ".join(res.output.split())
    page = (tmp_path / "report.html").read_text()  # the report page says it too
    assert "<strong>Warning:</strong> the rate of S1" in page and "rate prior&#x27;s cap" in page


@pytest.mark.parametrize(("scale", "cap"), [("0", "100"), ("-1", "100"), ("5", "5"), ("5", "1")])
def test_an_impossible_rate_prior_is_refused(scale, cap, tmp_path):
    args = ["analyze", str(DATA / "good.csv"), "--out", str(tmp_path), "--rate-scale", scale, "--max-rate", cap]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "--rate-scale" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("option", ["--source-height", "--source-height-sd"])
def test_a_negative_source_height_or_spread_is_refused(option, tmp_path):
    res = runner.invoke(app, ["analyze", str(DATA / "good.csv"), "--out", str(tmp_path), option, "-1"])
    assert res.exit_code == 2
    assert option in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("option", ["--plume-width-fraction", "--sensor-response-s"])
def test_point_sample_options_are_refused_for_a_beam_data_set(option, chilbolton_dir, tmp_path):
    res = runner.invoke(
        app, ["analyze", str(chilbolton_dir), "--origin", "51.1445,-1.437", "--out", str(tmp_path), option, "0.6"]
    )
    assert res.exit_code == 2
    assert option in res.output and "beam data set" in res.output and "Traceback" not in res.output


def test_simulate_then_analyze(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text(
        'name = "t"\nseed = 2\n[site]\norigin = [45.0, 7.0]\narea_m = [[-250,-200],[250,-200],[250,200],[-250,200]]\n'
        "[[sources]]\nx_m = 0.0\ny_m = 0.0\nrate_g_s = 0.5\n[wind]\nspeed_m_s = 3.0\nfrom_deg = 180.0\n"
        "[aircraft]\nspeed_m_s = 6.0\naltitude_m = 5.0\nmin_altitude_m = 5.0\n[flight]\nline_spacing_m = 60.0\n"
    )
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", str(sc), "--out", str(out)])
    assert res.exit_code == 0, res.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["sources"][0]["lat"] == pytest.approx(45.0, abs=1e-9)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["line_spacing_m"] == 60.0
    res = runner.invoke(app, ["analyze", str(out / "flight.csv"), "--out", str(out), "--origin", "45.0,7.0"])
    assert res.exit_code == 0, res.output


def test_simulate_bad_scenario(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text("[site]\norigin = [95.0, 7.0]\n")
    res = runner.invoke(app, ["simulate", str(sc), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "site.origin" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_demo_finds_its_sources(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "sources.geojson").read_text())
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert len(truth["sources"]) >= 2
    # every property FORMATS.md section 2 requires
    req = {"id", "species", "emission_rate_g_s", "emission_rate_g_s_ci90", "location_ci90_m", "probability"}
    assert all(req <= set(f["properties"]) for f in doc["features"])
    # every true source found within 50 m, and nothing reported that is not there
    est = np.array([[f["properties"]["x_m"], f["properties"]["y_m"]] for f in doc["features"]])
    for t in truth["sources"]:
        assert np.min(np.hypot(est[:, 0] - t["x_m"], est[:, 1] - t["y_m"])) < 50.0
    assert len(est) == len(truth["sources"])
    # the target is told apart from the gas leak and the livestock site (issue 7's demo)
    for t in truth["sources"]:
        f = min(
            doc["features"],
            key=lambda f: np.hypot(f["properties"]["x_m"] - t["x_m"], f["properties"]["y_m"] - t["y_m"]),
        )
        assert f["properties"]["source_class"] == t["kind"]
        assert f["properties"]["class_probabilities"][t["kind"]] > 0.9
    for name in ("flight.csv", "plan.json", "sources.kml", "report.html", "report.png"):
        assert (tmp_path / name).exists()


def test_unknown_species_and_bad_truth(tmp_path):
    res = runner.invoke(app, ["analyze", str(DATA / "good.csv"), "--species", "nh3", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "species 'nh3'" in res.output and "Traceback" not in res.output
    bad = tmp_path / "truth.json"
    bad.write_text("{not json")
    res = runner.invoke(app, ["analyze", str(DATA / "good.csv"), "--truth", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "truth.json, line 1" in res.output


def test_a_truth_written_in_another_frame_is_compared_where_it_is():
    """The simulator's truth is in its site's frame; an analysis without --origin is about the
    track's median. The truth is carried through WGS84 (its sources' lat, lon, else its origin),
    so distances to it are the same in either frame (a 45 m frame offset was read as error)."""
    from pyproj import Geod

    from plumescout.geo import LocalFrame
    from plumescout.pipeline import truth_in_frame

    site, other = LocalFrame(51.1445, -1.437), LocalFrame(51.14444, -1.43641)
    lat, lon = site.to_wgs84(-255.0, 140.0)
    truth = {"origin": {"lat": 51.1445, "lon": -1.437}, "sources": [{"id": "t", "x_m": -255.0, "y_m": 140.0}]}
    with_latlon = {**truth, "sources": [{**truth["sources"][0], "lat": float(lat), "lon": float(lon)}]}
    est_lat, est_lon = site.to_wgs84(-240.0, 150.0)  # an estimate 18 m away
    ex, ey = other.to_local(est_lat, est_lon)
    for doc in (truth, with_latlon):
        (t,) = truth_in_frame(doc, other)["sources"]
        assert (t["x_m"], t["y_m"]) == pytest.approx(tuple(map(float, other.to_local(lat, lon))), abs=1e-6)
        _, _, d = Geod(ellps="WGS84").inv(lon, lat, est_lon, est_lat)
        assert np.hypot(t["x_m"] - ex, t["y_m"] - ey) == pytest.approx(d, abs=0.01)
        assert truth_in_frame(doc, site)["sources"][0]["x_m"] == pytest.approx(-255.0, abs=1e-6)
    # a truth with neither (a data set's, about the origin given) is left as it is
    bare = {"sources": [{"id": "t", "x_m": 1.0, "y_m": 2.0}]}
    assert truth_in_frame(bare, other) == bare

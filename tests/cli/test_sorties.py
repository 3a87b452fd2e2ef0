"""The sorties of one survey (one log per battery), joined in clock order and estimated from
together: ``plumescout analyze a.csv b.csv``.

The property tested: a flight cut into sorties and joined again is the flight, so the estimate
from the sorties together is the estimate from the uncut log (to floating point); and every
refusal (a sortie with no clock time, two flown at once, no species common to all, a beam data
set among them) names the file and exits 2 without a traceback.
"""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.flightlog import read_flight_csv, write_flight_csv
from plumescout.geo import LocalFrame
from plumescout.inference import EstimatorConfig
from plumescout.observations import aircraft_of, join_sorties
from plumescout.pipeline import analyze

runner = CliRunner()
SITE = LocalFrame(40.0, -105.0)  # the test flight's site (tests/conftest.py)
LEAK = (-60.0, 30.0, 0.5)  # its leak: x, y (m), rate (g/s)


@pytest.fixture(scope="module")
def cut(tmp_path_factory, single_flight):
    """The test flight written whole and cut in two at its middle sample: (whole, first, second)."""
    d = tmp_path_factory.mktemp("sorties")
    obs = single_flight.observations
    i = np.arange(len(obs))
    whole = write_flight_csv(d / "whole.csv", obs)
    first = write_flight_csv(d / "sortie1.csv", obs.select(i < len(obs) // 2))
    second = write_flight_csv(d / "sortie2.csv", obs.select(i >= len(obs) // 2))
    return whole, first, second


def test_sorties_joined_are_the_flight(cut):
    whole, first, second = (read_flight_csv(p) for p in cut)
    joined = join_sorties([second, first])  # given out of order: joined by clock time
    assert joined.t0 == whole.t0 and joined.frame.lat0 == whole.frame.lat0 and joined.frame.lon0 == whole.frame.lon0
    np.testing.assert_allclose(joined.time_s, whole.time_s, atol=1e-6)
    for a in ("x_m", "y_m", "z_m", "lat", "lon", "wind_speed_m_s", "wind_from_deg"):
        np.testing.assert_array_equal(getattr(joined, a), getattr(whole, a))
    np.testing.assert_array_equal(joined.species["ch4"], whole.species["ch4"])
    assert [p.rsplit("/", 1)[-1] for p in joined.source_files] == ["sortie1.csv", "sortie2.csv"]


def test_the_estimate_from_the_sorties_is_the_estimate_from_the_flight(cut):
    whole, first, second = cut
    cfg = EstimatorConfig(iterations=800, burn_in=300, chains=2)  # the property holds for any settings
    a = analyze(whole, config=cfg)
    b = analyze([first, second], config=cfg)
    assert len(a.sources) == len(b.sources) >= 1
    for s, t in zip(a.sources, b.sources, strict=True):
        assert t.x_m == pytest.approx(s.x_m, abs=1e-6) and t.y_m == pytest.approx(s.y_m, abs=1e-6)
        assert t.rate_g_s == pytest.approx(s.rate_g_s, rel=1e-9)
    assert [i["file"] for i in b.provenance["inputs"]] == ["sortie1.csv", "sortie2.csv"]
    assert b.provenance["samples"] == a.provenance["samples"]
    # which logs were joined, when each was flown: the provenance a partner can check
    half = len(read_flight_csv(first))
    assert [(x["file"], x["samples"]) for x in b.provenance["sorties"]] == [
        ("sortie1.csv", half),
        ("sortie2.csv", a.provenance["samples"] - half),
    ]
    assert b.provenance["sorties"][0]["end_time"] < b.provenance["sorties"][1]["start_time"]
    assert "sorties" not in a.provenance


@pytest.fixture(scope="module")
def two_aircraft(tmp_path_factory, single_flight):
    """The test flight (aircraft A: 5 m up, lines 60 m apart) and a second aircraft flown over the
    same leak at the same time (B: 8 m up, lines 80 m apart, its own meander and noise, seed 12):
    (a.csv, b.csv)."""
    from plumescout.simulate import simulate_flight
    from plumescout.simulate.scenario import Scenario

    from ..conftest import single_source_scenario

    d = tmp_path_factory.mktemp("aircraft")
    doc = single_source_scenario().model_dump()
    doc["seed"] = 12
    doc["aircraft"].update(altitude_m=8.0, min_altitude_m=8.0)
    doc["flight"]["line_spacing_m"] = 80.0
    b = simulate_flight(Scenario.model_validate(doc)).observations
    return write_flight_csv(d / "a.csv", single_flight.observations), write_flight_csv(d / "b.csv", b)


def test_aircraft_flown_at_the_same_time_are_estimated_together(two_aircraft, tmp_path):
    """One leak seen by two aircraft at once is one source (not one per aircraft), each aircraft
    a time series of its own (background, noise, sensor lag) in one fit."""
    a, b = two_aircraft
    parts = [read_flight_csv(a), read_flight_csv(b)]
    assert aircraft_of(parts) == [0, 1]
    joined = join_sorties(parts)
    assert [len(i) for i in joined.pieces()] == [len(parts[0]), len(parts[1])]
    r = runner.invoke(app, ["analyze", str(a), str(b), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "2 logs joined in clock order (2 aircraft at the same time" in r.output
    doc = json.loads((tmp_path / "o" / "sources.geojson").read_text())
    feats = doc["features"]
    assert len(feats) == 1
    x, y = SITE.to_local(*feats[0]["geometry"]["coordinates"][::-1])
    assert np.hypot(float(x) - LEAK[0], float(y) - LEAK[1]) <= 35.0  # issue 3's single-pass target
    lo, hi = feats[0]["properties"]["emission_rate_g_s_ci90"]
    assert lo <= LEAK[2] <= hi
    prov = doc["properties"]
    assert [(s["file"], s["aircraft"]) for s in prov["sorties"]] == [("a.csv", 1), ("b.csv", 2)]
    assert len(prov["detection"]["by_aircraft"]) == 2


def _seconds_times(src, dst):
    """A copy of ``src`` whose times are seconds from its start (no date)."""
    lines = src.read_text().splitlines()
    out = [lines[0]] + [f"{0.5 * k:.3f}," + line.split(",", 1)[1] for k, line in enumerate(lines[1:])]
    dst.write_text("\n".join(out) + "\n")
    return dst


def test_refusals_name_the_file(cut, tmp_path, chilbolton_dir):
    whole, first, second = cut
    cases = [
        ([first, _seconds_times(second, tmp_path / "seconds.csv")], "seconds.csv", "clock time"),
        ([whole, second], "sortie2.csv", "repeats the samples of"),
        ([first, chilbolton_dir], "source_1", "give its origin (--origin LAT,LON)"),
    ]
    co2 = tmp_path / "co2only.csv"
    co2.write_text(second.read_text().replace("ch4_ppm", "co2_ppm", 1))
    cases.append(([first, co2], "co2only.csv: co2", "no gas species is in every log"))
    for files, named, words in cases:
        r = runner.invoke(app, ["analyze", *map(str, files), "--out", str(tmp_path / "o")])
        assert r.exit_code == 2, r.output
        assert named in r.output and words in r.output
        assert "Traceback" not in r.output


def test_maps_break_the_track_between_sorties(single_flight, tmp_path):
    """Sorties with a 12-minute battery swap: the KML track is two lines (none drawn across the
    field while the aircraft was away), an uncut flight one."""
    from datetime import timedelta

    from plumescout.observations import track_breaks
    from plumescout.report.kml import write_kml

    obs = single_flight.observations
    i = np.arange(len(obs))
    a = write_flight_csv(tmp_path / "a.csv", obs.select(i < len(obs) // 2))
    b = write_flight_csv(tmp_path / "b.csv", obs.select(i >= len(obs) // 2), t0=obs.t0 + timedelta(minutes=12))
    joined = join_sorties([read_flight_csv(a), read_flight_csv(b)])
    assert track_breaks(joined.time_s).tolist() == [len(obs) // 2]
    assert track_breaks(obs.time_s).size == 0
    two = write_kml(tmp_path / "two.kml", [], joined).read_text()
    one = write_kml(tmp_path / "one.kml", [], obs).read_text()
    assert two.count("<LineString") == 2 and "MultiGeometry" in two
    assert one.count("<LineString") == 1 and "MultiGeometry" not in one

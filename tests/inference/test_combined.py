"""A drone flown over a beam network, estimated from in one fit (``analyze BEAMS FLIGHT --origin``).

The survey is benchmarks/combined_survey.py's simulator: a virtual release in the Chilbolton 2017
beam layout and minute winds (the record's geometry and weather, never its readings), seen by the
beams and by a planned flight through the same puffs, written as the files a crew brings home.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.flightlog import read_flight_csv
from plumescout.geo import LocalFrame
from plumescout.inference import EstimatorConfig
from plumescout.inference.data import PointData, read_beam_dataset
from plumescout.inference.detect import detect_observations
from plumescout.inference.sampler import KindNuisance, RJConfig, RJSampler

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SEED = 1  # one of the benchmark's seeds (0-29)


def _survey_module():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("combined_survey", BENCH / "combined_survey.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def survey(tmp_path_factory, chilbolton_dir):
    mod = _survey_module()
    return mod.write_survey(SEED, tmp_path_factory.mktemp("survey"), chilbolton_dir), mod.ORIGIN


def _origin(origin) -> str:
    return f"{origin[0]},{origin[1]}"


def test_each_kind_reads_its_own_wind_bias_and_width(survey):
    """The flight and the beams share the sources and the height; each kind's wind bias and width
    multiplier move only its own columns (each reads its own anemometer and dispersion scheme)."""
    files, origin = survey
    obs = read_flight_csv(files["flight"], origin=origin)
    det = detect_observations(obs, "ch4", 180.0, 0.1)
    point = PointData.from_observations(obs, det, "ch4")
    beams = read_beam_dataset(files["beams"], "ch4")
    src = np.array([[files["sources"][0]["x_m"] + 5.0, files["sources"][0]["y_m"]]])
    other = KindNuisance("beam", 0.1)
    s = RJSampler([point, beams], (0, 0, 100, 150), RJConfig(horizontal_width=True, scale_prior=0.35, other_kind=other))
    th = s.theta0()
    assert th.size == s.NOISE + 2 + 2 and len(s.theta_names()) == th.size
    base = s.columns(src, th)
    for i, touched in ((0, 0), (1, 0), (s.OTHER, 1), (s.OTHER + 1, 1)):
        th2 = th.copy()
        th2[i] += 10.0 if i in (0, s.OTHER) else 0.3  # degrees of bias, or a log width step
        cols = s.columns(src, th2)
        assert not np.allclose(cols[touched], base[touched]), s.theta_names()[i]
        np.testing.assert_array_equal(cols[1 - touched], base[1 - touched], err_msg=s.theta_names()[i])
    # the shared height moves both
    th2 = th.copy()
    th2[2] += 1.0
    cols = s.columns(src, th2)
    assert all(not np.allclose(c, b) for c, b in zip(cols, base, strict=True))
    # one kind alone: the theta of before (no components for a second kind)
    alone = RJSampler([point], (0, 0, 100, 150), RJConfig())
    assert alone.theta0().size == alone.NOISE + 1 == len(alone.theta_names())


def test_a_flight_over_beams_is_estimated_in_one_fit(survey, tmp_path):
    files, origin = survey
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app,
        ["analyze", str(files["beams"]), str(files["flight"]), "--origin", _origin(origin), "--out", str(out),
         "--truth", str(files["truth"])],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "one fit of both" in r.output
    doc = json.loads((out / "sources.geojson").read_text())
    prov = doc["properties"]
    assert prov["model"].startswith("a flight and a beam network in one fit")
    # every input read, and counted: the flight's samples and the beams' readings
    assert prov["samples"] == len(read_flight_csv(files["flight"]))
    assert prov["readings"] == len(read_beam_dataset(files["beams"], "ch4"))
    names = prov["posterior"]["theta_names"]
    assert "wind bias deg (beam)" in names and "wind bias deg (point)" in names
    assert "beam_width_factor" in prov["posterior"]
    # exactly one source, the release inside its 90 % region (the standard for real data)
    feats = doc["features"]
    assert len(feats) == 1, [f["properties"] for f in feats]
    p = feats[0]["properties"]
    lon, lat = feats[0]["geometry"]["coordinates"][:2]
    x, y = LocalFrame(*origin).to_local(lat, lon)
    truth = files["sources"][0]
    err = float(np.hypot(x - truth["x_m"], y - truth["y_m"]))
    assert err <= p["location_ci90_m"], (err, p["location_ci90_m"])
    assert p["location_ci90_m"] >= EstimatorConfig().point_location_floor_m  # a flight resolves no finer
    lo, hi = p["emission_rate_g_s_ci90"]
    assert lo <= truth["rate_g_s"] <= hi
    floor = EstimatorConfig().point_rate_floor_factor  # nor measures a rate finer than x/÷ this
    q = p["emission_rate_g_s"]
    assert lo <= q / floor * (1 + 1e-9) and hi >= q * floor * (1 - 1e-9)
    for name in ("sources.kml", "report.html", "report.png"):
        assert (out / name).stat().st_size > 0


def test_two_beam_data_sets_are_refused(survey, tmp_path):
    files, origin = survey
    r = CliRunner().invoke(
        app,
        ["analyze", str(files["beams"]), str(files["beams"]), str(files["flight"]), "--origin", _origin(origin),
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert r.exit_code != 0
    assert "one beam data set at a time" in r.output and "Traceback" not in r.output


def test_a_flight_over_beams_needs_the_beams_origin(survey, tmp_path):
    files, _ = survey
    r = CliRunner().invoke(app, ["analyze", str(files["beams"]), str(files["flight"]), "--out", str(tmp_path)])
    assert r.exit_code != 0
    assert "--origin" in r.output and str(files["beams"]) in r.output.replace("\n", "")
    assert "Traceback" not in r.output


def test_the_beams_species_must_be_in_the_flight_log(survey, tmp_path):
    """A flight log measuring another gas than the beams is refused, naming both."""
    files, origin = survey
    text = files["flight"].read_text().replace("ch4_ppm", "c2h6_ppm", 1)
    other = tmp_path / "ethane.csv"
    other.write_text(text)
    r = CliRunner().invoke(
        app, ["analyze", str(files["beams"]), str(other), "--origin", _origin(origin), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code != 0
    assert "'ch4'" in r.output and "c2h6" in r.output and "Traceback" not in r.output


def test_a_flight_far_from_the_beams_is_refused(survey, tmp_path):
    """The beams' metres placed about the wrong origin (0.01 degree, 1.1 km, north of the right one):
    no source could be seen by both, and the message says where to look."""
    files, origin = survey
    wrong = f"{origin[0] + 0.01},{origin[1]}"
    r = CliRunner().invoke(
        app, ["analyze", str(files["beams"]), str(files["flight"]), "--origin", wrong, "--out", str(tmp_path)]
    )
    assert r.exit_code != 0
    assert "from the nearest beam" in r.output and "--origin" in r.output and "Traceback" not in r.output


def test_a_source_seen_only_near_it_is_widened_in_the_one_fit_too(survey):
    """A flight over beams fitted with them: the same samples (the same seed, the search area held)
    summarised with the near distance off and at 1.3 times the source's farthest crossing: the
    circle's radius before its floor, and the rate interval's log half-widths before theirs, grow
    by exactly 1.3 (no ellipse in this fit)."""
    from plumescout.pipeline import analyze

    files, origin = survey
    inputs = [files["beams"], files["flight"]]
    held = EstimatorConfig(iterations=1500, burn_in=600, max_search_refits=0, point_near_crossing_m=0.0)
    (a,) = analyze(inputs, config=held, origin=origin).estimator.sources_
    near = 1.3 * max(a.crossing_distances_m)
    (b,) = analyze(inputs, config=held.model_copy(update={"point_near_crossing_m": near}), origin=origin).sources
    floor = held.point_location_floor_m
    assert (a.near_crossing_widening, b.near_crossing_widening) == (1.0, pytest.approx(1.3))
    assert np.sqrt(b.location_ci90_m**2 - floor**2) == pytest.approx(1.3 * np.sqrt(a.location_ci90_m**2 - floor**2))
    assert a.ellipse_ci90_m is None and b.ellipse_ci90_m is None
    assert (b.x_m, b.y_m, b.rate_g_s) == (a.x_m, a.y_m, a.rate_g_s)
    f = np.log(held.point_rate_floor_factor)
    for x, y in zip(a.rate_g_s_ci90, b.rate_g_s_ci90, strict=True):
        hx, hy = abs(np.log(x / a.rate_g_s)), abs(np.log(y / b.rate_g_s))
        assert np.sqrt(hy**2 - f**2) == pytest.approx(1.3 * np.sqrt(hx**2 - f**2))

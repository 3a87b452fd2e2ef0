"""Follow-up flights: crosswind lines over the sources an analysis could not pin down."""

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.errors import ConfigError
from plumescout.flightlog import write_flight_csv
from plumescout.geo import LocalFrame
from plumescout.inference import EstimatorConfig
from plumescout.pipeline import analyze
from plumescout.planning.coverage import detectable_range, weakest_detectable_rate
from plumescout.planning.followup import (
    Target,
    follow_up_area,
    lower_altitude,
    parse_analysis,
    plan_follow_up,
    planned_rate,
    read_analysis,
)
from plumescout.planning.mission import Aircraft, MissionSettings
from plumescout.simulate import simulate_flight

from ..conftest import single_source_scenario

DATA = Path(__file__).parent.parent / "data" / "planning" / "followup"
runner = CliRunner()
FAST = EstimatorConfig(iterations=1500, burn_in=600)


def _settings(wind_from=270.0, **kw):
    return MissionSettings(
        wind_from_deg=wind_from, wind_speed_m_s=3.0, altitude_m=5.0, aircraft=[Aircraft(speed_m_s=5.0)], **kw
    )


def _lines(path: np.ndarray, wind_from: float) -> list[tuple[float, float, float]]:
    """The survey lines of a mission path: (downwind position, crosswind from, crosswind to)."""
    toward = np.deg2rad(wind_from + 180.0)
    down = np.array([np.sin(toward), np.cos(toward)])
    cross = np.array([down[1], -down[0]])
    u, v = path @ down, path @ cross
    out = []
    for i in range(len(path) - 1):
        if abs(u[i + 1] - u[i]) < 1e-6 and abs(v[i + 1] - v[i]) > 1.0:
            out.append((float(u[i]), *sorted((float(v[i]), float(v[i + 1])))))
    return out


def _crossed_three_times(t: Target, lines, st, wind_from: float, n: int = 500, points=None) -> None:
    """Wherever in ``t``'s 90 % region the source is, at least three of ``lines`` lie downwind of
    it at distances where a plume of its rate is above the detection limit at the flight altitude
    (``detectable_range``), and reach across the plume's centreline."""
    x_lo, x_hi = detectable_range(
        t.rate_g_s, 3.0, st.altitude_m, st.detection_limit_ppm, "ch4", "D", source_height_m=t.height_m
    )
    toward = np.deg2rad(wind_from + 180.0)
    down = np.array([np.sin(toward), np.cos(toward)])
    cross = np.array([down[1], -down[0]])
    rng = np.random.default_rng(0)
    r, a = t.radius_m * np.sqrt(rng.uniform(size=n)), rng.uniform(0, 2 * np.pi, n)
    for p in np.column_stack([t.x_m + r * np.cos(a), t.y_m + r * np.sin(a)]) if points is None else points:
        pu, pv = p @ down, p @ cross
        seen = [u for u, v0, v1 in lines if x_lo <= u - pu <= x_hi and v0 <= pv <= v1]
        assert len(seen) >= 3, (t.id, p, seen)


@pytest.mark.parametrize("wind_from", [270.0, 35.0])
def test_every_place_in_the_region_is_crossed_three_times_within_the_plumes_reach(wind_from):
    """The property the lines are laid for (:func:`_crossed_three_times`)."""
    t = Target("S1", 40.0, -20.0, 25.0, 0.2, 1.0)
    st = _settings(wind_from)
    (f,) = plan_follow_up([t], st)
    lines = _lines(f.mission.path_m, wind_from)
    assert len(lines) == f.mission.n_lines >= 3
    _crossed_three_times(t, lines, st, wind_from)
    # spaced to resolve the region: four lines or more across its diameter
    assert f.spacing_m <= 2 * t.radius_m / 4 + 1e-9


@pytest.mark.parametrize("wind_from", [270.0, 35.0])
def test_a_flights_ellipse_is_flown_over_not_its_circle(wind_from):
    """A flight's 90 % ellipse, long along the wind (40 x 10 m) inside its 25 m circle's
    neighbourhood: the lines cover the ellipse (its reach along and across the wind: the
    semi-axes when aligned, sqrt((a sin)^2 + (b cos)^2) turned), every place in it is crossed three
    times, and the flight is shorter than over the circle. Turned across the wind the reaches
    swap."""
    along = wind_from + 180.0  # the major axis down the wind
    t = Target("S1", 40.0, -20.0, 25.0, 0.2, 1.0, None, (40.0, 10.0, along % 360.0))
    assert t.half_extents(wind_from) == pytest.approx((40.0, 10.0))
    turned = dataclasses.replace(t, ellipse_m=(40.0, 10.0, (along + 90.0) % 360.0))
    assert turned.half_extents(wind_from) == pytest.approx((10.0, 40.0))
    oblique = dataclasses.replace(t, ellipse_m=(40.0, 10.0, (along + 30.0) % 360.0))
    assert oblique.half_extents(wind_from) == pytest.approx(
        (np.hypot(40.0 * np.cos(np.pi / 6), 10.0 * np.sin(np.pi / 6)),
         np.hypot(40.0 * np.sin(np.pi / 6), 10.0 * np.cos(np.pi / 6)))
    )  # fmt: skip
    st = _settings(wind_from)
    (f,) = plan_follow_up([t], st)
    rng = np.random.default_rng(1)
    r, phi = np.sqrt(rng.uniform(size=500)), rng.uniform(0, 2 * np.pi, 500)
    toward = np.deg2rad(along)
    major = np.array([np.sin(toward), np.cos(toward)])
    minor = np.array([major[1], -major[0]])
    inside = (np.array([t.x_m, t.y_m]) + (40.0 * r * np.cos(phi))[:, None] * major
              + (10.0 * r * np.sin(phi))[:, None] * minor)  # fmt: skip
    _crossed_three_times(t, _lines(f.mission.path_m, wind_from), st, wind_from, points=inside)
    (g,) = plan_follow_up([dataclasses.replace(t, ellipse_m=None)], st)
    assert f.mission.path_m.shape[0] >= 4
    length = lambda p: float(np.sum(np.hypot(*np.diff(p.mission.path_m, axis=0).T)))  # noqa: E731
    assert length(f) < length(g)


def test_sources_whose_areas_overlap_share_one_mission():
    """Two flagged sources 27 m apart get one mission (no ground flown twice: shorter than the
    two flown apart), in which each is still crossed three times; one 400 m away its own."""
    a, b = Target("S1", 0.0, 0.0, 20.0, 0.2, 1.0), Target("S2", 10.0, 25.0, 15.0, 0.4, 1.0)
    c = Target("S3", 400.0, 0.0, 10.0, 0.2, 1.0)
    st = _settings()
    plans = plan_follow_up([a, b, c], st)
    assert [[t.id for t in p.targets] for p in plans] == [["S1", "S2"], ["S3"]]
    assert plans[0].name == "S1+S2" and set(plans[0].along_m) == {"S1", "S2"}
    apart = [plan_follow_up([t], st)[0] for t in (a, b)]
    assert plans[0].spacing_m == min(p.spacing_m for p in apart)
    length = lambda p: float(np.sum(np.hypot(*np.diff(p.mission.path_m, axis=0).T)))  # noqa: E731
    assert length(plans[0]) < sum(length(p) for p in apart)
    lines = _lines(plans[0].mission.path_m, 270.0)
    for t in (a, b):
        _crossed_three_times(t, lines, st, 270.0)


def test_the_spacing_never_falls_below_five_metres_and_the_lines_stay_close_to_the_source():
    (f,) = plan_follow_up([Target("S1", 0.0, 0.0, 4.0, 0.2, 1.0)], _settings())
    assert f.spacing_m == 5.0
    x_lo, _ = detectable_range(0.2, 3.0, 5.0, 0.05, "ch4", "D", source_height_m=1.0)
    # from where a source at the region's upwind edge is first seen to three lines past its downwind edge
    assert f.along_m["S1"] == pytest.approx((-4.0 + x_lo, 4.0 + x_lo + 2 * 5.0))
    assert f.reach_m["S1"][0] == pytest.approx(x_lo)


def test_read_analysis_takes_positions_regions_and_the_low_end_of_each_rate():
    an = read_analysis(DATA / "analysis.geojson")
    assert [t.id for t in an.targets] == ["S1", "S2"]
    s1 = an.targets[0]
    x, y = LocalFrame(40.0, -105.0).to_local(40.0003, -104.9995)
    assert (s1.x_m, s1.y_m, s1.radius_m, s1.rate_g_s) == pytest.approx((x, y, 25.0, 0.2))
    assert (an.wind_speed_m_s, an.wind_from_deg, an.altitude_m) == (3.0, 270.0, 5.0)
    assert [t.id for t in an.select()] == ["S1"]  # only the flagged one by default
    assert [t.id for t in an.select(["S2", "S1"])] == ["S2", "S1"]
    assert all(t.ellipse_m is None for t in an.targets)  # (no ellipse recorded: the circle)
    doc = json.loads((DATA / "analysis.geojson").read_text())
    ell = {"semi_major_m": 38.0, "semi_minor_m": 9.5, "major_axis_azimuth_deg": 80.0}
    doc["features"][0]["properties"]["location_ci90_ellipse"] = ell
    assert parse_analysis(doc, "doc", ellipse=True).targets[0].ellipse_m == (38.0, 9.5, 80.0)
    assert parse_analysis(doc, "doc").targets[0].ellipse_m is None  # (the circle by default)


def test_a_source_of_low_probability_is_flown_by_default_and_one_too_weak_is_listed(tmp_path):
    """A source reported at a low probability of existing is a follow-up's target (to confirm it
    or show it is not there; the mission says why). A target whose weakest plume never reaches
    the flight's height is not planned: listed with the altitude that would see it, the others
    planned (the command refused them all before)."""
    doc = json.loads((DATA / "analysis.geojson").read_text())
    (s2,) = [f for f in doc["features"] if f["properties"]["id"] == "S2"]
    s2["properties"]["flags"] = ["low_probability"]
    src = tmp_path / "low.geojson"
    src.write_text(json.dumps(doc))
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "out" / "follow_up.json").read_text())
    why = {k: v for m in plan["missions"] for k, v in m["why"].items()}
    assert why == {"S1": ["single_crossing"], "S2": ["low_probability"]} and "not_planned" not in plan
    # S2 as weak as 0.001 g/s at its low end and not crossed by the survey (nothing says its
    # plume reaches 5 m): never seen at 5 m; S1 is still planned
    s2["properties"].update(emission_rate_g_s_ci90=[0.001, 1.3], plume_crossings=0)
    src.write_text(json.dumps(doc))
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "weak")])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "weak" / "follow_up.json").read_text())
    assert [[s["id"] for s in m["sources"]] for m in plan["missions"]] == [["S1"]]
    assert list(plan["not_planned"]) == ["S2"] and "fly lower" in plan["not_planned"]["S2"]
    assert "not planned: source S2" in " ".join(res.output.split())
    # every target refused: an error naming the file, not a traceback
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "none"), "--sources", "S2"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "low.geojson" in res.output and "fly lower" in res.output


def test_a_source_too_weak_to_see_at_the_surveyed_height_is_planned_lower(tmp_path):
    """At 15 m the low end of S2's rate (0.03 g/s) never reaches the detection limit
    (``detectable_range``: no distance); at the aircraft's 5 m minimum it does. Its mission is
    written at the height :func:`lower_altitude` finds, in a directory of its own that says so,
    recorded as flown below the survey and printed with the warning about obstacles; S1, seen at
    15 m, keeps its mission there."""
    doc = json.loads((DATA / "analysis.geojson").read_text())
    (s2,) = [f for f in doc["features"] if f["properties"]["id"] == "S2"]
    s2["properties"].update(flags=["low_probability"], emission_rate_g_s_ci90=[0.03, 1.3])
    src = tmp_path / "weak.geojson"
    src.write_text(json.dumps(doc))
    reach = lambda alt: detectable_range(0.03, 3.0, alt, 0.05, "ch4", "D", source_height_m=1.0)  # noqa: E731
    assert not np.isfinite(reach(15.0)[0])
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "out"), "--altitude", "15"])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "out" / "follow_up.json").read_text())
    assert "not_planned" not in plan
    by_id = {m["sources"][0]["id"]: m for m in plan["missions"]}
    assert by_id["S1"]["altitude_m"] == 15.0 and by_id["S1"]["dir"] == "S1"
    assert "below_survey_altitude" not in by_id["S1"]
    low = by_id["S2"]
    a = low["altitude_m"]
    crafts = [Aircraft(speed_m_s=5.0, min_altitude_m=5.0)]
    st = MissionSettings(wind_from_deg=270.0, wind_speed_m_s=3.0, altitude_m=15.0, aircraft=crafts)
    assert (a, pytest.approx(low["sources"][0]["plume_detectable_from_m"], abs=0.05)) == lower_altitude(
        Target("S2", 0.0, 0.0, 12.0, 0.03, 1.0), st
    )
    assert 5.0 <= a < 15.0 and np.isfinite(reach(a)[0])
    assert low["dir"] == f"S2_{a:g}m" and low["below_survey_altitude"]["survey_altitude_m"] == 15.0
    # the aircraft is sent at that height: the waypoint file's altitude column
    rows = [r.split("\t") for r in (tmp_path / "out" / low["dir"] / "mission.waypoints").read_text().splitlines()[1:]]
    assert {float(r[10]) for r in rows if r[3] == "16" and r[0] != "0"} == {a}
    said = " ".join(res.output.split())
    assert f"S2: its weakest plume never reaches 15 m; planned at {a:g} m" in said and "obstacles" in said
    # the site allows no lower than 6 m: planned there; no lower than 10 m, where (closed form) no
    # height from 10 m up sees it: listed as not planned, S1 still flown
    assert np.isfinite(reach(6.0)[0]) and not any(np.isfinite(reach(h)[0]) for h in np.arange(10.0, 15.0, 0.5))
    for floor, want in ((6.0, 6.0), (10.0, None)):
        d = tmp_path / f"floor{floor:g}"
        res = runner.invoke(
            app, ["follow-up", str(src), "--out", str(d), "--altitude", "15", "--min-altitude", str(floor)]
        )
        assert res.exit_code == 0, res.output
        plan = json.loads((d / "follow_up.json").read_text())
        got = {m["sources"][0]["id"]: m["altitude_m"] for m in plan["missions"]}
        assert got == ({"S1": 15.0, "S2": want} if want else {"S1": 15.0})
        assert ("not_planned" in plan) == (want is None)
    # a fleet's aircraft that may fly at 2 m are held to the site's 6 m
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[aircraft]]\nname = "low"\nspeed_m_s = 5.0\nmin_altitude_m = 2.0\n')
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "fleet"), "--altitude", "15",
                              "--fleet", str(fleet), "--min-altitude", "6"])  # fmt: skip
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "fleet" / "follow_up.json").read_text())
    assert {m["sources"][0]["id"]: m["altitude_m"] for m in plan["missions"]} == {"S1": 15.0, "S2": 6.0}
    # a negative site minimum is refused, fleet or not
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "n"), "--altitude", "15",
                              "--fleet", str(fleet), "--min-altitude", "-1"])  # fmt: skip
    assert res.exit_code != 0 and "Traceback" not in res.output and "--min-altitude" in res.output
    # a site minimum above the flight's own height contradicts it: a clear error
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "x"), "--altitude", "15",
                              "--min-altitude", "20"])  # fmt: skip
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "outside aircraft UAV1's limits" in " ".join(res.output.split())


def test_follow_up_command_plans_the_flagged_source_only(tmp_path):
    res = runner.invoke(app, ["follow-up", str(DATA / "analysis.geojson"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "follow_up.json").read_text())
    assert [[s["id"] for s in m["sources"]] for m in doc["missions"]] == [["S1"]]
    assert doc["missions"][0]["why"] == {"S1": ["single_crossing"]} and doc["missions"][0]["lines"] >= 3
    for name in ("mission.plan", "mission.waypoints", "mission.kml"):
        assert (tmp_path / "S1" / name).stat().st_size > 0
    assert not (tmp_path / "S2").exists()
    assert (tmp_path / "follow_up.png").stat().st_size > 0
    res = runner.invoke(app, ["follow-up", str(DATA / "analysis.geojson"), "--out", str(tmp_path), "--sources", "S2"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "follow_up.json").read_text())["missions"][0]["why"] == {"S2": ["asked"]}


def test_the_follow_up_plans_with_the_stability_the_analysis_fitted(tmp_path):
    """An analysis that fitted stable air (index 4.6, between E and F) gets lines farther
    downwind: its plume grows more slowly and reaches the flight altitude later
    (``detectable_range``). Without a fitted value (older files), or with --stability given,
    the given class (default D) is used."""
    an = read_analysis(DATA / "analysis_stable_air.geojson")
    assert an.stability() == 4.6 and an.stability("C") == "C"
    assert read_analysis(DATA / "analysis.geojson").stability() == "D"
    docs, said = {}, {}
    for name, src, args in (
        ("stable", "analysis_stable_air.geojson", []),
        ("given", "analysis_stable_air.geojson", ["--stability", "D"]),
        ("older", "analysis.geojson", []),
    ):
        res = runner.invoke(app, ["follow-up", str(DATA / src), "--out", str(tmp_path / name), *args])
        assert res.exit_code == 0, res.output
        docs[name] = json.loads((tmp_path / name / "follow_up.json").read_text())
        said[name] = " ".join(res.output.split())
    assert "stability 4.6 (F)" in said["stable"] and "stability D" in said["given"]
    assert [d["stability"] for d in docs.values()] == [4.6, "D", "D"]
    first = {k: d["missions"][0]["sources"][0] for k, d in docs.items()}
    for k, stab in (("stable", 4.6), ("older", "D")):
        x_lo = detectable_range(0.2, 3.0, 5.0, 0.05, "ch4", stab, source_height_m=1.0)[0]
        assert first[k]["plume_detectable_from_m"] == pytest.approx(x_lo, abs=0.05)
        assert first[k]["lines_from_m"] == pytest.approx(x_lo - 25.0, abs=0.05)  # from the region's upwind edge
    assert first["stable"]["plume_detectable_from_m"] > first["older"]["plume_detectable_from_m"]
    assert first["given"] == first["older"]
    res = runner.invoke(
        app, ["follow-up", str(DATA / "analysis.geojson"), "--out", str(tmp_path / "g"), "--stability", "G"]
    )
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "stability: Value error, unknown stability class 'G'" in " ".join(res.output.split())


def test_a_lower_altitude_is_suggested_when_the_plume_reaches_the_lines_beyond_the_region(tmp_path):
    """At 15 m a 0.2 g/s plume from 1 m is first detectable far beyond a 25 m region: the
    advice is the highest altitude (0.5 m steps, no lower than the aircraft's minimum) at which
    it would be within the radius (``detectable_range``)."""
    t = Target("S1", 0.0, 0.0, 25.0, 0.2, 1.0)
    reach = lambda alt: detectable_range(0.2, 3.0, alt, 0.05, "ch4", "D", source_height_m=1.0)[0]  # noqa: E731

    def at(alt, floor):
        craft = [Aircraft(speed_m_s=5.0, min_altitude_m=floor)]
        return MissionSettings(wind_from_deg=270.0, wind_speed_m_s=3.0, altitude_m=alt, aircraft=craft)

    a, x = lower_altitude(t, at(15.0, 2.0))
    assert reach(15.0) > 25.0 >= x == reach(a) and reach(a + 0.5) > 25.0 and a >= 2.0
    assert lower_altitude(t, at(5.0, 2.0)) is None  # at 5 m it is already seen within the region
    assert lower_altitude(t, at(15.0, 15.0)) is None  # an aircraft that may not fly lower
    # a plume never detectable at the altitude: the refusal says where it would be
    with pytest.raises(ConfigError, match=r"fly lower \(at [0-9.]+ m it would be detectable from [0-9]+ m downwind\)"):
        follow_up_area(t, at(30.0, 2.0))
    # the command prints the advice and records it
    res = runner.invoke(app, ["follow-up", str(DATA / "analysis.geojson"), "--out", str(tmp_path), "--altitude", "15"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    low = json.loads((tmp_path / "follow_up.json").read_text())["missions"][0]["lower_altitude"]["S1"]
    assert "lower: S1: its plume first reaches 15 m" in said and f"--altitude {low['altitude_m']:g}" in said
    assert low["plume_detectable_from_m"] <= 25.0


def test_nothing_flagged_means_nothing_to_fly(tmp_path):
    doc = json.loads((DATA / "analysis.geojson").read_text())
    for f in doc["features"]:
        f["properties"]["flags"] = []
    src = tmp_path / "clean.geojson"
    src.write_text(json.dumps(doc))
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0 and "nothing to fly again" in res.output
    assert not (tmp_path / "out").exists()


def test_a_beam_analysis_needs_the_wind_and_altitude_given(tmp_path):
    src = DATA / "beams_analysis.geojson"
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path)])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "beams_analysis.geojson" in res.output and "--wind-from" in res.output and "--altitude" in res.output
    res = runner.invoke(
        app,
        ["follow-up", str(src), "--out", str(tmp_path), "--wind-from", "200", "--wind-speed", "2.5", "--altitude", "3"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "follow_up.json").read_text())["missions"][0]["why"] == {
        "S1": ["region_at_search_edge"]
    }


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("not_json.geojson", [], "line 4"),
        ("not_collection.geojson", [], "not a GeoJSON FeatureCollection"),
        ("no_radius.geojson", [], "feature 0 (S1): 'location_ci90_m' must be a number"),
        ("bad_interval.geojson", [], "'emission_rate_g_s_ci90' must be a number, not 'low'"),
        ("swapped_position.geojson", [], "is not [longitude, latitude]"),
        ("analysis.geojson", ["--sources", "S1,S9"], "no source S9 in this file (it has: S1, S2)"),
        ("missing.geojson", [], "cannot read"),
        ("bad_stability.geojson", [], "'stability_index_fitted' 7.5 is not in 0 (A) .. 5 (F)"),
        ("bad_crossings.geojson", [], "feature 1 (S2): 'plume_crossings' must be a count (0 or more), not -2"),
        ("bad_before_widening.geojson", [], "(S1): 'emission_rate_g_s_ci90_before_widening' must be [low, high]"),
        ("bad_ellipse.geojson", [], "(S1): 'location_ci90_ellipse.semi_minor_m' must be a number, not 'wide'"),
    ],
)
def test_follow_up_refuses_bad_files_cleanly(name, args, words, tmp_path):
    res = runner.invoke(app, ["follow-up", str(DATA / name), "--out", str(tmp_path / "out"), *args])
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    text = " ".join(res.output.split())
    assert name in text and words in text, res.output
    assert not (tmp_path / "out").exists()


def test_flying_the_follow_up_pins_down_a_source_seen_on_one_crossing(single_flight, tmp_path):
    """One line of the suite's one-source flight sees the plume once: its source is flagged.
    The follow-up planned from that analysis' GeoJSON, flown through the same scenario (its own
    wind realisation, later), and analysed together with the first log: the source now rests on
    three crossings or more, is no longer flagged, and its 90 % region and rate interval hold the
    truth."""
    sc = single_source_scenario()  # the fixture's scenario
    obs = single_flight.observations
    part = obs.select(np.flatnonzero((obs.time_s >= 460.0) & (obs.time_s <= 560.0)))
    first = write_flight_csv(tmp_path / "line.csv", part)
    analyze(first, tmp_path / "a1", config=FAST)
    res = runner.invoke(app, ["follow-up", str(tmp_path / "a1" / "sources.geojson"), "--out", str(tmp_path / "fu")])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "fu" / "follow_up.json").read_text())
    (m,) = plan["missions"]
    assert m["why"] == {"S1": ["single_crossing"]}
    # the planned lines, from the mission file, into the scenario's frame
    items = json.loads((tmp_path / "fu" / "S1" / "mission.plan").read_text())["mission"]["items"]
    ll = np.array([[it["params"][4], it["params"][5]] for it in items if it["command"] == 16])
    frame = LocalFrame(*sc.site.origin)
    xy = np.column_stack(frame.to_local(ll[:, 0], ll[:, 1]))
    flight = sc.flight.model_copy(update={"pattern": "waypoints", "waypoints_m": xy.tolist()})
    again = simulate_flight(sc.model_copy(update={"seed": sc.seed + 1, "flight": flight})).observations
    again = dataclasses.replace(again, t0=part.t0 + timedelta(seconds=float(part.time_s[-1]) + 600.0))
    second = write_flight_csv(tmp_path / "follow.csv", again)
    res = analyze([first, second], tmp_path / "a2", config=FAST)
    (s,) = res.estimator.sources_
    assert s.crossings >= 3 and "single_crossing" not in s.flags
    truth = sc.sources[0]
    lat, lon = frame.to_wgs84(truth.x_m, truth.y_m)
    err = Geod(ellps="WGS84").inv(s.lon, s.lat, float(lon), float(lat))[2]
    assert err <= s.location_ci90_m
    assert s.rate_g_s_ci90[0] <= truth.rate_g_s <= s.rate_g_s_ci90[1]


def test_overlapping_sources_far_apart_along_and_across_the_wind_keep_their_own_missions():
    """Two areas that overlap at a corner: one mission over their hull would also fly the ground
    between them, longer than the two apart, so each keeps its own."""
    from plumescout.planning.followup import follow_up_area

    a, b = Target("S1", 0.0, 0.0, 20.0, 0.2, 1.0), Target("S2", 60.0, 50.0, 20.0, 0.2, 1.0)
    st = _settings()
    assert follow_up_area(a, st)[0].intersects(follow_up_area(b, st)[0])
    assert [p.name for p in plan_follow_up([a, b], st)] == ["S1", "S2"]


def test_a_source_the_survey_saw_is_planned_for_no_weaker_a_plume_than_its_height_sees(tmp_path):
    """S2's plume was crossed 6 times at the survey's 5 m (``plume_crossings``,
    ``flight_altitude_m``): a low end of 0.001 g/s, whose plume never reaches 5 m, is ruled out by
    the survey itself. The lines are laid for the weakest rate that 5 m sees (concentration is
    linear in rate: just above it the plume is detectable there, just below it is not) and the
    mission records both rates and the height; the same source not crossed is refused (above)."""
    doc = json.loads((DATA / "analysis.geojson").read_text())
    (s2,) = [f for f in doc["features"] if f["properties"]["id"] == "S2"]
    s2["properties"].update(flags=["low_probability"], emission_rate_g_s_ci90=[0.001, 1.3])
    src = tmp_path / "seen.geojson"
    src.write_text(json.dumps(doc))
    an = read_analysis(src)
    t2 = an.select(["S2"])[0]
    assert (t2.rate_g_s, t2.seen_at_m) == (0.001, 5.0)
    weakest = weakest_detectable_rate(3.0, 5.0, 0.05, "ch4", "D", source_height_m=1.0)
    reach = lambda q: detectable_range(q, 3.0, 5.0, 0.05, "ch4", "D", source_height_m=1.0)  # noqa: E731
    assert 0.001 < weakest and np.isfinite(reach(1.001 * weakest)[0]) and not np.isfinite(reach(0.999 * weakest)[0])
    st = _settings()
    assert planned_rate(t2, st) == pytest.approx(1.001 * weakest)
    assert planned_rate(an.select(["S1"])[0], st) == 0.2  # a low end above it stands
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "out"), "--stability", "D"])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "out" / "follow_up.json").read_text())
    assert "not_planned" not in plan
    (row,) = [s for m in plan["missions"] for s in m["sources"] if s["id"] == "S2"]
    assert row["rate_ci90_low_g_s"] == 0.001 and row["seen_at_m"] == 5.0
    assert row["reference_rate_g_s"] == pytest.approx(1.001 * weakest, rel=1e-4)
    assert row["plume_detectable_from_m"] == pytest.approx(reach(1.001 * weakest)[0], abs=0.05)
    text = " ".join(res.output.split())  # the crew is told why
    assert f"S2: lines laid for {1.001 * weakest:.3g} g/s, not its rate interval's low end 0.001" in text
    assert "crossed its plume at 5 m" in text


def test_a_widened_source_is_told_as_planned_for_its_interval_before_the_widening(tmp_path):
    """A source whose rate interval was widened for its near crossings is planned for the low end
    before the widening; the crew is told which low end that is (not the reported interval's)."""
    doc = json.loads((DATA / "analysis.geojson").read_text())
    (s2,) = [f for f in doc["features"] if f["properties"]["id"] == "S2"]
    s2["properties"].update(
        flags=["low_probability"],
        emission_rate_g_s_ci90=[0.0002, 6.0],
        emission_rate_g_s_ci90_before_widening=[0.001, 1.3],
    )
    src = tmp_path / "widened.geojson"
    src.write_text(json.dumps(doc))
    t2 = read_analysis(src).select(["S2"])[0]
    assert (t2.rate_g_s, t2.low_before_widening) == (0.001, True)
    assert read_analysis(DATA / "analysis.geojson").select(["S2"])[0].low_before_widening is False
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "out"), "--stability", "D"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "not its rate interval's low end before the near-crossing widening 0.001" in text


def test_the_command_lays_its_lines_over_the_ellipse_or_on_request_the_circle(tmp_path):
    """S1's ellipse (38 x 9.5 m, long axis 80 deg: 10 deg off the wind from 270) reaches
    hypot(38 cos 10, 9.5 sin 10) m up the wind from the estimate, its 25 m circle 25 m: the lines
    start that much apart; --region ellipse lays them over the ellipse, the default over the
    circle."""
    doc = json.loads((DATA / "analysis.geojson").read_text())
    ell = {"semi_major_m": 38.0, "semi_minor_m": 9.5, "major_axis_azimuth_deg": 80.0}
    doc["features"][0]["properties"]["location_ci90_ellipse"] = ell
    src = tmp_path / "ellipse.geojson"
    src.write_text(json.dumps(doc))
    starts = {}
    for region, args in (("ellipse", ["--region", "ellipse"]), ("circle", [])):
        res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / region), *args])
        assert res.exit_code == 0, res.output
        plan = json.loads((tmp_path / region / "follow_up.json").read_text())
        (row,) = [s for m in plan["missions"] for s in m["sources"] if s["id"] == "S1"]
        starts[region] = row["lines_from_m"] - row["plume_detectable_from_m"]
    reach = np.hypot(38.0 * np.cos(np.deg2rad(10.0)), 9.5 * np.sin(np.deg2rad(10.0)))
    assert starts["ellipse"] == pytest.approx(-reach, abs=0.15) and starts["circle"] == pytest.approx(-25.0, abs=0.15)
    res = runner.invoke(app, ["follow-up", str(src), "--out", str(tmp_path / "x"), "--region", "square"])
    assert res.exit_code == 2 and "--region must be ellipse or circle" in res.output

"""Mission planning: coverage around no-fly zones, sorties within endurance, several aircraft,
and exports that real clients load (pymavlink's waypoint loader, MAVSDK's importers against a
vehicle simulated with pymavlink on loopback, fastkml's schema validation)."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon

from plumescout.errors import ConfigError, InputError
from plumescout.planning.area import read_area
from plumescout.planning.export import mission_items, write_mission_files
from plumescout.planning.mission import Aircraft, MissionSettings, plan_mission, route_around

DATA = Path(__file__).parents[1] / "data" / "planning"
AREA = [(0, 0), (1000, 0), (1000, 800), (0, 800)]
ZONE = [(400, 300), (600, 300), (600, 500), (400, 500)]


def settings(**kw):
    base = dict(wind_from_deg=270.0, wind_speed_m_s=3.0, altitude_m=10.0)
    base.update(kw)
    return MissionSettings(**base)


def test_route_around_a_square_is_the_shortest_detour():
    # from 100 m west of the square's centre line to 100 m east of it: around two corners grown
    # by 1 m, in closed form: (300, 400) -> (399, 299) -> (601, 299) -> (700, 400)
    zone = Polygon(ZONE).buffer(0)
    p = route_around((300, 400), (700, 400), zone)
    assert not LineString(p).intersects(zone.buffer(-0.5))
    expect = 2 * np.hypot(99, 101) + 202
    assert LineString(p).length == pytest.approx(expect, rel=1e-6)
    # nothing in the way: a straight line
    assert len(route_around((0, 0), (100, 0), zone)) == 2


def test_survey_covers_the_area_outside_no_fly_zones_and_never_enters_them():
    st = settings()
    m = plan_mission(AREA, st, takeoff_m=(-50, -50), no_fly_m=[ZONE])
    zone = Polygon(ZONE)
    for s in m.sorties:
        assert not LineString(s.waypoints_m).intersects(zone), f"{s.aircraft} sortie {s.index} enters the zone"
    # every point of the area outside the (margin-grown) zone, whose plume does not pass over
    # the zone before the next line, is within one line spacing upwind of a survey line
    path = LineString(m.path_m)
    rng = np.random.default_rng(0)
    grown = zone.buffer(st.no_fly_margin_m)
    for x, y in rng.uniform((0, 0), (1000, 800), (300, 2)):
        if grown.contains(Point(x, y)):
            continue
        ahead = LineString([(x, y), (x + m.line_spacing_m + 1.0, y)])  # downwind is +x
        if ahead.intersects(grown):
            continue  # in the zone's shadow: its plume is crossed only farther downwind
        assert ahead.intersects(path), (x, y)


def test_sorties_fit_endurance_and_start_and_end_at_takeoff_and_landing():
    st = settings(aircraft=[Aircraft(name="A", endurance_s=400.0)])
    m = plan_mission(AREA, st, takeoff_m=(-20, -20), landing_m=(1020, -20))
    assert len(m.sorties) > 1
    budget = 400.0 * 8.0 * (1 - st.reserve_fraction)
    for s in m.sorties:
        assert s.length_m <= budget + 1e-6
        np.testing.assert_allclose(s.waypoints_m[0], (-20, -20))
        np.testing.assert_allclose(s.waypoints_m[-1], (1020, -20))
    # the sorties together fly the whole survey path (conservation of the path length)
    assert sum(s.survey_m for s in m.sorties) == pytest.approx(LineString(m.path_m).length, rel=1e-3)


def test_two_aircraft_share_the_work_and_finish_sooner():
    one = plan_mission(AREA, settings(aircraft=[Aircraft(name="A")]), takeoff_m=(0, 0))
    two = plan_mission(AREA, settings(aircraft=[Aircraft(name="A"), Aircraft(name="B", speed_m_s=6.0)]), (0, 0))
    assert {s.aircraft for s in two.sorties} == {"A", "B"}
    assert two.duration_s < 0.75 * one.duration_s
    ta, tb = two.aircraft_time_s("A"), two.aircraft_time_s("B")
    assert abs(ta - tb) < 0.2 * max(ta, tb)


def test_stability_is_a_class_letter_or_its_index():
    # A = 0 .. F = 5 (plumescout.met.class_index); an index given as text is read as one
    assert settings(stability="E").stability == "E"
    assert settings(stability=3.4).stability == settings(stability="3.4").stability == 3.4
    for bad, why in (("G", "unknown stability class"), (5.5, "outside"), (float("nan"), "outside")):
        with pytest.raises(ValueError, match=why):
            settings(stability=bad)


def test_altitude_limits_and_bad_points_are_refused():
    with pytest.raises(ValueError, match="outside aircraft"):
        settings(altitude_m=3.0)
    with pytest.raises(ValueError, match="ceiling"):
        settings(altitude_m=150.0, aircraft=[Aircraft(max_altitude_m=200)])
    with pytest.raises(ConfigError, match="inside a no-fly zone"):
        plan_mission(AREA, settings(), takeoff_m=(500, 400), no_fly_m=[ZONE])


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("bad_json.geojson", "line 3"),
        ("unknown_role.geojson", "feature 2: unknown role 'parking'"),
        ("out_of_range.geojson", r"feature 1: position \[-1.43, 151.15\] is not \[longitude, latitude\]"),
        ("two_areas.geojson", "exactly one area polygon, found 2"),
    ],
)
def test_malformed_area_files_name_file_and_place(name, match):
    with pytest.raises(InputError, match=match) as e:
        read_area(DATA / name)
    assert name in str(e.value)


def test_cli_refuses_takeoff_in_no_fly_zone(tmp_path):
    from typer.testing import CliRunner

    from plumescout.cli import app

    r = CliRunner().invoke(
        app, ["plan", str(DATA / "takeoff_in_nofly.geojson"), "--wind-from", "250", "--altitude", "10",
              "--out", str(tmp_path), "--trials", "0"],
    )  # fmt: skip
    assert r.exit_code != 0
    assert "no-fly" in r.output and "Traceback" not in r.output


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    from typer.testing import CliRunner

    from plumescout.cli import app

    out = tmp_path_factory.mktemp("plan")
    r = CliRunner().invoke(
        app, ["plan", str(DATA / "field.geojson"), "--wind-from", "250", "--altitude", "10", "--out", str(out),
              "--fleet", str(DATA / "fleet.toml"), "--trials", "20"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    site = read_area(DATA / "field.geojson")
    return out, site


def test_plan_reports_time_and_detection_probability(planned):
    out, _ = planned
    doc = json.loads((out / "plan.json").read_text())
    assert doc["mission_duration_s"] > 0 and len(doc["sorties"]) >= 2
    d = doc["detection"]
    assert d["trials"] == 20 and 0.0 <= d["p_detect_2_passes"] <= d["p_detect"] <= 1.0
    assert d["p_detect_ci90"][0] <= d["p_detect"] <= d["p_detect_ci90"][1]


def test_waypoints_load_with_pymavlink(planned):
    from pymavlink import mavwp

    out, site = planned
    loader = mavwp.MAVWPLoader()
    n = loader.load(str(out / "mission.waypoints"))
    plan = json.loads((out / "mission.plan").read_text())
    items = plan["mission"]["items"]
    assert n == len(items) + 1  # + home
    home = loader.wp(0)
    lat0, lon0 = site.frame.to_wgs84(*site.takeoff_m)
    assert (home.x, home.y) == pytest.approx((float(lat0), float(lon0)), abs=1e-7)
    for i, it in enumerate(items, start=1):
        wp = loader.wp(i)
        assert wp.command == it["command"] and wp.frame == it["frame"]
        assert (wp.x, wp.y, wp.z) == pytest.approx(tuple(it["params"][4:7]), abs=1e-7)
    assert plan["mission"]["version"] == 2 and plan["fileType"] == "Plan"
    # the no-fly zone travels as an exclusion geofence
    assert len(plan["geoFence"]["polygons"]) == 1 and plan["geoFence"]["polygons"][0]["inclusion"] is False


def test_kml_validates_with_fastkml(planned):
    from fastkml import kml as fkml

    out, _ = planned
    k = fkml.KML.parse(str(out / "mission.kml"), strict=True, validate=True)
    names = [f.name for f in next(iter(k.features)).features]
    assert "survey area" in names and "no-fly zone 1" in names and "take-off" in names
    assert sum(n.startswith(("M300", "Quad-2")) for n in names) >= 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mavsdk_imports_both_files_and_uploads_them_to_a_simulated_vehicle(planned):
    pytest.importorskip("mavsdk", reason="MAVSDK (test extra) not installed")
    from mavsdk.component_type import ComponentType
    from mavsdk.mavsdk import Configuration, Mavsdk
    from mavsdk.plugins.mission_raw import MissionRaw

    sys.path.insert(0, str(Path(__file__).parent))
    from vehicle import SimulatedVehicle

    out, _ = planned
    plan = json.loads((out / "mission.plan").read_text())["mission"]["items"]
    port = _free_port()
    vehicle = SimulatedVehicle(f"udpout:127.0.0.1:{port}")
    vehicle.start()
    m = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
    try:
        m.add_any_connection(f"udpin://127.0.0.1:{port}")
        system = m.first_autopilot(10.0)
        assert system is not None, "MAVSDK did not discover the simulated vehicle"
        mr = MissionRaw(system)
        for path in (out / "mission.plan", out / "mission.waypoints"):
            data = mr.import_qgroundcontrol_mission(str(path)) if path.suffix == ".plan" else (
                mr.import_mission_planner_mission(str(path)))  # fmt: skip
            # ours, in order, after the home entries MAVSDK adds for ArduPilot
            got = [it for it in data.mission_items if not (it.command == 16 and it.z == 0.0)]
            assert [it.command for it in got] == [it["command"] for it in plan], path.name
            for it, ref in zip(got, plan, strict=True):
                if ref["frame"] == 3:
                    # degE7 integers: within one unit (1 cm) of ours
                    assert abs(it.x - ref["params"][4] * 1e7) <= 1 and abs(it.y - ref["params"][5] * 1e7) <= 1
                    assert it.z == pytest.approx(ref["params"][6])
            vehicle.done.clear()
            mr.upload_mission(data.mission_items)
            assert vehicle.done.wait(10), f"upload of {path.name} not acknowledged"
            assert len(vehicle.items) == len(data.mission_items)
            assert [vehicle.items[i].command for i in range(len(vehicle.items))] == [
                it.command for it in data.mission_items
            ]
    finally:
        vehicle.close()
        m.destroy()


def test_mission_items_end_with_rtl_when_landing_at_takeoff():
    from plumescout.geo import LocalFrame

    m = plan_mission(AREA, settings(), takeoff_m=(0, 0))
    items = mission_items(m, m.sorties[0], LocalFrame(51.0, -1.0))
    assert items[0]["command"] == 22 and items[-1]["command"] == 20
    m2 = plan_mission(AREA, settings(), takeoff_m=(0, 0), landing_m=(1000, 0))
    items2 = mission_items(m2, m2.sorties[0], LocalFrame(51.0, -1.0))
    assert items2[-1]["command"] == 21 and items2[-1]["params"][6] == 0.0


def test_write_mission_files_names_every_sortie(tmp_path):
    from plumescout.geo import LocalFrame

    m = plan_mission(AREA, settings(aircraft=[Aircraft(name="A", endurance_s=400.0)]), takeoff_m=(0, 0))
    files = write_mission_files(tmp_path, m, LocalFrame(51.0, -1.0))
    assert len(files) == len(m.sorties) + 1
    for s in m.sorties:
        assert (tmp_path / f"A-sortie{s.index}.plan").exists() and (tmp_path / f"A-sortie{s.index}.waypoints").exists()

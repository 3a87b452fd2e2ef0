"""Mission files that ground stations and autopilots load.

- ``.plan``: QGroundControl's plan JSON (file version 1, ``mission.version`` 2 — the version
  MAVSDK's importer requires), with the no-fly zones as exclusion geofence polygons.
- ``.waypoints``: the QGC WPL 110 text format that Mission Planner, QGroundControl and pymavlink's
  ``MAVWPLoader`` read: a header line, then one tab-separated line per item (index, current,
  frame, command, param1-4, latitude, longitude, altitude, autocontinue); item 0 is home.
- ``.kml``: the sorties as 3-D lines (relative to ground), the area, the no-fly zones, take-off
  and landing, for Google Earth / ATAK / QGIS.

Each sortie becomes one mission: take-off, a speed change to the survey speed, the waypoints at
the survey height above take-off (``MAV_FRAME_GLOBAL_RELATIVE_ALT``), then return to launch when
landing is at take-off, else a landing at the landing point.
"""

from __future__ import annotations

import json
from pathlib import Path

import pygeoif.geometry as pg
from fastkml import containers, features, geometry, kml, styles
from fastkml.enums import AltitudeMode

from ..report.kml import _style
from .mission import Mission, Sortie

__all__ = ["mission_items", "write_qgc_plan", "write_wpl", "write_mission_kml", "write_mission_files"]

# MAVLink enums (common.xml)
MAV_CMD_NAV_WAYPOINT = 16
MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_NAV_LAND = 21
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_DO_CHANGE_SPEED = 178
MAV_FRAME_GLOBAL = 0
MAV_FRAME_MISSION = 2
MAV_FRAME_GLOBAL_RELATIVE_ALT = 3
# QGC plan enums: MAV_AUTOPILOT and MAV_TYPE
FIRMWARE = {"ardupilot": 3, "px4": 12}
VEHICLE = {"multirotor": 2, "fixed_wing": 1, "vtol": 20}


def mission_items(mission: Mission, sortie: Sortie, frame) -> list[dict]:
    """The MAVLink mission items of one sortie (without the home item), as plain dicts with
    ``command, frame, params (7), autocontinue``; latitude/longitude in degrees."""
    z = float(mission.settings.altitude_m)
    wps = sortie.waypoints_m
    lat, lon = frame.to_wgs84(wps[:, 0], wps[:, 1])
    items = [
        {"command": MAV_CMD_NAV_TAKEOFF, "frame": MAV_FRAME_GLOBAL_RELATIVE_ALT,
         "params": [0.0, 0.0, 0.0, 0.0, float(lat[0]), float(lon[0]), z]},
        {"command": MAV_CMD_DO_CHANGE_SPEED, "frame": MAV_FRAME_MISSION,
         "params": [1.0, float(sortie.speed_m_s), -1.0, 0.0, 0.0, 0.0, 0.0]},
    ]  # fmt: skip
    for la, lo in zip(lat[1:-1], lon[1:-1], strict=True):
        items.append(
            {
                "command": MAV_CMD_NAV_WAYPOINT,
                "frame": MAV_FRAME_GLOBAL_RELATIVE_ALT,
                "params": [0.0, 0.0, 0.0, 0.0, float(la), float(lo), z],
            }
        )
    if tuple(mission.landing_m) == tuple(mission.takeoff_m):
        items.append({"command": MAV_CMD_NAV_RETURN_TO_LAUNCH, "frame": MAV_FRAME_MISSION, "params": [0.0] * 7})
    else:
        items.append(
            {
                "command": MAV_CMD_NAV_LAND,
                "frame": MAV_FRAME_GLOBAL_RELATIVE_ALT,
                "params": [0.0, 0.0, 0.0, 0.0, float(lat[-1]), float(lon[-1]), 0.0],
            }
        )
    for it in items:
        it["autocontinue"] = 1
    return items


def _aircraft(mission: Mission, name: str):
    return next(a for a in mission.settings.aircraft if a.name == name)


def write_qgc_plan(path, mission: Mission, sortie: Sortie, frame) -> Path:
    ac = _aircraft(mission, sortie.aircraft)
    items = mission_items(mission, sortie, frame)
    lat0, lon0 = frame.to_wgs84(*mission.takeoff_m)
    qitems = []
    for i, it in enumerate(items, start=1):
        qitems.append(
            {
                "type": "SimpleItem",
                "autoContinue": bool(it["autocontinue"]),
                "command": it["command"],
                "doJumpId": i,
                "frame": it["frame"],
                "params": it["params"],
            }
        )
    fence = []
    for z in mission.no_fly_m:
        ring = list(z.exterior.coords)[:-1]
        la, lo = frame.to_wgs84([p[0] for p in ring], [p[1] for p in ring])
        fence.append(
            {"inclusion": False, "version": 1, "polygon": [[float(a), float(b)] for a, b in zip(la, lo, strict=True)]}
        )
    doc = {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "plumescout",
        "mission": {
            "version": 2,
            "firmwareType": FIRMWARE[ac.firmware],
            "vehicleType": VEHICLE[ac.vehicle],
            "cruiseSpeed": ac.speed_m_s,
            "hoverSpeed": ac.speed_m_s,
            "globalPlanAltitudeMode": 1,
            "plannedHomePosition": [float(lat0), float(lon0), 0.0],
            "items": qitems,
        },
        "geoFence": {"version": 2, "circles": [], "polygons": fence},
        "rallyPoints": {"version": 2, "points": []},
    }
    path = Path(path)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def write_wpl(path, mission: Mission, sortie: Sortie, frame) -> Path:
    lat0, lon0 = frame.to_wgs84(*mission.takeoff_m)
    rows = [[0, 1, MAV_FRAME_GLOBAL, MAV_CMD_NAV_WAYPOINT, 0, 0, 0, 0, float(lat0), float(lon0), 0.0, 1]]
    for i, it in enumerate(mission_items(mission, sortie, frame), start=1):
        p = it["params"]
        rows.append([i, 0, it["frame"], it["command"], *p[:4], p[4], p[5], p[6], it["autocontinue"]])

    def fmt(v, k):
        if k in (8, 9):
            return f"{v:.8f}"
        if isinstance(v, float):
            return f"{v:.6f}"
        return str(v)

    text = "QGC WPL 110\n" + "".join("\t".join(fmt(v, k) for k, v in enumerate(r)) + "\n" for r in rows)
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def write_mission_kml(path, mission: Mission, frame, name: str = "plumescout mission") -> Path:
    z = float(mission.settings.altitude_m)

    def ring(poly):
        c = list(poly.exterior.coords)
        la, lo = frame.to_wgs84([p[0] for p in c], [p[1] for p in c])
        return list(zip(lo.tolist(), la.tolist(), strict=True))

    items = [
        features.Placemark(
            id="area",
            name="survey area",
            style_url=styles.StyleUrl(url="#style-area"),
            kml_geometry=geometry.Polygon(geometry=pg.Polygon(ring(mission.area_m))),
        )
    ]
    for i, zpoly in enumerate(mission.no_fly_m, start=1):
        items.append(
            features.Placemark(
                id=f"nofly-{i}",
                name=f"no-fly zone {i}",
                style_url=styles.StyleUrl(url="#style-nofly"),
                kml_geometry=geometry.Polygon(geometry=pg.Polygon(ring(zpoly))),
            )
        )
    for s in mission.sorties:
        la, lo = frame.to_wgs84(s.waypoints_m[:, 0], s.waypoints_m[:, 1])
        coords = list(zip(lo.tolist(), la.tolist(), [z] * len(la), strict=True))
        items.append(
            features.Placemark(
                id=f"sortie-{_slug(s.aircraft)}-{s.index}",
                name=f"{s.aircraft} sortie {s.index}",
                description=(
                    f"{s.length_m:.0f} m, {s.time_s / 60:.1f} min at {s.speed_m_s:g} m/s, {z:g} m above take-off"
                ),
                style_url=styles.StyleUrl(url="#style-sortie"),
                kml_geometry=geometry.LineString(
                    geometry=pg.LineString(coords), altitude_mode=AltitudeMode.relative_to_ground
                ),
            )
        )
    for pid, label, p in (("takeoff", "take-off", mission.takeoff_m), ("landing", "landing", mission.landing_m)):
        la, lo = frame.to_wgs84(*p)
        items.append(
            features.Placemark(
                id=pid,
                name=label,
                style_url=styles.StyleUrl(url="#style-point"),
                kml_geometry=geometry.Point(geometry=pg.Point(float(lo), float(la))),
            )
        )
    doc = containers.Document(
        id="plumescout-mission",
        name=name,
        styles=[
            _style("style-area", line="ff00aa00", poly="2000aa00"),
            _style("style-nofly", line="ff0000ff", poly="500000ff"),
            _style("style-sortie", line="ffffaa00", width=2.5),
            _style("style-point", icon="ff00ffff"),
        ],
        features=items,
    )
    path = Path(path)
    path.write_text(kml.KML(features=[doc]).to_string(prettyprint=True), encoding="utf-8")
    return path


def _slug(name: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in name)
    return out if out[:1].isalpha() else "a" + out


def write_mission_files(out_dir, mission: Mission, frame) -> dict:
    """Write mission.plan / mission.waypoints (the first sortie of the first aircraft — the whole
    survey when it fits in one flight), one pair per sortie (``<aircraft>-sortie<k>.*``), and
    mission.kml (every sortie). Returns {sortie label: [files]}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, s in enumerate(mission.sorties):
        stem = f"{_slug(s.aircraft)}-sortie{s.index}"
        files = [
            write_qgc_plan(out / f"{stem}.plan", mission, s, frame),
            write_wpl(out / f"{stem}.waypoints", mission, s, frame),
        ]
        if i == 0:
            files += [
                write_qgc_plan(out / "mission.plan", mission, s, frame),
                write_wpl(out / "mission.waypoints", mission, s, frame),
            ]
        written[f"{s.aircraft} sortie {s.index}"] = [f.name for f in files]
    write_mission_kml(out / "mission.kml", mission, frame)
    written["all"] = ["mission.kml"]
    return written

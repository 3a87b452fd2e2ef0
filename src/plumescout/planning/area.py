"""Read a survey area (GeoJSON, RFC 7946: WGS84 longitude, latitude) for mission planning.

The file holds one Polygon (a Feature, a FeatureCollection or a bare geometry) for the area to
survey. In a FeatureCollection, features whose ``properties.role`` is ``"no-fly"`` are no-fly
zones (Polygon or MultiPolygon), and Points whose role is ``"takeoff"`` or ``"landing"`` give
those points. Anything else is refused with the feature's index, so the file can be fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon

from ..errors import InputError
from ..geo import LocalFrame
from ..jsonio import read_json

__all__ = ["SurveyArea", "read_area"]

ROLES = {"area", "no-fly", "takeoff", "landing"}


@dataclass
class SurveyArea:
    """The area and zones in WGS84 ([(lon, lat), ...]) and in local metres about ``frame``."""

    frame: LocalFrame
    area_m: list[tuple[float, float]]
    no_fly_m: list[list[tuple[float, float]]] = field(default_factory=list)
    takeoff_m: tuple[float, float] | None = None
    landing_m: tuple[float, float] | None = None


def _ring(path, coords, where: str) -> list[tuple[float, float]]:
    try:
        ring = [(float(c[0]), float(c[1])) for c in coords[0]]
    except (TypeError, ValueError, IndexError, KeyError):
        raise InputError(path, f"{where}: a Polygon's coordinates must be [[[lon, lat], ...]]") from None
    if len(ring) < 4:
        raise InputError(path, f"{where}: a polygon ring needs at least 4 positions (closed)")
    for lon, lat in ring:
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise InputError(path, f"{where}: position [{lon}, {lat}] is not [longitude, latitude] in degrees")
    return ring


def read_area(path) -> SurveyArea:
    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError(path, "not a GeoJSON object (no 'type')")
    if doc["type"] == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise InputError(path, "a FeatureCollection needs a 'features' list")
    elif doc["type"] == "Feature":
        feats = [doc]
    else:
        feats = [{"type": "Feature", "geometry": doc, "properties": {}}]
    area, zones, points = [], [], {}
    for i, f in enumerate(feats, start=1):
        where = f"feature {i}"
        if not isinstance(f, dict) or not isinstance(f.get("geometry"), dict):
            raise InputError(path, f"{where}: not a Feature with a geometry")
        props = f.get("properties") or {}
        role = str(props.get("role", "area")).lower().replace("_", "-")
        role = "no-fly" if role in ("nofly", "no-fly-zone", "exclusion") else role
        if role not in ROLES:
            raise InputError(path, f"{where}: unknown role '{role}'; use one of {', '.join(sorted(ROLES))}")
        g = f["geometry"]
        gtype, coords = g.get("type"), g.get("coordinates")
        if role in ("takeoff", "landing"):
            if gtype != "Point":
                raise InputError(path, f"{where}: a {role} must be a Point")
            try:
                lon, lat = float(coords[0]), float(coords[1])
            except (TypeError, ValueError, IndexError):
                raise InputError(path, f"{where}: a Point's coordinates must be [lon, lat]") from None
            points[role] = (lon, lat)
            continue
        if gtype == "Polygon":
            rings = [_ring(path, coords, where)]
        elif gtype == "MultiPolygon" and role == "no-fly":
            rings = [_ring(path, c, where) for c in coords]
        else:
            raise InputError(path, f"{where}: the {role} must be a Polygon (got {gtype})")
        (area if role == "area" else zones).extend(rings)
    if len(area) != 1:
        raise InputError(path, f"needs exactly one area polygon, found {len(area)}")
    lon0, lat0 = np.mean(np.array(area[0][:-1]), axis=0)
    frame = LocalFrame(float(lat0), float(lon0))

    def local(ring):
        lon, lat = np.array(ring).T
        x, y = frame.to_local(lat, lon)
        return [(float(a), float(b)) for a, b in zip(x, y, strict=True)]

    area_m = local(area[0])
    if not Polygon(area_m).is_valid:
        raise InputError(path, "the area polygon intersects itself")

    def pt(role):
        if role not in points:
            return None
        x, y = frame.to_local(points[role][1], points[role][0])
        return (float(x), float(y))

    return SurveyArea(frame, area_m, [local(z) for z in zones], pt("takeoff"), pt("landing"))

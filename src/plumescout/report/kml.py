"""KML (OGC KML 2.2): estimated sources with their 90 % regions, and the flight track.

Written with fastkml, whose parser validates against the OGC schema; every id is a valid
``xs:ID`` (starts with a letter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygeoif.geometry as pg
from fastkml import containers, features, geometry, kml, styles
from fastkml.enums import AltitudeMode

from ..geo import bearing_to_unit
from ..inference.data import point_sensors
from ..observations import track_breaks
from .geojson import near_crossing_remark

__all__ = ["write_kml", "circle_lonlat", "ellipse_lonlat"]


def circle_lonlat(frame, x_m: float, y_m: float, radius_m: float, n: int = 72):
    """A circle of ``radius_m`` about local ``(x_m, y_m)`` as closed [(lon, lat), ...]."""
    a = np.linspace(0.0, 2.0 * np.pi, n + 1)
    lat, lon = frame.to_wgs84(x_m + radius_m * np.cos(a), y_m + radius_m * np.sin(a))
    pts = list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True))
    pts[-1] = pts[0]
    return pts


def ellipse_lonlat(frame, x_m: float, y_m: float, ellipse, n: int = 72):
    """An ellipse (semi-major m, semi-minor m, major axis azimuth deg east of north) about local
    ``(x_m, y_m)`` as closed [(lon, lat), ...]."""
    a, b, azimuth = ellipse
    along, across = np.array(bearing_to_unit(azimuth)), np.array(bearing_to_unit(azimuth + 90.0))
    g = np.linspace(0.0, 2.0 * np.pi, n + 1)
    xy = np.array([x_m, y_m]) + np.outer(a * np.cos(g), along) + np.outer(b * np.sin(g), across)
    lat, lon = frame.to_wgs84(xy[:, 0], xy[:, 1])
    pts = list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True))
    pts[-1] = pts[0]
    return pts


def _style(sid: str, line: str | None = None, width: float = 2.0, poly: str | None = None, icon: str | None = None):
    parts = []
    if line:
        parts.append(styles.LineStyle(color=line, width=width))
    if poly:
        parts.append(styles.PolyStyle(color=poly, fill=True, outline=True))
    if icon:
        parts.append(styles.IconStyle(color=icon, scale=1.2))
    return styles.Style(id=sid, styles=parts)


def write_kml(
    path, sources, obs=None, frame=None, name: str = "plumescout sources", max_track_points: int = 4000, beams=None
) -> Path:
    """Write sources (points + 90 % circles) and, if given, the flight track or the beams
    (``(start, end)`` arrays in local metres). Colours are KML
    ``aabbggrr``."""
    frame = frame or (obs.frame if obs is not None else None)
    items = []
    if obs is not None and len(obs):
        step = max(1, len(obs) // max_track_points)
        coords = list(zip(obs.lon[::step].tolist(), obs.lat[::step].tolist(), obs.z_m[::step].tolist(), strict=True))
        cuts = [0, *track_breaks(obs.time_s[::step]).tolist(), len(coords)]  # sorties: one line each
        lines = [
            geometry.LineString(geometry=pg.LineString(coords[a:b]), altitude_mode=AltitudeMode.relative_to_ground)
            for a, b in zip(cuts, cuts[1:], strict=False)
            if b - a >= 2
        ]
        if lines:
            items.append(
                features.Placemark(
                    id="track",
                    name="flight track" if len(lines) == 1 else f"flight track ({len(lines)} pieces)",
                    style_url=styles.StyleUrl(url="#style-track"),
                    kml_geometry=lines[0] if len(lines) == 1 else geometry.MultiGeometry(kml_geometries=lines),
                )
            )
    if beams is not None and frame is not None:
        a, b = beams
        point = point_sensors(a, b)
        for i in range(len(a)):
            lat, lon = frame.to_wgs84(np.array([a[i, 0], b[i, 0]]), np.array([a[i, 1], b[i, 1]]))
            if point[i]:  # a path of zero length: a point sensor, a Point (a LineString needs two points)
                shape = geometry.Point(geometry=pg.Point(lon[0], lat[0]))
                name, style = f"sensor {i + 1}", "#style-sensor"
            else:
                shape = geometry.LineString(geometry=pg.LineString(list(zip(lon.tolist(), lat.tolist(), strict=True))))
                name, style = f"beam {i + 1}", "#style-track"
            items.append(
                features.Placemark(
                    id=f"beam-{i + 1}", name=name, style_url=styles.StyleUrl(url=style), kml_geometry=shape
                )
            )
    for s in sources:
        desc = (
            f"species {s.species}; rate {s.rate_g_s:.4g} g/s ({s.rate_g_s * 3.6:.4g} kg/h), "
            f"90 % interval {s.rate_g_s_ci90[0]:.4g}-{s.rate_g_s_ci90[1]:.4g} g/s; "
            f"90 % location radius {s.location_ci90_m:.1f} m"
            + (
                f" (as an ellipse: semi-axes {ell[0]:.1f} x {ell[1]:.1f} m, long axis {ell[2]:.0f} deg from north)"
                if (ell := getattr(s, "ellipse_ci90_m", None))
                else ""
            )
            + near_crossing_remark(getattr(s, "near_crossing_widening", 1.0))
            + f"; probability {s.probability:.3f}"
            + "".join(f"; warning: {f.replace('_', ' ')}" for f in getattr(s, "flags", []))
        )
        items.append(
            features.Placemark(
                id=f"source-{s.id}",
                name=s.id,
                description=desc,
                style_url=styles.StyleUrl(url="#style-source"),
                kml_geometry=geometry.Point(geometry=pg.Point(s.lon, s.lat)),
            )
        )
        if frame is not None and s.location_ci90_m > 0:
            ring = circle_lonlat(frame, s.x_m, s.y_m, s.location_ci90_m)
            items.append(
                features.Placemark(
                    id=f"region-{s.id}",
                    name=f"{s.id} 90 % region",
                    style_url=styles.StyleUrl(url="#style-region"),
                    kml_geometry=geometry.Polygon(geometry=pg.Polygon(ring)),
                )
            )
            if (ell := getattr(s, "ellipse_ci90_m", None)) is not None:  # flights: the tighter shape
                items.append(
                    features.Placemark(
                        id=f"ellipse-{s.id}",
                        name=f"{s.id} 90 % region (ellipse)",
                        style_url=styles.StyleUrl(url="#style-region"),
                        kml_geometry=geometry.Polygon(geometry=pg.Polygon(ellipse_lonlat(frame, s.x_m, s.y_m, ell))),
                    )
                )
    doc = containers.Document(
        id="plumescout",
        name=name,
        styles=[
            _style("style-track", line="ffc85a28"),
            _style("style-source", icon="ff0000ff"),
            _style("style-sensor", icon="ff0e7fff"),
            _style("style-region", line="ff0000ff", poly="3c0000ff"),
        ],
        features=items,
    )
    path = Path(path)
    path.write_text(kml.KML(features=[doc]).to_string(prettyprint=True), encoding="utf-8")
    return path

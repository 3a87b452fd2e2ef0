"""KML: estimated sources with their 90 % regions, and the flight track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import simplekml

__all__ = ["write_kml", "circle_lonlat"]


def circle_lonlat(frame, x_m: float, y_m: float, radius_m: float, n: int = 72):
    """A circle of ``radius_m`` about local ``(x_m, y_m)`` as closed [(lon, lat), ...]."""
    a = np.linspace(0.0, 2.0 * np.pi, n + 1)
    lat, lon = frame.to_wgs84(x_m + radius_m * np.cos(a), y_m + radius_m * np.sin(a))
    return list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True))


def write_kml(path, sources, obs=None, frame=None, name: str = "plumescout sources", max_track_points: int = 4000) -> Path:
    kml = simplekml.Kml(name=name)
    frame = frame or (obs.frame if obs is not None else None)
    if obs is not None and len(obs):
        step = max(1, len(obs) // max_track_points)
        ls = kml.newlinestring(name="flight track",
                               coords=list(zip(obs.lon[::step].tolist(), obs.lat[::step].tolist(),
                                               obs.z_m[::step].tolist(), strict=True)))
        ls.altitudemode = simplekml.AltitudeMode.relativetoground
        ls.style.linestyle.color = simplekml.Color.rgb(40, 90, 200)
        ls.style.linestyle.width = 2
    for s in sources:
        desc = (f"species {s.species}<br/>rate {s.rate_g_s:.4g} g/s ({s.rate_g_s * 3.6:.4g} kg/h), "
                f"90 % interval {s.rate_g_s_ci90[0]:.4g}-{s.rate_g_s_ci90[1]:.4g} g/s<br/>"
                f"90 % location radius {s.location_ci90_m:.1f} m<br/>probability {s.probability:.3f}")
        p = kml.newpoint(name=s.id, coords=[(s.lon, s.lat)], description=desc)
        p.style.iconstyle.color = simplekml.Color.red
        if frame is not None and s.location_ci90_m > 0:
            poly = kml.newpolygon(name=f"{s.id} 90 % region",
                                  outerboundaryis=circle_lonlat(frame, s.x_m, s.y_m, s.location_ci90_m))
            poly.style.polystyle.color = simplekml.Color.changealphaint(60, simplekml.Color.red)
            poly.style.linestyle.color = simplekml.Color.red
    path = Path(path)
    kml.save(str(path))
    return path

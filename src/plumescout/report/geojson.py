"""Source-estimates GeoJSON (FORMATS.md section 2), with provenance."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__

__all__ = ["sha256_file", "provenance", "source_features", "write_geojson", "near_crossing_remark"]


def near_crossing_remark(factor: float | None) -> str:
    """The clause that tells a reader of a source's KML description or CoT remarks that its region
    and rate interval were widened ``factor`` times for a plume seen only near it (its GeoJSON's
    ``near_crossing_widening``); empty where they were not."""
    k = float(factor or 1.0)
    return f"; region and rate interval widened {k:.2g}x: its plume was seen only near it" if k > 1.0 else ""


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance(inputs, model: str, settings: dict, wall_time_s: float, **extra) -> dict:
    """The run's provenance: inputs with SHA-256, software, model and settings, wall time."""
    return {
        "inputs": [{"file": Path(p).name, "path": str(p), "sha256": sha256_file(p)} for p in inputs],
        "software": {"name": "plumescout", "version": __version__, "python": platform.python_version()},
        "model": model,
        "settings": settings,
        "wall_time_s": round(float(wall_time_s), 3),
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        **extra,
    }


def _r(v, nd=6):
    return round(float(v), nd)


def _ellipse_property(ellipse) -> dict:
    """A flight's 90 % region as an ellipse about the point (an extra property; FORMATS.md's
    ``location_ci90_m`` stays the circle's radius)."""
    if ellipse is None:
        return {}
    a, b, azimuth = ellipse
    return {
        "location_ci90_ellipse": {
            "semi_major_m": _r(a, 2),
            "semi_minor_m": _r(b, 2),
            "major_axis_azimuth_deg": _r(azimuth, 1),
        }
    }


def source_features(sources) -> list[dict]:
    feats = []
    for s in sources:
        feats.append(
            {
                "type": "Feature",
                "id": s.id,
                "geometry": {"type": "Point", "coordinates": [_r(s.lon, 8), _r(s.lat, 8)]},
                "properties": {
                    "id": s.id,
                    "species": s.species,
                    "emission_rate_g_s": _r(s.rate_g_s),
                    "emission_rate_g_s_ci90": [_r(s.rate_g_s_ci90[0]), _r(s.rate_g_s_ci90[1])],
                    "location_ci90_m": _r(s.location_ci90_m, 2),
                    "probability": _r(s.probability, 4),
                    "emission_rate_kg_h": _r(s.rate_g_s * 3.6),
                    "x_m": _r(s.x_m, 2),
                    "y_m": _r(s.y_m, 2),
                    "height_m": _r(s.height_m, 2),
                    "flags": list(getattr(s, "flags", [])),  # what to know before trusting it
                    # the flight's plume crossings it accounts for (null: beams)
                    "plume_crossings": getattr(s, "crossings", None),
                    # the factor its 90 % regions and rate interval were widened by, its crossings all near it
                    "near_crossing_widening": _r(getattr(s, "near_crossing_widening", 1.0), 3),
                    # the rate interval before it (only where widened): what a follow-up plans for
                    **(
                        {"emission_rate_g_s_ci90_before_widening": [_r(v, 6) for v in before]}
                        if (before := getattr(s, "rate_g_s_ci90_before_near", None)) is not None
                        else {}
                    ),
                    **_ellipse_property(getattr(s, "ellipse_ci90_m", None)),
                    **(getattr(s, "attribution", None) or {}),
                },
            }
        )
    return feats


def write_geojson(path, sources, prov: dict) -> Path:
    """Write the FeatureCollection (RFC 7946; WGS84 lon/lat) with ``properties`` = provenance."""
    doc = {"type": "FeatureCollection", "features": source_features(sources), "properties": prov}
    path = Path(path)
    path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path

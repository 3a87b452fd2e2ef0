"""Geodesy: WGS84 <-> local east/north/up metres about a site origin, and UTM.

Everything downstream computes in a local frame (east ``x``, north ``y``, up ``z``, metres) about a
site origin. The horizontal frame is an azimuthal equidistant projection of the WGS84 ellipsoid
centred on the origin (PROJ ``aeqd``): distances and bearings from the origin are exact, and over
a few kilometres the scale error elsewhere is below 1e-6. Heights are carried through unchanged
(metres above ground or above the ellipsoid, whichever the caller used). For areas of tens of
kilometres or more use :func:`utm_crs` and :class:`LocalFrame` ``from_utm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

__all__ = ["LocalFrame", "utm_crs", "bearing_to_unit", "unit_to_bearing", "parse_latlon"]

_WGS84 = CRS.from_epsg(4326)


@dataclass(frozen=True)
class LocalFrame:
    """A local east/north metric frame about ``(lat0, lon0)``.

    Parameters
    ----------
    lat0, lon0 : float
        Origin in WGS84 decimal degrees.
    crs : pyproj.CRS, optional
        The projected CRS to use. Default: azimuthal equidistant centred on the origin.
    """

    lat0: float
    lon0: float
    crs: CRS | None = field(default=None, compare=False)

    def __post_init__(self):
        # plain floats: a NumPy scalar's repr would end up in the PROJ string
        object.__setattr__(self, "lat0", float(self.lat0))
        object.__setattr__(self, "lon0", float(self.lon0))
        if not (-90.0 <= self.lat0 <= 90.0) or not (-180.0 <= self.lon0 <= 360.0):
            raise ValueError(f"origin ({self.lat0}, {self.lon0}) is not a WGS84 lat/lon")
        if self.crs is None:
            crs = CRS.from_proj4(
                f"+proj=aeqd +lat_0={self.lat0!r} +lon_0={self.lon0!r} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
            )
            object.__setattr__(self, "crs", crs)

    @classmethod
    def from_utm(cls, lat0: float, lon0: float) -> LocalFrame:
        """A frame whose axes are the UTM zone of the origin, shifted to put the origin at 0, 0."""
        return cls(lat0, lon0, crs=utm_crs(lat0, lon0))

    @cached_property
    def _fwd(self) -> Transformer:
        return Transformer.from_crs(_WGS84, self.crs, always_xy=True)

    @cached_property
    def _inv(self) -> Transformer:
        return Transformer.from_crs(self.crs, _WGS84, always_xy=True)

    @cached_property
    def _offset(self) -> tuple[float, float]:
        x, y = self._fwd.transform(self.lon0, self.lat0)
        return float(x), float(y)

    def to_local(self, lat, lon):
        """WGS84 degrees -> local ``(x_east_m, y_north_m)`` arrays."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        x, y = self._fwd.transform(lon, lat)
        ox, oy = self._offset
        return np.asarray(x) - ox, np.asarray(y) - oy

    def to_wgs84(self, x, y):
        """Local ``(x_east_m, y_north_m)`` -> WGS84 ``(lat, lon)`` arrays in degrees."""
        ox, oy = self._offset
        lon, lat = self._inv.transform(np.asarray(x, dtype=float) + ox, np.asarray(y, dtype=float) + oy)
        return np.asarray(lat), np.asarray(lon)


def utm_crs(lat: float, lon: float) -> CRS:
    """The WGS84 UTM zone CRS that contains ``(lat, lon)``."""
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:
        raise ValueError(f"no UTM zone for ({lat}, {lon})")
    return CRS.from_epsg(infos[0].code)


def bearing_to_unit(bearing_deg):
    """Compass bearing (clockwise from north, degrees) -> unit vector ``(east, north)``."""
    b = np.deg2rad(np.asarray(bearing_deg, dtype=float))
    return np.sin(b), np.cos(b)


def unit_to_bearing(east, north):
    """Vector ``(east, north)`` -> compass bearing in [0, 360)."""
    return np.mod(np.rad2deg(np.arctan2(east, north)), 360.0)


def parse_latlon(text: str) -> tuple[float, float]:
    """``"LAT,LON"`` in decimal degrees (WGS84) as a pair; ValueError saying what is wrong (callers
    name the option or field it came from)."""
    try:
        lat, lon = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"{text!r} is not 'LAT,LON' in decimal degrees") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 360.0):
        raise ValueError(f"{text!r} is off the globe (lat -90..90, lon -180..360)")
    return lat, lon

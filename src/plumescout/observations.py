"""The one columnar observations table every reader ends in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from .geo import LocalFrame
from .met import WindSeries

__all__ = ["Observations", "Repair"]


@dataclass(frozen=True)
class Repair:
    """One thing a reader changed or dropped, and where."""

    kind: str
    message: str
    lines: tuple[int, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        if not self.lines:
            return self.message
        shown = ", ".join(str(n) for n in self.lines[:8])
        more = f" and {len(self.lines) - 8} more" if len(self.lines) > 8 else ""
        return f"{self.message} (line{'s' if len(self.lines) > 1 else ''} {shown}{more})"


@dataclass
class Observations:
    """Moving point samples of one flight, in a local east/north/up frame.

    All arrays have one entry per sample, ordered by time. Mole fractions are stored in ppm
    whatever the file used (``units`` remembers the file's unit for display).

    Attributes
    ----------
    time_s : array
        Seconds since ``t0`` (or since the file's zero for float-second files).
    x_m, y_m, z_m : arrays
        East, north of the frame origin; height above ground.
    lat, lon : arrays
        WGS84 degrees, as read.
    wind_speed_m_s, wind_from_deg : arrays
        Wind at each sample.
    species : dict
        Species name -> mole fraction in ppm, NaN where a sample has no reading.
    columns : dict
        Species name -> path-integrated reading in ppm*m (optional sensors).
    """

    time_s: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    z_m: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    wind_speed_m_s: np.ndarray
    wind_from_deg: np.ndarray
    species: dict[str, np.ndarray]
    frame: LocalFrame
    t0: datetime | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    source_files: tuple[str, ...] = ()
    repairs: list[Repair] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.time_s.size)

    @property
    def xyz(self) -> np.ndarray:
        """(n, 3) receptor positions."""
        return np.column_stack([self.x_m, self.y_m, self.z_m])

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0]) if len(self) else 0.0

    @property
    def wind(self) -> WindSeries:
        """The wind along the flight as a :class:`~plumescout.met.WindSeries`."""
        t, idx = np.unique(self.time_s, return_index=True)
        return WindSeries(t, self.wind_speed_m_s[idx], self.wind_from_deg[idx])

    def select(self, mask) -> Observations:
        """A new table with the samples where ``mask`` is true."""
        m = np.asarray(mask)
        return Observations(
            time_s=self.time_s[m],
            x_m=self.x_m[m],
            y_m=self.y_m[m],
            z_m=self.z_m[m],
            lat=self.lat[m],
            lon=self.lon[m],
            wind_speed_m_s=self.wind_speed_m_s[m],
            wind_from_deg=self.wind_from_deg[m],
            species={k: v[m] for k, v in self.species.items()},
            frame=self.frame,
            t0=self.t0,
            columns={k: v[m] for k, v in self.columns.items()},
            units=dict(self.units),
            source_files=self.source_files,
            repairs=list(self.repairs),
        )

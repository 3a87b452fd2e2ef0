"""The one columnar observations table every reader ends in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from .errors import InputError
from .geo import LocalFrame
from .met import WindSeries

__all__ = ["Observations", "Repair", "join_sorties", "track_breaks", "BREAK_S"]


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


def join_sorties(parts, origin=None) -> Observations:
    """The sorties of one survey (one log each: a battery's worth of flying) as one table, in
    clock order, in one local frame (about ``origin``, else the median of every track), so
    that they are estimated from together.

    Joined by their clock times: a sortie whose times are seconds from its own start (no date)
    cannot be placed and is refused, as are sorties flown at the same time (two aircraft at once:
    a joined table is one sensor's time series). Between sorties the wind is interpolated, as
    across any gap in a log. The species kept are those every sortie measured; the others are
    named in the repairs. Refusals are :class:`~plumescout.errors.InputError` naming the file.
    """
    parts = list(parts)
    if len(parts) == 1 and origin is None:
        return parts[0]
    for p in parts:
        if p.t0 is None:
            raise InputError(
                _name(p),
                "its times are seconds from its own start, with no date: sorties are joined by clock time "
                "(give ISO 8601 times, or analyse it alone)",
                column="time",
            )
        if not len(p):
            raise InputError(_name(p), "no samples")
    parts.sort(key=lambda p: p.t0 + timedelta(seconds=float(p.time_s[0])))
    for a, b in zip(parts, parts[1:], strict=False):
        a_end = a.t0 + timedelta(seconds=float(a.time_s[-1]))
        b_start = b.t0 + timedelta(seconds=float(b.time_s[0]))
        if b_start <= a_end:
            raise InputError(
                _name(b),
                f"flown at the same time as {_name(a)} ({b_start:%H:%M:%S} before that one's end, "
                f"{a_end:%H:%M:%S} UTC): only one aircraft's sorties, flown in turn, are joined",
                column="time",
            )
    t0 = parts[0].t0
    if origin is None:
        lat = np.concatenate([p.lat for p in parts])
        lon = np.concatenate([p.lon for p in parts])
        origin = (float(np.median(lat)), float(np.median(lon)))
    frame = LocalFrame(*origin)
    common = set.intersection(*(set(p.species) for p in parts))
    if not common:
        raise InputError(_name(parts[0]), "no gas species is in every sortie: " + _species_list(parts))
    repairs = [r for p in parts for r in p.repairs]
    dropped = sorted(set().union(*(set(p.species) for p in parts)) - common)
    if dropped:
        repairs.append(
            Repair("species", f"{', '.join(dropped)} left out: not measured in every sortie ({_species_list(parts)})")
        )
    order = [sp for sp in parts[0].species if sp in common]
    cols = set.intersection(*(set(p.columns) for p in parts))
    x, y = frame.to_local(np.concatenate([p.lat for p in parts]), np.concatenate([p.lon for p in parts]))
    return Observations(
        time_s=np.concatenate([p.time_s + (p.t0 - t0).total_seconds() for p in parts]),
        x_m=np.asarray(x, float),
        y_m=np.asarray(y, float),
        z_m=np.concatenate([p.z_m for p in parts]),
        lat=np.concatenate([p.lat for p in parts]),
        lon=np.concatenate([p.lon for p in parts]),
        wind_speed_m_s=np.concatenate([p.wind_speed_m_s for p in parts]),
        wind_from_deg=np.concatenate([p.wind_from_deg for p in parts]),
        species={sp: np.concatenate([p.species[sp] for p in parts]) for sp in order},
        frame=frame,
        t0=t0,
        columns={c: np.concatenate([p.columns[c] for p in parts]) for c in sorted(cols)},
        units={sp: parts[0].units[sp] for sp in order if sp in parts[0].units},
        source_files=tuple(f for p in parts for f in p.source_files),
        repairs=repairs,
    )


def _name(obs: Observations) -> str:
    return obs.source_files[0] if obs.source_files else "a sortie"


def _species_list(parts) -> str:
    from pathlib import Path

    return "; ".join(f"{Path(_name(p)).name}: {', '.join(p.species) or 'none'}" for p in parts)


BREAK_S = 30.0
"""A gap in a track longer than this (and than 20 of its median sample intervals) is a break."""


def track_breaks(time_s) -> np.ndarray:
    """Where a track breaks (the indices that start a new piece): between the sorties of a
    survey, or at a long dropout, so that maps do not draw a line the aircraft flew unlogged."""
    t = np.asarray(time_s, float)
    if t.size < 3:
        return np.zeros(0, dtype=int)
    dt = np.diff(t)
    return np.flatnonzero(dt > max(BREAK_S, 20.0 * float(np.median(dt)))) + 1

"""The one columnar observations table every reader ends in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from .errors import InputError
from .geo import LocalFrame
from .met import WindSeries

__all__ = ["Observations", "Repair", "join_sorties", "aircraft_of", "track_breaks", "BREAK_S"]


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
    # which aircraft's time series each sample belongs to (0, 1, ...), for logs flown at the same
    # time (:func:`join_sorties`); None: one series. Samples are grouped by piece, in time order
    # within each.
    piece: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.time_s.size)

    @property
    def xyz(self) -> np.ndarray:
        """(n, 3) receptor positions."""
        return np.column_stack([self.x_m, self.y_m, self.z_m])

    @property
    def start_time(self) -> datetime | None:
        """The clock time of the first sample (None: times are seconds from the log's start)."""
        return None if self.t0 is None or not len(self) else self.t0 + timedelta(seconds=float(self.time_s[0]))

    @property
    def end_time(self) -> datetime | None:
        """The clock time of the last sample (None: times are seconds from the log's start)."""
        return None if self.t0 is None or not len(self) else self.t0 + timedelta(seconds=float(self.time_s[-1]))

    @property
    def duration_s(self) -> float:
        """From the first sample to the last (of any aircraft)."""
        return float(np.max(self.time_s) - np.min(self.time_s)) if len(self) else 0.0

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
            piece=None if self.piece is None else self.piece[m],
        )

    def in_frame(self, frame: LocalFrame) -> Observations:
        """The same samples with their east/north about ``frame``'s origin (from the WGS84 read)."""
        x, y = frame.to_local(self.lat, self.lon)
        return dataclasses.replace(self, x_m=np.asarray(x, float), y_m=np.asarray(y, float), frame=frame)

    def pieces(self) -> list[np.ndarray]:
        """The indices of each aircraft's time series (one array for a single series)."""
        if self.piece is None:
            return [np.arange(len(self))]
        return [np.flatnonzero(self.piece == p) for p in np.unique(self.piece)]


def join_sorties(parts, origin=None) -> Observations:
    """The logs of one survey as one table in one local frame (about ``origin``, else the median
    of every track), so that they are estimated from together: the sorties of one aircraft
    (one log a battery), joined in clock order into one time series, and, where logs were flown
    at the same time (several aircraft), one such series per aircraft (``piece``), each with its
    own background, noise and sensor lag in the estimate.

    Placed by their clock times: a log whose times are seconds from its own start (no date)
    cannot be and is refused; so is a log that repeats another's samples (the same flight given
    twice). Logs are given to aircraft as they fit in turn (the fewest series that hold them
    all). Between sorties the wind is interpolated, as across any gap in a log. The species
    kept are those every log measured; the others are named in the repairs. Refusals are
    :class:`~plumescout.errors.InputError` naming the file.
    """
    parts = list(parts)
    if len(parts) == 1 and origin is None:
        return parts[0]
    for p in parts:
        if p.t0 is None:
            raise InputError(
                _name(p),
                "its times are seconds from its own start, with no date: logs are joined by clock time "
                "(give ISO 8601 times, or analyse it alone)",
                column="time",
            )
        if not len(p):
            raise InputError(_name(p), "no samples")
    craft = aircraft_of(parts)
    lanes = [
        [p for _, p in sorted(((p.start_time, k), p) for k, p in enumerate(parts) if craft[k] == a)]
        for a in range(max(craft) + 1)
    ]
    parts.sort(key=lambda p: p.start_time)
    t0 = parts[0].t0
    if origin is None:
        origin = (
            float(np.median(np.concatenate([p.lat for p in parts]))),
            float(np.median(np.concatenate([p.lon for p in parts]))),
        )
    frame = LocalFrame(*origin)
    common = set.intersection(*(set(p.species) for p in parts))
    if not common:
        raise InputError(_name(parts[0]), "no gas species is in every log: " + _species_list(parts))
    repairs = [r for p in parts for r in p.repairs]
    dropped = sorted(set().union(*(set(p.species) for p in parts)) - common)
    if dropped:
        repairs.append(
            Repair("species", f"{', '.join(dropped)} left out: not measured in every log ({_species_list(parts)})")
        )
    order = [sp for sp in parts[0].species if sp in common]
    cols = sorted(set.intersection(*(set(p.columns) for p in parts)))
    ordered = [p for lane in lanes for p in lane]  # aircraft by aircraft, each in clock order
    x, y = frame.to_local(np.concatenate([p.lat for p in ordered]), np.concatenate([p.lon for p in ordered]))
    return Observations(
        time_s=np.concatenate([p.time_s + (p.t0 - t0).total_seconds() for p in ordered]),
        x_m=np.asarray(x, float),
        y_m=np.asarray(y, float),
        z_m=np.concatenate([p.z_m for p in ordered]),
        lat=np.concatenate([p.lat for p in ordered]),
        lon=np.concatenate([p.lon for p in ordered]),
        wind_speed_m_s=np.concatenate([p.wind_speed_m_s for p in ordered]),
        wind_from_deg=np.concatenate([p.wind_from_deg for p in ordered]),
        species={sp: np.concatenate([p.species[sp] for p in ordered]) for sp in order},
        frame=frame,
        t0=t0,
        columns={c: np.concatenate([p.columns[c] for p in ordered]) for c in cols},
        units={sp: parts[0].units[sp] for sp in order if sp in parts[0].units},
        source_files=tuple(f for p in ordered for f in p.source_files),
        repairs=repairs,
        piece=None
        if len(lanes) == 1
        else np.concatenate([np.full(len(p), k) for k, lane in enumerate(lanes) for p in lane]),
    )


def aircraft_of(parts) -> list[int]:
    """Which aircraft (0, 1, ...) flew each log (logs with clock times): in clock order, each log
    goes to the first aircraft free by its start, else to a new one (the fewest aircraft that
    hold them all). A log that repeats the samples of one flown at the same time is refused."""
    order = sorted(range(len(parts)), key=lambda k: parts[k].start_time)
    last: list[Observations] = []  # each aircraft's latest log
    out = [0] * len(parts)
    for k in order:
        p = parts[k]
        free = next((a for a, q in enumerate(last) if q.end_time < p.start_time), None)
        if free is None:
            for q in last:
                if q.end_time >= p.start_time:
                    _refuse_repeats(q, p)
            free = len(last)
            last.append(p)
        last[free] = p
        out[k] = free
    return out


def _refuse_repeats(a: Observations, b: Observations, share: float = 0.5) -> None:
    """Two logs flown at the same time are two aircraft, unless one repeats the other's samples
    (the same flight given twice, or a piece of it): refused when at least ``share`` of the
    shorter one's samples are the other's (same clock time, position and reading)."""

    def keys(o):
        t = np.round((o.time_s + (o.t0 - a.t0).total_seconds()) * 1000.0).astype(np.int64)
        return set(zip(t.tolist(), np.round(o.lat, 7).tolist(), np.round(o.lon, 7).tolist(), strict=True))

    ka, kb = keys(a), keys(b)
    if len(ka & kb) >= share * min(len(ka), len(kb)):
        raise InputError(
            _name(b),
            f"repeats the samples of {_name(a)} (the same flight given twice?): logs flown at the same time are "
            "joined only as different aircraft",
            column="time",
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
    survey, between aircraft, or at a long dropout, so that maps do not draw a line no aircraft
    flew while logging."""
    t = np.asarray(time_s, float)
    if t.size < 3:
        return np.zeros(0, dtype=int)
    dt = np.diff(t)
    # forward gaps, and steps back in time: where one aircraft's series ends and the next begins
    return np.flatnonzero((dt > max(BREAK_S, 20.0 * float(np.median(dt)))) | (dt < 0)) + 1

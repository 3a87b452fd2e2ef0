"""Autopilot logs: MAVLink telemetry (.tlog), ArduPilot DataFlash (.bin) and PX4 ULog (.ulg).

Every reader ends in the same :class:`~plumescout.observations.Observations` as the CSV reader:
one sample per gas reading, with the position and wind interpolated to its time. What is read
where is set by a :class:`LogMapping` (defaults below; a TOML file overrides them):

- tlog: position from ``GLOBAL_POSITION_INT`` (``relative_alt`` as height above ground), gas from
  ``NAMED_VALUE_FLOAT`` whose ``name`` is a species column of FORMATS.md (``ch4_ppm``, ``c2h6_ppb``),
  wind from ``WIND`` (ArduPilot dialect: ``direction`` the wind comes from, ``speed``). Times are
  the log's own receive timestamps.
- DataFlash: position from ``POS`` (``Lat``, ``Lng``, ``RelHomeAlt``), wind from the EKF's ``XKF2``
  (``VWN``, ``VWE``: the air's velocity north and east), gas from a ``GAS`` message whose fields are
  species columns (as a Lua script logs them). Times are ``TimeUS``.
- ULog: position from ``vehicle_global_position`` (``lat``, ``lon``, ``alt`` less
  ``home_position.alt``), wind from ``wind`` (``windspeed_north``, ``windspeed_east``), gas from
  ``debug_key_value`` (``key`` a species column, ``value``). Times are ``timestamp`` (us).

The format is told by the file's content (magic bytes), not its name. Damaged logs are read as far
as they go: corrupted bytes are skipped, a truncated tail is ignored, times that run backwards are
put in order, samples in GPS or wind gaps longer than ``max_gap_s`` are dropped, and saturated or
non-finite gas readings are set aside; each of these is reported as a repair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..errors import InputError
from ..geo import LocalFrame, unit_to_bearing
from ..observations import Observations, Repair
from ..units import species_of_column

__all__ = ["LogMapping", "sniff_format", "read_tlog", "read_dataflash", "read_ulog", "load_mapping"]

ULOG_MAGIC = b"ULog\x01\x12\x35"
DF_MAGIC = b"\xa3\x95\x80"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlogMapping(_M):
    position_message: str = "GLOBAL_POSITION_INT"
    gas_message: str = "NAMED_VALUE_FLOAT"
    wind_message: str = "WIND"


class DataFlashMapping(_M):
    position_message: str = "POS"
    lat: str = "Lat"
    lon: str = "Lng"
    alt: str = "RelHomeAlt"
    wind_message: str = "XKF2"
    wind_north: str = "VWN"
    wind_east: str = "VWE"
    gas_message: str = "GAS"


class ULogMapping(_M):
    position_topic: str = "vehicle_global_position"
    lat: str = "lat"
    lon: str = "lon"
    alt: str = "alt"
    home_topic: str = "home_position"
    home_alt: str = "alt"
    wind_topic: str = "wind"
    wind_north: str = "windspeed_north"
    wind_east: str = "windspeed_east"
    gas_topic: str = "debug_key_value"
    gas_key: str = "key"
    gas_value: str = "value"


class LogMapping(_M):
    """Which messages and fields hold position, wind and gas; ``saturation`` maps a species
    column (``ch4_ppm``) to the reading at which its sensor saturates."""

    tlog: TlogMapping = TlogMapping()
    dataflash: DataFlashMapping = DataFlashMapping()
    ulog: ULogMapping = ULogMapping()
    saturation: dict[str, float] = {}


def load_mapping(path) -> LogMapping:
    from ..tomlio import load_toml_model

    return load_toml_model(path, LogMapping)


def sniff_format(path) -> str:
    """'ulog', 'dataflash', 'tlog' or 'csv', from the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(ULOG_MAGIC):
        return "ulog"
    if head.startswith(DF_MAGIC):
        return "dataflash"
    if len(head) > 9 and head[8] in (0xFE, 0xFD):
        t = int.from_bytes(head[:8], "big") * 1e-6
        if 1e8 < t < 1e10:  # a plausible Unix time in microseconds: a tlog record
            return "tlog"
    return "csv"


@dataclass
class _Series:
    """Raw time series pulled from a log, before they are put on the gas samples' times."""

    pos: list[tuple[float, float, float, float]] = field(default_factory=list)  # t, lat, lon, alt
    wind: list[tuple[float, float, float]] = field(default_factory=list)  # t, speed, from_deg
    gas: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # column -> (t, value)
    repairs: list[Repair] = field(default_factory=list)
    epoch: float | None = None  # Unix time of t = 0, when the log has one

    def add_gas(self, column: str, t: float, v: float):
        self.gas.setdefault(column, []).append((t, v))


def _point_column(name: str) -> bool:
    sp = species_of_column(name)
    return sp is not None and sp[1] in ("ppm", "ppb")


def _wind_from_velocity(vn, ve):
    """(speed, from_deg) of an air velocity (north, east components, toward)."""
    speed = math.hypot(vn, ve)
    return speed, float(unit_to_bearing(-ve, -vn)) % 360.0


def read_tlog(path, mapping: LogMapping | None = None, **kw) -> Observations:
    from pymavlink import mavutil

    m = (mapping or LogMapping()).tlog
    path = Path(path)
    s = _Series()
    size = path.stat().st_size
    try:
        mlog = mavutil.mavlink_connection(str(path), dialect="ardupilotmega", robust_parsing=True)
    except Exception as e:  # noqa: BLE001 - pymavlink raises plain Exceptions on unreadable files
        raise InputError(path, f"not a readable MAVLink telemetry log: {e}") from None
    bad = 0
    types = {m.position_message, m.gas_message, m.wind_message, "BAD_DATA"}
    stopped = None
    while True:
        try:
            msg = mlog.recv_match(blocking=False)  # unfiltered: a type filter hides BAD_DATA
        except Exception as e:  # noqa: BLE001 - a damaged record: keep what came before
            stopped = str(e)
            break
        if msg is None:
            break
        kind = msg.get_type()
        if kind not in types:
            continue
        t = float(getattr(msg, "_timestamp", 0.0))
        if kind == "BAD_DATA":
            bad += 1
        elif kind == m.position_message:
            s.pos.append((t, msg.lat * 1e-7, msg.lon * 1e-7, msg.relative_alt * 1e-3))
        elif kind == m.wind_message:
            s.wind.append((t, float(msg.speed), float(msg.direction) % 360.0))
        elif kind == m.gas_message:
            name = msg.name if isinstance(msg.name, str) else msg.name.decode("ascii", "ignore")
            name = name.strip("\x00").strip().lower()
            if _point_column(name):
                s.add_gas(name, t, float(msg.value))
    # bytes read but never completed into a record: a truncated tail
    left = int(mlog.mav.buf_len()) if hasattr(mlog.mav, "buf_len") else 0
    pos_end = (mlog.f.tell() if hasattr(mlog, "f") else size) - left
    mlog.close()
    if bad:
        s.repairs.append(Repair("corrupt", f"skipped {bad} corrupted MAVLink record(s)", count=bad))
    if stopped:
        s.repairs.append(Repair("truncated", f"stopped reading at a damaged record ({stopped}); kept what came before"))
    elif pos_end < size:
        s.repairs.append(Repair("truncated", f"the log ends mid-record: the last {size - pos_end} byte(s) ignored"))
    s.epoch = 0.0  # tlog timestamps are Unix times
    return _assemble(path, s, mapping or LogMapping(), "tlog", **kw)


def read_dataflash(path, mapping: LogMapping | None = None, **kw) -> Observations:
    from pymavlink import DFReader

    m = (mapping or LogMapping()).dataflash
    path = Path(path)
    s = _Series()
    try:
        log = DFReader.DFReader_binary(str(path), zero_time_base=True)
    except Exception as e:  # noqa: BLE001
        raise InputError(path, f"not a readable DataFlash log: {e}") from None
    stopped = None
    types = [m.position_message, m.wind_message, m.gas_message]
    while True:
        try:
            msg = log.recv_match(type=types)
        except Exception as e:  # noqa: BLE001 - a damaged record: keep what came before
            stopped = str(e)
            break
        if msg is None:
            break
        kind = msg.get_type()
        try:
            t = msg.TimeUS * 1e-6
            if kind == m.position_message:
                s.pos.append((t, float(getattr(msg, m.lat)), float(getattr(msg, m.lon)), float(getattr(msg, m.alt))))
            elif kind == m.wind_message:
                s.wind.append(
                    (t, *_wind_from_velocity(float(getattr(msg, m.wind_north)), float(getattr(msg, m.wind_east))))
                )
            elif kind == m.gas_message:
                for col in msg.get_fieldnames():
                    if _point_column(col.lower()):
                        s.add_gas(col.lower(), t, float(getattr(msg, col)))
        except AttributeError as e:
            raise InputError(path, f"message {kind} has no field {e} (see the mapping file)") from None
    skipped = int(getattr(log, "remaining", 0) or 0)
    log.close()
    if stopped:
        s.repairs.append(Repair("truncated", f"stopped reading at a damaged record ({stopped}); kept what came before"))
    elif skipped:
        s.repairs.append(Repair("truncated", f"the log ends mid-record: the last {skipped} byte(s) ignored"))
    return _assemble(path, s, mapping or LogMapping(), "DataFlash", **kw)


def read_ulog(path, mapping: LogMapping | None = None, **kw) -> Observations:
    from pyulog import ULog

    m = (mapping or LogMapping()).ulog
    path = Path(path)
    s = _Series()
    try:
        ulog = ULog(str(path), [m.position_topic, m.home_topic, m.wind_topic, m.gas_topic])
    except Exception as e:  # noqa: BLE001 - pyulog raises on a bad header
        raise InputError(path, f"not a readable ULog file: {e}") from None
    if ulog.file_corruption:
        s.repairs.append(Repair("corrupt", "the ULog file is corrupted in places: damaged messages were skipped"))
    if ulog.dropouts:
        total = sum(d.duration for d in ulog.dropouts)
        s.repairs.append(Repair("dropout", f"the logger dropped data {len(ulog.dropouts)} time(s), {total} ms in all"))

    def topic(name):
        try:
            return ulog.get_dataset(name).data
        except (KeyError, IndexError, ValueError):
            return None

    home = topic(m.home_topic)
    home_alt = float(home[m.home_alt][0]) if home is not None and len(home[m.home_alt]) else None
    pos = topic(m.position_topic)
    if pos is not None:
        if home_alt is None:
            s.repairs.append(Repair("home", f"no {m.home_topic}: heights are above the first logged altitude"))
            home_alt = float(pos[m.alt][0])
        t = pos["timestamp"] * 1e-6
        s.pos = list(zip(t, pos[m.lat].astype(float), pos[m.lon].astype(float), pos[m.alt] - home_alt, strict=True))
    w = topic(m.wind_topic)
    if w is not None:
        t = w["timestamp"] * 1e-6
        s.wind = [
            (ti, *_wind_from_velocity(float(n), float(e)))
            for ti, n, e in zip(t, w[m.wind_north], w[m.wind_east], strict=True)
        ]
    g = topic(m.gas_topic)
    if g is not None:
        keys = sorted((k for k in g if k.startswith(m.gas_key + "[")), key=lambda k: int(k[len(m.gas_key) + 1 : -1]))
        chars = np.column_stack([g[k] for k in keys]).astype(np.uint8) if keys else np.zeros((0, 0), np.uint8)
        for ti, row, v in zip(g["timestamp"] * 1e-6, chars, g[m.gas_value], strict=True):
            name = bytes(row).split(b"\x00")[0].decode("ascii", "ignore").strip().lower()
            if _point_column(name):
                s.add_gas(name, float(ti), float(v))
    return _assemble(path, s, mapping or LogMapping(), "ULog", **kw)


def _assemble(
    path: Path,
    s: _Series,
    mapping: LogMapping,
    kind: str,
    origin=None,
    wind=None,
    max_gap_s: float = 2.0,
    max_wind_gap_s: float = 10.0,
) -> Observations:
    """Put position and wind on the gas samples' times; report every sample set aside."""
    repairs = list(s.repairs)
    if not s.gas:
        raise InputError(path, f"no gas readings in this {kind} log (see the mapping: looked for species columns "
                               "such as 'ch4_ppm')")  # fmt: skip
    if not s.pos:
        raise InputError(path, f"no position messages in this {kind} log")
    if not s.wind and wind is None:
        raise InputError(path, f"no wind messages in this {kind} log, and no wind given separately")

    def ordered(rows, what):
        a = np.array(rows, dtype=float)
        back = int(np.sum(np.diff(a[:, 0]) < 0))
        if back:
            a = a[np.argsort(a[:, 0], kind="stable")]
            repairs.append(
                Repair("time_backwards", f"{what}: time ran backwards {back} time(s); put in time order", count=back)
            )
        dup = np.concatenate([[False], np.diff(a[:, 0]) == 0])
        if dup.any():
            a = a[~dup]
            repairs.append(
                Repair(
                    "duplicate",
                    f"{what}: dropped {int(dup.sum())} record(s) with a repeated time",
                    count=int(dup.sum()),
                )
            )
        fin = np.all(np.isfinite(a), axis=1)
        if not fin.all():
            a = a[fin]
            repairs.append(
                Repair(
                    "non_finite",
                    f"{what}: dropped {int((~fin).sum())} record(s) with non-finite values",
                    count=int((~fin).sum()),
                )
            )
        return a

    pos = ordered(s.pos, "position")
    wnd = ordered(s.wind, "wind") if s.wind else None
    species, units = {}, {}
    gas_t = np.unique(np.concatenate([np.array(v)[:, 0] for v in s.gas.values()]))
    for col, rows in s.gas.items():
        a = ordered(rows, col)
        sp, unit = species_of_column(col)
        v = a[:, 1].copy()
        sat = mapping.saturation.get(col)
        if sat is not None:
            hit = v >= sat
            if hit.any():
                v[hit] = np.nan
                repairs.append(
                    Repair(
                        "saturated",
                        f"{col}: {int(hit.sum())} reading(s) at the sensor's saturation ({sat:g}) set aside",
                        count=int(hit.sum()),
                    )
                )
        neg = v < 0
        if neg.any():
            v[neg] = np.nan
            repairs.append(
                Repair("negative", f"{col}: {int(neg.sum())} negative reading(s) set aside", count=int(neg.sum()))
            )
        scale = 1e-3 if unit == "ppb" else 1.0
        # a reading of this species at each gas time (NaN where it has none)
        idx = np.searchsorted(gas_t, a[:, 0])
        full = np.full(gas_t.size, np.nan)
        full[idx] = v * scale
        species[sp] = full
        units[sp] = unit
    t = gas_t

    def on_times(a, cols, gap):
        """Interpolate columns of ``a`` at ``t``; False where the nearest records on either side
        are farther apart than ``gap``."""
        ta = a[:, 0]
        j = np.searchsorted(ta, t)
        lo = np.clip(j - 1, 0, ta.size - 1)
        hi = np.clip(j, 0, ta.size - 1)
        span = np.where((j > 0) & (j < ta.size), ta[hi] - ta[lo], np.inf)
        near = np.minimum(np.abs(ta[hi] - t), np.abs(ta[lo] - t))
        # inside a short gap, or just past the first/last record (held, not extrapolated far)
        ok = (span <= gap) | (near <= min(0.5, gap / 2))
        return [np.interp(t, ta, a[:, c]) for c in cols], ok

    (lat, lon, alt), ok_pos = on_times(pos, (1, 2, 3), max_gap_s)
    if wnd is not None:
        rad = np.deg2rad(wnd[:, 2])
        vec = np.column_stack([wnd[:, 0], wnd[:, 1] * np.sin(rad), wnd[:, 1] * np.cos(rad), wnd[:, 1]])
        (ve, vn, spd), ok_wind = on_times(vec, (1, 2, 3), max_wind_gap_s)
        wd = unit_to_bearing(ve, vn) % 360.0
        ws = spd
    else:
        ws, wd = wind.at(t - t[0])
        ws, wd = np.asarray(ws, float), np.asarray(wd, float)
        ok_wind = np.ones(t.size, bool)
    any_gas = np.zeros(t.size, bool)
    for v in species.values():
        any_gas |= np.isfinite(v)
    for label, ok in (("a GPS gap", ok_pos), ("a wind gap", ok_wind), ("no usable gas reading", any_gas)):
        bad = ~ok
        if bad.any():
            why = f"dropped {int(bad.sum())} sample(s) in {label}"
            if "gap" in label:
                gap = max_gap_s if "GPS" in label else max_wind_gap_s
                why += f" longer than {gap:g} s or outside the position/wind record"
            repairs.append(Repair("dropped", why, count=int(bad.sum())))
    keep = ok_pos & ok_wind & any_gas
    if keep.sum() < 2:
        raise InputError(path, f"only {int(keep.sum())} usable sample(s) in this {kind} log after dropping those "
                               "without position, wind or a gas reading")  # fmt: skip
    t_keep0 = float(t[keep][0])
    t0 = datetime.fromtimestamp(s.epoch + t_keep0, tz=UTC) if s.epoch is not None else None
    if origin is None:
        origin = (float(np.median(lat[keep])), float(np.median(lon[keep])))
    frame = LocalFrame(*origin)
    x, y = frame.to_local(lat, lon)
    obs = Observations(
        time_s=t - t_keep0,
        x_m=np.asarray(x, float),
        y_m=np.asarray(y, float),
        z_m=np.asarray(alt, float),
        lat=np.asarray(lat, float),
        lon=np.asarray(lon, float),
        wind_speed_m_s=np.asarray(ws, float),
        wind_from_deg=np.mod(wd, 360.0),
        species=species,
        frame=frame,
        t0=t0,
        units=units,
        source_files=(str(path),),
        repairs=repairs,
    )
    return obs.select(keep) if not keep.all() else obs

"""Write a simulated flight as the autopilots' logs, with the libraries' own writers:
pymavlink's MAVLink encoder (tlog records: 8-byte big-endian microsecond timestamp + packet, as
MAVProxy and QGroundControl write them), pymavlink's DataFlash message serialiser
(``DFMessage.get_msgbuf``, FMT records first, as ArduPilot writes them) and pyulog's
``ULog.write_ulog``."""

from __future__ import annotations

import struct

import numpy as np

T_EPOCH = 1_779_000_000.0  # 2026-05-17, a Unix time for the tlog records


def _rates(obs, pos_hz=5.0, wind_hz=2.0):
    t = obs.time_s
    tp = np.arange(t[0], t[-1] + 1e-9, 1.0 / pos_hz)
    tw = np.arange(t[0], t[-1] + 1e-9, 1.0 / wind_hz)
    lat, lon, alt = (np.interp(tp, t, a) for a in (obs.lat, obs.lon, obs.z_m))
    rad = np.deg2rad(obs.wind_from_deg)
    ve = np.interp(tw, t, -obs.wind_speed_m_s * np.sin(rad))  # air velocity (toward)
    vn = np.interp(tw, t, -obs.wind_speed_m_s * np.cos(rad))
    return tp, lat, lon, alt, tw, vn, ve


def write_tlog(path, obs, species="ch4", gas_times=None, corrupt_at=None, truncate=0):
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    tp, lat, lon, alt, tw, vn, ve = _rates(obs)
    recs = []
    for ti, a, b, h in zip(tp, lat, lon, alt, strict=True):
        m = mav.global_position_int_encode(int(ti * 1000), int(round(a * 1e7)), int(round(b * 1e7)),
                                           int(h * 1000) + 100000, int(h * 1000), 0, 0, 0, 0)  # fmt: skip
        recs.append((ti, m.pack(mav)))
    for ti, n, e in zip(tw, vn, ve, strict=True):
        speed = float(np.hypot(n, e))
        frm = float(np.rad2deg(np.arctan2(-e, -n)) % 360.0)
        recs.append((ti, mav.wind_encode(frm, speed, 0.0).pack(mav)))
    gt = obs.time_s if gas_times is None else gas_times
    for ti, v in zip(gt, np.interp(gt, obs.time_s, obs.species[species]), strict=True):
        recs.append((ti, mav.named_value_float_encode(int(ti * 1000), f"{species}_ppm".encode(), float(v)).pack(mav)))
    recs.sort(key=lambda r: r[0])
    buf = bytearray()
    for k, (ti, pkt) in enumerate(recs):
        rec = struct.pack(">Q", int(round((T_EPOCH + ti) * 1e6))) + pkt
        if corrupt_at is not None and k in corrupt_at:
            rec = rec[:10] + bytes(b ^ 0x5A for b in rec[10:])
        buf += rec
    if truncate:
        buf = buf[:-truncate]
    with open(path, "wb") as fh:
        fh.write(bytes(buf))


def write_dataflash(path, obs, species="ch4", truncate=0, time_jumps=()):
    from pymavlink.DFReader import DFFormat, DFMessage

    fmt_fmt = DFFormat(0x80, "FMT", 89, "BBnNZ", "Type,Length,Name,Format,Columns")
    defs = {
        "POS": (0x81, "QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt"),
        "XKF2": (0x82, "QBffffff", "TimeUS,C,AX,AY,AZ,VWN,VWE,MN"),
        "GAS": (0x83, "Qf", f"TimeUS,{species}_ppm"),
    }
    fmts = {}
    out = bytearray()
    for name, (typ, f, cols) in defs.items():
        length = 3 + struct.calcsize("<" + "".join({"Q": "Q", "L": "i", "f": "f", "B": "B"}[c] for c in f))
        fmts[name] = DFFormat(typ, name, length, f, cols)
        out += DFMessage(fmt_fmt, [typ, length, name, f, cols], False, None).get_msgbuf()
    out += DFMessage(fmt_fmt, [0x80, 89, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns"], False, None).get_msgbuf()
    tp, lat, lon, alt, tw, vn, ve = _rates(obs)
    recs = []
    for ti, a, b, h in zip(tp, lat, lon, alt, strict=True):
        recs.append((ti, "POS", [int(ti * 1e6), a, b, h + 100.0, h, h]))
    for ti, n, e in zip(tw, vn, ve, strict=True):
        recs.append((ti, "XKF2", [int(ti * 1e6), 0, 0.0, 0.0, 0.0, n, e, 0.0]))
    for ti, v in zip(obs.time_s, obs.species[species], strict=True):
        recs.append((ti, "GAS", [int(ti * 1e6), float(v)]))
    recs.sort(key=lambda r: r[0])
    for k, (_, name, vals) in enumerate(recs):
        if k in time_jumps:
            vals = [vals[0] - 5_000_000, *vals[1:]]  # this record's clock jumps back 5 s
        f = fmts[name]
        if name == "POS":  # Lat/Lng are int32 1e-7 deg in ArduPilot's 'L' type: the serialiser scales
            msg = DFMessage(f, [vals[0], int(round(vals[1] * 1e7)), int(round(vals[2] * 1e7)), *vals[3:]], True, None)
        else:
            msg = DFMessage(f, vals, False, None)
        out += msg.get_msgbuf()
    if truncate:
        out = out[:-truncate]
    with open(path, "wb") as fh:
        fh.write(bytes(out))


def write_ulog(path, obs, species="ch4", gps_dropout=None):
    from pyulog import ULog

    u = ULog(None)
    u._file_version = 1
    u._start_timestamp = 1
    tp, lat, lon, alt, tw, vn, ve = _rates(obs)
    if gps_dropout is not None:
        keep = (tp < gps_dropout[0]) | (tp > gps_dropout[1])
        tp, lat, lon, alt = tp[keep], lat[keep], lon[keep], alt[keep]
    key = np.zeros((obs.time_s.size, 10), np.int8)
    name = f"{species}_ppm".encode()
    key[:, : len(name)] = np.frombuffer(name, np.int8)
    topics = {
        "vehicle_global_position": (
            [("uint64_t", "timestamp"), ("double", "lat"), ("double", "lon"), ("float", "alt")],
            {"timestamp": (tp * 1e6).astype(np.uint64), "lat": lat, "lon": lon,
             "alt": (alt + 100.0).astype(np.float32)},
        ),
        "home_position": (
            [("uint64_t", "timestamp"), ("float", "alt")],
            {"timestamp": np.array([1], np.uint64), "alt": np.array([100.0], np.float32)},
        ),
        "wind": (
            [("uint64_t", "timestamp"), ("float", "windspeed_north"), ("float", "windspeed_east")],
            {"timestamp": (tw * 1e6).astype(np.uint64), "windspeed_north": vn.astype(np.float32),
             "windspeed_east": ve.astype(np.float32)},
        ),
        "debug_key_value": (
            [("uint64_t", "timestamp"), ("uint32_t", "timestamp_ms")] + [("char", f"key[{i}]") for i in range(10)]
            + [("float", "value")],
            {"timestamp": (obs.time_s * 1e6 + 1).astype(np.uint64),
             "timestamp_ms": (obs.time_s * 1e3).astype(np.uint32),
             **{f"key[{i}]": key[:, i] for i in range(10)},
             "value": obs.species[species].astype(np.float32)},
        ),
    }  # fmt: skip
    np_types = {k: v[2] for k, v in ULog._UNPACK_TYPES.items()}
    for msg_id, (topic, (fields, data)) in enumerate(topics.items()):
        decl = "".join(
            "char[10] key;" if f[1] == "key[0]" else ("" if f[1].startswith("key[") else f"{f[0]} {f[1]};")
            for f in fields
        )
        fmt = ULog.MessageFormat((topic + ":" + decl).encode(), None)
        u._message_formats[topic] = fmt

        class Added:  # what ULog.Data is built from when reading a file
            pass

        a = Added()
        a.multi_id, a.msg_id, a.message_name, a.timestamp_idx = 0, msg_id, topic, 0
        a.field_data = [ULog._FieldData(n, t) for t, n in fields]
        a.dtype = np.dtype([(n, np_types[t]) for t, n in fields])
        arr = np.zeros(len(data["timestamp"]), a.dtype)
        for n, v in data.items():
            arr[n] = v
        a.buffer = arr.tobytes()
        u._data_list.append(ULog.Data(a))
    u.write_ulog(str(path))

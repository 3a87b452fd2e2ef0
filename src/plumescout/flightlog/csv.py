"""Reader and writer of the open flight-log CSV (FORMATS.md section 1).

The reader repairs what is repairable and reports every repair as a :class:`Repair`:

* rows out of time order are sorted;
* exact duplicate rows, and rows repeating an earlier time, are dropped;
* a row whose time, position or height cannot be parsed or is out of range is dropped;
* short gaps (<= ``max_gap_s``) in position or wind are interpolated; longer ones are dropped;
* a species column that is entirely empty is dropped (if another species remains);
* a NaN gas reading is kept as NaN (the sample still carries position and wind).

A file that cannot be used at all raises :class:`~plumescout.errors.InputError` naming file,
line and column: empty file, no header, a required column missing, no species column, no wind,
no usable rows, a species column with no reading, fewer than two usable samples, or so many bad
values in one column that the file cannot be trusted (more than ``max_bad_fraction``).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geo import LocalFrame, unit_to_bearing
from ..observations import Observations, Repair
from ..units import species_of_column

__all__ = ["read_flight_csv", "write_flight_csv"]

_REQUIRED = ("time", "lat", "lon")


def _parse_time(text: str) -> tuple[float, bool] | None:
    """-> (seconds, had_zone) with seconds since the Unix epoch for ISO, or as given for floats."""
    s = text.strip()
    if not s:
        return None
    try:
        v = float(s)
        return (v, True) if math.isfinite(v) else None
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    zone = dt.tzinfo is not None
    if not zone:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp(), zone


def _float(text: str) -> float:
    s = text.strip()
    if not s or s.lower() in ("nan", "na", "null", "none"):
        return math.nan
    return float(s)


def read_flight_csv(
    path,
    origin: tuple[float, float] | None = None,
    ground_elevation_m: float | None = None,
    wind=None,
    max_gap_s: float = 2.0,
    max_bad_fraction: float = 0.5,
) -> Observations:
    """Read an open flight-log CSV into :class:`Observations`.

    Parameters
    ----------
    path : path-like
        The CSV file.
    origin : (lat, lon), optional
        Origin of the local frame; default: the median position of the track.
    ground_elevation_m : float, optional
        Ground elevation above MSL, for files that give ``alt_msl_m`` instead of ``alt_agl_m``.
    wind : WindSeries, optional
        Wind given separately, for files without wind columns (it overrides none present).
    max_gap_s : float
        Longest gap in position or wind that is interpolated rather than dropped.
    max_bad_fraction : float
        A column with a larger fraction of unparsable values makes the whole file refused.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, "not UTF-8 text", line=line) from None
    if not text.strip():
        raise InputError(path, "the file is empty; expected a header row and samples", line=1)

    reader = csv.reader(text.splitlines())
    header = next(reader)
    names = [h.strip().lower() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        raise InputError(path, f"column named twice in the header: {', '.join(dupes)}", line=1, column=dupes[0])
    for req in _REQUIRED:
        if req not in names:
            raise InputError(
                path,
                f"required column '{req}' is missing from the header; found: {', '.join(names) or '(nothing)'}"
                " (FORMATS.md section 1 needs time, lat, lon, alt_agl_m, a gas column and wind)",
                line=1,
                column=req,
            )
    alt_col = "alt_agl_m" if "alt_agl_m" in names else None
    if alt_col is None:
        if "alt_msl_m" in names and ground_elevation_m is not None:
            alt_col = "alt_msl_m"
        elif "alt_msl_m" in names:
            raise InputError(
                path,
                "the file gives alt_msl_m but no ground elevation was given "
                "(--ground-elevation) to turn it into height above ground",
                line=1,
                column="alt_msl_m",
            )
        else:
            raise InputError(path, "required column 'alt_agl_m' is missing from the header", line=1, column="alt_agl_m")
    gas_cols = {n: species_of_column(n) for n in names if species_of_column(n)}
    point_cols = {n: sp for n, sp in gas_cols.items() if sp[1] in ("ppm", "ppb")}
    column_cols = {n: sp for n, sp in gas_cols.items() if sp[1] in ("ppm_m", "ppb_m")}
    if not point_cols:
        raise InputError(
            path,
            "no gas species column: expected at least one '<species>_ppm' or '<species>_ppb' column, e.g. 'ch4_ppm'",
            line=1,
        )
    has_wind = "wind_speed_m_s" in names and "wind_from_deg" in names
    if not has_wind and wind is None:
        missing = "wind_speed_m_s" if "wind_speed_m_s" not in names else "wind_from_deg"
        raise InputError(
            path,
            "no wind: the file needs 'wind_speed_m_s' and 'wind_from_deg' "
            "columns, or wind must be given separately (--wind)",
            line=1,
            column=missing,
        )

    idx = {n: i for i, n in enumerate(names)}
    rows_line: list[int] = []
    t_list: list[float] = []
    lat_list: list[float] = []
    lon_list: list[float] = []
    alt_list: list[float] = []
    ws_list: list[float] = []
    wd_list: list[float] = []
    gas: dict[str, list[float]] = {n: [] for n in point_cols}
    col: dict[str, list[float]] = {n: [] for n in column_cols}
    bad: dict[tuple[str, str], list[int]] = defaultdict(list)  # (column, reason) -> lines
    naive_time_lines: list[int] = []
    n_rows = 0
    time_kind: str | None = None
    seen_lines: dict[tuple[str, ...], int] = {}
    exact_dupes: list[int] = []

    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        n_rows += 1
        if len(row) != len(names):
            bad[("(row)", f"has {len(row)} fields, the header has {len(names)}")].append(line_no)
            continue
        key = tuple(c.strip() for c in row)
        if key in seen_lines:
            exact_dupes.append(line_no)
            continue
        seen_lines[key] = line_no
        parsed = _parse_time(row[idx["time"]])
        if parsed is None:
            bad[("time", "unparsable time (expected ISO 8601 with zone or seconds)")].append(line_no)
            continue
        t, zone = parsed
        kind = "iso" if not _is_number(row[idx["time"]]) else "seconds"
        if time_kind is None:
            time_kind = kind
        elif kind != time_kind:
            bad[("time", f"time given as {kind} where earlier rows use {time_kind}")].append(line_no)
            continue
        if not zone:
            naive_time_lines.append(line_no)

        def value(name, lo=-math.inf, hi=math.inf, reason=None, row=row, line_no=line_no):
            return _cell(row[idx[name]], name, lo, hi, reason, bad, line_no)

        vals = {}
        for name, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 360.0), (alt_col, -1000.0, 30000.0)):
            vals[name], ok = value(name, lo, hi)
            if not ok:
                break
        if not ok:
            continue
        wvals = [math.nan, math.nan]
        if has_wind:
            wvals = [value("wind_speed_m_s", 0.0, 100.0)[0], value("wind_from_deg", -360.0, 720.0)[0]]
        gvals = {}
        for name, (_, unit) in point_cols.items():
            v = value(name, 0.0, math.inf, "negative mole fraction")[0]
            gvals[name] = v / 1000.0 if unit == "ppb" else v
        cvals = {}
        for name, (_, unit) in column_cols.items():
            v = value(name)[0]
            cvals[name] = v / 1000.0 if unit == "ppb_m" else v
        rows_line.append(line_no)
        t_list.append(t)
        lat_list.append(vals["lat"])
        lon_list.append(vals["lon"])
        alt_list.append(vals[alt_col] - (ground_elevation_m or 0.0) if alt_col == "alt_msl_m" else vals[alt_col])
        ws_list.append(wvals[0])
        wd_list.append(wvals[1])
        for k, v in gvals.items():
            gas[k].append(v)
        for k, v in cvals.items():
            col[k].append(v)

    if n_rows == 0:
        raise InputError(path, "the file has a header but no samples", line=2)
    repairs: list[Repair] = []
    for (column, reason), lines in sorted(bad.items(), key=lambda kv: kv[1][0]):
        frac = len(lines) / n_rows
        if column in ("time", "lat", "lon", alt_col, "(row)") and frac > max_bad_fraction:
            raise InputError(
                path,
                f"{reason} in {len(lines)} of {n_rows} rows; the file cannot be used (first bad value shown)",
                line=lines[0],
                column=None if column == "(row)" else column,
            )
        what = "row" if column in ("time", "lat", "lon", alt_col, "(row)") else "value"
        action = "dropped" if what == "row" else "set to missing"
        where = "" if column == "(row)" else f" in column '{column}'"
        repairs.append(
            Repair("bad_value", f"{action} {len(lines)} {what}(s): {reason}{where}", tuple(lines), len(lines))
        )
    if exact_dupes:
        repairs.append(
            Repair(
                "duplicate", f"dropped {len(exact_dupes)} exact duplicate row(s)", tuple(exact_dupes), len(exact_dupes)
            )
        )
    if naive_time_lines:
        repairs.append(
            Repair(
                "time_zone",
                f"{len(naive_time_lines)} time(s) had no zone; taken as UTC",
                tuple(naive_time_lines[:1]),
                len(naive_time_lines),
            )
        )

    lines_arr = np.array(rows_line, dtype=int)
    t = np.array(t_list)
    if t.size < 2:
        raise InputError(
            path,
            f"only {t.size} usable sample(s); at least 2 are needed to analyse a flight",
            line=int(lines_arr[0]) if t.size else 2,
        )

    # ordering
    order = np.argsort(t, kind="stable")
    if np.any(order != np.arange(t.size)):
        n_moved = int(np.sum(order != np.arange(t.size)))
        repairs.append(
            Repair(
                "order",
                f"sorted {n_moved} row(s) that were out of time order",
                tuple(int(x) for x in lines_arr[order][order != np.arange(t.size)][:8]),
                n_moved,
            )
        )
    sel = order
    t = t[sel]
    # repeated times with different values: keep the first
    rep = np.flatnonzero(np.diff(t) == 0) + 1
    if rep.size:
        keep = np.ones(t.size, bool)
        keep[rep] = False
        repairs.append(
            Repair(
                "duplicate_time",
                f"dropped {rep.size} row(s) repeating an earlier time with other values",
                tuple(int(x) for x in lines_arr[sel][rep]),
                int(rep.size),
            )
        )
        sel = sel[keep]
        t = t[keep]

    def arr(lst):
        return np.array(lst, dtype=float)[sel]

    lat, lon, alt = arr(lat_list), arr(lon_list), arr(alt_list)
    ws, wd = arr(ws_list), arr(wd_list)
    lines_sel = lines_arr[sel]
    species: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for name, (sp, unit) in point_cols.items():
        v = arr(gas[name])
        if np.all(np.isnan(v)):
            if len(point_cols) == 1:
                raise InputError(path, "the only gas column has no reading in any row", line=2, column=name)
            repairs.append(Repair("empty_species", f"dropped gas column '{name}': no reading in any row"))
            continue
        nn = int(np.isnan(v).sum())
        if nn:
            repairs.append(
                Repair(
                    "missing_gas",
                    f"{nn} sample(s) without a '{name}' reading kept as missing",
                    tuple(int(x) for x in lines_sel[np.isnan(v)][:8]),
                    nn,
                )
            )
        species[sp] = v
        units[sp] = unit
    columns = {column_cols[n][0]: arr(v) for n, v in col.items()}

    keep = np.ones(t.size, bool)
    for label, arrays in (("position", (lat, lon, alt)), ("wind", (ws, wd) if has_wind else ())):
        if not arrays:
            continue
        miss = np.zeros(t.size, bool)
        for a in arrays:
            miss |= np.isnan(a)
        if not miss.any():
            continue
        fill, drop = _gaps(t, miss, max_gap_s)
        if fill.any():
            good = ~miss
            if label == "wind":
                rad = np.deg2rad(wd)
                ve = np.interp(t, t[good], (ws * np.sin(rad))[good])
                vn = np.interp(t, t[good], (ws * np.cos(rad))[good])
                ws[fill] = np.interp(t[fill], t[good], ws[good])
                wd[fill] = unit_to_bearing(ve, vn)[fill]
            else:
                for a in arrays:
                    a[fill] = np.interp(t[fill], t[good], a[good])
            repairs.append(
                Repair(
                    "gap_filled",
                    f"interpolated {int(fill.sum())} sample(s) across short {label} gaps (<= {max_gap_s:g} s)",
                    tuple(int(x) for x in lines_sel[fill][:8]),
                    int(fill.sum()),
                )
            )
        if drop.any():
            keep &= ~drop
            repairs.append(
                Repair(
                    "gap_dropped",
                    f"dropped {int(drop.sum())} sample(s) in {label} gaps longer than {max_gap_s:g} s or at the ends",
                    tuple(int(x) for x in lines_sel[drop][:8]),
                    int(drop.sum()),
                )
            )
    if keep.sum() < 2:
        raise InputError(
            path,
            f"only {int(keep.sum())} usable sample(s) after dropping rows without position or wind",
            line=int(lines_sel[0]),
        )

    t0 = None
    if time_kind == "iso":
        t0 = datetime.fromtimestamp(float(t[keep][0]), tz=UTC)
        time_s = t - t[keep][0]
    else:
        time_s = t.copy()
    if not has_wind:
        ws, wd = wind.at(time_s)
        ws, wd = np.asarray(ws, float), np.asarray(wd, float)
    if origin is None:
        origin = (float(np.median(lat[keep])), float(np.median(lon[keep])))
    frame = LocalFrame(*origin)
    x, y = frame.to_local(lat, lon)
    obs = Observations(
        time_s=time_s,
        x_m=np.asarray(x, float),
        y_m=np.asarray(y, float),
        z_m=alt,
        lat=lat,
        lon=lon,
        wind_speed_m_s=ws,
        wind_from_deg=np.mod(wd, 360.0),
        species=species,
        frame=frame,
        t0=t0,
        columns=columns,
        units=units,
        source_files=(str(path),),
        repairs=repairs,
    )
    return obs.select(keep) if not keep.all() else obs


def _cell(text: str, name: str, lo: float, hi: float, reason: str | None, bad, line_no: int) -> tuple[float, bool]:
    """A cell as a float; NaN and ``False`` if it is not a number or outside ``[lo, hi]``, with
    the line noted in ``bad`` under (column, reason)."""
    try:
        v = _float(text)
    except ValueError:
        bad[(name, "not a number")].append(line_no)
        return math.nan, False
    if math.isfinite(v) and not lo <= v <= hi:
        bad[(name, reason or f"out of range [{lo:g}, {hi:g}]")].append(line_no)
        return math.nan, False
    return v, True


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _gaps(t: np.ndarray, miss: np.ndarray, max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Split missing samples into those to interpolate (short interior gaps) and to drop."""
    fill = np.zeros_like(miss)
    drop = np.zeros_like(miss)
    good = np.flatnonzero(~miss)
    if good.size == 0:
        return fill, miss.copy()
    i = 0
    n = miss.size
    while i < n:
        if not miss[i]:
            i += 1
            continue
        j = i
        while j < n and miss[j]:
            j += 1
        interior = i > 0 and j < n
        if interior and t[j] - t[i - 1] <= max_gap_s:
            fill[i:j] = True
        else:
            drop[i:j] = True
        i = j
    return fill, drop


def write_flight_csv(path, obs: Observations, t0: datetime | None = None, decimals: int = 6) -> Path:
    """Write :class:`Observations` as an open flight-log CSV (ISO times when ``t0`` is known)."""
    path = Path(path)
    t0 = t0 or obs.t0
    names = ["time", "lat", "lon", "alt_agl_m"]
    for sp in obs.species:
        names.append(f"{sp}_{obs.units.get(sp, 'ppm')}")
    for sp in obs.columns:
        names.append(f"{sp}_ppm_m")
    names += ["wind_speed_m_s", "wind_from_deg"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for i in range(len(obs)):
            if t0 is not None:
                ts = datetime.fromtimestamp(t0.timestamp() + float(obs.time_s[i]), tz=UTC)
                tstr = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            else:
                tstr = f"{obs.time_s[i]:.3f}"
            row = [tstr, f"{obs.lat[i]:.8f}", f"{obs.lon[i]:.8f}", f"{obs.z_m[i]:.2f}"]
            for sp, v in obs.species.items():
                val = v[i] * (1000.0 if obs.units.get(sp) == "ppb" else 1.0)
                row.append("" if np.isnan(val) else f"{val:.{decimals}f}")
            for v in obs.columns.values():
                row.append("" if np.isnan(v[i]) else f"{v[i]:.{decimals}f}")
            row += [f"{obs.wind_speed_m_s[i]:.3f}", f"{obs.wind_from_deg[i]:.2f}"]
            w.writerow(row)
    return path

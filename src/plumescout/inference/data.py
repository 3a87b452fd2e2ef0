"""What the estimator fits: one measurement vector per sensor kind and its forward model.

* :class:`PointData` — moving point samples of a flight (enhancement over the detected
  background, so no background column is needed; an offset is still fitted).
* :class:`BeamData` — path-averaged open-path readings (background included; the offset is a
  fitted linear parameter). Beam geometry is sampled along each beam and averaged.

Both expose ``y`` (g/m3), ``noise_g_m3`` (a first guess of the sensor noise), ``extent`` (x0, y0,
x1, y1) of the sensors, and ``coupling(sources_xyz, stability, bias_deg, sigma_scale, response_s,
sigma_y_scale)`` -> (n, m) s/m3, so the sampler treats them alike and can stack several.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geo import unit_to_bearing
from ..observations import Observations
from ..units import ppm_to_g_m3
from .detect import Detection
from .forward import ForwardSpec, coupling, lag_coefficients, sensor_lag
from .linear import group_mean

__all__ = ["PointData", "BeamData", "point_sensors", "read_beam_dataset", "spatial_order"]


def _smooth_wind(time_s, speed, from_deg, window_s: float):
    from scipy.ndimage import uniform_filter1d

    t = np.asarray(time_s, dtype=float)
    if t.size < 3 or window_s <= 0:
        return np.asarray(speed, float), np.asarray(from_deg, float)
    dt = float(np.median(np.diff(t)))
    n = max(1, int(round(window_s / max(dt, 1e-6))))
    rad = np.deg2rad(from_deg)
    s = uniform_filter1d(np.sin(rad), n, mode="nearest")
    c = uniform_filter1d(np.cos(rad), n, mode="nearest")
    sp = uniform_filter1d(np.asarray(speed, float), n, mode="nearest")
    return sp, unit_to_bearing(s, c)


@dataclass
class PointData:
    """Point samples of a flight as a fitting problem."""

    spec: ForwardSpec
    y: np.ndarray
    noise_g_m3: float
    species: str
    kind: str = "point"
    needs_offset: bool = False
    fluctuation_intensity: float = 1.0
    student_nu: float | None = None
    # the detected plume crossings, as (first, last) reading times (s): which of them a fitted
    # source accounts for is reported with it (:func:`~.estimate.crossing_support`)
    crossing_times: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def from_observations(
        cls,
        obs: Observations,
        det: Detection,
        species: str,
        lagrangian: bool = True,
        smoothing_s: float = 10.0,
        scheme: str = "briggs_rural",
        min_sigma_m: float = 1.0,
        temperature_k: float = 288.15,
        pressure_pa: float = 101325.0,
        decimate: int = 1,
    ):
        ok = np.isfinite(det.enhancement_ppm) & np.isfinite(obs.wind_speed_m_s) & np.isfinite(obs.wind_from_deg)
        idx = np.flatnonzero(ok)[:: max(1, decimate)]
        idx = idx[np.argsort(obs.time_s[idx], kind="stable")]  # in time order: the sensor lag runs along it
        sp, wd = _smooth_wind(obs.time_s, obs.wind_speed_m_s, obs.wind_from_deg, smoothing_s)
        kw = dict(
            x=obs.x_m[idx],
            y=obs.y_m[idx],
            z=obs.z_m[idx],
            t=obs.time_s[idx],
            speed=sp[idx],
            from_deg=wd[idx],
            scheme=scheme,
            min_sigma_m=min_sigma_m,
        )
        if lagrangian:
            spec = ForwardSpec.with_lagrangian_wind(obs.time_s, sp, wd, **kw)
        else:
            spec = ForwardSpec(**kw)
        y = ppm_to_g_m3(det.enhancement_ppm[idx], species, temperature_k, pressure_pa)
        noise = float(ppm_to_g_m3(det.noise_ppm, species, temperature_k, pressure_pa))
        crossings = [(float(obs.time_s[a]), float(obs.time_s[b - 1])) for a, b in det.crossings]
        return cls(spec, y, noise, species, crossing_times=crossings)

    @property
    def extent(self):
        return (self.spec.x.min(), self.spec.y.min(), self.spec.x.max(), self.spec.y.max())

    def background_basis(self) -> np.ndarray:
        """The enhancement is over the detected background: one residual offset."""
        return np.ones((len(self), 1))

    def residual_groups(self):
        """Residuals in one time series (for the autocorrelation)."""
        return [np.arange(len(self))]

    def __len__(self) -> int:
        return self.y.size

    def coupling(
        self, src, stability=3.0, bias_deg=0.0, sigma_scale=1.0, response_s=0.0, sigma_y_scale=1.0, z_growth=0.0
    ):
        """(n, m) coupling of the readings to sources ``src``, as a sensor with a first-order
        response time ``response_s`` reports it (:func:`~.forward.sensor_lag`)."""
        k = coupling(self.spec, src, stability, bias_deg, sigma_scale, sigma_y_scale, z_growth)
        if response_s <= 0:
            return k
        # the coefficients per response time, kept for the few values the chains (threads) hold
        cache = self.__dict__.setdefault("_lag_cache", {})
        co = cache.get(response_s)
        if co is None:
            if len(cache) > 32:
                cache.clear()
            co = cache[response_s] = lag_coefficients(self.spec.t, response_s)
        return sensor_lag(k, self.spec.t, response_s, co)


@dataclass
class BeamData:
    """Open-path beams: each reading is the path average of the plume along one beam."""

    spec: ForwardSpec  # one receptor per point along a beam, rows grouped by reading
    points_per_reading: int
    y: np.ndarray
    noise_g_m3: float
    species: str
    beam_start: np.ndarray
    beam_end: np.ndarray
    reading_beam: np.ndarray
    reading_time_s: np.ndarray
    kind: str = "beam"
    needs_offset: bool = True
    fluctuation_intensity: float = 0.5
    student_nu: float | None = 4.0
    background_knot_s: float = 1200.0
    readings_skipped: int = 0  # readings of the file left out: nan, or a minute whose wind is nan

    @classmethod
    def from_readings(
        cls,
        beam_start,
        beam_end,
        reading_beam,
        reading_time_s,
        path_avg_ppm,
        wind_speed,
        wind_from,
        species="ch4",
        tan_sigma_y=None,
        tan_sigma_z=None,
        scheme=None,
        points_per_beam: int = 30,
        min_sigma_m: float = 0.2,
        temperature_k=288.15,
        pressure_pa=101325.0,
    ):
        a = np.asarray(beam_start, float)[reading_beam]
        b = np.asarray(beam_end, float)[reading_beam]
        t = (np.arange(points_per_beam) + 0.5) / points_per_beam
        pts = (a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]).reshape(-1, 3)
        rep = np.repeat
        k = points_per_beam
        if scheme is None:
            scheme = "turbulence" if tan_sigma_y is not None else "briggs_rural"
        spec = ForwardSpec(
            x=pts[:, 0],
            y=pts[:, 1],
            z=pts[:, 2],
            t=rep(np.asarray(reading_time_s, float), k),
            speed=rep(np.asarray(wind_speed, float), k),
            from_deg=rep(np.asarray(wind_from, float), k),
            scheme=scheme,
            tan_sigma_y=None if tan_sigma_y is None else rep(np.asarray(tan_sigma_y, float), k),
            tan_sigma_z=None if tan_sigma_z is None else rep(np.asarray(tan_sigma_z, float), k),
            min_sigma_m=min_sigma_m,
        )
        y = ppm_to_g_m3(np.asarray(path_avg_ppm, float), species, temperature_k, pressure_pa)
        out = cls(
            spec,
            k,
            y,
            1e-6,  # replaced by noise_guess() below
            species,
            np.asarray(beam_start, float),
            np.asarray(beam_end, float),
            np.asarray(reading_beam),
            np.asarray(reading_time_s, float),
        )
        out.noise_g_m3 = out.noise_guess()
        return out

    @property
    def extent(self):
        xs = np.concatenate([self.beam_start[:, 0], self.beam_end[:, 0]])
        ys = np.concatenate([self.beam_start[:, 1], self.beam_end[:, 1]])
        return (xs.min(), ys.min(), xs.max(), ys.max())

    def __len__(self) -> int:
        return self.y.size

    def background_basis(self) -> np.ndarray:
        """Background common to all beams, piecewise linear in time (hat functions with knots
        every ``background_knot_s``): it may drift, it is the same for every beam at one time."""
        t = self.reading_time_s
        t0, t1 = float(t.min()), float(t.max())
        if t1 <= t0:  # every reading at one time (samplers read once): one background
            return np.ones((t.size, 1))
        nk = max(2, int(np.ceil((t1 - t0) / self.background_knot_s)) + 1)
        knots = np.linspace(t0, t1, nk)
        basis = np.empty((t.size, nk))
        for j in range(nk):
            e = np.zeros(nk)
            e[j] = 1.0
            basis[:, j] = np.interp(t, knots, e)
        return basis

    def noise_guess(self) -> float:
        """First guess of the noise: the robust spread (MAD / sqrt 2) of the changes between
        consecutive readings of each residual group (a beam's minute-to-minute changes); 1e-6
        g/m3 where there are none (every group read once)."""
        d = np.concatenate([np.diff(self.y[g]) for g in self.residual_groups()])
        d = d if d.size else np.zeros(1)
        return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)) or 1e-6

    @property
    def time_series(self) -> bool:
        """Whether the beams are read repeatedly (a median of at least :data:`MIN_SERIES`
        readings a beam), so that each beam's readings form a time series."""
        counts = np.unique(self.reading_beam, return_counts=True)[1]
        return bool(np.median(counts) >= MIN_SERIES)

    def residual_groups(self):
        """Groups of readings, each in an order along which neighbouring residuals are
        correlated (for the autocorrelation and the first noise guess). Beams read repeatedly:
        per beam, in time order (consecutive minutes see the same plume). A network read once or
        a few times (samplers, paths of zero length): per reading time, in spatial order
        (:func:`spatial_order` of the beams' midpoints), since neighbouring sensors see the same
        plume at the same time and share its error."""
        if self.time_series:
            return [np.flatnonzero(self.reading_beam == b) for b in np.unique(self.reading_beam)]
        mid = 0.5 * (self.beam_start + self.beam_end)[self.reading_beam]
        out = []
        for t in np.unique(self.reading_time_s):
            idx = np.flatnonzero(self.reading_time_s == t)
            out.append(idx[spatial_order(mid[idx, :2])])
        return out

    def coupling(
        self, src, stability=3.0, bias_deg=0.0, sigma_scale=1.0, response_s=0.0, sigma_y_scale=1.0, z_growth=0.0
    ):
        """(n, m) coupling of the path-averaged readings; ``response_s`` is unused (a reading is
        a minute's average: a sensor lag of seconds does not change it)."""
        c = coupling(self.spec, src, stability, bias_deg, sigma_scale, sigma_y_scale, z_growth)
        return group_mean(np.ascontiguousarray(c), self.points_per_reading)


def point_sensors(start, end) -> np.ndarray:
    """Which beams are point sensors (a path of zero length: start = end)."""
    return np.all(np.asarray(start) == np.asarray(end), axis=1)


MIN_SERIES = 8
"""Readings a beam needs (median over the beams) for its readings to be treated as a time series."""


def spatial_order(xy: np.ndarray, neighbours: int = 8) -> np.ndarray:
    """An order of the points in which consecutive points are mostly neighbours: the depth-first
    walk of the minimum spanning tree of their ``neighbours``-nearest-neighbour graph, each
    connected piece in turn (pieces in the order of their first point's index), each walk starting
    from the piece's point farthest from its centre (an end of a line or arc of sensors)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, depth_first_order, minimum_spanning_tree
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, float)
    n = len(xy)
    if n <= 2:
        return np.arange(n)
    k = min(neighbours + 1, n)
    dist, nb = cKDTree(xy).query(xy, k=k)
    rows = np.repeat(np.arange(n), k - 1)
    cols = nb[:, 1:].ravel()
    w = dist[:, 1:].ravel() + 1e-9  # coincident points: an edge of (almost) zero length, not none
    graph = coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph.maximum(graph.T))
    tree = tree + tree.T
    _, label = connected_components(tree, directed=False)
    order = []
    for c in np.unique(label):
        members = np.flatnonzero(label == c)
        # start at an end: the member farthest from the piece's centre (to the centimetre, so a
        # symmetric layout starts at the same end whatever the last digits of its coordinates)
        reach = np.round(np.hypot(*(xy[members] - xy[members].mean(axis=0)).T), 2)
        start = int(members[np.argmax(reach)])
        order.append(depth_first_order(tree, start, directed=False, return_predecessors=False))
    return np.concatenate(order)


def _read_csv_table(
    path: Path, required: tuple[str, ...], limits: dict[str, tuple[float, float, str]] | None = None
) -> dict[str, np.ndarray]:
    """The ``required`` columns of a CSV file with a header row, as float arrays, and under
    ``"line"`` each row's line number in the file (blank lines skipped). ``limits``: per column
    ``(lo, hi, what)``, a finite value outside ``[lo, hi]`` is refused (``nan`` passes: a gap)."""
    if not path.exists():
        raise InputError(path, "missing: a beam data set needs beams.csv, measurements.csv and wind.csv")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise InputError(path, "the file is empty", line=1)
    head = [h.strip().lower() for h in rows[0]]
    for r in required:
        if r not in head:
            raise InputError(path, f"required column '{r}' is missing; found: {', '.join(head)}", line=1, column=r)
    out: dict[str, list[float]] = {h: [] for h in (*required, "line")}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(head):
            raise InputError(path, f"has {len(row)} fields, the header has {len(head)}", line=n)
        for r in required:
            try:
                v = float(row[head.index(r)])
            except ValueError:
                raise InputError(path, f"not a number: '{row[head.index(r)]}'", line=n, column=r) from None
            if limits and r in limits and np.isfinite(v) and not limits[r][0] <= v <= limits[r][1]:
                raise InputError(path, f"{v:g} is not {limits[r][2]}", line=n, column=r)
            out[r].append(v)
        out["line"].append(n)
    if not out[required[0]]:
        raise InputError(path, "the file has a header but no rows", line=2)
    return {k: np.array(v) for k, v in out.items()}


def _refuse_repeats(path: Path, table: dict[str, np.ndarray], column: str, what: str) -> None:
    """Refuse a value of ``column`` given twice, naming the second line that gives it."""
    seen: dict[float, int] = {}
    for v, n in zip(table[column], table["line"], strict=True):
        if v in seen:
            raise InputError(path, f"{what} {v:g} is given twice (first on line {seen[v]})", line=int(n), column=column)
        seen[v] = int(n)


def read_beam_dataset(
    directory, species: str = "ch4", points_per_beam: int = 30, minutes: tuple[float, float] | None = None
) -> BeamData:
    """Read a beam data set laid out like Chilbolton 2017 source_1: ``beams.csv`` (beam, start
    and end x/y/z), ``measurements.csv`` (minute, beam, <species>_path_avg_ppm), ``wind.csv``
    (minute, wind_speed_m_s, wind_from_deg, optional tan_sigma_theta_h/_v). Local metres.
    ``minutes``: keep only the readings of minutes ``first <= minute <= last``. Point sensors
    (fixed samplers, continuous monitors) are beams of zero length (start = end); a network read
    once or a few times has its residuals grouped in space (:meth:`BeamData.residual_groups`)."""
    d = Path(directory)
    beams_path, meas_path, wind_path = d / "beams.csv", d / "measurements.csv", d / "wind.csv"
    above = (0.0, 10000.0, "a height above the ground (0-10000 m)")
    beam_columns = ("beam", "x0_m", "y0_m", "z0_m", "x1_m", "y1_m", "z1_m")
    beams = _read_csv_table(beams_path, beam_columns, {"z0_m": above, "z1_m": above})
    for name in beam_columns:
        bad = np.flatnonzero(~np.isfinite(beams[name]))
        if bad.size:
            line = int(beams["line"][bad[0]])
            raise InputError(beams_path, "a beam's id and ends must be numbers", line=line, column=name)
    _refuse_repeats(beams_path, beams, "beam", "beam")
    col = f"{species}_path_avg_ppm"
    meas = _read_csv_table(meas_path, ("minute", "beam", col))
    limits = {"wind_speed_m_s": (1e-9, 100.0, "a wind speed above 0 m/s (a calm minute: write nan to leave it out)")}
    limits["wind_from_deg"] = (-360.0, 720.0, "a direction in degrees")
    wind = _read_csv_table(wind_path, ("minute", "wind_speed_m_s", "wind_from_deg"), limits)
    _refuse_repeats(wind_path, wind, "minute", "minute")
    with wind_path.open(encoding="utf-8-sig") as fh:
        has_turb = {"tan_sigma_theta_h", "tan_sigma_theta_v"} <= {h.strip().lower() for h in fh.readline().split(",")}
    if has_turb:
        tan = (1e-9, 10.0, "a tangent of a turbulence angle, above 0")
        turb = ("minute", "tan_sigma_theta_h", "tan_sigma_theta_v")
        wind.update(_read_csv_table(wind_path, turb, {"tan_sigma_theta_h": tan, "tan_sigma_theta_v": tan}))
    index = {b: i for i, b in enumerate(beams["beam"])}
    rb = []
    for b, n in zip(meas["beam"], meas["line"], strict=True):
        if b not in index:
            raise InputError(meas_path, f"beam {b:g} is not in beams.csv", line=int(n), column="beam")
        rb.append(index[b])
    wmin = wind["minute"]
    order = np.argsort(wmin)
    pos = np.searchsorted(wmin[order], meas["minute"])
    pos = np.clip(pos, 0, wmin.size - 1)
    exact = wmin[order][pos] == meas["minute"]
    if not exact.all():
        first = int(np.flatnonzero(~exact)[0])
        raise InputError(
            meas_path,
            f"minute {meas['minute'][first]:g} has no wind in wind.csv",
            line=int(meas["line"][first]),
            column="minute",
        )
    wi = order[pos]
    in_window = np.ones(meas["minute"].size, bool)
    if minutes is not None:
        in_window = (meas["minute"] >= minutes[0]) & (meas["minute"] <= minutes[1])
    good = in_window & np.isfinite(meas[col])
    good &= np.isfinite(wind["wind_speed_m_s"][wi]) & np.isfinite(wind["wind_from_deg"][wi])
    if has_turb:
        good &= np.isfinite(wind["tan_sigma_theta_h"][wi]) & np.isfinite(wind["tan_sigma_theta_v"][wi])
    if not good.any():
        window = f" in minutes {minutes[0]:g}-{minutes[1]:g}" if minutes is not None else ""
        raise InputError(meas_path, f"no usable reading{window}: every {col} or its minute's wind is nan")
    wi = wi[good]
    start = np.column_stack([beams["x0_m"], beams["y0_m"], beams["z0_m"]])
    end = np.column_stack([beams["x1_m"], beams["y1_m"], beams["z1_m"]])
    if point_sensors(start, end).all():  # every path of zero length: point sensors, one point each
        points_per_beam = 1
    data = BeamData.from_readings(
        start,
        end,
        np.array(rb)[good],
        meas["minute"][good] * 60.0,
        meas[col][good],
        wind["wind_speed_m_s"][wi],
        wind["wind_from_deg"][wi],
        species,
        tan_sigma_y=wind["tan_sigma_theta_h"][wi] if has_turb else None,
        tan_sigma_z=wind["tan_sigma_theta_v"][wi] if has_turb else None,
        points_per_beam=points_per_beam,
    )
    data.readings_skipped = int(np.sum(in_window & ~good))
    return data

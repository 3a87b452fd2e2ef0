"""Live mode: listen to a vehicle over MAVLink, update the source posterior as samples arrive, and
(optionally) guide the vehicle to where the search policy says to look next.

The posterior is the search's grid filter (:class:`~plumescout.search.field.FieldBelief`): a
posterior over the source's cell and rate, updated by Bayes' rule once per observation window
(``window_s`` of readings: a hit if any reading rises ``threshold_ppm`` above the running
background; a window also waits until the vehicle has moved ``min_move_m``, or for ``hover_s``
while it holds position, so a loitering vehicle does not count one look many times). A window is
one observation of the stretch it was read along: its crosswind extent enters the hit law
(:func:`~plumescout.search.field.hit_probability`), and one flown up or down the wind is seen by
the likeliest of its 4 m pieces along it (:meth:`~plumescout.search.field.FieldBelief.p_stretch`).
An update
costs the same whatever the flight's length and nothing grows with it: recent readings live in
fixed-size ring buffers, so memory stays flat over hours.

Messages used: ``GLOBAL_POSITION_INT`` (position, height above home), ``WIND`` (ArduPilot: from,
speed), ``NAMED_VALUE_FLOAT`` named like a species column (``ch4_ppm``). Guidance is sent as
``SET_POSITION_TARGET_GLOBAL_INT`` (position only, relative altitude), what ArduPilot and PX4
follow in GUIDED / offboard mode; each is sent once the vehicle has reached the last, and planned
early enough to be ready when it does (:class:`Guide`). A vehicle that stops talking is waited
for; when it comes back (even rebooted, its clock restarted) the posterior carries on.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .geo import LocalFrame, unit_to_bearing
from .search.field import FIELD_POLICIES, FieldBelief
from .units import species_of_column

__all__ = ["Guide", "LiveModel", "LiveEstimator", "run_live"]


@dataclass
class LiveModel:
    """The search model the posterior assumes (the fields the grid filter and policies read)."""

    half_size_m: float = 500.0
    altitude_m: float = 4.0
    source_height_m: float = 1.0
    stability: str = "D"
    species: str = "ch4"
    threshold_ppm: float = 0.1
    wind_from_deg: float = 0.0
    meander_deg: float = 12.0


@dataclass
class LiveEstimator:
    """Online posterior from a stream of positions, winds and gas readings (local metres about
    ``frame``, which is the first position fix unless given)."""

    model: LiveModel = field(default_factory=LiveModel)
    window_s: float = 3.0
    min_move_m: float = 5.0
    hover_s: float = 30.0
    background_s: float = 120.0
    cell_m: float = 5.0
    frame: LocalFrame | None = None

    def __post_init__(self):
        self.belief = None
        self.pos = deque(maxlen=64)  # (t, x, y, alt)
        self.wind = deque(maxlen=600)  # (t, speed, from_deg)
        self.recent = deque(maxlen=int(self.background_s * 20))  # readings for the background
        self.window: list[tuple[float, float]] = []
        self.window_start = None
        self.window_xy = None
        self.samples = self.hits = self.windows = 0
        self.update_times: deque[float] = deque(maxlen=10000)

    # -- inputs ---------------------------------------------------------------------------------
    def add_position(self, t: float, lat: float, lon: float, alt: float) -> None:
        if self.frame is None:
            self.frame = LocalFrame(lat, lon)
        x, y = self.frame.to_local(lat, lon)
        self.pos.append((t, float(x), float(y), float(alt)))

    def add_wind(self, t: float, speed: float, from_deg: float) -> None:
        self.wind.append((t, float(speed), float(from_deg) % 360.0))
        if self.belief is None and self.frame is not None:
            self.model.wind_from_deg = float(from_deg)
            self.belief = FieldBelief(self.model, cell_m=self.cell_m)

    def add_gas(self, t: float, ppm: float) -> bool:
        """Add one reading; returns True when it closed a window and updated the posterior."""
        if not math.isfinite(ppm) or ppm < 0:
            return False
        self.samples += 1
        self.recent.append(ppm)
        if self.window_start is None:
            self.window_start = t
            self.window_xy = self._xy()
        self.window.append((t, ppm))
        span = t - self.window_start
        if span < self.window_s:
            return False
        # a window is one observation of one place: a vehicle holding position (waiting for its
        # next waypoint, or loitering) reads the same stretch of plume, not new evidence, so its
        # window stays open until it has moved a cell or ``hover_s`` has passed (the plume
        # meanders past a still sensor on a timescale of minutes)
        xy = self._xy()
        moved = np.inf if xy is None or self.window_xy is None else float(np.hypot(*(xy - self.window_xy)))
        if moved < self.min_move_m and span < self.hover_s:
            return False
        return self._close_window()

    def _xy(self):
        return np.array(self.pos[-1][1:3]) if self.pos else None

    # -- the update -----------------------------------------------------------------------------
    def _wind_now(self):
        if not self.wind:
            return None
        w = np.array(self.wind)[-20:]
        rad = np.deg2rad(w[:, 2])
        ve, vn = (w[:, 1] * np.sin(rad)).mean(), (w[:, 1] * np.cos(rad)).mean()
        from_deg = float(unit_to_bearing(ve, vn)) % 360.0
        # the direction's spread over the last minutes (circular std), as the plume's meander
        ww = np.array(self.wind)
        c, s = np.cos(np.deg2rad(ww[:, 2])).mean(), np.sin(np.deg2rad(ww[:, 2])).mean()
        r = min(1.0, math.hypot(c, s))
        spread = math.degrees(math.sqrt(max(-2.0 * math.log(max(r, 1e-9)), 0.0)))
        return from_deg, float(w[:, 1].mean()), float(np.clip(spread, 5.0, 25.0))

    def _close_window(self) -> bool:
        win, self.window, self.window_start = self.window, [], None
        if self.belief is None or not self.pos:
            return False
        t0 = time.perf_counter()
        bg = float(np.quantile(np.fromiter(self.recent, float), 0.2))
        hit = max(v for _, v in win) - bg > self.model.threshold_ppm
        p = np.array(self.pos)
        ts = np.array([t for t, _ in win])
        xs, ys = (np.interp(ts, p[:, 0], p[:, k]) for k in (1, 2))
        self.model.altitude_m = max(float(np.interp(ts.mean(), p[:, 0], p[:, 3])), 0.5)
        wind = self._wind_now()
        if wind is None:
            return False
        # one observation of the stretch flown: a hit anywhere across its crosswind extent, and
        # along the wind the likeliest of its pieces
        self.belief.update_stretch(np.column_stack([xs, ys]), hit, wind)
        self.hits += int(hit)
        self.windows += 1
        self.update_times.append(time.perf_counter() - t0)
        return True

    # -- outputs --------------------------------------------------------------------------------
    def state(self) -> dict:
        p = self.pos[-1] if self.pos else None
        return {
            "xy": np.array([p[1], p[2]]) if p else np.zeros(2),
            "hits": self.hits,
            "last_hit": False,
            "wind": self._wind_now() or (self.model.wind_from_deg, 1.0, self.model.meander_deg),
        }

    def estimate(self) -> dict:
        if self.belief is None or self.hits == 0:
            return {"samples": self.samples, "windows": self.windows, "hits": self.hits, "located": False}
        c = self.belief.median_xy()  # the spatial median: a far tail does not drag it as it does the mean
        r90 = self.belief.radius(c, 0.9)
        lat, lon = self.frame.to_wgs84(c[0], c[1])
        return {
            "samples": self.samples,
            "windows": self.windows,
            "hits": self.hits,
            "located": True,
            "x_m": float(c[0]),
            "y_m": float(c[1]),
            "lat": float(lat),
            "lon": float(lon),
            "radius90_m": float(r90),
        }


@dataclass
class Guide:
    """The guiding policy's side of live mode: when to plan the next waypoint and when to send it.

    A waypoint is sent once the vehicle has reached the last (within ``reached_m``). Planning it
    takes time (the policy's computation, the link), during which the vehicle would wait at the
    waypoint; so the guide measures that time (``took``, in the vehicle's clock) and plans the
    next waypoint that long before the vehicle arrives, from the waypoint it is flying to (the
    posterior as it stands then: the last few seconds of the leg are not in that plan), and holds
    it (``held``) until the vehicle arrives (``due``); a plan made before a hit is dropped and made
    again (``stale``). With planning taking no time this is planning on arrival."""

    policy: object
    reached_m: float = 3.0
    radius_m: float = 10.0
    smoothing: float = 0.5  # weight of the newest planning time in the running estimate
    state: dict = field(default_factory=dict)
    target: np.ndarray | None = None  # the waypoint last sent
    plan_lag_s: float = 0.0  # how long a plan takes, vehicle clock (running estimate)
    replan_on_hit: bool = True
    planned_hits: int = 0  # the hits the last plan knew of
    held: np.ndarray | None = None  # the next waypoint, planned, waiting for the vehicle to arrive

    def speed(self, est: LiveEstimator, over_s: float = 5.0) -> float:
        """The vehicle's ground speed over the last ``over_s`` of positions."""
        if len(est.pos) < 2:
            return 0.0
        p = np.array(est.pos)
        p = p[p[:, 0] >= p[-1, 0] - over_s]
        dt = p[-1, 0] - p[0, 0]
        return float(np.hypot(*np.diff(p[:, 1:3], axis=0).T).sum() / dt) if dt > 0 else 0.0

    def arrived(self, est: LiveEstimator) -> bool:
        here = est._xy()
        return self.target is None or (here is not None and np.hypot(*(here - self.target)) < self.reached_m)

    def wants_plan(self, est: LiveEstimator) -> bool:
        """Time to plan the next waypoint: none is held, and the vehicle has arrived, or will within
        the time a plan takes (distance left under speed x planning time)."""
        if self.held is not None or est.belief is None or not est.pos:
            return False
        if self.arrived(est):
            return True
        left = float(np.hypot(*(est._xy() - self.target)))
        return left - self.reached_m <= self.speed(est) * self.plan_lag_s

    def plan(self, est: LiveEstimator) -> np.ndarray:
        """The next waypoint, planned from the waypoint the vehicle is flying to (from where it is,
        once it has arrived); legs narrow with the posterior down to ``radius_m``."""
        self.planned_hits = est.hits
        st = self.state  # the policy's own memory (its sweep progress) persists between plans
        st.update(est.state())
        if not self.arrived(est):
            st["xy"] = np.asarray(self.target, float)
        if st["hits"] > 0:
            self.policy.narrow(est.belief.radius(est.belief.median_xy()), self.radius_m)
        return np.asarray(self.policy.propose(est.belief, st), float)

    def due(self, est: LiveEstimator) -> np.ndarray | None:
        """The held waypoint, to send now that the vehicle has reached the last (it is then the
        target); None while it has not, or when nothing is held (a stale plan is dropped here)."""
        if self.held is not None and self.stale(est):
            self.held = None  # the plume was hit since: planned again with it
        if self.held is None or not self.arrived(est):
            return None
        w, self.held = self.held, None
        self.sent(w)
        return w

    def stale(self, est: LiveEstimator) -> bool:
        """A plan made ahead is dropped when the plume was hit after it was made: the one reading
        that changes the posterior most."""
        return self.replan_on_hit and est.hits > self.planned_hits

    def took(self, lag_s: float) -> None:
        """Record how long (vehicle clock) the last plan took to reach the vehicle."""
        self.plan_lag_s += self.smoothing * (max(float(lag_s), 0.0) - self.plan_lag_s)

    def sent(self, waypoint) -> None:
        self.target = np.asarray(waypoint, float)


class _ClockRate:
    """Vehicle seconds per wall-clock second (1 for a real vehicle; a simulator may run faster),
    from the vehicle's timestamps over the last ``span_s`` or more of wall time."""

    def __init__(self, span_s: float = 10.0):
        self.span_s = span_s
        self.pairs: deque[tuple[float, float]] = deque(maxlen=4096)

    def add(self, wall: float, t: float) -> None:
        self.pairs.append((wall, t))
        while len(self.pairs) > 2 and self.pairs[-1][0] - self.pairs[1][0] >= self.span_s:
            self.pairs.popleft()

    def rate(self) -> float:
        if len(self.pairs) < 2 or self.pairs[-1][0] - self.pairs[0][0] < 1.0:
            return 1.0
        (w0, t0), (w1, t1) = self.pairs[0], self.pairs[-1]
        return float(np.clip((t1 - t0) / (w1 - w0), 0.01, 1000.0))


def _send_target(conn, target_sys, target_comp, lat, lon, alt):
    from pymavlink import mavutil

    mask = 0b0000111111111000  # position only: ignore velocity, acceleration, yaw, yaw rate
    conn.mav.set_position_target_global_int_send(
        0,
        target_sys,
        target_comp,
        mavutil.mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
        mask,
        int(round(lat * 1e7)),
        int(round(lon * 1e7)),
        float(alt),
        0, 0, 0, 0, 0, 0, 0, 0,
    )  # fmt: skip


def run_live(
    url: str,
    guide: str | None = None,
    species: str = "ch4",
    radius_m: float = 500.0,
    altitude_m: float | None = None,
    duration_s: float | None = None,
    silent_timeout_s: float = 5.0,
    on_update=None,
    stop=None,
    train_progress=None,
) -> LiveEstimator:
    """Listen on ``url`` (pymavlink connection string, e.g. ``udp:127.0.0.1:14550``) until
    ``duration_s`` of vehicle time has passed or ``stop()`` returns True. ``on_update(est,
    status)`` is called after every posterior update and status change (the terminal view).
    A guiding policy that must be trained first (``perseus``, on its first use on a machine)
    trains before the connection opens; ``train_progress`` gets each iteration's record."""
    from pymavlink import mavutil

    policy = FIELD_POLICIES[guide]() if guide else None
    if policy is not None:
        policy.prepare(train_progress)  # before listening: a trained policy may train first
    guide = Guide(policy) if policy is not None else None
    clock = _ClockRate()
    conn = mavutil.mavlink_connection(url, source_system=255, source_component=190, dialect="ardupilotmega")
    est = LiveEstimator(LiveModel(half_size_m=radius_m, species=species))
    column = f"{species}_ppm"
    target_sys, target_comp = 1, 1
    last_heard = time.monotonic()
    status = "waiting for the vehicle"
    clock_offset = 0.0
    last_t = None
    t_first = None

    def vehicle_time(boot_ms):
        nonlocal clock_offset, last_t
        t = boot_ms * 1e-3 + clock_offset
        if last_t is not None and t < last_t - 1.0:  # the vehicle rebooted: keep time running
            clock_offset += last_t - t
            t = last_t
        last_t = max(t, last_t or t)
        return t

    try:
        while True:
            if stop is not None and stop():
                break
            msg = conn.recv_match(blocking=True, timeout=0.2)
            now = time.monotonic()
            if msg is None:
                if now - last_heard > silent_timeout_s and status != "vehicle silent":
                    status = "vehicle silent"
                    if on_update:
                        on_update(est, status)
                continue
            last_heard = now
            if status != "tracking":
                status = "tracking"
                if on_update:
                    on_update(est, status)
            kind = msg.get_type()
            if kind == "HEARTBEAT" and msg.get_srcComponent() != 190:
                target_sys, target_comp = msg.get_srcSystem(), msg.get_srcComponent()
            elif kind == "GLOBAL_POSITION_INT":
                t = vehicle_time(msg.time_boot_ms)
                t_first = t if t_first is None else t_first
                clock.add(now, t)
                est.add_position(t, msg.lat * 1e-7, msg.lon * 1e-7, msg.relative_alt * 1e-3)
            elif kind == "WIND" and last_t is not None:
                est.add_wind(last_t, msg.speed, msg.direction)
            elif kind == "NAMED_VALUE_FLOAT":
                name = msg.name if isinstance(msg.name, str) else msg.name.decode("ascii", "ignore")
                name = name.strip("\x00").strip().lower()
                sp = species_of_column(name)
                if name == column or (sp and sp[0] == species and sp[1] == "ppb"):
                    v = float(msg.value) * (1e-3 if name.endswith("_ppb") else 1.0)
                    if est.add_gas(vehicle_time(msg.time_boot_ms), v) and on_update:
                        on_update(est, status)
            if guide is not None and est.pos:
                if (w := guide.due(est)) is not None:
                    lat, lon = est.frame.to_wgs84(w[0], w[1])
                    alt = altitude_m if altitude_m is not None else est.pos[-1][3]
                    _send_target(conn, target_sys, target_comp, float(lat), float(lon), alt)
                if guide.wants_plan(est):
                    w0 = time.monotonic()
                    guide.held = guide.plan(est)
                    guide.took((time.monotonic() - w0) * clock.rate())
            if duration_s is not None and last_t is not None and t_first is not None and last_t - t_first >= duration_s:
                break
    finally:
        conn.close()
    return est

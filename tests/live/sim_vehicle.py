"""A vehicle simulated with pymavlink on loopback: it flies toward the last position target it was
sent (SET_POSITION_TARGET_GLOBAL_INT), through a plume from plumescout's puff simulator, and
streams GLOBAL_POSITION_INT, WIND and NAMED_VALUE_FLOAT('ch4_ppm') at 10 Hz of its own clock,
which runs ``warp`` times faster than the wall clock. It can go silent and come back."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from pymavlink import mavutil

from plumescout.geo import LocalFrame, bearing_to_unit
from plumescout.simulate.flight import puff_concentration, puff_masses
from plumescout.simulate.wind import simulate_wind
from plumescout.units import g_m3_to_ppm


class PlumeVehicle(threading.Thread):
    def __init__(self, url, origin=(51.0, -1.0), start_xy=(120.0, 10.0), source_xy=(0.0, 0.0), rate_g_s=1.0,
                 wind_from_deg=270.0, wind_speed_m_s=3.0, speed_m_s=6.0, altitude_m=4.0, warp=40.0,
                 max_time_s=900.0, seed=3):  # fmt: skip
        super().__init__(daemon=True)
        self.conn = mavutil.mavlink_connection(url, source_system=1, source_component=1, dialect="ardupilotmega")
        self.frame = LocalFrame(*origin)
        self.xy = np.array(start_xy, float)
        self.source = (*source_xy, 1.0)
        self.rate, self.speed, self.alt, self.warp = rate_g_s, speed_m_s, altitude_m, warp
        self.rng = np.random.default_rng(seed)
        self.wind = simulate_wind(-900.0, max_time_s + 10, wind_speed_m_s, wind_from_deg, 10.0, 120.0, 0.15, 20.0, 0.5,
                                  self.rng)  # fmt: skip
        # one mass per puff, whenever it is read
        self.masses = puff_masses(self.wind, rng=np.random.default_rng([seed, 1]))
        self.max_time_s = max_time_s
        self.t = 0.0
        self.target = None
        self.targets_received = 0
        self.closest_m = float(np.hypot(*(self.xy - source_xy)))
        self.paused = threading.Event()
        self.stop = threading.Event()

    def run(self):
        mav = self.conn.mav
        dt = 0.1
        k = 0
        while not self.stop.is_set() and self.t < self.max_time_s:
            if self.paused.is_set():
                time.sleep(0.01)
                continue
            # commands
            while True:
                m = self.conn.recv_match(blocking=False)
                if m is None:
                    break
                if m.get_type() == "SET_POSITION_TARGET_GLOBAL_INT":
                    x, y = self.frame.to_local(m.lat_int * 1e-7, m.lon_int * 1e-7)
                    self.target = np.array([float(x), float(y)])
                    self.targets_received += 1
            if self.target is not None:
                d = self.target - self.xy
                n = float(np.hypot(*d))
                self.xy = self.target.copy() if n <= self.speed * dt else self.xy + d / n * self.speed * dt
            self.closest_m = min(
                self.closest_m, float(np.hypot(self.xy[0] - self.source[0], self.xy[1] - self.source[1]))
            )
            lat, lon = self.frame.to_wgs84(self.xy[0], self.xy[1])
            ms = int(self.t * 1000)
            if k % 10 == 0:
                mav.heartbeat_send(mavutil.mavlink.MAV_TYPE_QUADROTOR, mavutil.mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                   0, 0, mavutil.mavlink.MAV_STATE_ACTIVE)  # fmt: skip
            mav.global_position_int_send(ms, int(round(float(lat) * 1e7)), int(round(float(lon) * 1e7)),
                                         int((self.alt + 50) * 1000), int(self.alt * 1000), 0, 0, 0, 0)  # fmt: skip
            if k % 5 == 0:
                ws, wd = self.wind.at(np.array([self.t]))
                mav.wind_send(float(wd[0]), float(ws[0]), 0.0)
            c = puff_concentration(np.array([self.t]), np.array([[*self.xy, self.alt]]), self.source, self.rate,
                                   self.wind, "D", max_age_s=900.0, masses=self.masses)  # fmt: skip
            ppm = 1.95 + float(g_m3_to_ppm(c[0], "ch4")) + float(self.rng.normal(0, 0.01))
            mav.named_value_float_send(ms, b"ch4_ppm", ppm)
            self.t += dt
            k += 1
            time.sleep(dt / self.warp)

    def close(self):
        self.stop.set()
        self.join(timeout=2)
        self.conn.close()


def small_perseus():
    """perseus trained as the tests train it (``SMALL``; the default takes minutes on first use),
    trained now, before a vehicle starts its clock: the factory to put in ``FIELD_POLICIES``."""
    from plumescout.search import field as search_field

    from ..search.test_field import SMALL

    search_field.FieldPerseus(plan=SMALL).prepare()
    return lambda: search_field.FieldPerseus(plan=SMALL)


def wind_axis(from_deg):
    return np.array(bearing_to_unit(from_deg + 180.0))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class GuidedRun:
    est: object
    vehicle: PlumeVehicle
    ended: bool
    wall_s: float
    statuses: list = field(default_factory=list)

    def source_xy(self) -> tuple[float, float]:
        """The true source in the estimator's frame (local metres about its first fix)."""
        x, y = self.est.frame.to_local(*self.vehicle.frame.to_wgs84(*self.vehicle.source[:2]))
        return float(x), float(y)

    def error_m(self) -> float:
        """The located source's distance from the true one."""
        e = self.est.estimate()
        x, y = self.source_xy()
        return float(np.hypot(e["x_m"] - x, e["y_m"] - y))


def guided_run(guide: str, warp: float = 40.0, timeout_s: float = 60.0) -> GuidedRun:
    """`run_live` guiding a vehicle on loopback toward a source 120 m upwind, the vehicle silent
    for 2 s on the way; ends when 90 % of the posterior lies within 10 m and the vehicle has come
    within 20 m of the source, or after ``timeout_s`` of wall time."""
    from plumescout.live import run_live

    port = free_port()
    vehicle = PlumeVehicle(f"udpout:127.0.0.1:{port}", warp=warp)
    statuses = []
    done = threading.Event()

    def on_update(est, status):
        if not statuses or statuses[-1] != status:
            statuses.append(status)
        e = est.estimate()
        if e["located"] and e["radius90_m"] <= 10.0 and vehicle.closest_m <= 20.0:
            done.set()

    def pause_once():
        time.sleep(3.0)
        vehicle.paused.set()
        time.sleep(2.0)
        vehicle.paused.clear()

    vehicle.start()
    threading.Thread(target=pause_once, daemon=True).start()
    t0 = time.monotonic()

    def stop():
        return done.is_set() or time.monotonic() - t0 > timeout_s

    try:
        est = run_live(f"udpin:127.0.0.1:{port}", guide=guide, radius_m=250.0, silent_timeout_s=1.0,
                       on_update=on_update, stop=stop)  # fmt: skip
    finally:
        vehicle.close()
    return GuidedRun(est, vehicle, done.is_set(), time.monotonic() - t0, statuses)

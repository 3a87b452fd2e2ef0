"""A vehicle simulated with pymavlink on loopback: it sends heartbeats as an autopilot and
accepts a mission upload (MISSION_COUNT -> MISSION_REQUEST_INT per item -> MISSION_ITEM_INT ->
MISSION_ACK), keeping the items it received."""

from __future__ import annotations

import threading
import time

from pymavlink import mavutil


class SimulatedVehicle(threading.Thread):
    def __init__(self, url: str, autopilot: int = mavutil.mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA):
        super().__init__(daemon=True)
        self.conn = mavutil.mavlink_connection(url, source_system=1, source_component=1)
        self.autopilot = autopilot
        self.items: dict[int, object] = {}
        self.expected = None
        self.done = threading.Event()
        self.stop = threading.Event()

    def run(self):
        mav = self.conn.mav
        last_hb = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now - last_hb > 0.2:
                mav.heartbeat_send(
                    mavutil.mavlink.MAV_TYPE_QUADROTOR, self.autopilot, 0, 0, mavutil.mavlink.MAV_STATE_STANDBY
                )
                last_hb = now
            msg = self.conn.recv_match(blocking=True, timeout=0.05)
            if msg is None:
                continue
            kind = msg.get_type()
            if kind == "MISSION_COUNT" and msg.mission_type == 0:
                self.items, self.expected = {}, msg.count
                self.peer = (msg.get_srcSystem(), msg.get_srcComponent())
                mav.mission_request_int_send(*self.peer, 0, 0)
            elif kind == "MISSION_ITEM_INT" and self.expected is not None:
                self.items[msg.seq] = msg
                if len(self.items) < self.expected:
                    mav.mission_request_int_send(*self.peer, len(self.items), 0)
                else:
                    mav.mission_ack_send(*self.peer, mavutil.mavlink.MAV_MISSION_ACCEPTED, 0)
                    self.done.set()

    def close(self):
        self.stop.set()
        self.join(timeout=2)
        self.conn.close()

"""Live mode end to end on loopback: a pymavlink vehicle flies the waypoints plumescout sends it
through a simulated plume; the online posterior finds the source and the vehicle approaches it.
The vehicle goes silent for a while and comes back; the loop carries on."""

from __future__ import annotations

import numpy as np
import pytest

from plumescout.live import Guide, LiveEstimator, LiveModel, _ClockRate

from .sim_vehicle import PlumeVehicle, free_port, guided_run, small_perseus


@pytest.mark.slow
@pytest.mark.parametrize("guide", ["sweep-space-aware", "lookahead", "perseus"])
def test_live_loop_finds_and_approaches_a_simulated_source(guide, monkeypatch):
    if guide == "perseus":  # a small training (the default one takes minutes on first use)
        from plumescout.search import field

        monkeypatch.setitem(field.FIELD_POLICIES, "perseus", small_perseus())
    run = guided_run(guide)
    e = run.est.estimate()
    assert run.vehicle.targets_received > 3, "the vehicle was not guided"
    assert e["located"], e
    assert run.error_m() <= 15.0, (e, run.error_m())
    assert run.vehicle.closest_m <= 20.0
    # it noticed the silence and went back to tracking
    assert "vehicle silent" in run.statuses and run.statuses[-1] == "tracking", run.statuses


def test_update_cost_does_not_grow_and_memory_is_bounded():
    est = LiveEstimator(LiveModel(half_size_m=200.0), window_s=1.0)
    est.add_position(0.0, 51.0, -1.0, 4.0)
    est.add_wind(0.0, 3.0, 270.0)
    rng = np.random.default_rng(0)
    for k in range(1, 6001):  # 10 min at 10 Hz, flying north at 5.6 m/s (back south every 100 s)
        t = k * 0.1
        est.add_position(t, 51.0 + 5e-6 * (k % 1000), -1.0, 4.0)
        if k % 5 == 0:
            est.add_wind(t, 3.0, 270.0 + rng.normal(0, 8))
        est.add_gas(t, 1.95 + rng.normal(0, 0.01))
    # the buffers are ring buffers: their length is capped whatever the flight's length
    assert len(est.pos) <= est.pos.maxlen and len(est.recent) <= est.recent.maxlen
    assert len(est.wind) <= est.wind.maxlen
    # one window per second of readings (10 or 11 readings each): about 550 updates, no false hits
    assert 6000 // 12 <= est.windows <= 6000 // 10 and est.hits <= 5


def test_a_vehicle_holding_position_adds_one_observation_per_hover_time_not_per_window():
    """Readings taken from one spot are one look at the plume there: 60 s of hovering closes a
    window every ``hover_s`` (30 s), the same 60 s flown at 6 m/s one every ``window_s`` (3 s)."""

    def windows(speed_m_s):
        est = LiveEstimator(LiveModel(half_size_m=200.0), window_s=3.0, hover_s=30.0, min_move_m=5.0)
        est.add_position(0.0, 51.0, -1.0, 4.0)
        est.add_wind(0.0, 3.0, 270.0)
        for k in range(1, 601):
            t = k * 0.1
            est.add_position(t, *est.frame.to_wgs84(0.0, speed_m_s * t), 4.0)
            est.add_gas(t, 1.95)
        return est.windows

    # a window closes on the first reading at least 3 s (30 s) after it opened: 60 s hold
    # 60 / 3.1 -> 19 flown windows and 60 / 30.1 -> 1 hovering one (the second is still open)
    assert windows(6.0) == 19
    assert windows(0.0) == 1


class _Recorder:
    """A policy that records where it was asked to plan from and proposes 10 m north of it."""

    def __init__(self):
        self.starts = []

    def narrow(self, r90_m, floor_m):
        pass

    def propose(self, belief, state):
        self.starts.append(np.array(state["xy"]))
        return state["xy"] + np.array([0.0, 10.0])


def _flying_north(est, t, y):
    est.add_position(t, *est.frame.to_wgs84(0.0, y), 4.0)


def test_the_guide_plans_on_arrival_when_planning_takes_no_time():
    est = LiveEstimator(LiveModel(half_size_m=200.0))
    est.add_position(0.0, 51.0, -1.0, 4.0)
    est.add_wind(0.0, 3.0, 270.0)
    g = Guide(_Recorder(), reached_m=3.0)
    assert g.wants_plan(est)  # nothing sent yet
    g.sent(np.array([0.0, 60.0]))
    wanted = []
    for k in range(1, 101):  # 6 m/s north, 0.1 s steps
        _flying_north(est, 0.1 * k, 0.6 * k)
        wanted.append(g.wants_plan(est))
    # first wanted once within 3 m of the waypoint: 0.6 k > 57 -> k = 96
    assert wanted.index(True) + 1 == 96
    np.testing.assert_allclose(g.plan(est), [0.0, 0.6 * 100 + 10.0], atol=1e-6)  # from where it is


def test_the_guide_plans_ahead_by_the_time_a_plan_takes_and_from_the_waypoint():
    est = LiveEstimator(LiveModel(half_size_m=200.0))
    est.add_position(0.0, 51.0, -1.0, 4.0)
    est.add_wind(0.0, 3.0, 270.0)
    rec = _Recorder()
    g = Guide(rec, reached_m=3.0, smoothing=0.5)
    g.took(5.0)
    g.took(5.0)
    assert g.plan_lag_s == 3.75  # running estimate: 0 -> 2.5 -> 3.75 s
    g.sent(np.array([0.0, 60.0]))
    wanted = []
    for k in range(1, 101):
        _flying_north(est, 0.1 * k, 0.6 * k)
        wanted.append(g.wants_plan(est))
    # 3.75 s at 6 m/s = 22.5 m before the 3 m of arrival: first at 60 - 0.6 k <= 25.5 -> k = 58
    assert wanted.index(True) + 1 == 58
    est.pos.clear()
    _flying_north(est, 7.0, 42.0)  # 18 m short of the waypoint: planned from the waypoint itself
    np.testing.assert_allclose(g.plan(est), [0.0, 70.0], atol=1e-6)
    np.testing.assert_allclose(rec.starts[-1], [0.0, 60.0], atol=1e-9)


def test_a_plan_made_ahead_is_stale_once_the_plume_is_hit_after_it():
    est = LiveEstimator(LiveModel(half_size_m=200.0, threshold_ppm=0.05), window_s=3.0, min_move_m=5.0)
    est.add_position(0.0, 51.0, -1.0, 4.0)
    est.add_wind(0.0, 3.0, 270.0)
    g = Guide(_Recorder())
    g.sent(np.array([0.0, 200.0]))

    def fly(t0, t1, ppm):
        for k in range(int(round(t0 * 10)), int(round(t1 * 10))):
            _flying_north(est, 0.1 * k, 0.6 * k)
            est.add_gas(0.1 * k, ppm)

    fly(0.1, 10.0, 1.95)  # background only: windows close, no hit
    g.plan(est)
    fly(10.0, 10.5, 1.95)
    assert est.hits == 0 and not g.stale(est)
    fly(10.5, 14.0, 2.5)  # 0.55 ppm over the background: the next window is a hit
    assert est.hits == 1 and g.stale(est)
    g.plan(est)  # planned again, with it
    assert not g.stale(est)
    assert not Guide(_Recorder(), replan_on_hit=False, planned_hits=0).stale(est)


def test_clock_rate_reads_a_vehicle_clock_running_faster_than_the_wall():
    c = _ClockRate(span_s=10.0)
    assert c.rate() == 1.0  # nothing heard yet: a real vehicle's clock
    for k in range(300):  # 30 s of wall time, the vehicle's clock at 40x
        c.add(100.0 + 0.1 * k, 5.0 + 4.0 * k)
    assert abs(c.rate() - 40.0) < 1e-9
    assert c.pairs[-1][0] - c.pairs[0][0] < 10.2  # only the last span is kept


def test_cli_live_listens_for_a_set_vehicle_time_and_writes_the_estimate(tmp_path):
    import json

    from typer.testing import CliRunner

    from plumescout.cli import app

    port = free_port()
    # parked 60 m downwind of the source: it sees the plume without being guided
    vehicle = PlumeVehicle(f"udpout:127.0.0.1:{port}", start_xy=(60.0, 0.0), warp=60.0)
    vehicle.start()
    try:
        r = CliRunner().invoke(
            app, ["live", "--mavlink", f"udpin:127.0.0.1:{port}", "--radius", "150", "--duration", "120",
                  "--json", str(tmp_path / "est.json")],
        )  # fmt: skip
    finally:
        vehicle.close()
    assert r.exit_code == 0, r.output
    e = json.loads((tmp_path / "est.json").read_text())
    assert e["samples"] >= 1000 and e["hits"] > 0 and e["located"]
    assert vehicle.targets_received == 0  # no --guide: it only listens
    bad = CliRunner().invoke(app, ["live", "--mavlink", "udpin:127.0.0.1:1", "--guide", "nope"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output

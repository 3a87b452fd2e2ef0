"""Adaptive search in the simulator: the hit model, the Bayes update, the sweep, and one closed-loop
episode end to end."""

import numpy as np
import pytest

from plumescout.search.field import (
    FIELD_POLICIES,
    FieldBelief,
    FieldEpisode,
    FieldLookahead,
    FieldPerseus,
    FieldSpaceAware,
    FieldSweepSpaceAware,
    WindGrid,
    hit_probability,
    pieces,
    run_adaptive,
    stretch,
)
from plumescout.search.perseus import TrainingPlan
from plumescout.search.pomdp import Belief

# a small training of the field's grid POMDP (the default takes minutes): enough to home in
SMALL = TrainingPlan(first_episodes=40, first_iterations=40, own_episodes=40, own_beliefs=400, own_iterations=30)


def episode(**kw):
    base = dict(
        half_size_m=200.0,
        source_xy=(-40.0, 30.0),
        rate_g_s=1.0,
        wind_speed_m_s=3.0,
        wind_from_deg=270.0,
        meander_deg=10.0,
        seed=4,
    )
    base.update(kw)
    return FieldEpisode(**base)


def test_hit_probability_is_monotone_in_rate_and_zero_upwind():
    b = FieldBelief(episode())
    ph = b.p_hit(np.array([0.0, 0.0]), 270.0, 3.0, 10.0)
    assert ph.shape == (b.x.size, b.rates.size)
    # more emission -> more hits, for every cell (the mean concentration is linear in the rate)
    assert np.all(np.diff(ph, axis=1) >= -1e-15)
    # cells downwind of the sample (x > 0 with wind from the west) cannot be the source of a hit
    downwind = b.x > 5.0
    np.testing.assert_allclose(ph[downwind], b.p_fa)
    assert ph.max() <= b.p_max


def test_hit_law_edge_is_where_the_instantaneous_plume_meets_the_threshold():
    """Without meander or puff-to-puff spread the fluctuating plume is one steady Gaussian plume as
    wide as the relative dispersion: a point is hit (p_max) where that plume's concentration
    exceeds the threshold, and only there (p_fa): the edge is Turner's eq. 3.1 solved for y."""
    from plumescout.dispersion import gaussian_plume, sigma_yz
    from plumescout.units import g_m3_to_ppm

    ep = episode()
    x, rate, u, s0, rel = 60.0, 1.0, 3.0, 0.75, 0.6
    y = np.linspace(0.0, 15.0, 3001)
    p = hit_probability(ep, np.full_like(y, x), y, [rate], u, 1e-6, 0.002, 0.95, s0, 0.0, rel, 0.0)[:, 0]
    sy, sz = sigma_yz(x, ep.stability)
    si, sz = np.hypot(rel * sy, s0), np.hypot(sz, s0)
    c = g_m3_to_ppm(gaussian_plume(x, y, ep.altitude_m, ep.source_height_m, rate, u, si, sz), ep.species)
    inside = c > ep.threshold_ppm
    assert 0 < inside.sum() < y.size  # the edge lies in the range looked at
    np.testing.assert_allclose(p[inside], 0.95, atol=1e-9)
    np.testing.assert_allclose(p[~inside][1:], 0.002, atol=1e-9)  # the first point outside: on the edge
    # a stretch of flight reaching h either side is hit if any of it is: the edge moves out by h
    h = 4.0
    ph = hit_probability(ep, np.full_like(y, x), y, [rate], u, 1e-6, 0.002, 0.95, s0, h, rel, 0.0)[:, 0]
    edge, edge_h = y[inside][-1], y[ph > 0.5][-1]
    assert abs(edge_h - (edge + h)) <= 2 * (y[1] - y[0])


def test_hit_law_is_symmetric_across_the_wind_and_grows_with_the_stretch_and_the_rate():
    ep = episode()
    x = np.repeat([20.0, 80.0, 150.0], 41)
    y = np.tile(np.linspace(-40.0, 40.0, 41), 3)
    rates = [0.1, 0.5, 2.0]
    p = hit_probability(ep, x, y, rates, 3.0, 10.0, 0.002, 0.95)
    np.testing.assert_allclose(p, hit_probability(ep, x, -y, rates, 3.0, 10.0, 0.002, 0.95), rtol=1e-12)
    assert np.all(np.diff(p, axis=1) >= -1e-12)  # more emission, more hits
    wide = hit_probability(ep, x, y, rates, 3.0, 10.0, 0.002, 0.95, half_span_m=9.0)
    assert np.all(wide >= p - 1e-12) and np.any(wide > p + 0.05)
    # off the axis it falls away: largest on the axis at each distance
    grid = p[:, 1].reshape(3, 41)
    assert np.all(grid[:, 20] >= grid.max(axis=1) - 1e-12)


def test_a_stretch_is_its_crosswind_extent_about_its_middle():
    # wind from the west (blowing to +x): across the wind is y
    mid, half = stretch([[0.0, -5.0], [10.0, 7.0]], 270.0)
    np.testing.assert_allclose(mid, [5.0, 1.0], atol=1e-12)
    assert half == pytest.approx(6.0)
    # flown along the wind it has no crosswind extent
    mid, half = stretch([[0.0, 2.0], [30.0, 2.0]], 270.0)
    np.testing.assert_allclose(mid, [15.0, 2.0], atol=1e-12)
    assert half == pytest.approx(0.0, abs=1e-12)


def test_a_stretch_flown_up_the_wind_is_seen_by_its_likeliest_piece():
    # wind from the west (blowing to +x). A sensor 3 m above the source sees nothing of the
    # plume's first ~10 m (1 g/s, 3 m/s), then nearly every puff. A stretch flown along the axis
    # from 13 m to 1 m downwind of a cell reaches the plume at its far end: its chance of a hit is
    # the likeliest of its three 4 m pieces' (here the one 9-13 m out), not that of its mean
    # position (7 m, where nothing arrives), and it does not depend on the direction flown
    b = FieldBelief(episode())
    wind = (270.0, 3.0, 10.0)
    src = np.argmin(np.hypot(b.x - (-40.0), b.y - 30.0))  # a cell at (-40, 30) +- 2.5 m
    x0, y0 = b.x[src], b.y[src]
    flown = np.column_stack([x0 + np.linspace(13.0, 1.0, 25), np.full(25, y0)])
    parts = pieces(flown, 270.0)
    assert len(parts) == 3
    np.testing.assert_allclose(sorted(m[0] - x0 for m, _ in parts), [2.75, 6.75, 11.0], atol=1e-9)
    p = b.p_stretch(flown, wind)[src]
    each = np.array([b.p_hit(m, *wind, half_span_m=h)[src] for m, h in parts])
    np.testing.assert_allclose(p, each.max(axis=0), rtol=1e-12)
    at_mean = b.p_hit(np.array([x0 + 7.0, y0]), *wind)[src]
    np.testing.assert_allclose(at_mean, b.p_fa)  # nothing reaches the sensor 7 m out
    assert np.all(p[2:] > 10 * b.p_fa)  # the far piece reaches it, from 0.6 g/s
    np.testing.assert_allclose(b.p_stretch(flown[::-1], wind), b.p_stretch(flown, wind), rtol=1e-12)
    # a crosswind stretch is one piece: the stretch over its crosswind extent, as before
    across = np.column_stack([np.full(7, x0 + 20.0), y0 + np.linspace(-9.0, 9.0, 7)])
    ((mid, half),) = pieces(across, 270.0)
    m0, h0 = stretch(across, 270.0)
    np.testing.assert_allclose(mid, m0, atol=1e-12)
    assert half == pytest.approx(h0)
    np.testing.assert_allclose(b.p_stretch(across, wind), b.p_hit(m0, *wind, half_span_m=h0), rtol=1e-12)
    # and the update is Bayes' rule with that chance
    c = FieldBelief(episode(), temper=1.0)
    p0 = c.p.copy()
    c.update_stretch(flown, True, wind)
    ph = c.p_stretch(flown, wind)
    np.testing.assert_allclose(c.p, p0 * ph / np.sum(p0 * ph), rtol=1e-9, atol=1e-15)


def test_update_is_bayes_rule():
    b = FieldBelief(episode(), temper=1.0)
    p0 = b.p.copy()
    xy = np.array([20.0, 30.0])
    ph = b.p_hit(xy, 270.0, 3.0, 10.0)
    b.update(xy, True, 270.0, 3.0, 10.0)
    expect = p0 * ph / np.sum(p0 * ph)
    np.testing.assert_allclose(b.p, expect, rtol=1e-9, atol=1e-15)
    # after a hit, the posterior moves upwind of the sample, onto its line
    m = b.mean_xy()
    assert m[0] < xy[0] and abs(m[1] - xy[1]) < 40.0


def _set_cells(b, cell_weights):
    """Put the posterior on a few cells: {(x, y): weight}, nothing elsewhere."""
    b.logp[:] = -np.inf
    for (x, y), w in cell_weights.items():
        k = int(np.argmin(np.hypot(b.x - x, b.y - y)))
        b.logp[k, :] = np.log(w / b.rates.size)


def _expected_distance(b, c, sub=20):
    """The posterior's expected distance to ``c``, each cell's mass spread evenly over it."""
    w = b.cell_p()
    k = w > 0
    f = ((np.arange(sub) + 0.5) / sub - 0.5) * b.cell_m
    ox, oy = (v.ravel() for v in np.meshgrid(f, f))
    d = np.hypot(b.x[k][:, None] + ox - c[0], b.y[k][:, None] + oy - c[1])
    return float(w[k] @ d.mean(axis=1))


def test_reported_location_is_the_median_not_dragged_by_a_far_tail():
    b = FieldBelief(episode(), cell_m=5.0)
    # symmetric about a point: the spatial median is that point, as the mean is
    _set_cells(b, {(-2.5, 2.5): 1.0, (7.5, 2.5): 1.0, (2.5, 12.5): 1.0, (2.5, -7.5): 1.0})
    np.testing.assert_allclose(b.median_xy(), [2.5, 2.5], atol=1e-2)
    np.testing.assert_allclose(b.mean_xy(), [2.5, 2.5], atol=1e-9)
    # a core of 95 % on two cells side by side along the wind, 5 % far upwind (the tail hits
    # far downwind cannot rule out): the mean is dragged 5 m upwind (0.05 x 100 m), the median
    # stays in the core
    _set_cells(b, {(-2.5, 2.5): 0.475, (2.5, 2.5): 0.475, (-97.5, 2.5): 0.05})
    assert b.mean_xy()[0] == pytest.approx(-2.5 * 0.475 + 2.5 * 0.475 - 97.5 * 0.05, abs=1e-6)
    m = b.median_xy()
    assert -2.5 < m[0] < 0.0 and m[1] == pytest.approx(2.5, abs=1e-3)
    # it has the least expected distance: less than the mean's, and than any point nearby
    best = _expected_distance(b, m)
    assert best <= _expected_distance(b, b.mean_xy()) - 1.0
    grid = [(x, y) for x in np.arange(-5.0, 5.01, 0.5) for y in np.arange(0.0, 5.01, 0.5)]
    assert all(best <= _expected_distance(b, c) + 0.01 for c in grid)


def test_reported_location_is_not_stuck_on_a_cell_centre():
    # 60 % and 40 % on two neighbouring cells: over their centres alone the median is the
    # heavier centre; with each cell's mass spread over it, it lies inside the heavier cell
    # towards the other (in one dimension at -5 + 5 x 0.5 / 0.6 = -0.83 m: half the mass each side)
    b = FieldBelief(episode(), cell_m=5.0)
    _set_cells(b, {(-2.5, 2.5): 0.6, (2.5, 2.5): 0.4})
    m = b.median_xy()
    assert -2.0 < m[0] < 0.0 and m[1] == pytest.approx(2.5, abs=1e-3)
    best = _expected_distance(b, m)
    assert best < _expected_distance(b, (-2.5, 2.5)) - 0.05
    grid = [(x, 2.5) for x in np.arange(-5.0, 5.01, 0.25)]
    assert all(best <= _expected_distance(b, c) + 0.01 for c in grid)


def test_sweep_covers_the_area_line_by_line():
    ep = episode(half_size_m=400.0, wind_from_deg=250.0)
    pol = FieldSweepSpaceAware(sweep_spacing_m=100.0)
    path = np.array(pol._sweep_path(FieldBelief(ep, cell_m=20.0), ep.start_xy))
    assert np.all(np.abs(path) <= 400.0 + 1e-9)
    # consecutive lines 100 m apart along the wind, from the downwind side upwind
    up = np.array([np.sin(np.deg2rad(250.0)), np.cos(np.deg2rad(250.0))])
    u = path[::2] @ up
    np.testing.assert_allclose(np.diff(u), 100.0, atol=1e-6)


@pytest.mark.parametrize("policy", ["sweep-space-aware", "lookahead"])
def test_closed_loop_episode_localises_the_source(policy):
    ep = episode()
    r = run_adaptive(ep, policy)
    assert r.found, r.as_dict()
    assert r.error_m <= 10.0
    # it flew: the track starts at the launch point on the downwind edge
    np.testing.assert_allclose(r.track[0], ep.start_xy)
    assert r.time_s > 0 and r.distance_flown_m > 0


def test_lookahead_of_one_first_leg_is_space_aware_infotaxis():
    # beam 1: only the leg the one-leg proxy ranks best is looked beyond, so it is flown
    ep = episode()
    b = FieldBelief(ep)
    b.update(np.array([60.0, 20.0]), True, 270.0, 3.0, 10.0)  # a hit: the posterior is no longer flat
    state = {"xy": np.array([100.0, 0.0]), "hits": 1, "last_hit": True, "wind": (270.0, 3.0, 10.0)}
    np.testing.assert_allclose(FieldLookahead(beam=1).propose(b, state), FieldSpaceAware().propose(b, state))


def test_lookahead_heads_for_a_known_source():
    # all the mass in one cell 100 m east: the proxy is log2 of the distance left after two legs,
    # least for the leg straight toward it
    ep = episode()
    b = FieldBelief(ep)
    b.logp[:] = -np.inf
    b.logp[np.argmin(np.hypot(b.x - 102.5, b.y - 2.5)), 2] = 0.0
    state = {"xy": np.array([2.5, 2.5]), "hits": 1, "last_hit": True, "wind": (270.0, 3.0, 10.0)}
    np.testing.assert_allclose(FieldLookahead(beam=8).propose(b, state), [27.5, 2.5])


def test_every_policy_proposes_a_leg_inside_the_area():
    ep = episode()
    b = FieldBelief(ep)
    for name, cls in FIELD_POLICIES.items():
        pol = cls(plan=SMALL) if cls is FieldPerseus else cls()
        state = {"xy": ep.start_xy.astype(float), "hits": 0, "last_hit": False, "wind": (270.0, 3.0, 10.0)}
        nxt = pol.propose(b, state)
        assert np.all(np.abs(nxt) <= ep.half_size_m + 1e-9), name
        assert 0 < np.hypot(*(nxt - state["xy"])) <= 100.0 + 1e-9, name


def test_wind_grid_hit_law_follows_the_plume():
    g = WindGrid()
    n = g.n_grid
    p = g.table[1]
    np.testing.assert_allclose(g.table.sum(axis=0)[np.arange(2 * n + 1) != n], 1.0)  # a law per cell
    # symmetric across the wind, and largest on the axis (rows: source upwind of the agent)
    np.testing.assert_allclose(p, p[:, ::-1])
    up = p[n + 1 :]
    assert np.all(np.diff(up[:, n:], axis=1) <= 1e-12)
    # a source more than a cell downwind of the agent sends nothing: only false alarms
    ref = FieldBelief(FieldEpisode(400.0, (0.0, 0.0), 1.0, 4.0, 0.0, 11.5, 0))
    np.testing.assert_allclose(p[: n - 1], ref.p_fa)
    assert p.max() <= ref.p_max


def test_wind_grid_is_named_by_its_settings_not_its_numerics():
    # the policy cache's name: the same for the same settings, whatever the table's last digits
    # (trained_alphas checks those itself), and new for a setting that changes the law
    g, h = WindGrid(), WindGrid()
    h.table = h.table + 1e-12
    assert g.label() == h.label()
    assert WindGrid(meander_deg=8.0).label() != g.label()
    higher = FieldEpisode(400.0, (0.0, 0.0), 1.0, 4.0, 0.0, 11.5, 0, altitude_m=6.0)
    assert WindGrid(higher).label() != g.label()


def test_projection_into_the_grid_frame_keeps_mass_and_mean():
    ep = episode(half_size_m=400.0)
    b = FieldBelief(ep, cell_m=10.0)
    # a compact posterior 150 m upwind (wind from 250 deg) and 60 m across, none at the agent
    xy = np.array([100.0, -50.0])
    up = np.array([np.sin(np.deg2rad(250.0)), np.cos(np.deg2rad(250.0))])
    cross = np.array([-up[1], up[0]])
    target = xy + 150.0 * up + 60.0 * cross
    b.logp[:] = -np.inf
    near = np.hypot(b.x - target[0], b.y - target[1]) < 30.0
    b.logp[near] = 0.0
    pol = FieldPerseus(plan=SMALL)
    pol.prepare()
    w, own = pol.project(b, xy, 250.0)
    assert own == 0.0  # none of it in the aircraft's own cell
    fr = pol.policy._solver.frame
    assert w.sum() == pytest.approx(1.0)
    i, j = np.divmod(np.arange(fr.size), fr.width)
    # shared between the four nearest cells, each position's mean is kept exactly
    d = b.mean_xy() - xy
    assert w @ (i - fr.centre) == pytest.approx(d @ up / pol.env.cell_m, abs=1e-9)
    assert w @ (j - fr.centre) == pytest.approx(d @ cross / pol.env.cell_m, abs=1e-9)
    assert d @ up == pytest.approx(150.0, abs=5.0)  # (the grid of 10 m cells is not centred on it)


def test_wind_grid_starts_blind_at_the_downwind_edge():
    g = WindGrid()
    b0 = g.start()
    assert b0.agent == (0, g.n_grid // 2) and b0.p[b0.agent] == 0.0
    assert isinstance(b0, Belief) and b0.p.sum() == pytest.approx(1.0)


def test_field_perseus_localises_the_source_closed_loop():
    ep = episode()
    pol = FieldPerseus(plan=SMALL)
    r = run_adaptive(ep, pol)
    assert r.found and r.error_m <= 10.0, r.as_dict()
    assert pol.coarse_moves > 0  # the grid policy flew part of it, not only the pinpointing
    assert np.all(np.abs(r.track) <= ep.half_size_m + 1e-9)

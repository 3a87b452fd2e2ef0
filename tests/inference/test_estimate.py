"""The first estimator on simulated flights (puffs in meandering wind, not its own model)."""

import numpy as np

from plumescout.inference import EstimatorConfig, PlumeEstimator
from plumescout.report.maps import ReportView, write_html_map
from plumescout.simulate import simulate_flight

from ..conftest import single_source_scenario

FAST = EstimatorConfig(iterations=1500, burn_in=600)


def test_locates_a_single_source(single_flight):
    est = PlumeEstimator(FAST).fit(single_flight.observations)
    truth = single_flight.truth["sources"][0]
    assert len(est.sources_) == 1
    s = est.sources_[0]
    # Bounds: the issue-3 target for single-pass surveys is a 35 m median location error and
    # |log10 rate ratio| <= 0.2; one fixed-seed flight is allowed 35 m and a factor 2.
    assert np.hypot(s.x_m - truth["x_m"], s.y_m - truth["y_m"]) < 35.0
    assert abs(np.log10(s.rate_g_s / truth["rate_g_s"])) < np.log10(2.0)
    assert s.probability > 0.99
    assert s.rate_g_s_ci90[0] <= s.rate_g_s <= s.rate_g_s_ci90[1]
    assert s.location_ci90_m > 0
    lat, lon = single_flight.observations.frame.to_wgs84(s.x_m, s.y_m)
    assert (lat, lon) == (s.lat, s.lon)


def test_chains_in_threads_give_the_same_estimate_as_in_turn(single_flight):
    # the chains are independent and seeded alike: running them side by side changes nothing
    # (short chains: equality holds at any length)
    short = {"iterations": 400, "burn_in": 100}
    a = PlumeEstimator(FAST.model_copy(update={"chain_threads": 1, **short})).fit(single_flight.observations)
    b = PlumeEstimator(FAST.model_copy(update={"chain_threads": 2, **short})).fit(single_flight.observations)
    assert a.chain_.k_trace == b.chain_.k_trace
    np.testing.assert_array_equal(np.vstack(a.chain_.positions), np.vstack(b.chain_.positions))
    assert [(s.x_m, s.y_m, s.rate_g_s) for s in a.sources_] == [(s.x_m, s.y_m, s.rate_g_s) for s in b.sources_]


def test_no_plume_no_source():
    sc = single_source_scenario(seed=4)
    sc = sc.model_copy(update={"sources": []})
    est = PlumeEstimator(FAST).fit(simulate_flight(sc).observations)
    assert est.sources_ == []


def test_rate_scales_with_the_true_rate():
    # Linearity in rate: the same flight with the source twice as strong (same seed, so same
    # wind and puffs) gives about twice the estimated rate and the same place.
    base = single_source_scenario(seed=8)
    double = base.model_copy(update={"sources": [base.sources[0].model_copy(update={"rate_g_s": 1.0})]})
    # The total reported rate is what is linear: the weaker flight's plume may be split between
    # two sources at the same place (with four chains this one is: 0.29 + 0.07 g/s, 14 m apart)
    s1 = PlumeEstimator(FAST).fit(simulate_flight(base).observations).sources_
    s2 = PlumeEstimator(FAST).fit(simulate_flight(double).observations).sources_
    q1, q2 = sum(e.rate_g_s for e in s1), sum(e.rate_g_s for e in s2)
    assert 1.6 < q2 / q1 < 2.4
    # every reported source near the one true source (35 m: the issue-3 bound on the median
    # location error)
    t = base.sources[0]
    for e in s1 + s2:
        assert np.hypot(e.x_m - t.x_m, e.y_m - t.y_m) < 35.0


def test_a_slow_sensor_is_modelled_not_mistaken_for_distance():
    # A sensor with a 3 s response, carried at 6 m/s, smears each crossing ~18 m along the track:
    # a model without the lag reads the wider plume as an older one and places the source upwind
    # (seeds 3000-3011 of the suite: a median 20 m upwind). Sampling the response time recovers it
    # (the simulator's 3 s within a factor 1.5) and the source (bound: the 35 m single-pass target
    # of issue 3, and at least 3x closer than without the lag).
    sc = single_source_scenario(11)
    sc = sc.model_copy(update={"sensor": sc.sensor.model_copy(update={"response_time_s": 3.0})})
    flight = simulate_flight(sc)
    truth = flight.truth["sources"][0]
    err, along = {}, {}
    for resp in (0.0, None):
        est = PlumeEstimator(EstimatorConfig(sensor_response_s=resp)).fit(flight.observations)
        s = max(est.sources_, key=lambda s: s.probability)
        err[resp] = np.hypot(s.x_m - truth["x_m"], s.y_m - truth["y_m"])
        along[resp] = s.x_m - truth["x_m"]  # the wind blows from the west (270 deg): +x is downwind
        if resp is None:
            assert 2.0 <= est.info_["sensor_response_s"] <= 4.5
    assert along[0.0] < -20.0  # ignored: upwind
    assert err[None] < 35.0 and err[None] < err[0.0] / 3


def test_the_horizontal_width_is_learnt_from_the_crossings():
    # The model follows the measured meander, so the plume about the followed centreline has the
    # relative dispersion's width, a fraction of the time-averaged plume's (the simulator's puffs:
    # `relative_dispersion` of the Briggs sigma_y). The fraction is sampled: flown over puffs
    # 0.4 and 0.9 of the table's width, the fitted fraction orders them (monotonicity) and each
    # leaves the prior's median for the side of the simulated value; the rate stays within the
    # issue-3 median target, |log10 ratio| <= 0.2.
    prior = EstimatorConfig().point_sigma_y_prior_median
    fitted = {}
    for rd in (0.4, 0.9):
        sc = single_source_scenario(11)
        sc = sc.model_copy(update={"wind": sc.wind.model_copy(update={"relative_dispersion": rd})})
        flight = simulate_flight(sc)
        truth = flight.truth["sources"][0]
        est = PlumeEstimator(FAST).fit(flight.observations)
        s = max(est.sources_, key=lambda s: s.probability)
        fitted[rd] = est.info_["horizontal_width_factor"]
        assert np.sign(fitted[rd] - prior) == np.sign(rd - prior)
        assert abs(np.log10(s.rate_g_s / truth["rate_g_s"])) <= 0.2
    assert fitted[0.4] < fitted[0.9]


def test_a_rate_is_at_the_cap_when_its_top_samples_reach_it():
    # the rule alone: the 95th percentile of the rate samples at >= 90 % of the cap
    from plumescout.inference.estimate import RATE_CAP_FRACTION, at_rate_cap

    below = np.linspace(0.0, 0.8, 101)  # 95th percentile 0.76 of a cap of 1
    held = np.concatenate([np.linspace(0.5, 0.9, 90), np.full(11, 1.0)])  # the top 10 % piled on the cap
    assert not at_rate_cap(below, 1.0) and at_rate_cap(held, 1.0)
    assert at_rate_cap(below, 0.75 / RATE_CAP_FRACTION) and not at_rate_cap(below, 0.77 / RATE_CAP_FRACTION)
    assert not at_rate_cap(np.array([]), 1.0)


def test_regions_widen_where_the_plume_shows_correlation_the_series_does_not(single_flight, monkeypatch, tmp_path):
    """Two fits alike in every sample (temper 1 both), one told its plume's readings have a
    correlation time of 4: its regions' posterior part and its rate interval's log half-widths
    are 2x the other's (sqrt(4): region_widening), the floors then added as always."""
    short = FAST.model_copy(update={"iterations": 600, "burn_in": 200})
    fits = {}
    for in_plume in (1.0, 0.25):
        monkeypatch.setattr(PlumeEstimator, "_tempers", lambda self, sampler, p=in_plume: ([1.0], [p]))
        fits[in_plume] = PlumeEstimator(short).fit(single_flight.observations)
    a, b = fits[1.0], fits[0.25]
    assert (a.info_["region_widening"], b.info_["region_widening"]) == (1.0, 2.0)
    assert len(a.sources_) == len(b.sources_) == 1
    sa, sb = a.sources_[0], b.sources_[0]
    assert (sa.x_m, sa.y_m, sa.rate_g_s) == (sb.x_m, sb.y_m, sb.rate_g_s)
    floor = short.point_location_floor_m
    posterior_part = np.sqrt(sa.location_ci90_m**2 - floor**2)
    np.testing.assert_allclose(sb.location_ci90_m, np.hypot(2 * posterior_part, floor))
    f = np.log(short.point_rate_floor_factor)
    for lo_hi in (0, 1):
        half_a = abs(np.log(sa.rate_g_s_ci90[lo_hi] / sa.rate_g_s))
        half_b = abs(np.log(sb.rate_g_s_ci90[lo_hi] / sb.rate_g_s))
        np.testing.assert_allclose(half_b, np.hypot(2 * np.sqrt(half_a**2 - f**2), f))
    (a1, a2, az_a), (b1, b2, az_b) = sa.ellipse_ci90_m, sb.ellipse_ci90_m
    assert az_a == az_b
    np.testing.assert_allclose([b1, b2], np.hypot(2 * np.sqrt(np.square([a1, a2]) - floor**2), floor))
    # the report says so, for the widened fit alone
    obs = single_flight.observations
    pages = [write_html_map(tmp_path / f"{i}.html", ReportView(obs.frame, e.sources_, obs=obs, estimator=e)).read_text()
             for i, e in enumerate((a, b))]  # fmt: skip
    assert "widened" not in pages[0] and "regions and rate intervals widened 2x" in pages[1]

"""Which of a flight's plume crossings each source accounts for, and the flag for one seen once."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from plumescout.flightlog import write_flight_csv
from plumescout.inference import EstimatorConfig, PlumeEstimator
from plumescout.inference.detect import detect_observations
from plumescout.inference.estimate import crossing_support
from plumescout.pipeline import analyze
from plumescout.planning.followup import Target, parse_analysis
from plumescout.report.geojson import source_features
from plumescout.report.maps import _warnings

FAST = EstimatorConfig(iterations=1500, burn_in=600)


def _fake(y, t, x, yy, crossings, k):
    """A sampler over one point data set whose coupling columns are ``k`` whatever the state."""
    spec = SimpleNamespace(t=np.asarray(t, float), x=np.asarray(x, float), y=np.asarray(yy, float))
    data = SimpleNamespace(kind="point", spec=spec, y=np.asarray(y, float), crossing_times=crossings)
    return SimpleNamespace(data=[data], columns=lambda xy, th: [np.asarray(k, float)])


def test_a_crossing_counts_for_each_source_that_predicts_a_quarter_of_it():
    # readings 0-3 form crossing A (t 0-3), 6-7 crossing B (t 6-7); the measured enhancement sums
    # to 10 in A and 4 in B. Source 0 (rate 1) predicts 3 (30 %) of A and nothing of B; source 1
    # (rate 2) predicts 2 x 1 = 2 (20 %) of A and 2 x 1.5 = 3 (75 %) of B.
    t = np.arange(8.0)
    y = [1.0, 6.0, 2.0, 1.0, 0.0, 0.0, 1.0, 3.0]
    k = np.zeros((8, 2))
    k[0:4, 0] = [0.5, 1.5, 0.5, 0.5]
    k[0:4, 1] = [0.25, 0.25, 0.25, 0.25]
    k[6:8, 1] = [0.5, 1.0]
    x, yy = 10.0 * t, np.zeros(8)
    sampler = _fake(y, t, x, yy, [(0.0, 3.0), (6.0, 7.0)], k)
    xy = np.array([[10.0, 0.0], [40.0, 40.0]])
    out = crossing_support(sampler, None, xy, np.array([1.0, 2.0]))
    # distance to each crossing's peak reading: A peaks at reading 1 (x 10), B at reading 7 (x 70)
    assert out[0] == [pytest.approx(0.0)]
    assert out[1] == [pytest.approx(np.hypot(70.0 - 40.0, 40.0))]
    # at a share of 0.2 source 1 accounts for A too (exactly 20 %)
    both = crossing_support(sampler, None, xy, np.array([1.0, 2.0]), share=0.2)
    assert len(both[1]) == 2 and len(both[0]) == 1


def test_no_sources_and_beams_give_no_crossings():
    sampler = _fake([1.0], [0.0], [0.0], [0.0], [(0.0, 0.0)], np.ones((1, 1)))
    assert crossing_support(sampler, None, np.empty((0, 2)), np.empty(0)) == []
    sampler.data[0].kind = "beam"
    assert crossing_support(sampler, None, np.zeros((1, 2)), np.ones(1)) == [[]]


def test_the_one_source_of_a_flight_accounts_for_every_crossing(single_flight):
    obs = single_flight.observations
    n = detect_observations(obs, "ch4").n_crossings
    est = PlumeEstimator(FAST).fit(obs)
    (s,) = est.sources_
    # the flight's lines run across the wind at several distances: every crossing is this plume's
    assert n >= 3 and s.crossings == n == len(s.crossing_distances_m)
    assert "single_crossing" not in s.flags and est.info_["sources_on_one_crossing"] == []
    assert source_features([s])[0]["properties"]["plume_crossings"] == n


def test_a_source_seen_on_one_crossing_is_flagged(single_flight, tmp_path):
    obs = single_flight.observations
    part = obs.select(np.flatnonzero((obs.time_s >= 460.0) & (obs.time_s <= 560.0)))
    assert detect_observations(part, "ch4").n_crossings == 1  # one line of the flight, one crossing
    est = PlumeEstimator(FAST).fit(part)
    assert est.sources_ and all(s.crossings == 1 and "single_crossing" in s.flags for s in est.sources_)
    assert est.info_["sources_on_one_crossing"] == [s.id for s in est.sources_]
    assert any("one plume crossing" in w for w in _warnings(est.info_))
    props = source_features(est.sources_)[0]["properties"]
    assert props["plume_crossings"] == 1 and "single_crossing" in props["flags"]
    # the same flight log through the pipeline: the GeoJSON's provenance names them too
    res = analyze(write_flight_csv(tmp_path / "line.csv", part), tmp_path / "out", config=FAST)
    doc = json.loads(res.outputs["geojson"].read_text())
    flagged = [f["id"] for f in doc["features"] if "single_crossing" in f["properties"]["flags"]]
    assert flagged and doc["properties"]["sources_on_one_crossing"] == flagged
    low = [f["id"] for f in doc["features"] if "low_probability" in f["properties"]["flags"]]
    assert doc["properties"]["sources_low_probability"] == low  # (every analysis names them, flights or beams)
    # the report's map draws their regions dashed, saying why
    html = res.outputs["html"].read_text()
    dashed = re.findall(
        r'<ellipse class="region"[^>]*stroke-dasharray="8 5"[^>]*><title>(S\d+): 90 % region[^<]*one crossing', html
    )
    assert dashed == flagged


def test_sources_below_the_low_probability_are_flagged_and_a_follow_up_targets_them():
    """The flag follows the reported probability of existing (the threshold, 0.7 by default, is
    where the suite's false sources began: benchmarks/results/estimator_suite_pooled.md); the
    report says what it means."""
    from plumescout.inference.estimate import SourceEstimate, flag_sources, flagged
    from plumescout.planning.followup import FOLLOW_UP_FLAGS

    def src(i, p):
        return SourceEstimate(f"S{i}", "ch4", 50.0 * i, 0.0, 0, 0, 1, 1.0, (0.5, 2.0), 5.0, p,
                              samples_rate=np.full(100, 1.0), crossing_distances_m=[10.0, 20.0])  # fmt: skip

    cfg = EstimatorConfig()
    assert cfg.low_probability == 0.7
    out = [src(1, 0.99), src(2, 0.7), src(3, 0.69), src(4, 0.31)]
    flag_sources(out, (-500.0, -500.0, 500.0, 500.0), cfg, crossings=True)
    assert flagged(out, "low_probability") == ["S3", "S4"]  # 0.7 itself is not below
    assert all(s.flags == [] for s in out[:2]) and "low_probability" in FOLLOW_UP_FLAGS
    again = [src(1, 0.99), src(2, 0.7)]
    flag_sources(again, (-500.0, -500.0, 500.0, 500.0), cfg.model_copy(update={"low_probability": 0.995}), False)
    assert flagged(again, "low_probability") == ["S1", "S2"]
    (warning,) = _warnings({"sources_low_probability": ["S3", "S4"], "low_probability": 0.7})
    assert warning.startswith("S3, S4 reported at a probability of existing below 0.7")
    # a threshold of the user's own: the warning names it, and the one the evidence was measured at
    (warning,) = _warnings({"sources_low_probability": ["S1"], "low_probability": 0.9})
    assert warning.startswith("S1 reported at a probability of existing below 0.9: ")
    assert "4 in 10 sources reported below 0.7 were not there" in warning


def test_the_report_draws_sources_of_low_probability_hollow(tmp_path):
    from plumescout.geo import LocalFrame
    from plumescout.inference.estimate import SourceEstimate
    from plumescout.report.maps import ReportView, write_html_map, write_png

    rng = np.random.default_rng(0)
    xy, q = rng.normal(0.0, 8.0, (500, 2)), rng.lognormal(0.0, 0.3, 500)
    sure = SourceEstimate("S1", "ch4", 0.0, 0.0, 45.0, 5.0, 1, 1.0, (0.5, 2.0), 20.0, 0.98, xy, q)
    unsure = SourceEstimate("S2", "ch4", 100.0, 0.0, 45.0, 5.001, 1, 1.0, (0.5, 2.0), 20.0, 0.45, xy + [100.0, 0.0],
                            q, flags=["low_probability"])  # fmt: skip
    view = ReportView(LocalFrame(45.0, 5.0), [sure, unsure], wind=(3.0, 270.0))
    page = write_html_map(tmp_path / "r.html", view).read_text()
    dots = re.findall(r'<circle class="source"[^>]*><title>(S\d)[^<]*</title>', page)
    hollow = re.findall(r'<circle class="source"[^>]*fill="white"[^>]*><title>(S\d)', page)
    assert dots == ["S1", "S2"] and hollow == ["S2"] and "hollow: a low probability" in page
    assert write_png(tmp_path / "r.png", view).stat().st_size > 0
    page = write_html_map(tmp_path / "r2.html", ReportView(LocalFrame(45.0, 5.0), [sure], wind=(3.0, 270.0)))
    assert "hollow" not in page.read_text()


def test_regions_widen_when_every_crossing_is_near_the_source():
    """Closed form: the factor is the near distance over the farthest crossing's, from 1 (a
    crossing at or beyond it, or none to measure by) up to the cap."""
    from plumescout.inference.estimate import NEAR_CROSSING_MAX_WIDENING, near_crossing_widening

    assert near_crossing_widening([20.0, 30.0], 60.0) == pytest.approx(2.0)
    assert near_crossing_widening([30.0, 60.0], 60.0) == 1.0
    assert near_crossing_widening([150.0], 60.0) == 1.0
    assert near_crossing_widening([], 60.0) == 1.0 and near_crossing_widening(None, 60.0) == 1.0
    assert near_crossing_widening([2.0], 60.0) == NEAR_CROSSING_MAX_WIDENING
    assert near_crossing_widening([20.0], 0.0) == 1.0  # (0: off)


def test_a_source_seen_only_near_it_gets_its_circle_and_ellipse_widened(single_flight):
    """The same samples (the same seed; the widening comes after the sampler, and the search area
    is held, as a wider region could grow it), summarised with the near distance off and at 1.3
    times the crossing's distance: the circle's radius and both semi-axes before their floor, and
    the rate interval's log half-widths before theirs, grow by exactly 1.3."""
    obs = single_flight.observations
    part = obs.select(np.flatnonzero((obs.time_s >= 460.0) & (obs.time_s <= 560.0)))
    held = FAST.model_copy(update={"max_search_refits": 0})
    off = PlumeEstimator(held.model_copy(update={"point_near_crossing_m": 0.0})).fit(part)
    (a,) = off.sources_
    near = 1.3 * max(a.crossing_distances_m)
    on = PlumeEstimator(held.model_copy(update={"point_near_crossing_m": near})).fit(part)
    floor = FAST.point_location_floor_m
    (b,) = on.sources_
    k = 1.3
    assert a.crossing_distances_m == b.crossing_distances_m
    assert (a.near_crossing_widening, b.near_crossing_widening) == (1.0, pytest.approx(k))
    assert np.sqrt(b.location_ci90_m**2 - floor**2) == pytest.approx(k * np.sqrt(a.location_ci90_m**2 - floor**2))
    for x, y in zip(a.ellipse_ci90_m[:2], b.ellipse_ci90_m[:2], strict=True):
        assert np.sqrt(y**2 - floor**2) == pytest.approx(k * np.sqrt(x**2 - floor**2))
    assert b.ellipse_ci90_m[2] == pytest.approx(a.ellipse_ci90_m[2])
    assert (b.x_m, b.y_m, b.rate_g_s) == (a.x_m, a.y_m, a.rate_g_s)
    f = np.log(FAST.point_rate_floor_factor)
    for x, y in zip(a.rate_g_s_ci90, b.rate_g_s_ci90, strict=True):
        hx, hy = abs(np.log(x / a.rate_g_s)), abs(np.log(y / b.rate_g_s))
        assert np.sqrt(hy**2 - f**2) == pytest.approx(k * np.sqrt(hx**2 - f**2))
    assert source_features([b])[0]["properties"]["near_crossing_widening"] == pytest.approx(k, abs=1e-3)
    assert source_features([a])[0]["properties"]["near_crossing_widening"] == 1.0
    # the interval before the widening is kept beside it, and a follow-up plans from its low end
    assert b.rate_g_s_ci90_before_near == a.rate_g_s_ci90 and a.rate_g_s_ci90_before_near is None
    props = source_features([b])[0]["properties"]
    assert props["emission_rate_g_s_ci90_before_widening"] == [round(v, 6) for v in a.rate_g_s_ci90]
    assert "emission_rate_g_s_ci90_before_widening" not in source_features([a])[0]["properties"]
    doc = {"type": "FeatureCollection", "features": source_features([b]), "properties": {"flight_altitude_m": 5.0}}
    assert parse_analysis(doc, "doc").targets[0].rate_g_s == round(a.rate_g_s_ci90[0], 6)
    assert Target.of_source(b, 5.0).rate_g_s == a.rate_g_s_ci90[0]


def test_the_report_says_why_a_region_was_widened_for_near_crossings(single_flight, tmp_path):
    obs = single_flight.observations
    part = obs.select(np.flatnonzero((obs.time_s >= 460.0) & (obs.time_s <= 560.0)))
    cfg = FAST.model_copy(update={"max_search_refits": 0, "point_near_crossing_m": 1000.0})
    res = analyze(write_flight_csv(tmp_path / "line.csv", part), tmp_path / "out", config=cfg)
    html = res.outputs["html"].read_text()
    (s,) = res.estimator.sources_
    k = s.near_crossing_widening
    assert k > 1.0 and f"{s.id}'s 90 % region and rate interval widened {k:.2g}x" in html
    assert f"within {max(s.crossing_distances_m):.0f} m of it" in html
    # the KML's description of the source says it too
    assert f"region and rate interval widened {k:.2g}x" in res.outputs["kml"].read_text()
    # and at the default distance (the crossing 130 m out) nothing is said
    res = analyze(write_flight_csv(tmp_path / "line2.csv", part), tmp_path / "out2", config=FAST)
    assert "region widened" not in res.outputs["html"].read_text()

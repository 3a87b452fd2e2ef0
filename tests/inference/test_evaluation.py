"""Scoring of the evaluation suite: one-to-one matching within 100 m, coverage, summaries."""

import numpy as np
import pytest

from plumescout.evaluation import random_scenario, score_flight, summarise_scores
from plumescout.inference.estimate import SourceEstimate


def est(x, y, q, r90, lo, hi):
    return SourceEstimate("S", "ch4", x, y, 0, 0, 1, q, (lo, hi), r90, 0.9)


def test_matching_is_one_to_one_and_gated():
    truth = [{"x_m": 0.0, "y_m": 0.0, "rate_g_s": 1.0}, {"x_m": 300.0, "y_m": 0.0, "rate_g_s": 0.5}]
    # two estimates near the first truth: only one may match it; one far from everything is false
    estimates = [est(10, 0, 2.0, 20, 1.5, 3.0), est(-30, 0, 1.0, 10, 0.5, 1.5), est(600, 0, 1, 5, 0.5, 2)]
    s = score_flight("x", truth, estimates, 1.0, 100)
    assert s.matched == 1 and s.n_est == 3 and s.n_true == 2
    assert s.location_errors_m == [10.0]
    assert s.log10_rate_ratios == [pytest.approx(np.log10(2.0))]
    assert s.location_covered == [True] and s.rate_covered == [False]
    # the interval [1.5, 3] about 2 must widen by log(1/2)/log(1.5/2) on the log scale to hold 1
    assert s.rate_widening_needed == [pytest.approx(np.log(0.5) / np.log(0.75))]
    summary = summarise_scores([s])
    assert summary["recall"] == 0.5 and summary["precision"] == pytest.approx(1 / 3)
    assert summary["false_sources_per_flight"] == 2


def test_random_scenarios_are_reproducible_and_varied():
    a, pa = random_scenario(7)
    b, pb = random_scenario(7)
    assert a == b and pa == pb
    counts = {len(random_scenario(s)[0].sources) for s in range(40)}
    assert counts == {1, 2, 3, 4}
    for s in range(40):
        sc, _ = random_scenario(s)
        xy = np.array([[p.x_m, p.y_m] for p in sc.sources])
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        assert np.all(d[np.triu_indices(len(xy), 1)] >= 80.0)
        assert 1.5 <= sc.wind.speed_m_s <= 8.0

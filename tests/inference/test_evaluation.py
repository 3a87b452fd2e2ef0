"""Scoring of the evaluation suite: one-to-one matching within 100 m, coverage, summaries."""

import numpy as np
import pytest

from plumescout.evaluation import (
    bootstrap_intervals,
    existence_reliability,
    paired_differences,
    random_scenario,
    score_flight,
    summarise_scores,
)
from plumescout.inference.estimate import SourceEstimate


def est(x, y, q, r90, lo, hi, p=0.9):
    return SourceEstimate("S", "ch4", x, y, 0, 0, 1, q, (lo, hi), r90, p)


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


def test_scenario_overrides_change_only_what_they_name_and_are_validated():
    from pydantic import ValidationError

    base, _ = random_scenario(7)
    sc, _ = random_scenario(7, overrides={"wind": {"relative_dispersion": 0.4}})
    assert sc.wind.relative_dispersion == 0.4
    assert sc.wind.model_copy(update={"relative_dispersion": base.wind.relative_dispersion}) == base.wind
    assert sc.sources == base.sources and sc.sensor == base.sensor
    with pytest.raises(ValidationError, match="relative_dispersion"):
        random_scenario(7, overrides={"wind": {"relative_dispersion": 1.5}})  # a fraction <= 1


def _flights(n_found: list[int], n_true: int = 2, name="f"):
    """Flights with ``n_true`` sources each, of which n_found[i] found (10 m off, covered)."""
    truth = [{"x_m": 0.0, "y_m": 0.0, "rate_g_s": 1.0}, {"x_m": 300.0, "y_m": 0.0, "rate_g_s": 1.0}][:n_true]
    out = []
    for i, k in enumerate(n_found):
        ests = [est(t["x_m"] + 10, 0, 1.0, 20, 0.5, 2.0) for t in truth[:k]]
        out.append(score_flight(f"{name}{i}", truth, ests, 1.0, 100))
    return out


def test_bootstrap_interval_holds_the_estimate_and_vanishes_when_flights_agree():
    same = _flights([1] * 10)  # every flight finds one of two sources: recall 0.5 whatever is drawn
    ci = bootstrap_intervals(same, n_boot=200)
    assert ci["recall"] == (0.5, 0.5) and ci["median_location_error_m"] == (10.0, 10.0)
    mixed = _flights([0, 1, 2, 2, 1, 0, 2, 2, 1, 2])
    lo, hi = bootstrap_intervals(mixed, n_boot=500)["recall"]
    assert lo < summarise_scores(mixed)["recall"] < hi and 0 <= lo and hi <= 1


def test_paired_difference_is_exact_for_one_changed_flight_and_zero_for_itself():
    base = _flights([2] * 10)
    zero = paired_differences(base, base, n_boot=200)
    assert all(v == (0.0, 0.0, 0.0) for v in zero.values())
    # the variant misses one source on one flight: recall falls by exactly 1/20
    variant = _flights([1] + [2] * 9)
    d, lo, hi = paired_differences(base, variant, n_boot=500)["recall"]
    assert d == pytest.approx(-1 / 20) and lo <= d <= hi <= 0.0


def test_paired_difference_refuses_runs_on_different_flights():
    with pytest.raises(ValueError, match="different flights"):
        paired_differences(_flights([1, 2]), _flights([1, 2], name="g"))
    # pooling one seed set twice would silently drop flights: refused
    with pytest.raises(ValueError, match="appears twice"):
        paired_differences(_flights([1, 2]) * 2, _flights([2, 2]) * 2)


def test_existence_reliability_counts_the_reported_probabilities_that_were_real():
    truth = [{"x_m": 0.0, "y_m": 0.0, "rate_g_s": 1.0}]
    # a flight: the truth found at p 0.95, a duplicate beside it (p 0.6: one-to-one, so false) and
    # a far one (p 0.35, false); another: the truth found at p 0.55, nothing false
    a = score_flight("a", truth, [est(5, 0, 1, 10, 0.5, 2, 0.95), est(-8, 0, 1, 10, 0.5, 2, 0.6),
                                  est(500, 0, 1, 10, 0.5, 2, 0.35)], 1.0, 100)  # fmt: skip
    b = score_flight("b", truth, [est(3, 0, 1, 10, 0.5, 2, 0.55)], 1.0, 100)
    assert a.existence_probability == [0.95, 0.6, 0.35] and a.existence_matched == [True, False, False]
    rows = {r["bin"]: r for r in existence_reliability([a, b])}
    assert set(rows) == {(0.0, 0.5), (0.5, 0.7), (0.9, 1.0)}  # no source at 0.7-0.9: no row
    assert (rows[(0.0, 0.5)]["sources"], rows[(0.0, 0.5)]["matched"]) == (1, 0)
    mid = rows[(0.5, 0.7)]
    assert (mid["sources"], mid["matched"], mid["fraction_matched"]) == (2, 1, 0.5)
    assert mid["mean_probability"] == pytest.approx(0.575)
    # Wilson's 95 % interval for 1 of 2 (closed form: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n))
    z, n, ph = 1.959964, 2, 0.5
    centre, half = ph + z**2 / (2 * n), z * np.sqrt(ph * (1 - ph) / n + z**2 / (4 * n**2))
    assert mid["interval"] == pytest.approx(((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)))
    assert rows[(0.9, 1.0)]["fraction_matched"] == 1.0  # the last bin is closed at 1
    assert existence_reliability([score_flight("c", truth, [est(0, 0, 1, 10, 0.5, 2, 1.0)], 1.0, 100)])[0]["bin"] == (
        0.9,
        1.0,
    )

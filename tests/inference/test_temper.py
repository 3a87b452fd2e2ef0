"""The likelihood's temper: the residuals' integrated autocorrelation time, over a whole series
or over the readings a mask selects (a flight's readings in the plume)."""

import numpy as np
import pytest

from plumescout.inference.estimate import integrated_autocorr_time, region_widening


def ar1(rng, n: int, phi: float) -> np.ndarray:
    """A stationary AR(1) series of unit variance."""
    e = rng.normal(size=n) * np.sqrt(1.0 - phi**2)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def truncated_tau(phi: float, cut: float = 0.05) -> float:
    """Closed form of the estimator on AR(1): 1 + 2 sum of phi^k while phi^k >= cut."""
    k = np.arange(1, 1000)
    rho = phi**k
    return float(1.0 + 2.0 * rho[: np.argmax(rho < cut)].sum())


def test_ar1_series_gives_its_integrated_autocorrelation_time():
    rng = np.random.default_rng(0)
    z = ar1(rng, 40_000, 0.8)
    # (1 + phi) / (1 - phi) = 9, summed while phi^k >= 0.05: 8.56
    assert integrated_autocorr_time(z) == pytest.approx(truncated_tau(0.8), rel=0.1)


def test_white_noise_gives_one():
    z = np.random.default_rng(1).normal(size=5_000)
    assert integrated_autocorr_time(z) == pytest.approx(1.0, abs=0.1)


def test_a_mask_selecting_everything_changes_nothing():
    z = ar1(np.random.default_rng(2), 3_000, 0.6)
    assert integrated_autocorr_time(z, mask=np.ones(z.size, bool)) == integrated_autocorr_time(z)


def test_the_mask_finds_the_correlation_of_stretches_diluted_in_white_noise():
    """A flight's residuals: correlated in its plume crossings (a tenth of the readings), white
    elsewhere. Over the whole series the correlation is diluted to nearly nothing; over the
    crossings it is the crossings' own."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=40_000)
    mask = np.zeros(z.size, bool)
    for start in range(0, z.size, 2_000):  # 20 crossings of 200 readings
        z[start : start + 200] = ar1(rng, 200, 0.8)
        mask[start : start + 200] = True
    assert integrated_autocorr_time(z) < 1.5
    # short stretches bias each lag's estimate low by about lag/200: within 15 % of the closed form
    assert integrated_autocorr_time(z, mask=mask) == pytest.approx(truncated_tau(0.8), rel=0.15)


def test_too_few_selected_readings_give_one():
    z = ar1(np.random.default_rng(4), 1_000, 0.9)
    mask = np.zeros(z.size, bool)
    mask[:7] = True
    assert integrated_autocorr_time(z, mask=mask) == 1.0


def test_regions_widen_only_where_the_whole_series_showed_no_correlation():
    # whole series at the estimator's floor (temper 1), its plume at 1/4: the posterior tempered
    # by the plume would be sqrt(4) = 2x as wide
    assert region_widening([1.0], [0.25]) == pytest.approx(2.0)
    # the whole series found correlation: its temper stands (the factors were calibrated on it)
    assert region_widening([0.5], [0.1]) == 1.0
    assert region_widening([0.1], [0.4]) == 1.0
    # no correlation in the plume either: nothing to widen
    assert region_widening([1.0], [1.0]) == 1.0
    # two flights: the geometric mean of theirs; beams (None) do not count
    assert region_widening([1.0, 0.2, 0.3], [0.25, 0.8, None]) == pytest.approx(np.sqrt(2.0))
    assert region_widening([0.3], [None]) == 1.0

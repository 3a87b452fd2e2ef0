"""Detection: background under drift, noise level and the stated false-alarm rate."""

import numpy as np
import pytest
from scipy import stats

from plumescout.inference import detect_plumes, rolling_background


def test_false_alarm_rate_on_pure_noise():
    # White Gaussian noise only: crossings are false alarms. 20 h at 2 Hz with a design rate of
    # 1/h: the count is Poisson(<= 20) (the design is an upper bound); a 99.9 % bound is 36.
    rng = np.random.default_rng(0)
    t = np.arange(0.0, 20 * 3600.0, 0.5)
    y = 1.95 + rng.normal(0, 0.01, t.size)
    det = detect_plumes(t, y, false_alarms_per_hour=1.0)
    assert det.noise_ppm == pytest.approx(0.01, rel=0.05)
    assert det.n_crossings <= stats.poisson.ppf(0.999, 20)


def test_background_follows_drift_not_plumes():
    rng = np.random.default_rng(1)
    t = np.arange(0.0, 3600.0, 0.5)
    drift = 1.95 + 0.1 * t / 3600.0
    plumes = sum(a * np.exp(-0.5 * ((t - c) / 3.0) ** 2) for a, c in [(1.0, 600), (0.5, 1800), (2.0, 3000)])
    y = drift + plumes + rng.normal(0, 0.01, t.size)
    bg = rolling_background(t, y)
    assert np.max(np.abs(bg - drift)[200:-200]) < 0.01
    det = detect_plumes(t, y)
    assert det.n_crossings == 3
    centres = [t[a + np.argmax(det.enhancement_ppm[a:b])] for a, b in det.crossings]
    np.testing.assert_allclose(centres, [600, 1800, 3000], atol=1.0)


def test_nan_readings_are_tolerated():
    t = np.arange(0.0, 600.0, 0.5)
    y = 2.0 + np.random.default_rng(2).normal(0, 0.01, t.size)
    y[100:110] = np.nan
    det = detect_plumes(t, y)
    assert np.isfinite(det.background_ppm).all()

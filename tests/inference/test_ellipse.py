"""The 90 % region as an ellipse (flights): the shape of the position samples' covariance, scaled
to hold 90 % of them, then widened and floored as the circle is."""

import numpy as np
import pytest

from plumescout.evaluation import inside_ellipse
from plumescout.inference.estimate import ellipse_region, posterior_ellipse


def _gaussian(n=40000, sd=(10.0, 2.0), azimuth=60.0, seed=0):
    """Normal samples about (100, -50): sd[0] along ``azimuth`` (deg east of north), sd[1] across."""
    rng = np.random.default_rng(seed)
    t = np.radians(azimuth)
    along, across = np.array([np.sin(t), np.cos(t)]), np.array([np.cos(t), -np.sin(t)])
    z = rng.standard_normal((n, 2)) * sd
    return np.array([100.0, -50.0]) + z[:, :1] * along + z[:, 1:] * across


def test_a_normal_posterior_gives_the_chi_square_ellipse():
    # for a bivariate normal, 90 % of the mass lies within Mahalanobis distance sqrt(-2 ln 0.1)
    # = 2.146 (chi-square, 2 degrees of freedom): the semi-axes are 2.146 sd along each axis
    xy = _gaussian()
    k = np.sqrt(-2.0 * np.log(0.1))
    e = posterior_ellipse(xy, (100.0, -50.0))
    axes = e.axes
    assert e.scale == pytest.approx(k, rel=0.02)
    # the axes' unit vectors: the major along 60 deg east of north, the minor across it
    assert abs(e.major @ [np.sin(np.radians(60.0)), np.cos(np.radians(60.0))]) == pytest.approx(1.0, abs=1e-3)
    assert abs(e.major @ e.minor) < 1e-9
    np.testing.assert_allclose(axes, [k * 10.0, k * 2.0], rtol=0.03)
    a, b, azimuth = ellipse_region(xy, (100.0, -50.0), 1.0)
    assert (a, b) == pytest.approx(tuple(axes)) and azimuth == pytest.approx(60.0, abs=1.0)
    # the opposite direction is the same axis (0-180 deg)
    assert ellipse_region(_gaussian(azimuth=240.0), (100.0, -50.0), 1.0)[2] == pytest.approx(60.0, abs=1.0)
    # it holds 90 % of the samples (by construction) and of fresh draws (the normal's mass)
    for pts in (xy[:2000], _gaussian(n=2000, seed=1)):
        inside = np.mean([inside_ellipse((a, b, azimuth), (100.0, -50.0), p) for p in pts])
        assert inside == pytest.approx(0.9, abs=0.025)


def test_the_factor_widens_and_the_floor_bounds_each_axis():
    xy = _gaussian()
    a, b, _ = ellipse_region(xy, (100.0, -50.0), 1.0)
    a2, b2, _ = ellipse_region(xy, (100.0, -50.0), 0.5, floor_m=3.0)
    assert (a2, b2) == pytest.approx((np.hypot(0.5 * a, 3.0), np.hypot(0.5 * b, 3.0)))
    # an isotropic cloud: equal axes (no direction to speak of), area that of its circle
    iso = _gaussian(sd=(5.0, 5.0))
    a3, b3, _ = ellipse_region(iso, (100.0, -50.0), 1.0)
    assert a3 == pytest.approx(b3, rel=0.05)


def test_too_few_or_degenerate_samples_give_no_ellipse():
    assert posterior_ellipse(_gaussian(n=10), (100.0, -50.0)) is None
    line = np.column_stack([np.linspace(0, 10, 100), np.zeros(100)])  # no spread across
    assert ellipse_region(line, (5.0, 0.0), 1.0) is None


def test_inside_ellipse_on_and_off_the_axes():
    e = (10.0, 2.0, 90.0)  # major axis east-west
    assert inside_ellipse(e, (0, 0), (9.9, 0)) and not inside_ellipse(e, (0, 0), (0, 2.1))
    assert inside_ellipse(e, (0, 0), (0, 1.9)) and not inside_ellipse(e, (0, 0), (10.1, 0))
    e = (10.0, 2.0, 0.0)  # north-south
    assert inside_ellipse(e, (5, 5), (5, 14.9)) and not inside_ellipse(e, (5, 5), (7.1, 5))


def test_the_calibration_record_carries_the_fits_widening():
    """The suite records each source's posterior ellipse as the estimator used it: widened 2x for
    the plume's correlation, its axes are twice, and the factor the truth needs half, the
    unwidened one's (so calibrate_regions.py sets the factor the estimator applies)."""
    from types import SimpleNamespace

    from plumescout.evaluation import _score_ellipse

    xy = np.random.default_rng(5).normal(size=(4000, 2)) * [30.0, 6.0]
    rec = {}
    for w in (1.0, 2.0):
        e = SimpleNamespace(x_m=0.0, y_m=0.0, samples_xy=xy, region_widening=w, location_ci90_m=50.0,
                            ellipse_ci90_m=(40.0, 10.0, 90.0))  # fmt: skip
        rec[w] = {"covered": [], "area": [], "needed": [], "axes": [], "offset": []}
        _score_ellipse(rec[w], e, (12.0, 3.0))
    np.testing.assert_allclose(rec[2.0]["axes"][0], 2 * np.array(rec[1.0]["axes"][0]), atol=0.01)
    np.testing.assert_allclose(rec[2.0]["needed"][0], rec[1.0]["needed"][0] / 2)
    np.testing.assert_allclose(rec[2.0]["offset"][0], np.array(rec[1.0]["offset"][0]) / 2, rtol=1e-3)


@pytest.mark.parametrize("widening", [1.0, 2.0])
def test_the_record_replays_the_estimators_ellipse_at_its_factor_and_floor(widening):
    """calibrate_regions.py checks other factors from the record alone (ellipse_holds): at the
    factor and floor the estimator used, it must give what the reported ellipse gave, for truths
    inside and outside it and with the fit's widening."""
    from types import SimpleNamespace

    from plumescout.evaluation import _score_ellipse, ellipse_holds

    xy = _gaussian(n=4000, sd=(12.0, 3.0), azimuth=30.0, seed=2)
    centre = np.median(xy, axis=0)
    k, floor = 0.74, 3.0
    reported = ellipse_region(xy, centre, k * widening, floor)
    e = SimpleNamespace(x_m=centre[0], y_m=centre[1], samples_xy=xy, region_widening=widening,
                        location_ci90_m=40.0, ellipse_ci90_m=reported)  # fmt: skip
    agree, inside = [], []
    for truth in np.random.default_rng(3).normal(centre, 12.0, size=(200, 2)):
        rec = {"covered": [], "area": [], "needed": [], "axes": [], "offset": []}
        _score_ellipse(rec, e, truth)
        agree.append(ellipse_holds(rec["axes"][0], rec["offset"][0], k, floor) == rec["covered"][0])
        assert rec["covered"][0] == inside_ellipse(reported, centre, truth)
        inside.append(rec["covered"][0])
    assert 0.2 < np.mean(inside) < 0.8  # truths on both sides of it
    # the recorded axes are rounded to the centimetre: a truth on the boundary may flip
    assert np.mean(agree) >= 0.99

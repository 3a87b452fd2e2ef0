"""The sampler's nuisance parameters: which are sampled, their priors, how they enter the model."""

import numpy as np
import pytest

from plumescout.inference.data import PointData
from plumescout.inference.forward import ForwardSpec, coupling
from plumescout.inference.sampler import RJConfig, RJSampler


@pytest.fixture(scope="module")
def data():
    n = 200
    t = np.arange(n) * 0.2
    spec = ForwardSpec(
        x=np.full(n, 150.0),
        y=np.linspace(-60.0, 60.0, n),
        z=np.full(n, 8.0),
        t=t,
        speed=np.full(n, 4.0),
        from_deg=np.full(n, 270.0),
    )
    return PointData(spec, np.zeros(n), 1e-6, "ch4")


def test_the_width_multiplier_scales_both_widths_or_the_horizontal_alone(data):
    src = np.array([[0.0, 0.0]])
    th = RJSampler([data], (-200, -200, 200, 200), RJConfig()).theta0()
    th[1] = np.log(0.6)
    for horizontal, (scale, scale_y) in ((False, (0.6, 1.0)), (True, (1.0, 0.6))):
        s = RJSampler([data], (-200, -200, 200, 200), RJConfig(horizontal_width=horizontal))
        names = s.theta_names()
        assert len(names) == th.size and ("horizontal" in names[1]) == horizontal
        col = s.columns(src, th)[0]
        ref = coupling(data.spec, [[0.0, 0.0, th[2]]], 3.0, 0.0, scale, scale_y)
        np.testing.assert_allclose(col, ref, rtol=1e-12)


def test_the_width_prior_is_centred_on_its_median_and_a_zero_spread_fixes_it(data):
    box = (-200, -200, 200, 200)
    s = RJSampler([data], box, RJConfig(scale_prior=0.35, scale_prior_median=0.7))
    th = s.theta0()
    assert th[1] == pytest.approx(np.log(0.7))
    assert 1 in s.free_theta()
    lp0 = s.log_prior_theta(th)
    up, down = th.copy(), th.copy()
    up[1] += 0.35
    down[1] -= 0.35
    # one prior sigma either side of the median costs 1/2 in log density (symmetric on the log scale)
    assert s.log_prior_theta(up) == pytest.approx(lp0 - 0.5)
    assert s.log_prior_theta(down) == pytest.approx(lp0 - 0.5)
    fixed = RJSampler([data], box, RJConfig(scale_prior=0.0, scale_prior_median=0.7))
    assert 1 not in fixed.free_theta()
    assert np.isfinite(fixed.log_prior_theta(fixed.theta0()))


def test_the_vertical_growth_exponent_is_fixed_at_0_unless_given_a_prior(data):
    box = (-200, -200, 200, 200)
    fixed = RJSampler([data], box, RJConfig())
    assert fixed.theta_names()[fixed.GROWTH] == "vertical growth exponent"
    assert fixed.theta0()[fixed.GROWTH] == 0.0 and fixed.GROWTH not in fixed.free_theta()
    free = RJSampler([data], box, RJConfig(z_growth_prior=0.3))
    th = free.theta0()
    assert free.GROWTH in free.free_theta()
    lp0 = free.log_prior_theta(th)
    for step in (0.3, -0.3):  # one prior sigma either side of 0 costs 1/2 in log density
        moved = th.copy()
        moved[free.GROWTH] += step
        assert free.log_prior_theta(moved) == pytest.approx(lp0 - 0.5)

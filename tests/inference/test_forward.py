"""The compiled forward kernel equals the NumPy reference, and both equal the physics module."""

import numpy as np
import pytest

from plumescout.dispersion import plume_coupling, sigma_yz
from plumescout.inference import forward
from plumescout.inference.forward import (
    GROWTH_LENGTH_M,
    ForwardSpec,
    coupling_numba,
    coupling_numpy,
    serial_kernel,
)


@pytest.fixture(scope="module")
def receptors():
    rng = np.random.default_rng(0)
    n = 1500
    t = np.arange(n) * 0.5
    return dict(
        x=rng.uniform(-400, 400, n),
        y=rng.uniform(-400, 400, n),
        z=rng.uniform(1, 15, n),
        t=t,
        speed=rng.uniform(1.5, 6, n),
        from_deg=rng.uniform(200, 300, n),
    )


@pytest.fixture(scope="module")
def sources():
    rng = np.random.default_rng(1)
    return np.column_stack([rng.uniform(-400, 400, 40), rng.uniform(-400, 400, 40), rng.uniform(0, 3, 40)])


def test_numpy_reference_is_the_physics_module(receptors, sources):
    # Same formula as plumescout.dispersion.plume_coupling (Briggs rural, class D, no bias/scale).
    spec = ForwardSpec(**receptors)
    xyz = np.column_stack([receptors["x"], receptors["y"], receptors["z"]])
    ref = plume_coupling(xyz, sources, receptors["speed"], receptors["from_deg"], "D")
    np.testing.assert_allclose(coupling_numpy(spec, sources, 3.0), ref, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("lagrangian", [False, True])
@pytest.mark.parametrize(
    ("stability", "bias", "scale", "scale_y"),
    [(3.0, 0.0, 1.0, 1.0), (1.7, 7.5, 1.3, 1.0), (5.0, -4.0, 0.8, 0.55), (2.4, -3.0, 1.1, 0.6)],
)
def test_numba_equals_numpy(receptors, sources, lagrangian, stability, bias, scale, scale_y):
    if lagrangian:
        spec = ForwardSpec.with_lagrangian_wind(receptors["t"], receptors["speed"], receptors["from_deg"], **receptors)
    else:
        spec = ForwardSpec(**receptors)
    a = coupling_numpy(spec, sources, stability, bias, scale, scale_y)
    b = coupling_numba(spec, sources, stability, bias, scale, scale_y)
    assert np.max(np.abs(a - b)) <= 1e-9 * np.max(a)


def test_serial_kernel_gives_the_same_numbers_and_the_switch_is_per_thread(receptors, sources):
    import threading

    spec = ForwardSpec.with_lagrangian_wind(receptors["t"], receptors["speed"], receptors["from_deg"], **receptors)
    par = coupling_numba(spec, sources, 2.4, 3.0, 1.1)
    with serial_kernel():
        ser = coupling_numba(spec, sources, 2.4, 3.0, 1.1)
        seen = []
        t = threading.Thread(target=lambda: seen.append(forward._LOCAL.__dict__.get("serial", False)))
        t.start()
        t.join()
    assert seen == [False]  # another thread keeps the parallel kernel
    np.testing.assert_allclose(ser, par, rtol=1e-12, atol=0.0)


def test_turbulence_widths(receptors, sources):
    # sigma_y = x tan(sigma_theta_h): with tan = the Briggs D sigma_y / x at each distance the two
    # schemes coincide for sigma_y; checked here on one receptor-source pair in closed form.
    spec = ForwardSpec(
        x=np.array([100.0]),
        y=np.array([5.0]),
        z=np.array([1.5]),
        t=np.zeros(1),
        speed=np.array([2.0]),
        from_deg=np.array([270.0]),
        scheme="turbulence",
        tan_sigma_y=np.array([0.2]),
        tan_sigma_z=np.array([0.1]),
    )
    c = coupling_numba(spec, [[0.0, 0.0, 0.5]])[0, 0]
    sy, sz = 20.0, 10.0
    expected = (
        np.exp(-0.5 * (5 / sy) ** 2)
        * (np.exp(-0.5 * (1.0 / sz) ** 2) + np.exp(-0.5 * (2.0 / sz) ** 2))
        / (2 * np.pi * 2.0 * sy * sz)
    )
    assert c == pytest.approx(expected, rel=1e-12)
    assert coupling_numpy(spec, [[0.0, 0.0, 0.5]])[0, 0] == pytest.approx(expected, rel=1e-12)
    assert sigma_yz(100.0, "D")[0] > 0  # (the Briggs path is covered above)


def test_horizontal_scale_narrows_the_plume_and_keeps_its_crosswind_integral():
    # sigma_y_scale multiplies sigma_y alone. Closed form (turbulence widths, no floor): on the
    # axis the coupling goes as 1/sigma_y, so scaling sigma_y by s scales it by 1/s; the vertical
    # factor is untouched, so the crosswind integral, fz / (sqrt(2 pi) sigma_z u), is conserved.
    yc = np.linspace(-200.0, 200.0, 8001)  # +-10 sigma_y of the unscaled plume
    spec = ForwardSpec(
        x=np.full(yc.size, 100.0),
        y=yc,
        z=np.full(yc.size, 4.0),
        t=np.zeros(yc.size),
        speed=np.full(yc.size, 3.0),
        from_deg=np.full(yc.size, 270.0),
        scheme="turbulence",
        tan_sigma_y=np.full(yc.size, 0.2),
        tan_sigma_z=np.full(yc.size, 0.1),
    )
    src = [[0.0, 0.0, 1.0]]
    full = coupling_numba(spec, src)[:, 0]
    for s in (0.4, 0.6):
        narrow = coupling_numba(spec, src, sigma_y_scale=s)[:, 0]
        assert narrow[yc.size // 2] == pytest.approx(full[yc.size // 2] / s, rel=1e-12)
        sz = 10.0
        fz = np.exp(-0.5 * (3.0 / sz) ** 2) + np.exp(-0.5 * (5.0 / sz) ** 2)
        integral = fz / (np.sqrt(2 * np.pi) * sz * 3.0)
        assert np.trapezoid(narrow, yc) == pytest.approx(integral, rel=1e-6)
        assert np.trapezoid(full, yc) == pytest.approx(integral, rel=1e-6)


@pytest.mark.parametrize("g", [-0.4, 0.3, 0.7])
def test_vertical_growth_exponent_bends_sigma_z_alone(g):
    # sigma_z = x tan(sigma_theta_v) (1 + x / X)^g (X = GROWTH_LENGTH_M), the horizontal untouched.
    # Closed form on the axis of a ground source read at the ground: c = 2 / (2 pi u sy sz), so
    # the coupling scales by (1 + x / X)^-g exactly; a receptor off the ground sees the new
    # sigma_z in the reflected Gaussian; numba = NumPy; g = 0 is the linear width.
    x = np.array([20.0, 100.0, 400.0, 800.0])
    n = x.size
    spec = ForwardSpec(
        x=x,
        y=np.zeros(n),
        z=np.zeros(n),
        t=np.zeros(n),
        speed=np.full(n, 3.0),
        from_deg=np.full(n, 270.0),
        scheme="turbulence",
        tan_sigma_y=np.full(n, 0.2),
        tan_sigma_z=np.full(n, 0.1),
    )
    src = [[0.0, 0.0, 0.0]]
    flat = coupling_numba(spec, src)[:, 0]
    bent = coupling_numba(spec, src, z_growth=g)[:, 0]
    np.testing.assert_allclose(bent, flat * (1.0 + x / GROWTH_LENGTH_M) ** -g, rtol=1e-12)
    np.testing.assert_allclose(coupling_numpy(spec, src, z_growth=g)[:, 0], bent, rtol=1e-12)
    np.testing.assert_allclose(coupling_numpy(spec, src, z_growth=0.0)[:, 0], flat, rtol=1e-12)
    spec.z[:] = 1.5  # a receptor 1.5 m up, a source 0.5 m up: the reflected Gaussian in full
    sy, sz = 0.2 * x, 0.1 * x * (1.0 + x / GROWTH_LENGTH_M) ** g
    expected = (np.exp(-0.5 * (1.0 / sz) ** 2) + np.exp(-0.5 * (2.0 / sz) ** 2)) / (2 * np.pi * 3.0 * sy * sz)
    for fn in (coupling_numba, coupling_numpy):
        np.testing.assert_allclose(fn(spec, [[0.0, 0.0, 0.5]], z_growth=g)[:, 0], expected, rtol=1e-12)


def test_wind_bias_rotates_the_plume():
    # A receptor 200 m east of the source is on the axis of a wind from 270 deg; with a +10 deg
    # bias (wind from 280) the same value is found 10 deg clockwise (south of east).
    base = dict(z=np.array([2.0]), t=np.zeros(1), speed=np.array([3.0]), from_deg=np.array([270.0]))
    on = coupling_numba(ForwardSpec(x=np.array([200.0]), y=np.array([0.0]), **base), [[0, 0, 1.0]], 3.0, 0.0)[0, 0]
    a = np.deg2rad(10.0)
    rot = ForwardSpec(x=np.array([200 * np.cos(a)]), y=np.array([-200 * np.sin(a)]), **base)
    assert coupling_numba(rot, [[0, 0, 1.0]], 3.0, 10.0)[0, 0] == pytest.approx(on, rel=1e-9)


# -- the sensor's first-order response (forward.sensor_lag) ----------------------------------------


def _uneven_times(n=400, seed=3):
    return np.cumsum(np.random.default_rng(seed).uniform(0.1, 0.5, n))


def test_sensor_lag_is_exact_for_a_ramp():
    # tau dy/dt = x - y with x = t - t0 and y(t0) = 0 has y = (t - t0) - tau (1 - exp(-(t - t0)/tau))
    # (closed form); the first-order hold is exact for an input linear between samples, even on
    # uneven sample times
    t = _uneven_times()
    tau = 1.7
    x = t - t[0]
    y = forward.sensor_lag(x[:, None], t, tau)[:, 0]
    np.testing.assert_allclose(y, x - tau * (1.0 - np.exp(-x / tau)), rtol=0, atol=1e-12)


def test_sensor_lag_conserves_the_crossing_and_delays_it_by_tau():
    # a first-order lag's impulse response is exp(-t/tau)/tau: unit area (the plume's integral
    # along the track is unchanged, so the rate is) and mean delay tau
    t = np.arange(0.0, 60.0, 0.2)
    tau = 2.0
    x = np.exp(-0.5 * ((t - 20.0) / 0.8) ** 2)
    y = forward.sensor_lag(x[:, None], t, tau)[:, 0]
    assert np.trapezoid(y, t) == pytest.approx(np.trapezoid(x, t), rel=1e-6)
    centroid = lambda v: np.trapezoid(t * v, t) / np.trapezoid(v, t)  # noqa: E731
    assert centroid(y) - centroid(x) == pytest.approx(tau, rel=1e-3)
    assert y.max() < x.max()  # lower and later
    assert t[np.argmax(y)] > t[np.argmax(x)]
    # the tail is cut below forward.TAIL of the peak: 40 s (20 tau) after the crossing the reading
    # is an exact zero again (exp(-20) ~ 2e-9 < 1e-8), which the fit skips
    assert y[-1] == 0.0 and np.all(y[t > 20.0 + 20 * tau] == 0.0)


def test_sensor_lag_is_linear_and_leaves_a_steady_reading_and_no_lag_alone():
    t = _uneven_times()
    rng = np.random.default_rng(4)
    K = rng.random((t.size, 3))
    a, b = 0.7, 2.5
    lag = lambda M: forward.sensor_lag(M, t, 1.3)  # noqa: E731
    np.testing.assert_allclose(lag(a * K + b * K[:, ::-1]), a * lag(K) + b * lag(K[:, ::-1]), rtol=1e-12)
    np.testing.assert_allclose(lag(np.full((t.size, 2), 3.0)), 3.0, rtol=1e-12)
    np.testing.assert_array_equal(forward.sensor_lag(K, t, 0.0), K)


def test_sensor_lag_compiled_equals_numpy():
    t = _uneven_times()
    t[10] = t[9]  # a repeated time holds the reading
    K = np.random.default_rng(5).random((t.size, 4))
    h = np.diff(t, prepend=t[:1])
    co = forward._lag_coefficients_numpy(h, 0.9)
    for a, b in zip(co, forward.lag_coefficients(t, 0.9), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(forward._lag_numpy(K, *co), forward.sensor_lag(K, t, 0.9), rtol=1e-12)

"""The compiled forward kernel equals the NumPy reference, and both equal the physics module."""

import numpy as np
import pytest

from plumescout.dispersion import plume_coupling, sigma_yz
from plumescout.inference import forward
from plumescout.inference.forward import ForwardSpec, coupling_numba, coupling_numpy, serial_kernel


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
@pytest.mark.parametrize(("stability", "bias", "scale"), [(3.0, 0.0, 1.0), (1.7, 7.5, 1.3), (5.0, -4.0, 0.8)])
def test_numba_equals_numpy(receptors, sources, lagrangian, stability, bias, scale):
    if lagrangian:
        spec = ForwardSpec.with_lagrangian_wind(receptors["t"], receptors["speed"], receptors["from_deg"], **receptors)
    else:
        spec = ForwardSpec(**receptors)
    a = coupling_numpy(spec, sources, stability, bias, scale)
    b = coupling_numba(spec, sources, stability, bias, scale)
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


def test_wind_bias_rotates_the_plume():
    # A receptor 200 m east of the source is on the axis of a wind from 270 deg; with a +10 deg
    # bias (wind from 280) the same value is found 10 deg clockwise (south of east).
    base = dict(z=np.array([2.0]), t=np.zeros(1), speed=np.array([3.0]), from_deg=np.array([270.0]))
    on = coupling_numba(ForwardSpec(x=np.array([200.0]), y=np.array([0.0]), **base), [[0, 0, 1.0]], 3.0, 0.0)[0, 0]
    a = np.deg2rad(10.0)
    rot = ForwardSpec(x=np.array([200 * np.cos(a)]), y=np.array([-200 * np.sin(a)]), **base)
    assert coupling_numba(rot, [[0, 0, 1.0]], 3.0, 10.0)[0, 0] == pytest.approx(on, rel=1e-9)

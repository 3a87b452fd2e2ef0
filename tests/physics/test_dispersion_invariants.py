"""Exact invariants of the dispersion models (DISPERSION.md, 'Exact invariants')."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from plumescout.dispersion import (
    beam_integrated_plume,
    crosswind_integrated,
    gaussian_plume,
    gaussian_puff,
    plume_coupling,
    sigma_yz,
    vertical_term,
)

CLASSES = "ABCDEF"


@pytest.mark.parametrize("cls", list(CLASSES))
@pytest.mark.parametrize("h", [0.0, 5.0, 30.0])
def test_mass_flux_equals_rate(cls, h):
    # Invariant 1: integral over y and z >= 0 of u C equals Q at every x.
    q, u, x = 2.5, 3.0, 400.0
    sy, sz = sigma_yz(x, cls)
    zmax = h + 12 * sz
    ys = np.linspace(-10 * sy, 10 * sy, 801)
    zs = np.linspace(0.0, zmax, 2001)
    yy, zz = np.meshgrid(ys, zs)
    c = gaussian_plume(x, yy, zz, h, q, u, sy, sz)
    flux = u * integrate.trapezoid(integrate.trapezoid(c, ys, axis=1), zs)
    assert flux == pytest.approx(q, rel=2e-3)


@given(
    x=st.floats(50.0, 5000.0),
    q=st.floats(0.01, 100.0),
    u=st.floats(0.5, 15.0),
    cls=st.sampled_from(CLASSES),
)
def test_crosswind_integrated_ground_source(x, q, u, cls):
    # Invariant 2: C_y(x, 0) = sqrt(2/pi) Q / (u sigma_z) for a ground source.
    sz = sigma_yz(x, cls)[1]
    cy = crosswind_integrated(x, 0.0, 0.0, q, u, sz)
    assert cy == pytest.approx(np.sqrt(2 / np.pi) * q / (u * sz), rel=1e-12)


@pytest.mark.parametrize("h", [20.0, 60.0])
def test_maximum_ground_concentration_location(h):
    # Invariant 3: with sy = a x, sz = b x (p = q = 1, Briggs rural class A/B), the maximum
    # ground-level centreline concentration lies where sigma_z = H / sqrt(2).
    a, b = 0.20, 0.15
    x = np.linspace(1.0, 3000.0, 300001)
    c = gaussian_plume(x, 0.0, 0.0, h, 1.0, 1.0, a * x, b * x)
    x_max = x[np.argmax(c)]
    assert b * x_max == pytest.approx(h / np.sqrt(2), rel=1e-3)


def test_mixing_lid_tends_to_well_mixed():
    # Invariant 4: the image sum tends to the well-mixed value, F_z h_m -> 1 once sz >> h_m.
    hm = 200.0
    for sz, tol in [(400.0, 1e-3), (1000.0, 1e-6)]:
        fz = vertical_term(np.linspace(0, hm, 7), 10.0, sz, hm, n_images=30)
        np.testing.assert_allclose(fz * hm, 1.0, rtol=tol)


@given(
    x=st.floats(-500.0, -0.01),
    y=st.floats(-100.0, 100.0),
)
def test_zero_upwind(x, y):
    # Invariant 5: C = 0 upwind.
    assert gaussian_plume(x, y, 1.0, 2.0, 1.0, 3.0, 10.0, 5.0) == 0.0


@given(y=st.floats(0.0, 300.0), cls=st.sampled_from(CLASSES))
def test_even_in_crosswind(y, cls):
    sy, sz = sigma_yz(500.0, cls)
    a = gaussian_plume(500.0, y, 1.5, 2.0, 1.0, 3.0, sy, sz)
    b = gaussian_plume(500.0, -y, 1.5, 2.0, 1.0, 3.0, sy, sz)
    assert a == b


def test_reflection_doubles_ground_source_centreline():
    # Invariant 5: for H = 0 the reflected centreline is twice the unbounded one.
    sy, sz = 20.0, 10.0
    with_reflection = gaussian_plume(300.0, 0.0, 0.0, 0.0, 1.0, 2.0, sy, sz)
    unbounded = 1.0 / (2 * np.pi * 2.0 * sy * sz)
    assert with_reflection == pytest.approx(2 * unbounded, rel=1e-14)


@given(q=st.floats(1e-3, 1e3), k=st.floats(0.1, 10.0))
@settings(max_examples=30)
def test_linear_in_rate(q, k):
    sy, sz = sigma_yz(250.0, "C")
    c1 = gaussian_plume(250.0, 7.0, 2.0, 1.0, q, 4.0, sy, sz)
    c2 = gaussian_plume(250.0, 7.0, 2.0, 1.0, k * q, 4.0, sy, sz)
    assert c2 == pytest.approx(k * c1, rel=1e-12)


@pytest.mark.parametrize("h", [0.0, 3.0])
def test_puff_integral_is_its_mass(h):
    # Invariant 6: a puff's integral over z >= 0 equals its mass.
    m, sx, sy, sz = 7.0, 12.0, 9.0, 4.0
    xs = np.linspace(-8 * sx, 8 * sx, 161)
    ys = np.linspace(-8 * sy, 8 * sy, 161)
    zs = np.linspace(0.0, h + 10 * sz, 201)
    x, y, z = np.meshgrid(xs, ys, zs, indexing="ij")
    c = gaussian_puff(x, y, z, h, m, sx, sy, sz)
    total = integrate.trapezoid(integrate.trapezoid(integrate.trapezoid(c, zs), ys), xs)
    assert total == pytest.approx(m, rel=1e-3)


def test_coupling_matches_direct_formula_and_rotation():
    # The coupling matrix is the plume formula in the rotated frame: wind from 270 deg (west)
    # blows toward +x, so a receptor 200 m east of the source is on the plume axis.
    src = np.array([[10.0, -5.0, 1.0]])
    rec = np.array([[210.0, -5.0, 1.0], [210.0, 15.0, 1.0], [-190.0, -5.0, 1.0]])
    k = plume_coupling(rec, src, 3.0, 270.0, "D")
    sy, sz = sigma_yz(200.0, "D")
    expected = gaussian_plume(200.0, np.array([0.0, 20.0]), 1.0, 1.0, 1.0, 3.0, sy, sz)
    np.testing.assert_allclose(k[:2, 0], expected, rtol=1e-12)
    assert k[2, 0] == 0.0
    # Wind from north (0 deg): the plume goes south.
    k2 = plume_coupling([[10.0, -205.0, 1.0]], src, 3.0, 0.0, "D")
    assert k2[0, 0] == pytest.approx(expected[0], rel=1e-12)


def test_beam_crossing_a_plume_integrates_crosswind():
    # A long beam straight across a plume, at right angles to the wind, integrates the plume
    # crosswind: integral C dl = C_y (invariant 2 for a ground source at ground level).
    x, q, u = 150.0, 1.0, 2.0
    k = beam_integrated_plume([[x, -300.0, 0.0]], [[x, 300.0, 0.0]], [[0.0, 0.0, 0.0]], u, 270.0, "D")
    sz = sigma_yz(x, "D")[1]
    assert k[0, 0] * q == pytest.approx(np.sqrt(2 / np.pi) * q / (u * sz), rel=1e-4)
    avg = beam_integrated_plume([[x, -300.0, 0.0]], [[x, 300.0, 0.0]], [[0.0, 0.0, 0.0]], u, 270.0, "D", average=True)
    assert avg[0, 0] == pytest.approx(k[0, 0] / 600.0, rel=1e-12)


def test_fractional_class_interpolates_between_neighbours():
    sy_c, sz_c = sigma_yz(500.0, "C")
    sy_d, sz_d = sigma_yz(500.0, "D")
    sy, sz = sigma_yz(500.0, 2.5)
    assert sy == pytest.approx(np.sqrt(sy_c * sy_d))
    assert sz == pytest.approx(np.sqrt(sz_c * sz_d))
    assert sigma_yz(500.0, "C-D")[0] == pytest.approx(sy)


def test_beam_ppm_m_and_path_average_ppm():
    # ppm*m of a beam is the line integral of the mole fraction; g_m3_to_ppm is linear, so it
    # turns g/m2 into ppm*m, and ppm*m / length is the path-averaged ppm.
    from plumescout.units import g_m3_to_ppm

    start, end = [[100.0, -40.0, 1.5]], [[100.0, 40.0, 1.5]]
    q = 0.5
    integral = beam_integrated_plume(start, end, [[0.0, 0.0, 0.5]], 3.0, 270.0, "D")[0, 0] * q
    average = beam_integrated_plume(start, end, [[0.0, 0.0, 0.5]], 3.0, 270.0, "D", average=True)[0, 0] * q
    ppm_m = g_m3_to_ppm(integral, "ch4")
    assert g_m3_to_ppm(average, "ch4") == pytest.approx(ppm_m / 80.0, rel=1e-12)
    # and the ppm*m equals the integral of point values in ppm along the beam
    ys = np.linspace(-40, 40, 4001)
    pts = np.column_stack([np.full(ys.size, 100.0), ys, np.full(ys.size, 1.5)])
    point_ppm = g_m3_to_ppm(plume_coupling(pts, [[0.0, 0.0, 0.5]], 3.0, 270.0, "D")[:, 0] * q, "ch4")
    assert ppm_m == pytest.approx(integrate.trapezoid(point_ppm, ys), rel=1e-4)

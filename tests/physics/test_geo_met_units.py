"""Geodesy, meteorology and unit conversions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from plumescout.geo import LocalFrame, utm_crs
from plumescout.met import (
    WindSeries,
    class_index,
    stability_from_insolation,
    stability_from_obukhov,
    stability_from_sigma_theta,
)
from plumescout.units import g_m3_to_ppm, g_s_to_kg_h, kg_h_to_g_s, ppm_to_g_m3, species_of_column

GEOD = Geod(ellps="WGS84")


@given(
    lat0=st.floats(-80, 80),
    lon0=st.floats(-179, 179),
    x=st.floats(-5000, 5000),
    y=st.floats(-5000, 5000),
)
def test_local_frame_round_trip(lat0, lon0, x, y):
    f = LocalFrame(lat0, lon0)
    lat, lon = f.to_wgs84(x, y)
    x2, y2 = f.to_local(lat, lon)
    if np.hypot(x, y) < 1e-3:
        # PROJ's aeqd maps points within 1e-10 rad (0.64 mm) of the centre onto the centre
        assert np.hypot(x2, y2) < 1e-3
        return
    assert x2 == pytest.approx(x, abs=1e-6)
    assert y2 == pytest.approx(y, abs=1e-6)


@pytest.mark.parametrize("bearing", [0.0, 37.0, 90.0, 200.0, 315.0])
def test_local_frame_distance_and_bearing_from_origin_are_geodesic(bearing):
    # Azimuthal equidistant: a point at geodesic distance d and azimuth b from the origin maps to
    # (d sin b, d cos b) exactly (checked against pyproj.Geod's geodesic, Karney 2013).
    lat0, lon0, d = 51.1445, -1.4370, 1500.0
    lon, lat, _ = GEOD.fwd(lon0, lat0, bearing, d)
    x, y = LocalFrame(lat0, lon0).to_local(lat, lon)
    assert x == pytest.approx(d * np.sin(np.deg2rad(bearing)), abs=1e-6)
    assert y == pytest.approx(d * np.cos(np.deg2rad(bearing)), abs=1e-6)


def test_local_frame_scale_error_small_away_from_origin():
    # Distance between two points 2 km from the origin agrees with the geodesic to 1e-5.
    f = LocalFrame(40.0, -105.0)
    lat, lon = f.to_wgs84(np.array([2000.0, 2000.0]), np.array([0.0, 500.0]))
    _, _, d = GEOD.inv(lon[0], lat[0], lon[1], lat[1])
    assert d == pytest.approx(500.0, rel=1e-5)


def test_utm_frame():
    assert utm_crs(51.1, -1.4).to_epsg() == 32630
    assert utm_crs(-33.9, 151.2).to_epsg() == 32756
    f = LocalFrame.from_utm(51.1, -1.4)
    x, y = f.to_local(51.1, -1.4)
    assert abs(x) < 1e-6 and abs(y) < 1e-6


def test_bad_origin():
    with pytest.raises(ValueError, match="origin"):
        LocalFrame(95.0, 0.0)


@pytest.mark.parametrize(
    ("u", "ins", "expected"),
    [
        # EPA-454/R-99-005 Table 6-7 (after Turner 1970).
        (1.5, "strong", "A"),
        (2.5, "moderate", "B"),
        (4.0, "moderate", "B-C"),
        (4.0, "slight", "C"),
        (5.5, "moderate", "C-D"),
        (7.0, "strong", "C"),
        (7.0, "moderate", "D"),
        (2.5, "night_clear", "F"),
        (4.0, "night_cloudy", "D"),
        (4.0, "night_clear", "E"),
    ],
)
def test_turner_table(u, ins, expected):
    assert stability_from_insolation(u, ins) == expected


def test_overcast_is_neutral():
    assert stability_from_insolation(1.0, "strong", overcast=True) == "D"


@pytest.mark.parametrize(
    ("s", "expected"),
    # EPA-454/R-99-005 Table 6-8a category bounds (z0 = 15 cm).
    [(25.0, "A"), (20.0, "B"), (15.0, "C"), (10.0, "D"), (5.0, "E"), (2.0, "F")],
)
def test_sigma_theta_daytime(s, expected):
    assert stability_from_sigma_theta(s) == expected


def test_sigma_theta_night_adjustment():
    # Table 6-8b: an initial A at night with u < 2.9 m/s becomes F; with u >= 3.6 m/s, D.
    assert stability_from_sigma_theta(25.0, 2.0, night=True) == "F"
    assert stability_from_sigma_theta(25.0, 5.0, night=True) == "D"
    assert stability_from_sigma_theta(5.0, 5.0, night=True) == "E"


def test_obukhov_class_is_monotone_and_neutral_at_infinity():
    # Seinfeld & Pandis (2006) eq. 16.83: L -> +-inf is class D; stability increases with 1/L.
    assert stability_from_obukhov(1e12, 0.1) == pytest.approx(3.0, abs=1e-6)
    assert stability_from_obukhov(-1e12, 0.1) == pytest.approx(3.0, abs=1e-6)
    inv = np.linspace(-0.2, 0.2, 101)
    idx = stability_from_obukhov(1 / np.where(inv == 0, 1e-12, inv), 0.1)
    assert np.all(np.diff(idx) >= 0)
    assert idx[0] == 0.0 and idx[-1] == 5.0


def test_class_index_rejects_nonsense():
    with pytest.raises(ValueError, match="unknown stability class"):
        class_index("G")


def test_ppm_g_m3_round_trip_and_reference():
    # 1 ppm CH4 at 25 degC, 1 atm: 1e-6 * 16.043 g/mol * 101325 / (8.314462618 * 298.15)
    # = 6.557e-4 g/m3 (ideal gas; the familiar "ppm x M / 24.45" rule gives 6.561e-4).
    c = ppm_to_g_m3(1.0, "ch4", 298.15, 101325.0)
    assert c == pytest.approx(16.043 / 24.4654 * 1e-3, rel=1e-4)
    assert g_m3_to_ppm(c, "CH4", 298.15, 101325.0) == pytest.approx(1.0, rel=1e-12)


def test_rate_units():
    assert g_s_to_kg_h(1.0) == pytest.approx(3.6)
    assert kg_h_to_g_s(g_s_to_kg_h(0.377)) == pytest.approx(0.377)


def test_species_of_column():
    assert species_of_column("ch4_ppm") == ("ch4", "ppm")
    assert species_of_column("NH3_ppb") == ("nh3", "ppb")
    assert species_of_column("ch4_ppm_m") == ("ch4", "ppm_m")
    assert species_of_column("wind_speed_m_s") is None
    assert species_of_column("_ppm") is None


def test_wind_series_vector_interpolation_across_north():
    # Interpolating 350 deg and 10 deg by vector gives 0 deg, not 180 deg.
    w = WindSeries(np.array([0.0, 10.0]), np.array([3.0, 3.0]), np.array([350.0, 10.0]))
    _, d = w.at(5.0)
    assert min(d, 360 - d) == pytest.approx(0.0, abs=1e-9)
    speed, mean_dir = w.mean()
    assert speed == 3.0 and min(mean_dir, 360 - mean_dir) == pytest.approx(0.0, abs=1e-9)


def test_wind_series_rejects_unordered_times():
    with pytest.raises(ValueError, match="increasing"):
        WindSeries(np.array([0.0, 0.0]), np.ones(2), np.zeros(2))

"""Survey planning: spacing from the plume's reach, crosswind lines, sorties within endurance."""

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon

from plumescout.dispersion import gaussian_plume, sigma_yz
from plumescout.errors import ConfigError
from plumescout.planning import detectable_range, plan_survey, split_sorties
from plumescout.units import g_m3_to_ppm

AREA = [[-500, -400], [500, -400], [500, 400], [-500, 400]]


def test_detectable_range_edges_are_at_the_detection_limit():
    # At x_lo and x_hi the centreline at flight altitude equals the detection limit (grid step
    # 0.23 % in x: within 2 % in concentration); between, above it.
    q, u, z, dl = 0.5, 3.0, 8.0, 0.05
    x_lo, x_hi = detectable_range(q, u, z, dl)
    for x in (x_lo, x_hi):
        sy, sz = sigma_yz(x, "D")
        c = g_m3_to_ppm(gaussian_plume(x, 0.0, z, 1.0, q, u, sy, sz), "ch4")
        assert c == pytest.approx(dl, rel=0.02)
    # monotone: a stronger source is seen farther away, a higher flight sees it later
    assert detectable_range(2 * q, u, z, dl)[1] > x_hi
    assert detectable_range(q, u, 2 * z, dl)[0] > x_lo


def test_never_detectable_is_refused():
    with pytest.raises(ConfigError, match="never above the"):
        plan_survey(AREA, 270, 3.0, 8.0, 1800, 100.0, 5.0, reference_rate_g_s=0.01)


@pytest.mark.parametrize("wind_from", [0.0, 45.0, 250.0])
def test_lines_are_crosswind_spaced_and_cover_the_area(wind_from):
    plan = plan_survey(AREA, wind_from, 3.0, 8.0, 3600, 8.0, 0.05, reference_rate_g_s=0.5)
    x_lo, x_hi = plan.detect_range_m
    assert plan.line_spacing_m == pytest.approx(min(150.0, (x_hi - x_lo) / 2))
    assert plan.altitude_m == 8.0  # as low as the aircraft allows
    wps = plan.waypoints_m
    lines = wps.reshape(-1, 2, 2)
    down = np.array([-np.sin(np.deg2rad(wind_from)), -np.cos(np.deg2rad(wind_from))])
    for a, b in lines:
        d = (b - a) / np.linalg.norm(b - a)
        assert abs(d @ down) < 1e-6  # perpendicular to the wind
    pos = np.sort(lines[:, 0, :] @ down)
    np.testing.assert_allclose(np.diff(pos), plan.line_spacing_m, rtol=1e-6)
    # every point of the area lies upwind of some line within one spacing + the near range
    poly = Polygon(AREA)
    proj = [p @ down for p in np.asarray(poly.exterior.coords)]
    assert pos[0] - min(proj) <= plan.line_spacing_m + 1e-6
    # ... and the last line lies downwind of the downwind edge by the plume's near range
    assert pos[-1] >= max(proj) + min(x_lo, plan.line_spacing_m / 2) - 1e-6


def test_sorties_respect_endurance_and_cover_the_path():
    plan = plan_survey(AREA, 270, 3.0, 8.0, 600, 8.0, 0.05, reference_rate_g_s=0.5, home_m=(-550, 0))
    assert len(plan.sorties) > 1
    budget = 8.0 * 600 * 0.9
    covered = 0.0
    for s in plan.sorties:
        assert np.allclose(s[0], (-550, 0)) and np.allclose(s[-1], (-550, 0))
        length = np.sum(np.hypot(*np.diff(s, axis=0).T))
        assert length <= budget + 1e-6
        covered += LineString(s[1:-1]).length
    assert covered == pytest.approx(plan.survey_length_m, rel=1e-6)
    assert plan.flight_time_s == pytest.approx(plan.total_length_m / 8.0)


def test_unreachable_path_is_refused():
    with pytest.raises(ConfigError, match="endurance too short"):
        split_sorties([[0, 0], [100, 0]], (5000, 0), 2000.0)


def test_invalid_area():
    with pytest.raises(ConfigError, match="not a valid polygon"):
        plan_survey([[0, 0], [1, 1], [0, 1], [1, 0]], 270, 3, 8, 600, 8, 0.05)

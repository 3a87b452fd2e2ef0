"""The search area's growth toward a source at its edge (``PlumeEstimator._search``), with the
sampler replaced by a stand-in that reports one source at a fixed place: the policy alone."""

import pytest

from plumescout.inference import EstimatorConfig, PlumeEstimator, SourceEstimate
from plumescout.inference.estimate import _edge_distance

EXTENT = (0.0, 0.0, 100.0, 100.0)  # the sensors' extent (x0, y0, x1, y1), m


def _search(config, source_xy, r90=10.0, margin=30.0, progress=None):
    """Run the growth loop with a 'fit' that always reports one source at ``source_xy`` (its 90 %
    radius ``r90``, cut by the box as a real region would be: placed at the nearest point inside
    the box when the true place is outside it). Returns the estimator and the boxes fitted."""
    boxes = []
    est = PlumeEstimator(config)
    est.info_ = {}

    def fit(datasets, box, stability, progress, theta_update_prob):
        boxes.append(box)
        if progress:
            progress("posterior", 1, 1)
        x = min(max(source_xy[0], box[0]), box[2])
        y = min(max(source_xy[1], box[1]), box[3])
        est.sources_ = [SourceEstimate("S1", "ch4", x, y, 0.0, 0.0, 0.5, 1.0, (0.5, 2.0), r90, 1.0)]
        cut = [s.id for s in est.sources_ if _edge_distance(box, s.x_m, s.y_m) < s.location_ci90_m]
        est.info_["sources_at_edge"] = cut

    est._run = fit
    est._search([], EXTENT, margin, 3.0, progress, 1.0)
    return est, boxes


def test_a_source_inside_the_area_is_fitted_once():
    est, boxes = _search(EstimatorConfig(), (50.0, 50.0))
    assert boxes == [(-30.0, -30.0, 130.0, 130.0)]
    assert est.info_["margins_m"] == [30.0] * 4 and est.info_["search_refits"] == 0


def test_the_side_a_source_lies_beyond_is_doubled_until_the_source_is_inside():
    # the source 100 m south of the sensors: the south margin goes 30 -> 60 -> 120 (the source,
    # at y = -100, is then 20 m inside the side, more than its 10 m radius); the others stay
    est, boxes = _search(EstimatorConfig(), (50.0, -100.0))
    assert [b[1] for b in boxes] == [-30.0, -60.0, -120.0]
    assert all(b[0] == -30.0 and b[2] == 130.0 and b[3] == 130.0 for b in boxes)
    assert est.info_["margins_m"] == [30.0, 120.0, 30.0, 30.0] and est.info_["search_refits"] == 2
    assert est.info_["sources_at_edge"] == []


def test_a_corner_grows_both_sides():
    est, _ = _search(EstimatorConfig(), (-45.0, 145.0))  # beyond the west and the north sides
    assert est.info_["margins_m"] == [60.0, 30.0, 30.0, 60.0]


def test_growth_stops_at_the_cap_and_the_source_stays_flagged():
    est, boxes = _search(EstimatorConfig(max_margin_m=100.0), (50.0, -1000.0))
    assert [b[1] for b in boxes] == [-30.0, -60.0, -100.0]  # 30, 60, then the cap (not 120)
    assert est.info_["margins_m"][1] == 100.0 and est.info_["sources_at_edge"] == ["S1"]


def test_growth_stops_after_the_allowed_refits():
    est, boxes = _search(EstimatorConfig(max_search_refits=1), (50.0, -1000.0))
    assert len(boxes) == 2 and est.info_["margins_m"][1] == 60.0 and est.info_["sources_at_edge"] == ["S1"]


def test_a_cap_at_the_margin_never_grows():
    est, boxes = _search(EstimatorConfig(max_margin_m=30.0), (50.0, -100.0))
    assert len(boxes) == 1 and est.info_["search_refits"] == 0 and est.info_["sources_at_edge"] == ["S1"]


@pytest.mark.parametrize("r90", [10.0, 25.0])
def test_from_a_margin_of_zero_the_side_grows_by_the_regions_radius(r90):
    # doubling 0 would never grow: the first step is the region's radius, then doubling
    est, boxes = _search(EstimatorConfig(), (50.0, -1000.0), r90=r90, margin=0.0)
    assert [b[1] for b in boxes] == [0.0, -r90, -2 * r90, -4 * r90]


def test_each_refit_is_named_in_the_progress_stage():
    # a refit starts the sampler's count again; the stage says so, so a bar going back is explained
    stages = []
    _search(EstimatorConfig(), (50.0, -100.0), progress=lambda stage, done, total: stages.append(stage))
    assert stages == ["posterior", "posterior, area widened, fit 2", "posterior, area widened, fit 3"]

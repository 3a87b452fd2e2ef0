"""Plume model vs Project Prairie Grass (real field data, ../shared/datasets/prairie-grass-1956)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.geo import LocalFrame
from plumescout.inference import EstimatorConfig, PlumeEstimator
from plumescout.validation import model_evaluation_stats, validate_prairie_grass
from plumescout.validation.prairie_grass import load_prairie_grass, run_samplers, sampler_data
from plumescout.validation.stats import meets_criteria


def test_reproduces_the_published_briggs_rural_figures(prairie_grass_dir):
    # DISPERSION.md: "a plain Briggs-rural plume with the class taken from the Obukhov length
    # reached FAC2 0.92, FB +0.24, NMSE 0.32 on crosswind-integrated concentrations of 53 runs x 5
    # arcs". Same recipe (class letter, no SO2-loss correction): same figures to 2 decimals.
    r = validate_prairie_grass(prairie_grass_dir, scheme="briggs_rural", continuous_class=False, evap_correction=False)
    assert r["n"] == 265
    assert r["FAC2"] == pytest.approx(0.92, abs=0.005)
    assert r["FB"] == pytest.approx(0.24, abs=0.005)
    assert r["NMSE"] == pytest.approx(0.32, abs=0.005)


def test_default_model_meets_chang_hanna_and_beats_the_reference(prairie_grass_dir):
    # Chang & Hanna (2004) "good model" criteria; DISPERSION.md: "a good model should do at
    # least as well" as FAC2 0.92, |FB| 0.24, NMSE 0.32.
    r = validate_prairie_grass(prairie_grass_dir)
    assert all(r["meets"].values()), r["meets"]
    assert r["FAC2"] >= 0.92 and abs(r["FB"]) <= 0.24 + 0.005 and r["NMSE"] <= 0.32


def test_cli_json(prairie_grass_dir):
    res = CliRunner().invoke(app, ["validate", "prairie-grass", str(prairie_grass_dir), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert set(doc) == {"n", "FAC2", "FB", "NMSE", "MG", "VG"}
    assert doc["FAC2"] >= 0.5 and abs(doc["FB"]) <= 0.3 and 0.7 <= doc["MG"] <= 1.3
    assert doc["NMSE"] <= 4 and doc["VG"] <= 1.6


def test_cli_missing_directory(tmp_path):
    res = CliRunner().invoke(app, ["validate", "prairie-grass", str(tmp_path)])
    assert res.exit_code == 2
    assert "PGARCS.txt" in res.output and "Traceback" not in res.output


def test_stats_closed_form():
    co = np.array([1.0, 2.0, 4.0])
    perfect = model_evaluation_stats(co, co)
    assert perfect == {"n": 3, "FAC2": 1.0, "FB": 0.0, "NMSE": 0.0, "MG": 1.0, "VG": 1.0}
    # twice too high everywhere: FB = 2(m - 2m)/(3m) = -2/3; MG = 1/2; VG = exp(ln(2)^2);
    # NMSE = <m^2>/(2 m^2) with m = mean; FAC2 counts the boundary ratio 2 as within.
    s = model_evaluation_stats(co, 2 * co)
    assert s["FB"] == pytest.approx(-2 / 3)
    assert s["MG"] == pytest.approx(0.5)
    assert s["VG"] == pytest.approx(np.exp(np.log(2) ** 2))
    assert s["NMSE"] == pytest.approx(np.mean(co**2) / (2 * co.mean() ** 2))
    assert s["FAC2"] == 1.0
    assert not meets_criteria(s)["FB"]
    assert model_evaluation_stats(co, 3 * co)["FAC2"] == 0.0
    with pytest.raises(ValueError):
        model_evaluation_stats(co, np.array([1.0, 0.0, 1.0]))


# -- the runs as real releases for the source estimator ------------------------------------------


@pytest.fixture(scope="module")
def loaded(prairie_grass_dir):
    return load_prairie_grass(prairie_grass_dir)


def test_samplers_sit_on_their_arcs_and_the_plume_downwind(loaded):
    """Geometry: every sampler is its arc's radius from the release (at the origin), 1.5 m up
    (the data set's README); the bearings are clockwise from north, so on the first arc the
    concentration-weighted bearing lies within the run's measured sigma-theta of the direction
    the wind blows toward (wind from 176 deg in run 5, modelParamList.txt)."""
    s = run_samplers(loaded, 5)
    assert np.allclose(np.hypot(s.xyz[:, 0], s.xyz[:, 1]), s.arc)
    assert np.all(s.xyz[:, 2] == 1.5) and s.release_height_m == 0.46
    first = s.arc == 50.0
    bearing = np.rad2deg(np.arctan2(s.xyz[first, 0], s.xyz[first, 1]))
    c = s.conc_g_m3[first]
    mean = np.rad2deg(np.angle(np.sum(c * np.exp(1j * np.deg2rad(bearing)))))
    toward = s.met["wdir"] + 180.0
    assert abs((mean - toward + 180.0) % 360.0 - 180.0) < s.met["sigma_theta"]


def test_sampler_data_keeps_the_readings_and_groups_by_arc(loaded):
    """The mole-fraction round trip returns the mass concentrations; each arc is one residual
    group; the noise guess is finite (each sampler is read once, so no change in time to use)."""
    import warnings

    s = run_samplers(loaded, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty-slice warning from the beam noise guess
        d = sampler_data(s)
    assert np.allclose(d.y, s.conc_g_m3, rtol=1e-12)
    groups = d.residual_groups()
    assert sorted(np.unique(s.arc)) == [float(s.arc[g][0]) for g in groups]
    assert sum(g.size for g in groups) == len(d) and np.isfinite(d.noise_g_m3) and d.noise_g_m3 > 0
    assert d.background_basis().shape == (len(d), 1)


def test_run_without_meteorology_is_refused(loaded):
    with pytest.raises(ValueError, match="run 1 has no meteorology"):
        run_samplers(loaded, 1)


@pytest.mark.slow
@pytest.mark.parametrize("run", [5, 6, 7])  # the first three runs with meteorology
def test_estimator_finds_the_release(loaded, run):
    """A real release the simulator never made: exactly one source reported, and the release's
    place inside its 90 % region and its weighed rate inside the 90 % interval (what a 90 %
    region promises; issue 3 item 4 asks the same of Chilbolton). Rate prior on the releases'
    scale (tens of g/s), as ``benchmarks/peer_pyelq.py --prairie-grass`` gives both estimators."""
    s = run_samplers(loaded, run)
    cfg = EstimatorConfig(rate_scale_g_s=50.0, max_rate_g_s=1000.0)
    est = PlumeEstimator(cfg).fit_beams(sampler_data(s), LocalFrame(42.49, -98.57), margin_m=100.0)
    assert len(est.sources_) == 1
    src = est.sources_[0]
    assert np.hypot(src.x_m, src.y_m) <= src.location_ci90_m
    assert src.rate_g_s_ci90[0] <= s.rate_g_s <= src.rate_g_s_ci90[1]

"""Source apportionment of a campaign's plume crossings: the crossing matrix (plumescout alone),
and positive matrix factorisation with the EPA's esat recovering the emitted mixtures.

esat pins its own numpy/numba/scipy versions, so .ci/run runs the `pmf` tests in an environment of
their own (PLUMESCOUT_TEST_PMF=1); elsewhere they are skipped and say so."""

import os
from importlib import resources

import numpy as np
import pytest
from scipy.optimize import nnls

from plumescout.attribution import load_library
from plumescout.attribution.apportion import crossing_matrix, match_profile
from plumescout.simulate import load_scenario, simulate_flight

DEMO = resources.files("plumescout") / "data"


@pytest.fixture(scope="module")
def demo_campaign():
    sc = load_scenario(DEMO / "demo.toml")
    flight = simulate_flight(sc)
    mixtures = [{"ch4": 1.0, **s.mixture} for s in sc.sources]
    return flight.observations, mixtures, [s.kind for s in sc.sources]


def _as_vector(mix, species):
    return np.array([mix.get(sp, 0.0) for sp in species])


def test_each_crossing_is_a_mix_of_the_emitted_mixtures(demo_campaign):
    obs, mixtures, _kinds = demo_campaign
    cm = crossing_matrix([obs])
    assert cm.species[0] == "ch4" and set(cm.species) == {"ch4", "c2h6", "nh3", "co"}
    assert len(cm) >= 2 * len(mixtures)  # every source crossed at least twice on this survey
    assert np.all(cm.V >= 0) and np.all(cm.U > 0)
    truth = np.array([_as_vector(m, cm.species) for m in mixtures])
    nearest = []
    for row, u in zip(cm.V, cm.U, strict=True):
        # a crossing is a non-negative mix of the sources' mixtures (two plumes may overlap), to
        # within its stated uncertainty
        w, _ = nnls((truth / u).T, row / u)
        z = (row - w @ truth) / u
        assert np.abs(z).max() < 4.0, (row / row[0], w, z)
        nearest.append(int(np.argmax(w)))
    assert set(nearest) == set(range(len(mixtures)))  # every source shows up in the matrix


def test_profiles_are_matched_to_library_classes_by_their_ratios():
    lib = load_library(DEMO / "demo_signatures.toml")
    species = ["ch4", "c2h6", "co", "nh3"]
    assert match_profile(np.array([1.0, 0.05, 0.0, 0.0]), species, lib)[0] == "fossil gas"
    assert match_profile(np.array([1.0, 0.0, 0.0, 0.25]), species, lib)[0] == "livestock"
    assert match_profile(np.array([1.0, 0.0, 0.08, 0.03]), species, lib)[0] == "target"
    # nothing in the library looks like this
    assert match_profile(np.array([1.0, 0.0, 3.0, 2.0]), species, lib)[0] is None


def _esat():
    try:
        import esat  # noqa: F401
    except ImportError:
        if os.environ.get("PLUMESCOUT_TEST_PMF"):
            pytest.fail("esat is missing in the pmf test environment")
        pytest.skip("PMF test skipped: esat is not installed here (pip install 'plumescout[pmf]' in its own env)")


@pytest.mark.pmf
def test_pmf_with_esat_recovers_the_three_mixtures_and_names_them(demo_campaign):
    _esat()
    from plumescout.attribution.apportion import apportion

    obs, mixtures, kinds = demo_campaign
    cm = crossing_matrix([obs])
    lib = load_library(DEMO / "demo_signatures.toml")
    a = apportion(cm, factors=3, library=lib, seeds=5)
    # a good fit: Q(true) about the number of data points (chi-square)
    assert a.q_true < cm.V.size
    truth = np.array([_as_vector(m, cm.species) for m in mixtures])
    truth = truth / truth.sum(axis=1, keepdims=True)
    for k, kind in enumerate(kinds):
        j = int(np.argmin(np.abs(a.profiles - truth[k]).sum(axis=1)))
        assert np.abs(a.profiles[j] - truth[k]).max() < 0.03, (a.profiles, truth)
        assert a.matches[j][0] == kind
    assert sorted(s["class"] for s in a.summary()) == sorted(kinds)


def test_apportion_command_without_esat_says_how_to_get_it(tmp_path, demo_campaign):
    try:
        import esat  # noqa: F401

        pytest.skip("esat is installed here: the refusal cannot be shown")
    except ImportError:
        pass
    from typer.testing import CliRunner

    from plumescout.cli import app
    from plumescout.flightlog import write_flight_csv

    path = write_flight_csv(tmp_path / "f.csv", demo_campaign[0])
    r = CliRunner().invoke(app, ["apportion", str(path)])
    assert r.exit_code == 2
    assert "plumescout[pmf]" in r.output and "Traceback" not in r.output


@pytest.mark.pmf
def test_apportion_command_names_the_profiles(tmp_path, demo_campaign):
    _esat()
    import json

    from typer.testing import CliRunner

    from plumescout.cli import app
    from plumescout.flightlog import write_flight_csv

    path = write_flight_csv(tmp_path / "f.csv", demo_campaign[0])
    lib = DEMO / "demo_signatures.toml"
    r = CliRunner().invoke(
        app, ["apportion", str(path), "--factors", "3", "--signatures", str(lib), "--json", str(tmp_path / "a.json")]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "a.json").read_text())
    assert sorted(f["class"] for f in doc["factors"]) == ["fossil gas", "livestock", "target"]
    assert len(doc["crossings"]) == sum(f["crossings"] for f in doc["factors"])

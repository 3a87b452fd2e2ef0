"""Shared fixtures: paths to the shared field data, and small simulated flights."""

import os
from pathlib import Path

import pytest

from plumescout.simulate import Scenario

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PRAIRIE_GRASS = SHARED / "datasets" / "prairie-grass-1956"
CHILBOLTON = SHARED / "datasets" / "chilbolton-2017" / "source_1"


def single_source_scenario(seed: int = 11, **wind) -> Scenario:
    """One 0.5 g/s ground-level methane leak in a 600 m x 500 m field, surveyed crosswind."""
    return Scenario.model_validate(
        {
            "name": "single",
            "seed": seed,
            "site": {"origin": [40.0, -105.0], "area_m": [[-300, -250], [300, -250], [300, 250], [-300, 250]]},
            "sources": [{"x_m": -60.0, "y_m": 30.0, "height_m": 1.0, "rate_g_s": 0.5}],
            "wind": {"speed_m_s": 3.0, "from_deg": 270.0, **wind},
            "aircraft": {
                "speed_m_s": 6.0,
                "altitude_m": 5.0,
                "min_altitude_m": 5.0,
                "sample_rate_hz": 2.0,
                "endurance_s": 3600.0,
            },
            "flight": {"line_spacing_m": 60.0},
        }
    )


def _shared(path: Path) -> Path:
    """A shared data set; skipped where it is absent, but never on CI (shared/ is always there)."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data set not found at {path}")
        pytest.skip(f"shared data set not found at {path}")
    return path


@pytest.fixture(scope="session")
def prairie_grass_dir():
    return _shared(PRAIRIE_GRASS)


@pytest.fixture(scope="session")
def single_flight():
    from plumescout.simulate import simulate_flight

    return simulate_flight(single_source_scenario())


@pytest.fixture(scope="session")
def chilbolton_dir():
    return _shared(CHILBOLTON)


@pytest.fixture(autouse=True, scope="session")
def _policy_cache(tmp_path_factory):
    """Trained search policies (plumescout.search.perseus) go to a temporary cache, never the
    user's ~/.cache, and are trained once per test session."""
    old = os.environ.get("PLUMESCOUT_CACHE")
    os.environ["PLUMESCOUT_CACHE"] = str(tmp_path_factory.mktemp("policy-cache"))
    yield
    if old is None:
        os.environ.pop("PLUMESCOUT_CACHE", None)
    else:
        os.environ["PLUMESCOUT_CACHE"] = old

"""Attribution of a source to a class from its vector of co-measured enhancements."""

from pathlib import Path

import numpy as np
import pytest

from plumescout.attribution import UNKNOWN, attribute, default_library, load_library
from plumescout.errors import InputError

DATA = Path(__file__).parents[1] / "data" / "signatures"


def draw(lib, cls, rng, amp, sd=0.5):
    """An observed enhancement vector from class ``cls``: its ratios, each varied by its spread
    (log-normal), times an amplitude, plus noise of ``sd`` on every species of the library."""
    c = next(c for c in lib.classes if c.name == cls)
    out = {}
    for s in lib.species:
        r = c.ratios.get(s, 0.0)
        if r and s != c.reference:
            r *= np.exp(rng.normal(0.0, np.log(c.spread_of(s))))
        out[s] = (amp * r + rng.normal(0.0, sd), sd)
    return out


def test_shipped_library_is_valid_and_generic():
    lib = default_library()
    names = [c.name for c in lib.classes]
    assert {"fossil gas", "livestock", "landfill", "combustion"} <= set(names)
    assert set(lib.species) == {"ch4", "c2h6", "nh3", "co2", "co"}


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("reference_not_one.toml", "reference species 'ch4' must have ratio 1"),
        ("duplicate.toml", "class names must be unique: gas"),
        ("negative_ratio.toml", "ratio of 'c2h6' must be > 0"),
        ("broken.toml", "not valid TOML"),
    ],
)
def test_malformed_libraries_are_refused_with_file_and_class(name, match):
    with pytest.raises(InputError, match=match) as e:
        load_library(DATA / name)
    assert name in str(e.value)


def test_classes_are_told_apart_at_sensor_noise_and_the_probabilities_are_calibrated():
    # 300 sources per class, amplitudes 20-200 (reference species, integrated), noise 0.5 on
    # every species: the targets on the attribution model alone — >= 90 % of the sources
    # of library classes attributed correctly (each class >= 80 %: a weak fossil-gas plume whose
    # ethane is lost in the noise looks like landfill gas, rightly), and the predicted
    # probability of the chosen class within 0.1 of how often it is right (bins of 0.2)
    lib = default_library()
    rng = np.random.default_rng(7)
    chosen_p, correct = [], []
    for cls in (c.name for c in lib.classes):
        ok = 0
        for _ in range(300):
            a = attribute(draw(lib, cls, rng, float(np.exp(rng.uniform(np.log(20), np.log(200))))), lib)
            ok += a.source_class == cls
            chosen_p.append(a.probabilities[a.source_class])
            correct.append(a.source_class == cls)
        assert ok / 300 >= 0.8, (cls, ok / 300)
    p, c = np.array(chosen_p), np.array(correct)
    assert c.mean() >= 0.9
    ece = 0.0
    for lo in np.arange(0.2, 1.0, 0.2):
        sel = (p >= lo) & (p < lo + 0.2 + 1e-9)
        if not sel.any():
            continue
        gap = abs(p[sel].mean() - c[sel].mean())
        ece += sel.mean() * gap
        # within 0.1, allowing for the sampling error of the bin's observed frequency
        se = np.sqrt(max(c[sel].mean() * (1 - c[sel].mean()), 0.05) / sel.sum())
        assert gap <= 0.1 + 2 * se, (lo, p[sel].mean(), c[sel].mean(), int(sel.sum()))
    assert ece <= 0.05  # expected calibration error over all bins


def test_a_species_at_background_is_evidence():
    lib = default_library()
    base = {"ch4": (100.0, 0.5), "nh3": (0.0, 0.5), "co2": (0.0, 0.5), "co": (0.0, 0.5)}
    landfill = attribute({**base, "c2h6": (0.0, 0.3)}, lib)
    fossil = attribute({**base, "c2h6": (5.0, 0.3)}, lib)
    assert landfill.source_class == "landfill" and landfill.probabilities["landfill"] > 0.9
    assert fossil.source_class == "fossil gas" and fossil.probabilities["fossil gas"] > 0.9


def test_nothing_fits_means_unknown():
    lib = default_library()
    odd = {"ch4": (0.0, 0.5), "c2h6": (40.0, 0.5), "nh3": (30.0, 0.5), "co2": (0.0, 0.5), "co": (0.0, 0.5)}
    a = attribute(odd, lib)
    assert a.source_class == UNKNOWN and a.probabilities[UNKNOWN] > 0.9


def test_probabilities_do_not_depend_on_the_unit_of_the_integrated_enhancement():
    # scaling every value and uncertainty by the same factor (ppm*s vs ppb*s) changes nothing
    lib = default_library()
    rng = np.random.default_rng(3)
    obs = draw(lib, "livestock", rng, 80.0)
    a = attribute(obs, lib)
    b = attribute({s: (v * 1000.0, e * 1000.0) for s, (v, e) in obs.items()}, lib)
    for k in a.probabilities:
        assert a.probabilities[k] == pytest.approx(b.probabilities[k], abs=1e-6)
    assert sum(a.probabilities.values()) == pytest.approx(1.0)


def test_user_defined_target_class_and_geojson_properties():
    lib = load_library(DATA / "user_target.toml")
    a = attribute({"x1": (50.0, 0.5), "x2": (15.0, 0.5), "ch4": (0.0, 0.5), "c2h6": (0.0, 0.5), "so2": (3, 1)}, lib)
    assert a.source_class == "site of interest"
    assert "so2" not in a.observed  # species the library does not know are left out
    props = a.as_properties()
    assert props["source_class"] == "site of interest"
    assert set(props["class_probabilities"]) == {"fossil gas", "site of interest", UNKNOWN}
    with pytest.raises(ValueError, match="none of the measured species"):
        attribute({"so2": (1.0, 0.1)}, lib)

"""Attribution end to end: a simulated flight over a fossil-gas leak and a livestock site, with
CH4, C2H6 and NH3 sensors on board; analyze tells them apart and writes the classes in the
GeoJSON (source_class, class_probabilities)."""

import json

import numpy as np
import pytest

from plumescout.simulate import Scenario, simulate_flight

SCENARIO = {
    "name": "fossil gas beside livestock",
    "seed": 5,
    "site": {"origin": [51.0, -1.0], "area_m": [[-400, -300], [400, -300], [400, 300], [-400, 300]]},
    "sources": [
        {"x_m": -150, "y_m": 60, "rate_g_s": 0.6, "species": "ch4", "mixture": {"c2h6": 0.05}, "kind": "fossil gas"},
        {"x_m": 120, "y_m": -100, "rate_g_s": 0.6, "species": "ch4", "mixture": {"nh3": 0.2}, "kind": "livestock"},
    ],
    "wind": {"speed_m_s": 3.0, "from_deg": 260.0},
    "aircraft": {"speed_m_s": 6.0, "altitude_m": 5.0, "min_altitude_m": 5.0, "endurance_s": 3600},
    "sensor": {"species": "ch4", "noise_ppm": 0.01},
    "extra_sensors": [
        {"species": "c2h6", "unit": "ppb", "background_ppm": 0.002, "noise_ppm": 0.0005,
         "detection_limit_ppm": 0.002, "resolution_ppm": 0.0001},
        {"species": "nh3", "unit": "ppb", "background_ppm": 0.005, "noise_ppm": 0.001,
         "detection_limit_ppm": 0.005, "resolution_ppm": 0.0001},
    ],
    "flight": {"line_spacing_m": 60.0},
}  # fmt: skip


def test_simulator_emits_each_sources_own_mixture():
    sc = Scenario.model_validate(SCENARIO)
    fl = simulate_flight(sc)
    o = fl.observations
    assert set(o.species) == {"ch4", "c2h6", "nh3"} and o.units["c2h6"] == "ppb"
    # co-emitted: the ethane enhancement is ~5 % of the methane one where only the gas leak is seen
    ch4 = o.species["ch4"] - np.median(o.species["ch4"])
    c2h6 = o.species["c2h6"] - np.median(o.species["c2h6"])
    west = (o.x_m < -20) & (ch4 > 0.2)
    assert west.sum() > 5
    ratio = np.sum(c2h6[west]) / np.sum(ch4[west])
    assert 0.03 < ratio < 0.07
    with pytest.raises(ValueError, match="two sensors measure the same species: ch4"):
        Scenario.model_validate({**SCENARIO, "extra_sensors": [{"species": "ch4"}]})


@pytest.mark.slow
def test_analyze_tells_the_gas_leak_from_the_livestock_site(tmp_path):
    from plumescout.pipeline import analyze

    sc = Scenario.model_validate(SCENARIO)
    fl = simulate_flight(sc)
    res = analyze(fl.observations, tmp_path, truth=fl.truth)
    doc = json.loads((tmp_path / "sources.geojson").read_text())
    assert doc["properties"]["signature_library"] == "generic public examples"
    truth = fl.truth["sources"]
    told = 0
    for f in doc["features"]:
        p = f["properties"]
        if p["probability"] < 0.5:
            continue
        near = min(truth, key=lambda t: np.hypot(p["x_m"] - t["x_m"], p["y_m"] - t["y_m"]))
        assert p["source_class"] == near["kind"], (p, near)
        assert abs(sum(p["class_probabilities"].values()) - 1.0) < 1e-3
        told += 1
    assert told == 2
    assert len(res.sources) >= 2
    # the evidence behind it: observed species vs each class's prediction, per source
    assert res.outputs["attribution"].stat().st_size > 10000
    page = (tmp_path / "report.html").read_text()
    assert "Species evidence per source" in page and "data:image/png;base64," in page


FIRE = {
    **SCENARIO,
    "name": "gas leak beside a fire",
    "sources": [
        SCENARIO["sources"][0],
        # a fire: CO2 with CO and no methane; 30 g/s of CO2 is ~18x the leak's moles
        {"x_m": 120, "y_m": -100, "rate_g_s": 30.0, "species": "co2", "mixture": {"co": 0.04}, "kind": "combustion"},
    ],
    "extra_sensors": [
        SCENARIO["extra_sensors"][0],
        {"species": "co2", "unit": "ppm", "background_ppm": 420.0, "noise_ppm": 0.5,
         "detection_limit_ppm": 1.0, "resolution_ppm": 0.01},
        {"species": "co", "unit": "ppb", "background_ppm": 0.1, "noise_ppm": 0.002,
         "detection_limit_ppm": 0.005, "resolution_ppm": 0.0001},
    ],
}  # fmt: skip


@pytest.mark.slow
def test_a_site_without_methane_is_located_from_its_own_reference_species(tmp_path):
    """The fire emits no methane: the methane estimate cannot see it, so it is located from CO2
    (the combustion class's reference species) and attributed to combustion."""
    from plumescout.pipeline import analyze

    sc = Scenario.model_validate(FIRE)
    fl = simulate_flight(sc)
    res = analyze(fl.observations, tmp_path, truth=fl.truth)
    fire = fl.truth["sources"][1]
    co2 = [s for s in res.sources if s.species == "co2"]
    assert len(co2) == 1
    s = co2[0]
    assert np.hypot(s.x_m - fire["x_m"], s.y_m - fire["y_m"]) <= max(s.location_ci90_m, 15.0)
    assert s.attribution["source_class"] == "combustion"
    assert res.provenance["secondary_estimates"][0]["species"] == "co2"
    # and the leak is still found from methane and told apart
    leak = fl.truth["sources"][0]
    near = [x for x in res.sources if x.species == "ch4" and np.hypot(x.x_m - leak["x_m"], x.y_m - leak["y_m"]) < 30]
    assert near and near[0].attribution["source_class"] == "fossil gas"
    ids = [x.id for x in res.sources]
    assert len(set(ids)) == len(ids)
    doc = json.loads((tmp_path / "sources.geojson").read_text())
    assert "co2" in {f["properties"]["species"] for f in doc["features"]}


def test_a_secondary_species_source_at_the_edge_keeps_its_flag_under_its_new_name():
    """A source another species found is renumbered after the primary species' sources; the flag
    that its 90 % region reaches the edge of its search area follows it to the new name (before,
    the flags were the primary estimate's alone and the renamed source lost its own)."""
    from types import SimpleNamespace

    from plumescout.inference import SourceEstimate
    from plumescout.pipeline import _append_secondary

    def src(i, *flags):
        s = SourceEstimate(f"S{i}", "co2", 0.0, 0.0, 51.0, -1.0, 0.5, 1.0, (0.5, 2.0), 10.0, 0.9)
        s.flags.extend(flags)
        return s

    # as each estimate flags them (its info_ lists the same ids)
    primary = SimpleNamespace(sources_=[src(1), src(2, "region_at_search_edge")], info_={})
    fire = SimpleNamespace(sources_=[src(1, "rate_at_prior_cap"), src(2, "region_at_search_edge")], info_={})
    _append_secondary(primary, [(fire, list(fire.sources_))])
    assert [s.id for s in primary.sources_] == ["S1", "S2", "S3", "S4"]
    assert primary.info_["sources_at_edge"] == ["S2", "S4"]  # fire's S2 is now S4; its S1 (S3) is not at an edge
    assert primary.info_["sources_at_rate_cap"] == ["S3"]  # fire's S1, its rate at the cap, is now S3
    assert primary.sources_[2].flags == ["rate_at_prior_cap"] and primary.sources_[0].flags == []

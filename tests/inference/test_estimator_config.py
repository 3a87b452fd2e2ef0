"""The estimator's settings are checked when made: a value out of range, an unknown name or two
settings that contradict each other are refused with the fields named, before any data is read."""

import pytest
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.errors import ConfigError
from plumescout.inference import EstimatorConfig

DEFAULTS = EstimatorConfig()


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"iterations": 0}, ["iterations"]),
        ({"iterations": 500}, ["iterations", "burn_in"]),  # the default burn-in (1000) would eat it all
        ({"chains": 0}, ["chains"]),
        ({"beam_chains": 0}, ["beam_chains"]),
        ({"margin_m": -1.0}, ["margin_m"]),
        ({"source_height_sd_m": -0.1}, ["source_height_sd_m"]),
        ({"min_probability": 1.5}, ["min_probability"]),
        ({"rate_scale_g_s": 0.0}, ["rate_scale_g_s"]),
        ({"rate_scale_g_s": 200.0}, ["rate_scale_g_s", "max_rate_g_s"]),  # above the default 100 g/s cap
        ({"sensor_response_s": -1.0}, ["sensor_response_s"]),
        ({"beam_theta_update_prob": 1.2}, ["beam_theta_update_prob"]),
        ({"decimate": 0}, ["decimate"]),
        ({"iteration": 100}, ["iteration"]),  # a misspelt name is not silently ignored
    ],
)
def test_an_impossible_setting_is_refused_naming_its_fields(values, fields):
    with pytest.raises(ConfigError) as err:
        EstimatorConfig(**values)
    assert sorted(err.value.fields) == sorted(fields)
    for f in fields:
        assert f in str(err.value)


def test_only_the_offending_fields_are_named():
    with pytest.raises(ConfigError) as err:
        EstimatorConfig(source_height_m=-0.5, margin_m=-3.0)
    assert sorted(err.value.fields) == ["margin_m", "source_height_m"]
    assert "source_height_sd_m" not in str(err.value)


def test_the_settings_are_frozen_and_round_trip_as_plain_data():
    cfg = EstimatorConfig(seed=3, stability="C", beam_chains=None)
    with pytest.raises(ValueError, match="frozen"):
        cfg.seed = 4
    again = EstimatorConfig(**cfg.model_dump())
    assert again == cfg and again.stability == "C" and again.beam_chains is None
    assert cfg.model_copy(update={"species": "c2h6"}).species == "c2h6"


def test_the_defaults_are_valid_and_the_edges_of_each_range_accepted():
    assert DEFAULTS.burn_in < DEFAULTS.iterations and DEFAULTS.rate_scale_g_s < DEFAULTS.max_rate_g_s
    edge = EstimatorConfig(
        iterations=2, burn_in=1, margin_m=0.0, source_height_sd_m=0.0, min_probability=1.0, max_search_refits=0
    )
    assert edge.iterations == 2 and edge.min_probability == 1.0


@pytest.mark.parametrize(
    ("option", "value"), [("--max-margin", "-5"), ("--rate-scale", "-1"), ("--plume-width-fraction", "0")]
)
def test_analyze_names_the_option_not_the_field(option, value, tmp_path):
    flight = tmp_path / "never-read.csv"  # the settings are refused before any file is read
    res = CliRunner().invoke(app, ["analyze", str(flight), "--out", str(tmp_path / "out"), option, value])
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert option in flat and "Traceback" not in res.output
    assert "_g_s" not in flat and "_margin_m" not in flat and "prior_median" not in flat

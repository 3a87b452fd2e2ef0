"""Autopilot logs (tlog, DataFlash, ULog) written by pymavlink's and pyulog's own writers from a
simulated flight: read by content, same samples as the flight, same sources as its CSV, and every
kind of damage reported without a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from plumescout.errors import InputError
from plumescout.flightlog import write_flight_csv
from plumescout.flightlog.autopilot import LogMapping, load_mapping, read_dataflash, read_tlog, read_ulog, sniff_format
from plumescout.pipeline import load_observations

sys.path.insert(0, str(Path(__file__).parent))
from autopilot_logs import write_dataflash, write_tlog, write_ulog  # noqa: E402

DATA = Path(__file__).parents[1] / "data" / "logs"
WRITERS = {"tlog": (write_tlog, ".tlog"), "dataflash": (write_dataflash, ".bin"), "ulog": (write_ulog, ".ulg")}


@pytest.fixture(scope="module")
def logs(tmp_path_factory, request):
    from plumescout.simulate import simulate_flight
    from tests.conftest import single_source_scenario

    fl = simulate_flight(single_source_scenario())
    d = tmp_path_factory.mktemp("logs")
    out = {"csv": write_flight_csv(d / "flight.csv", fl.observations)}
    for kind, (w, _ext) in WRITERS.items():
        # a name that lies about the format: the reader must go by content
        p = d / f"flight-{kind}.dat"
        w(p, fl.observations)
        out[kind] = p
    return fl, out


@pytest.mark.parametrize("kind", list(WRITERS))
def test_format_is_told_by_content(logs, kind):
    _, files = logs
    assert sniff_format(files[kind]) == kind
    assert sniff_format(files["csv"]) == "csv"


@pytest.mark.parametrize("kind", list(WRITERS))
def test_logs_hold_the_same_samples_as_the_flight(logs, kind):
    fl, files = logs
    o = fl.observations
    ob = load_observations(files[kind], origin=(o.frame.lat0, o.frame.lon0))
    assert len(ob) == len(o), [str(r) for r in ob.repairs]
    assert not ob.repairs
    np.testing.assert_allclose(ob.species["ch4"], o.species["ch4"], atol=1e-6)  # float32 in the logs
    # positions are logged at 5 Hz and interpolated back: within the GPS noise of the flight (0.5 m)
    assert np.max(np.hypot(ob.x_m - o.x_m, ob.y_m - o.y_m)) < 1.5
    np.testing.assert_allclose(ob.z_m, o.z_m, atol=0.01)
    dwd = (ob.wind_from_deg - o.wind_from_deg + 180.0) % 360.0 - 180.0
    assert np.median(np.abs(dwd)) < 3.0  # the wind is logged at 2 Hz
    np.testing.assert_allclose(np.median(ob.wind_speed_m_s), np.median(o.wind_speed_m_s), rtol=0.05)


@pytest.mark.slow
def test_each_log_gives_the_same_sources_as_the_csv(logs):
    from plumescout.inference import EstimatorConfig, PlumeEstimator

    fl, files = logs
    o = fl.observations
    found = {}
    for kind in ("csv", *WRITERS):
        ob = load_observations(files[kind], origin=(o.frame.lat0, o.frame.lon0))
        est = PlumeEstimator(EstimatorConfig(iterations=1500, burn_in=500, seed=1)).fit(ob)
        # the confident sources must agree; a borderline candidate (0.3 <= p < 0.5) may come and go
        # with the sub-metre differences of positions resampled at the logs' own rates, and must be weak
        found[kind] = [(s.x_m, s.y_m, s.rate_g_s) for s in est.sources_ if s.probability >= 0.5]
        main = max(s.rate_g_s for s in est.sources_)
        assert all(s.rate_g_s < 0.1 * main for s in est.sources_ if s.probability < 0.5), kind
    ref = found["csv"]
    assert len(ref) == 1
    for kind, srcs in found.items():
        assert len(srcs) == len(ref), kind
        for (x, y, q), (x0, y0, q0) in zip(srcs, ref, strict=True):
            assert np.hypot(x - x0, y - y0) < 10.0, kind
            assert abs(np.log10(q / q0)) < 0.1, kind


def test_corrupted_tlog_records_are_skipped_and_reported(logs, tmp_path):
    fl, _ = logs
    p = tmp_path / "corrupt.tlog"
    write_tlog(p, fl.observations, corrupt_at=set(range(200, 260)))
    ob = read_tlog(p)
    msgs = " ".join(str(r) for r in ob.repairs)
    assert "corrupted" in msgs
    # everything else is kept: at most the damaged records' samples are lost
    assert len(ob) >= len(fl.observations) - 60


def test_truncated_logs_keep_what_came_before(logs, tmp_path):
    fl, _ = logs
    n = len(fl.observations)
    p = tmp_path / "cut.tlog"
    write_tlog(p, fl.observations, truncate=7)
    ob = read_tlog(p)
    assert "ends mid-record" in " ".join(str(r) for r in ob.repairs)
    assert len(ob) >= n - 2
    q = tmp_path / "cut.bin"
    write_dataflash(q, fl.observations, truncate=5)
    ob2 = read_dataflash(q)
    assert len(ob2) >= n - 2


def test_time_running_backwards_is_put_in_order(logs, tmp_path):
    fl, _ = logs
    p = tmp_path / "jumps.bin"
    write_dataflash(p, fl.observations, time_jumps={500, 900})
    ob = read_dataflash(p)
    assert "time ran backwards" in " ".join(str(r) for r in ob.repairs)
    assert np.all(np.diff(ob.time_s) > 0)
    assert len(ob) >= len(fl.observations) - 4


def test_gps_dropout_drops_only_the_samples_in_it(logs, tmp_path):
    fl, _ = logs
    p = tmp_path / "gps.ulg"
    write_ulog(p, fl.observations, gps_dropout=(100.0, 110.0))
    ob = read_ulog(p)
    msgs = " ".join(str(r) for r in ob.repairs)
    assert "GPS gap" in msgs
    inside = (fl.observations.time_s > 100.3) & (fl.observations.time_s < 109.7)
    assert len(ob) == len(fl.observations) - int(inside.sum())


def test_saturated_readings_are_set_aside(logs, tmp_path):
    fl, _ = logs
    p = tmp_path / "sat.tlog"
    obs = fl.observations
    write_tlog(p, obs)
    m = load_mapping(DATA / "mapping_saturation.toml")
    ob = read_tlog(p, m)
    n_sat = int(np.sum(obs.species["ch4"] >= 2.2))
    assert n_sat > 0
    assert f"{n_sat} reading(s) at the sensor's saturation" in " ".join(str(r) for r in ob.repairs)
    assert len(ob) == len(obs) - n_sat


def test_missing_wind_is_a_clear_error_naming_the_file(logs, tmp_path):
    fl, _ = logs
    p = tmp_path / "nowind.bin"
    write_dataflash(p, fl.observations)
    m = LogMapping.model_validate({"dataflash": {"wind_message": "NOPE"}})
    with pytest.raises(InputError, match="no wind messages") as e:
        read_dataflash(p, m)
    assert "nowind.bin" in str(e.value)


def test_bad_mapping_and_garbage_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="mapping_bad.toml.*gas_mesage"):
        load_mapping(DATA / "mapping_bad.toml")
    # garbage that is not a log of any kind ends in the CSV reader, which refuses it with the file
    with pytest.raises(InputError, match="garbage.tlog"):
        load_observations(DATA / "garbage.tlog")


def test_cli_analyze_reads_a_log_by_content_and_refuses_a_bad_mapping(logs, tmp_path):
    from typer.testing import CliRunner

    from plumescout.cli import app

    _, files = logs
    bad = CliRunner().invoke(
        app, ["analyze", str(files["ulog"]), "--out", str(tmp_path), "--mapping", str(DATA / "mapping_bad.toml")]
    )
    assert bad.exit_code != 0 and "mapping_bad.toml" in bad.output and "Traceback" not in bad.output

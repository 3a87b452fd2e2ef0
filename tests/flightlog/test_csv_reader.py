"""The open flight-log CSV reader (FORMATS.md section 1), on real files in tests/data/flightlogs."""

from pathlib import Path

import numpy as np
import pytest

from plumescout.errors import InputError
from plumescout.flightlog import read_flight_csv, write_flight_csv
from plumescout.met import WindSeries

DATA = Path(__file__).parent.parent / "data" / "flightlogs"


def test_good_file():
    obs = read_flight_csv(DATA / "good.csv")
    assert len(obs) == 20
    assert set(obs.species) == {"ch4", "c2h6"}
    assert obs.units == {"ch4": "ppm", "c2h6": "ppb"}
    # ppb stored as ppm: the file's 2.0 ppb background is 0.002 ppm
    assert obs.species["c2h6"][0] == pytest.approx(0.002)
    assert obs.time_s[0] == 0.0 and obs.time_s[-1] == pytest.approx(9.5)
    assert obs.t0.isoformat() == "2026-05-14T09:30:00+00:00"
    assert obs.repairs == []
    # origin defaults to the median position; local coordinates are consistent with it
    lat, lon = obs.frame.to_wgs84(obs.x_m, obs.y_m)
    np.testing.assert_allclose(lat, obs.lat, atol=1e-9)
    np.testing.assert_allclose(lon, obs.lon, atol=1e-9)


def test_repairs_are_made_and_reported():
    obs = read_flight_csv(DATA / "repairable.csv")
    kinds = {r.kind: r for r in obs.repairs}
    assert set(kinds) == {"order", "duplicate", "duplicate_time", "gap_filled", "bad_value", "missing_gas"}
    assert np.all(np.diff(obs.time_s) > 0)
    # the unparsable time is reported with its line and column
    assert "unparsable time" in str(kinds["bad_value"]) and "line 18" in str(kinds["bad_value"])
    assert "line 10" in str(kinds["duplicate"])
    # 21 data rows: one exact duplicate, one repeated time, one bad time dropped -> 18 samples
    assert len(obs) == 18
    # the GPS dropout was interpolated, not dropped
    assert kinds["gap_filled"].count == 1
    assert np.all(np.isfinite(obs.x_m))
    # a NaN gas reading stays a NaN sample
    assert np.isnan(obs.species["ch4"]).sum() == 1


@pytest.mark.parametrize(
    ("name", "line", "column", "words"),
    [
        ("empty.csv", 1, None, "empty"),
        ("header_only.csv", 2, None, "no samples"),
        ("wrong_header.csv", 1, "time", "required column 'time'"),
        ("bad_time.csv", 2, "time", "unparsable time"),
        ("lat_out_of_range.csv", 2, "lat", "out of range"),
        ("no_species.csv", 1, None, "no gas species column"),
        ("no_wind.csv", 1, "wind_speed_m_s", "no wind"),
        ("all_nan_species.csv", 2, "ch4_ppm", "no reading in any row"),
        ("one_row.csv", 2, None, "at least 2"),
        ("ragged.csv", 2, None, "fields"),
        ("msl_only.csv", 1, "alt_msl_m", "ground elevation"),
        ("not_utf8.csv", 2, None, "UTF-8"),
    ],
)
def test_unusable_files_are_refused_with_file_line_and_column(name, line, column, words):
    with pytest.raises(InputError) as err:
        read_flight_csv(DATA / name)
    e = err.value
    assert e.path.endswith(name)
    assert e.line == line
    assert e.column == column
    assert words in str(e)
    assert name in str(e) and f"line {line}" in str(e)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_flight_csv(tmp_path / "nope.csv")


def test_seconds_time_and_separate_wind():
    obs = read_flight_csv(DATA / "seconds_time.csv")
    assert obs.t0 is None
    assert obs.time_s[0] == pytest.approx(100.0)
    w = WindSeries(np.array([0.0, 1000.0]), np.array([4.0, 4.0]), np.array([90.0, 90.0]))
    obs2 = read_flight_csv(DATA / "no_wind.csv", wind=w)
    assert np.all(obs2.wind_speed_m_s == 4.0) and np.all(obs2.wind_from_deg == 90.0)


def test_msl_with_ground_elevation():
    obs = read_flight_csv(DATA / "msl_only.csv", ground_elevation_m=100.0)
    assert np.all(obs.z_m == pytest.approx(20.0))


def test_long_gps_gap_is_dropped(tmp_path):
    lines = ["time,lat,lon,alt_agl_m,ch4_ppm,wind_speed_m_s,wind_from_deg"]
    for i in range(30):
        pos = "," if 5 <= i < 20 else f"51.1,{-1.4 + i * 1e-5:.6f}"
        lines.append(f"{i:.1f},{pos},20,2.0,3,250")
    p = tmp_path / "gap.csv"
    p.write_text("\n".join(lines) + "\n")
    obs = read_flight_csv(p)
    assert len(obs) == 15
    assert any(r.kind == "gap_dropped" and r.count == 15 for r in obs.repairs)


def test_write_read_round_trip(tmp_path):
    obs = read_flight_csv(DATA / "good.csv")
    p = write_flight_csv(tmp_path / "out.csv", obs)
    back = read_flight_csv(p, origin=(obs.frame.lat0, obs.frame.lon0))
    np.testing.assert_allclose(back.x_m, obs.x_m, atol=1e-3)
    np.testing.assert_allclose(back.species["ch4"], obs.species["ch4"], rtol=1e-6)
    np.testing.assert_allclose(back.species["c2h6"], obs.species["c2h6"], rtol=1e-6)
    np.testing.assert_allclose(back.time_s, obs.time_s, atol=1e-3)

"""The beam data set reader (``read_beam_dataset``) on real files, good and malformed: each
refusal names the file, the line and the column, and ``analyze`` shows it without a traceback."""

import json

import pytest
from typer.testing import CliRunner

from plumescout.cli import app
from plumescout.errors import InputError
from plumescout.inference.data import read_beam_dataset

BEAMS = "beam,x0_m,y0_m,z0_m,x1_m,y1_m,z1_m\n1,0,0,1.5,100,0,1.5\n2,0,50,1.5,100,50,1.5\n"
MEASUREMENTS = "minute,beam,ch4_path_avg_ppm\n0,1,2.0\n0,2,2.1\n1,1,2.2\n1,2,nan\n2,1,2.3\n2,2,2.0\n"
WIND = (
    "minute,wind_speed_m_s,wind_from_deg,tan_sigma_theta_h,tan_sigma_theta_v\n"
    "0,3.0,270,0.2,0.1\n1,3.2,265,0.2,0.1\n2,nan,270,0.2,0.1\n"
)


def _write(d, beams=BEAMS, measurements=MEASUREMENTS, wind=WIND):
    d.mkdir(exist_ok=True)
    (d / "beams.csv").write_text(beams)
    (d / "measurements.csv").write_text(measurements)
    (d / "wind.csv").write_text(wind)
    return d


def test_a_good_data_set_is_read_and_its_gaps_counted(tmp_path):
    data = read_beam_dataset(_write(tmp_path / "set"))
    # six readings: one is nan (minute 1, beam 2), two fall in minute 2 whose wind speed is nan
    assert len(data) == 3 and data.readings_skipped == 3
    assert sorted(data.reading_time_s.tolist()) == [0.0, 0.0, 60.0]


def test_a_window_counts_only_its_own_gaps(tmp_path):
    data = read_beam_dataset(_write(tmp_path / "set"), minutes=(1, 1))
    assert len(data) == 1 and data.readings_skipped == 1  # minute 1: beam 1 read, beam 2 nan


# each case: the file, its text, then the file, line and column the refusal must name and words in it
MALFORMED = {
    "a beam id given twice": ("beams.csv", BEAMS + "2,0,80,1.5,100,80,1.5\n", 4, "beam", "given twice"),
    "a beam end not a number": ("beams.csv", BEAMS.replace("100,50", "100,north"), 3, "y1_m", "not a number"),
    "a beam end nan": ("beams.csv", BEAMS.replace("100,50", "100,nan"), 3, "y1_m", "must be numbers"),
    "a beam end under the ground": ("beams.csv", BEAMS.replace("1,0,0,1.5", "1,0,0,-1"), 2, "z0_m", "above the"),
    "a column missing": ("beams.csv", BEAMS.replace(",z1_m", ""), 1, "z1_m", "is missing"),
    "a row too short": ("measurements.csv", MEASUREMENTS + "3,1\n", 8, None, "2 fields"),
    "a reading of a beam not in beams.csv": (
        "measurements.csv",
        MEASUREMENTS.replace("2,2,2.0", "2,7,2.0"),
        7,
        "beam",
        "beam 7 is not in beams.csv",
    ),
    "a minute with no wind row": (
        "measurements.csv",
        MEASUREMENTS + "\n5,1,2.0\n",
        9,  # the blank line before it is counted: the line is the editor's
        "minute",
        "minute 5 has no wind",
    ),
    "no species column": ("measurements.csv", MEASUREMENTS.replace("ch4_", "co2_"), 1, "ch4_path_avg_ppm", "missing"),
    "every reading nan": (
        "measurements.csv",
        "minute,beam,ch4_path_avg_ppm\n0,1,nan\n2,1,2.0\n",
        None,
        None,
        "no usable reading",
    ),
    "a calm minute": ("wind.csv", WIND.replace("1,3.2,", "1,0,"), 3, "wind_speed_m_s", "above 0"),
    "a negative wind speed": ("wind.csv", WIND.replace("1,3.2,", "1,-3.2,"), 3, "wind_speed_m_s", "above 0"),
    "a minute given twice": ("wind.csv", WIND + "1,3.0,270,0.2,0.1\n", 5, "minute", "given twice"),
    "a negative turbulence tangent": (
        "wind.csv",
        WIND.replace("265,0.2,0.1", "265,0.2,-0.1"),
        3,
        "tan_sigma_theta_v",
        "above 0",
    ),
    "an empty file": ("wind.csv", "", 1, None, "empty"),
    "a header only": ("wind.csv", WIND.splitlines()[0] + "\n", 2, None, "no rows"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_file_is_refused_naming_file_line_and_column(case, tmp_path):
    name, text, line, column, words = MALFORMED[case]
    d = _write(tmp_path / "set")
    (d / name).write_text(text)
    with pytest.raises(InputError) as err:
        read_beam_dataset(d)
    e = err.value
    assert e.path.endswith(name) and e.line == line and e.column == column
    assert words in str(e)


def test_a_missing_file_is_named(tmp_path):
    d = _write(tmp_path / "set")
    (d / "wind.csv").unlink()
    with pytest.raises(InputError, match=r"wind\.csv: missing"):
        read_beam_dataset(d)


@pytest.mark.parametrize("case", ["a beam id given twice", "a calm minute", "a minute with no wind row"])
def test_analyze_shows_the_refusal_without_a_traceback(case, tmp_path):
    name, text, line, column, words = MALFORMED[case]
    d = _write(tmp_path / "set")
    (d / name).write_text(text)
    res = CliRunner().invoke(app, ["analyze", str(d), "--origin", "51.1445,-1.437", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    flat = " ".join(res.output.split())  # rich wraps long lines
    assert name in flat and f"line {line}, column '{column}'" in flat and words in flat
    assert "Traceback" not in res.output
    assert not (tmp_path / "out" / "sources.geojson").exists()


def test_analyze_counts_the_readings_left_out(tmp_path):
    d = _write(tmp_path / "set")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(d), "--origin", "51.1445,-1.437", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 beam readings; 3 left out" in " ".join(res.output.split())
    props = json.loads((out / "sources.geojson").read_text())["properties"]
    assert props["readings"] == 3 and props["readings_skipped"] == 3

"""benchmarks/compare_suites.py: paired comparison of two suite runs, and its errors."""

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

from plumescout.evaluation import score_flight
from plumescout.inference.estimate import SourceEstimate

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_suites.py"


def _module():
    spec = importlib.util.spec_from_file_location("compare_suites", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(tmp_path, name, found):
    truth = [{"x_m": 0.0, "y_m": 0.0, "rate_g_s": 1.0}, {"x_m": 300.0, "y_m": 0.0, "rate_g_s": 1.0}]
    flights = []
    for i, k in enumerate(found):
        ests = [SourceEstimate("S", "ch4", t["x_m"] + 5, 0, 0, 0, 1, 1.0, (0.5, 2), 20, 0.9) for t in truth[:k]]
        flights.append(asdict(score_flight(f"eval-{i}", truth, ests, 1.0, 100)))
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps({"flights": flights}))
    return str(p)


def test_prints_the_paired_difference(tmp_path, capsys):
    base, variant = _run(tmp_path, "base", [2, 2, 2, 2]), _run(tmp_path, "variant", [1, 2, 2, 2])
    assert _module().main([base, variant]) == 0
    out = capsys.readouterr().out
    row = [line for line in out.splitlines() if line.startswith(f"| {base}")][0]
    assert row.split("|")[2].strip().startswith("-0.125")  # recall 8/8 -> 7/8


def test_a_malformed_run_is_named_not_a_traceback(tmp_path, capsys):
    base = _run(tmp_path, "base", [2, 2])
    bad = tmp_path / "bad.json"
    bad.write_text('{"flights": [{"name": "eval-0"}]}')  # a flight without its scores
    assert _module().main([base, str(bad)]) == 2
    assert "bad.json: not an estimator_suite.json" in capsys.readouterr().err
    assert _module().main([base]) == 2  # runs come in pairs


def _pool_module():
    spec = importlib.util.spec_from_file_location("pool_suites", SCRIPT.parent / "pool_suites.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pooled_table_counts_every_flight_of_every_run(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    ra = _run(a, "estimator_suite", [2, 2])  # 4 of 4 found
    rb = _run(b, "estimator_suite", [1, 1])  # 2 of 4 found
    # the second run's flights are other seeds
    data = json.loads(Path(rb).read_text())
    for f in data["flights"]:
        f["name"] = f["name"].replace("eval-", "eval-1")
    Path(rb).write_text(json.dumps(data))
    out = tmp_path / "pooled.md"
    assert _pool_module().main([ra, rb, "--out", str(out)]) == 0
    cells = [ln.split("|") for ln in out.read_text().splitlines() if ln.startswith("| ")]
    rows = {c[1].strip(): c[2].strip() for c in cells}
    assert rows["flights"] == "4" and rows["true_sources"] == "8"
    assert rows["recall"] == "0.75"  # 6 of 8


def test_pooling_a_run_twice_or_a_malformed_run_is_an_error(tmp_path, capsys):
    ra = _run(tmp_path, "a", [2, 2])
    assert _pool_module().main([ra, ra, "--out", str(tmp_path / "p.md")]) == 2
    assert "share flights" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert _pool_module().main([ra, str(bad), "--out", str(tmp_path / "p.md")]) == 2
    assert "bad.json: not an estimator_suite.json" in capsys.readouterr().err
    assert not (tmp_path / "p.md").exists()

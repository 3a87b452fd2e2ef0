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

"""The evaluation suite's table over several committed runs pooled: one table of all their flights.

    python benchmarks/pool_suites.py [RUN/estimator_suite.json ...] [--out FILE.md]

Without arguments it pools the three 30-flight sets the defaults have committed tables for
(seeds 1000-1029: results/estimator_suite.json, 2000-2029: results/holdout/, 3000-3029:
results/holdout2/) and writes results/estimator_suite_pooled.md. A 30-flight table moves by a few
hundredths in recall and coverage with the scenarios it happens to draw (its bootstrap interval
says how much); 90 flights pin the estimator's figures down about 1.7x tighter. Nothing is
re-run: the flights' scores are read from the JSON files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare_suites import load  # noqa: E402
from estimator_suite import crossing_lines, reliability_lines, table_lines  # noqa: E402

from plumescout.errors import PlumescoutError  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DEFAULT_RUNS = [RESULTS / "estimator_suite.json", RESULTS / "holdout" / "estimator_suite.json",
                RESULTS / "holdout2" / "estimator_suite.json"]  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="estimator_suite.json files (default: the three committed sets)")
    ap.add_argument("--out", default=str(RESULTS / "estimator_suite_pooled.md"))
    a = ap.parse_args(argv)
    paths = [Path(p) for p in a.runs] or DEFAULT_RUNS
    try:
        scores = [s for p in paths for s in load(p)]
    except PlumescoutError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = [s.name for s in scores]
    if len(set(names)) != len(names):
        print("error: the runs share flights; pool runs of different seeds", file=sys.stderr)
        return 2
    headers = []
    for p in paths:
        md = p.with_suffix(".md")
        run = [ln for ln in md.read_text(encoding="utf-8").splitlines() if ln.startswith("Run ")] if md.exists() else []
        headers.append(f"- {p.parent.name}/{p.name}: {run[0] if run else '(no table beside it)'}")
    command = "python benchmarks/pool_suites.py" + "".join(f" {r}" for r in a.runs)
    lines = [
        "# Estimator evaluation suite, runs pooled",
        "",
        f"`{command}` pools {len(scores)} flights of {len(paths)} runs, their scores as committed (nothing re-run):",
        "",
        *headers,
        "",
        *table_lines(scores),
        "",
        *crossing_lines(scores),
        "",
        *reliability_lines(scores),
        "",
        "Wall times are those of the runs pooled (see each run's table for the load it ran under);",
        "speed is measured alone by `benchmarks/bench_speed.py`.",
    ]
    Path(a.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

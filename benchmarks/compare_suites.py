"""Paired comparison of two evaluation-suite runs on the same flights.

    python benchmarks/compare_suites.py BASE/estimator_suite.json VARIANT/estimator_suite.json [...]

Several pairs may follow (BASE1 VARIANT1 BASE2 VARIANT2 ...): each pair is compared on its own
flights, and the pooled line resamples all their flights together. Prints a Markdown table of
variant minus base with a 95 % paired-bootstrap interval (the same flights drawn for both runs),
which is what decides whether a change to the estimator helps: two runs of one estimator on
different flights differ by more than most changes do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plumescout.errors import PlumescoutError
from plumescout.evaluation import RATE_METRICS, FlightScore, paired_differences


def load(path) -> list[FlightScore]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return [FlightScore(**f) for f in data["flights"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PlumescoutError(f"{p}: not an estimator_suite.json ({e})") from None


def table(rows) -> str:
    lines = ["| runs | " + " | ".join(RATE_METRICS) + " |", "|---|" + "---|" * len(RATE_METRICS)]
    for label, d in rows:
        cells = [f"{d[k][0]:+.3g} [{d[k][1]:+.3g}, {d[k][2]:+.3g}]" for k in RATE_METRICS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="BASE VARIANT [BASE VARIANT ...] estimator_suite.json files")
    a = ap.parse_args(argv)
    if len(a.runs) % 2:
        print("give runs in pairs: BASE VARIANT [BASE VARIANT ...]", file=sys.stderr)
        return 2
    try:
        pairs = [(load(a.runs[i]), load(a.runs[i + 1])) for i in range(0, len(a.runs), 2)]
        rows = [(f"{a.runs[2 * i]} -> {a.runs[2 * i + 1]}", paired_differences(b, v)) for i, (b, v) in enumerate(pairs)]
        if len(pairs) > 1:
            pooled_base = [s for b, _ in pairs for s in b]
            rows.append(("pooled", paired_differences(pooled_base, [s for _, v in pairs for s in v])))
    except (PlumescoutError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("Variant minus base, 95 % paired-bootstrap interval over flights:\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

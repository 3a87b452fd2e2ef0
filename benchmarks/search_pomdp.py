"""The published olfactory-search benchmark: the grid POMDP of Vergassola, Villermaux & Shraiman
(Nature 2007) scored as Loisy & Eloy (Proc. R. Soc. A 2022) score it with OTTO — mean number of
steps to find the source, agent at the centre after a first non-zero hit, episode over when
p(found) > 1 - 1e-6.

    python benchmarks/search_pomdp.py [--quick]

Runs each policy through ``plumescout bench search`` (the same code path as the command line)
and writes benchmarks/results/search_pomdp.md with the command that gives each number.
Reference (OTTO, 1-D, lambda/dx = 2, R dt = 2): infotaxis 13.21 +- 0.15, space-aware infotaxis
7.30 +- 0.08, near-optimal 7.15.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

REF_1D = {"infotaxis": (13.21, 0.15), "space-aware": (7.30, 0.08)}
CASES = [
    (1, 2.0, 2.0, "infotaxis", 48000),
    (1, 2.0, 2.0, "space-aware", 16000),
    (1, 2.0, 2.0, "lookahead", 16000),
    (1, 2.0, 2.0, "cast-and-surge", 4000),
    (2, 1.0, 2.0, "infotaxis", 6400),
    (2, 1.0, 2.0, "space-aware", 12800),
    (2, 1.0, 2.0, "lookahead", 12800),
    (2, 1.0, 2.0, "cast-and-surge", 2000),
]


def compare(dims, pol, r) -> str:
    """Against OTTO's number: inside its CI, and consistent (difference within the two CIs
    combined in quadrature, i.e. no significant difference at 95 %)."""
    ref = REF_1D.get(pol) if dims == 1 else None
    if not ref:
        return ""
    diff = r["mean_steps"] - ref[0]
    inside = abs(diff) <= ref[1]
    consistent = abs(diff) <= (ref[1] ** 2 + r["ci95"] ** 2) ** 0.5
    return (
        f"{ref[0]} +- {ref[1]}: {'inside' if inside else 'outside'} its CI; difference {diff:+.2f} "
        f"{'not significant' if consistent else 'SIGNIFICANT'}"
    )


def write_table(rows, out) -> None:
    lines = [
        "# Olfactory-search POMDP benchmark (Vergassola et al. 2007; Loisy & Eloy 2022)",
        "",
        f"`python benchmarks/search_pomdp.py` on {machine()}.",
        "Mean number of steps to find the source, its 95 % confidence half-width (1.96 standard errors, as OTTO",
        "prints it), the fraction of episodes cut (stuck or out of time), and the episodes run.",
        "",
        "| dims | lambda/dx | R dt | policy | mean steps | ci95 | p_fail | episodes | OTTO reference | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dims, lam, rate, pol, r, wall, verdict, _ in rows:
        lines.append(
            f"| {dims} | {lam:g} | {rate:g} | {pol} | {r['mean_steps']:.2f} | {r['ci95']:.2f} | {r['p_fail']:.4f} "
            f"| {r['episodes']} | {verdict or '-'} | {wall:.0f} |"
        )
    lines += ["", "Commands:", ""] + [f"    {c}" for *_, c in rows] + [""]
    Path(out).write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the episodes (smoke run)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "search_pomdp.md"))
    args = ap.parse_args(argv)
    rows = []
    for dims, lam, rate, pol, n in CASES:
        n = max(200, n // 10) if args.quick else n
        cmd = ["plumescout", "bench", "search", "--dims", str(dims), "--lambda-over-dx", f"{lam:g}",
               "--rate-dt", f"{rate:g}", "--policy", pol, "--episodes", str(n), "--json"]  # fmt: skip
        t0 = time.perf_counter()
        exe = Path(sys.executable).with_name("plumescout")
        r = json.loads(subprocess.run([str(exe), *cmd[1:]], check=True, capture_output=True, text=True).stdout)
        wall = time.perf_counter() - t0
        verdict = compare(dims, pol, r)
        rows.append((dims, lam, rate, pol, r, wall, verdict, " ".join(cmd)))
        print(dims, pol, r, f"{wall:.0f}s", verdict, flush=True)
    write_table(rows, args.out)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

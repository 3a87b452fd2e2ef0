"""The published olfactory-search benchmark: the grid POMDP of Vergassola, Villermaux & Shraiman
(Nature 2007) scored as Loisy & Eloy (Proc. R. Soc. A 2022) score it with OTTO — mean number of
steps to find the source, agent at the centre after a first non-zero hit, episode over when
p(found) > 1 - 1e-6.

    python benchmarks/search_pomdp.py [--quick]

Runs each policy through ``plumescout bench search`` (the same code path as the command line)
and writes benchmarks/results/search_pomdp.md with the command that gives each number, and the
best policy (Perseus) against space-aware infotaxis on the same episodes. The Perseus policy is
trained on its first use for a setting (about 15 minutes in 2-D on 2 cores, seconds in 1-D) and
cached (``plumescout.search.perseus.cache_dir``).
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

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

REF_1D = {"infotaxis": (13.21, 0.15), "space-aware": (7.30, 0.08)}
NEAR_OPTIMAL_1D = 7.15  # Loisy & Eloy (2022), 1-D lambda/dx = 2, R dt = 2 (no interval published)
CASES = [
    (1, 2.0, 2.0, "infotaxis", 48000),
    (1, 2.0, 2.0, "space-aware", 16000),
    (1, 2.0, 2.0, "lookahead", 16000),
    (1, 2.0, 2.0, "cast-and-surge", 4000),
    (2, 1.0, 2.0, "infotaxis", 6400),
    (2, 1.0, 2.0, "space-aware", 12800),
    (2, 1.0, 2.0, "lookahead", 12800),
    (2, 1.0, 2.0, "cast-and-surge", 2000),
    (1, 2.0, 2.0, "perseus", 16000),
    (2, 1.0, 2.0, "perseus", 4000),
]


def compare(dims, pol, r) -> str:
    """Against OTTO's number: inside its CI, and consistent (difference within the two CIs
    combined in quadrature, i.e. no significant difference at 95 %)."""
    if dims == 1 and pol == "perseus":
        return f"near-optimal {NEAR_OPTIMAL_1D}: difference {r['mean_steps'] - NEAR_OPTIMAL_1D:+.2f} +- {r['ci95']:.2f}"
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


def paired(rows, policy="perseus", base="space-aware") -> list[dict]:
    """Per setting, ``policy`` minus ``base`` on the same episodes: episode i draws from the i-th
    child of the seed whatever the count, so the first n episodes of both pair up (the same first
    hit, and the same later hits while the two move alike)."""
    out = []
    for dims, lam, rate, pol, r, *_ in rows:
        if pol != policy:
            continue
        b = next(x[4] for x in rows if x[:3] == (dims, lam, rate) and x[3] == base)
        n = min(len(r["steps"]), len(b["steps"]))
        d = np.array(r["steps"][:n]) - np.array(b["steps"][:n])
        out.append(
            {
                "dims": dims, "lambda_over_dx": lam, "rate_dt": rate, "episodes": n,
                "policy_steps": float(np.mean(r["steps"][:n])), "base_steps": float(np.mean(b["steps"][:n])),
                "policy_p_fail": r["p_fail"], "base_p_fail": b["p_fail"],
                "diff": float(d.mean()), "diff_ci95": float(1.96 * d.std() / np.sqrt(n)),
            }
        )  # fmt: skip
    return out


def write_table(rows, out, pairs=()) -> None:
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
    if pairs:
        lines += [
            "Paired: the best policy against space-aware infotaxis on the same episodes (seed 0; episode i",
            "meets the same first hit, and the same hits while the two move alike), steps of the best minus",
            "steps of space-aware infotaxis with the 95 % interval of that difference:",
            "",
            "| dims | lambda/dx | R dt | episodes | best | space-aware | difference | p_fail best / space-aware |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in pairs:
            lines.append(
                f"| {p['dims']} | {p['lambda_over_dx']:g} | {p['rate_dt']:g} | {p['episodes']} "
                f"| {p['policy_steps']:.3f} | {p['base_steps']:.3f} | {p['diff']:+.3f} +- {p['diff_ci95']:.3f} "
                f"| {p['policy_p_fail']:.4f} / {p['base_p_fail']:.4f} |"
            )
        lines += ["", "(From the rows above, run with `--per-episode`.)", ""]
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
        if pol in ("perseus", "space-aware"):
            cmd.append("--per-episode")
        t0 = time.perf_counter()
        exe = Path(sys.executable).with_name("plumescout")
        r = json.loads(subprocess.run([str(exe), *cmd[1:]], check=True, capture_output=True, text=True).stdout)
        wall = time.perf_counter() - t0
        verdict = compare(dims, pol, r)
        rows.append((dims, lam, rate, pol, r, wall, verdict, " ".join(cmd)))
        print(dims, pol, {k: v for k, v in r.items() if k != "steps"}, f"{wall:.0f}s", verdict, flush=True)
    pairs = paired(rows)
    print("paired", pairs, flush=True)
    write_table(rows, args.out, pairs)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluation suite: the estimator on >= 30 simulated missions, in parallel on dask.distributed.

    python benchmarks/estimator_suite.py [--flights 30] [--scheduler ADDRESS] [--out benchmarks/results]

Scenarios come from plumescout.evaluation.random_scenario (1-4 sources, wind 1.5-8 m/s with
meander, sensor noise and lag, altitudes 5/8/12 m, single-pass and repeated surveys). A LocalCluster
is started unless --scheduler names a running one. Writes estimator_suite.md (the table, with the
machine) and estimator_suite.json (per flight).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plumescout.evaluation import (
    RATE_METRICS,
    bootstrap_intervals,
    existence_reliability,
    merge_overrides,
    run_one,
    summarise_scores,
)

TARGETS = {
    "recall": ">= 0.9",
    "precision": ">= 0.8",
    "median_location_error_m": "<= 35 (single-pass)",
    "median_abs_log10_rate_ratio": "<= 0.2",
    "location_coverage_90": "0.85 - 0.95",
    "rate_coverage_90": "0.85 - 0.95",
    "ellipse_coverage_90": "0.85 - 0.95",
}


def machine() -> str:
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
    )


def table_lines(scores) -> list[str]:
    """The suite's table (all flights, single-pass, repeat, with bootstrap intervals) in Markdown."""
    overall = summarise_scores(scores)
    single = summarise_scores([s for s in scores if s.pattern == "single-pass"])
    repeat = summarise_scores([s for s in scores if s.pattern == "repeat"])
    ci = bootstrap_intervals(scores)

    def f(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = [
        "| metric | all flights | 95 % interval (flights resampled) | single-pass | repeat | target |",
        "|---|---|---|---|---|---|",
    ]
    # the 90 % ellipse (flights): how often it holds the truth, and its area over the circle's
    for k in ("flights", "true_sources", *RATE_METRICS, "ellipse_coverage_90", "median_ellipse_area_ratio",
              "median_wall_time_s"):  # fmt: skip
        iv = f"{ci[k][0]:.3g} - {ci[k][1]:.3g}" if k in ci else ""
        lines.append(f"| {k} | {f(overall[k])} | {iv} | {f(single[k])} | {f(repeat[k])} | {TARGETS.get(k, '')} |")
    return [
        *lines,
        "",
        "The interval resamples the flights (2,000 bootstrap draws): the spread a table of this many flights",
        "has from the scenarios it happens to draw. Compare two runs on the same flights with",
        "`python benchmarks/compare_suites.py BASE.json VARIANT.json` (paired, much narrower).",
    ]


def crossing_lines(scores) -> list[str]:
    """The sources by the plume crossings each accounts for (``single_crossing`` flags those at
    one or none): found ones' errors and coverage, and how many of the false ones each group
    holds. Empty for runs that predate the count."""
    found = [(len(d), e, abs(r), c, rc) for s in scores
             for d, e, r, c, rc in zip(s.crossing_distances_m, s.location_errors_m, s.log10_rate_ratios,
                                       s.location_covered, s.rate_covered, strict=False)]  # fmt: skip
    false = [n for s in scores for n in s.unmatched_crossings if n is not None]
    if not found and not false:
        return []
    title = "Sources by the plume crossings each accounts for (those at one or none are flagged `single_crossing`):"
    return crossing_table(found, false, title, "")


def reliability_lines(scores) -> list[str]:
    """How often the sources reported at each probability of existing were real (matched to a
    truth): the reliability of the probability the report gives beside each source. Empty for
    runs that predate the record."""
    title = (
        "The reported probability that a source exists, against how often such sources were real "
        "(matched to a truth within 100 m; 95 % Wilson interval):"
    )
    return reliability_table(existence_reliability(scores), title)


def reliability_table(rows, title: str) -> list[str]:
    """:func:`reliability_lines`' table of :func:`plumescout.evaluation.reliability_rows`' rows."""
    if not rows:
        return []
    n = sum(r["sources"] for r in rows)
    mean_p = sum(r["mean_probability"] * r["sources"] for r in rows) / n
    real = sum(r["matched"] for r in rows) / n
    lines = [
        title,
        "",
        "| probability | sources | mean probability | real | fraction real | 95 % interval |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["bin"]
        name = f"< {hi:g}" if lo == 0 else f"{lo:g} - {hi:g}"
        lines.append(
            f"| {name} | {r['sources']} | {r['mean_probability']:.2f} | {r['matched']} | "
            f"{r['fraction_matched']:.2f} | {r['interval'][0]:.2f} - {r['interval'][1]:.2f} |"
        )
    lines += ["", f"All {n} reported: mean probability {mean_p:.2f}, fraction real {real:.2f}."]
    return lines


def crossing_table(found, false, title: str, committed: str) -> list[str]:
    """``found``: (crossings, location error, abs log10 rate ratio, location covered, rate
    covered) per source found; ``false``: the crossings of each false source. A table by
    crossings: 0-1 (flagged), 2, >= 3; ``committed`` labels the coverage columns."""
    lines = [
        title,
        "",
        f"| crossings | found | median error (m) | median abs log10 rate | location cov.{committed} "
        f"| rate cov.{committed} | false sources |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, lo, hi in (("0-1", 0, 1), ("2", 2, 2), (">= 3", 3, 10**9)):
        g = [f for f in found if lo <= f[0] <= hi]
        nf = sum(lo <= n <= hi for n in false)
        if g:
            lines.append(
                f"| {name} | {len(g)} | {np.median([f[1] for f in g]):.1f} | {np.median([f[2] for f in g]):.3f} | "
                f"{np.mean([f[3] for f in g]):.2f} | {np.mean([f[4] for f in g]):.2f} | {nf} |"
            )
        else:
            lines.append(f"| {name} | 0 | | | | | {nf} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flights", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--scheduler", default=None, help="address of a dask scheduler (default: a LocalCluster)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--config", default="{}", help="EstimatorConfig overrides as JSON, e.g. '{\"chains\": 3}'")
    ap.add_argument(
        "--scenario",
        default="{}",
        help="scenario field overrides as nested JSON (robustness runs), e.g. "
        '\'{"wind": {"relative_dispersion": 0.4}}\'',
    )
    ap.add_argument(
        "--aircraft",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: a second aircraft flies each scenario at the same time (another altitude, its own meander "
        "and noise) and both logs are estimated from together (plumescout.evaluation.second_aircraft)",
    )
    ap.add_argument(
        "--draw-relative-dispersion",
        nargs=2,
        type=float,
        metavar=("LO", "HI"),
        help="each flight's puffs get a relative dispersion drawn uniformly in [LO, HI] (from its own "
        "stream seeded by the flight's seed: the rest of the scenario is unchanged); robustness runs",
    )
    args = ap.parse_args(argv)
    overrides = json.loads(args.config)
    scenario_overrides = json.loads(args.scenario)

    from dask.distributed import Client, LocalCluster, as_completed

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        # one thread per worker process; numba's own threads are pinned to 1 per worker
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")
        client = Client(
            LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        )
    t0 = time.perf_counter()
    seeds = list(range(args.first_seed, args.first_seed + args.flights))
    per_flight = [scenario_overrides] * len(seeds)
    if args.draw_relative_dispersion:
        lo, hi = args.draw_relative_dispersion
        draw = [float(np.random.default_rng([s, 1]).uniform(lo, hi)) for s in seeds]
        per_flight = [merge_overrides(scenario_overrides, {"wind": {"relative_dispersion": r}}) for r in draw]
    futures = client.map(run_one, seeds, [overrides] * len(seeds), per_flight, [args.aircraft] * len(seeds), pure=False)
    scores = []
    for i, fut in enumerate(as_completed(futures), start=1):
        s = fut.result()
        scores.append(s)
        print(
            f"[{i}/{len(seeds)}] {s.name}: {s.matched}/{s.n_true} found, {s.n_est - s.matched} false, "
            f"errors {np.round(s.location_errors_m, 1).tolist()} m, {s.wall_time_s:.1f} s",
            flush=True,
        )
    total = time.perf_counter() - t0
    client.close()
    scores.sort(key=lambda s: s.name)
    overall = summarise_scores(scores)
    single = summarise_scores([s for s in scores if s.pattern == "single-pass"])
    repeat = summarise_scores([s for s in scores if s.pattern == "repeat"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "estimator_suite.json").write_text(
        json.dumps(
            {"overall": overall, "single_pass": single, "repeat": repeat, "flights": [asdict(s) for s in scores]},
            indent=1,
            default=float,
        )
        + "\n"
    )
    command = (
        f"python benchmarks/estimator_suite.py --flights {args.flights} --first-seed {args.first_seed}"
        + (f" --config '{args.config}'" if overrides else "")
        + (f" --scenario '{args.scenario}'" if scenario_overrides else "")
        + (f" --aircraft {args.aircraft}" if args.aircraft != 1 else "")
        + (" --draw-relative-dispersion {:g} {:g}".format(*args.draw_relative_dispersion)
           if args.draw_relative_dispersion else "")
    )  # fmt: skip
    lines = [
        "# Estimator evaluation suite",
        "",
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')} with `{command}` on {machine()}; "
        f"{args.workers} dask workers; total wall time {total:.0f} s.",
        "",
        *table_lines(scores),
        "",
        *crossing_lines(scores),
        "",
        *reliability_lines(scores),
        "",
        "Per flight: see estimator_suite.json.",
    ]
    (out / "estimator_suite.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

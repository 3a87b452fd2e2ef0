"""The loopback test's run, repeated: how often live mode over MAVLink ends near the source.

    python benchmarks/live_loopback.py [--guide lookahead] [--runs 14] [--warp 40] [--small-perseus]

tests/live/test_live.py flies one run: a pymavlink vehicle (tests/live/sim_vehicle.py, its clock
``warp`` times the wall clock) through the puff simulator's plume, guided by `run_live` over UDP
on loopback, paused for 2 s on the way, until 90 % of the posterior lies within 10 m and the
vehicle has come within 20 m of the source (or 60 s of wall time). The run is not repeatable (the
waypoints reach the vehicle when the loop has computed them), so one run says little about how
often the test can fail; this repeats it and tallies the error of the located source against the
test's 15 m and the reported 90 % radius. Needs the repository's tests/ beside src/ (run from
the checkout). Writes benchmarks/results/live_loopback_<guide>.md with the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from estimator_suite import machine  # noqa: E402
from live_accuracy import write_record  # noqa: E402
from tests.live.sim_vehicle import guided_run, small_perseus  # noqa: E402


def one_run(guide: str, warp: float) -> dict:
    run = guided_run(guide, warp)
    e = run.est.estimate()
    out = {"ended": run.ended, "wall_s": round(run.wall_s, 1), "located": e["located"],
           "vehicle_s": round(run.vehicle.t, 1), "closest_m": round(run.vehicle.closest_m, 2)}  # fmt: skip
    if e["located"]:
        sx, _ = run.source_xy()
        out.update(error_m=round(run.error_m(), 2), radius90_m=round(e["radius90_m"], 2),
                   downwind_m=round(e["x_m"] - sx, 2))  # fmt: skip
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guide", default="lookahead")
    ap.add_argument("--runs", type=int, default=14)
    ap.add_argument("--warp", type=float, default=40.0)
    ap.add_argument(
        "--small-perseus",
        action="store_true",
        help="perseus trained as the test trains it (tests/search/test_field.py SMALL)",
    )
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    if a.small_perseus:
        from plumescout.search import field

        field.FIELD_POLICIES["perseus"] = small_perseus()
    t0 = time.time()
    rows = []
    for _ in range(a.runs):
        rows.append(one_run(a.guide, a.warp))
        print(json.dumps(rows[-1]), flush=True)
    loc = [r for r in rows if r["located"]]
    err = np.array([r["error_m"] for r in loc])
    cmd = " ".join(["python benchmarks/live_loopback.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Live mode over MAVLink on loopback: the test's run repeated",
        "",
        f"`{cmd}` on {machine()}; {time.time() - t0:.0f} s in all.",
        "",
        "| guide | warp | runs | ended | median error (m) | largest (m) | error > 15 m (the test fails) "
        "| source inside the 90 % radius | median wall (s) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {a.guide} | {a.warp:g} | {len(rows)} | {sum(r['ended'] for r in rows)} | {np.median(err):.1f} | "
        f"{err.max():.1f} | {(err > 15).sum()} | {np.mean([r['error_m'] <= r['radius90_m'] for r in loc]):.2f} | "
        f"{np.median([r['wall_s'] for r in rows]):.1f} |",
    ]
    write_record(a.out or f"live_loopback_{a.guide}", lines, cmd, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

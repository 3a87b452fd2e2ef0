"""Seed 1001 (class E) after its follow-up: where the joined fit's posterior puts each watched
source along and across the wind, and which nuisance values that position follows. Throw-away
probe (session 26); run from the repository root with the package importable:
`python benchmarks/results/experiments/along_wind/probe.py SEED [CONFIG_JSON]`."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import follow_up as fu  # noqa: E402


def joined(seed):
    """The survey of suite seed ``seed`` joined to the follow-up `follow_up.py --suite` flies over
    its flagged sources (the same plan and later flights)."""
    from plumescout.evaluation import simulate_scenario
    from plumescout.inference import EstimatorConfig, PlumeEstimator
    from plumescout.observations import join_sorties
    from plumescout.planning.followup import FOLLOW_UP_FLAGS

    sc, _, flight = simulate_scenario(seed)
    obs = flight.observations
    truth = flight.truth["sources"]
    est = PlumeEstimator(EstimatorConfig())
    est.fit(obs)
    m = fu._matches(truth, est)
    flagged = [j for j, s in enumerate(est.sources_) if set(s.flags) & set(FOLLOW_UP_FLAGS)]
    watch = [i for i, j in m.items() if j in flagged]
    _, legs = fu.suite_plan(sc, flight, est, flagged, "fitted", {})
    sorties = [obs]
    for i, (a, wps, _) in enumerate(legs):
        sorties.append(fu.later_flight(sc, wps, a, seed + 2 * 1_000_000 + 10_000 * i, sorties[-1]))
    from_deg = obs.wind.mean()[1]
    return sc, truth, watch, join_sorties(sorties, origin=(obs.frame.lat0, obs.frame.lon0)), from_deg


def report(sc, truth, watch, est, from_deg):
    th = np.array(est.chain_.theta)
    names = est.sampler_.theta_names()
    down = np.radians(from_deg + 180.0)  # unit vector the wind blows toward (east, north)
    u = np.array([np.sin(down), np.cos(down)])
    c = np.array([-u[1], u[0]])
    info = {k: v for k, v in est.info_.items() if isinstance(v, float)}
    out = {"stability_simulated": sc.wind.stability, "info": info}
    m = fu._matches(truth, est)
    for i in watch:
        if i not in m:
            out[str(i)] = "missed"
            continue
        t = np.array([truth[i]["x_m"], truth[i]["y_m"]])
        e = est.sources_[m[i]]
        up, cr, per_th = [], [], []
        for pos, tt in zip(est.chain_.positions, th, strict=True):
            if not len(pos):
                continue
            d = np.hypot(pos[:, 0] - e.x_m, pos[:, 1] - e.y_m)
            j = int(np.argmin(d))
            if d[j] > 3 * max(e.location_ci90_m, 5.0):
                continue
            off = pos[j] - t
            up.append(-off @ u)
            cr.append(off @ c)
            per_th.append(tt)
        up, cr, per_th = np.array(up), np.array(cr), np.array(per_th)
        corr = {
            names[k]: round(float(np.corrcoef(up, per_th[:, k])[0, 1]), 2)
            for k in range(per_th.shape[1])
            if np.std(per_th[:, k]) > 0
        }
        out[str(i)] = {
            "error_m": round(float(np.hypot(e.x_m - t[0], e.y_m - t[1])), 1),
            "upwind_m median": round(float(np.median(up)), 1),
            "crosswind_m median": round(float(np.median(cr)), 1),
            "crossings": e.crossings,
            "corr(upwind, theta)": corr,
        }
    out["theta median"] = {n: round(float(np.median(th[:, k])), 3) for k, n in enumerate(names)}
    return out


if __name__ == "__main__":
    from plumescout.inference import EstimatorConfig, PlumeEstimator

    seed = int(sys.argv[1])
    over = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    sc, truth, watch, obs, from_deg = joined(seed)
    est = PlumeEstimator(EstimatorConfig(**over))
    est.fit(obs)
    print(json.dumps({"seed": seed, "config": over, **report(sc, truth, watch, est, from_deg)}, indent=1))

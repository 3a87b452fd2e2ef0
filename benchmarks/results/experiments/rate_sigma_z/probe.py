"""Throw-away probe: the rate's sensitivity to the vertical spread, d ln q / d ln sigma_z, per
matched source, beside whether its rate interval held (session 25)."""

import dataclasses
import json
import sys

sys.path.insert(0, "/work/main/benchmarks")
from datetime import timedelta
from multiprocessing import Pool

import numpy as np

DATA = "/work/shared/datasets/chilbolton-2017/source_1"


def sensitivity(est, s):
    sp = est.sampler_
    th = np.median(np.array(est.chain_.theta), axis=0)
    out = []
    for i, d in enumerate(sp.data):
        bias, scale, scale_y = sp._dispersion(d, th)
        stab = sp.cfg.stability + th[3]
        resp = sp.response_s(th)
        src = np.array([[s.x_m, s.y_m, s.height_m]])
        k0 = d.coupling(src, stab, bias, scale, resp, scale_y, th[sp.GROWTH])[:, 0]
        k1 = d.coupling(src, stab, bias, scale * 1.1, resp, scale_y / 1.1, th[sp.GROWTH])[:, 0]
        q = s.rate_g_s
        ok = k0 > 1e-9 * k0.max()
        w = (k0[ok] * q) ** 2 / (sp.s0[i] ** 2 + (d.fluctuation_intensity * k0[ok] * q) ** 2)
        dl = np.log(np.maximum(k1[ok], 1e-300) / k0[ok]) / np.log(1.1)
        out.append((float(np.sum(w * dl)), float(np.sum(w))))
    num = sum(a for a, _ in out)
    den = sum(b for _, b in out)
    return -num / den if den > 0 else float("nan")


def record(est, s, q_true, err):
    lo, hi = s.rate_g_s_ci90
    qs = np.asarray(s.samples_rate)
    raw = np.percentile(qs, [5, 95])
    return {
        "S": sensitivity(est, s),
        "log10_ratio": float(np.log10(s.rate_g_s / q_true)),
        "holds": bool(lo <= q_true <= hi),
        "half_log10": float(np.log10(hi / lo) / 2),
        "raw_half_log10": float(np.log10(raw[1] / raw[0]) / 2),
        "raw_holds": bool(raw[0] <= q_true <= raw[1]),
        "error_m": float(err),
        "crossings": s.crossings,
        "stability": est.info_["stability_index_fitted"],
        "height_m": s.height_m,
    }


def suite(seed):
    import follow_up as F

    from plumescout.evaluation import simulate_scenario
    from plumescout.inference import EstimatorConfig, PlumeEstimator

    sc, pattern, flight = simulate_scenario(seed)
    est = PlumeEstimator(EstimatorConfig())
    est.fit(flight.observations)
    truth = flight.truth["sources"]
    rows = []
    for i, j in F._matches(truth, est).items():
        t, s = truth[i], est.sources_[j]
        rows.append(
            {
                "set": "suite",
                "seed": seed,
                "truth": i,
                "altitude": float(flight.plan.altitude_m),
                **record(est, s, t["rate_g_s"], np.hypot(s.x_m - t["x_m"], s.y_m - t["y_m"])),
            }
        )
    return rows


def near(seed, follow=False):
    import follow_up as F
    from calibrate_beams import readings_noise_ppm, simulate
    from combined_survey import ORIGIN, RATE_HZ, SPEED_M_S, flight_observations, lawnmower

    from plumescout.inference import EstimatorConfig, PlumeEstimator
    from plumescout.observations import join_sorties
    from plumescout.planning.followup import FOLLOW_UP_FLAGS, Target
    from plumescout.planning.mission import Aircraft, MissionSettings
    from plumescout.simulate.flight import fly_path

    noise = readings_noise_ppm(DATA)
    sp = {}

    def drone(lo, hi, ws, rng):
        t, xyz = lawnmower(lo, hi, ws, rng, altitude_m=5.0, spacing_m=30.0)
        sp["xy"] = xyz[:, :2]
        return t, xyz

    sim = simulate(seed, DATA, noise, drone=drone)
    obs = flight_observations(sim, np.random.default_rng([seed, 7]))
    t_survey = sim["drone"][0]
    obs = dataclasses.replace(obs, t0=F.BASE + timedelta(seconds=float(t_survey[0])))
    est = PlumeEstimator(EstimatorConfig(seed=seed))
    est.fit(obs)
    x, y = sim["source"][:2]

    def one(est, name):
        if not est.sources_:
            return []
        s = min(est.sources_, key=lambda e: np.hypot(e.x_m - x, e.y_m - y))
        err = np.hypot(s.x_m - x, s.y_m - y)
        if err > 30:
            return []
        return [{"set": name, "seed": seed, **record(est, s, sim["rate_g_s"], err)}]

    rows = one(est, "near_survey")
    if not follow:
        return rows
    flagged = [s for s in est.sources_ if set(s.flags) & set(FOLLOW_UP_FLAGS)]
    if not flagged:
        return rows
    speed, from_deg = obs.wind.mean()
    st = MissionSettings(
        wind_from_deg=from_deg,
        wind_speed_m_s=max(speed, 0.5),
        altitude_m=5.0,
        stability=F._stability(est, "fitted"),
        aircraft=[Aircraft(speed_m_s=SPEED_M_S, min_altitude_m=5.0, endurance_s=1800.0)],
    )
    targets = [Target(s.id, s.x_m, s.y_m, s.location_ci90_m, s.rate_g_s_ci90[0], s.height_m) for s in flagged]
    legs = F._plan(targets, st, tuple(sp["xy"][-1]), {})
    if not legs:
        return rows
    t_f, xy_f = fly_path(np.vstack([p for _, p, _ in legs]), SPEED_M_S, RATE_HZ)
    start = F._window(sim, t_survey, float(t_f[-1]))
    fo = F._observations(sim, start + t_f, xy_f, 5.0, seed, 13)
    est2 = PlumeEstimator(EstimatorConfig(seed=seed))
    est2.fit(join_sorties([obs, fo], ORIGIN))
    return rows + one(est2, "near_follow_up")


def job(a):
    kind, seed = a
    try:
        return suite(seed) if kind == "suite" else near(seed, follow=True)
    except Exception as e:
        return [{"set": kind, "seed": seed, "error": repr(e)}]


if __name__ == "__main__":
    jobs = [("near", s) for s in range(60)] + [("suite", s) for s in range(2000, 2030)]
    with Pool(2) as p, open(sys.argv[1], "w") as f:
        for rows in p.imap_unordered(job, jobs):
            for r in rows:
                f.write(json.dumps(r) + "\n")
                f.flush()

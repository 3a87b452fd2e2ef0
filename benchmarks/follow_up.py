"""Follow-up flights over flagged sources: do they pin the sources down?

    python benchmarks/follow_up.py [--releases 60] [--first-seed 0] [--altitude 5] [--spacing 30]

Each seed is `combined_survey.py`'s simulated release (the Chilbolton 2017 layout and minute
winds, Briggs class-D puffs) and its drone survey (the planner's crosswind lines; by default 5 m
up and 30 m apart, the near-field regime where sources seen on one crossing are most often
wrong). The survey is fitted as `plumescout analyze` fits it (the committed EstimatorConfig).
Where a source is flagged (`single_crossing` or `region_at_search_edge`), two things are flown
for the same added time, in the same window of the record (right after the survey, or right
before it where the record ends first), through the same puffs:

- **follow-up**: `plan_every_target`'s lines over each flagged source (what `plumescout follow-up`
  writes: a source whose weakest plume never reaches the survey's height is flown lower, where
  it would be seen, no lower than 5 m), planned from the survey's own fit and its logged mean wind;
- **control**: the survey's own lines flown again from their start for as long (a crew's other
  choice: fly more of the same).

Each is fitted together with the survey (the sorties joined, as `analyze` joins logs), and
scored against the truth: the release found (an estimate within 30 m), its location error,
whether the 90 % region and rate interval hold the truth, its crossings and flags, and the false
sources. Writes follow_up.md and .json under --out (default benchmarks/results/follow_up/).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_beams import REL, local_cluster, readings_noise_ppm, release_arguments, simulate  # noqa: E402
from combined_survey import ORIGIN, RATE_HZ, SPEED_M_S, flight_observations, lawnmower  # noqa: E402
from estimator_suite import machine  # noqa: E402

from plumescout.inference import EstimatorConfig  # noqa: E402
from plumescout.planning.followup import FOLLOW_UP_FLAGS  # noqa: E402

TURNAROUND_S = 300.0
BASE = datetime(2017, 8, 1, tzinfo=UTC)
ARMS = ("survey", "follow_up", "control")


def _observations(sim, t, xy, altitude_m, seed, stream):
    """Fly ``xy`` at times ``t`` (s of the record) and ``altitude_m`` (one, or one per sample)
    through the release's puffs; log it."""
    from plumescout.simulate.flight import puff_concentration

    xyz = np.column_stack([xy, np.broadcast_to(altitude_m, len(t))])
    c = np.empty(len(t))
    minute = np.floor(t / 60.0)
    for m in np.unique(minute):  # minute by minute, as the survey's own samples were
        sel = minute == m
        c[sel] = puff_concentration(
            t[sel], xyz[sel], tuple(sim["source"]), sim["rate_g_s"], sim["wind"], 3.0, max_age_s=300.0,
            relative_dispersion=REL, masses=sim["masses"],
        )  # fmt: skip
    obs = flight_observations({"drone": (t, xyz, c), "wind": sim["wind"]}, np.random.default_rng([seed, stream, 1]))
    return dataclasses.replace(obs, t0=BASE + timedelta(seconds=float(t[0])))


def _median(v) -> float:
    return float(np.median(v)) if v else float("nan")


def _window(sim, t_survey, duration_s):
    """Start (s of the record) of an added flight of ``duration_s``: after the survey if the
    record lasts, else before it."""
    t_end = float(sim["wind"].time_s[-1]) - 60.0
    after = float(t_survey[-1]) + TURNAROUND_S
    return after if after + duration_s <= t_end else float(t_survey[0]) - TURNAROUND_S - duration_s


def _raw(e, est) -> dict:
    """For calibration: the estimate's posterior before the regions' factors and floors — its
    90 % radius (90 % of the samples within it), 5-95 % rate interval and median rate — and the
    fit's widening, and the location's for crossings near the source."""
    from plumescout.inference.estimate import _region, _widen

    xy, q = np.asarray(e.samples_xy), np.asarray(e.samples_rate)
    if not len(xy):
        return {}
    _, radius = _region(xy, 1.0)  # the estimator's own radius and interval, at factor 1
    lo, hi = _widen(q, 1.0)
    return {"radius_raw_m": radius, "rate_raw_ci90": [lo, hi], "rate_g_s": e.rate_g_s,
            "region_widening": est.info_.get("region_widening", 1.0),
            "near_crossing_widening": getattr(e, "near_crossing_widening", 1.0)}  # fmt: skip


def _score(est, sim, wall_s) -> dict:
    x, y = sim["source"][:2]
    out = {"wall_s": round(wall_s, 2), "n_sources": len(est.sources_), "found": False}
    near = sorted(est.sources_, key=lambda e: np.hypot(e.x_m - x, e.y_m - y))
    if near and np.hypot(near[0].x_m - x, near[0].y_m - y) <= 30.0:
        e = near[0]
        err = float(np.hypot(e.x_m - x, e.y_m - y))
        lo, hi = e.rate_g_s_ci90
        out.update(
            found=True,
            error_m=err,
            radius_m=e.location_ci90_m,
            region_holds=bool(err <= e.location_ci90_m),
            log10_rate_ratio=float(np.log10(e.rate_g_s / sim["rate_g_s"])),
            rate_holds=bool(lo <= sim["rate_g_s"] <= hi),
            crossings=e.crossings,
            flags=list(e.flags),
            probability=round(float(e.probability), 4),
            **_raw(e, est),
        )
        near = near[1:]
    out["false"] = [{"crossings": o.crossings, "flags": list(o.flags), "probability": round(float(o.probability), 4)}
                    for o in near]  # fmt: skip
    return out


def _plan(targets, st, takeoff_m, row) -> list[tuple[float, np.ndarray, int]]:
    """What `plumescout follow-up` writes for ``targets`` (`plan_every_target`), as the paths to
    fly, one per altitude (the survey's first, then any lower), with their lines: a target whose
    weakest plume never reaches the survey's height is flown where it would be seen (recorded
    under "lower"), one seen at no allowed height is left out (listed as not planned; recorded,
    "unplannable")."""
    from plumescout.planning.followup import plan_every_target

    plans, refused = plan_every_target(targets, st, takeoff_m=takeoff_m)
    if refused:
        row["unplannable"] = list(refused)
    by_alt: dict[float, list] = {}
    for p in plans:
        by_alt.setdefault(float(p.mission.settings.altitude_m), []).append(p.mission)
    lower = {t.id: a for p in plans if (a := float(p.mission.settings.altitude_m)) != st.altitude_m for t in p.targets}
    if lower:
        row["lower"] = lower
    return [(a, np.vstack([m.path_m for m in ms]), sum(m.n_lines for m in ms)) for a, ms in by_alt.items()]


def _stability(est, how: str):
    """The stability the follow-up is planned with: the survey fit's index ("fitted", what
    `plumescout follow-up` reads from the GeoJSON), else the class letter given."""
    return round(est.info_["stability_index_fitted"], 2) if how == "fitted" else how


def run_one(
    seed: int,
    data_dir: str,
    noise_ppm: float,
    altitude_m: float,
    spacing_m: float,
    stability: str = "fitted",
    region: str = "circle",
) -> dict:
    from plumescout.inference import EstimatorConfig, PlumeEstimator
    from plumescout.observations import join_sorties
    from plumescout.planning.followup import FOLLOW_UP_FLAGS, Target
    from plumescout.planning.mission import Aircraft, MissionSettings
    from plumescout.simulate.flight import fly_path

    survey_path = {}

    def drone(lo, hi, ws, rng):  # the survey, keeping its planned path for the control arm
        t, xyz = lawnmower(lo, hi, ws, rng, altitude_m=altitude_m, spacing_m=spacing_m)
        survey_path["xy"] = xyz[:, :2]
        return t, xyz

    sim = simulate(seed, data_dir, noise_ppm, drone=drone)
    obs = flight_observations(sim, np.random.default_rng([seed, 7]))
    t_survey = sim["drone"][0]
    obs = dataclasses.replace(obs, t0=BASE + timedelta(seconds=float(t_survey[0])))
    row = {"seed": seed, "source": sim["source"], "rate_g_s": sim["rate_g_s"]}

    def fit(o):
        est = PlumeEstimator(EstimatorConfig(seed=seed))
        t0 = time.perf_counter()
        est.fit(o)
        return est, time.perf_counter() - t0

    est, wall = fit(obs)
    row["survey"] = _score(est, sim, wall)
    flagged = [s for s in est.sources_ if set(s.flags) & set(FOLLOW_UP_FLAGS)]
    row["flagged"] = [{"id": s.id, "flags": list(s.flags), "radius_m": s.location_ci90_m} for s in flagged]
    if not flagged:
        return row
    speed, from_deg = obs.wind.mean()
    st = MissionSettings(
        wind_from_deg=from_deg, wind_speed_m_s=max(speed, 0.5), altitude_m=altitude_m,
        stability=_stability(est, stability),
        # the aircraft as `plumescout follow-up` assumes it: no lower than 5 m, or the survey's height
        aircraft=[Aircraft(speed_m_s=SPEED_M_S, min_altitude_m=min(5.0, altitude_m), endurance_s=1800.0)],
    )  # fmt: skip
    # seen at the logged height, as `plumescout analyze` records it (flight_altitude_m)
    # (its 90 % circle, or with --region ellipse its ellipse, as `plumescout follow-up --region`)
    targets = [Target.of_source(s, float(np.median(obs.z_m)), ellipse=region == "ellipse") for s in flagged]
    legs = _plan(targets, st, tuple(survey_path["xy"][-1]), row)
    if not legs:
        return row
    # the missions flown one after the other, each at its altitude
    t_f, xy_f, z_f = [], [], []
    for a, path, _ in legs:
        t, xy = fly_path(path, SPEED_M_S, RATE_HZ)
        t_f.append(t + (t_f[-1][-1] + 1.0 / RATE_HZ if t_f else 0.0))
        xy_f.append(xy)
        z_f.append(np.full(len(t), a))
    t_f, xy_f, z_f = np.concatenate(t_f), np.vstack(xy_f), np.concatenate(z_f)
    duration = float(t_f[-1])
    start = _window(sim, t_survey, duration)
    row["added_flight_s"] = round(duration, 1)
    row["lines"] = sum(n for _, _, n in legs)
    follow = _observations(sim, start + t_f, xy_f, z_f, seed, 13)
    est, wall = fit(join_sorties([obs, follow], ORIGIN))
    row["follow_up"] = _score(est, sim, wall)
    # the control: the survey's lines again from their start, for as long
    t_c, xy_c = fly_path(survey_path["xy"], SPEED_M_S, RATE_HZ)
    keep = t_c <= duration
    again = _observations(sim, start + t_c[keep], xy_c[keep], altitude_m, seed, 17)
    est, wall = fit(join_sorties([obs, again], ORIGIN))
    row["control"] = _score(est, sim, wall)
    return row


def _arm_stats(rows, arm) -> dict:
    got = [r[arm] for r in rows]
    found = [g for g in got if g["found"]]
    return {
        "releases": len(got),
        "found": len(found),
        "median_error_m": _median([g["error_m"] for g in found]),
        "median_abs_log10_rate": _median([abs(g["log10_rate_ratio"]) for g in found]),
        "region_coverage": float(np.mean([g["region_holds"] for g in found])) if found else float("nan"),
        "rate_coverage": float(np.mean([g["rate_holds"] for g in found])) if found else float("nan"),
        "median_crossings": _median([g["crossings"] for g in found]),
        "still_flagged": sum(bool(set(g["flags"]) & set(FOLLOW_UP_FLAGS)) for g in found),
        "false_sources": sum(len(g["false"]) for g in got),
    }


def low_probability_lines(real: dict, false: dict, n_flights: int) -> list[str]:
    """The table of what the added flights did to sources flagged ``low_probability``: ``real``
    per arm, the probability of each such true source after it (None: missed); ``false`` per arm,
    the probabilities of the false sources in the same flights."""
    if not n_flights:
        return []
    k = EstimatorConfig().low_probability
    lines = [
        f"## Sources flagged `low_probability` (p < {k:g}): confirmed or gone? ({n_flights} flights)",
        "",
        f"A true source is confirmed when found at p >= {k:g}; the false sources are those of the same flights.",
        "",
        f"| fit | true sources found | confirmed (p >= {k:g}) | median p | false sources | false at p >= {k:g} |",
        "|---|---|---|---|---|---|",
    ]
    labels = ("survey alone", "survey + follow-up", "survey + its lines again (control)")
    for arm, label in zip(ARMS, labels, strict=True):
        got = [p for p in real[arm] if p is not None]
        lines.append(
            f"| {label} | {len(got)}/{len(real[arm])} | {sum(p >= k for p in got)} | "
            f"{_median(got):.2f} | {len(false[arm])} | {sum(p >= k for p in false[arm])} |"
        )
    return [*lines, ""]


def _low(flags) -> bool:
    return "low_probability" in (flags or [])


def _lower_line(rows) -> list[str]:
    """A sentence on the targets the survey's height could not see: flown lower, or not at all."""
    low = [(r["seed"], i, a) for r in rows for i, a in r.get("lower", {}).items()]
    left = [(r["seed"], i) for r in rows for i in r.get("unplannable", [])]
    if not (low or left):
        return []
    said = ", ".join(f"seed {s} {i} at {a:g} m" for s, i, a in low) or "none"
    return [
        f"Targets whose weakest plume (the low end of the rate) never reaches the survey's height, flown lower as "
        f"`plumescout follow-up` plans them: {said}; seen at no allowed height, not flown: "
        + (", ".join(f"seed {s} {i}" for s, i in left) or "none")
        + ".",
        "",
    ]


def write(rows, args, wall_s: float) -> None:
    rows = sorted(rows, key=lambda r: r["seed"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flown = [r for r in rows if "follow_up" in r]
    # the flagged sources that were the release, and the seeds whose only flagged sources were false
    true_flagged = [r for r in flown if r["survey"]["found"] and r["survey"].get("flags") and
                    set(r["survey"]["flags"]) & set(FOLLOW_UP_FLAGS)]  # fmt: skip
    stats = {arm: _arm_stats(flown, arm) for arm in ARMS} if flown else {}
    stats_true = {arm: _arm_stats(true_flagged, arm) for arm in ARMS} if true_flagged else {}
    name = f"follow_up_{rows[0]['seed']}-{rows[-1]['seed']}_altitude{args.altitude:g}_spacing{args.spacing:g}"
    run = {"altitude": args.altitude, "spacing": args.spacing, "region": args.region, "wall_s": wall_s,
           "machine": _machine(args)}  # fmt: skip
    (out / f"{name}.json").write_text(
        json.dumps({"run": run, "summary": {"flown": stats, "release_flagged": stats_true}, "releases": rows}) + "\n"
    )
    added = [r["added_flight_s"] for r in flown]
    lines = [
        f"# Follow-up flights over flagged sources ({args.altitude:g} m up, lines {args.spacing:g} m apart)",
        "",
        f"`python benchmarks/follow_up.py --releases {len(rows)} --first-seed {rows[0]['seed']} "
        f"--altitude {args.altitude:g} --spacing {args.spacing:g} --region {args.region}` on {_machine(args)}; "
        f"total wall time {wall_s:.0f} s.",
        "",
        f"{len(rows)} releases; the survey's fit flagged a source in {len(flown)} "
        f"(the release itself in {len(true_flagged)}). Added flight per flown seed: median "
        f"{np.median(added) / 60 if added else float('nan'):.1f} min (range "
        f"{min(added, default=0) / 60:.1f}-{max(added, default=0) / 60:.1f}); the control flies as long.",
        "",
        *_lower_line(rows),
    ]
    groups = (("Every seed with a flagged source", stats), ("Seeds where the release itself was flagged", stats_true))
    labels = ("survey alone", "survey + follow-up", "survey + its lines again (control)")
    for title, st in groups:
        if not st:
            continue
        lines += [
            f"## {title} ({st['survey']['releases']})",
            "",
            "| fit | found | median error (m) | median abs log10 rate | region cov. | rate cov. | median crossings "
            "| release still flagged | false sources |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for arm, label in zip(ARMS, labels, strict=True):
            s = st[arm]
            lines.append(
                f"| {label} | {s['found']}/{s['releases']} | {s['median_error_m']:.1f} | "
                f"{s['median_abs_log10_rate']:.3f} | {s['region_coverage']:.2f} | {s['rate_coverage']:.2f} | "
                f"{s['median_crossings']:.0f} | {s['still_flagged']} | {s['false_sources']} |"
            )
        lines.append("")
    low = [r for r in flown if any(_low(f["flags"]) for f in r["flagged"])]
    real = {a: [r[a].get("probability") if r[a]["found"] else None for r in low if _low(r["survey"].get("flags"))]
            for a in ARMS}  # fmt: skip
    false = {a: [f["probability"] for r in low for f in r[a]["false"] if "probability" in f] for a in ARMS}
    lines += low_probability_lines(real, false, len(low))
    lines += [
        "## Per seed (flown)",
        "",
        "| seed | flagged | added min | survey: error / crossings | follow-up | control |",
        "|---|---|---|---|---|---|",
    ]

    def cell(g):
        if not g["found"]:
            return f"missed ({len(g['false'])} false)"
        return f"{g['error_m']:.1f} m / {g['crossings']}" + (f" (+{len(g['false'])} false)" if g["false"] else "")

    for r in flown:
        fl = ", ".join(f"{f['id']} {'/'.join(f['flags'])}" for f in r["flagged"])
        lines.append(
            f"| {r['seed']} | {fl} | {r['added_flight_s'] / 60:.1f} | {cell(r['survey'])} | {cell(r['follow_up'])} "
            f"| {cell(r['control'])} |"
        )
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:40]))


# -- the suite's far-field flights (--suite) ------------------------------------------------------
def _matches(truth, est, match_m=100.0):
    """truth index -> estimate index (Hungarian, within ``match_m``), as the suite scores."""
    from scipy.optimize import linear_sum_assignment

    if not truth or not est.sources_:
        return {}
    d = np.array([[np.hypot(t["x_m"] - e.x_m, t["y_m"] - e.y_m) for e in est.sources_] for t in truth])
    r, c = linear_sum_assignment(d)
    return {int(i): int(j) for i, j in zip(r, c, strict=True) if d[i, j] <= match_m}


def _suite_score(truth, est, wall_s, watch: list[int]) -> dict:
    """The flight's recall and false sources, and for each truth in ``watch`` its estimate (keyed
    by the truth's index as a string, as the row reads back from JSON)."""
    m = _matches(truth, est)
    per = {}
    for i in watch:
        t = truth[i]
        if i not in m:
            per[str(i)] = {"found": False}
            continue
        e = est.sources_[m[i]]
        err = float(np.hypot(e.x_m - t["x_m"], e.y_m - t["y_m"]))
        lo, hi = e.rate_g_s_ci90
        per[str(i)] = {
            "found": True, "error_m": err, "radius_m": e.location_ci90_m,
            "region_holds": bool(err <= e.location_ci90_m),
            "log10_rate_ratio": float(np.log10(e.rate_g_s / t["rate_g_s"])),
            "rate_holds": bool(lo <= t["rate_g_s"] <= hi), "crossings": e.crossings, "flags": list(e.flags),
            "probability": round(float(e.probability), 4), **_raw(e, est),
        }  # fmt: skip
    false = [j for j in range(len(est.sources_)) if j not in m.values()]
    return {"wall_s": round(wall_s, 2), "matched": len(m), "false": len(false), "watch": per,
            "false_probability": [round(float(est.sources_[j].probability), 4) for j in false]}  # fmt: skip


def suite_plan(sc, flight, est, flagged: list[int], stability: str, row: dict, region: str = "circle"):
    """A suite flight's follow-up over its estimates ``flagged`` (indices), as `plumescout
    follow-up` plans it with the aircraft of the scenario: (the survey's path, the legs of
    :func:`_plan`, which records what it flew lower or not at all in ``row``)."""
    from plumescout.planning.followup import Target
    from plumescout.planning.mission import Aircraft, MissionSettings

    alt, ac = float(flight.plan.altitude_m), sc.aircraft
    speed, from_deg = flight.observations.wind.mean()
    st = MissionSettings(
        wind_from_deg=from_deg, wind_speed_m_s=max(speed, 0.5), altitude_m=alt,
        stability=_stability(est, stability),
        aircraft=[Aircraft(speed_m_s=ac.speed_m_s, min_altitude_m=min(5.0, alt), endurance_s=ac.endurance_s)],
    )  # fmt: skip
    survey = np.vstack(flight.plan.sorties)
    seen_at = float(np.median(flight.observations.z_m))  # (flight_altitude_m, as `plumescout analyze` records it)
    targets = [Target.of_source(est.sources_[j], seen_at, ellipse=region == "ellipse") for j in flagged]
    return survey, _plan(targets, st, tuple(survey[-1]), row)


def later_flight(sc, wps, altitude_m: float, seed_k: int, after):
    """A later flight of scenario ``sc`` along waypoints ``wps``: the same sources and mean wind,
    its own meander, puffs and noise; logged after the flight ``after`` (clock times for the
    join)."""
    from plumescout.evaluation import merge_overrides
    from plumescout.simulate import Scenario, simulate_flight

    extra = {"seed": seed_k, "aircraft": {"altitude_m": altitude_m, "min_altitude_m": min(altitude_m, 5.0)},
             "flight": {"pattern": "waypoints", "waypoints_m": wps.tolist()}}  # fmt: skip
    o = simulate_flight(Scenario.model_validate(merge_overrides(sc.model_dump(), extra))).observations
    return dataclasses.replace(o, t0=after.t0 + timedelta(seconds=float(after.time_s[-1]) + TURNAROUND_S))


def run_suite_one(
    seed: int, stability: str = "fitted", flags: tuple[str, ...] | None = None, region: str = "circle"
) -> dict:
    from plumescout.evaluation import simulate_scenario
    from plumescout.inference import EstimatorConfig, PlumeEstimator
    from plumescout.observations import join_sorties
    from plumescout.planning.followup import FOLLOW_UP_FLAGS
    from plumescout.simulate.flight import fly_path

    sc, pattern, flight = simulate_scenario(seed)
    obs = flight.observations
    truth = flight.truth["sources"]
    site = (obs.frame.lat0, obs.frame.lon0)  # the truth's frame

    def fit(o):
        est = PlumeEstimator(EstimatorConfig())  # as the suite fits (estimator_suite.py)
        t0 = time.perf_counter()
        est.fit(o)
        return est, time.perf_counter() - t0

    est, wall = fit(obs)
    m = _matches(truth, est)
    flagged = [j for j, s in enumerate(est.sources_) if set(s.flags) & set(flags or FOLLOW_UP_FLAGS)]
    watch = [i for i, j in m.items() if j in flagged]
    row = {"seed": seed, "pattern": pattern, "n_true": len(truth), "survey": _suite_score(truth, est, wall, watch)}
    # the simulated class beside the survey fit's index (A = 0 .. F = 5) and the one planned with
    row["stability"] = {"simulated": sc.wind.stability, "fitted": round(est.info_["stability_index_fitted"], 2),
                        "planned": _stability(est, stability)}  # fmt: skip
    row["flagged"] = [{"id": est.sources_[j].id, "flags": est.sources_[j].flags, "truth": next(
        (i for i, jj in m.items() if jj == j), None)} for j in flagged]  # fmt: skip
    if not flagged:
        return row
    survey, legs = suite_plan(sc, flight, est, flagged, stability, row, region)
    if not legs:
        return row
    alt, ac = float(flight.plan.altitude_m), sc.aircraft
    durations = [float(fly_path(path, ac.speed_m_s, ac.sample_rate_hz)[0][-1]) for _, path, _ in legs]
    duration = sum(durations)
    row["added_flight_s"] = round(duration, 1)
    t_c, xy_c = fly_path(survey, ac.speed_m_s, ac.sample_rate_hz)
    again = xy_c[t_c <= duration]
    for arm, flights, k in (("follow_up", legs, 2), ("control", [(alt, again, 0)], 3)):
        sorties = [obs]
        for i, (a, wps, _) in enumerate(flights):  # each altitude's missions one flight (the first: seed as before)
            sorties.append(later_flight(sc, wps, a, seed + k * 1_000_000 + 10_000 * i, sorties[-1]))
        est2, wall2 = fit(join_sorties(sorties, origin=site))
        row[arm] = _suite_score(truth, est2, wall2, watch)
    return row


def _machine(args) -> str:
    """The machine a run was made on: this one, or a record's (--from-json)."""
    return getattr(args, "machine", None) or machine()


def write_suite(rows, args, wall_s: float) -> None:
    rows = sorted(rows, key=lambda r: r["seed"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flown = [r for r in rows if "follow_up" in r]
    name = f"follow_up_suite_{rows[0]['seed']}-{rows[-1]['seed']}"
    run = {"wall_s": wall_s, "machine": _machine(args), "seeds": [r["seed"] for r in rows], "region": args.region}
    (out / f"{name}.json").write_text(json.dumps({"run": run, "releases": rows}) + "\n")
    n_flag = sum(len(r["flagged"]) for r in flown)
    n_true_flag = sum(len(r["survey"]["watch"]) for r in flown)
    added = [r["added_flight_s"] for r in flown]
    lines = [
        "# Follow-up flights over flagged sources: the suite's far-field flights",
        "",
        f"`python benchmarks/follow_up.py --suite {_seeds_option([r['seed'] for r in rows])}"
        + (f" --flags {' '.join(args.flags)}" if getattr(args, "flags", None) else "")
        + f" --region {getattr(args, 'region', 'circle')}` "
        f"(seeds {', '.join(_ranges([r['seed'] for r in rows]))}) on {_machine(args)}; total wall time {wall_s:.0f} s.",
        "",
        f"{len(rows)} flights; the survey's fit flagged {n_flag} sources in {len(flown)} flights, {n_true_flag} of "
        f"them a true source (matched within 100 m). Added flight per flown flight: median "
        f"{_median(added) / 60:.1f} min (range {min(added, default=0) / 60:.1f}-{max(added, default=0) / 60:.1f}); "
        "the control flies the survey's lines again for as long.",
        "",
        *_lower_line(rows),
        "| fit | true flagged sources found | median error (m) | median abs log10 rate | region cov. | rate cov. "
        "| median crossings | still flagged | false sources (flown flights) | true sources found (flown flights) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    labels = ("survey alone", "survey + follow-up", "survey + its lines again (control)")
    for arm, label in zip(ARMS, labels, strict=True):
        got = [w for r in flown for w in r[arm]["watch"].values()]
        f = [w for w in got if w["found"]]
        flagged = sum(bool(set(w["flags"]) & set(FOLLOW_UP_FLAGS)) for w in f)
        lines.append(
            f"| {label} | {len(f)}/{len(got)} | {_median([w['error_m'] for w in f]):.1f} | "
            f"{_median([abs(w['log10_rate_ratio']) for w in f]):.3f} | "
            f"{np.mean([w['region_holds'] for w in f]) if f else float('nan'):.2f} | "
            f"{np.mean([w['rate_holds'] for w in f]) if f else float('nan'):.2f} | "
            f"{_median([w['crossings'] for w in f]):.0f} | {flagged} | {sum(r[arm]['false'] for r in flown)} | "
            f"{sum(r[arm]['matched'] for r in flown)}/{sum(r['n_true'] for r in flown)} |"
        )
    low = [r for r in flown if any(_low(f["flags"]) for f in r["flagged"])]
    watched = [(r, str(f["truth"])) for r in low for f in r["flagged"] if _low(f["flags"]) and f["truth"] is not None]
    real = {a: [r[a]["watch"].get(i, {}).get("probability") for r, i in watched] for a in ARMS}
    false = {a: [p for r in low for p in r[a].get("false_probability", [])] for a in ARMS}
    lines += ["", *low_probability_lines(real, false, len(low))]
    lines += [
        "",
        "## Per flight (flown)",
        "",
        "| seed | flagged (T: a true source) | added min | survey | follow-up | control |",
        "|---|---|---|---|---|---|",
    ]

    def cell(sc_):
        ws = [f"{w['error_m']:.0f} m / {w['crossings']}" if w["found"] else "missed" for w in sc_["watch"].values()]
        return ", ".join(ws) + f" ({sc_['false']} false)"

    for r in flown:
        fl = ", ".join(
            f"{f['id']} {'/'.join(f['flags'])} ({'false' if f['truth'] is None else 'T'})" for f in r["flagged"]
        )
        lines.append(f"| {r['seed']} | {fl} | {r['added_flight_s'] / 60:.1f} | {cell(r['survey'])} | "
                     f"{cell(r['follow_up'])} | {cell(r['control'])} |")  # fmt: skip
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:14]))


def _seeds_option(seeds) -> str:
    """The options that run ``seeds`` (sorted): a range, else --seeds with each run of them."""
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"--releases {len(seeds)} --first-seed {seeds[0]}"
    runs = [r.split("-") for r in _ranges(seeds)]
    return "--seeds " + " ".join(a if a == b else f"$(seq {a} {b})" for a, b in runs)


def _ranges(seeds):
    out, start, prev = [], None, None
    for s in seeds:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append(f"{start}-{prev}")
            start = prev = s
    if start is not None:
        out.append(f"{start}-{prev}")
    return out


def main(argv=None) -> int:
    ap = release_arguments(__doc__.splitlines()[0])
    ap.add_argument("--altitude", type=float, default=5.0, help="the survey's height above ground (m)")
    ap.add_argument("--spacing", type=float, default=30.0, help="the survey's line spacing (m)")
    ap.add_argument("--suite", action="store_true", help="the estimator suite's far-field flights instead")
    ap.add_argument("--seeds", type=int, nargs="+", help="(--suite) these seeds instead of a range")
    ap.add_argument(
        "--flags",
        nargs="+",
        help="(--suite) fly over the sources carrying these flags (default: plumescout follow-up's, FOLLOW_UP_FLAGS)",
    )
    ap.add_argument(
        "--stability", default="fitted", help="plan the follow-up with the survey fit's stability (fitted) or a class"
    )
    ap.add_argument(
        "--region",
        choices=("circle", "ellipse"),
        default="circle",
        help="lay the lines over each source's 90 %% circle (plumescout follow-up's default) or its ellipse",
    )
    ap.set_defaults(releases=60, out=str(Path(__file__).parent / "results" / "follow_up"))
    args = ap.parse_args(argv)
    if args.from_json:
        docs = [json.loads(Path(f).read_text()) for f in args.from_json]
        # the records' own options, not this command line's (runs before --region: the circle)
        for key in ("region", "altitude", "spacing", "machine"):
            default = {"region": "circle", "machine": None}.get(key, getattr(args, key, None))
            values = {d["run"].get(key, default) for d in docs}
            if len(values) > 1:
                ap.error(f"the records were run with different --{key}: {sorted(map(str, values))}")
            setattr(args, key, values.pop())
        if args.suite:
            write_suite([r for d in docs for r in d["releases"]], args, sum(d["run"]["wall_s"] for d in docs))
            return 0
        write([r for d in docs for r in d["releases"]], args, sum(d["run"]["wall_s"] for d in docs))
        return 0
    from dask.distributed import as_completed

    if args.suite:
        client = local_cluster(args.workers)
        t0 = time.perf_counter()
        seeds = args.seeds or list(range(args.first_seed, args.first_seed + args.releases))
        rows = []
        for f in as_completed(
            client.map(
                partial(run_suite_one, stability=args.stability, flags=tuple(args.flags or ()), region=args.region),
                seeds,
                pure=False,
            )
        ):
            r = f.result()
            rows.append(r)
            print(json.dumps({"seed": r["seed"], "flagged": r["flagged"]}), flush=True)
        client.close()
        write_suite(rows, args, time.perf_counter() - t0)
        return 0
    noise_ppm = readings_noise_ppm(args.data)
    client = local_cluster(args.workers)
    t0 = time.perf_counter()
    seeds = list(range(args.first_seed, args.first_seed + args.releases))
    job = partial(
        run_one,
        data_dir=args.data,
        noise_ppm=noise_ppm,
        altitude_m=args.altitude,
        spacing_m=args.spacing,
        stability=args.stability,
        region=args.region,
    )
    rows = []
    for f in as_completed(client.map(job, seeds, pure=False)):
        r = f.result()
        rows.append(r)
        brief = {a: (round(r[a].get("error_m", -1), 1), r[a]["n_sources"]) for a in ARMS if a in r}
        print(json.dumps({"seed": r["seed"], **brief}), flush=True)
    client.close()
    write(rows, args, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

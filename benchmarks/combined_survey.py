"""A drone flown over a beam network: beams alone, the flight alone, and both in one fit.

    python benchmarks/combined_survey.py [--releases 30] [--first-seed 0] [--workers 2]

Each seed is one virtual release in the Chilbolton 2017 beam layout and minute winds (only the
layout and weather of the record: `calibrate_beams.py`'s simulator, Briggs class-D puffs, the real
readings' noise level), and one flight through the same puffs: the crosswind lines plumescout's
planner lays over the site (`plan_survey`; 10 m apart and 2 m above ground unless --spacing and
--altitude say otherwise; 2.5 m/s, 2 Hz), flown in
a 25-minute window of the record drawn per seed, by a sensor with a 1 s response and 0.02 ppm noise
reading the wind it flies through (0.3 m/s and 5 degrees of noise). Every fit runs with its
region factors at 1 (the raw posterior), as the calibration scripts do; kappa, the 90th
percentile of error / radius, is the factor that makes each kind's location region a 90 %
region (`EstimatorConfig.*_location_inflation`), kappa_rate the rate interval's.

Writes benchmarks/results/combined_survey.md and .json (or --out DIR).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_beams import (  # noqa: E402
    DATA,
    local_cluster,
    readings_noise_ppm,
    release_arguments,
    simulate,
    summarise,
)
from estimator_suite import crossing_table, machine, reliability_table  # noqa: E402

from plumescout.evaluation import reliability_rows  # noqa: E402

FLIGHT_S = 1500.0
SPEED_M_S, RATE_HZ, ALTITUDE_M, SPACING_M = 2.5, 2.0, 2.0, 10.0
RESPONSE_S, NOISE_PPM = 1.0, 0.02
MODES = ("beams", "flight", "combined")
NUISANCE = ("stability_index_fitted", "horizontal_width_factor", "beam_width_factor", "source_height_m",
            "sensor_response_s", "region_widening")  # fmt: skip


def lawnmower(lo, hi, ws, rng, altitude_m=ALTITUDE_M, spacing_m=SPACING_M):
    """The planner's crosswind lines over the box ``lo``-``hi``, flown in a window of the record."""
    from plumescout.planning.coverage import plan_survey
    from plumescout.simulate.flight import fly_path

    start = float(rng.uniform(ws.time_s[0] + 600.0, ws.time_s[-1] - FLIGHT_S - 60.0))
    sel = (ws.time_s >= start) & (ws.time_s <= start + FLIGHT_S)
    speed, from_deg = ws.__class__(ws.time_s[sel], ws.speed_m_s[sel], ws.from_deg[sel]).mean()
    area = [[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]
    plan = plan_survey(
        area, from_deg, max(speed, 0.5), SPEED_M_S, FLIGHT_S, altitude_m, 0.1,
        altitude_m=altitude_m, line_spacing_m=spacing_m,
    )  # fmt: skip
    t, xy = fly_path(np.vstack(plan.sorties), SPEED_M_S, RATE_HZ)
    keep = t <= FLIGHT_S
    return start + t[keep], np.column_stack([xy[keep], np.full(keep.sum(), altitude_m)])


def flight_observations(sim, rng):
    """The flight as the aircraft logs it (local frame about 51 N, 1 W, like the beams' fit)."""
    from plumescout.geo import LocalFrame
    from plumescout.observations import Observations
    from plumescout.sensors import apply_sensor
    from plumescout.units import g_m3_to_ppm

    t, xyz, c = sim["drone"]
    frame = LocalFrame(*ORIGIN)
    ppm = apply_sensor(1.95 + g_m3_to_ppm(c, "ch4"), 1.0 / RATE_HZ, RESPONSE_S, NOISE_PPM, 0.0, rng)
    speed, from_deg = sim["wind"].at(t)
    lat, lon = frame.to_wgs84(xyz[:, 0], xyz[:, 1])
    return Observations(
        time_s=t - t[0],
        x_m=xyz[:, 0],
        y_m=xyz[:, 1],
        z_m=xyz[:, 2],
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        wind_speed_m_s=np.maximum(speed + rng.normal(0.0, 0.3, t.size), 0.1),
        wind_from_deg=np.mod(from_deg + rng.normal(0.0, 5.0, t.size), 360.0),
        species={"ch4": ppm},
        frame=frame,
        t0=datetime(2017, 8, 1, tzinfo=UTC),
    )


ORIGIN = (51.0, -1.0)
"""The local frame's origin of the simulated surveys (the beams' metres are about it)."""


def write_survey(seed: int, out_dir, data_dir=DATA, noise_ppm: float | None = None) -> dict:
    """Seed ``seed``'s survey as files, as a crew would bring them home: the beam data set
    (``beams/``: beams.csv and wind.csv of the record, measurements.csv simulated), the flight
    log (``flight.csv``, the open CSV) and ``truth.json``. Returns their paths and the truth."""
    import shutil

    from plumescout.flightlog import write_flight_csv
    from plumescout.inference.data import _read_csv_table

    data_dir, out = Path(data_dir), Path(out_dir)
    if noise_ppm is None:
        noise_ppm = readings_noise_ppm(data_dir)
    sim = simulate(seed, str(data_dir), noise_ppm, drone=lawnmower)
    obs = flight_observations(sim, np.random.default_rng([seed, 7]))
    beams = out / "beams"
    beams.mkdir(parents=True, exist_ok=True)
    for name in ("beams.csv", "wind.csv"):
        shutil.copyfile(data_dir / name, beams / name)
    ids = _read_csv_table(data_dir / "beams.csv", ("beam",))["beam"].astype(int)
    rows = [
        f"{int(round(t / 60.0))},{ids[b]},{ppm:.5f}"
        for t, b, ppm in zip(sim["time_s"], sim["reading_beam"], sim["ppm"], strict=True)
    ]
    (beams / "measurements.csv").write_text("minute,beam,ch4_path_avg_ppm\n" + "\n".join(rows) + "\n")
    flight = write_flight_csv(out / "flight.csv", obs)
    truth = {"sources": [{"x_m": sim["source"][0], "y_m": sim["source"][1], "height_m": sim["source"][2],
                          "rate_g_s": sim["rate_g_s"]}]}  # fmt: skip
    (out / "truth.json").write_text(json.dumps(truth))
    return {"beams": beams, "flight": flight, "truth": out / "truth.json", **truth}


def score(est, sim, wall_s: float) -> dict:
    out = {"wall_s": wall_s, "n_sources": len(est.sources_), "existence": []}
    if not est.sources_:
        return {**out, "found": False}
    x, y = sim["source"][:2]
    e = min(est.sources_, key=lambda e: np.hypot(e.x_m - x, e.y_m - y))
    err = float(np.hypot(e.x_m - x, e.y_m - y))
    # each reported source's probability of existing, and whether it is the release (the nearest,
    # within 30 m): the suite's reliability record (evaluation.existence_reliability)
    out["existence"] = [[round(float(o.probability), 4), o is e and err <= 30.0] for o in est.sources_]
    others = [o.crossings for o in est.sources_ if o is not e or err > 30.0]  # not the release (false)
    return {
        **out,
        "found": err <= 30.0,
        "error_m": err,
        "radius_m": e.location_ci90_m,
        "rate_est": e.rate_g_s,
        "rate_ci90": list(e.rate_g_s_ci90),
        "rate_g_s": sim["rate_g_s"],
        "height_m": e.height_m,
        "crossing_distances_m": [round(float(v), 1) for v in e.crossing_distances_m or []],
        "false_crossings": others,
        "temper": est.info_.get("temper"),
        "temper_in_plume": est.info_.get("temper_in_plume"),
        # what the fit read of its nuisance values (those it estimated; beams fits lack some)
        "nuisance": {k: round(float(est.info_[k]), 4) for k in NUISANCE if k in est.info_},
        "near_crossing_widening": round(float(getattr(e, "near_crossing_widening", 1.0)), 4),
        **_ellipse_score(e, (x, y)),
    }


def _ellipse_score(e, truth_xy) -> dict:
    """A flight's 90 % ellipse against the truth (the suite's record: evaluation.score_flight)."""
    from plumescout.evaluation import _score_ellipse

    rec: dict[str, list] = {"covered": [], "area": [], "needed": [], "axes": [], "offset": []}
    _score_ellipse(rec, e, truth_xy)
    if not rec["covered"]:
        return {}
    return {
        "ellipse_covered": rec["covered"][0],
        "ellipse_area_ratio": rec["area"][0],
        "ellipse_raw_axes_m": rec["axes"][0],
        "ellipse_truth_offset": rec["offset"][0],
    }


def run_one(seed: int, data_dir: str, noise_ppm: float, config=None, modes=MODES, altitude_m=ALTITUDE_M,
            spacing_m=SPACING_M) -> dict:  # fmt: skip
    from plumescout.geo import LocalFrame
    from plumescout.inference import EstimatorConfig, PlumeEstimator
    from plumescout.inference.data import BeamData

    rng = np.random.default_rng([seed, 7])  # the flight's sensor: a stream of its own
    sim = simulate(seed, data_dir, noise_ppm, drone=partial(lawnmower, altitude_m=altitude_m, spacing_m=spacing_m))
    obs = flight_observations(sim, rng)

    def beams():
        return BeamData.from_readings(
            sim["start"], sim["end"], sim["reading_beam"], sim["time_s"], sim["ppm"], sim["wind_speed"],
            sim["wind_from"], "ch4", tan_sigma_y=sim["tan_y"], tan_sigma_z=sim["tan_z"],
        )  # fmt: skip

    raw = {
        f"{k}_{w}_inflation": 1.0 for k in ("point", "beam", "combined") for w in ("location", "rate")
    }  # fmt: skip
    raw["point_location_floor_m"], raw["point_rate_floor_factor"] = 0.0, 1.0
    row = {"seed": seed, "source": sim["source"], "rate_g_s": sim["rate_g_s"], "samples": len(obs)}
    for mode in modes:
        est = PlumeEstimator(EstimatorConfig(seed=seed, **raw, **(config or {})))
        t0 = time.perf_counter()
        if mode == "beams":
            est.fit_beams(beams(), LocalFrame(51.0, -1.0))
        elif mode == "flight":
            est.fit(obs)
        else:
            est.fit_combined(obs, beams())
        row[mode] = score(est, sim, time.perf_counter() - t0)
    return row


def main(argv=None) -> int:
    ap = release_arguments(__doc__.splitlines()[0])
    ap.add_argument("--config", default="{}", help="EstimatorConfig overrides as JSON (variants)")
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="which fits to run")
    ap.add_argument("--altitude", type=float, default=ALTITUDE_M, help="the flight's height above ground (m)")
    ap.add_argument("--spacing", type=float, default=SPACING_M, help="the flight's line spacing (m)")
    args = ap.parse_args(argv)
    if args.from_json:  # (one file: with the options it was run with)
        docs = [json.loads(Path(f).read_text()) for f in args.from_json]
        rows = [r for d in docs for r in d["releases"]]
        run = docs[0].get("run", {}) if len(docs) == 1 else {}
        for key in ("config", "modes", "altitude", "spacing", "note"):
            if key in run:
                setattr(args, key, run[key])
        write(rows, args, run.get("wall_s", float("nan")))
        return 0
    from dask.distributed import as_completed

    noise_ppm = readings_noise_ppm(args.data)
    client = local_cluster(args.workers)
    seeds = list(range(args.first_seed, args.first_seed + args.releases))
    t0 = time.perf_counter()
    rows = []
    config = json.loads(args.config)
    futures = client.map(
        run_one, seeds, data_dir=args.data, noise_ppm=noise_ppm, config=config, modes=tuple(args.modes),
        altitude_m=args.altitude, spacing_m=args.spacing, pure=False,
    )  # fmt: skip
    for f in as_completed(futures):
        r = f.result()
        rows.append(r)
        brief = {m: (r[m].get("error_m") and round(r[m]["error_m"], 1), r[m]["n_sources"]) for m in args.modes}
        print(json.dumps({"seed": r["seed"], **brief}), flush=True)
    client.close()
    write(rows, args, time.perf_counter() - t0)
    return 0


def committed_coverage(mode: str, ok: list[dict]) -> dict:
    """What the default region factors hold of the found releases, from their raw (factor 1) fits."""
    from plumescout.inference import EstimatorConfig

    c = EstimatorConfig()
    kind = {"beams": "beam", "flight": "point", "combined": "combined"}[mode]
    k, k_rate = getattr(c, f"{kind}_location_inflation"), getattr(c, f"{kind}_rate_inflation")
    floor = 0.0 if mode == "beams" else c.point_location_floor_m
    rate_floor = 1.0 if mode == "beams" else c.point_rate_floor_factor
    loc, rate = [], []
    for r in ok:
        loc.append(r["error_m"] <= np.hypot(k * r["radius_m"], floor))
        q, (lo, hi), t = r["rate_est"], r["rate_ci90"], r["rate_g_s"]
        rate.append(_widened_holds(q, lo, hi, t, k_rate, rate_floor))
    if not ok:
        return {"location_coverage": float("nan"), "rate_coverage": float("nan")}
    return {"location_coverage": float(np.mean(loc)), "rate_coverage": float(np.mean(rate))}


def _committed_text() -> str:
    from plumescout.inference import EstimatorConfig

    c = EstimatorConfig()
    return (
        f"`EstimatorConfig`: beams {c.beam_location_inflation:g} / {c.beam_rate_inflation:g}; flights "
        f"{c.point_location_inflation:g} and the {c.point_location_floor_m:g} m floor / {c.point_rate_inflation:g} and "
        f"the x/÷{c.point_rate_floor_factor:g} floor; both {c.combined_location_inflation:g} and the floors / "
        f"{c.combined_rate_inflation:g}"
    )


def _widened_holds(q, lo, hi, t, factor, floor=1.0) -> bool:
    """Does the interval (lo, hi) about q, widened as the estimator widens it, hold t?"""
    from plumescout.inference.estimate import widen_interval

    lo, hi = widen_interval(lo, q, hi, factor, floor)
    return lo <= t <= hi


def _variant(args) -> str:
    """The command line's variant options, as given."""
    out = ""
    if getattr(args, "config", "{}") not in ("{}", ""):
        out += f" --config '{args.config}'"
    if list(getattr(args, "modes", MODES)) != list(MODES):
        out += " --modes " + " ".join(args.modes)
    if getattr(args, "altitude", ALTITUDE_M) != ALTITUDE_M:
        out += f" --altitude {args.altitude:g}"
    if getattr(args, "spacing", SPACING_M) != SPACING_M:
        out += f" --spacing {args.spacing:g}"
    return out


def _median(rows, key) -> float:
    return float(np.median([r[key] for r in rows])) if rows else float("nan")


def crossing_lines(rows) -> list[str]:
    """The flight alone's releases by the plume crossings the source found accounts for (one or
    none: flagged ``single_crossing``), and the false sources by theirs. Empty for runs without
    the flight alone or that predate the count."""
    fl = [{**r["flight"], "rate_g_s": r["rate_g_s"]} for r in rows if "flight" in r]
    ok = [r for r in fl if r.get("found") and "crossing_distances_m" in r]
    if not ok:
        return []
    found = []
    for r in ok:
        c = committed_coverage("flight", [r])
        lr = abs(np.log10(r["rate_est"] / r["rate_g_s"]))
        found.append((len(r["crossing_distances_m"]), r["error_m"], lr, c["location_coverage"], c["rate_coverage"]))
    false = [n for r in fl for n in r.get("false_crossings") or [] if n is not None]
    title = (
        "The flight alone, by the plume crossings the source found accounts for (one or none: flagged "
        "`single_crossing`):"
    )
    return ["", *crossing_table(found, false, title, " (committed)")]


def write(rows, args, wall_s: float) -> None:
    rows = sorted(rows, key=lambda r: r["seed"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = f"{rows[0]['seed']}-{rows[-1]['seed']}"
    lines = [
        "# A drone over a beam network: beams alone, the flight alone, both in one fit",
        "",
        f"`python benchmarks/combined_survey.py --releases {len(rows)} --first-seed {rows[0]['seed']}{_variant(args)}` "
        f"(seeds {seeds}; {wall_s:.0f} s wall). Simulated releases in the Chilbolton 2017 beam layout and "
        "minute winds with a planned drone flight through the same puffs (see the script's docstring). "
        "Every fit with its region factors at 1: kappa is the factor its 90 % regions need.",
        "",
        "| data | found (within 30 m) | false sources | median error (m) | median raw radius (m) "
        "| kappa (location) | kappa_rate | location cov. (committed) | rate cov. (committed) "
        "| median abs log10 rate | median wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for m in [m for m in MODES if m in rows[0]]:
        rs = [{**r[m], "rate_g_s": r["rate_g_s"]} for r in rows]
        ok = [r for r in rs if r["found"]]
        s = summarise(rs) if ok else {}
        false = sum(max(r["n_sources"] - (1 if r["found"] else 0), 0) for r in rs)
        lr = [abs(np.log10(r["rate_est"] / r["rate_g_s"])) for r in ok]
        summary[m] = {
            "found": len(ok),
            "false": false,
            "median_error_m": _median(ok, "error_m"),
            "median_radius_m": _median(ok, "radius_m"),
            **s,
            "median_abs_log10_rate": float(np.median(lr)) if lr else float("nan"),
            "median_wall_s": float(np.median([r["wall_s"] for r in rs])),
            **committed_coverage(m, ok),
        }
        v = summary[m]
        lines.append(
            f"| {m} | {v['found']}/{len(rows)} | {false} | {v['median_error_m']:.1f} | {v['median_radius_m']:.1f} "
            f"| {v.get('kappa', float('nan')):.2f} | {v.get('kappa_rate', float('nan')):.2f} "
            f"| {v['location_coverage']:.3f} | {v['rate_coverage']:.3f} "
            f"| {v['median_abs_log10_rate']:.3f} | {v['median_wall_s']:.1f} |"
        )
    lines += [
        "",
        "Coverage (committed): the fraction of the releases found whose truth the 90 % region (interval) "
        f"holds with the estimator's default factors ({_committed_text()}), from the raw radii and intervals.",
    ]
    lines += crossing_lines(rows)
    for m in [m for m in MODES if m in rows[0]]:
        rec = [e for r in rows for e in r[m].get("existence", [])]
        if rec:  # runs since the record
            p, real = zip(*rec, strict=True)
            title = (
                f"{m}: the reported probability that a source exists, against how often such sources were "
                "the release (the nearest source, within 30 m; 95 % Wilson interval; raw factors):"
            )
            lines += ["", *reliability_table(reliability_rows(p, real), title)]
    if getattr(args, "note", None):  # what the command line does not say (a default since changed)
        lines += ["", f"Note: {args.note}."]
    lines += ["", f"Machine: {machine()}", ""]
    name = f"combined_survey_{seeds}"
    if (getattr(args, "altitude", ALTITUDE_M), getattr(args, "spacing", SPACING_M)) != (ALTITUDE_M, SPACING_M):
        name += f"_altitude{args.altitude:g}_spacing{args.spacing:g}"
    if getattr(args, "config", "{}") not in ("{}", "") or list(getattr(args, "modes", MODES)) != list(MODES):
        name += "_variant"
    (out / f"{name}.md").write_text("\n".join(lines))
    run = {
        "config": getattr(args, "config", "{}"),
        "modes": list(getattr(args, "modes", MODES)),
        "altitude": getattr(args, "altitude", ALTITUDE_M),
        "spacing": getattr(args, "spacing", SPACING_M),
        "wall_s": wall_s,
        **({"note": args.note} if getattr(args, "note", None) else {}),
    }
    doc = {"run": run, "summary": summary, "releases": rows}
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

"""Calibrate the open-path (beam) 90 % regions on simulated releases seen by the same instruments.

    python benchmarks/calibrate_beams.py [--releases 30] [--first-seed 0] [--workers 2]

Uses only the Chilbolton 2017 *layout and weather* — beams.csv (geometry) and wind.csv (per-minute
speed, direction and turbulence) — never its measurements or truth. For each seed a virtual release
(0.1-1 g/s, 0.2-1.5 m high) is placed near the beams, the simulator's puffs are carried by the
measured minute winds plus turbulent meander (sigma from the measured tan sigma-theta), and each
beam's one-minute path average is formed (15 points along the beam, 6 instants a minute) with the
noise level of the real readings. The puffs grow with the Briggs class-D curves (the default, which
the committed factors come from: a dispersion law other than the estimator's, so model error is
part of what the regions must cover) or, with ``--puff-widths measured``, with the measured
turbulence as the estimator's beam model does (distance x tan sigma-theta; the horizontal variance
then shared between the puffs' own growth and the meander). ``--config JSON`` runs a variant of
the estimator. The estimator then runs as on real data, and we record the
location error over the posterior 90 % radius and whether the rate interval holds the truth.

kappa = 90th percentile of (error / radius) is the factor that makes the location region a 90 %
region for this kind of data: EstimatorConfig.beam_location_inflation. Writes
benchmarks/results/calibrate_beams.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "chilbolton-2017" / "source_1"
REL = 0.6  # the puffs' own width as a fraction of the whole plume's (the simulator's default)


def simulate(seed: int, data_dir: str, noise_ppm: float, measured_widths: bool = False, drone=None):
    """One virtual release seen by the beams; with ``drone`` (a callable ``(lo, hi, ws, rng) ->
    (t_s, xyz)`` giving a flight's sample times and positions over the box ``lo``-``hi`` in the
    wind ``ws``) also the true concentration (g/m3) along that flight, from the same puffs (the
    beams' readings then come from a random stream of their own: not those of the same seed
    without a drone)."""
    from plumescout.inference.data import _read_csv_table
    from plumescout.met import WindSeries
    from plumescout.simulate.flight import puff_concentration, puff_masses
    from plumescout.simulate.wind import ou_process
    from plumescout.units import g_m3_to_ppm

    d = Path(data_dir)
    rng = np.random.default_rng(seed)
    beams = _read_csv_table(d / "beams.csv", ("beam", "x0_m", "y0_m", "z0_m", "x1_m", "y1_m", "z1_m"))
    wind = _read_csv_table(
        d / "wind.csv", ("minute", "wind_speed_m_s", "wind_from_deg", "tan_sigma_theta_h", "tan_sigma_theta_v")
    )
    a = np.column_stack([beams["x0_m"], beams["y0_m"], beams["z0_m"]])
    b = np.column_stack([beams["x1_m"], beams["y1_m"], beams["z1_m"]])
    pts = np.vstack([a, b])
    lo, hi = pts[:, :2].min(axis=0) - 15.0, pts[:, :2].max(axis=0) + 15.0
    src = np.array([*rng.uniform(lo, hi), rng.uniform(0.2, 1.5)])
    q = float(np.exp(rng.uniform(np.log(0.1), np.log(1.0))))
    # minute winds, interpolated as vectors, plus within-minute meander of the measured size
    mins = wind["minute"]
    order = np.argsort(mins)
    mins = mins[order]
    tgrid = np.arange(mins[0] * 60.0 - 300.0, mins[-1] * 60.0 + 60.0, 0.5)
    rad = np.deg2rad(wind["wind_from_deg"][order])
    ve = np.interp(tgrid, mins * 60.0 + 30.0, wind["wind_speed_m_s"][order] * np.sin(rad))
    vn = np.interp(tgrid, mins * 60.0 + 30.0, wind["wind_speed_m_s"][order] * np.cos(rad))
    tan_h = np.interp(tgrid, mins * 60.0 + 30.0, wind["tan_sigma_theta_h"][order])
    tan_v = np.interp(tgrid, mins * 60.0 + 30.0, wind["tan_sigma_theta_v"][order])
    sig = np.rad2deg(np.arctan(tan_h))
    if measured_widths:
        # the measured horizontal turbulence shared between the puffs' own growth (the relative
        # dispersion, REL of it) and the meander that carries them (the rest of its variance)
        sig = sig * np.sqrt(1.0 - REL**2)
    from_deg = np.rad2deg(np.arctan2(ve, vn)) % 360.0 + sig * ou_process(tgrid.size, 0.5, 1.0, 30.0, rng)
    ws = WindSeries(tgrid, np.maximum(np.hypot(ve, vn), 0.3), from_deg % 360.0)
    turbulence = (tan_h, tan_v) if measured_widths else None
    # readings: every beam, every minute that has wind
    k = 15
    f = (np.arange(k) + 0.5) / k
    inst = np.arange(6) * 10.0 + 5.0
    rows = []
    for bi in range(len(a)):
        a[bi][None, :] + f[:, None] * (b[bi] - a[bi])[None, :]
        for m in mins:
            rows.append((bi, m))
    rb = np.array([r[0] for r in rows])
    rm = np.array([r[1] for r in rows], float)
    t = (rm[:, None] * 60.0 + inst[None, :]).ravel()
    t_all = np.repeat(t, k)
    xyz = np.vstack([np.tile(a[bi][None, :] + f[:, None] * (b[bi] - a[bi])[None, :], (len(inst), 1))
                     for bi in rb])  # fmt: skip
    n_beam = t_all.size
    if drone is not None:  # the flight's samples join the beams' points: one puff field for both
        t_drone, xyz_drone = drone(lo, hi, ws, rng)
        t_all, xyz = np.concatenate([t_all, t_drone]), np.vstack([xyz, xyz_drone])
    # minute by minute: each call carries only the puffs alive in that minute, each puff its one mass
    masses = puff_masses(ws, rng=np.random.default_rng([seed, 1]))
    c = np.empty(t_all.size)
    minute_of = np.floor(t_all / 60.0)
    for m in np.unique(minute_of):
        sel = minute_of == m
        c[sel] = puff_concentration(
            t_all[sel], xyz[sel], tuple(src), q, ws, 3.0, max_age_s=300.0, relative_dispersion=REL, masses=masses,
            turbulence=turbulence,
        )  # fmt: skip
    drone_c = c[n_beam:]
    c = c[:n_beam]
    ppm = g_m3_to_ppm(c, "ch4").reshape(len(rows), len(inst) * k).mean(axis=1)
    ppm = 1.95 + ppm + rng.normal(0.0, noise_ppm, ppm.size)
    wi = np.searchsorted(mins, rm)
    wo = {key: wind[key][order][wi] for key in wind}
    extra = {} if drone is None else {"drone": (t_drone, xyz_drone, drone_c), "wind": ws, "masses": masses}
    return {
        **extra,
        "start": a, "end": b, "reading_beam": rb, "time_s": rm * 60.0, "ppm": ppm,
        "wind_speed": wo["wind_speed_m_s"], "wind_from": wo["wind_from_deg"],
        "tan_y": wo["tan_sigma_theta_h"], "tan_z": wo["tan_sigma_theta_v"], "source": src.tolist(), "rate_g_s": q,
    }  # fmt: skip


def run_one(seed: int, data_dir: str, noise_ppm: float, measured_widths: bool = False, config=None) -> dict:
    from plumescout.geo import LocalFrame
    from plumescout.inference import EstimatorConfig, PlumeEstimator
    from plumescout.inference.data import BeamData

    s = simulate(seed, data_dir, noise_ppm, measured_widths)
    data = BeamData.from_readings(
        s["start"], s["end"], s["reading_beam"], s["time_s"], s["ppm"], s["wind_speed"], s["wind_from"],
        "ch4", tan_sigma_y=s["tan_y"], tan_sigma_z=s["tan_z"],
    )  # fmt: skip
    t0 = time.perf_counter()
    kw = {"seed": seed, "beam_location_inflation": 1.0, "beam_rate_inflation": 1.0, **(config or {})}
    est = PlumeEstimator(EstimatorConfig(**kw)).fit_beams(data, LocalFrame(51.0, -1.0))
    out = {"seed": seed, "rate_g_s": s["rate_g_s"], "source": s["source"], "wall_s": time.perf_counter() - t0}
    if not est.sources_:
        return {**out, "found": False}
    e = min(est.sources_, key=lambda e: np.hypot(e.x_m - s["source"][0], e.y_m - s["source"][1]))
    err = float(np.hypot(e.x_m - s["source"][0], e.y_m - s["source"][1]))
    return {
        **out,
        "found": err <= 30.0,
        "n_sources": len(est.sources_),
        "error_m": err,
        "radius_m": e.location_ci90_m,
        "rate_est": e.rate_g_s,
        "rate_ci90": list(e.rate_g_s_ci90),
    }


def main(argv=None) -> int:
    ap = release_arguments(__doc__.splitlines()[0])
    ap.add_argument(
        "--puff-widths",
        choices=("measured", "briggs"),
        default="briggs",
        help="the puffs grow with the Briggs D curves (default: the committed calibration) or the measured turbulence",
    )
    ap.add_argument("--config", default="{}", help="EstimatorConfig overrides as JSON (variants of the beam model)")
    args = ap.parse_args(argv)
    if args.from_json:
        rows = [r for f in args.from_json for r in json.loads(Path(f).read_text())["releases"]]
        write(rows, args, float("nan"))
        return 0
    from dask.distributed import as_completed

    noise_ppm = readings_noise_ppm(args.data)
    client = local_cluster(args.workers)
    seeds = list(range(args.first_seed, args.first_seed + args.releases))
    t0 = time.perf_counter()
    rows = []
    for f in as_completed(
        client.map(
            run_one,
            seeds,
            data_dir=args.data,
            noise_ppm=noise_ppm,
            measured_widths=args.puff_widths == "measured",
            config=json.loads(args.config),
            pure=False,
        )
    ):
        r = f.result()
        rows.append(r)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                          if k not in ("source", "rate_ci90")}), flush=True)  # fmt: skip
    client.close()
    write(rows, args, time.perf_counter() - t0, noise_ppm)
    return 0


def release_arguments(description: str) -> argparse.ArgumentParser:
    """The options of a run over simulated releases: how many, from which seed, where."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--releases", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--from-json", nargs="+", help="summarise earlier runs' JSON files together")
    return ap


def readings_noise_ppm(data_dir) -> float:
    """The real readings' noise level (robust minute-to-minute spread), nothing else from them."""
    from plumescout.inference.data import read_beam_dataset
    from plumescout.units import g_m3_to_ppm

    return float(g_m3_to_ppm(read_beam_dataset(data_dir).noise_g_m3, "ch4"))


def local_cluster(workers: int):
    """A dask client on a local cluster of single-threaded workers (numba one thread each)."""
    from dask.distributed import Client, LocalCluster

    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None))


def summarise(rows: list[dict]) -> dict:
    """kappa (location) and kappa_rate: the factors that make the regions 90 % regions."""
    ok = [r for r in rows if r["found"]]
    ratio = np.array([r["error_m"] / max(r["radius_m"], 1e-9) for r in ok])
    z = []
    for r in ok:
        q, (lo, hi), t = r["rate_est"], r["rate_ci90"], r["rate_g_s"]
        half = np.log(hi / q) if t > q else np.log(q / lo)
        z.append(abs(np.log(t / q)) / max(half, 1e-9))
    z = np.array(z)
    return {
        "releases": len(rows),
        "found": len(ok),
        "exactly_one": int(sum(r.get("n_sources") == 1 for r in rows)),
        "median_error_m": float(np.median([r["error_m"] for r in ok])),
        "kappa": round(float(np.quantile(ratio, 0.9)), 3),
        "location_coverage_at_kappa_1": float(np.mean(ratio <= 1.0)),
        "kappa_rate": round(float(np.quantile(z, 0.9)), 3),
        "rate_coverage_at_kappa_1": float(np.mean(z <= 1.0)),
        "median_log10_rate_ratio": float(np.median([np.log10(r["rate_est"] / r["rate_g_s"]) for r in ok])),
    }


def write(rows, args, wall_s: float, noise_ppm: float | None = None) -> None:
    rows = sorted(rows, key=lambda r: r["seed"])
    summary = {**summarise(rows), "wall_s": wall_s}
    if noise_ppm is not None:
        summary["noise_ppm"] = noise_ppm
    cmd = (
        f"python benchmarks/calibrate_beams.py --releases {args.releases} --first-seed {args.first_seed}"
        if not getattr(args, "from_json", None)
        else "python benchmarks/calibrate_beams.py --from-json " + " ".join(args.from_json)
    )
    if getattr(args, "puff_widths", "briggs") != "briggs":
        cmd += f" --puff-widths {args.puff_widths}"
    if getattr(args, "config", "{}") not in ("{}", ""):
        cmd += f" --config '{args.config}'"
    out = Path(args.out)
    (out / "calibrate_beams.json").write_text(json.dumps({"summary": summary, "releases": rows}, indent=1) + "\n")
    lines = [
        "# Beam (open-path) region calibration on simulated releases",
        "",
        f"`{cmd}` on {machine()}.",
        "Chilbolton 2017 beam layout and minute winds only (not its readings or truth); virtual releases",
        "0.1-1 g/s placed near the beams; the simulator's puffs; the real readings' noise level.",
        "",
        "| quantity | value |",
        "|---|---|",
    ] + [f"| {k} | {v:.3g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in summary.items()]
    lines += [
        "",
        "kappa multiplies the beam location radius (EstimatorConfig.beam_location_inflation); kappa_rate widens",
        "the rate interval about its median on the log scale (EstimatorConfig.beam_rate_inflation).",
        "",
    ]
    (out / "calibrate_beams.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``plumescout`` command line: parse, validate, call the library, render."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .errors import ConfigError, PlumescoutError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="plumescout: find chemical emission sources from drone-borne gas measurements.",
)
validate_app = typer.Typer(no_args_is_help=True, help="Score the physics on real field data.")
app.add_typer(validate_app, name="validate")
bench_app = typer.Typer(no_args_is_help=True, help="Published benchmarks.")
app.add_typer(bench_app, name="bench")

console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def _guard(fn):
    """Turn every refusal into a one-line message and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PlumescoutError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc.filename or ''))}: {escape(str(exc.strerror or exc))}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None

    return wrapper


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _parse_origin(text: str | None):
    from .geo import parse_latlon

    if text is None:
        return None
    try:
        return parse_latlon(text)
    except ValueError as exc:
        raise PlumescoutError(f"--origin: {exc}") from None


def _estimate_progress(progress: Progress):
    task = progress.add_task("estimating sources", total=1.0)

    def cb(stage, done, total):
        frac = done / max(total, 1)
        progress.update(
            task,
            description=f"estimating sources ({stage})",
            completed=frac,
        )

    return task, cb


# the estimator settings that analyze's options set, to name the option in a refusal
_OPTION_OF = {
    "rate_scale_g_s": "--rate-scale",
    "max_rate_g_s": "--max-rate",
    "source_height_m": "--source-height",
    "source_height_sd_m": "--source-height-sd",
    "margin_m": "--margin",
    "beam_margin_m": "--margin",
    "max_margin_m": "--max-margin",
    "sensor_response_s": "--sensor-response-s",
    "point_sigma_y_prior_median": "--plume-width-fraction",
}


def _estimator_config(**values):
    """:class:`EstimatorConfig` from analyze's options: a refusal names the options, not the fields."""
    from .inference import EstimatorConfig

    try:
        return EstimatorConfig(**values)
    except ConfigError as exc:
        text = str(exc)
        for name, option in _OPTION_OF.items():
            text = re.sub(rf"\b{name}\b", option, text)
        raise ConfigError(text) from None


def _margins_text(area: dict) -> str:
    """The search area's margins as 'west 30, south 120, east 30, north 30 m' (or one figure)."""
    m = area.get("margins_m") or [area["margin_m"]] * 4
    if len(set(m)) == 1:
        return f"{m[0]:g} m"
    return ", ".join(f"{side} {v:g}" for side, v in zip(("west", "south", "east", "north"), m, strict=True)) + " m"


def _sources_table(sources, truth=None) -> Table:
    tab = Table(title="Estimated sources" + (" vs truth" if truth else ""))
    for col in ("id", "lat, lon", "rate g/s [90 %]", "r90 m (ellipse)", "p"):
        tab.add_column(col)
    kinds = any(getattr(s, "attribution", None) for s in sources)
    if kinds:
        tab.add_column("class (p)")
    if truth:
        tab.add_column("nearest truth")
        tab.add_column("distance m")
        tab.add_column("true rate g/s")
    for s in sources:
        row = [
            s.id,
            f"{s.lat:.6f}, {s.lon:.6f}",
            f"{s.rate_g_s:.3g} [{s.rate_g_s_ci90[0]:.3g}, {s.rate_g_s_ci90[1]:.3g}]",
            f"{s.location_ci90_m:.0f}"
            + (f" ({e[0]:.0f} x {e[1]:.0f} at {e[2]:.0f} deg)" if (e := getattr(s, "ellipse_ci90_m", None)) else ""),
            f"{s.probability:.2f}",
        ]
        if kinds:
            a = s.attribution or {}
            c = a.get("source_class")
            row.append(f"{c} ({a['class_probabilities'][c]:.2f})" if c else "-")
        if truth and truth.get("sources"):
            d = [np.hypot(s.x_m - t["x_m"], s.y_m - t["y_m"]) for t in truth["sources"]]
            k = int(np.argmin(d))
            tk = truth["sources"][k]
            row += [tk["id"] + (f" ({tk['kind']})" if tk.get("kind") else ""), f"{d[k]:.0f}", f"{tk['rate_g_s']:.3g}"]
        tab.add_row(*row)
    return tab


def _read_truth(path: Path) -> dict:
    from .errors import InputError
    from .jsonio import read_json

    doc = read_json(path)
    srcs = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(srcs, list) or not all(isinstance(s, dict) and {"x_m", "y_m"} <= set(s) for s in srcs):
        raise InputError(path, "a truth file needs 'sources': [{'x_m', 'y_m', 'rate_g_s', ...}, ...]")
    return doc


@app.command()
@_guard
def analyze(
    flights: Annotated[
        list[Path],
        typer.Argument(
            metavar="FLIGHT...",
            help="flight log (open CSV, MAVLink .tlog, ArduPilot DataFlash .bin or PX4 .ulg, told by content), "
            "or a beam data set directory; several flight logs: the sorties of one survey, joined in clock "
            "order and estimated from together; a beam data set with flight logs: one fit of both",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("plumescout-out"),
    origin: Annotated[str | None, typer.Option(help="local frame origin LAT,LON (default: track median)")] = None,
    species: Annotated[str | None, typer.Option(help="species to estimate from (default: the first)")] = None,
    ground_elevation: Annotated[float | None, typer.Option(help="ground elevation (m MSL) for alt_msl_m logs")] = None,
    truth: Annotated[Path | None, typer.Option(help="a simulator truth.json to compare with")] = None,
    seed: Annotated[int, typer.Option(help="random seed of the sampler")] = 0,
    source_height: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="height of the sources above ground (m): the prior's median, or the known height with "
            "--source-height-sd 0",
        ),
    ] = 0.5,
    source_height_sd: Annotated[
        float,
        typer.Option(
            "--source-height-sd",
            min=0.0,
            help="1-sigma of the source height's prior (m); 0: the height is known (a release or vent of known "
            "height, ground-level leaks) and fixed at --source-height",
        ),
    ] = 1.0,
    rate_scale: Annotated[
        float,
        typer.Option(
            "--rate-scale",
            help="the scale of the emission-rate prior (g/s; half-Cauchy): the size of leak expected, e.g. 50 "
            "for releases of tens of g/s",
        ),
    ] = 1.0,
    max_rate: Annotated[float, typer.Option("--max-rate", help="the largest emission rate allowed (g/s)")] = 100.0,
    margin: Annotated[
        float | None,
        typer.Option(
            "--margin",
            min=0.0,
            help="the search area: the sensors' extent widened by this (m) on every side; default 100 for a "
            "flight, 30 for a beam data set (sources among the beams). A side that a source's 90 % region "
            "reaches is widened (doubled, refitted) up to --max-margin",
        ),
    ] = None,
    max_margin: Annotated[
        float,
        typer.Option(
            "--max-margin",
            min=0.0,
            help="how far (m) beyond the sensors the search area may grow where a source's 90 % region "
            "reaches its edge (every sensor downwind of the source, e.g. samplers on arcs); at or below "
            "--margin: the area is not grown",
        ),
    ] = 500.0,
    sensor_response: Annotated[
        float | None,
        typer.Option(
            "--sensor-response-s",
            help="the gas sensor's response time (s), if known; default: estimated from the crossings",
        ),
    ] = None,
    width_fraction: Annotated[
        float | None,
        typer.Option(
            "--plume-width-fraction",
            min=0.05,
            max=2.0,
            help="the plume's crosswind width about the measured wind as a fraction of the tabulated "
            "(time-averaged) one, if known, e.g. from a tracer test; default: estimated from the crossings",
        ),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="TOML saying which log messages/fields hold gas, wind and position")
    ] = None,
    signatures: Annotated[
        Path | None, typer.Option(help="signature library TOML for attribution (default: generic examples)")
    ] = None,
):
    """Estimate the emission sources in a flight and write GeoJSON, KML, HTML map and PNG.

    FLIGHT is a flight log in the open CSV, or a directory with an open-path beam data set
    (beams.csv, measurements.csv, wind.csv in local metres: give --origin). Several flight logs
    are the sorties of one survey (one aircraft, flown in turn, with clock times): joined in
    time order and estimated from together. A beam data set given with flight logs (a drone
    flown over a beam network) is estimated from in one fit with them, the logs read about the
    beams' --origin."""
    from .attribution import load_library
    from .observations import join_sorties
    from .pipeline import analyze as run_analyze
    from .pipeline import load_observations, normalise_truth

    dirs = [f for f in flights if f.is_dir()]
    logs = [f for f in flights if not f.is_dir()]
    if len(dirs) > 1:
        raise ConfigError(f"{', '.join(map(str, dirs))}: one beam data set at a time (with the flights over it)")
    if dirs and logs and origin is None:
        raise ConfigError(
            f"{dirs[0]}: a beam data set is in local metres: give its origin (--origin LAT,LON), the flights "
            "are read about it"
        )
    flight = flights[0]

    truth_doc = normalise_truth(_read_truth(truth)) if truth else None
    org = _parse_origin(origin)
    config = _estimator_config(
        species=species,
        seed=seed,
        source_height_m=source_height,
        source_height_sd_m=source_height_sd,
        rate_scale_g_s=rate_scale,
        max_rate_g_s=max_rate,
        sensor_response_s=sensor_response,
        max_margin_m=max_margin,
        **({"margin_m": margin, "beam_margin_m": margin} if margin is not None else {}),
        **(
            {"point_sigma_y_prior_median": width_fraction, "point_sigma_y_prior_log_sd": 0.0}
            if width_fraction is not None
            else {}
        ),
    )
    if dirs and not logs:
        given = [o for o, v in (("--sensor-response-s", sensor_response), ("--plume-width-fraction", width_fraction))
                 if v is not None]  # fmt: skip
        if given:
            raise ConfigError(
                f"{' and '.join(given)} {'describe' if len(given) > 1 else 'describes'} a flight's point "
                f"samples; {flight} is a beam data set "
                "(minute path averages, plume widths from its measured turbulence)"
            )
        data = flight
        console.print(f"beam data set {flight}")
    else:
        from .flightlog.autopilot import load_mapping

        parts = []
        for f in logs:
            part = load_observations(f, org, ground_elevation, load_mapping(mapping) if mapping else None)
            console.print(f"read {len(part)} samples over {part.duration_s:.0f} s from {f}")
            for r in part.repairs:
                console.print(f"  [yellow]repaired:[/] {r}", highlight=False)
            parts.append(part)
        data = parts if len(parts) > 1 else parts[0]  # several: joined by the pipeline (listed in provenance)
        if dirs:
            console.print(f"beam data set {dirs[0]}, with {len(parts)} flight log(s) over it: one fit of both")
            data = [dirs[0], *parts]
        if len(parts) > 1:
            joined = join_sorties(parts, org)  # refused here, before the estimate, if they cannot be
            n_craft = len(joined.pieces())
            console.print(
                f"{len(parts)} logs joined in clock order"
                + (f" ({n_craft} aircraft at the same time, a time series each)" if n_craft > 1 else " (sorties)")
                + f": {len(joined)} samples, {joined.duration_s:.0f} s from the first take-off to the last landing; "
                f"{', '.join(joined.species)} in every one"
            )
            for r in joined.repairs[sum(len(p.repairs) for p in parts) :]:
                console.print(f"  [yellow]note:[/] {r}", highlight=False)
    with _progress() as progress:
        _, cb = _estimate_progress(progress)
        res = run_analyze(
            data,
            out,
            config,
            truth_doc,
            origin=org,
            progress=cb,
            title=_analysis_title(dirs, logs),
            library=load_library(signatures) if signatures else None,
        )
    det = res.detection
    if det is not None:
        console.print(
            f"detection: {det.n_crossings} plume crossing(s) of {det.species}; noise {det.noise_ppm:.4g} ppm, "
            f"threshold {det.threshold_ppm:.4g} ppm ({det.false_alarms_per_hour:g} false alarms/h by design)"
        )
    if res.beams is not None:
        skipped = res.provenance.get("readings_skipped", 0)
        console.print(
            f"{res.provenance['readings']} beam readings"
            + (f"; {skipped} left out (nan, or no wind that minute)" if skipped else "")
        )
    console.print(_sources_table(res.sources, res.truth))
    area = res.provenance["search_area"]
    if area["sources_at_edge"]:
        console.print(
            f"[yellow]warning:[/] the 90 % region of {', '.join(area['sources_at_edge'])} reaches the edge of the "
            f"search area ({_margins_text(area)} beyond the sensors): the source may lie outside it; "
            "run again with a larger --max-margin",
            highlight=False,
        )
    cap = res.provenance["rate_prior"]
    if cap["sources_at_cap"]:
        console.print(
            f"[yellow]warning:[/] the rate of {', '.join(cap['sources_at_cap'])} presses against the rate prior's cap "
            f"({cap['max_g_s']:g} g/s): the source may be stronger than reported; run again with a larger "
            "--max-rate (and --rate-scale near the rates expected)",
            highlight=False,
        )
    if one := res.provenance.get("sources_on_one_crossing"):
        console.print(
            f"[yellow]warning:[/] {', '.join(one)} seen on one plume crossing at most: how far upwind it lies "
            "rests on the plume model's width alone; plan the lines that pin it down with "
            f"plumescout follow-up {out / 'sources.geojson'}",
            highlight=False,
        )
    if low := res.provenance.get("sources_low_probability"):
        from .inference.estimate import LOW_PROBABILITY_EVIDENCE

        console.print(
            f"[yellow]warning:[/] {', '.join(low)} {'is' if len(low) == 1 else 'are'} reported at a probability of "
            f"existing below {config.low_probability:g}: {LOW_PROBABILITY_EVIDENCE}; confirm before acting "
            f"(plumescout follow-up plans lines across the wind over {'it' if len(low) == 1 else 'them'})",
            highlight=False,
        )
    for k, p in res.outputs.items():
        console.print(f"  {k:8s} {p}")


def _analysis_title(dirs, logs) -> str:
    """The reports' title: the input's name, and how many more there are."""
    if dirs and logs:
        return f"{dirs[0].name} with {len(logs)} flight log(s)"
    first = (dirs or logs)[0]
    return first.name if len(logs) <= 1 else f"{first.name} and {len(logs) - 1} more sortie(s)"


@app.command()
@_guard
def plan(
    area: Annotated[
        Path, typer.Argument(help="survey area GeoJSON (Polygon; optional no-fly, takeoff, landing features)")
    ],
    wind_from: Annotated[float, typer.Option("--wind-from", help="direction the wind blows from (deg)")],
    altitude: Annotated[float, typer.Option(help="flight height above take-off (m)")],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("plumescout-plan"),
    wind_speed: Annotated[float, typer.Option(help="expected wind speed (m/s)")] = 3.0,
    fleet: Annotated[
        Path | None, typer.Option(help="TOML with [[aircraft]] tables (name, speed_m_s, endurance_s, ...)")
    ] = None,
    aircraft: Annotated[int, typer.Option(help="number of identical aircraft (without --fleet)")] = 1,
    speed: Annotated[float, typer.Option(help="survey speed (m/s, without --fleet)")] = 8.0,
    endurance: Annotated[float, typer.Option(help="endurance per sortie (s, without --fleet)")] = 1800.0,
    no_fly: Annotated[list[Path] | None, typer.Option("--no-fly", help="more no-fly zones (GeoJSON polygons)")] = None,
    takeoff: Annotated[
        str | None, typer.Option(help="take-off LAT,LON (default: from the area file, else the first waypoint)")
    ] = None,
    landing: Annotated[str | None, typer.Option(help="landing LAT,LON (default: the take-off point)")] = None,
    max_altitude: Annotated[float, typer.Option(help="airspace ceiling (m)")] = 120.0,
    rate: Annotated[float, typer.Option(help="reference source rate the survey must see (g/s)")] = 0.5,
    detection_limit: Annotated[float, typer.Option(help="sensor detection limit (ppm)")] = 0.05,
    species: Annotated[str, typer.Option(help="species")] = "ch4",
    stability: Annotated[
        str,
        typer.Option(
            help="Pasquill-Gifford class expected (A-F, or an index 0-5: an analysis records the one it fitted)"
        ),
    ] = "D",
    trials: Annotated[int, typer.Option(help="simulated sources for the detection probability (0: skip)")] = 100,
    seed: Annotated[int, typer.Option(help="random seed of the detection simulation")] = 0,
):
    """Plan a crosswind survey of an area: lines, no-fly zones, sorties per aircraft; writes
    mission.plan (QGroundControl), mission.waypoints (QGC WPL 110), mission.kml and plan.json."""
    from .pipeline import dump_json
    from .planning.area import read_area
    from .planning.export import write_mission_files
    from .planning.mission import detection_probability, plan_mission

    site = read_area(area)
    zones = list(site.no_fly_m)
    for extra in no_fly or []:
        zones.extend(_zones_in(extra, site.frame))
    st = _mission_settings(
        fleet,
        [{"name": f"UAV{i + 1}", "speed_m_s": speed, "endurance_s": endurance} for i in range(aircraft)],
        wind_from_deg=wind_from,
        wind_speed_m_s=wind_speed,
        altitude_m=altitude,
        max_altitude_m=max_altitude,
        species=species,
        detection_limit_ppm=detection_limit,
        reference_rate_g_s=rate,
        stability=stability,
    )

    def point(text, default):
        if text is None:
            return default
        lat, lon = _parse_origin(text)
        x, y = site.frame.to_local(lat, lon)
        return (float(x), float(y))

    t0 = point(takeoff, site.takeoff_m)
    l0 = point(landing, site.landing_m if site.landing_m is not None else t0)
    mission = plan_mission(site.area_m, st, t0, l0, zones)
    if trials > 0:
        with _progress() as prog:
            task = prog.add_task("simulating sources for the detection probability", total=trials)
            mission.detection = detection_probability(
                mission, trials, rng=seed, progress=lambda d, t: prog.update(task, completed=d)
            )
    files = write_mission_files(out, mission, site.frame)
    summary = mission.summary()
    lat0, lon0 = site.frame.to_wgs84(*mission.takeoff_m)
    dump_json(
        out / "plan.json",
        {
            **summary,
            "origin": [site.frame.lat0, site.frame.lon0],
            "takeoff": [float(lat0), float(lon0)],
            "files": files,
        },
    )
    tab = Table(title=f"survey plan: {summary['lines']} lines {summary['line_spacing_m']} m apart at {altitude:g} m")
    for c in ("aircraft", "sortie", "length (m)", "flight time (min)"):
        tab.add_column(c)
    for s in summary["sorties"]:
        tab.add_row(s["aircraft"], str(s["sortie"]), f"{s['length_m']:.0f}", f"{s['flight_time_s'] / 60:.1f}")
    console.print(tab)
    console.print(f"mission duration (all aircraft, with turnarounds): {summary['mission_duration_s'] / 60:.1f} min")
    if mission.detection:
        d = mission.detection
        k = f"p_detect_{st.min_crossings}_passes"
        console.print(
            f"P(detect a {rate:g} g/s source anywhere in the area) = {d['p_detect']:.2f} "
            f"(90 % CI {d['p_detect_ci90'][0]:.2f}-{d['p_detect_ci90'][1]:.2f}); seen in >= {st.min_crossings} "
            f"passes: {d[k]:.2f}  [{d['trials']} simulated sources]"
        )
    console.print(
        f"wrote {out / 'mission.plan'}, {out / 'mission.waypoints'}, {out / 'mission.kml'}, {out / 'plan.json'}"
    )


@app.command("follow-up")
@_guard
def follow_up(
    sources_geojson: Annotated[Path, typer.Argument(help="an analysis' sources.geojson (plumescout analyze)")],
    sources: Annotated[
        str | None,
        typer.Option(
            help="source ids to fly again, e.g. S1,S3 (default: those flagged single_crossing, region_at_search_edge "
            "or low_probability)"
        ),
    ] = None,  # fmt: skip
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("plumescout-follow-up"),
    wind_from: Annotated[
        float | None, typer.Option("--wind-from", help="where the wind blows from now (deg; default: the analysis')")
    ] = None,
    wind_speed: Annotated[float | None, typer.Option(help="wind speed now (m/s; default: the analysis')")] = None,
    altitude: Annotated[
        float | None, typer.Option(help="flight height above take-off (m; default: the analysed flight's)")
    ] = None,
    fleet: Annotated[
        Path | None, typer.Option(help="TOML with [[aircraft]] tables (name, speed_m_s, endurance_s, ...)")
    ] = None,
    speed: Annotated[float, typer.Option(help="survey speed (m/s, without --fleet)")] = 5.0,
    endurance: Annotated[float, typer.Option(help="endurance per sortie (s, without --fleet)")] = 1800.0,
    no_fly: Annotated[list[Path] | None, typer.Option("--no-fly", help="no-fly zones (GeoJSON polygons)")] = None,
    takeoff: Annotated[str | None, typer.Option(help="take-off LAT,LON (default: each one's first waypoint)")] = None,
    landing: Annotated[str | None, typer.Option(help="landing LAT,LON (default: the take-off point)")] = None,
    max_altitude: Annotated[float, typer.Option(help="airspace ceiling (m)")] = 120.0,
    min_altitude: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="the lowest height this site allows (m; masts, trees, buildings): a source too weak for the "
            "flight's height is planned no lower (default: 5 m, or the flight's height if lower; with --fleet, "
            "each aircraft's own minimum, raised to this)",
        ),
    ] = None,
    detection_limit: Annotated[float, typer.Option(help="sensor detection limit (ppm)")] = 0.05,
    species: Annotated[str, typer.Option(help="species")] = "ch4",
    stability: Annotated[
        str | None,
        typer.Option(help="Pasquill-Gifford class or index 0-5 (default: the analysis' fitted one, else D)"),
    ] = None,
    region: Annotated[
        str,
        typer.Option(
            help="lay the lines over each source's 90 % circle, or its ellipse (a flight's, where recorded: about a "
            "fifth less flight, but on simulated near-field surveys 3.0 m from the truth after it against 2.0 m)"
        ),
    ] = "circle",
):
    """Plan the flight that pins down the sources an analysis could not: crosswind lines over
    each one's 90 % region, close enough to cross its plume several times at several distances.
    Writes one mission per source, or per group of sources whose areas overlap where one flight
    over them is shorter (OUT/<ids>/mission.plan, .waypoints, .kml), follow_up.json and
    follow_up.png (the lines over each region). A source whose weakest plume never reaches the
    flight's height gets its mission at the height that would see it, no lower than the aircraft
    may fly (OUT/<ids>_<altitude>m/; check the site's obstacles); one seen at no such height is
    listed as not planned."""
    from .pipeline import dump_json
    from .planning.export import write_mission_files
    from .planning.followup import (
        FOLLOW_UP_FLAGS,
        below_altitude_advice,
        lower_altitude,
        lower_altitude_advice,
        plan_every_target,
        read_analysis,
    )

    if region not in ("ellipse", "circle"):
        raise ConfigError(f"--region must be ellipse or circle, not {region!r}")
    # (the circle by default: benchmarks/results/follow_up/, session 27, it pins sources down better)
    an = read_analysis(sources_geojson, ellipse=region == "ellipse")
    ids = [x.strip() for x in sources.split(",") if x.strip()] if sources else None
    targets = an.select(ids)
    if not targets:
        console.print(
            f"no source in {sources_geojson} carries {' or '.join(FOLLOW_UP_FLAGS)}: nothing to fly again "
            "(name sources with --sources to plan one anyway)"
        )
        return
    flight = an.flight({"--wind-from": wind_from, "--wind-speed": wind_speed, "--altitude": altitude})
    alt = flight["altitude_m"]
    st = _mission_settings(
        fleet,
        # the aircraft flew the analysed survey at its altitude, however low
        [
            {
                "name": "UAV1",
                "speed_m_s": speed,
                "endurance_s": endurance,
                "min_altitude_m": min(5.0, alt) if min_altitude is None else min_altitude,
            }
        ],
        min_altitude_m=min_altitude,
        **flight,
        max_altitude_m=max_altitude,
        species=species,
        detection_limit_ppm=detection_limit,
        stability=an.stability(stability),
    )
    zones = [z for extra in no_fly or [] for z in _zones_in(extra, an.frame)]

    def point(text):
        if text is None:
            return None
        x, y = an.frame.to_local(*_parse_origin(text))
        return (float(x), float(y))

    t0 = point(takeoff)
    # a target whose weakest plume never reaches the flight's height is planned lower, where it
    # would be seen (no lower than the aircraft may fly); one seen at no allowed height is listed
    plans, refused = plan_every_target(targets, st, t0, point(landing) or t0, zones)
    if not plans:
        raise ConfigError(f"{sources_geojson}: {'; '.join(refused.values())}")
    wind = f"wind from {st.wind_from_deg:.0f} deg at {st.wind_speed_m_s:.1f} m/s"
    tab = Table(title=f"follow-up lines, {wind}, stability {_stability_text(st.stability)}")
    for c in (
        "source", "why", "region (m)", "rate laid for (g/s)", "altitude (m)", "lines", "spacing (m)",
        "downwind of it (m)", "flight time (min)",
    ):  # fmt: skip
        tab.add_column(c)
    doc = {
        "analysis": str(sources_geojson),
        "origin": [an.frame.lat0, an.frame.lon0],
        "stability": st.stability,
        "missions": [],
        **({"not_planned": refused} if refused else {}),
    }
    advice, below, seen = [], [], []
    for f in plans:
        at = f.mission.settings.altitude_m
        name = f.name if at == alt else f"{f.name}_{at:g}m"  # a mission flown below the survey
        files = write_mission_files(out / name, f.mission, an.frame)
        why = {t.id: [x for x in an.flags.get(t.id, []) if x in FOLLOW_UP_FLAGS] or ["asked"] for t in f.targets}
        lower = {t.id: low for t in f.targets if at == alt and (low := lower_altitude(t, st)) is not None}
        advice += [
            f"{t.id}: {lower_altitude_advice(t, alt, f.reach_m[t.id][0], lower[t.id], '--altitude ')}"
            for t in f.targets
            if t.id in lower
        ]
        doc["missions"].append({**f.summary(), "why": why, "dir": name, "files": files})
        if at != alt:
            why_below = below_altitude_advice(alt, at, "--min-altitude ")
            doc["missions"][-1]["below_survey_altitude"] = {"survey_altitude_m": alt, "why": why_below}
            below.append(f"{f.name}: {why_below} ({out / name}/)")
        if lower:
            doc["missions"][-1]["lower_altitude"] = {
                sid: {"altitude_m": a, "plume_detectable_from_m": round(x, 1)} for sid, (a, x) in lower.items()
            }
        minutes = f"{sum(s.time_s for s in f.mission.sorties) / 60:.1f}"
        for k, t in enumerate(f.targets):  # sources whose areas overlap share one mission (its first row)
            lo, hi = f.along_m[t.id]
            q = f.rates_g_s.get(t.id, t.rate_g_s)
            rate = f"{q:.3g}" + (" *" if q > t.rate_g_s else "")
            if q > t.rate_g_s:  # above the interval's low end: the weakest plume the survey's height sees
                of = "its rate interval's low end" + (" before the near-crossing widening" * t.low_before_widening)
                seen.append(
                    f"{t.id}: lines laid for {q:.3g} g/s, not {of} {t.rate_g_s:.3g}: the survey "
                    f"crossed its plume at {t.seen_at_m:g} m, which no weaker plume reaches"
                )
            tab.add_row(
                t.id, ", ".join(why[t.id]), f"{t.radius_m:.0f}", rate, f"{at:g}",
                str(f.mission.n_lines) if k == 0 else "", f"{f.spacing_m:.1f}" if k == 0 else "",
                f"{lo:.0f} to {hi:.0f}", minutes if k == 0 else "(same)",
            )  # fmt: skip
    dump_json(out / "follow_up.json", doc)
    from .report.maps import write_follow_up_png

    write_follow_up_png(
        out / "follow_up.png", plans, (st.wind_speed_m_s, st.wind_from_deg), title=f"follow-up: {sources_geojson.name}"
    )
    console.print(tab)
    for line in seen:
        console.print(f"* {line}", highlight=False)
    for line in advice:
        console.print(f"[yellow]lower:[/yellow] {line}")
    for line in below:
        console.print(f"[yellow]lower:[/yellow] {line}", highlight=False)
    for line in refused.values():
        console.print(f"[yellow]not planned:[/yellow] {line}", highlight=False)
    console.print(
        "fly these, then analyse every log together (plumescout analyze FIRST.csv FOLLOW_UP.csv): the lines cross "
        f"the plume at several distances, which fixes how far upwind the source is. Wrote "
        f"{', '.join(str(out / d['dir']) + '/' for d in doc['missions'])}, {out / 'follow_up.json'}, "
        f"{out / 'follow_up.png'}"
    )


def _stability_text(stability) -> str:
    """A class letter as given; an index as the index and its nearest class (3.4 -> "3.4 (D)")."""
    if isinstance(stability, str):
        return stability
    from .met import class_letter

    return f"{stability:.1f} ({class_letter(stability)})"


def _mission_settings(fleet: Path | None, default_craft: list[dict], min_altitude_m: float | None = None, **settings):
    """Mission settings from the command line: the aircraft of ``fleet`` (TOML, [[aircraft]]
    tables; each one's minimum height raised to ``min_altitude_m`` where given) or
    ``default_craft``; an invalid value is a ConfigError naming the field."""
    import tomllib

    from pydantic import ValidationError

    from .errors import ConfigError, InputError
    from .planning.mission import Aircraft, MissionSettings

    if fleet is not None:
        try:
            doc = tomllib.loads(fleet.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InputError(fleet, f"not a readable TOML file: {e}") from None
        craft = doc.get("aircraft")
        if not isinstance(craft, list) or not craft:
            raise InputError(fleet, "needs one or more [[aircraft]] tables")
        if min_altitude_m is not None:
            craft = [
                {**c, "min_altitude_m": max(c.get("min_altitude_m", 5.0), min_altitude_m)} if isinstance(c, dict) else c
                for c in craft
            ]
    else:
        craft = default_craft
    try:
        return MissionSettings(aircraft=[Aircraft(**c) for c in craft], **settings)
    except (ValidationError, TypeError) as e:
        msg = (
            "; ".join(f"{'.'.join(str(x) for x in er['loc'])}: {er['msg']}" for er in e.errors())
            if isinstance(e, ValidationError)
            else str(e)
        )
        raise ConfigError(f"invalid mission settings: {msg}") from None


def _zones_in(path: Path, frame):
    """Polygons of a GeoJSON file, in local metres about ``frame``."""
    from .errors import InputError
    from .jsonio import read_json
    from .planning.area import _ring

    doc = read_json(path)
    feats = doc.get("features", [doc]) if isinstance(doc, dict) else []
    out = []
    for i, f in enumerate(feats, start=1):
        g = f.get("geometry", f) if isinstance(f, dict) else None
        if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
            raise InputError(path, f"feature {i}: a no-fly zone must be a Polygon or MultiPolygon")
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for c in polys:
            ring = _ring(path, c, f"feature {i}")
            lon, lat = np.array(ring).T
            x, y = frame.to_local(lat, lon)
            out.append(list(zip(x.tolist(), y.tolist(), strict=True)))
    return out


@app.command()
@_guard
def live(
    mavlink: Annotated[str, typer.Option(help="pymavlink connection string, e.g. udp:127.0.0.1:14550")],
    guide: Annotated[
        str | None,
        typer.Option(help="send waypoints from a search policy: lookahead (fastest measured), space-aware, ..."),
    ] = None,
    species: Annotated[str, typer.Option(help="species (NAMED_VALUE_FLOAT named '<species>_ppm')")] = "ch4",
    radius: Annotated[float, typer.Option(help="half-width of the searched square about the first fix (m)")] = 500.0,
    altitude: Annotated[float | None, typer.Option(help="altitude for guided waypoints (default: current)")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after this much vehicle time (s)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the final estimate here")] = None,
):
    """Listen to a vehicle over MAVLink, update the source posterior as samples arrive, show the
    estimate, and with --guide send the next waypoint (SET_POSITION_TARGET_GLOBAL_INT, GUIDED)."""
    from rich.live import Live

    from .live import run_live
    from .search.field import FIELD_POLICIES

    if guide is not None and guide not in FIELD_POLICIES:
        raise PlumescoutError(f"--guide must be one of {', '.join(FIELD_POLICIES)}; got '{guide}'")

    def view(est, status):
        e = est.estimate()
        tab = Table(title=f"plumescout live: {mavlink} [{status}]")
        for c in ("samples", "windows", "hits", "estimate", "90 % radius (m)", "update (ms)"):
            tab.add_column(c)
        where = f"{e['lat']:.6f}, {e['lon']:.6f}" if e["located"] else "-"
        r = f"{e['radius90_m']:.1f}" if e["located"] else "-"
        ms = f"{1000 * max(est.update_times):.1f}" if est.update_times else "-"
        tab.add_row(str(e["samples"]), str(e["windows"]), str(e["hits"]), where, r, ms)
        return tab

    if guide is not None:  # a trained policy trains on its first use on this machine, before listening
        with _progress() as prog:
            task = None

            def trained(h):
                nonlocal task
                if task is None:
                    task = prog.add_task(f"training the {guide} policy (first use; Perseus iterations)", total=None)
                prog.update(task, completed=h["iteration"] + 1)

            FIELD_POLICIES[guide]().prepare(trained)
    with Live(console=console, refresh_per_second=4) as screen:
        try:
            est = run_live(
                mavlink,
                guide=guide,
                species=species,
                radius_m=radius,
                altitude_m=altitude,
                duration_s=duration,
                on_update=lambda est, status: screen.update(view(est, status)),
            )
        except KeyboardInterrupt:
            console.print("stopped")
            return
    e = est.estimate()
    console.print(e)
    if json_out is not None:
        json_out.write_text(json.dumps(e, indent=1) + "\n", encoding="utf-8")


@app.command()
@_guard
def simulate(
    scenario: Annotated[Path, typer.Argument(help="scenario TOML")],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("plumescout-sim"),
):
    """Fly a scenario in the simulator: writes flight.csv (open CSV), truth.json and plan.json."""
    from .simulate import load_scenario

    sc = load_scenario(scenario)
    _simulate_to(sc, out)


def _simulate_to(sc, out: Path):
    from .flightlog import write_flight_csv
    from .pipeline import dump_json
    from .simulate import simulate_flight

    out.mkdir(parents=True, exist_ok=True)
    with _progress() as progress:
        task = progress.add_task("flying the simulator (puffs per source)", total=max(1, len(sc.sources)))
        flight = simulate_flight(sc, progress=lambda d, t: progress.update(task, completed=d, total=t))
    csv_path = write_flight_csv(out / "flight.csv", flight.observations)
    dump_json(out / "truth.json", flight.truth)
    if flight.plan is not None:
        dump_json(
            out / "plan.json",
            {
                **flight.plan.summary(),
                "wind_from_deg": flight.plan.wind_from_deg,
                "home_m": list(flight.plan.home_m),
                "sorties_m": [s.round(2).tolist() for s in flight.plan.sorties],
            },
        )
        console.print(f"survey plan: {flight.plan.summary()}", highlight=False)
    console.print(
        f"flew {flight.truth['samples']} samples over {flight.truth['duration_s']:.0f} s; "
        f"wrote {csv_path}, {out / 'truth.json'}"
    )
    return flight, csv_path


@app.command()
@_guard
def demo(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("demo-output"),
    scenario: Annotated[Path | None, typer.Option(help="scenario TOML (default: the embedded demo)")] = None,
    signatures: Annotated[
        Path | None, typer.Option(help="signature library TOML (default: the demo's, with a user 'target' class)")
    ] = None,
):
    """The whole story on the embedded default: plan, fly, analyse, report, compare with truth."""
    from importlib import resources

    from .attribution import load_library
    from .inference import EstimatorConfig
    from .pipeline import analyze as run_analyze
    from .simulate import load_scenario

    if signatures is None:
        with resources.as_file(resources.files("plumescout") / "data" / "demo_signatures.toml") as p:
            library = load_library(p)
    else:
        library = load_library(signatures)
    if scenario is None:
        with resources.as_file(resources.files("plumescout") / "data" / "demo.toml") as p:
            sc = load_scenario(p)
    else:
        sc = load_scenario(scenario)
    console.rule(f"[bold]plumescout demo[/]: {sc.name}")
    console.print(
        f"{len(sc.sources)} hidden source(s) in a {_area_km2(sc):.2f} km2 area; wind "
        f"{sc.wind.speed_m_s} m/s from {sc.wind.from_deg:.0f} deg, meander {sc.wind.meander_deg} deg"
    )
    flight, csv_path = _simulate_to(sc, out)
    with _progress() as progress:
        _, cb = _estimate_progress(progress)
        res = run_analyze(
            csv_path,
            out,
            EstimatorConfig(species=sc.sensor.species),
            flight.truth,
            origin=tuple(sc.site.origin),
            progress=cb,
            title=sc.name,
            library=library,
        )
    console.print(f"detection: {res.detection.n_crossings} plume crossings; noise {res.detection.noise_ppm:.4f} ppm")
    console.print(_sources_table(res.sources, flight.truth))
    console.print(f"wall time of the analysis: {res.provenance['wall_time_s']:.1f} s")
    console.print("[bold]outputs[/] (open report.html in a browser; no network needed):")
    for p in [csv_path, out / "truth.json", out / "plan.json", *res.outputs.values()]:
        console.print(f"  {p}")


def _area_km2(sc) -> float:
    from shapely.geometry import Polygon

    return Polygon(sc.site.area_m).area / 1e6


@validate_app.command("prairie-grass")
@_guard
def validate_prairie_grass_cmd(
    directory: Annotated[Path, typer.Argument(help="folder with PGARCS.txt, modelParamList.txt, evap.txt")],
    as_json: Annotated[bool, typer.Option("--json", help="print the statistics as JSON")] = False,
    scheme: Annotated[str, typer.Option(help="sigma scheme: pg_isc3, briggs_rural, briggs_urban")] = "pg_isc3",
    class_letter: Annotated[bool, typer.Option("--class-letter", help="round the class to a letter")] = False,
    no_evap_correction: Annotated[
        bool, typer.Option("--no-evap-correction", help="skip the SO2-loss correction")
    ] = False,
):
    """Score the plume model on Project Prairie Grass (crosswind-integrated concentrations)."""
    from .dispersion import SIGMA_SCHEMES
    from .validation import validate_prairie_grass

    if scheme not in SIGMA_SCHEMES:
        raise PlumescoutError(f"--scheme must be one of {', '.join(SIGMA_SCHEMES)}, got '{scheme}'")
    r = validate_prairie_grass(
        directory, scheme=scheme, continuous_class=not class_letter, evap_correction=not no_evap_correction
    )
    keys = ("n", "FAC2", "FB", "NMSE", "MG", "VG")
    if as_json:
        sys.stdout.write(json.dumps({k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keys}) + "\n")
        return
    tab = Table(title=f"Prairie Grass CWIC, {r['n']} arcs ({scheme})")
    tab.add_column("statistic")
    tab.add_column("value")
    tab.add_column("Chang & Hanna 'good'")
    crit = {"FAC2": ">= 0.5", "FB": "|FB| <= 0.3", "NMSE": "<= 4", "MG": "0.7 - 1.3", "VG": "<= 1.6"}
    for k in keys[1:]:
        ok = r["meets"][k]
        tab.add_row(k, f"{r[k]:.3f}", f"{crit[k]} {'[green]ok[/]' if ok else '[red]fails[/]'}")
    console.print(tab)


@validate_app.command("prairie-grass-sources")
@_guard
def validate_prairie_grass_sources_cmd(
    directory: Annotated[Path, typer.Argument(help="folder with PGARCS.txt, modelParamList.txt, evap.txt")],
    runs: Annotated[
        str | None, typer.Option(help="comma-separated run numbers (default: every run with meteorology)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the per-run results as JSON")] = False,
):
    """The source estimator on Project Prairie Grass: each run a real release of known place and
    rate seen by fixed samplers on arcs 50-800 m downwind. Per run: sources reported, location
    error, 90 % radius, rate / truth, whether the 90 % regions hold the truth."""
    from .validation.prairie_grass import MATCH_M, estimate_run, load_prairie_grass, runs_with_meteorology

    loaded = load_prairie_grass(directory)
    usable = runs_with_meteorology(loaded)
    if runs is None:
        chosen = usable
    else:
        try:
            chosen = [int(v) for v in runs.split(",") if v.strip()]
        except ValueError:
            raise PlumescoutError(f"--runs must be run numbers separated by commas, got '{runs}'") from None
        if not chosen:
            raise PlumescoutError("--runs names no run")
        missing = [r for r in chosen if r not in usable]
        if missing:
            have = ", ".join(str(r) for r in usable)
            raise PlumescoutError(f"--runs: no meteorology for run(s) {missing} (runs with it: {have})")
    results = []
    with _progress() if not as_json else contextlib.nullcontext() as progress:
        task = progress.add_task("estimating runs", total=len(chosen)) if progress else None
        for run in chosen:
            r = estimate_run(loaded, run)
            r.pop("estimator")
            results.append(r)
            if progress:
                progress.update(task, advance=1, description=f"estimating runs (run {run})")
    found = [r for r in results if r["found"]]
    summary = {
        "runs": len(results),
        "found": len(found),
        "false_sources": sum(r["false_sources"] for r in results),
        "median_error_m": float(np.median([r["error_m"] for r in found])) if found else None,
        "location_coverage_90": float(np.mean([r["in_region"] for r in found])) if found else None,
        "rate_coverage_90": float(np.mean([r["rate_in_interval"] for r in found])) if found else None,
        "median_abs_log10_rate_ratio": (
            float(np.median([abs(np.log10(r["rate_g_s"] / r["rate_true_g_s"])) for r in found])) if found else None
        ),
    }
    if as_json:
        sys.stdout.write(json.dumps({"summary": summary, "runs": results}) + "\n")
        return
    tab = Table(title=f"Prairie Grass: the estimator on {len(results)} real releases")
    for col in ("run", "class", "wind m/s", "sources", "error m", "r90 m", "rate / truth", "in 90 % regions"):
        tab.add_column(col)
    for r in results:
        if r["found"]:
            held = f"{'yes' if r['in_region'] else '[red]no[/]'} / {'yes' if r['rate_in_interval'] else '[red]no[/]'}"
            cells = (f"{r['error_m']:.1f}", f"{r['radius_m']:.1f}", f"{r['rate_g_s'] / r['rate_true_g_s']:.2f}", held)
        else:
            cells = (f"[red]none within {MATCH_M:g} m[/]", "-", "-", "-")
        tab.add_row(
            str(r["run"]), f"{r['stability_index']:.1f}", f"{r['wind_speed_m_s']:.1f}", str(r["sources"]), *cells
        )
    console.print(tab)
    if found:
        console.print(
            f"found {summary['found']} of {summary['runs']}, false sources {summary['false_sources']}, median error "
            f"{summary['median_error_m']:.1f} m, truth in the 90 % region {summary['location_coverage_90']:.0%} "
            f"(rate interval {summary['rate_coverage_90']:.0%}), median |log10 rate ratio| "
            f"{summary['median_abs_log10_rate_ratio']:.3f}"
        )


@bench_app.command("search")
@_guard
def bench_search_cmd(
    dims: Annotated[int, typer.Option(help="space dimensions (1, 2 or 3)")] = 1,
    lambda_over_dx: Annotated[float, typer.Option(help="dispersion length / step (L)")] = 2.0,
    rate_dt: Annotated[float, typer.Option(help="source intensity x time step (I)")] = 2.0,
    policy: Annotated[
        str, typer.Option(help="infotaxis, space-aware, cast-and-surge, lookahead, perseus, or best")
    ] = "best",
    episodes: Annotated[int, typer.Option(help="episodes to average over")] = 16000,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    workers: Annotated[int | None, typer.Option(help="processes (default: all cores)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    per_episode: Annotated[
        bool, typer.Option("--per-episode", help="add each episode's steps (for paired comparisons)")
    ] = False,
):
    """The olfactory-search POMDP of Vergassola et al. (2007) scored as by Loisy & Eloy (2022):
    mean number of steps to find the source, from the centre after a first non-zero hit."""
    from .search import POLICIES, policy_name
    from .search.pomdp import evaluate

    if policy != "best" and policy not in POLICIES:
        raise PlumescoutError(f"--policy must be one of best, {', '.join(sorted(POLICIES))}; got '{policy}'")
    if dims not in (1, 2, 3) or lambda_over_dx < 1.0 or rate_dt <= 0 or episodes < 1:
        raise PlumescoutError("need --dims 1-3, --lambda-over-dx >= 1, --rate-dt > 0 and --episodes >= 1")
    if as_json:
        r = evaluate(dims, lambda_over_dx, rate_dt, policy, episodes, seed, workers, per_episode=per_episode)
    else:
        with _progress() as prog:
            task = prog.add_task("episodes", total=episodes)
            train = None

            def trained(h):  # the Perseus policy, trained on first use (then cached)
                nonlocal train
                if train is None:
                    train = prog.add_task("training the policy (Perseus iterations)", total=None)
                prog.update(train, completed=h["iteration"] + 1)

            r = evaluate(
                dims,
                lambda_over_dx,
                rate_dt,
                policy,
                episodes,
                seed,
                workers,
                lambda done, total: prog.update(task, completed=done),
                per_episode=per_episode,
                train_progress=trained,
            )
    r = {
        **r,
        "policy": policy_name(policy),
        "dims": dims,
        "lambda_over_dx": lambda_over_dx,
        "rate_dt": rate_dt,
        "seed": seed,
    }
    if as_json:
        sys.stdout.write(json.dumps(r) + "\n")
        return
    console.print(
        f"{r['policy']}: {r['mean_steps']:.2f} +- {r['ci95']:.2f} steps (95 %), "
        f"p_fail {r['p_fail']:.4f}, {r['episodes']} episodes"
    )


@app.command()
@_guard
def apportion(
    flights: Annotated[list[Path], typer.Argument(help="flight logs of one campaign (any supported kind)")],
    factors: Annotated[int, typer.Option(help="number of source profiles to find")] = 3,
    reference: Annotated[str, typer.Option(help="species whose plume crossings make the rows")] = "ch4",
    signatures: Annotated[Path | None, typer.Option(help="signature library TOML to name the profiles")] = None,
    seeds: Annotated[int, typer.Option(help="random starts (the lowest Q is kept)")] = 10,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the profiles and contributions here")] = None,
):
    """Source apportionment over a campaign: positive matrix factorisation (EPA esat) of every plume
    crossing's species enhancements into recurring profiles, each named after the library class it
    matches. Needs esat in its environment (pip install 'plumescout[pmf]')."""
    from .attribution import default_library, load_library
    from .attribution.apportion import apportion as run_pmf
    from .attribution.apportion import crossing_matrix
    from .pipeline import dump_json, load_observations

    obs = [load_observations(f) for f in flights]
    cm = crossing_matrix(obs, reference=reference)
    lib = load_library(signatures) if signatures else default_library()
    a = run_pmf(cm, factors, lib, seeds=seeds)
    table = Table(
        title=f"{len(cm)} plume crossings x {len(cm.species)} species -> {factors} profiles "
        f"(Q(true) {a.q_true:.1f} for {cm.V.size} values)"
    )
    table.add_column("factor")
    for sp in cm.species[1:]:
        table.add_column(f"{sp}/{reference}", justify="right")
    table.add_column("class (library)")
    table.add_column("misfit", justify="right")
    table.add_column("crossings", justify="right")
    for row in a.summary():
        ratios = row[f"ratios_to_{reference}"]
        table.add_row(
            str(row["factor"]),
            *[f"{ratios[sp]:.3g}" if ratios[sp] is not None else "-" for sp in cm.species[1:]],
            row["class"] or "unknown",
            f"{row['misfit']:.2f}",
            str(row["crossings"]),
        )
    console.print(table)
    if json_out:
        dump_json(
            json_out,
            {
                "species": cm.species,
                "factors": a.summary(),
                "q_true": a.q_true,
                "q_robust": a.q_robust,
                "crossings": [
                    {"flight": str(flights[f]), "start_s": t, "contributions": c.tolist()}
                    for f, t, c in zip(cm.flight, cm.start_s, a.contributions, strict=True)
                ],
            },
        )


def _service():
    try:
        from .service import app as service_app
        from .service.settings import ServiceSettings
    except ImportError as exc:
        raise PlumescoutError(
            f"the service needs its extra: pip install 'plumescout[service]' ({exc.name} is missing)"
        ) from None
    return service_app, ServiceSettings


@app.command()
@_guard
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    db: Annotated[
        str, typer.Option(help="SQLite file, or a database URL (postgresql+psycopg://...)")
    ] = "plumescout.db",
    data_dir: Annotated[Path | None, typer.Option(help="flight files and run outputs (default: beside the db)")] = None,
    workers: Annotated[int, typer.Option(help="analysis worker processes")] = 1,
    scheduler: Annotated[str | None, typer.Option(help="dask.distributed scheduler address for analyses")] = None,
    signatures: Annotated[Path | None, typer.Option(help="signature library TOML for attribution")] = None,
    tiles: Annotated[
        str | None, typer.Option(help="XYZ tile URL for the dashboard map (default: offline outline)")
    ] = None,
    tak_url: Annotated[
        str | None, typer.Option(help="TAK server to push CoT to: tcp://host:port or tls://host:port")
    ] = None,
    tak_cert: Annotated[Path | None, typer.Option(help="client certificate (PEM) for a tls:// TAK server")] = None,
    tak_key: Annotated[Path | None, typer.Option(help="client key (PEM) for a tls:// TAK server")] = None,
    tak_ca: Annotated[Path | None, typer.Option(help="CA bundle (PEM) of the TAK server")] = None,
):
    """Run the intelligence-sharing service: API, dashboard at http://HOST:PORT/ and analysis workers."""
    import uvicorn

    service_app, ServiceSettings = _service()
    tls = {
        k: str(v)
        for k, v in {
            "PYTAK_TLS_CLIENT_CERT": tak_cert,
            "PYTAK_TLS_CLIENT_KEY": tak_key,
            "PYTAK_TLS_CLIENT_CAFILE": tak_ca,
        }.items()
        if v
    }
    settings = ServiceSettings(
        db=db,
        data_dir=data_dir,
        workers=workers,
        scheduler=scheduler,
        signatures=signatures,
        tile_url=tiles,
        tak_url=tak_url,
        tak_tls=tls,
    )
    application = service_app.create_app(settings)
    console.print(f"plumescout service on http://{host}:{port}/ (store: {settings.url.split('@')[-1]})")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@app.command("serve-init")
@_guard
def serve_init(
    org: Annotated[str, typer.Option(help="your organisation")],
    admin: Annotated[str, typer.Option(help="the first admin's username")],
    db: Annotated[str, typer.Option(help="SQLite file or database URL")] = "plumescout.db",
    password: Annotated[bool, typer.Option(help="also set a password (prompted) for the dashboard login")] = False,
):
    """Create the store, the first organisation and its admin; print an API token (shown once)."""
    service_app, ServiceSettings = _service()
    pw = typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    uid, token = service_app.bootstrap(ServiceSettings(db=db), org, admin, pw)
    console.print(f"admin '{admin}' (user {uid}) of '{org}'. API token, shown once:")
    print(token)


@app.command()
@_guard
def upload(
    files: Annotated[list[Path], typer.Argument(help="flight logs (CSV, tlog, .bin, .ulg); beam data sets (DIR, ZIP)")],
    service: Annotated[str, typer.Option(envvar="PLUMESCOUT_SERVICE", help="the service's address, https://host")],
    mission: Annotated[int, typer.Option(help="the mission's id (the dashboard shows it)")],
    token: Annotated[
        str, typer.Option(envvar="PLUMESCOUT_TOKEN", help="an API token (from serve-init, or an admin's /api/tokens)")
    ],
    origin: Annotated[
        str | None, typer.Option(help="a beam data set's origin LAT,LON (its geometry is in metres about it)")
    ] = None,
    analyse: Annotated[bool, typer.Option("--analyse", help="then analyse the uploaded files together")] = False,
    wait: Annotated[bool, typer.Option(help="with --analyse: follow the run and print its sources")] = True,
):
    """Send flight logs (and beam data sets) from the field to a plumescout service: each file is
    uploaded to the mission (kept byte for byte; the same file again is recognised), then, with
    --analyse, analysed together as `plumescout analyze` would (a beam data set first, the logs
    as sorties of one survey), the run followed and its sources printed. A file the service
    refuses is named with the service's reason (file, line and field); the files before it stay
    uploaded."""
    from rich.progress import DownloadColumn, TransferSpeedColumn

    from .service.client import ServiceClient, beam_archive

    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise PlumescoutError(f"no such file: {', '.join(missing)} (nothing uploaded)")
    zips = {f: beam_archive(f) for f in files if f.is_dir()}  # (a beam data set's directory, zipped once)
    sizes = [len(zips[f]) if f in zips else f.stat().st_size for f in files]
    done = []
    with ServiceClient(service, token) as api:
        who = api.me()  # (a wrong token or address is said before any upload)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeElapsedColumn(), console=console,
        ) as bar:  # fmt: skip
            for f, size in zip(files, sizes, strict=True):
                task = bar.add_task(f"uploading {f.name}", total=size)
                try:
                    beams = f.is_dir() or f.suffix.lower() == ".zip"  # (the origin is a beam data set's)
                    step = lambda n, task=task: bar.advance(task, n)  # noqa: E731
                    rec = api.upload(f, mission, origin if beams else None, advance=step, archive=zips.get(f))
                except PlumescoutError as exc:
                    if done:
                        ids = ", ".join(f"{r['filename']} (flight {r['id']})" for r in done)
                        raise PlumescoutError(f"{exc} (uploaded before it, and kept: {ids})") from None
                    raise
                bar.update(task, completed=size)
                done.append(rec)
        tab = Table(title=f"mission {mission}: uploaded as {who.get('username', '?')}")
        for c in ("file", "flight", "format", "samples", "species", "note"):
            tab.add_column(c)
        for r in done:
            note = "already there (not stored twice)" if r.get("duplicate") else "; ".join(r.get("repairs") or [])
            tab.add_row(r["filename"], str(r["id"]), r["format"], str(r["samples"]), ", ".join(r["species"]), note)
        console.print(tab)
        if not analyse:
            console.print(f"analyse them in the dashboard, or: plumescout upload ... --analyse (service {api.base})")
            return
        run = api.start_run(mission, [r["id"] for r in done])
        console.print(f"run {run['id']} queued: {api.base}/api/runs/{run['id']}")
        if not wait:
            return
        with _progress() as bar:
            task = bar.add_task(f"run {run['id']}: queued", total=1.0)
            run = api.wait(
                run["id"],
                lambda r: bar.update(task, completed=r.get("progress") or 0.0,
                                     description=f"run {r['id']}: {r.get('stage') or r['state']}"),
            )  # fmt: skip
        if run["state"] == "failed":
            raise PlumescoutError(f"run {run['id']} failed: {run.get('error') or 'see its log in the dashboard'}")
        tab = Table(title=f"run {run['id']}: {len(run['reports'])} source(s)")
        for c in ("report", "source", "lat", "lon", "90 % radius (m)", "rate g/s (90 %)", "p", "flags"):
            tab.add_column(c)
        for rid in run["reports"]:
            r = api.report(rid)
            lo, hi = r["emission_rate_g_s_ci90"]
            tab.add_row(
                str(r["id"]), r["title"], f"{r['lat']:.6f}", f"{r['lon']:.6f}", f"{r['location_ci90_m']:.0f}",
                f"{r['emission_rate_g_s']:.3g} ({lo:.3g}-{hi:.3g})", f"{r['probability']:.2f}",
                ", ".join(r["flags"]),
            )  # fmt: skip
        console.print(tab)
        console.print(f"the reports: {api.base}/ (dashboard), {api.base}/api/reports?mission_id={mission}")


@app.command()
def version():
    """Print the version."""
    console.print(f"plumescout {__version__}")


if __name__ == "__main__":  # pragma: no cover
    app()

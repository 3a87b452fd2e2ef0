"""Evaluation of the estimator on simulated missions: random scenarios and scores.

Used by ``benchmarks/estimator_suite.py`` (run on dask.distributed) and its tests. A scenario is
drawn from a seed: 1-4 sources (log-uniform 0.2-2 g/s, the rate the survey is planned to see,
at least 80 m apart) in an 800 m x 600 m
field, wind 1.5-8 m/s from any direction with 5-20 degrees of meander, sensor noise 0.005-0.03
ppm with a 0.5-3 s lag, flight altitude 5, 8 or 12 m, and a crosswind survey whose spacing is
planned from the plume's reach, flown once (``single-pass``) or twice, out and back
(``repeat``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .geo import bearing_to_unit
from .simulate import Scenario

__all__ = [
    "random_scenario",
    "simulate_scenario",
    "score_flight",
    "FlightScore",
    "summarise_scores",
    "bootstrap_intervals",
    "paired_differences",
    "existence_reliability",
]

# the metrics whose uncertainty the bootstrap reports (the others are counts or timings)
RATE_METRICS = (
    "recall",
    "precision",
    "median_location_error_m",
    "median_abs_log10_rate_ratio",
    "location_coverage_90",
    "rate_coverage_90",
    "false_sources_per_flight",
)

AREA = [[-400.0, -300.0], [400.0, -300.0], [400.0, 300.0], [-400.0, 300.0]]


def random_scenario(seed: int, pattern: str | None = None, overrides: dict | None = None) -> tuple[Scenario, str]:
    """The suite's scenario ``seed`` (1-4 sources, wind, sensor, altitude drawn from it) and its
    flight pattern; ``overrides``: nested scenario fields to change, validated like the rest,
    e.g. ``{"wind": {"relative_dispersion": 0.4}}`` (robustness runs)."""
    sc, pattern = _random_scenario(seed, pattern)
    if overrides:
        sc = Scenario.model_validate(merge_overrides(sc.model_dump(), overrides))
    return sc, pattern


def _random_scenario(seed: int, pattern: str | None) -> tuple[Scenario, str]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        p = (float(rng.uniform(-330, 330)), float(rng.uniform(-240, 240)))
        if all(np.hypot(p[0] - a, p[1] - b) >= 80.0 for a, b in pts):
            pts.append(p)
    sources = [
        {
            "x_m": x,
            "y_m": y,
            "height_m": float(rng.uniform(0.5, 2.0)),
            "rate_g_s": float(np.exp(rng.uniform(np.log(0.2), np.log(2.0)))),
        }
        for x, y in pts
    ]
    alt = float(rng.choice([5.0, 8.0, 12.0]))
    pattern = pattern or ("single-pass" if seed % 3 else "repeat")
    return Scenario.model_validate(
        {
            "name": f"eval-{seed}-{pattern}",
            "seed": seed,
            "site": {"origin": [45.0, 5.0], "area_m": AREA},
            "sources": sources,
            "wind": {
                "speed_m_s": float(rng.uniform(1.5, 8.0)),
                "from_deg": float(rng.uniform(0, 360)),
                "meander_deg": float(rng.uniform(5, 20)),
                "stability": str(rng.choice(["C", "D", "D", "E"])),
            },
            "aircraft": {
                "speed_m_s": 8.0,
                "altitude_m": alt,
                "min_altitude_m": alt,
                "sample_rate_hz": 2.0,
                "endurance_s": 7200.0,
            },
            "sensor": {
                "noise_ppm": float(rng.uniform(0.005, 0.03)),
                "response_time_s": float(rng.uniform(0.5, 3.0)),
                "detection_limit_ppm": 0.05,
            },
            "flight": {"reference_rate_g_s": 0.2, "pattern": "survey"},
        }
    ), pattern


@dataclass
class FlightScore:
    name: str
    pattern: str
    n_true: int
    n_est: int
    matched: int
    location_errors_m: list[float]
    log10_rate_ratios: list[float]
    location_covered: list[bool]
    location_radius_m: list[float]
    rate_covered: list[bool]
    wall_time_s: float
    samples: int
    # per matched source: the factor by which its 90 % rate interval would have to be widened
    # about the median (log scale) to reach the truth (<= 1: already inside)
    rate_widening_needed: list[float] = field(default_factory=list)
    # the estimator's fitted nuisance values (posterior medians) beside the simulated ones
    nuisance: dict = field(default_factory=dict)
    # per matched source: its distance (m) to each plume crossing it accounts for (flights)
    crossing_distances_m: list[list[float]] = field(default_factory=list)
    # per estimate matched to no truth (a false source): the plume crossings it accounts for
    unmatched_crossings: list[int | None] = field(default_factory=list)
    # per matched source with a 90 % ellipse (flights): whether it holds the truth, its area over
    # the circle's, and (for calibration) the factor its posterior ellipse (90 % of the samples,
    # times the source's region_widening and near_crossing_widening, before the factor and floor)
    # would need to reach the truth, and that ellipse's semi-axes
    ellipse_covered: list[bool] = field(default_factory=list)
    ellipse_area_ratio: list[float] = field(default_factory=list)
    ellipse_widening_needed: list[float] = field(default_factory=list)
    ellipse_raw_axes_m: list[list[float]] = field(default_factory=list)
    # the truth's offset from the estimate along and across that ellipse's major axis, each over
    # its semi-axis (the coverage at any factor and floor follows from these and the axes)
    ellipse_truth_offset: list[list[float]] = field(default_factory=list)
    # per estimate, in the estimator's order: its probability of existing, and whether it was
    # matched to a truth (the reliability of the reported probabilities: :func:`existence_reliability`)
    existence_probability: list[float] = field(default_factory=list)
    existence_matched: list[bool] = field(default_factory=list)


def score_flight(
    name, truth_sources, estimates, wall_time_s: float, samples: int, match_m: float = 100.0, pattern: str = ""
):
    """Match estimates to truth one-to-one (Hungarian, within ``match_m``) and score them."""
    T = np.array([[t["x_m"], t["y_m"]] for t in truth_sources]).reshape(-1, 2)
    E = np.array([[e.x_m, e.y_m] for e in estimates]).reshape(-1, 2)
    errs, ratios, loc_cov, rate_cov, radii, widen, seen = [], [], [], [], [], [], []
    ell: dict[str, list] = {"covered": [], "area": [], "needed": [], "axes": [], "offset": []}
    matched, hits = 0, set()
    if len(T) and len(E):
        d = np.hypot(T[:, None, 0] - E[None, :, 0], T[:, None, 1] - E[None, :, 1])
        r, c = linear_sum_assignment(d)
        for i, j in zip(r, c, strict=True):
            if d[i, j] <= match_m:
                matched += 1
                hits.add(int(j))
                e = estimates[j]
                q = truth_sources[i]["rate_g_s"]
                errs.append(float(d[i, j]))
                ratios.append(float(np.log10(e.rate_g_s / q)) if e.rate_g_s > 0 else float("-inf"))
                loc_cov.append(bool(d[i, j] <= e.location_ci90_m))
                radii.append(float(e.location_ci90_m))
                seen.append([round(float(v), 1) for v in getattr(e, "crossing_distances_m", None) or []])
                rate_cov.append(bool(e.rate_g_s_ci90[0] <= q <= e.rate_g_s_ci90[1]))
                _score_ellipse(ell, e, T[i])
                lo, hi, med = e.rate_g_s_ci90[0], e.rate_g_s_ci90[1], e.rate_g_s
                edge = hi if q >= med else lo
                if med > 0 and edge > 0 and edge != med:
                    widen.append(float(np.log(q / med) / np.log(edge / med)))
    false = [getattr(e, "crossings", None) for j, e in enumerate(estimates) if j not in hits]
    return FlightScore(
        name, pattern, len(T), len(E), matched, errs, ratios, loc_cov, radii, rate_cov, wall_time_s, samples, widen,
        crossing_distances_m=seen, unmatched_crossings=false, ellipse_covered=ell["covered"],
        ellipse_area_ratio=ell["area"], ellipse_widening_needed=ell["needed"], ellipse_raw_axes_m=ell["axes"],
        ellipse_truth_offset=ell["offset"],
        existence_probability=[float(getattr(e, "probability", np.nan)) for e in estimates],
        existence_matched=[j in hits for j in range(len(estimates))],
    )  # fmt: skip


def inside_ellipse(ellipse, centre, point) -> bool:
    """Whether ``point`` (east, north m) lies in ``ellipse`` (semi-major, semi-minor, major axis
    azimuth deg east of north) about ``centre``."""
    a, b, azimuth = ellipse
    d = np.asarray(point, float) - np.asarray(centre, float)
    u = d @ bearing_to_unit(azimuth)  # along the major axis
    v = d @ bearing_to_unit(azimuth + 90.0)  # across it
    return bool((u / a) ** 2 + (v / b) ** 2 <= 1.0)


def ellipse_holds(raw_axes, truth_offset, factor: float, floor_m: float) -> bool:
    """Whether a 90 % ellipse recorded by :func:`score_flight` holds its truth at another
    ``factor`` and ``floor_m`` (each semi-axis hypot(factor x the posterior's, floor), as the
    estimator widens it): ``raw_axes`` its posterior semi-axes (m), ``truth_offset`` the truth's
    offset along and across them, each over its semi-axis (``ellipse_truth_offset``)."""
    (a, b), (u, v) = raw_axes, truth_offset
    ea, eb = np.hypot(factor * a, floor_m), np.hypot(factor * b, floor_m)
    return bool((u * a / ea) ** 2 + (v * b / eb) ** 2 <= 1.0)


def _score_ellipse(out: dict, e, truth_xy) -> None:
    from .inference.estimate import posterior_ellipse

    ellipse = getattr(e, "ellipse_ci90_m", None)
    raw = posterior_ellipse(e.samples_xy, (e.x_m, e.y_m)) if len(getattr(e, "samples_xy", ())) else None
    if ellipse is None or raw is None:
        return
    d = np.asarray(truth_xy, float) - (e.x_m, e.y_m)
    # the posterior's ellipse as the estimator widened it
    w = float(getattr(e, "region_widening", 1.0)) * float(getattr(e, "near_crossing_widening", 1.0))
    axes = w * raw.axes
    out["covered"].append(inside_ellipse(ellipse, (e.x_m, e.y_m), truth_xy))
    out["area"].append(float(ellipse[0] * ellipse[1] / e.location_ci90_m**2))
    out["needed"].append(float(np.sqrt(d @ raw.inv @ d) / raw.scale / w))
    out["axes"].append([round(float(x), 2) for x in axes])
    out["offset"].append([float(abs(d @ raw.major) / axes[0]), float(abs(d @ raw.minor) / axes[1])])


def summarise_scores(scores: list[FlightScore]) -> dict:
    n_true = sum(s.n_true for s in scores)
    n_est = sum(s.n_est for s in scores)
    matched = sum(s.matched for s in scores)
    errs = [e for s in scores for e in s.location_errors_m]
    ratios = [abs(r) for s in scores for r in s.log10_rate_ratios]
    loc = [c for s in scores for c in s.location_covered]
    rate = [c for s in scores for c in s.rate_covered]
    return {
        "flights": len(scores),
        "true_sources": n_true,
        "recall": matched / n_true if n_true else float("nan"),
        "precision": matched / n_est if n_est else float("nan"),
        "median_location_error_m": float(np.median(errs)) if errs else float("nan"),
        "median_abs_log10_rate_ratio": float(np.median(ratios)) if ratios else float("nan"),
        "location_coverage_90": float(np.mean(loc)) if loc else float("nan"),
        "rate_coverage_90": float(np.mean(rate)) if rate else float("nan"),
        "ellipse_coverage_90": float(np.mean(ell))
        if (ell := [c for s in scores for c in s.ellipse_covered])
        else float("nan"),
        "median_ellipse_area_ratio": float(np.median(ar))
        if (ar := [a for s in scores for a in s.ellipse_area_ratio])
        else float("nan"),
        "false_sources_per_flight": (n_est - matched) / len(scores) if scores else float("nan"),
        "median_wall_time_s": float(np.median([s.wall_time_s for s in scores])) if scores else float("nan"),
    }


PROBABILITY_BINS = (0.0, 0.5, 0.7, 0.9, 1.0)
"""Edges of the reliability table's bins of the reported probability of existing (the last bin
closed at 1; the estimator reports from ``min_probability``, 0.3 by default)."""


def existence_reliability(scores: list[FlightScore], edges=PROBABILITY_BINS, level: float = 0.95) -> list[dict]:
    """How often a reported source with a given probability of existing was real (matched to a
    truth within the match distance): per bin of the probability, the sources in it, their mean
    probability, the fraction matched and its Wilson interval at ``level``. A calibrated
    probability has the fraction matched near the mean probability in every bin. Runs that
    predate the record give no rows."""
    p = [v for s in scores for v in s.existence_probability]
    return reliability_rows(p, [m for s in scores for m in s.existence_matched], edges, level)


def reliability_rows(probability, real, edges=PROBABILITY_BINS, level: float = 0.95) -> list[dict]:
    """:func:`existence_reliability` of reported sources given as their probabilities and
    whether each was real."""
    from scipy.stats import binomtest

    p, hit = np.asarray(probability, float), np.asarray(real, bool)
    rows = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        sel = (p >= lo) & ((p <= hi) if last else (p < hi))
        n, k = int(sel.sum()), int(hit[sel].sum())
        if n == 0:
            continue
        ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        rows.append(
            {
                "bin": (float(lo), float(hi)),
                "sources": n,
                "matched": k,
                "mean_probability": float(p[sel].mean()),
                "fraction_matched": k / n,
                "interval": (float(ci.low), float(ci.high)),
            }
        )
    return rows


def _resampled(summaries: list[dict], level: float) -> dict:
    a = (1.0 - level) / 2.0
    out = {}
    for k in RATE_METRICS:
        v = np.array([m[k] for m in summaries], float)
        v = v[np.isfinite(v)]
        out[k] = (float(np.quantile(v, a)), float(np.quantile(v, 1.0 - a))) if v.size else (np.nan, np.nan)
    return out


def bootstrap_intervals(scores: list[FlightScore], n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Percentile intervals of the suite's metrics with the flights resampled (with replacement):
    how much a table of this many flights says about the estimator, as opposed to about these
    flights. ``{metric: (low, high)}``."""
    rng = np.random.default_rng(seed)
    n = len(scores)
    if n == 0:
        return {k: (np.nan, np.nan) for k in RATE_METRICS}
    return _resampled([summarise_scores([scores[i] for i in rng.integers(0, n, n)]) for _ in range(n_boot)], level)


def paired_differences(
    base: list[FlightScore], variant: list[FlightScore], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict:
    """Variant minus base on the same flights, with a paired bootstrap interval (the same flights
    drawn for both): ``{metric: (difference, low, high)}``. Flights are matched by name; both
    runs must cover the same ones."""
    for run in (base, variant):
        names = [s.name for s in run]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"a flight appears twice in one run: {', '.join(dup[:5])}")
    b = {s.name: s for s in base}
    v = {s.name: s for s in variant}
    if set(b) != set(v):
        only = sorted(set(b) ^ set(v))
        raise ValueError(f"the two runs cover different flights: {', '.join(only[:5])}")
    names = sorted(b)
    B, V = [b[k] for k in names], [v[k] for k in names]
    point_b, point_v = summarise_scores(B), summarise_scores(V)
    rng = np.random.default_rng(seed)
    n = len(names)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        sb, sv = summarise_scores([B[i] for i in idx]), summarise_scores([V[i] for i in idx])
        diffs.append({k: sv[k] - sb[k] for k in RATE_METRICS})
    ci = _resampled(diffs, level)
    return {k: (point_v[k] - point_b[k], *ci[k]) for k in RATE_METRICS}


def merge_overrides(base: dict, update: dict) -> dict:
    """``base`` with ``update`` laid over it, nested dicts merged key by key (neither is changed)."""
    out = dict(base)
    for k, v in update.items():
        out[k] = merge_overrides(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def simulate_scenario(seed: int, overrides: dict | None = None):
    """Scenario ``seed`` (with ``overrides``, see :func:`random_scenario`), its pattern and the
    simulated flight over it (the survey planned as a crew would plan it)."""
    from .errors import ConfigError
    from .simulate import simulate_flight
    from .simulate.flight import plan_for_scenario

    sc, pattern = random_scenario(seed, overrides=overrides)
    ac = sc.aircraft
    plan = None
    for alt in (ac.min_altitude_m, 8.0, 5.0):  # as a crew would: fly lower if the plume is out of reach
        if alt > ac.min_altitude_m:
            continue
        try:
            plan = plan_for_scenario(sc, altitude_m=alt)
            break
        except ConfigError:
            continue
    if plan is None:  # out of reach even at 5 m: fly 5 m at the widest spacing
        plan = plan_for_scenario(sc, altitude_m=5.0, line_spacing_m=150.0)
    if pattern == "repeat":  # the survey flown out and back
        path = np.vstack(plan.sorties)
        plan.sorties = [path, path[::-1]]
    return sc, pattern, simulate_flight(sc, plan=plan)


SECOND_AIRCRAFT_ALTITUDE_M = {5.0: 8.0, 8.0: 12.0, 12.0: 8.0}
"""The second aircraft of a two-aircraft survey flies at another of the suite's altitudes."""


def second_aircraft(seed: int, scenario_overrides: dict | None = None):
    """Scenario ``seed`` flown by a second aircraft at the same time: the same sources, wind and
    sensor, another altitude (:data:`SECOND_AIRCRAFT_ALTITUDE_M`, so other lines), and its own
    draws of meander, puffs and noise (the simulator's seed + 10^6: the two aircraft do not share
    one plume realisation, which makes the joint fit harder, not easier, than in the field)."""
    sc, _ = random_scenario(seed, overrides=scenario_overrides)
    alt = SECOND_AIRCRAFT_ALTITUDE_M[float(sc.aircraft.min_altitude_m)]
    extra = {"seed": seed + 1_000_000, "aircraft": {"altitude_m": alt, "min_altitude_m": alt}}
    return simulate_scenario(seed, merge_overrides(scenario_overrides or {}, extra))[2]


def run_one(
    seed: int, config_kwargs: dict | None = None, scenario_overrides: dict | None = None, aircraft: int = 1
) -> FlightScore:
    """Simulate scenario ``seed`` (with ``scenario_overrides``), estimate, score (a dask task).
    ``aircraft`` 2: a second aircraft flies it at the same time (:func:`second_aircraft`) and
    both logs are estimated from together."""
    from .inference import EstimatorConfig, PlumeEstimator
    from .inference.estimate import FITTED_NUISANCE
    from .met import class_index
    from .observations import join_sorties

    sc, pattern, flight = simulate_scenario(seed, scenario_overrides)
    obs = flight.observations
    if aircraft == 2:
        site = (obs.frame.lat0, obs.frame.lon0)  # the truth's frame
        obs = join_sorties([obs, second_aircraft(seed, scenario_overrides).observations], origin=site)
    elif aircraft != 1:
        raise ValueError("aircraft: 1 or 2")
    t0 = time.perf_counter()
    est = PlumeEstimator(EstimatorConfig(**(config_kwargs or {}))).fit(obs)
    wall = time.perf_counter() - t0
    score = score_flight(sc.name, flight.truth["sources"], est.sources_, wall, len(obs), pattern=pattern)
    score.nuisance = {k: est.info_[k] for k in FITTED_NUISANCE if k in est.info_}
    score.nuisance["temper"] = est.info_.get("temper")  # the likelihood's tempering, per data set
    score.nuisance["temper_in_plume"] = est.info_.get("temper_in_plume")  # the same in the plume (flights)
    score.nuisance["region_widening"] = est.info_.get("region_widening")
    score.nuisance["simulated_response_s"] = sc.sensor.response_time_s
    score.nuisance["simulated_relative_dispersion"] = sc.wind.relative_dispersion
    # beside the fitted stability_index_fitted: the simulated class's index, and the wind's (sigma-theta)
    score.nuisance["simulated_stability_index"] = class_index(sc.wind.stability)
    score.nuisance["wind_stability_index"] = est.info_.get("stability_index")
    return score

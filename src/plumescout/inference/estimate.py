"""Source-term estimation: how many sources, where, how strong, how sure.

:class:`PlumeEstimator` assembles the data (point samples of a flight, or open-path beams),
detects plumes, and samples the posterior over source sets with :class:`~.sampler.RJSampler`
(reversible-jump MCMC, rates marginalised). The samples are then grouped into sources: the
best state seen gives the first centres; every sampled source is matched to the nearest centre
(Hungarian assignment within a gate); sources left unmatched in many samples seed new centres.
Per source: the median position, the radius holding 90 % of its samples, the median rate and
90 % interval (over the samples where it exists), and the probability that it exists (the
fraction of samples that have it).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import linear_sum_assignment

from ..errors import ConfigError
from ..geo import unit_to_bearing
from ..met import class_index, stability_from_sigma_theta
from ..observations import Observations
from .data import BeamData, PointData
from .detect import detect_observations
from .forward import serial_kernel
from .sampler import KindNuisance, RJConfig, RJSampler

__all__ = ["EstimatorConfig", "SourceEstimate", "PlumeEstimator", "group_sources", "integrated_autocorr_time"]


# the fitted nuisance values an estimate reports beside its sources (``info_``; posterior medians)
FITTED_NUISANCE = (
    "source_height_m",
    "sensor_response_s",
    "horizontal_width_factor",
    "beam_width_factor",
    "vertical_growth_exponent",
    "stability_index_fitted",
)


Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class EstimatorConfig(BaseModel):
    """Settings of :class:`PlumeEstimator` (all have defaults), validated when made: a value out
    of its range, an unknown name or settings that contradict each other raise a
    :class:`~plumescout.errors.ConfigError` naming the fields (``.fields``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    species: str | None = None
    max_sources: Annotated[int, Field(ge=1)] = 5
    expected_sources: Positive = 1.0
    iterations: Annotated[int, Field(ge=1)] = 3000
    burn_in: Annotated[int, Field(ge=0)] = 1000
    # independent chains pooled. Four for flights: every suite metric moves the right way and
    # the estimate depends less on the sampler's seed (benchmarks/results/experiments/README.md,
    # "Four chains"); beams keep two (the Chilbolton fit stays fast). None: ``chains`` for beams too
    chains: Annotated[int, Field(ge=1)] = 4
    beam_chains: Annotated[int, Field(ge=1)] | None = 2
    # the search area: the sensors' extent widened by this on every side (flights), by
    # ``beam_margin_m`` for beams (sources among the beams, as at Chilbolton). Where a source's
    # 90 % region reaches a side (the source may lie beyond it: a network whose sensors all stand
    # downwind of the source), that side's margin is doubled and the data fitted again, up to
    # ``max_margin_m`` and ``max_search_refits`` times; max_margin_m <= the margin: never grown
    margin_m: NonNegative = 100.0
    beam_margin_m: NonNegative = 30.0
    max_margin_m: NonNegative = 500.0
    max_search_refits: Annotated[int, Field(ge=0)] = 3
    grid_cells: Annotated[int, Field(ge=2)] = 40
    stability: str | float | None = None
    scheme: str = "briggs_rural"
    # the sources' height above ground (common to them): an unknown with a normal prior (median
    # source_height_m, 1-sigma source_height_sd_m, truncated at the ground); sd 0: the height is
    # known (a release of known height, ground-level leaks) and fixed at source_height_m
    source_height_m: NonNegative = 0.5
    source_height_sd_m: NonNegative = 1.0
    point_fluctuation_intensity: NonNegative = 1.0
    beam_fluctuation_intensity: NonNegative = 0.5
    point_student_nu: Positive | None = None
    beam_student_nu: Positive | None = 4.0
    lagrangian_wind: bool = True
    wind_smoothing_s: NonNegative = 10.0
    false_alarms_per_hour: Positive = 0.1
    background_window_s: Positive = 180.0
    min_sigma_m: NonNegative = 1.0
    # two groups at the same place whose rates correlate below this over the posterior are one
    # source split in two (the data fix their sum) and are merged; None: never
    split_rate_correlation: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None
    min_probability: Fraction = 0.3  # report a source when p(exists) >= 0.3 (benchmarks/results/estimator_suite.md)
    # flag a reported source below this p(exists) ``low_probability``: on the suite's 90 flights every false
    # source was reported below 0.7 and 17 of the 28 there were real (benchmarks/results/estimator_suite_pooled.md)
    low_probability: Fraction = 0.7
    rate_scale_g_s: Positive = 1.0
    max_rate_g_s: Positive = 100.0
    wind_bias_prior_deg: NonNegative = 5.0
    temper_scale: Positive = 1.0
    # 90 % location radius = posterior radius x this factor, calibrated on simulated flights
    # (benchmarks/calibrate_regions.py on seeds 2000-2029, with the stability prior of 2 classes:
    # kappa 1.067 of 0.74 -> 0.79, checked on seeds 1000-1029 and 3000-3029. Below 1: the
    # tempered posterior is wider than the errors; history: 2.15 with two chains, 1.85 without
    # the lag model, 0.81 before the horizontal width was sampled, 0.74 with a 1-class prior);
    # beams: benchmarks/calibrate_beams.py (60 simulated releases in the Chilbolton beam layout and
    # minute winds, never its readings or truth) -> 1.84
    point_location_inflation: Positive = 0.79
    beam_location_inflation: Positive = 1.84
    # flights (alone or with beams): the 90 % radius is sqrt((factor x r)^2 + floor^2), the
    # posterior's r widened and then no smaller than what a flight can resolve near a source. A
    # drone flown 2 m above a release, 10 m line spacing (benchmarks/combined_survey.py, seeds
    # 0-59): the errors (median 1.1-1.4 m) are metres the posterior does not see (its radius
    # 2.3 m; the factor alone held 0.63 of the truths of seeds 0-29); the floor that makes it 0.90
    # over the 60 is 2.85 m. The suite's flights (radii of tens of metres) do not change (their
    # coverage recomputed with the floor: the same to the digit)
    point_location_floor_m: NonNegative = 3.0
    # flights (alone or with beams): a source whose plume crossings all lie nearer than this (m) has
    # its 90 % circle, ellipse and rate interval widened by this distance / its farthest crossing's
    # (at most NEAR_CROSSING_MAX_WIDENING x). A drone 5 m up with lines 30 m apart
    # (benchmarks/combined_survey.py --modes flight --altitude 5 --spacing 30): with every crossing
    # within 40 m of the source the regions held 0.52 of the truths (seeds 0-179; a plume seen a
    # few seconds from its source is a meandering puff train, not the time-averaged plume the model
    # describes, and its distance rests on the width), 0.84 at 40-100 m, the suite's (crossings
    # 100-900 m away) 0.94 (benchmarks/results/near_crossing/). Session 26 chose 60 m on seeds
    # 0-179 (0.77 -> 0.90; blind, seeds 300-419, 0.70 -> 0.85); over seeds 0-419 pooled it held
    # 0.869 (sets 0.84-0.93), and 80 m is the least that holds 0.90 of them (0.911, each set
    # >= 0.88; the regions' median radius 11.0 -> 12.7 m; 3 of the suite's 358 sources touched,
    # its coverage unchanged); blind, on seeds 420-539, 0.773 -> 0.909 (60 m: 0.873; median radius
    # 9.1 -> 13.4 m). The rates of those sources (2x high, median) are widened alike: seeds
    # 300-419 0.843 -> 0.926 at 60 m, blind 420-539 0.927 -> 0.955 at 80 m (a follow-up plans
    # from the interval before the widening, rate_g_s_ci90_before_near, no weaker than the
    # survey's height saw: planning.followup.planned_rate).
    # A flight over the beams fitted with them (combined_survey.py --modes combined, seeds
    # 0-119): regions 0.90 -> 0.94 at 60 m (seeds 0-59 0.860 -> 0.930 and 60-119 0.945 -> 0.982 at
    # 80 m, read off the records); 0: off
    point_near_crossing_m: NonNegative = 80.0
    # flights: the 90 % ellipse's semi-axes = the posterior's (90 % of its samples inside) times
    # this factor, then floored as the circle's radius. Calibrated like the circle's factor
    # (benchmarks/calibrate_regions.py on seeds 2000-2029: ellipse_kappa 0.741; with the floor it
    # holds 0.925 of those truths, in a median 0.39 of the circle's area); checked on seeds
    # 1000-1029 and 3000-3029 and the near-field flights (benchmarks/results/calibration/)
    point_ellipse_inflation: Positive = 0.74
    # the 90 % rate interval widened (narrowed, below 1) about the median on the log scale by this
    # factor, calibrated as above: point data 0.872 of 0.66 -> 0.58 (the sampled intervals,
    # tempered and carrying the width's uncertainty, are wider than the suite's errors); with the
    # floor below, 0.58 holds 0.896 of the truths of the calibration sets of both regimes pooled
    # (suite seeds 2000-2029, the dense and sparse near-field surveys' seeds 0-29: 0.955, 0.90,
    # 0.75); beams 2.66
    point_rate_inflation: Positive = 0.58
    # flights (alone or with beams): and then no narrower than the median x/÷ this factor. A drone
    # 2 m above a release (benchmarks/combined_survey.py's dense flight, seeds 0-29) gets intervals
    # of x/÷1.3-1.8 (raw) while its errors are 15 % (median) to 43 % (90th percentile): with the
    # factor alone they held 0.77 of the truths; the floor that makes 0.90 is x/÷1.2 (log10
    # 0.08). The suite's errors are of the same size (median |log10| 0.06), so it widens many of
    # its intervals too: rate coverage pooled over its 90 flights 0.93 -> 0.95
    point_rate_floor_factor: Annotated[float, Field(ge=1.0)] = 1.2
    beam_rate_inflation: Positive = 2.66
    # a flight and a beam network fitted together (fit_combined): the factors of the regions, on
    # simulated surveys of a drone over the Chilbolton beam layout (benchmarks/combined_survey.py,
    # benchmarks/results/combined_survey/), with the flights' floors. Session 19 (the flights'
    # 2-class stability prior; session19/): the smallest factors holding 0.90 of the dense (2 m,
    # lines 10 m apart) and sparse (5 m, 30 m apart) surveys' seeds 0-29 pooled: location 1.1
    # (0.967 and 0.862; 0.915 pooled), rate 1.5 (0.90 and 0.93); checked on the sparse seeds 30-59
    # and dense 60-89. (Session 18, with the 1-class prior: 1.6 and 2.1)
    combined_location_inflation: Positive = 1.1
    combined_rate_inflation: Positive = 1.5
    # the beams' weight (a factor on their tempering) in a fit with a flight: 1 / 1.84^2, the beam
    # regions' calibration factor squared (their posterior is that much too narrow: the beam model's
    # error, which would otherwise outweigh the flight). At 1, seeds 0-29 gave 7 false sources
    # in 30 surveys; at 0.3, none (median error 1.3 m against 1.1 m)
    combined_beam_weight: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    point_theta_update_prob: Fraction = 0.5
    beam_theta_update_prob: Fraction = 1.0
    # beams: the log sd of a multiplier of both plume widths (median 1)
    sigma_scale_prior: NonNegative = 0.1
    # beams (measured turbulence): 1-sigma of the normal prior (mean 0) of the vertical width's
    # far-field growth exponent, sigma_z = x tan(sigma_theta_v) (1 + x / 100 m)^g; 0: g fixed at 0
    # (linear in distance, the near-field limit). An experiment (session 15), off by default
    beam_z_growth_prior: NonNegative = 0.0
    # point data: the horizontal plume width as a fraction of the tabulated (time-averaged) one,
    # an unknown with a log-normal prior. The model follows the measured meander (Lagrangian
    # wind), so the spread about the followed centreline is the relative dispersion, narrower
    # than the mean plume's
    point_sigma_y_prior_median: Positive = 0.7
    point_sigma_y_prior_log_sd: NonNegative = 0.35
    # the stability class from sigma-theta (horizontal turbulence) says little about the vertical
    # mixing; point data sample an offset to it with this 1-sigma prior (in classes; 0 = fixed).
    # 1 class: holdout seeds 2000-2029 recall 0.83 -> 0.87, precision 0.74 -> 0.84, single-pass
    # median error 46 -> 26 m. 2 classes: a drone at 5 m over a ground release in light,
    # meandering wind (benchmarks/combined_survey.py --altitude 5 --spacing 30, seeds 0-29) reads
    # sigma-theta 25-38 degrees, class A, where the plume grew as class D; the along-wind position
    # and the vertical growth trade off, and a 1-class prior held the fit at A-B: sources a median
    # 5 m downwind (error 5.4 m, regions holding 0.54). At 2 classes the fits move to C-D by
    # themselves: 3.7 m, 0.82. The suite is unchanged within its noise (90 flights, paired:
    # recall +0.017, median error +1.6 [-1.0, +3.2] m)
    point_stability_prior_classes: NonNegative = 2.0
    # the gas sensor's first-order response time (s), which delays and smears each plume crossing
    # along the track (the flight log does not say it). None: an unknown with a log-normal prior
    # (median response_prior_median_s, log sd response_prior_log_sd: 1-sigma 0.45-2.2 s, covering
    # the 0.1-3 s of the fast laser analysers drones carry); a number: known and fixed; 0: no lag.
    # Point data only (a beam reading is a minute's average). Ignoring a 0.5-3 s lag placed the
    # sources of seeds 3000-3011 a median 20 m upwind (benchmarks/results/experiments/README.md)
    sensor_response_s: NonNegative | None = None
    response_prior_median_s: Positive = 1.0
    response_prior_log_sd: NonNegative = 0.8
    decimate: Annotated[int, Field(ge=1)] = 1
    temperature_k: Positive = 288.15
    pressure_pa: Positive = 101325.0
    seed: int = 0
    # threads running the chains side by side (None: one per chain, up to the cores; 1: in turn).
    # The chains are independent and seeded alike either way, so the estimate does not change
    chain_threads: Annotated[int, Field(ge=1)] | None = None

    def __init__(self, **values):
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @model_validator(mode="after")
    def _consistent(self) -> EstimatorConfig:
        if self.burn_in >= self.iterations:
            raise ValueError(f"burn_in ({self.burn_in}) must be below iterations ({self.iterations})")
        if self.rate_scale_g_s >= self.max_rate_g_s:
            raise ValueError(
                f"need rate_scale_g_s < max_rate_g_s (the prior's scale below the cap), got "
                f"{self.rate_scale_g_s:g} and {self.max_rate_g_s:g}"
            )
        return self


def _config_error(exc: ValidationError) -> ConfigError:
    """One :class:`ConfigError` for a failed validation: each offending field with its reason, the
    fields named in ``.fields`` (settings that contradict each other name themselves in the text)."""
    parts, fields = [], []
    for e in exc.errors():
        name = ".".join(str(v) for v in e["loc"] if not isinstance(v, int))
        reason = e["msg"].removeprefix("Value error, ")
        if name:
            fields.append(name)
            got = e.get("input")
            parts.append(f"{name}: {reason}" + (f" (got {got!r})" if e["type"] != "extra_forbidden" else " (unknown)"))
        else:
            fields += [f for f in EstimatorConfig.model_fields if f in reason]
            parts.append(reason)
    err = ConfigError("estimator settings: " + "; ".join(parts))
    err.fields = fields
    return err


@dataclass
class SourceEstimate:
    """One estimated source (local metres and WGS84)."""

    id: str
    species: str
    x_m: float
    y_m: float
    lat: float
    lon: float
    height_m: float
    rate_g_s: float
    rate_g_s_ci90: tuple[float, float]
    location_ci90_m: float
    probability: float
    samples_xy: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 2)))
    samples_rate: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    # what kind of site (plumescout.attribution): source_class, class_probabilities, evidence
    attribution: dict | None = None
    attribution_detail: object | None = field(repr=False, default=None)
    # what the reader must know before trusting it (see SOURCE_FLAGS): its 90 % region reaches
    # the edge of the search area; its rate presses against the rate prior's cap; a flight saw
    # its plume on one crossing at most; its probability of existing is low (below
    # ``EstimatorConfig.low_probability``)
    flags: list[str] = field(default_factory=list)
    # its distance (m) to each of the flight's plume crossings it accounts for
    # (:func:`crossing_support`; None for beams)
    crossing_distances_m: list[float] | None = field(repr=False, default=None)
    # flights: the 90 % region as an ellipse (semi-major m, semi-minor m, major axis azimuth deg
    # east of north; :func:`ellipse_region`): posteriors stretch along the wind, and the ellipse
    # covers as often as the circle with less ground; None for beams
    ellipse_ci90_m: tuple[float, float, float] | None = None
    # the factor its regions and rate interval were widened by for the plume's correlation
    # (:func:`region_widening`; 1 for most fits)
    region_widening: float = 1.0
    # flights: the factor its 90 % circle, ellipse and rate interval were widened by besides, its
    # crossings all lying near it (:func:`near_crossing_widening`; 1 for most)
    near_crossing_widening: float = 1.0
    # its 90 % rate interval before that widening (what a follow-up lays its lines for: the
    # posterior's own low end; planning.followup.planned_rate); None where it was not widened
    rate_g_s_ci90_before_near: tuple[float, float] | None = None

    @property
    def crossings(self) -> int | None:
        """How many of the flight's plume crossings it accounts for (None for beams)."""
        return None if self.crossing_distances_m is None else len(self.crossing_distances_m)


SOURCE_FLAGS = {
    "region_at_search_edge": "sources_at_edge",
    "rate_at_prior_cap": "sources_at_rate_cap",
    "single_crossing": "sources_on_one_crossing",
    "low_probability": "sources_low_probability",
}
"""Each flag a source can carry, and the ``info_`` list of the estimate that names its sources."""

LOW_PROBABILITY_EVIDENCE = "on simulated surveys about 4 in 10 sources reported below 0.7 were not there"
"""What is known of the sources flagged ``low_probability``, said with the flag: of the 46 sources
reported below 0.7 over 150 simulated flights, 18 were false (benchmarks/results/
estimator_suite_pooled.md, 11 of 28; existence_holdout/, 7 of 18). Measured at the default
threshold only, so it names 0.7 whatever ``EstimatorConfig.low_probability`` is."""


def flag_sources(sources, box, cfg, crossings: bool) -> None:
    """Give each source the :data:`SOURCE_FLAGS` that apply (``box``: the search area, x0, y0,
    x1, y1; ``crossings``: a flight's fit, whose sources count their plume crossings)."""
    for s in sources:
        if _edge_distance(box, s.x_m, s.y_m) < s.location_ci90_m:
            s.flags.append("region_at_search_edge")
        if at_rate_cap(s.samples_rate, cfg.max_rate_g_s):
            s.flags.append("rate_at_prior_cap")
        if crossings and s.crossings <= 1:
            s.flags.append("single_crossing")
        if s.probability < cfg.low_probability:
            s.flags.append("low_probability")


def flagged(sources, flag: str) -> list[str]:
    """The ids of the ``sources`` that carry ``flag``."""
    return [s.id for s in sources if flag in s.flags]


def integrated_autocorr_time(z: np.ndarray, max_lag: int = 200, mask: np.ndarray | None = None) -> float:
    """1 + 2 sum of the autocorrelation until it first drops below 0.05 (>= 1). With ``mask``,
    of the readings it selects only, in their places in the series: a lag's products count
    where both readings are selected (the gaps between selected stretches are not closed)."""
    z = np.asarray(z, float)
    m = np.ones(z.size, bool) if mask is None else np.asarray(mask, bool)
    n = int(m.sum())
    if n < 8:
        return 1.0
    z = np.where(m, z - z[m].mean(), 0.0)
    den = float(np.dot(z, z))
    if den <= 0:
        return 1.0
    tau = 1.0
    for lag in range(1, min(max_lag, n // 4)):
        rho = float(np.dot(z[:-lag], z[lag:])) / den
        if rho < 0.05:
            break
        tau += 2.0 * rho
    return max(tau, 1.0)


def _side_distances(box, x: float, y: float) -> tuple[float, float, float, float]:
    """Distances (m) from (x, y) to the west, south, east and north sides of the search box
    (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return (float(x - x0), float(y - y0), float(x1 - x), float(y1 - y))


def _edge_distance(box, x: float, y: float) -> float:
    """Distance (m) from (x, y) to the nearest side of the search box. A source whose 90 % region
    reaches a side may lie outside the area searched: the region is cut there."""
    return min(_side_distances(box, x, y))


RATE_CAP_FRACTION = 0.9
"""A source's rate is held by the prior's cap when the top 5 % of its samples reach this fraction
of ``max_rate_g_s``: the data may want more than the cap allows."""


def at_rate_cap(q: np.ndarray, max_rate_g_s: float) -> bool:
    """Whether rate samples ``q`` press against the cap (see :data:`RATE_CAP_FRACTION`)."""
    return bool(len(q)) and float(np.quantile(q, 0.95)) >= RATE_CAP_FRACTION * max_rate_g_s


def _widen(q: np.ndarray, factor: float, floor: float = 1.0) -> tuple[float, float]:
    """The 5-95 % interval of the rate samples, widened by `widen_interval`."""
    lo, med, hi = (float(v) for v in np.quantile(q, [0.05, 0.5, 0.95]))
    return widen_interval(lo, med, hi, factor, floor)


def widen_interval(lo: float, med: float, hi: float, factor: float, floor: float = 1.0) -> tuple[float, float]:
    """The interval (lo, hi) about ``med`` widened by ``factor`` on the log scale (the rate is
    positive and its errors multiplicative), each side then reaching at least ``med`` x/÷
    ``floor`` (added in quadrature, as the location floor is)."""
    if (factor == 1.0 and floor == 1.0) or med <= 0 or lo <= 0:
        return lo, hi
    f = np.log(floor)
    return med * np.exp(-np.hypot(factor * np.log(med / lo), f)), med * np.exp(np.hypot(factor * np.log(hi / med), f))


def crossing_support(sampler, th, xy: np.ndarray, rates: np.ndarray, share: float = 0.25) -> list[list[float]]:
    """Per source (positions ``xy``, rates ``rates``, nuisance ``th``): the distance (m) from it
    to each detected plume crossing it accounts for: where its own predicted enhancement, summed
    over the crossing's readings, reaches ``share`` of the enhancement measured there (a crossing
    two sources share counts for both; one whose readings were all decimated away, for none).
    Point data only; the distance is to the crossing's peak.

    One crossing fixes where a plume passed, not how far it had come: its distance along the
    wind then rests on the width the plume model gives it."""
    out: list[list[float]] = [[] for _ in range(len(xy))]
    if not len(xy):
        return out
    for d, k in zip(sampler.data, sampler.columns(np.asarray(xy, float), th), strict=True):
        if d.kind != "point" or not d.crossing_times:
            continue
        pred = k * np.asarray(rates, float)[None, :]
        t = d.spec.t
        for ta, tb in d.crossing_times:
            w = np.flatnonzero((t >= ta) & (t <= tb))
            measured = float(np.sum(np.clip(d.y[w], 0.0, None)))
            if not w.size or measured <= 0.0:
                continue
            peak = w[np.argmax(d.y[w])]
            for s in np.flatnonzero(pred[w].sum(axis=0) >= share * measured):
                out[s].append(float(np.hypot(d.spec.x[peak] - xy[s][0], d.spec.y[peak] - xy[s][1])))
    return out


def group_sources(
    positions: list[np.ndarray],
    rates: list[np.ndarray],
    seeds: np.ndarray | None,
    gate_m: float,
    max_groups: int = 8,
    new_group_fraction: float = 0.1,
):
    """Group sampled sources (label-switching) into sources. Returns a list of
    ``(member_xy, member_rate, present_fraction)`` per group."""
    centres = find_centres(positions, seeds, gate_m, max_groups, new_group_fraction)
    return [g for g in collect_groups(positions, rates, centres, gate_m) if g is not None]


def find_centres(
    positions: list[np.ndarray],
    seeds: np.ndarray | None,
    gate_m: float,
    max_groups: int = 8,
    new_group_fraction: float = 0.1,
) -> list[np.ndarray]:
    """Centres of the groups: the seeds, then the densest spot of the sampled sources no centre
    claims, while more than ``new_group_fraction`` of the samples hold such a source."""
    n = len(positions)
    centres = [] if seeds is None else [np.asarray(s, float) for s in np.atleast_2d(seeds)]
    for _ in range(max_groups):
        _, unassigned = _assign(positions, centres, gate_m)
        un_xy = np.array([p for s in unassigned for p in s]) if any(len(s) for s in unassigned) else np.empty((0, 2))
        frac = sum(1 for s in unassigned if len(s)) / max(n, 1)
        if frac < new_group_fraction or len(un_xy) == 0 or len(centres) >= max_groups:
            break
        # the densest spot of the unmatched sources seeds a new group
        d = (
            np.hypot(un_xy[:, None, 0] - un_xy[None, :, 0], un_xy[:, None, 1] - un_xy[None, :, 1])
            if len(un_xy) <= 4000
            else None
        )
        if d is not None:
            centres.append(un_xy[np.argmax((d < gate_m / 2).sum(axis=1))])
        else:
            centres.append(np.median(un_xy, axis=0))
    return centres


def collect_groups(positions, rates, centres, gate_m) -> list:
    """Per centre, ``(member_xy, member_rate, present_fraction)`` or None where no sample holds
    it. A sample's sources split about one centre count as one source: their rates add and
    the position is their rate-weighted mean."""
    n = len(positions)
    assigned, _ = _assign(positions, centres, gate_m)
    groups = []
    for g in range(len(centres)):
        xy, q, present = [], [], 0
        for s in range(n):
            idx = assigned[s].get(g, [])
            if idx:
                present += 1
                w = np.asarray(rates[s][idx], float)
                pos = positions[s][idx]
                xy.append(np.average(pos, axis=0, weights=w) if w.sum() > 0 else np.mean(pos, axis=0))
                q.append(float(np.sum(w)))
        groups.append((np.array(xy), np.array(q), present / n) if present else None)
    return groups


def region_widening(tempers, in_plume) -> float:
    """The factor a flight's regions and rate intervals are widened by where its whole series
    showed no correlation (temper 1, the estimator's floor) while its readings in the plume do:
    sqrt(1 / in-plume temper), the width the posterior would have had tempered by the plume's
    correlation (it scales as temper ** -1/2); 1 elsewhere, and the geometric mean over several
    flights. A plume crossed in a few seconds of a long flight barely shows in the whole series'
    correlation: such fits' regions held 0.61 of their truths (circle; ellipse 0.67, rate 0.56)
    in simulated flights where the rest held 0.93 (benchmarks/results/experiments, session 23)."""
    w = [np.sqrt(t / p) if t >= 1.0 else 1.0 for t, p in zip(tempers, in_plume, strict=True) if p]
    return float(np.exp(np.mean(np.log(w)))) if w else 1.0


NEAR_CROSSING_MAX_WIDENING = 4.0


def near_crossing_widening(distances: list[float] | None, near_m: float) -> float:
    """The factor a flight's source's 90 % regions and rate interval are widened by when its
    plume crossings all lie within ``near_m`` of it (:attr:`EstimatorConfig.point_near_crossing_m`):
    ``near_m`` over the farthest crossing's distance, at most :data:`NEAR_CROSSING_MAX_WIDENING`;
    1 for a source seen farther out, or on no crossing (nothing to measure it by)."""
    if not distances or near_m <= 0.0:
        return 1.0
    far = max(distances)
    return 1.0 if far >= near_m else float(min(NEAR_CROSSING_MAX_WIDENING, near_m / max(far, 1e-9)))


def _region(xy: np.ndarray, inflation: float) -> tuple[np.ndarray, float]:
    """Median position and 90 % radius of a group: the posterior's 90 % radius times the
    calibration factor for the model error the likelihood does not describe (see
    benchmarks/calibrate_regions.py)."""
    med = np.median(xy, axis=0)
    return med, inflation * float(np.quantile(np.hypot(*(xy - med).T), 0.9))


class PosteriorEllipse(NamedTuple):
    """:func:`posterior_ellipse`: the inverse covariance of the samples, the semi-axes (major
    first, m), the Mahalanobis scale holding 90 % of the samples, and the unit vectors (east,
    north) of the major and minor axes."""

    inv: np.ndarray
    axes: np.ndarray
    scale: float
    major: np.ndarray
    minor: np.ndarray


def posterior_ellipse(xy: np.ndarray, centre) -> PosteriorEllipse | None:
    """The 90 % ellipse of a group's position samples about ``centre`` (its median): the shape of
    their covariance, scaled so that 90 % of the samples lie inside (their Mahalanobis distance's
    90th percentile, not a normal quantile: the posteriors are not normal). None with under 20
    samples or a degenerate spread."""
    xy = np.asarray(xy, dtype=float)
    if len(xy) < 20:
        return None
    cov = np.cov(xy.T)
    w, v = np.linalg.eigh(cov)
    if not np.all(np.isfinite(w)) or w[0] <= 1e-12 * max(w[1], 1e-300):
        return None
    inv = np.linalg.inv(cov)
    d = xy - np.asarray(centre, dtype=float)
    s90 = float(np.quantile(np.sqrt(np.einsum("ij,jk,ik->i", d, inv, d)), 0.9))
    return PosteriorEllipse(inv, s90 * np.sqrt(w[::-1]), s90, v[:, 1], v[:, 0])


def ellipse_region(xy: np.ndarray, centre, factor: float, floor_m: float = 0.0) -> tuple[float, float, float] | None:
    """The reported 90 % ellipse (semi-major m, semi-minor m, the major axis' azimuth in degrees
    east of north, 0-180) of :func:`posterior_ellipse`: each semi-axis widened by the calibration
    ``factor`` and then no smaller than ``floor_m`` (in quadrature, as the circle's radius)."""
    e = posterior_ellipse(xy, centre)
    if e is None:
        return None
    azimuth = float(unit_to_bearing(*e.major) % 180.0)
    a, b = (float(np.hypot(factor * x, floor_m)) for x in e.axes)
    return a, b, azimuth


def resolved_groups(
    positions, rates, seeds, gate_m: float, inflation: float, split_correlation: float | None = None
) -> list:
    """:func:`group_sources`, with splits of one source merged. A group is dropped, and its
    sampled sources join a stronger group as a split of it (rates added), while its median lies
    inside its own 90 % region around the stronger one's median and either

    - it carries under a tenth of the stronger one's (median) rate: a weak satellite sampled to
      soak up model error beside a strong source; or
    - (``split_correlation`` set) the two groups' rates, over the samples holding both, correlate
      below ``split_correlation``: the data fix only their sum, i.e. one plume shared between
      two sources at the same place.

    Either would otherwise be reported as a second site at the same spot. Neighbours the data
    tell apart are left apart (the wider rule that merged every group inside another's region
    cost recall, benchmarks/results/experiments/README.md)."""
    centres = find_centres(positions, seeds, gate_m)
    while True:
        groups = collect_groups(positions, rates, centres, gate_m)
        keep = [i for i, g in enumerate(groups) if g is not None]
        centres = [centres[i] for i in keep]
        groups = [groups[i] for i in keep]
        summary = [(*_region(xy, inflation), float(np.median(q))) for xy, q, _ in groups]
        corr = _rate_correlations(positions, rates, centres, gate_m) if split_correlation is not None else None
        pairs = ((i, j) for i in range(len(groups)) for j in range(len(groups)))
        drop = next((i for i, j in pairs if _split_of(summary, corr, split_correlation, i, j)), None)
        if drop is None:
            return groups
        # the weaker group's centre goes; its samples' sources fall to the stronger one's gate
        del centres[drop]


def _split_of(summary, corr, split_correlation, i: int, j: int) -> bool:
    """Whether group ``i`` is a split of the stronger group ``j`` (:func:`resolved_groups`)."""
    (med_i, r_i, q_i), (med_j, _, q_j) = summary[i], summary[j]
    if i == j or q_i > q_j or np.hypot(*(med_i - med_j)) > r_i:
        return False
    return q_i < 0.1 * q_j or (corr is not None and corr[i, j] < split_correlation)


def _rate_correlations(positions, rates, centres, gate_m) -> np.ndarray:
    """Correlation of the groups' rates over the samples holding both (0 where fewer than 20
    samples do, or a rate does not vary)."""
    assigned, _ = _assign(positions, centres, gate_m)
    Q = np.full((len(positions), len(centres)), np.nan)
    for s, a in enumerate(assigned):
        for g, idx in a.items():
            Q[s, g] = float(np.sum(np.asarray(rates[s])[idx]))
    G = len(centres)
    out = np.zeros((G, G))
    for i in range(G):
        for j in range(i + 1, G):
            both = ~np.isnan(Q[:, i]) & ~np.isnan(Q[:, j])
            if both.sum() >= 20 and np.std(Q[both, i]) > 0 and np.std(Q[both, j]) > 0:
                out[i, j] = out[j, i] = float(np.corrcoef(Q[both, i], Q[both, j])[0, 1])
    return out


def _assign(positions, centres, gate_m):
    """Per sample: {group: [source indices]} and the unmatched positions."""
    assigned, unassigned = [], []
    C = np.array(centres).reshape(-1, 2)
    for pos in positions:
        a: dict[int, list[int]] = {}
        rest = []
        if len(pos) and len(C):
            d = np.hypot(pos[:, None, 0] - C[None, :, 0], pos[:, None, 1] - C[None, :, 1])
            r, c = linear_sum_assignment(d)
            used = set()
            for i, j in zip(r, c, strict=True):
                if d[i, j] <= gate_m:
                    a.setdefault(int(j), []).append(int(i))
                    used.add(int(i))
            for i in range(len(pos)):
                if i not in used:
                    j = int(np.argmin(d[i]))
                    if d[i, j] <= gate_m / 2:  # a split of the same source
                        a.setdefault(j, []).append(i)
                    else:
                        rest.append(pos[i])
        else:
            rest = list(pos)
        assigned.append(a)
        unassigned.append(rest)
    return assigned, unassigned


def _union_extent(datasets) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) holding every data set's sensors."""
    ext = np.array([d.extent for d in datasets])
    return (ext[:, 0].min(), ext[:, 1].min(), ext[:, 2].max(), ext[:, 3].max())


def _extent_gap(a, b) -> float:
    """The distance (m) between two boxes (x0, y0, x1, y1); 0 where they overlap."""
    dx = max(a[0] - b[2], b[0] - a[2], 0.0)
    dy = max(a[1] - b[3], b[1] - a[3], 0.0)
    return float(np.hypot(dx, dy))


class PlumeEstimator:
    """Estimate emission sources; ``fit(obs)`` for a flight, ``fit_beams(data, frame)`` for beams.

    Learned: ``detection_`` (point data), ``sources_``, ``chain_``, ``sampler_``, ``info_``.
    """

    def __init__(self, config: EstimatorConfig | None = None):
        self.config = config or EstimatorConfig()

    def _rj_config(
        self, stability: float, theta_update_prob: float, stability_prior: float = 0.0, point: bool = False
    ) -> RJConfig:
        c = self.config
        if not point:
            resp, resp_sd = 0.0, 0.0
        elif c.sensor_response_s is None:
            resp, resp_sd = c.response_prior_median_s, c.response_prior_log_sd
        else:
            resp, resp_sd = max(float(c.sensor_response_s), 0.0), 0.0
        return RJConfig(
            response_s=resp,
            response_prior_log_sd=resp_sd,
            theta_update_prob=theta_update_prob,
            iterations=c.iterations,
            burn_in=c.burn_in,
            max_sources=c.max_sources,
            expected_sources=c.expected_sources,
            source_height_m=c.source_height_m,
            height_prior_m=c.source_height_sd_m,
            stability=stability,
            stability_prior_classes=stability_prior,
            grid_cells=c.grid_cells,
            rate_scale_g_s=c.rate_scale_g_s,
            max_rate_g_s=c.max_rate_g_s,
            bias_prior_deg=c.wind_bias_prior_deg,
            scale_prior=c.point_sigma_y_prior_log_sd if point else c.sigma_scale_prior,
            scale_prior_median=c.point_sigma_y_prior_median if point else 1.0,
            horizontal_width=point,
            z_growth_prior=0.0 if point else c.beam_z_growth_prior,
        )

    def fit(self, obs: Observations, progress=None) -> PlumeEstimator:
        """Estimate the sources of a flight's point samples (of several aircraft's flown at the
        same time: one data set each, with its own noise, background offset and sensor lag, the
        sources and the dispersion shared)."""
        t0 = time.perf_counter()
        datasets, stab = self._point_datasets(obs)
        if datasets:
            extent = _union_extent(datasets)
            self._search(datasets, extent, self.config.margin_m, stab, progress, self.config.point_theta_update_prob)
        self.info_["wall_time_s"] = time.perf_counter() - t0
        return self

    def fit_combined(self, obs: Observations, beams: BeamData, progress=None) -> PlumeEstimator:
        """Estimate the sources seen by a flight (one aircraft or several) and by a beam network
        in one fit: the sources, their rates and height are shared; each kind keeps its own
        dispersion scheme (the flight's stability classes, the beams' measured turbulence), its
        own wind-direction bias and width multiplier (it reads its own anemometer), and each
        data set its own noise and background. ``obs`` must be in the beams' local frame (read
        the logs about the beam data set's origin). The settings of each kind apply to its data;
        the search area is both kinds' sensors widened by ``margin_m``."""
        t0 = time.perf_counter()
        if beams.species not in obs.species:
            raise ConfigError(
                f"the beams measure '{beams.species}', which the flight log does not have (it has: "
                f"{', '.join(obs.species)}): give the species both measure (--species)"
            )
        if self.config.species is None:  # the beams' species is the flight's too
            self.config = self.config.model_copy(update={"species": beams.species})
        gap = _extent_gap((obs.x_m.min(), obs.y_m.min(), obs.x_m.max(), obs.y_m.max()), beams.extent)
        reach = max(self.config.margin_m, self.config.max_margin_m)
        if gap > reach:  # no source can be seen by both: another site, or the beams' origin wrong
            raise ConfigError(
                f"the flight passes {gap:.0f} m from the nearest beam, farther than the search area reaches "
                f"({reach:g} m): not a survey of the beams' site (check the beams' origin, --origin)"
            )
        datasets, stab = self._point_datasets(obs)
        beams.fluctuation_intensity = self.config.beam_fluctuation_intensity
        beams.student_nu = self.config.beam_student_nu
        self.info_.update({"data": "point+beam", "readings": len(beams)})
        datasets.append(beams)
        extent = _union_extent(datasets)
        # the beams' source height trades off against the rate: theta as often as either asks
        tp = max(self.config.point_theta_update_prob, self.config.beam_theta_update_prob)
        self._search(datasets, extent, self.config.margin_m, stab, progress, tp)
        self.info_["wall_time_s"] = time.perf_counter() - t0
        return self

    def _point_datasets(self, obs: Observations) -> tuple[list[PointData], float]:
        """A flight's point data sets (one per aircraft; none when no plume was crossed) and the
        stability class index its wind gives; sets ``detection_``, ``species_``, ``frame_`` and
        ``info_``."""
        cfg = self.config
        species = cfg.species or next(iter(obs.species))
        if species not in obs.species:
            raise ConfigError(f"species '{species}' is not in the flight log; it has: {', '.join(obs.species)}")
        self.species_, self.frame_ = species, obs.frame
        det = detect_observations(obs, species, cfg.background_window_s, cfg.false_alarms_per_hour)
        self.detection_ = det
        pieces = obs.pieces()
        if cfg.stability is not None:
            stab = class_index(cfg.stability)
        elif len(pieces) == 1:
            stab = class_index(stability_from_sigma_theta(obs.wind.direction_sigma_deg()))
        else:  # each aircraft's wind read alone (one time series each), the classes averaged
            sig = [stability_from_sigma_theta(obs.select(i).wind.direction_sigma_deg()) for i in pieces]
            stab = float(np.mean([class_index(c) for c in sig]))
        self.info_ = {
            "samples": len(obs),
            "stability_index": stab,
            "species": species,
            "crossings": det.n_crossings,
            "data": "point",
            "margin_m": cfg.margin_m,
        }
        self.sources_ = []
        if det.n_crossings == 0:
            return [], stab
        datasets = []
        for i, d in zip(pieces, det.pieces or [det], strict=True):
            data = PointData.from_observations(
                obs if len(pieces) == 1 else obs.select(i),
                d,
                species,
                cfg.lagrangian_wind,
                cfg.wind_smoothing_s,
                cfg.scheme,
                cfg.min_sigma_m,
                cfg.temperature_k,
                cfg.pressure_pa,
                cfg.decimate,
            )
            data.fluctuation_intensity, data.student_nu = cfg.point_fluctuation_intensity, cfg.point_student_nu
            datasets.append(data)
        if len(pieces) > 1:
            self.info_["aircraft"] = len(pieces)
        return datasets, stab

    def fit_beams(self, data: BeamData, frame, progress=None) -> PlumeEstimator:
        """Estimate the sources seen by open-path beams (local metres about ``frame``). The settings
        named ``point_*`` are the flights' and unused here; a sensor response time is refused (it
        describes a sensor carried through the plume; a beam reading is a minute's path average)."""
        if self.config.sensor_response_s is not None:
            raise ConfigError(
                "sensor_response_s describes a gas sensor carried through the plume (point samples); "
                "beam readings are path averages over a minute: leave it unset for beam data"
            )
        t0 = time.perf_counter()
        self.species_, self.frame_ = data.species, frame
        self.detection_ = None
        self.sources_ = []
        m = self.config.beam_margin_m
        data.fluctuation_intensity = self.config.beam_fluctuation_intensity
        data.student_nu = self.config.beam_student_nu
        stab = class_index(self.config.stability) if self.config.stability is not None else 3.0
        self.info_ = {"readings": len(data), "species": data.species, "data": "beam", "margin_m": m}
        # the source height trades off against the rate near the beams: update it every iteration
        self._search([data], data.extent, m, stab, progress, self.config.beam_theta_update_prob)
        self.info_["wall_time_s"] = time.perf_counter() - t0
        return self

    def _search(self, datasets, extent, margin: float, stability, progress, theta_update_prob: float):
        """Fit within the sensors' ``extent`` widened by ``margin``; while a source's 90 % region
        reaches a side of the area, double that side's margin (up to ``max_margin_m``) and fit
        again. Records the margins per side (west, south, east, north) and the refits."""
        cfg = self.config
        x0, y0, x1, y1 = extent
        margins = [float(margin)] * 4
        top = max(cfg.max_margin_m, float(margin))
        refits = 0

        def staged(stage, done, total):  # a refit starts the count again: say why
            progress(stage if refits == 0 else f"{stage}, area widened, fit {refits + 1}", done, total)

        while True:
            box = (x0 - margins[0], y0 - margins[1], x1 + margins[2], y1 + margins[3])
            self._run(datasets, box, stability, staged if progress else None, theta_update_prob)
            reach = {}  # side -> the largest 90 % radius of a source reaching it
            for s in self.sources_:
                d = _side_distances(box, s.x_m, s.y_m)
                for i in range(4):
                    if d[i] < s.location_ci90_m and margins[i] < top:
                        reach[i] = max(reach.get(i, 0.0), s.location_ci90_m)
            if not reach or refits >= cfg.max_search_refits:
                break
            for i, r90 in reach.items():  # doubled; from a margin of 0, one region's radius
                margins[i] = min(2.0 * margins[i] if margins[i] > 0 else r90, top)
            refits += 1
        self.info_["margins_m"] = margins
        self.info_["search_refits"] = refits

    def _run(self, datasets, box, stability, progress, theta_update_prob: float):
        cfg = self.config
        kinds = {d.kind for d in datasets}
        point = "point" in kinds
        both = kinds == {"point", "beam"}
        prior = cfg.point_stability_prior_classes if point else 0.0
        rj = self._rj_config(stability, theta_update_prob, prior, point)
        if both:  # the beams' own bias and width multiplier (both axes, median 1), growth prior
            other = KindNuisance("beam", cfg.sigma_scale_prior, 1.0, horizontal_width=False)
            rj = dataclasses.replace(rj, other_kind=other, z_growth_prior=cfg.beam_z_growth_prior)
        sampler = RJSampler(datasets, box, rj)
        sampler.build_birth_density()
        # several aircraft at once see one plume through one plume model: their errors share the
        # model's, which no aircraft's own residuals show. Each one's weight is divided by their
        # number (the regions' factors were calibrated on single flights; on 30 simulated
        # two-aircraft surveys the 90 % regions then hold 0.90 of the truths, single flights 0.97:
        # benchmarks/results/two_aircraft/)
        n_point = sum(d.kind == "point" for d in datasets)
        share = [1.0 / n_point if d.kind == "point" else (cfg.combined_beam_weight if both else 1.0) for d in datasets]
        tempers, in_plume = self._tempers(sampler)
        sampler.temper = [t * cfg.temper_scale * f for t, f in zip(tempers, share, strict=True)]
        # independent chains from spawned seeds, pooled: a chain caught in a local mode (say a
        # source split in two) then carries only its share of the probability
        n_chains = cfg.chains if point or cfg.beam_chains is None else cfg.beam_chains
        seeds = np.random.SeedSequence(cfg.seed).spawn(n_chains)
        threads = min(n_chains, cfg.chain_threads or os.cpu_count() or 1)
        done = [0] * n_chains
        lock = threading.Lock()  # callers' progress callbacks (a database row, a bar) see one thread

        def run_chain(i):
            def prog(stage, n, total):
                with lock:
                    done[i] = n
                    if progress:
                        progress(stage, sum(done), n_chains * total)

            # each chain on its own shallow copy: run() rebuilds and adapts the birth density, so
            # the kept sampler is the same whether the chains ran in turn or side by side
            return copy.copy(sampler).run(np.random.default_rng(seeds[i]), prog)

        if threads > 1:
            # the serial GIL-free kernel in each thread: the compiled parts then overlap
            def in_thread(i):
                with serial_kernel():
                    return run_chain(i)

            with ThreadPoolExecutor(threads) as ex:
                chains = list(ex.map(in_thread, range(n_chains)))
        else:
            chains = [run_chain(i) for i in range(n_chains)]
        chain = chains[0]
        for c in chains[1:]:
            chain = chain.merge(c)
        self.sampler_, self.chain_, self.box_ = sampler, chain, box
        self.info_.update(
            {
                "temper": sampler.temper,
                "temper_in_plume": in_plume,
                "box": box,
                "chains": n_chains,
                "theta_mean": np.mean(chain.theta, axis=0).tolist() if chain.theta else None,
                "theta_names": sampler.theta_names(),
                "acceptance": {k: (a / n if n else None) for k, (a, n) in chain.accept.items()},
                "k_posterior": {
                    int(k): float(np.mean(np.array(chain.k_trace) == k)) for k in sorted(set(chain.k_trace))
                },
            }
        )
        diag = float(np.hypot(box[2] - box[0], box[3] - box[1]))
        floor = cfg.point_location_floor_m if point else 0.0
        rate_floor = cfg.point_rate_floor_factor if point else 1.0
        if both:
            inflation, rate_inflation = cfg.combined_location_inflation, cfg.combined_rate_inflation
        elif point:
            inflation, rate_inflation = cfg.point_location_inflation, cfg.point_rate_inflation
        else:
            inflation, rate_inflation = cfg.beam_location_inflation, cfg.beam_rate_inflation
        widening = region_widening(tempers, in_plume) if point and not both else 1.0
        self.info_["region_widening"] = widening
        inflation, rate_inflation = inflation * widening, rate_inflation * widening
        groups = resolved_groups(
            chain.positions, chain.rates, chain.best_positions, 0.1 * diag, inflation, cfg.split_rate_correlation
        )
        th = np.array(chain.theta) if chain.theta else sampler.theta0()[None, :]
        height = float(np.median(th[:, 2]))
        self.info_["source_height_m"] = height
        if point:
            self.info_["sensor_response_s"] = float(np.median([sampler.response_s(t) for t in th]))
            # the class index the fit settled on (A = 0 .. F = 5): the wind's, plus the sampled offset
            self.info_["stability_index_fitted"] = float(np.clip(sampler.cfg.stability + np.median(th[:, 3]), 0, 5))
            self.info_["horizontal_width_factor"] = float(np.exp(np.median(th[:, 1])))
        if both:
            self.info_["beam_width_factor"] = float(np.exp(np.median(th[:, sampler.OTHER + 1])))
            self.info_["beam_weight"] = cfg.combined_beam_weight
        if sampler.cfg.z_growth_prior > 0:  # (beams only)
            self.info_["vertical_growth_exponent"] = float(np.median(th[:, sampler.GROWTH]))
        kept = [(xy, q, p, np.median(xy, axis=0)) for xy, q, p in groups if p >= cfg.min_probability]
        # a flight's sources: the plume crossings each accounts for, at its median position and rate
        seen = [None] * len(kept)
        if point and kept:
            centres = np.array([med for *_, med in kept])
            seen = crossing_support(
                sampler, np.median(th, axis=0), centres, [float(np.median(q)) for _, q, _, _ in kept]
            )
        out = []
        for (xy, q, p, med), dist in zip(kept, seen, strict=True):
            near = near_crossing_widening(dist, cfg.point_near_crossing_m)  # (1 for beams: no crossings)
            r90 = float(np.hypot(_region(xy, inflation * near)[1], floor))
            lat, lon = self.frame_.to_wgs84(med[0], med[1])
            out.append(
                SourceEstimate(
                    id="",
                    species=self.species_,
                    x_m=float(med[0]),
                    y_m=float(med[1]),
                    lat=float(lat),
                    lon=float(lon),
                    height_m=height,
                    rate_g_s=float(np.median(q)),
                    rate_g_s_ci90=_widen(q, rate_inflation * near, rate_floor),
                    location_ci90_m=r90,
                    probability=float(p),
                    samples_xy=xy,
                    samples_rate=q,
                    ellipse_ci90_m=ellipse_region(xy, med, cfg.point_ellipse_inflation * widening * near, floor)
                    if point and not both
                    else None,
                    region_widening=widening,
                    crossing_distances_m=dist,
                    near_crossing_widening=near,
                    rate_g_s_ci90_before_near=_widen(q, rate_inflation, rate_floor) if near > 1.0 else None,
                )
            )
        out.sort(key=lambda s: (-s.probability, -s.rate_g_s))
        for i, s in enumerate(out):
            s.id = f"S{i + 1}"
        self.sources_ = out
        flag_sources(out, box, cfg, crossings=point and not both)
        for flag, key in SOURCE_FLAGS.items():
            self.info_[key] = flagged(out, flag)
        self.info_["low_probability"] = cfg.low_probability  # (the threshold the flag names)

    def _tempers(self, sampler: RJSampler) -> tuple[list[float], list[float | None]]:
        """Per data set, 1 / (design effect) of the standardised residuals of the best single-cell
        fit: consecutive readings are not independent (integrated autocorrelation time), and
        beams read at the same time share the error of that time's wind (Kish's design effect
        1 + (m - 1) rho for m simultaneous readings with intra-time correlation rho). And per
        flight, the same of its readings in the plume alone (None for beams): a plume crossed in
        a few seconds of a long flight barely shows in the whole series' correlation."""
        out, in_plume = [], []
        score = sampler.grid_score_.ravel()
        best = sampler._cells[int(np.argmax(score))]
        th = sampler.theta0()
        ks = sampler.columns(best[None, :], th)
        _, q, off, _, _ = sampler.marginal(ks, th)
        for i, d in enumerate(sampler.data):
            pred = ks[i] @ q
            var = sampler.s0[i] ** 2 + (d.fluctuation_intensity * ks[i] @ q) ** 2
            z = (d.y - (pred + off[i])) / np.sqrt(var)
            groups = d.residual_groups()
            tau = float(np.median([integrated_autocorr_time(z[g]) for g in groups]))
            mask = self._plume_readings(d, pred, off[i], sampler.s0[i])
            in_plume.append(None if mask is None else 1.0 / integrated_autocorr_time(z, mask=mask))
            deff = 1.0
            if len(groups) > 1 and isinstance(d, BeamData) and d.time_series:
                times = np.unique(d.reading_time_s)
                mat = np.full((times.size, len(groups)), np.nan)
                for j, g in enumerate(groups):
                    mat[np.searchsorted(times, d.reading_time_s[g]), j] = z[g]
                ok = np.all(np.isfinite(mat), axis=1)
                if ok.sum() > 5:
                    cc = np.corrcoef(mat[ok].T)
                    rho = float(np.nanmean(cc[np.triu_indices_from(cc, 1)]))
                    deff = 1.0 + (len(groups) - 1) * max(rho, 0.0)
            out.append(1.0 / (tau * deff))
        return out, in_plume

    @staticmethod
    def _plume_readings(d, pred: np.ndarray, off: float, s0: float) -> np.ndarray | None:
        """A flight's readings in the plume: where the fit puts more than the noise, or the
        observed enhancement exceeds 3 noise sd (None for beams: their whole series is used)."""
        if d.kind != "point":
            return None
        return (pred > s0) | (d.y - off > 3.0 * s0)

    def fitted(self) -> list[dict]:
        """Per data set, observed and fitted values (g/m3) at the best state found (with the
        posterior-mean nuisance parameters): for the residual plots."""
        if not hasattr(self, "sampler_") or self.chain_.best_positions is None:
            return []
        s = self.sampler_
        th = np.mean(self.chain_.theta, axis=0) if self.chain_.theta else s.theta0()
        ks = s.columns(self.chain_.best_positions, th)
        _, q, off, _, _ = s.marginal(ks, th)
        out = []
        for i, d in enumerate(s.data):
            out.append(
                {
                    "kind": d.kind,
                    "observed": d.y,
                    "fitted": ks[i] @ q + off[i],
                    "background": off[i],
                    "time_s": d.spec.t if d.kind == "point" else d.reading_time_s,
                    "group": None if d.kind == "point" else d.reading_beam,
                }
            )
        return out

    def settings(self) -> dict:
        """The configuration as plain data (for provenance)."""
        return self.config.model_dump()

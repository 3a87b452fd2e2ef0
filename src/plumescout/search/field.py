"""Adaptive search in the simulator: fly toward a source through meandering, intermittent plumes.

The searcher keeps a posterior over the source's cell (a grid over the area) and its emission rate
(a few log-spaced values). What it observes is whether a stretch of flight had a "hit" — the gas
reading more than a threshold above background. The chance of a hit, for a source at a cell, is
that of a fluctuating plume (Gifford 1959): a narrow instantaneous plume, as wide as the relative
dispersion of the puffs, whose centre line meanders across the wind as the wind's direction does
(the measured direction spread); a hit when the stretch flown comes within the width over which
the instantaneous plume exceeds the threshold (:func:`hit_probability`). Hits and misses update
the posterior by Bayes' rule with the wind measured at that moment: here a leg as one stretch
about its mean position, as the policies plan it; live mode reads each window it flew in pieces
of 4 m along the wind, seen by the likeliest (:meth:`FieldBelief.p_stretch`: a sensor above the
source's height sees nothing of the plume's first metres, then nearly every puff).

A policy proposes the next waypoint (one leg of ``step_m`` in one of eight headings) from the
posterior and the aircraft's state, the same interface as on the grid POMDP:

- ``infotaxis``: the leg after which the expected entropy of the posterior is lowest;
- ``space-aware``: Loisy & Eloy's proxy, E log2(D + 2^(H-1) - 1/2), D in legs;
- ``cast-and-surge``: upwind on a hit, crosswind casts of growing width after losing the plume;
- ``sweep-space-aware`` (ours): crosswind sweeps stepping upwind until the first hit — a blind
  search cannot do better than covering the area — then space-aware infotaxis;
- ``lookahead`` (ours): space-aware infotaxis looking two legs ahead (expectimax over the first
  leg's hit or miss, then the best second leg), over the three first legs the one-leg proxy
  ranks best;
- ``perseus`` (ours): the Perseus policy (:mod:`.perseus`) of a grid POMDP matched to this hit
  model (:class:`WindGrid`: cells of 50 m in the wind's frame), flown on the field posterior
  carried into the grid's frame, until the posterior fits in one cell; then space-aware
  infotaxis pinpoints the source. Trained once (44 min on 2 cores) and cached like the grid
  policy. Measured slower than space-aware infotaxis here (benchmarks/results/search_field.md).

The search ends when 90 % of the posterior lies within ``radius_m`` (10 m) of its mean: the
reported location. The baseline flies the planned lawnmower survey, estimates the source with
:class:`~plumescout.inference.PlumeEstimator`, then flies a follow-up pattern of short crosswind
lines just downwind of the estimate and estimates again from it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numba
import numpy as np
from scipy.special import ndtr
from shapely.geometry import LineString, Polygon

from ..dispersion import sigma_yz, vertical_term
from ..geo import bearing_to_unit
from ..met import WindSeries
from ..units import g_m3_to_ppm
from .perseus import PerseusPolicy, TrainingPlan, trained_alphas
from .pomdp import Belief, GridSearch

__all__ = ["FieldEpisode", "FieldBelief", "FIELD_POLICIES", "random_episode", "run_adaptive", "run_lawnmower"]

HEADINGS = np.deg2rad(np.arange(0, 360, 45))


@dataclass
class FieldEpisode:
    """A hidden source in a square area, the wind, and the aircraft and sensor."""

    half_size_m: float
    source_xy: tuple[float, float]
    rate_g_s: float
    wind_speed_m_s: float
    wind_from_deg: float
    meander_deg: float
    seed: int
    source_height_m: float = 1.0
    altitude_m: float = 4.0
    speed_m_s: float = 6.0
    sample_hz: float = 2.0
    noise_ppm: float = 0.01
    threshold_ppm: float = 0.1
    max_time_s: float = 3600.0
    stability: str = "D"
    species: str = "ch4"

    @property
    def start_xy(self) -> np.ndarray:
        """Launch point: the middle of the downwind edge."""
        ux, uy = bearing_to_unit(self.wind_from_deg + 180.0)
        return np.array([ux, uy]) * self.half_size_m


def random_episode(seed: int, half_size_m: float = 400.0) -> FieldEpisode:
    rng = np.random.default_rng(seed)
    inner = 0.75 * half_size_m
    return FieldEpisode(
        half_size_m=half_size_m,
        source_xy=(float(rng.uniform(-inner, inner)), float(rng.uniform(-inner, inner))),
        rate_g_s=float(np.exp(rng.uniform(np.log(0.2), np.log(1.5)))),
        wind_speed_m_s=float(rng.uniform(2.0, 6.0)),
        wind_from_deg=float(rng.uniform(0.0, 360.0)),
        meander_deg=float(rng.uniform(8.0, 15.0)),
        seed=seed,
    )


# nodes and weights of the expectation over a standard normal (the puff masses' log-normal spread)
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(5)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def hit_probability(ep, xd, yc, rates, speed, meander_deg, p_fa, p_max, sigma0_m=0.5, half_span_m=0.0,
                    relative_dispersion=0.6, intermittency=0.6) -> np.ndarray:  # fmt: skip
    """(points, rates) probability of a hit ``xd`` m downwind of a source and ``yc`` m across
    its mean axis, for a stretch of flight reaching ``half_span_m`` either side of ``yc`` across
    the wind, at the aircraft's altitude (``ep``'s geometry).

    The fluctuating plume (Gifford 1959): the instantaneous plume is a Gaussian plume as wide
    across the wind as the puffs' relative dispersion (``relative_dispersion`` times the Briggs
    width, and ``sigma0_m`` at the source, as the release's own size); its centre line lies
    ``N(0, xd tan(meander))`` across the mean axis. It exceeds the threshold within
    ``w = s_i sqrt(2 ln(c_i / c_thr))`` of its centre line (``c_i`` its centre-line
    concentration at the aircraft's height), so the stretch sees it with probability
    ``Phi((yc + half_span + w) / s_m) - Phi((yc - half_span - w) / s_m)``, averaged over puff
    masses log-normal with log-std ``intermittency``; then ``p_fa + (p_max - p_fa) *`` that
    (``p_max < 1``: gaps between puffs). Measured against the puff simulator's windows in
    ``benchmarks/hit_law.py``.

    Gifford, F. (1959) Statistical properties of a fluctuating plume dispersion model. Adv.
    Geophys. 6, 117-137.
    """
    xd, yc = np.asarray(xd, float), np.asarray(yc, float)
    rates = np.asarray(rates, float)
    out = np.full((xd.size, rates.size), p_fa)
    half = np.broadcast_to(np.asarray(half_span_m, float), xd.shape)
    idx = np.flatnonzero(xd > 0.5)
    if idx.size == 0:
        return out
    x, y = xd[idx], yc[idx]
    sy, sz = sigma_yz(x, ep.stability)
    si = np.sqrt((relative_dispersion * sy) ** 2 + sigma0_m**2)  # the instantaneous plume's width
    sz = np.sqrt(sz**2 + sigma0_m**2)
    sm = np.maximum(x * np.tan(np.deg2rad(meander_deg)), 1e-6)  # its centre line's spread
    c1 = vertical_term(ep.altitude_m, ep.source_height_m, sz) / (_SQRT_2PI * si * max(speed, 0.5))
    with np.errstate(divide="ignore"):
        ln_c = np.log(g_m3_to_ppm(c1, ep.species) / ep.threshold_ppm)  # per g/s, over the threshold
    shift = intermittency * _GH_NODES - 0.5 * intermittency**2  # log of each node's puff mass
    # only where the heaviest puff of the largest rate can reach within 4.5 s_m (Phi(-4.5) = 3e-6): elsewhere nothing
    top = ln_c + np.log(rates.max()) + shift.max()
    reach = si * np.sqrt(2.0 * np.maximum(top, 0.0))
    keep = (top > 0) & (np.abs(y) - half[idx] - reach < 4.5 * sm)
    idx, y, si, sm, ln_c = idx[keep], y[keep], si[keep], sm[keep], ln_c[keep]
    if idx.size == 0:
        return out
    seen = _seen(y, np.ascontiguousarray(half[idx]), si, sm, ln_c, np.log(rates), shift, _GH_WEIGHTS)
    out[idx] = p_fa + (p_max - p_fa) * seen
    return out


def _seen_numpy(y, half, si, sm, ln_c, ln_rates, shift, weights) -> np.ndarray:
    """(cells, rates) chance that the stretch sees the instantaneous plume (the numpy form)."""
    lo, hi = (y - half)[:, None], (y + half)[:, None]
    ln_cr = ln_c[:, None] + ln_rates[None, :]
    seen = np.zeros((y.size, ln_rates.size))
    for d, wgt in zip(shift, weights, strict=True):
        w = si[:, None] * np.sqrt(2.0 * np.maximum(ln_cr + d, 0.0))
        seen += wgt * np.where(w > 0, ndtr((hi + w) / sm[:, None]) - ndtr((lo - w) / sm[:, None]), 0.0)
    return seen


@numba.njit(cache=True, nogil=True)
def _seen(y, half, si, sm, ln_c, ln_rates, shift, weights):  # pragma: no cover - compiled
    """:func:`_seen_numpy` compiled (benchmarks/hit_law.py times both)."""
    out = np.zeros((y.size, ln_rates.size))
    r2 = 1.0 / math.sqrt(2.0)
    for i in range(y.size):
        lo, hi, s = y[i] - half[i], y[i] + half[i], sm[i]
        for k in range(ln_rates.size):
            acc = 0.0
            for j in range(shift.size):
                a = ln_c[i] + ln_rates[k] + shift[j]
                if a > 0.0:
                    w = si[i] * math.sqrt(2.0 * a)
                    # Phi(b) - Phi(a) = (erfc(-b / sqrt 2) - erfc(-a / sqrt 2)) / 2
                    acc += weights[j] * 0.5 * (math.erfc(-(hi + w) / s * r2) - math.erfc(-(lo - w) / s * r2))
            out[i, k] = acc
    return out


def _wind_frame(points, from_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points as an (n, 2) array, their positions along the wind, across it)."""
    pts = np.atleast_2d(np.asarray(points, float))
    ux, uy = bearing_to_unit(from_deg + 180.0)
    return pts, pts[:, 0] * ux + pts[:, 1] * uy, -pts[:, 0] * uy + pts[:, 1] * ux


def stretch(points, from_deg: float) -> tuple[np.ndarray, float]:
    """A stretch of flight as one observation: the point at its mean downwind position and the
    middle of its crosswind extent, and half that extent (what :func:`hit_probability` takes)."""
    _, along, across = _wind_frame(points, from_deg)
    ux, uy = bearing_to_unit(from_deg + 180.0)
    a, c = float(along.mean()), 0.5 * float(across.max() + across.min())
    return np.array([a * ux - c * uy, a * uy + c * ux]), 0.5 * float(across.max() - across.min())


ALONG_STEP_M = 4.0  # a stretch's pieces along the wind: the plume's first metres change within a few


def pieces(points, from_deg: float, along_step_m: float = ALONG_STEP_M) -> list[tuple[np.ndarray, float]]:
    """A stretch of flight cut along the wind into pieces no longer than ``along_step_m`` (by
    its points' downwind positions), each a :func:`stretch`. A crosswind stretch is one piece;
    one flown up or down the wind is several, for the chance of a hit changes along it (a sensor
    above the source's height sees nothing of the plume's first metres, then nearly every puff)."""
    pts, along, _ = _wind_frame(points, from_deg)
    n = max(1, int(np.ceil((along.max() - along.min()) / along_step_m - 1e-9)))
    if n == 1:
        return [stretch(pts, from_deg)]
    k = np.minimum(((along - along.min()) / (along.max() - along.min()) * n).astype(int), n - 1)
    return [stretch(pts[k == i], from_deg) for i in range(n) if np.any(k == i)]


@numba.njit(cache=True)
def _weiszfeld(w, x, y, c, iterations: int, tol_m: float, scale_m: float) -> np.ndarray:
    """Weiszfeld's iteration for the weighted spatial median of points (x, y), from ``c``."""
    cx, cy = c[0], c[1]
    floor = 1e-6 * scale_m
    for _ in range(iterations):
        sk = skx = sky = 0.0
        for i in range(w.size):
            k = w[i] / max(math.hypot(x[i] - cx, y[i] - cy), floor)
            sk += k
            skx += k * x[i]
            sky += k * y[i]
        nx, ny = skx / sk, sky / sk
        done = math.hypot(nx - cx, ny - cy) < tol_m
        cx, cy = nx, ny
        if done:
            break
    return np.array([cx, cy])


class FieldBelief:
    """Posterior over (cell, rate) for one source."""

    def __init__(
        self,
        ep: FieldEpisode,
        cell_m: float = 5.0,
        rates=(0.1, 0.25, 0.6, 1.5, 3.5),
        p_fa=0.002,
        p_max=0.95,
        temper: float = 0.5,
        sigma0_m: float = 0.5,
    ):
        h = ep.half_size_m
        c = np.arange(-h + cell_m / 2, h, cell_m)
        gx, gy = np.meshgrid(c, c, indexing="ij")
        self.x, self.y = gx.ravel(), gy.ravel()
        self.rates = np.asarray(rates, float)
        self.logp = np.zeros((self.x.size, self.rates.size))
        self.logp -= np.log(self.logp.size)
        # p_max < 1: even inside the plume an intermittent, meandering puff train leaves gaps
        self.ep, self.p_fa, self.p_max, self.cell_m, self.temper = ep, p_fa, p_max, cell_m, temper
        self.sigma0_m = sigma0_m

    @property
    def p(self) -> np.ndarray:
        w = np.exp(self.logp - self.logp.max())
        return w / w.sum()

    def cell_p(self) -> np.ndarray:
        return self.p.sum(axis=1)

    def p_hit(self, xy, from_deg: float, speed: float, meander_deg: float, half_span_m: float = 0.0) -> np.ndarray:
        """(cells, rates) probability of a hit at ``xy`` (or on a stretch of flight about it
        reaching ``half_span_m`` either side across the wind) for each hypothesis."""
        ux, uy = bearing_to_unit(from_deg + 180.0)
        dx, dy = xy[0] - self.x, xy[1] - self.y
        xd = dx * ux + dy * uy
        yc = -dx * uy + dy * ux
        return hit_probability(self.ep, xd, yc, self.rates, speed, meander_deg, self.p_fa, self.p_max, self.sigma0_m,
                               half_span_m)  # fmt: skip

    def p_stretch(self, points, wind) -> np.ndarray:
        """(cells, rates) probability of a hit on a stretch of flight through ``points`` with
        ``wind`` (from_deg, speed, meander_deg), one observation: the largest over its
        :func:`pieces` along the wind (the pieces see the same puffs and meander, so their
        chances are not independent; the likeliest piece's is the stretch's)."""
        ps = [self.p_hit(mid, *wind, half_span_m=half) for mid, half in pieces(points, wind[0])]
        return ps[0] if len(ps) == 1 else np.maximum.reduce(ps)

    def p_leg(self, a, b, wind) -> np.ndarray:
        """(cells, rates) probability of a hit on the straight leg from ``a`` to ``b``, what the
        policies plan with: one stretch about its mean position (in pieces, as :meth:`p_stretch`
        reads a stretch flown, an upwind leg costs 5-7x and the look-ahead's plan 2.8x)."""
        mid, half = stretch([a, b], wind[0])
        return self.p_hit(mid, *wind, half_span_m=half)

    def update_stretch(self, points, hit: bool, wind) -> None:
        """Bayes' rule for one stretch of flight through ``points`` (:meth:`p_stretch`)."""
        self._update(self.p_stretch(points, wind), hit)

    def update(
        self, xy, hit: bool, from_deg: float, speed: float, meander_deg: float, half_span_m: float = 0.0
    ) -> None:
        self._update(self.p_hit(xy, from_deg, speed, meander_deg, half_span_m), hit)

    def _update(self, ph: np.ndarray, hit: bool) -> None:
        # tempered: the hit model is an approximation of the puffs, and legs in one
        # plume share its meander; full weight makes the posterior sharper than it has earned
        self.logp += self.temper * np.log(ph if hit else 1.0 - ph)

    def mean_xy(self) -> np.ndarray:
        w = self.cell_p()
        return np.array([w @ self.x, w @ self.y])

    def median_xy(self, iterations: int = 200, tol_m: float = 1e-4, sub: int = 5) -> np.ndarray:
        """The posterior's spatial median: the point with the least expected distance to the
        source (Weiszfeld's iteration). What is reported: a few per cent of the posterior far
        upwind, which hits far downwind cannot rule out, drag the mean metres off the core where
        the source lies; the median moves little with them. Each cell's mass is spread over the
        cell (``sub`` x ``sub`` points in the cells within two of the median, the point at its
        centre elsewhere): over cell centres alone the median sticks to one, ~3.5 m off a source
        on a corner of 5 m cells."""
        w = self.cell_p()
        keep = w > 1e-12 * w.max()
        w, x, y = w[keep], self.x[keep], self.y[keep]
        c = _weiszfeld(w, x, y, np.array([w @ x, w @ y]) / w.sum(), iterations, tol_m, self.cell_m)
        near = np.maximum(np.abs(x - c[0]), np.abs(y - c[1])) <= 2.0 * self.cell_m
        f = ((np.arange(sub) + 0.5) / sub - 0.5) * self.cell_m
        ox, oy = (v.ravel() for v in np.meshgrid(f, f, indexing="ij"))
        xs = np.concatenate([x[~near], (x[near][:, None] + ox[None, :]).ravel()])
        ys = np.concatenate([y[~near], (y[near][:, None] + oy[None, :]).ravel()])
        ws = np.concatenate([w[~near], np.repeat(w[near] / sub**2, sub**2)])
        return _weiszfeld(ws, xs, ys, c, iterations, tol_m, self.cell_m / sub)

    def radius(self, centre, q: float = 0.9) -> float:
        """Radius about ``centre`` holding a fraction ``q`` of the posterior."""
        w = self.cell_p()
        d = np.hypot(self.x - centre[0], self.y - centre[1])
        o = np.argsort(d)
        k = int(np.searchsorted(np.cumsum(w[o]), q))
        return float(d[o][min(k, d.size - 1)])

    def mass_within(self, centre, r: float) -> float:
        w = self.cell_p()
        return float(w[np.hypot(self.x - centre[0], self.y - centre[1]) <= r].sum())


def _entropy_bits(w: np.ndarray) -> float:
    w = w[w > 1e-300]
    return float(-(w * np.log2(w)).sum())


def _outcomes(belief: FieldBelief, start, xy, wind):
    """P(hit) and the cell posteriors after a hit / a miss on the leg from ``start`` to ``xy``."""
    p = belief.p
    ph = belief.p_leg(start, xy, wind)
    pj_hit = p * ph
    p_hit = float(pj_hit.sum())
    post_hit = pj_hit.sum(axis=1) / max(p_hit, 1e-300)
    post_miss = (p - pj_hit).sum(axis=1) / max(1 - p_hit, 1e-300)
    return p_hit, post_hit, post_miss


class FieldPolicy:
    name = "policy"

    def __init__(self, step_m: float = 25.0):
        self.step_m = step_m

    def prepare(self, progress=None) -> None:
        """Whatever the policy needs before the flight (a trained policy: its training)."""

    def narrow(self, r90_m: float, floor_m: float, ceiling_m: float = 25.0) -> None:
        """Legs shrink as the posterior does (half its 90 % radius), down to the accuracy asked."""
        self.step_m = float(np.clip(0.5 * r90_m, floor_m, ceiling_m))

    def candidates(self, state, belief: FieldBelief):
        h = belief.ep.half_size_m
        xy = state["xy"]
        c = xy[None, :] + self.step_m * np.column_stack([np.cos(HEADINGS), np.sin(HEADINGS)])
        return c[(np.abs(c) <= h).all(axis=1)]

    def propose(self, belief: FieldBelief, state) -> np.ndarray:
        cands = self.candidates(state, belief)
        scores = [self.score(belief, state, c) for c in cands]
        return cands[int(np.argmin(scores))]

    def score(self, belief, state, xy) -> float:
        raise NotImplementedError


class FieldInfotaxis(FieldPolicy):
    name = "infotaxis"

    def score(self, belief, state, xy):
        p_hit, ph, pm = _outcomes(belief, state["xy"], xy, state["wind"])
        return p_hit * _entropy_bits(ph) + (1 - p_hit) * _entropy_bits(pm)


def _space_aware_value(w: np.ndarray, x: np.ndarray, y: np.ndarray, xy, step_m: float) -> float:
    """Loisy & Eloy's proxy log2(D + 2^(H-1) - 1/2) of a cell posterior ``w`` seen from ``xy``."""
    d = np.hypot(x - xy[0], y - xy[1]) / step_m
    t = float(w @ d) + 2.0 ** (_entropy_bits(w) - 1.0) - 0.5
    return float(np.log2(t)) if t > 0 else t


class FieldSpaceAware(FieldPolicy):
    name = "space-aware"

    def score(self, belief, state, xy):
        p_hit, ph, pm = _outcomes(belief, state["xy"], xy, state["wind"])
        outcomes = ((p_hit, ph), (1 - p_hit, pm))
        return sum(pr * _space_aware_value(w, belief.x, belief.y, xy, self.step_m) for pr, w in outcomes)


class FieldLookahead(FieldSpaceAware):
    """Space-aware infotaxis looking two legs ahead (ours): each of the ``beam`` first legs the
    one-leg proxy ranks best is valued by expectimax over its hit or miss and the best second leg
    after each (whose own hit or miss the proxy averages). One leg sees only how the next reading
    changes the posterior; two see where it leaves the aircraft to act on it, which keeps the
    search from dithering along an edge of the area while the posterior is still wide."""

    name = "lookahead"

    def __init__(self, step_m: float = 25.0, beam: int = 3):
        super().__init__(step_m)
        self.beam = beam

    def propose(self, belief, state):
        wind = state["wind"]
        cands = self.candidates(state, belief)
        first = np.array([self.score(belief, state, c) for c in cands])
        p = belief.p
        hit_at: dict[tuple, np.ndarray] = {}  # p_hit on a leg, shared by the branches that fly it

        def p_hit(a, b):
            key = tuple(round(float(v), 3) for v in (*a, *b))
            if key not in hit_at:
                hit_at[key] = belief.p_leg(a, b, wind)
            return hit_at[key]

        best, best_v = cands[int(np.argmin(first))], np.inf
        for i in np.argsort(first)[: self.beam]:
            c1 = cands[i]
            joint = p * p_hit(state["xy"], c1)
            P = float(joint.sum())
            v = 0.0
            for prob, post in ((P, joint / max(P, 1e-300)), (1.0 - P, (p - joint) / max(1.0 - P, 1e-300))):
                if prob < 1e-12:
                    continue
                second = []
                for c2 in self.candidates({"xy": c1}, belief):
                    j2 = post * p_hit(c1, c2)
                    P2 = float(j2.sum())
                    s = 0.0
                    for pr2, w in ((P2, j2), (1.0 - P2, post - j2)):
                        if pr2 > 1e-12:
                            s += pr2 * _space_aware_value(w.sum(axis=1) / pr2, belief.x, belief.y, c2, self.step_m)
                    second.append(s)
                v += prob * min(second)
            if v < best_v:
                best, best_v = c1, v
        return best


class FieldCastSurge(FieldPolicy):
    name = "cast-and-surge"

    def propose(self, belief, state):
        from_deg = state["wind"][0]
        up = np.array(bearing_to_unit(from_deg))
        cross = np.array([-up[1], up[0]])
        h = belief.ep.half_size_m
        st = state.setdefault("cast", {"since_hit": 99, "width": 1, "dir": 1, "left": 1})
        if state["last_hit"]:
            st.update(since_hit=0, width=1, left=1)
            move = up
        else:
            st["since_hit"] += 1
            if st["since_hit"] <= 1:
                move = up
            else:
                if st["left"] <= 0:
                    st["dir"] = -st["dir"]
                    st["width"] = min(st["width"] * 2, 16)
                    st["left"] = st["width"]
                st["left"] -= 1
                move = cross * st["dir"]
        nxt = state["xy"] + self.step_m * move
        if (np.abs(nxt) > h).any():  # at the edge: turn back across
            st["dir"] = -st["dir"]
            nxt = np.clip(state["xy"] + self.step_m * (cross * st["dir"] + 0.5 * up), -h, h)
        return nxt


class FieldSweepSpaceAware(FieldSpaceAware):
    """Crosswind sweeps stepping upwind until the first hit, then space-aware infotaxis."""

    name = "sweep-space-aware"

    def __init__(self, step_m: float = 25.0, sweep_spacing_m: float = 100.0):
        super().__init__(step_m)
        self.sweep_spacing_m = sweep_spacing_m

    def _sweep_path(self, belief, start) -> list[np.ndarray]:
        """Crosswind lines across the whole area, from the downwind edge stepping upwind."""
        h = belief.ep.half_size_m
        up = np.array(bearing_to_unit(belief.ep.wind_from_deg))  # the forecast wind, as planned
        cross = np.array([-up[1], up[0]])
        # the square's extent along and across the wind
        corners = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        a = corners @ up
        c = corners @ cross
        pts = []
        k = 0
        square = Polygon(corners)
        for u in np.arange(a.min() + self.sweep_spacing_m / 2, a.max(), self.sweep_spacing_m):
            chord = square.intersection(LineString([u * up + c.min() * cross, u * up + c.max() * cross]))
            if chord.length < 1.0:
                continue
            ends = [np.asarray(q) for q in chord.coords]
            if (ends[1] - ends[0]) @ cross < 0:
                ends = ends[::-1]
            pts += ends if k % 2 == 0 else ends[::-1]
            k += 1
        # begin at the end of the first line nearer the launch point
        if np.hypot(*(pts[1] - start)) < np.hypot(*(pts[0] - start)):
            for i in range(0, len(pts) - 1, 2):
                pts[i], pts[i + 1] = pts[i + 1], pts[i]
        return pts

    def propose(self, belief, state):
        if state["hits"] > 0:
            return super().propose(belief, state)
        sw = state.setdefault("sweep", {"path": self._sweep_path(belief, state["xy"]), "i": 0})
        xy = state["xy"]
        while True:
            target = sw["path"][sw["i"] % len(sw["path"])]
            d = float(np.hypot(*(target - xy)))
            if d > 3.0:  # reached within a GPS/autopilot tolerance: on to the next
                break
            sw["i"] += 1  # reached: on to the next line end (and round again after the last)
        return target if d <= self.step_m else xy + (target - xy) * (self.step_m / d)


class WindGrid(GridSearch):
    """The field's search as a grid POMDP, for Perseus to solve (Heinonen et al. 2023 solve the
    windy grid this way): cells of ``cell_m`` in the wind's frame (axis 0 upwind, axis 1
    across), one leg of one cell per step in four directions, and one observation per leg — a
    hit or not, with the field's hit probability for a source at each displacement averaged
    over the cell's area, the wind speeds 2-6 m/s and the rates the belief holds. The searcher
    starts at the middle of the downwind edge knowing nothing (no first hit)."""

    def __init__(
        self,
        ep: FieldEpisode | None = None,
        cell_m: float = 50.0,
        n_grid: int = 17,
        speeds=(2.0, 3.0, 4.0, 5.0, 6.0),
        meander_deg: float = 11.5,
        sub: int = 4,
    ):
        ep = ep or FieldEpisode(400.0, (0.0, 0.0), 1.0, 4.0, 0.0, meander_deg, 0)
        ref = FieldBelief(ep, cell_m=ep.half_size_m)  # only its hit-model settings are used
        # what the table depends on (the episode's geometry that hit_probability reads, and the law's settings)
        self.settings = (ep.altitude_m, ep.source_height_m, ep.stability, ep.species, ep.threshold_ppm,
                         tuple(map(float, speeds)), float(meander_deg), int(sub), ref.p_fa, ref.p_max,
                         ref.sigma0_m, tuple(ref.rates.tolist()))  # fmt: skip
        self.dims, self.n_grid, self.n_hits, self.n_actions = 2, int(n_grid), 2, 4
        self.cell_m = float(cell_m)
        self.lambda_over_dx, self.rate_dt, self.p_source_out = float("nan"), float("nan"), 0.0
        n = self.n_grid
        c = (np.indices((2 * n + 1,) * 2) - n).reshape(2, -1).T.astype(float)  # displacements
        off = (np.arange(sub) + 0.5) / sub - 0.5
        p = np.zeros(len(c))
        for ox in off:
            for oy in off:
                xd, yc = (c[:, 0] + ox) * cell_m, (c[:, 1] + oy) * cell_m
                for u in speeds:
                    ph = hit_probability(ep, xd, yc, ref.rates, u, meander_deg, ref.p_fa, ref.p_max, ref.sigma0_m)
                    p += ph.mean(axis=1)
        p = (p / (sub * sub * len(speeds))).reshape(2 * n + 1, 2 * n + 1)
        self.table = np.stack([1.0 - p, p])
        self.table[:, n, n] = 0.0  # the source is never at the agent's cell
        self.manhattan = np.abs(np.indices((2 * n + 1,) * 2) - n).sum(axis=0).astype(float)
        self.initial_hit_law_ = np.array([1.0, 0.0])  # no first hit: the search starts blind

    def label(self) -> str:
        """Named by the settings that make the table (the policy cache also checks the table
        itself, so a change of the law under the same settings is caught there)."""
        digest = hashlib.sha1(repr(self.settings).encode()).hexdigest()[:10]
        return f"wind-c{self.cell_m:g}-N{self.n_grid}-{digest}"

    def start(self, initial_hit: int = 0) -> Belief:
        n = self.n_grid
        agent = (0, n // 2)
        p = np.ones((n, n))
        p[agent] = 0.0
        return Belief(p / p.sum(), agent)


class FieldPerseus(FieldSpaceAware):
    """Ours: the near-optimal policy of the field's grid POMDP (:class:`WindGrid`, solved by
    Perseus once and cached) flown on the field's own posterior. Each step the posterior over
    the source's position is carried into the grid's frame — centred on the aircraft, aligned
    with the mean wind measured so far, in cells of the grid (each position's mass shared
    between its four nearest cells) — and the leg of one cell with the largest look-ahead value
    is flown. Once 90 % of the posterior lies within one cell of its mean, space-aware
    infotaxis with narrowing legs pinpoints the source; so does it a move that would make the
    second reversal in a row (as on the grid)."""

    name = "perseus"
    near_mass = 0.25  # the posterior mass in the aircraft's own cell from which it pinpoints

    def __init__(self, step_m: float = 25.0, env: WindGrid | None = None, plan: TrainingPlan | None = None):
        super().__init__(step_m)
        self.env, self.plan = env, plan or TrainingPlan()
        self.policy = None
        self.coarse_moves = 0

    def prepare(self, progress=None) -> None:
        """Train (on the first use, minutes; ``progress`` gets each iteration's record) or read
        the cached policy."""
        if self.policy is None:
            self.env = self.env or WindGrid()
            alphas, actions = trained_alphas(self.env, self.plan, progress)
            self.policy = PerseusPolicy(alphas, self.plan.gamma, actions)
            self.policy.reset(self.env, self.env.start())

    def project(self, belief: FieldBelief, xy, from_deg: float) -> tuple[np.ndarray | None, float]:
        """The posterior in the grid's agent frame (flat) outside the aircraft's own cell, or
        None when it all lies in it; and the fraction of it that lies in that cell."""
        fr = self.policy._solver.frame
        up = np.array(bearing_to_unit(from_deg))
        cross = np.array([-up[1], up[0]])
        dx, dy = belief.x - xy[0], belief.y - xy[1]
        s = np.column_stack([dx * up[0] + dy * up[1], dx * cross[0] + dy * cross[1]]) / self.env.cell_m + fr.centre
        i0 = np.floor(s).astype(int)
        f = s - i0
        w = belief.cell_p()
        out = np.zeros(fr.size)
        for di in (0, 1):
            for dj in (0, 1):
                i, j = i0[:, 0] + di, i0[:, 1] + dj
                wt = w * (f[:, 0] if di else 1 - f[:, 0]) * (f[:, 1] if dj else 1 - f[:, 1])
                ok = (i >= 0) & (i < fr.width) & (j >= 0) & (j < fr.width)
                out += np.bincount(i[ok] * fr.width + j[ok], wt[ok], minlength=fr.size)
        own = float(out[fr.centre_flat] / max(out.sum(), 1e-300))
        out[fr.centre_flat] = 0.0
        total = out.sum()
        return (out / total if total > 1e-9 else None), own

    def propose(self, belief: FieldBelief, state) -> np.ndarray:
        self.prepare()
        mem = state.setdefault("perseus", {"wind": np.zeros(2), "moves": []})
        from_deg, speed = state["wind"][0], state["wind"][1]
        mem["wind"] = mem["wind"] + np.array(bearing_to_unit(from_deg)) * speed
        mean_from = float(np.rad2deg(np.arctan2(*mem["wind"])) % 360.0)
        xy = state["xy"]
        centre = belief.mean_xy()
        b, own = None, 1.0
        if belief.radius(centre) > self.env.cell_m:
            b, own = self.project(belief, xy, mean_from)
        # the grid's search ends on the source's cell; here the source must still be pinpointed
        if b is None or own >= self.near_mass:
            mem["moves"] = []
            return super().propose(belief, state)
        up = np.array(bearing_to_unit(mean_from))
        dirs = [-up, up, -np.array([-up[1], up[0]]), np.array([-up[1], up[0]])]  # the grid's moves
        h = belief.ep.half_size_m
        legal = [a for a in range(4) if (np.abs(xy + self.env.cell_m * dirs[a]) <= h).all()]
        if not legal:
            return super().propose(belief, state)
        a = self.policy.decide(b, legal)
        m = mem["moves"]
        if len(m) >= 2 and a == (m[-1] ^ 1) and m[-1] == (m[-2] ^ 1):
            mem["moves"] = []  # the second reversal in a row: learn something else first
            return super().propose(belief, state)
        mem["moves"] = (m + [a])[-3:]
        self.coarse_moves += 1
        return xy + self.env.cell_m * dirs[a]


FIELD_POLICIES = {
    "infotaxis": FieldInfotaxis,
    "space-aware": FieldSpaceAware,
    "cast-and-surge": FieldCastSurge,
    "sweep-space-aware": FieldSweepSpaceAware,
    "perseus": FieldPerseus,
    "lookahead": FieldLookahead,
}


@dataclass
class SearchResult:
    policy: str
    seed: int
    found: bool
    time_s: float
    error_m: float
    estimate_xy: tuple[float, float]
    distance_flown_m: float
    track: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 2)))

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "seed": self.seed,
            "found": self.found,
            "time_s": round(self.time_s, 1),
            "error_m": round(self.error_m, 2),
            "distance_flown_m": round(self.distance_flown_m, 1),
        }


def _wind(ep: FieldEpisode, t1: float, rng) -> WindSeries:
    from ..simulate.wind import simulate_wind

    return simulate_wind(-900.0, t1, ep.wind_speed_m_s, ep.wind_from_deg, ep.meander_deg, 120.0, 0.15, 20.0, 0.5, rng)


def _readings(ep: FieldEpisode, t, xy, wind, rng, masses) -> np.ndarray:
    """Sensor readings above background (ppm) along a leg, from the puff simulator (``masses``:
    the episode's puff masses, the same for every leg)."""
    from ..simulate.flight import puff_concentration

    xyz = np.column_stack([xy, np.full(len(t), ep.altitude_m)])
    c = puff_concentration(
        t, xyz, (*ep.source_xy, ep.source_height_m), ep.rate_g_s, wind, ep.stability, max_age_s=900.0, masses=masses
    )
    return g_m3_to_ppm(c, ep.species) + rng.normal(0.0, ep.noise_ppm, len(t))


def run_adaptive(
    ep: FieldEpisode, policy: str | FieldPolicy, radius_m: float = 10.0, confidence: float = 0.9
) -> SearchResult:
    """Fly one episode closed loop with a policy (a name of :data:`FIELD_POLICIES`, or one
    built); ends when 90 % of the posterior lies within ``radius_m`` of its spatial median (the
    reported location, :meth:`FieldBelief.median_xy`) or at ``max_time_s``."""
    from ..simulate.flight import puff_masses

    rng = np.random.default_rng(ep.seed)
    wind = _wind(ep, ep.max_time_s + 60.0, rng)
    masses = puff_masses(wind, rng=np.random.default_rng([ep.seed, 1]))
    pol = FIELD_POLICIES[policy]() if isinstance(policy, str) else policy
    policy = pol.name
    belief = FieldBelief(ep)
    xy = ep.start_xy.astype(float)
    t = 0.0
    dt = 1.0 / ep.sample_hz
    state = {"xy": xy, "hits": 0, "last_hit": False}
    track = [xy.copy()]
    flown = 0.0
    meander_est = ep.meander_deg  # the direction spread measured on the ground before take-off
    while t < ep.max_time_s:
        ws_now, wd_now = wind.at(np.array([t]))
        state["wind"] = (float(wd_now[0]), float(ws_now[0]), meander_est)
        nxt = pol.propose(belief, state)
        leg = float(np.hypot(*(nxt - xy)))
        n = max(1, int(np.ceil(leg / ep.speed_m_s / dt)))
        ts = t + dt * np.arange(1, n + 1)
        pts = xy[None, :] + (nxt - xy)[None, :] * (np.arange(1, n + 1) / n)[:, None]
        read = _readings(ep, ts, pts, wind, rng, masses)
        ws, wd = wind.at(ts)
        wd = wd + rng.normal(0.0, 5.0, n)  # the measured wind is noisy
        # one observation per leg: a hit if any reading on it is above the threshold (readings
        # seconds apart inside one puff are not independent evidence), over the leg's crosswind
        # extent with the leg's mean wind
        leg_hit = bool((read > ep.threshold_ppm).any())
        u = np.array(bearing_to_unit(wd)).T * ws[:, None]
        wd_leg = float(np.rad2deg(np.arctan2(u[:, 0].mean(), u[:, 1].mean())) % 360.0)
        mid, half = stretch([xy, nxt], wd_leg)  # as the policies plan it (the field search's own rule)
        belief.update(mid, leg_hit, wd_leg, float(ws.mean()), meander_est, half)
        state["hits"] += int(leg_hit)
        state["last_hit"] = leg_hit
        flown += leg
        xy = nxt.copy()
        state["xy"] = xy
        track.append(xy.copy())
        t = float(ts[-1])
        centre = belief.median_xy()  # what is reported (the spatial median, as live mode)
        r90 = belief.radius(centre, confidence)
        if state["hits"] > 0:
            pol.narrow(r90, radius_m)
        close = min(float(np.hypot(*(p - centre))) for p in track[-12:])
        # done when 90 % of the posterior is within radius_m and the aircraft has been there
        # (close to the estimate: seen the gas, or its absence, near the source itself)
        if state["hits"] > 0 and r90 <= radius_m and close <= 2 * radius_m:
            err = float(np.hypot(*(centre - np.asarray(ep.source_xy))))
            return SearchResult(policy, ep.seed, err <= radius_m, t, err, tuple(centre), flown, np.array(track))
    centre = belief.median_xy()
    err = float(np.hypot(*(centre - np.asarray(ep.source_xy))))
    return SearchResult(policy, ep.seed, False, t, err, tuple(centre), flown, np.array(track))


def run_lawnmower(ep: FieldEpisode, radius_m: float = 10.0, iterations: int = 2000) -> SearchResult:
    """The blind survey (crosswind lines planned for the reference rate) and the estimator, then
    one follow-up: short crosswind lines 10-70 m downwind of the estimate, estimated again."""
    from ..inference import EstimatorConfig, PlumeEstimator
    from ..simulate import Scenario, simulate_flight

    h = ep.half_size_m
    base = {
        "name": f"field-{ep.seed}",
        "seed": ep.seed,
        "site": {"origin": [51.0, -1.0], "area_m": [[-h, -h], [h, -h], [h, h], [-h, h]]},
        "sources": [{"x_m": ep.source_xy[0], "y_m": ep.source_xy[1], "height_m": ep.source_height_m,
                     "rate_g_s": ep.rate_g_s}],
        "wind": {"speed_m_s": ep.wind_speed_m_s, "from_deg": ep.wind_from_deg, "meander_deg": ep.meander_deg},
        "aircraft": {"speed_m_s": ep.speed_m_s, "altitude_m": ep.altitude_m, "min_altitude_m": ep.altitude_m,
                     "sample_rate_hz": ep.sample_hz, "endurance_s": 7200.0},
        "sensor": {"noise_ppm": ep.noise_ppm},
        "flight": {"home_m": list(ep.start_xy)},
    }  # fmt: skip
    sc = Scenario.model_validate(base)
    survey = simulate_flight(sc)
    t_survey = float(survey.observations.time_s[-1])
    est = PlumeEstimator(EstimatorConfig(iterations=iterations, burn_in=iterations // 3, seed=ep.seed))
    est.fit(survey.observations)
    if not est.sources_:
        return SearchResult("lawnmower", ep.seed, False, t_survey, float("inf"), (np.nan, np.nan), 0.0)
    s0 = max(est.sources_, key=lambda s: s.rate_g_s)
    guess = np.array([s0.x_m, s0.y_m])
    down = np.array(bearing_to_unit(ep.wind_from_deg + 180.0))
    cross = np.array([-down[1], down[0]])
    wps = []
    for k, x in enumerate((10.0, 25.0, 45.0, 70.0)):
        half = 15.0 + 0.4 * x + s0.location_ci90_m
        a, b = guess + x * down - half * cross, guess + x * down + half * cross
        wps += [a, b] if k % 2 == 0 else [b, a]
    last = survey.plan.sorties[-1][-1] if survey.plan is not None else ep.start_xy
    transit = float(np.hypot(*(np.asarray(wps[0]) - last)))
    follow = sc.model_copy(
        update={"flight": sc.flight.model_copy(update={"pattern": "waypoints", "waypoints_m": [tuple(w) for w in wps]}),
                "seed": ep.seed + 100000}
    )  # fmt: skip
    fl = simulate_flight(follow)
    t_follow = float(fl.observations.time_s[-1])
    est2 = PlumeEstimator(EstimatorConfig(iterations=iterations, burn_in=iterations // 3, seed=ep.seed, margin_m=60.0))
    est2.fit(fl.observations)
    t_total = t_survey + transit / ep.speed_m_s + t_follow
    if not est2.sources_:
        err = float(np.hypot(*(guess - np.asarray(ep.source_xy))))
        return SearchResult("lawnmower", ep.seed, err <= radius_m, t_total, err, tuple(guess), 0.0)
    s1 = max(est2.sources_, key=lambda s: s.rate_g_s)
    fin = np.array([s1.x_m, s1.y_m])
    err = float(np.hypot(*(fin - np.asarray(ep.source_xy))))
    return SearchResult("lawnmower", ep.seed, err <= radius_m, t_total, err, tuple(fin), 0.0)

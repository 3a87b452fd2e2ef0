"""Reversible-jump MCMC over source sets, with the emission rates marginalised.

State: ``k`` source positions (x, y) plus nuisance parameters theta = (wind-direction bias,
log width multiplier, source height, stability class offset, log sensor response time, log noise
scale per data set). Concentration is linear in the rates and in
the background offsets, so for a state they are solved (weighted non-negative least squares,
reweighted for the fluctuation term) and integrated out by Laplace's method:

    log p(y | x, theta) ~ log L(q_hat) + log p(q_hat) + (d/2) log 2 pi - 1/2 log det H

with ``H`` the (tempered) Fisher information of the linear parameters. The errors are Student-t
(``student_nu`` degrees of freedom; fitted by iteratively reweighted least squares) with variance
``s^2 + (a mu)^2``: sensor noise plus the plume's fluctuation about its mean, robust to the odd
reading no plume model explains. The sampler moves
positions only: birth (from a data-driven density g mixed with the uniform prior), death, a
random-walk move of one source, and a random-walk update of theta.

Priors: number of sources Poisson(``expected_sources``) truncated at ``max_sources``; positions
uniform over the search box; rates half-Cauchy with scale ``rate_scale_g_s``, below ``max_rate_g_s``;
bias ~ N(0, 5 deg); log width multiplier ~ N(0, 0.1); source height (common to the sources) ~
N(h0, ``height_prior_m``) truncated at the ground (sd 0: known, fixed at h0); log sensor response
time ~ N(log tau0, ``response_prior_log_sd``) (point data only: the columns are lagged as the
sensor reads them; a prior sd of 0 fixes it at tau0, and tau0 = 0 means no lag); log noise scale
~ N(log s0, 1) about the detected noise s0. Each data set brings its own fluctuation intensity
``a`` and Student-t degrees of freedom (``None``: Gaussian).

References
----------
Green, P. J. (1995) Reversible jump MCMC computation and Bayesian model determination,
Biometrika 82, 711-732. Geyer, C. J. & Moller, J. (1994) Simulation procedures and likelihood
inference for spatial point processes, Scand. J. Statist. 21, 359-373 (birth-death acceptance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from .linear import irls_fit

__all__ = ["RJConfig", "RJSampler", "Chain", "KindNuisance"]


@dataclass(frozen=True)
class KindNuisance:
    """A second data kind's own wind-direction bias and width multiplier, for a fit of two kinds
    at once (a flight over a beam network): each kind reads its own anemometer and has its own
    dispersion scheme, so neither error is the other's. The height, the sources and the rates
    stay shared. The bias has :attr:`RJConfig.bias_prior_deg`'s prior."""

    kind: str
    scale_prior: float  # 1-sigma of the log width multiplier (0: fixed at the median)
    scale_prior_median: float = 1.0
    horizontal_width: bool = False


@dataclass(frozen=True)
class RJConfig:
    iterations: int = 4000
    burn_in: int = 1500
    max_sources: int = 5
    expected_sources: float = 1.0
    birth_prob: float = 0.15
    death_prob: float = 0.15
    split_prob: float = 0.1
    merge_prob: float = 0.1
    merge_distance_fraction: float = 0.08
    theta_update_prob: float = 0.5
    birth_refresh: int = 250
    bias_prior_deg: float = 5.0
    # theta[1], the log width multiplier: its prior's 1-sigma (log; 0: fixed at the median) and median; with
    # horizontal_width it scales the horizontal width alone (the vertical then moves only with
    # the stability offset)
    scale_prior: float = 0.1
    scale_prior_median: float = 1.0
    horizontal_width: bool = False
    source_height_m: float = 1.0
    height_prior_m: float = 1.0  # 1-sigma of the height's prior; 0: fixed at source_height_m
    stability: float = 3.0
    # 1-sigma prior of an offset to the stability class index (0: the class is fixed)
    stability_prior_classes: float = 0.0
    # the gas sensor's first-order response time (s): the prior median, or the value when
    # response_prior_log_sd is 0; 0: no lag modelled
    response_s: float = 0.0
    response_prior_log_sd: float = 0.0
    # 1-sigma prior (normal, mean 0) of the vertical growth exponent of the turbulence scheme's
    # vertical width (see :mod:`.forward`); 0: fixed at 0, the width linear in distance
    z_growth_prior: float = 0.0
    grid_cells: int = 40
    birth_temper: float = 0.3
    uniform_birth_weight: float = 0.3
    thin: int = 2
    rate_scale_g_s: float = 1.0
    max_rate_g_s: float = 100.0
    # data sets of this kind take their own (bias, log width) from two theta components after
    # the noise scales; the others (and every data set when None) take theta[0] and theta[1]
    other_kind: KindNuisance | None = None


@dataclass
class Chain:
    """Samples after burn-in: per kept iteration, the positions (k, 2) and rates (k,)."""

    positions: list[np.ndarray] = field(default_factory=list)
    rates: list[np.ndarray] = field(default_factory=list)
    theta: list[np.ndarray] = field(default_factory=list)
    log_post: list[float] = field(default_factory=list)
    k_trace: list[int] = field(default_factory=list)
    accept: dict[str, list[int]] = field(
        default_factory=lambda: {
            "birth": [0, 0],
            "death": [0, 0],
            "move": [0, 0],
            "split": [0, 0],
            "merge": [0, 0],
            "theta": [0, 0],
        }
    )
    best_positions: np.ndarray | None = None
    best_log_post: float = -np.inf

    def merge(self, other: Chain) -> Chain:
        """Pool two chains' samples (and keep the better best state)."""
        out = Chain(
            self.positions + other.positions,
            self.rates + other.rates,
            self.theta + other.theta,
            self.log_post + other.log_post,
            self.k_trace + other.k_trace,
            {k: [a + other.accept[k][0], n + other.accept[k][1]] for k, (a, n) in self.accept.items()},
        )
        best = self if self.best_log_post >= other.best_log_post else other
        out.best_positions, out.best_log_post = best.best_positions, best.best_log_post
        return out


class RJSampler:
    """Sample source sets for one or more data sets (see :mod:`plumescout.inference.data`)."""

    def __init__(self, datasets, box, config: RJConfig | None = None, temper: list[float] | None = None):
        self.data = list(datasets)
        self.box = tuple(float(v) for v in box)
        self.cfg = config or RJConfig()
        self.area = (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])
        self.temper = list(temper) if temper is not None else [1.0] * len(self.data)
        self.s0 = np.array([d.noise_g_m3 for d in self.data])
        self.y = [d.y for d in self.data]

    # -- model ----------------------------------------------------------------------------------
    # theta: the components :meth:`theta_names` lists, in that order
    RESPONSE = 4
    GROWTH = 5
    NOISE = 6

    @property
    def OTHER(self) -> int:  # noqa: N802 (an index, like the class constants above)
        """Index of the second kind's wind bias (its log width follows); see ``other_kind``."""
        return self.NOISE + len(self.data)

    def theta_names(self) -> list[str]:
        """What each theta component is, in order (theta[1] depends on ``horizontal_width``)."""
        width = "log horizontal width factor" if self.cfg.horizontal_width else "log width multiplier"
        o = self.cfg.other_kind
        if o is not None:
            first = sorted({d.kind for d in self.data if d.kind != o.kind})
            width = f"{width} ({', '.join(first)})"
        names = [
            "wind bias deg" if o is None else f"wind bias deg ({', '.join(first)})",
            width,
            "source height m",
            "stability class offset",
            "log sensor response s",
            "vertical growth exponent",
            *(f"log noise g/m3 (data set {i})" for i in range(len(self.data))),
        ]
        if o is not None:
            w = "log horizontal width factor" if o.horizontal_width else "log width multiplier"
            names += [f"wind bias deg ({o.kind})", f"{w} ({o.kind})"]
        return names

    def theta0(self) -> np.ndarray:
        c = self.cfg
        log_resp = np.log(c.response_s) if c.response_s > 0 else 0.0
        log_scale = np.log(c.scale_prior_median)
        th = np.concatenate([[0.0, log_scale, c.source_height_m, 0.0, log_resp, 0.0], np.log(self.s0)])
        if c.other_kind is not None:
            th = np.concatenate([th, [0.0, np.log(c.other_kind.scale_prior_median)]])
        return th

    def response_s(self, th) -> float:
        """The sensor response time (s) of state ``th`` (0: no lag modelled)."""
        return float(np.exp(th[self.RESPONSE])) if self.cfg.response_s > 0 else 0.0

    def free_theta(self) -> np.ndarray:
        """Indices of the theta components the sampler moves (the others stay at theta0)."""
        c = self.cfg
        fixed = set()
        if c.scale_prior <= 0:
            fixed.add(1)
        if c.height_prior_m <= 0:
            fixed.add(2)
        if c.stability_prior_classes <= 0:
            fixed.add(3)
        if c.response_s <= 0 or c.response_prior_log_sd <= 0:
            fixed.add(self.RESPONSE)
        if c.z_growth_prior <= 0:
            fixed.add(self.GROWTH)
        n = self.OTHER
        if c.other_kind is not None:
            n += 2
            if c.other_kind.scale_prior <= 0:
                fixed.add(self.OTHER + 1)
        return np.array([i for i in range(n) if i not in fixed])

    def log_prior_theta(self, th) -> float:
        c = self.cfg
        if th[2] < 0.0:
            return -np.inf
        lp = -0.5 * (th[0] / c.bias_prior_deg) ** 2
        if c.scale_prior > 0:
            lp += -0.5 * ((th[1] - np.log(c.scale_prior_median)) / c.scale_prior) ** 2
        if c.height_prior_m > 0:
            lp += -0.5 * ((th[2] - c.source_height_m) / c.height_prior_m) ** 2
        if c.stability_prior_classes > 0:
            if not 0.0 <= c.stability + th[3] <= 5.0:
                return -np.inf
            lp += -0.5 * (th[3] / c.stability_prior_classes) ** 2
        if c.response_s > 0 and c.response_prior_log_sd > 0:
            lp += -0.5 * ((th[self.RESPONSE] - np.log(c.response_s)) / c.response_prior_log_sd) ** 2
        if c.z_growth_prior > 0:
            lp += -0.5 * (th[self.GROWTH] / c.z_growth_prior) ** 2
        lp += float(np.sum(-0.5 * (th[self.NOISE : self.OTHER] - np.log(self.s0)) ** 2))
        o = c.other_kind
        if o is not None:
            lp += -0.5 * (th[self.OTHER] / c.bias_prior_deg) ** 2
            if o.scale_prior > 0:
                lp += -0.5 * ((th[self.OTHER + 1] - np.log(o.scale_prior_median)) / o.scale_prior) ** 2
        return lp

    def _dispersion(self, d, th) -> tuple[float, float, float]:
        """(wind bias deg, width multiplier, horizontal width multiplier) of data set ``d``."""
        o = self.cfg.other_kind
        if o is not None and d.kind == o.kind:
            bias, log_w, horizontal = th[self.OTHER], th[self.OTHER + 1], o.horizontal_width
        else:
            bias, log_w, horizontal = th[0], th[1], self.cfg.horizontal_width
        return (bias, 1.0, np.exp(log_w)) if horizontal else (bias, np.exp(log_w), 1.0)

    def columns(self, xy: np.ndarray, th) -> list[np.ndarray]:
        src = np.column_stack([xy, np.full(len(xy), th[2])]) if len(xy) else np.empty((0, 3))
        resp = self.response_s(th)
        out = []
        for d in self.data:
            if not len(xy):
                out.append(np.empty((len(d), 0)))
                continue
            bias, scale, scale_y = self._dispersion(d, th)
            out.append(d.coupling(src, self.cfg.stability + th[3], bias, scale, resp, scale_y, th[self.GROWTH]))
        return out

    def marginal(self, ks: list[np.ndarray], th):
        """Laplace log marginal likelihood (+ rate prior), the fitted rates, and each data set's
        fitted background (an (n,) array per data set) for couplings ``ks``."""
        m = ks[0].shape[1]
        st = self._static()
        a2, nu_arr, y, nb, B = st["a2"], st["nu"], st["y"], st["nb"], st["B"]
        K = np.ascontiguousarray(np.vstack(ks) if len(ks) > 1 else ks[0], dtype=float)
        s2 = np.concatenate([np.full(len(d), np.exp(2 * th[self.NOISE + i])) for i, d in enumerate(self.data)])
        tw = st["tw"]
        bases = st["bases"]
        sq = self.cfg.rate_scale_g_s
        # weighted NNLS on the rates, reweighted for the fluctuation term and the Student-t
        # weights (IRLS); the half-Cauchy prior's curvature at zero, 2/s^2, is a ridge on the
        # rates (MAP fit). H: the tempered information of rates and background coefficients
        coef, var, wt, H, ll = irls_fit(K, B, y, s2, a2, nu_arr, st["lgam"], tw, 2.0 / (sq * sq), st["passes"])
        q = coef[:m]
        bg_coef = coef[m:]
        off = []
        col = 0
        for i, b in enumerate(bases):
            off.append(b @ bg_coef[col : col + nb[i]])
            col += nb[i]
        # Laplace over the rates and background coefficients (the latter's flat prior is a
        # constant), with the rate prior's curvature: where the data say little about a rate,
        # the prior bounds its width, so an unneeded source earns no evidence
        curv = 2.0 * (sq * sq - q * q) / (sq * sq + q * q) ** 2
        H[np.arange(m), np.arange(m)] += np.maximum(curv, 1e-3 / (sq * sq))
        sign, logdet = np.linalg.slogdet(H + 1e-12 * np.eye(H.shape[0]) * max(1.0, np.trace(H) / H.shape[0]))
        lm = ll + 0.5 * H.shape[0] * np.log(2 * np.pi) - 0.5 * logdet
        # half-Cauchy rate prior (scale rate_scale_g_s): finite at zero, heavy-tailed so strong
        # leaks are not penalised much; rates beyond max_rate_g_s are (softly) impossible
        c = self.cfg
        lm += float(np.sum(np.log(2.0 / (np.pi * sq)) - np.log1p((q / sq) ** 2)))
        lm -= float(np.sum(np.maximum(q / c.max_rate_g_s - 1.0, 0.0))) * 1e3
        return lm, q, off, H, m

    def log_post(self, xy, ks, th) -> tuple[float, np.ndarray, np.ndarray]:
        k = len(xy)
        c = self.cfg
        if k > c.max_sources:
            return -np.inf, np.empty(0), np.empty(0)
        lm, q, off, H, m = self.marginal(ks, th)
        # Poisson(lambda) on k and uniform positions: lambda^k / k! * (1/A)^k
        lp = k * np.log(c.expected_sources) - float(np.sum(np.log(np.arange(1, k + 1)))) - k * np.log(self.area)
        return lm + lp + self.log_prior_theta(th), q, H

    def _static(self) -> dict:
        """What does not change between states: stacked data, background block, weights."""
        key = tuple(self.temper)
        if getattr(self, "_static_cache", None) is not None and self._static_cache[0] == key:
            return self._static_cache[1]
        bases = [d.background_basis() for d in self.data]
        nb = [b.shape[1] for b in bases]
        ptot = sum(nb)
        blocks = []
        col = 0
        for i, (d, b) in enumerate(zip(self.data, bases, strict=True)):
            off = np.zeros((len(d), ptot))  # each data set's background terms in its own columns
            off[:, col : col + nb[i]] = b
            col += nb[i]
            blocks.append(off)
        st = {
            "a2": np.concatenate([np.full(len(d), d.fluctuation_intensity**2) for d in self.data]),
            "nu": np.concatenate(
                [np.full(len(d), np.inf if d.student_nu is None else d.student_nu) for d in self.data]
            ),
            "B": np.ascontiguousarray(np.vstack(blocks)),
            "lgam": np.concatenate(
                [
                    np.full(
                        len(d),
                        0.0 if d.student_nu is None else gammaln((d.student_nu + 1) / 2) - gammaln(d.student_nu / 2),
                    )
                    for d in self.data
                ]
            ),
            "y": np.concatenate(self.y),
            "nb": nb,
            "bases": bases,
            "tw": np.concatenate([np.full(len(d), t) for d, t in zip(self.data, self.temper, strict=True)]),
        }
        st["passes"] = 4 if np.isfinite(st["nu"]).any() else 3  # Student-t weights: one pass more
        self._static_cache = (key, st)
        return st

    # -- birth proposal -------------------------------------------------------------------------
    def build_birth_density(self, residuals: list[np.ndarray] | None = None):
        """Birth proposal: grid cells weighted by the (tempered) chi^2 a single source there would
        remove from the data, or from ``residuals`` (the data minus the current fit: then the
        births go where the current sources leave signal unexplained)."""
        c = self.cfg
        x0, y0, x1, y1 = self.box
        n = c.grid_cells
        gx = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        gy = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
        GX, GY = np.meshgrid(gx, gy)
        cells = np.column_stack([GX.ravel(), GY.ravel()])
        score = np.zeros(len(cells))
        if getattr(self, "_grid_k", None) is None:
            src = np.column_stack([cells, np.full(len(cells), c.source_height_m)])
            self._grid_k = [d.coupling(src, c.stability, 0.0, 1.0, c.response_s) for d in self.data]
        for i, d in enumerate(self.data):
            if residuals is None:
                y = self.y[i] - (np.percentile(self.y[i], 10) if d.needs_offset else 0.0)
            else:
                y = residuals[i]
            w = 1.0 / self.s0[i] ** 2
            k = self._grid_k[i]
            num = k.T @ y * w
            den = np.einsum("ij,ij->j", k, k) * w
            ok = den > 1e-12 * max(float(den.max()), 1e-300)
            qh = np.where(ok, np.clip(num / np.where(ok, den, 1.0), 0.0, c.max_rate_g_s), 0.0)
            score += self.temper[i] * 0.5 * (2.0 * qh * num - qh * qh * den)  # chi^2 gained by the best rate
        logit = c.birth_temper * (score - score.max())
        p = np.exp(logit)
        p /= p.sum()
        self._cells, self._cell_p = cells, p
        self._cell_area = (x1 - x0) * (y1 - y0) / (n * n)
        self._cell_w = ((x1 - x0) / n, (y1 - y0) / n)
        self.grid_score_ = score.reshape(n, n)

    def birth_density(self, p_xy) -> float:
        c = self.cfg
        x0, y0, x1, y1 = self.box
        n = c.grid_cells
        i = min(int((p_xy[0] - x0) / (x1 - x0) * n), n - 1)
        j = min(int((p_xy[1] - y0) / (y1 - y0) * n), n - 1)
        w = c.uniform_birth_weight
        return w / self.area + (1 - w) * self._cell_p[j * n + i] / self._cell_area

    def draw_birth(self, rng) -> np.ndarray:
        c = self.cfg
        x0, y0, x1, y1 = self.box
        if rng.random() < c.uniform_birth_weight:
            return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        idx = rng.choice(len(self._cell_p), p=self._cell_p)
        cx, cy = self._cells[idx]
        return np.array([cx + (rng.random() - 0.5) * self._cell_w[0], cy + (rng.random() - 0.5) * self._cell_w[1]])

    # -- split / merge ----------------------------------------------------------------------------
    @property
    def merge_distance(self) -> float:
        return self.cfg.merge_distance_fraction * float(np.hypot(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def _close_pairs(self, xy) -> list[tuple[int, int]]:
        """Ordered pairs (i, j), i != j, closer than the merge distance."""
        d = self.merge_distance
        out = []
        for i in range(len(xy)):
            for j in range(len(xy)):
                if i != j and np.hypot(*(xy[i] - xy[j])) < d:
                    out.append((i, j))
        return out

    def _split_density(self, u) -> float:
        """Density of the split offset: isotropic normal (sd d/2) truncated to |u| < d."""
        d = self.merge_distance
        sd = d / 2.0
        r2 = float(u @ u)
        if r2 >= d * d:
            return 0.0
        return np.exp(-0.5 * r2 / sd**2) / (2 * np.pi * sd**2 * (1.0 - np.exp(-0.5 * d * d / sd**2)))

    def _draw_split(self, rng) -> np.ndarray:
        d = self.merge_distance
        while True:
            u = rng.normal(0.0, d / 2.0, 2)
            if u @ u < d * d:
                return u

    # -- run ------------------------------------------------------------------------------------
    def in_box(self, p) -> bool:
        x0, y0, x1, y1 = self.box
        return x0 <= p[0] <= x1 and y0 <= p[1] <= y1

    def run(self, rng=None, progress=None, init: np.ndarray | None = None) -> Chain:
        c = self.cfg
        rng = np.random.default_rng(rng)
        self.build_birth_density()
        chain = Chain()
        th = self.theta0()
        xy = np.empty((0, 2)) if init is None else np.asarray(init, float).reshape(-1, 2)
        ks = self.columns(xy, th)
        lp = self.log_post(xy, ks, th)[0]
        step_xy = 0.02 * max(self.box[2] - self.box[0], self.box[3] - self.box[1])
        free = self.free_theta()  # the others draw no step (z = 0 below): they stay at theta0
        step_th = np.concatenate([[2.0, 0.05, 0.2, 0.3, 0.15, 0.05], np.full(len(self.data), 0.05)])
        if c.other_kind is not None:
            step_th = np.concatenate([step_th, [2.0, 0.05]])
        win = {"move": [0, 0], "theta": [0, 0]}
        for it in range(c.iterations):
            if progress and it % 100 == 0:
                progress("posterior", it, c.iterations)
            k = len(xy)
            u = rng.random()
            b_k = c.birth_prob if k < c.max_sources else 0.0
            d_k = c.death_prob if k > 0 else 0.0
            if u < b_k:  # birth
                new = self.draw_birth(rng)
                xy2 = np.vstack([xy, new])
                ks2 = [np.hstack([kk, kn]) for kk, kn in zip(ks, self.columns(new[None, :], th), strict=True)]
                lp2 = self.log_post(xy2, ks2, th)[0]
                d_next = c.death_prob
                # prior on ordered tuples p(k) (1/A)^k is in lp; birth inserts at a random place,
                # death removes a random one: the 1/(k+1) of both cancel (Green 1995)
                log_a = lp2 - lp + np.log(d_next) - np.log(b_k * self.birth_density(new))
                chain.accept["birth"][1] += 1
                if np.log(rng.random()) < log_a:
                    xy, ks, lp = xy2, ks2, lp2
                    chain.accept["birth"][0] += 1
            elif u < b_k + d_k:  # death
                j = int(rng.integers(k))
                xy2 = np.delete(xy, j, axis=0)
                ks2 = [np.delete(kk, j, axis=1) for kk in ks]
                lp2 = self.log_post(xy2, ks2, th)[0]
                b_prev = c.birth_prob if k - 1 < c.max_sources else 0.0
                log_a = lp2 - lp + np.log(b_prev * self.birth_density(xy[j])) - np.log(d_k)
                chain.accept["death"][1] += 1
                if np.log(rng.random()) < log_a:
                    xy, ks, lp = xy2, ks2, lp2
                    chain.accept["death"][0] += 1
            elif u < b_k + d_k + (c.split_prob if 0 < k < c.max_sources else 0.0):  # split
                # x_s -> (m + u/2 at s, m - u/2 inserted at a random place); reverse: merge an
                # ordered close pair. Jacobian of (m, u) -> (x_i, x_j) is 1 (Green 1995).
                sidx = int(rng.integers(k))
                du = self._draw_split(rng)
                a_new, b_new = xy[sidx] + du / 2, xy[sidx] - du / 2
                chain.accept["split"][1] += 1
                if self.in_box(a_new) and self.in_box(b_new):
                    xy2 = np.vstack([xy, b_new])
                    xy2[sidx] = a_new
                    ks2 = self.columns(xy2, th)
                    lp2 = self.log_post(xy2, ks2, th)[0]
                    n_ord = len(self._close_pairs(xy2))
                    log_a = (
                        lp2
                        - lp
                        + np.log(c.merge_prob * k * (k + 1))
                        - np.log(max(n_ord, 1) * c.split_prob * self._split_density(du))
                    )
                    if n_ord and np.log(rng.random()) < log_a:
                        xy, ks, lp = xy2, ks2, lp2
                        chain.accept["split"][0] += 1
            elif u < b_k + d_k + (c.split_prob if 0 < k < c.max_sources else 0.0) + (
                c.merge_prob if k > 1 else 0.0
            ):  # merge
                pairs = self._close_pairs(xy)
                chain.accept["merge"][1] += 1
                if pairs:
                    i, j = pairs[int(rng.integers(len(pairs)))]
                    du = xy[i] - xy[j]
                    xy2 = xy.copy()
                    xy2[i] = (xy[i] + xy[j]) / 2
                    xy2 = np.delete(xy2, j, axis=0)
                    ks2 = self.columns(xy2, th)
                    lp2 = self.log_post(xy2, ks2, th)[0]
                    k2 = k - 1
                    log_a = (
                        lp2
                        - lp
                        + np.log(c.split_prob * self._split_density(du) * len(pairs))
                        - np.log(c.merge_prob * k2 * (k2 + 1))
                    )
                    if np.log(rng.random()) < log_a:
                        xy, ks, lp = xy2, ks2, lp2
                        chain.accept["merge"][0] += 1
            elif k > 0:  # move one source
                j = int(rng.integers(k))
                new = xy[j] + step_xy * rng.standard_normal(2)
                chain.accept["move"][1] += 1
                win["move"][1] += 1
                if self.in_box(new):
                    xy2 = xy.copy()
                    xy2[j] = new
                    kn = self.columns(new[None, :], th)
                    ks2 = []
                    for kk, kc in zip(ks, kn, strict=True):
                        kk2 = kk.copy()
                        kk2[:, j] = kc[:, 0]
                        ks2.append(kk2)
                    lp2 = self.log_post(xy2, ks2, th)[0]
                    if np.log(rng.random()) < lp2 - lp:
                        xy, ks, lp = xy2, ks2, lp2
                        chain.accept["move"][0] += 1
                        win["move"][0] += 1
            # theta update (every other iteration on average: it recomputes every source's column)
            if rng.random() < c.theta_update_prob:
                # (fixed components draw nothing: the random stream does not depend on them)
                z = np.zeros(th.size)
                z[free] = rng.standard_normal(free.size)
                th2 = th + step_th * z
                ks2 = self.columns(xy, th2)
                lp2 = self.log_post(xy, ks2, th2)[0]
                chain.accept["theta"][1] += 1
                win["theta"][1] += 1
                if np.log(rng.random()) < lp2 - lp:
                    th, ks, lp = th2, ks2, lp2
                    chain.accept["theta"][0] += 1
                    win["theta"][0] += 1
            if it < c.burn_in and (it + 1) % 50 == 0:  # adapt toward ~30 % acceptance
                for name in ("move", "theta"):
                    a, n = win[name]
                    if n:
                        f = np.exp((a / n) - 0.3)
                        if name == "move":
                            step_xy = float(np.clip(step_xy * f, 0.05, 0.2 * (self.box[2] - self.box[0])))
                        else:
                            step_th = step_th * f
                    win[name] = [0, 0]
            if it < c.burn_in and len(xy) and (it + 1) % c.birth_refresh == 0:
                # adapt the birth proposal to what the current sources leave unexplained
                # (burn-in only, so the kept chain has a fixed proposal)
                _, qq, off, _, _ = self.marginal(ks, th)
                self.build_birth_density([d.y - kk @ qq - o for d, kk, o in zip(self.data, ks, off, strict=True)])
            if lp > chain.best_log_post and len(xy):
                chain.best_log_post, chain.best_positions = lp, xy.copy()
            if it >= c.burn_in and (it - c.burn_in) % c.thin == 0:
                chain.positions.append(xy.copy())
                chain.rates.append(self._draw_rates(ks, th, rng) if len(xy) else np.empty(0))
                chain.theta.append(th.copy())
                chain.log_post.append(lp)
                chain.k_trace.append(len(xy))
        if progress:
            progress("posterior", c.iterations, c.iterations)
        return chain

    def _draw_rates(self, ks, th, rng) -> np.ndarray:
        """Rates given the positions: the Laplace Gaussian about the fit, folded at zero."""
        _, q, _, H, m = self.marginal(ks, th)
        try:
            cov = np.linalg.inv(H)[:m, :m]
            cov = (cov + cov.T) / 2
            wv, vv = np.linalg.eigh(cov)
            draw = q + vv @ (np.sqrt(np.maximum(wv, 0.0)) * rng.standard_normal(m))
        except np.linalg.LinAlgError:
            draw = q
        return np.abs(draw)

"""The olfactory-search POMDP of Vergassola, Villermaux & Shraiman (Nature 445, 406, 2007), in the
form evaluated by Loisy & Eloy (Proc. R. Soc. A 478, 20220118, 2022) with their OTTO package.

A source hides in a cell of an n-dimensional grid. Each step the agent moves to a neighbouring
cell; if the source is there the search ends, otherwise it receives a number of "hits" drawn from
a Poisson law whose mean decays with the distance d to the source (in cells) as the
turbulent-diffusion model gives, in units of L = lambda/dx and I = R*dt:

    1-D:  mu(d) = mu0 exp(1 - d/L),                   mu0 = I e^-1 / (1 - a/lambda)
    2-D:  mu(d) = mu0 K0(d/L) / K0(1),                mu0 = I K0(1) / ln(lambda/a)
    3-D:  mu(d) = mu0 (L/d) exp(1 - d/L),             mu0 = I (a/lambda) e^-1

(mu0 is the mean at d = L; the agent's radius a is half a step). The last hit value h = Nhits - 1
stands for "Nhits - 1 or more". The belief over the source's cell is updated by Bayes' rule.

Episodes follow the published protocol: the agent starts at the centre of a grid large enough that
its edges do not matter, after a first non-zero hit drawn from its law in an unbounded domain with
a uniformly placed source; the source is not drawn — the search is scored in the Bayesian way, by
the probability that it has not yet ended, and the episode stops when the probability that the
source has been found exceeds 1 - 1e-6 (or the agent is stuck or out of time: a failure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = ["GridSearch", "Belief", "run_episode", "evaluate"]

EPS = 1e-10


def _ball_volume(r, dims: int):
    """Volume of the Euclidean ball of radius r in ``dims`` dimensions."""
    return np.pi ** (dims / 2) * np.asarray(r, float) ** dims / special.gamma(dims / 2 + 1)


@dataclass
class GridSearch:
    """The environment: grid, hit law and its likelihood tables."""

    dims: int
    lambda_over_dx: float
    rate_dt: float
    n_grid: int | None = None
    n_hits: int | None = None
    p_source_out: float = 1e-3

    def __post_init__(self):
        if self.dims not in (1, 2, 3):
            raise ValueError("dims must be 1, 2 or 3")
        if self.lambda_over_dx < 1.0 or self.rate_dt <= 0:
            raise ValueError("lambda/dx must be >= 1 and R*dt > 0")
        a_over_lambda = 1.0 / (2.0 * self.lambda_over_dx)  # step = 2 agent radii
        if self.dims == 1:
            mu0 = np.exp(-1.0) / (1.0 - a_over_lambda)
        elif self.dims == 2:
            mu0 = special.k0(1.0) / np.log(1.0 / a_over_lambda)
        else:
            mu0 = a_over_lambda * np.exp(-1.0)
        self.mu0 = float(mu0 * self.rate_dt)
        if self.n_hits is None:
            m1 = float(self.mean_hits(1.0))
            self.n_hits = int(np.ceil(m1 + np.sqrt(m1))) + 1
        if self.n_grid is None:
            self.n_grid = self._auto_grid()
        self.n_grid = (int(self.n_grid) // 2) * 2 + 1
        self.n_actions = 2 * self.dims
        # likelihood table over displacements source - agent in [-N, N]^dims: (Nhits, (2N+1)^dims)
        size = 2 * self.n_grid + 1
        c = np.indices((size,) * self.dims) - self.n_grid
        d = np.sqrt(np.sum(c * c, axis=0))
        mu = self.mean_hits(np.where(d == 0, 1.0, d))
        tab = self.hit_probabilities(mu)
        tab[(slice(None),) + (self.n_grid,) * self.dims] = 0.0  # the source is never at the agent
        self.table = tab
        # Manhattan distances over the same displacements (for distance-aware policies)
        self.manhattan = np.sum(np.abs(c), axis=0).astype(float)
        self.initial_hit_law_ = self.initial_hit_law()

    def label(self) -> str:
        """What sets the environment's tables, for naming what is computed from them."""
        return f"d{self.dims}-L{self.lambda_over_dx:g}-R{self.rate_dt:g}-N{self.n_grid}-H{self.n_hits}"

    # -- the hit law ----------------------------------------------------------------------------
    def mean_hits(self, d):
        d = np.asarray(d, float)
        L = self.lambda_over_dx
        if self.dims == 1:
            f = np.exp(1.0 - d / L)
        elif self.dims == 2:
            f = special.k0(d / L) / special.k0(1.0)
        else:
            f = L / d * np.exp(1.0 - d / L)
        return self.mu0 * f

    def hit_probabilities(self, mu) -> np.ndarray:
        """P(h | mu) for h = 0 .. Nhits-1, the last value collecting the tail."""
        mu = np.asarray(mu, float)
        h = np.arange(self.n_hits).reshape((-1,) + (1,) * mu.ndim)
        p = stats.poisson.pmf(h, mu[None])
        p[-1] = np.maximum(0.0, 1.0 - p[:-1].sum(axis=0))
        return p

    def _radial_hit_law(self):
        r = np.arange(1, int(1000 * self.lambda_over_dx), dtype=float)
        shell = _ball_volume(r + 0.5, self.dims) - _ball_volume(r - 0.5, self.dims)
        return r, shell, self.hit_probabilities(self.mean_hits(r))

    def _auto_grid(self) -> int:
        """Smallest odd N such that, in an unbounded domain, the source lies outside the ball of
        diameter N with probability < p_source_out after any initial non-zero hit."""
        r, shell, p = self._radial_hit_law()
        n = 0
        for h in range(1, self.n_hits):
            cdf = np.cumsum(p[h] * shell)
            cdf /= cdf[-1]
            where = int(np.flatnonzero(1.0 - cdf < self.p_source_out)[0])
            n = max(n, 2 * (where + 1) + 1)
        return n

    def initial_hit_law(self) -> np.ndarray:
        """P(h_init = h), h >= 1, for a uniformly placed source in an unbounded domain."""
        r, shell, p = self._radial_hit_law()
        w = (p * shell[None]).sum(axis=1)
        w[0] = 0.0
        return w / w.sum()

    # -- beliefs --------------------------------------------------------------------------------
    def likelihood(self, agent) -> np.ndarray:
        """(Nhits, N, ...) P(h | source at each cell) for the agent at ``agent``."""
        n = self.n_grid
        sl = tuple(slice(n - a, 2 * n - a) for a in agent)
        return self.table[(slice(None),) + sl]

    def distances(self, agent) -> np.ndarray:
        n = self.n_grid
        return self.manhattan[tuple(slice(n - a, 2 * n - a) for a in agent)]

    def move(self, agent: tuple, action: int) -> tuple | None:
        """The neighbour cell of an action (0: -x, 1: +x, 2: -y, 3: +y, ...); None off the grid."""
        axis, step = divmod(action, 2)
        new = list(agent)
        new[axis] += 1 if step else -1
        if not 0 <= new[axis] < self.n_grid:
            return None
        return tuple(new)

    def start(self, initial_hit: int) -> Belief:
        n = self.n_grid
        agent = (n // 2,) * self.dims
        p = np.ones((n,) * self.dims)
        p[agent] = 0.0
        p *= self.likelihood(agent)[initial_hit]
        return Belief(p / p.sum(), agent)


def entropy_bits(p: np.ndarray, axes=None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > EPS, -p * np.log2(np.where(p > EPS, p, 1.0)), 0.0)
    return t.sum(axis=axes)


@dataclass
class Belief:
    """The posterior over the source's cell and the agent's cell."""

    p: np.ndarray
    agent: tuple

    def outcomes(self, env: GridSearch, cell: tuple):
        """If the agent moves to ``cell``: the probability the source is there (p_end), the law of
        the hits it then receives, and the posterior after each hit value (Nhits, N, ...)."""
        p_end = float(self.p[cell])
        q = self.p.copy()
        q[cell] = 0.0
        s = q.sum()
        if s > EPS:
            q /= s
        post = q[None] * env.likelihood(cell)
        axes = tuple(range(1, post.ndim))
        p_hit = post.sum(axis=axes)
        norm = np.where(p_hit > EPS, p_hit, 1.0)
        post /= norm.reshape((-1,) + (1,) * (post.ndim - 1))
        return p_end, p_hit, post

    def sample_hit(self, env: GridSearch, cell: tuple, rng: np.random.Generator) -> int:
        """A hit drawn from its law given this belief, on moving to ``cell`` without finding the
        source there."""
        q = self.p.copy()
        q[cell] = 0.0
        p_hit = (q[None] * env.likelihood(cell)).sum(axis=tuple(range(1, q.ndim + 1)))
        return int(rng.choice(env.n_hits, p=p_hit / p_hit.sum()))

    def update(self, env: GridSearch, cell: tuple, hit: int) -> Belief:
        q = self.p.copy()
        q[cell] = 0.0
        q *= env.likelihood(cell)[hit]
        s = q.sum()
        return Belief(q / s if s > EPS else q, cell)


def run_episode(env: GridSearch, policy, rng: np.random.Generator, stop_p: float = 1e-6, max_steps=None):
    """One episode in the Bayesian scoring of Loisy & Eloy. Returns ``(mean_steps, failed)``: the
    expected number of steps to find the source given the hits received, and whether the episode
    was cut (agent stuck in a back-and-forth loop, or out of time) before p(found) > 1 - stop_p."""
    if max_steps is None:
        max_steps = default_max_steps(env)
    h0 = int(rng.choice(env.n_hits, p=env.initial_hit_law_))
    b = env.start(h0)
    policy.reset(env, b)
    t_mean, p_not_found = 0.0, 1.0
    history = [None, b.agent]
    repeats = 0
    for _t in range(1, max_steps + 1):
        cell = policy.choose(env, b)
        p_end = float(b.p[cell])
        t_mean += p_not_found
        p_not_found *= 1.0 - p_end
        if p_not_found < stop_p or p_end > 1.0 - EPS:
            return t_mean, False
        hit = b.sample_hit(env, cell, rng)
        b = b.update(env, cell, hit)
        policy.observe(env, b, hit)
        repeats = repeats + 1 if history[0] == cell else 0
        history = [history[1], cell]
        if repeats > 8:
            return t_mean, True
    return t_mean, True


def default_max_steps(env: GridSearch) -> int:
    """OTTO's time limit: 4 N in 1-D, else 5 10^n L (/ sqrt(mu0) when mu0 < 1)."""
    if env.dims == 1:
        return int(round(4 * env.n_grid))
    if env.mu0 < 1e-3:
        return int(10 * env.n_grid**env.dims)
    f = 1.0 / np.sqrt(env.mu0) if env.mu0 < 1 else 1.0
    return int(round(5 * 10**env.dims * env.lambda_over_dx * f))


def _run_chunk(args):
    """Episodes, one per seed -> rows (steps, failed)."""
    dims, lam, rate, policy_name, seeds = args
    from .policies import make_policy

    env = GridSearch(dims, lam, rate)
    out = np.empty((len(seeds), 2))
    for i, s in enumerate(seeds):
        out[i] = run_episode(env, make_policy(policy_name), np.random.default_rng(s))
    return out


def evaluate(
    dims: int,
    lambda_over_dx: float,
    rate_dt: float,
    policy: str,
    episodes: int,
    seed: int = 0,
    workers: int | None = None,
    progress=None,
    per_episode: bool = False,
    train_progress=None,
) -> dict:
    """Mean number of steps to find the source over ``episodes`` episodes (in parallel processes),
    its 95 % confidence half-width (1.96 standard errors, as OTTO reports it), and the fraction
    of failed episodes. Episode i draws from the i-th child of ``SeedSequence(seed)`` whatever the
    chunking, so two policies evaluated with one seed meet the same first hits (and the same
    later hits while they move alike): their per-episode difference (``per_episode=True`` adds
    the steps of each episode) is a paired comparison. The Perseus policy is trained first
    where it is not cached (``train_progress`` gets each iteration's record)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    from .policies import policy_name

    if policy_name(policy) == "perseus":
        # trained (or read from the cache) here, once, before the workers each load it
        from .perseus import trained_alphas

        trained_alphas(GridSearch(dims, lambda_over_dx, rate_dt), progress=train_progress)
    workers = workers or os.cpu_count() or 1
    chunk = max(1, min(500, episodes // (4 * workers) or 1))
    seeds = np.random.SeedSequence(seed).spawn(episodes)
    jobs = [(dims, lambda_over_dx, rate_dt, policy, seeds[i : i + chunk]) for i in range(0, episodes, chunk)]
    parts = []
    if workers == 1:
        for j in jobs:
            parts.append(_run_chunk(j))
            if progress:
                progress(sum(len(p) for p in parts), episodes)
    else:
        with ProcessPoolExecutor(workers) as ex:
            for p in ex.map(_run_chunk, jobs):
                parts.append(p)
                if progress:
                    progress(sum(len(q) for q in parts), episodes)
    res = np.vstack(parts)
    t, failed = res[:, 0], res[:, 1]
    out = {
        "mean_steps": float(t.mean()),
        "ci95": float(1.96 * t.std() / np.sqrt(t.size)),
        "p_fail": float(failed.mean()),
        "episodes": int(t.size),
    }
    if per_episode:
        out["steps"] = t.tolist()
    return out

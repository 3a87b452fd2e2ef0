"""A near-optimal policy for the grid POMDP of :mod:`.pomdp`, by point-based value iteration
(Perseus: Spaan & Vlassis, J. Artif. Intell. Res. 24, 195, 2005), as Heinonen, Biferale, Celani
& Vergassola (Phys. Rev. E 107, 055105, 2023) applied it to olfactory search.

The problem is the same wherever the agent stands, so the belief is held in the agent's frame:
a probability over the displacement s = source - agent, on a window of (2N - 1)^dims cells that
holds every displacement a grid of N cells allows. A move by delta shifts it (s -> s - delta);
the source is found when the shifted belief's mass sits at s = 0; otherwise the hits h have the
likelihood O_h(s) of the grid's hit law.

The value is E[gamma^T], T the number of steps to the source: reward 1 when it is found, none
otherwise, discount gamma (for gamma -> 1, maximising it is minimising the mean time; a
discount below 1 makes the problem finite). Its value function is the upper envelope of
"alpha vectors" over the displacements; alpha = 0 is a valid lower bound (no policy does worse
than never finding the source), and Perseus raises the envelope at a set of beliefs collected
from episodes, backing up only as many of them as it needs for every belief to improve.

The policy takes the move of largest one-step look-ahead value
Q(b, a) = P(found | a) + gamma sum_h max_alpha alpha . (shifted b x O_h),
over the moves that stay on the grid.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pomdp import EPS, Belief, GridSearch

__all__ = ["AgentFrame", "PerseusSolver", "PerseusPolicy", "TrainingPlan", "collect_beliefs", "train", "trained_alphas"]

_LAST_TRANSPOSED: tuple = (None, None)  # (alpha set, its contiguous transpose), see _transposed
SUPPORT = 1e-12  # belief mass below this per cell is left out of the look-ahead (value error < 1e-9)


class AgentFrame:
    """Beliefs in the agent's frame for a grid POMDP: window, moves and hit likelihoods."""

    def __init__(self, env: GridSearch):
        n = env.n_grid
        self.env = env
        self.dims = env.dims
        self.width = 2 * n - 1
        self.shape = (self.width,) * self.dims
        self.size = self.width**self.dims
        self.centre = n - 1
        # env.table covers displacements [-N, N]; the window [-(N-1), N-1]
        inner = (slice(None),) + (slice(1, -1),) * self.dims
        self.obs = np.ascontiguousarray(env.table[inner].reshape(env.n_hits, self.size))
        self.centre_flat = int(np.ravel_multi_index((self.centre,) * self.dims, self.shape))
        self.moves = []
        for a in range(env.n_actions):
            axis, step = divmod(a, 2)
            d = [0] * self.dims
            d[axis] = 1 if step else -1
            self.moves.append(tuple(d))

    def window(self, belief: Belief) -> np.ndarray:
        """The belief over displacements (flat, length ``size``)."""
        n = self.env.n_grid
        out = np.zeros(self.shape)
        sl = tuple(slice(self.centre - a, self.centre - a + n) for a in belief.agent)
        out[sl] = belief.p
        return out.ravel()

    def shift(self, b: np.ndarray, delta, sign: int = 1) -> np.ndarray:
        """Beliefs (..., size) after a move by ``delta`` (``sign`` -1: the adjoint, for alpha
        vectors): out(s) = b(s + delta), zero where s + delta leaves the window."""
        lead = b.shape[:-1]
        x = b.reshape(lead + self.shape)
        out = np.zeros_like(x)
        src, dst = [], []
        for d in delta:
            d = sign * d
            if d > 0:
                src.append(slice(d, None))
                dst.append(slice(None, -d))
            elif d < 0:
                src.append(slice(None, d))
                dst.append(slice(-d, None))
            else:
                src.append(slice(None))
                dst.append(slice(None))
        e = (Ellipsis,)
        out[e + tuple(dst)] = x[e + tuple(src)]
        return out.reshape(lead + (self.size,))


@dataclass
class PerseusSolver:
    """Perseus on the agent-frame belief. ``alphas_`` (n, size) after :meth:`solve`."""

    env: GridSearch
    gamma: float = 0.98
    batch: int = 256
    dtype: type = np.float32
    # Perseus backs up only beliefs no new vector has yet raised, so a belief that every vector
    # values alike (say at 0) may never be backed up; every ``full_every``-th iteration backs
    # up all of them, and the iterations stop only at such a sweep
    full_every: int = 10

    def __post_init__(self):
        self.frame = AgentFrame(self.env)
        self.alphas_ = np.zeros((1, self.frame.size), self.dtype)
        self.actions_ = np.zeros(1, np.int64)  # the move each alpha vector's plan starts with
        self.history_: list[dict] = []

    # -- one-step look-ahead against an alpha set -----------------------------------------------
    def lookahead(self, B: np.ndarray, alphas: np.ndarray):
        """For beliefs B (k, size): Q (k, actions) and the index of the best alpha vector after
        each move and hit (k, actions, hits)."""
        fr = self.frame
        k = B.shape[0]
        nh = fr.obs.shape[0]
        na = len(fr.moves)
        shifted = np.stack([fr.shift(B, d) for d in fr.moves], axis=1)  # (k, actions, size)
        Q = shifted[:, :, fr.centre_flat].astype(float)
        # only the displacements the beliefs hold (late in a search, a few dozen cells), and all
        # (belief, move, hit) products against the alpha vectors in one product
        idx = np.flatnonzero(np.any(shifted > SUPPORT, axis=(0, 1)))
        X = shifted[:, :, None, idx] * fr.obs[None, None, :, idx]  # (k, actions, hits, support)
        v = X.reshape(-1, idx.size) @ self._transposed(alphas)[idx]
        best = np.argmax(v, axis=1)
        Q += self.gamma * v[np.arange(v.shape[0]), best].reshape(k, na, nh).sum(axis=2)
        return Q, best.reshape(k, na, nh)

    def _transposed(self, alphas):
        """alphas.T, contiguous (rows gathered by displacement). Kept for the last alpha set
        seen in the process, not per solver: the benchmark builds a policy (and so a solver)
        per episode, and the transpose of a 2-D set costs more than a few of its moves."""
        global _LAST_TRANSPOSED
        if _LAST_TRANSPOSED[0] is not alphas:
            _LAST_TRANSPOSED = (alphas, np.ascontiguousarray(alphas.T))
        return _LAST_TRANSPOSED[1]

    def backup(self, B: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point-based Bellman backup at beliefs B: one alpha vector per belief, and the
        move it starts with."""
        fr = self.frame
        Q, best = self.lookahead(B, alphas)
        act = np.argmax(Q, axis=1)
        k = B.shape[0]
        g = np.zeros((k, fr.size), self.dtype)
        g[:, fr.centre_flat] = 1.0
        for h in range(fr.obs.shape[0]):
            g += self.gamma * fr.obs[h] * alphas[best[np.arange(k), act, h]]
        out = np.empty_like(g)
        for a, d in enumerate(fr.moves):
            m = act == a
            if m.any():
                out[m] = fr.shift(g[m], d, sign=-1)
        return out, act

    def solve(self, beliefs: np.ndarray, iterations: int = 100, rng=None, tol: float = 1e-5, progress=None):
        """Perseus iterations over a belief set (n, size); returns self."""
        rng = rng or np.random.default_rng(0)
        B = np.asarray(beliefs, self.dtype)
        A, acts = self.alphas_, self.actions_
        v_old = (B @ A.T).max(axis=1)
        for it in range(iterations):
            t0 = time.perf_counter()
            v_new = np.full(len(B), -np.inf, dtype=self.dtype)
            new: list[np.ndarray] = []
            new_acts: list[np.ndarray] = []
            todo = np.arange(len(B))
            picked = np.zeros(len(B), bool)
            backups = 0
            full = (it + 1) % self.full_every == 0 or it == iterations - 1
            while todo.size:
                pick = rng.choice(todo, size=min(self.batch, todo.size), replace=False)
                cand, cand_act = self.backup(B[pick], A)
                backups += len(pick)
                gain = np.einsum("ij,ij->i", cand, B[pick]) > v_old[pick]
                keep, keep_act = cand[gain], cand_act[gain]
                if (~gain).any():  # no improvement: keep the old best vector of that belief
                    old = np.unique(np.argmax(B[pick[~gain]] @ A.T, axis=1))
                    keep, keep_act = np.vstack([keep, A[old]]), np.concatenate([keep_act, acts[old]])
                new.append(keep)
                new_acts.append(keep_act)
                # only the beliefs still waiting can change the loop (the rest are done)
                v_new[todo] = np.maximum(v_new[todo], (B[todo] @ keep.T).max(axis=1))
                # a belief backed up keeps at least its old value (its old vector is kept
                # otherwise); the tolerance covers float32 sums taken in other orders
                picked[pick] = True
                todo = np.flatnonzero(~picked if full else (v_new < v_old - 1e-5) & ~picked)
            A, first = np.unique(np.vstack(new), axis=0, return_index=True)
            acts = np.concatenate(new_acts)[first]
            v_new = (B @ A.T).max(axis=1)
            diff = float(np.max(v_new - v_old))
            v_old = v_new
            self.history_.append(
                {
                    "iteration": it,
                    "alphas": len(A),
                    "backups": backups,
                    "mean_value": float(v_new.mean()),
                    "max_change": diff,
                    "seconds": time.perf_counter() - t0,
                }
            )
            if progress:
                progress(self.history_[-1])
            self.alphas_, self.actions_ = A, acts
            if full and diff < tol:
                break
        return self


class PerseusPolicy:
    """The policy of a solved alpha set: the move of largest look-ahead value Q(b, a) (see the
    module docstring) — unless that value falls short of the value V(b) = max alpha . b the set
    promises at b, which happens off the beliefs it was solved on (the look-ahead then can
    shuttle between two cells as its estimates sink). It then takes the first move of the plan
    of b's best alpha vector, the plan whose value the set promises (the guarantee is exact
    only along beliefs of the solved set). On beliefs far from those it was solved
    on, both can still send the agent back and forth between two cells, learning nothing; a
    move that would make the second reversal in a row is left to space-aware infotaxis."""

    name = "perseus"

    def __init__(self, alphas: np.ndarray | None = None, gamma: float | None = None, actions: np.ndarray | None = None):
        # without alphas: the trained policy of the environment met at reset (cached on disk)
        self.alphas, self.actions = alphas, actions
        self.gamma = TrainingPlan().gamma if gamma is None else gamma
        self._solver = None
        self.plan_moves = 0  # moves taken from the best vector's plan, not the look-ahead
        self.fallback_moves = 0  # moves left to space-aware infotaxis (a shuttle broken)
        self._trail: list = []

    def reset(self, env: GridSearch, belief: Belief) -> None:
        self._trail = [belief.agent]
        if self.alphas is None:
            self.alphas, self.actions = trained_alphas(env, TrainingPlan(gamma=self.gamma))
        if self._solver is None or self._solver.env is not env:
            self._solver = PerseusSolver(env, self.gamma, dtype=self.alphas.dtype.type)

    def observe(self, env, belief, hit) -> None:
        pass

    def choose(self, env: GridSearch, belief: Belief):
        if self._solver is None:
            self.reset(env, belief)
        if not self._trail or self._trail[-1] != belief.agent:
            self._trail = [belief.agent]
        cell = self._choose(env, belief)
        t = self._trail
        if len(t) >= 3 and cell == t[-2] and t[-1] == t[-3]:
            from .policies import SpaceAwareInfotaxis

            self.fallback_moves += 1
            cell = SpaceAwareInfotaxis().choose(env, belief)
        self._trail = (t + [cell])[-3:]
        return cell

    def _choose(self, env: GridSearch, belief: Belief):
        cells = [env.move(belief.agent, a) for a in range(env.n_actions)]
        legal = [a for a, cell in enumerate(cells) if cell is not None]
        return cells[self.decide(self._solver.frame.window(belief), legal)]

    def decide(self, b: np.ndarray, legal: list[int]) -> int:
        """The move for an agent-frame belief ``b`` (flat) among the ``legal`` moves: the largest
        look-ahead value (ties to the first), or the best vector's plan where that falls short
        of the value the set promises at ``b`` (see the class docstring)."""
        b = b[None].astype(self.alphas.dtype)
        Q, _ = self._solver.lookahead(b, self.alphas)
        best, best_a = -np.inf, None
        for a in legal:
            if Q[0, a] > best + EPS:
                best, best_a = Q[0, a], a
        if self.actions is not None:
            v = b[0] @ self.alphas.T
            j = int(np.argmax(v))
            a = int(self.actions[j])
            if best < float(v[j]) - 1e-5 and a in legal:
                self.plan_moves += 1
                return a
        return best_a


def collect_beliefs(env: GridSearch, policy, episodes: int, rng: np.random.Generator, explore: float = 0.1):
    """Agent-frame beliefs (n, size) met along ``episodes`` episodes of ``policy``, which takes
    a random move with probability ``explore``; the source is drawn from the belief at every
    step (an episode ends when it is found), so the beliefs are those a search really meets."""
    frame = AgentFrame(env)
    out = []
    max_steps = 4 * env.n_grid * env.dims
    for _ in range(episodes):
        b = env.start(int(rng.choice(env.n_hits, p=env.initial_hit_law_)))
        policy.reset(env, b)
        for _t in range(max_steps):
            out.append(frame.window(b).astype(np.float32))
            if rng.random() < explore:
                cells = [c for a in range(env.n_actions) if (c := env.move(b.agent, a)) is not None]
                cell = cells[int(rng.integers(len(cells)))]
            else:
                cell = policy.choose(env, b)
            p_end = float(b.p[cell])
            if p_end > 1.0 - EPS or rng.random() < p_end:
                break
            hit = b.sample_hit(env, cell, rng)
            b = b.update(env, cell, hit)
            policy.observe(env, b, hit)
    return np.array(out)


@dataclass(frozen=True)
class TrainingPlan:
    """How the published policy is trained (deterministic for a seed): Perseus on beliefs from
    space-aware infotaxis' episodes, then again with beliefs from its own episodes added (the
    beliefs the policy itself meets)."""

    gamma: float = 0.98
    seed: int = 0
    first_episodes: int = 200
    first_explore: float = 0.15
    first_iterations: int = 150
    own_episodes: int = 1000
    own_explore: float = 0.1
    own_beliefs: int = 3000
    own_iterations: int = 120
    tol: float = 1e-4

    def key(self, env: GridSearch) -> str:
        return (
            f"perseus-v2-{env.label()}"
            f"-g{self.gamma:g}-s{self.seed}-{self.first_episodes}-{self.own_episodes}-{self.own_beliefs}"
        )


def train(env: GridSearch, plan: TrainingPlan | None = None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """The alpha vectors of the policy and the first move of each (see :class:`TrainingPlan`)."""
    from .policies import SpaceAwareInfotaxis

    plan = plan or TrainingPlan()
    rng = np.random.default_rng(plan.seed)
    B = collect_beliefs(env, SpaceAwareInfotaxis(), plan.first_episodes, rng, plan.first_explore)
    solver = PerseusSolver(env, plan.gamma)
    solver.solve(B, plan.first_iterations, rng, plan.tol, progress)
    policy = PerseusPolicy(solver.alphas_, plan.gamma, solver.actions_)
    own = collect_beliefs(env, policy, plan.own_episodes, rng, plan.own_explore)
    if len(own) > plan.own_beliefs:
        own = own[rng.choice(len(own), plan.own_beliefs, replace=False)]
    solver.solve(np.vstack([B, own]), plan.own_iterations, rng, plan.tol, progress)
    return solver.alphas_, solver.actions_


def cache_dir() -> Path:
    """Where trained policies are kept: $PLUMESCOUT_CACHE, else ~/.cache/plumescout."""
    return Path(os.environ.get("PLUMESCOUT_CACHE") or Path.home() / ".cache" / "plumescout")


_LOADED: dict[str, tuple[np.ndarray, np.ndarray]] = {}
TABLE_TOLERANCE = 1e-6  # hit probabilities: far below what moves a policy, far above rounding


def trained_alphas(env: GridSearch, plan: TrainingPlan | None = None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """The policy's alpha vectors and their moves for ``env``: from the cache, else trained
    and cached.

    The cache is named by what sets ``env`` (its label and the plan) and holds the hit table the
    policy was trained on: a cached policy whose table differs from ``env``'s by more than
    ``TABLE_TOLERANCE`` (the law changed under the same settings) is trained again; one that
    differs by less (a change in the law's numerics, say a compiled erfc) is used as it is."""
    plan = plan or TrainingPlan()
    key = plan.key(env)
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / f"{key}.npz"
    out = None
    if path.exists():
        with np.load(path) as f:
            if (
                "table" in f
                and f["table"].shape == env.table.shape
                and np.allclose(f["table"], env.table, rtol=0.0, atol=TABLE_TOLERANCE)
            ):
                out = (f["alphas"], f["actions"])
    if out is None:
        out = train(env, plan, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, alphas=out[0], actions=out[1], table=env.table)
        tmp.replace(path)  # atomic: parallel workers never read half a file
    _LOADED[key] = out
    return out

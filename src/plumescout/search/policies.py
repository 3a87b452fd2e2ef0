"""Adaptive search policies behind one interface: given the current posterior over the source's
location and the searcher's state, propose where to go next.

On the grid POMDP (:mod:`.pomdp`) a policy's ``choose(env, belief)`` returns the next cell, one of
the agent's neighbours. Ties go to the first action in the order -x, +x, -y, +y (as in OTTO), so
runs are reproducible.

- ``infotaxis`` (Vergassola et al. 2007): the move that minimises the expected entropy of the
  posterior after it, counting the chance of finding the source there.
- ``space-aware`` infotaxis (Loisy & Eloy 2022): minimises the expectation of
  log2(D + 2^(H-1) - 1/2), with D the posterior mean Manhattan distance to the source and H the
  entropy — a proxy of the remaining search time.
- ``cast-and-surge``: the insect-inspired baseline. After a hit, surge to the most probable cell;
  without hits, cast in zigzags of growing amplitude across the last surge direction.
- ``lookahead`` (ours): a one-step Bellman backup of the same time proxy, without the log:
  Q(a) = 1 + (1 - p_end) sum_h p(h) [D_h + 2^(H_h - 1) - 1/2]. The log in space-aware infotaxis
  makes it risk-averse (it undervalues moves that may leave the agent far from the source for
  a large gain in information); minimising the expected remaining time itself is what the
  optimal policy does, and one exact step of it with the proxy as terminal value gets closer.
  (Measured: no better than space-aware infotaxis.)
- ``perseus`` (ours, :mod:`.perseus`): the near-optimal policy of point-based value iteration
  over the agent-frame belief (Heinonen et al., Phys. Rev. E 2023), trained on the first use for
  an environment and cached; the best measured (benchmarks/results/search_pomdp.md).
"""

from __future__ import annotations

import numpy as np

from .perseus import PerseusPolicy
from .pomdp import EPS, Belief, GridSearch, entropy_bits

__all__ = [
    "POLICIES",
    "make_policy",
    "policy_name",
    "Infotaxis",
    "SpaceAwareInfotaxis",
    "CastAndSurge",
    "Lookahead",
    "BEST",
]


class GridPolicy:
    name = "policy"

    def reset(self, env: GridSearch, belief: Belief) -> None:
        pass

    def observe(self, env: GridSearch, belief: Belief, hit: int) -> None:
        pass

    def score(self, env: GridSearch, belief: Belief, cell) -> float:
        raise NotImplementedError

    def choose(self, env: GridSearch, belief: Belief):
        best, best_cell = np.inf, None
        for a in range(env.n_actions):
            cell = env.move(belief.agent, a)
            if cell is None:
                continue
            s = self.score(env, belief, cell)
            if s < best - EPS:
                best, best_cell = s, cell
        return best_cell


class _ExpectedValue(GridPolicy):
    """Scores a move by (1 - p_end) E_h[value(posterior after hit h)]; a move onto a cell that
    surely holds the source scores -inf (taken at once)."""

    def value(self, env, post, cell) -> np.ndarray:
        raise NotImplementedError

    def score(self, env, belief, cell):
        p_end, p_hit, post = belief.outcomes(env, cell)
        if p_end > 1 - EPS:
            return -np.inf
        return (1.0 - p_end) * float(np.sum(p_hit * self.value(env, post, cell)))


def _time_proxy(env, post, cell):
    axes = tuple(range(1, post.ndim))
    d = np.sum(post * env.distances(cell)[None], axis=axes)
    h = entropy_bits(post, axes=axes)
    return d + 2.0 ** (h - 1.0) - 0.5


class Infotaxis(_ExpectedValue):
    name = "infotaxis"

    def value(self, env, post, cell):
        return entropy_bits(post, axes=tuple(range(1, post.ndim)))


class SpaceAwareInfotaxis(_ExpectedValue):
    name = "space-aware"

    def value(self, env, post, cell):
        v = _time_proxy(env, post, cell)
        return np.where(v > 0, np.log2(np.where(v > 0, v, 1.0)), v)


class Lookahead(_ExpectedValue):
    name = "lookahead"

    def value(self, env, post, cell):
        return _time_proxy(env, post, cell)


class CastAndSurge(GridPolicy):
    """Surge to the most probable cell after a hit; cast in growing zigzags otherwise."""

    name = "cast-and-surge"

    def reset(self, env, belief):
        self.target = self._map_cell(belief)
        self.cast_axis, self.cast_sign, self.cast_len, self.cast_left = 1 % env.dims, 1, 1, 1

    def _map_cell(self, belief):
        return np.unravel_index(int(np.argmax(belief.p)), belief.p.shape)

    def observe(self, env, belief, hit):
        if hit > 0:
            self.target = self._map_cell(belief)
            self.cast_len, self.cast_left = 1, 1
        elif self.target is not None and tuple(self.target) == tuple(belief.agent):
            self.target = None

    def choose(self, env, belief):
        agent = belief.agent
        if self.target is not None and tuple(self.target) != tuple(agent):
            # surge: one step along the axis of largest remaining offset
            off = np.asarray(self.target) - np.asarray(agent)
            axis = int(np.argmax(np.abs(off)))
            cell = env.move(agent, 2 * axis + (1 if off[axis] > 0 else 0))
            if cell is not None:
                return cell
        # cast: sweep cast_len cells one way, then twice as far the other way
        if self.cast_left <= 0:
            self.cast_sign = -self.cast_sign
            self.cast_len *= 2
            self.cast_left = self.cast_len
        self.cast_left -= 1
        cell = env.move(agent, 2 * self.cast_axis + (1 if self.cast_sign > 0 else 0))
        if cell is None:
            self.cast_sign, self.cast_left = -self.cast_sign, self.cast_len
            cell = env.move(agent, 2 * self.cast_axis + (1 if self.cast_sign > 0 else 0))
        return cell


POLICIES = {
    "infotaxis": Infotaxis,
    "space-aware": SpaceAwareInfotaxis,
    "space-aware-infotaxis": SpaceAwareInfotaxis,
    "cast-and-surge": CastAndSurge,
    "lookahead": Lookahead,
    "perseus": PerseusPolicy,
}
BEST = "perseus"  # the best measured: beats space-aware infotaxis in 2-D (benchmarks/results/search_pomdp.md)


def policy_name(name: str) -> str:
    """The policy a name stands for (``best``: :data:`BEST`)."""
    return BEST if name == "best" else name


def make_policy(name: str) -> GridPolicy:
    key = policy_name(name)
    if key not in POLICIES:
        raise ValueError(f"unknown policy '{name}'; choose from: best, {', '.join(sorted(POLICIES))}")
    return POLICIES[key]()

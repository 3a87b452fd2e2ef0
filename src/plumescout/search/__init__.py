"""Search: where to fly next — the grid POMDP benchmark and adaptive policies."""

from .policies import BEST, POLICIES, make_policy, policy_name
from .pomdp import Belief, GridSearch, run_episode

__all__ = ["Belief", "GridSearch", "run_episode", "BEST", "POLICIES", "make_policy", "policy_name"]

"""Validation of the physics on real field data."""

from .prairie_grass import load_prairie_grass, validate_prairie_grass
from .stats import model_evaluation_stats

__all__ = ["load_prairie_grass", "model_evaluation_stats", "validate_prairie_grass"]

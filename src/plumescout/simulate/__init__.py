"""Simulator: scenario (truth) -> flight log. Puffs in a meandering, gusty wind."""

from .flight import SimulatedFlight, simulate_flight
from .scenario import Scenario, load_scenario
from .wind import simulate_wind

__all__ = ["Scenario", "SimulatedFlight", "load_scenario", "simulate_flight", "simulate_wind"]

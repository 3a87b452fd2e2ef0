"""Dispersion forward models: pure, vectorised functions (arrays in, arrays out, SI units)."""

from .beams import beam_integrated_plume
from .plume import (
    crosswind_integrated,
    gaussian_plume,
    plume_coupling,
    to_plume_coordinates,
    vertical_term,
)
from .puff import gaussian_puff
from .sigmas import SIGMA_SCHEMES, briggs_rural, briggs_urban, pg_isc3, sigma_yz

__all__ = [
    "SIGMA_SCHEMES",
    "beam_integrated_plume",
    "briggs_rural",
    "briggs_urban",
    "crosswind_integrated",
    "gaussian_plume",
    "gaussian_puff",
    "pg_isc3",
    "plume_coupling",
    "sigma_yz",
    "to_plume_coordinates",
    "vertical_term",
]

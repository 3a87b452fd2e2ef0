"""Unit conversions between mass concentration and mole fraction, and emission-rate units.

SI inside: concentrations in kg/m3 or g/m3 as named, mole fractions as ppm/ppb as named,
temperature in kelvin, pressure in pascal.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "R_GAS",
    "MOLAR_MASS_G_MOL",
    "molar_mass",
    "air_molar_density",
    "ppm_to_g_m3",
    "g_m3_to_ppm",
    "g_s_to_kg_h",
    "kg_h_to_g_s",
    "species_of_column",
    "STANDARD_T_K",
    "STANDARD_P_PA",
]

R_GAS = 8.314462618  # J/(mol K), CODATA 2018 exact
STANDARD_T_K = 288.15
STANDARD_P_PA = 101325.0

#: Molar masses in g/mol (IUPAC standard atomic weights). Extend with :func:`molar_mass`.
MOLAR_MASS_G_MOL: dict[str, float] = {
    "ch4": 16.043,
    "c2h6": 30.069,
    "c3h8": 44.097,
    "co2": 44.009,
    "co": 28.010,
    "nh3": 17.031,
    "h2s": 34.08,
    "so2": 64.066,
    "no2": 46.006,
    "no": 30.006,
    "n2o": 44.013,
    "o3": 47.997,
    "h2o": 18.015,
    "hcl": 36.46,
    "hcho": 30.026,
    "c6h6": 78.114,
    "ch3oh": 32.042,
    "c2h5oh": 46.069,
    "sf6": 146.06,
}


def molar_mass(species: str) -> float:
    """Molar mass of ``species`` (case-insensitive chemical formula) in g/mol."""
    key = species.strip().lower()
    try:
        return MOLAR_MASS_G_MOL[key]
    except KeyError:
        known = ", ".join(sorted(MOLAR_MASS_G_MOL))
        raise KeyError(f"unknown species '{species}'; known: {known}") from None


def air_molar_density(temperature_k=STANDARD_T_K, pressure_pa=STANDARD_P_PA):
    """Moles of air per cubic metre, ideal gas: ``p / (R T)``."""
    return np.asarray(pressure_pa, dtype=float) / (R_GAS * np.asarray(temperature_k, dtype=float))


def ppm_to_g_m3(ppm, species: str, temperature_k=STANDARD_T_K, pressure_pa=STANDARD_P_PA):
    """Mole fraction in ppm -> mass concentration in g/m3 at ``T``, ``p``.

    Notes
    -----
    ``C = x * 1e-6 * M * p / (R T)`` with ``x`` in ppm and ``M`` in g/mol.
    """
    return np.asarray(ppm, dtype=float) * 1e-6 * molar_mass(species) * air_molar_density(temperature_k, pressure_pa)


def g_m3_to_ppm(c_g_m3, species: str, temperature_k=STANDARD_T_K, pressure_pa=STANDARD_P_PA):
    """Mass concentration in g/m3 -> mole fraction in ppm (inverse of :func:`ppm_to_g_m3`)."""
    return np.asarray(c_g_m3, dtype=float) / (
        1e-6 * molar_mass(species) * air_molar_density(temperature_k, pressure_pa)
    )


def g_s_to_kg_h(rate_g_s):
    """Emission rate g/s -> kg/h (x 3.6)."""
    return np.asarray(rate_g_s, dtype=float) * 3.6


def kg_h_to_g_s(rate_kg_h):
    """Emission rate kg/h -> g/s (/ 3.6)."""
    return np.asarray(rate_kg_h, dtype=float) / 3.6


def species_of_column(column: str) -> tuple[str, str] | None:
    """Split a flight-log gas column name into ``(species, unit)``.

    ``'ch4_ppm' -> ('ch4', 'ppm')``, ``'nh3_ppb' -> ('nh3', 'ppb')``, ``'ch4_ppm_m' -> ('ch4',
    'ppm_m')``; anything else -> ``None``.
    """
    c = column.strip().lower()
    for unit in ("ppm_m", "ppb_m", "ppm", "ppb"):
        suffix = "_" + unit
        if c.endswith(suffix) and len(c) > len(suffix):
            return c[: -len(suffix)], unit
    return None

"""Project Prairie Grass (1956): crosswind-integrated concentrations per arc vs the plume model.

Data: ../shared/datasets/prairie-grass-1956 (public domain, US Air Force Cambridge Research
Center; Barad 1958; Haugen 1959; ASTM D6589 layout by J. Irwin 2010, as redistributed with
G. Bijloos' 2022 KU Leuven thesis). SO2 released at 0.46 m, samplers at 1.5 m on arcs at 50-800 m.

Observed CWIC per arc: the arc concentrations (mg/m3, corrected for SO2 loss by dividing by the
evap.txt factor) integrated along the arc, ``integral C R dtheta`` with azimuths unwrapped through
360 degrees; missing samplers (negative values) are left out of the integral. Predicted CWIC: the
Gaussian plume's ``C_y = Q/u F_z`` (see :func:`plumescout.dispersion.crosswind_integrated`) with
Briggs rural sigma_z and the Pasquill class from the Obukhov length (Golder 1972 as fitted by
Seinfeld & Pandis 2006) for z0 = 0.006 m, at the measured wind speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dispersion import crosswind_integrated, sigma_yz
from ..errors import InputError
from ..met import class_index, class_letter, stability_from_obukhov
from .stats import meets_criteria, model_evaluation_stats

__all__ = ["Arc", "load_prairie_grass", "validate_prairie_grass", "Z0_M"]

Z0_M = 0.006


@dataclass
class Arc:
    run: int
    distance_m: float
    rate_g_s: float
    release_height_m: float
    sampler_height_m: float
    azimuth_deg: np.ndarray
    conc_mg_m3: np.ndarray  # NaN = missing

    def cwic_mg_m2(self, correction: float = 1.0) -> float:
        az = np.rad2deg(np.unwrap(np.deg2rad(self.azimuth_deg)))
        ok = np.isfinite(self.conc_mg_m3)
        if ok.sum() < 2:
            return float("nan")
        order = np.argsort(az[ok])
        c = self.conc_mg_m3[ok][order] / correction
        y = np.deg2rad(az[ok][order]) * self.distance_m
        return float(np.trapezoid(c, y))


def _read_arcs(path: Path) -> list[Arc]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    arcs = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if "'" not in line:
            raise InputError(path, "expected a block header (run, arc, 'date', 'time', distance)", line=i + 1)
        head = [p.strip() for p in line.split(",")]
        try:
            run = int(head[0])
            dist = float(head[4])
            second = [p.strip() for p in lines[i + 1].split(",")]
            nrows = int(second[0])
            q, h_rel, h_samp = float(second[7]), float(second[8]), float(second[9])
        except (IndexError, ValueError):
            raise InputError(path, "malformed block header", line=i + 1) from None
        az, conc = [], []
        for k in range(nrows):
            parts = lines[i + 2 + k].split()
            try:
                az.append(float(parts[0]))
                c = float(parts[3])
            except (IndexError, ValueError):
                raise InputError(path, "malformed sampler row", line=i + 3 + k) from None
            conc.append(c if c >= 0 else np.nan)
        arcs.append(Arc(run, dist, q, h_rel, h_samp, np.array(az), np.array(conc)))
        i += 2 + nrows
    return arcs


def _read_met(path: Path) -> dict[int, dict]:
    met = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            run = int(parts[0])
            met[run] = {
                "L": float(parts[1]),
                "ustar": float(parts[2]),
                "hi": float(parts[3]),
                "wdir": float(parts[4]),
                "sigma_theta": float(parts[8]),
                "u": float(parts[9]),
            }
        except (IndexError, ValueError):
            raise InputError(
                path, "expected 10 numbers: run, L, u*, h_i, wd, su, sv, sw, sigma_theta, u", line=n
            ) from None
    return met


def _read_evap(path: Path) -> dict[tuple[int, float], float]:
    out = {}
    arcs = (50.0, 100.0, 200.0, 400.0, 800.0)
    for line in path.read_text().splitlines():
        if not re.match(r"^\s*\d+\s", line):
            continue
        parts = line.split()
        run = int(parts[0])
        for d, v in zip(arcs, parts[1:], strict=False):
            out[(run, d)] = float(v)
    return out


def load_prairie_grass(directory) -> tuple[list[Arc], dict, dict]:
    d = Path(directory)
    for name in ("PGARCS.txt", "modelParamList.txt", "evap.txt"):
        if not (d / name).exists():
            raise InputError(
                d / name, "missing: expected the Prairie Grass files PGARCS.txt, modelParamList.txt, evap.txt"
            )
    return _read_arcs(d / "PGARCS.txt"), _read_met(d / "modelParamList.txt"), _read_evap(d / "evap.txt")


def validate_prairie_grass(
    directory, scheme: str = "pg_isc3", z0_m: float = Z0_M, continuous_class: bool = True, evap_correction: bool = True
) -> dict:
    """Score the plume model's CWIC against every arc of the runs that have meteorology.

    Returns the statistics of :func:`model_evaluation_stats`, whether each meets the Chang &
    Hanna (2004) criteria, and the per-arc pairs. ``continuous_class`` interpolates the widths
    between classes at the Obukhov length's fractional class index instead of rounding to a letter;
    ``evap_correction`` divides the observations by the SO2-loss factors of evap.txt.
    """
    arcs, met, evap = load_prairie_grass(directory)
    pairs = []
    for arc in arcs:
        m = met.get(arc.run)
        if m is None:
            continue
        corr = evap.get((arc.run, arc.distance_m), 1.0) if evap_correction else 1.0
        if not 0.5 <= corr <= 1.0:  # e.g. run 12 at 200 m reads 0.09: a transcription slip
            corr = 1.0
        obs = arc.cwic_mg_m2(corr)
        if not np.isfinite(obs) or obs <= 0:
            continue
        idx = float(stability_from_obukhov(m["L"], z0_m))
        cls = idx if continuous_class else class_index(class_letter(idx))
        sz = sigma_yz(arc.distance_m, cls, scheme)[1]
        pred = float(
            crosswind_integrated(
                arc.distance_m, arc.sampler_height_m, arc.release_height_m, arc.rate_g_s * 1000.0, m["u"], sz
            )
        )
        pairs.append(
            {
                "run": arc.run,
                "arc_m": arc.distance_m,
                "class": class_letter(idx),
                "observed_mg_m2": obs,
                "predicted_mg_m2": pred,
            }
        )
    co = np.array([p["observed_mg_m2"] for p in pairs])
    cp = np.array([p["predicted_mg_m2"] for p in pairs])
    stats = model_evaluation_stats(co, cp)
    settings = {
        "scheme": scheme,
        "z0_m": z0_m,
        "continuous_class": continuous_class,
        "evap_correction": evap_correction,
    }
    return {**stats, "meets": meets_criteria(stats), "settings": settings, "pairs": pairs}

"""Source apportionment over a campaign: positive matrix factorisation of the plume crossings.

Beside the per-source attribution (which needs a located source and a library), a long campaign
with many plumes can be split into a few recurring chemical profiles without a model of where the
sources are: every plume crossing of every flight is one row of a matrix ``V`` (crossings x species)
of time-integrated enhancements above background, with an uncertainty matrix ``U`` (the sensor noise
integrated over the crossing, a relative calibration error, and half the detection limit as a floor,
as the EPA PMF 5.0 guide sets them). ``V ~ W H`` with ``W, H >= 0`` is solved by the EPA's
Environmental Source Apportionment Toolkit (``esat``, the Python successor of PMF 5.0; its LS-NMF,
several random starts, the lowest Q(true) kept). Each factor profile ``H[k]`` is then named after the
signature-library class whose ratios it matches best, when one matches.

``esat`` pins exact versions of numpy, numba, scipy and pandas: install it in its own environment
(``pip install 'plumescout[pmf]'`` there). :func:`crossing_matrix` needs only plumescout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..inference.detect import detect_observations
from .evidence import integrate

__all__ = ["CrossingMatrix", "Apportionment", "crossing_matrix", "apportion", "match_profile"]


@dataclass
class CrossingMatrix:
    species: list[str]
    V: np.ndarray  # (crossings, species) ppm*s, clipped at 0
    U: np.ndarray  # (crossings, species) 1-sigma ppm*s
    flight: list[int]  # index of the flight each crossing came from
    start_s: list[float]  # crossing start time (s, in its flight)

    def __len__(self) -> int:
        return self.V.shape[0]


@dataclass
class Apportionment:
    species: list[str]
    profiles: np.ndarray  # (factors, species): each row sums to 1
    contributions: np.ndarray  # (crossings, factors)
    q_robust: float
    q_true: float
    matches: list[tuple[str | None, float]]  # per factor: (library class or None, misfit chi2/dof)
    seeds: int

    def dominant_factor(self) -> np.ndarray:
        """Per crossing, the factor that contributes most to its reference-species signal."""
        share = self.contributions * self.profiles[:, 0][None, :]
        return np.argmax(share, axis=1)

    def summary(self) -> list[dict]:
        dom = self.dominant_factor()
        out = []
        for k in range(self.profiles.shape[0]):
            ref = self.profiles[k, 0]
            ratios = {sp: (float(self.profiles[k, j] / ref) if ref > 0 else None) for j, sp in enumerate(self.species)}
            out.append(
                {
                    "factor": k + 1,
                    "ratios_to_" + self.species[0]: ratios,
                    "class": self.matches[k][0],
                    "misfit": round(self.matches[k][1], 3),
                    "crossings": int(np.sum(dom == k)),
                }
            )
        return out


def crossing_matrix(
    flights,
    reference: str = "ch4",
    calibration: float = 0.1,
    window_s: float = 180.0,
    false_alarms_per_hour: float = 0.1,
) -> CrossingMatrix:
    """Rows of integrated enhancements, one per plume crossing of ``reference`` in each flight
    (:class:`~plumescout.observations.Observations`). Every species of the flights is a column
    (missing in a flight: left at 0 with a huge uncertainty, i.e. no information)."""
    species = [reference] + sorted({sp for f in flights for sp in f.species} - {reference})
    rows, sig, fl, t0 = [], [], [], []
    for i, obs in enumerate(flights):
        if reference not in obs.species:
            raise ConfigError(f"flight {i + 1} has no {reference}: crossings are found on the reference species")
        dets = {sp: detect_observations(obs, sp, window_s, false_alarms_per_hour) for sp in obs.species}
        dt = float(np.median(np.diff(obs.time_s))) if len(obs) > 1 else 1.0
        for a, b in dets[reference].crossings:
            row, u = np.zeros(len(species)), np.full(len(species), 1e6)
            for j, sp in enumerate(species):
                got = integrate(dets[sp], slice(a, b), dt) if sp in dets else None
                if got is None:
                    continue
                y, noise = got
                mdl = 3.0 * noise
                row[j] = max(y, 0.0)
                u[j] = float(np.sqrt((calibration * max(y, 0.0)) ** 2 + noise**2 + (0.5 * mdl) ** 2))
            rows.append(row)
            sig.append(u)
            fl.append(i)
            t0.append(float(obs.time_s[a]))
    if not rows:
        raise ConfigError(f"no {reference} plume crossing in the flights: nothing to apportion")
    return CrossingMatrix(species, np.array(rows), np.array(sig), fl, t0)


def match_profile(profile: np.ndarray, species: list[str], library, tolerance: float = 4.0):
    """The library class whose ratios (to its reference species) fit ``profile`` best, by mean
    squared log-ratio misfit in units of each class's spread; None when the best exceeds
    ``tolerance``. Species the class does not list must be ~absent from the profile (2 % of the
    reference species is one sigma)."""
    best, best_m = None, np.inf
    share = dict(zip(species, profile, strict=True))
    for c in library.classes:
        ref = share.get(c.reference, 0.0)
        if ref <= 0:
            continue
        terms = []
        for sp in species:
            r_obs = share[sp] / ref
            if sp in c.ratios:
                s = np.log(c.spread_of(sp))
                # a species the class lists but the factor lacks counts as half the class ratio: a
                # minor species shared by two sources often lands in one factor only (PMF's
                # rotational ambiguity), so its absence is weaker evidence than a wrong ratio
                r_eff = max(r_obs, 0.5 * c.ratios[sp])
                terms.append((np.log(r_eff) - np.log(c.ratios[sp])) / max(s, 0.05))
            elif sp in library.species and sp != c.reference:
                terms.append(r_obs / 0.02)  # expected at background: 2 % of the reference is one sigma
        m = float(np.mean(np.square(terms))) if terms else np.inf
        if m < best_m:
            best, best_m = c.name, m
    return (best if best_m <= tolerance else None), float(best_m)


def apportion(cm: CrossingMatrix, factors: int, library=None, seeds: int = 10, max_iter: int = 20000) -> Apportionment:
    """Positive matrix factorisation of ``cm`` into ``factors`` profiles with esat (LS-NMF; the
    lowest Q(true) of ``seeds`` random starts), each profile matched against ``library``."""
    try:
        from esat.model.sa import SA
    except ImportError:
        raise ConfigError(
            "source apportionment needs the EPA's esat: pip install 'plumescout[pmf]' "
            "(esat pins numpy/numba/scipy versions: use its own environment)"
        ) from None
    if not 1 <= factors <= min(cm.V.shape):
        raise ConfigError(
            f"factors must be between 1 and {min(cm.V.shape)} for {len(cm)} crossings x {len(cm.species)} species"
        )
    best = None
    for seed in range(seeds):
        sa = SA(V=cm.V, U=cm.U, factors=factors, method="ls-nmf", seed=seed, verbose=False)
        # esat's own Python LS-NMF update: its compiled (Rust) kernel, esat_rust.ls_nmf in esat
        # 2025.0.1, raised Q from 3.4e3 to 4.8e6 on the demo campaign where this update reaches Q = 3.2
        sa.optimized = False
        sa.initialize()
        sa.train(max_iter=max_iter, converge_delta=1e-4, converge_n=50)
        if best is None or sa.Qtrue < best.Qtrue:
            best = sa
    H = np.asarray(best.H, dtype=float)
    W = np.asarray(best.W, dtype=float)
    scale = H.sum(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    profiles, contributions = H / scale, W * scale.T
    if library is None:
        from . import default_library

        library = default_library()
    matches = [match_profile(p, cm.species, library) for p in profiles]
    return Apportionment(cm.species, profiles, contributions, float(best.Qrobust), float(best.Qtrue), matches, seeds)

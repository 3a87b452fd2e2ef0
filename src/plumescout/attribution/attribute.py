"""What kind of site: the probability of each source class given a source's co-measured species.

The evidence for one source is the vector of its integrated enhancements, one per measured species
(e.g. ppm*s summed over the samples of its plume crossings, above background), each with its
1-sigma uncertainty. The whole vector is fitted against each class at once — not one ratio at a
time — and species that stay at background are evidence too:

    y_s ~ N(a r_ks, sigma_s^2 + (a r_ks ln f_ks)^2)

with ``a`` the reference species' amplitude (log-uniform prior over six decades about the data's
scale, integrated out numerically), ``r_ks`` the class's ratio (0 for a species the class lacks)
and ``f_ks`` its spread factor between sites. The "unknown" class lets every species have its own
amplitude (zero or log-uniform, independently): it fits anything, and pays for that freedom, so it
wins only when no class explains the vector. Posterior class probabilities follow from the class
priors (uniform over the library; ``unknown_prior`` for unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from .library import SignatureLibrary

__all__ = ["Attribution", "attribute", "UNKNOWN"]

UNKNOWN = "unknown"
DECADES = 6.0
N_GRID = 481


@dataclass
class Attribution:
    """Class probabilities for one source, and the evidence behind them."""

    probabilities: dict[str, float]
    source_class: str
    log_evidence: dict[str, float]
    amplitude: dict[str, float]
    observed: dict[str, tuple[float, float]]
    predicted: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_properties(self) -> dict:
        """The GeoJSON properties: the most probable class and every class's probability."""
        return {
            "source_class": self.source_class,
            "class_probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


def _log_normal_pdf(y, mu, var):
    return -0.5 * ((y - mu) ** 2 / var + np.log(2.0 * np.pi * var))


def attribute(
    observed: dict[str, tuple[float, float]],
    library: SignatureLibrary,
    unknown_prior: float = 0.1,
    class_prior: dict[str, float] | None = None,
) -> Attribution:
    """Posterior probability of each library class (and "unknown") for one source.

    ``observed`` maps species -> (integrated enhancement, its 1-sigma uncertainty), in the same
    molar units for every species. Species the library does not know are ignored.
    """
    sp = [s for s in observed if s in library.species]
    if not sp:
        raise ValueError(f"none of the measured species ({', '.join(observed)}) is in the signature library")
    y = np.array([float(observed[s][0]) for s in sp])
    sig = np.array([max(float(observed[s][1]), 1e-12) for s in sp])
    scale = float(np.max(np.abs(y) + sig))
    # log-uniform amplitude prior over DECADES decades centred on the data's scale
    la = np.linspace(np.log(scale) - DECADES / 2 * np.log(10), np.log(scale) + DECADES / 2 * np.log(10), N_GRID)
    a = np.exp(la)
    w_prior = np.full(a.size, 1.0 / (la[-1] - la[0]))  # density in log a
    dla = la[1] - la[0]
    log_ev, amp, pred = {}, {}, {}
    for c in library.classes:
        r = np.array([c.ratios.get(s, 0.0) for s in sp])
        tau = np.array([np.log(c.spread_of(s)) if s in c.ratios else 0.0 for s in sp])
        mu = a[:, None] * r[None, :]
        var = sig[None, :] ** 2 + (mu * tau[None, :]) ** 2
        ll = _log_normal_pdf(y[None, :], mu, var).sum(axis=1)
        log_ev[c.name] = float(logsumexp(ll + np.log(w_prior) + np.log(dla)))
        k = int(np.argmax(ll))
        amp[c.name] = float(a[k])
        pred[c.name] = {s: float(a[k] * ri) for s, ri in zip(sp, r, strict=True)}
    # unknown: each species zero (half the prior) or its own log-uniform amplitude
    ll_zero = _log_normal_pdf(y, 0.0, sig**2)
    ll_free = logsumexp(
        _log_normal_pdf(y[None, :], a[:, None], sig[None, :] ** 2) + np.log(w_prior)[:, None] + np.log(dla), axis=0
    )
    log_ev[UNKNOWN] = float(np.sum(np.logaddexp(ll_zero + np.log(0.5), ll_free + np.log(0.5))))
    amp[UNKNOWN] = float("nan")
    pred[UNKNOWN] = {s: float(max(v, 0.0)) for s, v in zip(sp, y, strict=True)}
    names = [c.name for c in library.classes]
    prior = {n: (class_prior or {}).get(n, 1.0) for n in names}
    tot = sum(prior.values())
    lp = {n: np.log(prior[n] / tot * (1.0 - unknown_prior)) for n in names}
    lp[UNKNOWN] = np.log(unknown_prior) if unknown_prior > 0 else -np.inf
    post = {n: log_ev[n] + lp[n] for n in [*names, UNKNOWN]}
    z = logsumexp(list(post.values()))
    probs = {n: float(np.exp(v - z)) for n, v in post.items()}
    best = max(probs, key=probs.get)
    return Attribution(probs, best, log_ev, amp, {s: observed[s] for s in sp}, pred)

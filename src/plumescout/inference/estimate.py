"""Source-term estimation, first version: greedy search for sources + Metropolis posterior.

Model (per species): the enhancement at sample ``i`` is ``c_i = sum_j K_ij q_j + e_i`` with
``K`` the Gaussian-plume coupling (s/m3) for the wind at the sample, ``q_j >= 0`` the rates
(g/s), and ``e_i ~ N(0, s0^2 + (a mu_i)^2)``: sensor noise ``s0`` plus a multiplicative term for
the plume's turbulent fluctuation about its mean ``mu_i`` (intensity ``a``). Concentration is
linear in the rates, so for given positions the rates are solved (weighted non-negative least
squares, reweighted) and only the positions are searched and sampled.

1. detect plumes; no crossing -> no source;
2. greedy: scan a grid for the position that adds most likelihood, refine all positions jointly
   (Nelder-Mead), keep the new source while the gain beats a BIC penalty;
3. posterior: random-walk Metropolis over the positions with the rates profiled, and rates drawn
   from their conditional Gaussian; the likelihood is tempered by the residuals' integrated
   autocorrelation time (consecutive samples are not independent);
4. per source: posterior median position, 90 % radius, rate median and 90 % interval, and the
   probability that it exists (from the likelihood lost when it is removed, BIC-penalised).

Issue 3 replaces steps 2-4 with a sampler over the number of sources.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize

from ..dispersion import plume_coupling
from ..errors import ConfigError
from ..met import class_index, stability_from_sigma_theta
from ..observations import Observations
from ..units import ppm_to_g_m3
from .detect import detect_plumes

__all__ = ["EstimatorConfig", "SourceEstimate", "PlumeEstimator", "smooth_wind"]


@dataclass(frozen=True)
class EstimatorConfig:
    """Settings of :class:`PlumeEstimator` (all have defaults)."""

    species: str | None = None
    max_sources: int = 4
    grid_cells: int = 50
    margin_m: float = 100.0
    stability: str | float | None = None
    scheme: str = "briggs_rural"
    source_height_m: float = 1.0
    fluctuation_intensity: float = 0.5
    wind_smoothing_s: float = 60.0
    lagrangian_wind: bool = True
    lagrangian_smoothing_s: float = 10.0
    mcmc_steps: int = 3000
    burn_in: int = 1000
    add_threshold: float = 5.0
    false_alarms_per_hour: float = 0.1
    background_window_s: float = 180.0
    min_sigma_m: float = 1.0
    temperature_k: float = 288.15
    pressure_pa: float = 101325.0
    seed: int = 0


@dataclass
class SourceEstimate:
    """One estimated source (local metres and WGS84)."""

    id: str
    species: str
    x_m: float
    y_m: float
    lat: float
    lon: float
    height_m: float
    rate_g_s: float
    rate_g_s_ci90: tuple[float, float]
    location_ci90_m: float
    probability: float
    samples_xy: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 2)))
    samples_rate: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))


def smooth_wind(time_s, speed, from_deg, window_s: float):
    """Vector running mean of the wind over ``window_s`` (direction), scalar mean (speed)."""
    t = np.asarray(time_s, dtype=float)
    if t.size < 3 or window_s <= 0:
        return np.asarray(speed, float), np.asarray(from_deg, float)
    from scipy.ndimage import uniform_filter1d

    dt = float(np.median(np.diff(t)))
    n = max(1, int(round(window_s / max(dt, 1e-6))))
    rad = np.deg2rad(from_deg)
    s = uniform_filter1d(np.sin(rad), n, mode="nearest")
    c = uniform_filter1d(np.cos(rad), n, mode="nearest")
    sp = uniform_filter1d(np.asarray(speed, float), n, mode="nearest")
    return sp, np.mod(np.rad2deg(np.arctan2(s, c)), 360.0)


class PlumeEstimator:
    """Estimate emission sources from one flight's observations.

    ``fit(obs)`` sets ``detection_``, ``sources_``, ``stability_``, ``info_`` and returns self.
    """

    def __init__(self, config: EstimatorConfig | None = None):
        self.config = config or EstimatorConfig()

    # -- model pieces ---------------------------------------------------------------------
    def _k(self, xy: np.ndarray) -> np.ndarray:
        xy = np.atleast_2d(xy)
        src = np.column_stack([xy, np.full(len(xy), self.config.source_height_m)])
        u, wd = self._lagrangian_wind(src) if self.config.lagrangian_wind else (self._u, self._wd)
        return plume_coupling(
            self._rxyz, src, u, wd, self.stability_, self.config.scheme, None, self.config.min_sigma_m
        )

    def _lagrangian_wind(self, src: np.ndarray):
        """Per receptor-source pair, the wind that carried the air now at the receptor.

        With the wind uniform in space, air at the receptor at time ``t`` left the source's
        neighbourhood about ``tau = r / u`` earlier and moved by ``D = C(t) - C(t - tau)`` (``C``
        the integrated wind vector): its mean direction over the travel is the plume's direction
        for this sample. This follows the meander that a plume carries downwind.
        """
        t = self._rt
        dx = self._rxyz[:, 0:1] - src[None, :, 0]
        dy = self._rxyz[:, 1:2] - src[None, :, 1]
        r = np.hypot(dx, dy)
        tau = np.maximum(r / np.maximum(self._u_lag[:, None], 0.3), 1e-3)
        tb = t[:, None] - tau
        ct_x = np.interp(t, self._gt, self._cx)[:, None]
        ct_y = np.interp(t, self._gt, self._cy)[:, None]
        ct_d = np.interp(t, self._gt, self._cd)[:, None]
        before = tb < self._gt[0]
        cb_x = np.where(before, self._cx[0] - self._v0[0] * (self._gt[0] - tb), np.interp(tb, self._gt, self._cx))
        cb_y = np.where(before, self._cy[0] - self._v0[1] * (self._gt[0] - tb), np.interp(tb, self._gt, self._cy))
        cb_d = np.where(before, self._cd[0] - self._v0[2] * (self._gt[0] - tb), np.interp(tb, self._gt, self._cd))
        ex, ey = ct_x - cb_x, ct_y - cb_y
        from_deg = np.mod(np.rad2deg(np.arctan2(-ex, -ey)), 360.0)
        speed = np.maximum((ct_d - cb_d) / tau, 0.1)
        return speed, from_deg

    def _rates(self, k: np.ndarray, iters: int = 3):
        """Weighted NNLS rates for coupling ``k`` (n, m); returns q, mu, var."""
        a2 = self.config.fluctuation_intensity**2
        var = np.full(self._y.size, self._s0**2)
        q = np.zeros(k.shape[1])
        for _ in range(iters):
            w = 1.0 / np.sqrt(var)
            q, _ = optimize.nnls(k * w[:, None], self._y * w, maxiter=50 * max(1, k.shape[1]))
            mu = k @ q
            var = self._s0**2 + a2 * mu**2
        return q, k @ q, var

    def _loglik(self, mu: np.ndarray, var: np.ndarray) -> float:
        r = self._y - mu
        return float(-0.5 * self._temper * np.sum(r * r / var + np.log(var / self._s0**2)))

    def _profile(self, xy: np.ndarray):
        k = self._k(xy)
        q, mu, var = self._rates(k)
        return self._loglik(mu, var), q, k, var

    # -- fitting --------------------------------------------------------------------------
    def fit(self, obs: Observations, progress=None) -> PlumeEstimator:
        """Estimate the sources of ``obs``; ``progress(stage, done, total)`` is called if given."""
        cfg = self.config
        self._progress = progress or (lambda *a: None)
        t_start = time.perf_counter()
        rng = np.random.default_rng(cfg.seed)
        species = cfg.species or next(iter(obs.species))
        if species not in obs.species:
            raise ConfigError(f"species '{species}' is not in the flight log; it has: {', '.join(obs.species)}")
        self.species_ = species
        self.frame_ = obs.frame
        det = detect_plumes(
            obs.time_s, obs.species[species], species, cfg.background_window_s, cfg.false_alarms_per_hour
        )
        self.detection_ = det
        self.sources_: list[SourceEstimate] = []
        u, wd = smooth_wind(obs.time_s, obs.wind_speed_m_s, obs.wind_from_deg, cfg.wind_smoothing_s)
        if cfg.stability is None:
            sig = obs.wind.direction_sigma_deg()
            self.stability_ = class_index(stability_from_sigma_theta(sig))
        else:
            self.stability_ = class_index(cfg.stability)
        self.info_ = {
            "samples": len(obs),
            "stability_index": self.stability_,
            "species": species,
            "crossings": det.n_crossings,
        }
        if det.n_crossings == 0:
            self.info_["wall_time_s"] = time.perf_counter() - t_start
            return self
        ok = np.isfinite(det.enhancement_ppm) & np.isfinite(u) & np.isfinite(wd)
        self._rxyz = obs.xyz[ok]
        self._u, self._wd = u[ok], wd[ok]
        self._rt = obs.time_s[ok]
        # integrated wind for the Lagrangian (travel-time) wind, from lightly smoothed readings
        ul, wl = smooth_wind(obs.time_s, obs.wind_speed_m_s, obs.wind_from_deg, cfg.lagrangian_smoothing_s)
        rad = np.deg2rad(wl)
        vx, vy = -ul * np.sin(rad), -ul * np.cos(rad)
        gt = obs.time_s
        dtg = np.diff(gt, prepend=gt[0])
        self._gt = gt
        self._cx, self._cy, self._cd = np.cumsum(vx * dtg), np.cumsum(vy * dtg), np.cumsum(ul * dtg)
        self._v0 = (vx[0], vy[0], ul[0])
        self._u_lag = ul[ok]
        self._y = ppm_to_g_m3(det.enhancement_ppm[ok], species, cfg.temperature_k, cfg.pressure_pa)
        self._s0 = float(ppm_to_g_m3(det.noise_ppm, species, cfg.temperature_k, cfg.pressure_pa))
        self._temper = 1.0
        n = self._y.size

        x0, y0 = obs.x_m[ok].min() - cfg.margin_m, obs.y_m[ok].min() - cfg.margin_m
        x1, y1 = obs.x_m[ok].max() + cfg.margin_m, obs.y_m[ok].max() + cfg.margin_m
        self.box_ = (x0, y0, x1, y1)
        gx = np.linspace(x0, x1, cfg.grid_cells)
        gy = np.linspace(y0, y1, cfg.grid_cells)
        GX, GY = np.meshgrid(gx, gy)
        grid = np.column_stack([GX.ravel(), GY.ravel()])
        kg = self._k(grid)

        # greedy search
        xy = np.empty((0, 2))
        ll0 = self._loglik(np.zeros(n), np.full(n, self._s0**2))
        ll_cur = ll0
        mu_cur = np.zeros(n)
        for it_src in range(cfg.max_sources):
            self._progress("search", it_src, cfg.max_sources)
            var = self._s0**2 + cfg.fluctuation_intensity**2 * mu_cur**2
            res = self._y - mu_cur
            w = 1.0 / var
            num = (kg * (w * res)[:, None]).sum(axis=0)
            den = (kg * kg * w[:, None]).sum(axis=0)
            q = np.where(den > 0, np.maximum(num / np.where(den > 0, den, 1.0), 0.0), 0.0)
            mu_g = mu_cur[:, None] + kg * q[None, :]
            var_g = self._s0**2 + cfg.fluctuation_intensity**2 * mu_g**2
            r = self._y[:, None] - mu_g
            llg = -0.5 * np.sum(r * r / var_g + np.log(var_g / self._s0**2), axis=0)
            best = int(np.argmax(llg))
            cand = np.vstack([xy, grid[best]])
            cand = self._refine(cand)
            ll_new, q_new, _, _ = self._profile(cand)
            penalty = 1.5 * np.log(n * self._temper) + cfg.add_threshold
            if ll_new - ll_cur < penalty or q_new[-1] <= 0:
                break
            xy, ll_cur = cand, ll_new
            _, q_cur, k_cur, _ = self._profile(xy)
            mu_cur = k_cur @ q_cur
            # temper with the residual autocorrelation of the current best fit
            self._temper = self._autocorr_temper(mu_cur)
            ll_cur = self._profile(xy)[0]
        self.info_["greedy_sources"] = len(xy)
        if len(xy) == 0:
            self.info_["wall_time_s"] = time.perf_counter() - t_start
            return self
        samples_xy, samples_q = self._mcmc(xy, rng)
        self._summarise(xy, samples_xy, samples_q, n)
        self.info_["temper"] = self._temper
        self.info_["wall_time_s"] = time.perf_counter() - t_start
        return self

    def _refine(self, xy: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.box_

        def neg(p):
            pts = p.reshape(-1, 2)
            if np.any(pts[:, 0] < x0) or np.any(pts[:, 0] > x1) or np.any(pts[:, 1] < y0) or np.any(pts[:, 1] > y1):
                return 1e300
            return -self._profile(pts)[0]

        step = (x1 - x0) / self.config.grid_cells
        simplex = [xy.ravel()]
        for i in range(xy.size):
            p = xy.ravel().copy()
            p[i] += step
            simplex.append(p)
        res = optimize.minimize(
            neg,
            xy.ravel(),
            method="Nelder-Mead",
            options={"initial_simplex": np.array(simplex), "xatol": 0.5, "fatol": 0.05, "maxiter": 200 * xy.size},
        )
        return res.x.reshape(-1, 2)

    def _autocorr_temper(self, mu: np.ndarray) -> float:
        var = self._s0**2 + self.config.fluctuation_intensity**2 * mu**2
        z = (self._y - mu) / np.sqrt(var)
        z = z - z.mean()
        denom = float(np.dot(z, z))
        if denom <= 0:
            return 1.0
        tau = 1.0
        for lag in range(1, min(200, z.size // 4)):
            rho = float(np.dot(z[:-lag], z[lag:])) / denom
            if rho < 0.05:
                break
            tau += 2.0 * rho
        return 1.0 / tau

    def _mcmc(self, xy0: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        x0, y0, x1, y1 = self.box_
        cur = xy0.copy()
        ll, q, k, var = self._profile(cur)
        scale = np.full(cur.shape, 5.0)
        m = len(cur)
        out_xy = np.empty((cfg.mcmc_steps - cfg.burn_in, m, 2))
        out_q = np.empty((cfg.mcmc_steps - cfg.burn_in, m))
        acc_window = np.zeros(m)
        for it in range(cfg.mcmc_steps):
            if it % 100 == 0:
                self._progress("posterior", it, cfg.mcmc_steps)
            for j in range(m):  # one source at a time
                prop = cur.copy()
                prop[j] += scale[j] * rng.standard_normal(2)
                if not (x0 <= prop[j, 0] <= x1 and y0 <= prop[j, 1] <= y1):
                    continue
                llp, qp, kp, varp = self._profile(prop)
                if np.log(rng.random()) < llp - ll:
                    cur, ll, q, k, var = prop, llp, qp, kp, varp
                    acc_window[j] += 1
            if it < cfg.burn_in and (it + 1) % 50 == 0:
                rate = acc_window / 50.0
                scale *= np.exp(rate - 0.3)[:, None]
                acc_window[:] = 0
            if it >= cfg.burn_in:
                out_xy[it - cfg.burn_in] = cur
                # rates given the positions: conditional Gaussian about the weighted fit
                w = self._temper / var
                prec = (k * w[:, None]).T @ k
                try:
                    cov = np.linalg.inv(prec + 1e-30 * np.eye(m))
                    draw = rng.multivariate_normal(q, cov, method="cholesky")
                except np.linalg.LinAlgError:
                    draw = q
                out_q[it - cfg.burn_in] = np.abs(draw)
        self._progress("posterior", cfg.mcmc_steps, cfg.mcmc_steps)
        return out_xy, out_q

    def _summarise(self, xy, samples_xy, samples_q, n):
        penalty = 1.5 * np.log(n * self._temper)
        ll_full, _, _, _ = self._profile(xy)
        for j in range(len(xy)):
            sx = samples_xy[:, j, :]
            med = np.median(sx, axis=0)
            r90 = float(np.quantile(np.hypot(*(sx - med).T), 0.9))
            sq = samples_q[:, j]
            rest = np.delete(xy, j, axis=0)
            if len(rest):
                ll_wo = self._profile(rest)[0]
            else:
                ll_wo = self._loglik(np.zeros(n), np.full(n, self._s0**2))
            d = ll_full - ll_wo - penalty
            prob = float(1.0 / (1.0 + np.exp(-np.clip(d, -700, 700))))
            lat, lon = self.frame_.to_wgs84(med[0], med[1])
            self.sources_.append(
                SourceEstimate(
                    id=f"S{j + 1}",
                    species=self.species_,
                    x_m=float(med[0]),
                    y_m=float(med[1]),
                    lat=float(lat),
                    lon=float(lon),
                    height_m=self.config.source_height_m,
                    rate_g_s=float(np.median(sq)),
                    rate_g_s_ci90=(float(np.quantile(sq, 0.05)), float(np.quantile(sq, 0.95))),
                    location_ci90_m=r90,
                    probability=prob,
                    samples_xy=sx,
                    samples_rate=sq,
                )
            )
        self.sources_.sort(key=lambda s: -s.rate_g_s)
        for i, s in enumerate(self.sources_):
            s.id = f"S{i + 1}"

    def settings(self) -> dict:
        """The configuration as plain data (for provenance)."""
        return asdict(self.config)

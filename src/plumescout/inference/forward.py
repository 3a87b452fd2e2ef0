"""The estimator's fast forward model: plume coupling (s/m3 per g/s) of many sources x samples.

One formula, two implementations: :func:`coupling_numpy` (straightforward, vectorised NumPy) and
:func:`coupling_numba` (a compiled, parallel loop). Both take the same :class:`ForwardSpec` and
return the same numbers (tested to 1e-9); benchmarks/bench_forward.py measures the ratio.

The formula is the reflected Gaussian plume of :mod:`plumescout.dispersion.plume` with
* per-sample wind, or the Lagrangian (travel-time) wind: for each sample and source the
  direction and mean speed of the air's displacement ``C(t) - C(t - r/u)`` over its travel time,
  ``C`` the integrated wind vector (so a meandering plume is followed);
* a global wind-direction bias ``bias_deg`` (clockwise), a width multiplier ``sigma_scale`` and a
  further multiplier of the horizontal width alone, ``sigma_y_scale`` (where the wind is followed,
  the spread about the followed centreline is the relative dispersion, narrower than the
  time-averaged plume's);
* widths from the Briggs tables at a (fractional) class index, or from turbulence,
  ``sigma_y = x tan(sigma_theta_h)``, ``sigma_z = x tan(sigma_theta_v) (1 + x / X)^g`` with
  ``X`` = :data:`GROWTH_LENGTH_M`: the near-field Taylor limit, linear in distance, and a vertical
  growth exponent ``g`` (``z_growth``; 0: linear throughout) for the far field, where a surface
  plume's vertical spread grows faster than linearly in convective air and more slowly in stable
  air (Prairie Grass's arcs, benchmarks/results/experiments/README.md, "Session 15").

:func:`sensor_lag` then passes each column (a time series along the flight) through the gas
sensor's first-order response, ``tau dy/dt = x - y``: a sensor with a response time of a second or
two, carried at 8 m/s across a plume a few metres wide, reports it later, lower and wider than it
is, and a model that ignores this places the source too far upwind (a wider plume is an older one).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..dispersion.sigmas import _BRIGGS_RURAL_Y, _BRIGGS_RURAL_Z, _BRIGGS_URBAN_Y, _BRIGGS_URBAN_Z

__all__ = [
    "ForwardSpec",
    "coupling",
    "coupling_numpy",
    "coupling_numba",
    "serial_kernel",
    "sensor_lag",
    "lag_coefficients",
    "HAVE_NUMBA",
]

_TABLES = {"briggs_rural": (_BRIGGS_RURAL_Y, _BRIGGS_RURAL_Z), "briggs_urban": (_BRIGGS_URBAN_Y, _BRIGGS_URBAN_Z)}


@dataclass
class ForwardSpec:
    """Receptors and their wind; everything the kernel needs besides the sources."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    t: np.ndarray
    speed: np.ndarray
    from_deg: np.ndarray
    scheme: str = "briggs_rural"  # or "turbulence"
    tan_sigma_y: np.ndarray | None = None
    tan_sigma_z: np.ndarray | None = None
    min_sigma_m: float = 0.0
    lagrangian: bool = False
    # integrated wind on a time grid (Lagrangian mode)
    grid_t: np.ndarray = field(default_factory=lambda: np.zeros(1))
    grid_cx: np.ndarray = field(default_factory=lambda: np.zeros(1))
    grid_cy: np.ndarray = field(default_factory=lambda: np.zeros(1))
    grid_cd: np.ndarray = field(default_factory=lambda: np.zeros(1))

    @classmethod
    def with_lagrangian_wind(cls, t_grid, speed_grid, from_deg_grid, **kw) -> ForwardSpec:
        rad = np.deg2rad(from_deg_grid)
        vx, vy = -speed_grid * np.sin(rad), -speed_grid * np.cos(rad)
        dt = np.diff(t_grid, prepend=t_grid[0])
        return cls(
            lagrangian=True,
            grid_t=np.asarray(t_grid, float),
            grid_cx=np.cumsum(vx * dt),
            grid_cy=np.cumsum(vy * dt),
            grid_cd=np.cumsum(speed_grid * dt),
            **kw,
        )

    def __post_init__(self):
        for name in ("x", "y", "z", "t", "speed", "from_deg"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=float))
        n = self.x.size
        if self.scheme == "turbulence":
            if self.tan_sigma_y is None or self.tan_sigma_z is None:
                raise ValueError("the turbulence scheme needs tan_sigma_y and tan_sigma_z per sample")
        else:
            if self.scheme not in _TABLES:
                raise ValueError(f"scheme must be one of {sorted(_TABLES)} or 'turbulence', got {self.scheme}")
            self.tan_sigma_y = np.zeros(n)
            self.tan_sigma_z = np.zeros(n)
        self.tan_sigma_y = np.ascontiguousarray(self.tan_sigma_y, dtype=float)
        self.tan_sigma_z = np.ascontiguousarray(self.tan_sigma_z, dtype=float)

    def downwind_unit(self) -> tuple[np.ndarray, np.ndarray]:
        """The unit vector toward which the wind blows at each receptor (east, north) — computed
        once per ``from_deg`` array, not in every kernel call."""
        if getattr(self, "_unit_of", None) is not self.from_deg:
            rad = np.deg2rad(self.from_deg)
            self._unit = (np.ascontiguousarray(-np.sin(rad)), np.ascontiguousarray(-np.cos(rad)))
            self._unit_of = self.from_deg
        return self._unit

    def __len__(self) -> int:
        return self.x.size

    @property
    def uniform_grid(self) -> bool:
        """Whether the Lagrangian time grid is evenly spaced (then the kernel indexes directly)."""
        g = self.grid_t
        if getattr(self, "_uniform_of", None) is g:  # asked at every coupling: kept per grid
            return self._uniform
        if g.size < 3:
            out = False
        else:
            d = np.diff(g)
            out = bool(np.all(np.abs(d - d[0]) <= 1e-9 * max(1.0, abs(d[0]))))
        self._uniform, self._uniform_of = out, g
        return out

    def class_coefficients(self, stability: float) -> tuple[np.ndarray, float]:
        """Briggs coefficient rows (4, 3): y_lo, z_lo, y_hi, z_hi; and the weight of hi."""
        if self.scheme == "turbulence":
            return np.zeros((4, 3)), 0.0
        ty, tz = _TABLES[self.scheme]
        s = float(np.clip(stability, 0.0, 5.0))
        lo = int(np.floor(s))
        hi = min(lo + 1, 5)
        return np.ascontiguousarray(np.vstack([ty[lo], tz[lo], ty[hi], tz[hi]])), s - lo


def _directions_numpy(spec: ForwardSpec, sx, sy):
    """Toward-unit vectors and speeds, (n, m) in Lagrangian mode or (n, 1)."""
    if not spec.lagrangian:
        rad = np.deg2rad(spec.from_deg)[:, None]
        return -np.sin(rad), -np.cos(rad), spec.speed[:, None]
    dx = spec.x[:, None] - sx[None, :]
    dy = spec.y[:, None] - sy[None, :]
    r = np.hypot(dx, dy)
    tau = np.maximum(r / np.maximum(spec.speed[:, None], 0.3), 1e-3)
    t = spec.t[:, None]
    tb = t - tau
    g = spec.grid_t
    out = []
    for c in (spec.grid_cx, spec.grid_cy, spec.grid_cd):
        v0 = (c[1] - c[0]) / (g[1] - g[0]) if g.size > 1 else 0.0
        ct = np.interp(t, g, c)
        cb = np.where(tb < g[0], c[0] - v0 * (g[0] - tb), np.interp(tb, g, c))
        out.append(ct - cb)
    ex, ey, ed = out
    norm = np.hypot(ex, ey)
    norm = np.where(norm > 0, norm, 1.0)
    return ex / norm, ey / norm, np.maximum(ed / tau, 0.1)


def coupling_numpy(
    spec: ForwardSpec,
    sources_xyz,
    stability: float = 3.0,
    bias_deg: float = 0.0,
    sigma_scale: float = 1.0,
    sigma_y_scale: float = 1.0,
    z_growth: float = 0.0,
) -> np.ndarray:
    """(n, m) coupling in s/m3 — the straightforward NumPy implementation."""
    src = np.atleast_2d(np.asarray(sources_xyz, dtype=float))
    sx, sy, sh = src[:, 0], src[:, 1], src[:, 2]
    dirx, diry, speed = _directions_numpy(spec, sx, sy)
    b = np.deg2rad(bias_deg)
    dirx, diry = dirx * np.cos(b) + diry * np.sin(b), -dirx * np.sin(b) + diry * np.cos(b)
    dx = spec.x[:, None] - sx[None, :]
    dy = spec.y[:, None] - sy[None, :]
    xd = dx * dirx + dy * diry
    yc = -dx * diry + dy * dirx
    xp = np.where(xd > 0, xd, 1.0)
    if spec.scheme == "turbulence":
        sig_y = xp * spec.tan_sigma_y[:, None]
        sig_z = xp * spec.tan_sigma_z[:, None]
        if z_growth != 0.0:
            sig_z = sig_z * (1.0 + xp / GROWTH_LENGTH_M) ** z_growth
    else:
        co, w = spec.class_coefficients(stability)

        def briggs(row):
            return row[0] * xp * (1.0 + row[1] * xp) ** row[2]

        sig_y = briggs(co[0]) ** (1 - w) * briggs(co[2]) ** w
        sig_z = briggs(co[1]) ** (1 - w) * briggs(co[3]) ** w
    sig_y = np.sqrt((sigma_scale * sigma_y_scale * sig_y) ** 2 + spec.min_sigma_m**2)
    sig_z = np.sqrt((sigma_scale * sig_z) ** 2 + spec.min_sigma_m**2)
    z = spec.z[:, None]
    fz = np.exp(-0.5 * ((z - sh) / sig_z) ** 2) + np.exp(-0.5 * ((z + sh) / sig_z) ** 2)
    c = np.exp(-0.5 * (yc / sig_y) ** 2) * fz / (2.0 * np.pi * sig_y * sig_z * speed)
    return np.where(xd > 0, c, 0.0)


try:  # numba is a dependency; the NumPy path stays as the reference and the fallback
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

GROWTH_LENGTH_M = 100.0
"""The distance beyond which the vertical growth exponent bends the turbulence scheme's vertical
width: (1 + x / 100 m)^g is within 10 % of 1 for x < 20 m at |g| <= 0.5 (Chilbolton's nearest beams)
and (9)^g at Prairie Grass's 800 m arc."""

CUT2 = 81.0  # (9 sigma)^2: the compiled kernel returns 0 beyond 9 crosswind sigmas

if HAVE_NUMBA:

    @numba.njit(cache=True, inline="always")
    def _locate(g, t, g0, inv_dt, uniform):
        """Index ``lo`` and weight ``f`` of ``t`` on the grid ``g`` (clamped above, lo=-1 below)."""
        n = g.size
        if t <= g[0]:
            return -1, t - g[0]
        if t >= g[n - 1]:
            return n - 2, 1.0
        if uniform:
            lo = min(int((t - g0) * inv_dt), n - 2)
        else:
            lo, hi = 0, n - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if g[mid] <= t:
                    lo = mid
                else:
                    hi = mid
        return lo, (t - g[lo]) / (g[lo + 1] - g[lo])

    @numba.njit(cache=True, inline="always")
    def _at(c, lo, f, v0):
        if lo < 0:  # before the grid: extrapolate with the first velocity (f = t - g0 < 0)
            return c[0] + v0 * f
        return c[lo] + f * (c[lo + 1] - c[lo])

    @numba.njit(cache=True, inline="always", fastmath=True)
    def _briggs(a, b, p, x):
        """a x (1 + b x)^p, with the table's exponents (-1, -1/2, 1/2, 1) without pow()."""
        f = 1.0 + b * x
        if p == -0.5:
            return a * x / np.sqrt(f)
        if p == 1.0:
            return a * x * f
        if p == -1.0:
            return a * x / f
        if p == 0.5:
            return a * x * np.sqrt(f)
        return a * x * f**p

    @numba.njit(cache=True, parallel=True, fastmath=True)
    def _kernel(
        x,
        y,
        z,
        t,
        speed,
        down_x,
        down_y,
        tan_y,
        tan_z,
        min_sigma,
        lagr,
        gt,
        gcx,
        gcy,
        gcd,
        uniform,
        sx,
        sy,
        sh,
        turbulence,
        co,
        w,
        bias,
        scale,
        scale_y,
        z_growth,
        out,
    ):
        n = x.size
        m = sx.size
        cb, sb = np.cos(bias), np.sin(bias)
        inv_2pi = 1.0 / (2.0 * np.pi)
        ms2 = min_sigma * min_sigma
        g0 = gt[0]
        inv_dt = 1.0 / (gt[1] - gt[0]) if gt.size > 1 else 0.0
        v0x = (gcx[1] - gcx[0]) * inv_dt if gt.size > 1 else 0.0
        v0y = (gcy[1] - gcy[0]) * inv_dt if gt.size > 1 else 0.0
        v0d = (gcd[1] - gcd[0]) * inv_dt if gt.size > 1 else 0.0
        for i in numba.prange(n):
            ux0, uy0 = down_x[i], down_y[i]
            ctx = cty = ctd = 0.0
            if lagr:
                lo, f = _locate(gt, t[i], g0, inv_dt, uniform)
                ctx = _at(gcx, lo, f, v0x)
                cty = _at(gcy, lo, f, v0y)
                ctd = _at(gcd, lo, f, v0d)
            for j in range(m):
                dx = x[i] - sx[j]
                dy = y[i] - sy[j]
                if lagr:
                    r = np.sqrt(dx * dx + dy * dy)
                    tau = max(r / max(speed[i], 0.3), 1e-3)
                    tb = t[i] - tau
                    lo, f = _locate(gt, tb, g0, inv_dt, uniform)
                    ex = ctx - _at(gcx, lo, f, v0x)
                    ey = cty - _at(gcy, lo, f, v0y)
                    ed = ctd - _at(gcd, lo, f, v0d)
                    nrm = np.sqrt(ex * ex + ey * ey)
                    if nrm <= 0:
                        nrm = 1.0
                    ux, uy = ex / nrm, ey / nrm
                    u = max(ed / tau, 0.1)
                else:
                    ux, uy = ux0, uy0
                    u = speed[i]
                ux, uy = ux * cb + uy * sb, -ux * sb + uy * cb
                xd = dx * ux + dy * uy
                if xd <= 0.0:
                    out[i, j] = 0.0
                    continue
                yc = -dx * uy + dy * ux
                if turbulence:
                    sgy = xd * tan_y[i]
                    sgz = xd * tan_z[i]
                    if z_growth != 0.0:
                        sgz *= (1.0 + xd / GROWTH_LENGTH_M) ** z_growth
                else:
                    y0 = _briggs(co[0, 0], co[0, 1], co[0, 2], xd)
                    if w > 0.0:
                        y1 = _briggs(co[2, 0], co[2, 1], co[2, 2], xd)
                        # the interpolated width lies between the two classes': beyond 9 sigma of
                        # the wider one, it is beyond 9 of the interpolated one too (the cut below
                        # would give 0 as well), so most far candidates skip the powers
                        hi = max(y0, y1)
                        if yc * yc > CUT2 * (scale_y * scale_y * hi * hi + ms2):
                            out[i, j] = 0.0
                            continue
                        z0 = _briggs(co[1, 0], co[1, 1], co[1, 2], xd)
                        z1 = _briggs(co[3, 0], co[3, 1], co[3, 2], xd)
                        sgy = y0 ** (1.0 - w) * y1**w
                        sgz = z0 ** (1.0 - w) * z1**w
                    else:
                        sgy, sgz = y0, _briggs(co[1, 0], co[1, 1], co[1, 2], xd)
                sgy = np.sqrt(scale_y * scale_y * sgy * sgy + ms2)
                q = yc / sgy
                if q * q > CUT2:  # beyond 9 sigma crosswind: exp(-40.5) ~ 3e-18 of the axis value
                    out[i, j] = 0.0
                    continue
                sgz = np.sqrt(scale * scale * sgz * sgz + ms2)
                a = (z[i] - sh[j]) / sgz
                b = (z[i] + sh[j]) / sgz
                fz = np.exp(-0.5 * a * a) + np.exp(-0.5 * b * b)
                out[i, j] = np.exp(-0.5 * q * q) * fz * inv_2pi / (sgy * sgz * u)

    # the same loop compiled serial and without the GIL, for callers that run several chains in
    # threads: numba's default (workqueue) threading layer must not be entered from two threads
    _kernel_serial = numba.njit(cache=True, nogil=True, fastmath=True)(_kernel.py_func)

_LOCAL = threading.local()


@contextmanager
def serial_kernel():
    """Within this block, the current thread's couplings use the serial, GIL-free kernel (same
    numbers): for running independent chains in threads."""
    old = getattr(_LOCAL, "serial", False)
    _LOCAL.serial = True
    try:
        yield
    finally:
        _LOCAL.serial = old


def coupling_numba(
    spec: ForwardSpec,
    sources_xyz,
    stability: float = 3.0,
    bias_deg: float = 0.0,
    sigma_scale: float = 1.0,
    sigma_y_scale: float = 1.0,
    z_growth: float = 0.0,
) -> np.ndarray:
    """(n, m) coupling in s/m3 — compiled; same numbers as :func:`coupling_numpy`."""
    src = np.ascontiguousarray(np.atleast_2d(np.asarray(sources_xyz, dtype=float)))
    co, w = spec.class_coefficients(stability)
    out = np.empty((len(spec), src.shape[0]))
    down_x, down_y = spec.downwind_unit()
    kernel = _kernel_serial if getattr(_LOCAL, "serial", False) else _kernel
    kernel(
        spec.x,
        spec.y,
        spec.z,
        spec.t,
        spec.speed,
        down_x,
        down_y,
        spec.tan_sigma_y,
        spec.tan_sigma_z,
        float(spec.min_sigma_m),
        bool(spec.lagrangian),
        spec.grid_t,
        spec.grid_cx,
        spec.grid_cy,
        spec.grid_cd,
        spec.uniform_grid,
        src[:, 0].copy(),
        src[:, 1].copy(),
        src[:, 2].copy(),
        spec.scheme == "turbulence",
        co,
        float(w),
        float(np.deg2rad(bias_deg)),
        float(sigma_scale),
        float(sigma_scale * sigma_y_scale),
        float(z_growth),
        out,
    )
    return out


def coupling(
    spec: ForwardSpec,
    sources_xyz,
    stability: float = 3.0,
    bias_deg: float = 0.0,
    sigma_scale: float = 1.0,
    sigma_y_scale: float = 1.0,
    z_growth: float = 0.0,
) -> np.ndarray:
    """The fast path: numba where available, else NumPy."""
    fn = coupling_numba if HAVE_NUMBA else coupling_numpy
    return fn(spec, sources_xyz, stability, bias_deg, sigma_scale, sigma_y_scale, z_growth)


def lag_coefficients(t, response_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample coefficients of the first-order response between samples at times ``t``
    (sorted): ``y[i] = e[i] y[i-1] + b0[i] x[i] + b1[i] x[i-1]``.

    The exact solution of ``tau dy/dt = x - y`` for an input that is linear between samples
    (first-order hold): with ``h = t[i] - t[i-1]``, ``e = exp(-h / tau)`` and
    ``g = tau (1 - e) / h``, ``b0 = 1 - g`` and ``b1 = g - e``; ``e + b0 + b1 = 1``, so a steady
    input is read unchanged. A long gap (``h >> tau``) starts afresh (``y = x``); a repeated
    time (``h = 0``) holds the previous reading."""
    t = np.asarray(t, dtype=float)
    h = np.diff(t, prepend=t[:1])
    if response_s <= 0:
        return np.zeros_like(h), np.ones_like(h), np.zeros_like(h)
    fn = _lag_coefficients_numba if HAVE_NUMBA else _lag_coefficients_numpy
    return fn(h, float(response_s))


def _lag_coefficients_numpy(h, tau):
    e = np.ones_like(h)
    b0 = np.zeros_like(h)
    b1 = np.zeros_like(h)
    ok = h > 0
    r = h[ok] / tau
    e[ok] = np.exp(-r)
    g = -np.expm1(-r) / r
    b0[ok] = 1.0 - g
    b1[ok] = g - e[ok]
    # the first sample: the sensor has read the same since before (steady state)
    e[0], b0[0], b1[0] = 0.0, 1.0, 0.0
    return e, b0, b1


TAIL = 1e-8  # a lagged column is cut to zero below this fraction of its peak


def _lag_numpy(K, e, b0, b1):
    out = np.empty_like(K)
    out[0] = K[0]
    floor = TAIL * np.abs(K).max(axis=0)
    for i in range(1, K.shape[0]):
        v = e[i] * out[i - 1] + b0[i] * K[i] + b1[i] * K[i - 1]
        out[i] = np.where(np.abs(v) >= floor, v, 0.0)
    return out


if HAVE_NUMBA:

    @numba.njit(cache=True, nogil=True)
    def _lag_coefficients_numba(h, tau):
        n = h.size
        e = np.ones(n)
        b0 = np.zeros(n)
        b1 = np.zeros(n)
        for i in range(1, n):
            if h[i] > 0:
                r = h[i] / tau
                ei = np.exp(-r)
                g = -np.expm1(-r) / r
                e[i], b0[i], b1[i] = ei, 1.0 - g, g - ei
        e[0], b0[0], b1[0] = 0.0, 1.0, 0.0
        return e, b0, b1

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def _lag_numba(K, e, b0, b1):
        n, m = K.shape
        out = np.empty_like(K)
        floor = np.zeros(m)
        for j in range(m):
            out[0, j] = K[0, j]
        for i in range(n):
            for j in range(m):
                floor[j] = max(floor[j], abs(K[i, j]))
        for j in range(m):
            floor[j] *= TAIL
        for i in range(1, n):
            for j in range(m):
                v = e[i] * out[i - 1, j] + b0[i] * K[i, j] + b1[i] * K[i - 1, j]
                # the exponential tail is cut where it falls below TAIL of the column's peak, so
                # the readings far from any crossing stay exact zeros (which the fit skips)
                out[i, j] = v if abs(v) >= floor[j] else 0.0
        return out


def sensor_lag(K: np.ndarray, t, response_s: float, coefficients=None) -> np.ndarray:
    """The columns of ``K`` (time series at the sorted times ``t``) as a sensor with a
    first-order response time ``response_s`` (s) reports them (:func:`lag_coefficients`);
    ``response_s <= 0``: unchanged. Linear in ``K``, so the rates stay linear parameters."""
    K = np.asarray(K, dtype=float)
    if response_s <= 0 or K.shape[0] < 2 or K.shape[1] == 0:
        return K
    e, b0, b1 = coefficients if coefficients is not None else lag_coefficients(t, response_s)
    fn = _lag_numba if HAVE_NUMBA else _lag_numpy
    return fn(np.ascontiguousarray(K), e, b0, b1)

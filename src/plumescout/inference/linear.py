"""The linear part of the model, compiled: for a set of source columns, the weighted least-squares
fit of the emission rates (non-negative) and background coefficients (free), reweighted for the
fluctuation term and the Student-t errors, and the information matrix of the fit.

One call replaces a loop of SciPy NNLS solves on the augmented (rows + ridge) system: the normal
equations are small (rates + background terms, a few dozen at most), so they are formed once per
reweighting pass and solved by the Lawson & Hanson (1974) active-set method, restricted to the
rate coordinates (the background coefficients have no sign constraint). The problem is strictly
convex (ridge on the rates, full-rank background basis), so the solution is the one NNLS finds.

Reference: Lawson, C. L. & Hanson, R. J. (1974) Solving Least Squares Problems, ch. 23.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["nnls_partial", "irls_fit", "group_mean"]


@numba.njit(cache=True, nogil=True)
def group_mean(c, k):
    """Mean over consecutive groups of k rows: (n k, m) -> (n, m) (a beam's points per reading)."""
    n = c.shape[0] // k
    m = c.shape[1]
    out = np.zeros((n, m))
    for i in range(n):
        for j in range(k):
            for a in range(m):
                out[i, a] += c[i * k + j, a]
        for a in range(m):
            out[i, a] /= k
    return out


@numba.njit(cache=True, nogil=True)
def _solve_free(G, g, free):
    idx = np.flatnonzero(free)
    k = idx.size
    Gf = np.empty((k, k))
    gf = np.empty(k)
    for a in range(k):
        gf[a] = g[idx[a]]
        for b in range(k):
            Gf[a, b] = G[idx[a], idx[b]]
    z = np.zeros(g.size)
    if k:
        sol = np.linalg.solve(Gf, gf)
        for a in range(k):
            z[idx[a]] = sol[a]
    return z


@numba.njit(cache=True, nogil=True)
def nnls_partial(G, g, m):
    """argmin 1/2 x'Gx - g'x subject to x[:m] >= 0 (G symmetric positive definite)."""
    p = g.size
    free = np.zeros(p, dtype=np.bool_)
    free[m:] = True
    x = _solve_free(G, g, free)
    scale = 0.0
    for i in range(p):
        scale = max(scale, abs(g[i]))
    tol = 1e-12 * max(scale, 1e-300)
    for _outer in range(3 * m + 3):
        w = g - G @ x  # minus the gradient
        j = -1
        best = tol
        for i in range(m):
            if not free[i] and w[i] > best:
                best = w[i]
                j = i
        if j < 0:
            break
        free[j] = True
        for _inner in range(3 * m + 3):
            z = _solve_free(G, g, free)
            ok = True
            for i in range(m):
                if free[i] and z[i] <= 0.0:
                    ok = False
            if ok:
                x = z
                break
            alpha = 1.0
            for i in range(m):
                if free[i] and z[i] <= 0.0:
                    d = x[i] - z[i]
                    if d > 0:
                        alpha = min(alpha, x[i] / d)
            x = x + alpha * (z - x)
            for i in range(m):
                if free[i] and x[i] <= tol:
                    free[i] = False
                    x[i] = 0.0
    for i in range(m):
        if x[i] < 0.0:
            x[i] = 0.0
    return x


@numba.njit(cache=True, nogil=True)
def _normal(Z, w, y):
    n, p = Z.shape
    G = np.zeros((p, p))
    g = np.zeros(p)
    for r in range(n):
        wr = w[r]
        if wr == 0.0:
            continue
        for a in range(p):
            za = Z[r, a] * wr
            if za == 0.0:
                continue
            g[a] += za * y[r]
            for b in range(a, p):
                G[a, b] += za * Z[r, b]
    for a in range(p):
        for b in range(a):
            G[a, b] = G[b, a]
    return G, g


@numba.njit(cache=True, nogil=True)
def irls_fit(K, B, y, s2, a2, nu, lgam, tw, ridge, passes):
    """Fit rates (columns K, >= 0) and background (columns B, free) to y.

    Each pass solves the weighted problem with weights wt / var, var = s2 + a2 mu_plume^2 from
    the previous pass, and the Student-t weights wt = (nu + 1) / (nu + r^2 / var) where nu is
    finite. ``ridge`` is added to the rates' diagonal (the prior's curvature). Returns the
    coefficients (rates then background), var, wt, the tempered information matrix
    H = Z' diag(tw wt / var) Z (without the ridge) and the tempered log-likelihood
    sum tw log p(y | fit): Gaussian where nu is infinite, Student-t (lgam = log Gamma((nu + 1)/2)
    - log Gamma(nu/2)) where it is finite."""
    n, m = K.shape
    nb = B.shape[1]
    p = m + nb
    Z = np.empty((n, p))
    Z[:, :m] = K
    Z[:, m:] = B
    var = s2.copy()
    wt = np.ones(n)
    robust = False
    for r in range(n):
        if np.isfinite(nu[r]):
            robust = True
    coef = np.zeros(p)
    w = np.empty(n)
    for _ in range(passes):
        for r in range(n):
            w[r] = wt[r] / var[r]
        G, g = _normal(Z, w, y)
        for a in range(m):
            G[a, a] += ridge
        coef = nnls_partial(G, g, m)
        for r in range(n):
            mp = 0.0
            for a in range(m):
                mp += K[r, a] * coef[a]
            var[r] = s2[r] + a2[r] * mp * mp
        if robust:
            for r in range(n):
                if np.isfinite(nu[r]):
                    mu = 0.0
                    for a in range(p):
                        mu += Z[r, a] * coef[a]
                    res = y[r] - mu
                    wt[r] = (nu[r] + 1.0) / (nu[r] + res * res / var[r])
    ll = 0.0
    for r in range(n):
        w[r] = tw[r] * wt[r] / var[r]
        mu = 0.0
        for a in range(p):
            mu += Z[r, a] * coef[a]
        res = y[r] - mu
        if np.isfinite(nu[r]):
            lr = (
                lgam[r]
                - 0.5 * np.log(nu[r] * np.pi * var[r])
                - (nu[r] + 1.0) / 2.0 * np.log1p(res * res / (nu[r] * var[r]))
            )
        else:
            lr = -0.5 * (res * res / var[r] + np.log(2.0 * np.pi * var[r]))
        ll += tw[r] * lr
    H, _g = _normal(Z, w, y)
    return coef, var, wt, H, ll

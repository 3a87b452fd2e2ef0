"""The compiled linear fit against SciPy's NNLS on the same augmented system (Lawson & Hanson's
algorithm both ways: the strictly convex problem has one solution)."""

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import gammaln

from plumescout.inference.linear import group_mean, irls_fit, nnls_partial


def _scipy_fit(K, B, y, s2, a2, nu, ridge, passes):
    """The former implementation: NNLS on rows sqrt(w) [K, B, -B] plus ridge rows on the rates."""
    n, m = K.shape
    X = np.hstack([K, B, -B])
    var, wt = s2.copy(), np.ones(n)
    robust = np.isfinite(nu)
    A = np.zeros((n + m, X.shape[1]))
    A[n + np.arange(m), np.arange(m)] = np.sqrt(ridge)
    b = np.zeros(n + m)
    for _ in range(passes):
        w = np.sqrt(wt / var)
        A[:n] = X * w[:, None]
        b[:n] = y * w
        c, _ = optimize.nnls(A, b, maxiter=50 * X.shape[1])
        coef = np.concatenate([c[:m], c[m : m + B.shape[1]] - c[m + B.shape[1] :]])
        var = s2 + a2 * (K @ coef[:m]) ** 2
        if robust.any():
            r = y - np.hstack([K, B]) @ coef
            wt = np.where(robust, (np.where(robust, nu, 1.0) + 1) / (np.where(robust, nu, 1.0) + r * r / var), 1.0)
    return coef, var, wt


@pytest.mark.parametrize("seed", range(12))
def test_irls_matches_scipy_nnls(seed):
    rng = np.random.default_rng(seed)
    n, m, nb = 300, int(rng.integers(0, 5)), int(rng.integers(1, 4))
    K = np.abs(rng.normal(size=(n, m))) * (rng.random((n, m)) < 0.2)
    B = np.column_stack([np.ones(n)] + [np.linspace(-1, 1, n) ** (j + 1) for j in range(nb - 1)])
    q_true = rng.uniform(-0.5, 2.0, m)  # some true rates negative: the constraint binds
    y = K @ q_true + B @ rng.normal(size=nb) + 0.05 * rng.standard_normal(n)
    y[rng.integers(0, n, 3)] += 2.0  # outliers for the Student-t weights
    s2 = np.full(n, 0.05**2)
    a2 = np.full(n, 0.3**2)
    nu = np.where(rng.random(n) < 0.5, 4.0, np.inf)
    tw = np.ones(n)
    nu_f = np.where(np.isfinite(nu), nu, 1.0)
    lgam = np.where(np.isfinite(nu), gammaln((nu_f + 1) / 2) - gammaln(nu_f / 2), 0.0)
    coef, var, wt, H, ll = irls_fit(K, B, y, s2, a2, nu, lgam, tw, 0.5, 4)
    ref, var_ref, wt_ref = _scipy_fit(K, B, y, s2, a2, nu, 0.5, 4)
    np.testing.assert_allclose(coef, ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(var, var_ref, rtol=1e-6)
    np.testing.assert_allclose(wt, wt_ref, rtol=1e-6)
    Z = np.hstack([K, B])
    np.testing.assert_allclose(H, (Z * (tw * wt / var)[:, None]).T @ Z, rtol=1e-9)
    assert np.all(coef[:m] >= 0)
    r = y - Z @ coef
    ll_ref = np.where(
        np.isfinite(nu),
        stats.t.logpdf(r / np.sqrt(var), np.where(np.isfinite(nu), nu, 1.0)) - 0.5 * np.log(var),
        stats.norm.logpdf(r, scale=np.sqrt(var)),
    ).sum()
    assert ll == pytest.approx(ll_ref, rel=1e-10)


def test_group_mean():
    c = np.arange(24.0).reshape(12, 2)
    np.testing.assert_allclose(group_mean(c, 3), c.reshape(4, 3, 2).mean(axis=1))


def test_nnls_partial_kkt():
    # Karush-Kuhn-Tucker conditions of min 1/2 x'Gx - g'x, x[:m] >= 0: at the solution the
    # gradient vanishes on free coordinates and is >= 0 on those held at zero
    rng = np.random.default_rng(1)
    for _ in range(50):
        p, m = 7, 4
        M = rng.normal(size=(20, p))
        G = M.T @ M + 0.1 * np.eye(p)
        g = rng.normal(size=p)
        x = nnls_partial(G, g, m)
        grad = G @ x - g
        assert np.all(x[:m] >= 0)
        free = np.r_[x[:m] > 0, np.ones(p - m, bool)]
        np.testing.assert_allclose(grad[free], 0, atol=1e-9)
        assert np.all(grad[:m][~free[:m]] >= -1e-9)

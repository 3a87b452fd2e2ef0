"""The grid POMDP of Vergassola et al. (2007) / Loisy & Eloy (2022): the hit law, the belief
update, and the policies' scores on cases whose answer is known in closed form."""

import numpy as np
import pytest
from scipy import special, stats

from plumescout.search import GridSearch, make_policy, run_episode
from plumescout.search.pomdp import entropy_bits, evaluate


def test_mean_hits_follow_the_turbulent_diffusion_model():
    # 1-D: mu(d) = I e^-1/(1 - a/lambda) exp(1 - d/L) with a = dx/2 (Loisy & Eloy 2022, eq. 2.3)
    env = GridSearch(1, 2.0, 2.0)
    d = np.array([1.0, 2.0, 5.0])
    expect = 2.0 * np.exp(-1) / (1 - 1 / 4) * np.exp(1 - d / 2.0)
    np.testing.assert_allclose(env.mean_hits(d), expect, rtol=1e-12)
    # at d = L the mean is mu0 in every dimension
    for dims in (1, 2, 3):
        e = GridSearch(dims, 3.0, 1.5)
        assert e.mean_hits(3.0) == pytest.approx(e.mu0, rel=1e-12)
    # 2-D: K0 law, mu0 = I K0(1)/ln(lambda/a)
    e2 = GridSearch(2, 1.0, 2.0)
    assert e2.mu0 == pytest.approx(2.0 * special.k0(1.0) / np.log(2.0), rel=1e-12)
    assert e2.mean_hits(2.5) / e2.mean_hits(1.0) == pytest.approx(special.k0(2.5) / special.k0(1.0), rel=1e-12)


def test_hit_law_is_a_truncated_poisson_that_sums_to_one():
    env = GridSearch(1, 2.0, 2.0)
    p = env.hit_probabilities(np.array([0.3, 1.7]))
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p[0], stats.poisson.pmf(0, [0.3, 1.7]), rtol=1e-12)
    # OTTO's automatic settings for 1-D, L = 2, I = 2: Nhits = ceil(mu(1) + sqrt(mu(1))) + 1
    m1 = env.mean_hits(1.0)
    assert env.n_hits == int(np.ceil(m1 + np.sqrt(m1))) + 1
    assert env.initial_hit_law_[0] == 0.0 and env.initial_hit_law_.sum() == pytest.approx(1.0)


def test_belief_update_is_bayes_rule():
    env = GridSearch(1, 2.0, 2.0, n_grid=21)
    b = env.start(1)
    assert b.p.sum() == pytest.approx(1.0) and b.p[b.agent] == 0.0
    # symmetric about the agent
    np.testing.assert_allclose(b.p, b.p[::-1], atol=1e-15)
    cell = env.move(b.agent, 1)
    p_end, p_hit, post = b.outcomes(env, cell)
    assert p_end == pytest.approx(b.p[cell])
    assert p_hit.sum() == pytest.approx(1.0)
    # the law of total probability: the predicted posteriors average back to the prior (minus the cell)
    q = b.p.copy()
    q[cell] = 0
    np.testing.assert_allclose((p_hit[:, None] * post).sum(axis=0), q / q.sum(), atol=1e-12)
    nb = b.update(env, cell, 2)
    np.testing.assert_allclose(nb.p, post[2], atol=1e-12)


def test_infotaxis_first_move_breaks_the_symmetric_tie_to_minus_x():
    env = GridSearch(1, 2.0, 2.0)
    b = env.start(1)
    pol = make_policy("infotaxis")
    pol.reset(env, b)
    assert pol.choose(env, b) == (b.agent[0] - 1,)


def test_entropy_of_uniform_is_log2_n():
    assert entropy_bits(np.full(16, 1 / 16)) == pytest.approx(4.0)


def test_policies_find_the_source_and_good_ones_beat_the_baseline():
    # mean steps over a few hundred episodes: in 1-D space-aware infotaxis needs about half the
    # steps of infotaxis (7.30 vs 13.21, Loisy & Eloy 2022) and beats the model-free cast-and-surge
    res = {p: evaluate(1, 2.0, 2.0, p, 300, seed=3, workers=1) for p in ("infotaxis", "space-aware", "cast-and-surge")}
    for r in res.values():
        assert r["episodes"] == 300
    assert res["space-aware"]["mean_steps"] < res["infotaxis"]["mean_steps"]
    assert res["space-aware"]["mean_steps"] < res["cast-and-surge"]["mean_steps"]
    assert res["space-aware"]["p_fail"] == 0.0


def test_episode_is_reproducible_with_a_seed():
    env = GridSearch(2, 1.0, 2.0)
    a = run_episode(env, make_policy("space-aware"), np.random.default_rng(5))
    b = run_episode(env, make_policy("space-aware"), np.random.default_rng(5))
    assert a == b


def test_evaluation_is_paired_and_independent_of_chunking():
    # episode i draws from the i-th child seed whatever the process split, so one policy gives the
    # same per-episode steps on 1 or 2 workers
    one = evaluate(2, 1.0, 2.0, "space-aware", 24, seed=11, workers=1, per_episode=True)
    two = evaluate(2, 1.0, 2.0, "space-aware", 24, seed=11, workers=2, per_episode=True)
    assert one["steps"] == two["steps"]


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("nope")


def test_cli_bench_search_prints_the_published_fields():
    import json

    from typer.testing import CliRunner

    from plumescout.cli import app

    r = CliRunner().invoke(
        app, ["bench", "search", "--dims", "1", "--lambda-over-dx", "2", "--rate-dt", "2", "--policy", "best",
              "--episodes", "40", "--workers", "1", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert {"mean_steps", "ci95", "p_fail", "episodes"} <= set(doc) and doc["episodes"] == 40
    bad = CliRunner().invoke(app, ["bench", "search", "--policy", "nope", "--episodes", "5"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output

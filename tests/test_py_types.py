"""The attention types beyond the seed's (linear, gat, sparse, moe, cross,
sliding, poincare, lorentz) against the float64 references of reference.py,
on every backend: tail lengths, batches, threads, each type's edge cases,
the generic entry points, and every parameter error."""

import math

import numpy as np
import pytest

import ruvector_cffi as rv
import reference as ref
from reference import TAILS, assert_close, attention_scale, value_scale, weights_scale

BASE_N, BASE_D, BASE_DV = 33, 24, 20


def _inputs(rng, n, d, dv, m=None, sd=1.0):
    q = (rng.standard_normal(d if m is None else (m, d)) * sd).astype(np.float32)
    K = (rng.standard_normal((n, d)) * sd).astype(np.float32)
    V = (rng.standard_normal((n, dv)) * 4).astype(np.float32)
    return q, K, V


def _ball(rng, shape, radius=0.9, c=1.0):
    """Points of the Poincare ball of curvature c, norms up to radius/sqrt(c)."""
    x = rng.standard_normal(shape)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    r = rng.uniform(0.0, radius, size=norms.shape)
    return (x / np.maximum(norms, 1e-30) * r / math.sqrt(c)).astype(np.float32)


def _hyp_scale(logits, V):
    return value_scale(V) * max(1.0, float(np.max(np.abs(logits), initial=0.0)))


# one entry per type: (python call, float64 reference, accuracy scale), defaults
def _cases():
    return {
        "linear": (lambda q, K, V, **kw: rv.linear_attention(q, K, V, **kw),
                   lambda q, K, V: ref.linear_attention(q, K, V),
                   lambda q, K, V: value_scale(V)),
        "gat": (lambda q, K, V, **kw: rv.gat_attention(q, K, V, **kw),
                lambda q, K, V: ref.gat_attention(q, K, V),
                lambda q, K, V: attention_scale(q, K, V)),
        "sparse": (lambda q, K, V, **kw: rv.sparse_attention(q, K, V, 5, **kw),
                   lambda q, K, V: ref.sparse_attention(q, K, V, 5),
                   lambda q, K, V: attention_scale(q, K, V)),
        "moe": (lambda q, K, V, **kw: rv.moe_attention(q, K, V, 4, 2, **kw),
                lambda q, K, V: ref.moe_attention(q, K, V, 4, 2),
                lambda q, K, V: attention_scale(q, K, V)),
        "cross": (lambda q, K, V, **kw: rv.cross_attention(q, K, V, **kw),
                  lambda q, K, V: ref.cross_attention(q, K, V),
                  lambda q, K, V: attention_scale(q, K, V)),
        "sliding": (lambda q, K, V, **kw: rv.sliding_window_attention(q, K, V, 7, **kw),
                    lambda q, K, V: ref.sliding_window_attention(q, K, V, 7),
                    lambda q, K, V: attention_scale(q, K, V)),
    }


CASES = _cases()


def _hyper(model):
    def call(q, K, V, c=1.0):
        return rv.hyperbolic_attention(q, K, V, model, c)

    def expect(q, K, V, c=1.0):
        return (ref.poincare_attention if model == "poincare" else ref.lorentz_attention)(q, K, V, c)

    def logits(q, K, c=1.0):
        return (ref.poincare_logits if model == "poincare" else ref.lorentz_logits)(q, K, c)

    return call, expect, logits


def _hyper_inputs(rng, model, n, d, dv, m=None, c=1.0):
    qs = d if m is None else (m, d)
    if model == "poincare":
        return _ball(rng, qs, c=c), _ball(rng, (n, d), c=c), _ball(rng, (n, dv), c=c)
    return (rng.standard_normal(qs).astype(np.float32), rng.standard_normal((n, d)).astype(np.float32),
            rng.standard_normal((n, dv)).astype(np.float32))


def _check_hyper(model, q, K, V, c=1.0, what=""):
    call, expect, logits = _hyper(model)
    got = call(q, K, V, c)
    assert got.dtype == np.float32
    assert_close(got, expect(q, K, V, c), _hyp_scale(logits(q, K, c), V), f"{model} {what}")
    return got


# ---------------------------------------------------------------- tails, every backend


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("n", TAILS)
def test_over_n(backend, rng, kind, n):
    call, expect, scale = CASES[kind]
    q, K, V = _inputs(rng, n, BASE_D, BASE_DV)
    assert_close(call(q, K, V), expect(q, K, V), scale(q, K, V), f"{kind} n={n}")


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("d", TAILS)
def test_over_d(backend, rng, kind, d):
    call, expect, scale = CASES[kind]
    q, K, V = _inputs(rng, BASE_N, d, BASE_DV)
    assert_close(call(q, K, V), expect(q, K, V), scale(q, K, V), f"{kind} d={d}")


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("dv", TAILS)
def test_over_dv(backend, rng, kind, dv):
    call, expect, scale = CASES[kind]
    q, K, V = _inputs(rng, BASE_N, BASE_D, dv)
    assert_close(call(q, K, V), expect(q, K, V), scale(q, K, V), f"{kind} dv={dv}")


@pytest.mark.parametrize("model", ["poincare", "lorentz"])
@pytest.mark.parametrize("length", TAILS)
def test_hyperbolic_tails(backend, rng, model, length):
    for n, d, dv in ((length, BASE_D, BASE_DV), (BASE_N, length, BASE_DV), (BASE_N, BASE_D, length)):
        q, K, V = _hyper_inputs(rng, model, n, d, dv)
        _check_hyper(model, q, K, V, what=f"n={n} d={d} dv={dv}")


@pytest.mark.parametrize("kind", sorted(CASES) + ["poincare", "lorentz"])
@pytest.mark.parametrize("m", [1, 2, 5, 17, 70])
def test_batches_are_independent_rows(backend, rng, kind, m):
    if kind in ("poincare", "lorentz"):
        Q, K, V = _hyper_inputs(rng, kind, 40, 16, 12, m=m)
        got = _check_hyper(kind, Q, K, V, what=f"m={m}")
        call = _hyper(kind)[0]
    else:
        call, expect, scale = CASES[kind]
        Q, K, V = _inputs(rng, 40, 16, 12, m=m)
        got = call(Q, K, V)
        assert got.shape == (m, 12)
        assert_close(got, expect(Q, K, V), scale(Q, K, V), f"{kind} m={m}")
    for r in (0, m - 1):
        one = call(Q[r], K, V) if kind not in ("cross", "sliding") else None
        if one is not None:
            assert_close(got[r], one.astype(np.float64), value_scale(V), f"{kind} row {r} alone")


@pytest.mark.parametrize("kind", sorted(CASES) + ["poincare", "lorentz"])
def test_threads_are_bit_identical(rng, kind):
    if kind in ("poincare", "lorentz"):
        Q, K, V = _hyper_inputs(rng, kind, 300, 32, 24, m=23)
    else:
        Q, K, V = _inputs(rng, 300, 32, 24, m=23)
    one = rv.attention(Q, K, V, kind, threads=1)
    with rv._threads_for_test(1):
        for threads in (2, 8):
            got = rv.attention(Q, K, V, kind, threads=threads)
            assert got.tobytes() == one.tobytes(), f"{kind} threads={threads}"


# ---------------------------------------------------------------- the generic entry points


_GENERIC = {
    "linear": ({}, lambda q, K, V: rv.linear_attention(q, K, V)),
    "gat": ({}, lambda q, K, V: rv.gat_attention(q, K, V)),
    "sparse": ({}, lambda q, K, V: rv.sparse_attention(q, K, V)),
    "moe": ({}, lambda q, K, V: rv.moe_attention(q, K, V)),
    "cross": ({}, lambda q, K, V: rv.cross_attention(q, K, V)),
    "sliding": ({}, lambda q, K, V: rv.sliding_window_attention(q, K, V)),
    "scaled_dot": ({}, lambda q, K, V: rv.scaled_dot_attention(q, K, V)),
    "multi_head": ({}, lambda q, K, V: rv.multi_head_attention(q, K, V)),
    "flash_v2": ({}, lambda q, K, V: rv.flash_attention(q, K, V)),
}


@pytest.mark.parametrize("kind", sorted(_GENERIC))
def test_attention_by_name_equals_the_dedicated_function(backend, rng, kind):
    q, K, V = _inputs(rng, 300, 32, 24)
    Q2 = rng.standard_normal((3, 32)).astype(np.float32)
    _, dedicated = _GENERIC[kind]
    for query in (q, Q2):
        assert rv.attention(query, K, V, kind).tobytes() == dedicated(query, K, V).tobytes(), kind


@pytest.mark.parametrize("model", ["poincare", "lorentz"])
def test_attention_by_name_hyperbolic(backend, rng, model):
    q, K, V = _hyper_inputs(rng, model, 50, 8, 6)
    assert rv.attention(q, K, V, model).tobytes() == rv.hyperbolic_attention(q, K, V, model).tobytes()
    assert rv.attention(q, K, V, model, curvature=0.5).tobytes() == \
        rv.hyperbolic_attention(q, K, V, model, 0.5).tobytes()


def test_attention_by_name_takes_the_types_parameters(rng):
    q, K, V = _inputs(rng, 40, 8, 6)
    assert rv.attention(q, K, V, "sparse", top_k=3).tobytes() == rv.sparse_attention(q, K, V, 3).tobytes()
    assert rv.attention(q, K, V, "moe", n_experts=5, top_k=1).tobytes() == \
        rv.moe_attention(q, K, V, 5, 1).tobytes()
    assert rv.attention(q, K, V, "sliding", window_size=9, scale=0.5).tobytes() == \
        rv.sliding_window_attention(q, K, V, 9, scale=0.5).tobytes()
    assert rv.attention(q, K, V, "Multi_Head", num_heads=2).tobytes() == \
        rv.multi_head_attention(q, K, V, 2).tobytes()
    with pytest.raises(TypeError, match="does not take 'top_k'"):
        rv.attention(q, K, V, "scaled_dot", top_k=3)
    with pytest.raises(TypeError, match="it takes: no parameters"):
        rv.attention(q, K, V, "linear", top_k=2)
    with pytest.raises(rv.ParameterError, match="does not take 'scale'"):
        rv.attention(q, K, V, "linear", scale=1.0)


def _score_cases(rng):
    q, K, V = _inputs(rng, 29, 12, 5)
    a = rng.standard_normal(24).astype(np.float32)
    P, PK = _ball(rng, 12), _ball(rng, (29, 12))
    return [
        ("linear", q, K, ref.linear_weights(q, K), (ref.phi(K) @ ref.phi(q)), {}),
        ("gat", q, K, ref.gat_weights(q, K), ref.gat_logits(q, K), {}),
        ("gat", q, K, ref.gat_weights(q, K, 0.1, a), ref.gat_logits(q, K, 0.1, a),
         {"negative_slope": 0.1, "attention_vector": a}),
        ("sparse", q, K, ref.sparse_weights(q, K, 8), ref.scores(q, K) * 0 + (ref.f64(K) @ ref.f64(q)) / math.sqrt(12), {}),
        ("moe", q, K, ref.moe_weights(q, K), (ref.f64(K) @ ref.f64(q)) / math.sqrt(12), {}),
        ("cross", q, K, ref.scores(q, K), (ref.f64(K) @ ref.f64(q)) / math.sqrt(12), {}),
        ("sliding", q, K, ref.masked_weights(q, K, ref.sliding_mask(256)), (ref.f64(K) @ ref.f64(q)) / math.sqrt(12), {}),
        ("poincare", P, PK, ref.softmax(ref.poincare_logits(P, PK)), ref.poincare_logits(P, PK), {}),
        ("lorentz", q, K, ref.softmax(ref.lorentz_logits(q, K)), ref.lorentz_logits(q, K), {}),
    ]


def test_scores_and_score_of_every_type(backend, rng):
    for kind, q, K, weights, logits, params in _score_cases(rng):
        w = rv.attention_scores(q, K, kind, **params)
        assert w.shape == (K.shape[0],)
        assert_close(w, weights, max(1.0, float(np.max(np.abs(logits)))), f"{kind} weights")
        assert abs(float(w.astype(np.float64).sum()) - 1.0) < 1e-5
        for i in (0, K.shape[0] - 1):
            assert_close(rv.attention_score(q, K[i], kind, **params), logits[i],
                         max(1.0, abs(float(logits[i]))), f"{kind} score of key {i}")
        W2 = rv.attention_scores(np.stack([q, q]), K, kind, **params)
        assert W2.shape == (2, K.shape[0])
        if kind != "sliding":  # sliding rows have windows ending at different keys
            assert W2[0].tobytes() == W2[1].tobytes(), kind


def test_scores_of_rows_that_attend_nothing_are_zero(rng):
    Q, K, _ = _inputs(rng, 3, 4, 2, m=5)
    W = rv.attention_scores(Q, K, "cross", causal=True)
    assert_close(W, ref.masked_weights(Q, K, ref.cross_mask(True)), weights_scale(Q, K), "causal weights")
    assert not W[:2].any() and np.allclose(W[2:].sum(axis=1), 1.0)
    W = rv.attention_scores(Q, K, "sliding", window_size=2)
    assert_close(W, ref.masked_weights(Q, K, ref.sliding_mask(2)), weights_scale(Q, K), "sliding weights")


# ---------------------------------------------------------------- linear


def test_linear_summary_matches_the_definition_and_the_forward(backend, rng):
    q, K, V = _inputs(rng, 1000, 24, 17, m=6)
    s = rv.linear_attention_summary(K, V)
    S, z = ref.linear_summary(K, V)
    assert s.S.shape == (24, 17) and s.z.shape == (24,) and s.matrix.shape == (24, 18)
    assert_close(s.S, S, float((ref.phi(K).T @ np.abs(ref.f64(V))).max()), "S")
    assert_close(s.z, z, float(z.max()), "z")
    direct = rv.linear_attention(q, K, V)
    for how in ((s,), (s.S, s.z), (s.matrix,)):
        got = rv.linear_attention_from_summary(q, *how)
        assert_close(got, ref.linear_attention(q, K, V), value_scale(V), "from summary")
        assert_close(got, direct.astype(np.float64), value_scale(V), "from summary vs direct")
    one = rv.linear_attention_from_summary(q[0], s)
    assert one.shape == (17,)


def test_linear_from_summary_errors():
    s = rv.linear_attention_summary([[1.0, 0.0]], [[1.0]])
    with pytest.raises(rv.ShapeError, match="3 dimensions but the summary has 2 rows"):
        rv.linear_attention_from_summary([1.0, 0.0, 0.0], s)
    with pytest.raises(rv.ShapeError, match="dv \\+ 1 >= 2"):
        rv.linear_attention_from_summary([1.0, 0.0], [[1.0], [2.0]])
    with pytest.raises(rv.ShapeError):
        rv.linear_attention_from_summary([1.0, 0.0], s.S, s.z[:1])
    with pytest.raises(TypeError):
        rv.linear_attention_from_summary([1.0, 0.0], s, s.z)
    with pytest.raises(rv.NonFiniteError):
        rv.linear_attention_from_summary([1.0, 0.0], [[1.0, 0.0], [1.0, 0.0]])  # phi(q).z == 0
    with pytest.raises(rv.ShapeError):
        rv.linear_attention_summary(np.zeros((0, 2), np.float32), np.zeros((0, 1), np.float32))


def test_linear_edges(backend):
    # very negative inputs: every phi underflows to 0, so every weight is 0
    q = np.full(4, -200.0, np.float32)
    with pytest.raises(rv.NonFiniteError):
        rv.linear_attention(q, np.full((3, 4), -200.0, np.float32), np.ones((3, 2), np.float32))
    # phi(x) = x + 1 above 0: equal keys give equal weights whatever q
    K = np.ones((4, 3), np.float32)
    V = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert_close(rv.linear_attention([5.0, -3.0, 0.0], K, V), V.astype(np.float64).mean(axis=0), 8.0, "equal keys")


# ---------------------------------------------------------------- gat


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, -0.5, 3.0])
def test_gat_slopes_with_and_without_a(backend, rng, slope):
    q, K, V = _inputs(rng, 65, 9, 7)
    a = rng.standard_normal(18).astype(np.float32)
    got = rv.gat_attention(q, K, V, slope)
    assert_close(got, ref.gat_attention(q, K, V, slope), attention_scale(q, K, V) * max(1, abs(slope)), "gat")
    got = rv.gat_attention(q, K, V, slope, a)
    L = float(np.abs(a[:9]) @ np.abs(q) + np.max(np.abs(K) @ np.abs(a[9:])))
    assert_close(got, ref.gat_attention(q, K, V, slope, a), value_scale(V) * max(1.0, L * max(1, abs(slope))),
                 "gat with a")
    # slope 1 is no LeakyReLU at all: plain scaled-dot attention
    if slope == 1.0:
        assert_close(rv.gat_attention(q, K, V, 1.0), ref.scaled_dot_attention(q, K, V), attention_scale(q, K, V), "")


def test_gat_errors():
    q, K, V = [1.0, 0.0], [[1.0, 0.0]], [[1.0]]
    with pytest.raises(rv.ShapeError, match="2 x 2"):
        rv.gat_attention(q, K, V, 0.2, [1.0, 2.0, 3.0])
    with pytest.raises(rv.ParameterError, match="negative_slope"):
        rv.gat_attention(q, K, V, float("nan"))
    with pytest.raises(rv.ParameterError, match="negative_slope"):
        rv.gat_attention(q, K, V, 1e39)
    with pytest.raises(TypeError):
        rv.gat_attention(q, K, V, "0.2")
    with pytest.raises(rv.ParameterError, match="scale does not apply"):
        rv.gat_attention(q, K, V, 0.2, [1.0, 0.0, 1.0, 0.0], scale=1.0)
    with pytest.raises(rv.NonFiniteError, match="attention_vector"):
        rv.gat_attention(q, K, V, 0.2, [1.0, float("nan"), 1.0, 0.0])


# ---------------------------------------------------------------- sparse


def test_sparse_top_k_at_least_n_is_scaled_dot_bit_for_bit(backend, rng):
    q, K, V = _inputs(rng, 20, 8, 6, m=3)
    for k in (20, 21, 10**9):
        assert rv.sparse_attention(q, K, V, k).tobytes() == rv.scaled_dot_attention(q, K, V).tobytes()


def test_sparse_ties_go_to_the_lower_index(backend):
    K = np.array([[1.0], [2.0], [2.0], [2.0], [0.0]], np.float32)
    V = np.eye(5, dtype=np.float32)
    w = rv.attention_scores([1.0], K, "sparse", top_k=2, scale=1.0)
    assert w.tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]
    out = rv.sparse_attention([1.0], K, V, 2, scale=1.0)
    assert out.tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]
    out = rv.sparse_attention([1.0], K, V, 1, scale=1.0)
    assert out.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("k", [1, 2, 8, 31, 64])
def test_sparse_over_top_k(backend, rng, k):
    q, K, V = _inputs(rng, 4099, 16, 8)
    assert_close(rv.sparse_attention(q, K, V, k), ref.sparse_attention(q, K, V, k), attention_scale(q, K, V), f"k={k}")


# ---------------------------------------------------------------- moe


@pytest.mark.parametrize("n,experts,top_k", [(10, 4, 2), (10, 4, 4), (10, 4, 9), (3, 4, 2), (3, 10, 1),
                                              (1, 4, 2), (17, 1, 1), (100, 7, 3), (4099, 16, 5)])
def test_moe_groups_and_choices(backend, rng, n, experts, top_k):
    q, K, V = _inputs(rng, n, 8, 5)
    got = rv.moe_attention(q, K, V, experts, top_k)
    assert_close(got, ref.moe_attention(q, K, V, experts, top_k), attention_scale(q, K, V), f"moe {n} {experts} {top_k}")
    w = rv.attention_scores(q, K, "moe", n_experts=experts, top_k=top_k)
    assert_close(w, ref.moe_weights(q, K, experts, top_k), weights_scale(q, K), "moe weights")


def test_moe_group_sizes():
    # n = 10, 4 experts: groups of 3, 3, 2, 2; values tell which group attends
    K = np.zeros((10, 1), np.float32)
    V = np.repeat(np.eye(4, dtype=np.float32), [3, 3, 2, 2], axis=0)
    w = rv.attention_scores([1.0], K, "moe", n_experts=4, top_k=4)
    assert np.allclose(w, np.repeat([1 / 12, 1 / 12, 1 / 8, 1 / 8], [3, 3, 2, 2]))
    out = rv.moe_attention([1.0], K, V, 4, 4)
    assert np.allclose(out, 0.25)


# ---------------------------------------------------------------- cross and sliding


@pytest.mark.parametrize("m,n", [(1, 1), (1, 50), (7, 7), (5, 40), (40, 5), (64, 64), (65, 130), (130, 65),
                                 (200, 300)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("heads", [1, 2, 8])
def test_cross_shapes(backend, rng, m, n, causal, heads):
    Q, K, V = _inputs(rng, n, 16, 24, m=m)
    got = rv.cross_attention(Q, K, V, causal, heads)
    expected = ref.cross_attention(Q, K, V, causal, heads)
    assert_close(got, expected, attention_scale(Q, K, V, heads=heads), f"cross m={m} n={n}")
    if causal and m > n:
        assert not got[: m - n].any()  # rows that attend no key


def test_self_attention(backend, rng):
    X = rng.standard_normal((97, 64)).astype(np.float32)
    got = rv.cross_attention(X, X, X, True, 8)
    assert_close(got, ref.cross_attention(X, X, X, True, 8), attention_scale(X, X, X, heads=8), "self-attention")
    assert_close(rv.cross_attention(X[5], X, X), ref.scaled_dot_attention(X[5], X, X),
                 attention_scale(X[5], X, X), "one query is scaled-dot")


@pytest.mark.parametrize("window", [1, 2, 7, 256, 10**6])
@pytest.mark.parametrize("m,n", [(1, 300), (9, 300), (300, 300), (40, 5)])
def test_sliding_windows(backend, rng, window, m, n):
    Q, K, V = _inputs(rng, n, 12, 10, m=m)
    got = rv.sliding_window_attention(Q, K, V, window)
    assert_close(got, ref.sliding_window_attention(Q, K, V, window), attention_scale(Q, K, V), f"w={window}")
    one = rv.sliding_window_attention(Q[-1], K, V, window)
    last = K[max(0, n - window):], V[max(0, n - window):]
    assert_close(one, ref.scaled_dot_attention(Q[-1], *last), attention_scale(Q[-1], *last), "last keys")


# ---------------------------------------------------------------- hyperbolic


@pytest.mark.parametrize("c", [1e-4, 0.01, 1.0, 3.0, 1e4])
@pytest.mark.parametrize("model", ["poincare", "lorentz"])
def test_hyperbolic_curvatures(backend, rng, c, model):
    q, K, V = _hyper_inputs(rng, model, 60, 10, 6, c=c)
    out = _check_hyper(model, q, K, V, c, f"c={c}")
    if model == "poincare":
        assert c * float(out.astype(np.float64) @ out.astype(np.float64)) < 1.0


@pytest.mark.parametrize("c", [1.0, 0.25])
def test_poincare_near_the_boundary(backend, rng, c):
    d = 16
    x = rng.standard_normal((40, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for gap in (1e-3, 1e-5, 1e-6, 6e-8):
        pts = (x * (1.0 - gap) / math.sqrt(c)).astype(np.float32)
        pts = pts[c * np.sum(pts.astype(np.float64) ** 2, axis=1) < 1.0]  # float32 rounding
        q = pts[0]
        out = rv.hyperbolic_attention(q, pts, pts, "poincare", c)
        assert np.all(np.isfinite(out))
        expected = ref.poincare_attention(q, pts, pts, c)
        assert_close(out, expected, _hyp_scale(ref.poincare_logits(q, pts, c), pts), f"gap {gap}")
        # q is a key: its logit is exactly minus a zero distance
        assert rv.attention_score(q, q, "poincare", curvature=c) == 0.0


def test_lorentz_far_points_and_self(backend, rng):
    q, K, V = _hyper_inputs(rng, "lorentz", 30, 8, 5)
    for far in (10.0, 100.0):
        _check_hyper("lorentz", q * far, K * far, V, what=f"x{far}")
    assert rv.attention_score(K[3], K[3], "lorentz") == 0.0
    zero = np.zeros(8, np.float32)
    _check_hyper("lorentz", zero, np.zeros((3, 8), np.float32), np.zeros((3, 5), np.float32), what="origin")
    _check_hyper("poincare", zero, np.zeros((3, 8), np.float32), np.zeros((3, 5), np.float32), what="origin")


def test_outside_the_ball_names_the_row():
    inside = [[0.1, 0.0], [0.0, 0.1]]
    outside = [[0.1, 0.0], [0.8, 0.8]]
    with pytest.raises(rv.OutsideBallError, match="keys row 1"):
        rv.hyperbolic_attention([0.0, 0.1], outside, inside)
    with pytest.raises(rv.OutsideBallError, match="values row 1"):
        rv.hyperbolic_attention([0.0, 0.1], inside, outside)
    with pytest.raises(rv.OutsideBallError, match="query"):
        rv.hyperbolic_attention([1.0, 0.0], inside, inside)
    with pytest.raises(rv.OutsideBallError, match="query row 1"):
        rv.hyperbolic_attention([[0.0, 0.1], [0.0, 2.0]], inside, inside)
    # the same points fit in a flatter ball
    assert np.all(np.isfinite(rv.hyperbolic_attention([0.0, 0.1], outside, inside, curvature=0.5)))
    # Lorentz takes any point
    assert np.all(np.isfinite(rv.hyperbolic_attention([5.0, 0.0], outside, outside, "lorentz")))
    with pytest.raises(ValueError):
        rv.attention_scores([0.0, 0.1], outside, "poincare")


# ---------------------------------------------------------------- parameter errors


@pytest.mark.parametrize("call,match", [
    (lambda q, K, V: rv.sparse_attention(q, K, V, 0), "top_k must be at least 1"),
    (lambda q, K, V: rv.sparse_attention(q, K, V, -3), "top_k must be at least 1"),
    (lambda q, K, V: rv.moe_attention(q, K, V, 0), "n_experts must be at least 1"),
    (lambda q, K, V: rv.moe_attention(q, K, V, 4, 0), "top_k must be at least 1"),
    (lambda q, K, V: rv.sliding_window_attention(q, K, V, 0), "window_size must be at least 1"),
    (lambda q, K, V: rv.cross_attention(q, K, V, False, 0), "num_heads"),
    (lambda q, K, V: rv.cross_attention(q, K, V, False, 3), "does not divide"),
    (lambda q, K, V: rv.hyperbolic_attention(q, K, V, "poincare", 0.0), "curvature"),
    (lambda q, K, V: rv.hyperbolic_attention(q, K, V, "lorentz", -1.0), "curvature"),
    (lambda q, K, V: rv.hyperbolic_attention(q, K, V, "lorentz", float("inf")), "curvature"),
    (lambda q, K, V: rv.hyperbolic_attention(q, K, V, "lorentz", 1e-50), "curvature"),
    (lambda q, K, V: rv.hyperbolic_attention(q, K, V, "klein"), "unknown hyperbolic model"),
    (lambda q, K, V: rv.sparse_attention(q, K, V, 2, scale=float("inf")), "scale"),
    (lambda q, K, V: rv.attention(q, K, V, "nope"), "unknown attention type"),
])
def test_parameter_errors(call, match):
    q = np.array([0.1, 0.2, 0.0, 0.1], np.float32)
    K = np.full((3, 4), 0.1, np.float32)
    V = np.full((3, 2), 0.1, np.float32)
    with pytest.raises(rv.ParameterError, match=match):
        call(q, K, V)


@pytest.mark.parametrize("call", [
    lambda q, K, V: rv.sparse_attention(q, K, V, 2.0),
    lambda q, K, V: rv.sparse_attention(q, K, V, True),
    lambda q, K, V: rv.cross_attention(q, K, V, 1),
    lambda q, K, V: rv.hyperbolic_attention(q, K, V, 3),
    lambda q, K, V: rv.hyperbolic_attention(q, K, V, "lorentz", "1"),
])
def test_parameter_type_errors(call):
    q, K, V = np.ones(4, np.float32), np.ones((3, 4), np.float32), np.ones((3, 2), np.float32)
    with pytest.raises(TypeError):
        call(q, K, V)


@pytest.mark.parametrize("kind", sorted(CASES) + ["poincare", "lorentz"])
def test_shape_and_value_errors(kind):
    q, K, V = np.full(4, 0.1, np.float32), np.full((3, 4), 0.1, np.float32), np.full((3, 2), 0.1, np.float32)
    with pytest.raises(rv.ShapeError):
        rv.attention(q, K[:, :3], V, kind)
    with pytest.raises(rv.ShapeError):
        rv.attention(q, K, V[:2], kind)
    with pytest.raises(rv.ShapeError):
        rv.attention(q, np.zeros((0, 4), np.float32), np.zeros((0, 2), np.float32), kind)
    with pytest.raises(rv.ShapeError):
        rv.attention(np.zeros(0, np.float32), K, V, kind)
    for name, arr in (("query", q), ("keys", K), ("values", V)):
        bad = arr.copy()
        bad.flat[0] = np.nan  # the first key and value: every type reads them here
        args = {"query": q, "keys": K, "values": V}
        args[name] = bad
        with pytest.raises(rv.NonFiniteError, match=name):
            rv.attention(args["query"], args["keys"], args["values"], kind)


def test_values_a_type_does_not_read_are_not_inspected(backend):
    """NaN checks cover what a call reads: the values of keys that sparse or
    moe leave out, and the keys and values before a sliding window, are not
    read at all (that is the point of those types), so they cannot fail it."""
    K = np.array([[3.0], [1.0], [2.0], [-5.0]], np.float32)
    V = np.array([[1.0], [2.0], [3.0], [np.nan]], np.float32)
    assert np.isfinite(rv.sparse_attention([1.0], K, V, 2)).all()
    with pytest.raises(rv.NonFiniteError, match="values row 3"):
        rv.sparse_attention([1.0], K, V, 4)
    assert np.isfinite(rv.moe_attention([1.0], K, V, 2, 1)).all()
    Kn = np.array([[np.nan], [0.0], [0.0]], np.float32)
    assert np.isfinite(rv.sliding_window_attention([1.0], Kn, np.ones((3, 1), np.float32), 2)).all()
    with pytest.raises(rv.NonFiniteError, match="keys row 0"):
        rv.sliding_window_attention([1.0], Kn, np.ones((3, 1), np.float32), 3)


def test_python_defaults_are_the_cores():
    """The defaults in the Python signatures are the core's (rv_attention_params_init),
    which the SQL defaults are checked against in test_sql.py."""
    import inspect

    from ruvector_cffi import _binding, _params

    lib = _binding.lib

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    gat = _params.default_params(lib.RV_ATTN_GAT)
    assert np.float32(default(rv.gat_attention, "negative_slope")) == np.float32(gat.negative_slope)
    assert default(rv.sparse_attention, "top_k") == _params.default_params(lib.RV_ATTN_SPARSE).top_k
    moe = _params.default_params(lib.RV_ATTN_MOE)
    assert (default(rv.moe_attention, "n_experts"), default(rv.moe_attention, "top_k")) == (moe.n_experts, moe.top_k)
    cross = _params.default_params(lib.RV_ATTN_CROSS)
    assert (default(rv.cross_attention, "causal"), default(rv.cross_attention, "num_heads")) == \
        (bool(cross.causal), cross.num_heads)
    assert default(rv.sliding_window_attention, "window_size") == _params.default_params(lib.RV_ATTN_SLIDING).window
    assert np.float32(default(rv.hyperbolic_attention, "curvature")) == \
        np.float32(_params.default_params(lib.RV_ATTN_POINCARE).curvature)
    assert default(rv.flash_attention, "block_size") == _params.default_params(lib.RV_ATTN_FLASH_V2).block_size
    assert default(rv.multi_head_attention, "num_heads") == _params.default_params(lib.RV_ATTN_MULTI_HEAD).num_heads


def test_an_empty_attention_vector_is_none_as_in_sql(rng):
    q, K, V = _inputs(rng, 20, 6, 3)
    assert rv.gat_attention(q, K, V, 0.2, []).tobytes() == rv.gat_attention(q, K, V).tobytes()
    assert rv.gat_attention(q, K, V, 0.2, np.zeros(0, np.float32)).tobytes() == rv.gat_attention(q, K, V).tobytes()


def test_scale_where_a_type_takes_none_is_a_parameter_error():
    q = [1.0, 0.0, 0.0, 1.0]
    for extra in ({}, {"num_heads": 2}):
        with pytest.raises(rv.ParameterError):
            rv.attention_score(q, q, "multi_head", scale=1.0, **extra)
    with pytest.raises(rv.ParameterError, match="does not take 'scale'"):
        rv.attention_scores(q, [q], "poincare", scale=1.0)
    with pytest.raises(TypeError, match="does not take 'window_size'"):
        rv.attention_scores(q, [q], "poincare", window_size=3)

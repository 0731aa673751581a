"""scaled_dot_attention / multi_head_attention / flash_attention against the
float64 reference, on every backend, over the tail lengths of n, d and dv."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ruvector_cffi as rv
import reference as ref
from reference import TAILS, assert_close, attention_scale, value_scale, weights_scale

BASE_N, BASE_D, BASE_DV = 33, 24, 20


def _inputs(rng, n, d, dv, m=None):
    q = rng.standard_normal(d if m is None else (m, d)).astype(np.float32)
    K = rng.standard_normal((n, d)).astype(np.float32)
    V = (rng.standard_normal((n, dv)) * 4).astype(np.float32)
    return q, K, V


def _check_sdpa_and_flash(q, K, V, what, block_sizes=(64,)):
    expected = ref.scaled_dot_attention(q, K, V)
    scale = attention_scale(q, K, V)
    got = rv.scaled_dot_attention(q, K, V)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert_close(got, expected, scale, f"scaled_dot {what}")
    for b in block_sizes:
        assert_close(rv.flash_attention(q, K, V, b), expected, scale, f"flash b={b} {what}")


def _check_mha(q, K, V, heads, what):
    out_ref, w_ref = ref.multi_head_attention(q, K, V, heads)
    out = rv.multi_head_attention(q, K, V, heads)
    assert_close(out, out_ref, attention_scale(q, K, V, heads=heads), f"mha {what}")
    out2, w = rv.multi_head_attention(q, K, V, heads, return_weights=True)
    assert out2.tobytes() == out.tobytes()
    assert w.dtype == np.float32 and w.shape == w_ref.shape
    assert_close(w, w_ref, weights_scale(q, K, heads=heads), f"mha weights {what}")


# ---------------------------------------------------------------- tail lengths


@pytest.mark.parametrize("n", TAILS)
def test_over_n(backend, rng, n):
    q, K, V = _inputs(rng, n, BASE_D, BASE_DV)
    _check_sdpa_and_flash(q, K, V, f"n={n}", block_sizes=(1, 3, 64))
    _check_mha(q, K, V, 4, f"n={n}")


@pytest.mark.parametrize("d", TAILS)
def test_over_d(backend, rng, d):
    q, K, V = _inputs(rng, BASE_N, d, BASE_DV)
    _check_sdpa_and_flash(q, K, V, f"d={d}")
    _check_mha(q, K, V, 1, f"d={d}")


@pytest.mark.parametrize("dv", TAILS)
def test_over_dv(backend, rng, dv):
    q, K, V = _inputs(rng, BASE_N, BASE_D, dv)
    _check_sdpa_and_flash(q, K, V, f"dv={dv}")
    _check_mha(q, K, V, 1, f"dv={dv}")


@pytest.mark.parametrize("dh", TAILS)
def test_multi_head_over_head_dims(backend, rng, dh):
    # 4 heads of dh query dims and dh value dims each: the tails inside a head
    q, K, V = _inputs(rng, 17, 4 * dh, 4 * dh)
    _check_mha(q, K, V, 4, f"dh={dh}")


@pytest.mark.parametrize("m", [1, 2, 5, 17])
def test_batches_are_independent_rows(backend, rng, m):
    Q, K, V = _inputs(rng, 40, 16, 12, m=m)
    _check_sdpa_and_flash(Q, K, V, f"m={m}", block_sizes=(7, 64))
    _check_mha(Q, K, V, 4, f"m={m}")
    sd = rv.scaled_dot_attention(Q, K, V)
    fl = rv.flash_attention(Q, K, V, 7)
    mh, w = rv.multi_head_attention(Q, K, V, 4, return_weights=True)
    assert sd.shape == fl.shape == mh.shape == (m, 12) and w.shape == (m, 40)
    for r in range(m):
        assert sd[r].tobytes() == rv.scaled_dot_attention(Q[r], K, V).tobytes()
        assert fl[r].tobytes() == rv.flash_attention(Q[r], K, V, 7).tobytes()
        assert mh[r].tobytes() == rv.multi_head_attention(Q[r], K, V, 4).tobytes()


def test_zero_queries_give_an_empty_batch():
    K = np.ones((3, 4), np.float32)
    V = np.ones((3, 2), np.float32)
    Q = np.empty((0, 4), np.float32)
    assert rv.scaled_dot_attention(Q, K, V).shape == (0, 2)
    assert rv.flash_attention(Q, K, V).shape == (0, 2)
    assert rv.multi_head_attention(Q, K, V, 2).shape == (0, 2)
    out, w = rv.multi_head_attention(Q, K, V, 2, return_weights=True)
    assert out.shape == (0, 2) and w.shape == (0, 3)


# ---------------------------------------------------------------- random shapes


@given(
    n=st.integers(1, 80), d=st.integers(1, 40), dv=st.integers(1, 40), m=st.integers(0, 3),
    block=st.integers(1, 100), seed=st.integers(0, 2**32 - 1), magnitude=st.sampled_from([1e-3, 1.0, 30.0]),
)
def test_random_shapes(backend, n, d, dv, m, block, seed, magnitude):
    rng = np.random.default_rng(seed)
    q, K, V = _inputs(rng, n, d, dv, m=None if m == 0 else m)
    q *= np.float32(magnitude)
    _check_sdpa_and_flash(q, K, V, f"n={n} d={d} dv={dv} m={m}", block_sizes=(block,))


@given(
    n=st.integers(1, 60), dh=st.integers(1, 12), dvh=st.integers(1, 12), heads=st.integers(1, 6),
    m=st.integers(0, 3), seed=st.integers(0, 2**32 - 1),
)
def test_random_multi_head_shapes(backend, n, dh, dvh, heads, m, seed):
    rng = np.random.default_rng(seed)
    q, K, V = _inputs(rng, n, dh * heads, dvh * heads, m=None if m == 0 else m)
    _check_mha(q, K, V, heads, f"n={n} dh={dh} dvh={dvh} H={heads} m={m}")


# ---------------------------------------------------------------- hard inputs


def _exact_logit_inputs(logits, dv=5, seed=0):
    """q = [2, 0.5] and k_i = [l_i / 2, 0]: with scale 1 every logit is exactly l_i."""
    lg = np.asarray(logits, np.float64)
    q = np.array([2.0, 0.5], np.float32)
    K = np.stack([lg / 2.0, np.zeros_like(lg)], axis=1).astype(np.float32)
    V = np.random.default_rng(seed).standard_normal((lg.size, dv)).astype(np.float32)
    return q, K, V


@pytest.mark.parametrize(
    "logits",
    [
        [1e4, -1e4, 0.0, -1e4],                    # one dominant key
        [1e4, 1e4 - 1, 1e4 - 3, -1e4, 1e4 - 0.5],  # large and close together
        [-1e4] * 7 + [-1e4 + 2],
        [3.0] * 65,                                # all equal
        list(np.linspace(-1e4, 1e4, 1001)),
    ],
)
def test_large_exact_logits(backend, logits):
    q, K, V = _exact_logit_inputs(logits)
    expected = ref.softmax(logits) @ V.astype(np.float64)
    sv = value_scale(V)
    assert_close(rv.scaled_dot_attention(q, K, V, scale=1.0), expected, sv)
    for b in (1, 3, 64, len(logits), len(logits) + 1):
        assert_close(rv.flash_attention(q, K, V, b, scale=1.0), expected, sv, f"flash b={b}")


def test_all_equal_logits_average_the_values(backend, rng):
    K = np.ones((100, 8), np.float32)
    V = rng.standard_normal((100, 6)).astype(np.float32)
    q = rng.standard_normal(8).astype(np.float32)
    mean = V.astype(np.float64).mean(axis=0)
    assert_close(rv.scaled_dot_attention(q, K, V), mean, value_scale(V))
    assert_close(rv.flash_attention(q, K, V, 7), mean, value_scale(V))
    assert_close(rv.multi_head_attention(q, K, V, 2), mean, value_scale(V))


def test_one_dominant_key_selects_its_value(backend, rng):
    n = 1000
    K = rng.standard_normal((n, 16)).astype(np.float32)
    K[417] = 100.0
    q = np.full(16, 100.0, np.float32)
    V = rng.standard_normal((n, 4)).astype(np.float32)
    for got in (rv.scaled_dot_attention(q, K, V), rv.flash_attention(q, K, V, 64),
                rv.multi_head_attention(q, K, V, 4)):
        assert_close(got, V[417], value_scale(V))


@pytest.mark.parametrize("magnitude", [1e18, 1e-30, 1e30, 1e-20])
def test_huge_and_tiny_values(backend, rng, magnitude):
    q, K, V = _inputs(rng, 50, 8, 4)
    V = (V * np.float32(magnitude)).astype(np.float32)
    expected = ref.scaled_dot_attention(q, K, V)
    assert_close(rv.scaled_dot_attention(q, K, V), expected, attention_scale(q, K, V))
    assert_close(rv.flash_attention(q, K, V, 16), expected, attention_scale(q, K, V))
    assert_close(rv.multi_head_attention(q, K, V, 4), ref.multi_head_attention(q, K, V, 4)[0],
                 attention_scale(q, K, V, heads=4))


@pytest.mark.parametrize("magnitude", [1e-30, 1e-10, 1e9])
def test_huge_and_tiny_queries_and_keys(backend, rng, magnitude):
    # 1e-30: products underflow, uniform weights; 1e9: logits of about 1e18, one
    # key takes all the weight.  Either way the weights are exact: max|V| is the scale.
    q, K, V = _inputs(rng, 20, 8, 4)
    q = (q * np.float32(magnitude)).astype(np.float32)
    K = (K * np.float32(magnitude)).astype(np.float32)
    expected = ref.scaled_dot_attention(q, K, V)
    assert_close(rv.scaled_dot_attention(q, K, V), expected, value_scale(V))
    assert_close(rv.flash_attention(q, K, V, 3), expected, value_scale(V))


# ---------------------------------------------------------------- flash vs scaled_dot


@pytest.mark.parametrize("n", [1, 7, 64, 65, 200, 4099])
def test_flash_equals_scaled_dot_for_every_block_size(backend, rng, n):
    q, K, V = _inputs(rng, n, 16, 8)
    q *= np.float32(3.0)  # sharper weights, so that the running max moves
    expected = rv.scaled_dot_attention(q, K, V)
    for b in (1, 3, 64, n, n + 1, 65536):
        got = rv.flash_attention(q, K, V, block_size=b)
        assert_close(got, expected, attention_scale(q, K, V), f"flash n={n} b={b}")
        assert_close(got, ref.scaled_dot_attention(q, K, V), attention_scale(q, K, V), f"flash n={n} b={b} vs ref")


def test_increasing_logits_rescale_every_tile(backend):
    # each tile's max beats the previous one: the rescale path runs every time
    n = 300
    lg = np.arange(n, dtype=np.float64) * 0.25
    q, K, V = _exact_logit_inputs(lg, dv=3, seed=1)
    expected = ref.softmax(lg) @ V.astype(np.float64)
    for b in (1, 2, 5, 64):
        assert_close(rv.flash_attention(q, K, V, b, scale=1.0), expected, value_scale(V), f"b={b}")


def test_explicit_scale(backend, rng):
    q, K, V = _inputs(rng, 30, 6, 5)
    for s in (0.0, 0.5, -1.25, 3):
        expected = ref.scaled_dot_attention(q, K, V, scale=float(s))
        bar = attention_scale(q, K, V, scale=float(s))
        assert_close(rv.scaled_dot_attention(q, K, V, scale=s), expected, bar)
        assert_close(rv.flash_attention(q, K, V, 4, scale=s), expected, bar)


def test_multi_head_with_one_head_is_scaled_dot(backend, rng):
    q, K, V = _inputs(rng, 21, 10, 6)
    assert_close(rv.multi_head_attention(q, K, V, 1), rv.scaled_dot_attention(q, K, V), attention_scale(q, K, V))


# ---------------------------------------------------------------- scratch sizes


# a thread's dv doubles (the weighted values accumulate in double) and one float of alignment
def _acc_bytes(dv: int) -> int:
    return 8 * dv + 4


def test_flash_scratch_does_not_grow_with_n():
    small = rv.flash_attention_scratch_bytes(1_000, 64, 64)
    large = rv.flash_attention_scratch_bytes(1_000_000, 64, 64)
    assert small == large == 64 * 4 + _acc_bytes(64)
    assert rv.flash_attention_scratch_bytes(1_000_000, 64, 64, block_size=256) == 256 * 4 + _acc_bytes(64)
    # one tile of n
    assert rv.flash_attention_scratch_bytes(10, 64, 64, block_size=256) == 10 * 4 + _acc_bytes(64)
    # scaled_dot needs a row of n logits
    assert rv.scaled_dot_attention_scratch_bytes(1_000, 64, 64) == 1_000 * 4 + _acc_bytes(64)
    assert rv.scaled_dot_attention_scratch_bytes(1_000_000, 64, 64) == 1_000_000 * 4 + _acc_bytes(64)


def test_scratch_grows_with_the_threads_a_batch_uses():
    # 8 queries of 1M keys: enough work for a thread each, up to the cap
    assert (rv.scaled_dot_attention_scratch_bytes(1_000_000, 64, 64, threads=4, queries=8)
            == 4 * (1_000_000 * 4 + _acc_bytes(64)))
    assert (rv.flash_attention_scratch_bytes(1_000_000, 64, 64, 64, threads=4, queries=8)
            == 4 * (64 * 4 + _acc_bytes(64)))
    assert rv.flash_attention_scratch_bytes(1_000_000, 64, 64, 64, threads=1, queries=8) == 64 * 4 + _acc_bytes(64)


# ---------------------------------------------------------------- values near the float32 limit


def test_scaled_dot_handles_values_near_the_float32_limit(backend):
    q = np.zeros(4, np.float32)
    K = np.zeros((8, 4), np.float32)
    V = np.full((8, 2), 3e38, np.float32)
    assert_close(rv.scaled_dot_attention(q, K, V), [3e38, 3e38], value_scale(V))
    assert_close(rv.multi_head_attention(q, K, V, 2), [3e38, 3e38], value_scale(V))


def test_flash_handles_values_near_the_float32_limit(backend):
    q = np.zeros(4, np.float32)
    K = np.zeros((8, 4), np.float32)
    V = np.full((8, 2), 3e38, np.float32)
    assert_close(rv.flash_attention(q, K, V), [3e38, 3e38], value_scale(V))


# ---------------------------------------------------------------- array layouts


def _misaligned(a):
    """A copy of float32 array a whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    view = raw[1:].view(np.float32).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


def _read_only(a):
    b = a.copy()
    b.flags.writeable = False
    return b


@pytest.mark.parametrize(
    "layout",
    [np.asfortranarray, _misaligned, _read_only, lambda a: a.astype(">f4"), lambda a: a.astype(np.float64),
     lambda a: a.astype(np.float16).astype(np.float32), lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
     lambda a: a.tolist()],
    ids=["fortran", "misaligned", "read-only", "big-endian", "float64", "float16-values", "strided", "list"],
)
def test_any_layout_gives_the_same_result(rng, layout):
    Q, K, V = _inputs(rng, 9, 8, 6, m=3)
    Q, K, V = (a.astype(np.float16).astype(np.float32) for a in (Q, K, V))  # exact in every dtype used
    expected = [rv.scaled_dot_attention(Q, K, V), rv.flash_attention(Q, K, V, 4),
                rv.multi_head_attention(Q, K, V, 2), rv.attention_scores(Q, K)]
    q2, K2, V2 = layout(Q), layout(K), layout(V)
    got = [rv.scaled_dot_attention(q2, K2, V2), rv.flash_attention(q2, K2, V2, 4),
           rv.multi_head_attention(q2, K2, V2, 2), rv.attention_scores(q2, K2)]
    for e, g in zip(expected, got):
        assert g.dtype == np.float32 and g.flags.c_contiguous
        assert g.tobytes() == e.tobytes()
    assert rv.softmax(layout(K[0])).tobytes() == rv.softmax(K[0]).tobytes()
    assert rv.attention_score(layout(Q[0]), layout(K[1])) == rv.attention_score(Q[0], K[1])


def test_inputs_are_never_modified(rng):
    Q, K, V = _inputs(rng, 9, 8, 6, m=3)
    before = [a.copy() for a in (Q, K, V)]
    rv.scaled_dot_attention(Q, K, V)
    rv.flash_attention(Q, K, V, 2)
    rv.multi_head_attention(Q, K, V, 2, return_weights=True)
    rv.attention_scores(Q, K, "multi_head")
    rv.softmax(K[0])
    for a, b in zip((Q, K, V), before):
        assert a.tobytes() == b.tobytes()

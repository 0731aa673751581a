"""attention_score / attention_scores / attention_types against the float64
reference, on every backend."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ruvector_cffi as rv
import reference as ref
from reference import TAILS, assert_close

SCALED_DOT_NAMES = ["scaled_dot", "SCALED_DOT", "Scaled_Dot", "scaleddot", "flash_v2", "flashv2", "flash", "FLASH"]
MULTI_HEAD_NAMES = ["multi_head", "MultiHead", "multihead"]


# ---------------------------------------------------------------- attention_score


@pytest.mark.parametrize("d", TAILS)
def test_score_tail_lengths(backend, rng, d):
    q = rng.standard_normal(d).astype(np.float32)
    k = rng.standard_normal(d).astype(np.float32)
    got = rv.attention_score(q, k)
    assert isinstance(got, float)
    assert_close(got, ref.logit(q, k), ref.logit_magnitude(q, k), f"score d={d}")


@pytest.mark.parametrize("dh", TAILS)
def test_multi_head_score_tail_lengths(backend, rng, dh):
    d = 4 * dh
    q = rng.standard_normal(d).astype(np.float32)
    k = rng.standard_normal(d).astype(np.float32)
    got = rv.attention_score(q, k, "multi_head")
    assert_close(got, ref.multi_head_logit(q, k, 4), ref.logit_magnitude(q, k, 1 / math.sqrt(dh)),
                 f"multi_head score d={d}")


@pytest.mark.parametrize("name", SCALED_DOT_NAMES)
def test_score_type_names_and_aliases(name):
    # scaled_dot and flash_v2 score a pair the same way: q.k / sqrt(d)
    assert rv.attention_score([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], name) == 10.0


@pytest.mark.parametrize("name", MULTI_HEAD_NAMES)
def test_multi_head_score_names(name):
    # heads of 1 dim: mean of q_h k_h / sqrt(1) = (1*4 + 2*3 + 3*2 + 4*1) / 4
    assert rv.attention_score([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], name) == 5.0


def test_score_explicit_scale(backend):
    assert rv.attention_score([3.0, 4.0], [3.0, 4.0], scale=0.5) == 12.5
    assert rv.attention_score([3.0, 4.0], [3.0, 4.0], scale=0) == 0.0
    assert rv.attention_score([3.0, 4.0], [3.0, 4.0], scale=-2) == -50.0
    assert rv.attention_score([3.0, 4.0], [3.0, 4.0], scale=np.float32(1.0)) == 25.0


@pytest.mark.parametrize(
    "q, k, expected",
    [
        ([100.0] * 16, [100.0] * 16, 1e4 * 16 / 4),             # exactly representable, large
        ([100.0] * 16, [-100.0] * 16, -1e4 * 16 / 4),
        ([1e18, 1.0], [1e-18, 1.0], (1.0 + 1.0) / math.sqrt(2)),  # huge x tiny
        ([1e-30] * 4, [1e-30] * 4, 0.0),                           # underflows to 0
    ],
)
def test_score_hard_inputs(backend, q, k, expected):
    q32, k32 = np.array(q, np.float32), np.array(k, np.float32)
    got = rv.attention_score(q32, k32)
    assert_close(got, ref.logit(q32, k32), ref.logit_magnitude(q32, k32))
    assert_close(got, expected, ref.logit_magnitude(q32, k32))


# ---------------------------------------------------------------- attention_scores


@pytest.mark.parametrize("n", TAILS)
def test_scores_over_n(backend, rng, n):
    q = rng.standard_normal(16).astype(np.float32)
    K = rng.standard_normal((n, 16)).astype(np.float32)
    got = rv.attention_scores(q, K)
    assert got.shape == (n,) and got.dtype == np.float32
    assert_close(got, ref.scores(q, K), ref.weights_scale(q, K), f"scores n={n}")
    assert abs(float(got.astype(np.float64).sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("d", TAILS)
def test_scores_over_d(backend, rng, d):
    q = rng.standard_normal(d).astype(np.float32)
    K = rng.standard_normal((9, d)).astype(np.float32)
    assert_close(rv.attention_scores(q, K), ref.scores(q, K), ref.weights_scale(q, K), f"scores d={d}")


@pytest.mark.parametrize("n", TAILS)
def test_multi_head_scores_over_n(backend, rng, n):
    q = rng.standard_normal(12).astype(np.float32)
    K = rng.standard_normal((n, 12)).astype(np.float32)
    got = rv.attention_scores(q, K, "multi_head")
    assert_close(got, ref.multi_head_scores(q, K, 4), ref.weights_scale(q, K, heads=4), f"multi_head scores n={n}")


@pytest.mark.parametrize("dh", TAILS)
def test_multi_head_scores_over_d(backend, rng, dh):
    q = rng.standard_normal(4 * dh).astype(np.float32)
    K = rng.standard_normal((5, 4 * dh)).astype(np.float32)
    assert_close(rv.attention_scores(q, K, "MultiHead"), ref.multi_head_scores(q, K, 4), ref.weights_scale(q, K, heads=4))


@pytest.mark.parametrize("name", SCALED_DOT_NAMES + MULTI_HEAD_NAMES)
def test_batched_scores_are_the_rows(backend, rng, name):
    Q = rng.standard_normal((5, 8)).astype(np.float32)
    K = rng.standard_normal((11, 8)).astype(np.float32)
    got = rv.attention_scores(Q, K, name)
    assert got.shape == (5, 11)
    for r in range(5):
        assert got[r].tobytes() == rv.attention_scores(Q[r], K, name).tobytes()
    heads = 4 if name in MULTI_HEAD_NAMES else 1
    expected = ref.multi_head_scores(Q, K, 4) if heads == 4 else ref.scores(Q, K)
    assert_close(got, expected, ref.weights_scale(Q, K, heads=heads))


def test_scores_explicit_scale(backend):
    got = rv.attention_scores([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], scale=2.0)
    assert_close(got, ref.softmax([2.0, 0.0]), 1.0)


@pytest.mark.parametrize(
    "logits",
    [
        [1e4, -1e4, 0.0],                       # one dominant key
        [1e4, 1e4 - 1, 1e4 - 2, -1e4],          # large but close
        [7.0] * 33,                             # all equal
        [0.0] * 4099,
    ],
)
def test_scores_hard_logits(backend, logits):
    # q = [2, 0.5], k_i = [l_i / 2, 0]: every product and logit is exact in float32
    lg = np.array(logits, np.float64)
    q = np.array([2.0, 0.5], np.float32)
    K = np.stack([lg / 2.0, np.zeros_like(lg)], axis=1).astype(np.float32)
    assert np.array_equal(K[:, 0].astype(np.float64) * 2.0, lg)
    got = rv.attention_scores(q, K, scale=1.0)
    assert_close(got, ref.scores(q, K, 1.0), 1.0)
    assert_close(got, ref.softmax(lg), 1.0)


def test_scores_huge_and_tiny_magnitudes(backend):
    # products of 1e18 and 1e-18 are ordinary; 1e-30 squared underflows to 0
    q = np.array([1e18, 1e-30], np.float32)
    K = np.array([[2e-18, 1e-30], [1e-18, 1e-30], [0.0, 1e-30]], np.float32)
    got = rv.attention_scores(q, K, scale=1.0)
    assert_close(got, ref.scores(q, K, 1.0), ref.weights_scale(q, K, 1.0))


@given(
    st.integers(1, 64), st.integers(1, 70), st.integers(0, 3),
    st.sampled_from(["scaled_dot", "multi_head"]), st.integers(0, 2**32 - 1),
)
def test_scores_random_shapes(backend, n, d, batch, name, seed):
    rng = np.random.default_rng(seed)
    if name == "multi_head":
        d = 4 * d
    shape = (d,) if batch == 0 else (batch, d)
    Q = (rng.standard_normal(shape) * 3).astype(np.float32)
    K = (rng.standard_normal((n, d)) * 3).astype(np.float32)
    got = rv.attention_scores(Q, K, name)
    heads = 4 if name == "multi_head" else 1
    expected = ref.multi_head_scores(Q, K, 4) if heads == 4 else ref.scores(Q, K)
    assert_close(got, expected, ref.weights_scale(Q, K, heads=heads))


@pytest.mark.parametrize("keys", [[], np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty((0, 0))])
@pytest.mark.parametrize("name", ["scaled_dot", "multi_head"])
def test_zero_keys_give_empty_weights(keys, name):
    got = rv.attention_scores([1.0, 2.0, 3.0, 4.0], keys, name)
    assert got.shape == (0,) and got.dtype == np.float32
    batched = rv.attention_scores(np.ones((2, 4), np.float32), keys, name)
    assert batched.shape == (2, 0) and batched.dtype == np.float32


def test_zero_queries_give_empty_batch():
    got = rv.attention_scores(np.empty((0, 3), np.float32), np.ones((4, 3), np.float32))
    assert got.shape == (0, 4)


# ---------------------------------------------------------------- attention_types


def test_attention_types_catalogue():
    types = rv.attention_types()
    assert [t.name for t in types] == [
        "scaled_dot", "multi_head", "flash_v2", "linear", "gat", "sparse",
        "moe", "cross", "sliding", "poincare", "lorentz",
    ]
    for t in types:
        assert isinstance(t, rv.AttentionType) and isinstance(t, tuple)
        assert t._fields == ("name", "complexity", "best_for")
        assert t.complexity.startswith("O(") and len(t.best_for) > 10
    assert types[2].complexity == "O(n d), O(block) memory"
    # a fresh list each time: callers may mutate it
    types.clear()
    assert len(rv.attention_types()) == 11

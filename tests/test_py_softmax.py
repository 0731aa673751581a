"""softmax / softmax_inplace against the float64 reference, on every backend."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ruvector_cffi as rv
from reference import TAILS, assert_close
from reference import softmax as ref_softmax

INF = np.float32(np.inf)


@pytest.mark.parametrize("n", TAILS)
def test_tail_lengths(backend, rng, n):
    x = (rng.standard_normal(n) * 5).astype(np.float32)
    got = rv.softmax(x)
    assert got.dtype == np.float32 and got.shape == (n,)
    assert_close(got, ref_softmax(x), 1.0, f"softmax n={n} on {backend}")
    assert abs(float(got.astype(np.float64).sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("n", TAILS)
def test_masking_with_minus_infinity(backend, rng, n):
    x = rng.standard_normal(n).astype(np.float32)
    mask = rng.random(n) < 0.4
    mask[rng.integers(n)] = False  # at least one key stays
    x[mask] = -INF
    got = rv.softmax(x)
    assert np.all(got[mask] == 0.0)
    assert_close(got, ref_softmax(x), 1.0, f"masked softmax n={n}")


@pytest.mark.parametrize("n", TAILS)
def test_inplace_matches_softmax_bit_for_bit(backend, rng, n):
    x = (rng.standard_normal(n) * 10).astype(np.float32)
    expected = rv.softmax(x)
    y = x.copy()
    assert rv.softmax_inplace(y) is None
    assert y.tobytes() == expected.tobytes()


def test_inplace_on_a_contiguous_view(backend):
    buf = np.array([9.0, 1.0, 2.0, 3.0, 9.0], dtype=np.float32)
    rv.softmax_inplace(buf[1:4])
    assert buf[0] == 9.0 and buf[4] == 9.0
    assert_close(buf[1:4], ref_softmax([1.0, 2.0, 3.0]), 1.0)


@pytest.mark.parametrize(
    "x, expected",
    [
        ([5.0] * 17, [1 / 17] * 17),                            # all-equal logits
        ([1e4, 0.0, -1e4], [1.0, 0.0, 0.0]),                     # one dominant entry
        ([1e4, 1e4 - 1, -1e4, 1e4 - 2], ref_softmax([1e4, 1e4 - 1, -1e4, 1e4 - 2])),
        ([1e18, 0.0, -1e18], [1.0, 0.0, 0.0]),                   # huge magnitudes
        ([1e-30, 2e-30, -1e-30], [1 / 3] * 3),                   # tiny magnitudes
        ([-np.inf, 3.0, -np.inf], [0.0, 1.0, 0.0]),
        ([-1e30, -1e30], [0.5, 0.5]),
        ([88.0, 88.7, -104.0], ref_softmax([88.0, 88.7, -104.0])),  # the exp range edges
    ],
)
def test_numerically_hard_inputs(backend, x, expected):
    x32 = np.array(x, dtype=np.float32)
    got = rv.softmax(x32)
    assert_close(got, ref_softmax(x32), 1.0, f"softmax {x}")
    assert_close(got, expected, 1.0, f"softmax {x} vs closed form")


@given(
    hnp.arrays(
        np.float32, st.integers(1, 300),
        elements=st.one_of(
            st.floats(-1e4, 1e4, width=32),
            st.just(float("-inf")),
        ),
    )
)
def test_random_inputs(backend, x):
    if np.all(x == -np.inf):
        with pytest.raises(rv.AllMaskedError):
            rv.softmax(x)
        return
    assert_close(rv.softmax(x), ref_softmax(x), 1.0, "hypothesis softmax")


def test_empty_gives_empty():
    for x in ([], np.empty(0, np.float32), np.empty(0, np.float64)):
        got = rv.softmax(x)
        assert got.dtype == np.float32 and got.shape == (0,)
    rv.softmax_inplace(np.empty(0, np.float32))


@pytest.mark.parametrize(
    "x",
    [[1, 2, 3], (1.0, 2.0, 3.0), np.array([1, 2, 3], np.int64), np.array([1.0, 2.0, 3.0], np.float64),
     np.array([1.0, 2.0, 3.0], ">f4"), np.arange(6, dtype=np.float32)[::2] / 2 + [1.0, 1.0, 1.0]],
)
def test_any_array_like_is_converted(x):
    got = rv.softmax(x)
    assert got.dtype == np.float32
    assert_close(got, ref_softmax([1.0, 2.0, 3.0]), 1.0)


def test_returns_a_new_array_and_leaves_input_alone():
    x = np.array([1.0, 2.0], np.float32)
    got = rv.softmax(x)
    assert got is not x and not np.shares_memory(got, x)
    assert x.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "x, fragment",
    [
        ([1.0, float("nan"), 2.0], "x[1] is NaN"),
        ([1.0, 2.0, float("inf")], "x[2] is +Infinity"),
    ],
)
def test_nan_or_plus_infinity_is_an_error(backend, x, fragment):
    with pytest.raises(rv.NonFiniteError, match="NaN or infinity.*" + re.escape(fragment)) as e:
        rv.softmax(x)
    assert isinstance(e.value, ValueError) and e.value.status is not None
    y = np.array(x, np.float32)
    before = y.tobytes()
    with pytest.raises(ValueError, match="NaN or infinity"):
        rv.softmax_inplace(y)
    assert y.tobytes() == before  # untouched on error


def test_all_minus_infinity_is_an_error(backend):
    with pytest.raises(rv.AllMaskedError, match="all -Infinity: all 3 entries of x are -Infinity"):
        rv.softmax([-np.inf] * 3)
    y = np.full(5, -np.inf, np.float32)
    with pytest.raises(ValueError, match="all -Infinity"):
        rv.softmax_inplace(y)
    assert np.all(y == -np.inf)


@pytest.mark.parametrize(
    "x, fragment",
    [
        ([[1.0, 2.0], [3.0, 4.0]], "must be a 1-D array, got a 2-D array of shape \\(2, 2\\)"),
        (3.0, "must be a 1-D array, got a 0-D array"),
    ],
)
def test_softmax_needs_a_vector(x, fragment):
    with pytest.raises(rv.ShapeError, match=fragment):
        rv.softmax(x)


@pytest.mark.parametrize(
    "x, fragment",
    [
        ([1.0, 2.0], "numpy float32 array, got list"),
        (np.array([1.0, 2.0]), "native float32 array, got dtype float64"),
        (np.array([1.0, 2.0], ">f4"), "native float32 array, got dtype >f4"),
        (np.zeros((2, 2), np.float32), "1-D array, got 2-D with shape \\(2, 2\\)"),
        (np.zeros(6, np.float32)[::2], "C-contiguous aligned array"),
        (np.frombuffer(np.zeros(2, np.float32).tobytes(), np.float32), "writable array"),
    ],
)
def test_inplace_needs_a_writable_contiguous_float32_vector(x, fragment):
    with pytest.raises(rv.ArgumentTypeError, match=fragment) as e:
        rv.softmax_inplace(x)
    assert isinstance(e.value, TypeError)


@pytest.mark.parametrize("n", [4096, 10000])
def test_one_dominant_term_among_many_tiny_ones(backend, n):
    # each e^-17 term is below half an ulp of a float sum that holds the 1:
    # a long float sum drops them all (1.7e-4 of the total at n = 4096)
    x = np.full(n, -17.0, np.float32)
    x[0] = 0.0
    assert_close(rv.softmax(x), ref_softmax(x), 1.0, f"peaked softmax n={n}")
    K = np.array([[1.0]] + [[0.0]] * (n - 1), np.float32)
    assert_close(rv.attention_scores([17.0], K, scale=1.0), ref_softmax(17.0 * K[:, 0].astype(np.float64)), 1.0,
                 "peaked attention weights")

"""Every error path of the Python API (DESIGN.md section 4, Python column):
the exception type AND a message fragment; and bad inputs never crash."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ruvector_cffi as rv
from reference import TAILS
from ruvector_cffi import _binding, _errors

NAN, INF = float("nan"), float("inf")
FORWARD = {
    "scaled_dot": lambda q, K, V, **kw: rv.scaled_dot_attention(q, K, V, **kw),
    "flash": lambda q, K, V, **kw: rv.flash_attention(q, K, V, **kw),
    "multi_head": lambda q, K, V, **kw: rv.multi_head_attention(q, K, V, 2, **kw),
    "multi_head_weights": lambda q, K, V, **kw: rv.multi_head_attention(q, K, V, 2, return_weights=True, **kw),
}
forward = pytest.mark.parametrize("fn", list(FORWARD.values()), ids=list(FORWARD))


def _qkv(m=None, n=3, d=4, dv=2):
    q = np.arange(1, d + 1, dtype=np.float32) / d if m is None else np.ones((m, d), np.float32)
    K = np.ones((n, d), np.float32)
    V = np.ones((n, dv), np.float32)
    return q, K, V


def raises(cls, fragment):
    """pytest.raises with a literal (not regex) message fragment."""
    return pytest.raises(cls, match=re.escape(fragment))


# ---------------------------------------------------------------- NaN / infinity in the inputs


@forward
@pytest.mark.parametrize(
    "where, bad, fragment",
    [
        ("query", NAN, "query[2] is NaN"),
        ("query", -INF, "query[2] is -Infinity"),
        ("keys", INF, "keys row 1 holds +Infinity at column 2"),
        ("keys", NAN, "keys row 1 holds NaN at column 2"),
        ("values", NAN, "values row 1 holds NaN at column 1"),
        ("values", -INF, "values row 1 holds -Infinity at column 1"),
    ],
)
def test_nonfinite_input_names_the_input_and_row(backend, fn, where, bad, fragment):
    q, K, V = _qkv()
    arrays = {"query": q, "keys": K, "values": V}
    arrays[where][{"query": 2, "keys": (1, 2), "values": (1, 1)}[where]] = bad
    with raises(rv.NonFiniteError, "input contains NaN or infinity, or a result overflowed: " + fragment) as e:
        fn(q, K, V)
    assert isinstance(e.value, ValueError) and e.value.status == _binding.lib.RV_ERR_NONFINITE


@forward
def test_nonfinite_in_a_batch_names_the_query_row(backend, fn):
    q, K, V = _qkv(m=3)
    q[2, 1] = NAN
    with raises(rv.NonFiniteError, "query row 2 holds NaN at column 1"):
        fn(q, K, V)


@forward
def test_infinity_in_a_value_row_with_zero_weight_is_still_an_error(backend, fn):
    # the key of row 0 gets weight exp(-huge) = 0, but 0 * inf is NaN: never silent garbage
    q = np.array([1.0, 1.0, 1.0, 1.0], np.float32)
    K = np.array([[-100.0] * 4, [100.0] * 4], np.float32)
    V = np.array([[INF, 1.0], [1.0, 1.0]], np.float32)
    with raises(rv.NonFiniteError, "values row 0 holds +Infinity at column 0"):
        fn(q, K, V)


@forward
def test_logit_overflow_of_finite_inputs(backend, fn):
    q = np.full(4, 1e20, np.float32)
    K = np.full((2, 4), 1e20, np.float32)
    V = np.ones((2, 2), np.float32)
    with raises(rv.NonFiniteError, "every input is finite, so a logit overflowed float32 (largest |scale * q.k| is"):
        fn(q, K, V)


def test_scores_nonfinite_inputs_and_overflow(backend):
    with raises(rv.NonFiniteError, "key[1] is NaN"):
        rv.attention_score([1.0, 2.0], [1.0, NAN])
    with raises(rv.NonFiniteError, "query[0] is +Infinity"):
        rv.attention_score([INF, 2.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], "multi_head")
    with raises(rv.NonFiniteError, "keys row 1 holds -Infinity at column 0"):
        rv.attention_scores([1.0, 2.0], [[1.0, 2.0], [-INF, 0.0]])
    with raises(rv.NonFiniteError, "keys row 0 holds NaN at column 3"):
        rv.attention_scores([1.0, 2.0, 3.0, 4.0], [[1.0, 2.0, 3.0, NAN]], "multi_head")
    with raises(rv.NonFiniteError, "so a logit overflowed float32 (largest |scale * q.k| is 2e+40)"):
        rv.attention_score([1e20] * 4, [1e20] * 4)
    with raises(rv.NonFiniteError, "so a logit overflowed float32"):
        rv.attention_scores([1e20] * 4, [[1e20] * 4, [0.0] * 4], "multi_head")


def test_scale_that_overflows_the_logit(backend):
    with raises(rv.NonFiniteError, "so a logit overflowed float32 (largest |scale * q.k| is 4e+38)"):
        rv.attention_score([1.0], [2.0], scale=2e38)
    with raises(rv.NonFiniteError, "so a logit overflowed"):
        rv.scaled_dot_attention([1e19], [[1e19]], [[1.0]], scale=1e10)


# ---------------------------------------------------------------- shapes


@forward
@pytest.mark.parametrize(
    "shapes, fragment",
    [
        (((3,), (4, 4), (4, 2)), "query has 3 dimensions but keys have 4 columns"),
        (((2, 3), (4, 4), (4, 2)), "query has 3 dimensions but keys have 4 columns"),
        (((4,), (5, 4), (6, 2)), "keys have 5 rows but values have 6 rows"),
        (((4,), (4,), (1, 2)), "keys must be a 2-D array (n keys x d), got a 1-D array of shape (4,); use keys.reshape(1, -1)"),
        (((4,), (2, 2, 4), (2, 2)), "keys must be a 2-D array (n keys x d), got a 3-D array of shape (2, 2, 4)"),
        (((4,), (3, 4), (2,)), "values must be a 2-D array (n values x dv), got a 1-D array of shape (2,)"),
        (((4,), (3, 4), (3, 2, 1)), "values must be a 2-D array (n values x dv), got a 3-D array"),
        (((2, 2, 4), (3, 4), (3, 2)), "query must be a 1-D vector or a 2-D batch of queries (m x d), got a 3-D array of shape (2, 2, 4)"),
        (((), (3, 4), (3, 2)), "query must be a 1-D vector or a 2-D batch of queries (m x d), got a 0-D array of shape ()"),
    ],
)
def test_shape_errors_name_the_sizes(fn, shapes, fragment):
    arrays = [np.ones(s, np.float32) for s in shapes]
    with raises(rv.ShapeError, fragment) as e:
        fn(*arrays)
    assert isinstance(e.value, ValueError) and e.value.status is None


@forward
@pytest.mark.parametrize("query", [[], np.empty(0, np.float32), np.empty((3, 0), np.float32)])
def test_empty_query(fn, query):
    with raises(rv.ShapeError, "query vector must not be empty") as e:
        fn(query, np.ones((2, 0), np.float32), np.ones((2, 2), np.float32))
    assert e.value.status == _binding.lib.RV_ERR_EMPTY_QUERY


@forward
@pytest.mark.parametrize("keys", [[], np.empty((0, 4), np.float32), np.empty(0)])
def test_zero_keys_for_an_output(fn, keys):
    with raises(rv.ShapeError, "attention needs at least one key: keys have 0 rows"):
        fn(np.ones(4, np.float32), keys, np.empty((0, 2), np.float32))


@forward
def test_empty_values(fn):
    with raises(rv.ShapeError, "value vectors must not be empty: values have shape (3, 0)"):
        fn(*_qkv(dv=0))


def test_score_and_scores_shapes():
    with raises(rv.ShapeError, "query has 3 dimensions but key has 4"):
        rv.attention_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0])
    with raises(rv.ShapeError, "key must be a 1-D vector, got a 2-D array of shape (1, 3)"):
        rv.attention_score([1.0, 2.0, 3.0], [[1.0, 2.0, 3.0]])
    with raises(rv.ShapeError, "query must be a 1-D vector, got a 2-D array of shape (1, 3)"):
        rv.attention_score([[1.0, 2.0, 3.0]], [1.0, 2.0, 3.0])
    with raises(rv.ShapeError, "query vector must not be empty: query has length 0"):
        rv.attention_score([], [])
    with raises(rv.ShapeError, "query has 2 dimensions but keys have 3 columns"):
        rv.attention_scores([1.0, 2.0], [[1.0, 2.0, 3.0]])
    with raises(rv.ShapeError, "query vector must not be empty"):
        rv.attention_scores([], [[1.0]])
    with raises(rv.ShapeError, "keys must be a 2-D array (n keys x d), got a 1-D array of shape (2,)"):
        rv.attention_scores([1.0, 2.0], [1.0, 2.0])


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "num_heads, d, dv, fragment",
    [
        (0, 4, 4, "num_heads must be at least 1 and divide the query and value dimensions: got num_heads=0"),
        (-2, 4, 4, "got num_heads=-2"),
        (3, 8, 6, "num_heads=3 does not divide the query dimension d=8"),
        (4, 8, 6, "num_heads=4 does not divide the value dimension dv=6"),
        (16, 8, 16, "num_heads=16 does not divide the query dimension d=8"),
    ],
)
def test_num_heads_out_of_range(num_heads, d, dv, fragment):
    q, K, V = _qkv(d=d, dv=dv)
    with raises(rv.ParameterError, fragment) as e:
        rv.multi_head_attention(q, K, V, num_heads)
    assert isinstance(e.value, ValueError) and e.value.status == _binding.lib.RV_ERR_NUM_HEADS


@pytest.mark.parametrize("block_size", [0, -1, 65537, 2**40])
def test_block_size_out_of_range(block_size):
    with raises(rv.ParameterError, f"block_size must be between 1 and 65536: got block_size={block_size}"):
        rv.flash_attention(*_qkv(), block_size=block_size)
    with raises(rv.ParameterError, f"got block_size={block_size}"):
        rv.flash_attention_scratch_bytes(10, 4, 4, block_size)


def test_block_size_limits_are_accepted(backend):
    q, K, V = _qkv()
    for b in (1, 65536, np.int64(3)):
        assert rv.flash_attention(q, K, V, b).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("threads", [0, -1, -(2**70)])
@pytest.mark.parametrize("fn", [rv.scaled_dot_attention, rv.flash_attention, rv.multi_head_attention])
def test_threads_below_one(fn, threads):
    with raises(rv.ParameterError, f"threads must be at least 1, got {threads}"):
        fn(*_qkv(dv=4), threads=threads)


def test_threads_accepts_any_integer(backend):
    q, K, V = _qkv(m=3)
    for t in (1, 2, 10**6, 2**70, np.int32(2), None):
        assert rv.scaled_dot_attention(q, K, V, threads=t).tolist() == [[1.0, 1.0]] * 3


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: rv.multi_head_attention(*_qkv(), True), "num_heads must be an integer, got bool True"),
        (lambda: rv.multi_head_attention(*_qkv(), 2.0), "num_heads must be an integer, got float 2.0"),
        (lambda: rv.multi_head_attention(*_qkv(), "2"), "num_heads must be an integer, got str '2'"),
        (lambda: rv.multi_head_attention(*_qkv(), None), "num_heads must be an integer, got NoneType None"),
        (lambda: rv.multi_head_attention(*_qkv(), np.bool_(True)), "num_heads must be an integer, got bool"),
        (lambda: rv.flash_attention(*_qkv(), 64.0), "block_size must be an integer, got float 64.0"),
        (lambda: rv.flash_attention(*_qkv(), False), "block_size must be an integer, got bool False"),
        (lambda: rv.scaled_dot_attention(*_qkv(), threads=2.0), "threads must be an integer, got float 2.0"),
        (lambda: rv.scaled_dot_attention(*_qkv(), threads=True), "threads must be an integer, got bool True"),
        (lambda: rv.flash_attention(*_qkv(), threads="4"), "threads must be an integer, got str '4'"),
        (lambda: rv.scaled_dot_attention(*_qkv(), scale="0.5"), "scale must be a real number, got str '0.5'"),
        (lambda: rv.scaled_dot_attention(*_qkv(), scale=True), "scale must be a real number, got bool True"),
        (lambda: rv.attention_score([1.0], [1.0], scale=1j), "scale must be a real number, got complex 1j"),
        (lambda: rv.multi_head_attention(*_qkv(), 2, return_weights=1), "return_weights must be a bool, got int"),
        (lambda: rv.flash_attention_scratch_bytes(10.0, 4, 4), "n must be an integer, got float 10.0"),
        (lambda: rv.scaled_dot_attention_scratch_bytes(10, 4, 4, queries=True), "queries must be an integer, got bool"),
    ],
)
def test_integer_and_scale_parameters_of_the_wrong_type(call, fragment):
    with raises(rv.ArgumentTypeError, fragment) as e:
        call()
    assert isinstance(e.value, TypeError) and isinstance(e.value, rv.RuvectorError)


@pytest.mark.parametrize("scale", [NAN, INF, -INF, 1e39, -3.5e38, np.float64(1e300)])
def test_scale_must_be_finite_in_float32(scale):
    q, K, V = _qkv()
    for call in (lambda: rv.scaled_dot_attention(q, K, V, scale=scale),
                 lambda: rv.flash_attention(q, K, V, scale=scale),
                 lambda: rv.attention_score(q, K[0], scale=scale),
                 lambda: rv.attention_scores(q, K, scale=scale)):
        with raises(rv.ParameterError, "scale must be a finite number: got") as e:
            call()
        assert e.value.status == _binding.lib.RV_ERR_SCALE


def test_multi_head_type_parameters():
    with raises(rv.ParameterError, "scale cannot be set for the multi_head type: each of its 4 heads uses 1/sqrt(d/4)"):
        rv.attention_score([1.0] * 4, [1.0] * 4, "multi_head", scale=1.0)
    with raises(rv.ParameterError, "scale cannot be set for the multi_head type"):
        rv.attention_scores([1.0] * 4, [[1.0] * 4], "multi_head", scale=1.0)
    with raises(rv.ParameterError, "the multi_head type uses 4 heads, which do not divide the query dimension d=6"):
        rv.attention_score([1.0] * 6, [1.0] * 6, "multi_head")
    with raises(rv.ParameterError, "the multi_head type uses 4 heads, which do not divide the query dimension d=2"):
        rv.attention_scores([1.0] * 2, [[1.0] * 2], "multihead")


# ---------------------------------------------------------------- attention types


VALID_NAMES = ("scaled_dot, multi_head, flash_v2, linear, gat, sparse, moe, cross, sliding, poincare, lorentz")


@pytest.mark.parametrize("name", ["foo", "", "scaled dot", "scaled_dot\0", "scaled_dot_", "x" * 100, "flash_v3", "poincaré!"])
def test_unknown_attention_type_lists_the_valid_names(name):
    for call in (lambda: rv.attention_score([1.0] * 4, [1.0] * 4, name),
                 lambda: rv.attention_scores([1.0] * 4, [[1.0] * 4], name)):
        with raises(rv.ParameterError, f"unknown attention type: {name!r}; valid names: {VALID_NAMES}") as e:
            call()
        assert isinstance(e.value, ValueError) and e.value.status == _binding.lib.RV_ERR_UNKNOWN_TYPE


@pytest.mark.parametrize("name", ["linear", "GAT", "sparse", "moe", "cross", "sliding", "poincare", "poincaré", "POINCARÉ", "lorentz"])
def test_every_listed_type_is_computed(name):
    q, K = [0.1] * 4, [[0.1] * 4, [0.0, 0.2, 0.0, 0.0]]
    assert math.isfinite(rv.attention_score(q, K[1], name))
    w = rv.attention_scores(q, K, name)
    assert w.shape == (2,) and abs(float(w.sum()) - 1.0) < 1e-6
    assert rv.attention(q, K, [[0.1], [0.2]], name).shape == (1,)


@pytest.mark.parametrize("name", [None, 3, b"scaled_dot", ["scaled_dot"]])
def test_attention_type_must_be_a_str(name):
    with raises(rv.ArgumentTypeError, "attention_type must be a str, got"):
        rv.attention_score([1.0], [1.0], name)


# ---------------------------------------------------------------- array arguments of the wrong kind


@pytest.mark.parametrize(
    "bad, cls, fragment",
    [
        ("abc", rv.ArgumentTypeError, "query must be an array of numbers, got str"),
        (b"\x00\x00\x80?", rv.ArgumentTypeError, "query must be an array of numbers, got bytes"),
        (["1", "2"], rv.ArgumentTypeError, "query must hold real numbers, got an array of dtype <U1"),
        ([1.0, None], rv.ArgumentTypeError, "query must hold real numbers, got an array of dtype object"),
        (np.array([1.0, 2.0], dtype=object), rv.ArgumentTypeError, "got an array of dtype object"),
        ([1 + 2j, 3.0], rv.ArgumentTypeError, "query must hold real numbers, got an array of dtype complex128"),
        (None, rv.ArgumentTypeError, "query must hold real numbers, got an array of dtype object"),
        ({"a": 1}, rv.ArgumentTypeError, "query must hold real numbers, got an array of dtype object"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), rv.ArgumentTypeError, "got an array of dtype datetime64[D]"),
        ([[1.0, 2.0], [3.0]], rv.ShapeError, "query is not a rectangular array of numbers"),
        ([[1.0, 2.0], 3.0], rv.ShapeError, "query is not a rectangular array of numbers"),
        ([[[1.0]], [1.0]], rv.ShapeError, "query is not a rectangular array of numbers"),
        ([2**80, 1], rv.ArgumentTypeError, "query must hold real numbers, got an array of dtype object"),
    ],
)
def test_bad_array_arguments(bad, cls, fragment):
    for call in (lambda: rv.scaled_dot_attention(bad, np.ones((2, 2)), np.ones((2, 2))),
                 lambda: rv.attention_score(bad, [1.0, 2.0]),
                 lambda: rv.attention_scores(bad, np.ones((2, 2)))):
        with raises(cls, fragment):
            call()
    with raises(cls, fragment.replace("query", "x")):
        rv.softmax(bad)


def test_bad_keys_and_values_are_named():
    q = np.ones(2, np.float32)
    with raises(rv.ShapeError, "keys is not a rectangular array of numbers"):
        rv.flash_attention(q, [[1.0, 2.0], [1.0]], [[1.0], [1.0]])
    with raises(rv.ArgumentTypeError, "values must hold real numbers, got an array of dtype <U1"):
        rv.multi_head_attention(q, [[1.0, 2.0]], [["a", "b"]], 1)
    with raises(rv.ArgumentTypeError, "key must be an array of numbers, got str"):
        rv.attention_score(q, "ab")


# ---------------------------------------------------------------- sizes


def test_scratch_size_overflow():
    with raises(rv.SizeError, "array sizes overflow: the scratch size of scaled_dot_attention overflows") as e:
        rv.scaled_dot_attention_scratch_bytes(2**63, 1, 1, threads=2, queries=4)
    assert isinstance(e.value, MemoryError) and isinstance(e.value, ValueError)
    assert e.value.status == _binding.lib.RV_ERR_SIZE_OVERFLOW
    # 4 bytes per float: 2**62 floats do not fit in a size_t of bytes
    with raises(rv.SizeError, "the scratch size of scaled_dot_attention overflows"):
        rv.scaled_dot_attention_scratch_bytes(2**62, 1, 1)
    with raises(rv.SizeError, "array sizes overflow: n=18446744073709551616 exceeds 18446744073709551615"):
        rv.flash_attention_scratch_bytes(2**64, 1, 1)
    with raises(rv.ParameterError, "d must not be negative, got -1"):
        rv.flash_attention_scratch_bytes(1, -1, 1)


def test_outputs_that_do_not_fit_in_memory():
    # 2**20 queries x 2**20 keys of head-averaged weights: 4 TiB
    big = np.lib.stride_tricks.as_strided(np.ones(1, np.float32), shape=(2**20, 4), strides=(0, 0))
    with raises(rv.SizeError, "out of memory: the weights of shape (1048576, 1048576) does not fit in memory") as e:
        rv.multi_head_attention(big, big, big, 2, return_weights=True)
    assert isinstance(e.value, MemoryError) and e.value.status == _binding.lib.RV_ERR_NOMEM
    with raises(MemoryError, "attention weights of shape (1048576, 1048576)"):
        rv.attention_scores(big, big)


def test_inputs_that_do_not_fit_in_memory():
    # a zero-stride view: no memory until it must be made contiguous (2**62 bytes)
    huge = np.lib.stride_tricks.as_strided(np.ones(1, np.float32), shape=(2**40, 2**20), strides=(0, 0))
    with raises(rv.SizeError, "keys of shape (1099511627776, 1048576) does not fit in memory as float32") as e:
        rv.scaled_dot_attention(np.ones(2**20, np.float32), huge, huge[:, :1])
    assert isinstance(e.value, MemoryError)


# ---------------------------------------------------------------- status mapping


EXPECTED_CLASS = {
    "RV_ERR_NULL_ARG": (rv.InternalError, RuntimeError),
    "RV_ERR_EMPTY_QUERY": (rv.ShapeError, ValueError),
    "RV_ERR_NO_KEYS": (rv.ShapeError, ValueError),
    "RV_ERR_EMPTY_VALUES": (rv.ShapeError, ValueError),
    "RV_ERR_NUM_HEADS": (rv.ParameterError, ValueError),
    "RV_ERR_BLOCK_SIZE": (rv.ParameterError, ValueError),
    "RV_ERR_SCALE": (rv.ParameterError, ValueError),
    "RV_ERR_NONFINITE": (rv.NonFiniteError, ValueError),
    "RV_ERR_ALL_MASKED": (rv.AllMaskedError, ValueError),
    "RV_ERR_SIZE_OVERFLOW": (rv.SizeError, MemoryError),
    "RV_ERR_NOMEM": (rv.SizeError, MemoryError),
    "RV_ERR_THREAD": (rv.ThreadStartError, RuntimeError),
    "RV_ERR_CANCELLED": (rv.CancelledError, RuntimeError),
    "RV_ERR_UNSUPPORTED_BACKEND": (rv.UnsupportedBackendError, ValueError),
    "RV_ERR_UNKNOWN_BACKEND": (rv.ParameterError, ValueError),
    "RV_ERR_UNKNOWN_TYPE": (rv.ParameterError, ValueError),
    "RV_ERR_TOP_K": (rv.ParameterError, ValueError),
    "RV_ERR_N_EXPERTS": (rv.ParameterError, ValueError),
    "RV_ERR_WINDOW": (rv.ParameterError, ValueError),
    "RV_ERR_SLOPE": (rv.ParameterError, ValueError),
    "RV_ERR_CURVATURE": (rv.ParameterError, ValueError),
    "RV_ERR_OUTSIDE_BALL": (rv.OutsideBallError, ValueError),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_CLASS))
def test_every_status_maps_to_an_exception(name):
    status = getattr(_binding.lib, name)
    cls, builtin = EXPECTED_CLASS[name]
    text = _binding.ffi.string(_binding.lib.rv_strerror(status)).decode()
    err = _errors.error_for_status(status, "some detail")
    assert type(err) is cls and isinstance(err, builtin) and isinstance(err, rv.RuvectorError)
    assert str(err) == f"{text}: some detail" and err.status == status
    assert str(_errors.error_for_status(status)) == text
    # lowercase (bar an acronym such as SIMD), no final period
    assert text and (text[0].islower() or text.split()[0].isupper()) and not text.endswith(".")


def test_the_status_table_is_complete():
    assert len(EXPECTED_CLASS) == _binding.lib.RV_STATUS_COUNT - 1
    err = _errors.error_for_status(_binding.lib.RV_STATUS_COUNT + 5)
    assert type(err) is rv.InternalError and str(err) == "unknown status"


# ---------------------------------------------------------------- never a crash


_garbage_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3), st.binary(max_size=5), st.complex_numbers(max_magnitude=10),
)
_garbage = st.recursive(_garbage_leaf, lambda inner: st.lists(inner, max_size=4), max_leaves=12)
_arrays = st.builds(
    lambda shape, dtype: np.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 3), max_size=4).map(tuple),
    st.sampled_from([np.float32, np.float64, np.int8, np.bool_, np.complex64, object, "U2", ">f4"]),
)
_anything = st.one_of(_garbage, _arrays)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@given(_anything, _anything, _anything, st.one_of(st.integers(-3, 70000), _garbage_leaf))
def test_garbage_never_crashes(q, K, V, param):
    calls = [
        lambda: rv.softmax(q),
        lambda: rv.attention_score(q, K),
        lambda: rv.attention_scores(q, K, "multi_head"),
        lambda: rv.scaled_dot_attention(q, K, V, scale=param),
        lambda: rv.multi_head_attention(q, K, V, param),
        lambda: rv.flash_attention(q, K, V, param, threads=2),
    ]
    for call in calls:
        try:
            out = call()
        except rv.RuvectorError as e:
            assert str(e) and (isinstance(e, (ValueError, TypeError, MemoryError)))
        else:
            assert isinstance(out, (float, np.ndarray, tuple))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: rv.softmax([1.0, 1e300]),
         "x[1] is 1e+300, beyond the float32 range (largest magnitude 3.402823e+38)"),
        (lambda: rv.scaled_dot_attention(np.ones(2), np.array([[1.0, 1.0], [1.0, -1e39]]), np.ones((2, 2))),
         "keys row 1 holds -1e+39, beyond the float32 range (largest magnitude 3.402823e+38), at column 1"),
        (lambda: rv.attention_score(np.array([np.longdouble(1e300), 0.0]), [1.0, 1.0]),
         "query[0] is 1e+300, beyond the float32 range"),
        (lambda: rv.multi_head_attention([[1.0, 2.0]], [[1.0, 2.0]], [[0.0, 1e40]], 2),
         "values row 0 holds 1e+40, beyond the float32 range (largest magnitude 3.402823e+38), at column 1"),
    ],
)
def test_finite_values_beyond_float32_are_named(call, fragment):
    with raises(rv.NonFiniteError, fragment):
        call()


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_a_huge_negative_softmax_input_is_a_mask():
    # -1e300 becomes -Infinity in float32: weight 0, as a mask
    assert rv.softmax([0.0, -1e300]).tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- NaN / infinity at every tail position


@pytest.mark.parametrize("n", TAILS)
def test_nonfinite_found_at_every_position_class(backend, n):
    # first, middle and last element: the SIMD body and the tail of every check kernel
    for pos in sorted({0, n // 2, n - 1}):
        for bad in (NAN, INF):
            x = np.zeros(n, np.float32)
            x[pos] = bad
            with raises(rv.NonFiniteError, f"x[{pos}] is {'NaN' if bad != bad else '+Infinity'}"):
                rv.softmax(x)
            K = np.ones((n, 3), np.float32)
            K[pos, 2] = bad
            with raises(rv.NonFiniteError, f"keys row {pos} holds"):
                rv.attention_scores(np.ones(3, np.float32), K)
            V = np.ones((4, n), np.float32)
            V[1, pos] = -bad
            for call in (rv.scaled_dot_attention, rv.flash_attention):
                with raises(rv.NonFiniteError, "values row 1 holds"):
                    call(np.ones(3, np.float32), np.ones((4, 3), np.float32), V)
            q = np.ones(n, np.float32)
            q[pos] = bad
            with raises(rv.NonFiniteError, f"query[{pos}] is"):
                rv.attention_score(q, np.ones(n, np.float32))


@pytest.mark.parametrize("bad", [NAN, INF])
def test_flash_reports_nonfinite_values_of_a_vanishing_tile(backend, bad):
    q = np.array([1.0], np.float32)
    K = np.array([[0.0], [200.0]], np.float32)   # tile 2's logit is 200 above tile 1's
    V = np.array([[bad], [1.0]], np.float32)
    with raises(rv.NonFiniteError, "values row 0 holds"):
        rv.scaled_dot_attention(q, K, V, scale=1.0)  # passes
    with raises(rv.NonFiniteError, "values row 0 holds"):
        rv.flash_attention(q, K, V, block_size=1, scale=1.0)

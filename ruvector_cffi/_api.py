"""The typed public API: softmax and attention on float32 numpy arrays.

Each function converts its array arguments to C-contiguous float32 (no copy
when they already are), checks shapes and parameters (``_validate_*``), then
calls the C core with the GIL released and maps a failed rv_status to an
exception.  The fast path (inputs already float32 and C-contiguous) is kept
lean: module-global lookups only, no scans of the data.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Literal, NamedTuple, Optional, Tuple, Union, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _binding as _b
from ._binding import DEFAULT_NUM_HEADS, FLOAT_ARRAY, MAX_BLOCK_SIZE, SIZE_MAX, ffi, lib
from ._attention import call_error, parse_attention_type
from ._errors import (
    ArgumentTypeError,
    ParameterError,
    RuvectorError,
    ShapeError,
    error_for_status,
)
from ._params import build_params, with_scale
from ._validate import (
    F32,
    _exec_for,
    _output,
    _scratch,
    _validate_array,
    _validate_block_size,
    _validate_forward,
    _validate_keys,
    _validate_num_heads,
    _validate_query,
    _validate_scale,
    _validate_size,
    _validate_threads,
    _validate_vector,
    nonfinite_error,
    softmax_error,
)

__all__ = [
    "AttentionType",
    "attention_score",
    "attention_scores",
    "attention_types",
    "flash_attention",
    "flash_attention_scratch_bytes",
    "multi_head_attention",
    "scaled_dot_attention",
    "scaled_dot_attention_scratch_bytes",
    "softmax",
    "softmax_inplace",
]

Float32Array = NDArray[np.float32]

# hot-path globals: one lookup each, no attribute access on lib/ffi/np per call
_empty = np.empty
_sqrt = math.sqrt
_fb = ffi.from_buffer
_FA = FLOAT_ARRAY
_NULL = ffi.NULL
_softmax_c = lib.rv_softmax
_score_c = lib.rv_attention_score
_mh_score_c = lib.rv_multi_head_score
_scores_c = lib.rv_attention_scores
_mh_scores_c = lib.rv_multi_head_scores
_sdpa_c = lib.rvpy_scaled_dot_attention
_sdpa_scratch_c = lib.rv_scaled_dot_attention_scratch
_mha_c = lib.rvpy_multi_head_attention
_flash_c = lib.rvpy_flash_attention
_flash_scratch_c = lib.rv_flash_attention_scratch
_NONFINITE = lib.RV_ERR_NONFINITE


def _forward_error(
    status: int, args: Tuple[Any, Any, Any], Q: Any, K: Any, V: Any, scale: Optional[float], heads: int
) -> RuvectorError:
    """The error of a failed forward call; args: the caller's (query, keys, values)."""
    if status == _NONFINITE:
        inputs = [("query", Q, args[0]), ("keys", K, args[1]), ("values", V, args[2])]
        return nonfinite_error(inputs, Q, K, scale, heads, V)
    return error_for_status(status)


# ---------------------------------------------------------------- softmax


def softmax(x: ArrayLike) -> Float32Array:
    """Numerically stable softmax of a 1-D array, as a new float32 array.

    ``-inf`` entries get weight 0 (masking); NaN or ``+inf`` raises
    :class:`NonFiniteError`, an input that is all ``-inf`` raises
    :class:`AllMaskedError` (both ValueError); an empty input gives an
    empty result.

    >>> import ruvector_cffi as rv
    >>> rv.softmax([1.0, 2.0, 3.0]).round(4)
    array([0.09  , 0.2447, 0.6652], dtype=float32)
    >>> rv.softmax([0.0, float("-inf"), 0.0])
    array([0.5, 0. , 0.5], dtype=float32)
    """
    a = _validate_array(x, "x")
    if a.ndim != 1:
        raise ShapeError(f"softmax input must be a 1-D array, got a {a.ndim}-D array of shape {a.shape}")
    n = a.shape[0]
    out = _empty(n, F32)
    if n:
        st = _softmax_c(_fb(_FA, a), n, _fb(_FA, out))
        if st:
            raise softmax_error(st, a, "x", x)
    return out


def softmax_inplace(x: Float32Array) -> None:
    """Softmax of ``x`` in place: x must be a writable, C-contiguous, 1-D
    float32 ndarray (TypeError otherwise, since a converted copy would
    silently leave x unchanged).  On error x is left unchanged.

    >>> import numpy as np, ruvector_cffi as rv
    >>> x = np.array([0.0, 0.0, float("-inf"), 0.0], dtype=np.float32)
    >>> rv.softmax_inplace(x)
    >>> x.round(4)
    array([0.3333, 0.3333, 0.    , 0.3333], dtype=float32)
    """
    if not isinstance(x, np.ndarray):
        raise ArgumentTypeError(f"softmax_inplace needs a numpy float32 array, got {type(x).__name__}")
    if x.dtype != F32 or not x.dtype.isnative:
        raise ArgumentTypeError(f"softmax_inplace needs a native float32 array, got dtype {x.dtype}")
    if x.ndim != 1:
        raise ArgumentTypeError(f"softmax_inplace needs a 1-D array, got {x.ndim}-D with shape {x.shape}")
    if not x.flags.c_contiguous or not x.flags.aligned:
        raise ArgumentTypeError("softmax_inplace needs a C-contiguous aligned array; use x = rv.softmax(x)")
    if not x.flags.writeable:
        raise ArgumentTypeError("softmax_inplace needs a writable array; use x = rv.softmax(x)")
    n = x.shape[0]
    if n:
        st = lib.rv_softmax_inplace(_fb(_FA, x, require_writable=True), n)
        if st:
            raise softmax_error(st, x, "x")


# ---------------------------------------------------------------- attention types


class AttentionType(NamedTuple):
    """One row of :func:`attention_types`."""

    name: str
    complexity: str
    best_for: str


def _catalogue() -> Tuple[AttentionType, ...]:
    rows = []
    for t in range(lib.RV_ATTN_TYPE_COUNT):
        info = lib.rv_attention_type_get(t)
        rows.append(
            AttentionType(
                ffi.string(info.name).decode("utf-8"),
                ffi.string(info.complexity).decode("utf-8"),
                ffi.string(info.best_for).decode("utf-8"),
            )
        )
    return tuple(rows)


_TYPES = _catalogue()
_MULTI_HEAD = lib.RV_ATTN_MULTI_HEAD
_SEED_SCORE_TYPES = (lib.RV_ATTN_SCALED_DOT, lib.RV_ATTN_FLASH_V2, lib.RV_ATTN_MULTI_HEAD)


def attention_types() -> List[AttentionType]:
    """The catalogue of attention types: one ``(name, complexity, best_for)``
    named tuple per type, in the order of the C core (11 entries).

    >>> import ruvector_cffi as rv
    >>> [t.name for t in rv.attention_types()][:3]
    ['scaled_dot', 'multi_head', 'flash_v2']
    >>> rv.attention_types()[0].complexity
    'O(n d)'
    """
    return list(_TYPES)


def _check_multi_head_scale(scale: Any, d: int) -> None:
    if scale is not None:
        raise ParameterError(
            "scale cannot be set for the multi_head type: each of its "
            f"{DEFAULT_NUM_HEADS} heads uses 1/sqrt(d/{DEFAULT_NUM_HEADS})"
        )
    if d % DEFAULT_NUM_HEADS:
        raise error_for_status(
            lib.RV_ERR_NUM_HEADS,
            f"the multi_head type uses {DEFAULT_NUM_HEADS} heads, which do not divide the query dimension d={d}",
        )


# ---------------------------------------------------------------- scores


def attention_score(
    query: ArrayLike,
    key: ArrayLike,
    attention_type: str = "scaled_dot",
    *,
    scale: Optional[float] = None,
    **params: Any,
) -> float:
    """The raw attention logit of one query/key pair (not a softmax).

    ``scaled_dot`` and ``flash_v2``: ``scale * q.k`` with scale defaulting to
    ``1/sqrt(d)``; ``multi_head``: the mean over 4 heads (contiguous slices
    of d/4 dimensions) of ``q_h.k_h / sqrt(d/4)``.  ``attention_type`` is
    case-insensitive; an unknown name raises ParameterError (a ValueError)
    listing the valid ones.  The other types score a pair by their own rule
    (``linear``: phi(q).phi(k); ``gat``: the LeakyReLU'd logit;
    ``poincare``/``lorentz``: minus the hyperbolic distance; the rest:
    ``scale * q.k``), with the type's parameters as keywords (see
    :func:`attention`) or its defaults.

    >>> import ruvector_cffi as rv
    >>> rv.attention_score([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 1.0, 0.0])
    2.0
    >>> rv.attention_score([1.0, 2.0], [3.0, 4.0], scale=1.0)
    11.0
    >>> rv.attention_score([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], "MultiHead")
    2.5
    """
    t = parse_attention_type(attention_type)
    q = _validate_array(query, "query")
    k = _validate_array(key, "key")
    d = _validate_vector(q, "query")
    if k.ndim != 1:
        raise ShapeError(f"key must be a 1-D vector, got a {k.ndim}-D array of shape {k.shape}")
    if k.shape[0] != d:
        raise ShapeError(f"query has {d} dimensions but key has {k.shape[0]}")
    out = ffi.new("float *")
    if t not in _SEED_SCORE_TYPES or params:
        p, _keep = build_params(t, with_scale(params, scale), d, None, "attention_score")
        st = lib.rv_attention_logit(p, _fb(_FA, q), _fb(_FA, k), d, out)
        if st:
            raise call_error(st, p, [("query", q, query), ("key", k, key)])
        return float(out[0])
    if t == _MULTI_HEAD:
        _check_multi_head_scale(scale, d)
        s = None
        st = _mh_score_c(_fb(_FA, q), _fb(_FA, k), d, DEFAULT_NUM_HEADS, out)
    else:
        s = 1.0 / _sqrt(d) if scale is None else _validate_scale(scale)
        st = _score_c(_fb(_FA, q), _fb(_FA, k), d, s, out)
    if st:
        if st == _NONFINITE:
            heads = DEFAULT_NUM_HEADS if t == _MULTI_HEAD else 1
            raise nonfinite_error([("query", q, query), ("key", k, key)], q, k.reshape(1, -1), s, heads)
        raise error_for_status(st)
    return float(out[0])


def attention_scores(
    query: ArrayLike,
    keys: ArrayLike,
    attention_type: str = "scaled_dot",
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
    **params: Any,
) -> Float32Array:
    """Attention weights of a query over n keys: ``softmax(scale * K q)``,
    shape ``(n,)``, summing to 1; a 2-D query (m x d) gives ``(m, n)``.

    ``keys`` is n x d; zero keys (shape ``(0, d)`` or ``[]``) give an empty
    result.  ``multi_head`` averages the weights of 4 heads.  Every other
    type gives the weights its forward pass uses (zeros for the keys a
    sparse, moe, causal or sliding row ignores), with the type's parameters
    as keywords (see :func:`attention`) or its defaults.

    >>> import ruvector_cffi as rv
    >>> rv.attention_scores([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], scale=1.0).round(4)
    array([0.7311, 0.2689], dtype=float32)
    >>> rv.attention_scores([1.0, 0.0], []).shape
    (0,)
    """
    t = parse_attention_type(attention_type)
    Q = _validate_array(query, "query")
    K = _validate_array(keys, "keys")
    m, d = _validate_query(Q)
    n = _validate_keys(K, d)
    if t not in _SEED_SCORE_TYPES or params:
        return _generic_scores(t, with_scale(params, scale), query, keys, Q, K, m, n, d, threads)
    multi = t == _MULTI_HEAD
    if multi:
        _check_multi_head_scale(scale, d)
        s = None
    else:
        s = 1.0 / _sqrt(d) if scale is None else _validate_scale(scale)
    out = _output((n,) if m < 0 else (m, n), "attention weights")
    rows = 1 if m < 0 else m
    if n == 0 or rows == 0:
        return out
    qp, kp, op = _fb(_FA, Q), _fb(_FA, K), _fb(_FA, out)
    st = 0
    if multi:
        sp = _scratch(n * DEFAULT_NUM_HEADS, "attention_scores")
        for r in range(rows):
            st = _mh_scores_c(qp + r * d, kp, n, d, DEFAULT_NUM_HEADS, op + r * n, sp)
            if st:
                break
    else:
        for r in range(rows):
            st = _scores_c(qp + r * d, kp, n, d, s, op + r * n)
            if st:
                break
    if st:
        if st == _NONFINITE:
            heads = DEFAULT_NUM_HEADS if multi else 1
            raise nonfinite_error([("query", Q, query), ("keys", K, keys)], Q, K, s, heads)
        raise error_for_status(st)
    return out


def _generic_scores(t: int, given: Dict[str, Any], query: Any, keys: Any, Q: Any, K: Any,
                    m: int, n: int, d: int, threads: Optional[int]) -> Float32Array:
    p, _keep = build_params(t, given, d, None, "attention_scores")
    out = _output((n,) if m < 0 else (m, n), "attention weights")
    rows = 1 if m < 0 else m
    if n == 0 or rows == 0:
        return out
    ex = _b.default_exec if threads is None else _exec_for(threads)
    st = lib.rvpy_attention_weights(p, _fb(_FA, Q), rows, _fb(_FA, K), n, d, _fb(_FA, out), ex)
    if st:
        raise call_error(st, p, [("query", Q, query), ("keys", K, keys)])
    return out


# ---------------------------------------------------------------- forward functions


def scaled_dot_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """Scaled dot-product attention: ``sum_i softmax(scale * K q)_i V_i``.

    query: ``(d,)``, or ``(m, d)`` for a batch of m independent queries;
    keys: ``(n, d)``; values: ``(n, dv)``.  Returns ``(dv,)`` or ``(m, dv)``.
    ``scale`` defaults to ``1/sqrt(d)``.  ``threads`` (default
    ``os.cpu_count()``) caps the threads a batch may use; results are
    bit-identical for any thread count.

    >>> import ruvector_cffi as rv
    >>> K = [[1.0, 0.0], [0.0, 1.0]]
    >>> V = [[10.0, 0.0], [0.0, 10.0]]
    >>> rv.scaled_dot_attention([1.0, 0.0], K, V, scale=1.0).round(3)
    array([7.311, 2.689], dtype=float32)
    >>> rv.scaled_dot_attention([[1.0, 0.0], [0.0, 1.0]], K, V, scale=1.0).round(3)
    array([[7.311, 2.689],
           [2.689, 7.311]], dtype=float32)
    """
    Q, K, V, m, n, d, dv = _validate_forward(query, keys, values)
    s = 1.0 / _sqrt(d) if scale is None else _validate_scale(scale)
    ex = _b.default_exec if threads is None else _exec_for(threads)
    if m < 0:
        out = _empty(dv, F32)
        m = 1
    else:
        out = _output((m, dv), "output")
        if m == 0:
            return out
    st = _sdpa_c(_fb(_FA, Q), m, _fb(_FA, K), _fb(_FA, V), n, d, dv, s, _fb(_FA, out), ex)
    if st:
        raise _forward_error(st, (query, keys, values), Q, K, V, s, 1)
    return out


@overload
def multi_head_attention(
    query: ArrayLike, keys: ArrayLike, values: ArrayLike, num_heads: int = ...,
    *, return_weights: Literal[False] = ..., threads: Optional[int] = ...,
) -> Float32Array: ...


@overload
def multi_head_attention(
    query: ArrayLike, keys: ArrayLike, values: ArrayLike, num_heads: int = ...,
    *, return_weights: Literal[True], threads: Optional[int] = ...,
) -> Tuple[Float32Array, Float32Array]: ...


@overload
def multi_head_attention(
    query: ArrayLike, keys: ArrayLike, values: ArrayLike, num_heads: int = ...,
    *, return_weights: bool, threads: Optional[int] = ...,
) -> Union[Float32Array, Tuple[Float32Array, Float32Array]]: ...


def multi_head_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    num_heads: int = DEFAULT_NUM_HEADS,
    *,
    return_weights: bool = False,
    threads: Optional[int] = None,
) -> Union[Float32Array, Tuple[Float32Array, Float32Array]]:
    """Multi-head attention with heads as contiguous slices.

    Head h takes query/key dims ``[h*d/H, (h+1)*d/H)`` and value dims
    ``[h*dv/H, (h+1)*dv/H)``; each is scaled-dot attention with scale
    ``1/sqrt(d/H)``; outputs are concatenated: ``(dv,)``, or ``(m, dv)`` for a
    2-D query.  With ``return_weights=True`` returns ``(out, weights)``, the
    weights averaged over heads (``(n,)`` or ``(m, n)``).  num_heads must
    divide d and dv.  Bit-identical for any ``threads``.

    >>> import ruvector_cffi as rv
    >>> q = [1.0, 0.0, 0.0, 1.0]
    >>> K = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]]
    >>> V = [[1.0, 2.0], [3.0, 4.0]]
    >>> rv.multi_head_attention(q, K, V, num_heads=2).round(4)
    array([1.6605, 2.6605], dtype=float32)
    >>> out, w = rv.multi_head_attention(q, K, V, 2, return_weights=True)
    >>> w.round(4)
    array([0.6698, 0.3302], dtype=float32)
    """
    Q, K, V, m, n, d, dv = _validate_forward(query, keys, values)
    H = _validate_num_heads(num_heads, d, dv)
    if type(return_weights) is not bool:
        raise ArgumentTypeError(f"return_weights must be a bool, got {type(return_weights).__name__}")
    ex = _b.default_exec if threads is None else _exec_for(threads)
    rows = 1 if m < 0 else m
    out = _output((dv,) if m < 0 else (m, dv), "output")
    w = _output((n,) if m < 0 else (m, n), "weights") if return_weights else None
    if rows:
        st = _mha_c(
            _fb(_FA, Q), rows, _fb(_FA, K), _fb(_FA, V), n, d, dv, H, _fb(_FA, out),
            _NULL if w is None else _fb(_FA, w), ex,
        )
        if st:
            raise _forward_error(st, (query, keys, values), Q, K, V, None, H)
    if w is not None:
        return out, w
    return out


def flash_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    block_size: int = 64,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """FlashAttention-2 style attention: the result of
    :func:`scaled_dot_attention` (up to rounding), computed over tiles of
    ``block_size`` keys (1..65536) with the online softmax, so that its
    scratch memory does not grow with the number of keys.

    >>> import ruvector_cffi as rv
    >>> K = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> V = [[1.0], [2.0], [3.0]]
    >>> rv.flash_attention([1.0, 0.0], K, V, block_size=2, scale=1.0).round(4)
    array([2.], dtype=float32)
    >>> rv.flash_attention([0.0, 3.0], K, V, block_size=2, scale=1.0).round(4)
    array([2.4636], dtype=float32)
    """
    b = block_size if type(block_size) is int and 1 <= block_size <= MAX_BLOCK_SIZE else _validate_block_size(block_size)
    Q, K, V, m, n, d, dv = _validate_forward(query, keys, values)
    s = 1.0 / _sqrt(d) if scale is None else _validate_scale(scale)
    ex = _b.default_exec if threads is None else _exec_for(threads)
    if m < 0:
        out = _empty(dv, F32)
        m = 1
    else:
        out = _output((m, dv), "output")
        if m == 0:
            return out
    st = _flash_c(_fb(_FA, Q), m, _fb(_FA, K), _fb(_FA, V), n, d, dv, s, b, _fb(_FA, out), ex)
    if st:
        raise _forward_error(st, (query, keys, values), Q, K, V, s, 1)
    return out


# ---------------------------------------------------------------- scratch sizes


def _scratch_bytes(floats: int, what: str) -> int:
    if floats == SIZE_MAX or 4 * floats > SIZE_MAX:
        raise error_for_status(lib.RV_ERR_SIZE_OVERFLOW, f"the scratch size of {what} overflows")
    return 4 * floats


def scaled_dot_attention_scratch_bytes(
    n: int, d: int, dv: int, threads: Optional[int] = 1, *, queries: int = 1
) -> int:
    """Bytes of scratch :func:`scaled_dot_attention` needs for ``queries``
    queries over n keys (per thread, one row of n logits, and dv doubles
    that accumulate the weighted values, aligned): it grows with n.

    >>> import ruvector_cffi as rv
    >>> rv.scaled_dot_attention_scratch_bytes(1000, 64, 64)
    4516
    """
    ex = _exec_for(_validate_threads(threads))
    floats = _sdpa_scratch_c(
        _validate_size(queries, "queries"), _validate_size(n, "n"), _validate_size(d, "d"),
        _validate_size(dv, "dv"), ex,
    )
    return _scratch_bytes(floats, "scaled_dot_attention")


def flash_attention_scratch_bytes(
    n: int, d: int, dv: int, block_size: int = 64, threads: Optional[int] = 1, *, queries: int = 1
) -> int:
    """Bytes of scratch :func:`flash_attention` needs: per thread, one tile of
    ``min(block_size, n)`` logits and dv doubles for the running output,
    independent of n beyond one tile.

    >>> import ruvector_cffi as rv
    >>> rv.flash_attention_scratch_bytes(1_000, 64, 64)
    772
    >>> rv.flash_attention_scratch_bytes(1_000_000, 64, 64)
    772
    """
    b = _validate_block_size(block_size)
    ex = _exec_for(_validate_threads(threads))
    floats = _flash_scratch_c(
        _validate_size(queries, "queries"), _validate_size(n, "n"), _validate_size(d, "d"),
        _validate_size(dv, "dv"), b, ex,
    )
    return _scratch_bytes(floats, "flash_attention")

"""The attention types beyond scaled-dot, multi-head and flash, and the one
entry point :func:`attention` that runs any type by name.

Every function mirrors its SQL namesake (same parameters, same defaults,
bit-identical results for the same SIMD backend): query ``(d,)`` or
``(m, d)``, keys ``(n, d)``, values ``(n, dv)``; result ``(dv,)`` or
``(m, dv)``, rows independent.  They all go through the core's generic
``rv_attention`` with the type's parameters (``_params.build_params``).
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _binding as _b
from ._binding import FLOAT_ARRAY, ffi, lib
from ._errors import ArgumentTypeError, ParameterError, RuvectorError, ShapeError, error_for_status
from ._params import build_params
from ._validate import (
    F32,
    _exec_for,
    _nonfinite_inputs,
    _output,
    _validate_array,
    _validate_forward,
    _validate_query,
)

__all__ = [
    "LinearAttentionSummary",
    "attention",
    "cross_attention",
    "gat_attention",
    "hyperbolic_attention",
    "linear_attention",
    "linear_attention_from_summary",
    "linear_attention_summary",
    "moe_attention",
    "parse_attention_type",
    "sliding_window_attention",
    "sparse_attention",
]

Float32Array = NDArray[np.float32]
_fb = ffi.from_buffer
_FA = FLOAT_ARRAY

_TYPE_NAMES: str = ffi.string(lib.rv_attention_type_names()).decode("utf-8")
_type_cache: Dict[str, int] = {}


def parse_attention_type(name: Any) -> int:
    """The rv_attention_type of a name (case-insensitive, with the aliases
    scaleddot, multihead, flashv2, flash, poincaré); ParameterError for an
    unknown one, listing the valid names."""
    if type(name) is str:
        t = _type_cache.get(name)
        if t is not None:
            return t
    if not isinstance(name, str):
        raise ArgumentTypeError(f"attention_type must be a str, got {type(name).__name__}")
    out = ffi.new("rv_attention_type *")
    st = lib.rv_attention_type_from_name(name.encode("utf-8"), out) if "\0" not in name else lib.RV_ERR_UNKNOWN_TYPE
    if st:
        raise error_for_status(st, f"{name!r}; valid names: {_TYPE_NAMES}")
    t = int(out[0])
    if len(_type_cache) < 256:
        _type_cache[name] = t
    return t


Inputs = Sequence[Tuple[str, Any, Any]]


def _outside_ball(inputs: Inputs, curvature: float) -> str:
    """Which input and row lies outside the Poincare ball, as the core decides."""
    row = ffi.new("size_t *")
    for name, a, _ in inputs:
        if a is None or a.size == 0:
            continue
        a2 = a.reshape(-1, a.shape[-1])
        st = lib.rv_ball_check(_fb(_FA, a2), a2.shape[0], a2.shape[1], curvature, row)
        if st == lib.RV_ERR_OUTSIDE_BALL:
            r = int(row[0])
            norm2 = float(np.dot(a2[r].astype(np.float64), a2[r].astype(np.float64)))
            where = f"{name} row {r}" if a.ndim == 2 else name
            return f"{where} has c |x|^2 = {curvature * norm2:.9g} >= 1 (curvature {curvature:g}); its norm must be below 1/sqrt(c)"
    return f"curvature {curvature:g}"


def call_error(status: int, p: Any, inputs: Inputs) -> RuvectorError:
    """The exception of a failed generic call with parameters p; inputs:
    (name, float32 array, caller's argument) triples, scanned only now."""
    if status == lib.RV_ERR_OUTSIDE_BALL and _nonfinite_inputs(inputs):
        status = lib.RV_ERR_NONFINITE  # a NaN is outside every ball: say what it is
    if status == lib.RV_ERR_NONFINITE:
        where = _nonfinite_inputs(inputs)
        return error_for_status(
            status,
            where or "every input is finite, so a logit or an output overflowed float32 "
            "(or every attention weight underflowed to 0)",
        )
    if status == lib.RV_ERR_OUTSIDE_BALL:
        return error_for_status(status, _outside_ball(inputs, float(p.curvature)))
    return error_for_status(status)


def _forward(t: int, query: ArrayLike, keys: ArrayLike, values: ArrayLike, given: Dict[str, Any],
             threads: Optional[int], what: str) -> Float32Array:
    Q, K, V, m, n, d, dv = _validate_forward(query, keys, values)
    p, keep = build_params(t, given, d, dv, what)
    ex = _b.default_exec if threads is None else _exec_for(threads)
    out = _output((dv,) if m < 0 else (m, dv), "output")
    rows = 1 if m < 0 else m
    if rows:
        st = lib.rvpy_attention(p, _fb(_FA, Q), rows, _fb(_FA, K), _fb(_FA, V), n, d, dv, _fb(_FA, out), ex)
        if st:
            inputs: List[Tuple[str, Any, Any]] = [("query", Q, query), ("keys", K, keys), ("values", V, values)]
            if keep is not None:
                inputs.append(("attention_vector", keep, given.get("attention_vector")))
            raise call_error(st, p, inputs)
    return out


def attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    attention_type: str = "scaled_dot",
    *,
    threads: Optional[int] = None,
    **params: Any,
) -> Float32Array:
    """Attention of any type in :func:`attention_types`, by name.

    The type's parameters may be given as keywords (``top_k=4``,
    ``causal=True``, ``curvature=0.5``...; ``scale`` where the logit is a
    scaled dot product); the others keep the type's defaults, as in the SQL
    function ``ruvector_attention``.  A parameter the type does not take is
    a TypeError.

    >>> import ruvector_cffi as rv
    >>> K = [[1.0, 0.0], [0.0, 1.0]]
    >>> V = [[10.0, 0.0], [0.0, 10.0]]
    >>> rv.attention([1.0, 0.0], K, V).round(3)
    array([6.698, 3.302], dtype=float32)
    >>> rv.attention([1.0, 0.0], K, V, "sparse", top_k=1).round(3)
    array([10.,  0.], dtype=float32)
    """
    t = parse_attention_type(attention_type)
    return _forward(t, query, keys, values, params, threads, "attention")


def linear_attention(
    query: ArrayLike, keys: ArrayLike, values: ArrayLike, *, threads: Optional[int] = None
) -> Float32Array:
    """Linear attention (Katharopoulos et al. 2020) with phi(x) = elu(x) + 1:
    weights ``phi(q).phi(k_i)`` normalised to sum 1, output their weighted
    sum of the values.  :func:`linear_attention_summary` precomputes the
    key side for many queries.

    >>> import ruvector_cffi as rv
    >>> rv.linear_attention([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], [[1.0], [0.0]]).round(4)
    array([0.5556], dtype=float32)
    """
    return _forward(lib.RV_ATTN_LINEAR, query, keys, values, {}, threads, "linear_attention")


class LinearAttentionSummary(NamedTuple):
    """The key-side summary of linear attention: ``S = sum_i phi(k_i) v_i^T``
    (d x dv) and ``z = sum_i phi(k_i)`` (d); ``matrix`` is ``[S | z]``
    (d x (dv + 1)), the form ``ruvector_linear_attention_summary`` returns
    in SQL (S and z are views of it)."""

    S: Float32Array
    z: Float32Array
    matrix: Float32Array


def linear_attention_summary(
    keys: ArrayLike, values: ArrayLike, *, threads: Optional[int] = None
) -> LinearAttentionSummary:
    """The summary of keys (n x d) and values (n x dv) from which
    :func:`linear_attention_from_summary` answers any query in O(d dv).

    >>> import ruvector_cffi as rv
    >>> s = rv.linear_attention_summary([[1.0, 0.0], [0.0, 1.0]], [[1.0], [0.0]])
    >>> s.S.tolist(), s.z.tolist()
    ([[2.0], [1.0]], [3.0, 3.0])
    """
    K = _validate_array(keys, "keys")
    V = _validate_array(values, "values")
    if K.ndim != 2 or K.shape[0] == 0 or K.shape[1] == 0:
        raise ShapeError(f"keys must be a non-empty 2-D array (n keys x d), got shape {tuple(K.shape)}")
    n, d = int(K.shape[0]), int(K.shape[1])
    if V.ndim != 2 or V.shape[0] != n or V.shape[1] == 0:
        raise ShapeError(f"values must be a 2-D array of {n} rows (one per key) and dv >= 1 columns, got shape {tuple(V.shape)}")
    dv = int(V.shape[1])
    M = _output((d, dv + 1), "summary")
    ex = _b.default_exec if threads is None else _exec_for(threads)
    st = lib.rvpy_linear_attention_summary(_fb(_FA, K), _fb(_FA, V), n, d, dv, _fb(_FA, M), ex)
    if st:
        raise call_error(st, None, [("keys", K, keys), ("values", V, values)])
    return LinearAttentionSummary(M[:, :dv], M[:, dv], M)


def linear_attention_from_summary(
    query: ArrayLike, S: ArrayLike, z: Optional[ArrayLike] = None, *, threads: Optional[int] = None
) -> Float32Array:
    """Linear attention of a query (``(d,)``, or ``(m, d)``) from a summary:
    ``S^T phi(q) / phi(q).z``.  Pass the :class:`LinearAttentionSummary`
    (or its ``S`` and ``z``, or the SQL ``[S | z]`` matrix alone).

    >>> import ruvector_cffi as rv
    >>> s = rv.linear_attention_summary([[1.0, 0.0], [0.0, 1.0]], [[1.0], [0.0]])
    >>> rv.linear_attention_from_summary([1.0, 0.0], s).round(4)
    array([0.5556], dtype=float32)
    """
    if isinstance(S, LinearAttentionSummary):
        if z is not None:
            raise ArgumentTypeError("pass a LinearAttentionSummary alone, or S and z")
        M = S.matrix
    elif z is None:
        M = _validate_array(S, "summary")
        if M.ndim != 2 or M.shape[1] < 2:
            raise ShapeError(f"a summary matrix [S | z] must be 2-D with dv + 1 >= 2 columns, got shape {tuple(M.shape)}")
    else:
        S2, z2 = _validate_array(S, "S"), _validate_array(z, "z")
        if S2.ndim != 2 or S2.shape[1] == 0 or z2.ndim != 1 or z2.shape[0] != S2.shape[0]:
            raise ShapeError(f"S must be d x dv and z of length d, got shapes {tuple(S2.shape)} and {tuple(z2.shape)}")
        M = np.concatenate([S2, z2[:, None]], axis=1)
    M = _validate_array(M, "summary")
    Q = _validate_array(query, "query")
    m, d = _validate_query(Q)
    if d != M.shape[0]:
        raise ShapeError(f"query has {d} dimensions but the summary has {M.shape[0]} rows")
    dv = int(M.shape[1]) - 1
    out = _output((dv,) if m < 0 else (m, dv), "output")
    rows = 1 if m < 0 else m
    ex = _b.default_exec if threads is None else _exec_for(threads)
    if rows:
        st = lib.rvpy_linear_attention_from_summary(_fb(_FA, Q), rows, _fb(_FA, M), d, dv, _fb(_FA, out), ex)
        if st:
            raise call_error(st, None, [("query", Q, query), ("summary", M, None)])
    return out


def gat_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    negative_slope: float = 0.2,
    attention_vector: Optional[ArrayLike] = None,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """Graph attention (Velickovic et al. 2018) of a node (query) over its
    neighbours (keys, values): ``e_i = LeakyReLU(scale q.k_i)``, or with
    ``attention_vector`` a = [a1; a2] (2d floats) ``e_i = LeakyReLU(a1.q +
    a2.k_i)``; weights softmax(e).

    >>> import ruvector_cffi as rv
    >>> K = [[1.0, 0.0], [-1.0, 0.0]]
    >>> V = [[1.0], [0.0]]
    >>> rv.gat_attention([2.0, 0.0], K, V, scale=1.0).round(4)
    array([0.9168], dtype=float32)
    """
    given = {"negative_slope": negative_slope, "attention_vector": attention_vector, "scale": scale}
    return _forward(lib.RV_ATTN_GAT, query, keys, values, given, threads, "gat_attention")


def sparse_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    top_k: int = 8,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """Top-k attention: softmax over the ``top_k`` largest logits only (ties
    to the lower index); every other key weighs 0.

    >>> import ruvector_cffi as rv
    >>> K = [[3.0], [1.0], [2.0]]
    >>> V = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    >>> rv.sparse_attention([1.0], K, V, top_k=2, scale=1.0).round(4)
    array([0.7311, 0.    ], dtype=float32)
    """
    return _forward(lib.RV_ATTN_SPARSE, query, keys, values, {"top_k": top_k, "scale": scale},
                    threads, "sparse_attention")


def moe_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    n_experts: int = 4,
    top_k: int = 2,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """Mixture-of-experts attention: the keys in ``n_experts`` contiguous
    groups (sizes differing by at most one), the ``top_k`` groups with the
    largest mean logit chosen, their gates softmaxed, each chosen group
    attended on its own and the results mixed by the gates.

    >>> import ruvector_cffi as rv
    >>> K = [[1.0], [1.0], [-1.0], [-1.0]]
    >>> V = [[1.0], [3.0], [5.0], [7.0]]
    >>> rv.moe_attention([1.0], K, V, n_experts=2, top_k=1).round(4)
    array([2.], dtype=float32)
    """
    return _forward(lib.RV_ATTN_MOE, query, keys, values,
                    {"n_experts": n_experts, "top_k": top_k, "scale": scale}, threads, "moe_attention")


def cross_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    causal: bool = False,
    num_heads: int = 1,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """Cross attention of m queries (m x d) over keys and values from another
    source, FlashAttention-2 style tiled; ``cross_attention(X, X, X)`` is
    self-attention.  ``causal``: row r attends keys ``j <= r + n - m``
    (bottom-right aligned); a row with no key to attend is 0.
    ``num_heads`` heads are contiguous slices as in
    :func:`multi_head_attention` (scale ``1/sqrt(d/H)`` by default).

    >>> import ruvector_cffi as rv
    >>> X = [[1.0, 0.0], [0.0, 1.0]]
    >>> rv.cross_attention(X, X, [[1.0], [2.0]], causal=True, scale=1.0).round(4)
    array([[1.    ],
           [1.7311]], dtype=float32)
    """
    return _forward(lib.RV_ATTN_CROSS, query, keys, values,
                    {"causal": causal, "num_heads": num_heads, "scale": scale}, threads, "cross_attention")


def sliding_window_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    window_size: int = 256,
    *,
    scale: Optional[float] = None,
    threads: Optional[int] = None,
) -> Float32Array:
    """Sliding-window attention: a query attends the last ``window_size``
    keys; row r of m queries attends keys ``(r + n - m - window_size,
    r + n - m]`` (a row whose window holds no key is 0).

    >>> import ruvector_cffi as rv
    >>> K = [[0.0], [0.0], [0.0]]
    >>> V = [[9.0], [1.0], [3.0]]
    >>> rv.sliding_window_attention([1.0], K, V, window_size=2).tolist()
    [2.0]
    """
    return _forward(lib.RV_ATTN_SLIDING, query, keys, values,
                    {"window_size": window_size, "scale": scale}, threads, "sliding_window_attention")


def hyperbolic_attention(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    model: str = "poincare",
    curvature: float = 1.0,
    *,
    threads: Optional[int] = None,
) -> Float32Array:
    """Hyperbolic attention: logits are minus the hyperbolic distances.
    ``model="poincare"``: points of the ball ``c |x|^2 < 1`` (else
    :class:`OutsideBallError`), values aggregated in the tangent space at the
    origin, so the result is in the ball.  ``model="lorentz"``: spatial
    coordinates on the hyperboloid; the result is the Lorentzian centroid.

    >>> import ruvector_cffi as rv
    >>> X = [[0.1, 0.0], [0.0, 0.1]]
    >>> out = rv.hyperbolic_attention([0.1, 0.0], X, X)
    >>> bool(out[0] > out[1] > 0)
    True
    """
    if not isinstance(model, str):
        raise ArgumentTypeError(f"model must be a str, got {type(model).__name__}")
    try:
        t = parse_attention_type(model)  # the core's names: case-insensitive, poincaré too
    except ParameterError:
        t = -1
    if t not in (lib.RV_ATTN_POINCARE, lib.RV_ATTN_LORENTZ):
        raise ParameterError(f"unknown hyperbolic model {model!r}; valid models: poincare, lorentz")
    return _forward(t, query, keys, values, {"curvature": curvature}, threads, "hyperbolic_attention")

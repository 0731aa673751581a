"""Argument checks run before every C call (``_validate_*``), and the
error-path diagnostics that say which input holds a NaN or infinity.

The checks raise with messages that name the sizes involved; the C core
checks sizes again, but only Python knows the argument names.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from . import _binding
from ._binding import FLOAT_ARRAY, MAX_BLOCK_SIZE, NULL, SIZE_MAX, alloc_floats, lib
from ._errors import (
    ArgumentTypeError,
    ParameterError,
    RuvectorError,
    ShapeError,
    SizeError,
    error_for_status,
)

F32 = np.dtype(np.float32)
_nd = np.ndarray
_NUMERIC_KINDS = "biuf"
# the smallest double that rounds to +Infinity as a float: FLT_MAX + half an ulp
_FLT_OVERFLOW = 2.0**128 - 2.0**103
_FLT_MAX = float(np.finfo(np.float32).max)

# ---------------------------------------------------------------- arrays


def _describe(a: Any) -> str:
    return f"a {a.ndim}-D array of shape {tuple(a.shape)}"


def _validate_array(x: Any, name: str) -> Any:
    """x as a C-contiguous float32 ndarray (copied only when needed).

    Strings, object and complex arrays, and ragged nested lists are refused
    with a message naming the argument.
    """
    if isinstance(x, np.ndarray):
        if x.dtype is F32 and x.flags.carray:
            return x
        a = x
    elif isinstance(x, (str, bytes, bytearray)):
        raise ArgumentTypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    else:
        try:
            a = np.asarray(x)
        except ValueError as e:  # nested sequences of different lengths
            raise ShapeError(f"{name} is not a rectangular array of numbers ({e})") from None
        except TypeError as e:
            raise ArgumentTypeError(f"{name} must be an array of numbers ({e})") from None
    if a.dtype.kind not in _NUMERIC_KINDS:
        raise ArgumentTypeError(
            f"{name} must hold real numbers, got an array of dtype {a.dtype}"
        )
    if a.ndim == 0:  # ascontiguousarray would make it 1-D; callers reject 0-D
        return a.astype(F32)
    try:
        out = np.ascontiguousarray(a, dtype=F32)
    except (MemoryError, ValueError) as e:
        raise SizeError(f"{name} of shape {tuple(a.shape)} does not fit in memory as float32") from e
    # a misaligned float32 view (np.frombuffer at an odd offset) comes back as is
    return out if out.flags.aligned else out.copy()


def _validate_vector(a: Any, name: str) -> int:
    """Length of a 1-D, non-empty vector."""
    if a.ndim != 1:
        raise ShapeError(f"{name} must be a 1-D vector, got {_describe(a)}")
    d = int(a.shape[0])
    if d == 0:
        raise error_for_status(lib.RV_ERR_EMPTY_QUERY, f"{name} has length 0")
    return d


def _validate_query(Q: Any) -> Tuple[int, int]:
    """(m, d) of a 1-D query (m = -1 marks 'not a batch') or an m x d batch."""
    if Q.ndim == 1:
        m, d = -1, int(Q.shape[0])
    elif Q.ndim == 2:
        m, d = int(Q.shape[0]), int(Q.shape[1])
    else:
        raise ShapeError(
            f"query must be a 1-D vector or a 2-D batch of queries (m x d), got {_describe(Q)}"
        )
    if d == 0:
        raise error_for_status(lib.RV_ERR_EMPTY_QUERY, f"query has shape {tuple(Q.shape)}")
    return m, d


def _validate_keys(K: Any, d: int) -> int:
    """Number of keys n of an n x d matrix; an empty 1-D array is 0 keys."""
    if K.ndim == 1 and K.shape[0] == 0:
        return 0
    if K.ndim != 2:
        hint = "; use keys.reshape(1, -1) for a single key" if K.ndim == 1 else ""
        raise ShapeError(f"keys must be a 2-D array (n keys x d), got {_describe(K)}{hint}")
    n, cols = int(K.shape[0]), int(K.shape[1])
    if cols != d and not (n == 0 and cols == 0):
        raise ShapeError(f"query has {d} dimensions but keys have {cols} columns")
    return n


def _validate_values(V: Any, n: int) -> int:
    """dv of an n x dv value matrix whose rows match the n keys."""
    if V.ndim != 2:
        hint = "; use values.reshape(1, -1) for a single value" if V.ndim == 1 else ""
        raise ShapeError(f"values must be a 2-D array (n values x dv), got {_describe(V)}{hint}")
    rows, dv = int(V.shape[0]), int(V.shape[1])
    if rows != n:
        raise ShapeError(f"keys have {n} rows but values have {rows} rows")
    if dv == 0:
        raise error_for_status(lib.RV_ERR_EMPTY_VALUES, f"values have shape {tuple(V.shape)}")
    return dv


def _validate_forward(query: Any, keys: Any, values: Any) -> Tuple[Any, Any, Any, int, int, int, int]:
    """(Q, K, V, m, n, d, dv) of a forward call: the arrays as C-contiguous
    float32, m = -1 for a 1-D query.

    The common case (three aligned C-contiguous float32 arrays: a vector, two
    matrices of agreeing sizes) is recognised by one test; anything else is
    converted and checked piece by piece, so that errors name the sizes.
    """
    if (type(query) is _nd and type(keys) is _nd and type(values) is _nd
            and query.dtype is F32 and keys.dtype is F32 and values.dtype is F32
            and query.ndim == 1 and keys.ndim == 2 and values.ndim == 2
            and query.flags.carray and keys.flags.carray and values.flags.carray):
        d = query.shape[0]
        n, kd = keys.shape
        vn, dv = values.shape
        if d and n and dv and kd == d and vn == n:
            return query, keys, values, -1, n, d, dv
    Q = _validate_array(query, "query")
    K = _validate_array(keys, "keys")
    V = _validate_array(values, "values")
    m, d = _validate_query(Q)
    n = _validate_keys(K, d)
    if n == 0:
        raise error_for_status(lib.RV_ERR_NO_KEYS, "keys have 0 rows")
    return Q, K, V, m, n, d, _validate_values(V, n)


# ---------------------------------------------------------------- parameters


def _validate_int(value: Any, name: str) -> int:
    """An integer parameter: int or any integer type with __index__, never
    bool or float (TypeError)."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)) or not hasattr(type(value), "__index__"):
        raise ArgumentTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return operator.index(value)


def _validate_size(value: Any, name: str) -> int:
    """A size argument: an integer in [0, SIZE_MAX]."""
    v = _validate_int(value, name)
    if v < 0:
        raise ParameterError(f"{name} must not be negative, got {v}")
    if v > SIZE_MAX:
        raise error_for_status(lib.RV_ERR_SIZE_OVERFLOW, f"{name}={v} exceeds {SIZE_MAX}")
    return v


def _validate_threads(threads: Any) -> int:
    """threads=None means os.cpu_count(); otherwise an integer >= 1."""
    if threads is None:
        return _binding.DEFAULT_THREADS
    t = _validate_int(threads, "threads")
    if t < 1:
        raise ParameterError(f"threads must be at least 1, got {t}")
    return t


def _exec_for(threads: Any) -> Any:
    """The rv_exec for a call: NULL for one thread, else a cached struct."""
    if threads is None:
        t = _binding.DEFAULT_THREADS
    elif type(threads) is int and threads >= 1:
        t = threads
    else:
        t = _validate_threads(threads)
    if t == 1:
        return NULL
    ex = _binding._exec_cache.get(t)
    return ex if ex is not None else _binding.new_exec(t)


def _validate_scale(scale: Any) -> float:
    """A finite logit scale that is also finite as a float32."""
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"scale must be a real number, got {type(scale).__name__} {scale!r}")
    s = float(scale)
    if not math.isfinite(s) or abs(s) >= _FLT_OVERFLOW:
        raise error_for_status(lib.RV_ERR_SCALE, f"got {s!r}, which is not finite as a float32")
    return s


def _validate_block_size(block_size: Any) -> int:
    b = _validate_int(block_size, "block_size")
    if not 1 <= b <= MAX_BLOCK_SIZE:
        raise error_for_status(lib.RV_ERR_BLOCK_SIZE, f"got block_size={b}")
    return b


def _validate_num_heads(num_heads: Any, d: int, dv: Optional[int]) -> int:
    h = _validate_int(num_heads, "num_heads")
    if h < 1:
        raise error_for_status(lib.RV_ERR_NUM_HEADS, f"got num_heads={h}")
    if d % h:
        raise error_for_status(
            lib.RV_ERR_NUM_HEADS, f"num_heads={h} does not divide the query dimension d={d}"
        )
    if dv is not None and dv % h:
        raise error_for_status(
            lib.RV_ERR_NUM_HEADS, f"num_heads={h} does not divide the value dimension dv={dv}"
        )
    return h


def _scratch(floats: int, what: str) -> Any:
    """An uninitialised scratch buffer (cffi float[]) of the size a
    rv_*_scratch function returned ((size_t) -1 when the size overflows)."""
    if floats == SIZE_MAX:
        raise error_for_status(lib.RV_ERR_SIZE_OVERFLOW, f"the scratch size of {what} overflows")
    try:
        return alloc_floats(FLOAT_ARRAY, floats)
    except (MemoryError, OverflowError):
        raise error_for_status(
            lib.RV_ERR_NOMEM, f"{what} needs {4 * floats} bytes of scratch"
        ) from None


def _output(shape: Tuple[int, ...], what: str) -> "NDArray[np.float32]":
    """An uninitialised float32 output array, SizeError when it cannot exist."""
    try:
        return np.empty(shape, F32)
    except (MemoryError, ValueError):
        raise error_for_status(lib.RV_ERR_NOMEM, f"the {what} of shape {shape} does not fit in memory") from None


# ---------------------------------------------------------------- error paths


def _value_name(v: float) -> str:
    return "NaN" if math.isnan(v) else ("+Infinity" if v > 0 else "-Infinity")


def _locate(name: str, a: Any, bad: Any, original: Any = None) -> Optional[str]:
    """Where the first True of `bad` (same shape as a) is, in words.  When
    the float32 value is infinite but the caller's `original` (before the
    conversion to float32) was finite there, say it is out of range."""
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    v = _value_name(float(a[idx]))
    if math.isinf(float(a[idx])) and original is not None:
        o = np.asarray(original)
        if o.shape == a.shape and np.isfinite(o[idx]):
            v = f"{float(o[idx])!r}, beyond the float32 range (largest magnitude {_FLT_MAX:.7g}),"
    if a.ndim == 1:
        return f"{name}[{idx[0]}] is {v}".rstrip(",")
    return f"{name} row {idx[0]} holds {v} at column {idx[1]}"


def _nonfinite_inputs(inputs: Sequence[Tuple[str, Any, Any]]) -> Optional[str]:
    for name, a, original in inputs:
        where = _locate(name, a, ~np.isfinite(a), original)
        if where:
            return where
    return None


def _logit_extremes(Q: Any, K: Any, scale: Optional[float], heads: int) -> Tuple[float, float]:
    """(largest |scale_h q_h.k_h|, largest sum_i |scale_h q_i k_i|) in float64,
    the second bounding every float32 partial sum of a logit.  Error path
    only; one query row at a time so that memory stays O(n)."""
    Q64 = np.asarray(Q, np.float64).reshape(-1, Q.shape[-1])
    K64 = np.asarray(K, np.float64)
    dh = Q64.shape[1] // heads
    s = abs((1.0 / math.sqrt(dh)) if scale is None else scale)
    big = bound = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for q in Q64:
            for h in range(heads):
                Kh, qh = K64[:, h * dh:(h + 1) * dh], q[h * dh:(h + 1) * dh]
                big = max(big, float(np.max(np.abs(Kh @ qh) * s, initial=0.0)))
                bound = max(bound, float(np.max(np.abs(Kh) @ np.abs(qh) * s, initial=0.0)))
    return big, bound


def nonfinite_error(
    inputs: Sequence[Tuple[str, Any, Any]],
    Q: Any,
    K: Any,
    scale: Optional[float],
    heads: int = 1,
    values: Any = None,
) -> RuvectorError:
    """The error for RV_ERR_NONFINITE: which input and row holds NaN or
    infinity, found by scanning only now; or, when every input is finite,
    that a logit or an output overflowed float32.  inputs: (name, float32
    array, the caller's argument) triples."""
    where = _nonfinite_inputs(inputs)
    if where is None:
        big, bound = _logit_extremes(Q, K, scale, heads)
        if big > _FLT_MAX:
            what = "a logit"
        elif bound < 0.5 * _FLT_MAX and values is not None:
            what = "an output"
        else:
            what = "a logit or an output"
        where = f"every input is finite, so {what} overflowed float32 (largest |scale * q.k| is {big:.3g}"
        if values is not None:
            where += f", largest |value| is {float(np.max(np.abs(values), initial=0.0)):.3g}"
        where += ")"
    return error_for_status(lib.RV_ERR_NONFINITE, where)


def softmax_error(status: int, x: Any, name: str, original: Any = None) -> RuvectorError:
    """The error for a failed rv_softmax on x (the caller passed `original`)."""
    if status == lib.RV_ERR_NONFINITE:
        where = _locate(name, x, ~(x < np.inf), original)  # NaN or +Infinity
        return error_for_status(status, where or "")
    if status == lib.RV_ERR_ALL_MASKED:
        return error_for_status(status, f"all {x.shape[0]} entries of {name} are -Infinity")
    return error_for_status(status)

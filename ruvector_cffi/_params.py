"""The parameters of every attention type, checked once and packed into the
core's ``rv_attention_params``.

Each type takes a fixed set of keyword parameters (the SQL function's
trailing parameters, plus ``scale`` where the logit is q.k scaled).  A
parameter a type does not take is a TypeError that lists the ones it does;
a value out of range is a ParameterError (a ValueError) naming it.  Defaults
come from the core (``rv_attention_params_init``), so that Python and SQL
run with the same numbers.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ._binding import SIZE_MAX, ffi, lib
from ._errors import ArgumentTypeError, ParameterError, ShapeError, error_for_status
from ._validate import _validate_array, _validate_int, _validate_num_heads, _validate_scale

__all__ = ["TYPE_PARAMS", "build_params", "default_params", "type_name", "with_scale"]

_FLT_MAX = float(np.finfo(np.float32).max)

#: the keyword parameters each attention type takes, in signature order
TYPE_PARAMS: Dict[int, Tuple[str, ...]] = {
    lib.RV_ATTN_SCALED_DOT: ("scale",),
    lib.RV_ATTN_MULTI_HEAD: ("num_heads",),
    lib.RV_ATTN_FLASH_V2: ("block_size", "scale"),
    lib.RV_ATTN_LINEAR: (),
    lib.RV_ATTN_GAT: ("negative_slope", "attention_vector", "scale"),
    lib.RV_ATTN_SPARSE: ("top_k", "scale"),
    lib.RV_ATTN_MOE: ("n_experts", "top_k", "scale"),
    lib.RV_ATTN_CROSS: ("causal", "num_heads", "scale"),
    lib.RV_ATTN_SLIDING: ("window_size", "scale"),
    lib.RV_ATTN_POINCARE: ("curvature",),
    lib.RV_ATTN_LORENTZ: ("curvature",),
}


def type_name(t: int) -> str:
    return str(ffi.string(lib.rv_attention_type_get(t).name).decode("utf-8"))


def default_params(t: int) -> Any:
    """A fresh rv_attention_params holding the core's defaults for type t."""
    p = ffi.new("rv_attention_params *")
    st = lib.rv_attention_params_init(p, t)
    if st:
        raise error_for_status(st)
    return p


def _positive(value: Any, name: str) -> int:
    v = _validate_int(value, name)
    if v < 1:
        raise ParameterError(f"{name} must be at least 1, got {v}")
    return min(v, SIZE_MAX)  # the core clamps every count to n anyway


def _real(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def _slope(value: Any) -> float:
    v = _real(value, "negative_slope")
    if not math.isfinite(v) or abs(v) > _FLT_MAX:
        raise error_for_status(lib.RV_ERR_SLOPE, f"got {v!r}, which is not finite as a float32")
    return v


def _curvature(value: Any) -> float:
    v = _real(value, "curvature")
    # judged as the float32 the core receives: 1e-50 would become 0
    if not (math.isfinite(v) and abs(v) <= _FLT_MAX and float(np.float32(v)) > 0.0):
        raise error_for_status(
            lib.RV_ERR_CURVATURE, f"got {v!r}; the Poincare ball of curvature c has radius 1/sqrt(c)"
        )
    return v


def _causal(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"causal must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _attention_vector(value: Any, d: int) -> Any:
    """a = [a1; a2] as float32, or None for an empty array (SQL's '{}')."""
    a = _validate_array(value, "attention_vector")
    if a.size == 0:
        return None
    if a.ndim != 1 or a.shape[0] != 2 * d:
        raise ShapeError(
            f"attention_vector must be a 1-D array of 2 x {d} (twice the query dimension) "
            f"elements, got shape {tuple(a.shape)}"
        )
    return a


def with_scale(params: Mapping[str, Any], scale: Optional[float]) -> Dict[str, Any]:
    """The keyword parameters of a call plus its scale= argument, when given."""
    return dict(params, **({} if scale is None else {"scale": scale}))


def build_params(t: int, given: Mapping[str, Any], d: int, dv: Optional[int], what: str) -> Tuple[Any, Any]:
    """(rv_attention_params, keepalive) of type t with the caller's
    parameters `given` (None values mean "the default") for a query of d
    dimensions and values of dv (None when there are no values: scores).
    keepalive holds the arrays the struct points to; keep it referenced
    until the C call returns.  `what` names the calling function."""
    allowed = TYPE_PARAMS[t]
    for name in given:
        if name not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            # scale is a parameter of the call, meaningless for this type: a wrong value, not a wrong name
            cls = ParameterError if name == "scale" else ArgumentTypeError
            raise cls(f"{what}: the {type_name(t)!r} attention type does not take {name!r} (it takes: {takes})")
    p = default_params(t)
    keep: Any = None
    for name, value in given.items():
        if value is None:
            continue
        if name == "scale":
            p.scale = _validate_scale(value)
        elif name == "num_heads":
            p.num_heads = _validate_num_heads(value, d, dv)
        elif name == "block_size":
            b = _validate_int(value, "block_size")
            if not 1 <= b <= lib.RV_MAX_BLOCK_SIZE:
                raise error_for_status(lib.RV_ERR_BLOCK_SIZE, f"got block_size={b}")
            p.block_size = b
        elif name == "top_k":
            p.top_k = _positive(value, "top_k")
        elif name == "n_experts":
            p.n_experts = _positive(value, "n_experts")
        elif name == "window_size":
            p.window = _positive(value, "window_size")
        elif name == "causal":
            p.causal = int(_causal(value))
        elif name == "negative_slope":
            p.negative_slope = _slope(value)
        elif name == "attention_vector":
            keep = _attention_vector(value, d)
            if keep is not None:
                p.gat_a = ffi.from_buffer("float[]", keep)
        elif name == "curvature":
            p.curvature = _curvature(value)
    if t == lib.RV_ATTN_MULTI_HEAD and given.get("num_heads") is None:
        _validate_num_heads(int(p.num_heads), d, dv)  # the default 4 heads must divide too
    if t == lib.RV_ATTN_GAT and keep is not None and given.get("scale") is not None:
        raise ParameterError("scale does not apply when attention_vector is given: e_i = LeakyReLU(a1.q + a2.k_i)")
    return p, keep

"""The exception hierarchy, and the mapping from the core's rv_status codes.

Every exception raised by ruvector_cffi derives from :class:`RuvectorError`
and also from the built-in class a Python user would expect (ValueError,
TypeError, MemoryError, NotImplementedError, RuntimeError), so both
``except rv.RuvectorError`` and ``except ValueError`` work.  Messages are
lowercase without a final period, like PostgreSQL's and the core's.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from ._binding import STATUS_COUNT, lib, strerror


class RuvectorError(Exception):
    """Base class of every error raised by ruvector_cffi.

    ``status`` is the rv_status code when the C core reported the error, and
    None when the Python layer caught it before calling C.
    """

    status: Optional[int]

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class ArgumentTypeError(RuvectorError, TypeError):
    """An argument has the wrong type (a string for an array, a float or bool
    for an integer parameter, a non-float32 array for softmax_inplace...)."""


class ShapeError(RuvectorError, ValueError):
    """Array shapes are wrong or disagree: the message names the sizes."""


class ParameterError(RuvectorError, ValueError):
    """A parameter is out of range (num_heads, block_size, scale, threads,
    top_k, n_experts, window_size, negative_slope, curvature) or names
    nothing known (attention type, hyperbolic model, SIMD backend)."""


class NonFiniteError(RuvectorError, ValueError):
    """An input holds NaN or infinity, or a logit or output overflowed
    float32; the message says which input and row, or that it overflowed."""


class AllMaskedError(RuvectorError, ValueError):
    """Softmax of an input whose every entry is -Infinity."""


class SizeError(RuvectorError, ValueError, MemoryError):
    """Sizes overflow, or the buffers a call needs do not fit in memory."""


class UnsupportedBackendError(RuvectorError, ValueError):
    """The SIMD backend exists but this CPU (or build) cannot run it."""


class OutsideBallError(RuvectorError, ValueError):
    """A point of Poincare attention lies outside the ball of curvature c
    (c |x|^2 >= 1); the message names the input and row."""


class ThreadStartError(RuvectorError, RuntimeError):
    """A worker thread could not be started (the call did not complete)."""


class CancelledError(RuvectorError, RuntimeError):
    """The computation was cancelled before it finished."""


class InternalError(RuvectorError, RuntimeError):
    """The core rejected a call the Python layer should have prevented."""


_STATUS_ERRORS: Dict[int, Type[RuvectorError]] = {
    lib.RV_ERR_NULL_ARG: InternalError,
    lib.RV_ERR_EMPTY_QUERY: ShapeError,
    lib.RV_ERR_NO_KEYS: ShapeError,
    lib.RV_ERR_EMPTY_VALUES: ShapeError,
    lib.RV_ERR_NUM_HEADS: ParameterError,
    lib.RV_ERR_BLOCK_SIZE: ParameterError,
    lib.RV_ERR_SCALE: ParameterError,
    lib.RV_ERR_NONFINITE: NonFiniteError,
    lib.RV_ERR_ALL_MASKED: AllMaskedError,
    lib.RV_ERR_SIZE_OVERFLOW: SizeError,
    lib.RV_ERR_NOMEM: SizeError,
    lib.RV_ERR_THREAD: ThreadStartError,
    lib.RV_ERR_CANCELLED: CancelledError,
    lib.RV_ERR_UNSUPPORTED_BACKEND: UnsupportedBackendError,
    lib.RV_ERR_UNKNOWN_BACKEND: ParameterError,
    lib.RV_ERR_UNKNOWN_TYPE: ParameterError,
    lib.RV_ERR_TOP_K: ParameterError,
    lib.RV_ERR_N_EXPERTS: ParameterError,
    lib.RV_ERR_WINDOW: ParameterError,
    lib.RV_ERR_SLOPE: ParameterError,
    lib.RV_ERR_CURVATURE: ParameterError,
    lib.RV_ERR_OUTSIDE_BALL: OutsideBallError,
}
assert len(_STATUS_ERRORS) == STATUS_COUNT - 1, "an rv_status has no exception class"


def error_for_status(status: int, detail: str = "") -> RuvectorError:
    """The exception for a failed rv_status: the core's message (rv_strerror),
    then ": detail" when the caller knows more."""
    cls = _STATUS_ERRORS.get(status, InternalError)
    message = strerror(status)
    if detail:
        message = f"{message}: {detail}"
    return cls(message, status)

"""ruvector_cffi: attention on float32 numpy arrays from the ruvector C core.

The same C11 core (``csrc/``) as the ruvector PostgreSQL extension, with the
same results for the same SIMD backend.  The functions mirror the SQL API:

>>> import ruvector_cffi as rv
>>> rv.softmax([0.0, 0.0]).tolist()
[0.5, 0.5]

Any array-like is accepted and converted to C-contiguous float32 (no copy
when it already is); results are new float32 arrays.  Errors derive from
:class:`RuvectorError` and from ValueError, TypeError, MemoryError
or RuntimeError as fits.  The GIL is released while the
core computes, and every function is safe to call from many threads.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from . import _binding
from ._attention import (
    LinearAttentionSummary,
    attention,
    cross_attention,
    gat_attention,
    hyperbolic_attention,
    linear_attention,
    linear_attention_from_summary,
    linear_attention_summary,
    moe_attention,
    sliding_window_attention,
    sparse_attention,
)
from ._api import (
    AttentionType,
    attention_score,
    attention_scores,
    attention_types,
    flash_attention,
    flash_attention_scratch_bytes,
    multi_head_attention,
    scaled_dot_attention,
    scaled_dot_attention_scratch_bytes,
    softmax,
    softmax_inplace,
)
from ._backend import set_backend, simd_backend, supported_backends, use_backend
from ._errors import (
    AllMaskedError,
    ArgumentTypeError,
    CancelledError,
    InternalError,
    NonFiniteError,
    OutsideBallError,
    ParameterError,
    RuvectorError,
    ShapeError,
    SizeError,
    ThreadStartError,
    UnsupportedBackendError,
)

__version__ = "0.1.0"

__all__ = [
    "AllMaskedError",
    "ArgumentTypeError",
    "AttentionType",
    "CancelledError",
    "InternalError",
    "LinearAttentionSummary",
    "NonFiniteError",
    "OutsideBallError",
    "ParameterError",
    "RuvectorError",
    "ShapeError",
    "SizeError",
    "ThreadStartError",
    "UnsupportedBackendError",
    "__version__",
    "attention",
    "attention_score",
    "attention_scores",
    "attention_types",
    "cross_attention",
    "flash_attention",
    "flash_attention_scratch_bytes",
    "gat_attention",
    "hyperbolic_attention",
    "linear_attention",
    "linear_attention_from_summary",
    "linear_attention_summary",
    "moe_attention",
    "multi_head_attention",
    "scaled_dot_attention",
    "scaled_dot_attention_scratch_bytes",
    "set_backend",
    "simd_backend",
    "sliding_window_attention",
    "softmax",
    "softmax_inplace",
    "sparse_attention",
    "supported_backends",
    "use_backend",
]


# ---------------------------------------------------------------- test hooks (private)


@contextlib.contextmanager
def _threads_for_test(min_work_per_thread: int = 1) -> Iterator[None]:
    """Private, for tests: lower the core's threading threshold (floats of
    K+V per extra thread) so that small inputs really run on several
    threads; restored on exit.  Process-wide."""
    old = _binding.set_min_work_per_thread(min_work_per_thread)
    try:
        yield
    finally:
        _binding.set_min_work_per_thread(old)


def _fail_thread_starts(k: int) -> None:
    """Private, for tests: make the next k worker-thread starts fail
    (0 = never), so that the thread-start failure path can be reached."""
    _binding.lib.rv__test_fail_thread_starts(k)

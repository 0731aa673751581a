"""Thin private binding layer over the compiled cffi module.

Re-exports ``ffi`` and ``lib``, reads the core's constants once, and builds
the execution options (``rv_exec``): ``NULL`` for one thread, otherwise a
read-only struct cached per thread count (the core only reads it, so one
struct can serve many Python threads at once).
"""

from __future__ import annotations

import os
from typing import Any, Dict

from ._ruvector import ffi as ffi, lib as lib  # re-exported

NULL: Any = ffi.NULL
FLOAT_ARRAY: Any = ffi.typeof("float[]")
SIZE_MAX: int = int(ffi.cast("size_t", -1))
INT_MAX: int = 2**31 - 1

VERSION: str = ffi.string(lib.RV_VERSION).decode("ascii")
MAX_BLOCK_SIZE: int = int(lib.RV_MAX_BLOCK_SIZE)
DEFAULT_NUM_HEADS: int = int(lib.RV_DEFAULT_NUM_HEADS)
STATUS_COUNT: int = int(lib.RV_STATUS_COUNT)

BACKEND_NAMES = tuple(
    ffi.string(lib.rv_backend_name(b)).decode("ascii") for b in range(lib.RV_BACKEND_COUNT)
)

#: threads=None means this many (os.cpu_count() is fixed for a process)
DEFAULT_THREADS: int = os.cpu_count() or 1

#: uninitialised float buffers for scratch (the core writes before it reads)
alloc_floats: Any = ffi.new_allocator(should_clear_after_alloc=False)

# floats of K+V per extra thread; 0 = the core's default.  Tests lower it
# (ruvector_cffi._threads_for_test) to force threads on small inputs.
_min_work_per_thread = 0
_exec_cache: Dict[int, Any] = {}


def strerror(status: int) -> str:
    """The core's lowercase message for an rv_status value."""
    return str(ffi.string(lib.rv_strerror(status)).decode("utf-8"))


def new_exec(threads: int) -> Any:
    """A fresh rv_exec for `threads` threads (>= 2) under the current setting."""
    ex = ffi.new("rv_exec *")
    ex.max_threads = min(threads, INT_MAX)
    ex.min_work_per_thread = _min_work_per_thread
    if threads <= 256:  # bound the cache; larger counts are clamped by the core anyway
        _exec_cache[threads] = ex
    return ex


def set_min_work_per_thread(floats: int) -> int:
    """Change the threading threshold of later calls; returns the old one."""
    global _min_work_per_thread, default_exec
    old = _min_work_per_thread
    _min_work_per_thread = floats
    _exec_cache.clear()
    default_exec = NULL if DEFAULT_THREADS == 1 else new_exec(DEFAULT_THREADS)
    return old


#: the rv_exec of threads=None (read as _binding.default_exec: tests replace it)
default_exec: Any = NULL if DEFAULT_THREADS == 1 else new_exec(DEFAULT_THREADS)

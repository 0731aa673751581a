"""SIMD backend selection: which kernel table the C core uses.

The core picks the best backend the CPU supports on first use, or the one
named by the ``RUVECTOR_SIMD`` environment variable (read once, at first
use; an unknown or unsupported name there is ignored).  The choice is
process-wide: a call already running keeps the backend it started with.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, List

from ._binding import BACKEND_NAMES, ffi, lib
from ._errors import ArgumentTypeError, error_for_status

__all__ = ["simd_backend", "supported_backends", "set_backend", "use_backend"]


def simd_backend() -> str:
    """Name of the active SIMD backend: "scalar", "avx2", "avx512" or "neon".

    >>> import ruvector_cffi as rv
    >>> rv.simd_backend() in rv.supported_backends()
    True
    """
    name: str = BACKEND_NAMES[lib.rv_simd_backend()]
    return name


def supported_backends() -> List[str]:
    """Backends this CPU and build can run, scalar (the reference) first.

    >>> import ruvector_cffi as rv
    >>> rv.supported_backends()[0]
    'scalar'
    """
    mask = lib.rv_supported_backends()
    return [name for b, name in enumerate(BACKEND_NAMES) if mask >> b & 1]


def _parse_backend(name: Any) -> int:
    if not isinstance(name, str):
        raise ArgumentTypeError(f"backend name must be a str, got {type(name).__name__}")
    out = ffi.new("rv_backend *")
    st = lib.rv_backend_from_name(name.encode("utf-8"), out) if "\0" not in name else lib.RV_ERR_UNKNOWN_BACKEND
    if st:
        raise error_for_status(st, f"{name!r}; valid names: auto, {', '.join(BACKEND_NAMES)}")
    return int(out[0])


def set_backend(name: str) -> None:
    """Make ``name`` the process-wide backend ("auto" picks the best one;
    case-insensitive).  An unknown name raises ParameterError, a backend
    this CPU lacks raises UnsupportedBackendError (both ValueError); the
    active backend is then unchanged.

    >>> import ruvector_cffi as rv
    >>> before = rv.simd_backend()
    >>> rv.set_backend("scalar")
    >>> rv.simd_backend()
    'scalar'
    >>> rv.set_backend(before)
    """
    st = lib.rv_set_backend(_parse_backend(name))
    if st:
        raise error_for_status(st, f"{name!r} (supported here: {', '.join(supported_backends())})")


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: switch to backend ``name`` and restore the previous
    one on exit; yields the name of the backend now active.  Process-wide,
    like :func:`set_backend`.

    >>> import ruvector_cffi as rv
    >>> with rv.use_backend("scalar") as b:
    ...     print(b, rv.simd_backend())
    scalar scalar
    """
    previous = lib.rv_simd_backend()
    set_backend(name)
    try:
        yield simd_backend()
    finally:
        lib.rv_set_backend(previous)

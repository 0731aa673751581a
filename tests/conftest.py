"""Fixtures of the Python-core tests (tests/test_py_*.py).

Kept small on purpose: SQL fixtures live in their own module.
"""

import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

try:
    import ruvector_cffi as rv
except ImportError:  # not built: only the test_py_* files need it, and they say so
    rv = None

# deadline=None: timings vary on a shared 2-core machine; the backend fixture
# is function-scoped on purpose (one backend for all examples of a test).
# CI (CI=true) runs a fixed set of examples, so that a run is reproducible.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("ruvector", max_examples=40, **_COMMON)
settings.register_profile("ruvector-ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("ruvector-thorough", max_examples=1000, **_COMMON)
settings.load_profile(
    os.environ.get("RUVECTOR_HYPOTHESIS_PROFILE", "ruvector-ci" if os.environ.get("CI") else "ruvector")
)

#: every backend this CPU runs, scalar (the reference) first
BACKENDS = rv.supported_backends() if rv is not None else []


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test with each supported SIMD backend forced, then restore."""
    with rv.use_backend(request.param) as name:
        yield name


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test id: reproducible, distinct per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))

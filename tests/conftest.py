"""Fixtures of the Python-core tests (tests/test_py_*.py).

Kept small on purpose: SQL fixtures live in their own module.
"""

import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import ruvector_cffi as rv

# deadline=None: timings vary on a shared 2-core machine; the backend fixture
# is function-scoped on purpose (one backend for all examples of a test)
settings.register_profile(
    "default", max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("RUVECTOR_HYPOTHESIS_PROFILE", "default"))

#: every backend this CPU runs, scalar (the reference) first
BACKENDS = rv.supported_backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test with each supported SIMD backend forced, then restore."""
    with rv.use_backend(request.param) as name:
        yield name


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test id: reproducible, distinct per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))

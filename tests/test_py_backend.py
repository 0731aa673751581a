"""SIMD backend selection from Python and through RUVECTOR_SIMD."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ruvector_cffi as rv
from ruvector_cffi import _binding

KNOWN = ["scalar", "avx2", "avx512", "neon"]


def test_supported_backends():
    names = rv.supported_backends()
    assert names[0] == "scalar"
    assert names == [b for b in KNOWN if b in names]  # enum order, no duplicates
    assert rv.simd_backend() in names


def test_set_each_backend_and_back(backend):
    assert rv.simd_backend() == backend
    for name in rv.supported_backends():
        rv.set_backend(name.upper())  # case-insensitive
        assert rv.simd_backend() == name
        assert rv.softmax([0.0, 0.0]).tolist() == [0.5, 0.5]


def test_auto_picks_the_best_supported():
    with rv.use_backend("scalar"):
        rv.set_backend("auto")
        assert rv.simd_backend() == rv.supported_backends()[-1]
        assert _binding.lib.rv_best_backend() == KNOWN.index(rv.supported_backends()[-1])


@pytest.mark.parametrize("name", ["sse", "", "avx", "avx512f", "x" * 40, "scalar\0"])
def test_unknown_backend(name):
    before = rv.simd_backend()
    with pytest.raises(rv.ParameterError, match=re.escape(
            f"unknown SIMD backend: {name!r}; valid names: auto, scalar, avx2, avx512, neon")) as e:
        rv.set_backend(name)
    assert isinstance(e.value, ValueError) and e.value.status == _binding.lib.RV_ERR_UNKNOWN_BACKEND
    assert rv.simd_backend() == before
    with pytest.raises(ValueError):
        with rv.use_backend(name):
            pass  # pragma: no cover
    assert rv.simd_backend() == before


def test_unsupported_backend():
    missing = [b for b in KNOWN if b not in rv.supported_backends()]
    if not missing:
        pytest.skip("this CPU runs every backend")
    before = rv.simd_backend()
    supported = ", ".join(rv.supported_backends())
    with pytest.raises(rv.UnsupportedBackendError, match=re.escape(
            f"SIMD backend not supported by this CPU: {missing[0]!r} (supported here: {supported})")) as e:
        rv.set_backend(missing[0])
    assert isinstance(e.value, ValueError) and isinstance(e.value, rv.RuvectorError)
    assert e.value.status == _binding.lib.RV_ERR_UNSUPPORTED_BACKEND
    assert rv.simd_backend() == before


@pytest.mark.parametrize("name", [None, 1, b"scalar"])
def test_backend_name_must_be_a_str(name):
    with pytest.raises(rv.ArgumentTypeError, match="backend name must be a str, got"):
        rv.set_backend(name)


def test_use_backend_restores_on_error_and_nests():
    before = rv.simd_backend()
    with pytest.raises(KeyError):
        with rv.use_backend("scalar") as name:
            assert name == "scalar" == rv.simd_backend()
            with rv.use_backend(rv.supported_backends()[-1]):
                assert rv.simd_backend() == rv.supported_backends()[-1]
            assert rv.simd_backend() == "scalar"
            raise KeyError("boom")
    assert rv.simd_backend() == before


def test_backends_agree_within_the_bar(rng):
    q = rng.standard_normal((3, 40)).astype(np.float32)
    K = rng.standard_normal((257, 40)).astype(np.float32)
    V = rng.standard_normal((257, 24)).astype(np.float32)
    results = {}
    for name in rv.supported_backends():
        with rv.use_backend(name):
            results[name] = rv.multi_head_attention(q, K, V, 4)
    for name, got in results.items():
        np.testing.assert_allclose(got, results["scalar"], rtol=2e-5, atol=1e-6, err_msg=name)


def _backend_in_subprocess(value):
    env = dict(os.environ)
    env.pop("RUVECTOR_SIMD", None)
    if value is not None:
        env["RUVECTOR_SIMD"] = value
    out = subprocess.run(
        [sys.executable, "-c", "import ruvector_cffi as rv; print(rv.simd_backend())"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    return out.stdout.strip()


def test_ruvector_simd_environment_variable():
    best = rv.supported_backends()[-1]
    assert _backend_in_subprocess(None) == best
    assert _backend_in_subprocess("scalar") == "scalar"
    assert _backend_in_subprocess("SCALAR") == "scalar"
    assert _backend_in_subprocess("auto") == best
    # unknown or unsupported names are ignored (initialisation cannot fail)
    assert _backend_in_subprocess("bogus") == best
    missing = [b for b in KNOWN if b not in rv.supported_backends()]
    if missing:
        assert _backend_in_subprocess(missing[0]) == best
    for name in rv.supported_backends():
        assert _backend_in_subprocess(name) == name

"""The package itself: version agreement, typing marker, docstrings and their
runnable examples, the cdef kept in step with ruvector.h, the sdist."""

import doctest
import importlib
import inspect
import os
import re
import subprocess
import sys
import tarfile

import pytest

import ruvector_cffi as rv
from ruvector_cffi import _binding

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.dirname(os.path.abspath(rv.__file__))
PUBLIC_FUNCTIONS = [n for n in rv.__all__ if inspect.isfunction(getattr(rv, n))]


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_versions_agree():
    assert rv.__version__ == "0.1.0"
    assert _binding.VERSION == rv.__version__  # RV_VERSION in csrc/ruvector.h
    assert re.search(r'^version = "([^"]+)"', _read("pyproject.toml"), re.M).group(1) == rv.__version__
    makefile = os.path.join(ROOT, "Makefile")
    if os.path.exists(makefile):  # the extension's single source of the version
        assert re.search(r"^EXTVERSION\s*=\s*(\S+)", _read("Makefile"), re.M).group(1) == rv.__version__


def test_typed_package():
    assert os.path.exists(os.path.join(PKG, "py.typed"))
    for name in PUBLIC_FUNCTIONS:
        hints = getattr(rv, name).__annotations__
        assert "return" in hints, f"{name} has no return annotation"


def test_public_api_is_complete():
    expected = {
        "softmax", "softmax_inplace", "attention_score", "attention_scores", "scaled_dot_attention",
        "multi_head_attention", "flash_attention", "flash_attention_scratch_bytes",
        "scaled_dot_attention_scratch_bytes", "attention_types", "simd_backend", "supported_backends",
        "set_backend", "use_backend", "attention", "linear_attention", "linear_attention_summary",
        "linear_attention_from_summary", "gat_attention", "sparse_attention", "moe_attention",
        "cross_attention", "sliding_window_attention", "hyperbolic_attention",
    }
    assert expected <= set(PUBLIC_FUNCTIONS)
    for name in rv.__all__:
        assert hasattr(rv, name), name
    for name in dir(rv):
        obj = getattr(rv, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, rv.RuvectorError) and name in rv.__all__


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_every_public_function_has_a_runnable_example(name):
    doc = inspect.getdoc(getattr(rv, name))
    assert doc and ">>> " in doc, f"{name} has no example"


def test_doctests_pass():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    seen = set()
    for modname in ("ruvector_cffi", "ruvector_cffi._api", "ruvector_cffi._attention", "ruvector_cffi._backend"):
        mod = importlib.import_module(modname)
        for test in finder.find(mod, modname):
            if test.examples and test.name not in seen:
                seen.add(test.name)
                runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    assert result.attempted >= 3 * len(PUBLIC_FUNCTIONS)
    tested = {n.rsplit(".", 1)[-1] for n in seen}
    assert set(PUBLIC_FUNCTIONS) <= tested


def test_cdef_declares_every_function_of_the_header():
    header = _read("csrc", "ruvector.h")
    declared = set(re.findall(r"\b(rv_[a-z0-9_]+)\s*\(", header))
    declared -= set(re.findall(r"\b(?:enum|struct)\s+(rv_\w+)", header))  # type names in comments
    cdef = _read("ruvector_cffi", "_ruvector_cdef.h")
    missing = {f for f in declared if not re.search(r"\b" + f + r"\s*\(", cdef)}
    assert not missing, f"functions of ruvector.h missing from the cdef: {sorted(missing)}"
    for f in declared:
        assert callable(getattr(_binding.lib, f))


def test_mypy_strict_is_clean():
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(["--strict", "--no-incremental", "-p", "ruvector_cffi"])
    assert status == 0, out + err


def test_sdist_contains_the_c_sources(tmp_path):
    pytest.importorskip("setuptools")
    pytest.importorskip("cffi")
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (tarball,) = tmp_path.glob("ruvector_cffi-0.1.0.tar.gz")
    with tarfile.open(tarball) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for c in os.listdir(os.path.join(ROOT, "csrc")):
        if c.endswith((".c", ".h")):
            assert f"csrc/{c}" in names
    for f in ("setup.py", "pyproject.toml", "ruvector_cffi/_build.py", "ruvector_cffi/_ruvector_cdef.h", "ruvector_cffi/_glue.h",
              "ruvector_cffi/py.typed", "ruvector_cffi/__init__.py", "ruvector_cffi/_ruvector.pyi"):
        assert f in names, f
    assert not any(n.endswith(".so") for n in names)

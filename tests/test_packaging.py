"""Packaging checks: META.json, one version everywhere, `make dist`, and the PGXN round trip.

The PGXN round trip (pgxn install / load / unload of dist/ruvector-<v>.zip) needs a running
server (PGHOST set, as inside tools/with-temp-pg.sh, which tools/test.sh uses) and root,
because `pgxn install` writes into the system PostgreSQL like `make install` does.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
META = ROOT / "META.json"


# ---- helpers ---------------------------------------------------------------------------------

def _load_validator():
    spec = importlib.util.spec_from_file_location("validate_meta", ROOT / "tools" / "validate_meta.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def validator():
    return _load_validator()


@pytest.fixture(scope="module")
def version() -> str:
    """EXTVERSION from the Makefile: the single source of the version."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^EXTVERSION\s*[:?]?=\s*(\S+)\s*$", text, re.M)
    assert match, "the Makefile must define EXTVERSION = <version>"
    return match.group(1)


def _control_default_version(name: str) -> str | None:
    text = (ROOT / f"{name}.control").read_text()
    match = re.search(r"^\s*default_version\s*=\s*'([^']*)'", text, re.M)
    return match.group(1) if match else None


def _changelog_top_version() -> str | None:
    """The version of the first '## ' entry that names one (an 'Unreleased' heading without a
    version is skipped)."""
    for line in (ROOT / "CHANGELOG.md").read_text().splitlines():
        if line.startswith("## "):
            match = re.search(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", line)
            if match:
                return match.group(0)
    return None


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)


def _valid_meta_in(tmp_path: Path) -> dict:
    """A copy of our META.json in tmp_path, next to the files it names, so that only the
    breakage a test adds can be reported."""
    meta = json.loads(META.read_text())
    for entry in meta["provides"].values():
        for key in ("file", "docfile"):
            if key in entry:
                target = tmp_path / entry[key]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch()
    return meta


# ---- META.json -------------------------------------------------------------------------------

def test_meta_json_is_valid(validator):
    assert validator.validate(META) == []


def test_meta_validator_command_line(tmp_path):
    ok = _run([sys.executable, str(ROOT / "tools/validate_meta.py"), "META.json"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip() == "META.json: valid"

    broken = tmp_path / "META.json"
    broken.write_text('{"name": "x"}')
    bad = _run([sys.executable, str(ROOT / "tools/validate_meta.py"), str(broken)])
    assert bad.returncode == 1
    assert "missing required key(s)" in bad.stdout


def test_meta_validator_rejects_a_broken_copy(validator, tmp_path):
    meta = _valid_meta_in(tmp_path)
    assert validator.validate_data(meta, tmp_path) == [], "the unbroken copy must be valid"

    meta["version"] = "0.1"                                  # not SemVer
    meta["license"] = "PostgreSQL"                           # keys are lower case
    del meta["provides"]["ruvector"]["file"]                 # file is required
    meta["provides"]["other"] = {"file": "sql/ruvector--0.1.0.sql", "version": "1"}  # not SemVer
    meta["meta-spec"]["version"] = "2.0.0"
    meta["release_status"] = "beta"
    meta["homepage"] = "https://example.org"                 # belongs in resources; no x_ prefix
    meta["x_custom"] = {"anything": True}                    # custom keys are fine
    meta["prereqs"]["runtime"]["requires"]["PostgreSQL"] = ">= 12"   # not a version range
    meta["prereqs"]["install"] = {"requires": {"foo": "0"}}  # not a phase
    meta["tags"] = ["attention", 7]
    del meta["abstract"]
    meta.setdefault("no_index", {})["file"] = ["../outside.sql"]

    errors = validator.validate_data(meta, tmp_path)
    expected = {
        "version": '"0.1" is not valid: must be a SemVer version',
        "license": '"PostgreSQL" is not valid: must be a license key',
        "provides.ruvector": "missing required key(s): 'file'",
        "provides.other.version": '"1" is not valid: must be a SemVer version',
        "meta-spec.version": '"2.0.0" is not valid',
        "release_status": '"beta" is not one of "stable", "testing", "unstable"',
        "(top level)": "unknown key(s) 'homepage'",
        "prereqs.runtime.requires.PostgreSQL": '">= 12" is not valid: must be a version range',
        "prereqs": "unknown key(s) 'install'",
        "tags[1]": "7 is not of type 'string'",
        "no_index.file[0]": '"../outside.sql" is not valid: must be a relative path',
    }
    for where, text in expected.items():
        assert any(e.startswith(f"{where}: ") and text in e for e in errors), (
            f"no error '{where}: ...{text}...' in:\n" + "\n".join(errors)
        )
    assert any(e == "(top level): missing required key(s): 'abstract'" for e in errors), errors
    assert not any("x_custom" in e for e in errors), errors
    assert len(errors) == len(expected) + 1, "\n".join(errors)


def test_meta_validator_checks_that_provided_files_exist(validator, tmp_path):
    meta = json.loads(META.read_text())
    errors = validator.validate_data(meta, tmp_path)
    files = {e["file"] for e in meta["provides"].values()}
    for rel in files:
        assert any(f'"{rel}" does not exist' in e for e in errors), errors


@pytest.mark.parametrize(
    "license_value, ok",
    [
        ("postgresql", True),
        (["postgresql", "mit"], True),
        ({"PostgreSQL": "https://www.postgresql.org/about/licence"}, True),
        ("PostgreSQL", False),
        (["postgresql", "MIT"], False),
        ([], False),
        ({"PostgreSQL": "not a url"}, False),
        ({}, False),
    ],
)
def test_meta_validator_license_forms(validator, tmp_path, license_value, ok):
    meta = _valid_meta_in(tmp_path)
    meta["license"] = license_value
    errors = validator.validate_data(meta, tmp_path)
    assert (errors == []) == ok, errors
    if not ok:
        assert all(e.startswith("license") for e in errors), errors


@pytest.mark.parametrize(
    "version_range, ok",
    [(0, True), ("0", True), ("1.2.3", True), ("==0.0.4", True), ("<= 1.1.2+meta", True),
     (">= 1.2.0, != 1.5.0, < 2.0.0", True), ("1.2", False), (">= 12", False), (1, False),
     ("~1.2.3", False)],
)
def test_meta_validator_version_ranges(validator, tmp_path, version_range, ok):
    meta = _valid_meta_in(tmp_path)
    meta["prereqs"]["runtime"]["requires"]["PostgreSQL"] = version_range
    assert (validator.validate_data(meta, tmp_path) == []) == ok


# ---- one version everywhere ------------------------------------------------------------------

def test_version_agrees_everywhere(version):
    meta = json.loads(META.read_text())
    with open(ROOT / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    found = {
        "META.json version": meta.get("version"),
        **{f"META.json provides.{name}.version": e.get("version") for name, e in meta["provides"].items()},
        "ruvector.control default_version": _control_default_version("ruvector"),
        "ruvector_postgres.control default_version": _control_default_version("ruvector_postgres"),
        "pyproject.toml [project] version": pyproject["project"].get("version"),
        "CHANGELOG.md top entry": _changelog_top_version(),
    }
    header = (ROOT / "csrc" / "ruvector.h").read_text()
    match = re.search(r'^#\s*define\s+RV_VERSION\s+"([^"]+)"', header, re.M)
    if match:
        found["csrc/ruvector.h RV_VERSION"] = match.group(1)
    wrong = {k: v for k, v in found.items() if v != version}
    assert not wrong, f"Makefile EXTVERSION is {version}, but: {wrong}"


def test_sql_script_is_named_after_the_version(version):
    assert (ROOT / "sql" / f"ruvector--{version}.sql").is_file()
    meta = json.loads(META.read_text())
    assert meta["provides"]["ruvector"]["file"] == f"sql/ruvector--{version}.sql"


def test_python_package_version(version):
    rv = pytest.importorskip("ruvector_cffi")
    if not hasattr(rv, "__version__"):
        pytest.skip("ruvector_cffi defines no __version__")
    assert rv.__version__ == version


# ---- make dist -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dist_zip(version) -> Path:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make dist needs make and git")
    if _run(["git", "rev-parse", "--is-inside-work-tree"]).returncode != 0:
        pytest.skip("make dist archives a git work tree, and this is not one")
    result = _run(["make", "-s", "dist"])
    assert result.returncode == 0, result.stdout + result.stderr
    path = ROOT / "dist" / f"ruvector-{version}.zip"
    assert path.is_file(), f"make dist did not produce {path}:\n{result.stdout}{result.stderr}"
    return path


def test_make_dist_zip_layout(dist_zip, version, validator, tmp_path):
    top = f"ruvector-{version}/"
    with zipfile.ZipFile(dist_zip) as z:
        names = z.namelist()
        outside = [n for n in names if not n.startswith(top)]
        assert not outside, f"entries outside {top}: {outside[:10]}"
        required = ["META.json", "Makefile", "ruvector.control", "ruvector_postgres.control",
                    f"sql/ruvector--{version}.sql", "csrc/ruvector.h"]
        missing = [r for r in required if top + r not in names]
        assert not missing, f"missing from {dist_zip.name}: {missing}"
        built = [n for n in names if n.endswith((".o", ".bc", ".so"))]
        assert not built, f"build products in the zip: {built}"
        z.extractall(tmp_path)
    # the META.json inside the zip is valid and everything it names is in the zip
    assert validator.validate(tmp_path / top / "META.json") == []


# ---- PGXN round trip -------------------------------------------------------------------------

def _needs_pgxn_environment():
    if not os.environ.get("PGHOST"):
        pytest.skip("needs a running server: PGHOST is unset (run inside tools/with-temp-pg.sh, "
                    "as tools/test.sh does)")
    if os.geteuid() != 0:
        pytest.skip("pgxn install writes into the system PostgreSQL: needs root")
    if shutil.which("pgxn") is None:
        pytest.skip("pgxnclient is not installed (bash tools/setup.sh installs it)")


def _offline(cmd: list[str]) -> list[str]:
    """cmd inside a network namespace with no network, when this machine allows one: proves
    that installing from a local zip needs no network."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n", *cmd]
    return cmd


def _pgxn(*args: str) -> subprocess.CompletedProcess:
    result = _run(["pgxn", *args])
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"pgxn {' '.join(args)} failed ({result.returncode}):\n{output}"
    # psql, which pgxn load/unload run, does not stop on SQL errors: read its output too.
    assert "ERROR" not in output, f"pgxn {' '.join(args)} reported an error:\n{output}"
    return result


def test_pgxn_install_load_unload(dist_zip, version):
    _needs_pgxn_environment()
    psycopg = pytest.importorskip("psycopg")
    np = pytest.importorskip("numpy")

    spec = f"./{dist_zip.relative_to(ROOT)}"
    install = _run(_offline(["pgxn", "install", "--yes", spec]))
    assert install.returncode == 0, f"pgxn install {spec} failed:\n{install.stdout}{install.stderr}"

    dbname = f"ruvector_pgxn_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        _pgxn("load", "--yes", "-d", dbname, spec)
        with psycopg.connect(dbname=dbname) as conn:
            extensions = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
            assert extensions.get("ruvector") == version, extensions
            got = conn.execute("SELECT ruvector_softmax('{1,2,3}')").fetchone()[0]
        x = np.array([1.0, 2.0, 3.0])
        want = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
        assert len(got) == 3
        for g, w in zip(got, want):
            assert math.isclose(g, w, rel_tol=1e-5, abs_tol=1e-6), (got, want.tolist())

        _pgxn("unload", "--yes", "-d", dbname, spec)
        with psycopg.connect(dbname=dbname, autocommit=True) as conn:
            left = conn.execute(
                "SELECT extname FROM pg_extension WHERE extname LIKE 'ruvector%'").fetchall()
            assert left == [], left
            # pgxn install also installed the alias extension (not listed under provides)
            conn.execute("CREATE EXTENSION ruvector_postgres")
            again = conn.execute("SELECT ruvector_softmax('{1,2,3}')").fetchone()[0]
            assert again == got
            conn.execute("DROP EXTENSION ruvector_postgres")
    finally:
        with psycopg.connect(autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

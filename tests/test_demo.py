"""The README's demo (demo/demo.py, what tools/demo.sh runs) end to end: it
exits 0, SQL and Python agree bit for bit on all four of its checks,
reranking raises precision@10, and the pooled vectors land on the query's
topic.

Needs a server like tests/test_sql.py (skipped without PGHOST, a failure
instead when RUVECTOR_REQUIRE_PG=1).  The demo runs as a subprocess with the
venv's python and the caller's PG* variables, in a fresh database of its own
(PGDATABASE overridden), so that its table never meets anything else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sql_support

sql_support.skip_or_fail_without_pg(at_import=True)

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "demo.py"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def demo_output():
    sql_support.skip_or_fail_without_pg()
    python = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)
    with sql_support.temp_database("ruvector_test_demo") as dbname:
        env = dict(os.environ, PGDATABASE=dbname)
        proc = subprocess.run([str(python), str(DEMO)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
    return proc


def test_demo_exits_0(demo_output):
    assert demo_output.returncode == 0, (
        f"demo exited {demo_output.returncode}\n--- stdout ---\n{demo_output.stdout[-3000:]}"
        f"\n--- stderr ---\n{demo_output.stderr[-3000:]}")


def test_sql_and_python_agree_bit_for_bit(demo_output):
    out = demo_output.stdout
    assert out.count("SQL == Python bit for bit: yes") == 4, out
    assert "SQL == Python bit for bit: NO" not in out
    assert not re.search(r"\bNO\b", out), "a check printed NO"


def test_reranking_raises_precision_at_10(demo_output):
    lines = [ln for ln in demo_output.stdout.splitlines() if "precision@10:" in ln]
    assert len(lines) == 1, demo_output.stdout
    before, after = (float(p) for p in re.findall(r"(\d+(?:\.\d+)?)%", lines[0].split("precision@10:", 1)[1])[:2])
    assert 0 <= before < after <= 100, lines[0]


def test_pooled_vectors_are_nearest_to_databases(demo_output):
    topics = re.findall(r"nearest topic: ([\w ]+?) \(cosine", demo_output.stdout)
    assert len(topics) >= 2, demo_output.stdout  # flash and multi-head pooling
    assert topics == ["databases"] * len(topics)

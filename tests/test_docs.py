"""The worked examples of the usage guide (docs/usage.md) are real: every SQL
example, run through psql, prints what the guide shows (numbers within the
accuracy bar), and every Python example passes as a doctest; so do the
README's Python examples.

The SQL half needs a server like tests/test_sql.py (skipped without PGHOST,
a failure instead when RUVECTOR_REQUIRE_PG=1).  The outputs in the guide are
written by `tools/docs_examples.py --update`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sql_support

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import docs_examples  # noqa: E402


def test_python_examples_of_the_guide():
    failed, attempted = docs_examples.check_python()
    assert attempted >= 15 and failed == 0


def test_python_examples_of_the_readme():
    failed, attempted = docs_examples.check_python(ROOT / "README.md")
    assert attempted >= 5 and failed == 0


def test_sql_examples_of_the_guide():
    sql_support.skip_or_fail_without_pg()
    assert len(docs_examples.BLOCK.findall(docs_examples.GUIDE.read_text())) >= 10
    problems = docs_examples.check_sql()
    assert not problems, "\n\n".join(problems)


def test_a_wrong_output_is_caught():
    # the comparison itself: a number beyond the bar, or different text, is a mismatch
    assert docs_examples.same_output(" {0.5,0.25}\n", " {0.5000001,0.25}\n") is None
    assert docs_examples.same_output(" {0.5,0.25}\n", " {0.5001,0.25}\n") is not None
    assert docs_examples.same_output("ERROR:  top_k\n", "ERROR:  window_size\n") is not None

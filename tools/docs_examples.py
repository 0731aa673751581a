#!/usr/bin/env python3
"""The worked examples of docs/usage.md, run for real.

Every ```sql block of the guide is followed by a ```text block with what
psql prints for it.  This script runs each SQL block through psql in a
throw-away database that has the extension, and either checks the printed
output against the guide (the default; numbers may differ from the guide by
the accuracy bar, 1e-5 relative, because SIMD backends round differently in
the last bit) or rewrites the text blocks with the real output (--update).
The ```python blocks are doctests, run against ruvector_cffi.

    .venv/bin/python tools/docs_examples.py [--update] [FILE]   (needs PGHOST etc.)

tests/test_docs.py runs the check in the test suite.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "usage.md"
BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```\n\n```text\n(?P<out>.*?)```", re.S)
PY_BLOCK = re.compile(r"```python\n(?P<py>.*?)```", re.S)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def psql(db: str, sql: str) -> str:
    """What psql prints for sql (aligned format, no psqlrc), errors included."""
    env = dict(os.environ, PGDATABASE=db, PGOPTIONS="-c client_min_messages=warning")
    r = subprocess.run(["psql", "-X", "-q", "-P", "pager=off", "-v", "VERBOSITY=default"],
                       input=sql, capture_output=True, text=True, env=env)
    out = r.stdout + "".join(line + "\n" for line in r.stderr.splitlines() if not line.startswith("psql:"))
    out += "".join(re.sub(r"^psql:<stdin>:\d+: ", "", line) + "\n"
                   for line in r.stderr.splitlines() if line.startswith("psql:"))
    return out.rstrip("\n") + "\n"


def same_output(got: str, want: str) -> Optional[str]:
    """None when got matches want: the same text outside numbers, numbers
    within 1e-5 relative (1e-6 absolute); else what differs."""
    g_parts, w_parts = NUMBER.split(got), NUMBER.split(want)
    g_nums, w_nums = NUMBER.findall(got), NUMBER.findall(want)
    norm = [re.sub(r"[ -]+", " ", p) for p in g_parts], [re.sub(r"[ -]+", " ", p) for p in w_parts]
    if norm[0] != norm[1] or len(g_nums) != len(w_nums):
        return f"text differs:\n--- guide\n{want}--- psql\n{got}"
    for a, b in zip(g_nums, w_nums):
        x, y = float(a), float(b)
        if abs(x - y) > 1e-5 * abs(y) + 1e-6:
            return f"{a} where the guide says {b}:\n--- guide\n{want}--- psql\n{got}"
    return None


def with_database(fn):  # type: ignore[no-untyped-def]
    db = f"ruvector_docs_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", f"CREATE DATABASE {db}"], check=True)
    try:
        subprocess.run(["psql", "-X", "-q", "-d", db, "-c", "CREATE EXTENSION ruvector"], check=True)
        return fn(db)
    finally:
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", f"DROP DATABASE {db}"], check=True)


def check_sql(path: Path = GUIDE, update: bool = False) -> List[str]:
    """The SQL examples of path: the list of mismatches (empty: all agree);
    with update, rewrites the outputs in place instead."""
    text = path.read_text()

    def run(db: str) -> Tuple[str, List[str]]:
        problems: List[str] = []
        pieces, last = [], 0
        for m in BLOCK.finditer(text):
            got = psql(db, m.group("sql"))
            if update:
                pieces += [text[last:m.start("out")], got]
                last = m.end("out")
            else:
                diff = same_output(got, m.group("out"))
                if diff:
                    problems.append(f"{path.name}: the example\n{m.group('sql')}{diff}")
        pieces.append(text[last:])
        return "".join(pieces), problems

    new_text, problems = with_database(run)
    if update and new_text != text:
        path.write_text(new_text)
    return problems


def check_python(path: Path = GUIDE) -> Tuple[int, int]:
    """(failed, attempted) of the ```python doctest blocks of path."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs: dict = {}
    for i, m in enumerate(PY_BLOCK.finditer(path.read_text())):
        test = parser.get_doctest(m.group("py"), globs, f"{path.name}[python {i}]", str(path), 0)
        runner.run(test, clear_globs=False)
        globs.update(test.globs)  # the blocks build on each other (a DocTest copies its globs)
    r = runner.summarize(verbose=False)
    return r.failed, r.attempted


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--update"]
    path = Path(args[0]) if args else GUIDE
    problems = check_sql(path, update="--update" in sys.argv)
    for p in problems:
        print(p)
    failed, attempted = check_python(path)
    print(f"{path}: {len(BLOCK.findall(path.read_text()))} SQL examples, {len(problems)} differ; "
          f"{attempted} Python examples, {failed} failed")
    return 1 if problems or failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Runs several benchmark families in one process (torch is imported once).

    .venv/bin/python bench/run.py [--quick] [FAMILY ...]

FAMILY: decode, multihead, softmax, overhead, cross, types, sql, memory (default: all);
every other argument (--quick, --out DIR, --trials N, ...) goes to each family.
Each family runs as its own script would (bench/bench_<family>.py, with the
same options) and writes bench/results[/quick]/<family>.json; a family that
fails is reported and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FAMILIES = ["decode", "multihead", "softmax", "overhead", "cross", "types", "sql", "memory"]


def main() -> int:
    args = sys.argv[1:]
    if "-h" in args or "--help" in args:
        print(__doc__.strip())
        return 0
    fams = [a for a in args if a in FAMILIES] or FAMILIES
    flags = [a for a in args if a not in FAMILIES]  # options (and their values) go to every family
    failed = []
    t0 = time.time()
    for fam in fams:
        try:
            importlib.import_module(f"bench_{fam}").main(flags)
        except Exception:
            traceback.print_exc()
            failed.append(fam)
    print(f"bench/run.py: {len(fams) - len(failed)} of {len(fams)} families in {time.time() - t0:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

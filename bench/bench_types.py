#!/usr/bin/env python3
"""Every attention type against scaled-dot attention on the same inputs: m
queries (m = 1: decode; m = 32: a batch) over n keys, d = dv = 128, one
thread, each type with its defaults (rv.attention(q, K, V, type)).

The target of the attention-types issue: every type within 1.5x of the time
of scaled_dot for the same n and d.  The points lie inside the unit
Poincare ball (norms about 0.6) so that one data set serves every type.
sliding (window 256) reads only the last 256 keys, so it is faster by
construction; it is listed for completeness.  "linear from summary" is linear
attention answered from the key summary (rv.linear_attention_summary, built
once before the timing), what it is designed for: O(d dv) per query.

    .venv/bin/python bench/bench_types.py [--quick] [--n 4096 65536 ...]
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import ruvector_cffi as rv  # noqa: E402
from common import F32, Case, Results, fmt_time, measure_with, parse_args  # noqa: E402

D = 128
SHAPES = [(1, 4096), (1, 65536), (32, 4096)]
SHAPES_QUICK = [(1, 512), (4, 512)]
TYPES = ["scaled_dot", "linear", "gat", "sparse", "moe", "cross", "sliding", "poincare", "lorentz",
         "multi_head", "flash_v2"]


def main(argv: Optional[List[str]] = None) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, nargs="+", help="numbers of keys, m = 1 (default: the SHAPES list)")

    cfg, args = parse_args(__file__, __doc__.splitlines()[0], trials=7, min_time=0.02, extra=extra, argv=argv)
    res = Results("types", cfg)
    rng = np.random.default_rng(5)
    shapes = [(1, n) for n in args.n] if args.n else (SHAPES_QUICK if cfg.quick else SHAPES)
    rows = []
    res["d"] = D
    for m, n in shapes:
        s = 0.6 / np.sqrt(D)
        K = (rng.standard_normal((n, D)) * s).astype(F32)
        V = (rng.standard_normal((n, D)) * s).astype(F32)
        q = (rng.standard_normal(D if m == 1 else (m, D)) * s).astype(F32)
        cases = []
        for t in TYPES:
            out = rv.attention(q, K, V, t, threads=1)
            assert np.all(np.isfinite(out)), t
            cases.append(Case(t, [partial(rv.attention, q, K, V, t, threads=1)]))
        # linear attention as it is meant to serve many queries: the key summary is built
        # once (outside the timing), each query then costs O(d dv)
        summary = rv.linear_attention_summary(K, V, threads=1)
        np.testing.assert_allclose(rv.linear_attention_from_summary(q, summary, threads=1),
                                   rv.attention(q, K, V, "linear", threads=1), rtol=1e-4, atol=1e-6)
        cases.append(Case("linear from summary",
                          [partial(rv.linear_attention_from_summary, q, summary, threads=1)]))
        st = measure_with(cases, cfg, 1)
        base = st["scaled_dot"].median
        ratios = {k: v.median / base for k, v in st.items()}
        rows.append({"m": m, "n": n, "d": D, "kv_bytes": K.nbytes + V.nbytes,
                     "stats": {k: v.as_dict() for k, v in st.items()}, "vs_scaled_dot": ratios})
        print(f"   m={m} n={n:6d} " + "  ".join(f"{k} {fmt_time(v.median)} ({ratios[k]:.2f}x)"
                                                for k, v in st.items()), flush=True)
    res["rows"] = rows
    res.write()


if __name__ == "__main__":
    main()

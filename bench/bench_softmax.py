#!/usr/bin/env python3
"""Softmax alone: n in {1k, 64k, 1M} float32 (one thread).

ruvector_cffi.softmax (new output array) and softmax_inplace against numpy's
stable softmax (max, subtract, exp, sum, divide, with in-place steps) and
torch.softmax(x, 0) on a tensor sharing the numpy buffer.  Bandwidth counts
one read and one write of n floats.

    .venv/bin/python bench/bench_softmax.py [--quick] [--n 1024 ...]
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
from common import (  # noqa: E402
    F32,
    Case,
    Results,
    check_close,
    fmt_time,
    gbps,
    measure_with,
    optional_torch,
    parse_args,
)

NS, NS_QUICK = [1 << 10, 1 << 16, 1 << 20], [1 << 10, 1 << 14]


def numpy_softmax(x: np.ndarray) -> np.ndarray:
    e = x - x.max()
    np.exp(e, out=e)
    e /= e.sum()
    out: np.ndarray = e
    return out


def main(argv: Optional[List[str]] = None) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, nargs="+", help=f"lengths (default {NS})")

    cfg, args = parse_args(__file__, __doc__.splitlines()[0], trials=9, min_time=0.02, extra=extra, argv=argv)
    torch = optional_torch()
    res = Results("softmax", cfg)
    rng = np.random.default_rng(3)
    rows = []
    for n in args.n or (NS_QUICK if cfg.quick else NS):
        x = (rng.standard_normal(n, dtype=F32) * 4).astype(F32)
        ref = np.exp(x.astype(np.float64) - x.max())
        ref /= ref.sum()
        check_close(f"ruvector n={n}", rv.softmax(x), ref, rtol=1e-5)
        check_close(f"numpy n={n}", numpy_softmax(x), ref, rtol=1e-3)
        y = x.copy()  # softmax_inplace overwrites: it keeps working on its own outputs
        cases = [Case("ruvector", [partial(rv.softmax, x)]),
                 Case("ruvector inplace", [partial(rv.softmax_inplace, y)]),
                 Case("numpy", [partial(numpy_softmax, x)])]
        if torch is not None:
            tx = torch.from_numpy(x)
            check_close(f"torch n={n}", torch.softmax(tx, 0).numpy(), ref, rtol=1e-3)
            cases.append(Case("torch", [partial(torch.softmax, tx, 0)]))
        st = measure_with(cases, cfg)
        rate = {k: gbps(8 * n, v.median) for k, v in st.items()}
        rows.append({"n": n, "stats": {k: v.as_dict() for k, v in st.items()}, "gbps": rate})
        print(f"   n={n:8d} " + "  ".join(f"{k} {fmt_time(v.median)} ({rate[k]:.0f} GB/s)"
                                         for k, v in st.items()), flush=True)
    res["rows"] = rows
    res.write()


if __name__ == "__main__":
    main()

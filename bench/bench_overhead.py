#!/usr/bin/env python3
"""Per-call overhead from Python: n = 1 key of d = 4 (one thread).

What a call costs when there is nothing to compute: ruvector_cffi's forward
functions against the numpy decode (common.numpy_attention) and torch SDPA.
Anchors: a Python call of a no-op with the same arguments, np.empty(4), and,
for the breakdown of ruvector's own cost, the raw C call through cffi with
pointers prepared in advance (private API: skipped with a note if it moved).

    .venv/bin/python bench/bench_overhead.py [--quick]
"""

from __future__ import annotations

import math
import sys
from functools import partial
from pathlib import Path
from typing import Any, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import ruvector_cffi as rv  # noqa: E402
from common import (  # noqa: E402
    F32,
    Case,
    Results,
    check_close,
    fmt_time,
    measure_with,
    numpy_attention,
    optional_torch,
    parse_args,
    reference_attention,
)

N, D = 1, 4


def _noop(*args: Any, **kw: Any) -> None:
    return None


def private_cases(q: np.ndarray, K: np.ndarray, V: np.ndarray, scale: float) -> Tuple[List[Case], List[str]]:
    """The pieces of one rv.scaled_dot_attention call, through the private
    binding (ffi, lib): raw C call with prepared pointers, and the four
    ffi.from_buffer conversions the wrapper does.  Best effort."""
    cases, notes = [], []
    try:
        from ruvector_cffi import _binding as b

        ffi, lib = b.ffi, b.lib
        fa = ffi.typeof("float[]")
        out = np.empty(D, F32)
        ns = lib.rv_scaled_dot_attention_scratch(1, N, D, D, ffi.NULL)
        scratch = ffi.new("float[]", max(int(ns), 1))
        qp, kp, vp = (ffi.from_buffer(fa, a) for a in (q, K, V))
        op = ffi.from_buffer(fa, out)
        c_call = lib.rv_scaled_dot_attention
        cases.append(Case("raw C call (cffi, pointers ready)",
                          [partial(c_call, qp, 1, kp, vp, N, D, D, scale, op, scratch, ffi.NULL)]))
        fb = ffi.from_buffer

        def from_buffers() -> None:
            fb(fa, q), fb(fa, K), fb(fa, V), fb(fa, out)

        cases.append(Case("4x ffi.from_buffer", [from_buffers]))
    except Exception as e:  # the private layer changed: the breakdown is optional
        notes.append(f"breakdown through the private binding skipped ({type(e).__name__}: {e})")
    return cases, notes


def main(argv: Optional[List[str]] = None) -> None:
    cfg, _ = parse_args(__file__, __doc__.splitlines()[0], trials=9, min_time=0.02, argv=argv)
    torch = optional_torch()
    res = Results("overhead", cfg)
    rng = np.random.default_rng(5)
    q = rng.standard_normal(D, dtype=F32)
    K = rng.standard_normal((N, D), dtype=F32)
    V = rng.standard_normal((N, D), dtype=F32)
    x1 = rng.standard_normal(N, dtype=F32)
    scale = 1.0 / math.sqrt(D)
    ref = reference_attention(q, K, V, scale)
    check_close("ruvector sdpa", rv.scaled_dot_attention(q, K, V), ref)
    check_close("ruvector flash", rv.flash_attention(q, K, V), ref)
    check_close("numpy", numpy_attention(q, K, V, F32(scale)), ref)

    groups: List[Tuple[str, List[Case]]] = []
    calls: List[Case] = [
        Case("ruvector scaled_dot_attention", [partial(rv.scaled_dot_attention, q, K, V)]),
        Case("ruvector flash_attention", [partial(rv.flash_attention, q, K, V)]),
        Case("ruvector multi_head_attention (2 heads)", [partial(rv.multi_head_attention, q, K, V, 2)]),
        Case("ruvector attention_scores", [partial(rv.attention_scores, q, K)]),
        Case("ruvector softmax (n=1)", [partial(rv.softmax, x1)]),
        Case("numpy (2 matvecs + softmax)", [partial(numpy_attention, q, K, V, F32(scale))]),
    ]
    if torch is not None:
        sdpa = torch.nn.functional.scaled_dot_product_attention
        tq, tK, tV = (torch.from_numpy(a).view(1, 1, -1, D) for a in (q, K, V))
        with torch.inference_mode():
            check_close("torch sdpa", sdpa(tq, tK, tV).numpy(), ref)
        calls.append(Case("torch scaled_dot_product_attention", [partial(sdpa, tq, tK, tV)]))
        calls.append(Case("torch softmax (n=1)", [partial(torch.softmax, torch.from_numpy(x1), 0)]))
    groups.append(("calls", calls))
    anchors = [Case("python call of a no-op (3 arrays)", [partial(_noop, q, K, V)]),
               Case("np.empty(4, float32)", [partial(np.empty, D, F32)])]
    priv, notes = private_cases(q, K, V, scale)
    for m in notes:
        res.note(m)
    groups.append(("anchors", anchors + priv))

    rows = []
    for group, cases in groups:
        st = measure_with(cases, cfg)
        for name, s in st.items():
            rows.append({"group": group, "name": name, "stats": s.as_dict()})
            print(f"   {name:45s} {fmt_time(s.median):>10s}  [{fmt_time(s.min)} - {fmt_time(s.max)}]", flush=True)
    res["n"], res["d"] = N, D
    res["rows"] = rows
    res.write()


if __name__ == "__main__":
    main()

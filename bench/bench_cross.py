#!/usr/bin/env python3
"""Cross attention as self-attention: X of L rows, H = 8 heads of dh = 64
(d = 512), causal and not, with 1 and 2 threads (compute-bound: L^2 work).

ruvector_cffi.cross_attention(X, X, X, causal, 8, threads=t) against torch's
scaled_dot_product_attention on the (1, 8, L, 64) views (t intra-op threads,
inference mode, is_causal) and numpy (per head: Q_h K_h^T as one sgemm,
the masked stable softmax in place, then P V_h, BLAS limited to t threads).
Rates are GFLOP/s of the two products: 4 L^2 dh H flops, about half that
when causal (L (L + 1) / 2 attended pairs).

    .venv/bin/python bench/bench_cross.py [--quick] [--L 512 2048 ...]
"""

from __future__ import annotations

import argparse
import math
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
    measure_with,
    optional_torch,
    parse_args,
)

H, DH = 8, 64
LS, LS_QUICK = [512, 2048], [128]


def flops(L: int, causal: bool) -> float:
    pairs = L * (L + 1) / 2 if causal else L * L
    return 4.0 * pairs * DH * H


def numpy_self_attention(X: np.ndarray, causal: bool, scale: np.float32) -> np.ndarray:
    """Per head: S = (Q_h * scale) K_h^T (one sgemm), -inf above the diagonal
    when causal, softmax rows in place, O_h = P V_h (another sgemm)."""
    L = X.shape[0]
    out = np.empty_like(X)
    mask = np.triu(np.ones((L, L), dtype=bool), 1) if causal else None
    for h in range(H):
        c = slice(h * DH, (h + 1) * DH)
        S = (X[:, c] * scale) @ X[:, c].T
        if mask is not None:
            S[mask] = -np.inf
        S -= S.max(axis=1, keepdims=True)
        np.exp(S, out=S)
        S /= S.sum(axis=1, keepdims=True)
        out[:, c] = S @ X[:, c]
    return out


def reference(X: np.ndarray, causal: bool) -> np.ndarray:
    x = X.astype(np.float64)
    L = x.shape[0]
    out = np.empty_like(x)
    for h in range(H):
        c = slice(h * DH, (h + 1) * DH)
        S = x[:, c] @ x[:, c].T / math.sqrt(DH)
        if causal:
            S[np.triu(np.ones((L, L), dtype=bool), 1)] = -np.inf
        S = np.exp(S - S.max(axis=1, keepdims=True))
        out[:, c] = (S / S.sum(axis=1, keepdims=True)) @ x[:, c]
    return out


def main(argv: Optional[List[str]] = None) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--L", type=int, nargs="+", help=f"sequence lengths (default {LS})")
        p.add_argument("--threads", type=int, nargs="+", default=[1, 2])

    cfg, args = parse_args(__file__, __doc__.splitlines()[0], trials=7, min_time=0.1, extra=extra, argv=argv)
    torch = optional_torch()
    res = Results("cross", cfg)
    rng = np.random.default_rng(11)
    scale = F32(1.0 / math.sqrt(DH))
    rows = []
    res["heads"], res["head_dim"] = H, DH
    for L in args.L or (LS_QUICK if cfg.quick else LS):
        X = rng.standard_normal((L, H * DH), dtype=F32)
        for causal in (False, True):
            ref = reference(X, causal)
            check_close(f"ruvector L={L}", rv.cross_attention(X, X, X, causal, H, threads=1), ref)
            check_close(f"numpy L={L}", numpy_self_attention(X, causal, scale), ref)
            if torch is not None:
                sdpa = torch.nn.functional.scaled_dot_product_attention
                tX = torch.from_numpy(X).view(1, L, H, DH).transpose(1, 2)
                with torch.inference_mode():
                    got = sdpa(tX, tX, tX, is_causal=causal).transpose(1, 2).reshape(L, -1).numpy()
                check_close(f"torch sdpa L={L}", got, ref)
            for t in args.threads:
                cases = [
                    Case("ruvector", [partial(rv.cross_attention, X, X, X, causal, H, threads=t)], threads=t),
                    Case("numpy", [partial(numpy_self_attention, X, causal, scale)], threads=t),
                ]
                if torch is not None:
                    cases.append(Case("torch sdpa", [partial(sdpa, tX, tX, tX, is_causal=causal)], threads=t))
                st = measure_with(cases, cfg, t)
                rate = {k: flops(L, causal) / v.median / 1e9 for k, v in st.items()}
                rows.append({"L": L, "causal": causal, "threads": t, "flops": flops(L, causal),
                             "stats": {k: v.as_dict() for k, v in st.items()}, "gflops": rate})
                print(f"   L={L:5d} causal={causal!s:5} threads={t} "
                      + "  ".join(f"{k} {fmt_time(v.median)} ({rate[k]:.0f} GFLOP/s)" for k, v in st.items()),
                      flush=True)
    res["rows"] = rows
    res.write()


if __name__ == "__main__":
    main()

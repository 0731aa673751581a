#!/usr/bin/env python3
"""Multi-head decode: one query, H = 8 heads of d = 64 (d_model 512), n keys,
with 1 and 2 threads (hot: the same K, V every call).

ruvector_cffi.multi_head_attention(q, K, V, 8, threads=t) against numpy with
its BLAS limited to t threads (the faster of a batched formulation, one
np.matmul over the 8 head views, and a loop over heads) and torch SDPA with
t intra-op threads on the usual (1, H, n, 64) views of the (n, 512) arrays.
The anchor is the read probe with t threads over an array the size of K + V.

    .venv/bin/python bench/bench_multihead.py [--quick] [--n 2048 ...]
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
    ReadProbe,
    Results,
    check_close,
    fmt_time,
    gbps,
    make_kv,
    measure_with,
    optional_torch,
    parse_args,
    reference_attention,
)

H, DH = 8, 64
NS, NS_QUICK = [512, 2048, 8192], [512]


def numpy_mha_batched(q: np.ndarray, K: np.ndarray, V: np.ndarray, scale: np.float32) -> np.ndarray:
    """All heads at once: S = K_h q_h through one np.matmul over the (H, n, dh)
    strided views (one sgemv per head inside numpy), softmax per row of S,
    then O_h = w_h V_h the same way."""
    n = K.shape[0]
    S = np.matmul(K.reshape(n, H, DH).transpose(1, 0, 2), (q * scale).reshape(H, DH, 1))[:, :, 0]
    S -= S.max(axis=1, keepdims=True)
    np.exp(S, out=S)
    O = np.matmul(S[:, None, :], V.reshape(n, H, DH).transpose(1, 0, 2))[:, 0, :]
    O /= S.sum(axis=1)[:, None]
    out: np.ndarray = O.reshape(-1)
    return out


def numpy_mha_loop(q: np.ndarray, K: np.ndarray, V: np.ndarray, scale: np.float32) -> np.ndarray:
    """One head at a time on column slices (sgemv with lda = d)."""
    out = np.empty(H * DH, F32)
    qs = q * scale
    for h in range(H):
        c = slice(h * DH, (h + 1) * DH)
        s = K[:, c] @ qs[c]
        s -= s.max()
        np.exp(s, out=s)
        o = s @ V[:, c]
        o /= s.sum()
        out[c] = o
    return out


def reference_mha(q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
    return np.concatenate([
        reference_attention(q[h * DH:(h + 1) * DH], K[:, h * DH:(h + 1) * DH], V[:, h * DH:(h + 1) * DH],
                            1.0 / math.sqrt(DH))
        for h in range(H)])


def main(argv: Optional[List[str]] = None) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, nargs="+", help=f"numbers of keys (default {NS})")
        p.add_argument("--threads", type=int, nargs="+", default=[1, 2])

    cfg, args = parse_args(__file__, __doc__.splitlines()[0], trials=9, min_time=0.02, extra=extra, argv=argv)
    torch = optional_torch()
    res = Results("multihead", cfg)
    probe = ReadProbe()
    d = H * DH
    scale = F32(1.0 / math.sqrt(DH))
    rng = np.random.default_rng(7)
    rows = []
    res["heads"], res["head_dim"] = H, DH
    for n in args.n or (NS_QUICK if cfg.quick else NS):
        K, V = make_kv(n, d, d, rng)
        q = rng.standard_normal(d, dtype=F32)
        ref = reference_mha(q, K, V)
        check_close(f"ruvector n={n}", rv.multi_head_attention(q, K, V, H, threads=1), ref)
        check_close(f"numpy batched n={n}", numpy_mha_batched(q, K, V, scale), ref)
        check_close(f"numpy loop n={n}", numpy_mha_loop(q, K, V, scale), ref)
        if torch is not None:
            sdpa = torch.nn.functional.scaled_dot_product_attention
            tq = torch.from_numpy(q).view(1, 1, H, DH).transpose(1, 2)
            tK = torch.from_numpy(K).view(1, n, H, DH).transpose(1, 2)
            tV = torch.from_numpy(V).view(1, n, H, DH).transpose(1, 2)
            with torch.inference_mode():
                check_close(f"torch sdpa n={n}", sdpa(tq, tK, tV).transpose(1, 2).reshape(-1).numpy(), ref)
        buf = np.ones((K.nbytes + V.nbytes) // 4, F32)
        for t in args.threads:
            cases = [
                Case("ruvector", [partial(rv.multi_head_attention, q, K, V, H, threads=t)], threads=t),
                Case("numpy batched", [partial(numpy_mha_batched, q, K, V, scale)], threads=t),
                Case("numpy loop", [partial(numpy_mha_loop, q, K, V, scale)], threads=t),
            ]
            if torch is not None:
                cases.append(Case("torch sdpa", [partial(sdpa, tq, tK, tV)], threads=t))
            cases.append(probe.hot_case("read", buf, t))
            st = measure_with(cases, cfg, t)
            kv = K.nbytes + V.nbytes
            rate = {k: gbps(kv, v.median) for k, v in st.items()}
            rows.append({"n": n, "d": d, "threads": t, "kv_bytes": kv,
                         "stats": {k: v.as_dict() for k, v in st.items()}, "gbps": rate})
            print(f"   n={n:5d} threads={t} "
                  + "  ".join(f"{k} {fmt_time(v.median)} ({rate[k]:.0f} GB/s)" for k, v in st.items()),
                  flush=True)
    res["rows"] = rows
    res["read_kernel"] = probe.kernel_name
    res.write()


if __name__ == "__main__":
    main()

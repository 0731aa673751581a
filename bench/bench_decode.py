#!/usr/bin/env python3
"""Decode: one query against n keys (float32, one thread).

ruvector_cffi.scaled_dot_attention and flash_attention against numpy (two
sgemv and a stable softmax, common.numpy_attention) and torch's
scaled_dot_product_attention (shapes (1,1,1,d) x (1,1,n,d), inference mode),
for d in {64, 128, 384, 768} and n in {128, ..., 32768}, in two cases:

  hot   the same K, V every call (cache-resident when they fit);
  cold  cycling through a pool of distinct K, V copies larger than 2x the L3,
        so that every call reads K and V from DRAM.

Next to them, interleaved in the same trials, the read probe reads an array
of the size of K and V (hot: one buffer, repeatedly; cold: the same pool), and
in cold rows also one large array (256 MiB, > 8x L3) from DRAM, so that every
row carries its own read-rate anchors.  ruvector is called as a user would
(no threads=): a single query runs on one thread.  Effective bandwidth is the
bytes of K and V over the time of a call.

    .venv/bin/python bench/bench_decode.py [--quick] [--d 128 --n 2048 ...]
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
    cold_bytes,
    fmt_time,
    gbps,
    kv_pool,
    l2_bytes,
    l3_bytes,
    make_kv,
    measure_with,
    numpy_attention,
    optional_torch,
    parse_args,
    reference_attention,
    threads,
)

DS, NS = [64, 128, 384, 768], [128, 512, 2048, 8192, 32768]
DS_QUICK, NS_QUICK = [64, 128], [128, 1024]


def main(argv: Optional[List[str]] = None) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--d", type=int, nargs="+", help=f"head dimensions (default {DS})")
        p.add_argument("--n", type=int, nargs="+", help=f"numbers of keys (default {NS})")
        p.add_argument("--modes", nargs="+", default=["hot", "cold"], choices=["hot", "cold"])

    cfg, args = parse_args(__file__, __doc__.splitlines()[0], trials=9, min_time=0.02, extra=extra, argv=argv)
    torch = optional_torch()
    res = Results("decode", cfg)
    ds = args.d or (DS_QUICK if cfg.quick else DS)
    ns = args.n or (NS_QUICK if cfg.quick else NS)
    probe = ReadProbe()
    res["caches"] = {"L2": l2_bytes(), "L3": l3_bytes(), "cold_pool_min_bytes": cold_bytes(cfg.quick)}
    with threads(1):
        res["read_survey"] = probe.survey([256 << 10, 4 << 20] if not cfg.quick else [256 << 10], cfg)
    for row in res["read_survey"]["rows"]:
        print(f"   read {row['kind']:4s} {row['bytes'] >> 10:7d} KiB: "
              + ", ".join(f"{k} {v:.1f}" for k, v in row["gbps"].items()) + " GB/s")
    if torch is not None:
        sdpa = torch.nn.functional.scaled_dot_product_attention
        res["torch_threads"] = 1

    # the DRAM anchor of the cold rows: one large array read in the same interleaved trials
    dram_buf = np.ones((16 << 20 if cfg.quick else max(256 << 20, 8 * l3_bytes())) // 4, F32)
    rows = []
    rng = np.random.default_rng(42)
    for d in ds:
        for n in ns:
            K, V = make_kv(n, d, d, rng)
            q = rng.standard_normal(d, dtype=F32)
            scale = 1.0 / math.sqrt(d)
            ref = reference_attention(q, K, V, scale)
            check_close(f"ruvector sdpa d={d} n={n}", rv.scaled_dot_attention(q, K, V, threads=1), ref)
            check_close(f"ruvector flash d={d} n={n}", rv.flash_attention(q, K, V, threads=1), ref)
            check_close(f"numpy d={d} n={n}", numpy_attention(q, K, V, F32(scale)), ref)
            assert numpy_attention(q, K, V, F32(scale)).dtype == F32
            tq = torch.from_numpy(q).view(1, 1, 1, d) if torch is not None else None
            if torch is not None:
                with torch.inference_mode():
                    out = sdpa(tq, torch.from_numpy(K).view(1, 1, n, d), torch.from_numpy(V).view(1, 1, n, d))
                check_close(f"torch sdpa d={d} n={n}", out.numpy(), ref)
            kv_bytes = K.nbytes + V.nbytes
            for mode in args.modes:
                pool = [(K, V)] if mode == "hot" else kv_pool(K, V, cold_bytes(cfg.quick))
                cases = [
                    Case("ruvector sdpa", [partial(rv.scaled_dot_attention, q, k, v) for k, v in pool]),
                    Case("ruvector flash", [partial(rv.flash_attention, q, k, v) for k, v in pool]),
                    Case("numpy", [partial(numpy_attention, q, k, v, F32(scale)) for k, v in pool]),
                ]
                if torch is not None:
                    tpool = [(torch.from_numpy(k).view(1, 1, n, d), torch.from_numpy(v).view(1, 1, n, d))
                             for k, v in pool]
                    cases.append(Case("torch sdpa", [partial(sdpa, tq, k, v) for k, v in tpool]))
                if mode == "hot":
                    buf = np.ones(kv_bytes // 4, F32)
                    cases.append(probe.hot_case("read", buf))
                else:
                    cases.append(probe.cold_case("read", pool))
                    cases.append(probe.cold_case("read DRAM", [[dram_buf]]))
                st = measure_with(cases, cfg)
                rate = {k: gbps(dram_buf.nbytes if k == "read DRAM" else kv_bytes, v.median) for k, v in st.items()}
                rows.append({
                    "d": d, "n": n, "mode": mode, "kv_bytes": kv_bytes, "pool": len(pool),
                    "dram_bytes": dram_buf.nbytes if mode == "cold" else None,
                    "stats": {k: v.as_dict() for k, v in st.items()}, "gbps": rate,
                })
                print(f"   d={d:4d} n={n:6d} {mode:4s} "
                      + "  ".join(f"{k} {fmt_time(v.median)} ({rate[k]:.0f} GB/s)" for k, v in st.items()),
                      flush=True)
                del pool, cases
    res["rows"] = rows
    res["read_kernel"] = probe.kernel_name
    res.write()


if __name__ == "__main__":
    main()

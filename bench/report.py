#!/usr/bin/env python3
"""Turns bench/results/*.json into docs/benchmarks.md and docs/img/bench_*.png.

Every table shows medians with the min-max of the trials; every ratio is
taken between numbers measured in the same run (and, for the Python
families, in the same interleaved trials).  The targets of the benchmark
issue are checked here, each with a PASS/MISS verdict.

    .venv/bin/python bench/report.py [--results DIR] [--out FILE] [--img DIR]
                                     [--command "tools/bench.sh"]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ["decode", "multihead", "softmax", "overhead", "cross", "types", "sql", "memory"]
RV_DECODE = ["ruvector sdpa", "ruvector flash"]

# --------------------------------------------------------------------------- formatting


def t_fmt(s: Optional[float]) -> str:
    """Seconds in a unit that keeps 3 significant digits."""
    if s is None:
        return "n/a"
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= f or unit == "ns":
            v = s / f
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return ""


def t_range(st: Dict[str, Any]) -> str:
    """'12.3 µs (11.9–13.0)': median and min-max, in the median's unit."""
    med, lo, hi = st["median"], st["min"], st["max"]
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if med >= f or unit == "ns":
            def g(x: float) -> str:
                v = x / f
                return f"{v:.3g}" if v < 100 else f"{v:.0f}"
            return f"{g(med)} {unit} ({g(lo)}–{g(hi)})"
    return ""


def size_fmt(b: float) -> str:
    for unit, f in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= f:
            v = b / f
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{b:.0f} B"


def x_fmt(r: Optional[float]) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def pct(r: Optional[float]) -> str:
    return "n/a" if r is None else f"{100 * r:.0f}%"


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: Optional[str] = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def med(row: Dict[str, Any], name: str) -> Optional[float]:
    st = row.get("stats", {}).get(name)
    return st["median"] if st else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """a / b, None when either is missing."""
    return None if a is None or b is None or b == 0 else a / b


# --------------------------------------------------------------------------- targets


class Targets:
    def __init__(self) -> None:
        self.rows: List[Tuple[str, str, str, str, Optional[bool]]] = []

    def add(self, target: str, case: str, measured: str, required: str, ok: Optional[bool]) -> None:
        self.rows.append((target, case, measured, required, ok))

    def markdown(self) -> str:
        return table(["target", "case", "measured", "required", "result"],
                     [(t, c, m, r, verdict(ok)) for t, c, m, r, ok in self.rows], "lllll")

    def counts(self) -> Tuple[int, int]:
        return (sum(1 for r in self.rows if r[4] is True), sum(1 for r in self.rows if r[4] is False))


# --------------------------------------------------------------------------- families


def decode_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = ["## 1. Decode: one query against n keys (one thread)", ""]
    out.append(
        "`rv.scaled_dot_attention(q, K, V)` and `rv.flash_attention(q, K, V)` (a single query runs on one "
        "thread) against numpy (`K @ (q*scale)`, stable softmax in place, `w @ V`, all float32, BLAS limited to "
        "one thread) and `torch.nn.functional.scaled_dot_product_attention` on `(1,1,1,d) x (1,1,n,d)` views "
        "(one intra-op thread, inference mode); d_v = d.  **hot**: the same K, V every call. **cold**: cycling "
        f"through a pool of copies of K, V larger than 2x the L3 ({size_fmt(R['caches']['cold_pool_min_bytes'])}"
        "), so every call reads DRAM.  GB/s = bytes of K and V / time.  *read* is the read probe "
        "(bench/readbw.c) in the same interleaved trials: for hot rows it reads one array of the size of K+V "
        "repeatedly, for cold rows it reads the same pool; *read DRAM* (cold rows) reads one large array "
        "(> 8x L3), the DRAM read rate of the cold target.")
    out.append("")
    sv = R.get("read_survey", {})
    if sv.get("rows"):
        kernels = list(sv["rows"][0]["gbps"].keys())
        out.append("Read-rate probes at the start of the run (GB/s, one thread; the fastest is the anchor):")
        out.append("")
        out.append(table(["array", *kernels, "fastest"],
                         [[f"{size_fmt(r['bytes'])} {r['kind']}", *(f"{r['gbps'][k]:.1f}" for k in kernels),
                           r["best"]] for r in sv["rows"]]))
        out.append("")
    for mode in ("hot", "cold"):
        rows = [r for r in R["rows"] if r["mode"] == mode]
        if not rows:
            continue
        anchors = [k for k in ("read", "read DRAM") if k in rows[0]["stats"]]
        names = [k for k in rows[0]["stats"] if k not in anchors]
        head = ["d", "n", "K+V", *names, *anchors, "sdpa / numpy", "sdpa / torch", "sdpa % read", "flash / numpy",
                "flash % read"]
        body = []
        for r in rows:
            t_np, t_to = med(r, "numpy"), med(r, "torch sdpa")
            cells = [r["d"], r["n"], size_fmt(r["kv_bytes"])]
            for k in [*names, *anchors]:
                st = r["stats"].get(k)
                cells.append(f"{t_range(st)}<br>{r['gbps'][k]:.0f} GB/s" if st else "n/a")
            s, f = med(r, "ruvector sdpa"), med(r, "ruvector flash")
            anchor = r["gbps"].get("read DRAM") or r["gbps"]["read"]
            cells += [x_fmt(ratio(t_np, s)), x_fmt(ratio(t_to, s)), pct(ratio(r["gbps"]["ruvector sdpa"], anchor)),
                      x_fmt(ratio(t_np, f)), pct(ratio(r["gbps"]["ruvector flash"], anchor))]
            body.append(cells)
        out.append(f"### {mode}")
        out.append("")
        out.append("Ratios are speedups (competitor time / ruvector time); % read = ruvector's GB/s / the read "
                   "probe's GB/s" + (" for the large array from DRAM (*read DRAM*, the target's anchor; *read* "
                                     "is the same pool as the competitors)." if mode == "cold" else
                                     " for an array of the size of K+V."))
        out.append("")
        out.append(table(head, body))
        out.append("")
    if "decode" in img:
        out.append(f"![decode]({img['decode']})")
        out.append("")

    # targets
    l2 = R["caches"]["L2"]
    dram = next((r["best_gbps"] for r in sv.get("rows", []) if r["kind"] == "dram"), None)
    for r in R["rows"]:
        d, n, mode = r["d"], r["n"], r["mode"]
        t_np, t_to, t_rd = med(r, "numpy"), med(r, "torch sdpa"), med(r, "read")
        for fn in RV_DECODE:
            t = med(r, fn)
            if t is None:
                continue
            label = f"{fn.split()[1]}, d={d}, n={n}"
            sp_np, sp_to, of_read = ratio(t_np, t), ratio(t_to, t), ratio(t_rd, t)
            if mode == "cold" and n >= 8192 and d >= 128:
                dram_row = r["gbps"].get("read DRAM") or dram
                of_dram = None if not dram_row else r["gbps"][fn] / dram_row
                ok = of_dram is not None and of_dram >= 0.9 and sp_np is not None and sp_np >= 1.1
                T.add("decode cold", label,
                      f"{r['gbps'][fn]:.1f} GB/s = {pct(of_dram)} of the DRAM read ({dram_row:.1f} GB/s; "
                      f"same pool {r['gbps']['read']:.1f}); {x_fmt(sp_np)} numpy",
                      ">= 90% DRAM read and >= 1.1x numpy", ok)
            if mode == "hot" and d == 128 and 512 <= n <= 8192:
                fast = sp_np is not None and sp_np >= 1.3 and (sp_to is None or sp_to >= 2.0)
                capped = r["kv_bytes"] > l2
                ok = fast or (capped and of_read is not None and of_read >= 0.9)
                req = ">= 1.3x numpy and >= 2x torch" + (" (or >= 90% read: K+V > L2)" if capped else "")
                T.add("decode hot", label,
                      f"{x_fmt(sp_np)} numpy, {x_fmt(sp_to)} torch, {pct(of_read)} of read ({r['gbps']['read']:.0f} GB/s)",
                      req, ok)
            if mode == "hot" and d == 128 and n == 128:
                ok = sp_np is not None and sp_np >= 2 and (sp_to is None or sp_to >= 2)
                T.add("decode n=128 from Python", label,
                      f"{t_fmt(t)}: {x_fmt(sp_np)} numpy ({t_fmt(t_np)}), {x_fmt(sp_to)} torch ({t_fmt(t_to)})",
                      ">= 2x numpy and torch", ok)
    return "\n".join(out)


def multihead_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = ["## 2. Multi-head decode: H = 8, d = 64 per head", ""]
    out.append(
        "`rv.multi_head_attention(q, K, V, 8, threads=t)` (heads run on t threads) against numpy with its BLAS "
        "limited to t threads, in two formulations (one batched `np.matmul` over the 8 head views, and a loop "
        "over heads on column slices), and torch SDPA with t intra-op threads on `(1, 8, n, 64)` views of the "
        "`(n, 512)` arrays. *read* is the read probe with t threads over an array the size of K + V (hot).")
    out.append("")
    rows = R["rows"]
    names = [k for k in rows[0]["stats"] if k != "read"] if rows else []
    body = []
    for r in rows:
        comp = [c for c in (med(r, k) for k in ("numpy batched", "numpy loop", "torch sdpa")) if c is not None]
        best = min(comp) if comp else None
        t = med(r, "ruvector")
        cells = [r["n"], r["threads"], size_fmt(r["kv_bytes"])]
        cells += [f"{t_range(r['stats'][k])}<br>{r['gbps'][k]:.0f} GB/s" for k in [*names, "read"]]
        cells += [x_fmt(ratio(best, t)), pct(ratio(med(r, "read"), t))]
        body.append(cells)
        if r["n"] == 2048 and r["threads"] == 2 and t is not None:
            sp, rd = ratio(best, t), ratio(med(r, "read"), t)
            ok = (sp is not None and sp >= 2) or (rd is not None and rd >= 0.9)
            T.add("multi-head, 2 threads", f"H=8, d=64, n={r['n']}",
                  f"{t_fmt(t)}: {x_fmt(sp)} the fastest competitor ({t_fmt(best)}), {pct(rd)} of the 2-thread read "
                  f"({r['gbps']['read']:.0f} GB/s)", ">= 2x fastest, or >= 90% read (the lower)", ok)
    out.append(table(["n", "threads", "K+V", *names, "read", "vs fastest competitor", "% read"], body))
    out.append("")
    if "multihead" in img:
        out.append(f"![multi-head]({img['multihead']})")
        out.append("")
    return "\n".join(out)


def cross_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = ["## 5. Cross attention as self-attention: H = 8, d = 64 per head", ""]
    out.append(
        "`rv.cross_attention(X, X, X, causal, 8, threads=t)` (FlashAttention-2 tiles; heads and query blocks "
        "on t threads) against `torch.nn.functional.scaled_dot_product_attention` on the `(1, 8, L, 64)` views "
        "(t intra-op threads, inference mode, `is_causal`) and numpy (per head one sgemm for the logits, the "
        "masked softmax in place, one sgemm for the output; BLAS limited to t threads). GFLOP/s count the two "
        "products: 4 L^2 64 x 8 flops, L (L + 1) / 2 attended pairs instead of L^2 when causal.")
    out.append("")
    body = []
    for r in R["rows"]:
        t = med(r, "ruvector")
        torch_t = med(r, "torch sdpa")
        cells = [r["L"], "yes" if r["causal"] else "no", r["threads"]]
        cells += [f"{t_range(r['stats'][k])}<br>{r['gflops'][k]:.0f} GFLOP/s" for k in r["stats"]]
        cells += [x_fmt(ratio(torch_t, t)), x_fmt(ratio(med(r, "numpy"), t))]
        body.append(cells)
        if r["threads"] == 1 and r["L"] in (512, 2048):
            sp = ratio(torch_t, t)
            T.add("cross (self-attention), 1 thread",
                  f"H=8, d=64, L={r['L']}, {'causal' if r['causal'] else 'not causal'}",
                  f"{t_fmt(t)} ({r['gflops']['ruvector']:.0f} GFLOP/s): {x_fmt(sp)} torch SDPA ({t_fmt(torch_t)})",
                  ">= 1.5x torch SDPA", None if sp is None else sp >= 1.5)
    names = list(R["rows"][0]["stats"]) if R["rows"] else []
    out.append(table(["L", "causal", "threads", *names, "vs torch", "vs numpy"], body))
    out.append("")
    return "\n".join(out)


def types_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = ["## 6. Every attention type against scaled-dot attention", ""]
    out.append(
        f"`rv.attention(q, K, V, type, threads=1)` with each type's defaults, d = dv = {R.get('d', 128)}, the "
        "same inputs for every type (points inside the unit Poincare ball). Each cell: the median time and its "
        "ratio to scaled_dot in the same trials (lower is faster). `sliding` (window 256) reads only the last "
        "256 keys. *linear from summary* answers the same linear attention from the key summary "
        "(`rv.linear_attention_summary`, built once before the timing): O(d dv) per query, how linear attention "
        "serves many queries. multi_head (4 heads) and flash_v2 (tiles of 64) are the seed's types, for "
        "reference.")
    out.append("")
    rows = R["rows"]
    names = list(rows[0]["stats"]) if rows else []
    body = []
    for r in rows:
        body.append([r["m"], r["n"], size_fmt(r["kv_bytes"])]
                    + [f"{t_fmt(med(r, k))}<br>{r['vs_scaled_dot'][k]:.2f}x" for k in names])
        for k in names:
            if k in ("scaled_dot", "sliding", "flash_v2", "multi_head", "linear from summary"):
                continue
            x = r["vs_scaled_dot"][k]
            T.add(f"{k} vs scaled_dot", f"m={r['m']}, n={r['n']}, d={r['d']}",
                  f"{t_fmt(med(r, k))}: {x:.2f}x the time of scaled_dot ({t_fmt(med(r, 'scaled_dot'))})",
                  "<= 1.5x", x <= 1.5)
    out.append(table(["m", "n", "K+V", *names], body))
    out.append("")
    return "\n".join(out)


def softmax_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = ["## 3. Softmax alone (one thread)", ""]
    out.append("`rv.softmax(x)` (new array) and `rv.softmax_inplace(x)` against numpy (`e = x - x.max()`, "
               "`np.exp(e, out=e)`, `e /= e.sum()`) and `torch.softmax(x, 0)`. GB/s counts one read and one "
               "write of n floats.")
    out.append("")
    rows = R["rows"]
    names = list(rows[0]["stats"]) if rows else []
    body = []
    for r in rows:
        t = med(r, "ruvector")
        body.append([r["n"], *(f"{t_range(r['stats'][k])}<br>{r['gbps'][k]:.0f} GB/s" for k in names),
                     x_fmt(ratio(med(r, "numpy"), t)), x_fmt(ratio(med(r, "torch"), t))])
        if r["n"] == 1 << 20:
            sp = ratio(med(r, "torch"), t)
            T.add("softmax", "n=1M", f"{t_fmt(t)}: {x_fmt(sp)} torch.softmax ({t_fmt(med(r, 'torch'))})",
                  ">= 2x torch.softmax", None if sp is None else sp >= 2)
    out.append(table(["n", *names, "vs numpy", "vs torch"], body))
    out.append("")
    if "softmax" in img:
        out.append(f"![softmax]({img['softmax']})")
        out.append("")
    return "\n".join(out)


def overhead_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = [f"## 4. Per-call overhead from Python: n = {R['n']}, d = {R['d']}", ""]
    out.append("The cost of a call with nothing to compute. The anchors below the line split ruvector's own "
               "cost: the raw C call through cffi with pointers prepared in advance, and the conversions of "
               "the four arrays to C pointers (`ffi.from_buffer`), which every call does.")
    out.append("")
    body = [[r["name"] if r["group"] == "calls" else f"*{r['name']}*", t_range(r["stats"])] for r in R["rows"]]
    out.append(table(["call", "time per call"], body))
    out.append("")
    if "overhead" in img:
        out.append(f"![overhead]({img['overhead']})")
        out.append("")
    return "\n".join(out)


def sql_section(R: Dict[str, Any], T: Targets, img: Dict[str, str], mem: Optional[Dict[str, Any]]) -> str:
    out = [f"## 7. SQL: {R['n']} keys of d = {R['d']} in a table, through psycopg", ""]
    if R.get("skipped"):
        out.append(f"Skipped: {R['skipped']}.")
        return "\n".join(out)
    srv = R.get("server", {})
    simd = srv.get("ruvector_simd")
    simd = simd.get("active") if isinstance(simd, dict) else simd
    tables = ", ".join(f"`{k}` {size_fmt(v['heap_bytes'])} heap + {size_fmt(v['toast_bytes'])} TOAST"
                       for k, v in R.get("tables", {}).items())
    out.append(
        f"PostgreSQL {srv.get('version', '?')} (ruvector SIMD backend {simd}; jit {srv.get('jit', '?')}), a "
        "throw-away cluster from tools/with-temp-pg.sh.  Table `t(id int, e real[], v real[])` in two layouts: "
        "the **default storage**, where a row of two 1.5 KB arrays is over the 2 KB TOAST threshold so one of "
        "them (the keys) is moved to the TOAST table, and **STORAGE MAIN**, which keeps both inline "
        f"({tables}).  The client sends q as a binary parameter (`%(q)b`: psycopg's default text dump of a list of 384 floats alone would cost ~0.5 ms per call) of a prepared statement and reads the result in binary.  "
        "ruvector gets its keys as `(SELECT array_agg(e ORDER BY id) FROM t)`; plain SQL reads the table "
        "(`unnest(q, e)`, `sum`, `exp(logit - max(logit) OVER ())`, and for the output a `sum` per dimension "
        "over `unnest(v) WITH ORDINALITY`; the faster of jit on and off counts); PL/Python + numpy takes the "
        "same array_agg arguments.  The queries are in bench/bench_sql.py.")
    out.append("")
    layouts = list(dict.fromkeys(r.get("layout", "default") for r in R["rows"]))
    body = []
    for layout in layouts:
        for kind in ("scores", "flash"):
            rows = {r["name"]: r for r in R["rows"] if r["kind"] == kind and r.get("layout", "default") == layout}
            t = rows["ruvector"]["stats"]["median"] if "ruvector" in rows else None
            plain = [rows[k]["stats"]["median"] for k in ("plain SQL", "plain SQL (jit=off)") if k in rows]
            t_plain = min(plain) if plain else None
            t_py = rows["PL/Python + numpy"]["stats"]["median"] if "PL/Python + numpy" in rows else None
            for name, r in rows.items():
                body.append([layout, kind, name, t_range(r["stats"]), x_fmt(ratio(r["stats"]["median"], t))])
            fn = "ruvector_attention_scores" if kind == "scores" else "ruvector_flash_attention"
            sp_plain, sp_py = ratio(t_plain, t), ratio(t_py, t)
            T.add("SQL vs plain SQL", f"{fn}, {layout}",
                  f"{t_fmt(t)}: {x_fmt(sp_plain)} faster than plain SQL ({t_fmt(t_plain)})",
                  ">= 100x", None if sp_plain is None else sp_plain >= 100)
            T.add("SQL vs PL/Python", f"{fn}, {layout}", f"{x_fmt(sp_py)} faster than PL/Python + numpy ({t_fmt(t_py)})",
                  ">= 5x", None if sp_py is None else sp_py >= 5)
    out.append(table(["layout", "function", "implementation", "end to end", "time / ruvector"], body, "lllrr"))
    out.append("")

    copies = None
    if mem and mem.get("backend_peak"):
        q = mem["backend_peak"]["queries"].get("ruvector_attention_scores")
        if q:
            copies = q["extra_bytes"] / (mem["backend_peak"]["inputs_bytes"] / 2)
    for layout, bd in (R.get("breakdown") or {}).items():
        if "stats" not in bd:  # older single-layout result
            continue
        st = bd["stats"]

        def g(k: str) -> Optional[float]:
            return st[k]["median"] if k in st else None
        e2e = g("end to end: ruvector_attention_scores")
        core = g("core: the C function alone (cffi, pointers ready)") or g("rv.attention_scores in Python (same arrays)")
        rt = g("round trip (SELECT 1)")
        agg = g("input: array_agg of the keys")
        fn_srv = (bd["server_function_time"].get("ruvector_attention_scores (array_agg inputs)") or {}).get("per_call_s")
        copy = g("memcpy of the keys (np.copyto)")
        out.append(f"### Where the time of `ruvector_attention_scores` goes: {layout}")
        out.append("")
        body = [[k, t_range(v), pct(ratio(v["median"], e2e))] for k, v in st.items()]
        for k, v in bd["server_function_time"].items():
            if v:
                body.append([f"server-side time of {k} (track_functions)", t_fmt(v["per_call_s"]),
                             pct(ratio(v["per_call_s"], e2e))])
        out.append(table(["part", "time", "share of end to end"], body))
        out.append("")
        if e2e is None or core is None or agg is None or rt is None:
            continue
        glue = None if fn_srv is None else max(fn_srv - core, 0.0)
        out.append(
            f"Of {t_fmt(e2e)} end to end, the core computes for {t_fmt(core)} ({pct(core / e2e)}); the function "
            f"as a whole (core, argument checks, result array) takes {t_fmt(fn_srv)} on the server "
            f"({pct(ratio(fn_srv, e2e))}); building the input array with array_agg over {R['n']} rows costs "
            f"about {t_fmt(agg - rt)} ({pct((agg - rt) / e2e)}), and the rest is the client round trip "
            f"({t_fmt(rt)}), planning and sending the result.  The glue's own time beyond the core, "
            f"{t_fmt(glue)}, compares with one memcpy of the keys ({size_fmt(bd['input_bytes'])}): {t_fmt(copy)}.")
        out.append("")
        measured = f"core {pct(core / e2e)} of a call, array_agg input {pct((agg - rt) / e2e)}"
        if copies is not None:
            T.add("SQL core share, array I/O", f"ruvector_attention_scores, {layout}",
                  f"{measured}; extra backend memory of a call = {copies:.2f}x its input (memory run)",
                  "reported; inputs not copied more than once", copies < 0.5)
        else:
            T.add("SQL core share, array I/O", f"ruvector_attention_scores, {layout}", measured, "reported", None)
    if "sql" in img:
        out.append(f"![sql]({img['sql']})")
        out.append("")
    return "\n".join(out)


def memory_section(R: Dict[str, Any], T: Targets, img: Dict[str, str]) -> str:
    out = ["## 8. Memory", ""]
    out.append("Scratch bytes that `rv.flash_attention` and `rv.scaled_dot_attention` need for one query "
               "(`flash_attention_scratch_bytes`, `scaled_dot_attention_scratch_bytes`, one thread, d = d_v = 64):")
    out.append("")
    sc = R["scratch"]
    out.append(table(["n", "flash attention", "standard attention"],
                     [[f"{r['n']:,}", f"{r['flash_bytes']:,} B", f"{r['sdpa_bytes']:,} B"] for r in sc]))
    out.append("")
    flash = {r["flash_bytes"] for r in sc if r["n"] >= 1000}
    T.add("flash scratch", f"n = {sc[0]['n']:,} .. {sc[-1]['n']:,}",
          ", ".join(f"{b:,} B" for b in sorted(flash)), "constant in n", len(flash) == 1)
    n, d = R["peak_n"], R["peak_d"]
    py = R.get("python_peak") or {}
    if py:
        out.append(f"Peak memory growth of one call in Python, n = {n:,}, d = {d} (K and V: "
                   f"{size_fmt(2 * n * d * 4)}), each in a fresh process (VmHWM):")
        out.append("")
        out.append(table(["call", "peak growth"],
                         [[k, size_fmt(v.get("peak_growth_bytes", 0))] for k, v in py.items()]))
        out.append("")
    bp = R.get("backend_peak")
    if bp:
        out.append(f"PostgreSQL backend, one call with n = {n:,}, d = {d}, inputs built by `array_fill` in the "
                   f"query ({size_fmt(bp['inputs_bytes'])} of K and V); VmHWM of a fresh backend, and the growth "
                   "beyond a baseline query that builds the same inputs without calling ruvector:")
        out.append("")
        out.append(table(["query", "backend peak (VmHWM)", "growth during the query", "beyond the baseline",
                          "of K+V"],
                         [[k, size_fmt(v["peak_bytes"]), size_fmt(v["peak_growth_bytes"]),
                           size_fmt(v["extra_bytes"]) if v["extra_bytes"] >= 0 else f"-{size_fmt(-v['extra_bytes'])}",
                           pct(v["extra_bytes"] / bp["inputs_bytes"])] for k, v in bp["queries"].items()]))
        out.append("")
    else:
        out.append("Backend peak memory: not measured (no PostgreSQL server in this run).")
        out.append("")
    if "memory" in img:
        out.append(f"![memory]({img['memory']})")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- plots


def plots(res: Dict[str, Dict[str, Any]], img_dir: Path, rel: str) -> Dict[str, str]:
    """One PNG per family; returns {family: markdown path}.  Skipped with a
    note when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  note: matplotlib is not installed: no plots (pip install matplotlib)")
        return {}
    img_dir.mkdir(parents=True, exist_ok=True)
    done: Dict[str, str] = {}
    style = {"ruvector sdpa": ("C0", "-"), "ruvector flash": ("C1", "-"), "ruvector": ("C0", "-"),
             "ruvector inplace": ("C1", "-"), "numpy": ("C2", "-"), "numpy batched": ("C2", "-"),
             "numpy loop": ("C2", ":"), "torch sdpa": ("C3", "-"), "torch": ("C3", "-"), "read": ("k", "--"),
             "read DRAM": ("k", ":")}

    def save(fig: Any, family: str) -> None:
        path = img_dir / f"bench_{family}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        done[family] = f"{rel}/bench_{family}.png"

    if "decode" in res:
        rows = res["decode"]["rows"]
        ds = sorted({r["d"] for r in rows})
        modes = [m for m in ("hot", "cold") if any(r["mode"] == m for r in rows)]
        fig, axes = plt.subplots(len(modes), len(ds), figsize=(3.6 * len(ds), 3.0 * len(modes)), squeeze=False)
        for i, mode in enumerate(modes):
            for j, d in enumerate(ds):
                ax = axes[i][j]
                sel = sorted((r for r in rows if r["mode"] == mode and r["d"] == d), key=lambda r: r["n"])
                for name in sel[0]["gbps"]:
                    c, ls = style.get(name, (None, "-"))
                    ax.plot([r["n"] for r in sel], [r["gbps"][name] for r in sel], ls, color=c, marker="o",
                            ms=3, label=name)
                ax.set_xscale("log", base=2)
                ax.set_title(f"{mode}, d={d}", fontsize=9)
                ax.set_xlabel("n keys", fontsize=8)
                ax.set_ylabel("GB/s of K+V", fontsize=8)
                ax.tick_params(labelsize=7)
                ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        save(fig, "decode")
    if "multihead" in res:
        rows = res["multihead"]["rows"]
        ths = sorted({r["threads"] for r in rows})
        fig, axes = plt.subplots(1, len(ths), figsize=(4.5 * len(ths), 3.2), squeeze=False)
        for j, t in enumerate(ths):
            ax = axes[0][j]
            sel = sorted((r for r in rows if r["threads"] == t), key=lambda r: r["n"])
            for name in sel[0]["gbps"]:
                c, ls = style.get(name, (None, "-"))
                ax.plot([r["n"] for r in sel], [r["gbps"][name] for r in sel], ls, color=c, marker="o", ms=3,
                        label=name)
            ax.set_xscale("log", base=2)
            ax.set_title(f"H=8, d=64, {t} thread(s)", fontsize=9)
            ax.set_xlabel("n keys", fontsize=8)
            ax.set_ylabel("GB/s of K+V", fontsize=8)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        save(fig, "multihead")
    if "softmax" in res:
        rows = sorted(res["softmax"]["rows"], key=lambda r: r["n"])
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for name in rows[0]["stats"]:
            c, ls = style.get(name, (None, "-"))
            ax.plot([r["n"] for r in rows], [r["stats"][name]["median"] / r["n"] * 1e9 for r in rows], ls,
                    color=c, marker="o", ms=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n", fontsize=8)
        ax.set_ylabel("ns per element", fontsize=8)
        ax.set_title("softmax, one thread", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, "softmax")
    if "overhead" in res:
        rows = res["overhead"]["rows"]
        fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(rows) + 1))
        names = [r["name"] for r in rows][::-1]
        vals = [r["stats"]["median"] * 1e6 for r in rows][::-1]
        colors = ["C0" if n.startswith("ruvector") else ("C7" if r["group"] == "anchors" else "C2")
                  for n, r in zip(names, rows[::-1])]
        ax.barh(names, vals, color=colors)
        ax.set_xlabel("µs per call (median)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"per-call overhead, n={res['overhead']['n']}, d={res['overhead']['d']}", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        save(fig, "overhead")
    if "sql" in res and not res["sql"].get("skipped"):
        rows = res["sql"]["rows"]
        fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1))
        short = {"default storage (keys TOASTed)": "TOAST", "STORAGE MAIN (inline)": "inline"}
        labels = [f"{short.get(r.get('layout', ''), r.get('layout', ''))} {r['kind']}: {r['name']}" for r in rows][::-1]
        vals = [r["stats"]["median"] * 1e3 for r in rows][::-1]
        ax.barh(labels, vals, color=["C0" if "ruvector" in l else "C2" for l in labels])
        ax.set_xscale("log")
        ax.set_xlabel("ms per query, end to end (log)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"SQL, {res['sql']['n']} keys of d={res['sql']['d']}", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        save(fig, "sql")
    if "memory" in res:
        sc = res["memory"]["scratch"]
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot([r["n"] for r in sc], [r["flash_bytes"] for r in sc], "-o", ms=3, label="flash attention")
        ax.plot([r["n"] for r in sc], [r["sdpa_bytes"] for r in sc], "-o", ms=3, label="standard attention")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n keys", fontsize=8)
        ax.set_ylabel("scratch bytes (one query)", fontsize=8)
        ax.set_title("scratch memory, d = 64", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, "memory")
    return done


# --------------------------------------------------------------------------- document


def machine_section(res: Dict[str, Dict[str, Any]]) -> str:
    first = next(iter(res.values()))
    m = first["meta"]["machine"]
    cpu = m["cpu"]
    caches = ", ".join(f"{k} {size_fmt(v)}" for k, v in cpu.get("caches", {}).items())
    lines = [
        ("CPU", f"{cpu.get('model_name')} ({cpu.get('vendor', '')} family {cpu.get('family', '?')} model "
                f"{cpu.get('model', '?')}), {cpu.get('logical_cpus')} logical CPUs, "
                f"{', '.join(cpu.get('simd_flags', []))}"),
        ("caches (cpu0)", caches),
        ("memory", f"{m.get('memory_gib')} GiB"),
        ("kernel", m.get("kernel")),
        ("Python", m.get("python")),
        ("numpy", f"{m.get('numpy')}, BLAS: {m.get('numpy_blas')}"),
        ("torch", m.get("torch") or "not installed"),
        ("ruvector", f"{m.get('ruvector')}, SIMD backend {m.get('ruvector_backend')} "
                     f"(supported: {', '.join(m.get('ruvector_backends', []))})"),
    ]
    pools = [" ".join(str(x) for x in (f"{t.get('user_api')}:", t.get("internal_api"), t.get("version"),
                                        t.get("architecture") and f"kernel {t['architecture']}",
                                        f"({t.get('filepath')}, {t.get('num_threads')} threads)") if x)
             for t in m.get("threadpools", []) if "user_api" in t]
    if pools:
        lines.append(("thread pools (threadpoolctl)", "; ".join(pools)))
    return table(["", ""], lines, "ll")


def _retried(o: Any) -> int:
    """Trials run again in a JSON tree (the 'retried' counts of every Stats)."""
    if isinstance(o, dict):
        return int(o.get("retried", 0) if isinstance(o.get("retried"), int) else 0) + sum(
            _retried(v) for k, v in o.items() if k != "retried")
    if isinstance(o, list):
        return sum(_retried(v) for v in o)
    return 0


def quiet_fmt(q: Optional[Dict[str, Any]]) -> str:
    if not q:
        return "n/a"
    return f"{q['waited_s']:g} s / {q['started_busy']} of {q['comparisons']}"


def runs_section(res: Dict[str, Dict[str, Any]]) -> str:
    body = []
    for fam, R in res.items():
        meta = R["meta"]
        share = meta.get("cpu_pressure_share")
        body.append([fam, f"`{meta['command']}`", meta["started"], f"{meta.get('duration_s', '?')} s",
                     f"{meta['trials']} x {meta['min_time_s'] * 1e3:g} ms",
                     " / ".join(f"{x:.2f}" for x in meta.get("loadavg_start", [])[:1] + meta.get("loadavg_end", [])[:1]),
                     "n/a" if share is None else pct(share), _retried(R), quiet_fmt(meta.get("quiet"))])
    return ("Load average (1 min) and CPU pressure (share of the run during which some task waited for a CPU, "
            "from /proc/pressure/cpu; our own two-thread runs add to it) say how busy the machine was; "
            "re-run trials are those rejected because the thread was descheduled or, for two threads, a CPU "
            "was contended; before each comparison the run waits (within a budget) for the other processes "
            "to leave the CPUs alone, and counts the comparisons that still started on a busy machine.\n\n"
            + table(["family", "script", "started (UTC)", "duration", "trials x time", "load avg start / end",
                     "CPU pressure", "re-run trials", "waited / started busy"], body, "llllllrrr"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--img", type=Path, default=None, help="directory of the PNGs (default: <out dir>/img)")
    p.add_argument("--command", default=os.environ.get("BENCH_COMMAND", "tools/bench.sh"),
                   help="the command that produced the results, quoted in the document")
    a = p.parse_args()
    res: Dict[str, Dict[str, Any]] = {}
    for fam in FAMILIES:
        f = a.results / f"{fam}.json"
        if f.exists():
            res[fam] = json.loads(f.read_text())
        else:
            print(f"  note: {f} missing: the {fam} section is left out")
    if not res:
        sys.exit(f"report: no results in {a.results}")
    img_dir = a.img or a.out.parent / "img"
    rel = os.path.relpath(img_dir, a.out.parent)
    img = plots(res, img_dir, rel)
    T = Targets()
    sections = []
    if "decode" in res:
        sections.append(decode_section(res["decode"], T, img))
    if "multihead" in res:
        sections.append(multihead_section(res["multihead"], T, img))
    if "softmax" in res:
        sections.append(softmax_section(res["softmax"], T, img))
    if "overhead" in res:
        sections.append(overhead_section(res["overhead"], T, img))
    if "cross" in res:
        sections.append(cross_section(res["cross"], T, img))
    if "types" in res:
        sections.append(types_section(res["types"], T, img))
    if "sql" in res:
        sections.append(sql_section(res["sql"], T, img, res.get("memory")))
    if "memory" in res:
        sections.append(memory_section(res["memory"], T, img))
    quick = any(R["meta"].get("quick") for R in res.values())
    passed, missed = T.counts()
    notes = [f"- {fam}: {n}" for fam, R in res.items() for n in R.get("notes", [])]
    doc = [
        "# Benchmarks",
        "",
        "<!-- generated by bench/report.py from bench/results/*.json; do not edit by hand -->",
        "",
        ("**Smoke run (`--quick`): tiny sizes and few repetitions, the numbers mean nothing.**\n" if quick else ""),
        "ruvector measured against what a user would otherwise pick (numpy, torch, plain SQL, PL/Python), "
        "in the same process and the same run.  Produced by",
        "",
        "```sh",
        a.command,
        "```",
        "",
        "which runs tools/setup.sh, installs the benchmark extras (torch==2.13.0 CPU, matplotlib, threadpoolctl) "
        "into .venv, runs every bench/bench_*.py (the SQL and memory ones inside tools/with-temp-pg.sh) and this "
        "report.  `tools/bench.sh --quick` is the smoke mode (a few seconds, every code path, numbers "
        "meaningless).",
        "",
        "**Method.** float32, one thread unless stated.  Each competitor is calibrated to about the trial time "
        "below, then the trials of all competitors of one comparison are interleaved (rotating order), so a busy "
        "phase of this shared machine hits all of them; a one-thread trial during which the thread was "
        "descheduled (CPU time < 85% of wall time), or a multi-threaded or SQL trial during which some task waited "
        "for a CPU more than 10% of the time (Linux PSI), is run again (at most twice).  Tables give the median and, "
        "in parentheses, the min-max of the trials; ratios are between medians of the same run.  Every "
        "competitor's result is checked against a float64 reference before it is timed.  The machine is shared "
        "with other work (see the load averages), so absolute numbers move between runs; ratios move less.",
        "",
        "## Machine",
        "",
        machine_section(res),
        "",
        runs_section(res),
        "",
        f"## Targets: {passed} PASS, {missed} MISS",
        "",
        T.markdown(),
        "",
        *(s + "\n" for s in sections),
    ]
    if notes:
        doc += ["## Notes from the run", "", *notes, ""]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(doc).replace("\n\n\n", "\n\n"))
    print(f"report: wrote {a.out} ({passed} PASS, {missed} MISS) and {len(img)} plot(s) in {img_dir}")


if __name__ == "__main__":
    main()

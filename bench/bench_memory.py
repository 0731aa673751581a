#!/usr/bin/env python3
"""Memory: flash attention's scratch against standard attention's, and the
peak memory of one call with n = 1e6 keys of d = 64.

1. Scratch bytes reported by flash_attention_scratch_bytes and
   scaled_dot_attention_scratch_bytes (one query, one thread) for n from 1e3
   to 1e7: flash needs one tile of logits, standard attention n logits.
2. Python: the peak RSS growth of one call (VmHWM, reset through
   /proc/self/clear_refs) in a fresh process per function, so that memory
   freed by an earlier call cannot hide the next one's: ruvector flash and
   scaled-dot, numpy, torch SDPA.
3. PostgreSQL backend: VmHWM of a fresh backend per query (read from
   /proc/<pid>/status) for ruvector_flash_attention,
   ruvector_multi_head_attention (1 head: standard attention) and
   ruvector_attention_scores on inputs built by array_fill, minus a baseline
   query that builds the same inputs and calls nothing: what the function
   itself allocates, against the bytes of K and V (a copy of the inputs would
   show up as 1.0x).

    [tools/with-temp-pg.sh] .venv/bin/python bench/bench_memory.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import ruvector_cffi as rv  # noqa: E402
from common import F32, Results, numpy_attention, parse_args, pg_connect, pg_ensure_ruvector  # noqa: E402

SCRATCH_NS = [10**3, 10**4, 10**5, 10**6, 10**7]
D = 64
PY_FUNCS = ["ruvector flash", "ruvector sdpa", "numpy", "torch sdpa"]


def status_kib(pid: Any, field: str) -> int:
    """A field of /proc/<pid>/status in KiB; OSError if it cannot be read."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in /proc/{pid}/status")


def child(func: str, n: int, d: int) -> None:
    """Runs in a fresh interpreter: one call of `func`, prints its peak growth."""
    K = np.ones((n, d), F32)
    V = np.ones((n, d), F32)
    q = np.full(d, 0.5, F32)
    s = F32(1.0 / np.sqrt(d))
    fn: Callable[[int], Any]
    if func == "torch sdpa":
        import torch

        torch.set_num_threads(1)
        sdpa = torch.nn.functional.scaled_dot_product_attention
        tq, tK, tV = (torch.from_numpy(a).view(1, 1, -1, d) for a in (q, K, V))

        def fn(rows: int) -> Any:
            with torch.inference_mode():
                return sdpa(tq, tK[:, :, :rows], tV[:, :, :rows])
    else:
        call: Callable[[np.ndarray, np.ndarray], Any] = {
            "ruvector flash": lambda k, v: rv.flash_attention(q, k, v, threads=1),
            "ruvector sdpa": lambda k, v: rv.scaled_dot_attention(q, k, v, threads=1),
            "numpy": lambda k, v: numpy_attention(q, k, v, s),
        }[func]

        def fn(rows: int) -> Any:
            return call(K[:rows], V[:rows])
    fn(8)  # lazy initialisation is not the call's memory
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    except OSError as e:
        print(json.dumps({"error": f"cannot reset VmHWM: {e}"}))
        return
    rss = status_kib("self", "VmRSS")
    fn(n)
    hwm = status_kib("self", "VmHWM")
    print(json.dumps({"peak_growth_bytes": (hwm - rss) * 1024, "rss_before_bytes": rss * 1024}))


def python_peaks(n: int, d: int, res: Results) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for func in PY_FUNCS:
        p = subprocess.run([sys.executable, __file__, "--child", func, str(n), str(d)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            msg = (p.stderr.strip().splitlines() or ["?"])[-1]
            if "No module named 'torch'" in msg:
                res.note("torch is not installed: its memory row is skipped")
            else:
                res.note(f"python peak of {func} failed: {msg}")
            continue
        out[func] = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"   python peak growth {func:15s} {out[func].get('peak_growth_bytes', 0) / 2**20:9.2f} MiB", flush=True)
    return out


def backend_peaks(n: int, d: int, res: Results) -> Optional[Dict[str, Any]]:
    conn = pg_connect()
    if conn is None:
        res.note("backend peak memory skipped: no PostgreSQL server (run through tools/with-temp-pg.sh)")
        return None
    dsn = conn.info.dsn
    pg_ensure_ruvector(conn)
    conn.close()
    inputs = (f"(SELECT array_fill(0.5::real, ARRAY[{d}]) AS q, array_fill(1::real, ARRAY[{n}, {d}]) AS k, "
              f"array_fill(1::real, ARRAY[{n}, {d}]) AS v) AS s")
    queries = {
        "baseline (inputs only)": f"SELECT cardinality(q) + cardinality(k) + cardinality(v) FROM {inputs}",
        "ruvector_flash_attention": f"SELECT cardinality(ruvector_flash_attention(q, k, v)) FROM {inputs}",
        "ruvector_multi_head_attention (1 head)": f"SELECT cardinality(ruvector_multi_head_attention(q, k, v, 1)) FROM {inputs}",
        # v is referenced so that the planner builds it as in the baseline
        "ruvector_attention_scores": f"SELECT cardinality(ruvector_attention_scores(q, k)) + cardinality(v) FROM {inputs}",
    }
    import psycopg

    out: Dict[str, Any] = {"inputs_bytes": 2 * n * d * 4, "queries": {}}
    for name, sql in queries.items():
        with psycopg.connect(dsn, autocommit=True) as c:
            pid = c.execute("SELECT pg_backend_pid()").fetchall()[0][0]
            # load ruvector.so first: the library's own pages are not the call's memory
            c.execute("SELECT ruvector_flash_attention('{1}', '{{1}}', '{{1}}')").fetchall()
            try:
                rss = status_kib(pid, "VmRSS")
                c.execute(sql).fetchall()
                hwm = status_kib(pid, "VmHWM")
            except OSError as e:
                res.note(f"backend peak memory skipped: {e}")
                return None
        out["queries"][name] = {"rss_before_bytes": rss * 1024, "peak_bytes": hwm * 1024,
                                "peak_growth_bytes": (hwm - rss) * 1024}
    base = out["queries"]["baseline (inputs only)"]["peak_growth_bytes"]
    for name, v in out["queries"].items():
        v["extra_bytes"] = v["peak_growth_bytes"] - base
        print(f"   backend {name:40s} peak {v['peak_bytes'] / 2**20:8.1f} MiB, "
              f"beyond the inputs {v['extra_bytes'] / 2**20:8.2f} MiB", flush=True)
    return out


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        child(args[1], int(args[2]), int(args[3]))
        return
    cfg, _ = parse_args(__file__, __doc__.splitlines()[0], argv=argv)
    res = Results("memory", cfg)
    scratch = []
    for n in SCRATCH_NS:
        row = {"n": n, "d": D,
               "flash_bytes": rv.flash_attention_scratch_bytes(n, D, D),
               "sdpa_bytes": rv.scaled_dot_attention_scratch_bytes(n, D, D)}
        scratch.append(row)
        print(f"   scratch n={n:>9,d}: flash {row['flash_bytes']:>10,d} B, "
              f"scaled-dot {row['sdpa_bytes']:>10,d} B", flush=True)
    res["scratch"] = scratch
    n = 10**4 if cfg.quick else 10**6
    res["peak_n"], res["peak_d"] = n, D
    res["python_peak"] = python_peaks(n, D, res)
    res["backend_peak"] = backend_peaks(n, D, res)
    res.write()


if __name__ == "__main__":
    main()

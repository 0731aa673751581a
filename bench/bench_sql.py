#!/usr/bin/env python3
"""SQL: attention over 1,000 keys of d = 384 stored in a table, end to end
through psycopg (prepared statements; q is sent and results are read in
binary: psycopg's text dump of a list of 384 floats alone costs ~0.5 ms).

  ruvector   SELECT ruvector_attention_scores(q, (SELECT array_agg(e ORDER BY id) FROM t))
             SELECT ruvector_flash_attention(q, <array_agg of e>, <array_agg of v>)
  plain SQL  the same in SQL: unnest(q, e) and sum for the logits, a stable
             softmax through max() OVER (), and for the output a sum per
             dimension over unnest(v) WITH ORDINALITY (the faster of jit on
             and off is kept: JIT compilation is a fixed cost)
  PL/Python  plpython3u functions using numpy on the same real[] arguments

Each runs on two layouts of the same table t(id, e real[], v real[]): the
default storage, where one of the two 1.5 KB arrays of a row is moved to the
TOAST table, and STORAGE MAIN, which keeps rows inline.

Where the time of a ruvector call goes: input aggregation (array_agg alone),
the server-side time of the function (track_functions = 'all', read from
pg_stat_xact_user_functions), the core (the same C core called from Python
on the same arrays), and one memcpy of the inputs for comparison (the glue
reads arrays in place, so its time beyond the core must stay below a copy).

Needs a server: run it through tools/with-temp-pg.sh (tools/bench.sh does);
without PGHOST it writes a result that says it was skipped.

    tools/with-temp-pg.sh .venv/bin/python bench/bench_sql.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import ruvector_cffi as rv  # noqa: E402
from common import (  # noqa: E402
    F32,
    Case,
    Results,
    check_close,
    fmt_time,
    measure,
    measure_with,
    parse_args,
    pg_connect,
    pg_ensure_ruvector,
    pg_server_info,
    reference_attention,
)

SCHEMA = "ruvector_bench"
# Two layouts of the same rows: the default storage, where a row of two 1.5 KB
# arrays is over the 2 KB TOAST threshold and one of them goes to the TOAST
# table (one index lookup per row to read it), and STORAGE MAIN, which keeps
# both inline.  Queries name the table as {t}.
LAYOUTS = {
    "default storage (keys TOASTed)": "t_default",
    "STORAGE MAIN (inline)": "t_main",
}
AGG_E = f"(SELECT array_agg(e ORDER BY id) FROM {SCHEMA}.{{t}})"
AGG_V = f"(SELECT array_agg(v ORDER BY id) FROM {SCHEMA}.{{t}})"

# logits in float8 (sum of float4 products would accumulate in float4)
PLAIN_LOGITS = f"""
  s AS (SELECT t.id,
               (SELECT sum(qe::float8 * ke) FROM unnest(%(q)b::real[], t.e) AS u(qe, ke))
                 / sqrt(cardinality(%(q)b::real[])) AS logit
          FROM {SCHEMA}.{{t}} AS t),
  e AS (SELECT id, exp(logit - max(logit) OVER ()) AS w FROM s)"""

QUERIES = {
    "scores": {
        "ruvector": f"SELECT ruvector_attention_scores(%(q)b::real[], {AGG_E})",
        "plain SQL": f"""WITH {PLAIN_LOGITS}
SELECT array_agg((w / sum_w)::real ORDER BY id) FROM (SELECT id, w, sum(w) OVER () AS sum_w FROM e) z""",
        "PL/Python + numpy": f"SELECT {SCHEMA}.py_attention_scores(%(q)b::real[], {AGG_E})",
    },
    "flash": {
        "ruvector": f"SELECT ruvector_flash_attention(%(q)b::real[], {AGG_E}, {AGG_V})",
        "plain SQL": f"""WITH {PLAIN_LOGITS},
  o AS (SELECT u.j, sum(e.w * u.vj) AS acc
          FROM e JOIN {SCHEMA}.{{t}} AS t USING (id)
               CROSS JOIN LATERAL unnest(t.v) WITH ORDINALITY AS u(vj, j)
         GROUP BY u.j)
SELECT array_agg((acc / (SELECT sum(w) FROM e))::real ORDER BY j) FROM o""",
        "PL/Python + numpy": f"SELECT {SCHEMA}.py_flash_attention(%(q)b::real[], {AGG_E}, {AGG_V})",
    },
}

# the breakdown of a ruvector_attention_scores call
BREAKDOWN = {
    "round trip (SELECT 1)": "SELECT 1",
    "input: array_agg of the keys": f"SELECT cardinality({AGG_E})",
    "input: array_agg of the keys without ORDER BY (no sort)":
        f"SELECT cardinality((SELECT array_agg(e) FROM {SCHEMA}.{{t}}))",
    "end to end: ruvector_attention_scores": QUERIES["scores"]["ruvector"],
}
PREAGG = {
    "pre-aggregated keys (one TOASTed array): detoast only": f"SELECT cardinality(k) FROM {SCHEMA}.kpre",
    "pre-aggregated keys: ruvector_attention_scores": f"SELECT ruvector_attention_scores(%(q)b::real[], k) FROM {SCHEMA}.kpre",
}


def on(sql: str, table: str) -> str:
    return sql.replace("{t}", table)


PLPY_PRELUDE = """
np = GD.get('np')
if np is None:
    import numpy as np
    GD['np'] = np
"""
PLPY_SCORES = PLPY_PRELUDE + """
Q = np.asarray(q, dtype=np.float32)
K = np.asarray(k, dtype=np.float32)
s = K @ (Q * np.float32(1.0 / np.sqrt(Q.shape[0])))
s -= s.max()
np.exp(s, out=s)
s /= s.sum()
return s.tolist()
"""
PLPY_FLASH = PLPY_PRELUDE + """
Q = np.asarray(q, dtype=np.float32)
K = np.asarray(k, dtype=np.float32)
V = np.asarray(v, dtype=np.float32)
s = K @ (Q * np.float32(1.0 / np.sqrt(Q.shape[0])))
s -= s.max()
np.exp(s, out=s)
o = s @ V
o /= s.sum()
return o.tolist()
"""


def setup(conn: Any, K: np.ndarray, V: np.ndarray, res: Results) -> bool:
    """Schema, table t(id, e, v), pre-aggregated kpre, PL/Python functions;
    returns whether PL/Python with numpy is usable."""
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    for table in LAYOUTS.values():
        conn.execute(f"CREATE TABLE {SCHEMA}.{table} (id int PRIMARY KEY, e real[] NOT NULL, v real[] NOT NULL)")
        if table == "t_main":
            conn.execute(f"ALTER TABLE {SCHEMA}.{table} ALTER e SET STORAGE MAIN, ALTER v SET STORAGE MAIN")
        with conn.cursor() as cur:
            with cur.copy(f"COPY {SCHEMA}.{table} (id, e, v) FROM STDIN") as cp:
                for i in range(K.shape[0]):
                    cp.write_row((i, K[i].tolist(), V[i].tolist()))
        conn.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")
    conn.execute(f"CREATE TABLE {SCHEMA}.kpre (k real[], vv real[])")
    conn.execute(f"ALTER TABLE {SCHEMA}.kpre ALTER k SET STORAGE EXTERNAL, ALTER vv SET STORAGE EXTERNAL")
    conn.execute(on(f"INSERT INTO {SCHEMA}.kpre SELECT {AGG_E}, {AGG_V}", "t_main"))
    conn.execute(f"VACUUM ANALYZE {SCHEMA}.kpre")
    sizes = conn.execute(
        "SELECT c.relname, pg_relation_size(c.oid), coalesce(pg_relation_size(c.reltoastrelid), 0) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
        (SCHEMA,)).fetchall()
    res["tables"] = {r[0]: {"heap_bytes": r[1], "toast_bytes": r[2]} for r in sizes}
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        conn.execute(f"""CREATE FUNCTION {SCHEMA}.py_attention_scores(q real[], k real[]) RETURNS real[]
                         LANGUAGE plpython3u IMMUTABLE STRICT AS $py${PLPY_SCORES}$py$""")
        conn.execute(f"""CREATE FUNCTION {SCHEMA}.py_flash_attention(q real[], k real[], v real[]) RETURNS real[]
                         LANGUAGE plpython3u IMMUTABLE STRICT AS $py${PLPY_FLASH}$py$""")
        conn.execute(f"SELECT {SCHEMA}.py_attention_scores('{{1}}'::real[], '{{{{1}}}}'::real[])")
        return True
    except Exception as e:
        res.note(f"PL/Python with numpy unavailable ({type(e).__name__}: {str(e).strip().splitlines()[0]}); "
                 "install postgresql-plpython3-15 and python3-numpy")
        return False


def runner(conn: Any, sql: str, params: Dict[str, Any]) -> Callable[[], Any]:
    cur = conn.cursor(binary=True)

    def run() -> Any:
        cur.execute(sql, params, prepare=True)
        return cur.fetchone()[0]
    return run


def raw_scores_call(q: np.ndarray, K: np.ndarray, scale: float) -> Optional[Callable[[], Any]]:
    """rv_attention_scores of the C core through the private cffi binding with
    its pointers prepared in advance: the core's time without the Python
    wrapper (None if the private layer moved)."""
    try:
        from ruvector_cffi import _binding as b

        fa = b.ffi.typeof("float[]")
        out = np.empty(K.shape[0], F32)
        args = (b.ffi.from_buffer(fa, q), b.ffi.from_buffer(fa, K), K.shape[0], K.shape[1], scale,
                b.ffi.from_buffer(fa, out))
        f = b.lib.rv_attention_scores
        if f(*args) != 0:
            return None
        return lambda: f(*args)
    except Exception:
        return None


def server_time(conn: Any, sql: str, params: Dict[str, Any], func: str, calls: int) -> Optional[Dict[str, float]]:
    """Server-side time of `func` per call (track_functions = 'all' in one
    transaction, read from pg_stat_xact_user_functions), or None."""
    try:
        with conn.transaction():
            conn.execute("SET LOCAL track_functions = 'all'")
            cur = conn.cursor(binary=True)
            for _ in range(calls):
                cur.execute(sql, params, prepare=True)
                cur.fetchone()
            row = conn.execute(
                "SELECT calls, total_time, self_time FROM pg_stat_xact_user_functions WHERE funcname = %s",
                (func,)).fetchone()
    except Exception as e:
        print(f"  note: server-side function timing unavailable ({type(e).__name__}: {e})")
        return None
    if not row or not row[0]:
        return None
    return {"calls": row[0], "total_ms": row[1], "per_call_s": row[1] / 1e3 / row[0]}


def layout_breakdown(conn: Any, cfg: Any, table: str, params: Dict[str, Any], K: np.ndarray, q: np.ndarray,
                     scale: float, res: Results) -> Dict[str, Any]:
    """Where the time of one ruvector_attention_scores call on `table` goes."""
    bcases = [Case(name, [runner(conn, on(sql, table), params)], remote=True) for name, sql in BREAKDOWN.items()]
    bcases += [Case(name, [runner(conn, sql, params)], remote=True) for name, sql in PREAGG.items()]
    Kc = K.copy()
    dst = np.empty_like(K)
    bcases.append(Case("rv.attention_scores in Python (same arrays)", [lambda: rv.attention_scores(q, Kc)]))
    core = raw_scores_call(q, Kc, scale)
    if core is not None:
        bcases.append(Case("core: the C function alone (cffi, pointers ready)", [core]))
    elif "raw C call" not in " ".join(res["notes"]):
        res.note("raw C call of rv_attention_scores unavailable: the core time includes the Python wrapper")
    bcases.append(Case("memcpy of the keys (np.copyto)", [lambda: np.copyto(dst, Kc)]))
    bst = measure_with(bcases, cfg)
    for name, s in bst.items():
        print(f"   {table:9s} breakdown {name:55s} {fmt_time(s.median):>10s}", flush=True)
    calls = 20 if cfg.quick else 200
    srv = {
        "ruvector_attention_scores (array_agg inputs)":
            server_time(conn, on(QUERIES["scores"]["ruvector"], table), params, "ruvector_attention_scores", calls),
        "ruvector_attention_scores (pre-aggregated, TOASTed)":
            server_time(conn, PREAGG["pre-aggregated keys: ruvector_attention_scores"], params,
                        "ruvector_attention_scores", calls),
        "ruvector_flash_attention (array_agg inputs)":
            server_time(conn, on(QUERIES["flash"]["ruvector"], table), params, "ruvector_flash_attention", calls),
    }
    for name, v in srv.items():
        if v:
            print(f"   {table:9s} server-side {name:52s} {fmt_time(v['per_call_s']):>10s}", flush=True)
    return {"stats": {k: v.as_dict() for k, v in bst.items()}, "server_function_time": srv,
            "input_bytes": K.nbytes}


def main(argv: Optional[List[str]] = None) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dsn", default=None, help="libpq connection string (default: the PG* environment)")
        p.add_argument("--keys", type=int, default=None, help="rows in the table (default 1000)")
        p.add_argument("--dim", type=int, default=None, help="dimension d (default 384)")

    cfg, args = parse_args(__file__, __doc__.splitlines()[0], trials=7, min_time=0.05, extra=extra, argv=argv)
    res = Results("sql", cfg)
    n = args.keys or (64 if cfg.quick else 1000)
    d = args.dim or (16 if cfg.quick else 384)
    res["n"], res["d"] = n, d
    conn = pg_connect(args.dsn)
    if conn is None:
        res["skipped"] = "no PostgreSQL server"
        res.write()
        return
    rng = np.random.default_rng(11)
    K = rng.standard_normal((n, d), dtype=F32)
    V = rng.standard_normal((n, d), dtype=F32)
    q = rng.standard_normal(d, dtype=F32)
    params = {"q": [float(x) for x in q]}
    scale = 1.0 / math.sqrt(d)
    try:
        res["extension"] = pg_ensure_ruvector(conn)
        res["server"] = pg_server_info(conn)
        have_plpy = setup(conn, K, V, res)
        conn_nojit = type(conn).connect(conn.info.dsn, autocommit=True, options="-c jit=off")
        logits = K.astype(np.float64) @ q * scale
        w = np.exp(logits - logits.max())
        refs = {"scores": w / w.sum(), "flash": reference_attention(q, K, V, scale)}

        rows, breakdown = [], {}
        for layout, table in LAYOUTS.items():
            for kind, queries in QUERIES.items():
                cases = []
                for name, sql in queries.items():
                    if name.startswith("PL/Python") and not have_plpy:
                        continue
                    sql = on(sql, table)
                    check_close(f"{layout}, {kind}: {name}", runner(conn, sql, params)(), refs[kind])
                    cases.append(Case(name, [runner(conn, sql, params)], remote=True))
                    if name == "plain SQL":
                        cases.append(Case("plain SQL (jit=off)", [runner(conn_nojit, sql, params)], remote=True))
                st = measure(cases, cfg)
                for name, s in st.items():
                    rows.append({"layout": layout, "kind": kind, "name": name, "stats": s.as_dict()})
                    print(f"   {table:9s} {kind:6s} {name:22s} {fmt_time(s.median):>10s}  "
                          f"[{fmt_time(s.min)} - {fmt_time(s.max)}]", flush=True)
            breakdown[layout] = layout_breakdown(conn, cfg, table, params, K, q, scale, res)
        res["rows"] = rows
        res["breakdown"] = breakdown
        conn_nojit.close()
    finally:
        try:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        finally:
            conn.close()
    res.write()


if __name__ == "__main__":
    main()

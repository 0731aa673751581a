"""The SQL API through psycopg 3, against the Python module and the float64
reference: the same float32 inputs through SQL and through ruvector_cffi give
bit-identical results for the same SIMD backend and any thread count, and both
meet the accuracy bar (DESIGN.md sections 2-5).

Needs a server (PGHOST etc., e.g. tools/with-temp-pg.sh); without one the
module is skipped, unless RUVECTOR_REQUIRE_PG=1, which turns that into a
failure.  The tests run in a database of their own, created and dropped here.
Arrays travel in binary format both ways (tests/sql_support.py), so a float4
result is compared by its bits, not through a decimal string.
"""

from __future__ import annotations

import math
import re
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
import ruvector_cffi as rv
import sql_support
from reference import TAILS, assert_close, attention_scale, logit_magnitude, weights_scale

# no server: skip the module, or (RUVECTOR_REQUIRE_PG=1) fail every test through the dbname fixture
sql_support.skip_or_fail_without_pg(at_import=True)

psycopg = sql_support.psycopg
pgerr = psycopg.errors if psycopg is not None else None

BACKENDS = rv.supported_backends()
F32 = np.float32
NAN, INF = float("nan"), float("inf")
BASE_N, BASE_D, BASE_DV = 33, 24, 20
SCORE_TYPES = ("scaled_dot", "flash_v2", "multi_head")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dbname():
    """A fresh database with the extension, dropped after the module."""
    sql_support.skip_or_fail_without_pg()
    with sql_support.temp_database("ruvector_test_sql") as name:
        with sql_support.connect(name) as conn:
            conn.execute("CREATE EXTENSION ruvector")
        yield name


@pytest.fixture(scope="module")
def db(dbname):
    """The module's session (one connection, binary results)."""
    with sql_support.connect(dbname) as conn:
        yield sql_support.Session(conn)


@pytest.fixture
def session(db):
    """db with the settings the tests change restored afterwards."""
    yield db
    db.cur.execute("RESET ALL")


@pytest.fixture(params=BACKENDS)
def on_backend(request, session):
    """The session, with the same SIMD backend forced in SQL (ruvector.simd)
    and in Python (rv.use_backend)."""
    name = request.param
    session.set("ruvector.simd", name)
    assert session.one("SELECT active FROM ruvector_simd_info()") == name
    with rv.use_backend(name) as active:
        assert active == name
        yield session


# ---------------------------------------------------------------- comparison helpers


def assert_same(got_sql, got_py, what: str) -> None:
    """Bit-for-bit equality of a SQL result and a Python result (float32)."""
    if isinstance(got_sql, float) or isinstance(got_py, float):
        # a real scalar: the binary float4 read and float(float32) are both exact
        assert F32(got_sql) == got_sql and F32(got_py) == got_py, f"{what}: not a float32 value"
    a, b = np.asarray(got_sql), np.asarray(got_py)
    if a.ndim == 0:
        a, b = a.astype(F32), b.astype(F32)
    assert a.dtype == F32 and b.dtype == F32, f"{what}: dtypes {a.dtype} and {b.dtype}"
    assert a.shape == b.shape, f"{what}: SQL shape {a.shape} != Python shape {b.shape}"
    same = a.view(np.uint32) == b.view(np.uint32)
    if not np.all(same):
        i = np.unravel_index(int(np.argmin(same)), same.shape) if same.ndim else ()
        raise AssertionError(
            f"{what}: SQL and Python differ in {int((~same).sum())} of {same.size} elements; first at {i}: "
            f"SQL {a[i]!r} (0x{int(a.view(np.uint32)[i]):08x}) vs Python {b[i]!r} (0x{int(b.view(np.uint32)[i]):08x})"
        )
    assert np.array_equal(a, b), what


def inputs(rng, n, d, dv, m=None):
    q = rng.standard_normal(d if m is None else (m, d)).astype(F32)
    K = rng.standard_normal((n, d)).astype(F32)
    V = (rng.standard_normal((n, dv)) * 4).astype(F32)
    return q, K, V


def sql_softmax(s, x):
    return s.one("SELECT ruvector_softmax(%b)", x)


def sql_score(s, q, k, kind=None):
    if kind is None:
        return s.one("SELECT ruvector_attention_score(%b, %b)", q, k)
    return s.one("SELECT ruvector_attention_score(%b, %b, %s)", q, k, kind)


def sql_scores(s, Q, K, kind=None):
    if kind is None:
        return s.one("SELECT ruvector_attention_scores(%b, %b)", Q, K)
    return s.one("SELECT ruvector_attention_scores(%b, %b, attention_type => %s)", Q, K, kind)


def sql_mha(s, Q, K, V, heads=None):
    if heads is None:
        return s.one("SELECT ruvector_multi_head_attention(%b, %b, %b)", Q, K, V)
    return s.one("SELECT ruvector_multi_head_attention(%b, %b, %b, num_heads => %s)", Q, K, V, heads)


def sql_flash(s, Q, K, V, block=None):
    if block is None:
        return s.one("SELECT ruvector_flash_attention(%b, %b, %b)", Q, K, V)
    return s.one("SELECT ruvector_flash_attention(%b, %b, %b, %s)", Q, K, V, block)


def check_softmax(s, x, what=""):
    got = sql_softmax(s, x)
    assert_same(got, rv.softmax(x), f"softmax {what}")
    assert_close(got, ref.softmax(x), 1.0, f"SQL softmax {what}")
    return got


def check_score(s, q, k, kind, what=""):
    got = sql_score(s, q, k, kind)
    assert isinstance(got, float)
    assert_same(got, rv.attention_score(q, k, kind), f"score {kind} {what}")
    if kind == "multi_head":
        expected = ref.multi_head_logit(q, k, 4)
        bar = logit_magnitude(q, k, 1 / math.sqrt(q.size // 4))
    else:
        expected, bar = ref.logit(q, k), logit_magnitude(q, k)
    assert_close(got, expected, bar, f"SQL score {kind} {what}")


def check_scores(s, Q, K, kind, what=""):
    got = sql_scores(s, Q, K, kind)
    assert_same(got, rv.attention_scores(Q, K, kind), f"scores {kind} {what}")
    heads = 4 if kind == "multi_head" else 1
    expected = ref.multi_head_scores(Q, K, 4) if heads == 4 else ref.scores(Q, K)
    assert_close(got, expected, weights_scale(Q, K, heads=heads), f"SQL scores {kind} {what}")


def check_mha(s, Q, K, V, heads, what=""):
    got = sql_mha(s, Q, K, V, heads)
    assert_same(got, rv.multi_head_attention(Q, K, V, 4 if heads is None else heads), f"mha H={heads} {what}")
    h = 4 if heads is None else heads
    assert_close(got, ref.multi_head_attention(Q, K, V, h)[0], attention_scale(Q, K, V, heads=h),
                 f"SQL mha H={heads} {what}")


def check_flash(s, Q, K, V, block, what=""):
    got = sql_flash(s, Q, K, V, block)
    py = rv.flash_attention(Q, K, V) if block is None else rv.flash_attention(Q, K, V, block)
    assert_same(got, py, f"flash b={block} {what}")
    assert_close(got, ref.scaled_dot_attention(Q, K, V), attention_scale(Q, K, V), f"SQL flash b={block} {what}")


def check_everything(s, q, K, V, Q2, what, blocks=(1, 7, 64, None), heads=(1, 2, 4, 8, None)):
    """Every function on a 1-D query q and a batch Q2 over the same K, V."""
    d, dv = K.shape[1], V.shape[1]
    check_score(s, q, K[0], "scaled_dot", what)
    check_score(s, q, K[-1], "flash_v2", what)
    if d % 4 == 0:
        check_score(s, q, K[0], "multi_head", what)
    for kind in SCORE_TYPES:
        if kind != "multi_head" or d % 4 == 0:
            check_scores(s, q, K, kind, what)
            check_scores(s, Q2, K, kind, what + " batch")
    for h in heads:
        hh = 4 if h is None else h
        if d % hh == 0 and dv % hh == 0:
            check_mha(s, q, K, V, h, what)
            check_mha(s, Q2, K, V, h, what + " batch")
    for b in blocks:
        check_flash(s, q, K, V, b, what)
        check_flash(s, Q2, K, V, b, what + " batch")


# ---------------------------------------------------------------- bit for bit, on every backend


def test_session_reports_each_backend(session):
    info = session.row("SELECT active, best, supported FROM ruvector_simd_info()")
    assert list(info[2]) == BACKENDS
    assert info[1] == BACKENDS[-1]
    for b in BACKENDS:
        session.set("ruvector.simd", b)
        assert session.one("SELECT active FROM ruvector_simd_info()") == b
        assert session.one("SHOW ruvector.simd") == b
    session.set("ruvector.simd", "auto")  # the backend chosen at load time again
    assert session.one("SELECT active FROM ruvector_simd_info()") == info[0]


@pytest.mark.parametrize("n", TAILS)
def test_softmax(on_backend, rng, n):
    x = (rng.standard_normal(n) * 5).astype(F32)
    got = check_softmax(on_backend, x, f"n={n}")
    assert abs(float(got.astype(np.float64).sum()) - 1.0) < 1e-5
    if n > 1:
        masked = x.copy()
        masked[rng.permutation(n)[: max(1, n // 3)]] = -INF
        got = check_softmax(on_backend, masked, f"masked n={n}")
        assert np.all(got[np.isneginf(masked)] == 0.0) and np.all(got[~np.isneginf(masked)] > 0.0)


def test_softmax_special_inputs(on_backend):
    s = on_backend
    for x in ([0.0], [1e4, -1e4, 0.0], [7.0] * 33, [-INF, 3.0, -INF], [88.0, 89.0, -INF, 90.0],
              [-1e30, 1e30], [0.0] * 4099):
        check_softmax(s, np.array(x, F32), str(x)[:40])
    assert sql_softmax(s, np.array([-INF, 2.5, -INF], F32)).tolist() == [0.0, 1.0, 0.0]


_SHAPES = [("n", t) for t in TAILS] + [("d", t) for t in TAILS] + [("dv", t) for t in TAILS]


@pytest.mark.parametrize("axis, size", _SHAPES, ids=[f"{a}={t}" for a, t in _SHAPES])
def test_tail_shapes(on_backend, rng, axis, size):
    dims = {"n": BASE_N, "d": BASE_D, "dv": BASE_DV, axis: size}
    q, K, V = inputs(rng, dims["n"], dims["d"], dims["dv"])
    Q2 = rng.standard_normal((3, dims["d"])).astype(F32)
    check_everything(on_backend, q, K, V, Q2, f"{axis}={size}")


@pytest.mark.parametrize("dh", [1, 3, 8, 9, 17])
def test_multi_head_tails_inside_a_head(on_backend, rng, dh):
    s = on_backend
    q, K, V = inputs(rng, 19, 8 * dh, 8 * dh)
    Q2 = rng.standard_normal((2, 8 * dh)).astype(F32)
    for h in (1, 2, 4, 8):
        check_mha(s, q, K, V, h, f"dh={dh}")
        check_mha(s, Q2, K, V, h, f"dh={dh} batch")
    check_score(s, q, K[3], "multi_head", f"dh={dh}")


@settings(max_examples=6)
@given(
    n=st.integers(1, 70), dh=st.integers(1, 12), dvh=st.integers(1, 12), heads=st.sampled_from([1, 2, 3, 4]),
    m=st.integers(0, 4), block=st.integers(1, 80), magnitude=st.sampled_from([1e-3, 1.0, 10.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_shapes(on_backend, n, dh, dvh, heads, m, block, magnitude, seed):
    rng = np.random.default_rng(seed)
    d, dv = dh * heads, dvh * heads
    q, K, V = inputs(rng, n, d, dv)
    q = (q * F32(magnitude)).astype(F32)
    Q2 = (rng.standard_normal((max(m, 1), d)) * magnitude).astype(F32)
    check_everything(on_backend, q, K, V, Q2, f"n={n} d={d} dv={dv} H={heads} m={m}",
                     blocks=(block, None), heads=(heads,))


@pytest.mark.parametrize("name, canonical", [
    ("SCALED_DOT", "scaled_dot"), ("ScaledDot", "scaled_dot"), ("FlashV2", "flash_v2"), ("flash", "flash_v2"),
    ("MultiHead", "multi_head"), ("MULTI_HEAD", "multi_head"),
])
def test_type_names_are_case_insensitive_with_aliases(session, rng, name, canonical):
    q = rng.standard_normal(8).astype(F32)
    K = rng.standard_normal((5, 8)).astype(F32)
    assert_same(sql_scores(session, q, K, name), sql_scores(session, q, K, canonical), name)
    assert_same(sql_scores(session, q, K, name), rv.attention_scores(q, K, name), name)
    assert_same(sql_score(session, q, K[1], name), rv.attention_score(q, K[1], canonical), name)


def test_defaults_are_the_documented_ones(session, rng):
    q, K, V = inputs(rng, 70, 16, 12)
    assert_same(sql_scores(session, q, K), sql_scores(session, q, K, "scaled_dot"), "default type")
    assert_same(sql_score(session, q, K[0]), rv.attention_score(q, K[0], "scaled_dot"), "default type")
    assert_same(sql_mha(session, q, K, V), rv.multi_head_attention(q, K, V, 4), "default num_heads = 4")
    assert_same(sql_flash(session, q, K, V), rv.flash_attention(q, K, V, 64), "default block_size = 64")
    # named notation, "values" quoted as the SQL script documents
    got = session.one('SELECT ruvector_flash_attention(query => %b, keys => %b, "values" => %b, block_size => 5)',
                      q, K, V)
    assert_same(got, rv.flash_attention(q, K, V, 5), "named notation")


def test_outputs_have_lower_bound_one_and_input_bounds_are_ignored(session):
    got = session.row(
        "SELECT array_dims(ruvector_flash_attention(q, k, k)), array_dims(ruvector_attention_scores(q, k)),"
        "       array_dims(ruvector_softmax('[5:7]={1,2,3}'::real[])),"
        "       ruvector_flash_attention(q, k, k) = ruvector_flash_attention('{1,0}', '{{1,0},{0,1},{1,1}}', '{{1,0},{0,1},{1,1}}')"
        " FROM (SELECT '[0:1]={1,0}'::real[] AS q, '[-1:1][3:4]={{1,0},{0,1},{1,1}}'::real[] AS k) a")
    assert got == ("[1:2]", "[1:3]", "[1:3]", True)
    batch = session.one("SELECT array_dims(ruvector_multi_head_attention('[2:3][2:3]={{1,0},{0,1}}', "
                        "'{{1,0},{0,1},{1,1}}', '{{1,2,3,4},{5,6,7,8},{9,10,11,12}}', 2))")
    assert batch == "[1:2][1:4]"


def test_thread_count_does_not_change_any_bit(on_backend, rng):
    s = on_backend
    m, n, d, dv = 4, 16384, 64, 64
    Q, K, V = inputs(rng, n, d, dv, m=m)
    # big enough that the core's own threshold (2**20 floats of K+V per thread) starts 4 threads
    plan = rv._binding.lib.rv_plan_threads
    ex4 = rv._validate._exec_for(4)
    assert plan(m, n * (d + dv), ex4) == 4
    for h in (1, 2, 4, 8):
        assert plan(m * h, n * (d + dv) // h, ex4) == 4
    results = {}
    for threads in (1, 4):
        s.set("ruvector.max_threads", threads)
        assert s.one("SHOW ruvector.max_threads") == str(threads)
        for h in (1, 2, 4, 8):
            got = sql_mha(s, Q, K, V, h)
            assert_same(got, rv.multi_head_attention(Q, K, V, h, threads=threads), f"mha H={h} threads={threads}")
            assert_same(got, rv.multi_head_attention(Q, K, V, h, threads=1), f"mha H={h} threads={threads} vs 1")
            results.setdefault(("mha", h), []).append(got)
        for b in (7, None):
            got = sql_flash(s, Q, K, V, b)
            py = rv.flash_attention(Q, K, V, 64 if b is None else b, threads=threads)
            assert_same(got, py, f"flash b={b} threads={threads}")
            results.setdefault(("flash", b), []).append(got)
    for key, (one, four) in results.items():
        assert_same(one, four, f"{key}: SQL max_threads 1 vs 4")
    assert_close(results[("mha", 2)][0], ref.multi_head_attention(Q, K, V, 2)[0], attention_scale(Q, K, V, heads=2))
    assert_close(results[("flash", None)][1], ref.scaled_dot_attention(Q, K, V), attention_scale(Q, K, V))


# ---------------------------------------------------------------- errors mirror Python's


def _f(x):
    return np.array(x, F32)


def _with(a, index, value):
    b = a.copy()
    b[index] = value
    return b


Q4, K34, V32 = _f([0.5, -1.0, 2.0, 0.25]), np.ones((3, 4), F32), np.ones((3, 2), F32)

# (id, SQL, its parameters, SQLSTATE, the Python call, the Python exception, words both messages contain)
ERROR_CASES = [
    # NaN or infinity in query, keys or values: 22000 / ValueError
    ("score-query-nan", "SELECT ruvector_attention_score(%b, %b)", (_with(Q4, 2, NAN), Q4), "22000",
     lambda: rv.attention_score(_with(Q4, 2, NAN), Q4), rv.NonFiniteError, ["query", "NaN"]),
    ("score-key-inf", "SELECT ruvector_attention_score(%b, %b, 'multi_head')", (Q4, _with(Q4, 1, INF)), "22000",
     lambda: rv.attention_score(Q4, _with(Q4, 1, INF), "multi_head"), rv.NonFiniteError, ["key", "Infinity"]),
    ("scores-keys-neginf", "SELECT ruvector_attention_scores(%b, %b)", (Q4, _with(K34, (1, 0), -INF)), "22000",
     lambda: rv.attention_scores(Q4, _with(K34, (1, 0), -INF)), rv.NonFiniteError, ["keys", "-Infinity"]),
    ("flash-query-inf", "SELECT ruvector_flash_attention(%b, %b, %b)", (_with(Q4, 0, INF), K34, V32), "22000",
     lambda: rv.flash_attention(_with(Q4, 0, INF), K34, V32), rv.NonFiniteError, ["query", "Infinity"]),
    ("flash-values-nan", "SELECT ruvector_flash_attention(%b, %b, %b, 1)", (Q4, K34, _with(V32, (2, 1), NAN)), "22000",
     lambda: rv.flash_attention(Q4, K34, _with(V32, (2, 1), NAN), 1), rv.NonFiniteError, ["values", "NaN"]),
    ("mha-keys-nan", "SELECT ruvector_multi_head_attention(%b, %b, %b, 2)", (Q4, _with(K34, (0, 3), NAN), V32),
     "22000", lambda: rv.multi_head_attention(Q4, _with(K34, (0, 3), NAN), V32, 2), rv.NonFiniteError,
     ["keys", "NaN"]),
    ("mha-batch-query-neginf", "SELECT ruvector_multi_head_attention(%b, %b, %b, 2)",
     (_with(np.ones((2, 4), F32), (1, 1), -INF), K34, V32), "22000",
     lambda: rv.multi_head_attention(_with(np.ones((2, 4), F32), (1, 1), -INF), K34, V32, 2), rv.NonFiniteError,
     ["query", "-Infinity"]),
    ("softmax-nan", "SELECT ruvector_softmax(%b)", (_f([1, NAN, 2]),), "22000",
     lambda: rv.softmax(_f([1, NAN, 2])), rv.NonFiniteError, ["NaN"]),
    ("softmax-plus-inf", "SELECT ruvector_softmax(%b)", (_f([1, INF]),), "22000",
     lambda: rv.softmax(_f([1, INF])), rv.NonFiniteError, ["Infinity"]),
    ("softmax-all-masked", "SELECT ruvector_softmax(%b)", (_f([-INF, -INF]),), "22000",
     lambda: rv.softmax(_f([-INF, -INF])), rv.AllMaskedError, ["-Infinity"]),
    # dimension mismatch: 22000 / ValueError, both sizes named
    ("score-3-vs-4", "SELECT ruvector_attention_score(%b, %b)", (Q4[:3], Q4), "22000",
     lambda: rv.attention_score(Q4[:3], Q4), rv.ShapeError, ["3", "4"]),
    ("scores-3-vs-4", "SELECT ruvector_attention_scores(%b, %b)", (Q4[:3], K34), "22000",
     lambda: rv.attention_scores(Q4[:3], K34), rv.ShapeError, ["3", "4", "query", "keys"]),
    ("flash-3-vs-4", "SELECT ruvector_flash_attention(%b, %b, %b)", (Q4[:3], K34, V32), "22000",
     lambda: rv.flash_attention(Q4[:3], K34, V32), rv.ShapeError, ["3", "4"]),
    ("mha-batch-3-vs-4", "SELECT ruvector_multi_head_attention(%b, %b, %b, 1)", (np.ones((2, 3), F32), K34, V32),
     "22000", lambda: rv.multi_head_attention(np.ones((2, 3), F32), K34, V32, 1), rv.ShapeError, ["3", "4"]),
    ("flash-rows-5-vs-6", "SELECT ruvector_flash_attention(%b, %b, %b)", (Q4, np.ones((5, 4), F32), np.ones((6, 2), F32)),
     "22000", lambda: rv.flash_attention(Q4, np.ones((5, 4), F32), np.ones((6, 2), F32)), rv.ShapeError,
     ["5", "6", "rows"]),
    ("mha-rows-5-vs-6", "SELECT ruvector_multi_head_attention(%b, %b, %b, 2)",
     (Q4, np.ones((5, 4), F32), np.ones((6, 2), F32)), "22000",
     lambda: rv.multi_head_attention(Q4, np.ones((5, 4), F32), np.ones((6, 2), F32), 2), rv.ShapeError, ["5", "6"]),
    # wrong number of dimensions: 22000 with a HINT / ValueError
    ("scores-keys-1d", "SELECT ruvector_attention_scores(%b, %b)", (Q4, Q4), "22000",
     lambda: rv.attention_scores(Q4, Q4), rv.ShapeError, ["keys", "2-D"]),
    ("flash-values-1d", "SELECT ruvector_flash_attention(%b, %b, %b)", (Q4, K34, Q4[:3]), "22000",
     lambda: rv.flash_attention(Q4, K34, Q4[:3]), rv.ShapeError, ["values", "2-D"]),
    ("mha-keys-3d", "SELECT ruvector_multi_head_attention(%b, %b, %b, 1)", (Q4, np.ones((3, 1, 4), F32), V32),
     "22000", lambda: rv.multi_head_attention(Q4, np.ones((3, 1, 4), F32), V32, 1), rv.ShapeError,
     ["keys", "2-D", "3-D"]),
    ("score-query-2d", "SELECT ruvector_attention_score(%b, %b)", (np.ones((2, 4), F32), Q4), "22000",
     lambda: rv.attention_score(np.ones((2, 4), F32), Q4), rv.ShapeError, ["query", "1-D"]),
    ("score-key-2d", "SELECT ruvector_attention_score(%b, %b)", (Q4, K34), "22000",
     lambda: rv.attention_score(Q4, K34), rv.ShapeError, ["key", "1-D"]),
    ("flash-query-3d", "SELECT ruvector_flash_attention(%b, %b, %b)", (np.ones((2, 1, 4), F32), K34, V32), "22000",
     lambda: rv.flash_attention(np.ones((2, 1, 4), F32), K34, V32), rv.ShapeError, ["query", "3-D"]),
    ("softmax-2d", "SELECT ruvector_softmax(%b)", (K34,), "22000",
     lambda: rv.softmax(K34), rv.ShapeError, ["1-D"]),
    # empty query: 22023 / ValueError
    ("score-empty-query", "SELECT ruvector_attention_score(%b, %b)", (_f([]), _f([])), "22023",
     lambda: rv.attention_score(_f([]), _f([])), rv.ShapeError, ["query", "empty"]),
    ("scores-empty-query", "SELECT ruvector_attention_scores(%b, %b)", (_f([]), K34), "22023",
     lambda: rv.attention_scores(_f([]), K34), rv.ShapeError, ["query", "empty"]),
    ("mha-empty-query", "SELECT ruvector_multi_head_attention(%b, %b, %b)", (_f([]), K34, V32), "22023",
     lambda: rv.multi_head_attention(_f([]), K34, V32), rv.ShapeError, ["query", "empty"]),
    ("flash-empty-query", "SELECT ruvector_flash_attention(%b, %b, %b)", (_f([]), K34, V32), "22023",
     lambda: rv.flash_attention(_f([]), K34, V32), rv.ShapeError, ["query", "empty"]),
    # num_heads and block_size: 22023 / ValueError
    ("mha-heads-0", "SELECT ruvector_multi_head_attention(%b, %b, %b, 0)", (Q4, K34, V32), "22023",
     lambda: rv.multi_head_attention(Q4, K34, V32, 0), rv.ParameterError, ["num_heads", "0"]),
    ("mha-heads-minus-2", "SELECT ruvector_multi_head_attention(%b, %b, %b, -2)", (Q4, K34, V32), "22023",
     lambda: rv.multi_head_attention(Q4, K34, V32, -2), rv.ParameterError, ["num_heads", "-2"]),
    ("mha-heads-3-d-8", "SELECT ruvector_multi_head_attention(%b, %b, %b, 3)",
     (np.ones(8, F32), np.ones((2, 8), F32), np.ones((2, 6), F32)), "22023",
     lambda: rv.multi_head_attention(np.ones(8, F32), np.ones((2, 8), F32), np.ones((2, 6), F32), 3),
     rv.ParameterError, ["num_heads", "3", "8", "query dimension"]),
    ("mha-heads-4-dv-6", "SELECT ruvector_multi_head_attention(%b, %b, %b)",
     (np.ones(8, F32), np.ones((2, 8), F32), np.ones((2, 6), F32)), "22023",
     lambda: rv.multi_head_attention(np.ones(8, F32), np.ones((2, 8), F32), np.ones((2, 6), F32)),
     rv.ParameterError, ["num_heads", "4", "6", "value dimension"]),
    ("score-multi-head-d-6", "SELECT ruvector_attention_score(%b, %b, 'multi_head')", (np.ones(6, F32),) * 2,
     "22023", lambda: rv.attention_score(np.ones(6, F32), np.ones(6, F32), "multi_head"), rv.ParameterError,
     ["multi_head", "4", "6"]),
    ("scores-multi-head-d-6", "SELECT ruvector_attention_scores(%b, %b, 'multi_head')",
     (np.ones(6, F32), np.ones((2, 6), F32)), "22023",
     lambda: rv.attention_scores(np.ones(6, F32), np.ones((2, 6), F32), "multi_head"), rv.ParameterError,
     ["multi_head", "4", "6"]),
    ("flash-block-0", "SELECT ruvector_flash_attention(%b, %b, %b, 0)", (Q4, K34, V32), "22023",
     lambda: rv.flash_attention(Q4, K34, V32, 0), rv.ParameterError, ["block_size", "0", "65536"]),
    ("flash-block-minus-7", "SELECT ruvector_flash_attention(%b, %b, %b, -7)", (Q4, K34, V32), "22023",
     lambda: rv.flash_attention(Q4, K34, V32, -7), rv.ParameterError, ["block_size", "-7"]),
    ("flash-block-absurd", "SELECT ruvector_flash_attention(%b, %b, %b, 65537)", (Q4, K34, V32), "22023",
     lambda: rv.flash_attention(Q4, K34, V32, 65537), rv.ParameterError, ["block_size", "65537", "65536"]),
    # unknown attention type: 22023 with the names / ValueError with the names
    ("score-unknown-type", "SELECT ruvector_attention_score(%b, %b, 'bogus')", (Q4, Q4), "22023",
     lambda: rv.attention_score(Q4, Q4, "bogus"), rv.ParameterError, ["bogus"]),
    ("scores-unknown-type", "SELECT ruvector_attention_scores(%b, %b, 'scaled-dot')", (Q4, K34), "22023",
     lambda: rv.attention_scores(Q4, K34, "scaled-dot"), rv.ParameterError, ["scaled-dot"]),
    # parameters of the other attention types: 22023 / ParameterError (a ValueError)
    ("sparse-top-k-0", "SELECT ruvector_sparse_attention(%b, %b, %b, 0)", (Q4, K34, V32), "22023",
     lambda: rv.sparse_attention(Q4, K34, V32, 0), rv.ParameterError, ["top_k", "0"]),
    ("moe-experts-minus-1", "SELECT ruvector_moe_attention(%b, %b, %b, -1)", (Q4, K34, V32), "22023",
     lambda: rv.moe_attention(Q4, K34, V32, -1), rv.ParameterError, ["n_experts", "-1"]),
    ("moe-top-k-0", "SELECT ruvector_moe_attention(%b, %b, %b, 4, 0)", (Q4, K34, V32), "22023",
     lambda: rv.moe_attention(Q4, K34, V32, 4, 0), rv.ParameterError, ["top_k", "0"]),
    ("sliding-window-0", "SELECT ruvector_sliding_window_attention(%b, %b, %b, 0)", (Q4, K34, V32), "22023",
     lambda: rv.sliding_window_attention(Q4, K34, V32, 0), rv.ParameterError, ["window_size", "0"]),
    ("cross-heads-3", "SELECT ruvector_cross_attention(%b, %b, %b, true, 3)", (Q4, K34, V32), "22023",
     lambda: rv.cross_attention(Q4, K34, V32, True, 3), rv.ParameterError, ["num_heads", "3", "4"]),
    ("gat-slope-nan", "SELECT ruvector_gat_attention(%b, %b, %b, 'NaN')", (Q4, K34, V32), "22023",
     lambda: rv.gat_attention(Q4, K34, V32, NAN), rv.ParameterError, ["negative_slope"]),
    ("hyperbolic-curvature-0", "SELECT ruvector_hyperbolic_attention(%b, %b, %b, 'lorentz', 0)", (Q4, K34, V32),
     "22023", lambda: rv.hyperbolic_attention(Q4, K34, V32, "lorentz", 0.0), rv.ParameterError, ["curvature"]),
    ("hyperbolic-unknown-model", "SELECT ruvector_hyperbolic_attention(%b, %b, %b, 'klein')", (Q4, K34, V32),
     "22023", lambda: rv.hyperbolic_attention(Q4, K34, V32, "klein"), rv.ParameterError, ["klein"]),
    # their shapes and domains: 22000 / ValueError
    ("gat-vector-3", "SELECT ruvector_gat_attention(%b, %b, %b, 0.2, %b)", (Q4, K34, V32, _f([1, 2, 3])), "22000",
     lambda: rv.gat_attention(Q4, K34, V32, 0.2, _f([1, 2, 3])), rv.ShapeError, ["attention_vector", "2 x 4"]),
    ("gat-vector-nan", "SELECT ruvector_gat_attention(%b, %b, %b, 0.2, %b)", (Q4, K34, V32, _with(np.ones(8, F32), 5, NAN)),
     "22000", lambda: rv.gat_attention(Q4, K34, V32, 0.2, _with(np.ones(8, F32), 5, NAN)), rv.NonFiniteError,
     ["attention_vector", "NaN"]),
    ("poincare-key-outside", "SELECT ruvector_hyperbolic_attention(%b, %b, %b)",
     (Q4 / 10, _with(K34 / 10, (2, 0), 0.99), V32 / 10), "22000",
     lambda: rv.hyperbolic_attention(Q4 / 10, _with(K34 / 10, (2, 0), 0.99), V32 / 10), rv.OutsideBallError,
     ["keys", "ball", "curvature"]),
    ("poincare-values-nan", "SELECT ruvector_hyperbolic_attention(%b, %b, %b)",
     (Q4 / 10, K34 / 10, _with(V32 / 10, (1, 1), NAN)), "22000",
     lambda: rv.hyperbolic_attention(Q4 / 10, K34 / 10, _with(V32 / 10, (1, 1), NAN)), rv.NonFiniteError,
     ["values", "NaN"]),
    ("linear-summary-rows", "SELECT ruvector_linear_attention_from_summary(%b, %b)", (Q4[:3], np.ones((4, 3), F32)),
     "22000", lambda: rv.linear_attention_from_summary(Q4[:3], np.ones((4, 3), F32)), rv.ShapeError, ["3", "4"]),
    # results too large for an array (1 GB): 54000 / MemoryError (the same inputs)
    ("scores-result-too-large", "SELECT ruvector_attention_scores(%b, %b)",
     (np.ones((2**20, 1), F32), np.ones((2**20, 1), F32)), "54000",
     lambda: rv.attention_scores(np.ones((2**20, 1), F32), np.ones((2**20, 1), F32)), rv.SizeError,
     ["1048576"]),
    ("flash-result-too-large", "SELECT ruvector_flash_attention(%b, %b, %b)",
     (np.ones((2**20, 1), F32), np.ones((1, 1), F32), np.ones((1, 2**20), F32)), "54000",
     lambda: rv.flash_attention(np.ones((2**20, 1), F32), np.ones((1, 1), F32), np.ones((1, 2**20), F32)),
     rv.SizeError, ["1048576"]),
]

SQLSTATE_CLASS = {"22000": "DataException", "22004": "NullValueNotAllowed", "22023": "InvalidParameterValue",
                  "54000": "ProgramLimitExceeded", "0A000": "FeatureNotSupported", "57014": "QueryCanceled"}
PYTHON_BASE = {"22000": ValueError, "22023": ValueError, "54000": MemoryError}


def sql_error(s, query, *params):
    """The psycopg error a statement raises (it must raise)."""
    with pytest.raises(psycopg.Error) as e:
        s.cur.execute(query, params)
    return e.value


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_sql_errors_mirror_python_errors(session, case):
    _, query, params, sqlstate, py_call, py_exc, words = case
    e = sql_error(session, query, *params)
    assert e.sqlstate == sqlstate, f"SQLSTATE {e.sqlstate} ({type(e).__name__}: {e}) instead of {sqlstate}"
    assert type(e).__name__ == SQLSTATE_CLASS[sqlstate]
    with pytest.raises(py_exc) as pe:
        py_call()
    assert isinstance(pe.value, PYTHON_BASE[sqlstate]) and isinstance(pe.value, rv.RuvectorError)
    sql_text = " ".join(filter(None, (e.diag.message_primary, e.diag.message_detail)))
    for w in words:
        if w.lstrip("-").isdigit():  # a size: a whole number in both messages
            assert w in re.findall(r"-?\d+", sql_text), f"SQL message {sql_text!r} does not name {w}"
            assert w in re.findall(r"-?\d+", str(pe.value)), f"Python message {pe.value} does not name {w}"
        else:
            assert w in sql_text, f"SQL message {sql_text!r} lacks {w!r}"
            assert w in str(pe.value), f"Python message {str(pe.value)!r} lacks {w!r}"
    # PostgreSQL style: lowercase first word, no final period; hints are sentences
    primary = e.diag.message_primary
    assert primary[0] == primary[0].lower() and not primary.endswith(".")
    if e.diag.message_hint:
        assert e.diag.message_hint[0].isupper() and e.diag.message_hint.endswith(".")
    # the connection is fine afterwards
    assert session.one("SELECT ruvector_softmax(%b)", _f([0, 0])).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("query, params, name", [
    ("SELECT ruvector_attention_scores(%b, %b)", (Q4, Q4), "keys"),
    ("SELECT ruvector_flash_attention(%b, %b, %b)", (Q4, K34, Q4), "values"),
    ("SELECT ruvector_multi_head_attention(%b, %b, %b)", (Q4, np.ones((3, 1, 4), F32), V32), "keys"),
])
def test_dimension_errors_hint_at_the_right_literal(session, query, params, name):
    e = sql_error(session, query, *params)
    assert e.sqlstate == "22000"
    assert name in e.diag.message_hint and "ARRAY[[" in e.diag.message_hint and "::real[]" in e.diag.message_hint


def test_query_dimension_errors_hint_at_the_right_literal(session):
    e = sql_error(session, "SELECT ruvector_attention_score(%b, %b)", np.ones((2, 4), F32), Q4)
    assert e.sqlstate == "22000" and "ARRAY[" in e.diag.message_hint and "::real[]" in e.diag.message_hint
    e = sql_error(session, "SELECT ruvector_flash_attention(%b, %b, %b)", np.ones((2, 1, 4), F32), K34, V32)
    assert e.sqlstate == "22000" and "ARRAY[[" in e.diag.message_hint


@pytest.mark.parametrize("fn", ["ruvector_attention_score", "ruvector_attention_scores"])
def test_unknown_type_hint_lists_every_name(session, fn):
    key = Q4 if fn == "ruvector_attention_score" else K34
    e = sql_error(session, f"SELECT {fn}(%b, %b, 'bogus')", Q4, key)
    assert e.sqlstate == "22023" and '"bogus"' in e.diag.message_primary
    with pytest.raises(rv.ParameterError) as pe:
        (rv.attention_score if fn == "ruvector_attention_score" else rv.attention_scores)(Q4, key, "bogus")
    names = [t.name for t in rv.attention_types()]
    assert len(names) >= 10
    for name in names:
        assert re.search(rf"\b{name}\b", e.diag.message_hint), f"{name} missing from the hint"
        assert re.search(rf"\b{name}\b", str(pe.value)), f"{name} missing from the Python message"


@pytest.mark.parametrize("t", [t.name for t in rv.attention_types()])
def test_every_listed_type_behaves_the_same_in_sql_and_python(on_backend, rng, t):
    """Every type of the catalogue is computed, with the same bits in SQL and
    Python: its pair score, its weights and its output (the generic entry
    points with the type's defaults)."""
    s = on_backend
    q = (rng.standard_normal(8) * 0.1).astype(F32)  # inside the Poincare ball too
    K = (rng.standard_normal((300, 8)) * 0.1).astype(F32)
    V = (rng.standard_normal((300, 4)) * 0.1).astype(F32)
    Q2 = (rng.standard_normal((5, 8)) * 0.1).astype(F32)
    assert_same(sql_score(s, q, K[2], t), rv.attention_score(q, K[2], t), f"score {t}")
    for query in (q, Q2):
        assert_same(sql_scores(s, query, K, t), rv.attention_scores(query, K, t), f"scores {t}")
        assert_same(s.one("SELECT ruvector_attention(%b, %b, %b, %s)", query, K, V, t),
                    rv.attention(query, K, V, t), f"attention {t}")


# (SQL function and its trailing arguments, the Python call with the same parameters)
TYPE_CALLS = [
    ("ruvector_linear_attention(%b, %b, %b)", (), lambda q, K, V: rv.linear_attention(q, K, V)),
    ("ruvector_gat_attention(%b, %b, %b)", (), lambda q, K, V: rv.gat_attention(q, K, V)),
    ("ruvector_gat_attention(%b, %b, %b, -0.3)", (), lambda q, K, V: rv.gat_attention(q, K, V, -0.3)),
    ("ruvector_gat_attention(%b, %b, %b, 0.1, %b)", ("a",), lambda q, K, V, a: rv.gat_attention(q, K, V, 0.1, a)),
    ("ruvector_sparse_attention(%b, %b, %b)", (), lambda q, K, V: rv.sparse_attention(q, K, V)),
    ("ruvector_sparse_attention(%b, %b, %b, top_k => 3)", (), lambda q, K, V: rv.sparse_attention(q, K, V, 3)),
    ("ruvector_moe_attention(%b, %b, %b)", (), lambda q, K, V: rv.moe_attention(q, K, V)),
    ("ruvector_moe_attention(%b, %b, %b, 7, 3)", (), lambda q, K, V: rv.moe_attention(q, K, V, 7, 3)),
    ("ruvector_cross_attention(%b, %b, %b)", (), lambda q, K, V: rv.cross_attention(q, K, V)),
    ("ruvector_cross_attention(%b, %b, %b, true, 4)", (), lambda q, K, V: rv.cross_attention(q, K, V, True, 4)),
    ("ruvector_sliding_window_attention(%b, %b, %b)", (), lambda q, K, V: rv.sliding_window_attention(q, K, V)),
    ("ruvector_sliding_window_attention(%b, %b, %b, 5)", (), lambda q, K, V: rv.sliding_window_attention(q, K, V, 5)),
    ("ruvector_hyperbolic_attention(%b, %b, %b)", (), lambda q, K, V: rv.hyperbolic_attention(q, K, V)),
    ("ruvector_hyperbolic_attention(%b, %b, %b, 'lorentz', 0.5)", (),
     lambda q, K, V: rv.hyperbolic_attention(q, K, V, "lorentz", 0.5)),
]


@pytest.mark.parametrize("call", TYPE_CALLS, ids=[c[0].split("(")[0] + str(i) for i, c in enumerate(TYPE_CALLS)])
def test_type_functions_are_bit_identical_in_sql_and_python(on_backend, rng, call):
    s = on_backend
    sql, extra, py = call
    q = (rng.standard_normal(16) * 0.1).astype(F32)  # |x| about 0.4: inside the Poincare ball
    K = (rng.standard_normal((700, 16)) * 0.1).astype(F32)
    V = (rng.standard_normal((700, 12)) * 0.1).astype(F32)
    Q2 = (rng.standard_normal((90, 16)) * 0.1).astype(F32)
    a = rng.standard_normal(32).astype(F32)
    for query in (q, Q2):
        args = (query, K, V) + tuple(a for _ in extra)
        got = s.one(f"SELECT {sql}", *args)
        assert_same(got, py(*args), sql)
    for threads in (1, 4):
        s.set("ruvector.max_threads", threads)
        assert_same(s.one(f"SELECT {sql}", Q2, K, V, *(a for _ in extra)), py(Q2, K, V, *(a for _ in extra)),
                    f"{sql} with {threads} threads")


def test_sql_defaults_are_the_cores(session):
    """The DEFAULTs of the SQL signatures are the core's (rv_attention_params_init),
    which the Python signatures are checked against in test_py_types.py."""
    from ruvector_cffi import _binding, _params

    lib = _binding.lib
    args = dict(session.cur.execute(
        "SELECT proname::text, pg_get_function_arguments(oid) FROM pg_proc WHERE proname LIKE 'ruvector%%'").fetchall())

    def default(fn, param):
        m = re.search(rf"\b{param} \w+(?: \w+)? DEFAULT ([^,]+)", args[fn])
        assert m, f"{fn} has no default for {param}: {args[fn]}"
        return m.group(1).strip("'").split("'::")[0]

    assert F32(default("ruvector_gat_attention", "negative_slope")) == F32(_params.default_params(lib.RV_ATTN_GAT).negative_slope)
    assert int(default("ruvector_sparse_attention", "top_k")) == _params.default_params(lib.RV_ATTN_SPARSE).top_k
    moe = _params.default_params(lib.RV_ATTN_MOE)
    assert int(default("ruvector_moe_attention", "n_experts")) == moe.n_experts
    assert int(default("ruvector_moe_attention", "top_k")) == moe.top_k
    cross = _params.default_params(lib.RV_ATTN_CROSS)
    assert default("ruvector_cross_attention", "causal") == ("true" if cross.causal else "false")
    assert int(default("ruvector_cross_attention", "num_heads")) == cross.num_heads
    assert int(default("ruvector_sliding_window_attention", "window_size")) == _params.default_params(lib.RV_ATTN_SLIDING).window
    assert F32(default("ruvector_hyperbolic_attention", "curvature")) == F32(_params.default_params(lib.RV_ATTN_POINCARE).curvature)
    assert int(default("ruvector_flash_attention", "block_size")) == _params.default_params(lib.RV_ATTN_FLASH_V2).block_size
    assert int(default("ruvector_multi_head_attention", "num_heads")) == _params.default_params(lib.RV_ATTN_MULTI_HEAD).num_heads


def test_linear_summary_is_bit_identical_in_sql_and_python(on_backend, rng):
    s = on_backend
    K = rng.standard_normal((500, 16)).astype(F32)
    V = rng.standard_normal((500, 6)).astype(F32)
    Q2 = rng.standard_normal((7, 16)).astype(F32)
    M = s.one("SELECT ruvector_linear_attention_summary(%b, %b)", K, V)
    py = rv.linear_attention_summary(K, V)
    assert_same(M, py.matrix, "summary")
    for query in (Q2[0], Q2):
        assert_same(s.one("SELECT ruvector_linear_attention_from_summary(%b, %b)", query, M),
                    rv.linear_attention_from_summary(query, py), "from summary")
        assert_close(s.one("SELECT ruvector_linear_attention_from_summary(%b, %b)", query, M),
                     ref.linear_attention(query, K, V), ref.value_scale(V), "from summary vs reference")


@pytest.mark.parametrize("query, params", [
    ("SELECT ruvector_softmax('{1,NULL,2}'::real[])", ()),
    ("SELECT ruvector_attention_score(%b, '{1,2,NULL,4}'::real[])", (Q4,)),
    ("SELECT ruvector_attention_scores('{NULL,1,2,3}'::real[], %b)", (K34,)),
    ("SELECT ruvector_flash_attention(%b, %b, '{{1,2},{3,NULL},{5,6}}'::real[])", (Q4, K34)),
    ("SELECT ruvector_multi_head_attention(%b, '{{1,2,3,4},{1,2,3,4},{1,NULL,3,4}}'::real[], %b, 2)", (Q4, V32)),
])
def test_null_element_is_22004(session, query, params):
    e = sql_error(session, query, *params)
    assert e.sqlstate == "22004" and isinstance(e, pgerr.NullValueNotAllowed)
    assert "null" in e.diag.message_primary


def test_finite_inputs_whose_logit_overflows(session):
    q = np.full(4, 1e20, F32)
    K = np.full((2, 4), 1e20, F32)
    V = np.ones((2, 2), F32)
    for query, params, py in (
        ("SELECT ruvector_attention_score(%b, %b)", (q, K[0]), lambda: rv.attention_score(q, K[0])),
        ("SELECT ruvector_flash_attention(%b, %b, %b)", (q, K, V), lambda: rv.flash_attention(q, K, V)),
        ("SELECT ruvector_multi_head_attention(%b, %b, %b, 2)", (q, K, V), lambda: rv.multi_head_attention(q, K, V, 2)),
    ):
        e = sql_error(session, query, *params)
        assert e.sqlstate.startswith("22"), f"{query}: {e.sqlstate} {e}"
        assert "overflow" in (e.diag.message_detail or "") + e.diag.message_primary
        with pytest.raises(rv.NonFiniteError, match="overflow"):
            py()


def test_forcing_a_backend_the_cpu_lacks(session):
    missing = [b for b in ("scalar", "avx2", "avx512", "neon") if b not in BACKENDS]
    if not missing:
        pytest.skip("this CPU runs every backend")
    active = session.one("SELECT active FROM ruvector_simd_info()")
    for b in missing:
        e = sql_error(session, "SELECT set_config('ruvector.simd', %s, false)", b)
        assert e.sqlstate == "22023" and b in e.diag.message_detail
        with pytest.raises(rv.UnsupportedBackendError, match=b):
            rv.set_backend(b)
    assert session.one("SELECT active FROM ruvector_simd_info()") == active  # unchanged
    e = sql_error(session, "SELECT set_config('ruvector.simd', 'sse9', false)")
    assert e.sqlstate == "22023"


# ---------------------------------------------------------------- NULL arguments, zero keys


_STRICT = [
    ("ruvector_softmax", ["real[]"]),
    ("ruvector_attention_score", ["real[]", "real[]", "text"]),
    ("ruvector_attention_scores", ["real[]", "real[]", "text"]),
    ("ruvector_multi_head_attention", ["real[]", "real[]", "real[]", "int"]),
    ("ruvector_flash_attention", ["real[]", "real[]", "real[]", "int"]),
]


@pytest.mark.parametrize("fn, types", _STRICT, ids=[f for f, _ in _STRICT])
def test_null_argument_gives_null(session, fn, types):
    good = {"ruvector_softmax": ["'{1,2}'"],
            "ruvector_attention_score": ["'{1,2,3,4}'", "'{4,3,2,1}'", "'scaled_dot'"],
            "ruvector_attention_scores": ["'{1,2,3,4}'", "'{{4,3,2,1}}'", "'scaled_dot'"],
            "ruvector_multi_head_attention": ["'{1,2,3,4}'", "'{{4,3,2,1}}'", "'{{1,2}}'", "2"],
            "ruvector_flash_attention": ["'{1,2,3,4}'", "'{{4,3,2,1}}'", "'{{1,2}}'", "2"]}[fn]
    args = [f"{a}::{t}" for a, t in zip(good, types)]
    assert session.one(f"SELECT {fn}({', '.join(args)}) IS NULL") is False
    for i, t in enumerate(types):
        call = ", ".join(f"NULL::{t}" if j == i else a for j, a in enumerate(args))
        assert session.one(f"SELECT {fn}({call}) IS NULL") is True, f"{fn}({call})"


@pytest.mark.parametrize("kind", SCORE_TYPES)
def test_zero_keys(session, kind):
    empty = np.empty((0, 8), F32)
    q, Q2 = np.ones(8, F32), np.ones((3, 8), F32)
    for query in (q, Q2):
        got = sql_scores(session, query, empty, kind)
        assert got.shape == (0,) and session.one(
            "SELECT ruvector_attention_scores(%b, '{}', %s) = '{}'::real[]", query, kind) is True
        py = rv.attention_scores(query, empty, kind)
        assert py.shape == query.shape[:-1] + (0,)
        assert sql_mha(session, query, empty, empty, 2) is None
        assert sql_flash(session, query, empty, empty) is None
        assert session.one("SELECT ruvector_flash_attention(%b, '{}', '{}', 7) IS NULL", query) is True
        for call in (lambda: rv.multi_head_attention(query, empty, np.empty((0, 4), F32), 2),
                     lambda: rv.flash_attention(query, empty, np.empty((0, 4), F32))):
            with pytest.raises(ValueError, match="at least one key"):
                call()
    assert sql_softmax(session, _f([])).shape == (0,)
    assert session.one("SELECT ruvector_softmax('{}') = '{}'::real[]") is True
    assert rv.softmax(_f([])).shape == (0,)


# ---------------------------------------------------------------- embeddings in a table


def test_embeddings_in_a_table_column(session, rng):
    n, d, dv = 300, 24, 16
    q, K, V = inputs(rng, n, d, dv)
    Q2 = rng.standard_normal((5, d)).astype(F32)
    s = session
    s.cur.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, embedding real[] NOT NULL, payload real[] NOT NULL)")
    try:
        order = rng.permutation(n)  # stored out of order: ORDER BY id must put them back
        with s.conn.cursor() as cur:
            cur.executemany("INSERT INTO items VALUES (%s, %b, %b)", [(int(i), K[i], V[i]) for i in order])
        agg_k = "(SELECT array_agg(embedding ORDER BY id) FROM items)"
        agg_v = "(SELECT array_agg(payload ORDER BY id) FROM items)"
        assert_same(s.one(f"SELECT {agg_k}"), K, "array_agg of the column is the matrix")
        assert_same(s.one(f"SELECT {agg_v}"), V, "array_agg of the column is the matrix")
        for query in (q, Q2):
            for kind in SCORE_TYPES:
                got = s.one(f"SELECT ruvector_attention_scores(%b, {agg_k}, %s)", query, kind)
                assert_same(got, sql_scores(s, query, K, kind), f"scores {kind} from the table")
                assert_same(got, rv.attention_scores(query, K, kind), f"scores {kind} from the table vs Python")
            for h in (1, 4, 8):
                got = s.one(f"SELECT ruvector_multi_head_attention(%b, {agg_k}, {agg_v}, %s)", query, h)
                assert_same(got, sql_mha(s, query, K, V, h), f"mha H={h} from the table")
                assert_same(got, rv.multi_head_attention(query, K, V, h), f"mha H={h} from the table vs Python")
            for b in (1, 64):
                got = s.one(f"SELECT ruvector_flash_attention(%b, {agg_k}, {agg_v}, %s)", query, b)
                assert_same(got, sql_flash(s, query, K, V, b), f"flash b={b} from the table")
                assert_same(got, rv.flash_attention(query, K, V, b), f"flash b={b} from the table vs Python")
        assert_close(s.one(f"SELECT ruvector_flash_attention(%b, {agg_k}, {agg_v})", q),
                     ref.scaled_dot_attention(q, K, V), attention_scale(q, K, V))
        # one score per row, in SQL, against the Python score of that row
        per_row = s.one("SELECT array_agg(ruvector_attention_score(%b, embedding) ORDER BY id) FROM items", q)
        assert_same(per_row, np.array([rv.attention_score(q, k) for k in K], F32), "score per row")
        # ORDER BY the score in SQL: the same top 10 as sorting the Python scores
        top = [r[0] for r in s.cur.execute(
            "SELECT id FROM items ORDER BY ruvector_attention_score(%b, embedding) DESC, id LIMIT 10", (q,))]
        assert top == np.lexsort((np.arange(n), -per_row.astype(np.float64))).tolist()[:10]
    finally:
        s.cur.execute("DROP TABLE IF EXISTS items")


# ---------------------------------------------------------------- cancellation


@pytest.fixture(scope="module")
def long_call(dbname):
    """A flash call that runs for seconds unless cancelled: keys and values
    20000 x 64, and enough query rows (2000 or more) for ~8 s of
    single-thread compute, measured here with the same core, so that
    'cancelled in well under 2 s' means something.  The arrays live in a
    table: a statement that carries 10+ MB of arguments spends a while being
    read from the client, and PostgreSQL ignores a cancel that arrives then.
    Returns (the statement, the estimated single-thread seconds)."""
    rng = np.random.default_rng(57014)
    K = rng.standard_normal((20000, 64)).astype(F32)
    V = rng.standard_normal((20000, 64)).astype(F32)
    probe = rng.standard_normal((100, 64)).astype(F32)
    t0 = time.perf_counter()
    rv.flash_attention(probe, K, V, threads=1)
    per_row = (time.perf_counter() - t0) / len(probe)
    m = int(min(200_000, max(2000, 8.0 / per_row)))
    Q = rng.standard_normal((m, 64)).astype(F32)
    with sql_support.connect(dbname) as conn:
        conn.execute("CREATE TABLE long_call (q real[], k real[], v real[])")
        conn.execute("ALTER TABLE long_call ALTER q SET STORAGE EXTERNAL, ALTER k SET STORAGE EXTERNAL, "
                     "ALTER v SET STORAGE EXTERNAL")
        conn.execute("INSERT INTO long_call VALUES (%b, %b, %b)", (Q, K, V))
    return "SELECT ruvector_flash_attention(q, k, v) FROM long_call", m * per_row


@pytest.fixture(scope="module")
def long_self_attention(dbname):
    """Self-attention cross(X, X, X) of m = n = 20000 rows that runs for
    seconds unless cancelled (d = 128, 2 heads: its time measured on a
    slice of the queries with the same core), from a table as long_call.
    Returns (the statement, the estimated single-thread seconds)."""
    rng = np.random.default_rng(57015)
    X = rng.standard_normal((20000, 128)).astype(F32)
    t0 = time.perf_counter()
    rv.cross_attention(X[:1000], X, X, False, 2, threads=1)
    estimate = (time.perf_counter() - t0) * 20
    with sql_support.connect(dbname) as conn:
        conn.execute("CREATE TABLE long_self (x real[])")
        conn.execute("ALTER TABLE long_self ALTER x SET STORAGE EXTERNAL")
        conn.execute("INSERT INTO long_self VALUES (%b)", (X,))
    return "SELECT ruvector_cross_attention(x, x, x, false, 2) FROM long_self", estimate


@pytest.fixture(params=["flash", "cross"])
def long_statement(request):
    """(statement, estimated seconds, how soon after the cancel it must end):
    half a second for self-attention (the attention-types issue), 1.5 s for
    flash over 2000+ queries."""
    if request.param == "flash":
        return request.getfixturevalue("long_call") + (1.5,)
    return request.getfixturevalue("long_self_attention") + (0.5,)


@pytest.fixture
def victim(dbname):
    """A second connection of its own, for the call that gets cancelled."""
    with sql_support.connect(dbname) as conn:
        s = sql_support.Session(conn)
        s.set("ruvector.simd", rv.simd_backend())
        yield s


def _still_works(s, rng):
    q, K, V = inputs(rng, 50, 16, 8, m=3)
    assert_same(sql_flash(s, q, K, V, 16), rv.flash_attention(q, K, V, 16), "the call after the cancel")
    assert s.one("SELECT 1") == 1


@pytest.mark.parametrize("threads", [1, 4])
def test_statement_timeout_cancels_a_long_call(victim, long_statement, rng, threads):
    statement, estimate, bound = long_statement
    assert estimate > 2.0, f"the call is too short to tell ({estimate:.1f} s)"
    victim.set("ruvector.max_threads", threads)
    victim.cur.execute("SET statement_timeout = '200ms'")
    t0 = time.perf_counter()
    with pytest.raises(pgerr.QueryCanceled) as e:
        victim.cur.execute(statement)
    elapsed = time.perf_counter() - t0
    assert e.value.sqlstate == "57014" and "statement timeout" in str(e.value)
    assert elapsed < bound, f"cancelled after {elapsed:.2f} s (the whole call: ~{estimate:.0f} s single-threaded)"
    _still_works(victim, rng)  # the next call on the same connection (timeout still set)
    victim.cur.execute("RESET statement_timeout")


@pytest.mark.parametrize("threads", [1, 4])
def test_pg_cancel_backend_from_another_connection(victim, dbname, long_statement, rng, threads):
    statement, estimate, bound = long_statement
    victim.set("ruvector.max_threads", threads)
    pid = victim.pid()
    outcome = {}

    def canceller():
        # wait until the statement runs, then ~200 ms more
        try:
            with sql_support.connect(dbname) as other:
                deadline = time.perf_counter() + 10
                while time.perf_counter() < deadline:
                    state, event, query = other.execute(
                        "SELECT state, wait_event, query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                    if state == "active" and event is None and query == statement:
                        break
                    time.sleep(0.005)
                time.sleep(0.2)
                outcome["state"] = other.execute(
                    "SELECT state, wait_event FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                outcome["at"] = time.perf_counter()
                outcome["cancelled"] = other.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()[0]
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc

    thread = threading.Thread(target=canceller)
    t0 = time.perf_counter()
    thread.start()
    try:
        with pytest.raises(pgerr.QueryCanceled) as e:
            victim.cur.execute(statement)
        end = time.perf_counter()
    finally:
        thread.join()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["state"] == ("active", None) and outcome["cancelled"] is True
    assert e.value.sqlstate == "57014" and "user request" in str(e.value)
    assert end - outcome["at"] < min(1.0, bound), f"cancelled {end - outcome['at']:.2f} s after pg_cancel_backend"
    assert end - t0 < 2.0, f"the call took {end - t0:.2f} s (uncancelled: ~{estimate:.0f} s single-threaded)"
    _still_works(victim, rng)


# ---------------------------------------------------------------- memory


def test_no_memory_growth_over_2000_calls(victim, rng):
    s = victim
    q, K, V = inputs(rng, 60, 16, 8)
    Q2 = rng.standard_normal((3, 16)).astype(F32)
    bad = _with(K, (5, 5), NAN)
    calls = [
        ("SELECT ruvector_softmax(%b)", (K[:, 0],)),
        ("SELECT ruvector_attention_score(%b, %b, 'multi_head')", (q, K[1])),
        ("SELECT ruvector_attention_scores(%b, %b)", (Q2, K)),
        ("SELECT ruvector_attention_scores(%b, %b, 'multi_head')", (q, K)),
        ("SELECT ruvector_multi_head_attention(%b, %b, %b, 4)", (Q2, K, V)),
        ("SELECT ruvector_flash_attention(%b, %b, %b, 7)", (Q2, K, V)),
        ("SELECT ruvector_flash_attention(%b, %b, %b)", (q, K, V)),
        ("SELECT ruvector_flash_attention(%b, %b, %b)", (q, bad, V)),  # the error path too
    ]

    def run(i):
        query, params = calls[i % len(calls)]
        if any(p is bad for p in params):
            with pytest.raises(pgerr.DataException):
                s.cur.execute(query, params)
            return None
        return s.one(query, *params)

    expected = [run(i) for i in range(len(calls))]
    assert_same(expected[0], rv.softmax(K[:, 0]), "softmax")
    assert_same(expected[4], rv.multi_head_attention(Q2, K, V, 4), "multi_head_attention")
    assert_same(expected[5], rv.flash_attention(Q2, K, V, 7), "flash_attention")
    for i in range(200):  # warm-up: plan caches, prepared statements, first-use allocations
        run(i)
    total = "SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts"
    before = s.one(total)
    for i in range(2000):
        got = run(i)
        if i % 97 == 0 and expected[i % len(calls)] is not None:
            assert_same(got, expected[i % len(calls)], f"call {i}")
    after = s.one(total)
    assert before > 0 and after - before < 256 * 1024, f"backend memory grew by {after - before} bytes"

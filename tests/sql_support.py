"""Helpers of the SQL tests (tests/test_sql.py, tests/test_demo.py): reaching
the PostgreSQL server, a throw-away database, and exact numpy <-> real[]
transfer through psycopg 3's binary protocol.

Exactness: a float4 read in text format goes through a decimal string (and
back through float(), as float64); the binary format carries the 4 IEEE
bytes of each element, so what the C code wrote is what the test compares.
"""

from __future__ import annotations

import contextlib
import os
import struct
from typing import Any, Iterator, Optional

import numpy as np
import pytest

try:
    import psycopg
    from psycopg import sql
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format
except ImportError:  # reported by require_pg(), so that the skip says why
    psycopg = None

FLOAT4_OID = 700
FLOAT4_ARRAY_OID = 1021
_ELEMENT = np.dtype([("len", ">i4"), ("val", ">f4")])


def pg_required() -> bool:
    """RUVECTOR_REQUIRE_PG=1 (CI inside the temp cluster): a missing server is
    a failure, so that the SQL tests can never be skipped silently there."""
    return os.environ.get("RUVECTOR_REQUIRE_PG") == "1"


def pg_problem() -> Optional[str]:
    """Why the SQL tests cannot run (None when they can): no psycopg, or no
    server configured (PGHOST unset)."""
    if psycopg is None:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    if not os.environ.get("PGHOST"):
        return ("PGHOST is not set: run the SQL tests against a throw-away cluster, e.g. "
                "tools/with-temp-pg.sh .venv/bin/python -m pytest tests/test_sql.py tests/test_demo.py")
    return None


def skip_or_fail_without_pg(at_import: bool = False) -> None:
    """Skip when pg_problem() says the SQL tests cannot run, or fail instead
    when pg_required().  at_import=True (module level) only ever skips: a
    failure while importing a test module would abort the whole pytest run,
    so there the fixtures that need the server fail each test instead."""
    why = pg_problem()
    if why is None:
        return
    if pg_required():
        if not at_import:
            pytest.fail(f"RUVECTOR_REQUIRE_PG=1 but {why}", pytrace=False)
        return
    pytest.skip(why, allow_module_level=at_import)


if psycopg is not None:

    class NDArrayFloat4Dumper(Dumper):
        """np.float32 ndarray (any number of dimensions) -> real[] in binary
        format: the array header (ndim, has-null flag, element oid, then a
        (size, lower bound 1) pair per dimension) and a (length 4, big-endian
        float) pair per element.  Empty arrays go as '{}' (PostgreSQL has no
        empty array with dimensions).  Other dtypes are refused rather than
        rounded silently."""

        format = Format.BINARY
        oid = FLOAT4_ARRAY_OID

        def dump(self, obj: Any) -> bytes:
            if obj.dtype != np.float32:
                raise TypeError(f"only float32 arrays are sent as real[], got dtype {obj.dtype}")
            if obj.size == 0:
                return struct.pack(">iiI", 0, 0, FLOAT4_OID)
            header = struct.pack(">iiI", obj.ndim, 0, FLOAT4_OID)
            header += b"".join(struct.pack(">ii", n, 1) for n in obj.shape)
            body = np.empty(obj.size, _ELEMENT)
            body["len"] = 4
            body["val"] = obj.ravel()
            return header + body.tobytes()

    class Float4ArrayBinaryLoader(Loader):
        """real[] in binary format -> np.float32 ndarray of the array's shape
        ('{}' -> shape (0,)).  NULL elements are refused: no ruvector function
        returns one."""

        format = Format.BINARY

        def load(self, data: Any) -> np.ndarray:
            data = bytes(data)
            ndim, _, elem = struct.unpack_from(">iiI", data, 0)
            assert elem == FLOAT4_OID, f"element oid {elem} is not float4"
            if ndim == 0:
                return np.empty(0, np.float32)
            dims = struct.unpack_from(">" + "ii" * ndim, data, 12)[0::2]
            body = np.frombuffer(data, _ELEMENT, offset=12 + 8 * ndim)
            assert body.size == int(np.prod(dims)), "array size does not match its dimensions"
            if np.any(body["len"] != 4):
                raise ValueError("a real[] result holds a NULL element")
            return body["val"].astype(np.float32).reshape(dims)


def configure(conn: "psycopg.Connection[Any]") -> None:
    """Send np.float32 ndarrays as real[] and read real[] (binary) as ndarrays."""
    conn.adapters.register_dumper(np.ndarray, NDArrayFloat4Dumper)
    conn.adapters.register_loader(FLOAT4_ARRAY_OID, Float4ArrayBinaryLoader)


@contextlib.contextmanager
def temp_database(prefix: str) -> Iterator[str]:
    """A fresh database on the server of the PG* variables (dropped at the end,
    even with connections still open), named prefix_<pid>."""
    name = f"{prefix}_{os.getpid()}"
    ident = sql.Identifier(name)
    with psycopg.connect(autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield name
    finally:
        with psycopg.connect(autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def connect(dbname: str, **kwargs: Any) -> "psycopg.Connection[Any]":
    """An autocommit connection to dbname, configured for exact real[] transfer."""
    conn = psycopg.connect(dbname=dbname, autocommit=True, **kwargs)
    configure(conn)
    return conn


class Session:
    """One connection and the statements the tests run on it: values are
    read in binary format, so real comes back as the exact float32 value
    (as a Python float) and real[] as an np.float32 ndarray."""

    def __init__(self, conn: "psycopg.Connection[Any]") -> None:
        self.conn = conn
        self.cur = conn.cursor(binary=True)

    def one(self, query: str, *params: Any) -> Any:
        """The single value of a one-row, one-column query."""
        self.cur.execute(query, params)
        rows = self.cur.fetchall()
        assert len(rows) == 1 and len(rows[0]) == 1, f"{query!r} returned {rows!r}"
        return rows[0][0]

    def row(self, query: str, *params: Any) -> tuple:
        self.cur.execute(query, params)
        rows = self.cur.fetchall()
        assert len(rows) == 1, f"{query!r} returned {len(rows)} rows"
        return rows[0]

    def set(self, name: str, value: Any) -> None:
        """SET name = value for the session (set_config takes parameters, SET does not)."""
        self.cur.execute("SELECT set_config(%s, %s, false)", (name, str(value)))

    def pid(self) -> int:
        return int(self.one("SELECT pg_backend_pid()"))

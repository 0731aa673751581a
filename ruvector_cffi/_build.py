"""cffi builder of ``ruvector_cffi._ruvector`` (out-of-line API mode).

The module is compiled from the same C sources as the PostgreSQL extension:
every ``csrc/*.c`` (not ``csrc/test/`` nor ``csrc/pg/``).  The declarations
cffi binds live in ``_ruvector_cdef.h`` next to this file; the C compiler
checks them against ``csrc/ruvector.h``.  Run through ``setup.py``
(``cffi_modules``) by ``pip install .`` or ``pip install -e .`` (an
editable install does not rebuild by itself: run it again after a C change).
"""

import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
# setuptools wants source paths relative to the project root (the cwd of a build)
CSRC = os.path.relpath(os.path.join(HERE, os.pardir, "csrc"))

with open(os.path.join(HERE, "_ruvector_cdef.h"), encoding="utf-8") as f:
    CDEF = f.read()

SOURCES = sorted(glob.glob(os.path.join(CSRC, "*.c")))

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "ruvector_cffi._ruvector",
    # rv_threads.h only for the rv__test_fail_thread_starts test hook;
    # _glue.h: the forward calls with their scratch allocated in C
    '#include "ruvector.h"\n#include "rv_threads.h"\n#include "_glue.h"\n',
    sources=SOURCES,
    include_dirs=[CSRC, os.path.relpath(HERE)],
    depends=sorted(glob.glob(os.path.join(CSRC, "*.h"))) + [os.path.join(os.path.relpath(HERE), "_glue.h")],
    extra_compile_args=["-std=c11", "-O2", "-ffp-contract=off"],
    libraries=["m", "pthread"],
)

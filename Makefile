# Makefile: the ruvector PostgreSQL extension (PGXS).
#
#   make && make install          build and install into $(PG_CONFIG)'s PostgreSQL
#   make installcheck             pg_regress tests (test/sql, test/expected)
#   make pgtap                    pgTAP tests through pg_prove (uses the PG* environment)
#   make dist                     dist/ruvector-$(EXTVERSION).zip for PGXN
#
# EXTVERSION is the single source of the version: the control files, META.json,
# the SQL script names and pyproject.toml are checked against it.

EXTVERSION = 0.1.0

EXTENSION  = ruvector ruvector_postgres
MODULE_big = ruvector
# the whole C core (not its test drivers in csrc/test) plus the PostgreSQL glue
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard csrc/*.c))) csrc/pg/ruvector_pg.o
PGFILEDESC = "ruvector - attention mechanisms for PostgreSQL"

# sql/ruvector--X.sql is the one SQL source; the alias extension's script is
# generated from it, so both install exactly the same objects.
DATA       = sql/ruvector--$(EXTVERSION).sql
DATA_built = sql/ruvector_postgres--$(EXTVERSION).sql

REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test
EXTRA_CLEAN  = test/results test/regression.diffs test/regression.out

PG_CPPFLAGS = -I$(srcdir)/csrc
# No -m flags and no tuning for the build machine: SIMD kernels carry target attributes and
# are chosen at run time, so the library runs on any CPU of the architecture.
# -ffp-contract=off keeps gcc and clang (bitcode for JIT inlining) from fusing
# a*b+c differently, which would change the last bits between builds.
PG_CFLAGS   = -std=gnu11 -ffp-contract=off -Wno-declaration-after-statement

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

BITCODE_CFLAGS += -ffp-contract=off

# PGXS tracks no header dependencies (unless PostgreSQL was configured with
# --enable-depend): without this, changing a struct in a header would leave
# objects compiled against the old layout in the library.
CORE_HEADERS = $(wildcard csrc/*.h)
$(OBJS) $(OBJS:.o=.bc): $(CORE_HEADERS)

sql/ruvector_postgres--$(EXTVERSION).sql: sql/ruvector--$(EXTVERSION).sql
	sed 's/CREATE EXTENSION ruvector"/CREATE EXTENSION ruvector_postgres"/' $< > $@

# pgTAP tests; pg_prove connects with the PG* environment variables.
PG_PROVE ?= pg_prove
.PHONY: pgtap dist
pgtap:
	$(PG_PROVE) test/pgtap/*.sql

# The zip PGXN expects: one top folder ruvector-$(EXTVERSION)/ holding the
# working tree as git sees it, uncommitted and untracked (not ignored) files
# included.  `git add -A` into a temporary index leaves the real index alone;
# when that fails (e.g. a read-only checkout) the zip is made from HEAD.
DISTNAME = ruvector-$(EXTVERSION)
dist:
	@mkdir -p dist
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	top=$$(git rev-parse --show-toplevel); sub=$$(git rev-parse --show-prefix); \
	if tree=$$(cd "$$top" && GIT_INDEX_FILE="$$tmp/index" git add -A && \
			GIT_INDEX_FILE="$$tmp/index" git write-tree); then :; \
	else tree=HEAD; echo "dist: cannot snapshot the working tree, archiving HEAD" >&2; fi; \
	git archive --format=zip --prefix=$(DISTNAME)/ -o dist/$(DISTNAME).zip "$$tree:$$sub"
	@echo "dist/$(DISTNAME).zip"

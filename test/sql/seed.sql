-- seed: the seed project's manual test, verbatim, on a fresh database, with
-- the alias extension ruvector_postgres; then the refusal to install both
-- ruvector and ruvector_postgres in one database, in either order.
\set regress_db :DBNAME
-- (the CONTEXT of errors raised in extension scripts differs between versions)
\set SHOW_CONTEXT never
CREATE DATABASE ruvector_seed_test;
\c ruvector_seed_test

CREATE EXTENSION ruvector_postgres;
SELECT ruvector_attention_score(ARRAY[1.0, 0.0, 0.0]::float4[], ARRAY[1.0, 0.0, 0.0]::float4[], 'scaled_dot');
SELECT ruvector_multi_head_attention(ARRAY[1.0, 0.0, 0.0, 0.0]::float4[], ARRAY[ARRAY[1.0, 0.0, 0.0, 0.0]]::float4[][], ARRAY[ARRAY[5.0, 10.0, 15.0, 20.0]]::float4[][], 2);
SELECT * FROM ruvector_attention_types();

-- both installed: a clear error with a HINT
CREATE EXTENSION ruvector;
\echo :LAST_ERROR_SQLSTATE
SELECT extname, extversion FROM pg_extension WHERE extname LIKE 'ruvector%' ORDER BY extname;
-- the alias installs the same objects as ruvector
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments
FROM pg_proc AS p JOIN pg_depend AS d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	 JOIN pg_extension AS e ON d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass
WHERE e.extname = 'ruvector_postgres' ORDER BY 1;
DROP EXTENSION ruvector_postgres;

CREATE EXTENSION ruvector;
CREATE EXTENSION ruvector_postgres;
\echo :LAST_ERROR_SQLSTATE
SELECT round(ruvector_attention_score(ARRAY[1.0, 0.0, 0.0]::float4[], ARRAY[1.0, 0.0, 0.0]::float4[], 'scaled_dot')::numeric, 6) AS score;
DROP EXTENSION ruvector;

\c :regress_db
DROP DATABASE ruvector_seed_test;

-- jit: the functions under JIT compilation with inlining and optimisation
-- forced on (PGXS installs LLVM bitcode of the whole library for inlining).
-- The results are those of functions.sql.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = 0;
SET jit_optimize_above_cost = 0;

CREATE TEMP TABLE jt (i int, q real[], k real[], v real[]);
INSERT INTO jt VALUES
	(1, '{1,0,0,1}', '{{1,0,0,0},{0,0,0,1}}', '{{1,2},{3,4}}'),
	(2, '{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}', '{{1,0},{0,1},{1,1}}'),
	(3, '{0,0,0,0}', '{{1,0,0,0}}', '{{5,10}}');

SELECT i,
	   round(ruvector_attention_score(q, q)::numeric, 5) AS score,
	   (SELECT array_agg(round(x::numeric, 5)) FROM unnest(ruvector_softmax(q)) AS x) AS softmax,
	   (SELECT array_agg(round(x::numeric, 5)) FROM unnest(ruvector_attention_scores(q, k)) AS x) AS scores,
	   (SELECT array_agg(round(x::numeric, 5)) FROM unnest(ruvector_multi_head_attention(q, k, v, 2)) AS x) AS mha,
	   (SELECT array_agg(round(x::numeric, 5)) FROM unnest(ruvector_flash_attention(q, k, v, 1)) AS x) AS flash
FROM jt ORDER BY i;
SELECT count(*) AS types FROM ruvector_attention_types();
-- errors under JIT are the same errors
SELECT ruvector_flash_attention(q, k, v, 0) FROM jt;
\echo :LAST_ERROR_SQLSTATE

-- the query above was really JIT-compiled, where this server supports JIT
CREATE FUNCTION pg_temp.jit_functions(query text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
	RETURN coalesce((plan -> 0 -> 'JIT' ->> 'Functions')::int, 0);
END
$$;
SELECT NOT pg_jit_available() OR
	   pg_temp.jit_functions('SELECT ruvector_softmax(q), ruvector_flash_attention(q, k, v) FROM jt') > 0
	   AS jit_compiled;

RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;
RESET jit;
DROP TABLE jt;

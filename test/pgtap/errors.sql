-- pgTAP: every row of the error table (DESIGN.md section 4) raises its
-- SQLSTATE, with the message checked where it names sizes or names; plus the
-- GUC errors.
-- Run with: pg_prove test/pgtap/*.sql   (uses the PG* environment)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

SELECT plan(64);

-- NULL element inside an array: 22004
SELECT throws_ok($$SELECT ruvector_attention_score('{1,NULL}', '{1,0}')$$, '22004',
				 'query must not contain nulls', 'NULL in query');
SELECT throws_ok($$SELECT ruvector_attention_scores('{1,0}', '{{1,0},{NULL,1}}')$$, '22004',
				 'keys must not contain nulls', 'NULL in keys');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{1,0}', '{{1,0}}', '{{1,NULL}}', 1)$$, '22004',
				 'values must not contain nulls', 'NULL in values');
SELECT throws_ok($$SELECT ruvector_softmax('{1,NULL}')$$, '22004', 'scores must not contain nulls', 'NULL in scores');
SELECT throws_ok($$SELECT ruvector_attention_score('{1,0}', '{NULL,0}')$$, '22004', 'key must not contain nulls', 'NULL in key');

-- NaN or +/-Infinity in query, keys or values: 22000
SELECT throws_ok($$SELECT ruvector_attention_score('{1,NaN}', '{1,0}')$$, '22000',
				 'query must not contain NaN or infinity', 'NaN in query');
SELECT throws_ok($$SELECT ruvector_attention_scores('{1,0}', '{{1,0},{Infinity,0}}')$$, '22000',
				 'keys must not contain NaN or infinity', 'Infinity in keys');
SELECT throws_ok($$SELECT ruvector_flash_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2},{-Infinity,4}}')$$, '22000',
				 'values must not contain NaN or infinity', '-Infinity in values (flash)');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{{1,0},{NaN,0}}', '{{1,0}}', '{{1,2}}', 1)$$, '22000',
				 'query must not contain NaN or infinity', 'NaN in a batch query (multi_head)');
SELECT throws_ok($$SELECT ruvector_softmax('{1,Infinity}')$$, '22000',
				 'scores must not contain NaN or +Infinity', '+Infinity in softmax input');
SELECT lives_ok($$SELECT ruvector_softmax('{1,-Infinity}')$$, '-Infinity is allowed in softmax input');
SELECT throws_ok($$SELECT ruvector_attention_score('{1e30}', '{1e30}')$$, '22003',
				 'attention result is out of range for type real', 'a finite logit that overflows real');

-- dimension mismatch: 22000, the message names both sizes
SELECT throws_ok($$SELECT ruvector_attention_score('{1,0,0}', '{1,0,0,0}')$$, '22000',
				 'query has 3 dimensions but key has 4', 'score: query vs key length');
SELECT throws_ok($$SELECT ruvector_attention_scores('{1,0,0}', '{{1,0,0,0}}')$$, '22000',
				 'query has 3 dimensions but keys have 4 columns', 'scores: query vs keys');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2},{3,4},{5,6}}', 1)$$, '22000',
				 'keys have 2 rows but values have 3 rows', 'multi_head: keys vs values rows');
SELECT throws_ok($$SELECT ruvector_flash_attention('{1,0,0}', '{{1,0}}', '{{1,2}}')$$, '22000',
				 'query has 3 dimensions but keys have 2 columns', 'flash: query vs keys');

-- keys/values not 2-D, query not 1-D: 22000 with a HINT
SELECT throws_ok($$SELECT ruvector_attention_scores('{1,0}', '{1,0}')$$, '22000',
				 'keys must be a 2-D array, not 1-D', 'scores: 1-D keys');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{1,0}', '{{1,0}}', '{1,2}', 1)$$, '22000',
				 'values must be a 2-D array, not 1-D', 'multi_head: 1-D values');
SELECT throws_ok($$SELECT ruvector_flash_attention('{{{1,0}}}', '{{1,0}}', '{{1,2}}')$$, '22000',
				 'query must be a 1-D or 2-D array, not 3-D', 'flash: 3-D query');
SELECT throws_ok($$SELECT ruvector_attention_score('{{1,0}}', '{1,0}')$$, '22000',
				 'query must be a 1-D array, not 2-D', 'score: 2-D query');
SELECT throws_ok($$SELECT ruvector_softmax('{{1,2},{3,4}}')$$, '22000',
				 'scores must be a 1-D array, not 2-D', 'softmax: 2-D scores');
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN data_exception THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN h;
END
$$;
SELECT is(pg_temp.hint_of($$SELECT ruvector_attention_scores('{1,0}', '{1,0}')$$),
		  'Pass keys as a 2-D array with one row per key, such as ARRAY[[1,0],[0,1]]::real[].',
		  'the HINT shows the right literal for keys');

-- empty query vector: 22023
SELECT throws_ok($$SELECT ruvector_attention_score('{}', '{}')$$, '22023', 'query must not be empty', 'score: empty query');
SELECT throws_ok($$SELECT ruvector_attention_scores('{}', '{}')$$, '22023', 'query must not be empty', 'scores: empty query');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{}', '{{1}}', '{{1}}', 1)$$, '22023',
				 'query must not be empty', 'multi_head: empty query');
SELECT throws_ok($$SELECT ruvector_flash_attention('{}', '{}', '{}')$$, '22023', 'query must not be empty', 'flash: empty query');

-- zero keys: scores give '{}', outputs NULL
SELECT is(ruvector_attention_scores('{1,0}', '{}'), '{}'::real[], 'scores: zero keys give {}');
SELECT is(ruvector_multi_head_attention('{1,0}', '{}', '{}', 1), NULL, 'multi_head: zero keys give NULL');
SELECT is(ruvector_flash_attention('{1,0}', '{}', '{}'), NULL, 'flash: zero keys give NULL');

-- num_heads < 1, d or dv not divisible, block_size < 1 or absurd: 22023
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{1,0}', '{{1,0}}', '{{1,2}}', 0)$$, '22023',
				 'num_heads must be at least 1, not 0', 'num_heads 0');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{1,0,0}', '{{1,0,0}}', '{{1,2}}', 2)$$, '22023',
				 'num_heads (2) must divide the query dimension (3)', 'd not divisible by num_heads');
SELECT throws_ok($$SELECT ruvector_multi_head_attention('{1,0}', '{{1,0}}', '{{1,2,3}}', 2)$$, '22023',
				 'num_heads (2) must divide the value dimension (3)', 'dv not divisible by num_heads');
SELECT throws_ok($$SELECT ruvector_attention_score('{1,0,0}', '{1,0,0}', 'multi_head')$$, '22023', NULL,
				 'the multi_head type needs d divisible by 4');
SELECT throws_ok($$SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{{1,2}}', 0)$$, '22023',
				 'block_size must be between 1 and 65536, not 0', 'block_size 0');
SELECT throws_ok($$SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{{1,2}}', 1000000)$$, '22023',
				 'block_size must be between 1 and 65536, not 1000000', 'absurd block_size');

-- unknown attention_type: 22023, the HINT lists the names
SELECT throws_ok($$SELECT ruvector_attention_score('{1,0}', '{1,0}', 'dot')$$, '22023',
				 'unknown attention type "dot"', 'unknown attention type');
CREATE FUNCTION pg_temp.type_hint(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	PERFORM ruvector_attention_score('{1,0}', '{1,0}', t);
	RETURN NULL;
EXCEPTION WHEN invalid_parameter_value THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN h;
END
$$;
SELECT ok(pg_temp.type_hint('dot') LIKE '%scaled_dot, multi_head, flash_v2, linear, gat, sparse, moe, cross, sliding, poincare, lorentz%',
		  'the HINT of an unknown type lists every name');
SELECT lives_ok($$SELECT ruvector_attention_scores('{1,0}', '{{1,0}}', 'gat')$$, 'every listed type is computed');
SELECT lives_ok($$SELECT ruvector_attention_score('{1,0}', '{1,0}', 'Lorentz')$$, 'lorentz, any case');
SELECT lives_ok($$SELECT ruvector_attention_score('{0.1,0}', '{0.1,0}', U&'Poincar\00E9')$$, 'alias poincaré, any case');

-- the other types' parameters: 22023 naming the parameter and the value
SELECT throws_ok($$SELECT ruvector_sparse_attention('{1,0}', '{{1,0}}', '{{1}}', 0)$$, '22023',
				 'top_k must be at least 1, not 0', 'sparse top_k 0');
SELECT throws_ok($$SELECT ruvector_moe_attention('{1,0}', '{{1,0}}', '{{1}}', -1)$$, '22023',
				 'n_experts must be at least 1, not -1', 'moe n_experts -1');
SELECT throws_ok($$SELECT ruvector_moe_attention('{1,0}', '{{1,0}}', '{{1}}', 4, 0)$$, '22023',
				 'top_k must be at least 1, not 0', 'moe top_k 0');
SELECT throws_ok($$SELECT ruvector_sliding_window_attention('{1,0}', '{{1,0}}', '{{1}}', 0)$$, '22023',
				 'window_size must be at least 1, not 0', 'window_size 0');
SELECT throws_ok($$SELECT ruvector_cross_attention('{1,0}', '{{1,0}}', '{{1}}', false, 2)$$, '22023',
				 'num_heads (2) must divide the value dimension (1)', 'cross num_heads not dividing dv');
SELECT throws_ok($$SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 'NaN')$$, '22023',
				 'negative_slope must be a finite number, not NaN', 'gat negative_slope NaN');
SELECT throws_ok($$SELECT ruvector_hyperbolic_attention('{0.1}', '{{0.1}}', '{{0.1}}', 'poincare', 0)$$, '22023',
				 'curvature must be a positive finite number, not 0', 'curvature 0');
SELECT throws_ok($$SELECT ruvector_hyperbolic_attention('{0.1}', '{{0.1}}', '{{0.1}}', 'euclid')$$, '22023',
				 'unknown hyperbolic model "euclid"', 'unknown hyperbolic model');
-- their shapes and domains: 22000
SELECT throws_ok($$SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 0.2, '{1,2,3}')$$, '22000',
				 'attention_vector has 3 elements but must have 2 x 2 (twice the query dimension)',
				 'gat attention_vector of the wrong length');
SELECT throws_ok($$SELECT ruvector_linear_attention_from_summary('{1,0,0}', '{{1,2},{3,4}}')$$, '22000',
				 'query has 3 dimensions but summary has 2 rows', 'summary rows vs query');
SELECT throws_ok($$SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0},{0.8,0.8}}', '{{0.1},{0.2}}')$$, '22000',
				 'keys must lie inside the Poincare ball of curvature 1', 'a key outside the ball');
SELECT throws_ok($$SELECT ruvector_hyperbolic_attention('{1,0}', '{{0.1,0}}', '{{0.1}}')$$, '22000',
				 'query must lie inside the Poincare ball of curvature 1', 'a query on the sphere');
SELECT throws_ok($$SELECT ruvector_linear_attention('{-200,-200}', '{{-200,-200}}', '{{1}}')$$, '22003',
				 NULL, 'linear: every kernel weight underflows');
SELECT lives_ok($$SELECT ruvector_attention_score('{1,0}', '{1,0}', 'ScaledDot')$$, 'alias scaleddot, any case');
SELECT lives_ok($$SELECT ruvector_attention_scores('{1,0,0,0}', '{{1,0,0,0}}', 'MULTIHEAD')$$, 'alias multihead, any case');
SELECT lives_ok($$SELECT ruvector_attention_score('{1,0}', '{1,0}', 'flash')$$, 'alias flash');

-- sizes that exceed 1 GB allocations: 54000
SELECT throws_ok($$SELECT ruvector_attention_scores(array_fill(1::real, ARRAY[20000, 1]), array_fill(1::real, ARRAY[20000, 1]))$$,
				 '54000', NULL, 'a 20000 x 20000 weight matrix is refused before allocating');
SELECT throws_ok($$SELECT ruvector_flash_attention(array_fill(1::real, ARRAY[20000, 1]), '{{1}}', array_fill(1::real, ARRAY[1, 20000]))$$,
				 '54000', NULL, 'a 20000 x 20000 output is refused before allocating');
SELECT throws_ok($$SELECT ruvector_attention(array_fill(1::real, ARRAY[20000, 1]), '{{1}}', array_fill(1::real, ARRAY[1, 20000]), 'cross')$$,
				 '54000', NULL, 'a 20000 x 20000 cross-attention output is refused before allocating');

-- softmax of all -Infinity: 22000
SELECT throws_ok($$SELECT ruvector_softmax('{-Infinity,-Infinity}')$$, '22000',
				 'softmax input is all -Infinity', 'softmax of all -Infinity');

-- GUC errors: 22023
SELECT throws_ok($$SET ruvector.simd = 'sse2'$$, '22023', NULL, 'unknown SIMD backend');
SELECT throws_ok(format('SET ruvector.simd = %L',
						(SELECT b FROM unnest(ARRAY['neon', 'avx2']) AS b
						 WHERE b <> ALL ((ruvector_simd_info()).supported) LIMIT 1)),
				 '22023', NULL, 'a SIMD backend this CPU does not support');
SELECT throws_ok($$SET ruvector.max_threads = 0$$, '22023', NULL, 'max_threads 0');
SELECT lives_ok($$SET LOCAL ruvector.simd = 'scalar'$$, 'the scalar backend can always be forced');

SELECT * FROM finish();
ROLLBACK;

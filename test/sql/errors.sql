-- errors: every row of the error table (DESIGN.md section 4), with the
-- SQLSTATE printed after each error.  scalar.sql re-runs this file under
-- SET ruvector.simd = 'scalar'.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

--
-- NULL element inside an array: 22004
--
SELECT ruvector_attention_score('{1,NULL}', '{1,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{1,0}', '{NULL,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_softmax('{1,NULL,3}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0}', '{{1,0},{NULL,1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0}', '{{1,0}}', '{{1,NULL}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{{1,0},{NULL,NULL}}', '{{1,0}}', '{{1,2}}');
\echo :LAST_ERROR_SQLSTATE

--
-- NaN or +/-Infinity in query, keys or values: 22000, naming array and row
--
SELECT ruvector_attention_score('{1,NaN}', '{1,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{1,0}', '{1,-Infinity}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{1,0,0,0}', '{1,0,Infinity,0}', 'multi_head');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0}', '{{1,0},{0,1},{Infinity,0}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{{1,0},{NaN,0}}', '{{1,0},{0,1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0,0,0}', '{{1,0,0,0},{0,NaN,0,0}}', 'multi_head');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2},{3,Infinity}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{{1,0},{0,-Infinity}}', '{{1,0},{0,1}}', '{{1,2},{3,4}}', 2);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2},{NaN,4}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0},{0,1},{0,NaN}}', '{{1,2},{3,4},{5,6}}');
\echo :LAST_ERROR_SQLSTATE
-- in softmax -Infinity is allowed (masking), NaN and +Infinity are not
SELECT ruvector_softmax('{1,-Infinity,NaN}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_softmax('{1,Infinity}');
\echo :LAST_ERROR_SQLSTATE
-- finite inputs whose logit overflows real: out of range, 22003
SELECT ruvector_attention_score('{1e30}', '{1e30}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1e30,1e30}', '{{1e30,1e30}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1e20}', '{{1e20}}', '{{1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1e20}', '{{1e20}}', '{{1}}', 1);
\echo :LAST_ERROR_SQLSTATE

--
-- dimension mismatch: 22000, the message names both sizes
--
SELECT ruvector_attention_score('{1,0,0}', '{1,0,0,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{1,0,0}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0,0}', '{{1,0,0,0},{0,1,0,0}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{{1},{0}}', '{{1,0}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0,0}', '{{1,0,0,0}}', '{{1}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2},{3,4},{5,6}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{{1,2},{3,4}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{}', '{{1,2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{}');
\echo :LAST_ERROR_SQLSTATE

--
-- keys/values not 2-D, query not 1-D (or 2-D for a batch): 22000 with a HINT
--
SELECT ruvector_attention_scores('{1,0}', '{1,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0}', '{1,0}', '{{1,2}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0}', '{{1,0}}', '{1,2}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{{1,0}}}', '{{1,2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{{{1,0}}}', '{{1,0}}', '{{1,2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{{{1,0}}}', '{{1,0}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{{1,0}}', '{1,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{1,0}', '{{1,0}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_softmax('{{1,2},{3,4}}');
\echo :LAST_ERROR_SQLSTATE

--
-- empty query vector: 22023
--
SELECT ruvector_attention_score('{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{}', '{{1,0}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{}', '{{1,0}}', '{{1,2}}', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{}', '{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention(array_fill(1::real, ARRAY[0, 3]), '{{1,0,0}}', '{{1}}');
\echo :LAST_ERROR_SQLSTATE

--
-- zero keys ('{}'): scores give '{}', outputs give NULL (not errors)
--
SELECT ruvector_attention_scores('{1,0}', '{}') AS scores,
       ruvector_multi_head_attention('{1,0,0,0}', '{}', '{}') IS NULL AS multi_head_null,
       ruvector_flash_attention('{{1,0},{0,1}}', '{}', '{}') IS NULL AS flash_null;

--
-- num_heads < 1, d or dv not divisible by num_heads, block_size < 1 or
-- absurd: 22023
--
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{1,2,3,4}}', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{1,2,3,4}}', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{1,2,3,4,5,6}}', 3);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{1,2,3}}', 2);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{1,2,3,4}}', 2147483647);
\echo :LAST_ERROR_SQLSTATE
-- invalid num_heads is an error even without keys
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{}', '{}', 0);
\echo :LAST_ERROR_SQLSTATE
-- the multi_head attention type of the score functions uses 4 heads
SELECT ruvector_attention_score('{1,0,0}', '{1,0,0}', 'multi_head');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0,0,0,0,0}', '{{1,0,0,0,0,0}}', 'multi_head');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{{1,2}}', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{{1,2}}', -64);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{{1,0}}', '{{1,2}}', 65537);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention('{1,0}', '{}', '{}', 2147483647);
\echo :LAST_ERROR_SQLSTATE

--
-- unknown attention_type: 22023 with the valid names in the HINT (never
-- silently scaled_dot)
--
SELECT ruvector_attention_score('{1,0}', '{1,0}', 'dot');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0}', '{{1,0}}', '');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{1,0}', '{}', 'scaled dot');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{1,0}', '{1,0}', repeat('x', 100));
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention('{1,0}', '{{1,0}}', '{{1}}', 'hyperbolic');
\echo :LAST_ERROR_SQLSTATE
-- every catalogue entry is computed, by its name and case-insensitively
DO $$
DECLARE
	t text;
	st text;
BEGIN
	FOR t IN SELECT name FROM ruvector_attention_types() ORDER BY name LOOP
		BEGIN
			PERFORM ruvector_attention_scores('{0.1,0,0,0}', '{{0.1,0,0,0}}', upper(t)),
					ruvector_attention_score('{0.1,0,0,0}', '{0.1,0,0,0}', t),
					ruvector_attention('{0.1,0,0,0}', '{{0.1,0,0,0}}', '{{0.1,0,0,0}}', t);
			st := 'ok';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
		END;
		RAISE NOTICE '%: %', t, st;
	END LOOP;
END
$$;

--
-- parameters of the other attention types: 22023 naming the parameter
--
SELECT ruvector_sparse_attention('{1,0}', '{{1,0}}', '{{1}}', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_sparse_attention('{1,0}', '{{1,0}}', '{{1}}', -8);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_moe_attention('{1,0}', '{{1,0}}', '{{1}}', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_moe_attention('{1,0}', '{{1,0}}', '{{1}}', 4, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_sliding_window_attention('{1,0}', '{{1,0}}', '{{1}}', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_cross_attention('{1,0}', '{{1,0}}', '{{1}}', false, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_cross_attention('{1,0}', '{{1,0}}', '{{1,2,3}}', true, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_cross_attention('{1,0,0}', '{{1,0,0}}', '{{1,2}}', true, 3);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', '-Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0}}', '{{0.1}}', 'klein');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0}}', '{{0.1}}', 'poincare', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0}}', '{{0.1}}', 'lorentz', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0}}', '{{0.1}}', 'lorentz', 'Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0}}', '{{0.1}}', 'poincare', 'NaN');
\echo :LAST_ERROR_SQLSTATE
-- the multi_head default of 4 heads must divide d and dv
SELECT ruvector_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{1,2}}', 'multi_head');
\echo :LAST_ERROR_SQLSTATE

--
-- shapes of the other attention types' arguments: 22000
--
-- the gat attention vector is [a1; a2], twice the query's length
SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 0.2, '{1,2,3}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 0.2, '{{1,2},{3,4}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 0.2, '{1,NaN,0,0}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_gat_attention('{1,0}', '{{1,0}}', '{{1}}', 0.2, '{1,NULL,0,0}');
\echo :LAST_ERROR_SQLSTATE
-- the linear-attention summary is d x (dv + 1)
SELECT ruvector_linear_attention_from_summary('{1,0}', '{1,2,3}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_linear_attention_from_summary('{1,0}', '{{1},{2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_linear_attention_from_summary('{1,0,0}', '{{1,2},{3,4}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_linear_attention_summary('{{1,0}}', '{{1},{2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_linear_attention_summary('{1,0}', '{{1}}');
\echo :LAST_ERROR_SQLSTATE
-- phi(q).z = 0: no weight at all
SELECT ruvector_linear_attention_from_summary('{1,0}', '{{1,0},{1,0}}');
\echo :LAST_ERROR_SQLSTATE
-- every kernel weight underflows: phi(-200) = exp(-200) = 0 in float
SELECT ruvector_linear_attention('{-200,-200}', '{{-200,-200}}', '{{1}}');
\echo :LAST_ERROR_SQLSTATE
-- Poincare points must lie inside the ball c |x|^2 < 1; the error names the row
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0},{0.8,0.8}}', '{{0.1},{0.2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0},{0.2,0}}', '{{0.1},{1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{1,0}', '{{0.1,0}}', '{{0.1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{{0.1,0},{0,1.5}}', '{{0.1,0}}', '{{0.1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_hyperbolic_attention('{0.5,0}', '{{0.5,0}}', '{{0.1}}', 'poincare', 4);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores('{0.1,0}', '{{0.1,0},{0.8,0.8}}', 'poincare');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_score('{0.1,0}', '{1,0}', 'poincare');
\echo :LAST_ERROR_SQLSTATE
-- a NaN is reported as a NaN, not as a point outside the ball
SELECT ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0},{NaN,0}}', '{{0.1},{0.2}}');
\echo :LAST_ERROR_SQLSTATE
-- the Lorentz model takes any point
SELECT array_length(ruvector_hyperbolic_attention('{5,0}', '{{0.1,0},{0.8,0.8}}', '{{3},{4}}', 'lorentz'), 1) AS lorentz_ok;

--
-- sizes that exceed the 1 GB allocation limit: 54000, before allocating
--
-- 20000 queries x 20000 keys would be 400 million weights (1.6 GB)
SELECT ruvector_attention_scores(array_fill(1::real, ARRAY[20000, 1]), array_fill(1::real, ARRAY[20000, 1]));
\echo :LAST_ERROR_SQLSTATE
-- 20000 queries x 20000 value dimensions
SELECT ruvector_multi_head_attention(array_fill(1::real, ARRAY[20000, 1]), '{{1}}', array_fill(1::real, ARRAY[1, 20000]), 1);
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_flash_attention(array_fill(1::real, ARRAY[20000, 1]), '{{1}}', array_fill(1::real, ARRAY[1, 20000]));
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_cross_attention(array_fill(1::real, ARRAY[20000, 1]), '{{1}}', array_fill(1::real, ARRAY[1, 20000]));
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_attention_scores(array_fill(0.1::real, ARRAY[20000, 1]), array_fill(0.1::real, ARRAY[20000, 1]), 'poincare');
\echo :LAST_ERROR_SQLSTATE

--
-- softmax of all -Infinity: 22000
--
SELECT ruvector_softmax('{-Infinity}');
\echo :LAST_ERROR_SQLSTATE
SELECT ruvector_softmax('{-Infinity,-Infinity,-Infinity}');
\echo :LAST_ERROR_SQLSTATE

-- after all these errors the functions still work in this session
SELECT ruvector_softmax('{0,0}') AS still_works;

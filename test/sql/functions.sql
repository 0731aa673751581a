-- functions: every SQL function on known values (checked against float64
-- numpy by hand), 1-D and 2-D (batch) queries, defaults, named notation,
-- type-name aliases, lower bounds, empty inputs and NULL arguments.
-- Floats are rounded so that the last bits, which differ between SIMD
-- backends, do not change the expected output.  scalar.sql re-runs this file
-- under SET ruvector.simd = 'scalar'.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

-- round every element to 5 decimals, keeping the array's shape
CREATE OR REPLACE FUNCTION pg_temp.rnd(a real[], digits int DEFAULT 5)
RETURNS numeric[] LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE array_ndims(a)
		WHEN 1 THEN (SELECT array_agg(round(x::float8::numeric, digits) ORDER BY i)
					 FROM unnest(a) WITH ORDINALITY AS u(x, i))
		WHEN 2 THEN (SELECT array_agg(r ORDER BY i) FROM
					 (SELECT i, array_agg(round(a[i][j]::float8::numeric, digits) ORDER BY j) AS r
					  FROM generate_subscripts(a, 1) AS i, generate_subscripts(a, 2) AS j
					  GROUP BY i) AS rows)
		ELSE a::numeric[] END
$$;

--
-- ruvector_attention_score: the raw logit q.k/sqrt(d), not a softmax weight
--
SELECT round(ruvector_attention_score('{1,0,0}', '{1,0,0}')::numeric, 5) AS default_type;
SELECT round(ruvector_attention_score('{1,0,0}', '{1,0,0}', 'scaled_dot')::numeric, 5) AS scaled_dot;
SELECT ruvector_attention_score('{1,0,0}', '{0,1,0}') AS orthogonal;
SELECT round(ruvector_attention_score('{1,-2}', '{3,4}')::numeric, 5) AS negative;
SELECT ruvector_attention_score(array_fill(1::real, ARRAY[100]), array_fill(1::real, ARRAY[100])) AS d100;
SELECT ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}', 'scaled_dot') AS scaled_dot,
       ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}', 'flash_v2') AS flash_v2,
       ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}', 'multi_head') AS multi_head_4_heads;
-- names are case-insensitive and the upstream aliases are accepted
SELECT t, ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}', t) AS score
FROM unnest(ARRAY['SCALED_DOT', 'ScaledDot', 'scaleddot', 'Flash', 'FLASHV2', 'Flash_V2',
                  'multihead', 'Multi_Head']) AS t;
-- lower bounds are ignored
SELECT ruvector_attention_score('[0:3]={1,2,3,4}', '[-5:-2]={1,1,1,1}') AS lower_bounds;

--
-- ruvector_softmax
--
SELECT pg_temp.rnd(ruvector_softmax('{1,2,3}')) AS softmax_123;
SELECT ruvector_softmax('{5}') AS one, ruvector_softmax('{0,0,0,0}') AS uniform;
SELECT ruvector_softmax('{}') AS empty;
-- -Infinity masks an entry (weight exactly 0)
SELECT ruvector_softmax('{-Infinity,0,-Infinity}') AS masked,
       pg_temp.rnd(ruvector_softmax('{-Infinity,1,2,3}')) AS masked_123;
-- numerically stable: large logits neither overflow nor underflow to NaN
SELECT ruvector_softmax('{1000,1000}') AS large, ruvector_softmax('{-1000,0}') AS far_apart,
       pg_temp.rnd(ruvector_softmax('{-3e38,3e38,-3e38}')) AS extreme;
SELECT pg_temp.rnd(ruvector_softmax('[5:7]={3,2,1}')) AS lower_bound,
       array_dims(ruvector_softmax('[5:7]={3,2,1}')) AS result_dims;
-- many entries: the weights still sum to 1
SELECT round(sum(w::float8)::numeric, 5) AS sum_4099, count(*) AS n
FROM unnest(ruvector_softmax(ARRAY(SELECT ((i % 17) / 4.0)::real FROM generate_series(1, 4099) AS i))) AS w;

--
-- ruvector_attention_scores: weights of a query over n keys (sum 1)
--
SELECT pg_temp.rnd(ruvector_attention_scores('{1,0}', '{{1,0},{0,1}}')) AS two_keys;
SELECT pg_temp.rnd(ruvector_attention_scores('{1,0,0}', '{{1,0,0},{0,1,0},{0,0,1}}', 'scaled_dot')) AS three_keys;
SELECT pg_temp.rnd(ruvector_attention_scores('{1,0,0}', '{{1,0,0}}')) AS one_key;
SELECT pg_temp.rnd(ruvector_attention_scores('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}', 'flash_v2')) AS flash_v2,
       pg_temp.rnd(ruvector_attention_scores('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}', 'scaled_dot')) AS scaled_dot;
-- multi_head: the mean over 4 heads of each head's softmax
SELECT pg_temp.rnd(ruvector_attention_scores('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}', 'multi_head')) AS multi_head,
       pg_temp.rnd(ruvector_attention_scores('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}', 'MultiHead')) AS alias;
-- a batch of queries (m x d) gives m x n weights, one row per query
SELECT pg_temp.rnd(ruvector_attention_scores('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1}}')) AS batch,
       array_dims(ruvector_attention_scores('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1}}')) AS dims;
SELECT array_dims(ruvector_attention_scores('{{1,0}}', '{{1,0},{0,1}}')) AS one_row_batch,
       array_dims(ruvector_attention_scores('{1,0}', '[3:4][7:8]={{1,0},{0,1}}')) AS lower_bounds;
SELECT pg_temp.rnd(ruvector_attention_scores('{{1,2,3,4},{0,0,0,1}}', '{{1,1,1,1},{4,3,2,1}}', 'multi_head')) AS batch_multi_head;
-- no keys: no weights
SELECT ruvector_attention_scores('{1,0}', '{}') AS no_keys,
       ruvector_attention_scores('{{1,0,0,0},{0,1,0,0}}', '{}', 'multi_head') AS no_keys_batch;
-- 1000 keys: the weights sum to 1
SELECT round(sum(w::float8)::numeric, 5) AS sum_1000, count(*) AS n
FROM unnest(ruvector_attention_scores('{1,-1,0.5}',
	(SELECT array_agg(ARRAY[sin(i), cos(i), sin(2 * i)]::real[]) FROM generate_series(1, 1000) AS i))) AS w;

--
-- ruvector_multi_head_attention
--
-- one key: every head's weight is 1, so the result is that key's value row
SELECT ruvector_multi_head_attention('{1,0,0,0}', '{{1,0,0,0}}', '{{5,10,15,20}}', 2) AS one_key;
-- two heads over two keys: head 0 prefers key 1, head 1 prefers key 2
SELECT pg_temp.rnd(ruvector_multi_head_attention('{1,0,0,1}', '{{1,0,0,0},{0,0,0,1}}', '{{1,2},{3,4}}', 2)) AS two_heads;
-- default num_heads is 4
SELECT pg_temp.rnd(ruvector_multi_head_attention('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}',
                                                  '{{1,0,0,0},{0,1,0,0},{0,0,1,1}}')) AS default_heads,
       pg_temp.rnd(ruvector_multi_head_attention('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}',
                                                  '{{1,0,0,0},{0,1,0,0},{0,0,1,1}}', 4)) AS four_heads;
SELECT pg_temp.rnd(ruvector_multi_head_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2,3},{4,5,6}}', 1)) AS one_head;
-- named notation ("values" is a keyword, hence the quotes)
SELECT pg_temp.rnd(ruvector_multi_head_attention(query => '{1,0,0,1}', keys => '{{1,0,0,0},{0,0,0,1}}',
                                                  "values" => '{{1,2},{3,4}}', num_heads => 2)) AS named;
-- a batch of queries gives m x dv, rows independent
SELECT pg_temp.rnd(ruvector_multi_head_attention('{{1,0,0,1},{0,1,1,0},{1,0,0,1}}', '{{1,0,0,0},{0,0,0,1}}',
                                                  '{{1,2},{3,4}}', 2)) AS batch,
       array_dims(ruvector_multi_head_attention('{{1,0,0,1},{0,1,1,0},{1,0,0,1}}', '{{1,0,0,0},{0,0,0,1}}',
                                                '{{1,2},{3,4}}', 2)) AS dims;
SELECT array_dims(ruvector_multi_head_attention('[2:2][0:1]={{1,0}}', '[5:6][5:6]={{1,0},{0,1}}',
                                                '{{1,2,3},{4,5,6}}', 1)) AS lower_bounds;
-- no keys: NULL
SELECT ruvector_multi_head_attention('{1,0}', '{}', '{}', 2) IS NULL AS no_keys;

--
-- ruvector_flash_attention: the same result as single-head attention
--
SELECT pg_temp.rnd(ruvector_flash_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2,3},{4,5,6}}')) AS flash;
SELECT b AS block_size,
       pg_temp.rnd(ruvector_flash_attention('{1,0,1}', '{{1,0,0},{0,1,0},{0,0,1},{1,1,1},{-1,0,2}}',
                                            '{{1,0},{0,1},{1,1},{2,2},{-1,3}}', b)) AS flash
FROM unnest(ARRAY[1, 2, 3, 4, 5, 64, 65536]) AS b;
SELECT pg_temp.rnd(ruvector_flash_attention(query => '{1,0}', keys => '{{1,0},{0,1}}',
                                            "values" => '{{1,2,3},{4,5,6}}', block_size => 1)) AS named;
SELECT pg_temp.rnd(ruvector_flash_attention('{{1,0},{0,1}}', '{{1,0},{0,1}}', '{{1,2,3},{4,5,6}}', 1)) AS batch;
SELECT ruvector_flash_attention('{1,0}', '{}', '{}') IS NULL AS no_keys;
-- flash and one-head multi_head agree on 300 keys of 8 dimensions (results
-- near 10 are rounded to 4 decimals: 1e-5 is their last float4 digit)
WITH m AS (
	SELECT (SELECT array_agg(ARRAY[sin(i), cos(i), sin(2*i), cos(3*i), sin(5*i), 0.5, -0.25, cos(i/7.0)]::real[])
			FROM generate_series(1, 300) AS i) AS k,
		   (SELECT array_agg(ARRAY[i % 7, -(i % 5), sqrt(i)]::real[]) FROM generate_series(1, 300) AS i) AS v
), r AS (
	SELECT ruvector_flash_attention('{0.5,1,-1,0.25,0,2,1,-0.5}', k, v, 16) AS f,
		   ruvector_multi_head_attention('{0.5,1,-1,0.25,0,2,1,-0.5}', k, v, 1) AS h
	FROM m
)
SELECT pg_temp.rnd(f, 4) AS flash, max(abs(x - y)) < 1e-5 AS agree
FROM r, unnest(f, h) AS u(x, y) GROUP BY f;

--
-- STRICT: a NULL argument gives NULL
--
SELECT ruvector_attention_score(NULL, '{1}') IS NULL AS a, ruvector_attention_score('{1}', NULL) IS NULL AS b,
       ruvector_attention_score('{1}', '{1}', NULL) IS NULL AS c;
SELECT ruvector_softmax(NULL) IS NULL AS softmax;
SELECT ruvector_attention_scores(NULL, '{{1}}') IS NULL AS a, ruvector_attention_scores('{1}', NULL) IS NULL AS b,
       ruvector_attention_scores('{1}', '{{1}}', NULL) IS NULL AS c;
SELECT ruvector_multi_head_attention(NULL, '{{1}}', '{{1}}') IS NULL AS a,
       ruvector_multi_head_attention('{1}', NULL, '{{1}}') IS NULL AS b,
       ruvector_multi_head_attention('{1}', '{{1}}', NULL) IS NULL AS c,
       ruvector_multi_head_attention('{1}', '{{1}}', '{{1}}', NULL) IS NULL AS d;
SELECT ruvector_flash_attention(NULL, '{{1}}', '{{1}}') IS NULL AS a,
       ruvector_flash_attention('{1}', NULL, '{{1}}') IS NULL AS b,
       ruvector_flash_attention('{1}', '{{1}}', NULL) IS NULL AS c,
       ruvector_flash_attention('{1}', '{{1}}', '{{1}}', NULL) IS NULL AS d;

--
-- ruvector_attention_types: the whole catalogue, lorentz included
--
SELECT * FROM ruvector_attention_types();
-- the types computed so far (errors.sql covers the others)
SELECT name, ruvector_attention_score('{1,0,0,0}', '{1,0,0,0}', name) IS NOT NULL AS computed
FROM ruvector_attention_types() WHERE name IN ('scaled_dot', 'multi_head', 'flash_v2');

--
-- ruvector_simd_info: only facts that hold on every machine
--
SELECT active = ANY (supported) AS active_supported, best = ANY (supported) AS best_supported,
       'scalar' = ANY (supported) AS has_scalar, supported[1] AS first
FROM ruvector_simd_info();

-- pgTAP: results against known values (float64 numpy references) with
-- tolerances, the seed's manual test, batch queries, and agreements that
-- must hold on every SIMD backend (flash == one-head multi_head, scalar ==
-- the best backend, any thread count == one thread).
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

SELECT plan(39);

-- largest absolute difference between two real[] of the same shape
CREATE FUNCTION pg_temp.max_diff(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN array_dims(a) IS DISTINCT FROM array_dims(b) THEN 'Infinity'::float8
				ELSE (SELECT coalesce(max(abs(x::float8 - y::float8)), 0) FROM unnest(a, b) AS u(x, y)) END
$$;
-- a deterministic n x d matrix with entries in [-1, 1]
CREATE FUNCTION pg_temp.matrix(n int, d int, seed int) RETURNS real[] LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(ARRAY(SELECT sin(i * 131 + j * 17 + seed)::real FROM generate_series(1, d) AS j) ORDER BY i)
	FROM generate_series(1, n) AS i
$$;

-- the seed's manual test
SELECT ok(abs(ruvector_attention_score(ARRAY[1.0, 0.0, 0.0]::float4[], ARRAY[1.0, 0.0, 0.0]::float4[], 'scaled_dot')
			  - 0.5773502691896258) < 1e-6, 'seed: scaled_dot score of e1 with itself is 1/sqrt(3)');
SELECT is(ruvector_multi_head_attention(ARRAY[1.0, 0.0, 0.0, 0.0]::float4[], ARRAY[ARRAY[1.0, 0.0, 0.0, 0.0]]::float4[][],
										ARRAY[ARRAY[5.0, 10.0, 15.0, 20.0]]::float4[][], 2),
		  '{5,10,15,20}'::real[], 'seed: one key gives its value row under 2 heads');
SELECT set_eq('SELECT name FROM ruvector_attention_types()',
			  ARRAY['scaled_dot', 'multi_head', 'flash_v2', 'linear', 'gat', 'sparse', 'moe',
					'cross', 'sliding', 'poincare', 'lorentz'],
			  'seed: ruvector_attention_types() lists the 11 types, lorentz included');
SELECT is((SELECT count(*) FROM ruvector_attention_types() WHERE complexity <> '' AND best_for <> ''),
		  11::bigint, 'every attention type has a complexity and a use');

-- ruvector_attention_score
SELECT ok(abs(ruvector_attention_score('{1,-2}', '{3,4}') + 3.5355339059327373) < 1e-6, 'score: (3 - 8)/sqrt(2)');
SELECT is(ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}'), 5::real, 'score: default type is scaled_dot');
SELECT is(ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}', 'FlashV2'), 5::real, 'score: flash_v2 scores like scaled_dot');
SELECT is(ruvector_attention_score('{1,2,3,4}', '{1,1,1,1}', 'multi_head'), 2.5::real,
		  'score: multi_head is the mean of the 4 per-head logits');
SELECT is(ruvector_attention_score('[0:2]={1,0,0}', '[7:9]={1,0,0}'),
		  ruvector_attention_score('{1,0,0}', '{1,0,0}'), 'score: lower bounds are ignored');

-- ruvector_softmax
SELECT ok(pg_temp.max_diff(ruvector_softmax('{1,2,3}'), '{0.090030573,0.244728471,0.665240956}') < 1e-6,
		  'softmax {1,2,3}');
SELECT is(ruvector_softmax('{}'), '{}'::real[], 'softmax of {} is {}');
SELECT ok(pg_temp.max_diff(ruvector_softmax('{-Infinity,1,2,3}'), '{0,0.090030573,0.244728471,0.665240956}') < 1e-6,
		  'softmax: -Infinity gets weight 0');
SELECT is(ruvector_softmax('{-1000,0,1000}'), '{0,0,1}'::real[], 'softmax is numerically stable');
SELECT ok(abs((SELECT sum(w::float8) FROM unnest(ruvector_softmax(ARRAY(SELECT unnest(pg_temp.matrix(1, 4099, 3))))) AS w)
			  - 1) < 1e-5, 'softmax of 4099 entries sums to 1');

-- ruvector_attention_scores
SELECT ok(pg_temp.max_diff(ruvector_attention_scores('{1,0}', '{{1,0},{0,1}}'), '{0.669761549,0.330238451}') < 1e-6,
		  'scores: two keys');
SELECT ok(pg_temp.max_diff(ruvector_attention_scores('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1},{0,0,0,1}}', 'multi_head'),
						   '{0.111300661,0.799883076,0.088816262}') < 1e-6,
		  'scores: multi_head averages the 4 heads'' weights');
SELECT is(ruvector_attention_scores('{1,0}', '{}'), '{}'::real[], 'scores: no keys give {}');
SELECT is(array_dims(ruvector_attention_scores('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1}}')), '[1:3][1:2]',
		  'scores: a batch of 3 queries over 2 keys is 3 x 2');
SELECT is((ruvector_attention_scores('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1}}'))[2:2][1:2],
		  ARRAY[ruvector_attention_scores('{0,1}', '{{1,0},{0,1}}')],
		  'scores: batch row 2 equals the single query 2');
SELECT ok(abs((SELECT sum(w::float8) FROM unnest(ruvector_attention_scores(ARRAY(SELECT unnest(pg_temp.matrix(1, 16, 1))),
																		  pg_temp.matrix(1000, 16, 2))) AS w) - 1) < 1e-5,
		  'scores over 1000 keys sum to 1');

-- ruvector_multi_head_attention
SELECT ok(pg_temp.max_diff(ruvector_multi_head_attention('{1,0,0,1}', '{{1,0,0,0},{0,0,0,1}}', '{{1,2},{3,4}}', 2),
						   '{1.660476901,3.339523099}') < 1e-6, 'multi_head: 2 heads, 2 keys');
SELECT ok(pg_temp.max_diff(ruvector_multi_head_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2,3},{4,5,6}}', 1),
						   '{1.990715352,2.990715352,3.990715352}') < 1e-6, 'multi_head: 1 head');
SELECT is(ruvector_multi_head_attention('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1}}', '{{1,0,0,0},{0,1,0,0}}'),
		  ruvector_multi_head_attention('{1,2,3,4}', '{{1,1,1,1},{4,3,2,1}}', '{{1,0,0,0},{0,1,0,0}}', 4),
		  'multi_head: num_heads defaults to 4');
SELECT is(ruvector_multi_head_attention('{1,0}', '{}', '{}', 2), NULL, 'multi_head: no keys give NULL');
SELECT is((ruvector_multi_head_attention(pg_temp.matrix(5, 8, 1), pg_temp.matrix(40, 8, 2), pg_temp.matrix(40, 4, 3), 2))[3:3][1:4],
		  ARRAY[ruvector_multi_head_attention(ARRAY(SELECT unnest((pg_temp.matrix(5, 8, 1))[3:3][1:8])), pg_temp.matrix(40, 8, 2),
											 pg_temp.matrix(40, 4, 3), 2)],
		  'multi_head: batch row 3 equals query 3 alone (bit-identical)');

-- ruvector_flash_attention == single-head attention
SELECT ok(pg_temp.max_diff(ruvector_flash_attention('{1,0}', '{{1,0},{0,1}}', '{{1,2,3},{4,5,6}}'),
						   '{1.990715352,2.990715352,3.990715352}') < 1e-6, 'flash: 2 keys');
SELECT ok(pg_temp.max_diff(ruvector_flash_attention(pg_temp.matrix(3, 16, 4), pg_temp.matrix(300, 16, 5), pg_temp.matrix(300, 6, 6), b),
						   ruvector_multi_head_attention(pg_temp.matrix(3, 16, 4), pg_temp.matrix(300, 16, 5), pg_temp.matrix(300, 6, 6), 1)) < 1e-6,
		  'flash with block_size ' || b || ' equals multi_head with 1 head within 1e-6')
FROM unnest(ARRAY[1, 7, 64, 300, 65536]) AS b;
SELECT is(ruvector_flash_attention('{1,0}', '{}', '{}'), NULL, 'flash: no keys give NULL');

-- the same results on the scalar backend and with any number of threads
CREATE TEMP TABLE runs AS
SELECT 'best' AS run, ruvector_multi_head_attention(q, k, v, 8) AS mha, ruvector_flash_attention(q, k, v) AS flash,
	   ruvector_attention_scores(q, k) AS scores
FROM (SELECT pg_temp.matrix(64, 32, 7) AS q, pg_temp.matrix(4096, 32, 8) AS k, pg_temp.matrix(4096, 32, 9) AS v) AS m;
SET LOCAL ruvector.simd = 'scalar';
SET LOCAL ruvector.max_threads = 1;
INSERT INTO runs
SELECT 'scalar', ruvector_multi_head_attention(q, k, v, 8), ruvector_flash_attention(q, k, v), ruvector_attention_scores(q, k)
FROM (SELECT pg_temp.matrix(64, 32, 7) AS q, pg_temp.matrix(4096, 32, 8) AS k, pg_temp.matrix(4096, 32, 9) AS v) AS m;
SET LOCAL ruvector.max_threads = 4;
INSERT INTO runs
SELECT 'scalar, 4 threads', ruvector_multi_head_attention(q, k, v, 8), ruvector_flash_attention(q, k, v), ruvector_attention_scores(q, k)
FROM (SELECT pg_temp.matrix(64, 32, 7) AS q, pg_temp.matrix(4096, 32, 8) AS k, pg_temp.matrix(4096, 32, 9) AS v) AS m;
RESET ruvector.simd;
RESET ruvector.max_threads;
-- (one TAP line per row: several pgTAP columns in one row would share a line).
-- Each backend is within 1e-5 relative of float64 and values here are below
-- 1, so two backends agree within 1e-5 (4096-key sums differ by ~3e-6).
SELECT t FROM runs AS a, runs AS b,
	LATERAL (VALUES (ok(pg_temp.max_diff(a.mha, b.mha) < 1e-5, 'multi_head: scalar backend agrees with the best one')),
					(ok(pg_temp.max_diff(a.flash, b.flash) < 1e-5, 'flash: scalar backend agrees with the best one')),
					(ok(pg_temp.max_diff(a.scores, b.scores) < 1e-5, 'scores: scalar backend agrees with the best one'))) AS v(t)
WHERE a.run = 'scalar' AND b.run = 'best';
SELECT is(a.mha, b.mha, 'multi_head: 4 threads give bit-identical results')
FROM runs AS a, runs AS b WHERE a.run = 'scalar, 4 threads' AND b.run = 'scalar';
SELECT is(a.flash, b.flash, 'flash: 4 threads give bit-identical results')
FROM runs AS a, runs AS b WHERE a.run = 'scalar, 4 threads' AND b.run = 'scalar';

-- STRICT
SELECT is(ruvector_softmax(NULL), NULL, 'softmax(NULL) is NULL');
SELECT is(ruvector_attention_scores('{1}', '{{1}}', NULL), NULL, 'a NULL attention_type gives NULL');

SELECT * FROM finish();
ROLLBACK;

-- types: the attention types beyond scaled_dot, multi_head and flash_v2, in
-- small worked examples whose values can be checked by hand (the usage
-- guide shows the same ones).  Floats are rounded to 4 decimals so that
-- last-bit differences between SIMD backends do not churn the output.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

CREATE FUNCTION pg_temp.r4(a real[]) RETURNS numeric[] LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(round(x::numeric, 4) ORDER BY i) FROM unnest(a) WITH ORDINALITY AS u(x, i) $$;
-- 2-D arrays: rounded row by row, shape kept
CREATE FUNCTION pg_temp.r4m(a real[]) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT string_agg(pg_temp.r4(a[i:i][:])::text, ' ' ORDER BY i) FROM generate_subscripts(a, 1) AS i $$;

--
-- linear: phi(x) = elu(x) + 1; weights phi(q).phi(k_i), normalised
--
-- phi(q) = (2, 1), phi(k) = (2, 1), (1, 2), (1, 1): kernel weights 5, 4, 3
SELECT pg_temp.r4(ruvector_linear_attention('{1,0}', '{{1,0},{0,1},{0,0}}', '{{12,0},{0,12},{0,0}}')) AS linear;
SELECT pg_temp.r4(ruvector_attention_scores('{1,0}', '{{1,0},{0,1},{0,0}}', 'linear')) AS linear_weights,
       ruvector_attention_score('{1,0}', '{0,1}', 'linear') AS kernel;
-- the summary [S | z]: S = sum_i phi(k_i) v_i^T, z = sum_i phi(k_i)
SELECT pg_temp.r4m(ruvector_linear_attention_summary('{{1,0},{0,1},{0,0}}', '{{12,0},{0,12},{0,0}}')) AS summary;
-- from the summary: the same answer in O(d dv) per query
SELECT pg_temp.r4(ruvector_linear_attention_from_summary('{1,0}',
           ruvector_linear_attention_summary('{{1,0},{0,1},{0,0}}', '{{12,0},{0,12},{0,0}}'))) AS from_summary;
SELECT pg_temp.r4m(ruvector_linear_attention_from_summary('{{1,0},{0,1}}',
           ruvector_linear_attention_summary('{{1,0},{0,1},{0,0}}', '{{12,0},{0,12},{0,0}}'))) AS batch;
-- negative inputs: phi(x) = exp(x) (never 0 in practice, never negative)
SELECT pg_temp.r4(ruvector_linear_attention('{-1,-2}', '{{-1,0},{3,-3}}', '{{1},{0}}')) AS negative;

--
-- gat: softmax of LeakyReLU(q.k/sqrt(d)), or of LeakyReLU(a1.q + a2.k)
--
-- logits 2/sqrt(2), -2/sqrt(2) -> LeakyReLU 1.4142, -0.2828
SELECT pg_temp.r4(ruvector_gat_attention('{2,0}', '{{1,0},{-1,0}}', '{{1},{0}}')) AS gat,
       pg_temp.r4(ruvector_gat_attention('{2,0}', '{{1,0},{-1,0}}', '{{1},{0}}', 1.0)) AS slope_1_is_softmax,
       pg_temp.r4(ruvector_gat_attention('{2,0}', '{{1,0},{-1,0}}', '{{1},{0}}', 0)) AS relu;
SELECT ruvector_attention_score('{2,0}', '{-1,0}', 'gat') AS leaky_logit;
-- a = [a1; a2]: e_i = LeakyReLU(a1.q + a2.k_i) = LeakyReLU(2 + k_i1)
SELECT pg_temp.r4(ruvector_gat_attention('{2,0}', '{{1,0},{-5,0}}', '{{1},{0}}',
                                         attention_vector => '{1,0,1,0}')) AS gat_with_a,
       pg_temp.r4(ruvector_gat_attention('{2,0}', '{{1,0},{-5,0}}', '{{1},{0}}', 0.5, '{1,0,1,0}')) AS slope_half;

--
-- sparse: only the top_k logits keep weight (ties to the lower index)
--
SELECT pg_temp.r4(ruvector_sparse_attention('{1}', '{{3},{1},{2},{2}}', '{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,1}}', 2)) AS top2,
       pg_temp.r4(ruvector_sparse_attention('{1}', '{{3},{1},{2},{2}}', '{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,1}}', 3)) AS top3,
       pg_temp.r4(ruvector_sparse_attention('{1}', '{{3},{1},{2},{2}}', '{{1,0,0,0},{0,1,0,0},{0,0,1,0},{0,0,0,1}}', top_k => 1)) AS top1;
SELECT pg_temp.r4(ruvector_attention_scores('{1}', '{{3},{1},{2},{2}}', 'sparse')) AS top8_is_all;
-- top_k >= n is scaled-dot attention, bit for bit
SELECT ruvector_sparse_attention('{1,2}', '{{1,0},{0,1},{1,1}}', '{{1},{2},{3}}', 3)
       = ruvector_attention('{1,2}', '{{1,0},{0,1},{1,1}}', '{{1},{2},{3}}') AS same_as_scaled_dot;

--
-- moe: keys in n_experts contiguous groups, the top_k groups by mean logit
--
-- groups {1,1} and {-1,-1}: gates 1 and -1; top_k 1 picks the first only
SELECT pg_temp.r4(ruvector_moe_attention('{1}', '{{1},{1},{-1},{-1}}', '{{1},{3},{5},{7}}', 2, 1)) AS top1,
       pg_temp.r4(ruvector_moe_attention('{1}', '{{1},{1},{-1},{-1}}', '{{1},{3},{5},{7}}', 2, 2)) AS both;
-- n = 10 over 4 experts: groups of 3, 3, 2, 2
SELECT pg_temp.r4(ruvector_attention_scores('{1}', array_fill(0::real, ARRAY[10, 1]), 'moe')) AS default_weights;
-- more experts than keys: one key per group
SELECT pg_temp.r4(ruvector_moe_attention('{1}', '{{1},{0},{-1}}', '{{1},{2},{3}}', n_experts => 10, top_k => 2)) AS many_experts;

--
-- cross: m queries over keys and values from another source
--
-- causal self-attention of 3 rows: row r attends keys 1..r
SELECT pg_temp.r4m(ruvector_cross_attention('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1},{1,1}}',
                                            '{{1,0},{0,1},{1,1}}', causal => true)) AS causal_self;
SELECT pg_temp.r4m(ruvector_attention_scores('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1},{1,1}}', 'cross')) AS weights;
-- causal with more queries than keys (bottom-right aligned): the first rows attend nothing
SELECT pg_temp.r4m(ruvector_cross_attention('{{1,0},{0,1},{1,1}}', '{{1,0},{0,1}}', '{{1},{2}}', true)) AS m_gt_n;
-- two heads of one query and one value dimension each
SELECT pg_temp.r4(ruvector_cross_attention('{1,0,0,1}', '{{1,0,0,0},{0,0,0,1}}', '{{1,2},{3,4}}', num_heads => 2)) AS two_heads,
       pg_temp.r4(ruvector_multi_head_attention('{1,0,0,1}', '{{1,0,0,0},{0,0,0,1}}', '{{1,2},{3,4}}', 2)) AS multi_head;

--
-- sliding: the last window_size keys
--
SELECT pg_temp.r4(ruvector_sliding_window_attention('{1}', '{{0},{0},{0}}', '{{9},{1},{3}}', 2)) AS last_two,
       pg_temp.r4(ruvector_sliding_window_attention('{1}', '{{0},{0},{0}}', '{{9},{1},{3}}', 1)) AS last_one,
       pg_temp.r4(ruvector_sliding_window_attention('{1}', '{{0},{0},{0}}', '{{9},{1},{3}}')) AS window_256;
-- m queries: row r attends keys (r + n - m - w, r + n - m]
SELECT pg_temp.r4m(ruvector_sliding_window_attention('{{1},{1},{1}}', '{{0},{0},{0}}', '{{9},{1},{3}}', 2)) AS rows;
SELECT pg_temp.r4m(ruvector_attention_scores('{{1},{1}}', '{{0},{0},{0}}', 'sliding')) AS sliding_weights;

--
-- hyperbolic: minus the distances of the Poincare ball or the hyperboloid
--
-- Poincare distance of (0.5, 0) from the origin: 2 artanh(0.5) = 1.0986
SELECT ruvector_attention_score('{0,0}', '{0.5,0}', 'poincare') AS minus_distance,
       ruvector_attention_score('{0.5,0}', '{0.5,0}', 'poincare') AS to_itself;
SELECT pg_temp.r4(ruvector_hyperbolic_attention('{0.1,0}', '{{0.1,0},{0,0.1},{-0.5,0}}',
                                                '{{0.5,0},{0,0.5},{-0.5,0}}')) AS poincare,
       pg_temp.r4(ruvector_attention_scores('{0.1,0}', '{{0.1,0},{0,0.1},{-0.5,0}}', 'poincare')) AS weights;
-- a flatter ball (c = 0.25 has radius 2) admits points of norm 1.5
SELECT pg_temp.r4(ruvector_hyperbolic_attention('{1.5,0}', '{{1.5,0},{0,1.5}}', '{{1.5,0},{0,1.5}}',
                                                curvature => 0.25)) AS flatter;
-- near the boundary: norm 1 - 1e-6 in the unit ball, still finite
SELECT pg_temp.r4(ruvector_hyperbolic_attention('{0.999999,0}', '{{0.999999,0},{0,0.999999}}',
                                                '{{0.999999,0},{0,0.999999}}')) AS near_boundary;
-- Lorentz: distance of (1, 0) from the origin is arcosh(sqrt 2) = 0.8814
SELECT ruvector_attention_score('{0,0}', '{1,0}', 'lorentz') AS minus_distance;
SELECT pg_temp.r4(ruvector_hyperbolic_attention('{1,0}', '{{1,0},{0,1},{-3,0}}', '{{1,0},{0,1},{-3,0}}',
                                                'lorentz')) AS lorentz,
       pg_temp.r4(ruvector_hyperbolic_attention('{1,0}', '{{1,0},{0,1},{-3,0}}', '{{1,0},{0,1},{-3,0}}',
                                                'Lorentz', 2)) AS curvature_2;

--
-- one entry point for every type, with its defaults; every type's weights sum to 1
--
SELECT t.name,
       pg_temp.r4(ruvector_attention('{0.1,0.2,0,0.1}', k, v, t.name)) AS output,
       round(ruvector_attention_score('{0.1,0.2,0,0.1}', '{0,0.2,0,0}', t.name)::numeric, 4) AS score_of_key_2,
       round((SELECT sum(w) FROM unnest(ruvector_attention_scores('{0.1,0.2,0,0.1}', k, t.name)) AS w)::numeric, 4) AS weights_sum
FROM ruvector_attention_types() AS t,
     (VALUES ('{{0.1,0,0,0},{0,0.2,0,0},{0,0,0.3,0},{0.1,0.1,0.1,0.1},{0.2,0.2,0,0}}'::real[],
              '{{0.1,0.2,0,0},{0.3,0.1,0,0},{0,0.4,0,0},{0.2,0.2,0,0.1},{0.5,0,0.1,0}}'::real[])) AS x(k, v)
ORDER BY t.name;

--
-- batches, NULLs, no keys
--
-- a 2-D query: one row per query, each as if alone
SELECT pg_temp.r4m(ruvector_sparse_attention('{{1},{-1}}', '{{3},{1},{2}}', '{{1},{2},{3}}', 1)) AS batch_sparse,
       pg_temp.r4m(ruvector_attention('{{0.1,0},{0,0.1}}', '{{0.1,0},{0,0.1}}', '{{0.1},{0.2}}', 'poincare')) AS batch_poincare;
-- STRICT: a NULL argument gives NULL
SELECT ruvector_sparse_attention('{1}', '{{1}}', '{{1}}', NULL) IS NULL AS null_top_k,
       ruvector_gat_attention('{1}', '{{1}}', '{{1}}', 0.2, NULL) IS NULL AS null_a,
       ruvector_hyperbolic_attention('{0.1}', '{{0.1}}', '{{0.1}}', NULL) IS NULL AS null_model,
       ruvector_attention(NULL, '{{1}}', '{{1}}') IS NULL AS null_query;
-- zero keys: outputs are NULL, weights are empty
SELECT ruvector_linear_attention('{1,0}', '{}', '{}') IS NULL AS linear,
       ruvector_cross_attention('{{1,0}}', '{}', '{}') IS NULL AS cross,
       ruvector_attention('{0.1,0}', '{}', '{}', 'poincare') IS NULL AS poincare,
       ruvector_linear_attention_summary('{}', '{}') IS NULL AS summary,
       ruvector_attention_scores('{1,0}', '{}', 'moe') AS moe_weights;

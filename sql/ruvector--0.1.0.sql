/*
 * ruvector 0.1.0: attention mechanisms for real[] vectors.
 *
 * The one SQL source of the extension: the Makefile generates
 * ruvector_postgres--0.1.0.sql (the alias extension) from this file.
 * A vector is real[] (1-D); a matrix of n rows (keys, values, a batch of
 * queries) is a 2-D real[] (PostgreSQL has no separate real[][] type).
 * "values" is quoted because VALUES is a keyword: in named notation write
 * "values" => ARRAY[[...]]::real[].
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION ruvector" to load this file. \quit

-- ruvector and its alias ruvector_postgres install the same objects: refuse
-- the second one with a clear message rather than "function already exists".
-- (The extension being created already has its pg_extension row here.)
DO $$
BEGIN
	IF (SELECT count(*) FROM pg_catalog.pg_extension
		WHERE extname IN ('ruvector', 'ruvector_postgres')) > 1 THEN
		RAISE EXCEPTION 'extensions "ruvector" and "ruvector_postgres" cannot both be installed in one database'
			USING ERRCODE = 'duplicate_object',
				  DETAIL = 'ruvector_postgres is an alias of ruvector: both install the same functions.',
				  HINT = 'Use the one that is already installed, or drop it first with DROP EXTENSION.';
	END IF;
END
$$;

CREATE FUNCTION ruvector_attention_score(query real[], key real[],
										 attention_type text DEFAULT 'scaled_dot')
RETURNS real
AS 'MODULE_PATHNAME', 'ruvector_attention_score'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;

COMMENT ON FUNCTION ruvector_attention_score(real[], real[], text) IS
'raw attention score of one query/key pair under attention_type with its default parameters (scaled_dot: q.k/sqrt(d)), not a softmax weight';

CREATE FUNCTION ruvector_softmax(scores real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_softmax'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;

COMMENT ON FUNCTION ruvector_softmax(real[]) IS
'numerically stable softmax of a 1-D array; -Infinity entries get weight 0';

CREATE FUNCTION ruvector_attention_scores(query real[], keys real[],
										  attention_type text DEFAULT 'scaled_dot')
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_attention_scores'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;

COMMENT ON FUNCTION ruvector_attention_scores(real[], real[], text) IS
'attention weights (summing to 1) of a query over the n rows of keys (n x d) under attention_type with its default parameters; a 2-D query of m rows gives m x n';

CREATE FUNCTION ruvector_multi_head_attention(query real[], keys real[], "values" real[],
											  num_heads integer DEFAULT 4)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_multi_head_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_multi_head_attention(real[], real[], real[], integer) IS
'multi-head scaled dot-product attention: keys n x d, values n x dv, heads are contiguous slices; result dv (or m x dv for a 2-D query)';

CREATE FUNCTION ruvector_flash_attention(query real[], keys real[], "values" real[],
										 block_size integer DEFAULT 64)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_flash_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_flash_attention(real[], real[], real[], integer) IS
'single-head scaled dot-product attention computed in tiles of block_size keys (FlashAttention-2 online softmax); result dv (or m x dv for a 2-D query)';

CREATE FUNCTION ruvector_attention(query real[], keys real[], "values" real[],
								   attention_type text DEFAULT 'scaled_dot')
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_attention(real[], real[], real[], text) IS
'attention output of any type in ruvector_attention_types() with its default parameters: keys n x d, values n x dv; result dv (or m x dv for a 2-D query)';

CREATE FUNCTION ruvector_linear_attention(query real[], keys real[], "values" real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_linear_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_linear_attention(real[], real[], real[]) IS
'linear attention (Katharopoulos et al. 2020), phi(x) = elu(x) + 1: weights phi(q).phi(k_i) normalised to sum 1; result dv (or m x dv for a 2-D query)';

CREATE FUNCTION ruvector_linear_attention_summary(keys real[], "values" real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_linear_attention_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_linear_attention_summary(real[], real[]) IS
'key-side summary of linear attention as a d x (dv + 1) array [S | z]: S = sum_i phi(k_i) v_i^T, z = sum_i phi(k_i)';

CREATE FUNCTION ruvector_linear_attention_from_summary(query real[], summary real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_linear_attention_from_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;

COMMENT ON FUNCTION ruvector_linear_attention_from_summary(real[], real[]) IS
'linear attention of a query (or m x d queries) from ruvector_linear_attention_summary, in O(d dv) per query';

CREATE FUNCTION ruvector_gat_attention(query real[], keys real[], "values" real[],
									   negative_slope real DEFAULT 0.2,
									   attention_vector real[] DEFAULT '{}')
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_gat_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_gat_attention(real[], real[], real[], real, real[]) IS
'graph attention of a node (query) over its neighbours: softmax of LeakyReLU(q.k_i/sqrt(d)), or of LeakyReLU(a1.q + a2.k_i) for attention_vector a = [a1; a2] of length 2d';

CREATE FUNCTION ruvector_sparse_attention(query real[], keys real[], "values" real[],
										  top_k integer DEFAULT 8)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_sparse_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_sparse_attention(real[], real[], real[], integer) IS
'top-k attention: softmax over the top_k largest q.k_i/sqrt(d) only (ties to the lower index), the other keys weigh 0';

CREATE FUNCTION ruvector_moe_attention(query real[], keys real[], "values" real[],
									   n_experts integer DEFAULT 4,
									   top_k integer DEFAULT 2)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_moe_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_moe_attention(real[], real[], real[], integer, integer) IS
'mixture-of-experts attention: keys in n_experts contiguous groups, the top_k groups by mean logit chosen, their gates softmaxed, each group attended separately';

CREATE FUNCTION ruvector_cross_attention(query real[], keys real[], "values" real[],
										 causal boolean DEFAULT false,
										 num_heads integer DEFAULT 1)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_cross_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10000;

COMMENT ON FUNCTION ruvector_cross_attention(real[], real[], real[], boolean, integer) IS
'cross attention of m queries over keys and values from another source (FlashAttention-2 tiling); causal: row r attends keys j <= r + n - m; heads as contiguous slices';

CREATE FUNCTION ruvector_sliding_window_attention(query real[], keys real[], "values" real[],
												  window_size integer DEFAULT 256)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_sliding_window_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_sliding_window_attention(real[], real[], real[], integer) IS
'sliding-window attention: a query attends the last window_size keys; row r of m attends keys (r + n - m - window_size, r + n - m]';

CREATE FUNCTION ruvector_hyperbolic_attention(query real[], keys real[], "values" real[],
											  model text DEFAULT 'poincare',
											  curvature real DEFAULT 1.0)
RETURNS real[]
AS 'MODULE_PATHNAME', 'ruvector_hyperbolic_attention'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;

COMMENT ON FUNCTION ruvector_hyperbolic_attention(real[], real[], real[], text, real) IS
'hyperbolic attention, model poincare (points in the ball c |x|^2 < 1, result in the ball) or lorentz (spatial coordinates on the hyperboloid): softmax of minus the hyperbolic distances';

CREATE FUNCTION ruvector_attention_types()
RETURNS TABLE(name text, complexity text, best_for text)
AS 'MODULE_PATHNAME', 'ruvector_attention_types'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 11;

COMMENT ON FUNCTION ruvector_attention_types() IS
'the attention types accepted as attention_type, with their cost and typical use';

-- STABLE, not IMMUTABLE: the answer depends on the ruvector.simd setting.
CREATE FUNCTION ruvector_simd_info(OUT active text, OUT best text, OUT supported text[])
RETURNS record
AS 'MODULE_PATHNAME', 'ruvector_simd_info'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION ruvector_simd_info() IS
'SIMD backend in use (ruvector.simd), the best one this CPU supports, and all it supports';

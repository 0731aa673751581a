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
'raw attention logit of one query/key pair under attention_type (scaled_dot: q.k/sqrt(d)), not a softmax weight';

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
'attention weights (summing to 1) of a query over the n rows of keys (n x d); a 2-D query of m rows gives m x n';

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

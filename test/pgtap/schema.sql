-- pgTAP: the SQL API of ruvector 0.1.0 (DESIGN.md section 3 and the other
-- attention types): signatures
-- with their exact argument types, parameter names and defaults, return
-- types, volatility, strictness, parallel safety, comments and costs.
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

SELECT plan(154);

CREATE TEMP TABLE api (fn name, args name[], signature regprocedure, returns text,
					   arguments text, volatility text, heavy bool);
INSERT INTO api VALUES
	('ruvector_attention_score', '{real[],real[],text}', 'ruvector_attention_score(real[],real[],text)',
	 'real', 'query real[], key real[], attention_type text DEFAULT ''scaled_dot''::text', 'immutable', false),
	('ruvector_softmax', '{real[]}', 'ruvector_softmax(real[])',
	 'real[]', 'scores real[]', 'immutable', false),
	('ruvector_attention_scores', '{real[],real[],text}', 'ruvector_attention_scores(real[],real[],text)',
	 'real[]', 'query real[], keys real[], attention_type text DEFAULT ''scaled_dot''::text', 'immutable', true),
	('ruvector_multi_head_attention', '{real[],real[],real[],integer}',
	 'ruvector_multi_head_attention(real[],real[],real[],integer)',
	 'real[]', 'query real[], keys real[], "values" real[], num_heads integer DEFAULT 4', 'immutable', true),
	('ruvector_flash_attention', '{real[],real[],real[],integer}',
	 'ruvector_flash_attention(real[],real[],real[],integer)',
	 'real[]', 'query real[], keys real[], "values" real[], block_size integer DEFAULT 64', 'immutable', true),
	('ruvector_attention', '{real[],real[],real[],text}', 'ruvector_attention(real[],real[],real[],text)',
	 'real[]', 'query real[], keys real[], "values" real[], attention_type text DEFAULT ''scaled_dot''::text',
	 'immutable', true),
	('ruvector_linear_attention', '{real[],real[],real[]}', 'ruvector_linear_attention(real[],real[],real[])',
	 'real[]', 'query real[], keys real[], "values" real[]', 'immutable', true),
	('ruvector_linear_attention_summary', '{real[],real[]}', 'ruvector_linear_attention_summary(real[],real[])',
	 'real[]', 'keys real[], "values" real[]', 'immutable', true),
	('ruvector_linear_attention_from_summary', '{real[],real[]}',
	 'ruvector_linear_attention_from_summary(real[],real[])',
	 'real[]', 'query real[], summary real[]', 'immutable', true),
	('ruvector_gat_attention', '{real[],real[],real[],real,real[]}',
	 'ruvector_gat_attention(real[],real[],real[],real,real[])',
	 'real[]', 'query real[], keys real[], "values" real[], negative_slope real DEFAULT 0.2, attention_vector real[] DEFAULT ''{}''::real[]',
	 'immutable', true),
	('ruvector_sparse_attention', '{real[],real[],real[],integer}',
	 'ruvector_sparse_attention(real[],real[],real[],integer)',
	 'real[]', 'query real[], keys real[], "values" real[], top_k integer DEFAULT 8', 'immutable', true),
	('ruvector_moe_attention', '{real[],real[],real[],integer,integer}',
	 'ruvector_moe_attention(real[],real[],real[],integer,integer)',
	 'real[]', 'query real[], keys real[], "values" real[], n_experts integer DEFAULT 4, top_k integer DEFAULT 2',
	 'immutable', true),
	('ruvector_cross_attention', '{real[],real[],real[],boolean,integer}',
	 'ruvector_cross_attention(real[],real[],real[],boolean,integer)',
	 'real[]', 'query real[], keys real[], "values" real[], causal boolean DEFAULT false, num_heads integer DEFAULT 1',
	 'immutable', true),
	('ruvector_sliding_window_attention', '{real[],real[],real[],integer}',
	 'ruvector_sliding_window_attention(real[],real[],real[],integer)',
	 'real[]', 'query real[], keys real[], "values" real[], window_size integer DEFAULT 256', 'immutable', true),
	('ruvector_hyperbolic_attention', '{real[],real[],real[],text,real}',
	 'ruvector_hyperbolic_attention(real[],real[],real[],text,real)',
	 'real[]', 'query real[], keys real[], "values" real[], model text DEFAULT ''poincare''::text, curvature real DEFAULT 1.0',
	 'immutable', true),
	('ruvector_attention_types', '{}', 'ruvector_attention_types()',
	 'setof record', '', 'immutable', false),
	('ruvector_simd_info', '{}', 'ruvector_simd_info()',
	 'record', 'OUT active text, OUT best text, OUT supported text[]', 'stable', false);

SELECT set_eq(
	$$SELECT p.oid::regprocedure::text FROM pg_proc AS p
	  JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	  JOIN pg_extension AS e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
	  WHERE e.extname = 'ruvector'$$,
	$$SELECT signature::text FROM api$$,
	'the extension installs exactly the documented functions');

-- 17 functions x 9 properties = 153 tests
SELECT has_function(fn, args, fn || ' exists with the documented argument types') FROM api;
SELECT function_returns(fn, args, returns, fn || ' returns ' || returns) FROM api;
SELECT is(pg_get_function_arguments(signature), arguments, fn || ': parameter names and defaults') FROM api;
SELECT volatility_is(fn, args, volatility, fn || ' is ' || upper(volatility)) FROM api;
SELECT is_strict(fn, args, fn || ' is STRICT') FROM api;
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = signature), 's', fn || ' is PARALLEL SAFE') FROM api;
SELECT function_lang_is(fn, args, 'c', fn || ' is written in C') FROM api;
SELECT isnt(obj_description(signature, 'pg_proc'), NULL, fn || ' has a COMMENT') FROM api;
SELECT ok(CASE WHEN heavy THEN procost >= 100 ELSE procost >= 1 END,
		  fn || CASE WHEN heavy THEN ' carries an explicit high COST' ELSE ' has a COST' END)
FROM api JOIN pg_proc ON pg_proc.oid = signature;

SELECT * FROM finish();
ROLLBACK;

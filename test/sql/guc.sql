-- guc: ruvector.max_threads and ruvector.simd, ruvector_simd_info(), and
-- results that must not depend on either setting.  Written so that the
-- expected output is the same on every CPU (x86-64 with or without AVX-512,
-- aarch64).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

-- set before the library is loaded (a placeholder), applied when it loads
SET ruvector.simd = 'scalar';
SELECT active FROM ruvector_simd_info();
RESET ruvector.simd;
SELECT active AS start_active FROM ruvector_simd_info() \gset

SHOW ruvector.max_threads;
SHOW ruvector.simd;
SELECT name, setting, unit, context, vartype, min_val, max_val, enumvals, boot_val
FROM pg_settings WHERE name LIKE 'ruvector.%' ORDER BY name;

--
-- ruvector.max_threads: 1..64
--
SET ruvector.max_threads = 1;
SET ruvector.max_threads = 64;
SET ruvector.max_threads = 0;
\echo :LAST_ERROR_SQLSTATE
SET ruvector.max_threads = 65;
\echo :LAST_ERROR_SQLSTATE
RESET ruvector.max_threads;

--
-- ruvector.simd: names are case-insensitive; SET switches the backend that
-- ruvector_simd_info() reports, RESET (auto) restores the start-up one
--
SET ruvector.simd = 'SCALAR';
SHOW ruvector.simd;
SELECT active, 'scalar' = ANY (supported) AS supported FROM ruvector_simd_info();
SET ruvector.simd = auto;
SELECT active = :'start_active' AS active_is_start_active FROM ruvector_simd_info();
SET ruvector.simd = 'scalar';
RESET ruvector.simd;
SELECT active = :'start_active' AS active_is_start_active FROM ruvector_simd_info();
-- SET LOCAL is undone at the end of the transaction
BEGIN;
SET LOCAL ruvector.simd = 'scalar';
SELECT active FROM ruvector_simd_info();
ROLLBACK;
SELECT active = :'start_active' AS active_is_start_active FROM ruvector_simd_info();
-- the best supported backend can always be forced
SELECT best FROM ruvector_simd_info() \gset
SET ruvector.simd = :'best';
SELECT active = best AS active_is_best FROM ruvector_simd_info();
RESET ruvector.simd;

-- unknown backend: 22023, the HINT lists the names
SET ruvector.simd = 'sse2';
\echo :LAST_ERROR_SQLSTATE
-- a backend this CPU cannot run: 22023 (neon on x86-64, avx2 on aarch64);
-- the message names the CPU-specific backend, so only the SQLSTATE is shown
SELECT b AS unsupported FROM unnest(ARRAY['neon', 'avx2']) AS b
WHERE b <> ALL ((ruvector_simd_info()).supported) LIMIT 1 \gset
\set VERBOSITY sqlstate
SET ruvector.simd = :'unsupported';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT active = :'start_active' AS unchanged FROM ruvector_simd_info();
-- the prefix is reserved: misspelt ruvector settings are errors
SET ruvector.max_thread = 2;
\echo :LAST_ERROR_SQLSTATE

--
-- results do not depend on ruvector.max_threads (bit-identical) and match
-- the scalar backend within float rounding.  64 queries over 4096 keys of
-- 32 dimensions are large enough for the core to start threads.
--
CREATE TEMP TABLE gm AS
SELECT (SELECT array_agg(ARRAY(SELECT sin(i * 32 + j)::real FROM generate_series(1, 32) AS j))
		FROM generate_series(1, 4096) AS i) AS k,
	   (SELECT array_agg(ARRAY(SELECT cos(i * 7 + j)::real FROM generate_series(1, 32) AS j))
		FROM generate_series(1, 64) AS i) AS q;
CREATE TEMP TABLE gr (setting text, mha real[], flash real[]);
SET ruvector.max_threads = 1;
INSERT INTO gr SELECT 'threads 1', ruvector_multi_head_attention(q, k, k, 8), ruvector_flash_attention(q, k, k, 100) FROM gm;
SET ruvector.max_threads = 4;
INSERT INTO gr SELECT 'threads 4', ruvector_multi_head_attention(q, k, k, 8), ruvector_flash_attention(q, k, k, 100) FROM gm;
SET ruvector.max_threads = 3;
INSERT INTO gr SELECT 'threads 3', ruvector_multi_head_attention(q, k, k, 8), ruvector_flash_attention(q, k, k, 100) FROM gm;
SET ruvector.simd = 'scalar';
INSERT INTO gr SELECT 'scalar', ruvector_multi_head_attention(q, k, k, 8), ruvector_flash_attention(q, k, k, 100) FROM gm;
RESET ruvector.simd;
RESET ruvector.max_threads;
SELECT a.setting, array_dims(a.mha) AS dims,
       a.mha = b.mha AS mha_identical, a.flash = b.flash AS flash_identical
FROM gr AS a, gr AS b WHERE b.setting = 'threads 1' AND a.setting LIKE 'threads%' ORDER BY a.setting;
SELECT (SELECT max(abs(x - y)) < 1e-5 FROM unnest(a.mha, b.mha) AS u(x, y)) AS mha_close,
       (SELECT max(abs(x - y)) < 1e-5 FROM unnest(a.flash, b.flash) AS u(x, y)) AS flash_close
FROM gr AS a, gr AS b WHERE a.setting = 'scalar' AND b.setting = 'threads 1';
DROP TABLE gm, gr;

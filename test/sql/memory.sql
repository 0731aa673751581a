-- memory: 10,000 calls of every function in one session must not grow the
-- backend's memory, neither its memory contexts (palloc) nor its anonymous
-- resident memory (malloc, thread stacks), including calls that start
-- worker threads.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

CREATE FUNCTION pg_temp.context_bytes() RETURNS bigint LANGUAGE sql AS
$$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
-- anonymous resident memory of this backend, in kB (Linux)
CREATE FUNCTION pg_temp.rss_anon_kb() RETURNS bigint LANGUAGE sql AS $$
	SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
						 'RssAnon:\s+(\d+) kB'))[1]::bigint
$$;
CREATE PROCEDURE pg_temp.call_all(n int) LANGUAGE plpgsql AS $$
DECLARE
	k real[] := '{{1,0,0,0},{0,1,0,0},{0,0,1,0}}';
	v real[] := '{{1,2},{3,4},{5,6}}';
	r real[];
	s real;
BEGIN
	FOR i IN 1..n LOOP
		s := ruvector_attention_score('{1,2,3,4}', '{4,3,2,1}');
		s := ruvector_attention_score('{1,2,3,4}', '{4,3,2,1}', 'multi_head');
		r := ruvector_softmax('{1,2,3,-Infinity}');
		r := ruvector_attention_scores('{{1,2,3,4},{0,1,0,1}}', k);
		r := ruvector_attention_scores('{1,2,3,4}', k, 'multi_head');
		r := ruvector_multi_head_attention('{1,2,3,4}', k, v, 2);
		r := ruvector_flash_attention('{{1,2,3,4},{1,1,1,1}}', k, v, 2);
		PERFORM count(*) FROM ruvector_attention_types();
		PERFORM ruvector_simd_info();
		-- the error path must not leak either
		BEGIN
			r := ruvector_flash_attention('{1,2,3,4}', k, '{{1,2},{3,4},{5,NaN}}');
		EXCEPTION WHEN data_exception THEN
			NULL;
		END;
	END LOOP;
END
$$;
-- 64 queries over 4096 keys of 32 dimensions: each call starts threads
CREATE PROCEDURE pg_temp.call_threaded(n int) LANGUAGE plpgsql AS $$
DECLARE
	k real[] := (SELECT array_agg(ARRAY(SELECT sin(i * 32 + j)::real FROM generate_series(1, 32) AS j))
				 FROM generate_series(1, 4096) AS i);
	q real[] := k[1:64];
	r real[];
BEGIN
	FOR i IN 1..n LOOP
		r := ruvector_multi_head_attention(q, k, k, 8);
		r := ruvector_flash_attention(q, k, k);
	END LOOP;
END
$$;

SET ruvector.max_threads = 4;
-- warm up caches and plans first
CALL pg_temp.call_all(100);
CALL pg_temp.call_threaded(5);
SELECT pg_temp.context_bytes() AS context_before, pg_temp.rss_anon_kb() AS rss_before \gset
CALL pg_temp.call_all(10000);
CALL pg_temp.call_threaded(100);
SELECT CASE WHEN growth < 65536 THEN 'stable' ELSE 'grew by ' || growth || ' bytes' END AS memory_contexts
FROM (SELECT pg_temp.context_bytes() - :context_before AS growth) AS g;
SELECT CASE WHEN growth < 1024 THEN 'stable' ELSE 'grew by ' || growth || ' kB' END AS anonymous_memory
FROM (SELECT pg_temp.rss_anon_kb() - :rss_before AS growth) AS g;
RESET ruvector.max_threads;

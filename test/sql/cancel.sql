-- cancel: statement_timeout stops a long call in the middle.  The core polls
-- the glue's cancel callback (which only reads PostgreSQL's interrupt flags)
-- between blocks of work, on every worker thread; it stops, joins its
-- threads and returns; then the glue raises the pending cancel (57014).
-- Uncancelled, each call below takes many seconds (20000 queries over 20000
-- keys of 64 dimensions); cancelled it must end well within 5 seconds of
-- the 200 ms timeout, with the threaded and the single-threaded paths.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;

CREATE TEMP TABLE ct AS
SELECT (SELECT array_agg(ARRAY(SELECT sin(i * 64 + j)::real FROM generate_series(1, 64) AS j))
		FROM generate_series(1, 20000) AS i) AS k;

CREATE PROCEDURE pg_temp.expect_timeout(what text, threads int) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	outcome text := 'completed (not cancelled)';
BEGIN
	PERFORM set_config('ruvector.max_threads', threads::text, true);
	BEGIN
		IF what = 'multi_head' THEN
			PERFORM array_length(ruvector_multi_head_attention(k, k, k, 4), 1) FROM ct;
		ELSIF what = 'cross' THEN
			-- self-attention of 20000 rows: 20000 x 20000 x 64 in tiles
			PERFORM array_length(ruvector_cross_attention(k, k, k, true, 4), 1) FROM ct;
		ELSIF what = 'linear' THEN
			PERFORM array_length(ruvector_linear_attention(k || k, k, k), 1) FROM ct;
		ELSE
			PERFORM array_length(ruvector_flash_attention(k || k, k, k, 64), 1) FROM ct;
		END IF;
	EXCEPTION WHEN query_canceled THEN
		outcome := 'cancelled (' || SQLSTATE || ')';
	END;
	RAISE NOTICE '% with % thread(s): %, within 5 s: %', what, threads, outcome,
		clock_timestamp() - t0 < interval '5 s';
END
$$;

SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('multi_head', 4);
SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('multi_head', 1);
SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('flash', 4);
SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('flash', 1);
SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('cross', 4);
SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('cross', 1);
SET statement_timeout = '200ms';
CALL pg_temp.expect_timeout('linear', 4);
RESET statement_timeout;
-- the error as a client sees it
SET statement_timeout = '200ms';
SELECT array_length(ruvector_multi_head_attention(k, k, k, 4), 1) FROM ct;
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;

-- the backend is healthy afterwards (threads were joined, state is clean)
SELECT ruvector_multi_head_attention('{1,0,0,1}', '{{1,0,0,0},{0,0,0,1}}', '{{1,2},{3,4}}', 2) IS NOT NULL AS works,
       array_dims(ruvector_flash_attention(k[1:3], k, k)) AS dims,
       array_dims(ruvector_cross_attention(k[1:300], k[1:300], k[1:300], true, 4)) AS cross_dims
FROM ct;
DROP TABLE ct;

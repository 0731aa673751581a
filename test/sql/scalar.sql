-- scalar: functions.sql and errors.sql again with the portable scalar
-- backend forced (the reference every SIMD backend is compared with); their
-- output must be the same as with the best backend.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ruvector;
RESET client_min_messages;
SET ruvector.simd = 'scalar';
SELECT active FROM ruvector_simd_info();
\i test/sql/functions.sql
\i test/sql/errors.sql
SELECT active FROM ruvector_simd_info();
RESET ruvector.simd;

-- pgbench script for bench/run.sh: the application's write load while
-- shade migrates table t (pgbench -D rows=N). One UPDATE of a random row per
-- transaction; it touches only columns that exist before and after the ALTER.
\set id random(1, :rows)
UPDATE t SET qty = qty + 1, updated_at = now() WHERE id = :id;

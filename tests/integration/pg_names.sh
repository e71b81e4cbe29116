#!/bin/sh
# pg_names.sh - the ALTER names the table's indexes and constraints by
# their real names (the shadow carries them under other names until the
# swap). What the equivalence corpus cannot show: the operator's messages
# name them as the operator did, a primary key dropped alone is refused
# with a message about the primary key, a run under writers leaves the
# plain ALTER's names, and the key can be replaced by naming it.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql >/dev/null <<'SQL'
CREATE TABLE cov (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL,
    price numeric(12,2), note text, updated_at timestamp NOT NULL,
    user_id int NOT NULL DEFAULT 0, code text UNIQUE);
CREATE INDEX cov_sku_idx ON cov (sku);
INSERT INTO cov SELECT g, 's' || g, g % 100, g / 10.0, 'n' || g, now(), g % 10, 'c' || g
FROM generate_series(1, 20000) g;
CREATE TABLE cov_mirror (LIKE cov INCLUDING DEFAULTS);
ALTER TABLE cov_mirror ADD PRIMARY KEY (id);
INSERT INTO cov_mirror SELECT * FROM cov;
SQL
COLS="id, sku, qty, price, note, updated_at"

before=$(pg_fingerprint)

# The server's message names T's constraint, not its twin on the shadow.
run_shade --dsn "$PG_DSN" --table cov --execute --alter "ADD CONSTRAINT cov_code_key UNIQUE (sku)"
assert_rc 2 "a name T already has"
assert_one_line "a name T already has"
assert_contains "$SHADE_ERR" '"cov_code_key" already exists' "the message names T's constraint"
if grep -q '_cov_code_key_new' "$SHADE_ERR"; then
	fail "the message names the shadow's twin: $(cat "$SHADE_ERR")"
fi

run_shade --dsn "$PG_DSN" --table cov --execute --alter "DROP CONSTRAINT cov_pkey"
assert_rc 2 "the primary key dropped alone"
assert_one_line "the primary key dropped alone"
assert_contains "$SHADE_ERR" "leaves public.cov without a primary key" "the message says why"

assert_eq "$(pg_fingerprint)" "$before" "the refusals changed nothing"

# Under writes: drop one constraint, rename another, cluster on an index.
start_writer --engine pg --dsn "$PG_DSN" --table cov --mirror cov_mirror --workers 2 \
    --seconds 600 --seed 7 --rate 100
sleep 1
run_shade --dsn "$PG_DSN" --table cov --execute --drop-old --chunk-time 0.01 \
    --alter "DROP CONSTRAINT cov_code_key, CLUSTER ON cov_sku_idx"
stop_writer
assert_rc 0 "drop and cluster by name"
pg_same_rows cov cov_mirror "$COLS" "drop and cluster by name"
run_shade --dsn "$PG_DSN" --table cov --execute --drop-old \
    --alter "RENAME CONSTRAINT cov_pkey TO cov_id_pk"
assert_rc 0 "rename by name"
assert_eq "$(pg_val "SELECT string_agg(c.relname || ' ' || i.indisclustered, ', ' ORDER BY 1)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'cov'::regclass")" \
    "cov_id_pk false, cov_sku_idx true" "the indexes after the plain ALTER's names"
assert_eq "$(pg_val "SELECT string_agg(conname, ', ' ORDER BY 1) FROM pg_constraint
    WHERE conrelid = 'cov'::regclass")" "cov_id_pk" "the constraints"
assert_eq "$(pg_leftovers cov)" "" "nothing of shade left"

# The key replaced, naming it by its (new) name: the plain ALTER's key,
# under the name the plain ALTER gives it.
run_shade --dsn "$PG_DSN" --table cov --execute --drop-old \
    --alter "DROP CONSTRAINT cov_id_pk, ADD PRIMARY KEY (id, user_id)"
assert_rc 0 "the primary key replaced by name"
assert_eq "$(pg_val "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'cov'::regclass AND contype = 'p'")" "cov_pkey PRIMARY KEY (id, user_id)" \
    "the new key and its name"
assert_eq "$(pg_leftovers cov)" "" "nothing of shade left after the key change"

t_pass

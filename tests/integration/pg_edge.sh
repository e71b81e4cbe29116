#!/bin/sh
# pg_edge.sh - names and values that break naive quoting, and odd tables:
#   1. "Order Items": a table name with a space and capitals, a column
#      named Qty "x" (quotes inside), unicode and emoji in names and values,
#      NULLs, empty strings, backslashes, values big enough to be TOASTed,
#      a bigserial key
#   2. a schema-qualified, quoted name ("Sales".items) next to a table of
#      the same name in public, which must stay untouched
#   3. a table with zero rows
#   4. a text primary key (unicode, quotes, the empty string)
#   5. a table name so long that _<name>_new would pass PostgreSQL's
#      63-byte limit
#   6. a type change that needs an explicit cast (text -> int USING)
# Each migration must exit 0, produce the new schema and keep every row.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

# -- 1. "Order Items" -------------------------------------------------------

pg_sql <<'EOF'
CREATE TABLE "Order Items" (
	id bigserial PRIMARY KEY,
	"Qty ""x""" int,
	"Ünïcode ✓" text,
	note text,
	created date
);
CREATE INDEX "Order Items ✓ idx" ON "Order Items" ("Ünïcode ✓");
INSERT INTO "Order Items" ("Qty ""x""", "Ünïcode ✓", note, created)
SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE g END,
       CASE g % 6 WHEN 0 THEN NULL
                  WHEN 1 THEN 'emoji 🦆🚀 ' || g
                  WHEN 2 THEN 'it''s "double" and ''single'' ' || g
                  WHEN 3 THEN 'back\slash \\ \n not a newline ' || g
                  WHEN 4 THEN ''
                  ELSE 'ÆØÅ 中文 ünïcödé ' || g END,
       CASE WHEN g % 500 = 0 THEN repeat('big ' || g || ' ', 5000)
            WHEN g % 3 = 0 THEN NULL
            ELSE E'tab\there\nnewline ' || g END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE date '2020-02-29' + g END
FROM generate_series(1, 5000) g;
INSERT INTO "Order Items" DEFAULT VALUES;
CREATE TABLE order_items_snap AS SELECT * FROM "Order Items";
EOF
OI_COLS='id, "Qty ""x""", "Ünïcode ✓", note, created'

run_shade --dsn "$PG_DSN" --table '"Order Items"' --execute --chunk-time 0.05 \
    --alter 'ADD COLUMN "Flag 🚩" int NOT NULL DEFAULT 7, ALTER COLUMN "Qty ""x""" TYPE bigint'
assert_rc 0 '"Order Items"'
left=$(pg_leftovers "Order Items")
[ -z "$left" ] || fail "\"Order Items\": left behind: $left"
pg_same_rows '"Order Items"' order_items_snap "$OI_COLS" '"Order Items"'
assert_eq "$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = '\"Order Items\"'::regclass AND attname = 'Qty \"x\"'")" \
    bigint '"Order Items": type of Qty "x"'
assert_eq "$(pg_val 'SELECT count(*) FROM "Order Items" WHERE "Flag 🚩" = 7')" \
    "$(pg_val 'SELECT count(*) FROM order_items_snap')" \
    '"Order Items": rows with "Flag 🚩" = 7'
assert_eq "$(pg_val "SELECT to_regclass('\"_Order Items_old\"') IS NOT NULL")" \
    t '"Order Items": "_Order Items_old" exists'
assert_eq "$(pg_val "SELECT indrelid::regclass FROM pg_index
    WHERE indexrelid = to_regclass('\"Order Items ✓ idx\"')")" \
    '"Order Items"' '"Order Items": index "Order Items ✓ idx" belongs to'
max=$(pg_val 'SELECT max(id) FROM "Order Items"')
new=$(pg_val 'INSERT INTO "Order Items" DEFAULT VALUES RETURNING id')
[ "$new" -gt "$max" ] ||
    fail "\"Order Items\": the sequence handed out $new, max(id) is $max"

# -- 2. "Sales".items next to public.items ----------------------------------

pg_sql <<'EOF'
CREATE SCHEMA "Sales";
CREATE TABLE "Sales".items (id int PRIMARY KEY, v text);
CREATE TABLE public.items (id int PRIMARY KEY, v text);
INSERT INTO "Sales".items SELECT g, 'sales ' || g FROM generate_series(1, 2000) g;
INSERT INTO public.items SELECT g, 'public ' || g FROM generate_series(1, 2000) g;
CREATE TABLE sales_snap AS SELECT * FROM "Sales".items;
EOF
public_before=$(pg_val "SELECT 'public.items'::regclass::oid")

run_shade --dsn "$PG_DSN" --table '"Sales".items' --execute \
    --alter 'ADD COLUMN w int'
assert_rc 0 '"Sales".items'
pg_same_rows '"Sales".items' sales_snap 'id, v' '"Sales".items'
assert_eq "$(pg_val "SELECT count(*) FROM pg_attribute
    WHERE attrelid = '\"Sales\".items'::regclass AND attname = 'w'")" 1 \
    '"Sales".items: column w added'
assert_eq "$(pg_val "SELECT to_regclass('\"Sales\"._items_old') IS NOT NULL")" \
    t '"Sales"._items_old exists'
assert_eq "$(pg_val "SELECT 'public.items'::regclass::oid")" "$public_before" \
    "public.items is the same table"
assert_eq "$(pg_val "SELECT count(*) FROM pg_attribute
    WHERE attrelid = 'public.items'::regclass AND attname = 'w'")" 0 \
    "public.items untouched"
assert_eq "$(pg_val "SELECT to_regclass('public._items_old') IS NULL
    AND to_regclass('public._items_new') IS NULL")" t \
    "nothing created in public"

# -- 3. zero rows -------------------------------------------------------------

pg_sql "CREATE TABLE empty (id int PRIMARY KEY, v text)"
run_shade --dsn "$PG_DSN" --table empty --execute \
    --alter 'ADD COLUMN w int DEFAULT 1'
assert_rc 0 "empty table"
assert_eq "$(pg_val "SELECT count(*) FROM empty")" 0 "empty table: rows"
assert_eq "$(pg_val "SELECT count(*) FROM pg_attribute
    WHERE attrelid = 'empty'::regclass AND attname = 'w'")" 1 \
    "empty table: column w added"
assert_eq "$(pg_val "SELECT to_regclass('_empty_old') IS NOT NULL")" t \
    "empty table: _empty_old exists"
left=$(pg_leftovers empty)
[ -z "$left" ] || fail "empty table: left behind: $left"

# -- 4. a text primary key ------------------------------------------------------

pg_sql <<'EOF'
CREATE TABLE tk (k text PRIMARY KEY, v int);
INSERT INTO tk VALUES (''), (' '), ('a'), ('A'), ('ä'), ('🦆'), ('it''s'),
    ('"q"'), ('back\slash'), ('z' || repeat('z', 2000));
INSERT INTO tk SELECT 'k' || g || CASE g % 3 WHEN 0 THEN 'ü' WHEN 1 THEN '🚀'
    ELSE '' END, g FROM generate_series(1, 3000) g;
CREATE TABLE tk_snap AS SELECT * FROM tk;
EOF
run_shade --dsn "$PG_DSN" --table tk --execute --chunk-time 0.02 \
    --alter 'ALTER COLUMN v TYPE bigint'
assert_rc 0 "text key"
pg_same_rows tk tk_snap 'k, v' "text key"
left=$(pg_leftovers tk)
[ -z "$left" ] || fail "text key: left behind: $left"

# -- 5. a name at the identifier limit -----------------------------------------

long=t_$(printf '%060d' 0 | tr 0 x)   # 62 bytes: _<name>_new would be 67
pg_sql "CREATE TABLE $long (id int PRIMARY KEY, v text);
    INSERT INTO $long SELECT g, 'v' || g FROM generate_series(1, 1000) g;
    CREATE TABLE long_snap AS SELECT * FROM $long"
run_shade --dsn "$PG_DSN" --table "$long" --execute \
    --alter 'ADD COLUMN w int'
assert_rc 0 "long name"
pg_same_rows "$long" long_snap 'id, v' "long name"
assert_eq "$(pg_val "SELECT count(*) FROM pg_attribute
    WHERE attrelid = '$long'::regclass AND attname = 'w'")" 1 \
    "long name: column w added"
# Exactly one more table: the old one, whatever its shortened name.
assert_eq "$(pg_val "SELECT count(*) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
      AND c.relname LIKE '\\_t\\_xxx%' AND c.relname LIKE '%old'")" 1 \
    "long name: one old table"
assert_eq "$(pg_val "SELECT count(*) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
      AND c.relname LIKE '\\_t\\_xxx%' AND c.relname NOT LIKE '%old'")" 0 \
    "long name: no shadow or change log left"
assert_eq "$(pg_val "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")" \
    0 "triggers in the database"
assert_eq "$(pg_val "SELECT count(*) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')")" 0 \
    "functions left in the database"

# -- 6. a type change that needs an explicit cast ------------------------------

pg_sql "CREATE TABLE codes (id int PRIMARY KEY, code text NOT NULL);
    INSERT INTO codes SELECT g, (g * 7)::text FROM generate_series(1, 5000) g;
    CREATE TABLE codes_snap AS SELECT id, code::int AS code FROM codes"
run_shade --dsn "$PG_DSN" --table codes --execute --chunk-time 0.02 \
    --alter 'ALTER COLUMN code TYPE int USING code::int'
assert_rc 0 "text -> int"
pg_same_rows codes codes_snap 'id, code' "text -> int"
assert_eq "$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'codes'::regclass AND attname = 'code'")" integer \
    "text -> int: type of code"

t_pass

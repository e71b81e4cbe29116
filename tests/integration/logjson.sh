#!/bin/sh
# logjson.sh - what shade says on stderr, on both engines, asserted with jq
# and on the database:
#
#   - --log-format json: every line is one JSON object with ts, level and
#     event; there is a phase event for every phase from preflight to
#     cleanup, progress events for the copy, the apply and the catch-up,
#     the --verbose statements as "sql" events, and a summary whose
#     rows_copied is the table's real row count, with the time per phase
#     and the swap's lock time; the table has the new schema;
#   - a catch-up held by the throttle flag file (while the postpone file
#     keeps it in catch-up) still says where it is at every interval, and
#     the summary counts the time under "flag file";
#   - a long index build names the index it builds (PostgreSQL: an index on
#     a function that sleeps makes the build last, whatever the machine);
#   - an ALTER the rows do not fit ends with a failed summary and a JSON
#     "failed" object, exit 1, the table unchanged; bad input is exit 2 and
#     exactly one JSON line (text when --log-format json comes after the bad
#     option: the options are read in order);
#   - text format: the summary lines; on a terminal (script(1) gives one)
#     the copy's progress is one line rewritten in place (\r and erase-line).
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=20000
SLOW_ROWS=1500   # rows the slow index evaluates its function for (>= 1.5 s)

# json_lines WHAT FILE: every line of FILE one JSON object with ts, level, event.
json_lines()
{
	_bad=$(jq -R -r 'try (fromjson | if type == "object" and (.ts | type) == "string"
	    and (.level | type) == "string" and (.event | type) == "string"
	    then empty else . end) catch .' "$2" | head -n 3)
	[ -z "$_bad" ] || fail "$1: not a JSON event line: $_bad"
	[ -s "$2" ] || fail "$1: nothing on stderr"
}

# jcount FILE FILTER: how many lines FILTER (a jq boolean) holds for.
jcount()
{
	jq -c "select($2)" "$1" | wc -l | tr -d ' '
}

# json_run_checks WHAT ROWS: the JSON run just done succeeded and said it all.
json_run_checks()
{
	assert_rc 0 "$1"
	json_lines "$1" "$SHADE_ERR"
	for _ph in preflight shadow capture copy key apply indexes catch-up swap cleanup done; do
		[ "$(jcount "$SHADE_ERR" ".event == \"phase\" and .phase == \"$_ph\"")" -ge 1 ] ||
		    fail "$1: no phase event for $_ph"
	done
	for _ph in copy apply catch-up; do
		[ "$(jcount "$SHADE_ERR" ".event == \"progress\" and .phase == \"$_ph\"")" -ge 1 ] ||
		    fail "$1: no progress event for $_ph"
	done
	[ "$(jcount "$SHADE_ERR" '.event == "progress" and .phase == "copy" and
	    (.rows_copied | type) == "number" and (.rows_total | type) == "number" and
	    (.rows_per_second | type) == "number" and (.backlog | type) == "number" and
	    has("eta_seconds")')" -ge 1 ] || fail "$1: a copy progress event lacks a field"
	[ "$(jcount "$SHADE_ERR" '.event == "sql" and .level == "debug" and
	    (.sql | type) == "string"')" -ge 1 ] || fail "$1: --verbose gave no sql events"
	assert_eq "$(jcount "$SHADE_ERR" '.event == "summary"')" 1 "$1: summary events"
	assert_eq "$(jq -r 'select(.event == "summary") | .result' "$SHADE_ERR")" done \
	    "$1: the summary's result"
	assert_eq "$(jq -r 'select(.event == "summary") | .rows_copied' "$SHADE_ERR")" "$2" \
	    "$1: the summary's rows_copied against the table's row count"
	assert_eq "$(jq -r 'select(.event == "summary") | (.swap_lock_seconds | type == "number"
	    and . >= 0)' "$SHADE_ERR")" true "$1: the summary's swap_lock_seconds"
	assert_eq "$(jq -r 'select(.event == "summary") | [.phase_seconds | (.copy, .key,
	    .apply, .indexes, ."catch-up", .swap, .cleanup) | type == "number"] | all' \
	    "$SHADE_ERR")" true "$1: the summary's phase_seconds"
	assert_eq "$(jq -r 'select(.event == "summary") | (.throttled_seconds | type) + " " +
	    (.paused_seconds | type)' "$SHADE_ERR")" "number number" "$1: the summary's holds"
}

# wait_json WHAT N FILTER: wait until shade's stderr holds N events FILTER
# selects (lines being written are skipped until whole).
wait_json()
{
	_i=0
	while [ "$(jq -R -c "fromjson? | select($3)" "$SHADE_ERR" | wc -l)" -lt "$2" ]; do
		kill -0 "$SHADE_PID" 2>/dev/null ||
		    { wait_shade; fail "$1: shade ended (exit $SHADE_RC) first"; }
		_i=$((_i + 1))
		[ "$_i" -lt 1200 ] || fail "$1: not seen within 120 s"
		sleep 0.1
	done
}

# bad_input WHAT DSN: exit 2, exactly one JSON line with status 2.
bad_input()
{
	run_shade --log-format json --dsn "$2" --table no_such_table --execute \
	    --alter 'ADD COLUMN x int'
	assert_rc 2 "$1: a table that does not exist"
	assert_one_line "$1: a table that does not exist"
	json_lines "$1: a table that does not exist" "$SHADE_ERR"
	assert_eq "$(jq -r '[.level, .event, .status] | join(" ")' "$SHADE_ERR")" "error failed 2" \
	    "$1: the bad input line"
}

# -- options: the format decides how a usage error is said -----------------
run_shade --log-format json --chunk-time soon
assert_rc 2 "a bad value after --log-format json"
assert_one_line "a bad value after --log-format json"
json_lines "a bad value after --log-format json" "$SHADE_ERR"
assert_contains "$SHADE_ERR" '"message":"--chunk-time takes a number of seconds' \
    "a bad value after --log-format json"
run_shade --chunk-time soon --log-format json
assert_rc 2 "a bad value before --log-format json"
assert_one_line "a bad value before --log-format json"
assert_contains "$SHADE_ERR" 'shade: --chunk-time takes' "a bad value before --log-format json"
run_shade --log-format yaml --dsn x --table t --alter 'ADD COLUMN x int' --execute
assert_rc 2 "--log-format yaml"
assert_one_line "--log-format yaml"
assert_contains "$SHADE_ERR" 'shade: --log-format takes text or json, not "yaml"' \
    "--log-format yaml"

# -- PostgreSQL -------------------------------------------------------------
pg_start
pg_newdb

pg_make_table()
{
	pg_sql <<SQL
DROP TABLE IF EXISTS items, _items_old;
DROP FUNCTION IF EXISTS slow(bigint);
CREATE FUNCTION slow(bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE
    AS \$\$ BEGIN PERFORM pg_sleep(0.001); RETURN \$1; END \$\$;
CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
CREATE INDEX items_sku_idx ON items (sku);
CREATE INDEX items_slow_idx ON items (slow(id)) WHERE id <= $SLOW_ROWS;
INSERT INTO items SELECT g, 'SKU-' || g, g % 1000 FROM generate_series(1, $ROWS) g;
ANALYZE items;
SQL
}

pg_make_table
run_shade --log-format json --verbose --dsn "$PG_DSN" --table items --execute \
    --chunk-time 0.01 --progress-interval 0.2 --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
json_run_checks "pg json" "$(pg_val "SELECT count(*) FROM items")"
assert_eq "$(pg_val "SELECT count(*) FROM information_schema.columns
    WHERE table_name = 'items' AND column_name = 'flag'")" 1 "pg json: the new column"
[ "$(jcount "$SHADE_ERR" '.event == "progress" and .phase == "indexes" and
    (.building | test("^index _?items_slow_idx")) and (.building_seconds | type) == "number"')" -ge 1 ] ||
    fail "pg json: the index build did not name items_slow_idx"

# A catch-up held by the throttle file still reports at every interval.
pg_make_table
POSTPONE=$T_TMP/postpone THROTTLE=$T_TMP/throttle
: >"$POSTPONE"
rm -f "$THROTTLE"
start_shade --log-format json --dsn "$PG_DSN" --table items --execute --progress-interval 0.2 \
    --postpone-flag-file "$POSTPONE" --throttle-flag-file "$THROTTLE" \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
wait_json "pg held: the postponement" 1 '.event == "phase" and .phase == "postponed"'
: >"$THROTTLE"
wait_json "pg held: catch-up lines while throttled" 3 \
    '.event == "progress" and .phase == "catch-up" and .held == "throttled"'
rm -f "$THROTTLE" "$POSTPONE"
wait_shade
assert_rc 0 "pg held"
json_lines "pg held" "$SHADE_ERR"
assert_eq "$(jq -r 'select(.event == "summary") | (.throttled_by."flag file" > 0 and
    .throttled_seconds >= .throttled_by."flag file")' "$SHADE_ERR")" true \
    "pg held: the summary's flag file time"

# A UNIQUE the rows do not fit: the build fails, the original stays.
pg_make_table
pg_fingerprint >"$T_TMP/pg.before"
run_shade --log-format json --dsn "$PG_DSN" --table items --execute \
    --alter 'ADD CONSTRAINT items_qty_key UNIQUE (qty)'
assert_rc 1 "pg misfit"
json_lines "pg misfit" "$SHADE_ERR"
assert_eq "$(tail -n 1 "$SHADE_ERR" | jq -r '[.level, .event, .status] | join(" ")')" \
    "error failed 1" "pg misfit: the last line"
assert_eq "$(jq -r 'select(.event == "summary") | .result + " " + .reached' "$SHADE_ERR")" \
    "failed indexes" "pg misfit: the summary"
pg_fingerprint >"$T_TMP/pg.after"
assert_same_file "$T_TMP/pg.before" "$T_TMP/pg.after" "pg misfit: the database changed"

bad_input pg "$PG_DSN"

# Text: the summary, in lines of their own.
pg_make_table
run_shade --dsn "$PG_DSN" --table items --execute --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
assert_rc 0 "pg text"
assert_contains "$SHADE_ERR" "shade: summary: $ROWS rows copied, 0 changes applied in " "pg text"
assert_contains "$SHADE_ERR" "shade: summary: time per phase: preflight " "pg text"
assert_contains "$SHADE_ERR" "; the swap held its lock for " "pg text"
if grep -q "$(printf '\r')" "$SHADE_ERR"; then
	fail "pg text: a carriage return in stderr that is no terminal"
fi

# On a terminal: the copy's line is rewritten in place.
pg_sql "DROP TABLE IF EXISTS items, _items_old;
CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
INSERT INTO items SELECT g, 'SKU-' || g, g % 1000 FROM generate_series(1, 300000) g;
ANALYZE items;"
# The copy's closing tick is rewritten in place however fast the copy goes.
SHADE_CMD="'$SHADE_BIN' --dsn '$PG_DSN' --table items --execute --chunk-time 0.01 \
--alter 'ADD COLUMN flag int NOT NULL DEFAULT 0' 2>&1"
timeout -k 10 600 script -q -e -c "$SHADE_CMD" /dev/null </dev/null >"$T_TMP/tty.out" ||
    fail "pg tty: shade under script exited $?"
tr '\r' '\n' <"$T_TMP/tty.out" | sed 's/^/#   tty| /' | tail -n 20 >&2
_esc=$(printf '\r\033[K')
grep -q "${_esc}shade: \[[0-9:]*\] copy: [0-9]*/" "$T_TMP/tty.out" ||
    fail "pg tty: no copy line rewritten in place (\\r, erase-line)"
assert_contains "$T_TMP/tty.out" "shade: summary: 300000 rows copied" "pg tty"
assert_eq "$(pg_val "SELECT count(*) FROM items WHERE flag = 0")" 300000 "pg tty: the new column"

# -- MariaDB ----------------------------------------------------------------
my_start
my_newdb

my_make_table()
{
	my_sql <<SQL
DROP TABLE IF EXISTS items, _items_old;
CREATE TABLE items (id INT PRIMARY KEY, sku VARCHAR(40) NOT NULL, qty INT NOT NULL,
    KEY items_sku_idx (sku)) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('SKU-', seq), seq % 1000 FROM seq_1_to_$ROWS;
ANALYZE TABLE items;
SQL
}

my_make_table
run_shade --log-format json --verbose --dsn "$MY_DSN" --table items --execute \
    --chunk-time 0.01 --progress-interval 0.2 --alter 'ADD COLUMN flag INT NOT NULL DEFAULT 0'
json_run_checks "mysql json" "$(my_val "SELECT count(*) FROM items")"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'items' AND column_name = 'flag'")" 1 \
    "mysql json: the new column"

my_make_table
my_fingerprint >"$T_TMP/my.before"
run_shade --log-format json --dsn "$MY_DSN" --table items --execute \
    --alter 'ADD UNIQUE KEY items_qty_key (qty)'
assert_rc 1 "mysql misfit"
json_lines "mysql misfit" "$SHADE_ERR"
assert_eq "$(tail -n 1 "$SHADE_ERR" | jq -r '[.level, .event, .status] | join(" ")')" \
    "error failed 1" "mysql misfit: the last line"
assert_eq "$(jq -r 'select(.event == "summary") | .result' "$SHADE_ERR")" failed \
    "mysql misfit: the summary"
my_fingerprint >"$T_TMP/my.after"
assert_same_file "$T_TMP/my.before" "$T_TMP/my.after" "mysql misfit: the database changed"

bad_input mysql "$MY_DSN"

my_make_table
run_shade --dsn "$MY_DSN" --table items --execute --alter 'ADD COLUMN flag INT NOT NULL DEFAULT 0'
assert_rc 0 "mysql text"
assert_contains "$SHADE_ERR" "shade: summary: $ROWS rows copied, " "mysql text"
assert_contains "$SHADE_ERR" "; the swap held its lock for " "mysql text"

t_pass

#!/bin/sh
# pg_socket.sh - the control socket, --postpone-cut-over and --config with
# SIGHUP during real migrations on PostgreSQL, asserted on the database:
#   - status is one JSON line with every field (jq), rows_copied grows;
#   - pause holds the copy (the shadow's count stays still), resume lets it
#     go on; a bad command gets an error reply and changes nothing; a huge
#     line or a client that leaves mid-line does not hurt shade;
#   - SIGHUP re-reads --config (a change is said; a bad file changes
#     nothing and shade goes on);
#   - postpone holds the swap (old schema, shade running, phase
#     "postponed") until cut-over; --postpone-cut-over the same;
#   - abort: exit 3, the database as before;
#   - the socket is 0600 and removed at exit; a stale one is replaced, a
#     live one or a file that is no socket refused (exit 2, one line).
set -eu
. "$(dirname "$0")/../lib.sh"
. "$SHADE_ROOT/tests/socket.sh"

ROWS=${PG_SOCKET_ROWS:-1000000}  # a copy long enough to catch mid-way
ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0'
CONF=$T_TMP/shade.conf

pg_start
pg_newdb

make_table()
{
	pg_sql <<SQL
DROP TABLE IF EXISTS items, _items_old;
CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
CREATE INDEX items_sku_idx ON items (sku);
INSERT INTO items SELECT g, 'SKU-' || g, g % 1000 FROM generate_series(1, $1) g;
ANALYZE items;
SQL
}

shadow_rows()
{
	pg_val "SELECT count(*) FROM _items_new"
}

has_flag_column()
{
	pg_val "SELECT count(*) FROM information_schema.columns
	    WHERE table_name = 'items' AND column_name = 'flag'"
}

# -- one long migration: status, pause/resume, bad input, SIGHUP, postpone --
make_table "$ROWS"
printf '# the test starts slow\nchunk-time = 0.01\n' >"$CONF"
start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.5 --config "$CONF" \
    --progress-interval 0.5 --control-socket "$SOCK" --alter "$ALTER"
wait_for_socket main
wait_for_status main phase copy
# The copy of the whole table takes a second or two: it is paused at once,
# and what follows happens while it is held, so that no step races its end.
ctl_expect main pause "ok: paused"
wait_for_line main "paused (SIGUSR2 or \"resume\" on $SOCK resumes)"
assert_eq "$(socket_mode)" 600 "main: the socket's mode"
check_status "main: status in copy"
assert_eq "$(jq -r .chunk_time "$T_TMP/status.json")" 0.01 \
    "main: --config's chunk-time overrides the option's"
_c1=$(jq -r .rows_copied "$T_TMP/status.json")
_a=$(shadow_rows)

# Bad commands: an error reply each, nothing changed.
assert_eq "$(ctl_nc xyz)" 'error: unknown command "xyz"' "main: the reply to xyz (nc)"
ctl_expect main chunk-time=0 'error: chunk-time takes seconds from 0.01 to 60, not "0"'
ctl_expect main max-load=lots \
    'error: max-load takes a whole number from 0 to 1000000 (0: off), not "lots"'
assert_eq "$(status_field chunk_time)" 0.01 "main: a bad chunk-time changed it"
# A line far over the limit: one error, the line skipped, the next served.
_r=$({ head -c 100000 /dev/zero | tr '\0' a; printf '\nmax-load=0\n'; } |
    socat -t 30 - "UNIX-CONNECT:$SOCK" | tr '\n' '|')
assert_eq "$_r" "error: line too long (commands are short)|ok: max-load 0|" "main: a huge line"
# A client that leaves mid-line gets nothing, and is no command.
assert_eq "$(printf 'abo' | timeout 30 nc -N -U "$SOCK")" "" "main: a partial line"
kill -0 "$SHADE_PID" || fail "main: shade died of a bad client"
ctl_expect main max-lag=2.5 "ok: max-lag 2.5 s"
ctl_expect main max-load=0 "ok: max-load 0"
assert_eq "$(status_field max_lag)" 2.5 "main: max-lag not stored"

# SIGHUP: a good file's change is said; a bad file changes nothing.
printf 'chunk-time = 2\nmax-lag = 7\n' >"$CONF"
kill -HUP "$SHADE_PID"
wait_for_line main "SIGHUP: read $CONF again: chunk-time 0.01 -> 2, max-lag 2.5 -> 7"
printf 'chunk-time = 3\nmax-load = many\n' >"$CONF"
kill -HUP "$SHADE_PID"
wait_for_line main "SIGHUP: $CONF:2: max-load takes a whole number from 0 to 1000000 (0: off), not \"many\"; nothing changed"
assert_eq "$(status_field chunk_time)" 2 "main: a bad file changed chunk-time"

# postpone: no swap until cut-over (asked while paused; checked below).
ctl_expect main postpone "ok: postponed until cut-over"

# pause: the shadow's count stays still; resume: it grows.
sleep 3
_b=$(shadow_rows)
note "pause: the shadow held $_a rows, some seconds later $_b"
assert_eq "$_a" "$_b" "main: the copy went on while paused"
[ "$_a" -lt "$ROWS" ] || fail "main: the copy had ended before the pause ($_a rows)"
assert_eq "$(status_field paused)" true "main: status.paused while paused"
assert_eq "$(ctl_nc resume)" "ok: resumed" "main: the reply to resume (nc)"
_i=0
while [ "$(shadow_rows)" -le "$_b" ]; do
	_i=$((_i + 1))
	[ "$_i" -lt 300 ] || fail "main: the copy did not go on within 60 s of resume"
	sleep 0.2
done
_i=0
while [ "$(status_field rows_copied)" -le "$_c1" ]; do
	_i=$((_i + 1))
	[ "$_i" -lt 300 ] || fail "main: rows_copied did not grow from $_c1 within 60 s"
	sleep 0.2
done
wait_for_status main phase postponed
assert_eq "$(status_field postponed)" true "main: status.postponed"
pg_sql "INSERT INTO items VALUES ($ROWS + 1, 'late', 1)"
for _s in 1 2 3; do
	sleep 1
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "main: shade ended while postponed"; }
	assert_eq "$(has_flag_column)" 0 "main: swapped while postponed"
done
check_status "main: status while postponed"
ctl_expect main cut-over "ok: the swap goes on"
wait_shade
assert_rc 0 "main"
[ ! -e "$SOCK" ] || fail "main: the socket file is left after exit"
assert_contains "$SHADE_ERR" "postponed: waiting for the cut-over command on $SOCK" "main"
assert_contains "$SHADE_ERR" "the postponement is lifted (cut-over)" "main"
assert_eq "$(has_flag_column)" 1 "main: items lacks the new column"
assert_eq "$(pg_val "SELECT count(*) FROM items")" "$((ROWS + 1))" "main: rows lost"
assert_eq "$(pg_val "SELECT sku FROM items WHERE id = $ROWS + 1")" late \
    "main: a row written while postponed is lost"
assert_eq "$(pg_leftovers items)" "" "main: leftovers"

# -- --postpone-cut-over, over a stale socket --------------------------------
make_table 20000
make_stale_socket "$SOCK"
start_shade --dsn "$PG_DSN" --table items --execute --postpone-cut-over \
    --control-socket "$SOCK" --alter "$ALTER"
wait_for_status postpone-cut-over phase postponed
assert_eq "$(socket_mode)" 600 "postpone-cut-over: the replaced socket's mode"
sleep 2
assert_eq "$(has_flag_column)" 0 "postpone-cut-over: swapped before cut-over"
assert_eq "$(ctl_nc cut-over)" "ok: the swap goes on" "postpone-cut-over: cut-over (nc)"
wait_shade
assert_rc 0 "postpone-cut-over"
[ ! -e "$SOCK" ] || fail "postpone-cut-over: the socket file is left after exit"
assert_eq "$(has_flag_column)" 1 "postpone-cut-over: items lacks the new column"
assert_eq "$(pg_val "SELECT count(*) FROM items")" 20000 "postpone-cut-over: rows lost"
assert_eq "$(pg_leftovers items)" "" "postpone-cut-over: leftovers"

# -- abort from the socket ----------------------------------------------------
make_table 400000
pg_fingerprint >"$T_TMP/before"
start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.05 \
    --control-socket "$SOCK" --alter "$ALTER"
wait_for_status abort phase copy
ctl_expect abort abort "ok: aborting"
wait_shade
assert_rc 3 "abort"
assert_contains "$SHADE_ERR" "aborted from the control socket (during copy)" "abort"
[ ! -e "$SOCK" ] || fail "abort: the socket file is left after exit"
pg_no_sessions abort
assert_eq "$(pg_leftovers items)" "" "abort: leftovers"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "abort: the database changed"

# -- refused: a live socket, a file that is no socket, bad options ----------
socat "UNIX-LISTEN:$SOCK,fork" /dev/null &
_listener=$!
bg_track "$_listener"
_i=0
until [ -S "$SOCK" ]; do
	_i=$((_i + 1))
	[ "$_i" -lt 300 ] || fail "live: socat did not listen"
	sleep 0.1
done
run_shade --dsn "$PG_DSN" --table items --execute --control-socket "$SOCK" --alter "$ALTER"
assert_rc 2 "live socket"
assert_one_line "live socket"
assert_contains "$SHADE_ERR" "--control-socket $SOCK is in use" "live socket"
kill "$_listener"
wait "$_listener" 2>/dev/null || true
rm -f "$SOCK"
: >"$SOCK"
run_shade --dsn "$PG_DSN" --table items --execute --control-socket "$SOCK" --alter "$ALTER"
assert_rc 2 "not a socket"
assert_one_line "not a socket"
assert_contains "$SHADE_ERR" "--control-socket $SOCK exists and is not a socket" "not a socket"
[ -f "$SOCK" ] || fail "not a socket: the file was removed"
rm -f "$SOCK"
run_shade --dsn "$PG_DSN" --table items --execute --postpone-cut-over --alter "$ALTER"
assert_rc 2 "--postpone-cut-over alone"
assert_one_line "--postpone-cut-over alone"
assert_contains "$SHADE_ERR" "--postpone-cut-over needs --control-socket" "--postpone-cut-over alone"
printf 'max-lag = 1\nchunk-time = fast\n' >"$CONF"
run_shade --dsn "$PG_DSN" --table items --execute --config "$CONF" --alter "$ALTER"
assert_rc 2 "bad --config"
assert_one_line "bad --config"
assert_contains "$SHADE_ERR" "$CONF:2: chunk-time takes seconds from 0.01 to 60" "bad --config"
assert_eq "$(has_flag_column)" 0 "refused runs: items changed"
assert_eq "$(pg_leftovers items)" "" "refused runs: leftovers"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "refused runs: the database changed"

t_pass

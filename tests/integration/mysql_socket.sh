#!/bin/sh
# mysql_socket.sh - the control socket on MariaDB during real migrations,
# asserted on the database: status (jq) during the copy; pause holds the
# copy (the shadow's count stays still), resume lets it go on; an unknown
# command changes nothing; SIGHUP re-reads --config; postpone holds the
# swap until cut-over; abort exits 3 and leaves the database as it was;
# the socket is 0600 and gone after exit.
set -eu
. "$(dirname "$0")/../lib.sh"
. "$SHADE_ROOT/tests/socket.sh"

ROWS=${MY_SOCKET_ROWS:-600000}  # a copy long enough to catch mid-way
ALTER='ADD COLUMN flag tinyint NOT NULL DEFAULT 0'
CONF=$T_TMP/shade.conf

my_start
my_newdb

make_table()
{
	my_sql >/dev/null <<SQL
DROP TABLE IF EXISTS items, _items_old;
CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL, KEY items_sku_idx (sku)) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('SKU-', seq), seq % 1000 FROM seq_1_to_$1;
ANALYZE TABLE items;
SQL
}

shadow_rows()
{
	my_val "SELECT COUNT(*) FROM _items_new"
}

has_flag_column()
{
	my_val "SELECT COUNT(*) FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = 'items' AND column_name = 'flag'"
}

# -- one migration: status, pause/resume, a bad command, SIGHUP, postpone ---
make_table "$ROWS"
printf 'chunk-time = 0.01\n' >"$CONF"
start_shade --dsn "$MY_DSN" --table items --execute --config "$CONF" \
    --progress-interval 0.5 --control-socket "$SOCK" --alter "$ALTER"
wait_for_socket main
wait_for_status main phase copy
assert_eq "$(socket_mode)" 600 "main: the socket's mode"
check_status "main: status in copy"
assert_eq "$(ctl_nc 'cut over')" 'error: unknown command "cut over"' "main: the reply to a typo (nc)"

ctl_expect main pause "ok: paused"
wait_for_line main "paused (SIGUSR2 or \"resume\" on $SOCK resumes)"
_a=$(shadow_rows)
sleep 3
_b=$(shadow_rows)
note "pause: the shadow held $_a rows, 3 s later $_b"
assert_eq "$_a" "$_b" "main: the copy went on while paused"
[ "$_a" -lt "$ROWS" ] || fail "main: the copy had ended before the pause ($_a rows)"
ctl_expect main resume "ok: resumed"
_i=0
while [ "$(shadow_rows)" -le "$_b" ]; do
	_i=$((_i + 1))
	[ "$_i" -lt 300 ] || fail "main: the copy did not go on within 60 s of resume"
	sleep 0.2
done

printf 'chunk-time = 2\n' >"$CONF"
kill -HUP "$SHADE_PID"
wait_for_line main "SIGHUP: read $CONF again: chunk-time 0.01 -> 2"
assert_eq "$(status_field chunk_time)" 2 "main: chunk_time after SIGHUP"

ctl_expect main postpone "ok: postponed until cut-over"
wait_for_status main phase postponed
my_sql "INSERT INTO items VALUES ($ROWS + 1, 'late', 1)"
for _s in 1 2 3; do
	sleep 1
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "main: shade ended while postponed"; }
	assert_eq "$(has_flag_column)" 0 "main: swapped while postponed"
done
check_status "main: status while postponed"
assert_eq "$(ctl_nc cut-over)" "ok: the swap goes on" "main: cut-over (nc)"
wait_shade
assert_rc 0 "main"
[ ! -e "$SOCK" ] || fail "main: the socket file is left after exit"
assert_eq "$(has_flag_column)" 1 "main: items lacks the new column"
assert_eq "$(my_val "SELECT COUNT(*) FROM items")" "$((ROWS + 1))" "main: rows lost"
assert_eq "$(my_val "SELECT sku FROM items WHERE id = $ROWS + 1")" late \
    "main: a row written while postponed is lost"
assert_eq "$(my_leftovers items)" "" "main: leftovers"

# -- abort from the socket ----------------------------------------------------
make_table 300000
my_fingerprint >"$T_TMP/before"
start_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.05 \
    --control-socket "$SOCK" --alter "$ALTER"
wait_for_status abort phase copy
ctl_expect abort abort "ok: aborting"
wait_shade
assert_rc 3 "abort"
assert_contains "$SHADE_ERR" "aborted from the control socket (during copy)" "abort"
[ ! -e "$SOCK" ] || fail "abort: the socket file is left after exit"
assert_eq "$(my_leftovers items)" "" "abort: leftovers"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "abort: the database changed"

t_pass

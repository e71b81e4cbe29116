#!/bin/sh
# mysql_conn.sh - how shade connects to MariaDB.
#
# 1. A server that accepts the connection and never answers, or that
#    answers its greeting a byte at a time (each byte renews the client
#    library's own wait), cannot hold shade: with --connect-timeout 1 it
#    exits 1 within a few seconds, with one "cannot connect" line.
# 2. shade's sessions carry the connection attribute program_name=shade,
#    so a DBA can find them: while a migration is paused in its copy,
#    performance_schema.session_connect_attrs (the test server runs with
#    performance_schema on, see my_start) shows it for the session that
#    works in the test's database. Resumed, the migration then finishes
#    with every row, nothing of shade left.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MYSQL_CONN_ROWS:-200000}

command -v python3 >/dev/null 2>&1 || fail "python3 is needed for the mute server"

# mute_server PATH MODE: listen on the unix socket PATH and accept every
# connection; MODE silent never answers, MODE trickle sends the header of a
# 64 kB greeting, then one byte every 0.3 s. Sets MUTE_PID.
mute_server()
{
	python3 - "$1" "$2" <<'EOF' &
import socket, sys, threading, time

path, mode = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
open(path + ".ready", "w").close()


def trickle(c):
    try:
        c.sendall(b"\xff\xff\x00\x00")
        while True:
            time.sleep(0.3)
            c.sendall(b"a")
    except OSError:
        pass


held = []
while True:
    c, _ = srv.accept()
    held.append(c)
    if mode == "trickle":
        threading.Thread(target=trickle, args=(c,), daemon=True).start()
EOF
	MUTE_PID=$!
	bg_track "$MUTE_PID"
	_i=0
	until [ -e "$1.ready" ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 100 ] || fail "the $2 server did not start"
		sleep 0.05
	done
}

# -- 1. a server that does not answer --------------------------------------------

SHADE_TIMEOUT=30
for mode in silent trickle; do
	sock=$T_TMP/$mode.sock
	mute_server "$sock" "$mode"
	t0=$(date +%s%N)
	run_shade --dsn "mysql://root@/db?socket=$sock" --table items --dry-run \
	    --connect-timeout 1 --alter 'ADD COLUMN flag INT'
	ms=$((($(date +%s%N) - t0) / 1000000))
	note "$mode server: shade exited $SHADE_RC after $ms ms"
	assert_rc 1 "$mode server"
	assert_one_line "$mode server"
	assert_contains "$SHADE_ERR" "cannot connect to MySQL" "$mode server: the reason"
	[ "$ms" -lt 5000 ] || fail "$mode server: shade took $ms ms with --connect-timeout 1"
	kill "$MUTE_PID"
	wait "$MUTE_PID" 2>/dev/null || true
done
unset SHADE_TIMEOUT

# -- 2. program_name=shade --------------------------------------------------------

my_start
my_newdb
[ "$(my_val "SELECT @@performance_schema")" = 1 ] ||
    fail "performance_schema is off on the test server: connection attributes cannot be seen"

my_sql <<EOF
CREATE TABLE items (
	id BIGINT NOT NULL PRIMARY KEY,
	sku VARCHAR(40) NOT NULL,
	qty INT NOT NULL
) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('SKU-', seq), seq % 100 FROM seq_1_to_$ROWS;
EOF
my_sql "CREATE TABLE items_before AS SELECT * FROM items"

start_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN flag INT NOT NULL DEFAULT 0'
_i=0
until grep -q capture "$SHADE_ERR"; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "shade ended before the capture"; }
	_i=$((_i + 1))
	[ "$_i" -lt 1200 ] || fail "shade did not reach the capture"
	sleep 0.05
done
kill -USR1 "$SHADE_PID"
_i=0
until grep -q paused "$SHADE_ERR"; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "shade ended before it paused"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "shade did not pause in its copy"
	sleep 0.05
done
seen=$(my_val "SELECT COUNT(*) FROM performance_schema.session_connect_attrs a
    JOIN information_schema.PROCESSLIST p ON p.ID = a.PROCESSLIST_ID
    WHERE a.ATTR_NAME = 'program_name' AND a.ATTR_VALUE = 'shade'
      AND p.DB = DATABASE()")
note "sessions in $MY_DB with program_name=shade: $seen"
[ "$seen" -ge 1 ] || fail "no session of shade shows program_name=shade"
mine=$(my_val "SELECT COUNT(*) FROM performance_schema.session_connect_attrs
    WHERE PROCESSLIST_ID = CONNECTION_ID() AND ATTR_NAME = 'program_name'
      AND ATTR_VALUE = 'shade'")
assert_eq "$mine" 0 "the test's own client session"
kill -USR2 "$SHADE_PID"
wait_shade
assert_rc 0 "the migration"
assert_eq "$(my_val "SELECT COUNT(*) FROM items WHERE flag = 0")" "$ROWS" "rows after the migration"
# (a join on the key: EXCEPT ALL over this many rows takes seconds)
assert_eq "$(my_val "SELECT COUNT(*) FROM items i JOIN items_before b USING (id)
    WHERE i.sku = b.sku AND i.qty = b.qty")" "$ROWS" "rows unchanged by the migration"
_left=$(my_leftovers items)
[ -z "$_left" ] || fail "left behind: $_left"

t_pass

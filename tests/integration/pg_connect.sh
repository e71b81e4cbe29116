#!/bin/sh
# pg_connect.sh - a PostgreSQL socket that accepts a connection and never
# answers must not hang shade: with --connect-timeout 1 it gives up on its
# own clock (not libpq's, whose connect_timeout is at least 2 s) within a
# few seconds, exit 1, one line that says so; and it did reach the socket.
# The real server, for contrast, is unchanged by any of it.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb
pg_sql "CREATE TABLE items (id int PRIMARY KEY, qty int)"
pg_fingerprint >"$T_TMP/before"

# The silent server: listens on <dir>/.s.PGSQL.5999, accepts every
# connection, counts it in $T_TMP/accepted, never reads nor writes.
SILENT=$T_TMP/silent
mkdir -p "$SILENT"
python3 -c '
import os, socket, sys
path, ready, log = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
open(ready, "w").close()
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open(log, "a") as f:
        f.write("accepted\n")
' "$SILENT/.s.PGSQL.5999" "$T_TMP/ready" "$T_TMP/accepted" &
SILENT_PID=$!
bg_track "$SILENT_PID"
i=0
until [ -f "$T_TMP/ready" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the silent server did not start"
	sleep 0.1
done

t0=$(date +%s%N)
run_shade --dsn "host=$SILENT port=5999 dbname=nothing user=nobody" \
    --table items --alter 'ADD COLUMN flag int' --execute --connect-timeout 1
ms=$((($(date +%s%N) - t0) / 1000000))
note "shade gave up after $ms ms"
assert_rc 1 "silent server"
assert_one_line "silent server"
assert_contains "$SHADE_ERR" "cannot connect to PostgreSQL: timed out after 1 s" \
    "silent server: the reason"
[ "$ms" -lt 5000 ] || fail "silent server: shade took $ms ms to give up"
[ -s "$T_TMP/accepted" ] || fail "silent server: shade never reached the socket"

# The option is checked like the others.
run_shade --dsn "$PG_DSN" --table items --alter 'ADD COLUMN flag int' \
    --execute --connect-timeout 0
assert_rc 2 "--connect-timeout 0"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "the real server changed"

t_pass

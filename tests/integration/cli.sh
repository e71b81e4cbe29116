#!/bin/sh
# cli.sh - the command line on both engines: usage errors, --verbose's
# detail on a failed statement, signals that arrive at any moment, and
# Ctrl-C at the password prompt.
#
#   - an unknown option, short or long, is a usage error: exit 2, one line
#     (shade -x once read long_options out of bounds);
#   - --verbose adds the statement that failed and its SQLSTATE (PostgreSQL)
#     or error number (MariaDB) under the one line;
#   - SIGUSR2 (resume) sent every few milliseconds for the whole run, up to
#     the moment shade exits, never kills it: the signals stay handled
#     until exit (a signal just after "done" used to end it with 140);
#   - at the password prompt, which reads the terminal through the event
#     loop, Ctrl-C aborts with exit 3 and changes nothing.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb
my_start
my_newdb

# 1. Unknown options.
for opt in -x -xyz --bogus; do
	run_shade "$opt" --dsn "$PG_DSN" --table items --alter 'ADD x int' --execute
	assert_rc 2 "option $opt"
	assert_one_line "$SHADE_ERR" "option $opt"
done
assert_contains "$SHADE_ERR" 'unknown option "--bogus"' "--bogus"
run_shade -x
assert_contains "$SHADE_ERR" 'unknown option "-x"' "-x"
run_shade --dsn
assert_rc 2 "--dsn without a value"
assert_contains "$SHADE_ERR" "option --dsn needs a value" "--dsn without a value"
run_shade --connect-timeout 0 --dsn "$PG_DSN" --table items --alter 'ADD x int' --execute
assert_rc 2 "--connect-timeout 0"

# 2. --verbose shows the statement that failed and its code.
pg_sql "CREATE TABLE items (id int PRIMARY KEY, qty int)"
my_sql "CREATE TABLE items (id int PRIMARY KEY, qty int)"
run_shade --dsn "$PG_DSN" --table items --alter 'DROP COLUMN nope' --execute
assert_rc 2 "pg: bad ALTER"
assert_one_line "$SHADE_ERR" "pg: bad ALTER without --verbose"
run_shade --dsn "$PG_DSN" --table items --alter 'DROP COLUMN nope' --execute --verbose
assert_rc 2 "pg: bad ALTER, --verbose"
assert_contains "$SHADE_ERR" "the statement that failed (SQLSTATE 42703): ALTER TABLE" \
    "pg: --verbose detail"
run_shade --dsn "$MY_DSN" --table items --alter 'DROP COLUMN nope' --execute --verbose
assert_rc 2 "mysql: bad ALTER, --verbose"
assert_contains "$SHADE_ERR" "the statement that failed (SQLSTATE 42000, error 1091): ALTER TABLE" \
    "mysql: --verbose detail"

# 3. SIGUSR2 at any moment, through the exit.
pg_sql "INSERT INTO items SELECT g, g FROM generate_series(1, 20000) g"
start_shade --dsn "$PG_DSN" --table items --execute --alter 'ADD COLUMN flag int'
# From its first line on, shade serves its signals.
i=0
until [ -s "$SHADE_ERR" ]; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "shade said nothing"
	sleep 0.01
done
n=0
while kill -USR2 "$SHADE_PID" 2>/dev/null; do
	n=$((n + 1))
	sleep 0.005
done
wait_shade
note "sent $n SIGUSR2"
assert_rc 0 "pg: SIGUSR2 throughout"
[ "$(pg_val "SELECT count(flag IS NULL) FROM items")" = 20000 ] ||
    fail "pg: the new column is missing"

# 4. Ctrl-C at the password prompt (a pseudo-terminal from script(1)).
my_sql "CREATE USER 'pw'@'localhost' IDENTIFIED BY 'secret';
    GRANT ALL ON \`$MY_DB\`.* TO 'pw'@'localhost'"
pw_dsn=$(echo "$MY_DSN" | sed 's|mysql://root@|mysql://pw@|')
my_fingerprint >"$T_TMP/before"
# script(1) runs the command with $SHELL -c; exec makes shade the
# terminal's foreground process itself, so the SIGINT the terminal sends
# reaches shade alone (a dash in between would die of it first and take
# the exit status with it), and script -e returns shade's own status.
rc=0
(sleep 2; printf '\003'; sleep 5) |
    env -u MYSQL_PWD SHELL=/bin/sh script -qec "exec $SHADE_BIN --dsn '$pw_dsn' \
        --table items --alter 'ADD COLUMN flag int' --execute" \
        /dev/null >"$T_TMP/prompt.out" 2>&1 || rc=$?
sed 's/^/# prompt: /' "$T_TMP/prompt.out" >&2
grep -q "Password:" "$T_TMP/prompt.out" || fail "no password prompt"
[ "$rc" = 3 ] || fail "Ctrl-C at the prompt exited $rc, not 3"
grep -q "aborted" "$T_TMP/prompt.out" || fail "no word of the abort"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "the prompt's abort changed the database"

t_pass

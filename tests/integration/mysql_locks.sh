#!/bin/sh
# mysql_locks.sh - shade never queues the application behind it for long on
# MariaDB: lock waits are bounded, retried, and finally given up cleanly;
# an abort cancels a waiting statement on the server.
#   1. a write transaction open over the swap: the swap's lock times out,
#      is retried, and succeeds once the transaction commits; its writes
#      reach the new table. Each retry note names the transaction's
#      connection (its id, user and statement), from performance_schema's
#      metadata locks; a writer of the table meanwhile never waits much
#      longer than the lock timeout
#   1b. the same with the metadata-lock instrument off (MariaDB's default):
#      the note names the open transactions of the database, "probably"
#   2. a write transaction longer than all attempts (--lock-retries 2):
#      exit 1; the undo, more patient, removes the sentry, shadow, log and
#      triggers once the transaction ends; the original exactly as it was
#   3. a double SIGINT while the capture waits for its lock (--lock-timeout
#      30): the waiting statement is killed on the server, exit 3 within
#      seconds, nothing left
#   4. a reader open over the capture: the capture's retry note names it,
#      and the run completes once it ends
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

my_sql "CREATE TABLE t (id INT PRIMARY KEY, v INT, KEY t_v (v)) ENGINE=InnoDB;
    INSERT INTO t SELECT seq, seq FROM seq_1_to_20000"

# hold SECONDS SQL: run SQL in an open transaction for SECONDS, in the
# background (sets HOLD_PID); returns once SQL has run, with the
# connection's id, as the session itself tells it, in HOLD_THREAD.
hold()
{
	rm -f "$T_TMP/hold.out"
	my_client -D "$MY_DB" --unbuffered -e "START TRANSACTION; $2;
	    SELECT CONCAT('thread ', CONNECTION_ID()); SELECT SLEEP($1); COMMIT" \
	    >"$T_TMP/hold.out" 2>&1 &
	HOLD_PID=$!
	bg_track "$HOLD_PID"
	_i=0
	until grep -q '^thread ' "$T_TMP/hold.out"; do
		_i=$((_i + 1))
		[ "$_i" -lt 100 ] || fail "the holding transaction did not start: $(cat "$T_TMP/hold.out")"
		sleep 0.05
	done
	HOLD_THREAD=$(sed -n 's/^thread //p' "$T_TMP/hold.out")
}

# The metadata-lock instrument, as the server had it, back at the end.
MDL_WAS=$(my_val "SELECT ENABLED FROM performance_schema.setup_instruments
    WHERE NAME = 'wait/lock/metadata/sql/mdl'")
[ -n "$MDL_WAS" ] || fail "performance_schema is off on the test server"
mdl_instrument()
{
	my_sql "UPDATE performance_schema.setup_instruments SET ENABLED = '$1'
	    WHERE NAME = 'wait/lock/metadata/sql/mdl'"
}
T_EXIT_HOOK='mdl_instrument "$MDL_WAS"'

# probe_start SQL: run SQL, one session and transaction each time, every
# 50 ms until probe_stop; the longest one's milliseconds go to
# $T_TMP/probe.max.
probe_start()
{
	rm -f "$T_TMP/probe.stop" "$T_TMP/probe.err"
	echo 0 >"$T_TMP/probe.max"
	(
		max=0
		while [ ! -f "$T_TMP/probe.stop" ]; do
			t0=$(date +%s%N)
			my_client -D "$MY_DB" -e "$1" >/dev/null 2>>"$T_TMP/probe.err" ||
			    echo "failed: $1" >>"$T_TMP/probe.err"
			ms=$((($(date +%s%N) - t0) / 1000000))
			if [ "$ms" -gt "$max" ]; then
				max=$ms
				echo "$max" >"$T_TMP/probe.max"
			fi
			sleep 0.05
		done
	) &
	PROBE_PID=$!
	bg_track "$PROBE_PID"
}

# probe_stop MSG LIMIT_MS: no write failed or took LIMIT_MS or longer.
probe_stop()
{
	: >"$T_TMP/probe.stop"
	wait "$PROBE_PID" || true
	[ ! -s "$T_TMP/probe.err" ] ||
	    fail "$1: a write failed: $(head -n 3 "$T_TMP/probe.err")"
	_max=$(cat "$T_TMP/probe.max")
	note "$1: the longest write took $_max ms"
	[ "$_max" -lt "$2" ] || fail "$1: a write waited $_max ms"
}

# start_paused ARGS...: start shade with the copy paused behind a
# reader that delays the capture, and wait for the capture triggers.
start_paused()
{
	hold 2 "SELECT COUNT(*) FROM t"
	start_shade "$@"
	_i=0
	until grep -q capture "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null || fail "shade ended early"
		_i=$((_i + 1))
		[ "$_i" -lt 1200 ] || fail "shade did not reach the capture"
		sleep 0.05
	done
	kill -USR1 "$SHADE_PID"
	_i=0
	while [ "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" != 3 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "no capture triggers after 60 s"
		sleep 0.1
	done
}

nothing_left()
{
	assert_eq "$(my_val "SELECT GROUP_CONCAT(table_name ORDER BY BINARY table_name)
	    FROM information_schema.tables WHERE table_schema = DATABASE()")" \
	    "$2" "$1: tables"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" 0 "$1: triggers"
}

# -- 1. the swap waits, retries, succeeds ---------------------------------------

mdl_instrument YES
start_paused --dsn "$MY_DSN" --table t --alter 'ADD COLUMN w INT' --execute
hold 4 "UPDATE t SET v = -v WHERE id = 5; INSERT INTO t VALUES (30000, 1)"
probe_start "UPDATE t SET v = v WHERE id = 100"
kill -USR2 "$SHADE_PID"
wait_shade
probe_stop "swap retried: the probe" 3000
assert_rc 0 "swap retried"
assert_contains "$SHADE_ERR" "swap: could not lock" "swap retried: it waited"
assert_contains "$SHADE_ERR" "; blocked by thread $HOLD_THREAD (user root, transaction open " \
    "swap retried: the note names the transaction"
assert_contains "$SHADE_ERR" "): SELECT SLEEP(4)" \
    "swap retried: the note gives the transaction's statement"
assert_eq "$(my_val "SELECT CONCAT_WS(',', v, IFNULL(w, 'null')) FROM t
    WHERE id IN (5, 30000) ORDER BY id" | tr '\n' ' ')" "-5,null 1,null " \
    "swap retried: the held transaction's writes"
nothing_left "swap retried" "_t_old,t"
my_sql "DROP TABLE _t_old"

# -- 1b. the same, without the metadata locks ---------------------------------------

mdl_instrument NO
start_paused --dsn "$MY_DSN" --table t --alter 'ADD COLUMN wp INT' --execute
hold 4 "UPDATE t SET v = v + 1 WHERE id = 6"
kill -USR2 "$SHADE_PID"
wait_shade
mdl_instrument "$MDL_WAS"
assert_rc 0 "swap retried, no MDL"
assert_contains "$SHADE_ERR" "; blocked by (probably) thread $HOLD_THREAD (user root, transaction open " \
    "swap retried, no MDL: the note names the transaction"
assert_contains "$SHADE_ERR" "): SELECT SLEEP(4)" \
    "swap retried, no MDL: the note gives the transaction's statement"
assert_eq "$(my_val "SELECT CONCAT_WS(',', v, IFNULL(wp, 'null')) FROM t WHERE id = 6")" \
    "7,null" "swap retried, no MDL: the held transaction's write"
nothing_left "swap retried, no MDL" "_t_old,t"
my_sql "DROP TABLE _t_old"

# -- 2. the swap gives up -----------------------------------------------------------

my_fingerprint >"$T_TMP/before"
start_paused --dsn "$MY_DSN" --table t --alter 'ADD COLUMN w2 INT' --execute \
    --lock-retries 2
hold 6 "UPDATE t SET v = v WHERE id = 7"
kill -USR2 "$SHADE_PID"
wait_shade
assert_rc 1 "swap gave up"
assert_contains "$SHADE_ERR" "gave up after 2 attempts" "swap gave up: the reason"
kill "$HOLD_PID" 2>/dev/null || true
wait "$HOLD_PID" 2>/dev/null || true
nothing_left "swap gave up" "t"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "swap gave up: the database changed"

# -- 3. an abort cancels the waiting statement ---------------------------------------

hold 30 "SELECT COUNT(*) FROM t"
start_shade --dsn "$MY_DSN" --table t --alter 'ADD COLUMN w3 INT' --execute \
    --lock-timeout 30
i=0
until grep -q capture "$SHADE_ERR"; do
	i=$((i + 1))
	[ "$i" -lt 1200 ] || fail "abort: shade did not reach the capture"
	sleep 0.05
done
sleep 1
t0=$(date +%s)
kill -INT "$SHADE_PID"
sleep 0.2
kill -INT "$SHADE_PID"
wait_shade
t1=$(date +%s)
assert_rc 3 "abort"
[ $((t1 - t0)) -le 5 ] || fail "abort: took $((t1 - t0)) s"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.processlist
    WHERE info LIKE 'LOCK TABLES%'")" 0 "abort: the LOCK TABLES was killed"
kill "$HOLD_PID" 2>/dev/null || true
wait "$HOLD_PID" 2>/dev/null || true
nothing_left "abort" "t"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "abort: the database changed"

# -- 4. a reader delays the capture: the note names it --------------------------

mdl_instrument YES
hold 3 "SELECT COUNT(*) FROM t"
run_shade --dsn "$MY_DSN" --table t --alter 'ADD COLUMN w4 INT' --execute \
    --lock-timeout 1 --lock-retries 30
wait "$HOLD_PID" 2>/dev/null || true
mdl_instrument "$MDL_WAS"
assert_rc 0 "capture: migration"
assert_contains "$SHADE_ERR" "capture: could not lock" "capture: it waited"
assert_contains "$SHADE_ERR" "; blocked by thread $HOLD_THREAD (user root" \
    "capture: the note names the reader"

t_pass

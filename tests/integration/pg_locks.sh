#!/bin/sh
# pg_locks.sh - a long transaction on the table (a reader holding its
# ACCESS SHARE lock) keeps the swap from its lock. shade must never queue
# the application behind it for longer than --lock-timeout per attempt:
#   - with enough retries it waits the reader out and swaps (exit 0, rows
#     right, nothing left behind);
#   - with too few it gives up (exit 1) and removes everything it built once
#     the reader has gone (its undo needs the same lock), leaving the
#     database exactly as it was.
# Each retry note names the reader (its pid, user and statement), and a
# writer of the table meanwhile never waits much longer than --lock-timeout:
# it queues behind shade's lock request for one attempt at most.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

mk()
{
	pg_sql "CREATE TABLE $1 (id bigserial PRIMARY KEY, sku text NOT NULL, qty int);
	    CREATE INDEX ${1}_sku_idx ON $1 (sku);
	    INSERT INTO $1 (sku, qty) SELECT 'SKU-' || g, g % 100
	    FROM generate_series(1, 20000) g;
	    CREATE TABLE ${1}_snap AS SELECT * FROM $1"
}

# hold TABLE SECONDS [STATEMENT]: as pg_hold (or a transaction that ran
# STATEMENT, e.g. a write), and the session's backend pid, as the session
# itself tells it, in HOLD_BACKEND.
hold()
{
	rm -f "$T_TMP/hold.pid"
	printf 'BEGIN;\n%s;\nSELECT pg_backend_pid() \\g %s\nSELECT pg_sleep(%s) AS held_by_the_test;\nCOMMIT;\n' \
	    "${3:-SELECT count(*) FROM $1}" "$T_TMP/hold.pid" "$2" | pg_psql >/dev/null 2>&1 &
	HOLD_PID=$!
	bg_track "$HOLD_PID"
	_i=0
	until [ -s "$T_TMP/hold.pid" ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 100 ] || fail "the reader did not start"
		sleep 0.1
	done
	HOLD_BACKEND=$(cat "$T_TMP/hold.pid")
}

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
			pg_psql -c "$1" >/dev/null 2>>"$T_TMP/probe.err" ||
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

# 1. The reader goes away after 4 s; ten attempts outlast it. A writer
#    queues behind each attempt's lock request, never longer than
#    --lock-timeout (0.2 s) and a generous margin.
mk waits
hold waits 4
probe_start "UPDATE waits SET qty = qty WHERE id = 1"
run_shade --dsn "$PG_DSN" --table waits --execute --lock-timeout 0.2 \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
wait "$HOLD_PID" || true
probe_stop "waits: the probe" 3000
assert_rc 0 "waits: migration"
assert_contains "$SHADE_ERR" "could not lock" "waits: the swap waited"
assert_contains "$SHADE_ERR" "; blocked by pid $HOLD_BACKEND (user $PG_USER, transaction open " \
    "waits: the note names the reader"
assert_contains "$SHADE_ERR" "): SELECT pg_sleep(4) AS held_by_the_test" \
    "waits: the note gives the reader's statement"
pg_same_rows waits waits_snap 'id, sku, qty' "waits"
left=$(pg_leftovers waits)
[ -z "$left" ] || fail "waits: left behind: $left"

# 2. The reader stays 8 s; two attempts give up, undo waits for it.
mk gives_up
pg_fingerprint >"$T_TMP/before"
pg_hold gives_up 8
run_shade --dsn "$PG_DSN" --table gives_up --execute --lock-timeout 0.2 \
    --lock-retries 2 --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
wait "$HOLD_PID" || true
assert_rc 1 "gives_up: migration"
assert_contains "$SHADE_ERR" "gave up after 2 attempts" "gives_up: the reason"
left=$(pg_leftovers gives_up)
[ -z "$left" ] || fail "gives_up: left behind: $left"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "gives_up: the database changed"

# 3. A write transaction open for 3 s keeps the capture's triggers from
#    their lock: each retry note names the writer; then the run goes on.
mk capture
hold capture 3 "UPDATE capture SET qty = qty + 1 WHERE id = 7"
run_shade --dsn "$PG_DSN" --table capture --execute --lock-timeout 0.2 --lock-retries 30 \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
wait "$HOLD_PID" || true
assert_rc 0 "capture: migration"
assert_contains "$SHADE_ERR" "capture: could not lock" "capture: it waited"
assert_contains "$SHADE_ERR" "; blocked by pid $HOLD_BACKEND (user $PG_USER, transaction open " \
    "capture: the note names the writer"
pg_sql "UPDATE capture_snap SET qty = qty + 1 WHERE id = 7"
pg_same_rows capture capture_snap 'id, sku, qty' "capture"

t_pass

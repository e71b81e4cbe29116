#!/bin/sh
# pg_signal_backoff.sh - a SIGTERM while shade backs off between attempts
# at the swap's lock takes effect at once, not when the pause ends.
#
# A reader holds the table's ACCESS SHARE lock, so every attempt at the
# swap times out and shade waits 0.5, 1, 2, 4, 8 s between attempts. During
# the 8 s pause the test sends SIGTERM and ends the reader (undo needs the
# lock too): shade must exit 3 within 3 s, leave nothing behind and the
# database as it was. Before the fix the pause ran to its end.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql "CREATE TABLE items (id bigserial PRIMARY KEY, sku text NOT NULL, qty int);
    INSERT INTO items (sku, qty) SELECT 'SKU-' || g, g % 100
    FROM generate_series(1, 5000) g"
pg_fingerprint >"$T_TMP/before"

pg_hold items 120

start_shade --dsn "$PG_DSN" --table items --execute --lock-timeout 0.2 \
    --lock-retries 10 --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
i=0
until grep -q 'retrying in 8.0s' "$SHADE_ERR"; do
	i=$((i + 1))
	[ "$i" -lt 400 ] || { kill "$SHADE_PID"; wait_shade; fail "shade never backed off 8 s"; }
	sleep 0.1
done
t0=$(date +%s%N)
kill -TERM "$SHADE_PID"
pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
wait_shade
ms=$((($(date +%s%N) - t0) / 1000000))
note "shade exited ${ms} ms after SIGTERM"
wait "$HOLD_PID" 2>/dev/null || true
assert_rc 3 "SIGTERM during the back-off"
assert_contains "$SHADE_ERR" "aborted by signal 15" "the reason"
[ "$ms" -lt 3000 ] || fail "shade took ${ms} ms to act on SIGTERM during an 8 s pause"
left=$(pg_leftovers items)
[ -z "$left" ] || fail "left behind: $left"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "the database changed"

t_pass

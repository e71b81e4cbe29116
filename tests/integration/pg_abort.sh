#!/bin/sh
# pg_abort.sh - SIGTERM or SIGINT during the copy: shade stops promptly with
# exit 3, removes its triggers, change log and shadow, and leaves the
# original exactly as it was (catalog and data fingerprint).
#
# shade is started in the background by a non-interactive shell, which
# starts it with SIGINT ignored (POSIX); a program that handles SIGINT
# installs its own handler, so the signal still arrives.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_ABORT_ROWS:-400000}

pg_start
pg_newdb

pg_sql <<EOF
CREATE TABLE items (
	id bigint PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL,
	note text
);
CREATE INDEX items_sku_idx ON items (sku);
INSERT INTO items
SELECT g, 'SKU-' || g, g % 1000, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n ' || g END
FROM generate_series(1, $ROWS) g;
ANALYZE items;
EOF
pg_fingerprint >"$T_TMP/before"

abort_with()
{
	_sig=$1
	start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.05 \
	    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
	pg_wait_for_copy "SIG$_sig"
	_t0=$(date +%s%N)
	kill -"$_sig" "$SHADE_PID"
	wait_shade
	_ms=$((($(date +%s%N) - _t0) / 1000000))
	note "SIG$_sig: shade exited $SHADE_RC after $_ms ms"
	assert_rc 3 "SIG$_sig during the copy"
	[ "$_ms" -lt 10000 ] || fail "SIG$_sig: shade took $_ms ms to stop"
	[ -s "$SHADE_ERR" ] || fail "SIG$_sig: nothing said on stderr"
	pg_no_sessions "SIG$_sig"
	_left=$(pg_leftovers items)
	[ -z "$_left" ] || fail "SIG$_sig: left behind: $_left"
	pg_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" \
	    "SIG$_sig: the database changed"
}

abort_with TERM
abort_with INT

t_pass

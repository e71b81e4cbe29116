# tests/lib.sh - throwaway servers and helpers for shade's integration tests.
#
# POSIX sh (runs under dash). Every integration test is a POSIX sh script that
# sources this file, starts the servers it needs, drives the real build/shade
# and asserts on the database's real state:
#
#	#!/bin/sh
#	set -eu
#	. "$(dirname "$0")/../lib.sh"
#	pg_start                       # or my_start
#	pg_newdb                       # fresh database named after the test
#	pg_sql "CREATE TABLE items (id int PRIMARY KEY)"
#	run_shade --dsn "$PG_DSN" --table items --alter '...' --execute
#	[ "$SHADE_RC" = 0 ] || fail "shade exited $SHADE_RC"
#	t_pass
#
# Servers. PostgreSQL 15 (initdb + pg_ctl, unix socket only, fsync off) and
# MariaDB 10.11 (mariadb-install-db + mariadbd, --skip-networking; with
# performance_schema on, which shows connection attributes, for about 0.3 s
# more start-up) live in a
# temporary directory. tests/run.sh starts one of each for the whole run and
# exports SHADE_PG_SOCKDIR/SHADE_PG_PORT/SHADE_PG_USER and SHADE_MY_SOCK; a
# test that finds them reuses those servers (and leaves them running), a test
# run on its own starts private ones that are stopped when it exits. As root,
# PostgreSQL runs as the `postgres` user (or `shadetest`, created if needed),
# because initdb refuses root; mariadbd runs with --user=root.
#
# Variables set here:
#	SHADE_ROOT   the repository root
#	SHADE_BIN    build/shade (override with the environment)
#	WRITER_BIN   build/tools/writer
#	T_NAME       the test's name (script name without .sh)
#	T_TMP        a private temporary directory, removed on exit
#	             (kept when SHADE_KEEP_TMP=1)
#
# PostgreSQL:
#	pg_start              start (or reuse) the server; sets PG_SOCKDIR,
#	                      PG_PORT, PG_USER and exports PGHOST/PGPORT/PGUSER;
#	                      PG_SERVER_CONF, when set, is appended to its
#	                      postgresql.conf (the benchmark sizes its server)
#	pg_newdb [NAME]       drop and create database NAME (default: $T_NAME);
#	                      sets PG_DB, PG_DSN (key=value conninfo) and
#	                      PG_URI (postgres:// form); exports PGDATABASE
#	pg_sql [SQL]          run SQL (or stdin when no argument) in $PG_DB with
#	                      psql -X -A -t -q -v ON_ERROR_STOP=1; prints the
#	                      rows ('|' between columns); fails the test on error
#	pg_try SQL            like pg_sql, but returns psql's status instead of
#	                      failing (stderr goes to stdout)
#	pg_val SQL            print the single value SQL returns
#	pg_fingerprint        print the database's catalog and data fingerprint:
#	                      relations (with oid, owner, acl, options), columns,
#	                      defaults, constraints, indexes, triggers, functions,
#	                      sequences, views and a hash of every table's rows.
#	                      Equal before and after = the database is unchanged.
#	pg_same_rows A B COLS MSG
#	                      fail unless tables A and B (SQL text, quoted as
#	                      needed) hold the same rows on the columns COLS
#	                      (a select list): EXCEPT ALL both ways and counts;
#	                      shows a few differing rows
#	pg_no_sessions MSG    fail unless, within 10 s, no other session is
#	                      connected to $PG_DB (shade left no backend behind
#	                      still running a statement or holding a lock)
#	pg_hold TABLE SECS    a background reader holds TABLE's ACCESS SHARE
#	                      lock for SECS seconds (HOLD_PID)
#	pg_replica_start      a streaming standby of that server (pg_basebackup),
#	                      stopped on exit; sets PGR_DIR, PGR_PORT, PGR_DSN;
#	                      pg_replica_sql SQL runs SQL on it
#	pg_leftovers TABLE    print shade's objects left for TABLE (the shadow,
#	                      the change log, triggers on TABLE, functions outside
#	                      the system schemas); empty when nothing is left
#
# MariaDB:
#	my_start              start (or reuse) the server; sets MY_SOCK;
#	                      MY_SERVER_OPTS, when set, are added to mariadbd's
#	                      options (the benchmark sizes its server)
#	my_newdb [NAME]       drop and create database NAME (default: $T_NAME,
#	                      utf8mb4); sets MY_DB and MY_DSN
#	                      (mysql://root@/NAME?socket=...)
#	my_sql [SQL]          run SQL (or stdin) in $MY_DB with the mariadb
#	                      client (-N -B: tab-separated, no header, special
#	                      characters escaped, NULL printed as NULL); fails the
#	                      test on error
#	my_try SQL            like my_sql, but returns the client's status
#	my_val SQL            print the single value SQL returns
#	my_fingerprint        like pg_fingerprint: tables (engine, options,
#	                      create time, AUTO_INCREMENT), columns, indexes,
#	                      foreign keys, triggers, routines and CHECKSUM TABLE
#	                      of every table in $MY_DB
#	my_same_rows A B COLS MSG   as pg_same_rows
#	my_migrate_under_load TABLE SHADE-ARGS...
#	                      run shade with the writer ($LOAD_ARGS) going from
#	                      the capture to the end, and $LOAD_AFTER seconds
#	                      more (default 0; see the function)
#	my_primary_opts PORT  MY_SERVER_OPTS for a primary a replica can follow
#	                      (binlog, server-id 1, TCP on 127.0.0.1:PORT)
#	my_replica_start      a second mariadbd replicating from it, stopped on
#	                      exit; sets MYR_SOCK; myr_sql SQL runs SQL on it
#	my_leftovers TABLE    shade's objects left for TABLE (_TABLE_new,
#	                      _TABLE_log, triggers on TABLE)
#
# Running shade and the writer:
#	run_shade ARGS...     run $SHADE_BIN (killed after SHADE_TIMEOUT seconds,
#	                      default 600: exit 124); sets SHADE_RC, and
#	                      SHADE_OUT / SHADE_ERR (files holding stdout /
#	                      stderr); copies shade's stderr into the test's
#	                      output
#	start_shade ARGS...   the same in the background: sets SHADE_PID;
#	wait_shade            waits for it and sets SHADE_RC
#	start_writer ARGS...  run $WRITER_BIN in the background (output in
#	                      $T_TMP/writer.N.log); sets WRITER_PID, WRITER_LOG
#	stop_writer           create the writer's --until-file (WRITER_STOP,
#	                      which start_writer passes for you), wait for it,
#	                      print its summary; fails the test if it failed;
#	                      sets WRITER_COMMITS (transactions committed) and
#	                      WRITER_RC; `stop_writer --keep-going` does not fail
#	                      (check WRITER_RC yourself, e.g. after comparing)
#	bg_track PID          kill PID (TERM) when the test exits
#
# Assertions (each fails the test with a message):
#	fail MSG...           print "FAIL: MSG" and exit 1
#	note MSG...           print a progress line
#	assert_eq GOT WANT MSG
#	assert_rc WANT MSG    SHADE_RC must be WANT
#	assert_one_line MSG   shade's stderr must be exactly one non-empty line
#	assert_contains FILE TEXT MSG    (fixed string, not a pattern)
#	assert_same_file A B MSG         shows the diff when they differ
#	t_pass                print "PASS" and exit 0
#	t_check WHAT CMD...   run CMD in a subshell; when it fails (e.g. calls
#	                      fail), note WHAT and go on: one run reports every
#	                      failing case. Variables CMD sets are lost.
#	t_done                fail if any t_check failed, else t_pass
#
# T_EXIT_HOOK, when set, is eval'ed on exit before the servers stop.

# -- setup ----------------------------------------------------------------

t_find_root()
{
	_d=$(cd "$(dirname "$0")" && pwd)
	while [ "$_d" != / ]; do
		if [ -f "$_d/Makefile" ] && [ -f "$_d/tests/lib.sh" ]; then
			echo "$_d"
			return 0
		fi
		_d=$(dirname "$_d")
	done
	echo "lib.sh: cannot find the repository root from $0" >&2
	return 1
}

: "${SHADE_ROOT:=$(t_find_root)}"
: "${SHADE_BIN:=$SHADE_ROOT/build/shade}"
: "${WRITER_BIN:=$SHADE_ROOT/build/tools/writer}"
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export SHADE_ROOT SHADE_BIN WRITER_BIN ASAN_OPTIONS UBSAN_OPTIONS

T_NAME=$(basename "$0" .sh)
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/shade-test.XXXXXX")
# The PostgreSQL server runs as another user when we are root: let it in.
chmod 755 "$T_TMP"
T_BGPIDS=
PG_OWN=
MY_OWN=
MY_PID=

PG_BINDIR=/usr/lib/postgresql/15/bin

# -- reporting ------------------------------------------------------------

fail()
{
	echo "FAIL: $T_NAME: $*" >&2
	exit 1
}

note()
{
	echo "# $*" >&2
}

T_FAILED=

t_check()
{
	_what=$1
	shift
	if ("$@"); then
		:
	else
		T_FAILED="$T_FAILED
  - $_what"
	fi
}

t_done()
{
	[ -z "$T_FAILED" ] || fail "these checks failed:$T_FAILED"
	t_pass
}

t_pass()
{
	echo "PASS: $T_NAME"
	exit 0
}

assert_eq()
{
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

assert_rc()
{
	[ "$SHADE_RC" = "$1" ] || fail "$2: shade exited $SHADE_RC, want $1"
}

assert_one_line()
{
	_n=$(grep -c . "$SHADE_ERR" || true)
	[ "$_n" = 1 ] || fail "$1: want exactly one line on stderr, got $_n"
}

assert_contains()
{
	grep -qF -- "$2" "$1" || fail "$3: '$2' not found in $(basename "$1")"
}

assert_same_file()
{
	if ! cmp -s "$1" "$2"; then
		diff -u "$1" "$2" | head -n 60 >&2 || true
		fail "$3"
	fi
}

# dry_json_fields FILE LOGKEY: FILE is the dry run's JSON report, one object
# with every field the report promises, each of its type and sane (LOGKEY:
# wal_bytes or binlog_bytes, a number or null).
dry_json_fields()
{
	jq -e --arg log "$2" '.event == "dry_run"
	    and (.rows | type) == "number" and .rows >= 0
	    and (.bytes | type) == "number" and .bytes > 0
	    and .disk_bytes_needed >= .bytes
	    and (.estimated_seconds | type) == "number" and .estimated_seconds > 0
	    and ([.phases.copy, .phases.indexes, .phases.apply, .phases.other]
	        | all(type == "number" and . >= 0))
	    and (.phases.copy + .phases.indexes + .phases.apply + .phases.other
	        - .estimated_seconds | fabs) < 0.01
	    and (.plan | type) == "array" and (.plan | length) > 5
	    and (.plan | all(type == "string"))
	    and (.warnings | type) == "array" and (.warnings | all(type == "string"))
	    and has($log) and ((.[$log] | type) == "number" or .[$log] == null)
	    and (.write_rate | type) == "number" and .write_rate >= 0
	    and (.converges | type) == "boolean" and (.instant | type) == "boolean"
	    and .sample_rows > 0 and .copy_rate > 0' "$1" >/dev/null ||
	    fail "the dry run's JSON report lacks a field or has an odd value: $(cat "$1")"
}

# -- cleanup --------------------------------------------------------------

bg_track()
{
	T_BGPIDS="$T_BGPIDS $1"
}

t_cleanup()
{
	_rc=$?
	trap - EXIT INT TERM
	if [ -n "${T_EXIT_HOOK:-}" ]; then
		eval "$T_EXIT_HOOK" || true
	fi
	for _p in $T_BGPIDS; do
		kill -TERM "$_p" 2>/dev/null || true
	done
	for _p in $T_BGPIDS; do
		wait "$_p" 2>/dev/null || true
	done
	pg_stop
	my_stop
	if [ "${SHADE_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $T_TMP" >&2
	else
		rm -rf "$T_TMP"
	fi
	exit "$_rc"
}

trap t_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# -- PostgreSQL -----------------------------------------------------------

# The OS user the server runs as: ourselves, or an unprivileged one as root.
pg_os_user()
{
	if [ "$(id -u)" != 0 ]; then
		id -un
	elif id postgres >/dev/null 2>&1; then
		echo postgres
	else
		id shadetest >/dev/null 2>&1 ||
		    useradd --system --no-create-home --shell /usr/sbin/nologin \
		    shadetest >/dev/null 2>&1 ||
		    { echo "lib.sh: cannot create user shadetest" >&2; return 1; }
		echo shadetest
	fi
}

pg_as_user()
{
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_OSUSER" -- "$@"
	else
		"$@"
	fi
}

pg_start()
{
	if [ -n "${SHADE_PG_SOCKDIR:-}" ]; then
		PG_SOCKDIR=$SHADE_PG_SOCKDIR
		PG_PORT=$SHADE_PG_PORT
		PG_USER=$SHADE_PG_USER
		pg_export
		return 0
	fi
	PG_OSUSER=$(pg_os_user)
	PG_DIR=$T_TMP/pg
	PG_SOCKDIR=$PG_DIR
	PG_USER=postgres
	# The socket lives in our own directory: the port only names it.
	PG_PORT=$((20000 + $$ % 20000))
	mkdir -p "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown "$PG_OSUSER" "$PG_DIR"
	if ! pg_as_user "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U "$PG_USER" \
	    -A trust -E UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		cat "$PG_DIR/initdb.log" >&2
		fail "initdb failed"
	fi
	cat >>"$PG_DIR/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PG_SOCKDIR'
port = $PG_PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
wal_level = logical
shared_buffers = 128MB
max_wal_size = 1GB
checkpoint_timeout = 30min
autovacuum = off
log_min_messages = warning
log_min_error_statement = panic
${PG_SERVER_CONF:-}
EOF
	if ! pg_as_user "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
	    -w -t 60 start >"$PG_DIR/pg_ctl.log" 2>&1; then
		cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2
		fail "PostgreSQL did not start"
	fi
	PG_OWN=1
	pg_export
}

pg_export()
{
	SHADE_PG_SOCKDIR=$PG_SOCKDIR
	SHADE_PG_PORT=$PG_PORT
	SHADE_PG_USER=$PG_USER
	PGHOST=$PG_SOCKDIR
	PGPORT=$PG_PORT
	PGUSER=$PG_USER
	export SHADE_PG_SOCKDIR SHADE_PG_PORT SHADE_PG_USER PGHOST PGPORT PGUSER
	unset PGPASSWORD PGSERVICE PGOPTIONS 2>/dev/null || true
}

pg_stop()
{
	[ -n "$PG_OWN" ] || return 0
	PG_OWN=
	pg_as_user "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
	    >/dev/null 2>&1 || true
}

pg_newdb()
{
	PG_DB=${1:-$T_NAME}
	PGOPTIONS='-c client_min_messages=warning' \
	    psql -X -q -d postgres -v ON_ERROR_STOP=1 \
	    -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" \
	    -c "CREATE DATABASE \"$PG_DB\" TEMPLATE template0 ENCODING 'UTF8'" \
	    >/dev/null || fail "cannot create database $PG_DB"
	PGDATABASE=$PG_DB
	export PGDATABASE
	PG_DSN="host=$PG_SOCKDIR port=$PG_PORT dbname=$PG_DB user=$PG_USER"
	PG_URI="postgres://$PG_USER@/$PG_DB?host=$PG_SOCKDIR&port=$PG_PORT"
}

# psql, quiet: no notices, no headers, stop at the first error.
pg_psql()
{
	PGOPTIONS='-c client_min_messages=warning' \
	    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$PG_DB" "$@"
}

pg_sql()
{
	if [ $# -gt 0 ]; then
		pg_psql -c "$1" || fail "SQL failed: $1"
	else
		pg_psql -f - ||
		    fail "SQL script failed"
	fi
}

pg_try()
{
	pg_psql -c "$1" 2>&1
}

pg_val()
{
	pg_sql "$1"
}

pg_fingerprint()
{
	pg_sql <<'EOF'
WITH ns AS (
	SELECT oid, nspname FROM pg_namespace
	WHERE nspname NOT IN ('pg_catalog', 'information_schema')
	  AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%'
), rels AS (
	SELECT c.* FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
)
SELECT 'rel ' || c.oid::regclass || ' kind=' || c.relkind::text || ' oid=' || c.oid
    || ' owner=' || c.relowner::regrole || ' acl=' || coalesce(c.relacl::text, '-')
    || ' opts=' || coalesce(c.reloptions::text, '-')
    || ' replident=' || c.relreplident::text || ' rls=' || c.relrowsecurity
    || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-')
FROM rels c
UNION ALL
SELECT 'col ' || a.attrelid::regclass || ' ' || a.attnum || ' ' || quote_ident(a.attname)
    || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
    || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
    || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
    || ' stats=' || a.attstattarget
FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL
SELECT 'con ' || co.conrelid::regclass || ' ' || quote_ident(co.conname) || ' '
    || pg_get_constraintdef(co.oid) || ' validated=' || co.convalidated
    || ' comment=' || coalesce(obj_description(co.oid, 'pg_constraint'), '-')
FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
UNION ALL
SELECT 'idx ' || i.indexrelid::regclass || ' ' || pg_get_indexdef(i.indexrelid)
    || ' valid=' || i.indisvalid || ' clustered=' || i.indisclustered
    || ' replident=' || i.indisreplident
    || ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '-')
FROM pg_index i JOIN rels c ON c.oid = i.indrelid
UNION ALL
SELECT 'trg ' || t.tgrelid::regclass || ' ' || quote_ident(t.tgname) || ' '
    || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL
SELECT 'fn ' || p.oid::regprocedure || ' ' || md5(coalesce(p.prosrc, ''))
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
UNION ALL
SELECT 'seq ' || quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename)
    || ' last=' || coalesce(s.last_value::text, 'null')
FROM pg_sequences s
UNION ALL
SELECT 'view ' || c.oid::regclass || ' ' || md5(pg_get_viewdef(c.oid))
FROM rels c WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT 'policy ' || po.polrelid::regclass || ' ' || quote_ident(po.polname)
FROM pg_policy po JOIN rels c ON c.oid = po.polrelid
UNION ALL
SELECT 'data ' || c.oid::regclass || ' ' || md5(query_to_xml(format(
    'SELECT count(*) AS n, md5(string_agg(t::text, %L ORDER BY t::text)) AS h FROM %s t',
    E'\n', c.oid::regclass), false, true, '')::text)
FROM rels c WHERE c.relkind IN ('r', 'p')
ORDER BY 1;
EOF
}

# Rows of A missing in B (EXCEPT ALL) in engine $1's SQL.
t_same_rows()
{
	_e=$1 _a=$2 _b=$3 _c=$4 _m=$5
	_na=$("${_e}_val" "SELECT count(*) FROM $_a")
	_nb=$("${_e}_val" "SELECT count(*) FROM $_b")
	_q1="SELECT $_c FROM $_a EXCEPT ALL SELECT $_c FROM $_b"
	_q2="SELECT $_c FROM $_b EXCEPT ALL SELECT $_c FROM $_a"
	_d1=$("${_e}_val" "SELECT count(*) FROM ($_q1) d")
	_d2=$("${_e}_val" "SELECT count(*) FROM ($_q2) d")
	if [ "$_na" != "$_nb" ] || [ "$_d1" != 0 ] || [ "$_d2" != 0 ]; then
		echo "# $_a: $_na rows, $_b: $_nb rows" >&2
		echo "# in $_a, not in $_b ($_d1):" >&2
		"${_e}_val" "$_q1 ORDER BY 1 LIMIT 10" | sed 's/^/#   /' >&2
		echo "# in $_b, not in $_a ($_d2):" >&2
		"${_e}_val" "$_q2 ORDER BY 1 LIMIT 10" | sed 's/^/#   /' >&2
		fail "$_m: $_a and $_b differ"
	fi
}

pg_same_rows()
{
	t_same_rows pg "$@"
}

pg_no_sessions()
{
	_i=0
	while :; do
		_n=$(pg_val "SELECT count(*) FROM pg_stat_activity
		    WHERE datname = current_database() AND pid <> pg_backend_pid()")
		[ "$_n" = 0 ] && return 0
		_i=$((_i + 1))
		if [ "$_i" -ge 100 ]; then
			pg_val "SELECT pid, application_name, state, query
			    FROM pg_stat_activity WHERE datname = current_database()
			      AND pid <> pg_backend_pid()" | sed 's/^/#   /' >&2
			fail "$1: $_n sessions still connected"
		fi
		sleep 0.1
	done
}

# pg_hold TABLE SECONDS: a reader in the background keeps TABLE's ACCESS
# SHARE lock that long (any lock stronger than a read waits for it); returns
# once the lock is held, with its pid in HOLD_PID.
pg_hold()
{
	pg_psql -c "BEGIN; SELECT count(*) FROM $1; SELECT pg_sleep($2); COMMIT" \
	    >/dev/null 2>&1 &
	HOLD_PID=$!
	bg_track "$HOLD_PID"
	_i=0
	until [ "$(pg_val "SELECT count(*) FROM pg_locks l JOIN pg_class c
	    ON c.oid = l.relation WHERE c.relname = '$1' AND l.granted
	    AND l.pid <> pg_backend_pid()")" -gt 0 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 100 ] || fail "the reader did not get its lock on $1"
		sleep 0.1
	done
}

# pg_unhold TABLE: end pg_hold's reader. Killing psql alone leaves its
# backend in pg_sleep(), holding TABLE until the sleep ends: terminate that
# backend too (only it: shade's own sessions may hold TABLE as well), and
# wait until it is gone.
pg_unhold()
{
	kill "$HOLD_PID" 2>/dev/null || true
	wait "$HOLD_PID" 2>/dev/null || true
	_q="SELECT a.pid FROM pg_stat_activity a WHERE a.query LIKE 'BEGIN; SELECT count(*) FROM $1; SELECT pg_sleep(%'
	    OR (a.query LIKE 'SELECT pg_sleep(%' AND EXISTS (SELECT 1 FROM pg_locks l
	        JOIN pg_class c ON c.oid = l.relation
	        WHERE l.pid = a.pid AND c.relname = '$1'))"
	pg_sql "SELECT pg_terminate_backend(pid) FROM ($_q) h WHERE pid <> pg_backend_pid()" >/dev/null
	_i=0
	until [ "$(pg_val "SELECT count(*) FROM ($_q) h WHERE pid <> pg_backend_pid()")" = 0 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 100 ] || fail "the reader of $1 did not go"
		sleep 0.1
	done
}

pg_leftovers()
{
	_t=$(echo "$1" | sed "s/'/''/g")
	pg_sql "
SELECT 'relation ' || c.oid::regclass FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND c.relname IN ('_${_t}_new', '_${_t}_log', '_${_t}_state')
UNION ALL
SELECT 'trigger ' || quote_ident(t.tgname) || ' on ' || t.tgrelid::regclass
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND c.relname IN ('$_t', '_${_t}_old')
UNION ALL
SELECT 'function ' || p.oid::regprocedure FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1"
}

# pg_replica_start: a streaming standby of the server pg_start started or
# reused (pg_basebackup -R), on its own socket directory and port; sets
# PGR_DIR, PGR_PORT and PGR_DSN (for $PG_DB); stopped when the test exits.
# pg_replica_sql SQL runs SQL on it.
pg_replica_start()
{
	PG_OSUSER=${PG_OSUSER:-$(pg_os_user)}
	PGR_DIR=$T_TMP/pgr
	PGR_PORT=$((PG_PORT + 1))
	mkdir -p "$PGR_DIR"
	[ "$(id -u)" = 0 ] && chown "$PG_OSUSER" "$PGR_DIR"
	pg_as_user "$PG_BINDIR/pg_basebackup" -h "$PG_SOCKDIR" -p "$PG_PORT" -U "$PG_USER" \
	    -D "$PGR_DIR/data" -R -X stream -c fast >"$PGR_DIR/basebackup.log" 2>&1 ||
	    { cat "$PGR_DIR/basebackup.log" >&2; fail "pg_basebackup failed"; }
	printf "unix_socket_directories = '%s'\nport = %s\nhot_standby = on\n" \
	    "$PGR_DIR" "$PGR_PORT" >>"$PGR_DIR/data/postgresql.conf"
	pg_as_user "$PG_BINDIR/pg_ctl" -D "$PGR_DIR/data" -l "$PGR_DIR/server.log" \
	    -w -t 60 start >"$PGR_DIR/pg_ctl.log" 2>&1 ||
	    { cat "$PGR_DIR/pg_ctl.log" "$PGR_DIR/server.log" >&2; fail "the standby did not start"; }
	T_EXIT_HOOK="${T_EXIT_HOOK:+$T_EXIT_HOOK; }pg_replica_stop"
	PGR_DSN="host=$PGR_DIR port=$PGR_PORT dbname=$PG_DB user=$PG_USER"
}

pg_replica_stop()
{
	[ -n "${PGR_DIR:-}" ] || return 0
	pg_as_user "$PG_BINDIR/pg_ctl" -D "$PGR_DIR/data" -m immediate -w stop \
	    >/dev/null 2>&1 || true
	PGR_DIR=
}

pg_replica_sql()
{
	PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -q -v ON_ERROR_STOP=1 \
	    -h "$PGR_DIR" -p "$PGR_PORT" -d "$PG_DB" -c "$1" || fail "SQL on the standby failed: $1"
}

# -- MariaDB --------------------------------------------------------------

my_start()
{
	if [ -n "${SHADE_MY_SOCK:-}" ]; then
		MY_SOCK=$SHADE_MY_SOCK
		return 0
	fi
	MY_DIR=$T_TMP/my
	MY_SOCK=$MY_DIR/mysqld.sock
	mkdir -p "$MY_DIR/data" "$MY_DIR/tmp"
	_u=
	[ "$(id -u)" = 0 ] && _u=--user=root
	if ! mariadb-install-db --no-defaults --datadir="$MY_DIR/data" $_u \
	    --auth-root-authentication-method=normal --skip-test-db \
	    --skip-name-resolve >"$MY_DIR/install.log" 2>&1; then
		cat "$MY_DIR/install.log" >&2
		fail "mariadb-install-db failed"
	fi
	mariadbd --no-defaults --datadir="$MY_DIR/data" $_u \
	    --socket="$MY_SOCK" --skip-networking --tmpdir="$MY_DIR/tmp" \
	    --pid-file="$MY_DIR/mysqld.pid" --log-error="$MY_DIR/error.log" \
	    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
	    --skip-name-resolve --skip-log-bin \
	    --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
	    --innodb-buffer-pool-size=256M --innodb-log-file-size=128M \
	    --sync-binlog=0 --max-connections=200 --performance-schema=ON ${MY_SERVER_OPTS:-} \
	    </dev/null >"$MY_DIR/stdout.log" 2>&1 &
	MY_PID=$!
	MY_OWN=1
	_i=0
	while ! mariadb-admin --no-defaults -uroot --socket="$MY_SOCK" \
	    ping >/dev/null 2>&1; do
		if ! kill -0 "$MY_PID" 2>/dev/null; then
			MY_OWN=
			cat "$MY_DIR/error.log" >&2
			fail "mariadbd died while starting"
		fi
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || { tail -n 30 "$MY_DIR/error.log" >&2;
		    fail "mariadbd did not answer in 60 s"; }
		sleep 0.1
	done
	SHADE_MY_SOCK=$MY_SOCK
	export SHADE_MY_SOCK
}

my_stop()
{
	[ -n "$MY_OWN" ] || return 0
	MY_OWN=
	kill -TERM "$MY_PID" 2>/dev/null || true
	_i=0
	while kill -0 "$MY_PID" 2>/dev/null && [ "$_i" -lt 300 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$MY_PID" 2>/dev/null || true
	wait "$MY_PID" 2>/dev/null || true
}

my_client()
{
	mariadb --no-defaults --protocol=socket --socket="$MY_SOCK" -uroot \
	    --default-character-set=utf8mb4 -N -B "$@"
}

my_newdb()
{
	MY_DB=${1:-$T_NAME}
	my_client -e "DROP DATABASE IF EXISTS \`$MY_DB\`;
	    CREATE DATABASE \`$MY_DB\` CHARACTER SET utf8mb4" ||
	    fail "cannot create database $MY_DB"
	MY_DSN="mysql://root@/$MY_DB?socket=$MY_SOCK"
}

my_sql()
{
	if [ $# -gt 0 ]; then
		my_client -D "$MY_DB" -e "$1" || fail "SQL failed: $1"
	else
		my_client -D "$MY_DB" || fail "SQL script failed"
	fi
}

my_try()
{
	my_client -D "$MY_DB" -e "$1" 2>&1
}

my_val()
{
	my_sql "$1"
}

my_fingerprint()
{
	my_sql "
SELECT CONCAT_WS(' ', 'table', table_name, table_type, engine, row_format,
    table_collation, create_options, auto_increment, create_time,
    CONCAT('comment=', table_comment))
FROM information_schema.tables WHERE table_schema = DATABASE()
UNION ALL
SELECT CONCAT_WS(' ', 'col', table_name, ordinal_position, column_name,
    column_type, is_nullable, CONCAT('default=', IFNULL(column_default, '-')),
    extra, character_set_name, collation_name)
FROM information_schema.columns WHERE table_schema = DATABASE()
UNION ALL
SELECT CONCAT_WS(' ', 'idx', table_name, index_name, seq_in_index, column_name,
    non_unique, sub_part, index_type)
FROM information_schema.statistics WHERE table_schema = DATABASE()
UNION ALL
SELECT CONCAT_WS(' ', 'fk', k.table_name, k.constraint_name, k.column_name,
    k.referenced_table_name, k.referenced_column_name, r.update_rule, r.delete_rule)
FROM information_schema.key_column_usage k
JOIN information_schema.referential_constraints r
  ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name
 AND r.table_name = k.table_name
WHERE k.table_schema = DATABASE()
UNION ALL
SELECT CONCAT_WS(' ', 'check', table_name, constraint_name, check_clause)
FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()
UNION ALL
SELECT CONCAT_WS(' ', 'trigger', trigger_name, event_object_table,
    action_timing, event_manipulation, MD5(action_statement))
FROM information_schema.triggers WHERE trigger_schema = DATABASE()
UNION ALL
SELECT CONCAT_WS(' ', 'routine', routine_type, routine_name,
    MD5(routine_definition))
FROM information_schema.routines WHERE routine_schema = DATABASE()
ORDER BY 1"
	_tables=$(my_sql "SELECT GROUP_CONCAT(CONCAT('\`', REPLACE(table_name, '\`', '\`\`'), '\`')
	    ORDER BY table_name SEPARATOR ', ')
	    FROM information_schema.tables
	    WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'")
	if [ -n "$_tables" ] && [ "$_tables" != NULL ]; then
		my_sql "CHECKSUM TABLE $_tables EXTENDED" | sed 's/^/checksum /'
	fi
}

# my_migrate_under_load TABLE SHADE-ARGS...: run shade on TABLE with the writer
# (arguments in $LOAD_ARGS, split on spaces) running from the capture to the
# end, and on for $LOAD_AFTER seconds (default 0) against the new table.
#
# The writer starts only once the capture triggers exist: MariaDB has a bug
# (MDEV-26048, pt-osc meets it too) that fails a prepared statement with
# "Table ... doesn't exist" when it straddles the creation of a table's
# first trigger; that is the server's error, not a lost write, but the
# writer would count it. To be sure the writer overlaps the copy, shade is
# paused (SIGUSR1) before its copy begins: an open transaction holds TABLE's
# metadata lock for 2 s, so the capture's lock times out and is retried
# (which this also tests), and meanwhile the signal arrives.
my_migrate_under_load()
{
	_tbl=$1
	shift
	# A reader holds the table until shade has waited for the capture's
	# lock once: released on that event, not after a fixed time, so a
	# slow machine cannot make shade miss the wait.
	my_client -D "$MY_DB" -e "START TRANSACTION;
	    SELECT COUNT(*) FROM \`$_tbl\`; SELECT SLEEP(120); COMMIT" >/dev/null 2>&1 &
	_hold=$!
	bg_track "$_hold"
	_i=0
	until [ "$(my_val "SELECT count(*) FROM information_schema.processlist
	    WHERE info = 'SELECT SLEEP(120)'")" -gt 0 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "$_tbl: the lock holder did not start"
		sleep 0.1
	done
	start_shade "$@"
	_i=0
	until grep -q 'could not lock' "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null || break
		_i=$((_i + 1))
		[ "$_i" -lt 1800 ] || fail "$_tbl: shade did not wait for the capture's lock"
		sleep 0.05
	done
	kill -USR1 "$SHADE_PID" 2>/dev/null || true
	for _id in $(my_val "SELECT id FROM information_schema.processlist
	    WHERE info = 'SELECT SLEEP(120)'"); do
		my_sql "KILL QUERY $_id" 2>/dev/null || true
	done
	wait "$_hold" || true
	_i=0
	while [ "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()
	      AND event_object_table = '$_tbl'")" != 3 ]; do
		kill -0 "$SHADE_PID" 2>/dev/null || break
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "$_tbl: no capture triggers after 60 s"
		sleep 0.1
	done
	# shellcheck disable=SC2086
	start_writer $LOAD_ARGS
	sleep 1
	kill -USR2 "$SHADE_PID" 2>/dev/null || true
	wait_shade
	sleep "${LOAD_AFTER:-0}"
	stop_writer
	assert_contains "$SHADE_ERR" "could not lock" "$_tbl: the capture waited"
	assert_contains "$SHADE_ERR" paused "$_tbl: shade paused"
}

my_same_rows()
{
	t_same_rows my "$@"
}

my_leftovers()
{
	_t=$(echo "$1" | sed "s/'/''/g")
	my_sql "
SELECT CONCAT('table ', table_name) FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_name IN ('_${_t}_new', '_${_t}_log', '_${_t}_state')
UNION ALL
SELECT CONCAT('trigger ', trigger_name) FROM information_schema.triggers
WHERE trigger_schema = DATABASE() AND event_object_table = '$_t'
ORDER BY 1"
}

# my_replica_start: a second mariadbd (server-id 2) replicating from the
# server my_start started, which must log binlogs and listen on TCP (the
# replica connects over TCP): run my_start with SHADE_MY_SOCK unset and
# MY_SERVER_OPTS="$(my_primary_opts PORT)". Replication starts at the
# primary's first binlog, so what the test creates afterwards reaches the
# replica. Sets MYR_SOCK; stopped when the test exits. myr_sql SQL runs
# SQL on it.
my_primary_opts()
{
	echo "--log-bin=primary-bin --server-id=1 --skip-networking=0 --bind-address=127.0.0.1 --port=$1"
}

my_replica_start()
{
	MYR_DIR=$T_TMP/myr
	MYR_SOCK=$MYR_DIR/mysqld.sock
	mkdir -p "$MYR_DIR/data" "$MYR_DIR/tmp"
	_u=
	[ "$(id -u)" = 0 ] && _u=--user=root
	mariadb-install-db --no-defaults --datadir="$MYR_DIR/data" $_u \
	    --auth-root-authentication-method=normal --skip-test-db \
	    --skip-name-resolve >"$MYR_DIR/install.log" 2>&1 ||
	    { cat "$MYR_DIR/install.log" >&2; fail "mariadb-install-db (replica) failed"; }
	mariadbd --no-defaults --datadir="$MYR_DIR/data" $_u --socket="$MYR_SOCK" \
	    --skip-networking --tmpdir="$MYR_DIR/tmp" --pid-file="$MYR_DIR/mysqld.pid" \
	    --log-error="$MYR_DIR/error.log" --server-id=2 --skip-log-bin \
	    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
	    --skip-name-resolve --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
	    --innodb-buffer-pool-size=128M </dev/null >"$MYR_DIR/stdout.log" 2>&1 &
	MYR_PID=$!
	T_EXIT_HOOK="${T_EXIT_HOOK:+$T_EXIT_HOOK; }my_replica_stop"
	_i=0
	until mariadb-admin --no-defaults -uroot --socket="$MYR_SOCK" ping >/dev/null 2>&1; do
		kill -0 "$MYR_PID" 2>/dev/null ||
		    { cat "$MYR_DIR/error.log" >&2; fail "the replica mariadbd died"; }
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "the replica mariadbd did not answer in 60 s"
		sleep 0.1
	done
	my_client -e "CREATE USER IF NOT EXISTS repl@'127.0.0.1' IDENTIFIED BY 'repl';
	    GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'" || fail "cannot create repl"
	_bin=$(my_client -e "SHOW BINARY LOGS" | head -n 1 | cut -f 1)
	_port=$(my_client -e "SELECT @@port")
	myr_sql "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $_port,
	    MASTER_USER = 'repl', MASTER_PASSWORD = 'repl', MASTER_USE_GTID = no,
	    MASTER_LOG_FILE = '$_bin', MASTER_LOG_POS = 4; START SLAVE"
}

my_replica_stop()
{
	[ -n "${MYR_PID:-}" ] || return 0
	kill -TERM "$MYR_PID" 2>/dev/null || true
	wait "$MYR_PID" 2>/dev/null || true
	MYR_PID=
}

myr_sql()
{
	mariadb --no-defaults --protocol=socket --socket="$MYR_SOCK" -uroot -N -B -e "$1" ||
	    fail "SQL on the replica failed: $1"
}

# -- shade and the writer -------------------------------------------------

T_SHADE_RUNS=0

run_shade()
{
	T_SHADE_RUNS=$((T_SHADE_RUNS + 1))
	SHADE_OUT=$T_TMP/shade.$T_SHADE_RUNS.out
	SHADE_ERR=$T_TMP/shade.$T_SHADE_RUNS.err
	[ -x "$SHADE_BIN" ] || fail "$SHADE_BIN is not built"
	SHADE_RC=0
	timeout -k 10 "${SHADE_TIMEOUT:-600}" "$SHADE_BIN" "$@" \
	    >"$SHADE_OUT" 2>"$SHADE_ERR" </dev/null || SHADE_RC=$?
	t_show_shade
}

t_show_shade()
{
	echo "# shade run $T_SHADE_RUNS exited $SHADE_RC; stderr:" >&2
	tail -n 40 "$SHADE_ERR" | sed 's/^/#   | /' >&2
}

start_shade()
{
	T_SHADE_RUNS=$((T_SHADE_RUNS + 1))
	SHADE_OUT=$T_TMP/shade.$T_SHADE_RUNS.out
	SHADE_ERR=$T_TMP/shade.$T_SHADE_RUNS.err
	[ -x "$SHADE_BIN" ] || fail "$SHADE_BIN is not built"
	"$SHADE_BIN" "$@" >"$SHADE_OUT" 2>"$SHADE_ERR" </dev/null &
	SHADE_PID=$!
	bg_track "$SHADE_PID"
}

wait_shade()
{
	SHADE_RC=0
	wait "$SHADE_PID" || SHADE_RC=$?
	t_show_shade
}

T_WRITERS=0

start_writer()
{
	[ -x "$WRITER_BIN" ] || fail "$WRITER_BIN is not built"
	T_WRITERS=$((T_WRITERS + 1))
	WRITER_LOG=$T_TMP/writer.$T_WRITERS.log
	WRITER_STOP=$T_TMP/writer.$T_WRITERS.stop
	rm -f "$WRITER_STOP"
	"$WRITER_BIN" --until-file "$WRITER_STOP" "$@" >"$WRITER_LOG" 2>&1 \
	    </dev/null &
	WRITER_PID=$!
	bg_track "$WRITER_PID"
}

stop_writer()
{
	: >"$WRITER_STOP"
	WRITER_RC=0
	wait "$WRITER_PID" || WRITER_RC=$?
	sed 's/^/# /' "$WRITER_LOG" >&2
	[ "$WRITER_RC" = 0 ] || [ "${1:-}" = --keep-going ] ||
	    fail "the writer exited $WRITER_RC"
	WRITER_COMMITS=$(sed -n 's/^writer: .*, \([0-9]*\) commits .*/\1/p' \
	    "$WRITER_LOG")
	: "${WRITER_COMMITS:=0}"
}

# wait_for_line WHAT TEXT: until shade's stderr says TEXT (grep -F), for at
# most WAIT_LINE_SECS seconds (default 60); fails if shade ends first.
wait_for_line()
{
	_i=0
	until grep -qF -- "$2" "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null ||
		    { wait_shade; fail "$1: shade ended (exit $SHADE_RC) before saying \"$2\""; }
		_i=$((_i + 1))
		[ "$_i" -lt $((${WAIT_LINE_SECS:-60} * 10)) ] ||
		    fail "$1: shade did not say \"$2\" within ${WAIT_LINE_SECS:-60} s"
		sleep 0.1
	done
}

# t_wait_for_copy WHAT TRY: until the shadow _items_new holds a row (the
# copy is under way), asked with TRY (pg_try or my_try), for at most 60 s.
t_wait_for_copy()
{
	_i=0
	while :; do
		kill -0 "$SHADE_PID" 2>/dev/null ||
		    { wait_shade; fail "$1: shade ended (exit $SHADE_RC) before the copy was seen"; }
		_n=$($2 "SELECT COUNT(*) FROM (SELECT 1 FROM _items_new LIMIT 1) s" || true)
		[ "$_n" = 1 ] && return 0
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "$1: the copy did not start within 60 s"
		sleep 0.1
	done
}
pg_wait_for_copy() { t_wait_for_copy "$1" pg_try; }
my_wait_for_copy() { t_wait_for_copy "$1" my_try; }

#!/bin/sh
# bench/run.sh - shade measured against its peers, on the same servers, in
# the same run (`make bench`).
#
# It starts throwaway PostgreSQL 15 and MariaDB 10.11 servers (tests/lib.sh),
# builds the same BENCH_ROWS-row table afresh before every measurement, and
# times on each server, in BENCH_REPEAT rounds of every tool (the median
# is reported; the loaded run is done once):
#
#   PostgreSQL  shade --execute (ADD COLUMN + ALTER COLUMN TYPE)
#               the raw floor: CREATE TABLE x (LIKE t INCLUDING ALL);
#                 ALTER TABLE x ...; INSERT INTO x SELECT ... FROM t
#               the same with the secondary index built after the copy
#               pg_repack -t t (a full online rewrite, without an ALTER)
#               shade again, while pgbench updates random rows (2 clients):
#                 its rate, and the writers' tps before and during it
#   MariaDB     shade --execute (ADD COLUMN + MODIFY)
#               the raw floor: CREATE TABLE x LIKE t; ALTER TABLE x ...;
#                 INSERT INTO x SELECT ... FROM t
#               the same with the secondary index built after the copy
#               pt-online-schema-change --execute with the same ALTER
#
# The figures go to bench/RESULTS.md (overwritten) and to stdout; progress
# lines go to stderr. A benchmark never fails on a timing: it fails only when
# something is broken (a tool exits non-zero, a row count or the resulting
# column type is wrong, a writer transaction fails). If the binary it is
# given was built with the sanitizers (build/ is shared with `make test`), it
# times a plain build of the same sources made in its temporary directory.
#
# Environment:
#   SHADE          the binary to measure (default build/shade)
#   BENCH_ROWS     rows in the table (default 1000000)
#   BENCH_ONLY     pg or mysql: run one half only (for development;
#                  the ratios of the other half are then left out)
#   BENCH_REPEAT   rounds of the unloaded measurements (default 3); each
#                  round times every tool once, the report gives the median
#   BENCH_LOAD_SECS  seconds of the writers' baseline before the loaded run
#                  (default 15)
#   BENCH_RESULTS  where to write the report (default bench/RESULTS.md)
#   BENCH_NO_GNU_TIME=1  sample peak RSS from /proc even when GNU time is
#                  installed (GNU time is not in scripts/deps.sh)

set -eu

. "$(dirname "$0")/../tests/lib.sh"

SHADE=${SHADE:-$SHADE_ROOT/build/shade}
case $SHADE in
/*) ;;
*) SHADE=$(pwd)/$SHADE ;;
esac
BENCH_ROWS=${BENCH_ROWS:-1000000}
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_LOAD_SECS=${BENCH_LOAD_SECS:-15}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_RESULTS=${BENCH_RESULTS:-$SHADE_ROOT/bench/RESULTS.md}
BENCH_DIR=$SHADE_ROOT/bench

case $BENCH_ROWS in
'' | *[!0-9]* | 0) fail "BENCH_ROWS must be a positive integer, not '$BENCH_ROWS'" ;;
esac
case $BENCH_LOAD_SECS in
'' | *[!0-9]* | 0) fail "BENCH_LOAD_SECS must be a positive integer" ;;
esac
case $BENCH_REPEAT in
'' | *[!0-9]* | 0) fail "BENCH_REPEAT must be a positive integer" ;;
esac
case $BENCH_ONLY in
'' | pg | mysql) ;;
*) fail "BENCH_ONLY must be pg or mysql, not '$BENCH_ONLY'" ;;
esac
[ -x "$SHADE" ] || fail "$SHADE is not built (run make, or set SHADE)"
# Measure a private copy: build/ is shared, and a rebuild there (say with
# the sanitizers) in the middle of the run must not change what is timed.
SHADE_SRC=$SHADE
SHADE=$T_TMP/shade
cp "$SHADE_SRC" "$SHADE"
if ldd "$SHADE" 2>/dev/null | grep -Eq 'lib(asan|ubsan)'; then
	# Someone's `make SANITIZE=1` got there between `make` and now: time a
	# plain build of the same sources, made in a private directory.
	note "$SHADE_SRC is built with the sanitizers; building a plain copy"
	make -s -C "$SHADE_ROOT" BUILD="$T_TMP/build" SANITIZE= \
	    "$T_TMP/build/shade" >"$T_TMP/make.log" 2>&1 || {
		cat "$T_TMP/make.log" >&2
		fail "cannot build a plain shade for the benchmark"
	}
	SHADE_SRC="$SHADE_SRC (rebuilt without the sanitizers)"
	cp "$T_TMP/build/shade" "$SHADE"
fi

PG_ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint'
MY_ALTER='ADD COLUMN flag tinyint NOT NULL DEFAULT 0, MODIFY qty bigint NOT NULL'
COLS='id, sku, qty, price, note, updated_at'

# The report is assembled here and moved into place only when every
# measurement has passed.
OUT=$T_TMP/results.md
: >"$OUT"

# -- timing helpers -------------------------------------------------------

b_now()
{
	date +%s.%N
}

b_sub()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

# Rows per second, rounded.
b_rate()
{
	awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'
}

b_ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b
		else print "-" }'
}

# b_run NAME LOG CMD...: run CMD with its output in LOG, set B_SECS to its
# wall time and B_T0/B_T1 to its start and end; fail on a non-zero exit.
b_run()
{
	_name=$1
	_log=$2
	shift 2
	_rc=0
	B_T0=$(b_now)
	"$@" >"$_log" 2>&1 </dev/null || _rc=$?
	b_finish "$_name" "$_log" "$_rc"
}

# b_finish NAME LOG RC: stop the clock started at B_T0 (sets B_SECS); a
# non-zero RC fails the benchmark with the end of LOG.
b_finish()
{
	B_T1=$(b_now)
	B_SECS=$(b_sub "$B_T0" "$B_T1")
	if [ "$3" != 0 ]; then
		tail -n 30 "$2" | sed 's/^/#   | /' >&2
		fail "$1 exited $3"
	fi
	note "$1: $B_SECS s"
}

# b_shade NAME LOG DSN ALTER: time shade and set B_RSS to its peak resident
# set in KiB (GNU time when installed, else VmHWM sampled from /proc).
b_shade()
{
	_name=$1
	_log=$2
	if [ -x /usr/bin/time ] && [ -z "${BENCH_NO_GNU_TIME:-}" ]; then
		b_run "$_name" "$_log" /usr/bin/time -f %M -o "$_log.rss" \
		    "$SHADE" --dsn "$3" --table t --alter "$4" --execute --quiet
		B_RSS=$(tail -n 1 "$_log.rss")
		return 0
	fi
	_rc=0
	B_RSS=0
	B_T0=$(b_now)
	"$SHADE" --dsn "$3" --table t --alter "$4" --execute --quiet \
	    >"$_log" 2>&1 </dev/null &
	_pid=$!
	bg_track "$_pid"
	while kill -0 "$_pid" 2>/dev/null; do
		_hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$_pid/status" \
		    2>/dev/null || true)
		if [ -n "$_hwm" ] && [ "$_hwm" -gt "$B_RSS" ]; then
			B_RSS=$_hwm
		fi
		sleep 0.05
	done
	wait "$_pid" || _rc=$?
	b_finish "$_name" "$_log" "$_rc"
}

# The median of the numbers given as arguments.
b_median()
{
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
	END { if (NR % 2) print v[(NR + 1) / 2];
	      else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# "MIN-MAX" of the numbers given as arguments.
b_range()
{
	printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 }
	END { print lo "-" hi }'
}

b_mib()
{
	awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

emit()
{
	printf '%s\n' "$*" >>"$OUT"
}

# -- PostgreSQL -----------------------------------------------------------

# A fresh table t: BENCH_ROWS rows, a primary key and one secondary index,
# vacuumed (hint bits set, visibility map built) and checkpointed, so every
# tool starts from the same state.
pg_make_t()
{
	pg_sql "DROP TABLE IF EXISTS t, x, _t_old, _t_new, _t_log CASCADE"
	pg_sql "
CREATE TABLE t (
	id bigint PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL,
	price numeric(12,2),
	note text,
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO t ($COLS)
SELECT g, 'sku-' || (g % 100000), (g % 1000)::int, (g % 100000) / 100.0,
	CASE WHEN g % 3 = 0 THEN NULL ELSE md5(g::text) END,
	timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, $BENCH_ROWS) g;
CREATE INDEX t_sku_idx ON t (sku);"
	pg_sql "VACUUM (ANALYZE) t"
	# What every result must hold (the data is the same each time).
	if [ -z "${PG_SUMS:-}" ]; then
		PG_SUMS=$(pg_sums t)
		PG_SUMS_STABLE=$(pg_sums t stable)
	fi
	pg_sql "CHECKPOINT"
}

# pg_sums TABLE [stable]: a cheap fingerprint of the original columns
# (row count, sums of values and of hashes); "stable" leaves out qty and
# updated_at, which the loaded run's writers change.
pg_sums()
{
	_more=" || ' ' || sum(qty) || ' ' || sum(extract(epoch FROM updated_at))"
	[ "${2:-}" != stable ] || _more=
	pg_val "SELECT count(*) || ' ' || sum(id) || ' '
	    || sum(hashtext(sku)::bigint) || ' ' || coalesce(sum(price), 0)
	    || ' ' || count(note) || ' '
	    || sum(hashtext(coalesce(note, ''))::bigint) $_more FROM $1"
}

# pg_check TABLE WANT_QTY_TYPE [stable]: the rows (count and fingerprint)
# and qty's type are right; after an ALTER, flag is there and 0 everywhere.
pg_check()
{
	_n=$(pg_val "SELECT count(*) FROM $1")
	[ "$_n" = "$BENCH_ROWS" ] || fail "$1 has $_n rows, want $BENCH_ROWS"
	_s=$(pg_sums "$1" "${3:-}")
	if [ "${3:-}" = stable ]; then
		[ "$_s" = "$PG_SUMS_STABLE" ] ||
		    fail "the rows of $1 differ from the original table's: '$_s', want '$PG_SUMS_STABLE'"
	else
		[ "$_s" = "$PG_SUMS" ] ||
		    fail "the rows of $1 differ from the original table's: '$_s', want '$PG_SUMS'"
	fi
	_ty=$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	    WHERE attrelid = '$1'::regclass AND attname = 'qty'")
	[ "$_ty" = "$2" ] || fail "$1.qty is '$_ty', want '$2'"
	if [ "$2" = bigint ]; then
		_f=$(pg_val "SELECT count(*) FROM pg_attribute
		    WHERE attrelid = '$1'::regclass AND attname = 'flag'
		      AND NOT attisdropped")
		[ "$_f" = 1 ] || fail "$1 has no column flag"
		_f=$(pg_val "SELECT count(*) FROM $1 WHERE flag <> 0")
		[ "$_f" = 0 ] || fail "$1 has $_f rows with flag <> 0"
	fi
}

# Average tps of the pgbench progress lines (-P 1 --progress-timestamp)
# in LOG whose one-second interval overlaps [FROM, TO].
pg_tps_between()
{
	awk -v a="$2" -v b="$3" '
	$1 == "progress:" {
		ts = $2 + 0; tps = $4 + 0
		if (ts > a && ts - 1 < b) { sum += tps; n++ }
	}
	END { if (n > 0) printf "%.0f", sum / n; else print "-" }' "$1"
}

pg_bench_writers_ok()
{
	if grep -Eiq 'aborted|error|fatal' "$1"; then
		grep -Ei 'aborted|error|fatal' "$1" | head -n 5 | sed 's/^/#   | /' >&2
		fail "a pgbench writer failed"
	fi
}

# The measured commands, one per tool.
pg_raw()
{
	pg_psql -c "
CREATE TABLE x (LIKE t INCLUDING ALL);
ALTER TABLE x $PG_ALTER;
INSERT INTO x ($COLS) SELECT $COLS FROM t;"
}

# The same with the secondary index built once after the copy, as shade
# does: the floor for the work shade's copy actually does.
pg_raw2()
{
	pg_psql -c "
CREATE TABLE x (LIKE t INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE x ADD PRIMARY KEY (id), $PG_ALTER;
INSERT INTO x ($COLS) SELECT $COLS FROM t;
CREATE INDEX x_sku_idx ON x (sku);"
}

pg_repack_t()
{
	pg_repack -h "$PG_SOCKDIR" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -t t
}

bench_pg()
{
	note "PostgreSQL: starting the server"
	pg_start
	pg_newdb shade_bench
	pg_sql "CREATE EXTENSION IF NOT EXISTS pg_repack"
	PG_VERSION=$(pg_val "SHOW server_version")
	_rows=$BENCH_ROWS

	# Rounds, each tool once per round, so that a change in the machine's
	# load over the run falls on every tool alike.
	_l_raw= _l_raw2= _l_repack= _l_shade= PG_SHADE_RSS=0
	_i=0
	while [ "$_i" -lt "$BENCH_REPEAT" ]; do
		_i=$((_i + 1))
		note "PostgreSQL: round $_i of $BENCH_REPEAT"
		pg_make_t
		b_run "INSERT ... SELECT (PostgreSQL)" "$T_TMP/pg-raw.$_i.log" pg_raw
		pg_check x bigint
		_l_raw="$_l_raw $B_SECS"

		pg_make_t
		b_run "INSERT ... SELECT, index after (PostgreSQL)" \
		    "$T_TMP/pg-raw2.$_i.log" pg_raw2
		pg_check x bigint
		_l_raw2="$_l_raw2 $B_SECS"

		pg_make_t
		b_run "pg_repack (PostgreSQL)" "$T_TMP/pg-repack.$_i.log" pg_repack_t
		pg_check t integer
		_l_repack="$_l_repack $B_SECS"

		pg_make_t
		b_shade "shade (PostgreSQL)" "$T_TMP/pg-shade.$_i.log" \
		    "$PG_DSN" "$PG_ALTER"
		pg_check t bigint
		_l_shade="$_l_shade $B_SECS"
		[ "$B_RSS" -le "$PG_SHADE_RSS" ] || PG_SHADE_RSS=$B_RSS
	done
	PG_RAW_S=$(b_median $_l_raw)
	PG_RAW2_S=$(b_median $_l_raw2)
	PG_REPACK_S=$(b_median $_l_repack)
	PG_SHADE_S=$(b_median $_l_shade)

	note "PostgreSQL: shade under a write load (pgbench, 2 clients)"
	pg_make_t
	_script=$BENCH_DIR/pgbench-update.sql
	b_run "pgbench baseline" "$T_TMP/pgbench-base.log" \
	    pgbench -n -M simple -c 2 -j 2 -T "$BENCH_LOAD_SECS" \
	    -D rows="$_rows" -f "$_script" "$PG_DB"
	pg_bench_writers_ok "$T_TMP/pgbench-base.log"
	PG_TPS_BEFORE=$(awk '/^tps = / { printf "%.0f", $3; exit }' \
	    "$T_TMP/pgbench-base.log")
	[ -n "$PG_TPS_BEFORE" ] || fail "no tps in the pgbench baseline output"
	# The writers run until they are stopped (the -T is only a bound).
	pgbench -n -M simple -c 2 -j 2 -T 3600 -P 1 --progress-timestamp \
	    -D rows="$_rows" -f "$_script" "$PG_DB" \
	    >"$T_TMP/pgbench-load.log" 2>&1 </dev/null &
	_pgb=$!
	bg_track "$_pgb"
	sleep 3
	kill -0 "$_pgb" 2>/dev/null || {
		cat "$T_TMP/pgbench-load.log" >&2
		fail "pgbench stopped before shade started"
	}
	b_shade "shade under load (PostgreSQL)" "$T_TMP/pg-shade-load.log" \
	    "$PG_DSN" "$PG_ALTER"
	PG_LOAD_S=$B_SECS
	PG_LOAD_RSS=$B_RSS
	_from=$B_T0
	_to=$B_T1
	sleep 2
	kill -0 "$_pgb" 2>/dev/null || {
		cat "$T_TMP/pgbench-load.log" >&2
		fail "pgbench stopped during the migration"
	}
	# TERM, not INT: a background job of a non-interactive sh ignores SIGINT.
	kill -TERM "$_pgb" 2>/dev/null || true
	wait "$_pgb" 2>/dev/null || true
	pg_bench_writers_ok "$T_TMP/pgbench-load.log"
	PG_TPS_DURING=$(pg_tps_between "$T_TMP/pgbench-load.log" "$_from" "$_to")
	pg_check t bigint stable

	_r_shade=$(b_rate "$_rows" "$PG_SHADE_S")
	_r_raw=$(b_rate "$_rows" "$PG_RAW_S")
	_r_raw2=$(b_rate "$_rows" "$PG_RAW2_S")
	_r_repack=$(b_rate "$_rows" "$PG_REPACK_S")
	_r_load=$(b_rate "$_rows" "$PG_LOAD_S")
	PG_RATIO_RAW=$(b_ratio "$_r_shade" "$_r_raw")
	PG_RATIO_RAW2=$(b_ratio "$_r_shade" "$_r_raw2")
	PG_RATIO_REPACK=$(b_ratio "$PG_SHADE_S" "$PG_REPACK_S")
	PG_RATIO_TPS=$(b_ratio "$PG_TPS_DURING" "$PG_TPS_BEFORE")

	emit "## PostgreSQL $PG_VERSION"
	emit ""
	emit "ALTER: \`$PG_ALTER\`"
	emit ""
	emit "| run | wall time, median (min-max) | rows/s | peak RSS |"
	emit "| --- | ---: | ---: | ---: |"
	emit "| shade --execute | $PG_SHADE_S s ($(b_range $_l_shade)) | $_r_shade | $(b_mib "$PG_SHADE_RSS") |"
	emit "| INSERT ... SELECT into CREATE TABLE x (LIKE t INCLUDING ALL) + ALTER (floor) | $PG_RAW_S s ($(b_range $_l_raw)) | $_r_raw | - |"
	emit "| INSERT ... SELECT, secondary index built after the copy | $PG_RAW2_S s ($(b_range $_l_raw2)) | $_r_raw2 | - |"
	emit "| pg_repack -t t (rewrite only, no ALTER) | $PG_REPACK_S s ($(b_range $_l_repack)) | $_r_repack | - |"
	emit ""
	emit "- shade rows/s ÷ INSERT ... SELECT rows/s: **$PG_RATIO_RAW**"
	emit "- shade rows/s ÷ INSERT ... SELECT (index after) rows/s: **$PG_RATIO_RAW2**"
	emit "- shade time ÷ pg_repack time: **$PG_RATIO_REPACK**"
	emit ""
	emit "### Under a write load (pgbench, 2 clients, UPDATE of a random row; one run)"
	emit ""
	emit "| | value |"
	emit "| --- | ---: |"
	emit "| shade wall time | $PG_LOAD_S s |"
	emit "| shade rows/s | $_r_load |"
	emit "| shade peak RSS | $(b_mib "$PG_LOAD_RSS") |"
	emit "| writers' tps before the migration (${BENCH_LOAD_SECS} s) | $PG_TPS_BEFORE |"
	emit "| writers' tps during the migration | $PG_TPS_DURING |"
	emit "| during ÷ before | $PG_RATIO_TPS |"
	emit ""
	pg_sql "DROP TABLE IF EXISTS t, x, _t_old CASCADE"
}

# -- MariaDB --------------------------------------------------------------

my_make_t()
{
	my_sql "DROP TABLE IF EXISTS t, x, _t_old, _t_new, _t_log"
	my_sql "
CREATE TABLE t (
	id BIGINT NOT NULL PRIMARY KEY,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL,
	KEY t_sku_idx (sku)
) ENGINE=InnoDB;
INSERT INTO t ($COLS)
SELECT seq, CONCAT('sku-', seq % 100000), seq % 1000, (seq % 100000) / 100,
	IF(seq % 3 = 0, NULL, MD5(seq)),
	TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_$BENCH_ROWS;
ANALYZE TABLE t;" >/dev/null
	[ -n "${MY_SUMS:-}" ] || MY_SUMS=$(my_sums t)
}

# my_sums TABLE: the fingerprint of the original columns, as pg_sums.
my_sums()
{
	my_val "SELECT CONCAT_WS(' ', COUNT(*), SUM(id), SUM(CRC32(sku)),
	    SUM(price), COUNT(note), SUM(CRC32(IFNULL(note, ''))), SUM(qty),
	    SUM(TO_SECONDS(updated_at))) FROM $1"
}

# my_check TABLE: the rows (count and fingerprint) are right, qty is a
# BIGINT and flag is there and 0 everywhere.
my_check()
{
	_n=$(my_val "SELECT COUNT(*) FROM $1")
	[ "$_n" = "$BENCH_ROWS" ] || fail "$1 has $_n rows, want $BENCH_ROWS"
	_s=$(my_sums "$1")
	[ "$_s" = "$MY_SUMS" ] ||
	    fail "the rows of $1 differ from the original table's: '$_s', want '$MY_SUMS'"
	_ty=$(my_val "SELECT DATA_TYPE FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND column_name = 'qty'")
	[ "$_ty" = bigint ] || fail "$1.qty is '$_ty', want bigint"
	_f=$(my_val "SELECT COUNT(*) FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND column_name = 'flag'")
	[ "$_f" = 1 ] || fail "$1 has no column flag"
	_f=$(my_val "SELECT COUNT(*) FROM $1 WHERE flag <> 0")
	[ "$_f" = 0 ] || fail "$1 has $_f rows with flag <> 0"
}

my_raw()
{
	my_client -D "$MY_DB" -e "
CREATE TABLE x LIKE t;
ALTER TABLE x $MY_ALTER;
INSERT INTO x ($COLS) SELECT $COLS FROM t;"
}

my_raw2()
{
	my_client -D "$MY_DB" -e "
CREATE TABLE x LIKE t;
ALTER TABLE x DROP KEY t_sku_idx, $MY_ALTER;
INSERT INTO x ($COLS) SELECT $COLS FROM t;
ALTER TABLE x ADD KEY t_sku_idx (sku);"
}

# --noversion-check: pt-osc would otherwise call Percona's server.
# --recursion-method=none: there are no replicas to find.
# --no-drop-old-table: keep _t_old, as shade does by default.
my_ptosc()
{
	pt-online-schema-change --noversion-check --recursion-method=none \
	    --no-drop-old-table --alter "$MY_ALTER" \
	    "D=$MY_DB,t=t,S=$MY_SOCK,u=root" --execute
}

bench_mysql()
{
	note "MariaDB: starting the server"
	my_start
	my_newdb shade_bench
	MY_VERSION=$(my_val "SELECT VERSION()")
	_rows=$BENCH_ROWS

	_l_raw= _l_raw2= _l_ptosc= _l_shade= MY_SHADE_RSS=0
	_i=0
	while [ "$_i" -lt "$BENCH_REPEAT" ]; do
		_i=$((_i + 1))
		note "MariaDB: round $_i of $BENCH_REPEAT"
		my_make_t
		b_run "INSERT ... SELECT (MariaDB)" "$T_TMP/my-raw.$_i.log" my_raw
		my_check x
		_l_raw="$_l_raw $B_SECS"

		my_make_t
		b_run "INSERT ... SELECT, index after (MariaDB)" \
		    "$T_TMP/my-raw2.$_i.log" my_raw2
		my_check x
		_l_raw2="$_l_raw2 $B_SECS"

		my_make_t
		b_run "pt-online-schema-change (MariaDB)" \
		    "$T_TMP/my-ptosc.$_i.log" my_ptosc
		my_check t
		_l_ptosc="$_l_ptosc $B_SECS"

		my_make_t
		b_shade "shade (MariaDB)" "$T_TMP/my-shade.$_i.log" \
		    "$MY_DSN" "$MY_ALTER"
		my_check t
		_l_shade="$_l_shade $B_SECS"
		[ "$B_RSS" -le "$MY_SHADE_RSS" ] || MY_SHADE_RSS=$B_RSS
	done
	MY_RAW_S=$(b_median $_l_raw)
	MY_RAW2_S=$(b_median $_l_raw2)
	MY_PTOSC_S=$(b_median $_l_ptosc)
	MY_SHADE_S=$(b_median $_l_shade)

	_r_shade=$(b_rate "$_rows" "$MY_SHADE_S")
	_r_raw=$(b_rate "$_rows" "$MY_RAW_S")
	_r_raw2=$(b_rate "$_rows" "$MY_RAW2_S")
	_r_ptosc=$(b_rate "$_rows" "$MY_PTOSC_S")
	MY_RATIO_RAW=$(b_ratio "$_r_shade" "$_r_raw")
	MY_RATIO_RAW2=$(b_ratio "$_r_shade" "$_r_raw2")
	MY_RATIO_PTOSC=$(b_ratio "$MY_SHADE_S" "$MY_PTOSC_S")

	emit "## MariaDB $MY_VERSION"
	emit ""
	emit "ALTER: \`$MY_ALTER\`"
	emit ""
	emit "| run | wall time, median (min-max) | rows/s | peak RSS |"
	emit "| --- | ---: | ---: | ---: |"
	emit "| shade --execute | $MY_SHADE_S s ($(b_range $_l_shade)) | $_r_shade | $(b_mib "$MY_SHADE_RSS") |"
	emit "| INSERT ... SELECT into CREATE TABLE x LIKE t + ALTER (floor) | $MY_RAW_S s ($(b_range $_l_raw)) | $_r_raw | - |"
	emit "| INSERT ... SELECT, secondary index built after the copy | $MY_RAW2_S s ($(b_range $_l_raw2)) | $_r_raw2 | - |"
	emit "| pt-online-schema-change --execute | $MY_PTOSC_S s ($(b_range $_l_ptosc)) | $_r_ptosc | - |"
	emit ""
	emit "- shade rows/s ÷ INSERT ... SELECT rows/s: **$MY_RATIO_RAW**"
	emit "- shade rows/s ÷ INSERT ... SELECT (index after) rows/s: **$MY_RATIO_RAW2**"
	emit "- shade time ÷ pt-online-schema-change time: **$MY_RATIO_PTOSC**"
	emit ""
	my_sql "DROP TABLE IF EXISTS t, x, _t_old"
}

# -- the run --------------------------------------------------------------

START=$(b_now)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$BENCH_ONLY" = mysql ] || bench_pg
[ "$BENCH_ONLY" = pg ] || bench_mysql
TOTAL=$(b_sub "$START" "$(b_now)")

SHADE_VERSION=$("$SHADE" --version 2>&1 | head -n 1 || true)
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
REPORT=$T_TMP/report.md
{
	echo "# shade benchmark"
	echo ""
	echo "Written by \`make bench\` (bench/run.sh); overwritten on every run."
	echo ""
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) CPUs, $MEM memory, $(uname -sr)"
	echo "- rows: $BENCH_ROWS (BENCH_ROWS); rounds: $BENCH_REPEAT (BENCH_REPEAT)"
	echo "- shade: $SHADE_VERSION ($SHADE_SRC)"
	if _head=$(git -C "$SHADE_ROOT" rev-parse --short HEAD 2>/dev/null); then
		_dirty=$(git -C "$SHADE_ROOT" status --porcelain -- src include \
		    Makefile 2>/dev/null | wc -l)
		if [ "$_dirty" -gt 0 ]; then
			echo "- source: commit $_head, plus uncommitted changes to $_dirty file(s) under src/, include/ or Makefile"
		else
			echo "- source: commit $_head"
		fi
	fi
	[ "$BENCH_ONLY" = mysql ] ||
	    echo "- $(pg_repack --version 2>&1 | head -n 1), $(pgbench --version 2>&1 | head -n 1)"
	[ "$BENCH_ONLY" = pg ] ||
	    echo "- $(pt-online-schema-change --version 2>&1 | head -n 1)"
	echo "- whole run: $TOTAL s; load average at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo ""
	echo "Every tool is timed once per round and the tables give the median"
	echo "wall time over the rounds (rows/s and the ratios are taken from it)."
	echo "Each measurement starts from a freshly built table (id bigint primary"
	echo "key; sku text, qty int, price numeric(12,2), note text (a third NULL),"
	echo "updated_at timestamptz/DATETIME(6); a secondary index on sku), vacuumed"
	echo "and checkpointed on PostgreSQL, analyzed on MariaDB. Servers: the"
	echo "throwaway ones of tests/lib.sh (unix socket, fsync off on PostgreSQL,"
	echo "innodb_flush_log_at_trx_commit=2 on MariaDB). Wall time includes"
	echo "connecting, preflight, index builds and the swap. shade keeps"
	echo "_t_old (its default), pt-online-schema-change is told to keep it too;"
	echo "pg_repack always drops the old table. pg_repack rewrites the table"
	echo "without an ALTER, so it is a floor for an online rewrite, not the same"
	echo "work. Peak RSS is shade's maximum resident set size."
	echo ""
	echo "Two floors: the plain INSERT ... SELECT into a copy of the table with"
	echo "all its indexes (the secondary index maintained row by row), and the"
	echo "same with the secondary index built once after the copy, which is"
	echo "what shade does and so the fairer floor. On MariaDB either floor is"
	echo "one transaction over every row that also share-locks each row it"
	echo "reads (INSERT ... SELECT under REPEATABLE READ), so shade's chunked"
	echo "copy can come close to it or pass it there. A load average well"
	echo "above 0 at the start means other work shared the machine and the"
	echo "figures are noisier."
	echo ""
	cat "$OUT"
} >"$REPORT"
cp "$REPORT" "$BENCH_RESULTS"
cat "$REPORT"

#!/bin/sh
# bench/run.sh - shade measured against its peers, on the same servers, in
# the same run (`make bench`); what issue 15 asks, side by side.
#
# It starts throwaway PostgreSQL 15 and MariaDB 10.11 servers (tests/lib.sh)
# and measures on each (bench/pg.sh, bench/mysql.sh; what both share is in
# bench/lib.sh, the goals and the report's sections in bench/report.sh):
#
#   1. shade, the limit and the peer, BENCH_REPEAT rounds of each on a
#      freshly built BENCH_ROWS-row table t (medians are reported):
#        the limit: INSERT ... SELECT into a bare copy of t with the ALTER
#          applied, the secondary index built after the copy
#        the peer: pg_repack -t t / pt-online-schema-change
#   2. shade on t under BENCH_WRITERS mirrored writers (bench/load.c, each
#      at BENCH_WRITER_RATE transactions/s): their p50/p99/max latency
#      before and during the migration; t must equal its mirror after
#   3. shade on pgbench_accounts under pgbench -N / on sbtest1 under
#      sysbench oltp_write_only (BENCH_ROWS rows, no rate limit), against
#      shade on the same table unloaded
#   and shade's peak RSS over all of its runs.
#
# The summary table at the top of the report sets each figure against its
# goal. The report goes to bench/RESULTS.md (overwritten) and to stdout;
# progress lines go to stderr. A benchmark never fails on a timing (a
# migration under load that passes BENCH_LOAD_LIMIT is stopped and reported
# as such): it fails only when something is broken (a tool exits non-zero,
# a row count, a checksum or the resulting schema is wrong, a writer
# fails). If the binary it is given was built with the sanitizers (build/
# is shared with `make test`), it times a plain build of the same sources
# made in its temporary directory. It installs GNU time and sysbench with
# apt-get when they are missing (scripts/deps.sh covers the rest).
#
# Environment:
#   SHADE          the binary to measure (default build/shade)
#   BENCH_ROWS     rows in each table (default 1000000)
#   BENCH_ONLY     pg or mysql: run one half only (for development)
#   BENCH_REPEAT   rounds of step 1 (default 3); each round times every
#                  tool once, the report gives the median
#   BENCH_LOAD_SECS  seconds a load runs before shade starts, the
#                  "before" of the latency and tps figures (default 10)
#   BENCH_LOAD_LIMIT  seconds after which a migration under load is
#                  stopped (default 180)
#   BENCH_WRITERS, BENCH_WRITER_RATE  mirrored writers and the
#                  transactions/s of each (defaults 2 and 100)
#   BENCH_PGB_CLIENTS, BENCH_SB_THREADS  pgbench clients and sysbench
#                  threads (defaults 2 and 2)
#   BENCH_RESULTS  where to write the report (default bench/RESULTS.md)
#   BENCH_NO_GNU_TIME=1  sample peak RSS from /proc even when GNU time is
#                  installed

set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../tests/lib.sh"
. "$BENCH_DIR/lib.sh"
. "$BENCH_DIR/report.sh"
. "$BENCH_DIR/estimate.sh"
. "$BENCH_DIR/pg.sh"
. "$BENCH_DIR/mysql.sh"

SHADE=${SHADE:-$SHADE_ROOT/build/shade}
case $SHADE in
/*) ;;
*) SHADE=$(pwd)/$SHADE ;;
esac
BENCH_ROWS=${BENCH_ROWS:-1000000}
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_LOAD_SECS=${BENCH_LOAD_SECS:-10}
BENCH_LOAD_LIMIT=${BENCH_LOAD_LIMIT:-180}
BENCH_WRITERS=${BENCH_WRITERS:-2}
BENCH_WRITER_RATE=${BENCH_WRITER_RATE:-100}
BENCH_PGB_CLIENTS=${BENCH_PGB_CLIENTS:-2}
BENCH_SB_THREADS=${BENCH_SB_THREADS:-2}
BENCH_RESULTS=${BENCH_RESULTS:-$SHADE_ROOT/bench/RESULTS.md}
COLS='id, sku, qty, price, note, updated_at'

for _v in BENCH_ROWS BENCH_REPEAT BENCH_LOAD_SECS BENCH_LOAD_LIMIT \
    BENCH_WRITERS BENCH_WRITER_RATE BENCH_PGB_CLIENTS BENCH_SB_THREADS; do
	eval "_n=\$$_v"
	case $_n in
	'' | *[!0-9]* | 0) fail "$_v must be a positive integer, not '$_n'" ;;
	esac
done
[ "$BENCH_LOAD_SECS" -ge 2 ] || fail "BENCH_LOAD_SECS must be at least 2"
case $BENCH_ONLY in
'' | pg | mysql) ;;
*) fail "BENCH_ONLY must be pg or mysql, not '$BENCH_ONLY'" ;;
esac

# A private copy of shade: build/ is shared, and a rebuild there (say with
# the sanitizers) in the middle of the run must not change what is timed.
b_private_shade()
{
	[ -x "$SHADE" ] || fail "$SHADE is not built (run make, or set SHADE)"
	SHADE_SRC=$SHADE
	SHADE=$T_TMP/shade
	cp "$SHADE_SRC" "$SHADE"
	ldd "$SHADE" 2>/dev/null | grep -Eq 'lib(asan|ubsan)' || return 0
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
}

# What was measured, and where: the lines under the summary.
b_header()
{
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, $(uname -sr)"
	echo "- rows: $BENCH_ROWS (BENCH_ROWS); rounds: $BENCH_REPEAT (BENCH_REPEAT)"
	echo "- shade: $("$SHADE" --version 2>&1 | head -n 1 || true) ($SHADE_SRC)"
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
	    echo "- $(pt-online-schema-change --version 2>&1 | head -n 1), $(sysbench --version 2>&1 | head -n 1)"
	echo "- whole run: $TOTAL s; load average at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

b_method()
{
	cat <<'EOF'
How it is measured. Each timing starts from a freshly built table t (id
bigint primary key; sku text, qty int, price numeric(12,2), note text (a
third NULL), updated_at timestamptz / DATETIME(6); a secondary index on
sku), vacuumed and checkpointed on PostgreSQL, analyzed on MariaDB; the
rounds give each tool's median wall time, which includes connecting,
preflight, index builds and the swap. Servers: the throwaway ones of
tests/lib.sh (unix socket, fsync off on PostgreSQL,
innodb_flush_log_at_trx_commit=2 on MariaDB), MariaDB's with a 2 GB buffer
pool and a 1 GB redo log, as this 24 GB machine would run it (the tests'
256 MB pool is smaller than what the run touches). The limit is the bare copy:
INSERT ... SELECT into a copy of t with the ALTER applied and the
secondary index built once after the copy; on MariaDB it is one
transaction that share-locks every row it reads, so a chunked copy can
come close to it. pg_repack rewrites the table without an ALTER (and drops
the old table); shade and pt-online-schema-change keep _t_old.

The mirrored writers (bench/load.c) run short transactions at a steady
rate, each applying the same change (update, qty bump, insert, key move or
delete of a random row) to t and to a mirror that shade does not touch; a
transaction's latency runs from its BEGIN to its COMMIT, retries included.
"Before" is the load's first seconds before shade starts (less the first,
which warms up), "during" is shade's run. pgbench -N and sysbench
oltp_write_only run unthrottled, so they compete with shade and the server
for the CPUs. shade's phases come from its progress lines, stamped as they
arrive. A load average well above 0 at the start means other work shared
the machine.
EOF
}

b_private_shade
b_deps
b_build_load
OUT=$T_TMP/results.md
SUMMARY=$T_TMP/summary.md
: >"$OUT"
: >"$SUMMARY"

START=$(b_now)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$BENCH_ONLY" = mysql ] || bench_pg
[ "$BENCH_ONLY" = pg ] || bench_mysql
TOTAL=$(b_sub "$START" "$(b_now)")

# The report is assembled here and moved into place only when every
# measurement has passed.
REPORT=$T_TMP/report.md
{
	echo "# shade benchmark"
	echo ""
	echo "Written by \`make bench\` (bench/run.sh); overwritten on every run."
	echo "Every figure comes from this one run; the goals are issue 15's."
	echo ""
	echo "| measure | value | goal | verdict |"
	echo "| --- | ---: | --- | --- |"
	cat "$SUMMARY"
	echo ""
	b_header
	echo ""
	b_method
	echo ""
	cat "$OUT"
} >"$REPORT"
cp "$REPORT" "$BENCH_RESULTS"
cat "$REPORT"

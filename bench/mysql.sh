# bench/mysql.sh - the MariaDB half of the benchmark (sourced by
# bench/run.sh): shade against pt-online-schema-change and the limit, shade
# under two mirrored writers, shade under sysbench oltp_write_only.

MY_ALTER='ADD COLUMN flag tinyint NOT NULL DEFAULT 0, MODIFY qty bigint NOT NULL'
MY_SB_ALTER='ADD COLUMN flag INT NOT NULL DEFAULT 0'

# -- the table and its checks ---------------------------------------------

my_make_t()
{
	my_sql "DROP TABLE IF EXISTS t, x, t_mirror, _t_old, _t_new, _t_log"
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

my_check_rows()
{
	_n=$(my_val "SELECT COUNT(*) FROM $1")
	[ "$_n" = "$BENCH_ROWS" ] || fail "$1 has $_n rows, want $BENCH_ROWS"
	_s=$(my_sums "$1")
	[ "$_s" = "$MY_SUMS" ] ||
	    fail "the rows of $1 differ from the original table's: '$_s', want '$MY_SUMS'"
}

# my_check_type TABLE COLUMN TYPE (information_schema's DATA_TYPE)
my_check_type()
{
	_ty=$(my_val "SELECT DATA_TYPE FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND column_name = '$2'")
	[ "$_ty" = "$3" ] || fail "$1.$2 is '$_ty', want '$3'"
}

my_check_flag()
{
	my_check_type "$1" flag "$2"
	_f=$(my_val "SELECT COUNT(*) FROM $1 WHERE flag <> 0")
	[ "$_f" = 0 ] || fail "$1 has $_f rows with flag <> 0"
}

my_check_altered()
{
	my_check_type "$1" qty bigint
	my_check_flag "$1" tinyint
}

# -- the tools ------------------------------------------------------------

# The limit: a copy without the secondary index, built after the copy.
my_limit()
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

my_rounds()
{
	_l_limit= _l_ptosc= _l_shade= MY_SHADE_RSS=0
	_i=0
	while [ "$_i" -lt "$BENCH_REPEAT" ]; do
		_i=$((_i + 1))
		note "MariaDB: round $_i of $BENCH_REPEAT"
		my_make_t
		b_run "limit (MariaDB)" "$T_TMP/my-limit.$_i.log" my_limit
		my_check_rows x
		my_check_altered x
		_l_limit="$_l_limit $B_SECS"

		my_make_t
		b_run "pt-online-schema-change" "$T_TMP/my-ptosc.$_i.log" my_ptosc
		my_check_rows t
		my_check_altered t
		_l_ptosc="$_l_ptosc $B_SECS"

		my_make_t
		b_shade "shade (MariaDB)" "$T_TMP/my-shade.$_i.log" \
		    "$MY_DSN" t "$MY_ALTER"
		my_check_rows t
		my_check_altered t
		_l_shade="$_l_shade $B_SECS"
		[ "$B_RSS" -le "$MY_SHADE_RSS" ] || MY_SHADE_RSS=$B_RSS
		MY_SHADE_PHASES=$B_PHASES
	done
	MY_LIMIT_S=$(b_median $_l_limit)
	MY_PTOSC_S=$(b_median $_l_ptosc)
	MY_SHADE_S=$(b_median $_l_shade)
	MY_LIMIT_RANGE=$(b_range $_l_limit)
	MY_PTOSC_RANGE=$(b_range $_l_ptosc)
	MY_SHADE_RANGE=$(b_range $_l_shade)
}

# -- under two mirrored writers ---------------------------------------------

my_writers()
{
	note "MariaDB: shade under $BENCH_WRITERS mirrored writers"
	my_make_t
	my_sql "CREATE TABLE t_mirror LIKE t; INSERT INTO t_mirror SELECT * FROM t"
	_lat=$T_TMP/my-lat
	"$LOAD_BIN" --engine mysql --socket "$MY_SOCK" --db "$MY_DB" \
	    --table t --mirror t_mirror --rows "$BENCH_ROWS" \
	    --workers "$BENCH_WRITERS" --rate "$BENCH_WRITER_RATE" \
	    --log "$_lat" >"$_lat.out" 2>&1 &
	bg_track $!
	b_shade_under_load $! "$_lat.out" "shade under the writers (MariaDB)" \
	    "$T_TMP/my-shade-w.log" "$MY_DSN" t "$MY_ALTER"
	[ "$B_LOAD_RC" = 0 ] || { cat "$_lat.out" >&2; fail "a mirrored writer failed"; }
	MY_W_S=$B_SECS MY_W_STOPPED=$B_STOPPED
	[ "$B_RSS" -le "$MY_SHADE_RSS" ] || MY_SHADE_RSS=$B_RSS
	MY_W_BEFORE=$(b_latency "$_lat" "$(b_add "$B_LOAD_FROM" 1)" "$B_T0")
	MY_W_DURING=$(b_latency "$_lat" "$B_T0" "$B_T1")
	MY_W_BY_PHASE=$(b_latency_by_phase "$_lat" "$T_TMP/my-shade-w.log" "$B_T1")
	MY_W_TOTALS=$(b_load_totals "$_lat.out")
	my_same_rows t t_mirror "$COLS" "shade under the mirrored writers"
	[ -n "$MY_W_STOPPED" ] || my_check_altered t
}

# -- under sysbench ---------------------------------------------------------

# sysbench oltp_write_only ARGS... in place of the shell: on sbtest1 of
# $MY_DB, BENCH_ROWS rows. Run in the background, $! is sysbench's own pid
# (a function's background subshell would otherwise stay between them, and
# a TERM to it would leave sysbench running).
my_sysbench_exec()
{
	exec sysbench oltp_write_only --db-driver=mysql \
	    --mysql-socket="$MY_SOCK" --mysql-user=root --mysql-db="$MY_DB" \
	    --tables=1 --table-size="$BENCH_ROWS" "$@"
}

my_sysbench()
{
	(my_sysbench_exec "$@")
}

my_sysbench_init()
{
	my_sql "DROP TABLE IF EXISTS sbtest1, _sbtest1_old"
	b_run "sysbench prepare" "$T_TMP/sysbench-prepare.log" my_sysbench prepare
	my_sql "ANALYZE TABLE sbtest1" >/dev/null
}

my_sysbench_check()
{
	_n=$(my_val "SELECT COUNT(*) FROM sbtest1")
	[ "$_n" = "$BENCH_ROWS" ] || fail "sbtest1 has $_n rows, want $BENCH_ROWS"
	[ "$1" = stopped ] || my_check_flag sbtest1 int
}

# Average tps of sysbench's --report-interval=1 lines ("[ Ns ] ... tps: X")
# in LOG, which started at START, whose second lies in [FROM, TO].
my_tps_between()
{
	awk -v s="$2" -v a="$3" -v b="$4" '
	$1 == "[" && $2 ~ /s$/ {
		ts = s + ($2 + 0)
		for (i = 3; i < NF; i++) if ($i == "tps:") tps = $(i + 1) + 0
		if (ts - 1 >= a && ts <= b + 0.5) { sum += tps; n++ }
	}
	END { if (n > 0) printf "%.0f", sum / n; else print "-" }' "$1"
}

my_sysbench_load()
{
	note "MariaDB: shade under sysbench oltp_write_only ($BENCH_SB_THREADS threads)"
	my_sysbench_init
	b_shade "shade on sbtest1" "$T_TMP/my-shade-sb0.log" "$MY_DSN" sbtest1 \
	    "$MY_SB_ALTER"
	MY_SB_UNLOADED_S=$B_SECS MY_SB_UNLOADED_PHASES=$B_PHASES
	my_sysbench_check altered

	my_sysbench_init
	_slog=$T_TMP/sysbench-run.log
	my_sysbench_exec --threads="$BENCH_SB_THREADS" --time=3600 \
	    --report-interval=1 run >"$_slog" 2>&1 </dev/null &
	bg_track $!
	b_shade_under_load $! "$_slog" "shade on sbtest1 under sysbench" \
	    "$T_TMP/my-shade-sb1.log" "$MY_DSN" sbtest1 "$MY_SB_ALTER"
	MY_SB_S=$B_SECS MY_SB_STOPPED=$B_STOPPED MY_SB_PHASES=$B_PHASES
	if grep -Eq 'FATAL|ALERT' "$_slog"; then
		grep -E 'FATAL|ALERT' "$_slog" | head -n 5 | sed 's/^/#   | /' >&2
		fail "sysbench failed"
	fi
	MY_SB_TPS_BEFORE=$(my_tps_between "$_slog" "$B_LOAD_FROM" \
	    "$(b_add "$B_LOAD_FROM" 1)" "$B_T0")
	MY_SB_TPS_DURING=$(my_tps_between "$_slog" "$B_LOAD_FROM" "$B_T0" "$B_T1")
	my_sysbench_check "${MY_SB_STOPPED:+stopped}"
}

# -- the report -------------------------------------------------------------

my_goals()
{
	b_estimate_goal MariaDB binlog
	_ratio_ptosc=$(b_ratio "$MY_SHADE_S" "$MY_PTOSC_S")
	_ratio_limit=$(b_ratio "$MY_SHADE_S" "$MY_LIMIT_S")
	b_goal "MariaDB: shade ÷ pt-osc, time" "${_ratio_ptosc}×" "≤ 0.5×" \
	    "$(b_le "$_ratio_ptosc" 0.5)"
	b_goal "MariaDB: shade ÷ limit, time" "${_ratio_limit}×" "≤ 1.3×" \
	    "$(b_le "$_ratio_limit" 1.3)"
	b_latency_goal MariaDB "$MY_W_BEFORE" "$MY_W_DURING"
	b_goal "MariaDB: shade under the writers ÷ unloaded" \
	    "$(b_ratio "$MY_W_S" "$MY_SHADE_S")×${MY_W_STOPPED:+ (stopped)}" "-" "-"
	b_load_goal "MariaDB: shade under sysbench ÷ unloaded (sbtest1)" \
	    "$MY_SB_S" "$MY_SB_UNLOADED_S" "$MY_SB_STOPPED"
	b_goal "MariaDB: shade's peak RSS" "$(b_mib "$MY_SHADE_RSS")" "-" "-"
}

my_report()
{
	emit "## MariaDB $MY_VERSION"
	emit ""
	emit "ALTER: \`$MY_ALTER\`"
	emit ""
	b_tool_table "$BENCH_ROWS" "$MY_SHADE_S" "$MY_SHADE_RANGE" \
	    "limit: INSERT ... SELECT into a copy without the secondary index, built after" \
	    "$MY_LIMIT_S" "$MY_LIMIT_RANGE" \
	    "pt-online-schema-change --execute" "$MY_PTOSC_S" "$MY_PTOSC_RANGE"
	emit ""
	emit "shade's phases (last round): $MY_SHADE_PHASES"
	emit ""
	b_estimate_report binlog "Binary log written: the size of every binary log (SHOW BINARY LOGS) before and after the run; the binary log is on for the whole MariaDB benchmark (--log-bin, ROW)."
	b_writers_report "$MY_W_BEFORE" "$MY_W_DURING" "$MY_W_S" \
	    "$MY_SHADE_S" "$MY_W_STOPPED" "$MY_W_TOTALS" "$MY_W_BY_PHASE"
	emit "### Under sysbench oltp_write_only ($BENCH_SB_THREADS threads, no rate limit; one run)"
	emit ""
	emit "ALTER of sbtest1 ($BENCH_ROWS rows): \`$MY_SB_ALTER\`"
	emit ""
	b_load_report sysbench "$MY_SB_UNLOADED_S" "$MY_SB_S" "$MY_SB_STOPPED" \
	    "$MY_SB_TPS_BEFORE" "$MY_SB_TPS_DURING" "$MY_SB_UNLOADED_PHASES" \
	    "$MY_SB_PHASES"
}

bench_mysql()
{
	note "MariaDB: starting the server"
	# Sized as a server on this machine would be: a buffer pool that holds
	# what the run touches (t, its mirror and the new table: ~500 MB) and
	# a redo log that does not force a checkpoint every few seconds. With
	# the tests' 256 MB pool the pool evicts dirty pages under every
	# writer's feet: the writers' p99 during shade was 50 ms, from the
	# server's flushing, not from a lock of shade's.
	# The binary log is on (row images, as on a primary with replicas), so
	# that the dry run's binlog_bytes can be set against what a run writes.
	MY_SERVER_OPTS=${MY_SERVER_OPTS:---innodb-buffer-pool-size=2G --innodb-log-file-size=1G --log-bin=$T_TMP/my/binlog --binlog-format=ROW}
	my_start
	my_newdb shade_bench
	MY_VERSION=$(my_val "SELECT VERSION()")
	my_rounds
	my_estimate
	my_writers
	my_sysbench_load
	my_goals
	my_report
	my_sql "DROP TABLE IF EXISTS t, x, t_mirror, _t_old, sbtest1, _sbtest1_old"
}

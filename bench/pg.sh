# bench/pg.sh - the PostgreSQL half of the benchmark (sourced by
# bench/run.sh): shade against pg_repack and the limit, shade under two
# mirrored writers, shade under pgbench.

PG_ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint'
PG_PGB_ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0'

# -- the table and its checks ---------------------------------------------

# A fresh table t: BENCH_ROWS rows, a primary key and one secondary index,
# vacuumed (hint bits set, visibility map built) and checkpointed, so every
# tool starts from the same state.
pg_make_t()
{
	pg_sql "DROP TABLE IF EXISTS t, x, t_mirror, _t_old, _t_new, _t_log CASCADE"
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
	[ -n "${PG_SUMS:-}" ] || PG_SUMS=$(pg_sums t)
	pg_sql "CHECKPOINT"
}

# pg_sums TABLE: a cheap fingerprint of the original columns (row count,
# sums of values and of hashes).
pg_sums()
{
	pg_val "SELECT count(*) || ' ' || sum(id) || ' '
	    || sum(hashtext(sku)::bigint) || ' ' || coalesce(sum(price), 0)
	    || ' ' || count(note) || ' '
	    || sum(hashtext(coalesce(note, ''))::bigint) || ' ' || sum(qty)
	    || ' ' || sum(extract(epoch FROM updated_at)) FROM $1"
}

# pg_check_rows TABLE: the original rows, counted and fingerprinted.
pg_check_rows()
{
	_n=$(pg_val "SELECT count(*) FROM $1")
	[ "$_n" = "$BENCH_ROWS" ] || fail "$1 has $_n rows, want $BENCH_ROWS"
	_s=$(pg_sums "$1")
	[ "$_s" = "$PG_SUMS" ] ||
	    fail "the rows of $1 differ from the original table's: '$_s', want '$PG_SUMS'"
}

# pg_check_type TABLE COLUMN TYPE
pg_check_type()
{
	_ty=$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	    WHERE attrelid = '$1'::regclass AND attname = '$2'
	      AND NOT attisdropped")
	[ "$_ty" = "$3" ] || fail "$1.$2 is '$_ty', want '$3'"
}

# pg_check_flag TABLE: the ALTER added flag, 0 everywhere.
pg_check_flag()
{
	pg_check_type "$1" flag integer
	_f=$(pg_val "SELECT count(*) FROM $1 WHERE flag <> 0")
	[ "$_f" = 0 ] || fail "$1 has $_f rows with flag <> 0"
}

pg_check_altered()
{
	pg_check_type "$1" qty bigint
	pg_check_flag "$1"
}

# -- the tools ------------------------------------------------------------

# The limit: a bare copy with the ALTER applied, the secondary index built
# once after the copy.
pg_limit()
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

# BENCH_REPEAT rounds, each tool once per round, so that a change in the
# machine's load over the run falls on every tool alike.
pg_rounds()
{
	_l_limit= _l_repack= _l_shade= PG_SHADE_RSS=0
	_i=0
	while [ "$_i" -lt "$BENCH_REPEAT" ]; do
		_i=$((_i + 1))
		note "PostgreSQL: round $_i of $BENCH_REPEAT"
		pg_make_t
		b_run "limit (PostgreSQL)" "$T_TMP/pg-limit.$_i.log" pg_limit
		pg_check_rows x
		pg_check_altered x
		_l_limit="$_l_limit $B_SECS"

		pg_make_t
		b_run "pg_repack" "$T_TMP/pg-repack.$_i.log" pg_repack_t
		pg_check_rows t
		pg_check_type t qty integer
		_l_repack="$_l_repack $B_SECS"

		pg_make_t
		b_shade "shade (PostgreSQL)" "$T_TMP/pg-shade.$_i.log" \
		    "$PG_DSN" t "$PG_ALTER"
		pg_check_rows t
		pg_check_altered t
		_l_shade="$_l_shade $B_SECS"
		[ "$B_RSS" -le "$PG_SHADE_RSS" ] || PG_SHADE_RSS=$B_RSS
		PG_SHADE_PHASES=$B_PHASES
	done
	PG_LIMIT_S=$(b_median $_l_limit)
	PG_REPACK_S=$(b_median $_l_repack)
	PG_SHADE_S=$(b_median $_l_shade)
	PG_LIMIT_RANGE=$(b_range $_l_limit)
	PG_REPACK_RANGE=$(b_range $_l_repack)
	PG_SHADE_RANGE=$(b_range $_l_shade)
}

# -- under two mirrored writers ---------------------------------------------

# shade on t while bench/load writes to t and t_mirror at a steady rate:
# the writers' latency before and during the migration; afterwards t must
# equal t_mirror on the original columns.
pg_writers()
{
	note "PostgreSQL: shade under $BENCH_WRITERS mirrored writers"
	pg_make_t
	pg_sql "CREATE TABLE t_mirror AS SELECT * FROM t;
	    ALTER TABLE t_mirror ADD PRIMARY KEY (id)"
	pg_sql "VACUUM (ANALYZE) t_mirror"
	_lat=$T_TMP/pg-lat
	"$LOAD_BIN" --engine pg --dsn "$PG_DSN" --table t --mirror t_mirror \
	    --rows "$BENCH_ROWS" --workers "$BENCH_WRITERS" \
	    --rate "$BENCH_WRITER_RATE" --log "$_lat" >"$_lat.out" 2>&1 &
	bg_track $!
	b_shade_under_load $! "$_lat.out" "shade under the writers (PostgreSQL)" \
	    "$T_TMP/pg-shade-w.log" "$PG_DSN" t "$PG_ALTER"
	[ "$B_LOAD_RC" = 0 ] || { cat "$_lat.out" >&2; fail "a mirrored writer failed"; }
	PG_W_S=$B_SECS PG_W_STOPPED=$B_STOPPED
	[ "$B_RSS" -le "$PG_SHADE_RSS" ] || PG_SHADE_RSS=$B_RSS
	# The first second warms the connections up.
	PG_W_BEFORE=$(b_latency "$_lat" "$(b_add "$B_LOAD_FROM" 1)" "$B_T0")
	PG_W_DURING=$(b_latency "$_lat" "$B_T0" "$B_T1")
	PG_W_BY_PHASE=$(b_latency_by_phase "$_lat" "$T_TMP/pg-shade-w.log" "$B_T1")
	PG_W_TOTALS=$(b_load_totals "$_lat.out")
	pg_same_rows t t_mirror "$COLS" "shade under the mirrored writers"
	[ -n "$PG_W_STOPPED" ] || pg_check_altered t
}

# -- under pgbench ----------------------------------------------------------

# pgbench_accounts with BENCH_ROWS rows (pgbench -i), vacuumed, checkpointed.
pg_pgbench_init()
{
	pg_sql "DROP TABLE IF EXISTS _pgbench_accounts_old"
	b_run "pgbench -i -s $PG_PGB_SCALE" "$T_TMP/pgbench-init.log" \
	    pgbench -i -q -s "$PG_PGB_SCALE" "$PG_DB"
	pg_sql "VACUUM (ANALYZE) pgbench_accounts"
	pg_sql "CHECKPOINT"
}

# No write lost: every transaction of -N adds delta to one account's
# balance and logs delta in pgbench_history, in one transaction.
pg_pgbench_check()
{
	_n=$(pg_val "SELECT count(*) FROM pgbench_accounts")
	[ "$_n" = $((PG_PGB_SCALE * 100000)) ] ||
	    fail "pgbench_accounts has $_n rows, want $((PG_PGB_SCALE * 100000))"
	_d=$(pg_val "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts)
	    - (SELECT coalesce(sum(delta), 0) FROM pgbench_history)")
	[ "$_d" = 0 ] || fail "pgbench_accounts' balances are off by $_d from pgbench_history"
	[ "$1" = stopped ] || pg_check_flag pgbench_accounts
}

pg_pgbench()
{
	PG_PGB_SCALE=$(((BENCH_ROWS + 99999) / 100000))
	note "PostgreSQL: shade under pgbench -N (scale $PG_PGB_SCALE, $BENCH_PGB_CLIENTS clients)"
	pg_pgbench_init
	b_shade "shade on pgbench_accounts" "$T_TMP/pg-shade-pgb0.log" \
	    "$PG_DSN" pgbench_accounts "$PG_PGB_ALTER"
	PG_PGB_UNLOADED_S=$B_SECS PG_PGB_UNLOADED_PHASES=$B_PHASES
	pg_pgbench_check altered

	pg_pgbench_init
	_plog=$T_TMP/pgbench-load.log
	pgbench -n -N -M simple -c "$BENCH_PGB_CLIENTS" -j "$BENCH_PGB_CLIENTS" \
	    -T 3600 -P 1 --progress-timestamp "$PG_DB" >"$_plog" 2>&1 </dev/null &
	bg_track $!
	b_shade_under_load $! "$_plog" "shade on pgbench_accounts under pgbench" \
	    "$T_TMP/pg-shade-pgb1.log" "$PG_DSN" pgbench_accounts "$PG_PGB_ALTER"
	PG_PGB_S=$B_SECS PG_PGB_STOPPED=$B_STOPPED PG_PGB_PHASES=$B_PHASES
	if grep -Eiq 'aborted|error|fatal' "$_plog"; then
		grep -Ei 'aborted|error|fatal' "$_plog" | head -n 5 | sed 's/^/#   | /' >&2
		fail "a pgbench client failed"
	fi
	PG_PGB_TPS_BEFORE=$(pg_tps_between "$_plog" "$(b_add "$B_LOAD_FROM" 1)" "$B_T0")
	PG_PGB_TPS_DURING=$(pg_tps_between "$_plog" "$B_T0" "$B_T1")
	pg_pgbench_check "${PG_PGB_STOPPED:+stopped}"
}

# Average tps of the pgbench progress lines (-P 1 --progress-timestamp)
# in LOG whose one-second interval lies in [FROM, TO].
pg_tps_between()
{
	awk -v a="$2" -v b="$3" '
	$1 == "progress:" {
		ts = $2 + 0; tps = $4 + 0
		if (ts - 1 >= a && ts <= b + 0.5) { sum += tps; n++ }
	}
	END { if (n > 0) printf "%.0f", sum / n; else print "-" }' "$1"
}

# -- the report -------------------------------------------------------------

pg_goals()
{
	_ratio_repack=$(b_ratio "$PG_SHADE_S" "$PG_REPACK_S")
	_ratio_limit=$(b_ratio "$PG_SHADE_S" "$PG_LIMIT_S")
	b_goal "PostgreSQL: shade ÷ pg_repack, time" "${_ratio_repack}×" \
	    "≤ 1.0×" "$(b_le "$_ratio_repack" 1.0)"
	b_goal "PostgreSQL: shade ÷ limit, time" "${_ratio_limit}×" "≤ 1.3×" \
	    "$(b_le "$_ratio_limit" 1.3)"
	b_latency_goal PostgreSQL "$PG_W_BEFORE" "$PG_W_DURING"
	b_goal "PostgreSQL: shade under the writers ÷ unloaded" \
	    "$(b_ratio "$PG_W_S" "$PG_SHADE_S")×${PG_W_STOPPED:+ (stopped)}" "-" "-"
	b_load_goal "PostgreSQL: shade under pgbench ÷ unloaded (pgbench_accounts)" \
	    "$PG_PGB_S" "$PG_PGB_UNLOADED_S" "$PG_PGB_STOPPED"
	b_goal "PostgreSQL: shade's peak RSS" "$(b_mib "$PG_SHADE_RSS")" "-" "-"
	b_estimate_goal PostgreSQL WAL
}

pg_report()
{
	emit "## PostgreSQL $PG_VERSION"
	emit ""
	emit "ALTER: \`$PG_ALTER\`"
	emit ""
	b_tool_table "$BENCH_ROWS" "$PG_SHADE_S" "$PG_SHADE_RANGE" \
	    "limit: INSERT ... SELECT into a bare copy, secondary index built after" \
	    "$PG_LIMIT_S" "$PG_LIMIT_RANGE" \
	    "pg_repack -t t (a rewrite without the ALTER)" "$PG_REPACK_S" \
	    "$PG_REPACK_RANGE"
	emit ""
	emit "shade's phases (last round): $PG_SHADE_PHASES"
	emit ""
	b_estimate_report WAL "WAL written: pg_current_wal_insert_lsn() before and after the run (other sessions' WAL included; the server is otherwise idle)."
	b_writers_report "$PG_W_BEFORE" "$PG_W_DURING" "$PG_W_S" \
	    "$PG_SHADE_S" "$PG_W_STOPPED" "$PG_W_TOTALS" "$PG_W_BY_PHASE"
	emit "### Under pgbench -N ($BENCH_PGB_CLIENTS clients, no rate limit; one run)"
	emit ""
	emit "ALTER of pgbench_accounts (scale $PG_PGB_SCALE, $((PG_PGB_SCALE * 100000)) rows): \`$PG_PGB_ALTER\`"
	emit ""
	b_load_report pgbench "$PG_PGB_UNLOADED_S" "$PG_PGB_S" "$PG_PGB_STOPPED" \
	    "$PG_PGB_TPS_BEFORE" "$PG_PGB_TPS_DURING" "$PG_PGB_UNLOADED_PHASES" \
	    "$PG_PGB_PHASES"
}

bench_pg()
{
	note "PostgreSQL: starting the server"
	pg_start
	pg_newdb shade_bench
	pg_sql "CREATE EXTENSION IF NOT EXISTS pg_repack"
	PG_VERSION=$(pg_val "SHOW server_version")
	pg_rounds
	pg_estimate
	pg_writers
	pg_pgbench
	pg_goals
	pg_report
	pg_sql "DROP TABLE IF EXISTS t, x, t_mirror, _t_old, _pgbench_accounts_old CASCADE"
}

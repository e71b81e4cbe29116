# bench/estimate.sh - the dry run's estimate against the real run (issue
# 19; sourced by bench/run.sh): on t with a second secondary index, the
# dry run's JSON report (estimated_seconds, phases, wal_bytes or
# binlog_bytes), then the real --execute of the same ALTER on the same
# table, timed, with the log position read before and after it. The goal:
# the real run takes 0.5× to 2× the estimate. Never a test: a timing.

# b_estimate NAME DSN TABLE ALTER LOGKEY POSFN: E_EST, E_EST_PHASES,
# E_PRED (predicted log bytes, "-" when none), E_REAL, E_REAL_PHASES,
# E_WRITTEN (log bytes the real run wrote: POSFN's difference, "-" when it
# prints nothing).
b_estimate()
{
	_e_out=$T_TMP/estimate.$5
	"$SHADE" --dsn "$2" --table "$3" --alter "$4" --dry-run --log-format json \
	    >"$_e_out.json" 2>"$_e_out.err" </dev/null ||
	    { cat "$_e_out.err" >&2; fail "$1: the dry run exited $?"; }
	tail -n 1 "$_e_out.json" >"$_e_out.last"
	E_EST=$(jq -r '.estimated_seconds // "-" | if type == "number"
	    then (. * 100 | round / 100) else . end' "$_e_out.last")
	E_EST_PHASES=$(jq -r '.phases | to_entries
	    | map("\(.key) \(.value // 0 | . * 100 | round / 100) s") | join(", ")' "$_e_out.last")
	E_PRED=$(jq -r --arg k "$5" '.[$k] // "-"' "$_e_out.last")
	note "$1: the dry run estimates $E_EST s ($E_EST_PHASES), $5 $E_PRED"
	_e_p0=$($6)
	b_shade "$1" "$_e_out.log" "$2" "$3" "$4"
	_e_p1=$($6)
	E_REAL=$B_SECS E_REAL_PHASES=$B_PHASES
	E_WRITTEN=-
	[ -z "$_e_p0" ] || [ -z "$_e_p1" ] || E_WRITTEN=$((_e_p1 - _e_p0))
}

# b_within VALUE LO HI: "met" when LO <= VALUE <= HI, "not met", or "-".
b_within()
{
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN {
		if (v == "-" || v == "") print "-"
		else if (v + 0 >= lo + 0 && v + 0 <= hi + 0) print "met"
		else print "not met" }'
}

# b_estimate_goal SERVER LOGNAME: the summary's rows.
b_estimate_goal()
{
	_g_t=$(b_ratio "$E_REAL" "$E_EST")
	b_goal "$1: real run ÷ the dry run's estimate, time" "${_g_t}×" "0.5× to 2×" \
	    "$(b_within "$_g_t" 0.5 2)"
	_g_l=$(b_ratio "$E_WRITTEN" "$E_PRED")
	b_goal "$1: $2 written ÷ predicted" "${_g_l}×" "-" "-"
}

# b_estimate_report LOGNAME HOW: the report's section (HOW: how the real
# run's log volume was read).
b_estimate_report()
{
	emit "### The dry run's estimate against the real run (one run)"
	emit ""
	emit "The same table with a second secondary index (on updated_at); \`--dry-run --log-format json\`, then \`--execute\`."
	emit ""
	emit "| | the dry run's estimate | the real run | real ÷ estimate |"
	emit "| --- | ---: | ---: | ---: |"
	emit "| time | $E_EST s | $E_REAL s | $(b_ratio "$E_REAL" "$E_EST") |"
	emit "| $1 bytes | $E_PRED | $E_WRITTEN | $(b_ratio "$E_WRITTEN" "$E_PRED") |"
	emit ""
	emit "Estimated phases: $E_EST_PHASES. Real phases: $E_REAL_PHASES. $2"
	emit ""
}

# The WAL's insert position in bytes (PostgreSQL).
pg_wal_pos()
{
	pg_val "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"
}

# The binary logs' total size in bytes; nothing when the log is off.
my_binlog_pos()
{
	[ "$(my_val "SELECT @@log_bin")" = 1 ] || return 0
	my_client -e "SHOW BINARY LOGS" | awk '{ s += $2 } END { print s + 0 }'
}

pg_estimate()
{
	note "PostgreSQL: the dry run's estimate against the real run"
	pg_make_t
	pg_sql "CREATE INDEX t_upd_idx ON t (updated_at); ANALYZE t; CHECKPOINT"
	b_estimate "shade after its dry run (PostgreSQL)" "$PG_DSN" t "$PG_ALTER" wal_bytes \
	    pg_wal_pos
	pg_check_rows t
	pg_check_altered t
}

my_estimate()
{
	note "MariaDB: the dry run's estimate against the real run"
	my_make_t
	my_sql "ALTER TABLE t ADD KEY t_upd_idx (updated_at); ANALYZE TABLE t" >/dev/null
	b_estimate "shade after its dry run (MariaDB)" "$MY_DSN" t "$MY_ALTER" binlog_bytes \
	    my_binlog_pos
	my_check_rows t
	my_check_altered t
}

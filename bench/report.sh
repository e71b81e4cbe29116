# bench/report.sh - the goals of issue 15 and the report's sections, the
# same for both servers (sourced by bench/run.sh). Rows of the summary
# table go to $SUMMARY, the sections to $OUT.

# b_le VALUE LIMIT: "met" when VALUE <= LIMIT, "not met", or "-" when
# VALUE was not measured.
b_le()
{
	awk -v v="$1" -v l="$2" 'BEGIN {
		if (v == "-" || v == "") print "-"
		else if (v + 0 <= l + 0) print "met"
		else print "not met" }'
}

# b_goal WHAT VALUE GOAL VERDICT: a row of the summary table.
b_goal()
{
	printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >>"$SUMMARY"
}

emit()
{
	printf '%s\n' "$*" >>"$OUT"
}

# b_latency_goal SERVER "P50 P99 MAX N" (before) "P50 P99 MAX N" (during):
# the writers' p99 during the migration is at most max(2 × before, 10 ms).
b_latency_goal()
{
	_b99=$(echo "$2" | cut -d' ' -f2)
	_d99=$(echo "$3" | cut -d' ' -f2)
	_lim=$(awk -v p="$_b99" 'BEGIN { l = 2 * p; if (l < 10) l = 10;
	    printf "%.2f", l }')
	b_goal "$1: writers' p99 latency during shade (before: $_b99 ms)" \
	    "$_d99 ms" "≤ max(2 × before, 10 ms) = $_lim ms" \
	    "$(b_le "$_d99" "$_lim")"
}

# b_load_goal WHAT LOADED_S UNLOADED_S STOPPED: shade under a load takes at
# most 3 times as long as without; stopped at the limit is "not met".
b_load_goal()
{
	_r=$(b_ratio "$2" "$3")
	if [ -n "$4" ]; then
		b_goal "$1" "> ${_r}× (stopped after $2 s)" "≤ 3×" "not met"
	else
		b_goal "$1" "${_r}×" "≤ 3×" "$(b_le "$_r" 3)"
	fi
}

# b_tool_table ROWS SHADE_S SHADE_RANGE (NAME S RANGE)...: shade and the
# tools it is measured against, median wall times.
b_tool_table()
{
	_rows=$1 _s=$2
	emit "| run | wall time, median (min-max) | rows/s | shade ÷ run |"
	emit "| --- | ---: | ---: | ---: |"
	emit "| shade --execute | $2 s ($3) | $(b_rate "$_rows" "$2") | 1.00 |"
	shift 3
	while [ $# -ge 3 ]; do
		emit "| $1 | $2 s ($3) | $(b_rate "$_rows" "$2") | $(b_ratio "$_s" "$2") |"
		shift 3
	done
}

# "N commits, R retries" from b_load_totals' "N R E M".
b_totals_text()
{
	echo "$1" | awk '{ printf "%d transactions committed, %d retried (deadlock or lock timeout), %d errors, %d mismatches", $1, $2, $3, $4 }'
}

# b_writers_report BEFORE DURING LOADED_S UNLOADED_S STOPPED TOTALS BY_PHASE
b_writers_report()
{
	emit "### Under $BENCH_WRITERS mirrored writers ($BENCH_WRITER_RATE transactions/s each; one run)"
	emit ""
	emit "shade took $3 s under the writers${5:+ (stopped at the limit)}, $4 s unloaded (median): $(b_ratio "$3" "$4")×."
	emit "Writers: $(b_totals_text "$6"); the table equals its mirror afterwards."
	emit ""
	emit "| writers' latency | p50 | p99 | max | transactions |"
	emit "| --- | ---: | ---: | ---: | ---: |"
	echo "$1" | awk -v s="$BENCH_LOAD_SECS" '{ printf "| before shade (%d s) | %s ms | %s ms | %s ms | %s |\n", s - 1, $1, $2, $3, $4 }' >>"$OUT"
	echo "$2" | awk '{ printf "| **during shade** | %s ms | %s ms | %s ms | %s |\n", $1, $2, $3, $4 }' >>"$OUT"
	emit "$7"
	emit ""
}

# b_load_report TOOL UNLOADED_S LOADED_S STOPPED TPS_BEFORE TPS_DURING
#     PHASES_UNLOADED PHASES_LOADED
b_load_report()
{
	emit "| shade | wall time | $1 tps before shade | during shade |"
	emit "| --- | ---: | ---: | ---: |"
	emit "| unloaded | $2 s | - | - |"
	emit "| under $1 | $3 s${4:+ (stopped at the limit)} | $5 | $6 |"
	emit ""
	emit "Under $1 ÷ unloaded: **$(b_ratio "$3" "$2")×**."
	emit ""
	emit "Phases unloaded: $7"
	emit ""
	emit "Phases under $1: $8"
	emit ""
}

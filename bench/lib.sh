# bench/lib.sh - what bench/pg.sh and bench/mysql.sh share: the clock,
# running and timing a tool, running shade (peak RSS, phase timings, a time
# limit), the statistics of a latency log, the tools the benchmark adds.
# Sourced by bench/run.sh after tests/lib.sh.

# -- the clock and arithmetic ---------------------------------------------

b_now()
{
	date +%s.%N
}

b_sub()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

b_add()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'
}

b_ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b
		else print "-" }'
}

# Rows per second, rounded.
b_rate()
{
	awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'
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

# -- running a tool -------------------------------------------------------

# b_run NAME LOG CMD...: run CMD with its output in LOG, set B_SECS to its
# wall time and B_T0/B_T1 to its start and end; fail on a non-zero exit.
b_run()
{
	_r_name=$1
	_r_log=$2
	shift 2
	_r_rc=0
	B_T0=$(b_now)
	"$@" >"$_r_log" 2>&1 </dev/null || _r_rc=$?
	b_finish "$_r_name" "$_r_log" "$_r_rc"
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

# b_still_running LOG PID SECS: fail unless the background load PID is
# still running after SECS seconds (it failed to start, or died); LOG is
# its output.
b_still_running()
{
	sleep "$3"
	kill -0 "$2" 2>/dev/null && return 0
	tail -n 20 "$1" | sed 's/^/#   | /' >&2
	fail "the write load stopped early (see above)"
}

# -- shade ----------------------------------------------------------------

# Prefix every line read with the time it arrived.
b_stamp()
{
	while IFS= read -r _l; do
		printf '%s %s\n' "$(date +%s.%N)" "$_l"
	done
}

# b_shade NAME LOG DSN TABLE ALTER [LIMIT]: time shade (B_SECS, B_T0,
# B_T1), its peak resident set in KiB (B_RSS: GNU time when installed, else
# VmHWM sampled from /proc) and its phases (B_PHASES, from its progress
# lines, each stamped as it arrives). After LIMIT seconds (default 900)
# shade is told to stop (SIGTERM: it aborts cleanly, the table untouched)
# and B_STOPPED=1; any other non-zero exit fails the benchmark.
b_shade()
{
	_s_name=$1 _s_log=$2
	_s_lim=${6:-900}
	rm -f "$_s_log.fifo" "$_s_log.rss"
	mkfifo "$_s_log.fifo"
	b_stamp <"$_s_log.fifo" >"$_s_log" &
	_s_stamp=$!
	set -- "$SHADE" --dsn "$3" --table "$4" --alter "$5" --execute \
	    --progress-interval 1
	_s_rc=0
	B_RSS=0 B_STOPPED=
	B_T0=$(b_now)
	if [ -x /usr/bin/time ] && [ -z "${BENCH_NO_GNU_TIME:-}" ]; then
		# time reports the largest of timeout and shade: shade's.
		/usr/bin/time -f %M -o "$_s_log.rss" timeout -k 60 "$_s_lim" "$@" \
		    >"$_s_log.out" 2>"$_s_log.fifo" </dev/null || _s_rc=$?
		B_RSS=$(tail -n 1 "$_s_log.rss")
	else
		b_shade_sampled "$_s_lim" "$@" || _s_rc=$?
	fi
	wait "$_s_stamp" || true
	rm -f "$_s_log.fifo"
	if [ "$_s_rc" = 124 ]; then
		B_STOPPED=1
		_s_rc=0
		note "$_s_name: stopped after $_s_lim s"
	fi
	b_finish "$_s_name" "$_s_log" "$_s_rc"
	B_PHASES=$(b_phases "$_s_log" "$B_T1")
	note "$_s_name: $B_PHASES"
}

# b_shade_sampled LIMIT CMD...: b_shade without GNU time: run CMD with
# stderr into $_s_log.fifo, sample its VmHWM into B_RSS, stop it (and return
# 124) after LIMIT seconds.
b_shade_sampled()
{
	_s_lim=$1
	shift
	"$@" >"$_s_log.out" 2>"$_s_log.fifo" </dev/null &
	_s_pid=$!
	bg_track "$_s_pid"
	_s_end=$(awk -v t="$(b_now)" -v l="$_s_lim" 'BEGIN { printf "%d", t + l }')
	_s_over=0
	while kill -0 "$_s_pid" 2>/dev/null; do
		while read -r _s_k _s_v _; do
			[ "$_s_k" = VmHWM: ] || continue
			[ "$_s_v" -le "$B_RSS" ] || B_RSS=$_s_v
		done 2>/dev/null <"/proc/$_s_pid/status" || true
		if [ "$_s_over" = 0 ] && [ "$(date +%s)" -ge "$_s_end" ]; then
			kill -TERM "$_s_pid" 2>/dev/null || true
			_s_over=1
		fi
		sleep 0.05
	done
	_s_rc=0
	wait "$_s_pid" || _s_rc=$?
	[ "$_s_over" = 0 ] || return 124
	return "$_s_rc"
}

# b_shade_under_load PID OUT NAME LOG DSN TABLE ALTER: the load PID (its
# output in OUT) has just started: let it run BENCH_LOAD_SECS alone (from
# B_LOAD_FROM), then b_shade NAME LOG DSN TABLE ALTER under it, stopped
# after BENCH_LOAD_LIMIT; then one more second of load, and TERM. The load
# must have run throughout; its exit status is in B_LOAD_RC.
b_shade_under_load()
{
	_u_pid=$1 _u_out=$2
	shift 2
	B_LOAD_FROM=$(b_now)
	b_still_running "$_u_out" "$_u_pid" "$BENCH_LOAD_SECS"
	b_shade "$@" "$BENCH_LOAD_LIMIT"
	b_still_running "$_u_out" "$_u_pid" 1
	# TERM, not INT: a background job of a non-interactive sh ignores SIGINT.
	kill -TERM "$_u_pid" 2>/dev/null || true
	B_LOAD_RC=0
	wait "$_u_pid" 2>/dev/null || B_LOAD_RC=$?
}

# b_phase_spans LOG END: "PHASE FROM TO" per phase of shade's run, from
# its stamped progress lines ("T shade: [hh:mm:ss] PHASE[: detail]"): a
# phase lasts from its first line to the next phase's (the last to END).
b_phase_spans()
{
	awk -v end="$2" '
	$2 == "shade:" && $3 ~ /^\[[0-9:]+\]$/ {
		p = $4; sub(/:$/, "", p)
		if (p == cur) next
		if (cur != "") print cur, t, $1
		cur = p; t = $1
	}
	END { if (cur != "") print cur, t, end }' "$1"
}

# b_phases LOG END: "preflight 0.1 s, shadow 0.0 s, ...; rows applied from
# the log: N" (the last count shade printed).
b_phases()
{
	_p=$(b_phase_spans "$1" "$2" | awk '
	    { printf "%s%s %.1f s", (NR > 1 ? ", " : ""), $1, $3 - $2 }')
	_a=$(awk '/ applied [0-9]+, backlog/ {
		for (i = 1; i < NF; i++) if ($i == "applied") a = $(i + 1) + 0 }
	    END { print a }' "$1")
	echo "${_p:-no progress lines}${_a:+; rows applied from the log: $_a}"
}

# -- latency --------------------------------------------------------------

# b_latency LOG FROM TO: "P50 P99 MAX N" (ms; nearest rank) of the
# transactions that bench/load logged in LOG.* and that started in
# [FROM, TO); "- - - 0" when there are none.
b_latency()
{
	cat "$1".* | awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { print $2 }' |
	    sort -n | awk '{ v[NR] = $1 }
	END {
		if (NR == 0) { print "- - - 0"; exit }
		i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++
		i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++
		printf "%.2f %.2f %.2f %d\n", v[i50], v[i99], v[NR], NR
	}'
}

# b_latency_by_phase LAT SHADE_LOG END: a table row per phase of shade's
# run, "| PHASE (SECS s) | P50 ms | P99 ms | MAX ms | N |", of the
# transactions in LAT.* that started in it.
b_latency_by_phase()
{
	b_phase_spans "$2" "$3" | while read -r _ph _a _b; do
		b_latency "$1" "$_a" "$_b" | awk -v p="$_ph" -v a="$_a" -v b="$_b" '
		    { printf "| … %s (%.1f s) | %s ms | %s ms | %s ms | %s |\n",
		      p, b - a, $1, $2, $3, $4 }'
	done
}

# b_load_totals OUT: "COMMITS RETRIES ERRORS MISMATCHES" summed over the
# workers' summary lines in bench/load's stdout OUT.
b_load_totals()
{
	awk '/^load\[[0-9]+\]: / {
		c += $2; r += $4; e += $6; m += $8 }
	END { printf "%d %d %d %d\n", c, r, e, m }' "$1"
}

# -- what the benchmark needs besides scripts/deps.sh ---------------------

# GNU time (peak RSS) and sysbench, from Debian, when they are missing.
b_deps()
{
	_missing=
	[ -x /usr/bin/time ] || _missing="time"
	command -v sysbench >/dev/null 2>&1 || _missing="$_missing sysbench"
	[ -n "$_missing" ] || return 0
	[ "$(id -u)" = 0 ] || fail "missing packages: $_missing (run as root to install)"
	note "installing $_missing"
	# shellcheck disable=SC2086
	if ! env DEBIAN_FRONTEND=noninteractive apt-get update -q \
	    >"$T_TMP/apt.log" 2>&1 ||
	    ! env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $_missing >>"$T_TMP/apt.log" 2>&1; then
		cat "$T_TMP/apt.log" >&2
		fail "apt-get failed"
	fi
}

# Build bench/load.c (the mirrored write load) into $T_TMP; sets LOAD_BIN.
b_build_load()
{
	LOAD_BIN=$T_TMP/load
	# shellcheck disable=SC2046
	cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -Wall \
	    -Wextra -Werror $(pkg-config --cflags libpq libmariadb) \
	    -o "$LOAD_BIN" "$BENCH_DIR/load.c" \
	    $(pkg-config --libs libpq libmariadb) >"$T_TMP/load-cc.log" 2>&1 || {
		cat "$T_TMP/load-cc.log" >&2
		fail "cannot build bench/load.c"
	}
}

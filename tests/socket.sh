# socket.sh - helpers of the control-socket tests (pg_socket.sh,
# mysql_socket.sh), sourced after lib.sh. SOCK is the socket's path; every
# wait polls with a generous limit and checks that shade still runs.

SOCK=$T_TMP/ctl.sock
WAIT_LINE_SECS=120  # wait_for_line (tests/lib.sh)

# ctl CMD: send one command with socat, print the reply line.
ctl()
{
	printf '%s\n' "$1" | socat -t 30 - "UNIX-CONNECT:$SOCK"
}

# ctl_nc CMD: the same with netcat-openbsd: -N shuts the socket's write
# side at the end of input, so shade answers and closes, and nc ends.
ctl_nc()
{
	printf '%s\n' "$1" | timeout 30 nc -N -U "$SOCK"
}

# ctl_expect WHAT CMD REPLY: the reply to CMD (by socat) must be REPLY.
ctl_expect()
{
	_r=$(ctl "$2") || fail "$1: socat failed to send \"$2\""
	assert_eq "$_r" "$3" "$1: the reply to \"$2\""
}

# status_field FIELD: one field of the status object (jq -r).
status_field()
{
	ctl status | jq -r ".$1"
}

# wait_for_status WHAT FIELD VALUE: poll status until FIELD reads VALUE.
wait_for_status()
{
	_i=0
	until [ "$(status_field "$2" 2>/dev/null)" = "$3" ]; do
		kill -0 "$SHADE_PID" 2>/dev/null ||
		    { wait_shade; fail "$1: shade ended (exit $SHADE_RC) before $2 was $3"; }
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "$1: status never said $2 = $3 within 120 s"
		sleep 0.2
	done
}

# wait_for_socket WHAT: until shade listens.
wait_for_socket()
{
	_i=0
	until [ -S "$SOCK" ] && ctl status >/dev/null 2>&1; do
		kill -0 "$SHADE_PID" 2>/dev/null ||
		    { wait_shade; fail "$1: shade ended (exit $SHADE_RC) before its socket answered"; }
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "$1: the control socket did not answer within 60 s"
		sleep 0.1
	done
}

# check_status WHAT: the status object has every field, with sane values.
check_status()
{
	ctl status >"$T_TMP/status.json" || fail "$1: no status reply"
	jq -e '
	    (.phase | type == "string" and IN("preflight", "shadow", "capture", "copy", "key",
		"apply", "indexes", "catch-up", "postponed", "swap", "cleanup", "done"))
	    and (.rows_copied | type == "number" and . >= 0)
	    and (.rows_total | type == "number" and . >= 0)
	    and (.rows_per_second | type == "number" and . >= 0)
	    and (.backlog | type == "number" and . >= 0)
	    and (.eta_seconds == null or (.eta_seconds | type == "number" and . >= 0))
	    and (.throttled == null or (.throttled | type == "string"))
	    and (.paused | type == "boolean")
	    and (.postponed | type == "boolean")
	    and (.elapsed_seconds | type == "number" and . >= 0)' "$T_TMP/status.json" \
	    >/dev/null || fail "$1: a field is missing or insane: $(cat "$T_TMP/status.json")"
}

# socket_mode: the socket file's permission bits, e.g. 600.
socket_mode()
{
	stat -c %a "$SOCK"
}

# make_stale_socket PATH: a socket file nobody listens on (a crashed shade's).
make_stale_socket()
{
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1"
	[ -S "$1" ] || fail "could not make a stale socket at $1"
}

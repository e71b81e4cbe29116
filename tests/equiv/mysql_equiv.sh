#!/bin/sh
# tests/equiv/mysql_equiv.sh - shade gives exactly what MariaDB's own ALTER TABLE gives,
# or refuses, over the corpus tests/equiv/mysql.cases (see
# tests/equiv/equiv.sh).
#
# Each case builds table t in two databases, eq_p and eq_s; the plain
# ALTER runs on eq_p.t, shade (--execute --drop-old) on eq_s.t. Then the
# two are compared: SHOW CREATE TABLE (the database's name taken out), the
# triggers, and every row.
#
# A case's setup may SET GLOBAL time_zone or sql_mode: the plain ALTER's
# session and shade's then start with them, as on a server configured so.
# Both are reset before every case and at the end.
set -eu
. "$(dirname "$0")/../lib.sh"
. "$SHADE_ROOT/tests/equiv/equiv.sh"

my_start

# my_in DB SQL...: run SQL (or stdin) in database DB.
my_in()
{
	_db=$1
	shift
	my_client -D "$_db" "$@"
}

# my_describe DB: table t as the server describes it.
my_describe()
{
	my_in "$1" -e "SHOW CREATE TABLE t" | cut -f 2- | sed 's/\\n/\
/g'
	my_in "$1" -e "SELECT trigger_name, action_timing, event_manipulation,
	    action_order, action_statement, sql_mode, definer
	    FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE() AND event_object_table = 't'
	    ORDER BY 1"
}

# my_rows DB: every row of t, in key order.
my_rows()
{
	my_in "$1" -e "SELECT * FROM t ORDER BY 1, 2"
}

# my_reset_globals: the server's own time zone and sql_mode again.
my_reset_globals()
{
	my_client -e "SET GLOBAL time_zone = DEFAULT, GLOBAL sql_mode = DEFAULT" ||
	    fail "cannot reset the server's time_zone and sql_mode"
}

# my_case N: run case N (files $T_TMP/cases/N.*).
my_case()
{
	c=$T_TMP/cases/$1
	name=$(cat "$c.name")
	alter=$(cat "$c.alter")
	expect=$(cat "$c.expect")
	EQ_N=$((EQ_N + 1))
	my_reset_globals
	my_client -e "DROP DATABASE IF EXISTS eq_p; DROP DATABASE IF EXISTS eq_s;
	    CREATE DATABASE eq_p CHARACTER SET utf8mb4;
	    CREATE DATABASE eq_s CHARACTER SET utf8mb4" || fail "$name: setup"
	for db in eq_p eq_s; do
		my_in "$db" <"$c.sql" || fail "$name: setup in $db"
	done
	plain_rc=0
	my_in eq_p -e "ALTER TABLE t $alter" >"$c.plain" 2>&1 || plain_rc=$?
	my_describe eq_s >"$c.before"
	my_rows eq_s >"$c.rows_before"
	run_shade --dsn "mysql://root@/eq_s?socket=$MY_SOCK" --table t --alter "$alter" \
	    --execute --drop-old
	left=$(my_in eq_s -e "SELECT table_name FROM information_schema.tables
	    WHERE table_schema = 'eq_s'
	      AND (table_name LIKE '\\_t\\_%' OR table_name LIKE 't\\_shade%')
	    UNION ALL SELECT trigger_name FROM information_schema.triggers
	    WHERE trigger_schema = 'eq_s' AND trigger_name LIKE '\\_t\\_shade%'")
	[ -z "$left" ] || eq_bad "$name" "shade left behind: $(echo $left)"
	case $expect in
	same | refuse)
		if [ "$plain_rc" != 0 ]; then
			eq_bad "$name" "broken case: the plain ALTER fails: $(grep -m 1 ERROR "$c.plain" || head -c 300 "$c.plain")"
			return 0
		fi ;;
	fail)
		if [ "$plain_rc" = 0 ]; then
			eq_bad "$name" "broken case: the plain ALTER succeeds"
			return 0
		fi ;;
	*)
		eq_bad "$name" "broken case: expect '$expect'"
		return 0 ;;
	esac
	if [ "$expect" = same ]; then
		if [ "$SHADE_RC" != 0 ]; then
			eq_bad "$name" "shade exited $SHADE_RC where the plain ALTER succeeds: $(tail -n 1 "$SHADE_ERR")"
			return 0
		fi
		my_describe eq_p >"$c.want"
		my_describe eq_s >"$c.got"
		if ! cmp -s "$c.want" "$c.got"; then
			eq_bad "$name" "the table differs from the plain ALTER's:
$(diff "$c.want" "$c.got" | grep '^[<>]' | head -n 6 | cut -c 1-200 | sed 's/^/      /')"
		fi
		my_rows eq_p >"$c.want_rows"
		my_rows eq_s >"$c.got_rows"
		if ! cmp -s "$c.want_rows" "$c.got_rows"; then
			eq_bad "$name" "the rows differ from the plain ALTER's:
$(diff "$c.want_rows" "$c.got_rows" | grep '^[<>]' | head -n 4 | cut -c 1-200 | sed 's/^/      /')"
		fi
		return 0
	fi
	if [ "$expect" = refuse ] && [ "$SHADE_RC" != 2 ]; then
		eq_bad "$name" "want a refusal (exit 2), got exit $SHADE_RC: $(tail -n 1 "$SHADE_ERR")"
	elif [ "$expect" = fail ] && [ "$SHADE_RC" = 0 ]; then
		eq_bad "$name" "shade exited 0 where the plain ALTER fails: $(grep -m 1 ERROR "$c.plain" || head -c 200 "$c.plain")"
	fi
	[ "$expect" != refuse ] || EQ_REFUSED="$EQ_REFUSED
  $name: $(tail -n 1 "$SHADE_ERR" | sed 's/^shade: //')"
	my_describe eq_s >"$c.after"
	my_rows eq_s >"$c.rows_after"
	cmp -s "$c.before" "$c.after" || eq_bad "$name" "shade changed the table's definition"
	cmp -s "$c.rows_before" "$c.rows_after" || eq_bad "$name" "shade changed the table's rows"
}

mkdir -p "$T_TMP/cases"
for n in $(eq_split "$SHADE_ROOT/tests/equiv/mysql.cases" "$T_TMP/cases"); do
	my_case "$n"
done
my_reset_globals
eq_report MariaDB
t_pass

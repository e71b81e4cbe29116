#!/bin/sh
# mysql_equiv.sh - shade gives exactly what MariaDB's own ALTER TABLE gives,
# or refuses, over the corpus tests/equiv/mysql.cases (see
# tests/equiv/equiv.sh).
#
# Each case builds table t in two databases, eq_p and eq_s; the plain
# ALTER runs on eq_p.t, shade (--execute --drop-old) on eq_s.t. Then the
# two are compared: SHOW CREATE TABLE (the database's name taken out), the
# triggers, every foreign key of the database (the children's too), and
# every row.
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
	# Every foreign key of the database, either way: the children's too.
	my_in "$1" -e "SELECT r.constraint_name, r.table_name, r.referenced_table_name,
	    r.update_rule, r.delete_rule, GROUP_CONCAT(k.column_name, '>',
	    k.referenced_column_name ORDER BY k.ordinal_position)
	    FROM information_schema.referential_constraints r
	    JOIN information_schema.key_column_usage k
	      ON k.constraint_schema = r.constraint_schema
	     AND k.constraint_name = r.constraint_name AND k.table_name = r.table_name
	    WHERE r.constraint_schema = DATABASE()
	    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2"
}

# my_rows DB: every row of t, in key order.
my_rows()
{
	my_in "$1" -e "SELECT * FROM t ORDER BY 1, 2"
}

eq_describe()
{
	my_describe "eq_$1"
}

eq_rows()
{
	my_rows "eq_$1"
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
	eq_snapshot "$c"
	run_shade --dsn "mysql://root@/eq_s?socket=$MY_SOCK" --table t --alter "$alter" \
	    --execute --drop-old
	left=$(my_in eq_s -e "SELECT table_name FROM information_schema.tables
	    WHERE table_schema = 'eq_s'
	      AND (table_name LIKE '\\_t\\_%' OR table_name LIKE 't\\_shade%')
	    UNION ALL SELECT trigger_name FROM information_schema.triggers
	    WHERE trigger_schema = 'eq_s' AND trigger_name LIKE '\\_t\\_shade%'")
	[ -z "$left" ] || eq_bad "$name" "shade left behind: $(echo $left)"
	eq_judge "$name" "$expect" "$plain_rc" "$c"
}

mkdir -p "$T_TMP/cases"
for n in $(eq_split "$SHADE_ROOT/tests/equiv/mysql.cases" "$T_TMP/cases"); do
	# EQUIV_CASES=part: only the cases whose name holds it (for a quick look).
	case $(cat "$T_TMP/cases/$n.name") in
	*"${EQUIV_CASES:-}"*) ;;
	*) continue ;;
	esac
	my_case "$n"
done
my_reset_globals
eq_report MariaDB
t_pass

#!/bin/sh
# pg_equiv.sh - shade gives exactly what PostgreSQL's own ALTER TABLE gives,
# or refuses, over the corpus tests/equiv/pg.cases (see tests/equiv/equiv.sh).
#
# Each case builds table t in two schemas, eq_p and eq_s; the plain ALTER
# runs on eq_p.t, shade (--execute --drop-old) on eq_s.t. Then the two are
# compared: rows, and a description of the table in which every name and
# definition is written as the server writes it with search_path set to
# the table's own schema (so schema names drop out).
set -eu
. "$(dirname "$0")/../lib.sh"
. "$SHADE_ROOT/tests/equiv/equiv.sh"

pg_start
pg_newdb

# pg_describe SCHEMA: table t as the server describes it.
pg_describe()
{
	pg_sql <<SQL
SET search_path = $1;
SELECT 'rel persistence=' || c.relpersistence::text || ' opts=' || coalesce(c.reloptions::text, '-')
    || ' replident=' || c.relreplident::text || ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity
    || ' acl=' || coalesce(c.relacl::text, '-')
    || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-')
FROM pg_class c WHERE c.oid = 't'::regclass
UNION ALL
SELECT 'col ' || row_number() OVER (ORDER BY a.attnum) || ' ' || quote_ident(a.attname)
    || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
    || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
    || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
    || ' collation=' || coalesce(co.collname, '-') || ' stats=' || a.attstattarget
    || ' acl=' || coalesce(a.attacl::text, '-')
    || ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '-')
    || ' seq=' || coalesce(pg_sequence_last_value(
        pg_get_serial_sequence('t', a.attname)::regclass)::text, '-')
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
WHERE a.attrelid = 't'::regclass AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con ' || quote_ident(k.conname) || ' ' || k.contype::text || ' ' || pg_get_constraintdef(k.oid)
    || ' validated=' || k.convalidated || ' deferrable=' || k.condeferrable
    || '/' || k.condeferred
    || ' comment=' || coalesce(obj_description(k.oid, 'pg_constraint'), '-')
FROM pg_constraint k WHERE k.conrelid = 't'::regclass
UNION ALL
SELECT 'idx ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
    || ' clustered=' || i.indisclustered || ' replident=' || i.indisreplident
    || ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '-')
FROM pg_index i WHERE i.indrelid = 't'::regclass
UNION ALL
SELECT 'trg ' || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
FROM pg_trigger g WHERE g.tgrelid = 't'::regclass AND NOT g.tgisinternal
UNION ALL
SELECT 'fkin ' || k.conrelid::regclass || ' ' || pg_get_constraintdef(k.oid)
    || ' validated=' || k.convalidated
FROM pg_constraint k WHERE k.confrelid = 't'::regclass AND k.conrelid <> k.confrelid
ORDER BY 1;
SQL
}

# The description with the schema's name taken out (pg_get_*def qualify
# the table whatever the search_path).
pg_describe_bare()
{
	pg_describe "$1" | sed "s/\b$1\.//g"
}

eq_describe()
{
	pg_describe_bare "eq_$1"
}

eq_rows()
{
	pg_sql "SET search_path = eq_$1; SELECT t::text FROM t ORDER BY 1"
}

# pg_case N: run case N (files $T_TMP/cases/N.*).
pg_case()
{
	c=$T_TMP/cases/$1
	name=$(cat "$c.name")
	# EQ_ONLY=regex runs only the cases whose names match (development).
	if [ -n "${EQ_ONLY:-}" ] && ! echo "$name" | grep -Eq "$EQ_ONLY"; then
		return 0
	fi
	alter=$(cat "$c.alter")
	expect=$(cat "$c.expect")
	EQ_N=$((EQ_N + 1))
	pg_sql "DROP SCHEMA IF EXISTS eq_p CASCADE; DROP SCHEMA IF EXISTS eq_s CASCADE;
	    CREATE SCHEMA eq_p; CREATE SCHEMA eq_s" >/dev/null
	for sch in eq_p eq_s; do
		{ echo "SET search_path = $sch, public;"; cat "$c.sql"; } | pg_sql >/dev/null
	done
	plain_rc=0
	pg_try "SET search_path = eq_p, public; ALTER TABLE t $alter" >"$c.plain" 2>&1 ||
	    plain_rc=$?
	eq_snapshot "$c"
	run_shade --dsn "$EQ_DSN" --table t --alter "$alter" --execute --drop-old
	left=$(pg_sql "SELECT relname FROM pg_class c JOIN pg_namespace n
	    ON n.oid = c.relnamespace WHERE n.nspname = 'eq_s' AND relname LIKE '\_t\_%'
	    UNION ALL SELECT proname FROM pg_proc p JOIN pg_namespace n
	    ON n.oid = p.pronamespace WHERE n.nspname = 'eq_s' AND proname LIKE '\_t\_%'")
	[ -z "$left" ] || eq_bad "$name" "shade left behind: $(echo $left)"
	eq_judge "$name" "$expect" "$plain_rc" "$c"
}

# shade's session sees eq_s first, as the plain ALTER's sees eq_p: the
# ALTER-BODY may name other objects of the case (a referenced table).
EQ_DSN="$PG_DSN options='-c search_path=eq_s,public'"
mkdir -p "$T_TMP/cases"
for n in $(eq_split "$SHADE_ROOT/tests/equiv/pg.cases" "$T_TMP/cases"); do
	# EQUIV_CASES=part: only the cases whose name holds it (for a quick look).
	case $(cat "$T_TMP/cases/$n.name") in
	*"${EQUIV_CASES:-}"*) ;;
	*) continue ;;
	esac
	pg_case "$n"
done
eq_report PostgreSQL
t_pass

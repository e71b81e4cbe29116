/*
 * engine/pg/carry.c - what belongs to T and must move to the new table.
 *
 * Two moments. When the shadow is built, before the ALTER: what LIKE does
 * not copy (owner, privileges, statistics targets, storage parameters, the
 * comment, row-level security and policies, replica identity) goes onto
 * the shadow, so the ALTER changes it as it would change T's. At the
 * swap: the statements that hand over what the catalog ties to T's oid
 * (triggers, foreign keys in and out, publications, sequences and
 * identity, views) and give the indexes their names back.
 * Object definitions are the server's own text (pg_get_*def).
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/* The owner, unless it is who runs shade (who then owns the shadow). */
static int WARN_UNUSED
pgsql_carry_owner(struct eng *e, struct buf *b, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT r.rolname, r.rolname = current_user"
		       " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner"
		       " WHERE c.oid = $1::pg_catalog.regclass",
		       1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] != 't') {
		sql_build(b, SQL_PG, "ALTER TABLE %Q OWNER TO %I", &e->shadow, PQgetvalue(res, 0, 0));
		if (pgsql_exec_run_buf(e, b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * Table and column privileges, one GRANT per privilege and grantee. This
 * runs before the ALTER, when the shadow's columns still have T's names:
 * the ALTER renames or drops a column's privileges with the column.
 */
static const char sql_grants[] =
	"SELECT a.privilege_type, NULL::pg_catalog.name, COALESCE(r.rolname, ''),"
	"  a.grantee = 0, a.is_grantable, 0 AS attnum"
	" FROM pg_catalog.pg_class c,"
	"  pg_catalog.aclexplode(c.relacl) a"
	"  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee"
	" WHERE c.oid = $1::pg_catalog.regclass AND a.grantee <> c.relowner"
	" UNION ALL"
	" SELECT x.privilege_type, a.attname, COALESCE(r.rolname, ''),"
	"  x.grantee = 0, x.is_grantable, a.attnum"
	" FROM pg_catalog.pg_attribute a,"
	"  pg_catalog.aclexplode(a.attacl) x"
	"  LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.grantee"
	" WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0"
	"   AND NOT a.attisdropped AND a.attacl IS NOT NULL"
	" ORDER BY 6";

static int WARN_UNUSED
pgsql_carry_grants(struct eng *e, struct buf *b, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql_grants, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		/* privilege_type is a keyword the server wrote (SELECT, ...). */
		sql_build(b, SQL_PG, "GRANT %s", PQgetvalue(res, i, 0));
		if (!PQgetisnull(res, i, 1))
			sql_build(b, SQL_PG, " (%I)", PQgetvalue(res, i, 1));
		sql_build(b, SQL_PG, " ON %Q TO ", &e->shadow);
		if (PQgetvalue(res, i, 3)[0] == 't')
			buf_append(b, "PUBLIC");
		else
			sql_build(b, SQL_PG, "%I%s", PQgetvalue(res, i, 2),
				  PQgetvalue(res, i, 4)[0] == 't' ? " WITH GRANT OPTION" : "");
		if (pgsql_exec_run_buf(e, b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Per-column statistics targets. */
static int WARN_UNUSED
pgsql_carry_statistics(struct eng *e, struct buf *b, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT attname, attstattarget FROM pg_catalog.pg_attribute"
		       " WHERE attrelid = $1::pg_catalog.regclass AND attnum > 0"
		       "   AND NOT attisdropped AND attstattarget >= 0",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		int target = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);

		sql_build(b, SQL_PG, "ALTER TABLE %Q ALTER COLUMN %I SET STATISTICS %d", &e->shadow,
			  PQgetvalue(res, i, 0), target);
		if (pgsql_exec_run_buf(e, b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * Run the statement a query about T writes, if it writes one: the server
 * builds it with format(), from the shadow's name ($1) and T's ($2).
 */
static int WARN_UNUSED
pgsql_carry_formatted(struct eng *e, const char *sql, struct shade_err *err)
{
	const char *params[2] = {e->shadow_text, e->orig_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql, 2, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 1 && pgsql_exec_run(e, PQgetvalue(res, 0, 0), err) != 0)
		goto out;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Run a catalog query about T; the caller clears *res. */
static int WARN_UNUSED
pgsql_carry_ask(struct eng *e, const char *sql, PGresult **res, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};

	return pgsql_exec(e, sql, 1, params, res, err);
}

/* Row-level security switches, replica identity and its index. */
static const char sql_table_flags[] =
	"SELECT c.relrowsecurity, c.relforcerowsecurity, c.relreplident,"
	"  (SELECT ci.relname FROM pg_catalog.pg_index i"
	"   JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	"   WHERE i.indrelid = c.oid AND i.indisreplident)"
	" FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass";

/*
 * T's policies ($1), as CREATE POLICY text for table $2: the expressions
 * and role names as the server writes them.
 */
static const char sql_policies_on[] =
	"SELECT pg_catalog.format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s',"
	"  p.polname, $2::pg_catalog.text, CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,"
	"  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
	"    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,"
	"  (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC'"
	"     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, ', ')"
	"   FROM pg_catalog.unnest(p.polroles) AS r),"
	"  ' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',"
	"  ' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')')"
	" FROM pg_catalog.pg_policy p WHERE p.polrelid = $1::pg_catalog.regclass"
	" ORDER BY p.polname";

/*
 * Row-level security, replica identity and the policies, set on the shadow
 * as they are on T, before the ALTER: the ALTER may change them as it
 * would on T, and they move with the shadow at the swap. The replica
 * identity index is the twin of T's (its name until the swap gives it T's).
 */
static int WARN_UNUSED
pgsql_carry_flags(struct eng *e, struct buf *b, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, e->shadow_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_carry_ask(e, sql_table_flags, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 1) {
		const char *ri = PQgetvalue(res, 0, 2);

		if (ri[0] == 'i' && !PQgetisnull(res, 0, 3)) {
			for (size_t i = 0; i < e->nipairs; i++)
				if (strcmp(e->ipairs[i].orig, PQgetvalue(res, 0, 3)) == 0)
					sql_build(b, SQL_PG,
						  "ALTER TABLE %Q REPLICA IDENTITY USING INDEX %I",
						  &e->shadow, e->ipairs[i].shadow);
		} else if (ri[0] == 'f') {
			sql_build(b, SQL_PG, "ALTER TABLE %Q REPLICA IDENTITY FULL", &e->shadow);
		} else if (ri[0] == 'n') {
			sql_build(b, SQL_PG, "ALTER TABLE %Q REPLICA IDENTITY NOTHING", &e->shadow);
		}
		if (b->len > 0 && pgsql_exec_run_buf(e, b, err) != 0)
			goto out;
		if (PQgetvalue(res, 0, 0)[0] == 't') {
			sql_build(b, SQL_PG, "ALTER TABLE %Q ENABLE ROW LEVEL SECURITY", &e->shadow);
			if (pgsql_exec_run_buf(e, b, err) != 0)
				goto out;
		}
		if (PQgetvalue(res, 0, 1)[0] == 't') {
			sql_build(b, SQL_PG, "ALTER TABLE %Q FORCE ROW LEVEL SECURITY", &e->shadow);
			if (pgsql_exec_run_buf(e, b, err) != 0)
				goto out;
		}
	}
	PQclear(res);
	res = NULL;
	/* The policies' CREATE POLICY text, written by the server for the shadow ($1). */
	if (pgsql_exec(e, sql_policies_on, 2, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		if (pgsql_exec_run(e, PQgetvalue(res, i, 0), err) != 0)
			goto out;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * What else belongs to T and LIKE does not copy: owner, table and column
 * privileges, statistics targets, storage parameters, the table's comment,
 * row-level security, replica identity, the policies. It all goes onto the
 * shadow before the ALTER, so that what the ALTER changes of it (RESET a
 * storage parameter, DISABLE ROW LEVEL SECURITY, a rename that carries a
 * column's privileges) comes out as the plain ALTER would leave it.
 */
int
pgsql_carry_onto_shadow(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	if (pgsql_carry_owner(e, &b, err) != 0 || pgsql_carry_grants(e, &b, err) != 0 ||
	    pgsql_carry_statistics(e, &b, err) != 0 ||
	    pgsql_carry_flags(e, &b, err) != 0)
		goto out;
	/* Storage parameters (fillfactor, autovacuum settings), as the server lists them. */
	if (pgsql_carry_formatted(e,
				  "SELECT pg_catalog.format('ALTER TABLE %s SET (%s)',"
				  "  $1::pg_catalog.regclass, pg_catalog.array_to_string(c.reloptions, ', '))"
				  " FROM pg_catalog.pg_class c"
				  " WHERE c.oid = $2::pg_catalog.regclass AND c.reloptions IS NOT NULL",
				  err) != 0)
		goto out;
	/*
	 * The comment: a value, so the server writes the statement itself
	 * (format's %L quotes it), as it writes index definitions.
	 */
	if (pgsql_carry_formatted(e,
				  "SELECT pg_catalog.format('COMMENT ON TABLE %s IS %L',"
				  "  $1::pg_catalog.regclass, d.description)"
				  " FROM pg_catalog.pg_description d"
				  " WHERE d.objoid = $2::pg_catalog.regclass"
				  "   AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass"
				  "   AND d.objsubid = 0",
				  err) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/*
 * After the ALTER: a shadow that forces row-level security would hold the
 * copy to its policies (shade's session runs with row_security off, so
 * that is an error, not lost rows). It stops forcing it until the swap.
 */
int
pgsql_carry_unforce(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT relforcerowsecurity FROM pg_catalog.pg_class"
		       " WHERE oid = $1::pg_catalog.regclass",
		       1, params, &res, err) != 0)
		goto out;
	e->force_rls = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	if (e->force_rls) {
		sql_build(&b, SQL_PG, "ALTER TABLE %Q NO FORCE ROW LEVEL SECURITY", &e->shadow);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* ---- at the swap -------------------------------------------------------- */

/*
 * Identity columns got their own sequences with the shadow: set each to
 * where T's stands. With $n parameters; run before the renames.
 */
const char pgsql_carry_setval_sql[] =
	"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence($1, $2),"
	"  COALESCE(s.last_value, s.start_value), s.last_value IS NOT NULL)"
	" FROM pg_catalog.pg_sequences s"
	" WHERE pg_catalog.pg_get_serial_sequence($3, $4) IS NOT NULL"
	"   AND (pg_catalog.quote_ident(s.schemaname) || '.' ||"
	"        pg_catalog.quote_ident(s.sequencename))::pg_catalog.regclass"
	"     = pg_catalog.pg_get_serial_sequence($3, $4)::pg_catalog.regclass";

int
pgsql_carry_identity(struct eng *e, struct shade_err *err)
{
	for (size_t i = 0; i < e->identity.len; i++) {
		long at = strlist_find(&e->dst, e->identity.items[i]);
		const char *p[4] = {e->shadow_text, e->identity.items[i], e->orig_text,
				    e->src.items[at]};

		if (pgsql_exec(e, pgsql_carry_setval_sql, 4, p, NULL, err) != 0)
			return -1;
	}
	return 0;
}

/* Foreign keys of other tables that reference T. */
static const char sql_fk_in[] =
	"SELECT n.nspname, c.relname, k.conname, pg_catalog.pg_get_constraintdef(k.oid)"
	" FROM pg_catalog.pg_constraint k"
	" JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE k.contype = 'f' AND k.confrelid = $1::pg_catalog.regclass"
	"   AND k.conrelid <> k.confrelid"
	" ORDER BY 1, 2, 3";

/* T's own triggers (not shade's, not the internal ones of constraints). */
static const char sql_user_triggers[] =
	"SELECT tgname, pg_catalog.pg_get_triggerdef(oid), tgenabled"
	" FROM pg_catalog.pg_trigger"
	" WHERE tgrelid = $1::pg_catalog.regclass AND NOT tgisinternal"
	" ORDER BY tgname";

/* Publications T is a member of. */
static const char sql_publications[] =
	"SELECT p.pubname FROM pg_catalog.pg_publication_rel r"
	" JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid"
	" WHERE r.prrelid = $1::pg_catalog.regclass ORDER BY 1";

/*
 * Sequences: a serial column's sequence is owned by T's column; hand it to
 * the new table's column (the shadow's default already calls it), or
 * dropping _T_old would drop it too. An identity column got its own
 * sequence with the shadow: pgsql_carry_identity moves it to where T's
 * stands.
 */
static const char sql_owned_sequences[] =
	"SELECT n.nspname, s.relname, a.attname"
	" FROM pg_catalog.pg_depend d"
	" JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	" JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace"
	" JOIN pg_catalog.pg_attribute a"
	"   ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	" WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refobjid = $1::pg_catalog.regclass AND d.deptype = 'a'";

/* Views reading T, as CREATE OR REPLACE text to re-point them after the renames. */
static const char sql_views[] =
	"SELECT DISTINCT n.nspname, v.relname, pg_catalog.pg_get_viewdef(v.oid)"
	" FROM pg_catalog.pg_depend d"
	" JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	" JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
	" JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace"
	" WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"   AND d.refobjid = $1::pg_catalog.regclass AND v.relkind = 'v'"
	" ORDER BY 1, 2";

/*
 * The capture triggers, and T's own triggers: dropped before the renames,
 * recreated on the new table after them, in the state each was in.
 */
static int WARN_UNUSED
pgsql_carry_triggers(struct eng *e, struct strlist *out, struct strlist *after,
		     struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_PG, "DROP TRIGGER %I ON %Q", e->trg, &e->orig);
	strlist_push_take(out, buf_take(&b));
	sql_build(&b, SQL_PG, "DROP TRIGGER %I ON %Q", e->trg_trunc, &e->orig);
	strlist_push_take(out, buf_take(&b));

	if (pgsql_carry_ask(e, sql_user_triggers, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		char state;

		if (strcmp(name, e->trg) == 0 || strcmp(name, e->trg_trunc) == 0)
			continue;
		/* T's state, as the ALTER's ENABLE/DISABLE clauses leave it. */
		state = pgsql_triggers_state(e, name, PQgetvalue(res, i, 2)[0]);
		sql_build(&b, SQL_PG, "DROP TRIGGER %I ON %Q", name, &e->orig);
		strlist_push_take(out, buf_take(&b));
		strlist_push(after, PQgetvalue(res, i, 1));
		if (state != 'O') {
			sql_build(&b, SQL_PG, "ALTER TABLE %Q %s TRIGGER %I", &e->orig,
				  state == 'D' ? "DISABLE" : state == 'R' ? "ENABLE REPLICA"
									 : "ENABLE ALWAYS",
				  name);
			strlist_push_take(after, buf_take(&b));
		}
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * Foreign keys into T: dropped before the renames, added back NOT VALID
 * after them (the referenced table is then the new T), validated after
 * the commit (e->post_swap).
 */
static int WARN_UNUSED
pgsql_carry_fk_in(struct eng *e, struct strlist *out, struct strlist *after,
		  struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_carry_ask(e, sql_fk_in, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname child = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		const char *name = PQgetvalue(res, i, 2);

		sql_build(&b, SQL_PG, "ALTER TABLE %Q DROP CONSTRAINT %I", &child, name);
		strlist_push_take(out, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &child, name,
			  PQgetvalue(res, i, 3));
		strlist_push_take(after, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER TABLE %Q VALIDATE CONSTRAINT %I", &child, name);
		strlist_push_take(&e->post_swap, buf_take(&b));
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* Publication memberships: T leaves before the renames, the new T joins after. */
static int WARN_UNUSED
pgsql_carry_publications(struct eng *e, struct strlist *out, struct strlist *after,
			 struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_carry_ask(e, sql_publications, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		sql_build(&b, SQL_PG, "ALTER PUBLICATION %I DROP TABLE %Q", PQgetvalue(res, i, 0),
			  &e->orig);
		strlist_push_take(out, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER PUBLICATION %I ADD TABLE %Q", PQgetvalue(res, i, 0),
			  &e->orig);
		strlist_push_take(after, buf_take(&b));
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* Serial sequences go to the new table's column (sql_owned_sequences). */
static int WARN_UNUSED
pgsql_carry_sequences(struct eng *e, struct strlist *out, struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_carry_ask(e, sql_owned_sequences, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname seq = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		long at = strlist_find(&e->src, PQgetvalue(res, i, 2));

		if (at < 0)
			continue;  /* the column is dropped: the sequence stays with _T_old */
		sql_build(&b, SQL_PG, "ALTER SEQUENCE %Q OWNED BY %Q.%I", &seq, &e->shadow,
			  e->dst.items[at]);
		strlist_push_take(out, buf_take(&b));
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * Views reading T, re-pointed at the new T once it carries the name; or,
 * where the ALTER retypes a column one reads, dropped before the renames
 * and created again after them (views.c).
 */
static int WARN_UNUSED
pgsql_carry_views(struct eng *e, struct strlist *out, struct strlist *after,
		  struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (e->views_recreate)
		return pgsql_views_swap_statements(e, out, after, err);
	if (pgsql_carry_ask(e, sql_views, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname view = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};

		sql_build(&b, SQL_PG, "CREATE OR REPLACE VIEW %Q AS %s", &view, PQgetvalue(res, i, 2));
		strlist_push_take(after, buf_take(&b));
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * Rename T to _T_old and the shadow to T, and the indexes: index names are
 * per schema, so T's move aside before their twins take their names.
 */
static int WARN_UNUSED
pgsql_carry_renames(struct eng *e, struct strlist *out, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	struct strlist twins = {0};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	/* The ALTER may have dropped a twin (a dropped column's index). */
	if (pgsql_exec(e,
		       "SELECT ci.relname FROM pg_catalog.pg_index i"
		       " JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
		       " WHERE i.indrelid = $1::pg_catalog.regclass",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&twins, PQgetvalue(res, i, 0));
	sql_build(&b, SQL_PG, "ALTER TABLE %Q RENAME TO %I", &e->orig, e->old.name);
	strlist_push_take(out, buf_take(&b));
	sql_build(&b, SQL_PG, "ALTER TABLE %Q RENAME TO %I", &e->shadow, e->orig.name);
	strlist_push_take(out, buf_take(&b));
	for (size_t i = 0; i < e->nipairs; i++) {
		struct qname ix = {e->orig.schema, e->ipairs[i].orig};
		char *aside = sql_derived_name(SQL_PG, e->ipairs[i].orig, "_old");

		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &ix, aside);
		strlist_push_take(out, buf_take(&b));
		free(aside);
	}
	for (size_t i = 0; i < e->nipairs; i++) {
		struct qname twin = {e->orig.schema, e->ipairs[i].shadow};

		if (strlist_find(&twins, e->ipairs[i].shadow) < 0)
			continue;
		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &twin, e->ipairs[i].orig);
		strlist_push_take(out, buf_take(&b));
	}
	if (pgsql_names_swap(e, out, err) != 0)
		goto out;
	rc = 0;
out:
	PQclear(res);
	strlist_free(&twins);
	buf_free(&b);
	return rc;
}

/*
 * The swap's statements after the drain, in order. Before the renames:
 * drop the capture triggers, T's own triggers (they are recreated on the
 * new table), the foreign keys that reference T and T's publication
 * memberships; hand serial sequences to the new table (a serial column's
 * sequence is owned by T's column: dropping _T_old would drop it too).
 * Then rename T to _T_old and the shadow to T, and the indexes: index names
 * are per schema, so T's move aside before their twins take their names.
 * After the renames, on the new T: replica identity, the foreign keys out
 * (NOT VALID; validated after the commit, in e->post_swap) and in, the
 * triggers, row-level security and policies, publications, and views
 * re-pointed. Object definitions are the server's own text (pg_get_*def),
 * which names T by name and so means the new table once it is renamed.
 * Reads the catalog, changes nothing: the swap calls it before it takes
 * its lock, and pgsql_carry_fingerprint tells whether what it read still
 * holds once the lock is taken.
 */
int
pgsql_carry_swap_statements(struct eng *e, struct strlist *out, struct shade_err *err)
{
	struct strlist after = {0};
	int rc = -1;

	strlist_free(&e->post_swap);
	if (pgsql_carry_triggers(e, out, &after, err) != 0 ||
	    pgsql_carry_fk_in(e, out, &after, err) != 0 ||
	    pgsql_carry_publications(e, out, &after, err) != 0 ||
	    pgsql_carry_sequences(e, out, err) != 0)
		goto out;
	pgsql_constraints_swap_statements(e, &after);
	if (e->force_rls) {
		struct buf b = {0};

		sql_build(&b, SQL_PG, "ALTER TABLE %Q FORCE ROW LEVEL SECURITY", &e->orig);
		strlist_push_take(&after, buf_take(&b));
	}
	if (pgsql_carry_views(e, out, &after, err) != 0 ||
	    pgsql_matviews_swap_statements(e, &after, err) != 0 ||
	    pgsql_carry_renames(e, out, err) != 0)
		goto out;
	for (size_t i = 0; i < after.len; i++)
		strlist_push(out, after.items[i]);
	rc = 0;
out:
	strlist_free(&after);
	return rc;
}

/*
 * A digest of every catalog row the swap's statements are built from: T's
 * own triggers and their enabled state, the foreign keys that reference T,
 * T's publications, the sequences T's columns own, the row-level security
 * and replica identity switches with the replica identity index, the
 * policies, the dependent views and their definitions, the shadow's index
 * names, and all that views.c and matviews.c build the views and
 * materialized views over T again from (one statement: under the swap's
 * lock it is the only catalog query). Whoever teaches pgsql_carry_swap_statements to read something new
 * adds it here too. $1 is T, $2 the shadow.
 */
const char pgsql_carry_fingerprint_sql[] =
	"SELECT pg_catalog.md5(ROW("
	" (SELECT pg_catalog.array_agg(ROW(t.tgname, t.tgenabled,"
	"    pg_catalog.pg_get_triggerdef(t.oid))::pg_catalog.text ORDER BY t.tgname)"
	"  FROM pg_catalog.pg_trigger t"
	"  WHERE t.tgrelid = $1::pg_catalog.regclass AND NOT t.tgisinternal),"
	" (SELECT pg_catalog.array_agg(ROW(k.conrelid, k.conname,"
	"    pg_catalog.pg_get_constraintdef(k.oid))::pg_catalog.text ORDER BY k.conrelid, k.conname)"
	"  FROM pg_catalog.pg_constraint k"
	"  WHERE k.contype = 'f' AND k.confrelid = $1::pg_catalog.regclass),"
	" (SELECT pg_catalog.array_agg(p.pubname ORDER BY p.pubname)"
	"  FROM pg_catalog.pg_publication_rel r"
	"  JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid"
	"  WHERE r.prrelid = $1::pg_catalog.regclass),"
	" (SELECT pg_catalog.array_agg(ROW(n.nspname, s.relname, a.attname)::pg_catalog.text"
	"    ORDER BY n.nspname, s.relname)"
	"  FROM pg_catalog.pg_depend d"
	"  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace"
	"  JOIN pg_catalog.pg_attribute a"
	"    ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	"  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"    AND d.refobjid = $1::pg_catalog.regclass AND d.deptype = 'a'),"
	" (SELECT ROW(c.relrowsecurity, c.relforcerowsecurity, c.relreplident,"
	"    (SELECT ci.relname FROM pg_catalog.pg_index i"
	"     JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	"     WHERE i.indrelid = c.oid AND i.indisreplident))::pg_catalog.text"
	"  FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass),"
	" (SELECT pg_catalog.array_agg(ROW(p.polname, p.polpermissive, p.polcmd, p.polroles,"
	"    pg_catalog.pg_get_expr(p.polqual, p.polrelid),"
	"    pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))::pg_catalog.text ORDER BY p.polname)"
	"  FROM pg_catalog.pg_policy p WHERE p.polrelid = $1::pg_catalog.regclass),"
	" (SELECT pg_catalog.array_agg(x.v ORDER BY x.v) FROM"
	"   (SELECT DISTINCT ROW(n.nspname, v.relname,"
	"      pg_catalog.pg_get_viewdef(v.oid))::pg_catalog.text AS v"
	"    FROM pg_catalog.pg_depend d"
	"    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	"    JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
	"    JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace"
	"    WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"      AND d.refobjid = $1::pg_catalog.regclass AND v.relkind = 'v') x),"
	" (SELECT pg_catalog.array_agg(ci.relname ORDER BY ci.relname)"
	"  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	"  WHERE i.indrelid = $2::pg_catalog.regclass)"
	")::pg_catalog.text)";


/*
 * The second half of the digest: the views over T, through other views
 * too, and the materialized views over T, with all that views.c and
 * matviews.c build them again from. (Apart only because C caps the length
 * of a string literal; pgsql_carry_fingerprint_query joins the two into
 * one statement.)
 */
static const char sql_fingerprint_views[] =
	"SELECT pg_catalog.md5(COALESCE((WITH RECURSIVE dep(oid) AS ("
	"   SELECT r.ev_class FROM pg_catalog.pg_depend d"
	"   JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	"   WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"     AND d.refobjid = $1::pg_catalog.regclass"
	"   UNION"
	"   SELECT r.ev_class FROM dep JOIN pg_catalog.pg_depend d ON d.refobjid = dep.oid"
	"    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"    AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"   JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.ev_class <> dep.oid)"
	"  SELECT pg_catalog.array_agg(ROW(v.oid::pg_catalog.regclass, v.relkind, v.relowner,"
	"     v.reloptions, v.relacl, v.relispopulated, pg_catalog.pg_get_viewdef(v.oid),"
	"     (SELECT pg_catalog.array_agg(ROW(a.attname, a.attacl,"
	"        pg_catalog.col_description(v.oid, a.attnum),"
	"        (SELECT pg_catalog.pg_get_expr(f.adbin, f.adrelid) FROM pg_catalog.pg_attrdef f"
	"         WHERE f.adrelid = v.oid AND f.adnum = a.attnum)) ORDER BY a.attnum)"
	"      FROM pg_catalog.pg_attribute a WHERE a.attrelid = v.oid AND a.attnum > 0),"
	"     pg_catalog.obj_description(v.oid, 'pg_class'),"
	"     (SELECT pg_catalog.array_agg(pg_catalog.pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid)"
	"      FROM pg_catalog.pg_index i WHERE i.indrelid = v.oid),"
	"     (SELECT pg_catalog.array_agg(ROW(t.tgenabled, pg_catalog.pg_get_triggerdef(t.oid))"
	"        ORDER BY t.tgname)"
	"      FROM pg_catalog.pg_trigger t WHERE t.tgrelid = v.oid AND NOT t.tgisinternal)"
	"    )::pg_catalog.text ORDER BY v.oid)"
	"  FROM pg_catalog.pg_class v WHERE v.oid IN (SELECT oid FROM dep) AND v.oid <> $1::pg_catalog.regclass)::pg_catalog.text, ''))";

/* The one statement that computes the digest, into b. */
void
pgsql_carry_fingerprint_query(struct buf *b)
{
	buf_reset(b);
	buf_printf(b, "SELECT (%s) || (%s)", pgsql_carry_fingerprint_sql, sql_fingerprint_views);
}

/* The digest (pgsql_carry_fingerprint_query) as it is now; the caller frees *out. */
int
pgsql_carry_fingerprint(struct eng *e, char **out, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc;

	*out = NULL;
	pgsql_carry_fingerprint_query(&b);
	rc = pgsql_exec(e, buf_str(&b), 2, params, &res, err);
	buf_free(&b);
	if (rc != 0)
		return -1;
	*out = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

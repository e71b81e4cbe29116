/*
 * engine/pg/constraints.c - the shadow's check and foreign-key constraints,
 * and their validation state, as the plain ALTER would leave them.
 *
 * Before the ALTER the shadow gets T's constraints as T has them: LIKE
 * copies check constraints but marks them valid, so a check that is NOT
 * VALID on T is put back NOT VALID; T's foreign keys are added NOT VALID
 * (the shadow is empty, and T already enforces them). The ALTER then adds,
 * drops or validates them as it would on T.
 *
 * After the ALTER, what must not be checked against the copied rows comes
 * off the shadow for the copy and goes back on at the swap, NOT VALID:
 *   - every constraint the ALTER leaves NOT VALID (T's unvalidated checks
 *     and foreign keys, and those the ALTER adds NOT VALID): the plain
 *     ALTER never checks them against existing rows, so neither may the
 *     copy (it would fail where the plain ALTER succeeds);
 *   - T's validated foreign keys: T enforced them on every row it holds,
 *     so checking each copied row against the referenced table would cost
 *     time and row locks there for nothing. They are validated after the
 *     swap, which takes no lock that blocks writers, and cannot fail.
 * Every other valid constraint stays on the shadow and the copy checks it,
 * as the plain ALTER checks it against every row: a valid check, a foreign
 * key the ALTER adds, one of T's it VALIDATEs. Their violations must fail
 * the copy, with the original intact, not surface after the swap.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>


/* T's check constraints that are NOT VALID, with the server's definition. */
static const char sql_unvalidated_checks[] =
	"SELECT conname, pg_catalog.pg_get_constraintdef(oid)"
	" FROM pg_catalog.pg_constraint"
	" WHERE conrelid = $1::pg_catalog.regclass AND contype = 'c' AND NOT convalidated"
	" ORDER BY conname";

/*
 * T's foreign keys: name, definition without its NOT VALID (shade adds
 * that itself), and whether T has validated it.
 */
static const char sql_foreign_keys[] =
	"SELECT k.conname,"
	"  pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(k.oid), ' NOT VALID$', ''),"
	"  k.convalidated, k.confrelid = k.conrelid,"
	"  ' REFERENCES ' || pg_catalog.format('%I.%I', n.nspname, c.relname) || '('"
	" FROM pg_catalog.pg_constraint k"
	" JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE k.conrelid = $1::pg_catalog.regclass AND k.contype = 'f'"
	" ORDER BY k.conname";

/*
 * After the ALTER: the shadow's check and foreign-key constraints, with
 * where a foreign key points: 's' at the shadow itself (T's own
 * self-reference, put on the shadow so), 't' at T, '-' elsewhere. A
 * self-reference is defined by T's name ($2), which the new table carries
 * when the swap adds it back.
 */
static const char sql_shadow_constraints[] =
	"SELECT k.conname,"
	"  pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(k.oid), ' NOT VALID$', ''),"
	"  k.contype, k.convalidated,"
	"  CASE k.confrelid WHEN k.conrelid THEN 's'"
	"    WHEN $2::pg_catalog.text::pg_catalog.regclass THEN 't' ELSE '-' END,"
	"  ' REFERENCES ' || pg_catalog.format('%I.%I', n.nspname, c.relname) || '('"
	" FROM pg_catalog.pg_constraint k"
	" JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE k.conrelid = $1::pg_catalog.regclass AND k.contype IN ('c', 'f')"
	" ORDER BY k.conname";

/*
 * def, a foreign key's definition as the server writes it, with the
 * referenced table (needle: " REFERENCES <table>(", the table written as
 * the server writes it under shade's search_path) replaced by to. The
 * first occurrence: only the referencing columns come before it.
 */
static char *
pgsql_constraints_repoint(const char *def, const char *needle, const struct qname *to)
{
	const char *at = strstr(def, needle);
	struct buf b = {0};

	if (at == NULL)
		return xstrdup(def);  /* cannot be: the server wrote both */
	buf_append_n(&b, def, (size_t)(at - def));
	sql_build(&b, SQL_PG, " REFERENCES %Q(", to);
	buf_append(&b, at + strlen(needle));
	return buf_take(&b);
}

/*
 * Before the ALTER: T's constraints on the shadow, in T's state. A foreign
 * key of T's that references T itself references the shadow instead: the
 * ALTER then does to it what it does on T (a renamed or retyped key
 * column follows), and the swap's renames make it reference the new T.
 */
int
pgsql_constraints_before(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_unvalidated_checks, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		/* The server's definition ends in NOT VALID. */
		sql_build(&b, SQL_PG, "ALTER TABLE %Q DROP CONSTRAINT %I", &e->shadow,
			  PQgetvalue(res, i, 0));
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s", &e->shadow,
			  PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
	}
	PQclear(res);
	if (pgsql_exec(e, sql_foreign_keys, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		bool self = PQgetvalue(res, i, 3)[0] == 't';
		char *def = self ? pgsql_constraints_repoint(PQgetvalue(res, i, 1),
							     PQgetvalue(res, i, 4), &e->shadow)
				 : xstrdup(PQgetvalue(res, i, 1));

		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &e->shadow,
			  PQgetvalue(res, i, 0), def);
		free(def);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
		strlist_push(&e->t_fks, PQgetvalue(res, i, 0));
		if (PQgetvalue(res, i, 2)[0] == 't')
			strlist_push(&e->t_fks_valid, PQgetvalue(res, i, 0));
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * A foreign key from the shadow to itself (T's self-reference) comes off
 * for the copy and the apply like any of T's: rows arrive in any order,
 * and its ON DELETE actions would fire on the apply's delete-and-insert of
 * a parent and take children the log never names. It goes back at the
 * swap, NOT VALID, and is validated after it. That holds for the ones T
 * has, as T has them; one the ALTER adds or validates would have to be
 * checked against every row before the swap, and one it adds names T (the
 * old table after the swap): both refused, before anything is copied.
 */
static int WARN_UNUSED
pgsql_constraints_self_refused(struct eng *e, const char *name, char refs, bool validated,
			       bool t_valid, struct shade_err *err)
{
	if (refs == 't') {
		err_set(err, SHADE_USAGE,
			"the ALTER adds foreign key %s, which references %s.%s itself: not "
			"supported yet (shade's copy would reference the old table); nothing was "
			"changed",
			name, e->orig.schema, e->orig.name);
		return -1;
	}
	if (refs == 's' && validated && !t_valid) {
		err_set(err, SHADE_USAGE,
			"the ALTER validates or renames foreign key %s, which references %s.%s "
			"itself: not supported yet (do that with a plain ALTER); nothing was changed",
			name, e->orig.schema, e->orig.name);
		return -1;
	}
	return 0;
}

/* After the ALTER: set aside what the copy must not check (see the top). */
int
pgsql_constraints_set_aside(struct eng *e, struct shade_err *err)
{
	const char *params[2] = {e->shadow_text, e->orig_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_shadow_constraints, 2, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		bool fk = PQgetvalue(res, i, 2)[0] == 'f';
		bool validated = PQgetvalue(res, i, 3)[0] == 't';
		bool t_valid = fk && strlist_find(&e->t_fks_valid, name) >= 0;
		char refs = PQgetvalue(res, i, 4)[0];

		if (pgsql_constraints_self_refused(e, name, refs, validated, t_valid, err) != 0)
			goto out;
		/*
		 * Valid now and not a foreign key T has validated: a new
		 * constraint, or one the ALTER validates. The copy checks it
		 * against every row, as the plain ALTER does.
		 */
		if (validated && !t_valid)
			continue;
		strlist_push(&e->aside_names, name);
		strlist_push_take(&e->aside_defs,
				  refs == 's' ? pgsql_constraints_repoint(PQgetvalue(res, i, 1),
									  PQgetvalue(res, i, 5),
									  &e->orig)
					      : xstrdup(PQgetvalue(res, i, 1)));
		if (t_valid)
			strlist_push(&e->aside_validate, name);
		sql_build(&b, SQL_PG, "ALTER TABLE %Q DROP CONSTRAINT %I", &e->shadow, name);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * At the swap, after the renames: the constraints set aside, back on the
 * new table NOT VALID (no scan under the lock); after the commit, the
 * VALIDATE of those that end up valid (in e->post_swap).
 */
void
pgsql_constraints_swap_statements(struct eng *e, struct strlist *after)
{
	struct buf b = {0};

	for (size_t i = 0; i < e->aside_names.len; i++) {
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &e->orig,
			  e->aside_names.items[i], e->aside_defs.items[i]);
		strlist_push_take(after, buf_take(&b));
	}
	for (size_t i = 0; i < e->aside_validate.len; i++) {
		sql_build(&b, SQL_PG, "ALTER TABLE %Q VALIDATE CONSTRAINT %I", &e->orig,
			  e->aside_validate.items[i]);
		strlist_push_take(&e->post_swap, buf_take(&b));
	}
	buf_free(&b);
}

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
	"SELECT conname,"
	"  pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(oid), ' NOT VALID$', ''),"
	"  convalidated"
	" FROM pg_catalog.pg_constraint"
	" WHERE conrelid = $1::pg_catalog.regclass AND contype = 'f'"
	" ORDER BY conname";

/* After the ALTER: the shadow's check and foreign-key constraints. */
static const char sql_shadow_constraints[] =
	"SELECT conname,"
	"  pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(oid), ' NOT VALID$', ''),"
	"  contype, convalidated"
	" FROM pg_catalog.pg_constraint"
	" WHERE conrelid = $1::pg_catalog.regclass AND contype IN ('c', 'f')"
	" ORDER BY conname";

/* Before the ALTER: T's constraints on the shadow, in T's state. */
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
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &e->shadow,
			  PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
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

/* After the ALTER: set aside what the copy must not check (see the top). */
int
pgsql_constraints_set_aside(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_shadow_constraints, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		bool fk = PQgetvalue(res, i, 2)[0] == 'f';
		bool validated = PQgetvalue(res, i, 3)[0] == 't';
		bool t_valid = fk && strlist_find(&e->t_fks_valid, name) >= 0;

		/*
		 * Valid now and not a foreign key T has validated: a new
		 * constraint, or one the ALTER validates. The copy checks it
		 * against every row, as the plain ALTER does.
		 */
		if (validated && !t_valid)
			continue;
		strlist_push(&e->aside_names, name);
		strlist_push(&e->aside_defs, PQgetvalue(res, i, 1));
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

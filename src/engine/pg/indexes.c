/*
 * engine/pg/indexes.c - the shadow's indexes: all of them off for the
 * copy, built once after it, each at the one point where it cannot fail
 * for shade's own race.
 *
 * After the ALTER, every index of the shadow comes off, the primary key
 * and the unique and exclusion constraints included: the copy is a plain
 * INSERT ... SELECT into a table with no index at all, several times
 * faster than into one whose key is maintained row by row (DESIGN.md).
 * Each index is remembered as the statement that builds it again, with its
 * comments, its CLUSTER mark and whether it is the replica identity.
 *
 *   1. build_key, right after the copy: the primary key, after a release
 *      of the rows whose keys have a log row waiting, which removes every
 *      key the copy met twice (copy.c), so it cannot fail. The apply finds
 *      its rows by it from now on.
 *   2. build_indexes, after the log written during the copy is applied:
 *      the unique and exclusion indexes in one REPEATABLE READ transaction
 *      that first releases every stale row (apply.c's release: the rows
 *      whose keys still have a log row waiting). At that snapshot S every
 *      row left in the shadow equals T's row at S, so a duplicate the build
 *      finds is one T held at S: a real violation, never shade's race. Then
 *      the other indexes, which cannot fail on a duplicate at all.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/*
 * Every index of the shadow: its name, the statement that builds it again
 * (the constraint for an index behind one), the statement that drops it,
 * its kind, CLUSTER mark, replica identity, and the comments to put back
 * (the index's and the constraint's), written by the server.
 */
static const char sql_shadow_indexes[] =
	"SELECT ci.relname,"
	"  CASE WHEN c.oid IS NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid)"
	"    ELSE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', i.indrelid::pg_catalog.regclass,"
	"      c.conname, pg_catalog.pg_get_constraintdef(c.oid)) END,"
	"  CASE WHEN c.oid IS NULL THEN pg_catalog.format('DROP INDEX %I.%I', n.nspname, ci.relname)"
	"    ELSE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', i.indrelid::pg_catalog.regclass,"
	"      c.conname) END,"
	"  CASE WHEN i.indisprimary THEN 'p' WHEN i.indisunique OR i.indisexclusion THEN 'u'"
	"    ELSE 'i' END,"
	"  i.indisclustered, i.indisreplident,"
	"  (SELECT pg_catalog.format('COMMENT ON INDEX %I.%I IS %L', n.nspname, ci.relname, d.description)"
	"     FROM pg_catalog.pg_description d WHERE d.objoid = i.indexrelid"
	"      AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0),"
	"  (SELECT pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', c.conname,"
	"       i.indrelid::pg_catalog.regclass, d.description)"
	"     FROM pg_catalog.pg_description d WHERE d.objoid = c.oid"
	"      AND d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass)"
	" FROM pg_catalog.pg_index i"
	" JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace"
	" LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.indexrelid"
	"   AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')"
	" WHERE i.indrelid = $1::pg_catalog.regclass"
	" ORDER BY ci.relname";

static char *
pgsql_indexes_value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

/*
 * The ALTER changes the primary key (columns.c): the apply finds its rows
 * by T's key, which the log records, so build_key builds a unique index on
 * T's key columns in the new key's place (after the same release, it cannot
 * fail either), and the new key waits for build_indexes with the unique
 * indexes: after a release at one snapshot, where a duplicate it finds is
 * T's own (over data the new key does not fit), never shade's race, and
 * from then on the apply answers a duplicate in it like one in any unique
 * key. The index is dropped in the swap's transaction (swap.c); it is named
 * after the log, not the shadow, so that no name of the shadow's is taken
 * for T's at the swap (names.c). Its cost: one more index build over the
 * shadow, and its upkeep while the apply runs.
 */
static void
pgsql_indexes_key_aside(struct eng *e)
{
	struct buf b = {0};

	for (size_t i = 0; i < e->naside; i++)
		if (e->aside[i].kind == 'p')
			e->aside[i].kind = 'u';
	free(e->key_index);
	e->key_index = sql_derived_name(SQL_PG, e->log.name, "_key");
	sql_build(&b, SQL_PG, "CREATE UNIQUE INDEX %I ON %Q (%L)", e->key_index, &e->shadow,
		  &e->shadow_pk);
	e->aside = xreallocarray(e->aside, e->naside + 1, sizeof(*e->aside));
	e->aside[e->naside++] = (struct aside_index){
		.name = xstrdup(e->key_index), .create = buf_take(&b), .kind = 'p'};
}

/* Take every index off the shadow, remembering how to build it again. */
int
pgsql_indexes_set_aside(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql_shadow_indexes, 1, params, &res, err) != 0)
		goto out;
	e->naside = (size_t)PQntuples(res);
	e->aside = xcalloc(e->naside ? e->naside : 1, sizeof(*e->aside));
	for (int i = 0; i < PQntuples(res); i++) {
		struct aside_index *x = &e->aside[i];

		x->name = xstrdup(PQgetvalue(res, i, 0));
		x->create = xstrdup(PQgetvalue(res, i, 1));
		x->kind = PQgetvalue(res, i, 3)[0];
		x->clustered = PQgetvalue(res, i, 4)[0] == 't';
		x->replident = PQgetvalue(res, i, 5)[0] == 't';
		x->comment = pgsql_indexes_value(res, i, 6);
		x->con_comment = pgsql_indexes_value(res, i, 7);
		if (pgsql_exec_run(e, PQgetvalue(res, i, 2), err) != 0)
			goto out;
	}
	if (e->pk_changed)
		pgsql_indexes_key_aside(e);
	rc = 0;
out:
	PQclear(res);
	return rc;
}

void
pgsql_indexes_free(struct eng *e)
{
	for (size_t i = 0; i < e->naside; i++) {
		free(e->aside[i].name);
		free(e->aside[i].create);
		free(e->aside[i].comment);
		free(e->aside[i].con_comment);
	}
	free(e->aside);
	e->aside = NULL;
	e->naside = 0;
}

/* Tell who listens (engine_opts.on_build) which index is built now. */
static void
pgsql_indexes_starting(struct eng *e, const struct aside_index *x)
{
	char what[300];

	if (e->plan != NULL || e->opts == NULL || e->opts->on_build == NULL)
		return;
	snprintf(what, sizeof(what), "%s %s",
		 x->kind != 'p' ? "index" : e->pk_changed ? "unique index on the old key" : "primary key",
		 x->name);
	e->opts->on_build(e->opts->on_build_arg, what);
}

/* Build the indexes of one kind again, with what belongs to each. */
static int WARN_UNUSED
pgsql_indexes_build_kind(struct eng *e, char kind, struct shade_err *err)
{
	struct buf b = {0};
	bool own = false;
	int rc = -1;

	for (size_t i = 0; i < e->naside; i++) {
		const struct aside_index *x = &e->aside[i];
		bool built = false;

		if (x->kind != kind)
			continue;
		/* An interrupted run may have built it: each build commits whole. */
		if (e->resumed && pgsql_names_taken(e, x->name, &built, err) != 0)
			goto out;
		if (built)
			continue;
		/* An index and what belongs to it commit together. */
		own = e->plan == NULL && PQtransactionStatus(e->conn) == PQTRANS_IDLE;
		if (own && pgsql_exec_run(e, "BEGIN", err) != 0)
			goto out;
		pgsql_indexes_starting(e, x);
		if (pgsql_exec_run(e, x->create, err) != 0)
			goto out;
		if ((x->comment && pgsql_exec_run(e, x->comment, err) != 0) ||
		    (x->con_comment && pgsql_exec_run(e, x->con_comment, err) != 0))
			goto out;
		if (x->replident)
			sql_build(&b, SQL_PG, "ALTER TABLE %Q REPLICA IDENTITY USING INDEX %I",
				  &e->shadow, x->name);
		if (x->replident && pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
		if (x->clustered)
			sql_build(&b, SQL_PG, "ALTER TABLE %Q CLUSTER ON %I", &e->shadow, x->name);
		if (x->clustered && pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
		if (own && pgsql_exec_run(e, "COMMIT", err) != 0)
			goto out;
		own = false;
	}
	rc = 0;
out:
	if (own)
		pgsql_exec_reset_txn(e);
	buf_free(&b);
	return rc;
}

/*
 * Taking up an interrupted run: the unique indexes it built (in one
 * transaction: all or none) make the apply meet stale holders again.
 */
int
pgsql_indexes_resume(struct eng *e, const char *phase, struct shade_err *err)
{
	(void)phase;
	for (size_t i = 0; i < e->naside; i++) {
		bool built = false;

		if (e->aside[i].kind != 'u')
			continue;
		if (pgsql_names_taken(e, e->aside[i].name, &built, err) != 0)
			return -1;
		if (built)
			e->unique_built = true;
	}
	return 0;
}

static bool
pgsql_indexes_have(const struct eng *e, char kind)
{
	for (size_t i = 0; i < e->naside; i++)
		if (e->aside[i].kind == kind)
			return true;
	return false;
}

/*
 * Release the rows whose keys have a log row waiting, then build the
 * indexes of kind, in one transaction opened by the statements of open.
 * The dry run lists the transaction (there is no log to release from) and
 * builds inside its own.
 */
static int WARN_UNUSED
pgsql_indexes_release_build(struct eng *e, char kind, const char *const *open, size_t nopen,
			    struct shade_err *err)
{
	long long released;

	if (e->plan) {
		/* As pgsql_exec_run records: a plain BEGIN and its COMMIT are not. */
		bool plain = strcmp(open[0], "BEGIN") == 0;

		for (size_t i = plain ? 1 : 0; i < nopen; i++)
			strlist_push(e->plan, open[i]);
		strlist_push(e->plan, e->sql_release);
		if (pgsql_indexes_build_kind(e, kind, err) != 0)
			return -1;
		if (!plain)
			strlist_push(e->plan, "COMMIT");
		return 0;
	}
	for (size_t i = 0; i < nopen; i++)
		if (pgsql_exec_run(e, open[i], err) != 0)
			goto fail;
	if (pgsql_apply_release(e, &released, err) != 0 ||
	    pgsql_indexes_build_kind(e, kind, err) != 0 || pgsql_exec_run(e, "COMMIT", err) != 0)
		goto fail;
	return 0;
fail:
	pgsql_exec_reset_txn(e);
	return -1;
}

/* The key phase's line: what build_key builds. */
const char *
pgsql_indexes_key_note(const struct eng *e)
{
	return e->pk_changed ? "building a unique index on the old primary key, which the apply "
			       "finds rows by (the new key comes with the unique indexes)"
			     : "building the shadow's primary key";
}

/*
 * After the copy: the primary key, which the apply needs. First the
 * release: a key the copy met twice (its row moved to a block still to
 * come) has a log row waiting, so does every stale row (copy.c); they go,
 * and the apply brings them back from T. The shadow has no index yet, so
 * the release must be a hash join, never a nested loop over it.
 */
int
pgsql_indexes_build_key(struct eng *e, struct shade_err *err)
{
	static const char *const open[] = {"BEGIN", "SET LOCAL enable_nestloop = off"};

	if (pgsql_indexes_release_build(e, 'p', open, ARRAY_LEN(open), err) != 0) {
		if (!err->cancelled)
			err_prefix(err, SHADE_FAILED, "building the primary key of %s: ",
				   e->shadow.name);
		return -1;
	}
	return 0;
}

/*
 * The unique and exclusion indexes, after a release at the transaction's
 * one snapshot (see the top of this file): what they find is T's.
 */
static int WARN_UNUSED
pgsql_indexes_build_unique(struct eng *e, struct shade_err *err)
{
	static const char *const open[] = {"BEGIN ISOLATION LEVEL REPEATABLE READ"};

	if (!pgsql_indexes_have(e, 'u'))
		return 0;
	if (pgsql_indexes_release_build(e, 'u', open, ARRAY_LEN(open), err) != 0) {
		if (strncmp(err->sqlstate, "23", 2) == 0)
			err_prefix(err, SHADE_FAILED, "%s.%s holds rows the new schema rejects: ",
				   e->orig.schema, e->orig.name);
		return -1;
	}
	if (e->plan == NULL)
		e->unique_built = true;
	return 0;
}

/* After the log of the copy is applied: every other index, statistics. */
int
pgsql_indexes_build_rest(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	double t0;
	int rc = -1;

	if (pgsql_indexes_build_unique(e, err) != 0 || pgsql_indexes_build_kind(e, 'i', err) != 0)
		goto out;
	/* A new table has no statistics: the planner needs them at once. */
	sql_build(&b, SQL_PG, "ANALYZE %Q", &e->shadow);
	t0 = now_seconds();
	if (pgsql_exec_run_buf(e, &b, err) != 0)
		goto out;
	e->analyze_seconds = now_seconds() - t0;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* The dry run: what the builds run, in order. */
void
pgsql_indexes_plan(struct eng *e, char kind)
{
	for (size_t i = 0; i < e->naside; i++) {
		const struct aside_index *x = &e->aside[i];

		if (x->kind != kind)
			continue;
		strlist_push(e->plan, x->create);
		if (x->comment)
			strlist_push(e->plan, x->comment);
		if (x->con_comment)
			strlist_push(e->plan, x->con_comment);
	}
}

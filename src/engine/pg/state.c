/*
 * engine/pg/state.c - what a run keeps in the database so that a later run
 * can take it up (issue 16): the state table _T_state, a key-value table
 * created in the capture's transaction (so it exists exactly when the
 * triggers do), and the resume.
 *
 *   version, alter   who the run is
 *   phase            the phase it reached (migration.c records each)
 *   max, filenode    the copy's end (T's size in blocks) and T's file then
 *   cursor, copied   the copy's position: committed with each chunk
 *
 * Why a resumed run loses no write: the triggers never stopped, so every
 * write since the crash is in the log, as during a long pause. A chunk and
 * its cursor commit together, so no block range is copied twice or skipped.
 * A rewrite of T while shade was away (VACUUM FULL) moved every row without
 * a trigger seeing it: the file check refuses to go on then, as during a
 * run. The state table goes in the swap's transaction.
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CREATE TABLE _T_state and its first rows, for the capture's transaction. */
void
pgsql_state_statements(struct eng *e, struct strlist *out)
{
	struct buf b = {0};

	sql_build(&b, SQL_PG, "CREATE TABLE %Q (k text PRIMARY KEY, v text NOT NULL)", &e->state);
	strlist_push_take(out, buf_take(&b));
}

/* Upsert n keys and values, in the caller's transaction or on its own. */
int
pgsql_state_put(struct eng *e, size_t n, const char *const *kv, struct shade_err *err)
{
	struct buf b = {0};
	int rc;

	sql_build(&b, SQL_PG, "INSERT INTO %Q (k, v) VALUES ", &e->state);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s($%zu, $%zu)", i ? ", " : "", 2 * i + 1, 2 * i + 2);
	buf_append(&b, " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v");
	rc = pgsql_exec(e, buf_str(&b), (int)(2 * n), kv, NULL, err);
	buf_free(&b);
	return rc;
}

/* After the triggers, in their transaction: who this run is. */
int
pgsql_state_create(struct eng *e, struct shade_err *err)
{
	struct strlist l = {0};
	const char *kv[] = {"version", SHADE_VERSION, "alter", e->alter_body, "phase", "copy",
			    "copied", "0"};
	int rc;

	pgsql_state_statements(e, &l);
	rc = pgsql_exec_run_list(e, &l, err) == 0 ? pgsql_state_put(e, 4, kv, err) : -1;
	strlist_free(&l);
	return rc;
}

int
pgsql_state_phase(struct eng *e, const char *phase, struct shade_err *err)
{
	const char *kv[] = {"phase", phase};

	return pgsql_state_put(e, 1, kv, err);
}

/* A position of the copy: one block number. */
static void
pgsql_state_key(const char *text, struct keyval *out)
{
	keyval_free(out);
	out->n = 1;
	out->vals = xcalloc(1, sizeof(char *));
	out->vals[0] = xstrdup(text);
}

int
pgsql_state_read(struct eng *e, struct run_state *out, struct shade_err *err)
{
	struct buf b = {0};
	PGresult *res = NULL;
	int rc = -1;

	sql_build(&b, SQL_PG, "SELECT k, v FROM %Q", &e->state);
	if (pgsql_exec(e, buf_str(&b), 0, NULL, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *k = PQgetvalue(res, i, 0), *v = PQgetvalue(res, i, 1);

		if (strcmp(k, "version") == 0)
			out->version = xstrdup(v);
		else if (strcmp(k, "alter") == 0)
			out->alter = xstrdup(v);
		else if (strcmp(k, "phase") == 0)
			out->phase = xstrdup(v);
		else if (strcmp(k, "copied") == 0)
			out->copied = strtoll(v, NULL, 10);
		else if (strcmp(k, "cursor") == 0)
			pgsql_state_key(v, &out->cursor);
		else if (strcmp(k, "max") == 0)
			pgsql_state_key(v, &out->max);
		else if (strcmp(k, "filenode") == 0) {
			free(e->copy_filenode);
			e->copy_filenode = xstrdup(v);
		}
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* Are T's capture triggers, its function and the log all there? */
static int WARN_UNUSED
pgsql_state_capture_intact(struct eng *e, struct shade_err *err)
{
	const char *params[5] = {e->orig_text, e->trg, e->trg_trunc, NULL, NULL};
	PGresult *res = NULL;
	struct buf log = {0};
	int rc = -1;

	sql_build(&log, SQL_PG, "%Q", &e->log);
	params[3] = buf_str(&log);
	params[4] = e->shadow_text;
	if (pgsql_exec(e,
		       "SELECT (SELECT count(*) FROM pg_catalog.pg_trigger"
		       "  WHERE tgrelid = $1::pg_catalog.regclass AND tgname IN ($2, $3)),"
		       " pg_catalog.to_regclass($4) IS NOT NULL, pg_catalog.to_regclass($5) IS NOT NULL",
		       5, params, &res, err) != 0)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "2") != 0 || strcmp(PQgetvalue(res, 0, 1), "t") != 0 ||
	    strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
		err_set(err, SHADE_USAGE,
			"the interrupted run on %s.%s cannot be resumed: its triggers, change log or "
			"new table are gone; remove what is left with shade --cleanup",
			e->orig.schema, e->orig.name);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&log);
	return rc;
}

/*
 * Derive again all that the shadow's build derived (the column mapping,
 * the indexes and constraints set aside, the names, the statements): build
 * it once more in a transaction that first drops the real one, and roll
 * back. The build is a function of T's catalog and the ALTER-BODY, both
 * as they were; the rollback brings the real shadow back untouched.
 */
static int WARN_UNUSED
pgsql_state_derive(struct eng *e, const char *alter_body, const struct alter_info *alter,
		   struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_PG, "DROP TABLE %Q", &e->shadow);
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_exec_run_buf(e, &b, err) != 0 ||
	    pgsql_shadow_build(e, alter_body, alter, err) != 0)
		goto out;
	rc = pgsql_exec_run(e, "ROLLBACK", err);
out:
	if (rc != 0)
		pgsql_exec_reset_txn(e);
	buf_free(&b);
	return rc;
}

int
pgsql_state_resume(struct eng *e, const char *alter_body, const struct alter_info *alter,
		   const struct run_state *st, struct shade_err *err)
{
	struct strlist pre = {0}, trg = {0};
	int rc = -1;

	free(e->alter_body);
	e->alter_body = xstrdup(alter_body);
	if (pgsql_state_capture_intact(e, err) != 0 || pgsql_state_derive(e, alter_body, alter, err) != 0)
		goto out;
	/* The log's helpers for this session (the apply's temporary key table). */
	if (pgsql_capture_statements(e, &pre, &trg, err) != 0 || pgsql_exec_run_list(e, &pre, err) != 0)
		goto out;
	e->capture_created = true;
	e->resumed = true;
	e->copied_total = st->copied;
	if (pgsql_indexes_resume(e, st->phase, err) != 0)
		goto out;
	if (st->max.n > 0 && pgsql_copy_resume(e, err) != 0)
		goto out;
	rc = 0;
out:
	strlist_free(&pre);
	strlist_free(&trg);
	return rc;
}

/*
 * engine/mysql/state.c - what a run keeps in the database so that a later
 * run can take it up: the state table _T_state, a key-value table created
 * by the capture right after the triggers (MySQL's DDL is not
 * transactional: created after them, it exists only where they do), and
 * the resume.
 *
 *   version, alter   who the run is
 *   phase            the phase it reached (migration.c records each)
 *   max              where the copy ends: T's largest key when it began
 *   cursor, copied   the copy's position (keyval_encode) and the rows
 *                    copied: committed with each chunk
 *
 * Why a resumed run loses no write. The triggers never stopped: every
 * write to T since the crash committed with its log row, as during a long
 * pause. A chunk's INSERT ... SELECT and the cursor past it commit in one
 * transaction, so the cursor says exactly which keys were copied: none is
 * skipped, and the next chunk starts after it (one copied twice would do
 * no harm either: ON DUPLICATE KEY UPDATE keeps the shadow's row). The
 * apply, which runs between chunks here, consumes log rows in transactions
 * of its own that re-copy their keys and delete exactly the log rows read,
 * together: so the log holds exactly the writes not applied yet, whatever
 * moment the run died at. The resumed run takes up the same log, and the
 * DESIGN's argument goes on from there unchanged.
 *
 * The state says nothing about the swap, and need not: the RENAME makes
 * the shadow T in one step, so "the shadow exists" is the mark of a swap
 * that never happened. Preflight resumes only when the state and the
 * shadow exist and the old table does not; the cleanup after the swap
 * drops the state; undo drops it first, so that half a clean-up never
 * looks resumable.
 */
#include <stdlib.h>
#include <string.h>

#include "keyval.h"
#include "myeng.h"

/* CREATE TABLE _T_state: utf8mb4 whatever the database's, for the ALTER. */
static void
myeng_state_create_sql(struct buf *b, const struct eng *e)
{
	sql_build(b, SQL_MYSQL,
		  "CREATE TABLE %Q (k VARCHAR(64) NOT NULL PRIMARY KEY, v LONGTEXT NOT NULL)"
		  " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
		  &e->state);
}

/* The upsert of n keys and values (bound in pairs). */
static char *
myeng_state_put_sql(const struct eng *e, size_t n)
{
	struct buf b = {0};

	sql_build(&b, SQL_MYSQL, "INSERT INTO %Q (k, v) VALUES ", &e->state);
	for (size_t i = 0; i < n; i++)
		buf_append(&b, i ? ", (?, ?)" : "(?, ?)");
	buf_append(&b, " ON DUPLICATE KEY UPDATE v = VALUES(v)");
	return buf_take(&b);
}

/* Upsert n keys and values, in the caller's transaction or on its own. */
int
myeng_state_put(struct eng *e, size_t n, const char *const *kv, struct shade_err *err)
{
	struct myeng_params p = {0};
	char *sql = myeng_state_put_sql(e, n);
	int rc;

	for (size_t i = 0; i < 2 * n; i++)
		myeng_param_str(&p, kv[i]);
	rc = myeng_query(e, sql, &p, NULL, err);
	myeng_params_free(&p);
	free(sql);
	return rc;
}

/* After the triggers: who this run is. */
int
myeng_state_create(struct eng *e, struct shade_err *err)
{
	const char *kv[] = {"version", SHADE_VERSION, "alter", e->alter_body, "phase", "copy",
			    "copied", "0"};
	struct buf b = {0};
	int rc = -1;

	if (!e->state_created) {
		myeng_state_create_sql(&b, e);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->state_created = true;
	}
	rc = myeng_state_put(e, ARRAY_LEN(kv) / 2, kv, err);
out:
	buf_free(&b);
	return rc;
}

int
myeng_state_phase(struct eng *e, const char *phase, struct shade_err *err)
{
	const char *kv[] = {"phase", phase};

	return myeng_state_put(e, 1, kv, err);
}

/* A key the state holds: keyval_encode's text of as many values as T's key. */
static int WARN_UNUSED
myeng_state_key(struct eng *e, const char *name, const char *text, struct keyval *out,
		struct shade_err *err)
{
	if (keyval_decode(text, out) == 0 && out->n == e->npk)
		return 0;
	err_set(err, SHADE_USAGE,
		"the state an interrupted run left on %s holds a %s that is no key of it; "
		"remove what is left with shade --cleanup --dsn ... --table %s",
		e->display, name, e->display);
	return -1;
}

int
myeng_state_read(struct eng *e, struct run_state *out, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_MYSQL, "SELECT k, v FROM %Q", &e->state);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		const char *k = myeng_text(&res, i, 0), *v = myeng_text(&res, i, 1);

		if (strcmp(k, "version") == 0)
			out->version = xstrdup(v);
		else if (strcmp(k, "alter") == 0)
			out->alter = xstrdup(v);
		else if (strcmp(k, "phase") == 0)
			out->phase = xstrdup(v);
		else if (strcmp(k, "copied") == 0)
			out->copied = strtoll(v, NULL, 10);
		else if (strcmp(k, "cursor") == 0 || strcmp(k, "max") == 0) {
			if (myeng_state_key(e, k, v, k[0] == 'c' ? &out->cursor : &out->max,
					    err) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/* Are the three capture triggers on T, the log and the shadow all there? */
static int WARN_UNUSED
myeng_state_intact(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		myeng_param_str(&p, e->trg[i].name);
	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->log.name);
	myeng_param_str(&p, e->shadow.name);
	if (myeng_query(e,
			"SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS"
			"  WHERE TRIGGER_SCHEMA = ? AND BINARY EVENT_OBJECT_TABLE = ?"
			"    AND BINARY TRIGGER_NAME IN (?, ?, ?)),"
			" (SELECT COUNT(*) FROM information_schema.TABLES"
			"  WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?))",
			&p, &res, err) != 0)
		goto out;
	if (strcmp(myeng_text(&res, 0, 0), "3") != 0 || strcmp(myeng_text(&res, 0, 1), "2") != 0) {
		err_set(err, SHADE_USAGE,
			"the interrupted run on %s cannot be resumed: its triggers, change log or "
			"new table are gone; remove what is left with shade --cleanup --dsn ... "
			"--table %s",
			e->display, e->display);
		goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * Do two SHOW FULL COLUMNS results describe the same columns? All but Key
 * (the real shadow may have its indexes back) and Privileges.
 */
static bool
myeng_state_same_columns(const struct myeng_res *a, const struct myeng_res *b)
{
	static const unsigned cols[] = {0, 1, 2, 3, 5, 6, 8};

	if (a->nrows != b->nrows || a->ncols != b->ncols || a->ncols <= 8)
		return false;
	for (size_t r = 0; r < a->nrows; r++) {
		for (size_t i = 0; i < ARRAY_LEN(cols); i++) {
			const char *x = myeng_cell(a, r, cols[i]), *y = myeng_cell(b, r, cols[i]);

			if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
				return false;
		}
	}
	return true;
}

/*
 * Derive again all that the shadow's build derived (the column mapping,
 * the indexes set aside, the AUTO_INCREMENT, the copy's statements)
 * without touching the real shadow: build it once more as a TEMPORARY
 * table of the same name, which hides the real one from this session only
 * (the dry run's way), then drop it. The build is a function of T and the
 * ALTER-BODY; should T have changed meanwhile, the columns derived differ
 * from the real shadow's, and the run is not taken up.
 */
static int WARN_UNUSED
myeng_state_derive(struct eng *e, const char *alter_body, const struct alter_info *alter,
		   struct shade_err *err)
{
	struct myeng_res real = {0}, derived = {0};
	struct shade_err ignored = {0};
	struct buf show = {0}, drop = {0};
	int rc = -1;

	sql_build(&show, SQL_MYSQL, "SHOW FULL COLUMNS FROM %Q", &e->shadow);
	if (myeng_query(e, buf_str(&show), NULL, &real, err) != 0 ||
	    myeng_shadow_build(e, true, alter_body, alter, err) != 0)
		goto out;
	rc = myeng_query(e, buf_str(&show), NULL, &derived, err);
	/* Never go on with the real shadow hidden. */
	sql_build(&drop, SQL_MYSQL, "DROP TEMPORARY TABLE %Q", &e->shadow);
	if (myeng_run_buf(e, &drop, rc == 0 ? err : &ignored) != 0)
		rc = -1;
	else
		e->shadow_temporary = false;
	if (rc == 0 && !myeng_state_same_columns(&real, &derived)) {
		err_set(err, SHADE_USAGE,
			"the interrupted run on %s cannot be resumed: %s changed since it began (its "
			"columns no longer give those of %s.%s); remove what is left with shade "
			"--cleanup --dsn ... --table %s",
			e->display, e->display, e->orig.schema, e->shadow.name, e->display);
		rc = -1;
	}
out:
	err_clear(&ignored);
	myeng_res_free(&real);
	myeng_res_free(&derived);
	buf_free(&show);
	buf_free(&drop);
	return rc;
}

/*
 * What a run killed in its swap leaves besides: the sentry (taken over:
 * the swap uses it, undo drops it) and T's own triggers on the shadow
 * under their temporary names (dropped: they would fire on the apply);
 * its foreign keys are put back by myeng_state_resume.
 */
static int WARN_UNUSED
myeng_state_swap_leftovers(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct buf b = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->sentry.name);
	if (myeng_query(e,
			"SELECT TABLE_COMMENT FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME = ?",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows > 0 && strcmp(myeng_text(&res, 0, 0), MYENG_SENTRY_COMMENT) != 0) {
		err_set(err, SHADE_USAGE,
			"the interrupted run on %s cannot be resumed: %s.%s is not the swap's sentry",
			e->display, e->orig.schema, e->sentry.name);
		goto out;
	}
	e->sentry_created = res.nrows > 0;
	myeng_res_free(&res);
	myeng_params_free(&p);
	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->shadow.name);
	if (myeng_query(e,
			"SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"
			" WHERE TRIGGER_SCHEMA = ? AND BINARY EVENT_OBJECT_TABLE = ?",
			&p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		struct qname q = {e->orig.schema, (char *)myeng_text(&res, i, 0)};

		myeng_cleanup_drop_trigger_sql(&b, &q);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

int
myeng_state_resume(struct eng *e, const char *alter_body, const struct alter_info *alter,
		   const struct run_state *st, struct shade_err *err)
{
	free(e->alter_body);
	e->alter_body = xstrdup(alter_body);
	e->resumed = true;
	if (myeng_state_intact(e, err) != 0 || myeng_state_derive(e, alter_body, alter, err) != 0)
		return -1;
	/* From here on undo and the swap treat what the run built as built. */
	e->shadow_created = true;
	e->log_created = true;
	for (size_t i = 0; i < ARRAY_LEN(e->trg_created); i++)
		e->trg_created[i] = true;
	e->state_created = true;
	e->copied_total = st->copied;
	if (myeng_shadow_indexes_resume(e, err) != 0 || myeng_state_swap_leftovers(e, err) != 0)
		return -1;
	/*
	 * A run killed in its swap may have left T's foreign keys on the
	 * shadow: back on T, and read again (the children's were not seen).
	 */
	if (myeng_fk_unshadow(e, err) != 0)
		return -1;
	return myeng_fk_load(e, err);
}

/* ---- the dry run's plan ------------------------------------------------ */

void
myeng_state_plan_create(struct eng *e)
{
	struct buf b = {0};

	myeng_state_create_sql(&b, e);
	myeng_dryrun_take(e, "the state a later run resumes from", buf_take(&b));
	myeng_dryrun_take(e, NULL, myeng_state_put_sql(e, 4));
}

void
myeng_state_plan_put(struct eng *e, const char *comment, size_t n)
{
	myeng_dryrun_take(e, comment, myeng_state_put_sql(e, n));
}

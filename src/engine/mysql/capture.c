/*
 * engine/mysql/capture.c - the change log _T_log and the three AFTER row
 * triggers on T that write every changed key into it, created before the
 * first row is copied; then the state table (state.c).
 */
#include <stdlib.h>
#include <string.h>

#include "myeng.h"

/* "NEW.`a`, NEW.`b`" */
static void
myeng_row_keys(const struct eng *e, struct buf *b, const char *row)
{
	for (size_t i = 0; i < e->npk; i++)
		sql_build(b, SQL_MYSQL, "%s%s.%I", i ? ", " : "", row, e->pk[i].name);
}

/* The capture's statements, in the order they run; then MYENG_UNLOCK. */
struct myeng_capture_stmts {
	char *log;      /* CREATE TABLE _T_log */
	char *lock;     /* LOCK TABLES T WRITE, _T_log WRITE */
	char *trg[3];   /* CREATE TRIGGER _T_shade_ins, _upd, _del */
};

static void
myeng_capture_sql_free(struct myeng_capture_stmts *s)
{
	free(s->log);
	free(s->lock);
	for (size_t i = 0; i < ARRAY_LEN(s->trg); i++)
		free(s->trg[i]);
}

/*
 * The capture's statements: the log (an id, and the key columns with T's
 * own types), the lock and the three triggers. An UPDATE logs the old key,
 * and the new one too when the key changed, so both rows get re-read.
 */
static void
myeng_capture_sql(const struct eng *e, struct myeng_capture_stmts *s)
{
	struct buf b = {0}, oldk = {0}, newk = {0}, same = {0};

	sql_build(&b, SQL_MYSQL, "CREATE TABLE %Q (%I bigint unsigned NOT NULL AUTO_INCREMENT",
		  &e->log, e->seq);
	for (size_t i = 0; i < e->npk; i++) {
		const struct myeng_key *k = &e->pk[i];

		sql_build(&b, SQL_MYSQL, ", %I %s", k->name, k->type);
		if (k->charset && k->collation)
			sql_build(&b, SQL_MYSQL, " CHARACTER SET %s COLLATE %s", k->charset,
				  k->collation);
		buf_append(&b, " NULL");
	}
	sql_build(&b, SQL_MYSQL, ", PRIMARY KEY (%I)) ENGINE=InnoDB", e->seq);
	s->log = buf_take(&b);
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, &e->log);
	s->lock = buf_take(&b);

	myeng_row_keys(e, &oldk, "OLD");
	myeng_row_keys(e, &newk, "NEW");
	for (size_t i = 0; i < e->npk; i++)
		sql_build(&same, SQL_MYSQL, "%sNEW.%I <=> OLD.%I", i ? " AND " : "", e->pk[i].name,
			  e->pk[i].name);
	sql_build(&b, SQL_MYSQL,
		  "CREATE TRIGGER %Q AFTER INSERT ON %Q FOR EACH ROW INSERT INTO %Q (%L) VALUES (%s)",
		  &e->trg[0], &e->orig, &e->log, &e->pkcols, buf_str(&newk));
	s->trg[0] = buf_take(&b);
	sql_build(&b, SQL_MYSQL,
		  "CREATE TRIGGER %Q AFTER UPDATE ON %Q FOR EACH ROW BEGIN"
		  " INSERT INTO %Q (%L) VALUES (%s);"
		  " IF NOT (%s) THEN INSERT INTO %Q (%L) VALUES (%s); END IF;"
		  " END",
		  &e->trg[1], &e->orig, &e->log, &e->pkcols, buf_str(&oldk), buf_str(&same),
		  &e->log, &e->pkcols, buf_str(&newk));
	s->trg[1] = buf_take(&b);
	sql_build(&b, SQL_MYSQL,
		  "CREATE TRIGGER %Q AFTER DELETE ON %Q FOR EACH ROW INSERT INTO %Q (%L) VALUES (%s)",
		  &e->trg[2], &e->orig, &e->log, &e->pkcols, buf_str(&oldk));
	s->trg[2] = buf_take(&b);
	buf_free(&oldk);
	buf_free(&newk);
	buf_free(&same);
}

int
myeng_capture_create(struct eng *e, struct shade_err *err)
{
	struct myeng_capture_stmts s;
	int rc = -1;

	myeng_capture_sql(e, &s);
	if (!e->log_created) {
		if (myeng_run(e, s.log, err) != 0)
			goto out;
		e->log_created = true;
	}
	/*
	 * All three appear at once, under LOCK TABLES T WRITE: the lock waits
	 * for running transactions on T and makes new ones wait behind it, so
	 * it is bounded by lock_wait_timeout and retried by the caller. (It
	 * also narrows a MariaDB bug, MDEV-26048: a statement prepared before
	 * T had triggers may fail with "table doesn't exist" when run after.)
	 * One that exists already (an earlier attempt) is not created again.
	 */
	if (myeng_run(e, s.lock, err) != 0) {
		/* A lock wait timeout: who holds T? (blockers.c) */
		myeng_blockers_append(e, MYENG_CONFLICTS_WRITE, err);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		if (e->trg_created[i])
			continue;
		if (myeng_run(e, s.trg[i], err) != 0) {
			struct shade_err ignored = {0};

			if (myeng_run(e, MYENG_UNLOCK, &ignored) != 0) {
				/* The next statement reports the state. */
			}
			err_clear(&ignored);
			goto out;
		}
		e->trg_created[i] = true;
	}
	if (myeng_run(e, MYENG_UNLOCK, err) != 0)
		goto out;
	/*
	 * The state, after the triggers: DDL commits on its own, and a state
	 * that exists says the triggers do (a run killed in between leaves
	 * nothing a later run would take up).
	 */
	if (myeng_state_create(e, err) != 0)
		goto out;
	rc = 0;
out:
	myeng_capture_sql_free(&s);
	return rc;
}

/* The dry run: list what myeng_capture_create runs (it would lock T). */
void
myeng_capture_plan(struct eng *e)
{
	struct myeng_capture_stmts s;

	myeng_capture_sql(e, &s);
	myeng_dryrun_add(e, "the capture", s.log);
	myeng_dryrun_add(e, NULL, s.lock);
	for (size_t i = 0; i < ARRAY_LEN(s.trg); i++)
		myeng_dryrun_add(e, NULL, s.trg[i]);
	myeng_dryrun_add(e, NULL, MYENG_UNLOCK);
	myeng_state_plan_create(e);
	myeng_capture_sql_free(&s);
}

/*
 * The dry run's sampled apply: the change log as a TEMPORARY table under
 * its own name (only this session sees it, and it goes with the session),
 * holding T's first `rows` keys as the triggers would log them.
 */
int
myeng_capture_sample_log(struct eng *e, long rows, struct shade_err *err)
{
	struct myeng_capture_stmts s;
	struct myeng_params p = {0};
	struct buf b = {0};
	int rc = -1;

	myeng_capture_sql(e, &s);
	/* s.log is "CREATE TABLE ...": the same table, TEMPORARY. */
	buf_printf(&b, "CREATE TEMPORARY TABLE %s", s.log + strlen("CREATE TABLE "));
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	sql_build(&b, SQL_MYSQL, "INSERT INTO %Q (%L) SELECT %L FROM %Q ORDER BY %L LIMIT ?",
		  &e->log, &e->pkcols, &e->pkcols, &e->orig, &e->pkcols);
	myeng_param_int(&p, rows);
	if (myeng_exec(e, e->conn, buf_str(&b), &p, NULL, NULL, err) != 0)
		goto out;
	rc = 0;
out:
	myeng_capture_sql_free(&s);
	myeng_params_free(&p);
	buf_free(&b);
	return rc;
}

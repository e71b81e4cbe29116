/*
 * engine/mysql/instant.c - could MariaDB make the ALTER on T in place,
 * ALGORITHM=INSTANT (metadata only), and --attempt-instant, which then
 * does so instead of a run.
 *
 * The server is the judge: it refuses ALGORITHM=INSTANT (errors 1845 to
 * 1854) for what it cannot do so. The dry run cannot ask on its TEMPORARY
 * shadow: InnoDB takes any ALGORITHM on a temporary table (it is rebuilt
 * anyway). It asks on an empty ordinary table LIKE T, under the shadow's
 * name (preflight found it free; the run lock keeps other shades off),
 * created and dropped at once; its answer is T's (measured on MariaDB
 * 10.11: the same on an empty table as on a full one). With the binary
 * log on, the probe goes unlogged (SET sql_log_bin = 0), or not at all:
 * a dry run writes nothing a replica would replay.
 */
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "myeng.h"

static const char instant_suffix[] = ", ALGORITHM=INSTANT";

/* An error of the server's refusing ALGORITHM=INSTANT. */
static bool
myeng_instant_refused(const struct shade_err *err)
{
	return err->server_errno >= ER_ALTER_OPERATION_NOT_SUPPORTED &&
	       err->server_errno <= ER_ALTER_OPERATION_NOT_SUPPORTED_REASON_AUTOINC;
}

/* Whether the probe's statements would reach the binary log; -1 on error. */
static int
myeng_instant_logged(struct eng *e, struct shade_err *err)
{
	struct myeng_res res = {0};
	int logged;

	if (myeng_query(e, "SELECT @@log_bin AND @@sql_log_bin", NULL, &res, err) != 0)
		return -1;
	logged = res.nrows > 0 && strcmp(myeng_text(&res, 0, 0), "1") == 0;
	myeng_res_free(&res);
	return logged;
}

/* The probe itself: CREATE, ALTER ... INSTANT, DROP; -1 only if it stays. */
static int WARN_UNUSED
myeng_instant_try(struct eng *e, const char *alter_body, bool *instant, char **why,
		  struct shade_err *err)
{
	struct shade_err failed = {0};
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_MYSQL, "CREATE TABLE %Q LIKE %Q", &e->shadow, &e->orig);
	if (myeng_run_buf(e, &b, &failed) != 0) {
		*why = xasprintf("shade could not tell: %s", failed.msg);
		rc = 0;
		goto out;
	}
	if (myeng_shadow_alter_on(e, &e->shadow, alter_body, instant_suffix, &failed) == 0) {
		*instant = true;
		*why = xstrdup("MariaDB makes this ALTER with ALGORITHM=INSTANT, changing only "
			       "metadata: run it directly (ALGORITHM=INSTANT makes the server "
			       "refuse anything else), or give shade --attempt-instant");
	} else {
		*why = xstrdup(failed.msg);
	}
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->shadow);
	if (myeng_run_buf(e, &b, err) != 0) {
		err_prefix(err, SHADE_FAILED, "the dry run's probe %s.%s is left, drop it: ",
			   e->shadow.schema, e->shadow.name);
		goto out;
	}
	rc = 0;
out:
	err_clear(&failed);
	buf_free(&b);
	return rc;
}

int
myeng_instant_probe(struct eng *e, const char *alter_body, bool *instant, char **why,
		    struct shade_err *err)
{
	struct strlist *plan = e->plan;
	struct shade_err ignored = {0};
	int logged, rc = -1;

	e->plan = NULL;  /* a question to the server, no part of a run */
	*instant = false;
	free(*why);
	*why = NULL;
	if ((logged = myeng_instant_logged(e, err)) < 0)
		goto out;
	if (logged && myeng_run(e, "SET SESSION sql_log_bin = 0", &ignored) != 0) {
		*why = xasprintf("unknown: shade asks the server on an empty copy of the table, "
				 "which would go to the binary log (SET sql_log_bin = 0 was "
				 "refused: %s)", ignored.msg);
		rc = 0;
		goto out;
	}
	rc = myeng_instant_try(e, alter_body, instant, why, err);
	if (logged && myeng_run(e, "SET SESSION sql_log_bin = 1", rc ? &ignored : err) != 0)
		rc = -1;
out:
	err_clear(&ignored);
	e->plan = plan;
	return rc;
}

int
myeng_instant_attempt(struct eng *e, const char *alter_body, const struct alter_info *alter,
		      bool *done, char **why, struct shade_err *err)
{
	struct shade_err failed = {0};

	(void)alter;
	(void)err;
	*done = false;
	*why = NULL;
	if (myeng_shadow_alter_on(e, &e->orig, alter_body, instant_suffix, &failed) == 0) {
		*done = true;
		return 0;
	}
	if (myeng_instant_refused(&failed))
		*why = xstrdup(failed.msg);
	else
		*why = xasprintf("the ALTER on %s failed, which left it as it was: %s",
				 e->display, failed.msg);
	err_clear(&failed);
	return 0;
}

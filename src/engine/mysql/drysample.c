/*
 * engine/mysql/drysample.c - what the dry run measures besides its sample
 * copy, for the whole run's estimate: T's write rate from the server's own
 * counters, a sampled apply, and what the binary log would take.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myeng.h"

/*
 * userstat=1: T's own count; otherwise the handler's row writes, for the
 * whole server (MariaDB 10.11 has no Innodb_rows_*; writes to internal
 * temporary tables count apart, in Handler_tmp_*).
 */
static const char sql_table_writes[] =
	"SELECT COALESCE(SUM(ROWS_CHANGED), 0) FROM information_schema.TABLE_STATISTICS"
	" WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";
static const char sql_server_writes[] =
	"SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS"
	" WHERE VARIABLE_NAME IN ('HANDLER_WRITE', 'HANDLER_UPDATE', 'HANDLER_DELETE')";

/* The first column of the first row as a number; *out -1 when NULL. */
static int WARN_UNUSED
myeng_drysample_number(struct eng *e, const char *sql, const struct myeng_params *p,
		       double *out, struct shade_err *err)
{
	struct myeng_res res = {0};
	const char *v;

	if (myeng_query(e, sql, p, &res, err) != 0)
		return -1;
	v = res.nrows > 0 ? myeng_text(&res, 0, 0) : NULL;
	*out = v ? strtod(v, NULL) : -1;
	myeng_res_free(&res);
	return 0;
}

/*
 * The write rate, over a window of its own before the dry run's work
 * (the server-wide counters would count the sample's own rows): the
 * counters, a sleep, the counters again.
 */
int
myeng_drysample_writes(struct eng *e, struct dry_run_report *out, struct shade_err *err)
{
	struct myeng_params p = {0}, sleep = {0};
	struct strlist *plan = e->plan;
	double userstat, c0, c1, t0, slept;
	char secs[32];
	const char *sql;
	int rc = -1;

	e->plan = NULL;  /* a measurement, no part of a run */
	out->write_rate = -1;
	/* MySQL has no userstat (nor TABLE_STATISTICS): server-wide, then. */
	if (myeng_drysample_number(e, "SELECT @@userstat", NULL, &userstat, err) != 0) {
		err_clear(err);
		userstat = 0;
	}
	out->write_server_wide = userstat != 1;
	sql = out->write_server_wide ? sql_server_writes : sql_table_writes;
	if (!out->write_server_wide) {
		myeng_param_str(&p, e->orig.schema);
		myeng_param_str(&p, e->orig.name);
	}
	t0 = now_seconds();
	if (myeng_drysample_number(e, sql, &p, &c0, err) != 0)
		goto out;
	snprintf(secs, sizeof(secs), "%.3f", ENGINE_WRITE_WINDOW);
	myeng_param_str(&sleep, secs);
	if (myeng_drysample_number(e, "SELECT SLEEP(?)", &sleep, &slept, err) != 0 ||
	    myeng_drysample_number(e, sql, &p, &c1, err) != 0)
		goto out;
	out->write_window = now_seconds() - t0;
	out->write_waited = ENGINE_WRITE_WINDOW;
	if (c0 >= 0 && c1 >= c0 && out->write_window > 0)
		out->write_rate = (c1 - c0) / out->write_window;
	rc = 0;
out:
	e->plan = plan;
	myeng_params_free(&p);
	myeng_params_free(&sleep);
	return rc;
}

/*
 * One apply batch over T's first `rows` keys, timed, into the temporary
 * shadow through a temporary change log (capture.c); nothing of it goes
 * into the plan (it lists the apply where a run has it).
 */
int
myeng_drysample_apply(struct eng *e, long rows, struct dry_run_report *out,
		      struct shade_err *err)
{
	struct strlist *plan = e->plan;
	struct shade_err ignored = {0};
	struct buf b = {0};
	long long applied = 0;
	double t0;
	int rc = -1;

	e->plan = NULL;
	if (myeng_capture_sample_log(e, rows, err) != 0)
		goto out;
	t0 = now_seconds();
	if (myeng_apply(e, rows, &applied, err) != 0)
		goto out;
	out->apply_seconds = now_seconds() - t0;
	out->apply_rows = applied;
	rc = 0;
out:
	sql_build(&b, SQL_MYSQL, "DROP TEMPORARY TABLE IF EXISTS %Q", &e->log);
	if (myeng_run_buf(e, &b, &ignored) != 0) {
		/* It goes with the session anyway. */
	}
	err_clear(&ignored);
	e->plan = plan;
	buf_free(&b);
	return rc;
}

/*
 * The binary log a run would write: with row images, about T's data
 * (InnoDB's average row length, which its pages' slack makes an upper
 * bound); with statements, next to nothing. A temporary table is not
 * logged with row images, so the sample cannot be measured: this is an
 * estimate from the table's size, and says so.
 */
int
myeng_drysample_binlog(struct eng *e, struct dry_run_report *out, struct shade_err *err)
{
	struct strlist *plan = e->plan;
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	e->plan = NULL;
	out->log_bytes = -1;
	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	if (myeng_query(e, "SELECT @@log_bin, @@binlog_format, AVG_ROW_LENGTH"
			" FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows == 0 || strcmp(myeng_text(&res, 0, 0), "1") != 0) {
		out->log_note = xstrdup("the binary log is off");
	} else if (strcmp(myeng_text(&res, 0, 1), "STATEMENT") == 0) {
		out->log_bytes = 0;
		out->log_note = xstrdup("binlog_format STATEMENT: a statement per chunk");
	} else if (out->sample_rows > 0) {
		out->log_bytes = strtoll(myeng_text(&res, 0, 2), NULL, 10) * out->sample_rows;
		out->log_note = xstrdup("row images of the copy, from the table's average row "
					"length; the apply's and the change log's besides");
	}
	rc = 0;
out:
	e->plan = plan;
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

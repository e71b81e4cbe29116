/*
 * engine/mysql/probe.c - the throttle's probes on MySQL/MariaDB
 * (throttle.h), each one short statement on a connection of the probes'
 * own:
 *
 *   load   Threads_running, this probe's own thread not counted;
 *   lag    on a replica (--replica): Seconds_Behind_Master, where NULL
 *          (replication stopped, not a replica) is no reading, and why;
 *   query  the operator's --throttle-query.
 *
 * A primary does not know its replicas' lag: there is no probe_replicas.
 */
#include "myeng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
myeng_probe_load(struct eng *e, long *load, struct shade_err *err)
{
	struct myeng_res res = {0};
	int rc = -1;

	if (myeng_query(e, "SHOW GLOBAL STATUS LIKE 'Threads_running'", NULL, &res, err) != 0)
		goto out;
	if (res.nrows != 1 || res.ncols < 2) {
		err_set(err, SHADE_FAILED, "the server shows no Threads_running");
		goto out;
	}
	/* The thread running this statement is the probe's own. */
	*load = strtol(myeng_text(&res, 0, 1), NULL, 10) - 1;
	if (*load < 0)
		*load = 0;
	rc = 0;
out:
	myeng_res_free(&res);
	return rc;
}

/* The cell of the first of two names a column goes by, or NULL. */
static const char *
myeng_probe_cell(const struct myeng_res *r, const char *name, const char *other)
{
	int c = myeng_res_col(r, name);

	if (c < 0)
		c = myeng_res_col(r, other);
	return c < 0 ? NULL : myeng_cell(r, 0, (unsigned)c);
}

int
myeng_probe_lag(struct eng *e, double *seconds, char *why, size_t len, struct shade_err *err)
{
	unsigned long ver = mysql_get_server_version(e->conn);
	/* SHOW SLAVE STATUS is gone from MySQL 8.4; REPLICA came in 10.5.1 and 8.0.22. */
	bool replica = e->mariadb ? ver >= 100501 : ver >= 80022;
	const char *sql = replica ? "SHOW REPLICA STATUS" : "SHOW SLAVE STATUS";
	struct myeng_res res = {0};
	const char *behind, *sqlrun, *io;
	char *end;

	*seconds = -1;
	if (myeng_query(e, sql, NULL, &res, err) != 0)
		return -1;
	if (res.nrows == 0) {
		snprintf(why, len, "it is not a replica (%s is empty)", sql);
		goto out;
	}
	behind = myeng_probe_cell(&res, "Seconds_Behind_Master", "Seconds_Behind_Source");
	sqlrun = myeng_probe_cell(&res, "Slave_SQL_Running", "Replica_SQL_Running");
	io = myeng_probe_cell(&res, "Slave_IO_Running", "Replica_IO_Running");
	if (behind != NULL) {
		*seconds = strtod(behind, &end);
		if (end == behind || *end != '\0' || !isfinite(*seconds) || *seconds < 0)
			*seconds = -1;
	}
	if (*seconds >= 0)
		goto out;
	if (sqlrun && strcmp(sqlrun, "Yes") != 0)
		snprintf(why, len, "Seconds_Behind_Master is NULL: its SQL thread is stopped "
			 "(Slave_SQL_Running: %s)", sqlrun);
	else if (io && strcmp(io, "Yes") != 0)
		snprintf(why, len, "Seconds_Behind_Master is NULL: its IO thread is not running "
			 "(Slave_IO_Running: %s)", io);
	else
		snprintf(why, len, "Seconds_Behind_Master is NULL");
out:
	myeng_res_free(&res);
	return 0;
}

/* The first cell as the query's verdict; no row or NULL: 0. */
static int
myeng_probe_verdict(const struct myeng_res *res, double *value, struct shade_err *err)
{
	const char *s;
	char *end;

	*value = 0;
	if (res->ncols < 1) {
		err_set(err, SHADE_FAILED, "it returned no column");
		return -1;
	}
	if (res->nrows == 0 || (s = myeng_cell(res, 0, 0)) == NULL)
		return 0;
	*value = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(*value)) {
		err_set(err, SHADE_FAILED, "it returned \"%.60s\", not a number", s);
		return -1;
	}
	return 0;
}

/*
 * The operator's query in a read-only transaction: a monitoring query has
 * nothing to write. Sent as text, so SHOW and the like work too.
 */
int
myeng_probe_query(struct eng *e, const char *sql, double *value, struct shade_err *err)
{
	struct myeng_res res = {0};
	int rc = -1;

	if (myeng_run(e, "START TRANSACTION READ ONLY", err) != 0 ||
	    myeng_query(e, sql, NULL, &res, err) != 0 || myeng_probe_verdict(&res, value, err) != 0)
		goto out;
	rc = 0;
out:
	myeng_res_free(&res);
	myeng_rollback(e);
	return rc;
}

void
myeng_probe_name(struct eng *e, char *out, size_t len)
{
	if (e->dsn.socket)
		snprintf(out, len, "socket=%s", e->dsn.socket);
	else
		snprintf(out, len, "host=%s port=%u", e->dsn.host ? e->dsn.host : "localhost",
			 e->dsn.port ? e->dsn.port : 3306);
}

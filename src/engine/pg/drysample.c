/*
 * engine/pg/drysample.c - what the dry run measures besides its sample
 * copy, for the whole run's estimate: T's write rate from the server's
 * own counters, the WAL a stretch of work wrote, and a sampled apply.
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>

/* A single bigint the statement returns, with up to one parameter. */
static int WARN_UNUSED
pgsql_drysample_number(struct eng *e, const char *sql, const char *param, long long *out,
		       struct shade_err *err)
{
	const char *params[1] = {param};
	PGresult *res = NULL;

	if (pgsql_exec(e, sql, param ? 1 : 0, param ? params : NULL, &res, err) != 0)
		return -1;
	*out = PQgetisnull(res, 0, 0) ? -1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * Rows inserted, updated and deleted in T since the statistics began, as
 * the backends have flushed them (PostgreSQL 15: at most once a second
 * while busy, so a window shorter than ENGINE_WRITE_WINDOW misleads).
 * Read outside a transaction: inside one, the view is a snapshot that
 * would not move. -1: no statistics for T.
 */
int
pgsql_drysample_writes(struct eng *e, long long *out, struct shade_err *err)
{
	char oid[16];

	snprintf(oid, sizeof(oid), "%u", e->orig_oid);
	return pgsql_drysample_number(e,
				      "SELECT n_tup_ins + n_tup_upd + n_tup_del"
				      " FROM pg_catalog.pg_stat_all_tables WHERE relid = $1::pg_catalog.oid",
				      oid, out, err);
}

/*
 * The WAL's insert position, in bytes from its start: the insert position,
 * not pg_current_wal_lsn()'s write position, which stays put while the
 * dry run's uncommitted WAL sits in the WAL buffers.
 */
int
pgsql_drysample_wal(struct eng *e, long long *out, struct shade_err *err)
{
	return pgsql_drysample_number(e,
				      "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(),"
				      " '0/0')::bigint",
				      NULL, out, err);
}

/*
 * Inside the dry run's transaction, once the shadow has its key: the
 * change log as a run creates it, up to `rows` of the sample's keys put
 * in it as the triggers would, and one apply batch over them, timed. It
 * rolls back with the rest; nothing of it goes into the plan (the plan
 * lists the capture and the apply where a run has them).
 */
int
pgsql_drysample_apply(struct eng *e, long rows, struct dry_run_report *out,
		      struct shade_err *err)
{
	struct strlist pre = {0}, trg = {0}, *plan = e->plan;
	struct buf b = {0};
	char lim[32];
	const char *params[1] = {lim};
	long long applied = 0;
	double t0;
	int rc = -1;

	e->plan = NULL;
	snprintf(lim, sizeof(lim), "%ld", rows);
	if (pgsql_capture_statements(e, &pre, &trg, err) != 0 ||
	    pgsql_exec_run_list(e, &pre, err) != 0)
		goto out;
	sql_build(&b, SQL_PG, "INSERT INTO %Q (%L) SELECT %L FROM %Q LIMIT $1", &e->log, &e->pk,
		  &e->shadow_pk, &e->shadow);
	if (pgsql_exec(e, buf_str(&b), 1, params, NULL, err) != 0)
		goto out;
	t0 = now_seconds();
	if (pgsql_apply_in_txn(e, rows, &applied, err) != 0)
		goto out;
	out->apply_seconds = now_seconds() - t0;
	out->apply_rows = applied;
	rc = 0;
out:
	e->plan = plan;
	strlist_free(&pre);
	strlist_free(&trg);
	buf_free(&b);
	return rc;
}

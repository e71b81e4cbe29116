/*
 * engine/pg/conn.c - connecting to PostgreSQL, and the session shade needs.
 *
 * The connection is made with PQconnectStartParams and driven through
 * dbwait, so signals are served meanwhile, and bounded by
 * engine_opts.connect_timeout: a server that accepts the connection and
 * never answers fails the run instead of hanging it. The session is set
 * up once here: READ COMMITTED, no statement timeout, row security off,
 * and search_path pinned (see pgsql.h) after the user's is read.
 */
#include "pgsql.h"

#include "tty.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
pgsql_conn_notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/*
 * Drive PQconnectPoll through dbwait until deadline (now_seconds() time);
 * the socket may change at every step.
 */
static int WARN_UNUSED
pgsql_conn_poll(struct eng *e, double deadline, struct shade_err *err)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (e->conn == NULL)
		die("out of memory");
	if (PQstatus(e->conn) == CONNECTION_BAD)
		goto fail;
	for (;;) {
		enum dbwait_result wr = DBWAIT_TIMEOUT;
		double left = deadline - now_seconds();

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		if (left > 0)
			wr = dbwait_fd(e->w, PQsocket(e->conn),
				       st == PGRES_POLLING_READING ? DBWAIT_READ : DBWAIT_WRITE, left,
				       false);
		if (wr == DBWAIT_CANCEL) {
			err_set(err, SHADE_ABORTED, "aborted while connecting");
			err->cancelled = true;
			return -1;
		}
		if (wr == DBWAIT_TIMEOUT) {
			err_set(err, SHADE_FAILED, "cannot connect to PostgreSQL: timed out after %g s",
				e->opts->connect_timeout);
			return -1;
		}
		st = PQconnectPoll(e->conn);
	}
fail:
	err_set(err, SHADE_FAILED, "cannot connect to PostgreSQL: %.*s",
		(int)strcspn(PQerrorMessage(e->conn), "\n"), PQerrorMessage(e->conn));
	return -1;
}

/*
 * Each attempt (the first, and the one after a password prompt) may take
 * connect_timeout seconds; the time the operator takes to type a password
 * is not the server's and does not count. libpq gets the same limit, in
 * whole seconds and at least the 2 it accepts, as a fallback; before
 * "dbname", so that a connect_timeout written in the DSN still wins there.
 */
static int WARN_UNUSED
pgsql_conn_connect(struct eng *e, const char *conninfo, struct shade_err *err)
{
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL,
			      NULL};
	const char *vals[] = {NULL, conninfo, "shade", NULL, NULL};
	double limit = e->opts->connect_timeout;
	char secs[32];
	bool aborted;
	char *pw;
	int rc;

	snprintf(secs, sizeof(secs), "%d", limit > 2 ? (int)ceil(limit) : 2);
	vals[0] = secs;
	/* expand_dbname: the dbname value is the whole URI or conninfo. */
	e->conn = PQconnectStartParams(keys, vals, 1);
	if (pgsql_conn_poll(e, now_seconds() + limit, err) == 0)
		return 0;
	if (!PQconnectionNeedsPassword(e->conn) || !isatty(STDIN_FILENO) || err->cancelled)
		return -1;
	pw = tty_read_secret(e->w, "Password: ", &aborted);
	if (aborted) {
		err_set(err, SHADE_ABORTED, "aborted at the password prompt");
		err->cancelled = true;
	}
	if (pw == NULL)
		return -1;
	PQfinish(e->conn);
	keys[3] = "password";
	vals[3] = pw;
	e->conn = PQconnectStartParams(keys, vals, 1);
	err_clear(err);
	rc = pgsql_conn_poll(e, now_seconds() + limit, err);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	return rc;
}

/*
 * Read the user's search_path, then pin shade's own: from here on no
 * function or operator in a schema the user (or anyone who can write to
 * public) controls can change what shade's statements mean.
 */
static int WARN_UNUSED
pgsql_conn_pin_path(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {PGSQL_PINNED_PATH};
	PGresult *res = NULL;

	if (pgsql_exec(e,
		       "SELECT pg_catalog.current_schemas(true),"
		       "  pg_catalog.current_setting('search_path')",
		       0, NULL, &res, err) != 0)
		return -1;
	e->user_schemas = xstrdup(PQgetvalue(res, 0, 0));
	e->user_path = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return pgsql_exec(e, "SELECT pg_catalog.set_config('search_path', $1, false)", 1, params,
			  NULL, err);
}

int
pgsql_conn_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
		const struct engine_opts *opts, struct shade_err *err)
{
	struct eng *e = xcalloc(1, sizeof(*e));
	int rc = -1;

	e->w = w;
	e->opts = opts;
	*out = e;
	if (pgsql_conn_connect(e, dsn->conninfo, err) != 0)
		goto out;
	PQsetNoticeProcessor(e->conn, pgsql_conn_notice_ignore, NULL);
	if (PQsetnonblocking(e->conn, 1) != 0) {
		pgsql_exec_set_error(e, NULL, "PQsetnonblocking", false, err);
		goto out;
	}
	if (PQserverVersion(e->conn) < 110000) {
		err_set(err, SHADE_USAGE, "PostgreSQL %d is too old: shade needs 11 or later",
			PQserverVersion(e->conn) / 10000);
		goto out;
	}
	/*
	 * READ COMMITTED: every statement sees the writes committed before it,
	 * which the no-lost-write argument needs, and the copy takes no row
	 * locks. No statement timeout: index builds may take long; lock waits
	 * are bounded per statement where they matter.
	 */
	if (pgsql_exec_run(e, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", err) != 0 ||
	    pgsql_exec_run(e, "SET statement_timeout = 0", err) != 0 ||
	    pgsql_exec_run(e, "SET idle_in_transaction_session_timeout = 0", err) != 0 ||
	    pgsql_exec_run(e, "SET client_min_messages = warning", err) != 0 ||
	    /* How alter_parse() read the ALTER-BODY's string literals. */
	    pgsql_exec_run(e, "SET standard_conforming_strings = on", err) != 0 ||
	    /*
	     * Row-level security must never filter what the copy reads: with
	     * it off, a policy that would apply is an error, not lost rows.
	     */
	    pgsql_exec_run(e, "SET row_security = off", err) != 0 ||
	    /*
	     * No JIT: shade's statements are many and each runs once, so a
	     * compile per statement costs more than it saves (measured: 60 ms
	     * for the release before the key build, and no gain in the copy's
	     * chunks); the server's CPU is the application's.
	     */
	    pgsql_exec_run(e, "SET jit = off", err) != 0 ||
	    pgsql_conn_pin_path(e, err) != 0)
		goto out;
	rc = 0;
out:
	return rc;
}

void
pgsql_conn_close(struct eng *e)
{
	if (e == NULL)
		return;
	if (e->conn)
		PQfinish(e->conn);
	free(e->user_path);
	free(e->user_schemas);
	qname_free(&e->orig);
	qname_free(&e->shadow);
	qname_free(&e->log);
	qname_free(&e->old);
	qname_free(&e->fn);
	qname_free(&e->state);
	free(e->alter_body);
	qname_free(&e->keys);
	free(e->trg);
	free(e->trg_trunc);
	free(e->orig_text);
	free(e->shadow_text);
	strlist_free(&e->pk);
	strlist_free(&e->shadow_pk);
	free(e->key_ops);
	free(e->key_index);
	strlist_free(&e->src);
	strlist_free(&e->dst);
	pgsql_indexes_free(e);
	strlist_free(&e->identity);
	strlist_free(&e->fresh);
	strlist_free(&e->t_fks);
	strlist_free(&e->t_fks_valid);
	strlist_free(&e->aside_names);
	strlist_free(&e->aside_defs);
	strlist_free(&e->aside_validate);
	strlist_free(&e->post_swap);
	for (size_t i = 0; i < e->nipairs; i++) {
		free(e->ipairs[i].orig);
		free(e->ipairs[i].shadow);
	}
	free(e->ipairs);
	free(e->select_list);
	free(e->sql_copy);
	free(e->copy_filenode);
	free(e->sql_take_keys);
	free(e->sql_apply_delete);
	free(e->sql_apply_insert);
	free(e->sql_apply_gone);
	free(e->sql_apply_upsert);
	free(e->sql_release);
	free(e);
}

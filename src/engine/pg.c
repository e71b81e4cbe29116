/*
 * engine/pg.c - the PostgreSQL engine, on libpq's asynchronous API.
 *
 * Every statement goes through pgsql_exec(): sent with PQsendQueryParams
 * (the extended protocol, so one statement per call and values only as
 * parameters), traced, and awaited through dbwait so that signals are
 * served while it runs and a second abort request cancels it on the server.
 * Identifiers reach SQL only through sql_build()/sql_ident().
 *
 * Objects shade creates next to table T in T's schema:
 *   _T_new          the shadow: LIKE T INCLUDING ALL, then the ALTER-BODY
 *   _T_log          the change log: a bigserial id plus T's key columns
 *   _T_shade_fn     the trigger function that writes the log
 *   _T_shade_trg    AFTER INSERT/UPDATE/DELETE row trigger on T
 *   _T_shade_trunc  BEFORE TRUNCATE trigger on T that refuses a TRUNCATE
 *                   (it would bypass the row trigger and be lost)
 *   _T_old          T after the swap, kept unless --drop-old
 * Shadow indexes are renamed to "_<index>_new" before the ALTER, so that the
 * swap can give each its original name back whatever the ALTER did.
 */
#include "backoff.h"
#include "colmap.h"
#include "engine.h"
#include "tty.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The SQLSTATEs shade reacts to. */
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define SQLSTATE_QUERY_CANCELED "57014"

/* The dollar-quote tag of the trigger function's body. */
#define FN_TAG "$shade$"

struct index_pair {
	char *orig;    /* index name on T */
	char *shadow;  /* its twin's name on the shadow */
};

struct eng {
	PGconn *conn;
	struct dbwait *w;
	const struct engine_opts *opts;

	unsigned orig_oid;
	struct qname orig;      /* T, schema-qualified */
	struct qname shadow;    /* _T_new */
	struct qname log;       /* _T_log */
	struct qname old;       /* _T_old */
	struct qname fn;        /* _T_shade_fn */
	char *trg;              /* _T_shade_trg */
	char *trg_trunc;        /* _T_shade_trunc */
	struct qname keys;      /* pg_temp._shade_keys: one apply batch's keys */
	char *orig_text;        /* T quoted, as a regclass parameter value */
	char *shadow_text;      /* _T_new quoted, likewise */
	bool unlogged;

	struct strlist pk;          /* T's primary-key columns, in order */
	struct strlist shadow_pk;   /* the same columns' names on the shadow */
	struct strlist src;         /* copy mapping: T's column ... */
	struct strlist dst;         /* ... goes into the shadow's column */
	struct strlist deferred;    /* CREATE INDEX statements for after the copy */
	struct index_pair *ipairs;  /* T's indexes and their shadow twins */
	size_t nipairs;
	struct strlist identity;    /* shadow identity columns (their T names) */
	struct strlist fk_names;    /* T's foreign keys, set aside during the copy */
	struct strlist fk_defs;     /* ... and their definitions after the ALTER */
	struct strlist post_swap;   /* after the swap: VALIDATE the foreign keys */
	char *select_list;          /* what the copy selects from T, in dst order:
				       a column, or an ALTER's USING expression */

	struct strlist *plan;       /* dry run: record what pgsql_run runs */

	bool capture_created;       /* triggers may exist on T */

	/* Statements built once after the shadow exists. */
	char *sql_probe_first;
	char *sql_probe_next;
	char *sql_copy_first;
	char *sql_copy_next;
	char *sql_take_keys;
	char *sql_apply_delete;
	char *sql_apply_insert;
};

/* ---- running statements ------------------------------------------------ */

static void
pgsql_notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Fill err from a failed result (or the connection's message). */
static void
pgsql_set_error(struct eng *e, const PGresult *res, const char *sql,
		bool cancel_sent, struct shade_err *err)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (msg == NULL) {
		msg = PQerrorMessage(e->conn);
		if (msg == NULL || *msg == '\0')
			msg = "lost the connection to the server";
	}
	err_set(err, SHADE_FAILED, "%.*s%s%s", (int)strcspn(msg, "\n"), msg,
		detail ? ": " : "", detail ? detail : "");
	/* Keep the one line one line. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state ? state : "");
	err_set_stmt(err, sql);
	if (state && strcmp(state, SQLSTATE_LOCK_NOT_AVAILABLE) == 0)
		err->retryable = true;
	if (state && strcmp(state, SQLSTATE_QUERY_CANCELED) == 0 && cancel_sent)
		err->cancelled = true;
}

static void
pgsql_cancel(struct eng *e)
{
	PGcancel *c = PQgetCancel(e->conn);
	char buf[256];

	if (c) {
		(void)PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
}

/*
 * Run one statement with text parameters. On success *out (if not NULL)
 * gets the result, which the caller clears. Waits through dbwait: the loop
 * keeps serving signals, and a cancel request cancels the statement.
 */
static int WARN_UNUSED
pgsql_exec(struct eng *e, const char *sql, int nparams, const char *const *params,
	   PGresult **out, struct shade_err *err)
{
	PGresult *res, *failed = NULL, *last = NULL;
	bool cancel_sent = false;
	int sock = PQsocket(e->conn);
	int rc = -1;

	if (out)
		*out = NULL;
	if (e->opts && e->opts->trace)
		e->opts->trace(e->opts->trace_arg, sql);
	if (!PQsendQueryParams(e->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		pgsql_set_error(e, NULL, sql, false, err);
		return -1;
	}
	for (;;) {
		int f = PQflush(e->conn);

		if (f == 0)
			break;
		if (f < 0) {
			pgsql_set_error(e, NULL, sql, false, err);
			return -1;
		}
		(void)dbwait_fd(e->w, sock, DBWAIT_READ | DBWAIT_WRITE, -1, true);
		if (!PQconsumeInput(e->conn)) {
			pgsql_set_error(e, NULL, sql, false, err);
			return -1;
		}
	}
	for (;;) {
		while (PQisBusy(e->conn)) {
			enum dbwait_result wr = dbwait_fd(e->w, sock, DBWAIT_READ, -1, cancel_sent);

			if (wr == DBWAIT_CANCEL) {
				pgsql_cancel(e);
				cancel_sent = true;
				continue;
			}
			if (!PQconsumeInput(e->conn)) {
				pgsql_set_error(e, NULL, sql, cancel_sent, err);
				goto out;
			}
		}
		res = PQgetResult(e->conn);
		if (res == NULL)
			break;
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			PQclear(last);
			last = res;
			break;
		default:
			if (failed == NULL)
				failed = res;
			else
				PQclear(res);
			break;
		}
	}
	if (failed) {
		pgsql_set_error(e, failed, sql, cancel_sent, err);
		goto out;
	}
	if (last == NULL) {
		pgsql_set_error(e, NULL, sql, cancel_sent, err);
		goto out;
	}
	if (out) {
		*out = last;
		last = NULL;
	}
	rc = 0;
out:
	PQclear(failed);
	PQclear(last);
	return rc;
}

/* Run a statement without parameters; a dry run records it in its plan. */
static int WARN_UNUSED
pgsql_run(struct eng *e, const char *sql, struct shade_err *err)
{
	if (e->plan && strcmp(sql, "BEGIN") != 0 && strcmp(sql, "COMMIT") != 0)
		strlist_push(e->plan, sql);
	return pgsql_exec(e, sql, 0, NULL, NULL, err);
}

/* Run each statement of l in order. */
static int WARN_UNUSED
pgsql_run_list(struct eng *e, const struct strlist *l, struct shade_err *err)
{
	for (size_t i = 0; i < l->len; i++)
		if (pgsql_run(e, l->items[i], err) != 0)
			return -1;
	return 0;
}

/* Append l's statements to a dry run's plan. */
static void
pgsql_plan_list(struct eng *e, const struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		strlist_push(e->plan, l->items[i]);
}

/* Run a statement built in b, then empty b. */
static int WARN_UNUSED
pgsql_run_buf(struct eng *e, struct buf *b, struct shade_err *err)
{
	int rc = pgsql_run(e, buf_str(b), err);

	buf_reset(b);
	return rc;
}

/* Roll back whatever transaction a failed statement left open. */
static void
pgsql_reset_txn(struct eng *e)
{
	struct shade_err ignored = {0};

	if (PQstatus(e->conn) == CONNECTION_OK &&
	    PQtransactionStatus(e->conn) != PQTRANS_IDLE &&
	    pgsql_run(e, "ROLLBACK", &ignored) != 0) {
		/* Nothing more to do: the next statement reports the state. */
	}
	err_clear(&ignored);
}

/* "SET LOCAL lock_timeout" for DDL on T: never queue the app behind us long. */
static int WARN_UNUSED
pgsql_set_lock_timeout(struct eng *e, struct shade_err *err)
{
	char ms[32];
	const char *params[1] = {ms};

	snprintf(ms, sizeof(ms), "%ld", (long)(e->opts->lock_timeout * 1000 + 0.5));
	return pgsql_exec(e, "SELECT pg_catalog.set_config('lock_timeout', $1, true)",
			  1, params, NULL, err);
}

/* ---- connecting -------------------------------------------------------- */

/* Drive PQconnectPoll through dbwait; the socket may change at every step. */
static int WARN_UNUSED
pgsql_connect_poll(struct eng *e, struct shade_err *err)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (e->conn == NULL)
		die("out of memory");
	if (PQstatus(e->conn) == CONNECTION_BAD)
		goto fail;
	for (;;) {
		enum dbwait_result wr;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		wr = dbwait_fd(e->w, PQsocket(e->conn),
			       st == PGRES_POLLING_READING ? DBWAIT_READ : DBWAIT_WRITE, -1, false);
		if (wr == DBWAIT_CANCEL) {
			err_set(err, SHADE_ABORTED, "aborted while connecting");
			err->cancelled = true;
			return -1;
		}
		st = PQconnectPoll(e->conn);
	}
fail:
	err_set(err, SHADE_FAILED, "cannot connect to PostgreSQL: %.*s",
		(int)strcspn(PQerrorMessage(e->conn), "\n"), PQerrorMessage(e->conn));
	return -1;
}

static int WARN_UNUSED
pgsql_connect(struct eng *e, const char *conninfo, struct shade_err *err)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL, NULL};
	const char *vals[] = {conninfo, "shade", NULL, NULL};
	bool aborted;
	char *pw;
	int rc;

	/* expand_dbname: the dbname value is the whole URI or conninfo. */
	e->conn = PQconnectStartParams(keys, vals, 1);
	if (pgsql_connect_poll(e, err) == 0)
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
	keys[2] = "password";
	vals[2] = pw;
	e->conn = PQconnectStartParams(keys, vals, 1);
	err_clear(err);
	rc = pgsql_connect_poll(e, err);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	return rc;
}

static int
pgsql_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
	   const struct engine_opts *opts, struct shade_err *err)
{
	struct eng *e = xcalloc(1, sizeof(*e));
	int rc = -1;

	e->w = w;
	e->opts = opts;
	*out = e;
	if (pgsql_connect(e, dsn->conninfo, err) != 0)
		goto out;
	PQsetNoticeProcessor(e->conn, pgsql_notice_ignore, NULL);
	if (PQsetnonblocking(e->conn, 1) != 0) {
		pgsql_set_error(e, NULL, "PQsetnonblocking", false, err);
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
	if (pgsql_run(e, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", err) != 0 ||
	    pgsql_run(e, "SET statement_timeout = 0", err) != 0 ||
	    pgsql_run(e, "SET idle_in_transaction_session_timeout = 0", err) != 0 ||
	    pgsql_run(e, "SET client_min_messages = warning", err) != 0 ||
	    /* How alter_parse() read the ALTER-BODY's string literals. */
	    pgsql_run(e, "SET standard_conforming_strings = on", err) != 0 ||
	    /*
	     * Row-level security must never filter what the copy reads: with
	     * it off, a policy that would apply is an error, not lost rows.
	     */
	    pgsql_run(e, "SET row_security = off", err) != 0)
		goto out;
	rc = 0;
out:
	return rc;
}

static void
pgsql_close(struct eng *e)
{
	if (e == NULL)
		return;
	if (e->conn)
		PQfinish(e->conn);
	qname_free(&e->orig);
	qname_free(&e->shadow);
	qname_free(&e->log);
	qname_free(&e->old);
	qname_free(&e->fn);
	qname_free(&e->keys);
	free(e->trg);
	free(e->trg_trunc);
	free(e->orig_text);
	free(e->shadow_text);
	strlist_free(&e->pk);
	strlist_free(&e->shadow_pk);
	strlist_free(&e->src);
	strlist_free(&e->dst);
	strlist_free(&e->deferred);
	strlist_free(&e->identity);
	strlist_free(&e->fk_names);
	strlist_free(&e->fk_defs);
	strlist_free(&e->post_swap);
	for (size_t i = 0; i < e->nipairs; i++) {
		free(e->ipairs[i].orig);
		free(e->ipairs[i].shadow);
	}
	free(e->ipairs);
	free(e->select_list);
	free(e->sql_probe_first);
	free(e->sql_probe_next);
	free(e->sql_copy_first);
	free(e->sql_copy_next);
	free(e->sql_take_keys);
	free(e->sql_apply_delete);
	free(e->sql_apply_insert);
	free(e);
}

/* ---- preflight --------------------------------------------------------- */

static void
pgsql_name_in_schema(struct qname *q, const char *schema, char *name)
{
	q->schema = xstrdup(schema);
	q->name = name;
}

/*
 * What the swap cannot carry over yet, each as a count. A table with any of
 * them is refused before anything is changed, rather than swapped into a
 * state the operator did not expect.
 */
static const char sql_unsupported[] =
	"SELECT "
	" (SELECT count(*) FROM pg_catalog.pg_depend d"
	"   JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	"   JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
	"  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"    AND d.refobjid = $1::pg_catalog.oid AND r.ev_class <> $1::pg_catalog.oid"
	"    AND v.relkind <> 'v'),"
	" (SELECT count(*) FROM pg_catalog.pg_constraint"
	"  WHERE contype = 'f' AND confrelid = $1::pg_catalog.oid"
	"    AND conrelid = $1::pg_catalog.oid),"
	" (SELECT count(*) FROM pg_catalog.pg_rewrite"
	"  WHERE ev_class = $1::pg_catalog.oid AND rulename <> '_RETURN'),"
	" (SELECT count(*) FROM pg_catalog.pg_inherits"
	"  WHERE inhrelid = $1::pg_catalog.oid OR inhparent = $1::pg_catalog.oid),"
	" (SELECT count(*) FROM pg_catalog.pg_publication_rel"
	"  WHERE prrelid = $1::pg_catalog.oid AND (prqual IS NOT NULL OR prattrs IS NOT NULL))";

static const char *const unsupported_what[] = {
	"dependent materialized views",
	"a foreign key that references the table itself",
	"rules",
	"inheritance or partitions",
	"a publication with a row filter or column list",
};

static int
pgsql_preflight(struct eng *e, const struct qname *table, const struct alter_info *alter,
		struct table_summary *out, struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	const char *params[4];
	char oidbuf[16];
	const char *schema;
	int rc = -1;

	(void)alter;
	/* Resolve the name as the server would: the search path if unqualified. */
	params[0] = table->name;
	if (table->schema) {
		params[1] = table->schema;
		if (pgsql_exec(e,
			       "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence,"
			       "  pg_catalog.pg_total_relation_size(c.oid),"
			       "  CASE WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples::bigint END"
			       " FROM pg_catalog.pg_class c"
			       " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
			       " WHERE c.relname = $1 AND n.nspname = $2",
			       2, params, &res, err) != 0)
			goto out;
	} else if (pgsql_exec(e,
			      "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence,"
			      "  pg_catalog.pg_total_relation_size(c.oid),"
			      "  CASE WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples::bigint END"
			      " FROM pg_catalog.pg_class c"
			      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
			      " WHERE c.relname = $1"
			      "   AND n.nspname = ANY (pg_catalog.current_schemas(true))"
			      " ORDER BY pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)"
			      " LIMIT 1",
			      1, params, &res, err) != 0) {
		goto out;
	}
	if (PQntuples(res) == 0) {
		err_set(err, SHADE_USAGE, "unknown table %s%s%s",
			table->schema ? table->schema : "", table->schema ? "." : "", table->name);
		goto out;
	}
	e->orig_oid = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	e->orig.schema = xstrdup(PQgetvalue(res, 0, 1));
	schema = e->orig.schema;  /* not the result's copy: res is cleared below */
	e->orig.name = xstrdup(PQgetvalue(res, 0, 2));
	out->display = xasprintf("%s.%s", e->orig.schema, e->orig.name);
	out->rows_note = xstrdup("the table was never analyzed: ANALYZE it for an estimate");
	out->bytes = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	out->est_rows = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	if (PQgetvalue(res, 0, 3)[0] != 'r') {
		err_set(err, SHADE_USAGE, "%s is not a plain table (relkind %s)",
			out->display, PQgetvalue(res, 0, 3));
		goto out;
	}
	if (PQgetvalue(res, 0, 4)[0] == 't') {
		err_set(err, SHADE_USAGE, "%s is a temporary table, which no other session can see",
			out->display);
		goto out;
	}
	e->unlogged = PQgetvalue(res, 0, 4)[0] == 'u';
	PQclear(res);
	res = NULL;

	pgsql_name_in_schema(&e->shadow, schema, sql_derived_name(SQL_PG, e->orig.name, "_new"));
	pgsql_name_in_schema(&e->log, schema, sql_derived_name(SQL_PG, e->orig.name, "_log"));
	pgsql_name_in_schema(&e->old, schema, sql_derived_name(SQL_PG, e->orig.name, "_old"));
	out->old_display = xasprintf("%s.%s", schema, e->old.name);
	pgsql_name_in_schema(&e->fn, schema, sql_derived_name(SQL_PG, e->orig.name, "_shade_fn"));
	out->leftovers = xasprintf("the change log %s.%s and the trigger function %s.%s()", schema,
				   e->log.name, schema, e->fn.name);
	e->trg = sql_derived_name(SQL_PG, e->orig.name, "_shade_trg");
	e->trg_trunc = sql_derived_name(SQL_PG, e->orig.name, "_shade_trunc");
	e->keys.schema = xstrdup("pg_temp");
	e->keys.name = xstrdup("_shade_keys");
	sql_build(&b, SQL_PG, "%Q", &e->orig);
	e->orig_text = buf_take(&b);
	sql_build(&b, SQL_PG, "%Q", &e->shadow);
	e->shadow_text = buf_take(&b);

	/* The primary key, in key order. */
	snprintf(oidbuf, sizeof(oidbuf), "%u", e->orig_oid);
	params[0] = oidbuf;
	if (pgsql_exec(e,
		       "SELECT a.attname FROM pg_catalog.pg_index i,"
		       "  pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord),"
		       "  pg_catalog.pg_attribute a"
		       " WHERE i.indrelid = $1::pg_catalog.oid AND i.indisprimary"
		       "   AND a.attrelid = i.indrelid AND a.attnum = k.attnum"
		       " ORDER BY k.ord",
		       1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 0) {
		err_set(err, SHADE_USAGE,
			"%s has no primary key: shade needs one to copy in chunks and to apply changes",
			out->display);
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&e->pk, PQgetvalue(res, i, 0));
	out->npk = e->pk.len;
	PQclear(res);
	res = NULL;

	if (pgsql_exec(e, sql_unsupported, 1, params, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(unsupported_what); i++) {
		long n = strtol(PQgetvalue(res, 0, (int)i), NULL, 10);

		if (n > 0) {
			err_set(err, SHADE_USAGE,
				"%s has %s, which shade cannot carry over to the new table yet",
				out->display, unsupported_what[i]);
			goto out;
		}
	}
	PQclear(res);
	res = NULL;

	/* Leftovers of an earlier run. */
	params[0] = schema;
	params[1] = e->shadow.name;
	params[2] = e->log.name;
	params[3] = e->old.name;
	if (pgsql_exec(e,
		       "SELECT c.relname FROM pg_catalog.pg_class c"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		       " WHERE n.nspname = $1 AND c.relname IN ($2, $3, $4)"
		       " ORDER BY c.relname",
		       4, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) > 0) {
		const char *name = PQgetvalue(res, 0, 0);

		if (strcmp(name, e->old.name) == 0)
			err_set(err, SHADE_USAGE,
				"%s.%s exists (the old table an earlier run kept): drop or rename it first",
				schema, name);
		else
			err_set(err, SHADE_USAGE,
				"leftovers of an earlier run: %s.%s exists; if no shade is running on %s, "
				"remove them (DROP TABLE %s.%s; DROP FUNCTION IF EXISTS %s.%s() CASCADE) "
				"and run again (resuming is not supported yet)",
				schema, name, out->display, schema, name, schema, e->fn.name);
		goto out;
	}
	PQclear(res);
	res = NULL;
	params[1] = e->fn.name;
	if (pgsql_exec(e,
		       "SELECT 1 FROM pg_catalog.pg_proc p"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
		       " WHERE n.nspname = $1 AND p.proname = $2",
		       2, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) > 0) {
		err_set(err, SHADE_USAGE,
			"leftovers of an earlier run: function %s.%s exists; if no shade is running on %s, "
			"remove it (DROP FUNCTION %s.%s() CASCADE) and run again",
			schema, e->fn.name, out->display, schema, e->fn.name);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* ---- shadow ------------------------------------------------------------ */

/*
 * Pair each of T's indexes with its twin on a fresh LIKE copy: the same
 * definition after "USING", the same uniqueness and constraint kind.
 * Duplicate definitions pair up in name order, which is as good as any.
 */
static const char sql_index_twins[] =
	"WITH ix AS ("
	"  SELECT i.indrelid, ci.relname AS name, i.indisunique, i.indisprimary,"
	"    COALESCE(con.contype, '-') AS ct,"
	"    pg_catalog.substr(pg_catalog.pg_get_indexdef(i.indexrelid),"
	"      pg_catalog.length('CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END"
	"        || 'INDEX ' || pg_catalog.quote_ident(ci.relname) || ' ON '"
	"        || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ct.relname)"
	"        || ' ') + 1) AS def"
	"  FROM pg_catalog.pg_index i"
	"  JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	"  JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = ct.relnamespace"
	"  LEFT JOIN pg_catalog.pg_constraint con"
	"    ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
	"  WHERE i.indrelid IN ($1::pg_catalog.regclass, $2::pg_catalog.regclass)),"
	" r AS (SELECT *, row_number() OVER (PARTITION BY indrelid, def, indisunique,"
	"          indisprimary, ct ORDER BY name) AS rn FROM ix)"
	" SELECT o.name, s.name, o.def LIKE 'USING %'"
	" FROM r o FULL JOIN r s"
	"   ON s.indrelid = $2::pg_catalog.regclass AND o.def = s.def"
	"  AND o.indisunique = s.indisunique AND o.indisprimary = s.indisprimary"
	"  AND o.ct = s.ct AND o.rn = s.rn"
	" WHERE (o.indrelid = $1::pg_catalog.regclass OR o.indrelid IS NULL)"
	"   AND (s.indrelid = $2::pg_catalog.regclass OR s.indrelid IS NULL)";

static int WARN_UNUSED
pgsql_pair_indexes(struct eng *e, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_index_twins, 2, params, &res, err) != 0)
		goto out;
	e->nipairs = (size_t)PQntuples(res);
	e->ipairs = xcalloc(e->nipairs, sizeof(*e->ipairs));
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1) ||
		    strcmp(PQgetvalue(res, i, 2), "t") != 0) {
			err_set(err, SHADE_FAILED,
				"cannot match the indexes of %s with those of its copy %s",
				e->orig.name, e->shadow.name);
			goto out;
		}
		e->ipairs[i].orig = xstrdup(PQgetvalue(res, i, 0));
		e->ipairs[i].shadow = sql_derived_name(SQL_PG, e->ipairs[i].orig, "_new");
	}
	/* Give each twin a name the swap can find again after the ALTER. */
	for (size_t i = 0; i < e->nipairs; i++) {
		struct qname cur = {e->shadow.schema, PQgetvalue(res, (int)i, 1)};

		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &cur, e->ipairs[i].shadow);
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * After the ALTER: the column mapping (colmap.c), the copy's select list (a
 * column, or the ALTER's USING expression for it), the identity columns,
 * and the check that the primary key is still the same columns.
 */
static int WARN_UNUSED
pgsql_map_columns(struct eng *e, const struct alter_info *alter, struct shade_err *err)
{
	const char *params[1];
	PGresult *res = NULL;
	struct strlist orig_cols = {0}, cols = {0}, identity = {0}, key = {0};
	struct buf sel = {0};
	int rc = -1;

	params[0] = e->orig_text;
	if (pgsql_exec(e,
		       "SELECT attname FROM pg_catalog.pg_attribute"
		       " WHERE attrelid = $1::pg_catalog.regclass AND attnum > 0"
		       "   AND NOT attisdropped AND attgenerated = ''",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&orig_cols, PQgetvalue(res, i, 0));
	PQclear(res);
	params[0] = e->shadow_text;
	if (pgsql_exec(e,
		       "SELECT attname, attidentity <> '' FROM pg_catalog.pg_attribute"
		       " WHERE attrelid = $1::pg_catalog.regclass AND attnum > 0"
		       "   AND NOT attisdropped AND attgenerated = ''"
		       " ORDER BY attnum",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		strlist_push(&cols, PQgetvalue(res, i, 0));
		if (PQgetvalue(res, i, 1)[0] == 't')
			strlist_push(&identity, PQgetvalue(res, i, 0));
	}
	PQclear(res);
	colmap_build(&orig_cols, &cols, alter, false, &e->src, &e->dst);
	for (size_t i = 0; i < e->dst.len; i++) {
		const char *col = e->dst.items[i];
		size_t u;

		buf_append(&sel, i ? ", " : "");
		for (u = 0; u < alter->nusings; u++)
			if (strcmp(alter->usings[u].column, col) == 0)
				break;
		if (u < alter->nusings)
			sql_build(&sel, SQL_PG, "(%A)", alter->usings[u].expr);
		else
			sql_ident(&sel, SQL_PG, e->src.items[i]);
		if (strlist_find(&identity, col) >= 0)
			strlist_push(&e->identity, col);
	}
	e->select_list = buf_take(&sel);

	/* The shadow's key must be T's key, column for column. */
	if (pgsql_exec(e,
		       "SELECT a.attname FROM pg_catalog.pg_index i,"
		       "  pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord),"
		       "  pg_catalog.pg_attribute a"
		       " WHERE i.indrelid = $1::pg_catalog.regclass AND i.indisprimary"
		       "   AND a.attrelid = i.indrelid AND a.attnum = k.attnum"
		       " ORDER BY k.ord",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&key, PQgetvalue(res, i, 0));
	if (!colmap_same_key(&e->src, &e->dst, &e->pk, &key, false)) {
		err_set(err, SHADE_USAGE,
			"the ALTER changes the primary key of %s.%s, which shade cannot do online yet",
			e->orig.schema, e->orig.name);
		goto out;
	}
	e->shadow_pk = key;
	key = (struct strlist){0};
	rc = 0;
out:
	PQclear(res);
	strlist_free(&orig_cols);
	strlist_free(&cols);
	strlist_free(&identity);
	strlist_free(&key);
	buf_free(&sel);
	return rc;
}

/*
 * Set the secondary indexes aside: remember their definitions as the server
 * writes them and drop them, to build each once after the copy instead of
 * maintaining it row by row. Indexes behind constraints stay.
 */
static int WARN_UNUSED
pgsql_defer_indexes(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT ci.relname, pg_catalog.pg_get_indexdef(i.indexrelid)"
		       " FROM pg_catalog.pg_index i"
		       " JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
		       " WHERE i.indrelid = $1::pg_catalog.regclass AND NOT i.indisprimary"
		       "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c"
		       "                   WHERE c.conindid = i.indexrelid)"
		       " ORDER BY ci.relname",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname ix = {e->shadow.schema, PQgetvalue(res, i, 0)};

		strlist_push(&e->deferred, PQgetvalue(res, i, 1));
		sql_build(&b, SQL_PG, "DROP INDEX %Q", &ix);
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * T's foreign keys go onto the shadow before the ALTER (NOT VALID: the
 * shadow is empty), so that the ALTER can drop or change them as it would
 * on T...
 */
static int WARN_UNUSED
pgsql_shadow_foreign_keys(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT conname, pg_catalog.pg_get_constraintdef(oid)"
		       " FROM pg_catalog.pg_constraint"
		       " WHERE conrelid = $1::pg_catalog.regclass AND contype = 'f'"
		       " ORDER BY conname",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		/* The definition is the server's own text. */
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &e->shadow,
			  PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
		strlist_push(&e->fk_names, PQgetvalue(res, i, 0));
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * ... and come off it after the ALTER, to be added back at the swap (NOT
 * VALID, then validated without blocking writes): T already enforced them,
 * so checking every copied row against the referenced table would only
 * cost time and row locks there. A foreign key the ALTER adds stays on the
 * shadow: its violations must fail the copy, not surface after the swap.
 */
static int WARN_UNUSED
pgsql_defer_foreign_keys(struct eng *e, struct shade_err *err)
{
	const char *params[2] = {e->shadow_text, NULL};
	struct strlist kept = {0};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	for (size_t i = 0; i < e->fk_names.len; i++) {
		params[1] = e->fk_names.items[i];
		if (pgsql_exec(e,
			       "SELECT pg_catalog.pg_get_constraintdef(oid)"
			       " FROM pg_catalog.pg_constraint"
			       " WHERE conrelid = $1::pg_catalog.regclass AND conname = $2"
			       "   AND contype = 'f'",
			       2, params, &res, err) != 0)
			goto out;
		if (PQntuples(res) == 1) {  /* else the ALTER dropped it */
			strlist_push(&kept, e->fk_names.items[i]);
			strlist_push(&e->fk_defs, PQgetvalue(res, 0, 0));
			sql_build(&b, SQL_PG, "ALTER TABLE %Q DROP CONSTRAINT %I", &e->shadow,
				  e->fk_names.items[i]);
			if (pgsql_run_buf(e, &b, err) != 0)
				goto out;
		}
		PQclear(res);
		res = NULL;
	}
	strlist_free(&e->fk_names);
	e->fk_names = kept;
	kept = (struct strlist){0};
	rc = 0;
out:
	PQclear(res);
	strlist_free(&kept);
	buf_free(&b);
	return rc;
}

/*
 * What else belongs to T and LIKE does not copy: owner, table and column
 * privileges, statistics targets, storage parameters, the table's comment.
 */
static int WARN_UNUSED
pgsql_copy_privileges(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT r.rolname, r.rolname = current_user"
		       " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner"
		       " WHERE c.oid = $1::pg_catalog.regclass",
		       1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] != 't') {
		sql_build(&b, SQL_PG, "ALTER TABLE %Q OWNER TO %I", &e->shadow, PQgetvalue(res, 0, 0));
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
	}
	PQclear(res);
	if (pgsql_exec(e,
		       "SELECT a.privilege_type, COALESCE(r.rolname, ''), a.grantee = 0,"
		       "  a.is_grantable"
		       " FROM pg_catalog.pg_class c,"
		       "  pg_catalog.aclexplode(c.relacl) a"
		       "  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee"
		       " WHERE c.oid = $1::pg_catalog.regclass AND a.grantee <> c.relowner",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		/* privilege_type is a keyword the server wrote (SELECT, ...). */
		if (PQgetvalue(res, i, 2)[0] == 't')
			sql_build(&b, SQL_PG, "GRANT %s ON %Q TO PUBLIC", PQgetvalue(res, i, 0),
				  &e->shadow);
		else
			sql_build(&b, SQL_PG, "GRANT %s ON %Q TO %I%s", PQgetvalue(res, i, 0),
				  &e->shadow, PQgetvalue(res, i, 1),
				  PQgetvalue(res, i, 3)[0] == 't' ? " WITH GRANT OPTION" : "");
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
	}
	PQclear(res);
	/* Column privileges, on the column's new name (none for a dropped one). */
	if (pgsql_exec(e,
		       "SELECT a.attname, x.privilege_type, COALESCE(r.rolname, ''),"
		       "  x.grantee = 0, x.is_grantable"
		       " FROM pg_catalog.pg_attribute a,"
		       "  pg_catalog.aclexplode(a.attacl) x"
		       "  LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.grantee"
		       " WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0"
		       "   AND NOT a.attisdropped AND a.attacl IS NOT NULL"
		       " ORDER BY a.attnum",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		long at = strlist_find(&e->src, PQgetvalue(res, i, 0));

		if (at < 0)
			continue;
		if (PQgetvalue(res, i, 3)[0] == 't')
			sql_build(&b, SQL_PG, "GRANT %s (%I) ON %Q TO PUBLIC", PQgetvalue(res, i, 1),
				  e->dst.items[at], &e->shadow);
		else
			sql_build(&b, SQL_PG, "GRANT %s (%I) ON %Q TO %I%s", PQgetvalue(res, i, 1),
				  e->dst.items[at], &e->shadow, PQgetvalue(res, i, 2),
				  PQgetvalue(res, i, 4)[0] == 't' ? " WITH GRANT OPTION" : "");
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
	}
	PQclear(res);
	/* Per-column statistics targets. */
	if (pgsql_exec(e,
		       "SELECT attname, attstattarget FROM pg_catalog.pg_attribute"
		       " WHERE attrelid = $1::pg_catalog.regclass AND attnum > 0"
		       "   AND NOT attisdropped AND attstattarget >= 0",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		long at = strlist_find(&e->src, PQgetvalue(res, i, 0));
		int target = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);

		if (at < 0)
			continue;
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ALTER COLUMN %I SET STATISTICS %d", &e->shadow,
			  e->dst.items[at], target);
		if (pgsql_run_buf(e, &b, err) != 0)
			goto out;
	}
	PQclear(res);
	/* Storage parameters (fillfactor, autovacuum settings), as the server lists them. */
	{
		const char *p[2] = {e->shadow_text, e->orig_text};

		if (pgsql_exec(e,
			       "SELECT pg_catalog.format('ALTER TABLE %s SET (%s)',"
			       "  $1::pg_catalog.regclass, pg_catalog.array_to_string(c.reloptions, ', '))"
			       " FROM pg_catalog.pg_class c"
			       " WHERE c.oid = $2::pg_catalog.regclass AND c.reloptions IS NOT NULL",
			       2, p, &res, err) != 0)
			goto out;
		if (PQntuples(res) == 1 && pgsql_run(e, PQgetvalue(res, 0, 0), err) != 0)
			goto out;
		PQclear(res);
		res = NULL;
	}
	/*
	 * The comment: a value, so the server writes the statement itself
	 * (format's %L quotes it), as it writes index definitions.
	 */
	{
		const char *p[2] = {e->shadow_text, e->orig_text};

		if (pgsql_exec(e,
			       "SELECT pg_catalog.format('COMMENT ON TABLE %s IS %L',"
			       "  $1::pg_catalog.regclass, d.description)"
			       " FROM pg_catalog.pg_description d"
			       " WHERE d.objoid = $2::pg_catalog.regclass"
			       "   AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass"
			       "   AND d.objsubid = 0",
			       2, p, &res, err) != 0)
			goto out;
		if (PQntuples(res) == 1 && pgsql_run(e, PQgetvalue(res, 0, 0), err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* "(col, col)" and "($n, $n+1)" for row comparisons on the key. */
static void
pgsql_placeholders(struct buf *b, size_t n, int first)
{
	buf_append_char(b, '(');
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s$%d", i ? ", " : "", first + (int)i);
	buf_append_char(b, ')');
}

/* Build the copy and apply statements once the mapping is known. */
static void
pgsql_build_statements(struct eng *e)
{
	struct buf b = {0}, ph1 = {0}, ph2 = {0};
	size_t n = e->pk.len;

	pgsql_placeholders(&ph1, n, 1);
	pgsql_placeholders(&ph2, n, (int)n + 1);

	/* Keyset probes: the key `rows` rows on, never past the maximum. */
	sql_build(&b, SQL_PG, "SELECT %L FROM %Q WHERE (%L) <= %s ORDER BY %L LIMIT 1 OFFSET $%d",
		  &e->pk, &e->orig, &e->pk, buf_str(&ph1), &e->pk, (int)n + 1);
	e->sql_probe_first = buf_take(&b);
	sql_build(&b, SQL_PG,
		  "SELECT %L FROM %Q WHERE (%L) > %s AND (%L) <= %s ORDER BY %L LIMIT 1 OFFSET $%d",
		  &e->pk, &e->orig, &e->pk, buf_str(&ph1), &e->pk, buf_str(&ph2), &e->pk,
		  2 * (int)n + 1);
	e->sql_probe_next = buf_take(&b);

	/*
	 * The chunk copy. ON CONFLICT on the key only: a row an apply already
	 * wrote is newer than this snapshot's and must stay; any other
	 * violation (a new unique key, NOT NULL, a failing cast) fails loudly.
	 */
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) <= %s ON CONFLICT (%L) DO NOTHING",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, buf_str(&ph1),
		  &e->shadow_pk);
	e->sql_copy_first = buf_take(&b);
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) > %s AND (%L) <= %s ON CONFLICT (%L) DO NOTHING",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, buf_str(&ph1), &e->pk,
		  buf_str(&ph2), &e->shadow_pk);
	e->sql_copy_next = buf_take(&b);

	/*
	 * Apply: take exactly the committed log rows read (by id, never by a
	 * high-water mark: a row committed late with a smaller id is taken by
	 * a later batch), then replace their keys' rows in the shadow by the
	 * original's current rows; a key gone from T is just deleted.
	 */
	sql_build(&b, SQL_PG,
		  "WITH taken AS (DELETE FROM %Q WHERE %I IN"
		  " (SELECT %I FROM %Q ORDER BY %I LIMIT $1) RETURNING %L),"
		  " kept AS (INSERT INTO %Q SELECT DISTINCT %L FROM taken)"
		  " SELECT count(*) FROM taken",
		  &e->log, "_shade_id", "_shade_id", &e->log, "_shade_id", &e->pk, &e->keys, &e->pk);
	e->sql_take_keys = buf_take(&b);
	buf_reset(&ph1);
	for (size_t i = 0; i < n; i++)
		sql_build(&ph1, SQL_PG, "%ss.%I = k.%I", i ? " AND " : "", e->shadow_pk.items[i],
			  e->pk.items[i]);
	sql_build(&b, SQL_PG, "DELETE FROM %Q s USING %Q k WHERE %s", &e->shadow, &e->keys,
		  buf_str(&ph1));
	e->sql_apply_delete = buf_take(&b);
	/* IN, not a join: a USING expression's bare names can only mean T's. */
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) IN (SELECT %L FROM %Q)",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, &e->pk, &e->keys);
	e->sql_apply_insert = buf_take(&b);

	buf_free(&ph1);
	buf_free(&ph2);
}

/* Build the shadow inside the caller's transaction. */
static int WARN_UNUSED
pgsql_shadow_in_txn(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_PG, "CREATE %sTABLE %Q (LIKE %Q INCLUDING ALL)",
		  e->unlogged ? "UNLOGGED " : "", &e->shadow, &e->orig);
	if (pgsql_run_buf(e, &b, err) != 0 || pgsql_pair_indexes(e, err) != 0 ||
	    pgsql_shadow_foreign_keys(e, err) != 0)
		goto out;

	/*
	 * The user's ALTER-BODY, as written: it is SQL by definition. The
	 * extended protocol runs exactly one statement, and alter_parse()
	 * already refused a ';' outside quotes.
	 */
	sql_build(&b, SQL_PG, "ALTER TABLE %Q %A", &e->shadow, alter_body);
	if (pgsql_run_buf(e, &b, err) != 0) {
		if (!err->cancelled)
			err_prefix(err, SHADE_USAGE, "the ALTER fails on the shadow table: ");
		goto out;
	}
	if (pgsql_map_columns(e, alter, err) != 0 || pgsql_defer_indexes(e, err) != 0 ||
	    pgsql_defer_foreign_keys(e, err) != 0 || pgsql_copy_privileges(e, err) != 0)
		goto out;
	pgsql_build_statements(e);
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static int
pgsql_create_shadow(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    struct shade_err *err)
{
	/*
	 * One transaction: a failure anywhere leaves nothing behind, and
	 * lock_timeout bounds the locks the ALTER may take on other tables
	 * (a foreign key locks the table it references).
	 */
	if (pgsql_run(e, "BEGIN", err) != 0 || pgsql_set_lock_timeout(e, err) != 0 ||
	    pgsql_shadow_in_txn(e, alter_body, alter, err) != 0 ||
	    pgsql_run(e, "COMMIT", err) != 0) {
		pgsql_reset_txn(e);  /* rolls the shadow back: nothing is left */
		return -1;
	}
	return 0;
}

/* ---- capture ----------------------------------------------------------- */

/*
 * The capture's statements: pre (the log, the apply's key table, the trigger
 * function: nothing that locks T) and trg (the triggers on T).
 */
static int WARN_UNUSED
pgsql_capture_statements(struct eng *e, struct strlist *pre, struct strlist *trg,
			 struct shade_err *err)
{
	struct buf b = {0}, body = {0}, oldk = {0}, newk = {0};
	int rc = -1;

	/* The log: the key columns with T's types, plus an id. */
	sql_build(&b, SQL_PG, "CREATE TABLE IF NOT EXISTS %Q AS SELECT %L FROM %Q WITH NO DATA",
		  &e->log, &e->pk, &e->orig);
	strlist_push_take(pre, buf_take(&b));
	sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD COLUMN IF NOT EXISTS %I bigserial PRIMARY KEY",
		  &e->log, "_shade_id");
	strlist_push_take(pre, buf_take(&b));
	sql_build(&b, SQL_PG,
		  "CREATE TEMP TABLE IF NOT EXISTS %I ON COMMIT DELETE ROWS AS SELECT %L FROM %Q WITH NO DATA",
		  e->keys.name, &e->pk, &e->log);
	strlist_push_take(pre, buf_take(&b));

	for (size_t i = 0; i < e->pk.len; i++) {
		sql_build(&oldk, SQL_PG, "%sOLD.%I", i ? ", " : "", e->pk.items[i]);
		sql_build(&newk, SQL_PG, "%sNEW.%I", i ? ", " : "", e->pk.items[i]);
	}
	/*
	 * The trigger function. An UPDATE logs the old key, and the new one
	 * too when the key changed, so both rows get re-read. A TRUNCATE
	 * would bypass the row trigger and be lost: it is refused.
	 */
	sql_build(&body, SQL_PG,
		  "BEGIN\n"
		  "  IF TG_OP = 'TRUNCATE' THEN\n"
		  "    RAISE EXCEPTION 'shade is changing the schema of this table: TRUNCATE is refused until it ends';\n"
		  "  END IF;\n"
		  "  IF TG_OP <> 'INSERT' THEN\n"
		  "    INSERT INTO %Q (%L) VALUES (%s);\n"
		  "  END IF;\n"
		  "  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ROW(%s) IS DISTINCT FROM ROW(%s)) THEN\n"
		  "    INSERT INTO %Q (%L) VALUES (%s);\n"
		  "  END IF;\n"
		  "  RETURN NULL;\n"
		  "END",
		  &e->log, &e->pk, buf_str(&oldk), buf_str(&newk), buf_str(&oldk), &e->log,
		  &e->pk, buf_str(&newk));
	if (strstr(buf_str(&body), FN_TAG) != NULL) {
		err_set(err, SHADE_USAGE, "a name of %s contains %s, which shade cannot quote here",
			e->orig.name, FN_TAG);
		goto out;
	}
	sql_build(&b, SQL_PG,
		  "CREATE OR REPLACE FUNCTION %Q() RETURNS trigger LANGUAGE plpgsql AS " FN_TAG "%s" FN_TAG,
		  &e->fn, buf_str(&body));
	strlist_push_take(pre, buf_take(&b));

	sql_build(&b, SQL_PG,
		  "CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %Q FOR EACH ROW EXECUTE FUNCTION %Q()",
		  e->trg, &e->orig, &e->fn);
	strlist_push_take(trg, buf_take(&b));
	sql_build(&b, SQL_PG,
		  "CREATE TRIGGER %I BEFORE TRUNCATE ON %Q FOR EACH STATEMENT EXECUTE FUNCTION %Q()",
		  e->trg_trunc, &e->orig, &e->fn);
	strlist_push_take(trg, buf_take(&b));
	rc = 0;
out:
	buf_free(&b);
	buf_free(&body);
	buf_free(&oldk);
	buf_free(&newk);
	return rc;
}

static int
pgsql_create_capture(struct eng *e, struct shade_err *err)
{
	struct strlist pre = {0}, trg = {0};
	int rc = -1;

	if (pgsql_capture_statements(e, &pre, &trg, err) != 0)
		goto out;
	/* Nothing here locks T; safe to repeat when the triggers are retried. */
	if (pgsql_run_list(e, &pre, err) != 0)
		goto out;
	/*
	 * The triggers take a SHARE ROW EXCLUSIVE lock on T, which waits for
	 * running writers and makes new ones wait behind it: bounded by
	 * lock_timeout, retried by the caller.
	 */
	if (pgsql_run(e, "BEGIN", err) != 0 || pgsql_set_lock_timeout(e, err) != 0 ||
	    pgsql_run_list(e, &trg, err) != 0 || pgsql_run(e, "COMMIT", err) != 0) {
		pgsql_reset_txn(e);
		goto out;
	}
	e->capture_created = true;
	rc = 0;
out:
	strlist_free(&pre);
	strlist_free(&trg);
	return rc;
}

/* ---- copy -------------------------------------------------------------- */

static void
pgsql_keyval_from(PGresult *res, int row, struct keyval *k)
{
	keyval_free(k);
	k->n = (size_t)PQnfields(res);
	k->vals = xcalloc(k->n, sizeof(char *));
	for (size_t i = 0; i < k->n; i++)
		k->vals[i] = xstrdup(PQgetvalue(res, row, (int)i));
}

static int
pgsql_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err)
{
	struct buf b = {0}, order = {0};
	PGresult *res = NULL;
	int rc = -1;

	for (size_t i = 0; i < e->pk.len; i++)
		sql_build(&order, SQL_PG, "%s%I DESC", i ? ", " : "", e->pk.items[i]);
	sql_build(&b, SQL_PG, "SELECT %L FROM %Q ORDER BY %s LIMIT 1", &e->pk, &e->orig,
		  buf_str(&order));
	if (pgsql_exec(e, buf_str(&b), 0, NULL, &res, err) != 0)
		goto out;
	*empty = PQntuples(res) == 0;
	if (!*empty)
		pgsql_keyval_from(res, 0, max);
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	buf_free(&order);
	return rc;
}

/* Say which rows failed to copy: a row that does not fit the new schema. */
static void
pgsql_copy_context(struct eng *e, const struct keyval *after, const struct keyval *upper,
		   struct shade_err *err)
{
	struct buf b = {0};

	if (err->cancelled)
		return;
	buf_append(&b, "a row does not fit the new schema: copying rows with key (");
	for (size_t i = 0; i < e->pk.len; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", e->pk.items[i]);
	buf_append(&b, ") in (");
	for (size_t i = 0; after && i < after->n; i++)
		buf_printf(&b, "%s%.40s", i ? ", " : "", after->vals[i]);
	buf_append(&b, after ? "" : "start");
	buf_append(&b, "; ");
	for (size_t i = 0; i < upper->n; i++)
		buf_printf(&b, "%s%.40s", i ? ", " : "", upper->vals[i]);
	buf_append(&b, "] failed: ");
	/* Truncation is fine: the statement and detail are in err->stmt. */
	err_prefix(err, SHADE_FAILED, "%s", buf_str(&b));
	buf_free(&b);
}

static int
pgsql_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max,
		 long rows, struct keyval *upper, long long *copied, bool *last,
		 struct shade_err *err)
{
	size_t n = e->pk.len, np = 0;
	const char **params = xcalloc(2 * n + 1, sizeof(char *));
	char offset[32];
	PGresult *res = NULL;
	int rc = -1;

	snprintf(offset, sizeof(offset), "%ld", rows > 1 ? rows - 1 : 0);
	if (after)
		for (size_t i = 0; i < n; i++)
			params[np++] = after->vals[i];
	for (size_t i = 0; i < n; i++)
		params[np++] = max->vals[i];
	params[np] = offset;
	if (pgsql_exec(e, after ? e->sql_probe_next : e->sql_probe_first, (int)np + 1, params,
		       &res, err) != 0)
		goto out;
	if (PQntuples(res) == 0) {
		keyval_copy(upper, max);
		*last = true;
	} else {
		pgsql_keyval_from(res, 0, upper);
		*last = false;
	}
	PQclear(res);
	res = NULL;

	/* Copy (after, upper]: the same parameters with upper for max. */
	np = after ? n : 0;
	for (size_t i = 0; i < n; i++)
		params[np++] = upper->vals[i];
	if (pgsql_exec(e, after ? e->sql_copy_next : e->sql_copy_first, (int)np, params, &res,
		       err) != 0) {
		pgsql_copy_context(e, after, upper, err);
		goto out;
	}
	*copied = strtoll(PQcmdTuples(res), NULL, 10);
	rc = 0;
out:
	PQclear(res);
	free(params);
	return rc;
}

/* ---- apply ------------------------------------------------------------- */

/* One batch inside the caller's transaction. */
static int WARN_UNUSED
pgsql_apply_in_txn(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	char lim[32];
	const char *params[1] = {lim};
	PGresult *res = NULL;

	snprintf(lim, sizeof(lim), "%ld", limit);
	/* Take the batch: *applied counts the log rows consumed. */
	if (pgsql_exec(e, e->sql_take_keys, 1, params, &res, err) != 0)
		return -1;
	*applied = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (*applied == 0)
		return 0;
	if (pgsql_run(e, e->sql_apply_delete, err) != 0 ||
	    pgsql_run(e, e->sql_apply_insert, err) != 0)
		return -1;
	return 0;
}

static int
pgsql_apply(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	if (pgsql_run(e, "BEGIN", err) != 0 || pgsql_apply_in_txn(e, limit, applied, err) != 0 ||
	    pgsql_run(e, "COMMIT", err) != 0) {
		pgsql_reset_txn(e);
		return -1;
	}
	return 0;
}

static int
pgsql_backlog(struct eng *e, long long *rows, struct shade_err *err)
{
	struct buf b = {0};
	PGresult *res = NULL;
	int rc = -1;

	sql_build(&b, SQL_PG, "SELECT count(*) FROM %Q", &e->log);
	if (pgsql_exec(e, buf_str(&b), 0, NULL, &res, err) != 0)
		goto out;
	*rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* ---- indexes ----------------------------------------------------------- */

static int
pgsql_build_indexes(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	/* Server-written definitions, naming the shadow and its own names. */
	for (size_t i = 0; i < e->deferred.len; i++)
		if (pgsql_run(e, e->deferred.items[i], err) != 0)
			goto out;
	/* A new table has no statistics: the planner needs them at once. */
	sql_build(&b, SQL_PG, "ANALYZE %Q", &e->shadow);
	if (pgsql_run_buf(e, &b, err) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* ---- swap -------------------------------------------------------------- */

/*
 * Sequences: a serial column's sequence is owned by T's column; hand it to
 * the new table's column (the shadow's default already calls it), or
 * dropping _T_old would drop it too. An identity column got its own
 * sequence with the shadow: move it to where T's stands.
 */
/*
 * Identity columns got their own sequences with the shadow: set each to
 * where T's stands. With $n parameters; run before the renames.
 */
static const char sql_identity_setval[] =
	"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence($1, $2),"
	"  COALESCE(s.last_value, s.start_value), s.last_value IS NOT NULL)"
	" FROM pg_catalog.pg_sequences s"
	" WHERE pg_catalog.pg_get_serial_sequence($3, $4) IS NOT NULL"
	"   AND (pg_catalog.quote_ident(s.schemaname) || '.' ||"
	"        pg_catalog.quote_ident(s.sequencename))::pg_catalog.regclass"
	"     = pg_catalog.pg_get_serial_sequence($3, $4)::pg_catalog.regclass";

static int WARN_UNUSED
pgsql_swap_identity(struct eng *e, struct shade_err *err)
{
	for (size_t i = 0; i < e->identity.len; i++) {
		long at = strlist_find(&e->dst, e->identity.items[i]);
		const char *p[4] = {e->shadow_text, e->identity.items[i], e->orig_text,
				    e->src.items[at]};

		if (pgsql_exec(e, sql_identity_setval, 4, p, NULL, err) != 0)
			return -1;
	}
	return 0;
}

/* Run a catalog query about T; the caller clears *res. */
static int WARN_UNUSED
pgsql_ask(struct eng *e, const char *sql, PGresult **res, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};

	return pgsql_exec(e, sql, 1, params, res, err);
}

/* Foreign keys of other tables that reference T. */
static const char sql_fk_in[] =
	"SELECT n.nspname, c.relname, k.conname, pg_catalog.pg_get_constraintdef(k.oid)"
	" FROM pg_catalog.pg_constraint k"
	" JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE k.contype = 'f' AND k.confrelid = $1::pg_catalog.regclass"
	"   AND k.conrelid <> k.confrelid"
	" ORDER BY 1, 2, 3";

/* T's own triggers (not shade's, not the internal ones of constraints). */
static const char sql_user_triggers[] =
	"SELECT tgname, pg_catalog.pg_get_triggerdef(oid), tgenabled"
	" FROM pg_catalog.pg_trigger"
	" WHERE tgrelid = $1::pg_catalog.regclass AND NOT tgisinternal"
	" ORDER BY tgname";

/* Row-level security switches, replica identity and its index. */
static const char sql_table_flags[] =
	"SELECT c.relrowsecurity, c.relforcerowsecurity, c.relreplident,"
	"  (SELECT ci.relname FROM pg_catalog.pg_index i"
	"   JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	"   WHERE i.indrelid = c.oid AND i.indisreplident)"
	" FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass";

/*
 * T's policies, as CREATE POLICY text for the table T names after the
 * renames: the expressions and role names as the server writes them.
 */
static const char sql_policies[] =
	"SELECT pg_catalog.format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s',"
	"  p.polname, $1::pg_catalog.text, CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,"
	"  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
	"    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,"
	"  (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC'"
	"     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, ', ')"
	"   FROM pg_catalog.unnest(p.polroles) AS r),"
	"  ' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',"
	"  ' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')')"
	" FROM pg_catalog.pg_policy p WHERE p.polrelid = $1::pg_catalog.regclass"
	" ORDER BY p.polname";

/* Publications T is a member of. */
static const char sql_publications[] =
	"SELECT p.pubname FROM pg_catalog.pg_publication_rel r"
	" JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid"
	" WHERE r.prrelid = $1::pg_catalog.regclass ORDER BY 1";

/* Views reading T, as CREATE OR REPLACE text to re-point them after the renames. */
static const char sql_views[] =
	"SELECT DISTINCT n.nspname, v.relname, pg_catalog.pg_get_viewdef(v.oid)"
	" FROM pg_catalog.pg_depend d"
	" JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	" JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
	" JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace"
	" WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"   AND d.refobjid = $1::pg_catalog.regclass AND v.relkind = 'v'"
	" ORDER BY 1, 2";

/*
 * The swap's statements after the drain, in order. Before the renames:
 * drop the capture triggers, T's own triggers (they are recreated on the
 * new table), the foreign keys that reference T and T's publication
 * memberships; hand serial sequences to the new table (a serial column's
 * sequence is owned by T's column: dropping _T_old would drop it too).
 * Then rename T to _T_old and the shadow to T, and the indexes: index names
 * are per schema, so T's move aside before their twins take their names.
 * After the renames, on the new T: replica identity, the foreign keys out
 * (NOT VALID; validated after the commit, in e->post_swap) and in, the
 * triggers, row-level security and policies, publications, and views
 * re-pointed. Object definitions are the server's own text (pg_get_*def),
 * which names T by name and so means the new table once it is renamed.
 * Reads the catalog, changes nothing.
 */
static int WARN_UNUSED
pgsql_swap_statements(struct eng *e, struct strlist *out, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	struct strlist after = {0};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	strlist_free(&e->post_swap);
	sql_build(&b, SQL_PG, "DROP TRIGGER %I ON %Q", e->trg, &e->orig);
	strlist_push_take(out, buf_take(&b));
	sql_build(&b, SQL_PG, "DROP TRIGGER %I ON %Q", e->trg_trunc, &e->orig);
	strlist_push_take(out, buf_take(&b));

	if (pgsql_ask(e, sql_user_triggers, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		const char *state = PQgetvalue(res, i, 2);

		if (strcmp(name, e->trg) == 0 || strcmp(name, e->trg_trunc) == 0)
			continue;
		sql_build(&b, SQL_PG, "DROP TRIGGER %I ON %Q", name, &e->orig);
		strlist_push_take(out, buf_take(&b));
		strlist_push(&after, PQgetvalue(res, i, 1));
		if (state[0] != 'O') {
			sql_build(&b, SQL_PG, "ALTER TABLE %Q %s TRIGGER %I", &e->orig,
				  state[0] == 'D' ? "DISABLE" : state[0] == 'R' ? "ENABLE REPLICA"
									 : "ENABLE ALWAYS",
				  name);
			strlist_push_take(&after, buf_take(&b));
		}
	}
	PQclear(res);
	res = NULL;

	if (pgsql_ask(e, sql_fk_in, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname child = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		const char *name = PQgetvalue(res, i, 2);

		sql_build(&b, SQL_PG, "ALTER TABLE %Q DROP CONSTRAINT %I", &child, name);
		strlist_push_take(out, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &child, name,
			  PQgetvalue(res, i, 3));
		strlist_push_take(&after, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER TABLE %Q VALIDATE CONSTRAINT %I", &child, name);
		strlist_push_take(&e->post_swap, buf_take(&b));
	}
	PQclear(res);
	res = NULL;

	if (pgsql_ask(e, sql_publications, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		sql_build(&b, SQL_PG, "ALTER PUBLICATION %I DROP TABLE %Q", PQgetvalue(res, i, 0),
			  &e->orig);
		strlist_push_take(out, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER PUBLICATION %I ADD TABLE %Q", PQgetvalue(res, i, 0),
			  &e->orig);
		strlist_push_take(&after, buf_take(&b));
	}
	PQclear(res);
	res = NULL;

	if (pgsql_exec(e,
		       "SELECT n.nspname, s.relname, a.attname"
		       " FROM pg_catalog.pg_depend d"
		       " JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace"
		       " JOIN pg_catalog.pg_attribute a"
		       "   ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
		       " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
		       "   AND d.refobjid = $1::pg_catalog.regclass AND d.deptype = 'a'",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname seq = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		long at = strlist_find(&e->src, PQgetvalue(res, i, 2));

		if (at < 0)
			continue;  /* the column is dropped: the sequence stays with _T_old */
		sql_build(&b, SQL_PG, "ALTER SEQUENCE %Q OWNED BY %Q.%I", &seq, &e->shadow,
			  e->dst.items[at]);
		strlist_push_take(out, buf_take(&b));
	}
	PQclear(res);
	res = NULL;

	/* What to set on the new table once it carries T's name. */
	if (pgsql_ask(e, sql_table_flags, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 1) {
		const char *ri = PQgetvalue(res, 0, 2);

		if (ri[0] == 'i' && !PQgetisnull(res, 0, 3))
			sql_build(&b, SQL_PG, "ALTER TABLE %Q REPLICA IDENTITY USING INDEX %I",
				  &e->orig, PQgetvalue(res, 0, 3));
		else if (ri[0] == 'f')
			sql_build(&b, SQL_PG, "ALTER TABLE %Q REPLICA IDENTITY FULL", &e->orig);
		else if (ri[0] == 'n')
			sql_build(&b, SQL_PG, "ALTER TABLE %Q REPLICA IDENTITY NOTHING", &e->orig);
		if (b.len > 0)
			strlist_push_take(&after, buf_take(&b));
		if (PQgetvalue(res, 0, 0)[0] == 't') {
			sql_build(&b, SQL_PG, "ALTER TABLE %Q ENABLE ROW LEVEL SECURITY", &e->orig);
			strlist_push_take(&after, buf_take(&b));
		}
		if (PQgetvalue(res, 0, 1)[0] == 't') {
			sql_build(&b, SQL_PG, "ALTER TABLE %Q FORCE ROW LEVEL SECURITY", &e->orig);
			strlist_push_take(&after, buf_take(&b));
		}
	}
	PQclear(res);
	res = NULL;
	if (pgsql_ask(e, sql_policies, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&after, PQgetvalue(res, i, 0));
	PQclear(res);
	res = NULL;

	for (size_t i = 0; i < e->fk_names.len; i++) {
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I %s NOT VALID", &e->orig,
			  e->fk_names.items[i], e->fk_defs.items[i]);
		strlist_push_take(&after, buf_take(&b));
		sql_build(&b, SQL_PG, "ALTER TABLE %Q VALIDATE CONSTRAINT %I", &e->orig,
			  e->fk_names.items[i]);
		strlist_push_take(&e->post_swap, buf_take(&b));
	}

	if (pgsql_ask(e, sql_views, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct qname view = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};

		sql_build(&b, SQL_PG, "CREATE OR REPLACE VIEW %Q AS %s", &view, PQgetvalue(res, i, 2));
		strlist_push_take(&after, buf_take(&b));
	}
	PQclear(res);
	res = NULL;

	sql_build(&b, SQL_PG, "ALTER TABLE %Q RENAME TO %I", &e->orig, e->old.name);
	strlist_push_take(out, buf_take(&b));
	sql_build(&b, SQL_PG, "ALTER TABLE %Q RENAME TO %I", &e->shadow, e->orig.name);
	strlist_push_take(out, buf_take(&b));
	for (size_t i = 0; i < e->nipairs; i++) {
		struct qname ix = {e->orig.schema, e->ipairs[i].orig};
		char *aside = sql_derived_name(SQL_PG, e->ipairs[i].orig, "_old");

		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &ix, aside);
		strlist_push_take(out, buf_take(&b));
		free(aside);
	}
	for (size_t i = 0; i < e->nipairs; i++) {
		struct qname twin = {e->orig.schema, e->ipairs[i].shadow};
		const char *p[2] = {e->orig.schema, e->ipairs[i].shadow};
		bool exists;

		/* The ALTER may have dropped the twin (a dropped column's index). */
		if (pgsql_exec(e,
			       "SELECT 1 FROM pg_catalog.pg_class c"
			       " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
			       " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'i'",
			       2, p, &res, err) != 0)
			goto out;
		exists = PQntuples(res) > 0;
		PQclear(res);
		res = NULL;
		if (!exists)
			continue;
		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &twin, e->ipairs[i].orig);
		strlist_push_take(out, buf_take(&b));
	}
	for (size_t i = 0; i < after.len; i++)
		strlist_push(out, after.items[i]);
	rc = 0;
out:
	PQclear(res);
	strlist_free(&after);
	buf_free(&b);
	return rc;
}

static int
pgsql_swap(struct eng *e, struct shade_err *err)
{
	struct strlist tail = {0};
	struct buf b = {0};
	long long applied;
	int rc = -1;

	if (pgsql_run(e, "BEGIN", err) != 0 || pgsql_set_lock_timeout(e, err) != 0)
		goto fail;
	/*
	 * From here no writer can touch T, and every writer that did has
	 * committed (it held a lock we waited for): draining the log now
	 * leaves shadow = transform(T) for every key.
	 */
	sql_build(&b, SQL_PG, "LOCK TABLE %Q IN ACCESS EXCLUSIVE MODE", &e->orig);
	if (pgsql_run_buf(e, &b, err) != 0)
		goto fail;
	do {
		if (pgsql_apply_in_txn(e, 10000, &applied, err) != 0)
			goto fail;
	} while (applied > 0);
	if (pgsql_swap_identity(e, err) != 0 || pgsql_swap_statements(e, &tail, err) != 0 ||
	    pgsql_run_list(e, &tail, err) != 0 || pgsql_run(e, "COMMIT", err) != 0)
		goto fail;
	e->capture_created = false;
	rc = 0;
	goto out;
fail:
	pgsql_reset_txn(e);
out:
	strlist_free(&tail);
	buf_free(&b);
	return rc;
}

/* ---- cleanup ----------------------------------------------------------- */

static void
pgsql_finish_statements(struct eng *e, bool drop_old, struct strlist *out)
{
	struct buf b = {0};

	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->log);
	strlist_push_take(out, buf_take(&b));
	sql_build(&b, SQL_PG, "DROP FUNCTION IF EXISTS %Q()", &e->fn);
	strlist_push_take(out, buf_take(&b));
	if (drop_old) {
		sql_build(&b, SQL_PG, "DROP TABLE %Q", &e->old);
		strlist_push_take(out, buf_take(&b));
	}
}

static int
pgsql_finish(struct eng *e, bool drop_old, struct shade_err *err)
{
	struct strlist l = {0};
	int rc;

	pgsql_finish_statements(e, drop_old, &l);
	/*
	 * Validating a foreign key reads the whole table but takes only a
	 * SHARE UPDATE EXCLUSIVE lock: writers go on meanwhile.
	 */
	rc = pgsql_run_list(e, &e->post_swap, err) == 0 ? pgsql_run_list(e, &l, err) : -1;
	strlist_free(&l);
	return rc;
}

/* ---- dry run ----------------------------------------------------------- */

/*
 * Everything a run would do, in a transaction that is rolled back: the
 * shadow and the ALTER for real (so the server checks them), a sample copy
 * timed on it, the deferred indexes built on the sample. What would lock T
 * (the triggers, the swap) is only listed, never run.
 */
static int
pgsql_dry_run(struct eng *e, const char *alter_body, const struct alter_info *alter,
	      long sample_rows, struct dry_run_report *out, struct shade_err *err)
{
	struct strlist pre = {0}, trg = {0}, tail = {0};
	struct keyval max = {0}, upper = {0};
	struct buf b = {0};
	bool empty = true, last;
	double t0;
	int rc = -1;

	e->plan = &out->plan;
	if (pgsql_run(e, "BEGIN", err) != 0 || pgsql_set_lock_timeout(e, err) != 0 ||
	    pgsql_shadow_in_txn(e, alter_body, alter, err) != 0 ||
	    pgsql_capture_statements(e, &pre, &trg, err) != 0)
		goto out;
	pgsql_plan_list(e, &pre);
	pgsql_plan_list(e, &trg);
	strlist_push(e->plan, e->sql_probe_first);
	strlist_push(e->plan, e->sql_copy_first);
	strlist_push(e->plan, e->sql_probe_next);
	strlist_push(e->plan, e->sql_copy_next);
	strlist_push(e->plan, e->sql_take_keys);
	strlist_push(e->plan, e->sql_apply_delete);
	strlist_push(e->plan, e->sql_apply_insert);

	/*
	 * With foreign keys the transaction holds a lock on the referenced
	 * tables that blocks their writers: keep it to milliseconds, no sample.
	 */
	out->sample_skipped = e->fk_names.len > 0;
	if (out->sample_skipped)
		out->sample_note = xstrdup("the shadow's foreign keys would lock the tables they "
					   "reference for as long as the dry run's transaction");
	if (!out->sample_skipped && pgsql_copy_bounds(e, &max, &empty, err) != 0)
		goto out;
	if (!empty) {
		t0 = now_seconds();
		if (pgsql_copy_chunk(e, NULL, &max, sample_rows, &upper, &out->sample_rows, &last,
				     err) != 0)
			goto out;
		out->sample_seconds = now_seconds() - t0;
	}
	if (out->sample_skipped) {
		for (size_t i = 0; i < e->deferred.len; i++)
			strlist_push(e->plan, e->deferred.items[i]);
	} else if (pgsql_build_indexes(e, err) != 0) {
		goto out;
	}
	sql_build(&b, SQL_PG, "LOCK TABLE %Q IN ACCESS EXCLUSIVE MODE", &e->orig);
	strlist_push_take(e->plan, buf_take(&b));
	if (e->identity.len > 0)
		strlist_push(e->plan, sql_identity_setval);
	if (pgsql_swap_statements(e, &tail, err) != 0)
		goto out;
	pgsql_plan_list(e, &tail);
	strlist_free(&tail);
	pgsql_plan_list(e, &e->post_swap);
	pgsql_finish_statements(e, false, &tail);
	pgsql_plan_list(e, &tail);
	rc = 0;
out:
	e->plan = NULL;
	pgsql_reset_txn(e);  /* the rollback: nothing of this stays */
	strlist_free(&pre);
	strlist_free(&trg);
	strlist_free(&tail);
	keyval_free(&max);
	keyval_free(&upper);
	buf_free(&b);
	return rc;
}

static int
pgsql_undo(struct eng *e, struct shade_err *err)
{
	struct backoff bo;
	struct buf b = {0};
	int rc = -1;

	if (PQstatus(e->conn) != CONNECTION_OK) {
		err_set(err, SHADE_FAILED,
			"lost the connection; remove %s.%s, %s.%s, function %s.%s() and triggers %s, %s on %s.%s by hand",
			e->shadow.schema, e->shadow.name, e->log.schema, e->log.name, e->fn.schema,
			e->fn.name, e->trg, e->trg_trunc, e->orig.schema, e->orig.name);
		goto out;
	}
	pgsql_reset_txn(e);
	/*
	 * Dropping the triggers locks T, each attempt bounded by lock_timeout
	 * so the application never queues behind us for long. Undo is more
	 * patient than the capture and the swap (at least 20 attempts, backing
	 * off to 5 s, about a minute and a half): the usual reason to be here
	 * is that a long transaction kept the swap from its lock, and giving
	 * up now would leave the triggers writing the log for nobody.
	 */
	backoff_init(&bo, 0.5, 5, e->opts->lock_retries > 20 ? e->opts->lock_retries : 20);
	while (e->capture_created) {
		double pause;

		err_clear(err);
		if (pgsql_run(e, "BEGIN", err) == 0 && pgsql_set_lock_timeout(e, err) == 0) {
			sql_build(&b, SQL_PG, "DROP TRIGGER IF EXISTS %I ON %Q", e->trg, &e->orig);
			if (pgsql_run_buf(e, &b, err) == 0) {
				sql_build(&b, SQL_PG, "DROP TRIGGER IF EXISTS %I ON %Q", e->trg_trunc,
					  &e->orig);
				if (pgsql_run_buf(e, &b, err) == 0 && pgsql_run(e, "COMMIT", err) == 0) {
					e->capture_created = false;
					break;
				}
			}
		}
		buf_reset(&b);
		pgsql_reset_txn(e);
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			goto out;
		dbwait_sleep(e->w, pause);
	}
	sql_build(&b, SQL_PG, "DROP FUNCTION IF EXISTS %Q()", &e->fn);
	if (pgsql_run_buf(e, &b, err) != 0)
		goto out;
	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->log);
	if (pgsql_run_buf(e, &b, err) != 0)
		goto out;
	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->shadow);
	if (pgsql_run_buf(e, &b, err) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

const struct engine engine_pg = {
	.name = "PostgreSQL",
	.dialect = SQL_PG,
	.open = pgsql_open,
	.close = pgsql_close,
	.preflight = pgsql_preflight,
	.create_shadow = pgsql_create_shadow,
	.dry_run = pgsql_dry_run,
	.create_capture = pgsql_create_capture,
	.copy_bounds = pgsql_copy_bounds,
	.copy_chunk = pgsql_copy_chunk,
	.apply = pgsql_apply,
	.backlog = pgsql_backlog,
	.build_indexes = pgsql_build_indexes,
	.swap = pgsql_swap,
	.finish = pgsql_finish,
	.undo = pgsql_undo,
};

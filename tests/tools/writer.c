/*
 * writer.c - a concurrent write load for the mirror tests.
 *
 * N worker processes (fork(), one connection each) run short transactions
 * against a table while shade migrates it. Every transaction applies the same
 * change, with the same bound values, to the table AND to a mirror table that
 * shade does not touch, then commits (or, now and then, rolls back). Since
 * both tables start identical and always receive the same writes in the same
 * transaction, after the migration the altered table must equal the mirror on
 * every original column, row for row: any lost, duplicated or stale row is a
 * bug in shade. Rolled-back writes must not appear in either table.
 *
 * Each transaction does one of:
 *   insert    a new row with a fresh key
 *   update    non-key columns: either all of them to new values, or a
 *             relative `qty = qty + d` (which is only right if the row read
 *             was right)
 *   pkupdate  move a row to a fresh, never used key
 *   delete    a row
 * Existing keys are picked at random within the key range the table had at
 * the start, or among the worker's own fresh keys; a key that is gone affects
 * no row in either table, which is fine. Fresh keys come from a range per
 * worker above the initial maximum (worker w: max + 1 + w * 10^7 ...), so
 * workers never collide. Deadlocks, serialization failures and lock
 * timeouts are rolled back and retried with the same values.
 *
 * The schema both tables must have (more columns are fine if they have
 * defaults; the types may differ after an ALTER as long as these values
 * still fit):
 *
 *   PostgreSQL                          MariaDB / MySQL
 *   id bigint PRIMARY KEY               id BIGINT PRIMARY KEY
 *     (--composite: a int, b int,         (--composite: a INT, b INT,
 *      PRIMARY KEY (a, b))                 PRIMARY KEY (a, b))
 *   sku text NOT NULL                   sku VARCHAR(64) NOT NULL
 *   qty int NOT NULL                    qty INT NOT NULL
 *   price numeric(12,2)                 price DECIMAL(12,2)
 *   note text  (NULL, quotes,           note TEXT  (utf8mb4)
 *     backslashes, unicode, emoji)
 *   updated_at timestamp NOT NULL       updated_at DATETIME(6) NOT NULL
 *
 * Usage:
 *   writer --dsn DSN --table T --mirror M [--engine pg|mysql]
 *          [--workers N] [--seconds S] [--until-file PATH] [--seed N]
 *          [--composite] [--rollback-pct P] [--rate TPS]
 *          [--renamed-key NAME]
 *
 * --renamed-key NAME: the migration under test renames T's key column id
 * to NAME. A worker whose statement on T finds no column id (the swap has
 * happened) rolls back, writes NAME from then on and retries with the same
 * values; the mirror keeps id.
 *
 * It stops after --seconds (default 60, at most 3600) or as soon as the
 * --until-file exists, whichever comes first, and prints one summary line.
 * Exit status: 0 when every transaction either succeeded or was retried to
 * success; 1 when a worker saw an error it could not retry, when the two
 * tables reported different affected-row counts for the same statement
 * (they have diverged), or on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "dsn.h"
#include "ident.h"
#include "sql.h"
#include "util.h"

#define WRITER_MAX_WORKERS 64
#define WRITER_STRIDE 10000000LL /* fresh keys per worker */
#define WRITER_FRESH_B 4         /* --composite: b of fresh rows is 1..4 */
#define WRITER_MAX_PARAMS 8
#define WRITER_MAX_RETRIES 200
#define WRITER_MAX_ERRORS_SHOWN 5

enum writer_op {
	OP_INSERT,
	OP_UPDATE,   /* all non-key columns */
	OP_BUMP,     /* qty = qty + d (counted as an update) */
	OP_PKUPDATE,
	OP_DELETE,
	OP_COUNT
};

struct writer_opts {
	enum sql_dialect dialect;
	bool engine_given;
	const char *dsn;
	const char *table;
	const char *mirror;
	int workers;
	double seconds;
	const char *until_file;
	unsigned long long seed;
	bool composite;
	int rollback_pct;
	double rate;  /* transactions per second per worker, 0: no limit */
	const char *renamed_key;  /* T's key column after the swap (not id) */
};

/* What a worker reports to the parent through a pipe when it ends. */
struct writer_counts {
	long long commits[OP_COUNT];
	long long rollbacks;
	long long retries;
	long long errors;
	long long mismatches;
	int fatal;  /* the worker could not go on (connection lost, ...) */
};

/* The key range the table had at the start. */
struct writer_range {
	bool empty;
	long long min[2];
	long long max[2];
};

struct writer {
	const struct writer_opts *o;
	int id;
	struct writer_range r;
	uint64_t rng;
	long long fresh_base;  /* first fresh key (a for --composite) */
	long long fresh_next;
	char *sql[2][OP_COUNT];  /* [0] the table, [1] the mirror */
	const struct qname *table;
	bool renamed;            /* sql[0] names the key renamed_key */
	PGconn *pg;
	MYSQL *my;
	struct writer_counts c;
	int errors_shown;
};

/* Set by SIGTERM/SIGINT in a worker: finish the transaction and stop. */
static volatile sig_atomic_t writer_stop;

static const char *const writer_notes[] = {
	"plain note",
	"it's a \"quoted\" note",
	"back\\slash \\' and \\\\ and %s %d",
	"emoji \xF0\x9F\xA6\x86\xF0\x9F\x9A\x80 done",
	"\xC3\xBC" "n\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 \xC3\x86\xC3\x98\xC3\x85 "
	    "\xE4\xB8\xAD\xE6\x96\x87",
	"",
	"tab\tand\nnewline",
	"semi; colon -- dash /* c */",
};

static void
writer_usage(void)
{
	fprintf(stderr,
	    "usage: writer --dsn DSN --table T --mirror M [--engine pg|mysql]\n"
	    "              [--workers N] [--seconds S] [--until-file PATH]\n"
	    "              [--seed N] [--composite] [--rollback-pct P]"
	    " [--rate TPS]\n"
	    "              [--renamed-key NAME]\n");
	exit(1);
}

/* xorshift64*: small, seedable, good enough to pick keys and values. */
static uint64_t
writer_rand(struct writer *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ULL;
}

/* Uniform in [0, n). */
static long long
writer_below(struct writer *w, long long n)
{
	if (n <= 0)
		return 0;
	return (long long)(writer_rand(w) % (uint64_t)n);
}

static bool
writer_time_up(const struct writer_opts *o, double started)
{
	if (writer_stop)
		return true;
	if (now_seconds() - started >= o->seconds)
		return true;
	return o->until_file != NULL && access(o->until_file, F_OK) == 0;
}

/* Append placeholder number n in the dialect's form. */
static void
writer_ph(struct buf *b, enum sql_dialect d, int n)
{
	if (d == SQL_PG)
		buf_printf(b, "$%d", n);
	else
		buf_append_char(b, '?');
}

/*
 * Append "k1 = $n AND k2 = $n+1" (the key condition) and advance *n;
 * key is the key column's name (not --composite).
 */
static void
writer_where_key(struct buf *b, const struct writer_opts *o, const char *key, int *n)
{
	if (o->composite) {
		buf_append(b, " WHERE a = ");
		writer_ph(b, o->dialect, (*n)++);
		buf_append(b, " AND b = ");
		writer_ph(b, o->dialect, (*n)++);
	} else {
		sql_build(b, o->dialect, " WHERE %I = ", key);
		writer_ph(b, o->dialect, (*n)++);
	}
}

/*
 * The statement for op on table t. Parameters appear in the text in the
 * order they are bound (MySQL's ? are positional):
 *   INSERT    key..., sku, qty, price, note, updated_at
 *   UPDATE    sku, qty, price, note, updated_at, key...
 *   BUMP      delta, key...
 *   PKUPDATE  new key..., old key...
 *   DELETE    key...
 * key: the key column's name (not --composite).
 */
static char *
writer_stmt(const struct writer_opts *o, const struct qname *t, enum writer_op op,
	    const char *key)
{
	struct buf b = {0};
	enum sql_dialect d = o->dialect;
	int n = 1;

	switch (op) {
	case OP_INSERT:
		if (o->composite)
			sql_build(&b, d, "INSERT INTO %Q (a, b", t);
		else
			sql_build(&b, d, "INSERT INTO %Q (%I", t, key);
		buf_append(&b, ", sku, qty, price, note, updated_at) VALUES (");
		for (int i = 0; i < (o->composite ? 7 : 6); i++) {
			if (i > 0)
				buf_append(&b, ", ");
			writer_ph(&b, d, n++);
		}
		buf_append(&b, ")");
		break;
	case OP_UPDATE:
		sql_build(&b, d, "UPDATE %Q SET sku = ", t);
		writer_ph(&b, d, n++);
		buf_append(&b, ", qty = ");
		writer_ph(&b, d, n++);
		buf_append(&b, ", price = ");
		writer_ph(&b, d, n++);
		buf_append(&b, ", note = ");
		writer_ph(&b, d, n++);
		buf_append(&b, ", updated_at = ");
		writer_ph(&b, d, n++);
		writer_where_key(&b, o, key, &n);
		break;
	case OP_BUMP:
		sql_build(&b, d, "UPDATE %Q SET qty = qty + ", t);
		writer_ph(&b, d, n++);
		writer_where_key(&b, o, key, &n);
		break;
	case OP_PKUPDATE:
		sql_build(&b, d, "UPDATE %Q SET ", t);
		if (o->composite) {
			buf_append(&b, "a = ");
			writer_ph(&b, d, n++);
			buf_append(&b, ", b = ");
			writer_ph(&b, d, n++);
		} else {
			sql_build(&b, d, "%I = ", key);
			writer_ph(&b, d, n++);
		}
		writer_where_key(&b, o, key, &n);
		break;
	case OP_DELETE:
		sql_build(&b, d, "DELETE FROM %Q", t);
		writer_where_key(&b, o, key, &n);
		break;
	default:
		die("writer: bad op");
	}
	return buf_take(&b);
}

/* -- talking to the server -------------------------------------------- */

enum writer_res {
	WRES_OK,
	WRES_RETRY,  /* deadlock, serialization failure, lock timeout */
	WRES_ERROR,  /* the statement failed; the connection is fine */
	WRES_FATAL,  /* the connection is gone */
	WRES_RENAMED,  /* no column id: --renamed-key's swap has happened */
};

static void
writer_report(struct writer *w, const char *what, const char *sql)
{
	if (w->errors_shown++ >= WRITER_MAX_ERRORS_SHOWN)
		return;
	fprintf(stderr, "writer[%d]: %s%s%s\n", w->id, what,
	    sql ? " in: " : "", sql ? sql : "");
}

static enum writer_res
writer_pg_result(struct writer *w, PGresult *res, const char *sql,
		 long long *affected)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	enum writer_res r;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (affected)
			*affected = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		return WRES_OK;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "42703") == 0 && w->o->renamed_key && !w->renamed) {
		PQclear(res);
		return WRES_RENAMED;  /* undefined_column */
	}
	if (PQstatus(w->pg) != CONNECTION_OK)
		r = WRES_FATAL;
	else if (state && (strcmp(state, "40P01") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "55P03") == 0))
		r = WRES_RETRY;
	else
		r = WRES_ERROR;
	if (r != WRES_RETRY) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s (SQLSTATE %s)",
		    res ? PQresultErrorMessage(res) : PQerrorMessage(w->pg),
		    state ? state : "none");
		msg[strcspn(msg, "\n")] = '\0';
		writer_report(w, msg, sql);
	}
	PQclear(res);
	return r;
}

static bool
writer_my_retryable(unsigned e)
{
	/* deadlock, lock wait timeout, record changed since last read */
	return e == 1213 || e == 1205 || e == 1020;
}

static bool
writer_my_fatal(unsigned e)
{
	/* server gone, lost connection, can't connect */
	return e == 2006 || e == 2013 || e == 2002 || e == 2003 || e == 2055;
}

static enum writer_res
writer_my_error(struct writer *w, unsigned e, const char *msg, const char *sql)
{
	char line[600];

	if (writer_my_retryable(e))
		return WRES_RETRY;
	if (e == 1054 && w->o->renamed_key && !w->renamed)
		return WRES_RENAMED;  /* unknown column */
	snprintf(line, sizeof(line), "%s (errno %u)", msg, e);
	writer_report(w, line, sql);
	return writer_my_fatal(e) ? WRES_FATAL : WRES_ERROR;
}

/* Run a statement without parameters (BEGIN, COMMIT, ROLLBACK). */
static enum writer_res
writer_simple(struct writer *w, const char *sql)
{
	if (w->pg)
		return writer_pg_result(w, PQexec(w->pg, sql), sql, NULL);
	if (mysql_query(w->my, sql) != 0)
		return writer_my_error(w, mysql_errno(w->my), mysql_error(w->my),
		    sql);
	return WRES_OK;
}

/* Run sql with text parameters (NULL: SQL NULL); *affected rows. */
static enum writer_res
writer_exec(struct writer *w, const char *sql, int n, const char *const *params,
	    long long *affected)
{
	MYSQL_STMT *st;
	MYSQL_BIND bind[WRITER_MAX_PARAMS];
	unsigned long lens[WRITER_MAX_PARAMS];
	my_bool nulls[WRITER_MAX_PARAMS];
	enum writer_res r = WRES_OK;

	if (w->pg)
		return writer_pg_result(w, PQexecParams(w->pg, sql, n, NULL,
		    params, NULL, NULL, 0), sql, affected);

	/*
	 * Prepared afresh each time: the table may have been swapped under
	 * its name since the last statement.
	 */
	st = mysql_stmt_init(w->my);
	if (st == NULL)
		return writer_my_error(w, mysql_errno(w->my), mysql_error(w->my),
		    sql);
	memset(bind, 0, sizeof(bind));
	for (int i = 0; i < n; i++) {
		lens[i] = params[i] ? (unsigned long)strlen(params[i]) : 0;
		nulls[i] = params[i] == NULL;
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = (void *)(uintptr_t)(params[i] ? params[i] : "");
		bind[i].buffer_length = lens[i];
		bind[i].length = &lens[i];
		bind[i].is_null = &nulls[i];
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 ||
	    mysql_stmt_bind_param(st, bind) != 0 ||
	    mysql_stmt_execute(st) != 0) {
		r = writer_my_error(w, mysql_stmt_errno(st), mysql_stmt_error(st),
		    sql);
		goto out;
	}
	*affected = (long long)mysql_stmt_affected_rows(st);
out:
	mysql_stmt_close(st);
	return r;
}

static int
writer_connect(struct writer *w, struct shade_err *err)
{
	const struct writer_opts *o = w->o;

	if (o->dialect == SQL_PG) {
		const char *keys[] = {"dbname", "application_name",
		    "client_encoding", NULL};
		const char *vals[] = {o->dsn, "shade-writer", "UTF8", NULL};

		w->pg = PQconnectdbParams(keys, vals, 1);
		if (PQstatus(w->pg) != CONNECTION_OK) {
			err_set(err, SHADE_FAILED, "cannot connect: %s",
			    PQerrorMessage(w->pg));
			return -1;
		}
		return 0;
	} else {
		struct dsn d = {0};
		int rc = -1;

		if (dsn_parse(o->dsn, &d, err) != 0)
			return -1;
		w->my = mysql_init(NULL);
		if (w->my == NULL) {
			err_set(err, SHADE_FAILED, "mysql_init failed");
			goto out;
		}
		mysql_options(w->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
		if (mysql_real_connect(w->my, d.host, d.user, d.password,
		    d.database, d.port, d.socket, CLIENT_FOUND_ROWS) == NULL) {
			err_set(err, SHADE_FAILED, "cannot connect: %s",
			    mysql_error(w->my));
			goto out;
		}
		rc = 0;
	out:
		dsn_free(&d);
		return rc;
	}
}

static void
writer_disconnect(struct writer *w)
{
	if (w->pg)
		PQfinish(w->pg);
	if (w->my)
		mysql_close(w->my);
	w->pg = NULL;
	w->my = NULL;
}

/* Read the key range of the table (before forking). */
static int
writer_read_range(struct writer *w, const struct qname *t, struct shade_err *err)
{
	struct buf b = {0};
	const char *cols = w->o->composite ?
	    "min(a), max(a), min(b), max(b)" : "min(id), max(id)";
	int ncols = w->o->composite ? 4 : 2;
	char *v[4] = {NULL, NULL, NULL, NULL};
	int rc = -1;

	sql_build(&b, w->o->dialect, "SELECT %s FROM %Q", cols, t);
	if (w->pg) {
		PGresult *res = PQexec(w->pg, buf_str(&b));

		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			err_set(err, SHADE_FAILED, "%s", PQresultErrorMessage(res));
			PQclear(res);
			goto out;
		}
		for (int i = 0; i < ncols; i++)
			if (!PQgetisnull(res, 0, i))
				v[i] = xstrdup(PQgetvalue(res, 0, i));
		PQclear(res);
	} else {
		MYSQL_RES *res;
		MYSQL_ROW row;

		if (mysql_query(w->my, buf_str(&b)) != 0 ||
		    (res = mysql_store_result(w->my)) == NULL) {
			err_set(err, SHADE_FAILED, "%s", mysql_error(w->my));
			goto out;
		}
		row = mysql_fetch_row(res);
		for (int i = 0; row && i < ncols; i++)
			if (row[i])
				v[i] = xstrdup(row[i]);
		mysql_free_result(res);
	}
	w->r.empty = v[0] == NULL;
	for (int i = 0; i < ncols / 2; i++) {
		w->r.min[i] = v[2 * i] ? strtoll(v[2 * i], NULL, 10) : 1;
		w->r.max[i] = v[2 * i + 1] ?
		    strtoll(v[2 * i + 1], NULL, 10) : 0;
	}
	rc = 0;
out:
	for (int i = 0; i < 4; i++)
		free(v[i]);
	buf_free(&b);
	return rc;
}

/* -- one transaction --------------------------------------------------- */

/* Values of one transaction, as text, so both tables get the same. */
struct writer_vals {
	char key[2][24];
	char newkey[2][24];
	char sku[32];
	char qty[24];
	char price[32];
	char ts[40];
	const char *note;
	char notebuf[160];
};

static void
writer_pick_existing(struct writer *w, struct writer_vals *v)
{
	long long a, b;
	bool own = w->fresh_next > w->fresh_base &&
	    (w->r.empty || writer_below(w, 5) == 0);

	if (own) {
		a = w->fresh_base + writer_below(w, w->fresh_next - w->fresh_base);
		b = 1 + writer_below(w, WRITER_FRESH_B);
	} else {
		a = w->r.min[0] + writer_below(w, w->r.max[0] - w->r.min[0] + 1);
		b = w->r.min[1] + writer_below(w, w->r.max[1] - w->r.min[1] + 1);
	}
	snprintf(v->key[0], sizeof(v->key[0]), "%lld", a);
	snprintf(v->key[1], sizeof(v->key[1]), "%lld", b);
}

static void
writer_pick_fresh(struct writer *w, char k[2][24])
{
	snprintf(k[0], sizeof(k[0]), "%lld", w->fresh_next++);
	snprintf(k[1], sizeof(k[1]), "%lld", 1 + writer_below(w, WRITER_FRESH_B));
}

static void
writer_make_values(struct writer *w, struct writer_vals *v)
{
	long long n = writer_below(w, 10);

	snprintf(v->sku, sizeof(v->sku), "SKU-%06lld", writer_below(w, 1000000));
	snprintf(v->qty, sizeof(v->qty), "%lld", writer_below(w, 100000));
	snprintf(v->price, sizeof(v->price), "%lld.%02lld",
	    writer_below(w, 100000), writer_below(w, 100));
	snprintf(v->ts, sizeof(v->ts),
	    "2024-%02lld-%02lld %02lld:%02lld:%02lld.%06lld",
	    1 + writer_below(w, 12), 1 + writer_below(w, 28),
	    writer_below(w, 24), writer_below(w, 60), writer_below(w, 60),
	    writer_below(w, 1000000));
	if (n < 2) {
		v->note = NULL;
	} else {
		snprintf(v->notebuf, sizeof(v->notebuf), "%s #%lld",
		    writer_notes[writer_below(w, ARRAY_LEN(writer_notes))],
		    writer_below(w, 1000000));
		v->note = v->notebuf;
	}
}

/* The bound parameters of op, in the order writer_stmt() expects. */
static int
writer_params(const struct writer *w, enum writer_op op,
	      const struct writer_vals *v, const char **p)
{
	int nk = w->o->composite ? 2 : 1;
	int n = 0;

	switch (op) {
	case OP_INSERT:
		for (int i = 0; i < nk; i++)
			p[n++] = v->newkey[i];
		p[n++] = v->sku;
		p[n++] = v->qty;
		p[n++] = v->price;
		p[n++] = v->note;
		p[n++] = v->ts;
		break;
	case OP_UPDATE:
		p[n++] = v->sku;
		p[n++] = v->qty;
		p[n++] = v->price;
		p[n++] = v->note;
		p[n++] = v->ts;
		for (int i = 0; i < nk; i++)
			p[n++] = v->key[i];
		break;
	case OP_BUMP:
		p[n++] = v->qty;
		for (int i = 0; i < nk; i++)
			p[n++] = v->key[i];
		break;
	case OP_PKUPDATE:
		for (int i = 0; i < nk; i++)
			p[n++] = v->newkey[i];
		for (int i = 0; i < nk; i++)
			p[n++] = v->key[i];
		break;
	case OP_DELETE:
		for (int i = 0; i < nk; i++)
			p[n++] = v->key[i];
		break;
	default:
		break;
	}
	return n;
}

/* The table's statements name the key renamed_key from now on. */
static void
writer_rename_key(struct writer *w)
{
	for (int op = 0; op < OP_COUNT; op++) {
		free(w->sql[0][op]);
		w->sql[0][op] = writer_stmt(w->o, w->table, (enum writer_op)op,
		    w->o->renamed_key);
	}
	w->renamed = true;
}

/*
 * One attempt: BEGIN, the statement on the table, the same on the mirror,
 * COMMIT or ROLLBACK. On failure the transaction is rolled back; when the
 * table's key has its new name (--renamed-key), it is retried with it.
 */
static enum writer_res
writer_txn(struct writer *w, enum writer_op op, const struct writer_vals *v,
	   bool rollback)
{
	const char *params[WRITER_MAX_PARAMS];
	int n = writer_params(w, op, v, params);
	long long affected[2] = {0, 0};
	enum writer_res r;

	r = writer_simple(w, w->pg ? "BEGIN" : "START TRANSACTION");
	if (r != WRES_OK)
		return r;
	for (int t = 0; t < 2; t++) {
		r = writer_exec(w, w->sql[t][op], n, params, &affected[t]);
		if (r != WRES_OK)
			goto fail;
	}
	r = writer_simple(w, rollback ? "ROLLBACK" : "COMMIT");
	if (r != WRES_OK)
		goto fail;
	if (affected[0] != affected[1]) {
		char msg[200];

		w->c.mismatches++;
		snprintf(msg, sizeof(msg), "the table and the mirror diverged: "
		    "%lld vs %lld rows affected", affected[0], affected[1]);
		writer_report(w, msg, w->sql[0][op]);
	}
	return WRES_OK;
fail:
	if (r != WRES_FATAL && writer_simple(w, "ROLLBACK") == WRES_FATAL)
		r = WRES_FATAL;
	if (r == WRES_RENAMED) {
		writer_rename_key(w);
		r = WRES_RETRY;
	}
	return r;
}

static void
writer_sleep(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !writer_stop)
		;
}

static void
writer_on_signal(int sig)
{
	(void)sig;
	writer_stop = 1;
}

/* A worker's life: connect, write until time is up, report, exit. */
static void
writer_work(struct writer *w, int report_fd, double started)
{
	struct shade_err err = {0};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = writer_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (writer_connect(w, &err) != 0) {
		fprintf(stderr, "writer[%d]: %s\n", w->id, err.msg);
		w->c.fatal = 1;
		goto out;
	}
	while (!writer_time_up(w->o, started)) {
		struct writer_vals v;
		long long dice = writer_below(w, 100);
		bool rollback = writer_below(w, 100) < w->o->rollback_pct;
		bool have_rows = !w->r.empty || w->fresh_next > w->fresh_base;
		enum writer_op op;
		enum writer_res r;
		double t0 = now_seconds();
		int attempt;

		memset(&v, 0, sizeof(v));
		if (dice < 25 || !have_rows)
			op = OP_INSERT;
		else if (dice < 45)
			op = OP_UPDATE;
		else if (dice < 60)
			op = OP_BUMP;
		else if (dice < 78)
			op = OP_PKUPDATE;
		else
			op = OP_DELETE;
		if ((op == OP_INSERT || op == OP_PKUPDATE) &&
		    w->fresh_next >= w->fresh_base + WRITER_STRIDE)
			op = OP_UPDATE;  /* out of fresh keys */
		writer_make_values(w, &v);
		if (op == OP_BUMP)
			snprintf(v.qty, sizeof(v.qty), "%lld",
			    writer_below(w, 21) - 10);
		if (op == OP_INSERT || op == OP_PKUPDATE)
			writer_pick_fresh(w, v.newkey);
		if (op != OP_INSERT)
			writer_pick_existing(w, &v);

		for (attempt = 0;; attempt++) {
			r = writer_txn(w, op, &v, rollback);
			if (r != WRES_RETRY || attempt >= WRITER_MAX_RETRIES)
				break;
			w->c.retries++;
			writer_sleep(0.001 * (double)(1 + writer_below(w, 20)));
		}
		if (r == WRES_RETRY) {
			writer_report(w, "gave up retrying", w->sql[0][op]);
			w->c.errors++;
		} else if (r == WRES_FATAL) {
			w->c.errors++;
			w->c.fatal = 1;
			break;
		} else if (r == WRES_ERROR) {
			w->c.errors++;
		} else if (rollback) {
			w->c.rollbacks++;
		} else {
			w->c.commits[op]++;
		}
		if (w->o->rate > 0)
			writer_sleep(1.0 / w->o->rate - (now_seconds() - t0));
	}
out:
	writer_disconnect(w);
	if (write(report_fd, &w->c, sizeof(w->c)) != (ssize_t)sizeof(w->c))
		fprintf(stderr, "writer[%d]: cannot report\n", w->id);
	close(report_fd);
	err_clear(&err);
}

/* -- the parent -------------------------------------------------------- */

static pid_t writer_pids[WRITER_MAX_WORKERS];
static int writer_npids;

static void
writer_forward(int sig)
{
	for (int i = 0; i < writer_npids; i++)
		if (writer_pids[i] > 0)
			kill(writer_pids[i], sig);
}

/* A number option, or die with the usage. */
static double
writer_number(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0')
		writer_usage();
	return v;
}

static void
writer_parse_args(int argc, char **argv, struct writer_opts *o)
{
	static const struct option longopts[] = {
		{"engine", required_argument, NULL, 'e'},
		{"dsn", required_argument, NULL, 'd'},
		{"table", required_argument, NULL, 't'},
		{"mirror", required_argument, NULL, 'm'},
		{"workers", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 's'},
		{"until-file", required_argument, NULL, 'u'},
		{"seed", required_argument, NULL, 'S'},
		{"composite", no_argument, NULL, 'c'},
		{"rollback-pct", required_argument, NULL, 'r'},
		{"rate", required_argument, NULL, 'R'},
		{"renamed-key", required_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->workers = 4;
	o->seconds = 60;
	o->seed = 1;
	o->rollback_pct = 5;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			o->engine_given = true;
			if (strcmp(optarg, "pg") == 0)
				o->dialect = SQL_PG;
			else if (strcmp(optarg, "mysql") == 0)
				o->dialect = SQL_MYSQL;
			else
				writer_usage();
			break;
		case 'd':
			o->dsn = optarg;
			break;
		case 't':
			o->table = optarg;
			break;
		case 'm':
			o->mirror = optarg;
			break;
		case 'w':
			o->workers = (int)writer_number(optarg);
			break;
		case 's':
			o->seconds = writer_number(optarg);
			break;
		case 'u':
			o->until_file = optarg;
			break;
		case 'S':
			o->seed = (unsigned long long)writer_number(optarg);
			break;
		case 'c':
			o->composite = true;
			break;
		case 'r':
			o->rollback_pct = (int)writer_number(optarg);
			break;
		case 'R':
			o->rate = writer_number(optarg);
			break;
		case 'K':
			o->renamed_key = optarg;
			break;
		default:
			writer_usage();
		}
	}
	if (optind != argc || !o->dsn || !o->table || !o->mirror ||
	    o->workers < 1 || o->workers > WRITER_MAX_WORKERS ||
	    !(o->seconds > 0) || o->rollback_pct < 0 || o->rollback_pct > 100 ||
	    (o->renamed_key && (o->composite || o->renamed_key[0] == '\0')))
		writer_usage();
	if (o->seconds > 3600)
		o->seconds = 3600;
	if (!o->engine_given) {
		struct dsn d = {0};
		struct shade_err err = {0};

		if (dsn_parse(o->dsn, &d, &err) != 0) {
			fprintf(stderr, "writer: %s\n", err.msg);
			exit(1);
		}
		o->dialect = d.kind == DSN_MYSQL ? SQL_MYSQL : SQL_PG;
		dsn_free(&d);
		err_clear(&err);
	}
}

/* Add up what the workers report through fd, then reap them. */
static void
writer_collect(int fd, struct writer_counts *total)
{
	memset(total, 0, sizeof(*total));
	for (;;) {
		struct writer_counts c;
		ssize_t n = read(fd, &c, sizeof(c));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(c))
			break;
		for (int op = 0; op < OP_COUNT; op++)
			total->commits[op] += c.commits[op];
		total->rollbacks += c.rollbacks;
		total->retries += c.retries;
		total->errors += c.errors;
		total->mismatches += c.mismatches;
		total->fatal += c.fatal;
	}
	close(fd);
	for (int i = 0; i < writer_npids; i++) {
		int ws;

		while (waitpid(writer_pids[i], &ws, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			total->fatal++;
	}
}

/* The one summary line the tests read (WRITER_COMMITS in tests/lib.sh). */
static void
writer_summary(const struct writer_opts *o, const struct writer_counts *total, double started)
{
	long long commits = 0;

	for (int op = 0; op < OP_COUNT; op++)
		commits += total->commits[op];
	printf("writer: %d workers, %.1fs, %lld commits (insert %lld, "
	    "update %lld, pkupdate %lld, delete %lld), %lld rollbacks, "
	    "%lld retries, %lld errors, %lld mismatches, %d failed "
	    "workers\n", o->workers, now_seconds() - started, commits,
	    total->commits[OP_INSERT],
	    total->commits[OP_UPDATE] + total->commits[OP_BUMP],
	    total->commits[OP_PKUPDATE], total->commits[OP_DELETE],
	    total->rollbacks, total->retries, total->errors,
	    total->mismatches, total->fatal);
}

int
main(int argc, char **argv)
{
	struct writer_opts o;
	struct writer w;
	struct writer_counts total;
	struct qname tq = {0}, mq = {0};
	struct shade_err err = {0};
	struct sigaction sa;
	int fds[2];
	int status = 0;
	double started;

	writer_parse_args(argc, argv, &o);
	if (ident_parse(o.table, o.dialect, &tq, &err) != 0 ||
	    ident_parse(o.mirror, o.dialect, &mq, &err) != 0) {
		fprintf(stderr, "writer: %s\n", err.msg);
		return 1;
	}
	if (o.dialect == SQL_MYSQL && mysql_library_init(0, NULL, NULL) != 0)
		die("writer: cannot initialise the MariaDB client library");

	memset(&w, 0, sizeof(w));
	w.o = &o;
	w.table = &tq;
	for (int op = 0; op < OP_COUNT; op++) {
		w.sql[0][op] = writer_stmt(&o, &tq, (enum writer_op)op, "id");
		w.sql[1][op] = writer_stmt(&o, &mq, (enum writer_op)op, "id");
	}
	if (writer_connect(&w, &err) != 0 ||
	    writer_read_range(&w, &tq, &err) != 0) {
		fprintf(stderr, "writer: %s\n", err.msg);
		return 1;
	}
	writer_disconnect(&w);  /* never share a connection across fork() */

	if (pipe(fds) != 0)
		die("writer: pipe: %s", strerror(errno));
	fflush(NULL);
	started = now_seconds();
	for (int i = 0; i < o.workers; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("writer: fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			w.id = i;
			w.rng = (o.seed * 1000003ULL + (uint64_t)i * 7919ULL) |
			    1ULL;
			w.fresh_base = w.r.max[0] + 1 + (long long)i * WRITER_STRIDE;
			w.fresh_next = w.fresh_base;
			writer_work(&w, fds[1], started);
			status = w.c.fatal ? 1 : 0;
			goto out;
		}
		writer_pids[writer_npids++] = pid;
	}
	close(fds[1]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = writer_forward;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	writer_collect(fds[0], &total);
	writer_summary(&o, &total, started);
	if (total.errors || total.mismatches || total.fatal)
		status = 1;
out:
	for (int op = 0; op < OP_COUNT; op++) {
		free(w.sql[0][op]);
		free(w.sql[1][op]);
	}
	qname_free(&tq);
	qname_free(&mq);
	err_clear(&err);
	if (o.dialect == SQL_MYSQL)
		mysql_library_end();
	fflush(NULL);
	return status;
}

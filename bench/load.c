/*
 * load.c - the benchmark's mirrored write load, timing every transaction.
 *
 * tests/tools/writer is the load the tests trust, but it reports no latency
 * (and it belongs to the tests), so the benchmark brings its own: N worker
 * processes, one connection each, run short transactions at a steady rate.
 * Every transaction applies the same change to table T and to a mirror M
 * that shade does not touch (update every column, bump qty, insert a fresh
 * key, move a row to a fresh key, delete), then commits; afterwards T must
 * equal M on the original columns, row for row (bench/run.sh checks).
 *
 * Each worker appends one line per transaction to LOG.N:
 *
 *	<start, seconds since the epoch> <latency in ms>
 *
 * where the latency runs from the first BEGIN to the COMMIT that succeeded,
 * retries included (what the application would wait). At the end each
 * worker prints one line on stdout:
 *
 *	load[W]: N commits, R retries, E errors, M mismatches
 *
 * Usage:
 *	load --engine pg --dsn CONNINFO ...
 *	load --engine mysql --socket PATH --db NAME ...
 *	     --table T --mirror M --rows N --log LOG [--workers N]
 *	     [--rate TPS] [--seconds S] [--until-file PATH]
 *
 * The keys 1..N exist at the start; fresh keys of worker w start at
 * N + 1 + w * 10^7. --rate is per worker (0: as fast as it can); the load
 * stops after --seconds (default 3600) or once --until-file exists. Exit
 * status 0 when every transaction committed (deadlocks and lock timeouts
 * are retried), 1 otherwise.
 *
 * On MariaDB the statements are sent as text, not prepared: a prepared
 * statement that straddles the creation of a table's first trigger fails
 * (MDEV-26048), which is the server's bug, not a lost write. The values
 * are digits and fixed words made here, and T and M must be plain
 * lower-case names, so the text needs no quoting.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <mysql.h>

#define LOAD_MAX_WORKERS 16
#define LOAD_STRIDE 10000000LL
#define LOAD_MAX_RETRIES 200

enum load_op { OP_INSERT, OP_UPDATE, OP_BUMP, OP_PKUPDATE, OP_DELETE };

enum load_res {
	LRES_OK,
	LRES_RETRY,  /* deadlock, serialization failure, lock timeout */
	LRES_ERROR,  /* anything else: the benchmark is broken */
};

struct load_opts {
	bool pg;
	const char *dsn, *socket, *db;
	const char *table, *mirror, *log, *until_file;
	long long rows;
	int workers;
	double rate, seconds;
};

/* One worker: its connection, its random state and what it counted. */
struct load_worker {
	const struct load_opts *o;
	int id;
	uint64_t rng;
	long long fresh_base, fresh_next;
	PGconn *pgc;
	MYSQL *my;
	long long commits, retries, errors, mismatches;
};

/* A transaction's values, as text, so both tables get the same. */
struct load_vals {
	enum load_op op;
	char key[24], newkey[24], sku[32], qty[24], price[32], ts[40];
	char notebuf[40];
	const char *note;  /* notebuf or NULL */
};

static volatile sig_atomic_t load_stop;

static void
load_usage(void)
{
	fprintf(stderr,
	    "usage: load --engine pg --dsn CONNINFO | --engine mysql --socket PATH"
	    " --db NAME\n"
	    "            --table T --mirror M --rows N --log LOG [--workers N]\n"
	    "            [--rate TPS] [--seconds S] [--until-file PATH]\n");
	exit(1);
}

static double
load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
load_sleep(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !load_stop)
		;
}

/* xorshift64*, uniform in [0, n). */
static long long
load_below(struct load_worker *w, long long n)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return n > 0 ? (long long)((w->rng * 2685821657736338717ULL) %
	    (uint64_t)n) : 0;
}

/* -- the statements ---------------------------------------------------- */

/* The text of op on table t, with $n placeholders (PostgreSQL). */
static void
load_pg_stmt(char *out, size_t len, enum load_op op, const char *t)
{
	static const char *const fmt[] = {
		[OP_INSERT] = "INSERT INTO %s (id, sku, qty, price, note, "
		    "updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
		[OP_UPDATE] = "UPDATE %s SET sku = $1, qty = $2, price = $3, "
		    "note = $4, updated_at = $5 WHERE id = $6",
		[OP_BUMP] = "UPDATE %s SET qty = qty + $1 WHERE id = $2",
		[OP_PKUPDATE] = "UPDATE %s SET id = $1 WHERE id = $2",
		[OP_DELETE] = "DELETE FROM %s WHERE id = $1",
	};

	snprintf(out, len, fmt[op], t);
}

/* The parameters of op, in the order of load_pg_stmt's placeholders. */
static int
load_pg_params(const struct load_vals *v, const char **p)
{
	switch (v->op) {
	case OP_INSERT:
		p[0] = v->newkey, p[1] = v->sku, p[2] = v->qty;
		p[3] = v->price, p[4] = v->note, p[5] = v->ts;
		return 6;
	case OP_UPDATE:
		p[0] = v->sku, p[1] = v->qty, p[2] = v->price;
		p[3] = v->note, p[4] = v->ts, p[5] = v->key;
		return 6;
	case OP_BUMP:
		p[0] = v->qty, p[1] = v->key;
		return 2;
	case OP_PKUPDATE:
		p[0] = v->newkey, p[1] = v->key;
		return 2;
	case OP_DELETE:
		p[0] = v->key;
		return 1;
	}
	return 0;
}

/* The text of op on table t with its values in it (MariaDB). */
static void
load_my_stmt(char *out, size_t len, const struct load_vals *v, const char *t)
{
	char note[64];

	if (v->note)
		snprintf(note, sizeof(note), "'%s'", v->note);
	else
		snprintf(note, sizeof(note), "NULL");
	switch (v->op) {
	case OP_INSERT:
		snprintf(out, len, "INSERT INTO %s (id, sku, qty, price, note, "
		    "updated_at) VALUES (%s, '%s', %s, %s, %s, '%s')", t,
		    v->newkey, v->sku, v->qty, v->price, note, v->ts);
		break;
	case OP_UPDATE:
		snprintf(out, len, "UPDATE %s SET sku = '%s', qty = %s, "
		    "price = %s, note = %s, updated_at = '%s' WHERE id = %s", t,
		    v->sku, v->qty, v->price, note, v->ts, v->key);
		break;
	case OP_BUMP:
		snprintf(out, len, "UPDATE %s SET qty = qty + %s WHERE id = %s",
		    t, v->qty, v->key);
		break;
	case OP_PKUPDATE:
		snprintf(out, len, "UPDATE %s SET id = %s WHERE id = %s", t,
		    v->newkey, v->key);
		break;
	case OP_DELETE:
		snprintf(out, len, "DELETE FROM %s WHERE id = %s", t, v->key);
		break;
	}
}

/* -- talking to the server --------------------------------------------- */

static void
load_complain(struct load_worker *w, const char *msg, const char *sql)
{
	if (w->errors < 5)
		fprintf(stderr, "load[%d]: %.300s in: %.300s\n", w->id, msg, sql);
}

static enum load_res
load_pg_result(struct load_worker *w, PGresult *res, const char *sql,
	       long long *affected)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	char msg[400];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (affected)
			*affected = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		return LRES_OK;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && (strcmp(state, "40P01") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "55P03") == 0)) {
		PQclear(res);
		return LRES_RETRY;
	}
	snprintf(msg, sizeof(msg), "%s (SQLSTATE %s)", res ?
	    PQresultErrorMessage(res) : PQerrorMessage(w->pgc),
	    state ? state : "none");
	msg[strcspn(msg, "\n")] = '\0';
	load_complain(w, msg, sql);
	PQclear(res);
	return LRES_ERROR;
}

static enum load_res
load_my_query(struct load_worker *w, const char *sql, long long *affected)
{
	unsigned e;
	char msg[400];

	if (mysql_query(w->my, sql) == 0) {
		if (affected)
			*affected = (long long)mysql_affected_rows(w->my);
		return LRES_OK;
	}
	e = mysql_errno(w->my);
	/* deadlock, lock wait timeout, record changed, table def changed */
	if (e == 1213 || e == 1205 || e == 1020 || e == 1412)
		return LRES_RETRY;
	snprintf(msg, sizeof(msg), "%s (errno %u)", mysql_error(w->my), e);
	load_complain(w, msg, sql);
	return LRES_ERROR;
}

static enum load_res
load_simple(struct load_worker *w, const char *sql)
{
	if (w->pgc)
		return load_pg_result(w, PQexec(w->pgc, sql), sql, NULL);
	return load_my_query(w, sql, NULL);
}

/* Apply v to table t; *affected gets the rows it changed. */
static enum load_res
load_apply(struct load_worker *w, const struct load_vals *v, const char *t,
	   long long *affected)
{
	char sql[512];

	if (w->pgc) {
		const char *p[6];
		int n = load_pg_params(v, p);

		load_pg_stmt(sql, sizeof(sql), v->op, t);
		return load_pg_result(w, PQexecParams(w->pgc, sql, n, NULL, p,
		    NULL, NULL, 0), sql, affected);
	}
	load_my_stmt(sql, sizeof(sql), v, t);
	return load_my_query(w, sql, affected);
}

/* One attempt: BEGIN, the change to T, the same to M, COMMIT. */
static enum load_res
load_txn(struct load_worker *w, const struct load_vals *v)
{
	long long affected[2] = {0, 0};
	enum load_res r;

	r = load_simple(w, w->pgc ? "BEGIN" : "START TRANSACTION");
	if (r == LRES_OK)
		r = load_apply(w, v, w->o->table, &affected[0]);
	if (r == LRES_OK)
		r = load_apply(w, v, w->o->mirror, &affected[1]);
	if (r == LRES_OK)
		r = load_simple(w, "COMMIT");
	if (r != LRES_OK) {
		if (load_simple(w, "ROLLBACK") != LRES_OK)
			r = LRES_ERROR;
		return r;
	}
	if (affected[0] != affected[1]) {
		char msg[100];

		snprintf(msg, sizeof(msg), "%s and %s diverged: %lld vs %lld "
		    "rows", w->o->table, w->o->mirror, affected[0], affected[1]);
		load_complain(w, msg, "COMMIT");
		w->mismatches++;
	}
	return LRES_OK;
}

static int
load_connect(struct load_worker *w)
{
	const struct load_opts *o = w->o;

	if (o->pg) {
		w->pgc = PQconnectdb(o->dsn);
		if (PQstatus(w->pgc) == CONNECTION_OK)
			return 0;
		fprintf(stderr, "load[%d]: %s", w->id, PQerrorMessage(w->pgc));
		return -1;
	}
	w->my = mysql_init(NULL);
	if (w->my && mysql_real_connect(w->my, NULL, "root", NULL, o->db, 0,
	    o->socket, CLIENT_FOUND_ROWS) != NULL)
		return 0;
	fprintf(stderr, "load[%d]: %s\n", w->id,
	    w->my ? mysql_error(w->my) : "out of memory");
	return -1;
}

/* -- a worker ------------------------------------------------------------ */

/* The next transaction: which change, to which key, with which values. */
static void
load_pick(struct load_worker *w, struct load_vals *v)
{
	long long dice = load_below(w, 100);
	bool own = w->fresh_next > w->fresh_base && load_below(w, 5) == 0;
	long long key;

	memset(v, 0, sizeof(*v));
	if (dice < 25)
		v->op = OP_INSERT;
	else if (dice < 45)
		v->op = OP_UPDATE;
	else if (dice < 60)
		v->op = OP_BUMP;
	else if (dice < 78)
		v->op = OP_PKUPDATE;
	else
		v->op = OP_DELETE;
	key = own ? w->fresh_base + load_below(w, w->fresh_next - w->fresh_base)
	    : 1 + load_below(w, w->o->rows);
	snprintf(v->key, sizeof(v->key), "%lld", key);
	snprintf(v->newkey, sizeof(v->newkey), "%lld", w->fresh_next);
	if (v->op == OP_INSERT || v->op == OP_PKUPDATE)
		w->fresh_next++;
	snprintf(v->sku, sizeof(v->sku), "SKU-%06lld", load_below(w, 1000000));
	snprintf(v->qty, sizeof(v->qty), "%lld", v->op == OP_BUMP ?
	    load_below(w, 21) - 10 : load_below(w, 100000));
	snprintf(v->price, sizeof(v->price), "%lld.%02lld",
	    load_below(w, 100000), load_below(w, 100));
	snprintf(v->ts, sizeof(v->ts), "2024-%02lld-%02lld %02lld:%02lld:%02lld",
	    1 + load_below(w, 12), 1 + load_below(w, 28), load_below(w, 24),
	    load_below(w, 60), load_below(w, 60));
	if (load_below(w, 5) > 0) {
		snprintf(v->notebuf, sizeof(v->notebuf), "note %lld",
		    load_below(w, 1000000));
		v->note = v->notebuf;
	}
}

static bool
load_time_up(const struct load_opts *o, double started)
{
	return load_stop || load_now() - started >= o->seconds ||
	    (o->until_file && access(o->until_file, F_OK) == 0);
}

static void
load_on_signal(int sig)
{
	(void)sig;
	load_stop = 1;
}

/* Run transactions until time is up; 0 when all of them committed. */
static int
load_work(struct load_worker *w, FILE *log, double started)
{
	double next = started;

	if (load_connect(w) != 0)
		return 1;
	while (!load_time_up(w->o, started) && w->errors == 0) {
		struct load_vals v;
		double t0 = load_now();
		enum load_res r;
		int attempt = 0;

		load_pick(w, &v);
		while ((r = load_txn(w, &v)) == LRES_RETRY &&
		    ++attempt < LOAD_MAX_RETRIES) {
			w->retries++;
			load_sleep(0.001 * (double)(1 + load_below(w, 20)));
		}
		if (r != LRES_OK) {
			w->errors++;
			break;
		}
		w->commits++;
		fprintf(log, "%.6f %.3f\n", t0, (load_now() - t0) * 1000);
		/* A steady rate: catch up on a short stall, not a long one. */
		if (w->o->rate > 0) {
			next += 1.0 / w->o->rate;
			if (next < load_now() - 1)
				next = load_now();
			load_sleep(next - load_now());
		}
	}
	printf("load[%d]: %lld commits, %lld retries, %lld errors, "
	    "%lld mismatches\n", w->id, w->commits, w->retries, w->errors,
	    w->mismatches);
	return w->errors || w->mismatches ? 1 : 0;
}

static int
load_child(const struct load_opts *o, int id, double started)
{
	struct load_worker w = {.o = o, .id = id};
	struct sigaction sa = {.sa_handler = load_on_signal};
	char path[4096];
	FILE *log;
	int rc;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	w.rng = (uint64_t)(id + 1) * 0x9E3779B97F4A7C15ULL | 1;
	w.fresh_base = o->rows + 1 + (long long)id * LOAD_STRIDE;
	w.fresh_next = w.fresh_base;
	snprintf(path, sizeof(path), "%s.%d", o->log, id);
	if ((log = fopen(path, "w")) == NULL) {
		fprintf(stderr, "load[%d]: %s: %s\n", id, path, strerror(errno));
		return 1;
	}
	rc = load_work(&w, log, started);
	if (fclose(log) != 0)
		rc = 1;
	if (w.pgc)
		PQfinish(w.pgc);
	if (w.my)
		mysql_close(w.my);
	return rc;
}

/* -- the parent ---------------------------------------------------------- */

static pid_t load_pids[LOAD_MAX_WORKERS];
static int load_npids;

/* SIGTERM/SIGINT to the parent: each worker ends its transaction, stops. */
static void
load_forward(int sig)
{
	for (int i = 0; i < load_npids; i++)
		kill(load_pids[i], sig);
}

static bool
load_plain_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 60)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

static double
load_number(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0')
		load_usage();
	return v;
}

static void
load_parse(int argc, char **argv, struct load_opts *o)
{
	static const struct option opts[] = {
		{"engine", required_argument, NULL, 'e'},
		{"dsn", required_argument, NULL, 'd'},
		{"socket", required_argument, NULL, 's'},
		{"db", required_argument, NULL, 'D'},
		{"table", required_argument, NULL, 't'},
		{"mirror", required_argument, NULL, 'm'},
		{"rows", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'l'},
		{"workers", required_argument, NULL, 'w'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 'S'},
		{"until-file", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	const char *engine = NULL;
	int ch;

	*o = (struct load_opts){.workers = 2, .seconds = 3600};
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': engine = optarg; break;
		case 'd': o->dsn = optarg; break;
		case 's': o->socket = optarg; break;
		case 'D': o->db = optarg; break;
		case 't': o->table = optarg; break;
		case 'm': o->mirror = optarg; break;
		case 'n': o->rows = (long long)load_number(optarg); break;
		case 'l': o->log = optarg; break;
		case 'w': o->workers = (int)load_number(optarg); break;
		case 'r': o->rate = load_number(optarg); break;
		case 'S': o->seconds = load_number(optarg); break;
		case 'u': o->until_file = optarg; break;
		default: load_usage();
		}
	}
	o->pg = engine && strcmp(engine, "pg") == 0;
	if (optind != argc || engine == NULL || !load_plain_name(o->table) ||
	    !load_plain_name(o->mirror) || o->rows < 1 || o->log == NULL ||
	    o->workers < 1 || o->workers > LOAD_MAX_WORKERS || o->rate < 0 ||
	    !(o->seconds > 0) || (o->pg && o->dsn == NULL) ||
	    (!o->pg && (strcmp(engine, "mysql") != 0 || o->socket == NULL ||
	    o->db == NULL)))
		load_usage();
}

int
main(int argc, char **argv)
{
	struct load_opts o;
	struct sigaction sa = {.sa_handler = load_forward};
	double started;
	int status = 0;

	load_parse(argc, argv, &o);
	if (!o.pg && mysql_library_init(0, NULL, NULL) != 0) {
		fprintf(stderr, "load: cannot initialise the MariaDB library\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Set first: a worker replaces it with its own before it writes. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	started = load_now();
	for (int i = 0; i < o.workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("load: fork");
			load_forward(SIGTERM);
			return 1;
		}
		if (pid == 0)
			_exit(load_child(&o, i, started));
		load_pids[load_npids++] = pid;
	}
	for (int i = 0; i < load_npids; i++) {
		int ws;

		while (waitpid(load_pids[i], &ws, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			status = 1;
	}
	if (!o.pg)
		mysql_library_end();
	return status;
}

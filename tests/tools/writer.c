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
 *   (--unique-churn: u int UNIQUE       (--unique-churn: u INT, UNIQUE KEY (u)
 *    NULL allowed)                       NULL allowed)
 *
 * --unique-churn: besides that mix, half of the transactions move
 * values of u between rows, as an application renumbering positions or
 * handing an e-mail address on would:
 *   swap      two rows trade their values through a temporary one
 *             (A -> temp, B -> A's old, A -> B's old)
 *   rotate    the same around 3 to 6 rows (A -> temp, B -> A's, C -> B's,
 *             ..., A -> the last one's): a transaction whose log rows span
 *             more of the log
 *   handover  A gives its value to B and gets a fresh one or NULL
 *   free      A gets a fresh value or NULL; its old one is left free ...
 *   take      ... for a later transaction of any worker, which gives it to
 *             a row (free, handover and take share the freed values
 *             through a ring in shared memory)
 * A move reads the rows' u (FOR UPDATE) from both tables first, and they
 * must agree. Inserts give u a fresh value (a range per worker below zero
 * and below the smallest u at the start, so the table's own values, e.g.
 * u = id, and an earlier run's stay apart), NULL, or a freed one. Half of
 * the moves pick among WRITER_HOT rows at the start of the key range. A
 * unique violation (23505 / 1062) on the table is an ordinary race between
 * workers (a freed value taken twice): the transaction is rolled back and
 * counted as a conflict, and the worker goes on with new choices. The same
 * violation on the mirror when the table took the value means they have
 * diverged: an error.
 *
 * Usage:
 *   writer --dsn DSN --table T --mirror M [--engine pg|mysql]
 *          [--workers N] [--seconds S] [--until-file PATH] [--seed N]
 *          [--composite] [--rollback-pct P] [--rate TPS]
 *          [--renamed-key NAME] [--unique-churn]
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "writer/writer.h"

#define WRITER_MAX_WORKERS 64
#define WRITER_STRIDE 10000000LL /* fresh keys per worker */
#define WRITER_FRESH_B 4         /* --composite: b of fresh rows is 1..4 */
#define WRITER_MAX_RETRIES 200
#define WRITER_RING 1024         /* --unique-churn: freed values kept */
#define WRITER_HOT 256           /* --unique-churn: rows most moves pick */

/* --unique-churn: the transactions that move values of u. */
enum writer_move {
	MOVE_SWAP,
	MOVE_ROTATE,
	MOVE_HANDOVER,
	MOVE_FREE,
	MOVE_TAKE,
	MOVE_COUNT
};

/* Set by SIGTERM/SIGINT in a worker: finish the transaction and stop. */
static volatile sig_atomic_t writer_stop;

/*
 * --unique-churn: values of u that transactions freed, for later ones of
 * any worker to take; 0 is an empty slot. Shared memory, mapped before the
 * fork, written without a lock: a torn or stale value is only a value that
 * someone holds, which the table refuses (a conflict, as between workers).
 */
struct writer_ring {
	volatile long long v[WRITER_RING];
	volatile unsigned long head;
};
static struct writer_ring *writer_freed;

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
	    "              [--renamed-key NAME] [--unique-churn]\n");
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
 *   USET      u, key...
 *   UGET      key...
 * (--unique-churn: INSERT ends with u.) key: the key column's name (not
 * --composite).
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
		buf_append(&b, ", sku, qty, price, note, updated_at");
		buf_append(&b, o->churn ? ", u) VALUES (" : ") VALUES (");
		for (int i = 0; i < (o->composite ? 7 : 6) + o->churn; i++) {
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
	case OP_USET:
		sql_build(&b, d, "UPDATE %Q SET u = ", t);
		writer_ph(&b, d, n++);
		writer_where_key(&b, o, key, &n);
		break;
	case OP_UGET:
		sql_build(&b, d, "SELECT u FROM %Q", t);
		writer_where_key(&b, o, key, &n);
		buf_append(&b, " FOR UPDATE");
		break;
	default:
		die("writer: bad op");
	}
	return buf_take(&b);
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
	const char *u;  /* --unique-churn: the new row's u (NULL: SQL NULL) */
	char ubuf[24];
};

static void
writer_pick_existing(struct writer *w, char key[2][24])
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
	snprintf(key[0], sizeof(key[0]), "%lld", a);
	snprintf(key[1], sizeof(key[1]), "%lld", b);
}

/*
 * --unique-churn: a row for a move: half the time one of the few "hot"
 * rows at the start of the table's key range, which every worker keeps
 * moving values between (as an application does with its busiest rows), so
 * that the moves meet each other and the rows shade is re-copying.
 */
static void
writer_pick_move(struct writer *w, char key[2][24])
{
	long long n = w->r.max[0] - w->r.min[0] + 1;

	if (w->r.empty || writer_below(w, 2) == 0) {
		writer_pick_existing(w, key);
		return;
	}
	snprintf(key[0], 24, "%lld", w->r.min[0] + writer_below(w, n < WRITER_HOT ? n : WRITER_HOT));
	snprintf(key[1], 24, "%lld",
	    w->r.min[1] + writer_below(w, w->r.max[1] - w->r.min[1] + 1));
}

/* --unique-churn: a value of u no row has held, this worker's own. */
static void
writer_fresh_u(struct writer *w, char u[24])
{
	snprintf(u, 24, "%lld", w->fresh_u--);
}

/* --unique-churn: leave the value a row held (if any) for others to take. */
static void
writer_ring_put(const struct writer_cell *old)
{
	long long x;

	if (!old->found || old->null || (x = strtoll(old->v, NULL, 10)) == 0)
		return;
	writer_freed->v[writer_freed->head++ % WRITER_RING] = x;
}

/* --unique-churn: a value some transaction freed, maybe taken since. */
static bool
writer_ring_take(struct writer *w, char u[24])
{
	long long i = writer_below(w, WRITER_RING);
	long long x = writer_freed->v[i];

	writer_freed->v[i] = 0;
	if (x == 0)
		return false;
	snprintf(u, 24, "%lld", x);
	return true;
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
		if (w->o->churn)
			p[n++] = v->u;
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

static void
writer_diverged(struct writer *w, const char *what, const char *sql)
{
	char msg[200];

	w->c.mismatches++;
	snprintf(msg, sizeof(msg), "the table and the mirror diverged: %s", what);
	writer_report(w, msg, sql);
}

/*
 * Statement op on the table, then on the mirror; affected[t] the rows each
 * affected. The mirror refusing a value of u the table took is no race:
 * the transaction did the same to the table first, so they have diverged.
 */
static enum writer_res
writer_both(struct writer *w, enum writer_op op, int n, const char *const *params,
	    long long affected[2])
{
	for (int t = 0; t < 2; t++) {
		enum writer_res r = writer_exec(w, w->sql[t][op], n, params, &affected[t], NULL);

		if (r == WRES_DUP && t == 1) {
			writer_diverged(w, "the mirror refused a value of u", w->sql[1][op]);
			return WRES_ERROR;
		}
		if (r != WRES_OK)
			return r;
	}
	return WRES_OK;
}

/*
 * End a transaction that failed with r: roll it back; when the table's key
 * has its new name (--renamed-key), it is to be retried with it.
 */
static enum writer_res
writer_abandon(struct writer *w, enum writer_res r)
{
	if (r != WRES_FATAL && writer_simple(w, "ROLLBACK") == WRES_FATAL)
		r = WRES_FATAL;
	if (r == WRES_RENAMED) {
		writer_rename_key(w);
		r = WRES_RETRY;
	}
	return r;
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
	r = writer_both(w, op, n, params, affected);
	if (r == WRES_OK)
		r = writer_simple(w, rollback ? "ROLLBACK" : "COMMIT");
	if (r != WRES_OK)
		return writer_abandon(w, r);
	if (affected[0] != affected[1]) {
		char msg[120];

		snprintf(msg, sizeof(msg), "%lld vs %lld rows affected", affected[0],
		    affected[1]);
		writer_diverged(w, msg, w->sql[0][op]);
	}
	return WRES_OK;
}

/* --unique-churn: u of row key, locked, read from both tables, which agree. */
static enum writer_res
writer_uget(struct writer *w, char key[2][24], struct writer_cell *out)
{
	const char *p[2] = {key[0], key[1]};
	struct writer_cell c[2];
	long long n;

	for (int t = 0; t < 2; t++) {
		enum writer_res r = writer_exec(w, w->sql[t][OP_UGET], w->o->composite ? 2 : 1,
		    p, &n, &c[t]);

		if (r != WRES_OK)
			return r;
	}
	if (c[0].found != c[1].found || c[0].null != c[1].null || strcmp(c[0].v, c[1].v) != 0) {
		writer_diverged(w, "u differs", w->sql[0][OP_UGET]);
		return WRES_ERROR;
	}
	*out = c[0];
	return WRES_OK;
}

/* --unique-churn: u = val (NULL: SQL NULL) in row key of both tables. */
static enum writer_res
writer_uset(struct writer *w, char key[2][24], const char *val)
{
	const char *p[3] = {val, key[0], key[1]};
	long long affected[2] = {0, 0};
	enum writer_res r = writer_both(w, OP_USET, w->o->composite ? 3 : 2, p, affected);

	if (r == WRES_OK && affected[0] != affected[1]) {
		writer_diverged(w, "a different number of rows got u", w->sql[0][OP_USET]);
		return WRES_ERROR;
	}
	return r;
}

static const char *
writer_cell_val(const struct writer_cell *c)
{
	return c->null ? NULL : c->v;
}

/* Rows a move involves: two for a swap or a handover, up to this many for a rotation. */
#define WRITER_MOVE_ROWS 6

/*
 * --unique-churn: pick the n distinct rows of a move into key; returns how
 * many it found distinct (at least 1).
 */
static int
writer_pick_rows(struct writer *w, char key[][2][24], int n)
{
	for (int i = 0; i < n; i++) {
		bool dup = true;

		for (int tries = 0; dup && tries < 3; tries++) {
			writer_pick_move(w, key[i]);
			dup = false;
			for (int j = 0; j < i && !dup; j++)
				dup = strcmp(key[i][0], key[j][0]) == 0 && strcmp(key[i][1], key[j][1]) == 0;
		}
		if (dup)
			return i;
	}
	return n;
}

/*
 * --unique-churn: the rows of a swap or a rotation pass their values on:
 * row 0 to a temporary value, row i takes row i-1's, row 0 takes the last
 * one's. A swap is the rotation of two rows.
 */
static enum writer_res
writer_rotate(struct writer *w, char key[][2][24], const struct writer_cell *u, int n,
	      const char *temp)
{
	enum writer_res r = writer_uset(w, key[0], temp);

	for (int i = 1; i < n && r == WRES_OK; i++)
		r = writer_uset(w, key[i], writer_cell_val(&u[i - 1]));
	if (r == WRES_OK)
		r = writer_uset(w, key[0], writer_cell_val(&u[n - 1]));
	return r;
}

/*
 * --unique-churn: one attempt at a move of values of u (see the top of the
 * file), with rows picked afresh: they are read and locked first, and a row
 * gone leaves nothing to do. A value left free goes to the ring once the
 * transaction has committed.
 */
static enum writer_res
writer_move(struct writer *w, enum writer_move kind, bool rollback)
{
	char key[WRITER_MOVE_ROWS][2][24], fresh[24], temp[24], taken[24];
	struct writer_cell u[WRITER_MOVE_ROWS], *freed = NULL;
	int n = kind == MOVE_ROTATE ? 3 + (int)writer_below(w, WRITER_MOVE_ROWS - 2) :
		kind == MOVE_SWAP || kind == MOVE_HANDOVER ? 2 : 1;
	const char *give;
	enum writer_res r;

	n = writer_pick_rows(w, key, n);
	writer_fresh_u(w, fresh);
	writer_fresh_u(w, temp);
	give = writer_below(w, 4) == 0 ? NULL : fresh;
	r = writer_simple(w, w->pg ? "BEGIN" : "START TRANSACTION");
	if (r != WRES_OK)
		return r;
	for (int i = 0; i < n && r == WRES_OK; i++) {
		r = writer_uget(w, key[i], &u[i]);
		if (r == WRES_OK && !u[i].found)
			goto end;
	}
	if (r != WRES_OK)
		goto end;
	switch (kind) {
	case MOVE_SWAP:
	case MOVE_ROTATE:
		if (n > 1)
			r = writer_rotate(w, key, u, n, temp);
		break;
	case MOVE_HANDOVER:
		if (n > 1 && (r = writer_uset(w, key[0], give)) == WRES_OK)
			r = writer_uset(w, key[1], writer_cell_val(&u[0]));
		freed = n > 1 ? &u[1] : NULL;
		break;
	case MOVE_FREE:
		r = writer_uset(w, key[0], give);
		freed = &u[0];
		break;
	default:
		if (writer_ring_take(w, taken)) {
			r = writer_uset(w, key[0], taken);
			freed = &u[0];
		}
		break;
	}
end:
	if (r == WRES_OK)
		r = writer_simple(w, rollback ? "ROLLBACK" : "COMMIT");
	if (r != WRES_OK)
		return writer_abandon(w, r);
	if (freed && !rollback)
		writer_ring_put(freed);
	return WRES_OK;
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

/* The transaction of the mix that dice (0 to 99) picks, and its values. */
static enum writer_op
writer_pick_op(struct writer *w, struct writer_vals *v, long long dice, bool have_rows)
{
	enum writer_op op;

	memset(v, 0, sizeof(*v));
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
	writer_make_values(w, v);
	if (op == OP_BUMP)
		snprintf(v->qty, sizeof(v->qty), "%lld",
		    writer_below(w, 21) - 10);
	if (op == OP_INSERT || op == OP_PKUPDATE)
		writer_pick_fresh(w, v->newkey);
	if (op != OP_INSERT)
		writer_pick_existing(w, v->key);
	if (op == OP_INSERT && w->o->churn) {
		/* A fresh value, NULL, or one that another transaction freed. */
		dice = writer_below(w, 8);
		v->u = dice == 0 ? NULL : v->ubuf;
		if (dice > 0 && (dice > 2 || !writer_ring_take(w, v->ubuf)))
			writer_fresh_u(w, v->ubuf);
	}
	return op;
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
		/* --unique-churn: half of the transactions move values of u. */
		bool move = w->o->churn && have_rows && writer_below(w, 2) == 0;
		enum writer_move kind = MOVE_SWAP;
		enum writer_op op;
		enum writer_res r;
		double t0 = now_seconds();
		int attempt;

		if (move) {
			op = OP_USET;
			kind = (enum writer_move)writer_below(w, MOVE_COUNT);
		} else {
			op = writer_pick_op(w, &v, dice, have_rows);
		}
		for (attempt = 0;; attempt++) {
			/* A move picks its rows afresh on every attempt. */
			r = move ? writer_move(w, kind, rollback) : writer_txn(w, op, &v, rollback);
			if (r != WRES_RETRY || attempt >= WRITER_MAX_RETRIES)
				break;
			w->c.retries++;
			writer_sleep(0.001 * (double)(1 + writer_below(w, 20)));
		}
		if (r == WRES_DUP) {
			w->c.conflicts++;
		} else if (r == WRES_RETRY) {
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
		{"unique-churn", no_argument, NULL, 'U'},
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
		case 'U':
			o->churn = true;
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
		total->conflicts += c.conflicts;
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
	if (o->churn)
		printf("writer: unique churn: %lld moves of u, %lld unique conflicts rolled back\n",
		    total->commits[OP_USET], total->conflicts);
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

	writer_freed = mmap(NULL, sizeof(*writer_freed), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (writer_freed == MAP_FAILED)
		die("writer: mmap: %s", strerror(errno));
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
			w.fresh_u = w.r.umin - 1 - (long long)i * WRITER_STRIDE;
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

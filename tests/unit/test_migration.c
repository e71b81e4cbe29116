/*
 * test_migration.c - the migration state machine (src/migration.c) driven
 * by a fake engine, with no server: the order of the phases, the lock
 * retry and its back-off, the undo after a failure in each phase, an abort
 * in each phase, and pause/resume.
 *
 * The fake engine logs every operation it is asked for into one line
 * ("open preflight create_shadow ..."), and a per-case script makes one
 * operation fail, time out on a lock, or raise a signal while it runs, as
 * a real statement would be interrupted by the operator. Signals are real
 * (raise()), so they travel through the same libev watchers as in shade.
 */
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "migration.h"
#include "progress.h"
#include "unit.h"

/* What the current case asks of the fake engine. */
struct fake_script {
	const char *fail_op;   /* this operation fails (not retryable) ... */
	const char *lock_op;   /* this one times out on its lock ... */
	int lock_failures;     /* ... its first N calls (-1: every call) */
	const char *signal_op; /* during this one, a signal arrives: */
	int signum;            /* SIGTERM, SIGUSR1 ... */
	double later_delay;    /* > 0: then, this much later, ... */
	int later_signum;      /* ... this signal (a resume, an abort) */
	long long rows;        /* rows in the fake table */
	bool keyless_copy;     /* the engine applies nothing during the copy and builds
				  the key after the copy (PostgreSQL) */
};

static struct fake_script script;
static struct buf calls;          /* the operations, in order */
static int ncalls[20];            /* calls per operation */
static double chunk_times[64];    /* when each copy_chunk ran */
static int nchunks;
static long long copied_total;
static bool keys_contiguous;      /* each chunk started where the last ended */
static ev_timer later;

static const char *const op_names[] = {
	"open", "preflight", "create_shadow", "dry_run", "create_capture",
	"copy_bounds", "copy_chunk", "apply", "backlog", "build_indexes",
	"swap", "finish", "undo", "close", "build_key",
};

struct eng {
	long long last_upper;
};

/* How many times the migration called op in the last run. */
static int
n_calls(const char *op)
{
	for (size_t i = 0; i < ARRAY_LEN(op_names); i++)
		if (strcmp(op_names[i], op) == 0)
			return ncalls[i];
	return -1;
}

static void
fake_later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	raise(script.later_signum);
}

/*
 * Log op and play the script for it. Returns 0, or -1 with err filled as a
 * real engine would fill it.
 */
static int
fake_op(const char *op, struct shade_err *err)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(op_names); i++)
		if (strcmp(op_names[i], op) == 0)
			break;
	ncalls[i]++;
	buf_printf(&calls, "%s%s", calls.len ? " " : "", op);
	if (script.signal_op && strcmp(script.signal_op, op) == 0 && ncalls[i] == 1) {
		raise(script.signum);
		if (script.later_delay > 0) {
			ev_timer_init(&later, fake_later_cb, script.later_delay, 0);
			ev_timer_start(ev_default_loop(0), &later);
		}
	}
	if (script.fail_op && strcmp(script.fail_op, op) == 0) {
		err_set(err, SHADE_FAILED, "%s failed as scripted", op);
		return -1;
	}
	if (script.lock_op && strcmp(script.lock_op, op) == 0 &&
	    (script.lock_failures < 0 || ncalls[i] <= script.lock_failures)) {
		err_set(err, SHADE_FAILED, "%s: lock timeout as scripted", op);
		err->retryable = true;
		return -1;
	}
	return 0;
}

static int
fake_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
	  const struct engine_opts *opts, struct shade_err *err)
{
	(void)dsn;
	(void)w;
	(void)opts;
	*out = xcalloc(1, sizeof(**out));
	return fake_op("open", err);
}

static void
fake_close(struct eng *e)
{
	struct shade_err ignored = {0};

	(void)fake_op("close", &ignored);
	free(e);
}

static int
fake_preflight(struct eng *e, const struct qname *table, const struct alter_info *alter,
	       struct table_summary *out, struct shade_err *err)
{
	(void)e;
	(void)alter;
	out->display = xasprintf("public.%s", table->name);
	out->old_display = xstrdup("public._items_old");
	out->est_rows = script.rows;
	out->npk = 1;
	return fake_op("preflight", err);
}

static int
fake_create_shadow(struct eng *e, const char *alter_body, const struct alter_info *alter,
		   struct shade_err *err)
{
	(void)e;
	(void)alter_body;
	(void)alter;
	return fake_op("create_shadow", err);
}

static int
fake_dry_run(struct eng *e, const char *alter_body, const struct alter_info *alter,
	     long sample_rows, struct dry_run_report *out, struct shade_err *err)
{
	(void)e;
	(void)alter_body;
	(void)alter;
	(void)sample_rows;
	strlist_push(&out->plan, "SELECT 1");
	return fake_op("dry_run", err);
}

static int
fake_create_capture(struct eng *e, struct shade_err *err)
{
	(void)e;
	return fake_op("create_capture", err);
}

static void
fake_key(struct keyval *k, long long v)
{
	char text[32];
	struct keyval one = {1, (char *[]){text}};

	snprintf(text, sizeof(text), "%lld", v);
	keyval_copy(k, &one);
}

static int
fake_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err)
{
	(void)e;
	*empty = script.rows == 0;
	if (!*empty)
		fake_key(max, script.rows);
	return fake_op("copy_bounds", err);
}

static int
fake_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max,
		long rows, struct keyval *upper, long long *copied, bool *last,
		struct shade_err *err)
{
	long long from = after ? strtoll(after->vals[0], NULL, 10) : 0;
	long long top = strtoll(max->vals[0], NULL, 10);
	long long to = from + rows < top ? from + rows : top;

	if (from != e->last_upper)
		keys_contiguous = false;
	if (nchunks < (int)ARRAY_LEN(chunk_times))
		chunk_times[nchunks++] = now_seconds();
	fake_key(upper, to);
	*copied = to - from;
	*last = to == top;
	copied_total += *copied;
	e->last_upper = to;
	return fake_op("copy_chunk", err);
}

static int
fake_apply(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	(void)e;
	(void)limit;
	*applied = 0;
	return fake_op("apply", err);
}

static int
fake_backlog(struct eng *e, long long *rows, struct shade_err *err)
{
	(void)e;
	*rows = 0;
	return fake_op("backlog", err);
}

static int
fake_build_indexes(struct eng *e, struct shade_err *err)
{
	(void)e;
	return fake_op("build_indexes", err);
}

static int
fake_swap(struct eng *e, struct shade_err *err)
{
	(void)e;
	return fake_op("swap", err);
}

static int
fake_finish(struct eng *e, bool drop_old, struct shade_err *err)
{
	(void)e;
	(void)drop_old;
	return fake_op("finish", err);
}

static int
fake_undo(struct eng *e, struct shade_err *err)
{
	(void)e;
	return fake_op("undo", err);
}

static int
fake_build_key(struct eng *e, struct shade_err *err)
{
	(void)e;
	return fake_op("build_key", err);
}

static const struct engine fake_engine = {
	.name = "fake",
	.dialect = SQL_PG,
	.open = fake_open,
	.close = fake_close,
	.preflight = fake_preflight,
	.create_shadow = fake_create_shadow,
	.dry_run = fake_dry_run,
	.create_capture = fake_create_capture,
	.copy_bounds = fake_copy_bounds,
	.copy_chunk = fake_copy_chunk,
	.apply = fake_apply,
	.backlog = fake_backlog,
	.build_indexes = fake_build_indexes,
	.swap = fake_swap,
	.finish = fake_finish,
	.undo = fake_undo,
};

/* The migration asks for the engine here; src/engine/engines.c is not linked. */
const struct engine *
engine_for(enum dsn_kind kind)
{
	static struct engine keyless;

	(void)kind;
	if (!script.keyless_copy)
		return &fake_engine;
	keyless = fake_engine;
	keyless.keyless_copy = true;
	keyless.build_key = fake_build_key;
	return &keyless;
}

static void
drain_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	*(bool *)w->data = true;
}

/*
 * A signal raised during the last operation of a run (say the swap) is
 * never served: the run ends first. libev keeps it pending in its global
 * signal table, and the next run's loop would serve it as new. shade runs
 * one migration per process; this test runs many, so it serves such
 * leftovers here, with a harmless SIGUSR2 to wake the loop up.
 */
static void
drain_stale_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
	struct ev_loop *loop = ev_default_loop(0);
	ev_signal w[ARRAY_LEN(sigs)];
	bool woke = false;

	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		ev_signal_init(&w[i], drain_cb, sigs[i]);
		w[i].data = &woke;
		ev_signal_start(loop, &w[i]);
	}
	raise(SIGUSR2);
	while (!woke)
		ev_run(loop, EVRUN_ONCE);
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
		ev_signal_stop(loop, &w[i]);
	ev_loop_destroy(loop);
}

/* Run one migration under the current script; err gets its message. */
static enum shade_status
run(bool execute, struct shade_err *err, double *seconds)
{
	struct mig_opts o;
	enum shade_status st;
	double t0 = now_seconds();

	buf_reset(&calls);
	memset(ncalls, 0, sizeof(ncalls));
	nchunks = 0;
	copied_total = 0;
	keys_contiguous = true;
	migration_defaults(&o);
	o.dsn = "postgres://fake";
	o.table = "items";
	o.alter = "ADD COLUMN flag int";
	o.execute = execute;
	o.quiet = true;
	o.chunk_rows = 1000;
	o.lock_retries = 3;
	err_clear(err);
	st = migration_run(&o, err);
	if (seconds)
		*seconds = now_seconds() - t0;
	drain_stale_signals();
	return st;
}

static void
test_phase_order(void)
{
	struct shade_err err = {0};

	script = (struct fake_script){.rows = 500};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK_STREQ(buf_str(&calls),
		    "open preflight create_shadow create_capture copy_bounds copy_chunk apply "
		    "apply build_indexes apply backlog swap finish close");

	script = (struct fake_script){.rows = 0};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK_STREQ(buf_str(&calls),
		    "open preflight create_shadow create_capture copy_bounds apply build_indexes "
		    "apply backlog swap finish close");

	/*
	 * An engine whose shadow has no key during the copy: no apply
	 * between chunks; the first apply comes after build_key.
	 */
	script = (struct fake_script){.rows = 500, .keyless_copy = true};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK_STREQ(buf_str(&calls),
		    "open preflight create_shadow create_capture copy_bounds copy_chunk backlog "
		    "build_key apply build_indexes apply backlog swap finish close");
	script = (struct fake_script){.rows = 25000, .keyless_copy = true};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK(nchunks > 1);
	CHECK(strstr(buf_str(&calls), "apply") > strstr(buf_str(&calls), "build_key"));

	/* The dry run builds nothing, so there is nothing to undo. */
	script = (struct fake_script){.rows = 500};
	CHECK(run(false, &err, NULL) == SHADE_OK);
	CHECK_STREQ(buf_str(&calls), "open preflight dry_run close");
	err_clear(&err);
}

static void
test_copy_walks_every_key(void)
{
	struct shade_err err = {0};

	script = (struct fake_script){.rows = 25000};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK(copied_total == 25000);
	CHECK(keys_contiguous);
	CHECK(nchunks > 1);
	CHECK(n_calls("apply") >= nchunks);  /* an apply after every chunk */
	err_clear(&err);
}

static void
test_lock_retry(void)
{
	struct shade_err err = {0};
	double secs;

	/* Two timeouts, then the lock: three attempts, 0.5 s + 1 s apart. */
	script = (struct fake_script){.rows = 500, .lock_op = "create_capture", .lock_failures = 2};
	CHECK(run(true, &err, &secs) == SHADE_OK);
	CHECK(n_calls("create_capture") == 3);
	CHECK(secs >= 1.4);
	CHECK(n_calls("undo") == 0);

	/* Never the lock: give up after --lock-retries attempts, and undo. */
	script = (struct fake_script){.rows = 500, .lock_op = "create_capture", .lock_failures = -1};
	CHECK(run(true, &err, NULL) == SHADE_FAILED);
	CHECK(n_calls("create_capture") == 3);
	CHECK(strstr(err.msg, "gave up after 3 attempts") != NULL);
	CHECK(n_calls("undo") == 1);
	CHECK(n_calls("copy_chunk") == 0);

	/* Between attempts at the swap, the backlog is applied. */
	script = (struct fake_script){.rows = 500, .lock_op = "swap", .lock_failures = 1};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK(strstr(buf_str(&calls), "swap apply swap finish") != NULL);

	/* An abort during a back-off pause ends it at once (not 0.5 + 1 s later). */
	script = (struct fake_script){.rows = 500, .lock_op = "create_capture", .lock_failures = -1,
				      .signal_op = "create_capture", .signum = SIGUSR2,
				      .later_delay = 0.2, .later_signum = SIGTERM};
	CHECK(run(true, &err, &secs) == SHADE_ABORTED);
	CHECK(secs < 0.45);
	CHECK(n_calls("create_capture") == 1);
	CHECK(n_calls("undo") == 1);
	err_clear(&err);
}

/* A failure in each phase: status 1, and undo exactly when something was built. */
static void
test_failure_in_each_phase(void)
{
	static const struct {
		const char *op;
		bool undo;
		enum shade_status st;
	} cases[] = {
		{"open", false, SHADE_FAILED},
		{"preflight", false, SHADE_FAILED},
		{"create_shadow", false, SHADE_FAILED},  /* the engine cleans up itself */
		{"create_capture", true, SHADE_FAILED},
		{"copy_bounds", true, SHADE_FAILED},
		{"copy_chunk", true, SHADE_FAILED},
		{"apply", true, SHADE_FAILED},
		{"build_indexes", true, SHADE_FAILED},
		{"backlog", true, SHADE_FAILED},
		{"swap", true, SHADE_FAILED},
		{"finish", false, SHADE_FAILED},  /* after the swap: no undo */
	};
	struct shade_err err = {0};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		UNIT_CASE("%s fails", cases[i].op);
		script = (struct fake_script){.rows = 500, .fail_op = cases[i].op};
		CHECK(run(true, &err, NULL) == cases[i].st);
		CHECK(strstr(err.msg, "failed as scripted") != NULL);
		CHECK(n_calls("undo") == (cases[i].undo ? 1 : 0));
		CHECK(n_calls("close") == 1);  /* the connection is always closed */
		if (strcmp(cases[i].op, "finish") == 0)
			CHECK(strstr(err.msg, "already swapped") != NULL);
		else
			CHECK(n_calls("finish") == 0);
	}
	err_clear(&err);
}

/* SIGTERM while each phase runs: status 3 and undo, until the swap is done. */
static void
test_abort_in_each_phase(void)
{
	static const struct {
		const char *op;
		bool undo;
		enum shade_status st;
	} cases[] = {
		{"preflight", false, SHADE_ABORTED},
		{"create_shadow", true, SHADE_ABORTED},
		{"create_capture", true, SHADE_ABORTED},
		{"copy_bounds", true, SHADE_ABORTED},
		{"copy_chunk", true, SHADE_ABORTED},
		{"build_indexes", true, SHADE_ABORTED},
		{"backlog", true, SHADE_ABORTED},
		{"swap", false, SHADE_OK},  /* past the point of no return */
		{"finish", false, SHADE_OK},
	};
	struct shade_err err = {0};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		UNIT_CASE("SIGTERM during %s", cases[i].op);
		script = (struct fake_script){.rows = 500, .signal_op = cases[i].op,
					      .signum = SIGTERM};
		CHECK(run(true, &err, NULL) == cases[i].st);
		CHECK(n_calls("undo") == (cases[i].undo ? 1 : 0));
		if (cases[i].st == SHADE_ABORTED) {
			CHECK(strstr(err.msg, "aborted by signal") != NULL);
			CHECK(n_calls("swap") == 0);  /* never swapped */
		} else {
			CHECK(n_calls("finish") == 1);  /* finished */
		}
	}
	err_clear(&err);
}

/* SIGUSR1 holds the copy until SIGUSR2. */
static void
test_pause(void)
{
	struct shade_err err = {0};

	script = (struct fake_script){.rows = 2500, .signal_op = "copy_chunk", .signum = SIGUSR1,
				      .later_delay = 0.6, .later_signum = SIGUSR2};
	CHECK(run(true, &err, NULL) == SHADE_OK);
	CHECK(nchunks >= 2);
	if (nchunks >= 2)
		CHECK(chunk_times[1] - chunk_times[0] >= 0.5);
	CHECK(copied_total == 2500);

	/* An abort while paused ends the pause, and the migration. */
	script = (struct fake_script){.rows = 2500, .signal_op = "copy_chunk", .signum = SIGUSR1,
				      .later_delay = 0.3, .later_signum = SIGTERM};
	CHECK(run(true, &err, NULL) == SHADE_ABORTED);
	CHECK(nchunks == 1);
	CHECK(n_calls("undo") == 1);
	err_clear(&err);
}

/*
 * The "will not converge" warning: said once when the backlog grew at
 * each of the last 5 checks, with the two rates; not for checks closer
 * than the interval; again only after the backlog shrank and grew again.
 */
static void
test_trend(void)
{
	struct progress_trend t = {0};
	char msg[256] = "";
	int said = 0;

	/* Writes at 150 rows/s, the apply at 100: the backlog grows 50 a second. */
	for (int i = 0; i < 6; i++)
		said += progress_trend_check(&t, 1, i, 1000 + 50 * i, 100 * i, msg, sizeof(msg));
	CHECK(said == 1);
	CHECK_STREQ(msg, "catch-up: the backlog grew from 1000 to 1250 over the last 5 s: writes "
			 "arrive at 150 rows/s and the apply takes 100 rows/s; the run will not "
			 "converge at this rate");
	/* Still growing: said once only. A check within the interval is ignored. */
	CHECK(!progress_trend_check(&t, 1, 6, 1300, 600, msg, sizeof(msg)));
	CHECK(!progress_trend_check(&t, 1, 6.5, 1, 600, msg, sizeof(msg)));
	/* It shrank, then grew over 5 checks again: said again. */
	said = 0;
	for (int i = 0; i < 6; i++)
		said += progress_trend_check(&t, 1, 7 + i, 500 + 10 * i, 700 + i, msg, sizeof(msg));
	CHECK(said == 1);
	/* Growth that stalls once is no trend. */
	progress_trend_reset(&t);
	t.warned = false;
	said = 0;
	for (int i = 0; i < 6; i++)
		said += progress_trend_check(&t, 1, i, i == 3 ? 100 : 100 + i, 0, msg, sizeof(msg));
	CHECK(said == 0);
}

int
main(void)
{
	UNIT_RUN(test_trend);
	UNIT_RUN(test_phase_order);
	UNIT_RUN(test_copy_walks_every_key);
	UNIT_RUN(test_lock_retry);
	UNIT_RUN(test_failure_in_each_phase);
	UNIT_RUN(test_abort_in_each_phase);
	UNIT_RUN(test_pause);
	buf_free(&calls);
	return unit_done();
}

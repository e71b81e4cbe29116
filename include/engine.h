/*
 * engine.h - the operations the migration needs from a database.
 *
 * Each engine is a folder (src/engine/pg/, src/engine/mysql/) with a file
 * per concern behind a private header, and exports one const struct engine;
 * engine_for() (src/engine/engines.c) picks it by the kind of DSN. The
 * migration state machine (src/migration.c) knows no SQL dialect: it calls
 * these operations in the order DESIGN.md gives and keeps the copy cursor
 * as text key values, which the engine binds as parameters. What the
 * operator reads about the table in the engine's own terms (a row count it
 * cannot estimate, what a failed clean-up leaves behind, why a dry run took
 * no sample) comes back in struct table_summary and struct dry_run_report.
 *
 * Every operation returns 0, or -1 with err filled: err->status is
 * SHADE_USAGE for bad input found before anything was changed, otherwise
 * SHADE_FAILED; err->retryable marks a lock timeout; err->cancelled a
 * statement cancelled at the operator's request. Every statement an engine
 * runs goes through its one exec function, which reports it to
 * engine_opts.trace (the dry run's plan, --verbose) and waits through dbwait.
 */
#ifndef SHADE_ENGINE_H
#define SHADE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "alter.h"
#include "dbwait.h"
#include "dsn.h"
#include "keyval.h"
#include "sql.h"
#include "throttle.h"
#include "util.h"


/* Settings an engine needs; owned by the caller, outlive the engine. */
struct engine_opts {
	double lock_timeout;  /* seconds a DDL statement may wait for a lock on
				 the original table (capture, swap) */
	int lock_retries;     /* attempts before a lock timeout is final */
	double connect_timeout;  /* seconds a connection attempt may take */
	/* Called with every statement before it runs (NULL: nobody listens). */
	void (*trace)(void *arg, const char *sql);
	void *trace_arg;
	/*
	 * Called by build_key and build_indexes before each build statement,
	 * with what it builds ("index items_sku_idx"), so that a long build
	 * can say what it is on (NULL: nobody listens). Never in a dry run.
	 */
	void (*on_build)(void *arg, const char *what);
	void *on_build_arg;
};

/* What preflight learned about the table, for the migration and the user. */
struct table_summary {
	char *display;        /* the table's name for messages, e.g. public.items */
	char *old_display;    /* where the original goes at the swap, e.g.
				 public._items_old (NULL: not known) */
	long long est_rows;   /* planner estimate; -1: unknown */
	char *rows_note;      /* when est_rows is -1: why, and what would give
				 an estimate (NULL: nothing to say) */
	char *leftovers;      /* what stays behind if the clean-up after the
				 swap fails, for the operator to remove, e.g.
				 "the change log public._items_log and ..." */
	long long bytes;      /* table + indexes, >= 0 */
	size_t npk;           /* primary-key columns */
	bool resumable;       /* an interrupted run of this table left its
				 state: read it with state_read */
};

void engine_summary_free(struct table_summary *t);

/*
 * What a run keeps in the database, in its state table, for a later run
 * to take it up after a crash or a lost connection: who it is (shade's
 * version, the ALTER-BODY) and how far it got. The copy position commits
 * with each chunk, the phase as each begins.
 */
struct run_state {
	char *version;        /* SHADE_VERSION of the run that wrote it */
	char *alter;          /* its ALTER-BODY, as given */
	char *phase;          /* the phase it had reached ("copy", ...) */
	struct keyval cursor; /* the copy's position (n == 0: no chunk yet) */
	struct keyval max;    /* where the copy ends (n == 0: not known yet) */
	long long copied;     /* rows copied so far */
};

void run_state_free(struct run_state *s);

/*
 * The shortest window a dry run reads the write counters over: PostgreSQL's
 * backends flush their table counters at most once a second, so a shorter
 * one would see a writer's second or miss it.
 */
#define ENGINE_WRITE_WINDOW 2.0

/* What a dry run found out, without changing anything. */
struct dry_run_report {
	struct strlist plan;     /* every statement a run would make, in order;
				    $n stands for a value bound at run time */
	long long sample_rows;   /* rows copied by the sample (then rolled back) */
	double sample_seconds;   /* how long that copy took */
	bool sample_skipped;     /* no sample was copied ... */
	char *sample_note;       /* ... and why (the engine's words) */
	double index_seconds;    /* the deferred indexes built on the sample
				    (0: none, or no sample) ... */
	double analyze_seconds;  /* ... and of that, the statistics (ANALYZE),
				    which sample a fixed number of rows or
				    pages: no larger on a larger table */
	long long apply_rows;    /* change-log rows a sampled apply consumed ... */
	double apply_seconds;    /* ... in this long (0 rows: not sampled) */
	double write_rate;       /* rows changed per second, from the server's
				    counters over write_window; < 0 unknown */
	double write_window;     /* seconds the counters were read apart ... */
	double write_waited;     /* ... of which the dry run slept to make them
				    ENGINE_WRITE_WINDOW at least */
	bool write_server_wide;  /* counted for the whole server, not T alone */
	long long log_bytes;     /* WAL (PostgreSQL) or binary log (MySQL) bytes
				    the sample wrote; < 0: none or unknown */
	char *log_note;          /* how log_bytes was found, or why not */
	bool instant;            /* the server could make the ALTER in place,
				    without a rewrite ... */
	char *instant_why;       /* ... and why (or why not), for the operator */
	struct strlist warnings; /* what the operator should know, one a line */
};

void engine_report_free(struct dry_run_report *r);

struct eng;  /* an engine's connection and everything it knows of the table */

struct engine {
	const char *name;
	enum sql_dialect dialect;
	/*
	 * The shadow has no key during the copy (PostgreSQL): no apply runs
	 * until build_key, and copy_chunk's cursor is the engine's own (a
	 * block number), not a key.
	 */
	bool keyless_copy;

	/*
	 * Connect, within opts->connect_timeout. The engine keeps pointers to
	 * w and opts; *out is set even on failure, for close().
	 */
	int (*open)(struct eng **out, const struct dsn *dsn, struct dbwait *w,
		    const struct engine_opts *opts, struct shade_err *err);
	void (*close)(struct eng *e);

	/*
	 * Resolve the table; require a primary key; refuse leftovers of an
	 * earlier run and what the swap cannot carry over (SHADE_USAGE).
	 * Changes nothing.
	 */
	int (*preflight)(struct eng *e, const struct qname *table,
			 const struct alter_info *alter, struct table_summary *out,
			 struct shade_err *err);

	/*
	 * Create the shadow with the original's structure, apply the
	 * ALTER-BODY, derive the column mapping, set aside the secondary
	 * indexes to build after the copy. A failing ALTER is SHADE_USAGE
	 * with the server's own message, and leaves nothing behind.
	 */
	int (*create_shadow)(struct eng *e, const char *alter_body,
			     const struct alter_info *alter, struct shade_err *err);

	/*
	 * The dry run, after preflight: build the shadow and apply the ALTER
	 * where nothing is kept (PostgreSQL: a transaction rolled back at the
	 * end), time a sample copy of up to sample_rows rows into it, and list
	 * every statement the migration would run, as the real code path
	 * sends it. Changes nothing.
	 */
	int (*dry_run)(struct eng *e, const char *alter_body, const struct alter_info *alter,
		       long sample_rows, struct dry_run_report *out, struct shade_err *err);

	/*
	 * --attempt-instant, after preflight, before create_shadow: when the
	 * server can make the ALTER on T in its catalog alone, make it, under
	 * the lock timeout, and set *done (the run is over). Otherwise, or
	 * when that ALTER fails, T is as it was, *done false and *why (owned
	 * by the caller) says why; the run goes on. Returns -1 only when the
	 * connection cannot go on.
	 */
	int (*attempt_instant)(struct eng *e, const char *alter_body, const struct alter_info *alter,
			       bool *done, char **why, struct shade_err *err);

	/*
	 * Create the change log and the capture triggers on the original,
	 * and the state table (phase "copy"), which exists only once the
	 * triggers do.
	 */
	int (*create_capture)(struct eng *e, struct shade_err *err);

	/* Read the state table preflight found (summary.resumable). */
	int (*state_read)(struct eng *e, struct run_state *out, struct shade_err *err);

	/*
	 * Instead of create_shadow and create_capture: take up the run whose
	 * state st is. Derive again all that create_shadow derived, without
	 * changing the shadow; check that the triggers and the log are there;
	 * restore what the session needs. From here on, copy_chunk counts on
	 * from st->copied, and undo removes what the interrupted run built.
	 */
	int (*resume)(struct eng *e, const char *alter_body, const struct alter_info *alter,
		      const struct run_state *st, struct shade_err *err);

	/* Record, on its own, that the run has reached phase. */
	int (*state_phase)(struct eng *e, const char *phase, struct shade_err *err);

	/*
	 * --cleanup, instead of preflight and all that follows: under the run
	 * lock, remove what an abandoned run left on table (state, triggers,
	 * change log, shadow), never the table nor an old one a finished run
	 * kept. *found: there was something to remove.
	 */
	int (*cleanup)(struct eng *e, const struct qname *table, struct table_summary *out,
		       bool *found, struct shade_err *err);

	/*
	 * Where the copy ends (*empty when there is nothing to copy): the
	 * largest key now in the table, or with keyless_copy the engine's own
	 * end (PostgreSQL: T's size in blocks). Rows written past it are
	 * newer than the capture and reach the shadow through the change log.
	 * Recorded in the state table.
	 */
	int (*copy_bounds)(struct eng *e, struct keyval *max, bool *empty,
			   struct shade_err *err);

	/*
	 * Copy the rows with after < key <= upper into the shadow (after NULL:
	 * from the start), where upper is found by a keyset probe of at most
	 * `rows` rows and never passes max (keyless_copy: the rows of the next
	 * range of the engine's own, about `rows` of them). Sets upper,
	 * *copied (rows inserted) and *last (upper == max). upper and the
	 * running count of rows copied go into the state table in the
	 * chunk's own transaction: a chunk is copied once, resumed or not.
	 */
	int (*copy_chunk)(struct eng *e, const struct keyval *after,
			  const struct keyval *max, long rows, struct keyval *upper,
			  long long *copied, bool *last, struct shade_err *err);


	/*
	 * Optional (NULL: the shadow keeps its key through the copy). After
	 * the copy, before the first apply: build the shadow's primary key,
	 * which the apply finds its rows by.
	 */
	int (*build_key)(struct eng *e, struct shade_err *err);

	/*
	 * Optional: what build_key builds, for the key phase's line (NULL:
	 * the shadow's primary key). Valid once the shadow exists.
	 */
	const char *(*key_note)(const struct eng *e);

	/*
	 * Consume up to limit committed change-log rows in one transaction:
	 * re-copy the current state of their keys (or delete the keys that
	 * are gone), then delete exactly the log rows read. *applied is the
	 * number of log rows consumed (< limit: the log was drained). A
	 * unique value another row of the shadow holds is taken from it when
	 * that row's own change is still in the log (it was stale); only a
	 * value two of T's rows hold at once fails, with the server's
	 * message.
	 */
	int (*apply)(struct eng *e, long limit, long long *applied,
		     struct shade_err *err);

	/* Change-log rows waiting (an estimate is fine). */
	int (*backlog)(struct eng *e, long long *rows, struct shade_err *err);

	/*
	 * Build the indexes set aside, refresh statistics. A unique index is
	 * built only where it cannot fail for shade's own race: a duplicate
	 * it finds is one T held at one snapshot.
	 */
	int (*build_indexes)(struct eng *e, struct shade_err *err);

	/*
	 * Under a brief lock: drain the log, swap the tables so that the
	 * shadow carries the original's name (and what belongs to it), drop
	 * the capture triggers. One attempt; a lock timeout returns -1 with
	 * err->retryable and leaves everything as before the attempt.
	 */
	int (*swap)(struct eng *e, struct shade_err *err);

	/*
	 * After the swap: what the new table still needs (PostgreSQL:
	 * validate the re-added foreign keys; MySQL: give T's own triggers
	 * their names back), then drop the change log, and the old table if
	 * asked.
	 */
	int (*finish)(struct eng *e, bool drop_old, struct shade_err *err);

	/*
	 * Before the swap, on failure or abort: remove the triggers, the
	 * change log and the shadow. The original is untouched.
	 */
	int (*undo)(struct eng *e, struct shade_err *err);

	/*
	 * The throttle's probes (throttle.h), each on a connection of the
	 * probes' own, opened with open() on the primary's DSN or a
	 * replica's; each is one short statement. NULL: the engine cannot.
	 */
	const char *load_name;  /* what probe_load counts, e.g. "running threads" */
	/* Sessions running a statement now, the probe's own not counted. */
	int (*probe_load)(struct eng *e, long *load, struct shade_err *err);
	/*
	 * On a replica: its own lag in seconds (0 when caught up), or < 0
	 * and why (not a replica, replication stopped).
	 */
	int (*probe_lag)(struct eng *e, double *seconds, char *why, size_t len,
			 struct shade_err *err);
	/* On the primary: each replica it streams to, and its lag. */
	int (*probe_replicas)(struct eng *e, struct throttle_lags *out, struct shade_err *err);
	/*
	 * The operator's --throttle-query: the first column of its first
	 * row as a number (no row, NULL: 0); a value that is no number fails.
	 */
	int (*probe_query)(struct eng *e, const char *sql, double *value, struct shade_err *err);
	/* The server e is connected to, for messages: host and port, no password. */
	void (*probe_name)(struct eng *e, char *out, size_t len);
};

/* The engine that speaks to the server a DSN names. */
const struct engine *engine_for(enum dsn_kind kind);

#endif

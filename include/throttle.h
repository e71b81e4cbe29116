/*
 * throttle.h - the limits that hold the copy and the apply while the
 * servers are busy: replica lag, load, the operator's own query. The
 * operator may change them while shade runs (the control socket's
 * max-lag= and max-load=, SIGHUP re-reading --config).
 *
 * The probes run on connections of their own (the migration's may be
 * inside a transaction): one to the primary for the load, the query and
 * PostgreSQL's pg_stat_replication, one per --replica for its own lag.
 * throttle_decide() turns what they saw into a verdict and its reason;
 * it is a pure function (tests/unit/test_throttle.c).
 */
#ifndef SHADE_THROTTLE_H
#define SHADE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct throttle_limits {
	double max_lag;        /* seconds of replica lag; 0: not checked */
	long max_load;         /* running threads / active backends; 0: not checked */
	long critical_load;    /* over it shade aborts (exit 1); 0: not checked */
	char *throttle_query;  /* a result > 0 throttles; NULL: none (owned) */
	double chunk_time;     /* target seconds per copy chunk */
};

/* One replica's lag as a probe saw it. */
struct throttle_lag {
	char *name;      /* which replica, never with a password (owned) */
	double seconds;  /* < 0: not known ... */
	char *why;       /* ... and why, e.g. "the SQL thread is stopped" (owned) */
};

struct throttle_lags {
	struct throttle_lag *v;
	size_t n;
};

/* Add a replica's reading (name and why are copied; why may be NULL). */
void throttle_lags_push(struct throttle_lags *l, const char *name, double seconds,
			const char *why);
void throttle_lags_free(struct throttle_lags *l);

/* What one round of probes saw; an input not probed is left as 0/NULL. */
struct throttle_inputs {
	bool load_known;
	long load;
	const char *load_name;     /* "running threads", "active backends" */
	const char *load_error;    /* the load probe failed: its message */
	const struct throttle_lags *lags;  /* NULL: lag not probed */
	const char *lag_error;     /* the primary's lag probe failed */
	bool query_known;
	double query_value;
	const char *query_error;   /* --throttle-query failed: its message */
};

enum throttle_verdict {
	THROTTLE_GO,     /* nothing over its limit */
	THROTTLE_WAIT,   /* hold the copy and the apply */
	THROTTLE_ABORT,  /* the load is over --critical-load */
};

/*
 * Decide from in what limits allow. why gets the reasons ("" for GO),
 * joined with "; " and truncated to len, e.g. "replica lag 12.3 s >
 * --max-lag 5 (replica host=/tmp/x port=5433)". A probe that failed holds
 * the migration (its data is unknown) but never aborts it.
 */
enum throttle_verdict throttle_decide(const struct throttle_limits *limits,
				      const struct throttle_inputs *in, char *why, size_t len);

struct engine;
struct eng;
struct dsn;
struct dbwait;
struct engine_opts;

/* The probe connections and the last verdict. */
struct throttle {
	const struct engine *engine;
	const struct dsn *dsn;            /* the primary's (the caller's) */
	struct dbwait *w;
	const struct engine_opts *opts;
	struct eng *primary;              /* NULL: not open (yet) */
	struct throttle_replica {
		char *name;               /* for messages (host and port) */
		struct dsn *dsn;          /* parsed (owned) */
		struct eng *eng;          /* NULL: not reachable just now */
		double tried;             /* now_seconds() of the last connect */
	} *replicas;
	size_t nreplicas;
	double probed;                    /* now_seconds() of the last round */
	enum throttle_verdict verdict;    /* what that round decided */
	char why[256];
};

/*
 * Connect the probes the limits and replicas need, and probe once: an
 * unreachable replica, a --throttle-query that fails, a limit the engine
 * cannot probe is SHADE_USAGE. replicas are DSNs (strings outlive t).
 */
int throttle_open(struct throttle *t, const struct engine *engine, const struct dsn *dsn,
		  const char *const *replicas, size_t nreplicas, struct dbwait *w,
		  const struct engine_opts *opts, const struct throttle_limits *limits,
		  struct shade_err *err) WARN_UNUSED;

/*
 * The verdict now: probes again when the last round is older than
 * max_age seconds, else says what that round said. why as for
 * throttle_decide (t->why).
 */
enum throttle_verdict throttle_check(struct throttle *t, const struct throttle_limits *limits,
				     double max_age);

void throttle_close(struct throttle *t);

#endif

/*
 * migration.h - the engine-agnostic state machine:
 *
 *   preflight -> shadow -> capture -> copy <-> apply -> indexes -> catch-up
 *             -> swap -> cleanup
 *
 * Driven by a libev watcher: each step does one bounded unit of work (one
 * chunk, a few apply batches, one phase transition) and returns to the loop,
 * so pausing, aborting and progress all happen between steps, and a
 * statement in flight can be cancelled through dbwait.
 */
#ifndef SHADE_MIGRATION_H
#define SHADE_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "dsn.h"
#include "logfmt.h"
#include "util.h"

struct mig_opts {
	const char *dsn;         /* never printed */
	const char *table;       /* as the user wrote it */
	const char *alter;       /* the ALTER-BODY */
	bool execute;            /* false: dry run */
	bool cleanup;            /* --cleanup: remove an abandoned run's objects */
	bool attempt_instant;    /* make a metadata-only ALTER directly, no copy */
	bool drop_old;
	bool quiet;
	bool verbose;            /* print every statement */
	enum logfmt_format log_format;  /* stderr: text, or a JSON object per line */
	double chunk_time;       /* target seconds per chunk */
	long chunk_rows;         /* initial chunk size */
	double lock_timeout;     /* seconds, per attempt */
	int lock_retries;
	int reconnect_tries;     /* attempts to reconnect after a lost connection */
	double connect_timeout;  /* seconds per connection attempt */
	double apply_time;       /* target seconds per apply batch */
	double swap_drain;       /* catch-up ends when the backlog would drain
				    in this many seconds at the measured apply
				    rate: the swap's drain under its lock */
	double progress_interval;
	const char *panic_flag_file;     /* exists: abort, as SIGTERM does */
	const char *throttle_flag_file;  /* exists: the copy and apply wait */
	const char *postpone_flag_file;  /* exists: catch-up goes on, no swap */
	const char *control_socket;      /* unix socket for commands, or NULL */
	bool postpone_cut_over;          /* the swap waits for the socket's cut-over */
	const char *config_file;         /* throttle settings, re-read on SIGHUP */
	/* Throttling (throttle.h): 0 or NULL leaves a check off. */
	double max_lag;          /* seconds of replica lag */
	long max_load;           /* running threads / active backends */
	long critical_load;      /* over it: abort, exit 1 */
	const char *throttle_query;  /* a result > 0 throttles */
	const char *const *replicas; /* --replica DSNs, whose lag --max-lag reads */
	size_t nreplicas;
};

void migration_defaults(struct mig_opts *o);

/*
 * Run a whole migration. Returns the process exit status; on a non-zero
 * status err->msg is the line to print.
 */
enum shade_status migration_run(const struct mig_opts *o, struct shade_err *err);

#endif

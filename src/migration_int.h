/*
 * migration_int.h - what the files of the migration share (migration.c the
 * state machine, migration_hold.c the operator's holds, migration_control.c
 * the control socket and --config, migration_report.c what it prints at
 * the end): the phases and the one struct migration.
 * Private to src/migration*.c.
 */
#ifndef SHADE_MIGRATION_INT_H
#define SHADE_MIGRATION_INT_H

#include <ev.h>
#include <stdbool.h>

#include "alter.h"
#include "chunk.h"
#include "ctl.h"
#include "ctlsock.h"
#include "dbwait.h"
#include "engine.h"
#include "ident.h"
#include "migration.h"
#include "progress.h"
#include "tally.h"
#include "throttle.h"

enum mig_phase {
	PHASE_PREFLIGHT,
	PHASE_SHADOW,
	PHASE_CAPTURE,
	PHASE_COPY,
	PHASE_KEY,
	PHASE_APPLY,
	PHASE_INDEXES,
	PHASE_CATCHUP,
	PHASE_SWAP,
	PHASE_CLEANUP,
	PHASE_DONE,
};

/* The phases' names, as progress lines and the state table say them. */
extern const char *const migration_phase_names[];

struct migration {
	const struct mig_opts *o;
	struct dsn dsn;
	const struct engine *engine;
	struct eng *eng;
	struct engine_opts eopts;
	struct qname table;
	struct alter_info alter;
	struct table_summary summary;

	struct ev_loop *loop;
	ev_idle step;          /* runs migration_step while there is work */
	ev_timer pause_check;  /* while paused: wakes up to look at the flags */
	ev_timer build_tick;   /* a line per interval while a build statement runs */
	double phase_started;  /* now_seconds() when the phase began */
	bool postpone_said;    /* "postponed" was said for this postponement */
	struct progress_trend trend;  /* catch-up's backlog, to see it never converge */
	struct ctl ctl;
	struct dbwait wait;
	struct progress prog;
	struct chunk_ctl chunk;
	struct chunk_ctl apply_size;  /* log rows per apply batch, sized by time */
	double apply_rate;     /* log rows applied per second, smoothed */

	enum mig_phase phase;
	bool built;            /* shadow/capture may exist: undo on failure */
	bool swapped;          /* past the point of no return */
	bool undoing;          /* no statement cancels while cleaning up */
	bool in_step;          /* migration_step is running (maybe nested) */
	bool have_bounds;
	bool copy_empty;
	bool have_cursor;
	struct keyval cursor;  /* the last key copied */
	struct keyval max;     /* the copy stops here */
	double last_backlog_check;
	char preflight_note[256];  /* what preflight found, said once it passed */
	char *instant_why;     /* --attempt-instant: why not, said with it */
	bool instant_done;     /* --attempt-instant: the server made the ALTER */
	bool resuming;         /* taking up an interrupted run (rstate) */
	struct run_state rstate;
	struct throttle_limits limits;  /* now: the options, as the operator changed them */
	char throttle_reason[256];  /* why the copy and apply are held, or "" */
	struct throttle throttle;   /* the probes of the limits, and their verdict */
	bool critical;              /* a probe saw --critical-load passed (throttle.why) */
	struct tally tally;    /* time per phase and per hold, for the summary */
	double hold_at;        /* when the holds were last accounted */
	char hold_kind[256];   /* what held the run since then ("" nothing,
				  "paused", or a throttle reason) */
	char building[256];    /* what the running build statement builds */
	double build_started;  /* now_seconds() when it began */
	enum mig_phase saved_phase;  /* the last phase the state table holds */
	struct ctlsock sock;   /* --control-socket, when given */
	bool postpone_held;    /* the socket's postpone or --postpone-cut-over, until cut-over */

	enum shade_status result;
	bool finished;
	struct shade_err *err;
};

void migration_set_phase(struct migration *m, enum mig_phase ph, const char *detail);

/* migration_hold.c: the operator's holds on the step, and their watchers. */
bool migration_pausing(struct migration *m);
bool migration_postponed(struct migration *m);
void migration_converging(struct migration *m);
void migration_pause_cb(struct ev_loop *loop, ev_timer *w, int revents);
void migration_build_tick_cb(struct ev_loop *loop, ev_timer *w, int revents);
void migration_ctl_changed(void *arg);
int migration_throttle_open(struct migration *m);
bool migration_throttle_due(struct migration *m);

/* migration_control.c: the control socket's commands and the --config file. */
int migration_control_start(struct migration *m);
void migration_control_stop(struct migration *m);
void migration_control_safe_point(struct migration *m);
bool migration_postpone_wanted(const struct migration *m);
/* Account the time since the last call to what held the run; held: now? */
void migration_hold_account(struct migration *m, bool held);
/* engine_opts.on_build: a build statement starts. */
void migration_on_build(void *arg, const char *what);

/* migration_report.c: what shade prints besides progress. */
int migration_dry_run(struct migration *m);
/* The summary at the end of a run that got past its preflight. */
void migration_summary(struct migration *m, enum shade_status st);

#endif

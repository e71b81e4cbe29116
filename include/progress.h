/*
 * progress.h - telling the operator where the migration is, on stderr: a
 * line when a phase starts, and during the copy a line per interval with
 * rows copied / total, rows per second, the change-log backlog and an ETA;
 * while the log is applied, a line per interval with its backlog and rate;
 * at the end a summary. As text (on a terminal the copy and apply lines
 * are one live line rewritten in place) or, with --log-format json, one
 * JSON object per line (logfmt.h).
 */
#ifndef SHADE_PROGRESS_H
#define SHADE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "logfmt.h"
#include "tally.h"

struct progress {
	double started;       /* now_seconds() at the start */
	double copy_started;
	double last_report;
	double interval;      /* seconds between copy lines */
	long long total;      /* estimated rows to copy */
	long long copied;
	long long copied_before;  /* by an interrupted run this one took up */
	long long applied;
	long long backlog;
	bool paused;
	bool throttled;       /* held by the throttle flag file */
	bool quiet;
	enum logfmt_format format;
	const char *throttle_reason;  /* the migration's, "" when none (may be NULL) */
	bool live;            /* stderr is a terminal: ticks rewrite one line */
	bool live_shown;      /* live_line is on the screen, without its newline */
	char live_line[400];
};

/*
 * The catch-up's backlog and applied count at its last checks (one per
 * interval), to see a catch-up that will never converge.
 */
#define PROGRESS_TREND_CHECKS 6
struct progress_trend {
	long long backlog[PROGRESS_TREND_CHECKS];
	long long applied[PROGRESS_TREND_CHECKS];
	double at[PROGRESS_TREND_CHECKS];
	int n;                /* checks held */
	double last;          /* when the last one was taken */
	bool warned;          /* said; again only after the backlog shrank */
};

void progress_init(struct progress *p, double interval, bool quiet);
/*
 * Write as format; with text on a terminal (and not quiet), the copy and
 * apply ticks become one live line, rewritten about once a second.
 */
void progress_format(struct progress *p, enum logfmt_format format);
/* Take the live line off the screen (before the process says its last). */
void progress_live_end(struct progress *p);
void progress_phase(struct progress *p, const char *phase, const char *detail);
/* Print a copy line if the interval has passed (or force). */
void progress_tick(struct progress *p, bool force);
/*
 * Print an apply line for phase (apply, catch-up) if the interval has
 * passed (or force): log rows applied, the backlog, the apply rate and
 * how long the backlog would take to drain at it.
 */
void progress_apply_tick(struct progress *p, const char *phase, double rate, bool force);
/*
 * Record a check of the backlog (at most one per interval; others are
 * ignored). True, once, when the backlog grew at each of the last 5 checks:
 * out then says so, with the rate writes arrive at (applied + growth) and
 * the rate the apply keeps. After the backlog shrinks it may say so again.
 */
bool progress_trend_check(struct progress_trend *t, double interval, double now,
			  long long backlog, long long applied, char *out, size_t len);
/* Forget the checks (the apply was held: the rates say nothing). */
void progress_trend_reset(struct progress_trend *t);

/*
 * A build statement (phase key or indexes) still runs: what it builds and
 * for how long (what_secs < 0: not known), and how long the phase runs.
 */
void progress_build_tick(struct progress *p, const char *phase, const char *what,
			 double what_secs, double phase_secs);
/* --verbose: a statement about to run (said even when quiet). */
void progress_sql(struct progress *p, const char *sql);
/*
 * The summary at the end: what was done, the time per phase (names[i] for
 * t->phase_secs[i], i < nphases; a phase with no time is left out), held
 * and paused time, the swap's lock. status 0: a full summary; else the
 * shorter one of a run that failed (reached: the phase it ended in).
 */
void progress_summary(struct progress *p, const struct tally *t, const char *const *names,
		      size_t nphases, int status, const char *reached);

/* Print an informational line: "shade: ..." */
void progress_note(struct progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

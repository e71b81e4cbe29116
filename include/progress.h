/*
 * progress.h - telling the operator where the migration is, on stderr: a
 * line when a phase starts, and during the copy a line per interval with
 * rows copied / total, rows per second, the change-log backlog and an ETA;
 * while the log is applied, a line per interval with its backlog and rate.
 */
#ifndef SHADE_PROGRESS_H
#define SHADE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

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

/* Print an informational line: "shade: ..." */
void progress_note(struct progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

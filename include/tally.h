/*
 * tally.h - what a run spent its time on, for the summary at its end: the
 * seconds of each phase, the seconds held by each kind of throttle and by
 * a pause, and how long the swap held its lock. Pure bookkeeping; the
 * migration feeds it, progress.c prints it.
 */
#ifndef SHADE_TALLY_H
#define SHADE_TALLY_H

#include <stddef.h>

#define TALLY_PHASES 16  /* phase indexes the caller may use: 0 .. 15 */
#define TALLY_HOLDS 6    /* distinct throttle reasons kept; the rest is "other" */

struct tally_hold {
	char reason[64];  /* the reason's kind: its text before a ':' or a number */
	double secs;
};

struct tally {
	double phase_secs[TALLY_PHASES];
	struct tally_hold holds[TALLY_HOLDS];
	size_t nholds;
	double paused_secs;     /* held by a pause (SIGUSR1, the control socket) */
	double swap_lock_secs;  /* the successful swap's statements; < 0: no swap */
};

void tally_init(struct tally *t);
/* Add secs to phase (an index below TALLY_PHASES; others are ignored). */
void tally_phase(struct tally *t, int phase, double secs);
/*
 * Add secs held by a throttle whose reason is reason ("flag file",
 * "replica lag: 12 s > 10 s", ...): grouped by the text before the first
 * ':' (so "replica lag"), in at most TALLY_HOLDS rows, the last of them
 * "other" once the table is full.
 */
void tally_hold(struct tally *t, const char *reason, double secs);
/* All the seconds held by throttles. */
double tally_throttled(const struct tally *t);

#endif

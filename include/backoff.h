/*
 * backoff.h - how long to wait before the next attempt at something that
 * may succeed later (a lock held by a long transaction, a deadlock).
 *
 * Every retry loop in shade counts its attempts and grows its pauses here,
 * so that one rule says how patient shade is:
 *
 *	struct backoff bo;
 *
 *	backoff_init(&bo, 0.25, 4.0, tries);
 *	while (try_once() failed and may succeed later) {
 *		double pause = backoff_next(&bo);
 *
 *		if (pause < 0)
 *			give up: bo.attempt attempts failed;
 *		wait pause seconds (dbwait_sleep: an abort ends the wait);
 *	}
 */
#ifndef SHADE_BACKOFF_H
#define SHADE_BACKOFF_H

struct backoff {
	double first;  /* the first pause, seconds */
	double max;    /* pauses double up to this */
	int tries;     /* attempts in all, >= 1 */
	int attempt;   /* attempts that failed so far */
};

void backoff_init(struct backoff *b, double first, double max, int tries);

/*
 * Count one more failed attempt. Returns the pause before the next one,
 * first * 2^(attempt - 1) capped at max; or -1 when that was the last
 * attempt allowed.
 */
double backoff_next(struct backoff *b);

#endif

/*
 * chunk.c - choose how many rows the next copy chunk takes.
 *
 * A chunk holds its statement's resources (and, on MySQL, its row locks on the
 * source's gap) for as long as it runs, so its duration is what matters, not
 * its row count. After each chunk the measured rows/s is smoothed (an EWMA, so
 * one odd chunk does not swing the size) and the next size is rate * target,
 * within [min, max]. Growth is at most 2x per chunk: a fast chunk over hot,
 * cached pages may be followed by a cold stretch of the table. A chunk that
 * took more than twice the target shrinks the size in proportion at once,
 * without waiting for the average to catch up.
 */
#include "chunk.h"

#include <math.h>

/* Weight of the newest measurement in the smoothed rate. */
#define CHUNK_ALPHA 0.3
/* A chunk this many times over target is cut at once. */
#define CHUNK_SLOW 2.0
#define CHUNK_GROWTH 2.0
#define CHUNK_DEFAULT_TARGET 0.5

static long
chunk_clamp(const struct chunk_ctl *c, double v)
{
	if (!(v >= (double)c->min)) /* also NaN */
		return c->min;
	if (v >= (double)c->max)
		return c->max;
	return (long)llround(v) < c->min ? c->min : (long)llround(v);
}

static double
chunk_sane_target(double t)
{
	return t > 0 && isfinite(t) ? t : CHUNK_DEFAULT_TARGET;
}

void
chunk_init(struct chunk_ctl *c, double target_seconds, long initial, long min,
	   long max)
{
	c->target = chunk_sane_target(target_seconds);
	c->min = min < 1 ? 1 : min;
	c->max = max < c->min ? c->min : max;
	c->rate = 0;
	c->size = chunk_clamp(c, (double)initial);
}

/* The next size for a rate, growing at most CHUNK_GROWTH-fold. */
static void
chunk_resize(struct chunk_ctl *c)
{
	double want = c->rate * c->target;
	double cap = (double)c->size * CHUNK_GROWTH;

	c->size = chunk_clamp(c, want > cap ? cap : want);
}

void
chunk_update(struct chunk_ctl *c, long rows, double seconds)
{
	double inst;

	/* Nothing copied (the end of a range): nothing learnt. */
	if (rows <= 0 || !isfinite(seconds))
		return;
	inst = seconds > 0 ? (double)rows / seconds : INFINITY;
	/* Faster than the clock can tell: as fast as we may grow. */
	if (!isfinite(inst)) {
		c->size = chunk_clamp(c, (double)c->size * CHUNK_GROWTH);
		return;
	}
	if (seconds > CHUNK_SLOW * c->target) {
		/* Too slow: cut now, and forget the faster past. */
		c->rate = inst;
		c->size = chunk_clamp(c, (double)rows * c->target / seconds);
		return;
	}
	c->rate = c->rate > 0 ? CHUNK_ALPHA * inst + (1 - CHUNK_ALPHA) * c->rate
			      : inst;
	chunk_resize(c);
}

void
chunk_set_target(struct chunk_ctl *c, double target_seconds)
{
	c->target = chunk_sane_target(target_seconds);
	if (c->rate > 0)
		chunk_resize(c);
}

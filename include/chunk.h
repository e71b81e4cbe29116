/*
 * chunk.h - the chunk-size controller: after each chunk, given how many rows
 * it copied and how long it took, choose the next chunk's row count so that
 * a chunk takes about the target time. Growth is bounded per step (a fast
 * chunk may be followed by a chunk over a cold part of the table) and a slow
 * chunk shrinks the size at once.
 */
#ifndef SHADE_CHUNK_H
#define SHADE_CHUNK_H

struct chunk_ctl {
	double target;  /* seconds a chunk should take */
	long size;      /* rows in the next chunk */
	long min;       /* bounds for size */
	long max;
	double rate;    /* smoothed rows per second, 0 until measured */
};

void chunk_init(struct chunk_ctl *c, double target_seconds, long initial,
		long min, long max);
/* Record a finished chunk; updates c->size for the next one. */
void chunk_update(struct chunk_ctl *c, long rows, double seconds);
/* Change the target while running (control socket, options file). */
void chunk_set_target(struct chunk_ctl *c, double target_seconds);

#endif

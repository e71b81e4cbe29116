/*
 * backoff.c - the one rule for pauses between attempts: double from a
 * first pause up to a cap, for a bounded number of attempts.
 */
#include "backoff.h"

void
backoff_init(struct backoff *b, double first, double max, int tries)
{
	b->first = first;
	b->max = max;
	b->tries = tries > 0 ? tries : 1;
	b->attempt = 0;
}

double
backoff_next(struct backoff *b)
{
	double pause = b->first;

	if (++b->attempt >= b->tries)
		return -1;
	for (int i = 1; i < b->attempt && pause < b->max; i++)
		pause *= 2;
	return pause < b->max ? pause : b->max;
}

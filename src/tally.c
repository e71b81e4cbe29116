/*
 * tally.c - the time a run spent, by phase and by what held it, summed as
 * the run goes so that the summary can say where an hour went.
 */
#include "tally.h"

#include <stdio.h>
#include <string.h>

void
tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->swap_lock_secs = -1;
}

void
tally_phase(struct tally *t, int phase, double secs)
{
	if (phase >= 0 && phase < TALLY_PHASES && secs > 0)
		t->phase_secs[phase] += secs;
}

void
tally_hold(struct tally *t, const char *reason, double secs)
{
	char kind[sizeof(t->holds[0].reason)];
	size_t n;

	if (secs <= 0)
		return;
	if (reason == NULL || *reason == '\0')
		reason = "throttled";
	/*
	 * The kind: the text before a ':' or a number, so "replica lag 3.8 s
	 * > --max-lag 1 (replica ...)" and "replica lag 1.3 s ..." are one row.
	 */
	n = strcspn(reason, ":0123456789");
	while (n > 0 && reason[n - 1] == ' ')
		n--;
	snprintf(kind, sizeof(kind), "%.*s", (int)(n > 0 ? n : strlen(reason)), reason);
	for (size_t i = 0; i < t->nholds; i++) {
		if (strcmp(t->holds[i].reason, kind) == 0) {
			t->holds[i].secs += secs;
			return;
		}
	}
	/* The last row is kept for "other": a reason's text may vary without end. */
	if (t->nholds == TALLY_HOLDS - 1) {
		snprintf(t->holds[t->nholds].reason, sizeof(kind), "other");
		t->nholds++;
	}
	if (t->nholds == TALLY_HOLDS) {
		t->holds[TALLY_HOLDS - 1].secs += secs;
		return;
	}
	snprintf(t->holds[t->nholds].reason, sizeof(kind), "%s", kind);
	t->holds[t->nholds].secs = secs;
	t->nholds++;
}

double
tally_throttled(const struct tally *t)
{
	double sum = 0;

	for (size_t i = 0; i < t->nholds; i++)
		sum += t->holds[i].secs;
	return sum;
}

/*
 * test_chunk.c - the chunk-size controller against simulated tables: it
 * converges on rate * target, stays within [min, max], grows at most 2x per
 * chunk, cuts at once after a chunk over twice the target, and never divides
 * by zero or produces NaN whatever it is fed.
 */
#include <math.h>

#include "chunk.h"
#include "util.h"
#include "unit.h"

/* Run n chunks against a table copying rate rows/s; returns the last size. */
static long
simulate(struct chunk_ctl *c, double rate, int n)
{
	for (int i = 0; i < n; i++) {
		long before = c->size;

		chunk_update(c, c->size, (double)c->size / rate);
		/* growth bound, every step */
		if (c->size > 2 * before && c->size > c->min)
			CHECK(!"grew more than 2x in one step");
		if (c->size < c->min || c->size > c->max)
			CHECK(!"size within [min, max]");
	}
	return c->size;
}

static bool
near(double got, double want, double tolerance)
{
	return fabs(got - want) <= want * tolerance;
}

static void
test_init(void)
{
	struct chunk_ctl c;

	chunk_init(&c, 0.5, 1000, 10, 100000);
	CHECK(c.size == 1000 && c.min == 10 && c.max == 100000);
	CHECK(c.target == 0.5 && c.rate == 0);

	chunk_init(&c, 0.5, 5, 10, 100000);
	CHECK(c.size == 10);
	chunk_init(&c, 0.5, 1000000, 10, 100000);
	CHECK(c.size == 100000);
	chunk_init(&c, 0.5, 0, 0, 100);
	CHECK(c.min == 1 && c.size == 1);
	chunk_init(&c, 0.5, 50, 100, 10); /* max < min */
	CHECK(c.min == 100 && c.max == 100 && c.size == 100);
	chunk_init(&c, 0, 50, 1, 100);
	CHECK(c.target > 0 && isfinite(c.target));
	chunk_init(&c, -1, 50, 1, 100);
	CHECK(c.target > 0);
	chunk_init(&c, NAN, 50, 1, 100);
	CHECK(c.target > 0 && isfinite(c.target));
	chunk_init(&c, INFINITY, 50, 1, 100);
	CHECK(isfinite(c.target));
}

static const struct {
	double target;
	double rate; /* true rows/s of the simulated table */
	long initial, min, max;
	long want; /* converged size */
} conv[] = {
	{0.5, 100000, 1000, 1, 10000000, 50000},
	{0.5, 2000, 1000, 1, 10000000, 1000},
	{0.5, 2000, 100000, 1, 10000000, 1000},
	{1.0, 12345, 1, 1, 10000000, 12345},
	{0.1, 1e6, 100, 10, 10000000, 100000},
	{2.0, 300, 5000, 1, 10000000, 600},
	/* clamped */
	{0.5, 1e9, 1000, 1, 200000, 200000},
	{0.5, 10, 1000, 100, 200000, 100},
	{0.5, 0.001, 1000, 1, 200000, 1},
};

static void
test_converge(void)
{
	for (size_t i = 0; i < ARRAY_LEN(conv); i++) {
		struct chunk_ctl c;
		long got;

		UNIT_CASE("converge #%zu rate=%g target=%g", i, conv[i].rate,
			  conv[i].target);
		chunk_init(&c, conv[i].target, conv[i].initial, conv[i].min,
			   conv[i].max);
		got = simulate(&c, conv[i].rate, 60);
		CHECK(near((double)got, (double)conv[i].want, 0.02));
		CHECK(isfinite(c.rate) && c.rate > 0);
	}
}

static void
test_growth_bounded(void)
{
	struct chunk_ctl c;

	/* A very fast table: doubling each step, never more. */
	chunk_init(&c, 0.5, 100, 1, 1000000);
	for (int i = 0; i < 8; i++) {
		long before = c.size;

		chunk_update(&c, c.size, (double)c.size / 1e9);
		CHECK(c.size == (2 * before < 1000000 ? 2 * before : 1000000));
	}
	/* Too fast for the clock: grows as if very fast, no NaN. */
	chunk_init(&c, 0.5, 100, 1, 1000);
	chunk_update(&c, 100, 0);
	CHECK(c.size == 200);
	CHECK(isfinite(c.rate));
	for (int i = 0; i < 10; i++)
		chunk_update(&c, c.size, 0);
	CHECK(c.size == 1000);
}

static void
test_slow_cut(void)
{
	struct chunk_ctl c;

	chunk_init(&c, 0.5, 1000, 1, 10000000);
	CHECK(near((double)simulate(&c, 100000, 40), 50000, 0.02));

	/* A chunk ten times over target: cut in proportion at once. */
	chunk_update(&c, 50000, 5.0);
	CHECK(c.size == 5000);
	/* and the rate follows at once (no bounce back to the old rate) */
	chunk_update(&c, 5000, 0.5);
	CHECK(c.size == 5000);

	/* Just over 2x: cut too. */
	chunk_init(&c, 0.5, 1000, 1, 10000000);
	simulate(&c, 100000, 40);
	chunk_update(&c, 50000, 1.25);
	CHECK(c.size == 20000);

	/* Under 2x: smoothed, not cut in full. */
	chunk_init(&c, 0.5, 1000, 1, 10000000);
	simulate(&c, 100000, 40);
	chunk_update(&c, 50000, 0.9);
	CHECK(c.size < 50000 && c.size > 27778);

	/* A cut never goes below min. */
	chunk_init(&c, 0.5, 1000, 500, 10000000);
	chunk_update(&c, 1000, 100.0);
	CHECK(c.size == 500);

	/* A slowdown that stays: converges to the new rate. */
	chunk_init(&c, 0.5, 1000, 1, 10000000);
	simulate(&c, 100000, 40);
	CHECK(near((double)simulate(&c, 60000, 40), 30000, 0.02));
}

static void
test_degenerate(void)
{
	struct chunk_ctl c;
	const double bad_seconds[] = {0, -0.0, -1, NAN, INFINITY, -INFINITY, 1e-300};
	const long bad_rows[] = {0, -1, -1000000, 1, 9223372036854775807L};

	chunk_init(&c, 0.5, 1000, 1, 100000);
	chunk_update(&c, 0, 0.5);
	CHECK(c.size == 1000 && c.rate == 0);
	chunk_update(&c, 0, 0);
	CHECK(c.size == 1000 && c.rate == 0);
	chunk_update(&c, -5, 0.5);
	CHECK(c.size == 1000 && c.rate == 0);
	chunk_update(&c, 1000, NAN);
	CHECK(c.size == 1000 && c.rate == 0);

	for (size_t r = 0; r < ARRAY_LEN(bad_rows); r++) {
		for (size_t s = 0; s < ARRAY_LEN(bad_seconds); s++) {
			UNIT_CASE("rows=%ld seconds=%g", bad_rows[r], bad_seconds[s]);
			chunk_init(&c, 0.5, 1000, 1, 100000);
			chunk_update(&c, 500, 0.25); /* a real measurement first */
			chunk_update(&c, bad_rows[r], bad_seconds[s]);
			CHECK(isfinite(c.rate) && c.rate >= 0);
			CHECK(c.size >= c.min && c.size <= c.max);
			chunk_update(&c, 1000, 0.5);
			CHECK(isfinite(c.rate) && c.size >= c.min && c.size <= c.max);
		}
	}
}

static void
test_set_target(void)
{
	struct chunk_ctl c;

	chunk_init(&c, 0.5, 1000, 1, 10000000);
	simulate(&c, 100000, 40);

	/* Lower: takes effect at once. */
	chunk_set_target(&c, 0.1);
	CHECK(c.target == 0.1);
	CHECK(near((double)c.size, 10000, 0.03));

	/* Higher: grows at most 2x now, then converges. */
	chunk_set_target(&c, 1.0);
	CHECK(c.size <= 20000 + 600);
	CHECK(near((double)simulate(&c, 100000, 40), 100000, 0.02));

	/* Nonsense targets fall back to something finite and positive. */
	chunk_set_target(&c, 0);
	CHECK(c.target > 0 && isfinite(c.target));
	chunk_set_target(&c, NAN);
	CHECK(c.target > 0 && isfinite(c.target));
	CHECK(c.size >= c.min && c.size <= c.max);

	/* Before any measurement: only the target changes. */
	chunk_init(&c, 0.5, 1000, 1, 10000000);
	chunk_set_target(&c, 2.0);
	CHECK(c.size == 1000 && c.target == 2.0);
}

/* Noisy measurements (deterministic LCG): bounded, finite, near the mean. */
static void
test_noise(void)
{
	struct chunk_ctl c;
	unsigned long long x = 12345;
	double sum = 0;
	int n = 0;

	chunk_init(&c, 0.5, 1000, 1, 10000000);
	for (int i = 0; i < 400; i++) {
		double jitter, secs;
		long before = c.size;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		jitter = 0.8 + 0.4 * (double)(x >> 11) / 9007199254740992.0;
		secs = (double)c.size / (100000 * jitter);
		chunk_update(&c, c.size, secs);
		if (!(isfinite(c.rate) && c.size >= c.min && c.size <= c.max &&
		      c.size <= 2 * before))
			CHECK(!"finite, bounded, growth at most 2x");
		if (i >= 100) {
			sum += (double)c.size;
			n++;
		}
	}
	UNIT_CASE("noise mean %g", sum / n);
	CHECK(near(sum / n, 50000, 0.1));
}

int
main(void)
{
	UNIT_RUN(test_init);
	UNIT_RUN(test_converge);
	UNIT_RUN(test_growth_bounded);
	UNIT_RUN(test_slow_cut);
	UNIT_RUN(test_degenerate);
	UNIT_RUN(test_set_target);
	UNIT_RUN(test_noise);
	return unit_done();
}

/*
 * estimate.h - how long a whole run would take, from what a dry run
 * measured: a sample copy, the indexes built on that sample, a sampled
 * apply of change-log rows, and the table's write rate read from the
 * server's own counters. Pure arithmetic (tests/unit/test_estimate.c);
 * bench/ checks it against real runs.
 */
#ifndef SHADE_ESTIMATE_H
#define SHADE_ESTIMATE_H

#include <stdbool.h>

/* What the dry run measured; a value it could not measure is < 0 or 0. */
struct estimate_in {
	long long rows;            /* rows to copy; < 0: unknown */
	long long sample_rows;     /* rows the sample copied ... */
	double sample_seconds;     /* ... in this long */
	double index_seconds;      /* the deferred indexes built on the sample ... */
	double analyze_seconds;    /* ... of which the statistics: not scaled */
	long long apply_rows;      /* change-log rows a sampled apply took ... */
	double apply_seconds;      /* ... in this long */
	double write_rate;         /* rows changed per second; < 0: unknown */
	long long sample_log_bytes;  /* WAL / binlog the sample wrote; < 0: unknown */
	double fixed_seconds;      /* what does not grow with the table: connecting,
				      preflight, the shadow, the capture, the swap */
};

struct estimate {
	bool known;          /* rows and a sample: the figures below mean something */
	double copy;         /* seconds of each phase */
	double indexes;
	double apply;        /* every change-log row the run applies, while the
				copy and the builds go on and in catch-up */
	double fixed;
	double total;        /* the whole run; +inf when it never converges */
	double copy_rate;    /* rows per second */
	double apply_rate;   /* change-log rows per second; 0: not sampled */
	bool converges;      /* the apply outruns the writers (true when
				nothing writes, or nothing was measured) */
	long long log_bytes; /* predicted WAL / binlog of the run; < 0: unknown */
};

/*
 * The whole run. The copy and the builds scale with rows / sample_rows
 * (the builds by n log n, but for their ANALYZE, which samples as many
 * rows on any table large enough); every row written meanwhile is a change-log
 * row to apply at the sampled apply rate, and applying takes time in which
 * more rows are written: with write rate w and apply rate a the run's
 * work grows by 1 / (1 - w / a), and does not converge when w >= a.
 */
void estimate_run(const struct estimate_in *in, struct estimate *out);

#endif

/*
 * dryreport.h - the dry run's report: what it found and the whole run's
 * estimate, as text for a person or as one JSON object (the last line on
 * stdout with --log-format json). Pure: it formats facts gathered by
 * migration_report.c into a buffer (tests/unit/test_dryreport.c).
 */
#ifndef SHADE_DRYREPORT_H
#define SHADE_DRYREPORT_H

#include <stdbool.h>

#include "estimate.h"
#include "util.h"

struct dryreport {
	const char *table;          /* for messages, e.g. public.items */
	const char *engine;         /* "PostgreSQL", "MySQL" */
	const char *old_table;      /* where the original goes (NULL: not known) */
	bool drop_old;
	long long rows;             /* to copy; < 0 unknown ... */
	const char *rows_note;      /* ... and why (NULL: nothing to say) */
	long long bytes;            /* the table and its indexes */
	long long disk_bytes_needed;
	long long sample_rows;      /* the sample copy (0: none) ... */
	double sample_seconds;
	const char *sample_note;    /* ... or why there was none */
	const struct estimate *est;
	double write_rate;          /* rows changed per second; < 0 unknown */
	double write_window;        /* seconds it was measured over */
	bool write_server_wide;     /* for the whole server, not the table */
	const char *log_key;        /* "wal_bytes", "binlog_bytes"; NULL: no log */
	const char *log_note;       /* how the log volume was found, or why not */
	bool instant;
	const char *instant_why;
	double chunk_time;
	const struct strlist *plan;
	const struct strlist *warnings;
};

/* The report for a person, as many lines as it needs. */
void dryreport_text(struct buf *out, const struct dryreport *r);

/*
 * One line, a JSON object: event "dry_run" and rows, bytes,
 * disk_bytes_needed, estimated_seconds, phases, plan, warnings, wal_bytes
 * or binlog_bytes, write_rate, converges, instant, and how each was found.
 * A figure that is not known (or infinite: a run that never converges) is
 * null.
 */
void dryreport_json(struct buf *out, double epoch, const struct dryreport *r);

#endif

/*
 * migration_report.c - what a migration prints besides its progress lines:
 * the dry run's report on stdout, and the summary at the end of a run.
 */
#include <stdio.h>

#include "migration_int.h"

/* Seconds as "1h02m03s", "4m05s" or "6s". */
void
migration_duration(char *out, size_t len, double secs)
{
	long s = secs > 0 ? (long)(secs + 0.5) : 0;

	if (s >= 3600)
		snprintf(out, len, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, len, "%lds", s);
}

/*
 * --dry-run: everything preflight and the engine's dry run learn, on
 * stdout. The estimate is the sample's rate over the planner's row count;
 * it leaves out throttling, the apply of concurrent writes and the index
 * builds, and says so.
 */
int
migration_dry_run(struct migration *m)
{
	struct dry_run_report r = {0};
	const long sample = 10000;
	char est[64];

	if (m->engine->dry_run(m->eng, m->o->alter, &m->alter, sample, &r, m->err) != 0) {
		engine_report_free(&r);
		return -1;
	}
	printf("shade dry run: %s on %s; nothing was changed\n\n", m->summary.display,
	       m->engine->name);
	if (m->summary.est_rows >= 0)
		printf("rows to copy:   about %lld\n", m->summary.est_rows);
	else
		printf("rows to copy:   unknown%s%s\n", m->summary.rows_note ? ": " : "",
		       m->summary.rows_note ? m->summary.rows_note : "");
	printf("disk needed:    about %lld MB (the new table and its indexes, as large as the old)\n",
	       m->summary.bytes / (1024 * 1024));
	if (r.sample_rows > 0 && r.sample_seconds > 0 && m->summary.est_rows < 0) {
		printf("sample copy:    %lld rows in %.3f s (%.0f rows/s), rolled back\n",
		       r.sample_rows, r.sample_seconds, (double)r.sample_rows / r.sample_seconds);
	} else if (r.sample_rows > 0 && r.sample_seconds > 0) {
		double rate = (double)r.sample_rows / r.sample_seconds;

		migration_duration(est, sizeof(est), (double)m->summary.est_rows / rate);
		printf("sample copy:    %lld rows in %.3f s (%.0f rows/s), rolled back\n",
		       r.sample_rows, r.sample_seconds, rate);
		printf("estimated copy: %s at that rate, plus index builds and the apply of\n"
		       "                concurrent writes (chunks aim at %.2f s each)\n",
		       est, m->o->chunk_time);
	} else if (r.sample_skipped) {
		printf("sample copy:    skipped: %s\n",
		       r.sample_note ? r.sample_note : "the engine took no sample");
	} else {
		printf("sample copy:    the table is empty\n");
	}
	printf("old table:      kept as %s%s\n", m->summary.old_display ? m->summary.old_display : "?",
	       m->o->drop_old ? " (then dropped: --drop-old)" : "");
	printf("\nplan (every statement, in order; $n or ? is a value bound at run time):\n");
	for (size_t i = 0; i < r.plan.len; i++)
		printf("%3zu. %s;\n", i + 1, r.plan.items[i]);
	engine_report_free(&r);
	return 0;
}

/*
 * The summary of a run that got as far as its capture phase (before it,
 * nothing was done worth summing up, and bad input gets its one line).
 * The phase it ended in gets its time until now.
 */
void
migration_summary(struct migration *m, enum shade_status st)
{
	if (!m->o->execute || m->o->cleanup || m->phase < PHASE_CAPTURE)
		return;
	if (m->phase != PHASE_DONE) {
		tally_phase(&m->tally, (int)m->phase, now_seconds() - m->phase_started);
		m->phase_started = now_seconds();
	}
	migration_hold_account(m, false);
	progress_summary(&m->prog, &m->tally, migration_phase_names, PHASE_DONE, (int)st,
			 migration_phase_names[m->phase]);
}

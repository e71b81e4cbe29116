/*
 * migration_report.c - what a migration prints besides its progress lines:
 * the dry run's report on stdout, and the summary at the end of a run.
 */
#include <stdio.h>

#include "dryreport.h"
#include "estimate.h"
#include "migration_int.h"

/*
 * Warnings the migration can give whatever the engine: the apply losing
 * to the writers, a throttle that holds now, replicas that lag, and the
 * disk, which no server tells a client about.
 */
static void
migration_dry_warnings(struct migration *m, const struct estimate *est,
		       struct dry_run_report *r)
{
	struct throttle_lags lags = {0};
	struct shade_err ignored = {0};

	if (r->instant)
		strlist_push_take(&r->warnings, xasprintf("shade is not needed: %s", r->instant_why ?
							  r->instant_why : "the server can make "
							  "this ALTER in place"));
	if (!est->converges)
		strlist_push_take(&r->warnings,
				  xasprintf("the apply cannot keep up: %.0f rows/s are written, the "
					    "sampled apply takes %.0f rows/s; the run would never "
					    "reach its swap", r->write_rate, est->apply_rate));
	if (m->throttle.verdict != THROTTLE_GO)
		strlist_push_take(&r->warnings,
				  xasprintf("the throttle holds now (%s): the estimate assumes it "
					    "does not", m->throttle.why));
	/* With --replica and --max-lag the throttle reads the lag already. */
	if (m->o->nreplicas == 0 && m->engine->probe_replicas &&
	    m->engine->probe_replicas(m->eng, &lags, &ignored) == 0) {
		for (size_t i = 0; i < lags.n; i++) {
			if (lags.v[i].seconds >= 0 && lags.v[i].seconds < 1.0)
				continue;
			strlist_push_take(&r->warnings,
					  xasprintf("replica %s lags %s%.1f s%s%s: the copy adds to "
						    "its work (--max-lag holds the copy while it lags)",
						    lags.v[i].name, lags.v[i].seconds < 0 ? "? " : "",
						    lags.v[i].seconds < 0 ? 0 : lags.v[i].seconds,
						    lags.v[i].why ? ", " : "",
						    lags.v[i].why ? lags.v[i].why : ""));
		}
	}
	throttle_lags_free(&lags);
	err_clear(&ignored);
	strlist_push_take(&r->warnings,
			  xasprintf("free disk: unknown (%s cannot tell a client); the run needs "
				    "about %lld MB more, the change log and the log volume besides",
				    m->engine->name, m->summary.bytes / (1024 * 1024)));
}

/*
 * --dry-run: what preflight and the engine's dry run learned, and the whole
 * run's estimate (estimate.c), on stdout: a report for a person, or with
 * --log-format json one JSON object as the last line.
 */
int
migration_dry_run(struct migration *m)
{
	struct dry_run_report r = {0};
	struct estimate est;
	struct dryreport d;
	struct buf out = {0};
	/* Large enough that a statement's fixed cost is small beside it. */
	const long sample = 50000;
	double t0 = now_seconds();

	if (m->engine->dry_run(m->eng, m->o->alter, &m->alter, sample, &r, m->err) != 0) {
		engine_report_free(&r);
		return -1;
	}
	estimate_run(&(struct estimate_in){
			     .rows = m->summary.est_rows,
			     .sample_rows = r.sample_rows,
			     .sample_seconds = r.sample_seconds,
			     .index_seconds = r.index_seconds,
			     .analyze_seconds = r.analyze_seconds,
			     .apply_rows = r.apply_rows,
			     .apply_seconds = r.apply_seconds,
			     .write_rate = r.write_rate,
			     .sample_log_bytes = r.log_bytes,
			     /*
			      * What does not grow with the table: a run connects and
			      * preflights as the dry run did, then builds its capture
			      * and swaps; the dry run's own fixed part stands in for
			      * those, as its sample work is measured on its own.
			      */
			     .fixed_seconds = m->tally.phase_secs[PHASE_PREFLIGHT] +
					      (now_seconds() - t0 - r.sample_seconds -
					       r.index_seconds - r.apply_seconds - r.write_waited),
		     },
		     &est);
	migration_dry_warnings(m, &est, &r);
	d = (struct dryreport){
		.table = m->summary.display,
		.engine = m->engine->name,
		.old_table = m->summary.old_display,
		.drop_old = m->o->drop_old,
		.rows = m->summary.est_rows,
		.rows_note = m->summary.rows_note,
		.bytes = m->summary.bytes,
		.disk_bytes_needed = m->summary.bytes,
		.sample_rows = r.sample_rows,
		.sample_seconds = r.sample_seconds,
		.sample_note = r.sample_note,
		.est = &est,
		.write_rate = r.write_rate,
		.write_window = r.write_window,
		.write_server_wide = r.write_server_wide,
		.log_key = m->engine->dialect == SQL_PG ? "wal_bytes" : "binlog_bytes",
		.log_note = r.log_note,
		.instant = r.instant,
		.instant_why = r.instant_why,
		.chunk_time = m->o->chunk_time,
		.plan = &r.plan,
		.warnings = &r.warnings,
	};
	if (m->o->log_format == LOGFMT_JSON)
		dryreport_json(&out, logfmt_wall_now(), &d);
	else
		dryreport_text(&out, &d);
	fputs(buf_str(&out), stdout);
	fflush(stdout);
	buf_free(&out);
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

/*
 * migration_hold.c - the operator's holds on a running migration: a pause
 * (SIGUSR1), the throttle and postpone flag files, the control socket's
 * postponement (migration_control.c), and the watchers that wake a parked
 * step or say that a long build still runs. The state
 * machine (migration.c) asks migration_pausing() before each step and
 * migration_postponed() before the swap; both say once when a hold starts
 * and when it ends. The limits' throttle (throttle.h: replica lag, load,
 * the operator's query) holds the same phases as the throttle flag file.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "migration_int.h"

/* What holds the swap, for the "postponed" line. */
static void
migration_postpone_why(const struct migration *m, char *out, size_t len)
{
	const char *sock = m->o->control_socket ? m->o->control_socket : "";

	if (m->ctl.postponed && m->postpone_held)
		snprintf(out, len, "flag file %s exists, and the cut-over command is awaited on %s",
			 m->ctl.postpone_file, sock);
	else if (m->ctl.postponed)
		snprintf(out, len, "flag file %s exists", m->ctl.postpone_file);
	else
		snprintf(out, len, "waiting for the cut-over command on %s", sock);
}

/*
 * Catch-up has caught up: may the swap start? Not while a postponement
 * holds it (the postpone flag file exists, or the control socket's
 * postpone / --postpone-cut-over awaits its cut-over): then catch-up goes
 * on applying the log, so the backlog the swap drains under its lock stays
 * small, resting a little between rounds (a drained log needs no busy
 * loop). This is asked before the swap's first attempt, never while it
 * holds a lock.
 */
bool
migration_postponed(struct migration *m)
{
	if (!migration_postpone_wanted(m) || ctl_abort_wanted(&m->ctl)) {
		if (m->postpone_said && m->ctl.postpone_file != NULL && !m->ctl.postponed &&
		    !m->o->control_socket)
			progress_note(&m->prog, "postpone flag file %s is gone: going on to the swap",
				      m->ctl.postpone_file);
		else if (m->postpone_said)
			progress_note(&m->prog, "the postponement is lifted (cut-over%s%s%s): going on to "
				      "the swap", m->ctl.postpone_file ? ", and flag file " : "",
				      m->ctl.postpone_file ? m->ctl.postpone_file : "",
				      m->ctl.postpone_file ? " is gone" : "");
		m->postpone_said = false;
		return false;
	}
	if (!m->postpone_said) {
		char what[1024];

		migration_postpone_why(m, what, sizeof(what));
		progress_phase(&m->prog, "postponed", what);
		m->postpone_said = true;
	}
	progress_apply_tick(&m->prog, "catch-up (postponed)", m->apply_rate, false);
	(void)dbwait_sleep(&m->wait, 0.2);
	return true;
}

/*
 * A catch-up that will never end: say so once (progress_trend_check), so
 * the operator learns why the swap never comes, with the two rates.
 */
void
migration_converging(struct migration *m)
{
	char msg[320];

	if (progress_trend_check(&m->trend, m->prog.interval, now_seconds(), m->prog.backlog,
				 m->prog.applied, msg, sizeof(msg)))
		progress_note(&m->prog, "%s", msg);
}

/* Seconds a verdict of the probes holds before they probe again. */
#define MIGRATION_PROBE_AGE 0.4

/*
 * Connect the throttle's probes and probe once (throttle.h): bad limits,
 * replicas or query are bad input, found before anything is built. With
 * no limit and no replica, no connection is made (the operator may set a
 * limit later: the probes connect then).
 */
int
migration_throttle_open(struct migration *m)
{
	return throttle_open(&m->throttle, m->engine, &m->dsn, m->o->replicas, m->o->nreplicas,
			     &m->wait, &m->eopts, &m->limits, m->err);
}

/*
 * Between apply batches: over a limit now? Probes at most once a second,
 * so that a long apply round still looks; says nothing (the step that
 * follows, parked, does).
 */
bool
migration_throttle_due(struct migration *m)
{
	return throttle_check(&m->throttle, &m->limits, 1.0) != THROTTLE_GO;
}

/*
 * The limits' throttle: is any input over its limit in a phase it holds?
 * Says once when it starts, with the reason, and when it ends; keeps
 * m->throttle_reason as the probes see it now. A load over
 * --critical-load sets m->critical: the step that follows fails.
 */
static bool
migration_limits_hold(struct migration *m, bool aborting)
{
	enum throttle_verdict v = THROTTLE_GO;

	if (!aborting && (m->phase == PHASE_COPY || m->phase == PHASE_APPLY ||
			  m->phase == PHASE_CATCHUP))
		v = throttle_check(&m->throttle, &m->limits, MIGRATION_PROBE_AGE);
	if (v == THROTTLE_ABORT) {
		m->critical = true;
		return false;
	}
	if (v == THROTTLE_WAIT) {
		if (m->throttle_reason[0] == '\0') {
			progress_trend_reset(&m->trend);
			progress_note(&m->prog, "throttled: %s", m->throttle.why);
		}
		snprintf(m->throttle_reason, sizeof(m->throttle_reason), "%s", m->throttle.why);
		return true;
	}
	if (m->throttle_reason[0] != '\0') {
		progress_note(&m->prog, "throttle ended: every input is within its limit again "
			      "(was: %s)", m->throttle_reason);
		m->throttle_reason[0] = '\0';
	}
	return false;
}

/*
 * Is the operator holding the migration? SIGUSR1 holds only the copy: the
 * phases after it are short, and a paused swap would hold nothing anyway.
 * The throttle flag file holds the copy and every apply (between chunks or
 * batches: a step never stops mid-statement), never a build or the swap.
 * Says so once when a hold starts and when it ends.
 */
bool
migration_pausing(struct migration *m)
{
	bool aborting = ctl_abort_wanted(&m->ctl);
	bool pause = m->ctl.paused && m->phase == PHASE_COPY && !aborting;
	bool throttle = m->ctl.throttled && !aborting &&
			(m->phase == PHASE_COPY || m->phase == PHASE_APPLY ||
			 m->phase == PHASE_CATCHUP);

	if (pause != m->prog.paused) {
		m->prog.paused = pause;
		if (!pause)
			progress_note(&m->prog, "resumed");
		else if (m->o->control_socket != NULL)
			progress_note(&m->prog, "paused (SIGUSR2 or \"resume\" on %s resumes)",
				      m->o->control_socket);
		else
			progress_note(&m->prog, "paused (SIGUSR2 resumes)");
	}
	if (throttle != m->prog.throttled) {
		m->prog.throttled = throttle;
		progress_trend_reset(&m->trend);  /* a throttled catch-up says nothing */
		if (throttle)
			progress_note(&m->prog, "throttled: flag file %s", m->ctl.throttle_file);
		else
			progress_note(&m->prog, "throttle ended: flag file %s is gone",
				      m->ctl.throttle_file);
	}
	if (migration_limits_hold(m, aborting))
		return true;
	return !m->critical && (pause || throttle);
}

/*
 * Account the time since the last call to what held the run then, and
 * remember what holds it now: a pause, or a throttle by its reason (the
 * flag file, or whatever m->throttle_reason says).
 */
void
migration_hold_account(struct migration *m, bool held)
{
	double now = now_seconds();

	if (strcmp(m->hold_kind, "paused") == 0)
		m->tally.paused_secs += now - m->hold_at;
	else if (m->hold_kind[0] != '\0')
		tally_hold(&m->tally, m->hold_kind, now - m->hold_at);
	m->hold_at = now;
	if (!held)
		m->hold_kind[0] = '\0';
	else if (m->prog.paused)
		snprintf(m->hold_kind, sizeof(m->hold_kind), "paused");
	else if (m->ctl.throttled)
		snprintf(m->hold_kind, sizeof(m->hold_kind), "flag file");
	else
		snprintf(m->hold_kind, sizeof(m->hold_kind), "%s",
			 m->throttle_reason[0] ? m->throttle_reason : "throttled");
}

/*
 * While held, the phase still says where it is, once per interval (a
 * throttle may hold a catch-up for minutes: silence would look like a hang).
 */
static void
migration_held_tick(struct migration *m)
{
	if (m->phase == PHASE_COPY)
		progress_tick(&m->prog, false);
	else if (m->phase == PHASE_APPLY || m->phase == PHASE_CATCHUP)
		progress_apply_tick(&m->prog, migration_phase_names[m->phase], m->apply_rate, false);
}

void
migration_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct migration *m = (struct migration *)((char *)w - offsetof(struct migration, pause_check));

	(void)revents;
	migration_held_tick(m);
	/* The step looks again, and parks here again if still held. */
	ev_timer_stop(loop, w);
	ev_idle_start(loop, &m->step);
}

void
migration_on_build(void *arg, const char *what)
{
	struct migration *m = arg;

	snprintf(m->building, sizeof(m->building), "%s", what);
	m->build_started = now_seconds();
}

/*
 * A build (the key, the indexes) is one statement that may take long: say
 * once per interval that it still runs and what it builds, as the copy
 * says where it is. An apply statement that runs long (a batch under
 * load) gets its phase's line too, so no phase falls silent.
 */
void
migration_build_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct migration *m = (struct migration *)((char *)w - offsetof(struct migration, build_tick));
	bool build = m->phase == PHASE_KEY || m->phase == PHASE_INDEXES;
	bool named = m->building[0] != '\0' && m->build_started >= m->phase_started;

	(void)loop;
	(void)revents;
	if (!m->in_step || now_seconds() - m->phase_started < m->prog.interval)
		return;
	if (!build) {
		migration_held_tick(m);
		return;
	}
	progress_build_tick(&m->prog, migration_phase_names[m->phase],
			    named ? m->building
				  : m->phase == PHASE_KEY ? "the shadow's primary key"
							  : "the other indexes",
			    named ? now_seconds() - m->build_started : -1,
			    now_seconds() - m->phase_started);
}

/*
 * A signal arrived or a flag file came or went: if parked, look again at
 * once (the step parks again if still held).
 */
void
migration_ctl_changed(void *arg)
{
	struct migration *m = arg;

	if (!m->finished && !m->in_step && !ev_is_active(&m->step)) {
		ev_timer_stop(m->loop, &m->pause_check);
		ev_idle_start(m->loop, &m->step);
	}
}

/*
 * migration.c - the engine-agnostic state machine of one online ALTER.
 *
 *   preflight -> shadow -> capture -> copy <-> apply (MySQL) -> key
 *             -> apply -> indexes -> catch-up -> swap -> cleanup
 *
 * An ev_idle watcher calls migration_step(), which does one bounded unit of
 * work for the current phase and returns to the loop. Between steps the
 * operator's requests are honoured: a pause stops the step watcher, an abort
 * undoes what was built (before the swap) and ends with status 3. Statements
 * themselves wait through dbwait, so signals are served while they run.
 *
 * Why no write is lost (README.md, "Why no write is lost"): capture starts
 * before the first chunk; copy and apply alternate on one connection, each
 * statement on a fresh snapshot; a chunk never overwrites a row an apply
 * wrote (MySQL: the key keeps it; PostgreSQL: no apply runs before the copy
 * ends and the key is built) and an apply corrects a chunk copied before it; the swap drains the
 * log under a lock no writer can pass. This file keeps that order and never
 * lets two of those steps overlap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "migration_int.h"

const char *const migration_phase_names[] = {
	[PHASE_PREFLIGHT] = "preflight",
	[PHASE_SHADOW] = "shadow",
	[PHASE_CAPTURE] = "capture",
	[PHASE_COPY] = "copy",
	[PHASE_KEY] = "key",
	[PHASE_APPLY] = "apply",
	[PHASE_INDEXES] = "indexes",
	[PHASE_CATCHUP] = "catch-up",
	[PHASE_SWAP] = "swap",
	[PHASE_CLEANUP] = "cleanup",
	[PHASE_DONE] = "done",
};

void
migration_defaults(struct mig_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->chunk_time = 0.5;
	o->chunk_rows = 1000;
	o->lock_timeout = 1.0;
	o->lock_retries = 10;
	o->reconnect_tries = 10;
	o->connect_timeout = 10;
	o->apply_time = 0.2;
	o->swap_drain = 0.1;
	o->progress_interval = 5;
}

static void
migration_trace(void *arg, const char *sql)
{
	struct migration *m = arg;

	progress_sql(&m->prog, sql);
}

static bool
migration_cancel_wanted(void *arg)
{
	struct migration *m = arg;

	/*
	 * Undo must run to its end; so must the clean-up after the swap (the
	 * new table is live by then: there is nothing left to abort).
	 */
	return !m->undoing && !m->swapped && ctl_cancel_wanted(&m->ctl);
}

/* dbwait's abort_wanted: a pause between attempts ends at the first abort. */
static bool
migration_abort_wanted(void *arg)
{
	struct migration *m = arg;

	return !m->undoing && !m->swapped && ctl_abort_wanted(&m->ctl);
}

static void
migration_finish(struct migration *m, enum shade_status st)
{
	m->result = st;
	m->finished = true;
	ev_idle_stop(m->loop, &m->step);
	ev_timer_stop(m->loop, &m->pause_check);
	ev_timer_stop(m->loop, &m->build_tick);
	ev_break(m->loop, EVBREAK_ALL);
}

/*
 * Remove everything built before the swap. The original table is never
 * touched here; a failure to clean up is reported next to the first error.
 */
static void
migration_undo(struct migration *m)
{
	struct shade_err uerr = {0};

	if (!m->built || m->swapped || m->eng == NULL)
		return;
	m->undoing = true;
	progress_phase(&m->prog, "undo", "removing the shadow table, change log and triggers");
	if (m->engine->undo(m->eng, &uerr) != 0)
		err_append(m->err, " (and cleaning up failed too: %s)", uerr.msg);
	else
		m->built = false;
	err_clear(&uerr);
	m->undoing = false;
}

static int migration_connect(struct migration *m);
static int migration_resume(struct migration *m);

/*
 * The connection is gone in a phase a later run can take up: connect
 * again, with growing pauses, and take the run up as a new shade would
 * (the state table says where it was; the triggers kept logging). Returns
 * 0 when the run goes on; -1 with err saying what is left behind.
 */
static int
migration_reconnect(struct migration *m)
{
	struct backoff bo;
	char lost[sizeof(m->err->msg)];
	const char *during = migration_phase_names[m->phase];
	double pause;

	snprintf(lost, sizeof(lost), "%s", m->err->msg);
	progress_note(&m->prog, "lost the connection to the server during %s (%s); reconnecting",
		      during, lost);
	backoff_init(&bo, 0.5, 8, m->o->reconnect_tries + 1);
	for (;;) {
		if (m->eng != NULL)
			m->engine->close(m->eng);
		m->eng = NULL;
		engine_summary_free(&m->summary);
		run_state_free(&m->rstate);
		m->resuming = false;
		if ((pause = backoff_next(&bo)) < 0 || dbwait_sleep(&m->wait, pause) ||
		    ctl_abort_wanted(&m->ctl))
			break;
		err_clear(m->err);
		if (migration_connect(m) == 0 && m->resuming && migration_resume(m) == 0) {
			progress_note(&m->prog, "reconnected (attempt %d)", bo.attempt);
			return 0;
		}
		progress_note(&m->prog, "reconnecting: attempt %d of %d failed: %s", bo.attempt,
			      bo.tries, m->err->msg);
	}
	err_set(m->err, ctl_abort_wanted(&m->ctl) ? SHADE_ABORTED : SHADE_FAILED,
		"lost the connection to the server during %s and could not take the run up again "
		"(%s): the triggers on %s still log every write into its change log; run the same "
		"command again to resume, or shade --cleanup --dsn ... --table %s to remove it all",
		during, lost, m->summary.display ? m->summary.display : m->o->table, m->o->table);
	return -1;
}

/* A failed step: undo if needed and stop with the error's status. */
static void
migration_fail(struct migration *m)
{
	enum shade_status st = m->err->status;

	/* Where a later run could take it up, so can this one. */
	if (m->err->conn_lost && m->built && !m->swapped && m->phase >= PHASE_COPY &&
	    m->phase <= PHASE_CATCHUP && m->engine->resume != NULL) {
		if (migration_reconnect(m) == 0)
			return;
		m->built = false;  /* nothing to undo without a connection: keep it resumable */
		migration_finish(m, m->err->status);
		return;
	}

	if (m->swapped) {
		/* The new table is in place; only the clean-up failed. */
		err_append(m->err, " (the tables were already swapped: %s has the new schema; "
			   "remove %s by hand)",
			   m->summary.display,
			   m->summary.leftovers ? m->summary.leftovers : "the change log");
		migration_finish(m, SHADE_FAILED);
		return;
	}
	if ((m->err->cancelled || (st != SHADE_USAGE && ctl_abort_wanted(&m->ctl))) &&
	    m->ctl.abort_source != NULL) {
		st = SHADE_ABORTED;
		snprintf(m->err->msg, sizeof(m->err->msg),
			 "aborted from %s (during %s); the original table is untouched",
			 m->ctl.abort_source, migration_phase_names[m->phase]);
	} else if ((m->err->cancelled || (st != SHADE_USAGE && ctl_abort_wanted(&m->ctl))) &&
		   m->ctl.panicked && m->ctl.abort_signal == 0) {
		st = SHADE_ABORTED;
		snprintf(m->err->msg, sizeof(m->err->msg),
			 "aborted: the panic flag file %s exists (during %s); the original table "
			 "is untouched",
			 m->ctl.panic_file, migration_phase_names[m->phase]);
	} else if (m->err->cancelled || (st != SHADE_USAGE && ctl_abort_wanted(&m->ctl))) {
		st = SHADE_ABORTED;
		snprintf(m->err->msg, sizeof(m->err->msg),
			 "aborted by signal %d during %s; the original table is untouched",
			 m->ctl.abort_signal, migration_phase_names[m->phase]);
	}
	if (st == SHADE_OK)
		st = SHADE_FAILED;
	migration_undo(m);
	migration_finish(m, st);
}

void
migration_set_phase(struct migration *m, enum mig_phase ph, const char *detail)
{
	tally_phase(&m->tally, (int)m->phase, now_seconds() - m->phase_started);
	m->phase = ph;
	m->phase_started = now_seconds();
	progress_phase(&m->prog, migration_phase_names[ph], detail);
}

/*
 * Run op (capture or swap) until it gets its lock: a lock timeout is retried
 * with growing back-off, so a long transaction on the table delays the
 * migration instead of queueing the application behind shade's lock.
 * Returns 0 when op succeeded, -1 on failure, 1 when the swap was
 * postponed between attempts (the postpone flag file appeared).
 */
static int
migration_with_lock(struct migration *m, int (*op)(struct eng *, struct shade_err *))
{
	struct backoff bo;

	backoff_init(&bo, 0.5, 16, m->o->lock_retries);
	for (;;) {
		const char *blockers;
		double pause, t0 = now_seconds();

		err_clear(m->err);
		if (op(m->eng, m->err) == 0) {
			/* The swap's statements are what hold the lock writers wait on. */
			if (m->phase == PHASE_SWAP)
				m->tally.swap_lock_secs = now_seconds() - t0;
			return 0;
		}
		if (!m->err->retryable)
			return -1;
		if ((pause = backoff_next(&bo)) < 0) {
			err_append(m->err, " (gave up after %d attempts to lock the table for %s)",
				   bo.attempt, migration_phase_names[m->phase]);
			m->err->status = SHADE_FAILED;
			return -1;
		}
		/* Who holds the lock, when the engine could tell (util.h). */
		blockers = strstr(m->err->msg, ERR_BLOCKED_BY);
		progress_note(&m->prog,
			      "%s: could not lock %s within %.1fs (attempt %d of %d); retrying in %.1fs%s",
			      migration_phase_names[m->phase], m->summary.display, m->o->lock_timeout,
			      bo.attempt, bo.tries, pause, blockers ? blockers : "");
		/* An abort ends the pause at once: the back-off may be 16 s. */
		if (dbwait_sleep(&m->wait, pause) || ctl_abort_wanted(&m->ctl)) {
			err_set(m->err, SHADE_ABORTED, "aborted");
			return -1;
		}
		/* A postponement came (flag file, socket): back to catch-up, no lock held. */
		if (m->phase == PHASE_SWAP && migration_postpone_wanted(m))
			return 1;
		/* Keep the backlog small between attempts at the swap. */
		if (m->phase == PHASE_SWAP) {
			long long applied;

			long limit = m->apply_size.size;

			do {
				err_clear(m->err);
				if (m->engine->apply(m->eng, limit, &applied, m->err) != 0)
					return -1;
			} while (applied >= limit);
		}
	}
}

/*
 * Apply change-log batches for at most budget seconds, or until drained.
 * A batch is sized by time, as a chunk is: a full one teaches the size
 * controller the apply's rate; every batch feeds the rate that decides
 * when catch-up may end.
 */
static int
migration_apply_for(struct migration *m, double budget, bool *drained)
{
	double start = now_seconds();
	long long applied, total = 0;

	*drained = false;
	do {
		long limit = m->apply_size.size;
		double t0 = now_seconds();

		if (m->engine->apply(m->eng, limit, &applied, m->err) != 0)
			return -1;
		if (applied >= limit)
			chunk_update(&m->apply_size, (long)applied, now_seconds() - t0);
		m->prog.applied += applied;
		total += applied;
		if (applied < limit) {
			*drained = true;
			m->prog.backlog = 0;
			break;
		}
	} while (now_seconds() - start < budget && !ctl_abort_wanted(&m->ctl) &&
		 !m->ctl.paused && !m->ctl.throttled && !migration_throttle_due(m));
	if (total > 0 && now_seconds() > start) {
		double inst = (double)total / (now_seconds() - start);

		m->apply_rate = m->apply_rate > 0 ? 0.7 * m->apply_rate + 0.3 * inst : inst;
	}
	return 0;
}

/* Seconds the backlog would take to drain at the measured apply rate. */
static double
migration_drain_seconds(const struct migration *m)
{
	if (m->prog.backlog <= 0)
		return 0;
	return m->apply_rate > 0 ? (double)m->prog.backlog / m->apply_rate : 1e9;
}

/*
 * Between chunks: apply the log (unless the shadow has no key yet), and
 * now and then say where the copy is and how long the log has grown.
 */
static int
migration_between_chunks(struct migration *m)
{
	bool drained = false;

	if (m->engine->keyless_copy) {
		/* The shadow has no key to apply by: the log waits for it. */
	} else if (migration_apply_for(m, m->chunk.target * 4 > 1.0 ? m->chunk.target * 4 : 1.0,
				       &drained) != 0) {
		/*
		 * Apply between chunks until the log is drained, as gh-ost
		 * favours its binlog stream over the copy: a backlog only
		 * grows the final catch-up and the swap's drain. The bound
		 * keeps the copy moving when writers outpace the apply.
		 */
		return -1;
	}
	if (now_seconds() - m->last_backlog_check >= m->prog.interval) {
		m->last_backlog_check = now_seconds();
		if (!drained && m->engine->backlog(m->eng, &m->prog.backlog, m->err) != 0)
			return -1;
	}
	/* Its own interval: a line per interval, or the live line each second. */
	progress_tick(&m->prog, false);
	return 0;
}

/* What the key phase does, for its phase line. */
static const char *
migration_key_note(const struct migration *m)
{
	if (m->engine->build_key == NULL)
		return NULL;
	if (m->engine->key_note != NULL && m->eng != NULL)
		return m->engine->key_note(m->eng);
	return "building the shadow's primary key";
}

static int
migration_copy_step(struct migration *m)
{
	struct keyval upper = {0};
	long long copied = 0;
	bool last = false;
	double t0;
	int rc = -1;

	if (!m->have_bounds) {
		if (m->engine->copy_bounds(m->eng, &m->max, &m->copy_empty, m->err) != 0)
			return -1;
		m->have_bounds = true;
		m->prog.copy_started = now_seconds();
		if (m->copy_empty) {
			progress_note(&m->prog, "copy: the table is empty");
			migration_set_phase(m, PHASE_KEY, migration_key_note(m));
			return 0;
		}
	}
	t0 = now_seconds();
	if (m->engine->copy_chunk(m->eng, m->have_cursor ? &m->cursor : NULL, &m->max,
				  m->chunk.size, &upper, &copied, &last, m->err) != 0)
		goto out;
	chunk_update(&m->chunk, (long)copied, now_seconds() - t0);
	keyval_copy(&m->cursor, &upper);
	m->have_cursor = true;
	m->prog.copied += copied;
	if (migration_between_chunks(m) != 0)
		goto out;
	if (last) {
		if (m->prog.total < m->prog.copied)
			m->prog.total = m->prog.copied;
		progress_tick(&m->prog, true);
		migration_set_phase(m, PHASE_KEY, migration_key_note(m));
	}
	rc = 0;
out:
	keyval_free(&upper);
	return rc;
}

/* The phase a state table names (PHASE_PREFLIGHT: none of ours). */
static enum mig_phase
migration_phase_named(const char *name)
{
	for (int ph = PHASE_COPY; ph <= PHASE_CATCHUP; ph++)
		if (name && strcmp(name, migration_phase_names[ph]) == 0)
			return (enum mig_phase)ph;
	return PHASE_PREFLIGHT;
}

/*
 * An interrupted run of this table left its state: take it up if it is
 * this same migration (same ALTER-BODY, same shade), else refuse and say
 * what to do. A dry run only says what it found.
 */
static int
migration_read_state(struct migration *m)
{
	struct run_state *st = &m->rstate;
	const char *what = NULL;

	if (m->engine->state_read(m->eng, st, m->err) != 0)
		return -1;
	if (!m->o->execute) {
		err_set(m->err, SHADE_USAGE,
			"an interrupted run (--alter '%s') waits on %s at its %s phase, %lld rows "
			"copied: run it again with --execute to resume it, or remove it with "
			"shade --cleanup --dsn ... --table %s",
			st->alter ? st->alter : "?", m->summary.display, st->phase ? st->phase : "?",
			st->copied, m->o->table);
		return -1;
	}
	if (st->version == NULL || strcmp(st->version, SHADE_VERSION) != 0)
		what = "shade's version";
	else if (st->alter == NULL || strcmp(st->alter, m->o->alter) != 0)
		what = "the ALTER";
	else if (migration_phase_named(st->phase) == PHASE_PREFLIGHT)
		what = "the phase it names";
	if (what != NULL) {
		err_set(m->err, SHADE_USAGE,
			"an interrupted run (shade %s, --alter '%s') left its state on %s, and %s "
			"differs: run that same command again to resume it, or remove it with "
			"shade --cleanup --dsn ... --table %s",
			st->version ? st->version : "?", st->alter ? st->alter : "?",
			m->summary.display, what, m->o->table);
		return -1;
	}
	m->resuming = true;
	return 0;
}

/*
 * Take up the interrupted run where its state says it was: the shadow,
 * the triggers and the log are there (the triggers never stopped, so the
 * log holds every write since), the copy goes on after its last chunk.
 */
static int
migration_resume(struct migration *m)
{
	struct run_state *st = &m->rstate;
	enum mig_phase ph = migration_phase_named(st->phase);

	if (m->engine->resume(m->eng, m->o->alter, &m->alter, st, m->err) != 0)
		return -1;
	m->built = true;
	m->saved_phase = ph;
	m->prog.copied = m->prog.copied_before = st->copied;
	m->have_bounds = st->max.n > 0;
	m->have_cursor = st->cursor.n > 0;
	if (m->have_bounds) {
		keyval_copy(&m->max, &st->max);
		m->prog.copy_started = now_seconds();
	}
	if (m->have_cursor)
		keyval_copy(&m->cursor, &st->cursor);
	progress_phase(&m->prog, "preflight", m->preflight_note);
	if (ph == PHASE_COPY && m->have_cursor) {
		char *at = keyval_encode(&m->cursor);

		progress_note(&m->prog,
			      "resuming the interrupted run: copy from %s %s (%lld of about %lld rows "
			      "copied); the triggers kept logging every write meanwhile",
			      m->engine->keyless_copy ? "block" : "the key after",
			      m->cursor.n == 1 ? m->cursor.vals[0] : at, st->copied, m->prog.total);
		free(at);
	} else {
		progress_note(&m->prog,
			      "resuming the interrupted run at its %s phase (%lld rows copied); the "
			      "triggers kept logging every write meanwhile",
			      migration_phase_names[ph], st->copied);
	}
	migration_set_phase(m, ph, NULL);
	return 0;
}

static int
migration_preflight(struct migration *m)
{
	const struct mig_opts *o = m->o;
	enum sql_dialect d;

	if (dsn_parse(o->dsn, &m->dsn, m->err) != 0)
		return -1;
	m->engine = engine_for(m->dsn.kind);
	d = m->engine->dialect;
	if (ident_parse(o->table, d, &m->table, m->err) != 0)
		return -1;
	if (alter_parse(o->alter, d, &m->alter, m->err) != 0)
		return -1;
	m->eopts.lock_timeout = o->lock_timeout;
	m->eopts.lock_retries = o->lock_retries;
	m->eopts.connect_timeout = o->connect_timeout;
	if (o->verbose)
		m->eopts.trace = migration_trace;
	m->eopts.trace_arg = m;
	m->eopts.on_build = migration_on_build;
	m->eopts.on_build_arg = m;
	return migration_connect(m);
}

/* Connect and look at the table: the first time, and after a lost connection. */
static int
migration_connect(struct migration *m)
{
	if (m->engine->open(&m->eng, &m->dsn, &m->wait, &m->eopts, m->err) != 0)
		return -1;
	if (m->engine->preflight(m->eng, &m->table, &m->alter, &m->summary, m->err) != 0)
		return -1;
	m->prog.total = m->summary.est_rows > 0 ? m->summary.est_rows : 0;
	if (m->summary.resumable && migration_read_state(m) != 0)
		return -1;
	if (m->summary.est_rows >= 0)
		snprintf(m->preflight_note, sizeof(m->preflight_note),
			 "%s on %s: about %lld rows, %lld MB", m->summary.display,
			 m->engine->name, m->summary.est_rows, m->summary.bytes / (1024 * 1024));
	else
		snprintf(m->preflight_note, sizeof(m->preflight_note),
			 "%s on %s: %lld MB, row count unknown%s%s%s", m->summary.display,
			 m->engine->name, m->summary.bytes / (1024 * 1024),
			 m->summary.rows_note ? " (" : "",
			 m->summary.rows_note ? m->summary.rows_note : "",
			 m->summary.rows_note ? ")" : "");
	return 0;
}

/*
 * --cleanup: connect, and let the engine remove what an abandoned run left
 * on the table, under the run lock (never while a shade runs on it).
 */
static int
migration_cleanup(struct migration *m)
{
	bool found = false;

	if (dsn_parse(m->o->dsn, &m->dsn, m->err) != 0)
		return -1;
	m->engine = engine_for(m->dsn.kind);
	if (ident_parse(m->o->table, m->engine->dialect, &m->table, m->err) != 0)
		return -1;
	m->eopts.lock_timeout = m->o->lock_timeout;
	m->eopts.lock_retries = m->o->lock_retries;
	m->eopts.connect_timeout = m->o->connect_timeout;
	if (m->o->verbose)
		m->eopts.trace = migration_trace;
	m->eopts.trace_arg = m;
	if (m->engine->cleanup == NULL) {
		err_set(m->err, SHADE_USAGE, "--cleanup is not supported on %s yet", m->engine->name);
		return -1;
	}
	m->undoing = true;  /* a clean-up runs to its end */
	if (m->engine->open(&m->eng, &m->dsn, &m->wait, &m->eopts, m->err) != 0 ||
	    m->engine->cleanup(m->eng, &m->table, &m->summary, &found, m->err) != 0)
		return -1;
	progress_note(&m->prog, found
		      ? "cleanup: removed what an interrupted run left on %s (its triggers, change "
			"log and new table)"
		      : "cleanup: nothing of shade's is left on %s",
		      m->summary.display);
	return 0;
}

/*
 * The phases between the copy and the swap, a bounded unit each:
 *   key       the shadow's primary key, where the engine left it off
 *             for the copy (PostgreSQL);
 *   apply     the log written during the copy, until drained once;
 *   indexes   the other indexes (the engine builds the unique ones where
 *             they cannot fail for shade's own race);
 *   catch-up  the log again, until what is left would drain within
 *             swap_drain seconds at the measured apply rate: the swap
 *             drains it under its lock, so that is how long writers wait.
 */
static int
migration_apply_step(struct migration *m)
{
	bool drained;

	switch (m->phase) {
	case PHASE_KEY:
		if (m->engine->build_key && m->engine->build_key(m->eng, m->err) != 0)
			return -1;
		migration_set_phase(m, PHASE_APPLY, "applying the changes logged during the copy");
		return 0;
	case PHASE_APPLY:
		if (migration_apply_for(m, 1.0, &drained) != 0)
			return -1;
		if (!drained && m->engine->backlog(m->eng, &m->prog.backlog, m->err) != 0)
			return -1;
		progress_apply_tick(&m->prog, "apply", m->apply_rate, drained);
		if (drained)
			migration_set_phase(m, PHASE_INDEXES, "building the other indexes");
		return 0;
	case PHASE_INDEXES:
		if (m->engine->build_indexes(m->eng, m->err) != 0)
			return -1;
		migration_set_phase(m, PHASE_CATCHUP, "applying the change log");
		return 0;
	default:
		break;
	}
	if (migration_apply_for(m, 1.0, &drained) != 0 ||
	    m->engine->backlog(m->eng, &m->prog.backlog, m->err) != 0)
		return -1;
	migration_converging(m);
	if (migration_drain_seconds(m) > m->o->swap_drain) {
		progress_apply_tick(&m->prog, "catch-up", m->apply_rate, false);
		return 0;
	}
	if (migration_postponed(m))
		return 0;
	progress_apply_tick(&m->prog, "catch-up", m->apply_rate, true);
	migration_set_phase(m, PHASE_SWAP, "locking briefly to swap the tables");
	return 0;
}

/* A phase a later run could take up begins: record it in the state table. */
static int
migration_save_phase(struct migration *m)
{
	if (m->finished || !m->built || m->swapped || m->engine->state_phase == NULL ||
	    m->phase == m->saved_phase || m->phase < PHASE_COPY || m->phase > PHASE_CATCHUP)
		return 0;
	if (m->engine->state_phase(m->eng, migration_phase_names[m->phase], m->err) != 0)
		return -1;
	m->saved_phase = m->phase;
	return 0;
}

/*
 * --attempt-instant (as gh-ost's and spirit's): the server makes the ALTER
 * on T in its catalog alone, and the run is over; or it cannot (or that
 * ALTER failed, leaving T as it was), and the run goes on, having said why.
 */
static int
migration_attempt_instant(struct migration *m, bool *done)
{
	if (m->engine->attempt_instant(m->eng, m->o->alter, &m->alter, done, &m->instant_why,
					m->err) != 0)
		return -1;
	if (*done) {
		m->instant_done = true;
		progress_phase(&m->prog, "preflight", m->preflight_note);
		progress_phase(&m->prog, "instant", "the server made the ALTER in place, "
			       "without a copy; nothing else to do");
		migration_finish(m, SHADE_OK);
	}
	/* Otherwise said with the shadow: a bad ALTER gets its one line first. */
	return 0;
}

/*
 * The first two phases: preflight (or --cleanup), then the shadow (or the
 * dry run's report, or taking an interrupted run up). Returns -1 on failure.
 */
static int
migration_begin_step(struct migration *m)
{
	if (m->phase == PHASE_PREFLIGHT) {
		if (m->o->cleanup) {
			if (migration_cleanup(m) != 0)
				return -1;
			migration_finish(m, SHADE_OK);
			return 0;
		}
		/*
		 * Bad input is found here and in the shadow phase, and gets
		 * exactly one line on stderr: say nothing until both passed.
		 */
		if (migration_preflight(m) != 0 || migration_throttle_open(m) != 0)
			return -1;
		tally_phase(&m->tally, PHASE_PREFLIGHT, now_seconds() - m->phase_started);
		m->phase_started = now_seconds();
		m->phase = PHASE_SHADOW;
		return 0;
	}
	if (!m->o->execute) {
		if (migration_dry_run(m) != 0)
			return -1;
		migration_finish(m, SHADE_OK);
		return 0;
	}
	if (m->resuming)
		return migration_resume(m);
	if (m->o->attempt_instant) {
		bool done = false;

		if (migration_attempt_instant(m, &done) != 0)
			return -1;
		if (done)
			return 0;
	}
	if (m->engine->create_shadow(m->eng, m->o->alter, &m->alter, m->err) != 0)
		return -1;
	m->built = true;
	progress_phase(&m->prog, "preflight", m->preflight_note);
	if (m->instant_why) {
		char note[1200];

		snprintf(note, sizeof(note), "not in place (%s): shade copies as usual",
			 m->instant_why);
		progress_phase(&m->prog, "instant", note);
	}
	progress_phase(&m->prog, "shadow", "created with the new schema");
	migration_set_phase(m, PHASE_CAPTURE, "creating the change log and triggers");
	return 0;
}

static void
migration_step(struct migration *m)
{
	if (m->finished)
		return;
	migration_control_safe_point(m);
	if (ctl_abort_wanted(&m->ctl) && !m->swapped) {
		err_set(m->err, SHADE_ABORTED, "aborted");
		m->err->cancelled = true;
		migration_fail(m);
		return;
	}
	if (migration_pausing(m)) {
		migration_hold_account(m, true);
		return;  /* the step callback parks us on the pause timer */
	}
	migration_hold_account(m, false);
	err_clear(m->err);
	if (m->critical) {
		err_set(m->err, SHADE_FAILED, "%s: aborted during %s; the original table is untouched",
			m->throttle.why, migration_phase_names[m->phase]);
		migration_fail(m);
		return;
	}
	switch (m->phase) {
	case PHASE_PREFLIGHT:
	case PHASE_SHADOW:
		if (migration_begin_step(m) != 0)
			goto fail;
		break;
	case PHASE_CAPTURE:
		if (migration_with_lock(m, m->engine->create_capture) != 0)
			goto fail;
		m->saved_phase = PHASE_COPY;  /* the state table starts there */
		migration_set_phase(m, PHASE_COPY, NULL);
		break;
	case PHASE_COPY:
		if (migration_copy_step(m) != 0)
			goto fail;
		break;
	case PHASE_KEY:
	case PHASE_APPLY:
	case PHASE_INDEXES:
	case PHASE_CATCHUP:
		if (migration_apply_step(m) != 0)
			goto fail;
		break;
	case PHASE_SWAP:
		switch (migration_with_lock(m, m->engine->swap)) {
		case 0:
			break;
		case 1:
			migration_set_phase(m, PHASE_CATCHUP, "the swap waits: a postponement came "
					    "between its attempts");
			return;
		default:
			goto fail;
		}
		m->swapped = true;
		migration_set_phase(m, PHASE_CLEANUP, m->o->drop_old
					 ? "dropping the change log and the old table"
					 : "dropping the change log");
		break;
	case PHASE_CLEANUP:
		if (m->engine->finish(m->eng, m->o->drop_old, m->err) != 0)
			goto fail;
		m->built = false;
		migration_set_phase(m, PHASE_DONE, NULL);
		migration_finish(m, SHADE_OK);
		break;
	case PHASE_DONE:
		break;
	}
	if (migration_save_phase(m) != 0)
		goto fail;
	return;
fail:
	migration_fail(m);
}

static void
migration_step_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct migration *m = (struct migration *)((char *)w - offsetof(struct migration, step));

	(void)revents;
	/*
	 * Statements wait in nested loop runs (dbwait), which would call this
	 * watcher again: keep it stopped while a step runs, and start it again
	 * only if the step left work to do and is not paused.
	 */
	ev_idle_stop(loop, w);
	m->in_step = true;
	migration_step(m);
	m->in_step = false;
	if (m->finished)
		return;
	if (migration_pausing(m))
		ev_timer_again(loop, &m->pause_check);
	else
		ev_idle_start(loop, w);
}

enum shade_status
migration_run(const struct mig_opts *o, struct shade_err *err)
{
	struct migration *m = xcalloc(1, sizeof(*m));
	enum shade_status st;

	m->o = o;
	m->err = err;
	m->loop = ev_default_loop(EVFLAG_AUTO);
	if (m->loop == NULL)
		die("cannot initialise the event loop");
	progress_init(&m->prog, o->progress_interval, o->quiet);
	progress_format(&m->prog, o->log_format);
	m->prog.throttle_reason = m->throttle_reason;
	tally_init(&m->tally);
	m->phase_started = m->hold_at = now_seconds();
	chunk_init(&m->chunk, o->chunk_time, o->chunk_rows, 100, 1000000);
	m->limits.max_lag = o->max_lag;
	m->limits.max_load = o->max_load;
	m->limits.critical_load = o->critical_load;
	m->limits.throttle_query = o->throttle_query ? xstrdup(o->throttle_query) : NULL;
	m->limits.chunk_time = o->chunk_time;
	chunk_init(&m->apply_size, o->apply_time, 1000, 100, 200000);
	ctl_init(&m->ctl, m->loop);
	m->ctl.on_change = migration_ctl_changed;
	m->ctl.arg = m;
	m->wait.loop = m->loop;
	m->wait.cancel_wanted = migration_cancel_wanted;
	m->wait.abort_wanted = migration_abort_wanted;
	m->wait.arg = m;
	ev_idle_init(&m->step, migration_step_cb);
	ev_init(&m->pause_check, migration_pause_cb);
	m->pause_check.repeat = 0.5;
	ev_timer_init(&m->build_tick, migration_build_tick_cb, o->progress_interval,
		      o->progress_interval);
	ev_idle_start(m->loop, &m->step);
	if (o->execute) {
		ev_timer_start(m->loop, &m->build_tick);
		ctl_watch_flags(&m->ctl, o->panic_flag_file, o->throttle_flag_file,
				o->postpone_flag_file);
		/* Nothing was done yet: a socket that cannot be had is bad input. */
		if (migration_control_start(m) != 0)
			migration_finish(m, SHADE_USAGE);
	}

	if (!m->finished)
		ev_run(m->loop, 0);

	st = m->finished ? m->result : SHADE_FAILED;
	if (st == SHADE_OK && !o->execute)
		;  /* the dry run printed its report */
	else if (st == SHADE_OK && m->instant_done)
		progress_note(&m->prog, "done: %s has the new schema, made in place (no copy, "
			      "no old table)", m->summary.display);
	else if (st == SHADE_OK && o->drop_old)
		progress_note(&m->prog, "done: %s has the new schema; the old table was dropped",
			      m->summary.display);
	else if (st == SHADE_OK)
		progress_note(&m->prog, "done: %s has the new schema; the old table is kept as %s",
			      m->summary.display,
			      m->summary.old_display ? m->summary.old_display : "_<table>_old");
	migration_summary(m, st);
	progress_live_end(&m->prog);  /* main.c may say the last line */
	/*
	 * Close the connections while the signal watchers still stand, then
	 * ignore what arrives until exit: with no watcher a late SIGUSR1 or
	 * SIGTERM would kill a process whose work is done (its status lost).
	 */
	if (m->eng)
		m->engine->close(m->eng);
	throttle_close(&m->throttle);
	ctl_stop(&m->ctl);
	migration_control_stop(m);  /* the socket file goes on every way out */
	keyval_free(&m->cursor);
	keyval_free(&m->max);
	run_state_free(&m->rstate);
	engine_summary_free(&m->summary);
	alter_info_free(&m->alter);
	free(m->instant_why);
	qname_free(&m->table);
	dsn_free(&m->dsn);
	free(m->limits.throttle_query);
	ev_loop_destroy(m->loop);
	free(m);
	return st;
}

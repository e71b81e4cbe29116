/*
 * migration_control.c - what the operator changes while the migration
 * runs: the control socket's commands (ctlsock.c serves the socket,
 * ctlcmd.c parses a line) and the --config file re-read on SIGHUP.
 *
 * A command may arrive while a statement runs (the socket's watchers fire
 * in dbwait's nested loop runs), so a command only sets state: a flag in
 * struct ctl, a number in m->limits or m->chunk, m->postpone_held. Each is
 * read where the step looks at it anyway: the pause and abort flags before
 * each step, the postponement before the swap's attempts, the limits
 * between chunks, the chunk target when the next chunk is sized. The
 * --config file is read at the top of the step (its throttle query is a
 * string a check may be using mid-statement: it is replaced only there).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctlcmd.h"
#include "migration_int.h"

bool
migration_postpone_wanted(const struct migration *m)
{
	return m->ctl.postponed || m->postpone_held;
}

/* The copy's rate (rows/s) while it runs; after it, the apply's. */
static double
migration_control_rate(const struct migration *m)
{
	double secs = now_seconds() - m->prog.copy_started;

	if (m->phase > PHASE_COPY)
		return m->apply_rate;
	if (m->prog.copy_started <= 0 || secs <= 0)
		return 0;
	return (double)(m->prog.copied - m->prog.copied_before) / secs;
}

/* Seconds left of the copy, or of the backlog's drain after it; -1: unknown. */
static double
migration_control_eta(const struct migration *m, double rate)
{
	if (m->phase > PHASE_COPY) {
		if (m->prog.backlog <= 0)
			return 0;
		return rate > 0 ? (double)m->prog.backlog / rate : -1;
	}
	if (m->prog.total > 0 && m->prog.copied >= m->prog.total)
		return 0;
	return rate > 0 && m->prog.total > 0 ? (double)(m->prog.total - m->prog.copied) / rate : -1;
}

/* status: one JSON object on one line. */
static void
migration_control_status(struct migration *m, char *reply, size_t len)
{
	double rate = migration_control_rate(m), eta = migration_control_eta(m, rate);
	char flag[512] = "";
	const char *throttled = NULL;
	json_t *o;
	char *text;

	if (m->throttle_reason[0] != '\0') {
		throttled = m->throttle_reason;
	} else if (m->ctl.throttled) {
		snprintf(flag, sizeof(flag), "flag file %s", m->ctl.throttle_file);
		throttled = flag;
	}
	o = json_pack("{s:s, s:I, s:I, s:f, s:I, s:o, s:o, s:b, s:b, s:f, s:I, s:f, s:f, s:I}",
		      "phase", m->postpone_said ? "postponed" : migration_phase_names[m->phase],
		      "rows_copied", (json_int_t)m->prog.copied,
		      "rows_total", (json_int_t)m->prog.total,
		      "rows_per_second", rate,
		      "backlog", (json_int_t)m->prog.backlog,
		      "eta_seconds", eta >= 0 ? json_real(eta) : json_null(),
		      "throttled", throttled ? json_string(throttled) : json_null(),
		      "paused", m->ctl.paused,
		      "postponed", migration_postpone_wanted(m),
		      "elapsed_seconds", now_seconds() - m->prog.started,
		      "applied", (json_int_t)m->prog.applied,
		      "chunk_time", m->chunk.target,
		      "max_lag", m->limits.max_lag,
		      "max_load", (json_int_t)m->limits.max_load);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text != NULL && strlen(text) < len)
		snprintf(reply, len, "%s", text);
	else
		snprintf(reply, len, "error: cannot encode the status");
	free(text);
	json_decref(o);
}

static void
migration_control_cut_over(struct migration *m, char *reply, size_t len)
{
	bool was = m->postpone_held;

	m->postpone_held = false;
	migration_ctl_changed(m);
	if (m->ctl.postponed)
		snprintf(reply, len, "ok: but the postpone flag file %s still holds the swap",
			 m->ctl.postpone_file);
	else
		snprintf(reply, len, was ? "ok: the swap goes on" : "ok: nothing was postponed");
}

/* ctlsock's handler: one command line, one reply. */
static void
migration_control_handle(void *arg, const char *line, char *reply, size_t len)
{
	struct migration *m = arg;
	struct ctlcmd cmd;

	if (ctlcmd_parse(line, &cmd, reply, len) != 0)
		return;
	switch (cmd.kind) {
	case CTLCMD_STATUS:
		migration_control_status(m, reply, len);
		return;
	case CTLCMD_PAUSE:
		ctl_request_pause(&m->ctl, true);
		snprintf(reply, len, m->phase <= PHASE_COPY ? "ok: paused"
			 : "ok: paused (a pause holds the copy only; the %s phase goes on)",
			 migration_phase_names[m->phase]);
		return;
	case CTLCMD_RESUME:
		ctl_request_pause(&m->ctl, false);
		snprintf(reply, len, "ok: resumed");
		return;
	case CTLCMD_CHUNK_TIME:
		chunk_set_target(&m->chunk, cmd.seconds);
		m->limits.chunk_time = cmd.seconds;
		snprintf(reply, len, "ok: chunk-time %g s from the next chunk", cmd.seconds);
		return;
	case CTLCMD_MAX_LAG:
		m->limits.max_lag = cmd.seconds;
		snprintf(reply, len, "ok: max-lag %g s", cmd.seconds);
		return;
	case CTLCMD_MAX_LOAD:
		m->limits.max_load = cmd.count;
		snprintf(reply, len, "ok: max-load %ld", cmd.count);
		return;
	case CTLCMD_POSTPONE:
		m->postpone_held = true;
		snprintf(reply, len, m->swapped || m->phase == PHASE_SWAP
			 ? "ok: postponed (the swap has started: postponed only if it has to retry)"
			 : "ok: postponed until cut-over");
		return;
	case CTLCMD_CUT_OVER:
		migration_control_cut_over(m, reply, len);
		return;
	case CTLCMD_ABORT:
		ctl_request_abort(&m->ctl, "the control socket");
		snprintf(reply, len, m->swapped ? "ok: but the swap is done; nothing to abort"
			 : "ok: aborting");
		return;
	}
	snprintf(reply, len, "error: unknown command");
}

int
migration_control_start(struct migration *m)
{
	m->postpone_held = m->o->postpone_cut_over;
	if (m->o->control_socket == NULL)
		return 0;
	return ctlsock_open(&m->sock, m->loop, m->o->control_socket, migration_control_handle, m,
			    m->err);
}

void
migration_control_stop(struct migration *m)
{
	ctlsock_close(&m->sock);
}

/* Add "name old -> new" to changes if it differs. */
static void
migration_control_changed(struct buf *changes, const char *name, const char *old,
			  const char *new)
{
	if (strcmp(old, new) == 0)
		return;
	buf_printf(changes, "%s%s %s -> %s", changes->len ? ", " : "", name, old, new);
}

static void
migration_control_apply(struct migration *m, const struct config *c, struct buf *changes)
{
	char was[64], now[64];

	if (c->set & CONFIG_CHUNK_TIME) {
		snprintf(was, sizeof(was), "%g", m->chunk.target);
		snprintf(now, sizeof(now), "%g", c->chunk_time);
		migration_control_changed(changes, "chunk-time", was, now);
		chunk_set_target(&m->chunk, c->chunk_time);
		m->limits.chunk_time = c->chunk_time;
	}
	if (c->set & CONFIG_MAX_LAG) {
		snprintf(was, sizeof(was), "%g", m->limits.max_lag);
		snprintf(now, sizeof(now), "%g", c->max_lag);
		migration_control_changed(changes, "max-lag", was, now);
		m->limits.max_lag = c->max_lag;
	}
	if (c->set & CONFIG_MAX_LOAD) {
		snprintf(was, sizeof(was), "%ld", m->limits.max_load);
		snprintf(now, sizeof(now), "%ld", c->max_load);
		migration_control_changed(changes, "max-load", was, now);
		m->limits.max_load = c->max_load;
	}
	if (c->set & CONFIG_CRITICAL_LOAD) {
		snprintf(was, sizeof(was), "%ld", m->limits.critical_load);
		snprintf(now, sizeof(now), "%ld", c->critical_load);
		migration_control_changed(changes, "critical-load", was, now);
		m->limits.critical_load = c->critical_load;
	}
	if (c->set & CONFIG_THROTTLE_QUERY) {
		const char *old = m->limits.throttle_query ? m->limits.throttle_query : "";
		const char *new = c->throttle_query ? c->throttle_query : "";

		if (strcmp(old, new) != 0)
			buf_printf(changes, "%sthrottle-query %s", changes->len ? ", " : "",
				   new[0] ? "replaced" : "removed");
		free(m->limits.throttle_query);
		m->limits.throttle_query = c->throttle_query ? xstrdup(c->throttle_query) : NULL;
	}
}

/*
 * SIGHUP: read --config again. A good file replaces the settings it
 * names; a bad one changes nothing. Either way shade says so and goes on.
 */
static void
migration_control_reload(struct migration *m)
{
	struct shade_err cerr = {0};
	struct config c;
	struct buf changes = {0};

	if (m->o->config_file == NULL) {
		progress_note(&m->prog, "SIGHUP: no --config file to read again; nothing changed");
		return;
	}
	if (config_read(&c, m->o->config_file, &cerr) != 0) {
		progress_note(&m->prog, "SIGHUP: %s; nothing changed", cerr.msg);
		err_clear(&cerr);
		return;
	}
	migration_control_apply(m, &c, &changes);
	progress_note(&m->prog, "SIGHUP: read %s again: %s", m->o->config_file,
		      changes.len ? buf_str(&changes) : "nothing changed");
	buf_free(&changes);
	config_free(&c);
}

/* The top of a step: act on the SIGHUPs that arrived since the last one. */
void
migration_control_safe_point(struct migration *m)
{
	if (m->ctl.reload_requests == 0)
		return;
	m->ctl.reload_requests = 0;
	migration_control_reload(m);
}

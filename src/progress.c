/*
 * progress.c - phase lines and periodic copy lines on stderr, so an operator
 * watching a long migration can see what it does and when it will end.
 */
#include "progress.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Erase the terminal's current line: back to its start, clear to its end. */
#define PROGRESS_ERASE "\r\033[K"

void
progress_init(struct progress *p, double interval, bool quiet)
{
	*p = (struct progress){0};
	p->started = now_seconds();
	p->last_report = p->started;
	p->interval = interval > 0 ? interval : 5;
	p->quiet = quiet;
}

void
progress_format(struct progress *p, enum logfmt_format format)
{
	p->format = format;
	p->live = format == LOGFMT_TEXT && !p->quiet && isatty(STDERR_FILENO);
}

/* Seconds between ticks: the live line moves about once a second. */
static double
progress_every(const struct progress *p)
{
	return p->live && p->interval > 1 ? 1 : p->interval;
}

static void
progress_elapsed(char *out, size_t len, double secs)
{
	long s = secs > 0 ? (long)(secs + 0.5) : 0;

	snprintf(out, len, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

/* One write per line, so that a line never mixes with another writer's. */
static void
progress_write(const char *s, size_t len)
{
	if (fwrite(s, 1, len, stderr) != len) {
		/* stderr is gone: nobody to tell. */
	}
	fflush(stderr);
}

void
progress_live_end(struct progress *p)
{
	if (p->live_shown)
		progress_write(PROGRESS_ERASE, strlen(PROGRESS_ERASE));
	p->live_shown = false;
	p->live_line[0] = '\0';
}

/*
 * A text line of its own: on a terminal it goes above the live line, which
 * is drawn again under it (keep_live: a note), or stays where it is as an
 * ordinary line, its last state (a phase changed: the copy's last count
 * stays on the screen).
 */
static void
progress_text(struct progress *p, const char *line, bool keep_live)
{
	struct buf b = {0};

	if (p->live_shown)
		buf_append(&b, keep_live ? PROGRESS_ERASE : "\n");
	buf_append(&b, line);
	buf_append_char(&b, '\n');
	p->live_shown = false;
	if (keep_live && p->live && p->live_line[0] != '\0') {
		buf_append(&b, p->live_line);
		p->live_shown = true;
	} else {
		p->live_line[0] = '\0';
	}
	progress_write(buf_str(&b), b.len);
	buf_free(&b);
}

/* A tick: the live line on a terminal, else a line of its own. */
static void
progress_tick_text(struct progress *p, const char *line)
{
	struct buf b = {0};

	if (!p->live) {
		progress_text(p, line, false);
		return;
	}
	snprintf(p->live_line, sizeof(p->live_line), "%s", line);
	buf_append(&b, PROGRESS_ERASE);
	buf_append(&b, p->live_line);
	p->live_shown = true;
	progress_write(buf_str(&b), b.len);
	buf_free(&b);
}

static void
progress_json(const char *level, const char *event, const struct logfmt_field *f, size_t n)
{
	struct buf b = {0};

	logfmt_json(&b, logfmt_wall_now(), level, event, f, n);
	progress_write(buf_str(&b), b.len);
	buf_free(&b);
}

/* Why the run is held, for a tick ("" when it is not). */
static const char *
progress_hold(const struct progress *p, char *out, size_t len)
{
	const char *why = p->throttle_reason ? p->throttle_reason : "";

	if (p->paused)
		snprintf(out, len, "paused");
	else if (*why)
		snprintf(out, len, "throttled: %s", why);
	else if (p->throttled)
		snprintf(out, len, "throttled");
	else
		out[0] = '\0';
	return out;
}

void
progress_phase(struct progress *p, const char *phase, const char *detail)
{
	char el[32];
	char line[1200];

	if (p->quiet)
		return;
	if (p->format == LOGFMT_JSON) {
		struct logfmt_field f[] = {
			LF_STR("phase", phase), LF_STR("detail", detail && *detail ? detail : NULL),
			LF_NUM("elapsed_seconds", now_seconds() - p->started)};

		progress_json("info", "phase", f, ARRAY_LEN(f));
		return;
	}
	progress_elapsed(el, sizeof(el), now_seconds() - p->started);
	snprintf(line, sizeof(line), "shade: [%s] %s%s%s", el, phase,
		 detail && *detail ? ": " : "", detail ? detail : "");
	progress_text(p, line, false);
}

void
progress_tick(struct progress *p, bool force)
{
	double now = now_seconds();
	double secs = now - p->copy_started;
	double rate = secs > 0 ? (double)(p->copied - p->copied_before) / secs : 0;
	double pct = 0, eta = -1;
	char el[32], etas[32] = "--:--:--", hold[300], line[800];

	if (p->quiet || (!force && now - p->last_report < progress_every(p)))
		return;
	p->last_report = now;
	if (p->total > 0) {
		pct = 100.0 * (double)p->copied / (double)p->total;
		if (pct > 100)
			pct = 100;
	}
	if (rate > 0 && p->total > p->copied)
		eta = (double)(p->total - p->copied) / rate;
	else if (p->total <= p->copied)
		eta = 0;
	progress_hold(p, hold, sizeof(hold));
	if (p->format == LOGFMT_JSON) {
		struct logfmt_field f[] = {
			LF_STR("phase", "copy"), LF_INT("rows_copied", p->copied),
			LF_INT("rows_total", p->total), LF_NUM("percent", pct),
			LF_NUM("rows_per_second", rate), LF_INT("rows_applied", p->applied),
			LF_INT("backlog", p->backlog), LF_NUM("eta_seconds", eta < 0 ? NAN : eta),
			LF_NUM("elapsed_seconds", now - p->started), LF_STR("held", *hold ? hold : NULL)};

		progress_json("info", "progress", f, ARRAY_LEN(f));
		return;
	}
	if (eta >= 0)
		progress_elapsed(etas, sizeof(etas), eta);
	progress_elapsed(el, sizeof(el), now - p->started);
	snprintf(line, sizeof(line),
		 "shade: [%s] copy: %lld/%lld rows (%.1f%%), %.0f rows/s, "
		 "applied %lld, backlog %lld, eta %s%s%s%s",
		 el, p->copied, p->total, pct, rate, p->applied, p->backlog, etas,
		 *hold ? " (" : "", hold, *hold ? ")" : "");
	progress_tick_text(p, line);
}

void
progress_apply_tick(struct progress *p, const char *phase, double rate, bool force)
{
	double now = now_seconds();
	double drain = -1;
	char el[32], drains[32] = "?", hold[300], line[800];

	if (p->quiet || (!force && now - p->last_report < progress_every(p)))
		return;
	p->last_report = now;
	if (rate > 0 || p->backlog == 0)
		drain = p->backlog > 0 ? (double)p->backlog / rate : 0.0;
	progress_hold(p, hold, sizeof(hold));
	if (p->format == LOGFMT_JSON) {
		struct logfmt_field f[] = {
			LF_STR("phase", phase), LF_INT("rows_applied", p->applied),
			LF_INT("backlog", p->backlog), LF_NUM("rows_per_second", rate),
			LF_NUM("eta_seconds", drain < 0 ? NAN : drain),
			LF_NUM("elapsed_seconds", now - p->started), LF_STR("held", *hold ? hold : NULL)};

		progress_json("info", "progress", f, ARRAY_LEN(f));
		return;
	}
	if (drain >= 0)
		snprintf(drains, sizeof(drains), "%.1f s", drain);
	progress_elapsed(el, sizeof(el), now - p->started);
	snprintf(line, sizeof(line),
		 "shade: [%s] %s: applied %lld, backlog %lld, %.0f rows/s, drains in %s%s%s%s", el,
		 phase, p->applied, p->backlog, rate, drains, *hold ? " (" : "", hold,
		 *hold ? ")" : "");
	progress_tick_text(p, line);
}

void
progress_build_tick(struct progress *p, const char *phase, const char *what,
		    double what_secs, double phase_secs)
{
	char el[32], line[800], for_s[64] = "";

	if (p->quiet)
		return;
	if (p->format == LOGFMT_JSON) {
		struct logfmt_field f[] = {
			LF_STR("phase", phase), LF_STR("building", what),
			LF_NUM("building_seconds", what_secs < 0 ? NAN : what_secs),
			LF_NUM("running_seconds", phase_secs),
			LF_NUM("elapsed_seconds", now_seconds() - p->started)};

		progress_json("info", "progress", f, ARRAY_LEN(f));
		return;
	}
	progress_elapsed(el, sizeof(el), phase_secs);
	if (what_secs >= 0)
		snprintf(for_s, sizeof(for_s), " (for %.0f s)", what_secs);
	snprintf(line, sizeof(line), "shade: %s: building %s%s, running for %s", phase, what,
		 for_s, el);
	progress_text(p, line, true);
}

void
progress_sql(struct progress *p, const char *sql)
{
	struct buf b = {0};

	if (p->format == LOGFMT_JSON) {
		struct logfmt_field f[] = {LF_STR("sql", sql)};

		progress_json("debug", "sql", f, ARRAY_LEN(f));
		return;
	}
	buf_printf(&b, "shade: sql: %s", sql);
	progress_text(p, buf_str(&b), true);
	buf_free(&b);
}

void
progress_note(struct progress *p, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	if (p->quiet)
		return;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (p->format == LOGFMT_JSON) {
		struct logfmt_field f[] = {LF_STR("message", buf_str(&b))};

		progress_json("info", "note", f, ARRAY_LEN(f));
	} else {
		char *msg = xasprintf("shade: %s", buf_str(&b));

		progress_text(p, msg, true);
		free(msg);
	}
	buf_free(&b);
}

/* The result's word in the summary, from the exit status (util.h). */
static const char *
progress_result(int status)
{
	return status == SHADE_OK ? "done" : status == SHADE_ABORTED ? "aborted" : "failed";
}

static void
progress_summary_json(struct progress *p, const struct tally *t, const char *const *names,
		      size_t nphases, int status, const char *reached)
{
	json_t *phases = json_object(), *held = json_object();
	struct logfmt_field f[12];
	size_t n = 0;

	for (size_t i = 0; i < nphases && i < TALLY_PHASES; i++)
		json_object_set_new(phases, names[i], json_real(t->phase_secs[i]));
	for (size_t i = 0; i < t->nholds; i++)
		json_object_set_new(held, t->holds[i].reason, json_real(t->holds[i].secs));
	f[n++] = LF_STR("result", progress_result(status));
	f[n++] = LF_INT("status", status);
	if (status != SHADE_OK)
		f[n++] = LF_STR("reached", reached);
	f[n++] = LF_NUM("elapsed_seconds", now_seconds() - p->started);
	f[n++] = LF_INT("rows_copied", p->copied);
	f[n++] = LF_INT("changes_applied", p->applied);
	f[n++] = LF_RAW("phase_seconds", phases);
	f[n++] = LF_NUM("throttled_seconds", tally_throttled(t));
	f[n++] = LF_RAW("throttled_by", held);
	f[n++] = LF_NUM("paused_seconds", t->paused_secs);
	f[n++] = LF_NUM("swap_lock_seconds", t->swap_lock_secs < 0 ? NAN : t->swap_lock_secs);
	progress_json(status == SHADE_OK ? "info" : "error", "summary", f, n);
}

/* "throttled 12.0 s (flag file 10.0 s, replica lag 2.0 s), paused 0.0 s" */
static void
progress_summary_holds(struct buf *b, const struct tally *t)
{
	buf_printf(b, "throttled %.1f s", tally_throttled(t));
	for (size_t i = 0; i < t->nholds; i++)
		buf_printf(b, "%s%s %.1f s", i ? ", " : " (", t->holds[i].reason, t->holds[i].secs);
	buf_printf(b, "%s, paused %.1f s", t->nholds ? ")" : "", t->paused_secs);
}

void
progress_summary(struct progress *p, const struct tally *t, const char *const *names,
		 size_t nphases, int status, const char *reached)
{
	struct buf b = {0};
	char el[32];

	if (p->quiet)
		return;
	if (p->format == LOGFMT_JSON) {
		progress_summary_json(p, t, names, nphases, status, reached);
		return;
	}
	progress_elapsed(el, sizeof(el), now_seconds() - p->started);
	if (status != SHADE_OK) {
		buf_printf(&b, "shade: summary: %s during %s after %s: %lld rows copied, "
			   "%lld changes applied; ",
			   progress_result(status), reached ? reached : "?", el, p->copied, p->applied);
		progress_summary_holds(&b, t);
		progress_text(p, buf_str(&b), false);
		buf_free(&b);
		return;
	}
	buf_printf(&b, "shade: summary: %lld rows copied, %lld changes applied in %s", p->copied,
		   p->applied, el);
	progress_text(p, buf_str(&b), false);
	buf_reset(&b);
	buf_append(&b, "shade: summary: time per phase:");
	for (size_t i = 0; i < nphases && i < TALLY_PHASES; i++)
		buf_printf(&b, "%s %s %.1f s", i ? "," : "", names[i], t->phase_secs[i]);
	progress_text(p, buf_str(&b), false);
	buf_reset(&b);
	buf_append(&b, "shade: summary: ");
	progress_summary_holds(&b, t);
	if (t->swap_lock_secs >= 0)
		buf_printf(&b, "; the swap held its lock for %.3f s", t->swap_lock_secs);
	progress_text(p, buf_str(&b), false);
	buf_free(&b);
}

void
progress_trend_reset(struct progress_trend *t)
{
	bool warned = t->warned;

	*t = (struct progress_trend){0};
	t->warned = warned;
}

static void
progress_trend_push(struct progress_trend *t, double now, long long backlog, long long applied)
{
	const int n = PROGRESS_TREND_CHECKS;

	if (t->n == n) {
		memmove(t->backlog, t->backlog + 1, (n - 1) * sizeof(t->backlog[0]));
		memmove(t->applied, t->applied + 1, (n - 1) * sizeof(t->applied[0]));
		memmove(t->at, t->at + 1, (n - 1) * sizeof(t->at[0]));
		t->n--;
	}
	t->backlog[t->n] = backlog;
	t->applied[t->n] = applied;
	t->at[t->n] = now;
	t->n++;
	t->last = now;
}

bool
progress_trend_check(struct progress_trend *t, double interval, double now,
		     long long backlog, long long applied, char *out, size_t len)
{
	const int n = PROGRESS_TREND_CHECKS;
	double secs, w, a;

	if (t->n > 0 && now - t->last < interval)
		return false;
	progress_trend_push(t, now, backlog, applied);
	if (t->n >= 2 && t->backlog[t->n - 1] < t->backlog[t->n - 2])
		t->warned = false;  /* it shrank: a new growth is news again */
	if (t->n < n || t->warned)
		return false;
	for (int i = 1; i < n; i++)
		if (t->backlog[i] <= t->backlog[i - 1])
			return false;
	secs = t->at[n - 1] - t->at[0];
	if (secs <= 0)
		return false;
	a = (double)(t->applied[n - 1] - t->applied[0]) / secs;
	w = a + (double)(t->backlog[n - 1] - t->backlog[0]) / secs;
	snprintf(out, len,
		 "catch-up: the backlog grew from %lld to %lld over the last %.0f s: writes "
		 "arrive at %.0f rows/s and the apply takes %.0f rows/s; the run will not "
		 "converge at this rate",
		 t->backlog[0], t->backlog[n - 1], secs, w, a);
	t->warned = true;
	return true;
}

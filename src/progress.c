/*
 * progress.c - phase lines and periodic copy lines on stderr, so an operator
 * watching a long migration can see what it does and when it will end.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void
progress_init(struct progress *p, double interval, bool quiet)
{
	*p = (struct progress){0};
	p->started = now_seconds();
	p->last_report = p->started;
	p->interval = interval > 0 ? interval : 5;
	p->quiet = quiet;
}

static void
progress_elapsed(char *out, size_t len, double secs)
{
	long s = secs > 0 ? (long)(secs + 0.5) : 0;

	snprintf(out, len, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

void
progress_phase(struct progress *p, const char *phase, const char *detail)
{
	char el[32];

	if (p->quiet)
		return;
	progress_elapsed(el, sizeof(el), now_seconds() - p->started);
	fprintf(stderr, "shade: [%s] %s%s%s\n", el, phase,
		detail && *detail ? ": " : "", detail ? detail : "");
}

void
progress_tick(struct progress *p, bool force)
{
	double now = now_seconds();
	double secs = now - p->copy_started;
	double rate = secs > 0 ? (double)(p->copied - p->copied_before) / secs : 0;
	char el[32], eta[32] = "--:--:--";
	double pct = 0;

	if (p->quiet || (!force && now - p->last_report < p->interval))
		return;
	p->last_report = now;
	if (p->total > 0) {
		pct = 100.0 * (double)p->copied / (double)p->total;
		if (pct > 100)
			pct = 100;
	}
	if (rate > 0 && p->total > p->copied)
		progress_elapsed(eta, sizeof(eta), (double)(p->total - p->copied) / rate);
	else if (p->total <= p->copied)
		progress_elapsed(eta, sizeof(eta), 0);
	progress_elapsed(el, sizeof(el), now - p->started);
	fprintf(stderr,
		"shade: [%s] copy: %lld/%lld rows (%.1f%%), %.0f rows/s, "
		"applied %lld, backlog %lld, eta %s%s\n",
		el, p->copied, p->total, pct, rate, p->applied, p->backlog, eta,
		p->paused ? " (paused)" : p->throttled ? " (throttled)" : "");
}

void
progress_apply_tick(struct progress *p, const char *phase, double rate, bool force)
{
	double now = now_seconds();
	char el[32], drain[32] = "?";

	if (p->quiet || (!force && now - p->last_report < p->interval))
		return;
	p->last_report = now;
	if (rate > 0 || p->backlog == 0)
		snprintf(drain, sizeof(drain), "%.1f s",
			 p->backlog > 0 ? (double)p->backlog / rate : 0.0);
	progress_elapsed(el, sizeof(el), now - p->started);
	fprintf(stderr,
		"shade: [%s] %s: applied %lld, backlog %lld, %.0f rows/s, drains in %s\n",
		el, phase, p->applied, p->backlog, rate, drain);
}

void
progress_note(struct progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p->quiet)
		return;
	fputs("shade: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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

/*
 * progress.c - phase lines and periodic copy lines on stderr, so an operator
 * watching a long migration can see what it does and when it will end.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>

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

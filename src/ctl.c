/*
 * ctl.c - signals as libev watchers. Each handler only sets a flag (or
 * counts a SIGHUP); the migration acts on it at its next safe point
 * (between statements), and dbwait notices a cancel request while a statement runs. The flag files
 * are looked at by a timer and set the same kind of flags.
 */
#include "ctl.h"

#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>

static struct ctl *
ctl_of(ev_signal *w)
{
	return w->data;
}

static void
ctl_notify(struct ctl *c)
{
	if (c->on_change)
		c->on_change(c->arg);
}

static void
ctl_abort_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ctl *c = ctl_of(w);

	(void)loop;
	(void)revents;
	c->abort_requests++;
	c->abort_signal = w->signum;
	c->abort_source = NULL;
	ctl_notify(c);
}

void
ctl_request_abort(struct ctl *c, const char *source)
{
	c->abort_requests++;
	c->abort_signal = 0;
	c->abort_source = source;
	ctl_notify(c);
}

void
ctl_request_pause(struct ctl *c, bool paused)
{
	c->paused = paused;
	ctl_notify(c);
}

/* Only counted: reading a file is the migration's, at its safe point. */
static void
ctl_reload_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ctl *c = ctl_of(w);

	(void)loop;
	(void)revents;
	c->reload_requests++;
	ctl_notify(c);
}

static void
ctl_pause_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ctl *c = ctl_of(w);

	(void)loop;
	(void)revents;
	c->paused = (w->signum == SIGUSR1);
	ctl_notify(c);
}

void
ctl_init(struct ctl *c, struct ev_loop *loop)
{
	c->loop = loop;
	ev_signal_init(&c->sig_term, ctl_abort_cb, SIGTERM);
	ev_signal_init(&c->sig_int, ctl_abort_cb, SIGINT);
	ev_signal_init(&c->sig_usr1, ctl_pause_cb, SIGUSR1);
	ev_signal_init(&c->sig_usr2, ctl_pause_cb, SIGUSR2);
	ev_signal_init(&c->sig_hup, ctl_reload_cb, SIGHUP);
	c->sig_term.data = c->sig_int.data = c->sig_usr1.data = c->sig_usr2.data = c;
	c->sig_hup.data = c;
	ev_signal_start(loop, &c->sig_term);
	ev_signal_start(loop, &c->sig_int);
	ev_signal_start(loop, &c->sig_usr1);
	ev_signal_start(loop, &c->sig_usr2);
	ev_signal_start(loop, &c->sig_hup);
}

static bool
ctl_file_exists(const char *path)
{
	struct stat st;

	return path != NULL && stat(path, &st) == 0;
}

/* Look at the flag files; tell the migration when one came or went. */
static void
ctl_check_flags(struct ctl *c)
{
	bool changed = false;
	bool throttled = ctl_file_exists(c->throttle_file);
	bool postponed = ctl_file_exists(c->postpone_file);

	if (!c->panicked && ctl_file_exists(c->panic_file)) {
		/* One request, as one SIGTERM: abort at the next safe point. */
		c->panicked = true;
		c->abort_requests++;
		changed = true;
	}
	if (throttled != c->throttled || postponed != c->postponed) {
		c->throttled = throttled;
		c->postponed = postponed;
		changed = true;
	}
	if (changed)
		ctl_notify(c);
}

static void
ctl_flag_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl *c = (struct ctl *)((char *)w - offsetof(struct ctl, flag_check));

	(void)loop;
	(void)revents;
	ctl_check_flags(c);
}

void
ctl_watch_flags(struct ctl *c, const char *panic_file, const char *throttle_file,
		const char *postpone_file)
{
	c->panic_file = panic_file;
	c->throttle_file = throttle_file;
	c->postpone_file = postpone_file;
	if (!panic_file && !throttle_file && !postpone_file)
		return;
	ctl_check_flags(c);
	ev_timer_init(&c->flag_check, ctl_flag_cb, 0.5, 0.5);
	ev_timer_start(c->loop, &c->flag_check);
}

static void
ctl_ignore(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)signal(sigs[i], SIG_IGN);
}

void
ctl_stop(struct ctl *c)
{
	/*
	 * Ignore first: stopping the last watcher of a signal puts back its
	 * default action (termination), so ignore again after; no window is
	 * left where a signal kills the process.
	 */
	ctl_ignore();
	ev_signal_stop(c->loop, &c->sig_term);
	ev_signal_stop(c->loop, &c->sig_int);
	ev_signal_stop(c->loop, &c->sig_usr1);
	ev_signal_stop(c->loop, &c->sig_usr2);
	ev_signal_stop(c->loop, &c->sig_hup);
	if (ev_is_active(&c->flag_check))
		ev_timer_stop(c->loop, &c->flag_check);
	ctl_ignore();
}

bool
ctl_abort_wanted(const struct ctl *c)
{
	return c->abort_requests > 0;
}

bool
ctl_cancel_wanted(void *arg)
{
	const struct ctl *c = arg;

	return c->abort_requests > 1;
}

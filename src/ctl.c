/*
 * ctl.c - signals as libev watchers. Each handler only sets a flag; the
 * migration acts on it at its next safe point (between statements), and
 * dbwait notices a cancel request while a statement runs.
 */
#include "ctl.h"

#include <signal.h>
#include <stddef.h>

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
	c->sig_term.data = c->sig_int.data = c->sig_usr1.data = c->sig_usr2.data = c;
	ev_signal_start(loop, &c->sig_term);
	ev_signal_start(loop, &c->sig_int);
	ev_signal_start(loop, &c->sig_usr1);
	ev_signal_start(loop, &c->sig_usr2);
}

static void
ctl_ignore(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

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

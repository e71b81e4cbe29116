/*
 * ctl.h - what the operator asks while shade runs.
 *
 * Signals arrive as libev watchers and only set flags here; the migration
 * reads them at its safe points. SIGUSR1 pauses, SIGUSR2 resumes,
 * SIGINT/SIGTERM ask for a clean abort at the next safe point, and a second
 * one also cancels the statement running at that moment.
 */
#ifndef SHADE_CTL_H
#define SHADE_CTL_H

#include <stdbool.h>

#include <ev.h>

struct ctl {
	struct ev_loop *loop;
	ev_signal sig_term;
	ev_signal sig_int;
	ev_signal sig_usr1;
	ev_signal sig_usr2;
	bool paused;
	int abort_requests;   /* SIGINT/SIGTERM received */
	int abort_signal;     /* the last one, for the message */
	void (*on_change)(void *arg);  /* called after any flag changes */
	void *arg;
};

void ctl_init(struct ctl *c, struct ev_loop *loop);
/*
 * Stop serving signals: from then on, until exit, they are ignored, so a
 * late SIGUSR1 or SIGTERM cannot kill a process whose work is done.
 */
void ctl_stop(struct ctl *c);
bool ctl_abort_wanted(const struct ctl *c);
/* dbwait's cancel_wanted: a second abort request cancels the statement. */
bool ctl_cancel_wanted(void *arg);

#endif

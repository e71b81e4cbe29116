/*
 * dbwait.c - wait for a database socket while the event loop keeps running.
 *
 * The wait is a nested ev_run(EVRUN_ONCE) loop over an ev_io on the socket
 * and an ev_timer that wakes it at least every 200 ms, so that a cancel
 * request (set by a signal watcher) is noticed even while the server stays
 * silent. libev allows ev_run to nest; only our own watchers break out.
 */
#include "dbwait.h"

#include <ev.h>
#include <stddef.h>

#include "util.h"

struct dbwait_state {
	ev_io io;
	ev_timer tick;
	bool ready;
};

static void
dbwait_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dbwait_state *st = (struct dbwait_state *)
		((char *)w - offsetof(struct dbwait_state, io));

	(void)revents;
	st->ready = true;
	ev_io_stop(loop, w);
}

static void
dbwait_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Nothing to do: waking up lets the caller look at its flags. */
	(void)loop;
	(void)w;
	(void)revents;
}

enum dbwait_result
dbwait_fd(struct dbwait *w, int fd, int events, double timeout_s, bool cancel_sent)
{
	struct dbwait_state st = {.ready = false};
	double deadline = timeout_s >= 0 ? now_seconds() + timeout_s : -1;
	enum dbwait_result res = DBWAIT_READY;
	int evmask = 0;

	if (events & DBWAIT_READ)
		evmask |= EV_READ;
	if (events & DBWAIT_WRITE)
		evmask |= EV_WRITE;
	ev_io_init(&st.io, dbwait_io_cb, fd, evmask);
	ev_timer_init(&st.tick, dbwait_tick_cb, 0.2, 0.2);
	ev_io_start(w->loop, &st.io);
	ev_timer_start(w->loop, &st.tick);
	for (;;) {
		if (!cancel_sent && w->cancel_wanted && w->cancel_wanted(w->arg)) {
			res = DBWAIT_CANCEL;
			break;
		}
		if (st.ready)
			break;
		if (deadline >= 0 && now_seconds() >= deadline) {
			res = DBWAIT_TIMEOUT;
			break;
		}
		ev_run(w->loop, EVRUN_ONCE);
	}
	ev_io_stop(w->loop, &st.io);
	ev_timer_stop(w->loop, &st.tick);
	return res;
}

static void
dbwait_sleep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	bool *done = w->data;

	(void)loop;
	(void)revents;
	*done = true;
}

/* An abort or cancel request: a sleep between attempts ends early. */
static bool
dbwait_stop_wanted(struct dbwait *w)
{
	return (w->abort_wanted && w->abort_wanted(w->arg)) ||
	       (w->cancel_wanted && w->cancel_wanted(w->arg));
}

bool
dbwait_sleep(struct dbwait *w, double seconds)
{
	ev_timer t, tick;
	bool done = false;

	if (seconds <= 0)
		return dbwait_stop_wanted(w);
	ev_timer_init(&t, dbwait_sleep_cb, seconds, 0);
	t.data = &done;
	ev_timer_init(&tick, dbwait_tick_cb, 0.2, 0.2);
	ev_timer_start(w->loop, &t);
	ev_timer_start(w->loop, &tick);
	while (!done && !dbwait_stop_wanted(w))
		ev_run(w->loop, EVRUN_ONCE);
	ev_timer_stop(w->loop, &t);
	ev_timer_stop(w->loop, &tick);
	return !done;
}

/*
 * dbwait.h - waiting for a database socket without deafening the process.
 *
 * An engine sends a statement asynchronously and then waits here for its
 * socket. The wait runs the event loop, so signal watchers, the progress
 * timer and (later) the control socket are served while a statement runs:
 * a signal takes effect within a second even mid-statement. When the
 * operator asks for the running statement to be cancelled, the wait returns
 * DBWAIT_CANCEL once; the engine then cancels the statement on the server
 * and waits again for its (error) result.
 */
#ifndef SHADE_DBWAIT_H
#define SHADE_DBWAIT_H

#include <stdbool.h>

struct ev_loop;

enum {
	DBWAIT_READ = 1,
	DBWAIT_WRITE = 2,
};

enum dbwait_result {
	DBWAIT_READY,
	DBWAIT_TIMEOUT,
	DBWAIT_CANCEL,
};

struct dbwait {
	struct ev_loop *loop;
	/* Does the operator want the running statement cancelled? */
	bool (*cancel_wanted)(void *arg);
	/*
	 * Does the operator want shade to stop at its next safe point? A
	 * pause between attempts (dbwait_sleep) ends at once then; a running
	 * statement goes on (only cancel_wanted cancels it). NULL: never.
	 */
	bool (*abort_wanted)(void *arg);
	void *arg;
};

/*
 * Wait until fd is ready for events, timeout_s passes (< 0: no limit), or a
 * cancel is wanted while cancel_sent is false.
 */
enum dbwait_result dbwait_fd(struct dbwait *w, int fd, int events,
			     double timeout_s, bool cancel_sent);

/*
 * Sleep for seconds while serving the loop. Returns false when it slept the
 * whole time, true when an abort or cancel request ended it early (within
 * 200 ms of the request).
 */
bool dbwait_sleep(struct dbwait *w, double seconds);

#endif

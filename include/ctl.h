/*
 * ctl.h - what the operator asks while shade runs.
 *
 * Signals arrive as libev watchers and only set flags here; the migration
 * reads them at its safe points. SIGUSR1 pauses, SIGUSR2 resumes,
 * SIGINT/SIGTERM ask for a clean abort at the next safe point, and a second
 * one also cancels the statement running at that moment. SIGHUP asks for
 * the --config file to be read again (at the next safe point). The control
 * socket's pause, resume and abort are the same requests (ctl_request_*).
 *
 * Flag files are the same requests for operators who cannot send a signal
 * (another host's cron, a chat bot with a shared volume): a timer looks at
 * them with stat() every half second, in the nested loops of dbwait too, so
 * they are noticed in every phase, even while a statement runs.
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
	ev_signal sig_hup;
	ev_timer flag_check;  /* stat()s the flag files every 0.5 s */
	bool paused;
	const char *panic_file;     /* exists: abort, as SIGTERM does */
	const char *throttle_file;  /* exists: start no new copy or apply work */
	const char *postpone_file;  /* exists: stay in catch-up, do not swap */
	bool panicked;        /* the panic file was seen (counted as an abort) */
	bool throttled;       /* the throttle file exists */
	bool postponed;       /* the postpone file exists */
	int abort_requests;   /* SIGINT/SIGTERM received */
	int abort_signal;     /* the last one, for the message */
	const char *abort_source;  /* the last request was not a signal: from where */
	int reload_requests;  /* SIGHUPs not yet acted on (the migration resets it) */
	void (*on_change)(void *arg);  /* called after any flag changes */
	void *arg;
};

void ctl_init(struct ctl *c, struct ev_loop *loop);
/*
 * Watch these flag files (each may be NULL): look at them now, then every
 * half second until ctl_stop.
 */
void ctl_watch_flags(struct ctl *c, const char *panic_file, const char *throttle_file,
		     const char *postpone_file);
/*
 * Stop serving signals: from then on, until exit, they are ignored, so a
 * late SIGUSR1 or SIGTERM cannot kill a process whose work is done.
 */
void ctl_stop(struct ctl *c);
/* The control socket's requests, as the signals' (source: for the message). */
void ctl_request_abort(struct ctl *c, const char *source);
void ctl_request_pause(struct ctl *c, bool paused);
bool ctl_abort_wanted(const struct ctl *c);
/* dbwait's cancel_wanted: a second abort request cancels the statement. */
bool ctl_cancel_wanted(void *arg);

#endif

/*
 * ctlsock.h - the control socket: a unix stream socket (mode 0600) where an
 * operator sends one command per line and reads one reply line per
 * command (socat - UNIX-CONNECT:PATH, nc -U PATH).
 *
 * Served by libev watchers on the loop the migration runs on, so it also
 * answers while a statement runs (dbwait's nested loop runs serve every
 * watcher). Nothing blocks: the sockets are non-blocking, a line longer
 * than CTLSOCK_LINE_MAX gets an error reply and the client is dropped,
 * at most CTLSOCK_CLIENTS clients are served at once (another is told so
 * and closed). The handler runs inside a watcher callback, possibly in a
 * nested loop run: it must only set state the migration reads at its safe
 * points (ctl.h's contract), never run a statement.
 */
#ifndef SHADE_CTLSOCK_H
#define SHADE_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "util.h"

#define CTLSOCK_CLIENTS 8
#define CTLSOCK_LINE_MAX 512
#define CTLSOCK_OUT_MAX 8192  /* replies not yet read by a slow client */

/*
 * Handle one line (no newline): write the reply line (no newline) into
 * reply. arg is ctlsock.arg.
 */
typedef void (*ctlsock_handler)(void *arg, const char *line, char *reply, size_t len);

struct ctlsock_client {
	ev_io io;               /* reads, and writes while out holds bytes */
	struct ctlsock *sock;
	bool open;
	bool closing;           /* the peer is done or misbehaved: close once out is sent */
	bool skipping;          /* dropping the rest of a line too long for in */
	char in[CTLSOCK_LINE_MAX];
	size_t in_len;
	char out[CTLSOCK_OUT_MAX];
	size_t out_len;
};

struct ctlsock {
	struct ev_loop *loop;
	char *path;             /* NULL: not open; owned */
	int fd;
	dev_t dev;              /* the socket file bound, to unlink only ours */
	ino_t ino;
	ev_io listen_io;
	ctlsock_handler handle;
	void *arg;
	struct ctlsock_client clients[CTLSOCK_CLIENTS];
};

/*
 * Bind and listen at path. If path exists: a socket nobody listens on (a
 * crashed shade's) is replaced; a live one or anything else is refused
 * with status SHADE_USAGE and a message naming it.
 */
int ctlsock_open(struct ctlsock *s, struct ev_loop *loop, const char *path, ctlsock_handler handle,
		 void *arg, struct shade_err *err) WARN_UNUSED;
/* Close every client and the socket, and remove the socket file if still ours. */
void ctlsock_close(struct ctlsock *s);

#endif

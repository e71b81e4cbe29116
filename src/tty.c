/*
 * tty.c - read a secret from the controlling terminal, never from stdin
 * (which may be a pipe) and never echoed. Both engines use it when the
 * server asks for a password that neither the DSN nor the environment had.
 *
 * The terminal stays in canonical mode with ECHO off, so a read returns a
 * whole line; it is awaited through dbwait like a database socket, so a
 * Ctrl-C at the prompt (SIGINT, which the terminal still sends) reaches the
 * signal watchers and ends the wait at once.
 */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

/* Read up to a newline into b; -1 on abort, end of file or an error. */
static int
tty_read_line(struct dbwait *w, int fd, struct buf *b, bool *aborted)
{
	for (;;) {
		char c;
		ssize_t n;

		if ((w->abort_wanted && w->abort_wanted(w->arg)) ||
		    dbwait_fd(w, fd, DBWAIT_READ, 0.2, false) == DBWAIT_CANCEL) {
			*aborted = true;
			return -1;
		}
		while ((n = read(fd, &c, 1)) == 1) {
			if (c == '\n' || c == '\r')
				return 0;
			buf_append_char(b, c);
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return -1;
	}
}

char *
tty_read_secret(struct dbwait *w, const char *prompt, bool *aborted)
{
	struct termios old, quiet;
	struct buf line = {0};
	char *secret = NULL;
	bool restore;
	int fd = open("/dev/tty", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	*aborted = false;
	if (fd < 0)
		return NULL;
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* No terminal to speak of: the read fails next. */
	}
	restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (tty_read_line(w, fd, &line, aborted) == 0)
		secret = line.data ? buf_take(&line) : xstrdup("");
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* Only cosmetic. */
	}
	if (line.data)
		explicit_bzero(line.data, line.cap);
	buf_free(&line);
	close(fd);
	return secret;
}

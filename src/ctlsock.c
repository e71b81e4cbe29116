/*
 * ctlsock.c - the control socket (ctlsock.h): a listening unix socket and
 * up to CTLSOCK_CLIENTS clients, each an ev_io on the migration's loop.
 * A client's bytes collect in a fixed line buffer; each complete line goes
 * to the handler and its reply into a fixed output buffer sent as the
 * client can take it. Clients live in an array inside struct ctlsock, so
 * closing one inside its own callback frees nothing (libev's rule).
 */
#include "ctlsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Reads per callback: a client streaming bytes cannot hold the loop. */
#define CTLSOCK_READS 16

static void
ctlsock_client_close(struct ctlsock_client *c)
{
	if (!c->open)
		return;
	ev_io_stop(c->sock->loop, &c->io);
	close(c->io.fd);
	c->open = false;
}

/* Send what out holds; watch for writability while some is left. */
static void
ctlsock_client_flush(struct ctlsock_client *c)
{
	int want;

	while (c->out_len > 0) {
		ssize_t n = send(c->io.fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {  /* the peer is gone: drop what it did not read */
			ctlsock_client_close(c);
			return;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->closing && c->out_len == 0) {
		ctlsock_client_close(c);
		return;
	}
	want = (c->closing ? 0 : EV_READ) | (c->out_len > 0 ? EV_WRITE : 0);
	if ((c->io.events & (EV_READ | EV_WRITE)) != want) {
		ev_io_stop(c->sock->loop, &c->io);
		ev_io_set(&c->io, c->io.fd, want);
		ev_io_start(c->sock->loop, &c->io);
	}
}

/* Queue a reply line. A client that reads none of its replies is dropped. */
static void
ctlsock_client_reply(struct ctlsock_client *c, const char *reply)
{
	size_t n = strlen(reply);

	if (c->out_len + n + 1 > sizeof(c->out)) {
		c->out_len = 0;
		c->closing = true;
		return;
	}
	memcpy(c->out + c->out_len, reply, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
}

/*
 * Hand each complete line in the buffer to the handler. A line too long
 * for the buffer gets one error reply and is skipped up to its newline
 * (read and dropped, CTLSOCK_READS at a time), so the client may go on.
 */
static void
ctlsock_client_lines(struct ctlsock_client *c)
{
	char reply[2048];
	char *nl;

	while (!c->closing && (nl = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t used = (size_t)(nl - c->in) + 1;

		*nl = '\0';
		if (c->skipping)
			reply[0] = '\0';
		else if (memchr(c->in, '\0', used - 1) != NULL)
			snprintf(reply, sizeof(reply), "error: a NUL byte in the command");
		else
			c->sock->handle(c->sock->arg, c->in, reply, sizeof(reply));
		if (!c->skipping)
			ctlsock_client_reply(c, reply);
		c->skipping = false;
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	if (!c->closing && c->in_len == sizeof(c->in)) {
		if (!c->skipping)
			ctlsock_client_reply(c, "error: line too long (commands are short)");
		c->skipping = true;
		c->in_len = 0;
	}
}

static void
ctlsock_client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctlsock_client *c = (struct ctlsock_client *)
		((char *)w - offsetof(struct ctlsock_client, io));

	(void)loop;
	for (int i = 0; (revents & EV_READ) && !c->closing && i < CTLSOCK_READS; i++) {
		ssize_t n = read(w->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* End of input (or an error): a partial last line is no command. */
			c->closing = true;
			break;
		}
		c->in_len += (size_t)n;
		ctlsock_client_lines(c);
	}
	ctlsock_client_flush(c);
}

static void
ctlsock_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctlsock *s = (struct ctlsock *)((char *)w - offsetof(struct ctlsock, listen_io));

	(void)revents;
	for (;;) {
		struct ctlsock_client *c = NULL;
		int fd = accept(w->fd, NULL, NULL);

		if (fd < 0)
			return;  /* EAGAIN, or a client that left before we took it */
		for (size_t i = 0; i < CTLSOCK_CLIENTS && c == NULL; i++)
			if (!s->clients[i].open)
				c = &s->clients[i];
		if (c == NULL) {
			static const char full[] = "error: too many clients\n";

			(void)send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			close(fd);
			continue;
		}
		*c = (struct ctlsock_client){.sock = s, .open = true};
		ev_io_init(&c->io, ctlsock_client_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
	}
}

/*
 * Something is at path already: a socket nobody listens on is a crashed
 * shade's, removed here; anything else is refused.
 */
static int
ctlsock_take_path(const char *path, const struct sockaddr_un *sa, struct shade_err *err)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return 0;  /* nothing there */
	if (!S_ISSOCK(st.st_mode)) {
		err_set(err, SHADE_USAGE, "--control-socket %s exists and is not a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		err_set(err, SHADE_USAGE, "--control-socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0 || errno != ECONNREFUSED) {
		err_set(err, SHADE_USAGE, "--control-socket %s is in use (another shade listens on it?)",
			path);
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		err_set(err, SHADE_USAGE, "--control-socket %s: cannot remove the stale socket: %s",
			path, strerror(errno));
		return -1;
	}
	return 0;
}

int
ctlsock_open(struct ctlsock *s, struct ev_loop *loop, const char *path, ctlsock_handler handle,
	     void *arg, struct shade_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old_mask;
	int rc;

	*s = (struct ctlsock){.loop = loop, .fd = -1, .handle = handle, .arg = arg};
	if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		err_set(err, SHADE_USAGE, "--control-socket takes a path of 1 to %zu bytes",
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (ctlsock_take_path(path, &sa, err) != 0)
		return -1;
	if ((s->fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) != 0 ||
	    fcntl(s->fd, F_SETFD, FD_CLOEXEC) != 0) {
		err_set(err, SHADE_USAGE, "--control-socket %s: socket: %s", path, strerror(errno));
		goto fail;
	}
	/* Born 0600: no moment when another user could connect. */
	old_mask = umask(0177);
	rc = bind(s->fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc != 0 || listen(s->fd, 16) != 0 || lstat(path, &st) != 0) {
		err_set(err, SHADE_USAGE, "--control-socket %s: %s", path, strerror(errno));
		if (rc == 0)
			(void)unlink(path);
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->path = xstrdup(path);
	ev_io_init(&s->listen_io, ctlsock_accept_cb, s->fd, EV_READ);
	ev_io_start(loop, &s->listen_io);
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return -1;
}

void
ctlsock_close(struct ctlsock *s)
{
	struct stat st;

	if (s->path == NULL)
		return;
	for (size_t i = 0; i < CTLSOCK_CLIENTS; i++)
		ctlsock_client_close(&s->clients[i]);
	ev_io_stop(s->loop, &s->listen_io);
	close(s->fd);
	/* Another shade may have replaced a socket it took for stale: leave its own. */
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		(void)unlink(s->path);
	free(s->path);
	s->path = NULL;
	s->fd = -1;
}

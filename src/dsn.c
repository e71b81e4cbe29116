/*
 * dsn.c - tell which server --dsn names and, for MySQL, take the URI apart.
 *
 * PostgreSQL DSNs are libpq's business: a postgres:// or postgresql:// URI or
 * key=value conninfo is kept as it is and handed to libpq, which parses it
 * (and knows about PGPASSWORD, ~/.pgpass, service files). MySQL's client
 * library has no URI parser, so mysql://user[:password]@host[:port]/db
 * [?socket=/path] is parsed here, %XX escapes decoded.
 *
 * The DSN may hold a password: no error message here ever quotes it, or any
 * other part of the DSN.
 */
#include "dsn.h"

#include <stdlib.h>
#include <string.h>

#define DSN_UNSUPPORTED                                                      \
	"unsupported DSN: expected postgres://..., key=value conninfo, or "  \
	"mysql://..."

static bool
dsn_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
dsn_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Wipe a string that may hold a secret before it is freed. */
static void
dsn_wipe(char *s)
{
	volatile char *p = s;

	if (s == NULL)
		return;
	while (*p)
		*p++ = '\0';
}

/*
 * Decode the %XX escapes of s[0..n) into a new string (*out). Returns -1 for a
 * malformed escape or one that decodes to a NUL byte.
 */
static int
dsn_decode(const char *s, size_t n, char **out)
{
	struct buf b = {0};

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			buf_append_char(&b, s[i]);
			continue;
		}
		if (i + 2 >= n)
			goto bad;
		hi = dsn_hexval(s[i + 1]);
		lo = dsn_hexval(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		buf_append_char(&b, (char)(hi * 16 + lo));
		i += 2;
	}
	*out = buf_take(&b);
	return 0;
bad:
	if (b.data)
		dsn_wipe(b.data);
	buf_free(&b);
	return -1;
}

/* Host names and addresses: no spaces, controls or URI delimiters. */
static bool
dsn_host_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7F || strchr("@/?#%[]", c) != NULL)
			return false;
	}
	return true;
}

static int
dsn_parse_port(const char *s, size_t n, unsigned *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* host[:port] in [host, end), the host possibly a bracketed IPv6 address. */
static int
dsn_parse_host(const char *host, const char *end, struct dsn *out, struct shade_err *err)
{
	const char *host_end = end, *q;

	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (rb == NULL || rb == host + 1 ||
		    !dsn_host_ok(host + 1, (size_t)(rb - host - 1)))
			goto bad_host;
		out->host = xstrndup(host + 1, (size_t)(rb - host - 1));
		q = rb + 1;
		if (q < end && *q != ':')
			goto bad_host;
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));

		if (colon != NULL)
			host_end = colon;
		if (!dsn_host_ok(host, (size_t)(host_end - host)))
			goto bad_host;
		if (host_end > host)
			out->host = xstrndup(host, (size_t)(host_end - host));
		q = host_end;
	}
	/* *q == ':' when there is a port. */
	if (q < end && dsn_parse_port(q + 1, (size_t)(end - q - 1), &out->port) < 0) {
		err_set(err, SHADE_USAGE, "invalid port in mysql:// DSN: "
			"expected a number from 1 to 65535");
		return -1;
	}
	return 0;
bad_host:
	err_set(err, SHADE_USAGE, "invalid host in mysql:// DSN");
	return -1;
}

/*
 * The authority [user[:password]@][host[:port]] in [p, end). Returns 0, -1
 * with err set, or 1 for a bad %XX escape.
 */
static int
dsn_parse_authority(const char *p, const char *end, struct dsn *out, struct shade_err *err)
{
	const char *at = NULL, *host = p;

	/* userinfo: up to the last '@' of the authority. */
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *user_end = colon ? colon : at;

		if (user_end > p && dsn_decode(p, (size_t)(user_end - p), &out->user) < 0)
			return 1;
		if (colon != NULL &&
		    dsn_decode(colon + 1, (size_t)(at - colon - 1), &out->password) < 0)
			return 1;
		host = at + 1;
	}
	return dsn_parse_host(host, end, out, err);
}

/*
 * The query string after '?': socket=/path, the only parameter there is.
 * Returns 0, -1 with err set, or 1 for a bad %XX escape.
 */
static int
dsn_parse_query(const char *p, struct dsn *out, struct shade_err *err)
{
	while (*p != '\0') {
		size_t n = strcspn(p, "&#");

		if (p[n] == '#') {
			err_set(err, SHADE_USAGE, "invalid mysql:// DSN: a "
				"'#' fragment is not allowed");
			return -1;
		}
		if (n >= 7 && strncmp(p, "socket=", 7) == 0) {
			if (n == 7) {
				err_set(err, SHADE_USAGE, "empty ?socket= in mysql:// DSN");
				return -1;
			}
			free(out->socket);
			out->socket = NULL;
			if (dsn_decode(p + 7, n - 7, &out->socket) < 0)
				return 1;
		} else if (n > 0) {
			err_set(err, SHADE_USAGE, "unknown parameter in mysql:// DSN: "
				"only ?socket=/path is supported");
			return -1;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* mysql://[user[:password]@][host[:port]][/db][?socket=/path] */
static int
dsn_parse_mysql(const char *s, struct dsn *out, struct shade_err *err)
{
	const char *p = s + strlen("mysql://");
	const char *auth_end, *path_end;
	int rc;

	auth_end = p + strcspn(p, "/?#");
	if (*auth_end == '#') {
		err_set(err, SHADE_USAGE, "invalid mysql:// DSN: a '#' fragment "
			"is not allowed (write a '#' in a password as %%23)");
		return -1;
	}
	if ((rc = dsn_parse_authority(p, auth_end, out, err)) != 0)
		goto fail;

	/* /db */
	p = auth_end;
	if (*p == '/') {
		p++;
		path_end = p + strcspn(p, "?#");
		if (*path_end == '#') {
			err_set(err, SHADE_USAGE, "invalid mysql:// DSN: a '#' "
				"fragment is not allowed");
			return -1;
		}
		if (memchr(p, '/', (size_t)(path_end - p)) != NULL) {
			err_set(err, SHADE_USAGE, "invalid database in mysql:// "
				"DSN: write a '/' in its name as %%2F");
			return -1;
		}
		if (path_end > p &&
		    dsn_decode(p, (size_t)(path_end - p), &out->database) < 0) {
			rc = 1;
			goto fail;
		}
		p = path_end;
	}
	if (*p == '?' && (rc = dsn_parse_query(p + 1, out, err)) != 0)
		goto fail;

	if (out->host == NULL && out->socket == NULL) {
		err_set(err, SHADE_USAGE, "mysql:// DSN names no host: give "
			"mysql://user@host/db or ?socket=/path/to/mysqld.sock");
		return -1;
	}
	return 0;
fail:
	if (rc > 0)
		err_set(err, SHADE_USAGE,
			"invalid %%XX escape in mysql:// DSN (or one that decodes to NUL)");
	return -1;
}

int
dsn_parse(const char *s, struct dsn *out, struct shade_err *err)
{
	memset(out, 0, sizeof(*out));
	if (dsn_prefix(s, "mysql://")) {
		out->kind = DSN_MYSQL;
		if (dsn_parse_mysql(s, out, err) < 0) {
			dsn_free(out);
			return -1;
		}
		return 0;
	}
	if (dsn_prefix(s, "postgres://") || dsn_prefix(s, "postgresql://") ||
	    strchr(s, '=') != NULL) {
		out->kind = DSN_PG;
		out->conninfo = xstrdup(s);
		return 0;
	}
	err_set(err, SHADE_USAGE, DSN_UNSUPPORTED);
	return -1;
}

void
dsn_free(struct dsn *d)
{
	/* Both may hold a password. */
	dsn_wipe(d->conninfo);
	dsn_wipe(d->password);
	free(d->conninfo);
	free(d->user);
	free(d->password);
	free(d->host);
	free(d->socket);
	free(d->database);
	memset(d, 0, sizeof(*d));
}

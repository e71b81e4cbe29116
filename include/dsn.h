/*
 * dsn.h - what --dsn names: which engine, and how to reach the server.
 *
 * PostgreSQL DSNs (postgres:// or postgresql:// URIs, or key=value conninfo)
 * are handed to libpq as they are: libpq is their parser. MySQL DSNs
 * (mysql://user[:password]@host[:port]/db[?socket=/path]) are parsed here,
 * with %XX escapes decoded.
 */
#ifndef SHADE_DSN_H
#define SHADE_DSN_H

#include <stdbool.h>

#include "util.h"

enum dsn_kind {
	DSN_PG,
	DSN_MYSQL,
};

struct dsn {
	enum dsn_kind kind;
	char *conninfo;  /* DSN_PG: the string as given, for libpq */
	/* DSN_MYSQL: each NULL when absent */
	char *user;
	char *password;  /* never printed or logged */
	char *host;
	unsigned port;   /* 0: default */
	char *socket;
	char *database;
};

/*
 * Parse s. Returns 0, or -1 with err (status SHADE_USAGE); the message never
 * repeats the DSN, which may hold a password.
 */
int dsn_parse(const char *s, struct dsn *out, struct shade_err *err) WARN_UNUSED;
void dsn_free(struct dsn *d);

#endif

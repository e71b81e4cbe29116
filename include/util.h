/*
 * util.h - memory wrappers, growable strings, string lists and the error
 * record every fallible function fills.
 */
#ifndef SHADE_UTIL_H
#define SHADE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define SHADE_VERSION "0.1.0"

#define WARN_UNUSED __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Exit statuses, as in DESIGN.md. An error record carries the one that the
 * process should end with if the error reaches main().
 */
enum shade_status {
	SHADE_OK = 0,
	SHADE_FAILED = 1,  /* failed, cleaned up, original untouched */
	SHADE_USAGE = 2,   /* usage or bad input: nothing was changed */
	SHADE_ABORTED = 3, /* stopped by the operator */
};

/*
 * What went wrong, filled by the callee into a caller-owned record. msg is
 * the one line the user sees; sqlstate/server_errno and stmt are detail for
 * the log. retryable marks a lock timeout that the caller may retry.
 */
struct shade_err {
	enum shade_status status;
	bool retryable;
	bool cancelled;         /* the statement was cancelled on request */
	bool conn_lost;         /* the connection to the server is gone */
	char msg[1024];
	char sqlstate[6];       /* PostgreSQL SQLSTATE, "" if none */
	unsigned server_errno;  /* MySQL error number, 0 if none */
	char *stmt;             /* the statement that failed, or NULL; owned */
};

/*
 * A retryable lock timeout's message may go on with who holds the lock,
 * from this mark on ("; blocked by pid 12 (user app, transaction open 8 s):
 * UPDATE ..."): the engine appends it, the retry note repeats it.
 */
#define ERR_BLOCKED_BY "; blocked by"

void err_clear(struct shade_err *e);
void err_set(struct shade_err *e, enum shade_status st, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
/*
 * Put context in front of the message already in e: "<fmt...><old message>",
 * and set the status. The one way to add context to a callee's error (never
 * err_set(e, ..., e->msg): that formats a buffer into itself).
 */
void err_prefix(struct shade_err *e, enum shade_status st, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
/* Append to the message in e (truncated to fit); the status stays. */
void err_append(struct shade_err *e, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Record the statement that failed (copied). */
void err_set_stmt(struct shade_err *e, const char *stmt);

/* Allocation that dies on OOM; xcalloc/xreallocarray check overflow. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
void die(const char *fmt, ...) PRINTF_LIKE(1, 2) __attribute__((noreturn));
/*
 * Who writes die()'s message (without "shade: "); NULL: die() writes
 * "shade: MSG" itself. --log-format json makes it a JSON line.
 */
void die_set_printer(void (*printer)(const char *msg));

/* A growable NUL-terminated string. A zeroed struct is an empty buffer. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const char *s);
void buf_append_n(struct buf *b, const char *s, size_t n);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/*
 * Append s as one line of at most max bytes: leading and trailing white
 * space dropped, every run of it inside (newlines too) one space; a longer
 * text is cut where a UTF-8 character begins and ends in "...". For
 * server text (a query, a name) in a one-line message.
 */
void buf_append_line(struct buf *b, const char *s, size_t max);
/* The contents, never NULL ("" for an empty buffer). */
const char *buf_str(const struct buf *b);
/* Hand the string over to the caller (who frees it); the buffer is emptied. */
char *buf_take(struct buf *b);

/* A list of owned strings. A zeroed struct is an empty list. */
struct strlist {
	char **items;
	size_t len;
	size_t cap;
};

void strlist_push(struct strlist *l, const char *s);
/* Push a string the list takes ownership of. */
void strlist_push_take(struct strlist *l, char *s);
void strlist_free(struct strlist *l);
/* Index of s in l, or -1. */
long strlist_find(const struct strlist *l, const char *s);

/* Monotonic clock in seconds. */
double now_seconds(void);

/* Valid UTF-8 without NUL bytes? */
bool utf8_valid(const char *s, size_t len);

#endif

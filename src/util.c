/*
 * util.c - the small helpers every module uses: allocation that dies on
 * out-of-memory instead of limping on, growable strings, string lists, the
 * error record, a monotonic clock.
 */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
err_clear(struct shade_err *e)
{
	free(e->stmt);
	memset(e, 0, sizeof(*e));
}

void
err_set(struct shade_err *e, enum shade_status st, const char *fmt, ...)
{
	va_list ap;

	e->status = st;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void
err_prefix(struct shade_err *e, enum shade_status st, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	size_t len;
	va_list ap;

	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	e->status = st;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	snprintf(e->msg + len, sizeof(e->msg) - len, "%s", old);
}

void
err_append(struct shade_err *e, const char *fmt, ...)
{
	size_t len = strlen(e->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg + len, sizeof(e->msg) - len, fmt, ap);
	va_end(ap);
}

void
err_set_stmt(struct shade_err *e, const char *stmt)
{
	free(e->stmt);
	e->stmt = stmt ? xstrdup(stmt) : NULL;
}

static void (*die_printer)(const char *msg);

void
die_set_printer(void (*printer)(const char *msg))
{
	die_printer = printer;
}

void
die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/* A fixed buffer: die() may be saying that memory ran out. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (die_printer != NULL)
		die_printer(msg);
	else
		fprintf(stderr, "shade: %s\n", msg);
	exit(SHADE_FAILED);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *np;

	if (size != 0 && nmemb > SIZE_MAX / size)
		die("allocation size overflow");
	np = realloc(p, (nmemb * size) != 0 ? nmemb * size : 1);
	if (np == NULL)
		die("out of memory");
	return np;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_take(&b);
}

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		die("string too long");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->data = xreallocarray(b->data, b->cap, 1);
}

void
buf_append_n(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_append(struct buf *b, const char *s)
{
	buf_append_n(b, s, strlen(s));
}

void
buf_append_char(struct buf *b, char c)
{
	buf_append_n(b, &c, 1);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		die("bad format string");
	buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
buf_append_line(struct buf *b, const char *s, size_t max)
{
	static const char space[] = " \t\n\r\f\v";
	struct buf t = {0};
	size_t cut;

	while (*s) {
		if (strchr(space, *s) == NULL) {
			buf_append_char(&t, *s++);
			continue;
		}
		s += strspn(s, space);
		if (t.len > 0 && *s)
			buf_append_char(&t, ' ');
	}
	if (t.len <= max) {
		buf_append_n(b, buf_str(&t), t.len);
	} else {
		/* Never half a character: back up over continuation bytes. */
		cut = max > 3 ? max - 3 : 0;
		while (cut > 0 && ((unsigned char)t.data[cut] & 0xC0) == 0x80)
			cut--;
		buf_append_n(b, t.data, cut);
		buf_append(b, "...");
	}
	buf_free(&t);
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

char *
buf_take(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");

	memset(b, 0, sizeof(*b));
	return s;
}

void
strlist_push_take(struct strlist *l, char *s)
{
	if (l->len == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->items = xreallocarray(l->items, l->cap, sizeof(*l->items));
	}
	l->items[l->len++] = s;
}

void
strlist_push(struct strlist *l, const char *s)
{
	strlist_push_take(l, xstrdup(s));
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

long
strlist_find(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return (long)i;
	return -1;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

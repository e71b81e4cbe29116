/*
 * sql.c - the one place identifiers become SQL text.
 *
 * sql_ident() quotes a name the way its server does (PostgreSQL "...",
 * MySQL `...`, the quote character doubled inside), sql_build() is a tiny
 * formatter whose only ways to put a name into a statement go through
 * sql_ident(), and sql_derived_name() names the helper objects shade creates
 * next to a table without ever passing the server's identifier limit (which
 * would make the server truncate two different names to the same one).
 * Values never pass through here: they are bound parameters.
 */
#include "sql.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
qname_free(struct qname *q)
{
	free(q->schema);
	free(q->name);
	q->schema = NULL;
	q->name = NULL;
}

void
qname_copy(struct qname *dst, const struct qname *src)
{
	dst->schema = src->schema ? xstrdup(src->schema) : NULL;
	dst->name = src->name ? xstrdup(src->name) : NULL;
}

size_t
sql_ident_max(enum sql_dialect d)
{
	/*
	 * PostgreSQL: NAMEDATALEN - 1 bytes. MySQL/MariaDB: 64 characters;
	 * sql_ident_len() measures MySQL names in characters to match.
	 */
	return d == SQL_PG ? 63 : 64;
}

size_t
sql_ident_len(enum sql_dialect d, const char *s, size_t n)
{
	size_t chars = 0;

	if (d == SQL_PG)
		return n;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			chars++;
	return chars;
}

void
sql_ident(struct buf *b, enum sql_dialect d, const char *name)
{
	char q = d == SQL_PG ? '"' : '`';
	size_t len;

	if (name == NULL || *name == '\0')
		die("internal error: empty identifier");
	len = strlen(name);
	if (!utf8_valid(name, len))
		die("internal error: identifier is not valid UTF-8");
	buf_append_char(b, q);
	for (const char *p = name; *p; p++) {
		if (*p == q)
			buf_append_char(b, q);
		buf_append_char(b, *p);
	}
	buf_append_char(b, q);
}

/* %P's prefix is written as is, so it must be a plain SQL word. */
static bool
sql_plain_word(const char *s)
{
	if (s == NULL || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			   *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

void
sql_build(struct buf *b, enum sql_dialect d, const char *fmt, ...)
{
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	for (p = fmt; *p; p++) {
		const struct strlist *l;
		const struct qname *qn;
		const char *s;

		if (*p != '%') {
			buf_append_char(b, *p);
			continue;
		}
		switch (*++p) {
		case 'I':
			sql_ident(b, d, va_arg(ap, const char *));
			break;
		case 'Q':
			qn = va_arg(ap, const struct qname *);
			if (qn->schema != NULL) {
				sql_ident(b, d, qn->schema);
				buf_append_char(b, '.');
			}
			sql_ident(b, d, qn->name);
			break;
		case 'L':
			l = va_arg(ap, const struct strlist *);
			for (size_t i = 0; i < l->len; i++) {
				if (i > 0)
					buf_append(b, ", ");
				sql_ident(b, d, l->items[i]);
			}
			break;
		case 'P':
			s = va_arg(ap, const char *);
			l = va_arg(ap, const struct strlist *);
			if (!sql_plain_word(s))
				die("internal error: sql_build: bad %%P prefix");
			for (size_t i = 0; i < l->len; i++) {
				if (i > 0)
					buf_append(b, ", ");
				buf_append(b, s);
				buf_append_char(b, '.');
				sql_ident(b, d, l->items[i]);
			}
			break;
		case 's':
		case 'A':
			s = va_arg(ap, const char *);
			if (s == NULL)
				die("internal error: sql_build: NULL %%%c", *p);
			buf_append(b, s);
			break;
		case 'd':
			buf_printf(b, "%d", va_arg(ap, int));
			break;
		case 'l':
			buf_printf(b, "%lld", va_arg(ap, long long));
			break;
		case 'u':
			buf_printf(b, "%u", va_arg(ap, unsigned));
			break;
		case '%':
			buf_append_char(b, '%');
			break;
		default:
			/* Including '\0': a lone '%' at the end of fmt. */
			die("internal error: sql_build: unknown conversion in \"%s\"",
			    fmt);
		}
	}
	va_end(ap);
}

unsigned
sql_name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return (unsigned)h;
}

char *
sql_derived_name(enum sql_dialect d, const char *table, const char *suffix)
{
	size_t max = sql_ident_max(d);
	size_t tlen = strlen(table), slen = strlen(suffix);
	size_t fixed, keep;
	struct buf b = {0};

	/* "_" + table + suffix fits: use it as it is. */
	if (1 + sql_ident_len(d, table, tlen) + sql_ident_len(d, suffix, slen) <=
	    max) {
		buf_append_char(&b, '_');
		buf_append(&b, table);
		buf_append(&b, suffix);
		return buf_take(&b);
	}

	/* "_" + prefix + "_" + 8 hex digits + suffix. */
	fixed = 1 + 9 + sql_ident_len(d, suffix, slen);
	if (fixed >= max)
		die("internal error: derived-name suffix \"%s\" too long", suffix);

	/*
	 * Keep the longest prefix of table that fits, cut only where a UTF-8
	 * sequence starts: a name cut inside a character is not valid UTF-8.
	 */
	keep = 0;
	for (size_t i = 1; i <= tlen; i++) {
		if (i < tlen && ((unsigned char)table[i] & 0xC0) == 0x80)
			continue;
		if (fixed + sql_ident_len(d, table, i) > max)
			break;
		keep = i;
	}
	buf_append_char(&b, '_');
	buf_append_n(&b, table, keep);
	buf_printf(&b, "_%08x", sql_name_hash(table));
	buf_append(&b, suffix);
	return buf_take(&b);
}

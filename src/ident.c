/*
 * ident.c - read --table as the server would read a table name in its own
 * SQL, and nothing more.
 *
 * The text is parsed into at most two parts, [schema.]table, each either a
 * bare word (folded to lower case on PostgreSQL, as the server folds it) or a
 * quoted identifier ("..." on PostgreSQL, `...` on MySQL, the quote doubled
 * inside). Whatever does not parse as that - `items; DROP TABLE x`, `a.b.c`,
 * an unterminated quote - is refused here, so the name can only ever reach SQL
 * again through sql_ident().
 */
#include "ident.h"

#include <stdlib.h>
#include <string.h>

static bool
ident_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* A byte of a bare word: [A-Za-z0-9_$] or part of a non-ASCII character. */
static bool
ident_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

char *
ident_unquote(const char *s, const char **end)
{
	const char *p;
	struct buf b = {0};

	for (p = s + 1;; p++) {
		if (*p == '\0') {
			buf_free(&b);
			return NULL;
		}
		if (*p == s[0]) {
			if (p[1] != s[0])
				break;
			p++;
		}
		buf_append_char(&b, *p);
	}
	*end = p + 1;
	if (b.data == NULL)
		return xstrdup("");
	return buf_take(&b);
}

/*
 * Parse one part starting at *pp into a new string (*out); advance *pp past
 * it. Returns a reason on failure (static text), NULL on success.
 */
static const char *
ident_part(const char **pp, enum sql_dialect d, char **out)
{
	const char *p = *pp;
	char q = d == SQL_PG ? '"' : '`';
	struct buf b = {0};

	if (*p == q) {
		char *name = ident_unquote(p, &p);

		if (name == NULL)
			return "unterminated quoted name";
		if (*name == '\0') {
			free(name);
			return "empty quoted name";
		}
		*pp = p;
		*out = name;
		return NULL;
	} else {
		const char *start = p;
		bool all_digits = true;

		while (ident_word_byte((unsigned char)*p)) {
			if (*p < '0' || *p > '9')
				all_digits = false;
			p++;
		}
		if (p == start)
			return ""; /* an empty part, or a character no name has */
		if (d == SQL_PG && ((*start >= '0' && *start <= '9') || *start == '$'))
			return "a bare name cannot start with a digit or '$'";
		if (d == SQL_MYSQL && all_digits)
			return "a bare name cannot be all digits";
		for (const char *s = start; s < p; s++) {
			char c = *s;

			/* PostgreSQL folds bare names, ASCII only. */
			if (d == SQL_PG && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			buf_append_char(&b, c);
		}
	}
	*pp = p;
	*out = buf_take(&b);
	return NULL;
}

/*
 * Quote the user's text for an error message: one line, printable, bounded.
 * Bytes that could break the line or the terminal are shown as \xNN.
 */
static void
ident_echo(struct buf *b, const char *s)
{
	size_t len = strlen(s);
	bool utf8 = utf8_valid(s, len);
	size_t i;

	for (i = 0; i < len && b->len < 200; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8) || c == '\\')
			buf_printf(b, "\\x%02X", c);
		else
			buf_append_char(b, (char)c);
	}
	if (i < len)
		buf_append(b, "...");
}

int
ident_parse(const char *s, enum sql_dialect d, struct qname *out,
	    struct shade_err *err)
{
	char *parts[2] = {NULL, NULL};
	size_t nparts = 0;
	const char *why = NULL;
	const char *p = s;
	struct buf echo = {0};

	out->schema = NULL;
	out->name = NULL;
	if (!utf8_valid(s, strlen(s))) {
		why = "not valid UTF-8";
		goto fail;
	}
	while (ident_space(*p))
		p++;
	for (;;) {
		if (nparts == 2) {
			why = "more than two parts";
			goto fail;
		}
		why = ident_part(&p, d, &parts[nparts]);
		if (why != NULL)
			goto fail;
		if (sql_ident_len(d, parts[nparts], strlen(parts[nparts])) > sql_ident_max(d)) {
			why = d == SQL_PG ? "a part is longer than 63 bytes"
					  : "a part is longer than 64 characters";
			nparts++;
			goto fail;
		}
		nparts++;
		while (ident_space(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != '.') {
			why = "";
			goto fail;
		}
		p++;
		while (ident_space(*p))
			p++;
	}
	if (nparts == 2) {
		out->schema = parts[0];
		out->name = parts[1];
	} else {
		out->name = parts[0];
	}
	return 0;

fail:
	for (size_t i = 0; i < 2; i++)
		free(parts[i]);
	ident_echo(&echo, s);
	err_set(err, SHADE_USAGE,
		"unknown table \"%s\": not a valid [schema.]table name%s%s%s",
		buf_str(&echo), *why ? " (" : "", why, *why ? ")" : "");
	buf_free(&echo);
	return -1;
}

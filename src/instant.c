/*
 * instant.c - the ALTER clauses PostgreSQL makes in its catalog alone (see
 * instant.h). It reads a clause as a few words, never as SQL: a quoted
 * identifier is one word, a string literal is skipped, a dollar quote
 * makes the clause "unknown" (so "no").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "instant.h"

/* Words of the column definition that make ADD COLUMN more than metadata. */
static const char *const instant_add_refused[] = {
	"PRIMARY", "UNIQUE", "REFERENCES", "CHECK", "GENERATED", "IDENTITY",
	"CONSTRAINT", "COLLATE", "EXCLUDE",
};

/* What follows ADD when it is a table constraint, not a column. */
static const char *const instant_add_constraints[] = {
	"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE",
};

#define INSTANT_MAX_WORDS 64
#define INSTANT_WORD_MAX 128

struct instant_words {
	char w[INSTANT_MAX_WORDS][INSTANT_WORD_MAX];
	bool quoted[INSTANT_MAX_WORDS];  /* a "quoted" identifier: never a keyword */
	size_t n;
};

/* Skip a quoted run starting at s (at its quote); NULL if unterminated. */
static const char *
instant_skip_quoted(const char *s, char q)
{
	for (s++; *s; s++) {
		if (*s == q) {
			if (s[1] == q) {
				s++;
				continue;
			}
			return s + 1;
		}
	}
	return NULL;
}

/* Split a clause into words; false when it cannot be read for certain. */
static bool
instant_split(const char *s, struct instant_words *out)
{
	out->n = 0;
	while (*s) {
		const char *start = s;
		size_t len;

		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (*s == '$')
			return false;
		if (*s == '\'') {
			if ((s = instant_skip_quoted(s, '\'')) == NULL)
				return false;
			continue;
		}
		if (out->n == INSTANT_MAX_WORDS)
			return false;
		out->quoted[out->n] = *s == '"';
		if (*s == '"') {
			if ((s = instant_skip_quoted(s, '"')) == NULL)
				return false;
		} else if (isalnum((unsigned char)*s) || *s == '_') {
			while (isalnum((unsigned char)*s) || *s == '_')
				s++;
		} else {
			s++;
		}
		len = (size_t)(s - start);
		if (len >= INSTANT_WORD_MAX)
			return false;
		memcpy(out->w[out->n], start, len);
		out->w[out->n][len] = '\0';
		out->n++;
	}
	return true;
}

/* Word i is the unquoted keyword kw. */
static bool
instant_is(const struct instant_words *w, size_t i, const char *kw)
{
	return i < w->n && !w->quoted[i] && strcasecmp(w->w[i], kw) == 0;
}

static bool
instant_is_any(const struct instant_words *w, size_t i, const char *const *kws, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (instant_is(w, i, kws[k]))
			return true;
	return false;
}

/* A column name at i (any word but punctuation): the index after it. */
static size_t
instant_ident(const struct instant_words *w, size_t i)
{
	if (i >= w->n)
		return 0;
	if (!w->quoted[i] && !isalpha((unsigned char)w->w[i][0]) && w->w[i][0] != '_')
		return 0;
	return i + 1;
}

static bool
instant_drop(const struct instant_words *w)
{
	size_t i = 1;

	if (instant_is(w, i, "CONSTRAINT"))
		return false;
	if (instant_is(w, i, "COLUMN"))
		i++;
	if (instant_is(w, i, "IF") && instant_is(w, i + 1, "EXISTS"))
		i += 2;
	if ((i = instant_ident(w, i)) == 0)
		return false;
	if (instant_is(w, i, "RESTRICT") || instant_is(w, i, "CASCADE"))
		i++;
	return i == w->n;
}

static bool
instant_alter(const struct instant_words *w)
{
	size_t i = 1;

	if (instant_is(w, i, "COLUMN"))
		i++;
	if ((i = instant_ident(w, i)) == 0)
		return false;
	if (instant_is(w, i, "SET") && instant_is(w, i + 1, "DEFAULT"))
		return i + 2 < w->n;
	if (instant_is(w, i, "DROP") && instant_is(w, i + 1, "DEFAULT"))
		return i + 2 == w->n;
	return instant_is(w, i, "DROP") && instant_is(w, i + 1, "NOT") &&
	       instant_is(w, i + 2, "NULL") && i + 3 == w->n;
}

static bool
instant_rename(const struct instant_words *w)
{
	size_t i = 1;

	if (instant_is(w, i, "CONSTRAINT"))
		return false;
	if (instant_is(w, i, "COLUMN"))
		i++;
	if ((i = instant_ident(w, i)) == 0 || !instant_is(w, i, "TO"))
		return false;
	return instant_ident(w, i + 1) == w->n;
}

static bool
instant_add(const struct instant_words *w)
{
	size_t i = 1;

	if (instant_is_any(w, i, instant_add_constraints, ARRAY_LEN(instant_add_constraints)))
		return false;
	if (instant_is(w, i, "COLUMN"))
		i++;
	if (instant_is(w, i, "IF") && instant_is(w, i + 1, "NOT") && instant_is(w, i + 2, "EXISTS"))
		i += 3;
	/* The column and at least a type. */
	if ((i = instant_ident(w, i)) == 0 || i >= w->n)
		return false;
	for (; i < w->n; i++)
		if (instant_is_any(w, i, instant_add_refused, ARRAY_LEN(instant_add_refused)))
			return false;
	return true;
}

bool
instant_pg_clauses(const struct alter_info *a, bool *adds, char *why, size_t len)
{
	struct instant_words w;

	*adds = false;
	for (size_t c = 0; c < a->clauses.len; c++) {
		const char *clause = a->clauses.items[c];
		bool ok = instant_split(clause, &w) && w.n > 0;

		if (ok && instant_is(&w, 0, "ADD")) {
			ok = instant_add(&w);
			*adds = *adds || ok;
		} else if (ok && instant_is(&w, 0, "DROP")) {
			ok = instant_drop(&w);
		} else if (ok && instant_is(&w, 0, "ALTER")) {
			ok = instant_alter(&w);
		} else if (ok && instant_is(&w, 0, "RENAME")) {
			ok = instant_rename(&w);
		} else {
			ok = false;
		}
		if (!ok) {
			snprintf(why, len, "`%s` is not a change PostgreSQL makes in its catalog "
				 "alone (or shade cannot tell that it is)", clause);
			return false;
		}
	}
	return a->clauses.len > 0;
}

/*
 * alter.c - make sense of an ALTER-BODY without parsing SQL.
 *
 * shade runs the ALTER-BODY against the shadow table, so it must be exactly
 * one ALTER TABLE's clauses: a `;` outside quotes and comments could smuggle
 * a second statement in. This is a lexer that follows the server's own rules
 * for where strings, quoted identifiers and comments begin and end - including
 * the corners where a wrong guess would hide a `;` inside what we took for a
 * string (PostgreSQL E'...' strings and their continuation lines, dollar
 * quotes, nested comments; MySQL backslash escapes, `#` and `-- ` comments).
 * Where the server's reading depends on a setting, shade pins that setting
 * when it connects (PostgreSQL: standard_conforming_strings on; MySQL: no
 * ANSI_QUOTES or NO_BACKSLASH_ESCAPES in sql_mode).
 *
 * On top of the tokens it splits the top-level clauses, reads the column
 * renames the body states (so renamed columns are copied, not dropped) and
 * refuses what would break the swap: renaming or moving the table itself.
 */
#include "alter.h"

#include "ident.h"

#include <stdlib.h>
#include <string.h>

enum alter_tok_kind {
	ALTER_TOK_WORD,   /* keyword or bare identifier */
	ALTER_TOK_QIDENT, /* quoted identifier, quotes included */
	ALTER_TOK_STRING, /* string constant of any kind */
	ALTER_TOK_OTHER,  /* number, parameter, punctuation */
};

struct alter_tok {
	enum alter_tok_kind kind;
	size_t start, end; /* body[start..end) */
	int depth;         /* bracket depth before the token */
};

struct alter_lexer {
	const char *s;
	size_t len;
	size_t pos;
	enum sql_dialect d;
	struct shade_err *err;
};

static bool
alter_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static bool
alter_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static bool
alter_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A byte that continues a bare word on both servers: [A-Za-z0-9_$], non-ASCII. */
static bool
alter_word_byte(unsigned char c)
{
	return alter_alpha(c) || alter_digit(c) || c == '$';
}

static char
alter_peek(const struct alter_lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? lx->s[lx->pos + ahead] : '\0';
}

static void
alter_skip_line(struct alter_lexer *lx)
{
	while (lx->pos < lx->len && lx->s[lx->pos] != '\n' &&
	       lx->s[lx->pos] != '\r')
		lx->pos++;
}

/*
 * Skip whitespace and comments. Returns -1 (err filled) on an unterminated
 * comment or one shade will not read past.
 */
static int
alter_skip_blank(struct alter_lexer *lx)
{
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos];
		char c1 = alter_peek(lx, 1);

		if (alter_space(c)) {
			lx->pos++;
		} else if (c == '-' && c1 == '-' && lx->d == SQL_PG) {
			alter_skip_line(lx);
		} else if (c == '-' && c1 == '-' && lx->d == SQL_MYSQL) {
			/* MySQL: "--" starts a comment only before a space or
			 * control character (else 1--1 is 1 - -1). */
			unsigned char c2 = (unsigned char)alter_peek(lx, 2);

			if (c2 > 0x20 && c2 != 0x7F)
				return 0;
			alter_skip_line(lx);
		} else if (c == '#' && lx->d == SQL_MYSQL) {
			alter_skip_line(lx);
		} else if (c == '/' && c1 == '*') {
			int nest = 1;

			if (lx->d == SQL_MYSQL &&
			    (alter_peek(lx, 2) == '!' ||
			     (alter_peek(lx, 2) == 'M' && alter_peek(lx, 3) == '!'))) {
				/* Its content is executed, not ignored. */
				err_set(lx->err, SHADE_USAGE,
					"the ALTER-BODY may not contain executable "
					"comments (/*! ... */)");
				return -1;
			}
			lx->pos += 2;
			while (nest > 0) {
				if (lx->pos + 1 >= lx->len) {
					err_set(lx->err, SHADE_USAGE,
						"unterminated /* comment in the "
						"ALTER-BODY");
					return -1;
				}
				if (lx->s[lx->pos] == '*' &&
				    lx->s[lx->pos + 1] == '/') {
					nest--;
					lx->pos += 2;
				} else if (lx->d == SQL_PG &&
					   lx->s[lx->pos] == '/' &&
					   lx->s[lx->pos + 1] == '*') {
					/* PostgreSQL nests comments. */
					nest++;
					lx->pos += 2;
				} else {
					lx->pos++;
				}
			}
		} else {
			return 0;
		}
	}
	return 0;
}

/*
 * After a PostgreSQL E'...' string: does a continuation follow (whitespace
 * holding a newline, possibly -- comments, then a quote)? The continuation
 * belongs to the same E'' string, backslash escapes and all. Returns the
 * position just after the continuing quote, or 0.
 */
static size_t
alter_pg_continuation(const struct alter_lexer *lx, size_t pos)
{
	bool newline = false;

	while (pos < lx->len) {
		char c = lx->s[pos];

		if (c == '\n' || c == '\r') {
			newline = true;
			pos++;
		} else if (alter_space(c)) {
			pos++;
		} else if (c == '-' && pos + 1 < lx->len && lx->s[pos + 1] == '-') {
			while (pos < lx->len && lx->s[pos] != '\n' &&
			       lx->s[pos] != '\r')
				pos++;
		} else {
			break;
		}
	}
	if (newline && pos < lx->len && lx->s[pos] == '\'')
		return pos + 1;
	return 0;
}

/*
 * Scan a quoted run whose opening quote q is at lx->pos: a doubled quote
 * stands for itself; with backslash escapes, a backslash hides the next
 * byte. e_string: PostgreSQL E'' (may continue on a following line).
 */
static int
alter_quoted(struct alter_lexer *lx, char q, bool backslash, bool e_string,
	     const char *what)
{
	lx->pos++;
	for (;;) {
		char c;

		if (lx->pos >= lx->len) {
			err_set(lx->err, SHADE_USAGE,
				"unterminated %s in the ALTER-BODY", what);
			return -1;
		}
		c = lx->s[lx->pos];
		if (backslash && c == '\\') {
			lx->pos += 2;
			continue;
		}
		if (c == q) {
			size_t next;

			if (alter_peek(lx, 1) == q) {
				lx->pos += 2;
				continue;
			}
			lx->pos++;
			if (e_string && (next = alter_pg_continuation(lx, lx->pos))) {
				lx->pos = next;
				continue;
			}
			return 0;
		}
		lx->pos++;
	}
}

/*
 * A PostgreSQL dollar quote at lx->pos? ($$ or $tag$, tag a letter or _ then
 * letters, digits, _.) If so, skip to the end of its closing delimiter.
 * Returns 1 if it was one, 0 if not, -1 if unterminated.
 */
static int
alter_dollar(struct alter_lexer *lx)
{
	size_t p = lx->pos + 1, taglen;
	const char *close;

	if (p < lx->len && alter_alpha((unsigned char)lx->s[p])) {
		while (p < lx->len && (alter_alpha((unsigned char)lx->s[p]) ||
				       alter_digit((unsigned char)lx->s[p])))
			p++;
	}
	if (p >= lx->len || lx->s[p] != '$')
		return 0;
	taglen = p + 1 - lx->pos;
	/* The body is a C string: strstr cannot run past it. */
	close = lx->s + p + 1;
	for (;;) {
		close = strchr(close, '$');
		if (close == NULL) {
			err_set(lx->err, SHADE_USAGE,
				"unterminated dollar-quoted string in the "
				"ALTER-BODY");
			return -1;
		}
		if (strncmp(close, lx->s + lx->pos, taglen) == 0)
			break;
		close++;
	}
	lx->pos = (size_t)(close - lx->s) + taglen;
	return 1;
}

/* The next token into *t. Returns 1, 0 at the end, -1 on error. */
static int
alter_next(struct alter_lexer *lx, struct alter_tok *t)
{
	unsigned char c;
	int r;

	if (alter_skip_blank(lx) < 0)
		return -1;
	if (lx->pos >= lx->len)
		return 0;
	t->start = lx->pos;
	c = (unsigned char)lx->s[lx->pos];

	if (lx->d == SQL_PG && (c == 'E' || c == 'e') && alter_peek(lx, 1) == '\'') {
		lx->pos++;
		t->kind = ALTER_TOK_STRING;
		r = alter_quoted(lx, '\'', true, true, "quoted string");
	} else if (c == '\'') {
		t->kind = ALTER_TOK_STRING;
		r = alter_quoted(lx, '\'', lx->d == SQL_MYSQL, false,
				 "quoted string");
	} else if (c == '"' && lx->d == SQL_PG) {
		t->kind = ALTER_TOK_QIDENT;
		r = alter_quoted(lx, '"', false, false, "quoted identifier");
	} else if (c == '"') {
		/* MySQL: a string, unless sql_mode has ANSI_QUOTES. */
		t->kind = ALTER_TOK_STRING;
		r = alter_quoted(lx, '"', true, false, "quoted string");
	} else if (c == '`' && lx->d == SQL_MYSQL) {
		t->kind = ALTER_TOK_QIDENT;
		r = alter_quoted(lx, '`', false, false, "quoted identifier");
	} else if (c == '$' && lx->d == SQL_PG) {
		/* Only at a token's start: inside a word '$' is a letter. */
		t->kind = ALTER_TOK_STRING;
		r = alter_dollar(lx);
		if (r == 0) {
			/* $1, or a lone '$' (a syntax error for the server). */
			t->kind = ALTER_TOK_OTHER;
			lx->pos++;
			while (lx->pos < lx->len &&
			       alter_digit((unsigned char)lx->s[lx->pos]))
				lx->pos++;
		}
		r = r < 0 ? -1 : 0;
	} else if (alter_alpha(c) || (lx->d == SQL_MYSQL && alter_word_byte(c))) {
		t->kind = ALTER_TOK_WORD;
		while (lx->pos < lx->len &&
		       alter_word_byte((unsigned char)lx->s[lx->pos]))
			lx->pos++;
		r = 0;
	} else if (alter_digit(c)) {
		/* PostgreSQL number: digits[.digits][e[+-]digits]. Letters
		 * after it start a new token, as in the server's lexer. */
		t->kind = ALTER_TOK_OTHER;
		while (lx->pos < lx->len &&
		       (alter_digit((unsigned char)lx->s[lx->pos]) ||
			lx->s[lx->pos] == '.'))
			lx->pos++;
		if ((alter_peek(lx, 0) == 'e' || alter_peek(lx, 0) == 'E') &&
		    (alter_digit((unsigned char)alter_peek(lx, 1)) ||
		     ((alter_peek(lx, 1) == '+' || alter_peek(lx, 1) == '-') &&
		      alter_digit((unsigned char)alter_peek(lx, 2))))) {
			lx->pos += 2;
			while (lx->pos < lx->len &&
			       alter_digit((unsigned char)lx->s[lx->pos]))
				lx->pos++;
		}
		r = 0;
	} else {
		t->kind = ALTER_TOK_OTHER;
		lx->pos++;
		r = 0;
	}
	if (r < 0)
		return -1;
	t->end = lx->pos;
	return 1;
}

static bool
alter_kw(const struct alter_lexer *lx, const struct alter_tok *t,
	 const char *kw)
{
	size_t n = strlen(kw);

	if (t->kind != ALTER_TOK_WORD || t->end - t->start != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = lx->s[t->start + i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != kw[i])
			return false;
	}
	return true;
}

/*
 * The identifier a token names, as the server stores it (unquoted; folded on
 * PostgreSQL when bare), or NULL if the token is not an identifier.
 */
static char *
alter_ident(const struct alter_lexer *lx, const struct alter_tok *t)
{
	const char *s = lx->s + t->start;
	size_t n = t->end - t->start;
	struct buf b = {0};

	if (t->kind == ALTER_TOK_WORD) {
		bool all_digits = true;

		for (size_t i = 0; i < n; i++) {
			char c = s[i];

			if (!alter_digit((unsigned char)c))
				all_digits = false;
			if (lx->d == SQL_PG && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			buf_append_char(&b, c);
		}
		if (all_digits) {
			buf_free(&b);
			return NULL;
		}
		return buf_take(&b);
	}
	if (t->kind != ALTER_TOK_QIDENT || n < 3)
		return NULL;
	return ident_unquote(s, &s);
}

static void
alter_add_rename(struct alter_info *a, char *from, char *to)
{
	a->renames = xreallocarray(a->renames, a->nrenames + 1,
				   sizeof(*a->renames));
	a->renames[a->nrenames].from = from;
	a->renames[a->nrenames].to = to;
	a->nrenames++;
}

#define ALTER_NO_TABLE_RENAME                                               \
	"the ALTER-BODY renames the table: shade swaps the tables itself, "  \
	"so renaming the table is not allowed (rename it afterwards)"

/*
 * Read `old TO new` at toks[i..n), which must end the clause. Returns 0 and
 * records the rename, or -1.
 */
static int
alter_rename_to(const struct alter_lexer *lx, const struct alter_tok *toks,
		size_t i, size_t n, struct alter_info *a)
{
	char *from, *to;

	if (n - i != 3 || !alter_kw(lx, &toks[i + 1], "TO"))
		return -1;
	from = alter_ident(lx, &toks[i]);
	to = alter_ident(lx, &toks[i + 2]);
	if (from == NULL || to == NULL) {
		free(from);
		free(to);
		return -1;
	}
	alter_add_rename(a, from, to);
	return 0;
}

/*
 * PostgreSQL: ALTER [COLUMN] c [SET DATA] TYPE t ... USING expr. Record expr
 * (everything after the clause's top-level USING) for column c.
 */
static int
alter_type_using(const struct alter_lexer *lx, const struct alter_tok *toks,
		 size_t n, struct alter_info *a)
{
	size_t i = 1, k;
	int depth = toks[0].depth;
	char *col;

	if (i < n && alter_kw(lx, &toks[i], "COLUMN"))
		i++;
	if (i + 1 >= n)
		return 0;
	k = i + 1;
	if (k + 1 < n && alter_kw(lx, &toks[k], "SET") && alter_kw(lx, &toks[k + 1], "DATA"))
		k += 2;
	if (k >= n || !alter_kw(lx, &toks[k], "TYPE"))
		return 0;
	for (k++; k < n; k++)
		if (toks[k].depth == depth && alter_kw(lx, &toks[k], "USING"))
			break;
	if (k + 1 >= n)
		return 0;
	col = alter_ident(lx, &toks[i]);
	if (col == NULL)
		return 0;
	a->usings = xreallocarray(a->usings, a->nusings + 1, sizeof(*a->usings));
	a->usings[a->nusings].column = col;
	a->usings[a->nusings].expr =
		xstrndup(lx->s + toks[k + 1].start, toks[n - 1].end - toks[k + 1].start);
	a->nusings++;
	return 0;
}

/*
 * DROP [COLUMN] [IF EXISTS] c [RESTRICT | CASCADE]: record c. A DROP of
 * anything else (a constraint, an index, the primary key, a partition...)
 * names no column.
 */
static void
alter_drop(const struct alter_lexer *lx, const struct alter_tok *toks, size_t n,
	   struct alter_info *a)
{
	static const char *const not_columns[] = {
		"CONSTRAINT", "INDEX", "KEY", "PRIMARY", "FOREIGN", "CHECK", "PARTITION",
		"SYSTEM", "PERIOD", "UNIQUE", "FULLTEXT", "SPATIAL",
	};
	size_t i = 1;
	char *col;

	if (i < n && alter_kw(lx, &toks[i], "COLUMN")) {
		i++;
	} else {
		for (size_t k = 0; i < n && k < ARRAY_LEN(not_columns); k++)
			if (alter_kw(lx, &toks[i], not_columns[k]))
				return;
	}
	if (i + 1 < n && alter_kw(lx, &toks[i], "IF") && alter_kw(lx, &toks[i + 1], "EXISTS"))
		i += 2;
	if (i < n && (col = alter_ident(lx, &toks[i])) != NULL)
		strlist_push_take(&a->dropped, col);
}

/*
 * PostgreSQL: ENABLE [REPLICA | ALWAYS] TRIGGER t | ALL | USER, DISABLE
 * TRIGGER t | ALL | USER. Records it (clause is its index) and returns 1;
 * 0 for any other ENABLE/DISABLE (row-level security, a rule).
 */
static int
alter_trigger_state(const struct alter_lexer *lx, const struct alter_tok *toks, size_t n,
		    size_t clause, struct alter_info *a)
{
	struct alter_trigger t = {.clause = clause};
	size_t i = 1;

	if (alter_kw(lx, &toks[0], "DISABLE")) {
		t.state = 'D';
	} else if (i < n && alter_kw(lx, &toks[i], "REPLICA")) {
		t.state = 'R';
		i++;
	} else if (i < n && alter_kw(lx, &toks[i], "ALWAYS")) {
		t.state = 'A';
		i++;
	} else {
		t.state = 'O';
	}
	if (i + 2 != n || !alter_kw(lx, &toks[i], "TRIGGER"))
		return 0;
	if (alter_kw(lx, &toks[i + 1], "ALL"))
		t.all = true;
	else if (!alter_kw(lx, &toks[i + 1], "USER") &&
		 (t.name = alter_ident(lx, &toks[i + 1])) == NULL)
		return 0;
	a->triggers = xreallocarray(a->triggers, a->ntriggers + 1, sizeof(*a->triggers));
	a->triggers[a->ntriggers++] = t;
	return 1;
}

/* Look at one top-level clause: toks[0..n), n > 0. */
static int
alter_clause(const struct alter_lexer *lx, const struct alter_tok *toks,
	     size_t n, struct alter_info *a, struct shade_err *err)
{
	size_t i;

	if (alter_kw(lx, &toks[0], "RENAME")) {
		if (n >= 2 && alter_kw(lx, &toks[1], "TO"))
			goto table_rename;
		if (lx->d == SQL_MYSQL) {
			if (n >= 2 && (alter_kw(lx, &toks[1], "INDEX") ||
				       alter_kw(lx, &toks[1], "KEY")))
				return 0;
			if (n < 2 || !alter_kw(lx, &toks[1], "COLUMN"))
				goto table_rename; /* RENAME [AS] x */
			if (alter_rename_to(lx, toks, 2, n, a) < 0)
				goto unreadable;
			return 0;
		}
		if (n >= 2 && alter_kw(lx, &toks[1], "CONSTRAINT"))
			return 0;
		i = n >= 2 && alter_kw(lx, &toks[1], "COLUMN") ? 2 : 1;
		if (alter_rename_to(lx, toks, i, n, a) < 0)
			goto unreadable;
		return 0;
	}
	if (alter_kw(lx, &toks[0], "DROP")) {
		alter_drop(lx, toks, n, a);
		return 0;
	}
	if (lx->d == SQL_PG &&
	    (alter_kw(lx, &toks[0], "ENABLE") || alter_kw(lx, &toks[0], "DISABLE"))) {
		(void)alter_trigger_state(lx, toks, n, a->clauses.len - 1, a);
		return 0;
	}
	if (lx->d == SQL_PG && alter_kw(lx, &toks[0], "ALTER"))
		return alter_type_using(lx, toks, n, a);
	if (lx->d == SQL_PG && n >= 2 && alter_kw(lx, &toks[0], "SET") &&
	    alter_kw(lx, &toks[1], "SCHEMA")) {
		err_set(err, SHADE_USAGE,
			"the ALTER-BODY moves the table to another schema: shade "
			"swaps the tables in place, so SET SCHEMA is not allowed "
			"(move it afterwards)");
		return -1;
	}
	if (lx->d == SQL_MYSQL && alter_kw(lx, &toks[0], "CHANGE")) {
		char *from, *to;

		i = 1;
		if (i < n && alter_kw(lx, &toks[i], "COLUMN"))
			i++;
		if (i + 1 < n && alter_kw(lx, &toks[i], "IF") &&
		    alter_kw(lx, &toks[i + 1], "EXISTS"))
			i += 2;
		if (i + 2 >= n) /* old, new and a definition */
			goto unreadable;
		from = alter_ident(lx, &toks[i]);
		to = alter_ident(lx, &toks[i + 1]);
		if (from == NULL || to == NULL) {
			free(from);
			free(to);
			goto unreadable;
		}
		if (strcmp(from, to) == 0) {
			free(from);
			free(to);
		} else {
			alter_add_rename(a, from, to);
		}
	}
	return 0;

table_rename:
	err_set(err, SHADE_USAGE, ALTER_NO_TABLE_RENAME);
	return -1;
unreadable:
	/*
	 * A rename shade cannot follow would leave the renamed column out of
	 * the copy: refuse rather than lose its data.
	 */
	err_set(err, SHADE_USAGE, "cannot read a column rename in the "
		"ALTER-BODY: expected %s",
		lx->d == SQL_PG ? "RENAME [COLUMN] old TO new"
		: alter_kw(lx, &toks[0], "CHANGE")
			? "CHANGE [COLUMN] old new definition"
			: "RENAME COLUMN old TO new");
	return -1;
}

int
alter_parse(const char *body, enum sql_dialect d, struct alter_info *out,
	    struct shade_err *err)
{
	struct alter_lexer lx = {.s = body, .len = strlen(body), .d = d, .err = err};
	struct alter_tok *toks = NULL;
	size_t ntoks = 0, cap = 0, first;
	int paren = 0, bracket = 0, r;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!utf8_valid(body, lx.len)) {
		err_set(err, SHADE_USAGE, "the ALTER-BODY is not valid UTF-8");
		goto out;
	}
	for (;;) {
		struct alter_tok t = {0};
		char c;

		t.depth = paren + bracket;
		if ((r = alter_next(&lx, &t)) < 0)
			goto out;
		if (r == 0)
			break;
		c = t.kind == ALTER_TOK_OTHER ? body[t.start] : '\0';
		if (c == ';') {
			err_set(err, SHADE_USAGE,
				"the ALTER-BODY must be one ALTER TABLE's clauses: "
				"found ';' (a second statement?)");
			goto out;
		}
		paren += c == '(' ? 1 : c == ')' ? -1 : 0;
		bracket += c == '[' ? 1 : c == ']' ? -1 : 0;
		if (paren < 0 || bracket < 0) {
			err_set(err, SHADE_USAGE,
				"unbalanced parentheses in the ALTER-BODY");
			goto out;
		}
		if (ntoks == cap) {
			cap = cap ? cap * 2 : 32;
			toks = xreallocarray(toks, cap, sizeof(*toks));
		}
		toks[ntoks++] = t;
	}
	if (paren != 0 || bracket != 0) {
		err_set(err, SHADE_USAGE,
			"unbalanced parentheses in the ALTER-BODY");
		goto out;
	}
	if (ntoks == 0) {
		err_set(err, SHADE_USAGE, "the ALTER-BODY is empty");
		goto out;
	}

	/* Split on commas at depth 0; each clause is toks[first..i). */
	first = 0;
	for (size_t i = 0; i <= ntoks; i++) {
		if (i < ntoks && !(toks[i].kind == ALTER_TOK_OTHER &&
				   toks[i].depth == 0 && body[toks[i].start] == ','))
			continue;
		if (i == first) {
			err_set(err, SHADE_USAGE,
				"empty clause in the ALTER-BODY (a stray ',')");
			goto out;
		}
		strlist_push_take(&out->clauses,
				  xstrndup(body + toks[first].start,
					   toks[i - 1].end - toks[first].start));
		if (alter_clause(&lx, toks + first, i - first, out, err) < 0)
			goto out;
		first = i + 1;
	}
	ret = 0;
out:
	free(toks);
	if (ret < 0)
		alter_info_free(out);
	return ret;
}

/*
 * Is toks[i], given the tokens before it, where the server reads a
 * constraint's name ('c'), an index's name ('i'), or neither (0)?
 */
static char
alter_name_position(const struct alter_lexer *lx, const struct alter_tok *toks, size_t i)
{
	if (i >= 1 && alter_kw(lx, &toks[i], "IF"))
		return 0; /* CONSTRAINT IF EXISTS: the name is further on */
	if (i >= 1 && alter_kw(lx, &toks[i - 1], "CONSTRAINT"))
		return 'c';
	if (i >= 3 && alter_kw(lx, &toks[i - 1], "EXISTS") && alter_kw(lx, &toks[i - 2], "IF") &&
	    alter_kw(lx, &toks[i - 3], "CONSTRAINT"))
		return 'c';
	if (i >= 2 && ((alter_kw(lx, &toks[i - 1], "ON") && alter_kw(lx, &toks[i - 2], "CLUSTER")) ||
		       (alter_kw(lx, &toks[i - 1], "INDEX") && alter_kw(lx, &toks[i - 2], "USING"))))
		return 'i';
	return 0;
}

/* The entry of map that the identifier toks[i] names in position pos, or NULL. */
static const struct alter_name_map *
alter_name_find(const struct alter_lexer *lx, const struct alter_tok *t, char pos,
		const struct alter_name_map *map, size_t n)
{
	const struct alter_name_map *hit = NULL;
	char *name = alter_ident(lx, t);

	for (size_t k = 0; name && k < n && !hit; k++)
		if ((pos == 'i' || map[k].constraint) && strcmp(map[k].from, name) == 0)
			hit = &map[k];
	free(name);
	return hit;
}

int
alter_map_names(const char *body, enum sql_dialect d, const struct alter_name_map *map,
		size_t n, struct buf *out, struct shade_err *err)
{
	struct alter_lexer lx = {.s = body, .len = strlen(body), .d = d, .err = err};
	struct alter_tok toks[4];  /* the token and the three before it */
	size_t ntoks = 0, copied = 0;
	int r;

	for (;;) {
		const struct alter_name_map *hit;
		size_t i;
		char pos;

		if (ntoks == ARRAY_LEN(toks)) {
			memmove(toks, toks + 1, sizeof(toks) - sizeof(toks[0]));
			ntoks--;
		}
		if ((r = alter_next(&lx, &toks[ntoks])) <= 0)
			break;
		i = ntoks++;
		if ((pos = alter_name_position(&lx, toks, i)) == 0 ||
		    (hit = alter_name_find(&lx, &toks[i], pos, map, n)) == NULL)
			continue;
		buf_append_n(out, body + copied, toks[i].start - copied);
		sql_ident(out, d, hit->to);
		copied = toks[i].end;
	}
	if (r < 0)
		return -1;
	buf_append_n(out, body + copied, lx.len - copied);
	return 0;
}

void
alter_info_free(struct alter_info *a)
{
	strlist_free(&a->clauses);
	for (size_t i = 0; i < a->nrenames; i++) {
		free(a->renames[i].from);
		free(a->renames[i].to);
	}
	free(a->renames);
	for (size_t i = 0; i < a->nusings; i++) {
		free(a->usings[i].column);
		free(a->usings[i].expr);
	}
	free(a->usings);
	for (size_t i = 0; i < a->ntriggers; i++)
		free(a->triggers[i].name);
	free(a->triggers);
	strlist_free(&a->dropped);
	memset(a, 0, sizeof(*a));
}

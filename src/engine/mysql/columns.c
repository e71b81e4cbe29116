/*
 * engine/mysql/columns.c - the shadow's columns against T's: which column
 * of T fills which column of the shadow (colmap), whether T's key survives
 * the ALTER as a key shade can follow, and what the rows copied give a new
 * NOT NULL column that has no DEFAULT.
 *
 * The key. The copy walks T's key and skips a key already in the shadow
 * (ON DUPLICATE KEY UPDATE k = k, see copy.c); the apply deletes and
 * re-inserts by the key the log recorded. Both need every row under a key
 * that tells it apart from every other row, as T's did. A type, character
 * set or collation change of a key column may turn two keys into one
 * ('a' and 'A' under a _ci collation, 1.10 and 1.20 as int, two times one
 * microsecond apart as datetime): the plain ALTER refuses that with a
 * duplicate-key error, the copy would skip the second row in silence. So
 * only changes that keep distinct values distinct are allowed (see
 * myeng_columns_key_kept), anything else is refused before the copy. The
 * same rule keeps the apply's join of the shadow's key to the log's from
 * comparing two collations ("Illegal mix of collations").
 *
 * A new column that is NOT NULL and has no DEFAULT. The plain ALTER gives
 * the existing rows the type's implicit default (0, '', the first ENUM
 * value, ...) even in strict mode; an INSERT that leaves the column out
 * fails in shade's strict session ("Field doesn't have a default value").
 * So the copy and the apply write that value themselves, as a constant,
 * and strictness stays as it is for every other column. For date and time
 * types that is the zero date, unless the server's sql_mode says
 * NO_ZERO_DATE, under which the plain ALTER fails. Where shade cannot
 * write exactly what the plain ALTER gives (a type it does not know; a
 * CHECK constraint the value may break, which the plain ALTER checks only
 * when it copies the table) it refuses.
 *
 * The shadow is read with SHOW statements, not information_schema: the dry
 * run's shadow is a TEMPORARY table, which information_schema does not show.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colmap.h"
#include "myeng.h"

/* The columns of SHOW FULL COLUMNS. */
enum { COL_FIELD, COL_TYPE, COL_COLLATION, COL_NULL, COL_KEY, COL_DEFAULT, COL_EXTRA, COL_N };

/* A column type as SHOW FULL COLUMNS and COLUMN_TYPE write it. */
struct myeng_type {
	char base[16];   /* "int", "varchar", ... in lower case; "" if longer */
	long len;        /* the first number in parentheses; -1: none */
	long scale;      /* the second; -1: none */
	bool is_unsigned;
};

static void
myeng_type_parse(const char *type, struct myeng_type *t)
{
	size_t n = strcspn(type, "( ");
	const char *p = type + n;
	char *end;

	memset(t, 0, sizeof(*t));
	t->len = t->scale = -1;
	if (n < sizeof(t->base))
		for (size_t i = 0; i < n; i++)
			t->base[i] = (char)tolower((unsigned char)type[i]);
	if (*p == '(' && p[1] >= '0' && p[1] <= '9') {
		t->len = strtol(p + 1, &end, 10);
		if (*end == ',')
			t->scale = strtol(end + 1, &end, 10);
	}
	t->is_unsigned = strstr(type, " unsigned") != NULL;
}

static bool
myeng_type_is(const struct myeng_type *t, const char *base)
{
	return strcmp(t->base, base) == 0;
}

/* 1 (tinyint) to 5 (bigint) for the integer types, 0 for the others. */
static int
myeng_int_rank(const struct myeng_type *t)
{
	static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint"};

	for (size_t i = 0; i < ARRAY_LEN(ints); i++)
		if (myeng_type_is(t, ints[i]))
			return (int)i + 1;
	return 0;
}

static bool
myeng_is_text(const struct myeng_type *t)
{
	return myeng_type_is(t, "tinytext") || myeng_type_is(t, "text") ||
	       myeng_type_is(t, "mediumtext") || myeng_type_is(t, "longtext");
}

static bool
myeng_same_collation(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/*
 * Does every value of T's key column k become a value of the shadow's
 * column (type, collation) that equals no other converted value, or fail
 * to convert (strict mode)? A collation belongs to one character set, so
 * an equal collation is an equal character set too.
 */
static bool
myeng_columns_key_kept(const struct myeng_key *k, const char *type, const char *collation)
{
	struct myeng_type o, s;
	int ro, rs;

	if (!myeng_same_collation(k->collation, collation))
		return false;
	if (strcasecmp(k->type, type) == 0)
		return true;
	myeng_type_parse(k->type, &o);
	myeng_type_parse(type, &s);
	ro = myeng_int_rank(&o);
	rs = myeng_int_rank(&s);
	if (ro && rs)  /* the display width is no part of the value */
		return o.is_unsigned == s.is_unsigned ? rs >= ro : o.is_unsigned && rs > ro;
	if (myeng_type_is(&o, "varchar"))
		return (myeng_type_is(&s, "varchar") && s.len >= o.len) || myeng_is_text(&s);
	/*
	 * char(n) reads back without its trailing spaces, which a PAD SPACE
	 * collation ignores in comparisons anyway: same strings, same keys.
	 */
	if (myeng_type_is(&o, "char") && collation && !strstr(collation, "nopad"))
		return (myeng_type_is(&s, "char") || myeng_type_is(&s, "varchar")) && s.len >= o.len;
	/* Byte strings: longer, the same bytes (binary(n) pads with zero bytes). */
	if (myeng_type_is(&o, "varbinary") || myeng_type_is(&o, "binary"))
		return myeng_type_is(&s, o.base) && s.len >= o.len;
	if (myeng_type_is(&o, "decimal"))
		return myeng_type_is(&s, "decimal") && s.scale == o.scale && s.len >= o.len &&
		       (o.is_unsigned || !s.is_unsigned);
	/* More fractional digits of the same temporal type. */
	if (myeng_type_is(&o, "datetime") || myeng_type_is(&o, "timestamp") ||
	    myeng_type_is(&o, "time"))
		return myeng_type_is(&s, o.base) && (s.len < 0 ? 0 : s.len) >= (o.len < 0 ? 0 : o.len);
	return false;
}

/* "varchar(10) COLLATE utf8mb4_bin", for messages. */
static char *
myeng_type_text(const char *type, const char *collation)
{
	return collation ? xasprintf("%s COLLATE %s", type, collation) : xstrdup(type);
}

/* The shadow's key must be T's key with its values kept apart (see above). */
static int WARN_UNUSED
myeng_columns_check_key(struct eng *e, const struct myeng_res *cols, struct shade_err *err)
{
	for (size_t i = 0; i < e->npk; i++) {
		const struct myeng_key *k = &e->pk[i];
		char *from, *to;
		size_t r;

		for (r = 0; r < cols->nrows; r++)
			if (strcasecmp(myeng_text(cols, r, COL_FIELD), k->shadow_name) == 0)
				break;
		if (r == cols->nrows)
			die("internal error: key column %s is not on the shadow", k->shadow_name);
		if (myeng_columns_key_kept(k, myeng_text(cols, r, COL_TYPE),
					   myeng_cell(cols, r, COL_COLLATION)))
			continue;
		from = myeng_type_text(k->type, k->collation);
		to = myeng_type_text(myeng_text(cols, r, COL_TYPE), myeng_cell(cols, r, COL_COLLATION));
		err_set(err, SHADE_USAGE,
			"the ALTER changes primary-key column %s of %s from %s to %s, which may "
			"make two keys one: the plain ALTER fails on them, shade's copy would keep "
			"one row; refused (shade allows a wider integer, varchar or decimal, or more "
			"fractional seconds, with the same character set and collation)",
			k->name, e->display, from, to);
		free(from);
		free(to);
		return -1;
	}
	return 0;
}

/*
 * What the plain ALTER gives the existing rows in a new NOT NULL column
 * without a DEFAULT, as a constant of shade's own; NULL: a type whose value
 * shade does not know. *zero_date: the value is the zero date.
 */
static const char *
myeng_implicit_default(const char *type, bool *zero_date)
{
	static const struct {
		const char *base;
		const char *value;
	} values[] = {
		{"tinyint", "0"}, {"smallint", "0"}, {"mediumint", "0"}, {"int", "0"},
		{"bigint", "0"}, {"decimal", "0"}, {"float", "0"}, {"double", "0"},
		{"bit", "0"},
		/* A number, not '0': the string '0' would be the year 2000. */
		{"year", "0"},
		{"char", "''"}, {"varchar", "''"}, {"tinytext", "''"}, {"text", "''"},
		{"mediumtext", "''"}, {"longtext", "''"}, {"binary", "''"}, {"varbinary", "''"},
		{"tinyblob", "''"}, {"blob", "''"}, {"mediumblob", "''"}, {"longblob", "''"},
		{"set", "''"},
		/* A number is an ENUM's index: 1 is its first value. */
		{"enum", "1"},
		{"time", "'00:00:00'"},
		{"date", "'0000-00-00'"},
		{"datetime", "'0000-00-00 00:00:00'"}, {"timestamp", "'0000-00-00 00:00:00'"},
		{"uuid", "'00000000-0000-0000-0000-000000000000'"},
		{"inet4", "'0.0.0.0'"}, {"inet6", "'::'"},
	};
	struct myeng_type t;

	myeng_type_parse(type, &t);
	*zero_date = myeng_type_is(&t, "date") || myeng_type_is(&t, "datetime") ||
		     myeng_type_is(&t, "timestamp");
	for (size_t i = 0; i < ARRAY_LEN(values); i++)
		if (myeng_type_is(&t, values[i].base))
			return values[i].value;
	return NULL;
}

/* Does a CHECK constraint of the shadow (its SHOW CREATE TABLE lines) name col? */
static bool
myeng_columns_checked(const struct strlist *checks, const char *col)
{
	struct buf q = {0};
	bool found = false;

	sql_ident(&q, SQL_MYSQL, col);
	for (size_t i = 0; i < checks->len && !found; i++)
		for (const char *p = checks->items[i]; *p && !found; p++)
			found = strncasecmp(p, buf_str(&q), strlen(buf_str(&q))) == 0;
	buf_free(&q);
	return found;
}

/*
 * A new NOT NULL column without a DEFAULT (row r of the shadow's columns):
 * remember the value the copy and the apply write into it, or refuse.
 */
static int WARN_UNUSED
myeng_columns_fill(struct eng *e, const struct myeng_res *cols, size_t r,
		   const struct strlist *checks, struct shade_err *err)
{
	const char *col = myeng_text(cols, r, COL_FIELD), *type = myeng_text(cols, r, COL_TYPE);
	bool zero_date;
	const char *value = myeng_implicit_default(type, &zero_date);

	if (zero_date && myeng_sql_mode_has(e->sql_mode, "NO_ZERO_DATE")) {
		err_set(err, SHADE_USAGE,
			"new column %s of %s is %s NOT NULL without a DEFAULT: the plain ALTER would "
			"give the existing rows the zero date, which the server's sql_mode forbids "
			"(NO_ZERO_DATE), and fail; refused (give the column a DEFAULT)",
			col, e->display, type);
		return -1;
	}
	if (value == NULL) {
		err_set(err, SHADE_USAGE,
			"new column %s of %s is %s NOT NULL without a DEFAULT: shade does not know "
			"the value the plain ALTER gives the existing rows; refused (give the column "
			"a DEFAULT)",
			col, e->display, type);
		return -1;
	}
	if (myeng_columns_checked(checks, col)) {
		err_set(err, SHADE_USAGE,
			"new column %s of %s is NOT NULL without a DEFAULT and a CHECK constraint "
			"names it: the plain ALTER gives the existing rows %s and checks them only "
			"when it copies the table, so its result depends on the algorithm the server "
			"picks; refused (give the column a DEFAULT)",
			col, e->display, value);
		return -1;
	}
	strlist_push(&e->fill, col);
	strlist_push(&e->fill_values, value);
	return 0;
}

/* SHOW FULL COLUMNS of t. */
static int WARN_UNUSED
myeng_columns_read(struct eng *e, const struct qname *t, struct myeng_res *res,
		   struct shade_err *err)
{
	struct buf b = {0};
	int rc;

	sql_build(&b, SQL_MYSQL, "SHOW FULL COLUMNS FROM %Q", t);
	rc = myeng_query(e, buf_str(&b), NULL, res, err);
	buf_free(&b);
	if (rc == 0 && res->ncols < COL_N) {
		err_set(err, SHADE_FAILED, "SHOW FULL COLUMNS FROM %s: %u columns", t->name,
			res->ncols);
		rc = -1;
	}
	return rc;
}

static bool
myeng_columns_generated(const struct myeng_res *res, size_t r)
{
	const char *extra = myeng_text(res, r, COL_EXTRA);

	return strstr(extra, "VIRTUAL") || strstr(extra, "STORED") || strstr(extra, "PERSISTENT");
}

/*
 * The shadow's columns, the ones a value is written into (not generated),
 * and T's, where a column generated on T may feed a column the ALTER made
 * an ordinary one: it takes T's computed values, as the plain ALTER does.
 */
static void
myeng_columns_names(const struct myeng_res *orig, const struct myeng_res *shadow,
		    struct strlist *orig_cols, struct strlist *cols)
{
	struct strlist gen = {0};

	for (size_t r = 0; r < orig->nrows; r++)
		strlist_push(myeng_columns_generated(orig, r) ? &gen : orig_cols,
			     myeng_text(orig, r, COL_FIELD));
	for (size_t i = 0; i < gen.len; i++)
		strlist_push(orig_cols, gen.items[i]);
	for (size_t r = 0; r < shadow->nrows; r++)
		if (!myeng_columns_generated(shadow, r))
			strlist_push(cols, myeng_text(shadow, r, COL_FIELD));
	strlist_free(&gen);
}

/* The new columns: the AUTO_INCREMENT one, and those the copy must fill. */
static int WARN_UNUSED
myeng_columns_new(struct eng *e, const struct myeng_res *cols, const struct strlist *checks,
		  struct shade_err *err)
{
	for (size_t r = 0; r < cols->nrows; r++) {
		const char *col = myeng_text(cols, r, COL_FIELD);
		bool is_new = colmap_find(&e->dst, col, true) < 0;

		if (strstr(myeng_text(cols, r, COL_EXTRA), "auto_increment")) {
			e->ai_col = xstrdup(col);
			e->ai_new = is_new;
			continue;
		}
		if (!is_new || myeng_columns_generated(cols, r) ||
		    strcmp(myeng_text(cols, r, COL_NULL), "NO") != 0 ||
		    myeng_cell(cols, r, COL_DEFAULT) != NULL)
			continue;
		if (myeng_columns_fill(e, cols, r, checks, err) != 0)
			return -1;
	}
	return 0;
}

/* The shadow's primary-key columns, in key order; -1 if prefixes or gaps. */
static int WARN_UNUSED
myeng_columns_shadow_key(struct eng *e, struct strlist *key, bool *plain, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	int rc = -1;

	*plain = true;
	sql_build(&b, SQL_MYSQL, "SHOW INDEX FROM %Q WHERE Key_name = 'PRIMARY'", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows && res.ncols >= 8; i++) {
		if (strtoul(myeng_text(&res, i, 3), NULL, 10) != i + 1 ||
		    myeng_cell(&res, i, 7) != NULL)
			*plain = false;
		strlist_push(key, myeng_text(&res, i, 4));
	}
	if (key->len != res.nrows)
		*plain = false;
	rc = 0;
out:
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * Does some index of the shadow lead with exactly the columns of cols (in
 * any order, whole columns)? The apply joins the shadow to the log on them.
 */
static int WARN_UNUSED
myeng_columns_key_indexed(struct eng *e, const struct strlist *cols, bool *found,
			  struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	size_t lead = 0;
	int rc = -1;

	*found = false;
	sql_build(&b, SQL_MYSQL, "SHOW INDEX FROM %Q", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows && res.ncols >= 8 && !*found; i++) {
		unsigned long seq = strtoul(myeng_text(&res, i, 3), NULL, 10);

		if (seq == 1)
			lead = 0;
		if (seq == lead + 1 && myeng_cell(&res, i, 7) == NULL &&
		    colmap_find(cols, myeng_text(&res, i, 4), true) >= 0)
			lead++;
		*found = lead == cols->len;
	}
	rc = 0;
out:
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * The ALTER changes the primary key (key: the shadow's, in order). The log
 * and the copy go on following T's key (capture.c, copy.c): T enforces it
 * at every instant, so the shadow holds at most one row per old key value,
 * and the apply's delete-and-re-copy by it stays exact. So each of its
 * columns must stay in the new table, NOT NULL (the shadow has it as its
 * primary key during the copy, shadow.c), and an index of the new table
 * must lead with them, for the apply to find its rows once the new key
 * replaces it. shadow: SHOW FULL COLUMNS of the shadow.
 */
static int WARN_UNUSED
myeng_columns_key_change(struct eng *e, const struct myeng_res *shadow,
			 const struct strlist *key, struct shade_err *err)
{
	bool indexed;

	if (key->len == 0 || e->new_pk_def == NULL) {
		err_set(err, SHADE_USAGE,
			"the ALTER leaves %s without a primary key, which shade needs to follow "
			"changes; refused",
			e->display);
		return -1;
	}
	for (size_t i = 0; i < e->npk; i++) {
		long at = colmap_find(&e->src, e->pkcols.items[i], true);
		size_t r;

		for (r = 0; at >= 0 && r < shadow->nrows; r++)
			if (strcasecmp(myeng_text(shadow, r, COL_FIELD), e->dst.items[at]) == 0)
				break;
		if (at < 0 || r == shadow->nrows) {
			err_set(err, SHADE_USAGE,
				"the ALTER changes the primary key of %s and drops its column %s: "
				"shade follows changes by the old key, so the new table must keep "
				"its columns; refused (keep %s, under a UNIQUE key if need be)",
				e->display, e->pkcols.items[i], e->pkcols.items[i]);
			return -1;
		}
		if (strcmp(myeng_text(shadow, r, COL_NULL), "NO") != 0) {
			err_set(err, SHADE_USAGE,
				"the ALTER changes the primary key of %s and makes old key column %s "
				"nullable: shade follows changes by the old key and needs it NOT "
				"NULL; refused",
				e->display, e->dst.items[at]);
			return -1;
		}
		strlist_push(&e->shadow_pk, e->dst.items[at]);
		e->pk[i].shadow_name = xstrdup(e->dst.items[at]);
	}
	if (myeng_columns_key_indexed(e, &e->shadow_pk, &indexed, err) != 0)
		return -1;
	if (!indexed) {
		err_set(err, SHADE_USAGE,
			"the ALTER changes the primary key of %s, and no index of the new table "
			"leads with the old key's columns, by which shade applies changes; refused "
			"(keep them leading the new key, or keep a UNIQUE or plain index on them)",
			e->display);
		return -1;
	}
	e->pk_changed = true;
	return 0;
}

/*
 * After the ALTER: the column mapping (same name, or renamed by the ALTER;
 * generated columns compute themselves), the check that the primary key is
 * still the same columns with their values kept apart, and the new columns
 * (see the top of the file). checks: the shadow's SHOW CREATE TABLE lines
 * that hold a CHECK constraint.
 */
int
myeng_columns_map(struct eng *e, const struct alter_info *alter, const struct strlist *checks,
		  struct shade_err *err)
{
	struct myeng_res orig = {0}, shadow = {0};
	struct strlist orig_cols = {0}, cols = {0}, key = {0};
	bool plain;
	int rc = -1;

	if (myeng_columns_read(e, &e->orig, &orig, err) != 0 ||
	    myeng_columns_read(e, &e->shadow, &shadow, err) != 0)
		goto out;
	myeng_columns_names(&orig, &shadow, &orig_cols, &cols);
	colmap_build(&orig_cols, &cols, alter, true, &e->src, &e->dst);

	/* The shadow's key must be T's key, column for column, no prefixes. */
	if (myeng_columns_shadow_key(e, &key, &plain, err) != 0)
		goto out;
	if (plain && colmap_same_key(&e->src, &e->dst, &e->pkcols, &key, true)) {
		for (size_t i = 0; i < key.len; i++) {
			const char *col = e->dst.items[colmap_find(&e->dst, key.items[i], true)];

			strlist_push(&e->shadow_pk, col);
			e->pk[i].shadow_name = xstrdup(col);
		}
	} else if (myeng_columns_key_change(e, &shadow, &key, err) != 0) {
		goto out;
	}
	if (myeng_columns_check_key(e, &shadow, err) != 0 ||
	    myeng_columns_new(e, &shadow, checks, err) != 0)
		goto out;
	rc = 0;
out:
	myeng_res_free(&orig);
	myeng_res_free(&shadow);
	strlist_free(&orig_cols);
	strlist_free(&cols);
	strlist_free(&key);
	return rc;
}

/*
 * "INSERT INTO shadow (dst..., fill...) SELECT src..., values...": the head
 * of the copy's and the apply's statements, T's columns qualified with T's
 * name when qualify is set.
 */
void
myeng_columns_insert(const struct eng *e, struct buf *b, bool qualify)
{
	sql_build(b, SQL_MYSQL, "INSERT INTO %Q (%L", &e->shadow, &e->dst);
	for (size_t i = 0; i < e->fill.len; i++)
		sql_build(b, SQL_MYSQL, ", %I", e->fill.items[i]);
	buf_append(b, ") SELECT ");
	for (size_t i = 0; i < e->src.len; i++) {
		if (qualify)
			sql_build(b, SQL_MYSQL, "%s%Q.%I", i ? ", " : "", &e->orig, e->src.items[i]);
		else
			sql_build(b, SQL_MYSQL, "%s%I", i ? ", " : "", e->src.items[i]);
	}
	for (size_t i = 0; i < e->fill_values.len; i++)
		sql_build(b, SQL_MYSQL, ", %s", e->fill_values.items[i]);
}

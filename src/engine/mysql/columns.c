/*
 * engine/mysql/columns.c - the shadow's columns against T's: which column
 * of T fills which column of the shadow (colmap), and whether T's key
 * survives the ALTER as a key shade can follow.
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
			"the ALTER changes primary-key column %s of %s from %s to %s: two keys could "
			"become one, which shade cannot promise to catch as the plain ALTER does; "
			"refused (shade allows a wider integer, varchar, decimal or fractional "
			"seconds with the same character set and collation)",
			k->name, e->display, from, to);
		free(from);
		free(to);
		return -1;
	}
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
 * After the ALTER: the column mapping (same name, or renamed by the ALTER;
 * generated columns compute themselves), the check that the primary key is
 * still the same columns with their values kept apart, and the shadow's
 * AUTO_INCREMENT column.
 */
int
myeng_columns_map(struct eng *e, const struct alter_info *alter, struct shade_err *err)
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
	if (!plain || !colmap_same_key(&e->src, &e->dst, &e->pkcols, &key, true)) {
		err_set(err, SHADE_USAGE,
			"the ALTER changes the primary key of %s, which shade cannot do online yet",
			e->display);
		goto out;
	}
	for (size_t i = 0; i < key.len; i++) {
		const char *col = e->dst.items[colmap_find(&e->dst, key.items[i], true)];

		strlist_push(&e->shadow_pk, col);
		e->pk[i].shadow_name = xstrdup(col);
	}
	if (myeng_columns_check_key(e, &shadow, err) != 0)
		goto out;
	for (size_t r = 0; r < shadow.nrows; r++)
		if (e->ai_col == NULL && strstr(myeng_text(&shadow, r, COL_EXTRA), "auto_increment"))
			e->ai_col = xstrdup(myeng_text(&shadow, r, COL_FIELD));
	rc = 0;
out:
	myeng_res_free(&orig);
	myeng_res_free(&shadow);
	strlist_free(&orig_cols);
	strlist_free(&cols);
	strlist_free(&key);
	return rc;
}

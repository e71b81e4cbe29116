/*
 * test_colmap.c - the column mapping both engines use: which original
 * column fills each shadow column, after renames, drops and re-adds, and
 * whether the primary key is still the same columns.
 */
#include <stdlib.h>
#include <string.h>

#include "colmap.h"
#include "unit.h"

/* Split "a b c" into l (names with no spaces). */
static void
words(struct strlist *l, const char *s)
{
	char *copy = xstrdup(s), *save = NULL;

	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		strlist_push(l, w);
	free(copy);
}

/* Shadow columns, with what the mapping should give: "dst<src ..." pairs. */
static const struct {
	enum sql_dialect d;
	const char *orig;
	const char *alter;
	const char *shadow;
	const char *want;
} cases[] = {
	{SQL_PG, "id v note", "ADD COLUMN flag int", "id v note flag", "id<id v<v note<note"},
	{SQL_PG, "id v note", "DROP COLUMN note", "id v", "id<id v<v"},
	{SQL_PG, "id note", "RENAME COLUMN note TO memo", "id memo", "id<id memo<note"},
	{SQL_PG, "id v note", "DROP COLUMN note, ADD COLUMN note text DEFAULT 'x'",
	 "id v note", "id<id v<v"},
	{SQL_PG, "id note", "ADD COLUMN IF NOT EXISTS note text", "id note", "id<id note<note"},
	{SQL_MYSQL, "id Note", "DROP note, ADD note int", "id Note", "id<id"},
	{SQL_MYSQL, "id note", "RENAME COLUMN note TO memo, ADD COLUMN note int",
	 "id memo note", "id<id memo<note"},
	{SQL_MYSQL, "id a b", "CHANGE a b int, CHANGE b a int", "id b a", "id<id b<a a<b"},
	{SQL_MYSQL, "ID v", "MODIFY v int", "id v", "id<ID v<v"},
	{SQL_MYSQL, "id v", "CHANGE v v bigint", "id v", "id<id v<v"},
};

static void
test_mapping(void)
{
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct strlist orig = {0}, shadow = {0}, src = {0}, dst = {0};
		struct shade_err err = {0};
		struct alter_info a;
		struct buf got = {0};

		UNIT_CASE("%s", cases[i].alter);
		words(&orig, cases[i].orig);
		words(&shadow, cases[i].shadow);
		CHECK(alter_parse(cases[i].alter, cases[i].d, &a, &err) == 0);
		colmap_build(&orig, &shadow, &a, cases[i].d == SQL_MYSQL, &src, &dst);
		for (size_t k = 0; k < dst.len; k++)
			buf_printf(&got, "%s%s<%s", k ? " " : "", dst.items[k], src.items[k]);
		CHECK_STREQ(buf_str(&got), cases[i].want);
		buf_free(&got);
		alter_info_free(&a);
		err_clear(&err);
		strlist_free(&orig);
		strlist_free(&shadow);
		strlist_free(&src);
		strlist_free(&dst);
	}
	UNIT_CASE("%s", "");
}

static void
test_same_key(void)
{
	static const struct {
		const char *src, *dst, *orig_pk, *shadow_pk;
		bool fold, same;
	} keys[] = {
		{"id v", "id v", "id", "id", false, true},
		{"id v", "key v", "id", "key", false, true},   /* renamed key column */
		{"id v", "id v", "id", "v", false, false},     /* another column */
		{"a b v", "a b v", "a b", "b a", false, false}, /* another order */
		{"a b v", "a b v", "a b", "a", false, false},   /* fewer columns */
		{"id", "id", "id", "n", false, false},          /* a new column */
		{"ID v", "id v", "ID", "Id", true, true},
	};

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		struct strlist src = {0}, dst = {0}, opk = {0}, spk = {0};

		UNIT_CASE("%s -> %s", keys[i].orig_pk, keys[i].shadow_pk);
		words(&src, keys[i].src);
		words(&dst, keys[i].dst);
		words(&opk, keys[i].orig_pk);
		words(&spk, keys[i].shadow_pk);
		CHECK(colmap_same_key(&src, &dst, &opk, &spk, keys[i].fold) == keys[i].same);
		strlist_free(&src);
		strlist_free(&dst);
		strlist_free(&opk);
		strlist_free(&spk);
	}
	UNIT_CASE("%s", "");
}

int
main(void)
{
	UNIT_RUN(test_mapping);
	UNIT_RUN(test_same_key);
	return unit_done();
}

/*
 * colmap.c - the column mapping from the original table to the shadow,
 * the same for every engine (see colmap.h).
 */
#include "colmap.h"

#include <string.h>
#include <strings.h>

static bool
colmap_eq(const char *a, const char *b, bool fold_case)
{
	return fold_case ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

long
colmap_find(const struct strlist *l, const char *name, bool fold_case)
{
	for (size_t i = 0; i < l->len; i++)
		if (colmap_eq(l->items[i], name, fold_case))
			return (long)i;
	return -1;
}

void
colmap_build(const struct strlist *orig_cols, const struct strlist *shadow_cols,
	     const struct alter_info *alter, bool fold_case, struct strlist *src,
	     struct strlist *dst)
{
	for (size_t i = 0; i < shadow_cols->len; i++) {
		const char *col = shadow_cols->items[i];
		const char *from = NULL;
		bool renamed_away = false;
		long at;

		for (size_t r = 0; r < alter->nrenames; r++) {
			if (colmap_eq(alter->renames[r].to, col, fold_case))
				from = alter->renames[r].from;
			else if (colmap_eq(alter->renames[r].from, col, fold_case))
				renamed_away = true;
		}
		/* Dropped and added back under its name: a new column. */
		if (colmap_find(&alter->dropped, col, fold_case) >= 0)
			renamed_away = true;
		if (from == NULL && !renamed_away)
			from = col;
		if (from == NULL || (at = colmap_find(orig_cols, from, fold_case)) < 0)
			continue;  /* a new column: its default fills it */
		strlist_push(src, orig_cols->items[at]);
		strlist_push(dst, col);
	}
}

bool
colmap_same_key(const struct strlist *src, const struct strlist *dst,
		const struct strlist *orig_pk, const struct strlist *shadow_pk,
		bool fold_case)
{
	if (orig_pk->len != shadow_pk->len)
		return false;
	for (size_t i = 0; i < shadow_pk->len; i++) {
		long at = colmap_find(dst, shadow_pk->items[i], fold_case);

		if (at < 0 || !colmap_eq(src->items[at], orig_pk->items[i], fold_case))
			return false;
	}
	return true;
}

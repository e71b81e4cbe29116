/*
 * colmap.h - which column of the original table fills which column of the
 * shadow, and whether the shadow's primary key is still the original's.
 *
 * By name (colmap_build), for a server with no stable column identity
 * (MySQL): a shadow column is filled from the original column of the same
 * name, or from the column the ALTER renamed to it; a column the ALTER
 * renamed away or dropped is not refilled by a new column that takes its
 * name; a column with no source is new (its default fills it). PostgreSQL
 * maps by attribute number instead (src/engine/pg/columns.c), which needs
 * no reading of the ALTER. Both engines check the key here
 * (colmap_same_key). Names compare exactly (PostgreSQL) or without regard
 * to case (MySQL, whose column names are case-insensitive).
 */
#ifndef SHADE_COLMAP_H
#define SHADE_COLMAP_H

#include <stdbool.h>

#include "alter.h"
#include "util.h"

/*
 * Fill src and dst (appended, in shadow order): the copy reads src[i] from
 * the original into dst[i] of the shadow. src takes the original's spelling.
 */
void colmap_build(const struct strlist *orig_cols, const struct strlist *shadow_cols,
		  const struct alter_info *alter, bool fold_case, struct strlist *src,
		  struct strlist *dst);

/* Index of name in l, exactly or without regard to case; -1 if absent. */
long colmap_find(const struct strlist *l, const char *name, bool fold_case);

/*
 * Is the shadow's primary key (shadow_pk, in key order) the original's
 * (orig_pk), column for column through the mapping? A key column that is
 * new, renamed from a non-key column, or in another position is a
 * different key.
 */
bool colmap_same_key(const struct strlist *src, const struct strlist *dst,
		     const struct strlist *orig_pk, const struct strlist *shadow_pk,
		     bool fold_case);

#endif

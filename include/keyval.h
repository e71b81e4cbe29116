/*
 * keyval.h - a primary-key value as text, one string per key column: the
 * copy cursor the migration keeps and the engines bind as parameters.
 */
#ifndef SHADE_KEYVAL_H
#define SHADE_KEYVAL_H

#include <stddef.h>

struct keyval {
	size_t n;
	char **vals;
};

void keyval_free(struct keyval *k);
/* dst becomes a copy of src (dst's old values are freed). */
void keyval_copy(struct keyval *dst, const struct keyval *src);

#endif

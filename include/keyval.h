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
/*
 * As one string, for the state an interrupted run leaves in the database
 * (malloc'd), and back: decode replaces *out and returns 0, or -1 for text
 * encode did not write.
 */
char *keyval_encode(const struct keyval *k);
int keyval_decode(const char *text, struct keyval *out);

#endif

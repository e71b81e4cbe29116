/*
 * keyval.c - key values as text (see keyval.h).
 */
#include "keyval.h"

#include <stdlib.h>

#include "util.h"

void
keyval_free(struct keyval *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->vals[i]);
	free(k->vals);
	k->vals = NULL;
	k->n = 0;
}

void
keyval_copy(struct keyval *dst, const struct keyval *src)
{
	keyval_free(dst);
	dst->n = src->n;
	dst->vals = xcalloc(src->n, sizeof(char *));
	for (size_t i = 0; i < src->n; i++)
		dst->vals[i] = xstrdup(src->vals[i]);
}

/*
 * keyval.c - key values as text (see keyval.h).
 */
#include "keyval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * "<length>:<bytes>" per value, one after another: a value may hold any
 * byte but NUL, so no separator could be safe.
 */
char *
keyval_encode(const struct keyval *k)
{
	struct buf b = {0};

	for (size_t i = 0; i < k->n; i++) {
		buf_printf(&b, "%zu:", strlen(k->vals[i]));
		buf_append(&b, k->vals[i]);
	}
	return buf_take(&b);
}

int
keyval_decode(const char *text, struct keyval *out)
{
	const char *p = text;
	struct keyval k = {0};

	while (*p != '\0') {
		char *end;
		unsigned long long len;

		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		len = strtoull(p, &end, 10);
		if (errno != 0 || *end != ':' || len > strlen(end + 1))
			goto bad;
		k.vals = xreallocarray(k.vals, k.n + 1, sizeof(char *));
		k.vals[k.n] = xmalloc((size_t)len + 1);
		memcpy(k.vals[k.n], end + 1, (size_t)len);
		k.vals[k.n][len] = '\0';
		k.n++;
		p = end + 1 + len;
	}
	keyval_free(out);
	*out = k;
	return 0;
bad:
	keyval_free(&k);
	return -1;
}

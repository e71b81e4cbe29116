/*
 * engine/mysql/keys.c - the primary key in SQL, for the chunk copy and
 * its messages: the key columns as the copy reads them (HEX() for binary
 * strings), their order, the range comparisons of a chunk and the key
 * values bound to them (typed as their columns), and a key for messages.
 */
#include <errno.h>
#include <stdlib.h>

#include "myeng.h"

/* A key value, typed as its column: integers bind as integers. */
static int WARN_UNUSED
myeng_key_param(struct myeng_params *p, const struct myeng_key *k, const char *val,
		struct shade_err *err)
{
	char *end;

	errno = 0;
	switch (k->kind) {
	case KIND_SIGNED:
		myeng_param_push(p, KIND_SIGNED, NULL, strtoll(val, &end, 10));
		break;
	case KIND_UNSIGNED:
		myeng_param_push(p, KIND_UNSIGNED, NULL, 0);
		p->v[p->n - 1].unum = strtoull(val, &end, 10);
		break;
	default:
		myeng_param_push(p, k->kind, val, 0);
		return 0;
	}
	if (errno != 0 || end == val || *end != '\0') {
		err_set(err, SHADE_FAILED, "internal error: key value \"%s\" of %s is not an integer",
			val, k->name);
		return -1;
	}
	return 0;
}

/* The key columns as the copy reads them: HEX() for binary strings. */
void
myeng_key_exprs(const struct eng *e, struct buf *b)
{
	for (size_t i = 0; i < e->npk; i++) {
		if (i > 0)
			buf_append(b, ", ");
		if (e->pk[i].kind == KIND_HEX)
			sql_build(b, SQL_MYSQL, "HEX(%I)", e->pk[i].name);
		else
			sql_build(b, SQL_MYSQL, "%I", e->pk[i].name);
	}
}

static const char *
myeng_key_placeholder(const struct myeng_key *k)
{
	return k->kind == KIND_HEX ? "UNHEX(?)" : "?";
}

void
myeng_key_order(const struct eng *e, struct buf *b, bool desc)
{
	for (size_t i = 0; i < e->npk; i++)
		sql_build(b, SQL_MYSQL, "%s%I%s", i ? ", " : "", e->pk[i].name, desc ? " DESC" : "");
}

/*
 * key > after (greater) or key <= upper, over the key columns. A composite
 * key is spelled out, (a > ?) OR (a = ? AND b > ?), which the range
 * optimizer turns into ranges on the primary key, with a leading bound on
 * the first column for good measure. myeng_key_bind_cmp binds in this order.
 */
void
myeng_key_cmp(const struct eng *e, struct buf *b, bool greater)
{
	size_t n = e->npk;

	if (n > 1)
		sql_build(b, SQL_MYSQL, "%I %s %s AND (", e->pk[0].name, greater ? ">=" : "<=",
			  myeng_key_placeholder(&e->pk[0]));
	for (size_t i = 0; i < n; i++) {
		const char *op = greater ? ">" : i + 1 < n ? "<" : "<=";

		if (i > 0)
			buf_append(b, " OR ");
		if (n > 1)
			buf_append(b, "(");
		for (size_t j = 0; j < i; j++)
			sql_build(b, SQL_MYSQL, "%I = %s AND ", e->pk[j].name,
				  myeng_key_placeholder(&e->pk[j]));
		sql_build(b, SQL_MYSQL, "%I %s %s", e->pk[i].name, op,
			  myeng_key_placeholder(&e->pk[i]));
		if (n > 1)
			buf_append(b, ")");
	}
	if (n > 1)
		buf_append(b, ")");
}

int WARN_UNUSED
myeng_key_bind_cmp(const struct eng *e, struct myeng_params *p, const struct keyval *k,
		   struct shade_err *err)
{
	size_t n = e->npk;

	if (k->n != n)
		die("internal error: a key of %zu values for %zu columns", k->n, n);
	if (n > 1 && myeng_key_param(p, &e->pk[0], k->vals[0], err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j <= i; j++)
			if (myeng_key_param(p, &e->pk[j], k->vals[j], err) != 0)
				return -1;
	return 0;
}

void
myeng_key_from_res(const struct myeng_res *res, size_t row, struct keyval *k)
{
	keyval_free(k);
	k->n = res->ncols;
	k->vals = xcalloc(k->n, sizeof(char *));
	for (size_t i = 0; i < k->n; i++)
		k->vals[i] = xstrdup(myeng_text(res, row, (unsigned)i));
}

/* "id=42" or "a=1, b=x": a key for messages (binary keys in hex). */
char *
myeng_key_text(const struct eng *e, const struct keyval *k)
{
	struct buf b = {0};

	for (size_t i = 0; i < e->npk && i < k->n; i++)
		buf_printf(&b, "%s%s=%s%s", i ? ", " : "", e->pk[i].name,
			   e->pk[i].kind == KIND_HEX ? "0x" : "", k->vals[i]);
	return buf_take(&b);
}

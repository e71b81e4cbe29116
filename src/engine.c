/*
 * engine.c - the small value types shared by the engines and the migration
 * (key values, the table summary). The operations live in src/engine/.
 */
#include "engine.h"

#include <stdlib.h>

extern const struct engine engine_pg;
extern const struct engine engine_mysql;

/* The engines, by the kind of DSN that selects them. */
static const struct engine *const engines[] = {
	[DSN_PG] = &engine_pg,
	[DSN_MYSQL] = &engine_mysql,
};

const struct engine *
engine_for(enum dsn_kind kind)
{
	if ((size_t)kind >= ARRAY_LEN(engines) || engines[kind] == NULL)
		die("internal error: no engine for DSN kind %d", (int)kind);
	return engines[kind];
}

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

void
table_summary_free(struct table_summary *t)
{
	free(t->display);
	free(t->old_display);
	free(t->rows_note);
	free(t->leftovers);
	*t = (struct table_summary){0};
}

void
dry_run_report_free(struct dry_run_report *r)
{
	strlist_free(&r->plan);
	free(r->sample_note);
	*r = (struct dry_run_report){0};
}

/*
 * engine.c - the small value types shared by the engines and the migration
 * (key values, the table summary, the dry-run report). The engines live in
 * src/engine/, one folder each; src/engine/engines.c picks one.
 */
#include "engine.h"

#include <stdlib.h>

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

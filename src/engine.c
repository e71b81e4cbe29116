/*
 * engine.c - freeing what the engines hand the migration: the table summary
 * and the dry-run report. The engines themselves live in src/engine/, one
 * folder each; src/engine/engines.c picks one.
 */
#include "engine.h"

#include <stdlib.h>

void
engine_summary_free(struct table_summary *t)
{
	free(t->display);
	free(t->old_display);
	free(t->rows_note);
	free(t->leftovers);
	*t = (struct table_summary){0};
}

void
engine_report_free(struct dry_run_report *r)
{
	strlist_free(&r->plan);
	free(r->sample_note);
	free(r->log_note);
	free(r->instant_why);
	strlist_free(&r->warnings);
	*r = (struct dry_run_report){0};
}

void
run_state_free(struct run_state *s)
{
	free(s->version);
	free(s->alter);
	free(s->phase);
	keyval_free(&s->cursor);
	keyval_free(&s->max);
	*s = (struct run_state){0};
}

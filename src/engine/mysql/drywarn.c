/*
 * engine/mysql/drywarn.c - the dry run's warnings about T that only the
 * server can tell: transactions that would keep the swap waiting, foreign
 * keys both ways (carried over under the swap's lock), and T's own
 * triggers.
 */
#include "myeng.h"

/* Who holds a metadata lock on T, in a transaction older than the lock timeout. */
static int WARN_UNUSED
myeng_drywarn_holders(struct eng *e, struct strlist *out, struct shade_err *err)
{
	struct buf list = {0};
	bool probably = false;
	/* The swap's RENAME waits for every holder, readers too. */
	int n = myeng_blockers_list(e, MYENG_CONFLICTS_WRITE, e->opts->lock_timeout, &list,
				    &probably, err);

	if (n > 0)
		strlist_push_take(out, xasprintf("long-running transactions %shold %s and would "
						 "keep the swap waiting (each attempt waits "
						 "%.0f s, then retries): %s",
						 probably ? "(probably) " : "", e->display,
						 e->opts->lock_timeout < 1 ? 1 : e->opts->lock_timeout,
						 buf_str(&list)));
	buf_free(&list);
	return n < 0 ? -1 : 0;
}

/*
 * Foreign keys both ways (fk.c carries them over): the swap's lock grows
 * with them, and the operator should know before the run.
 */
static void
myeng_drywarn_fks(struct eng *e, struct strlist *out)
{
	struct buf names = {0};

	for (size_t i = 0; i < e->nfk_out; i++)
		buf_printf(&names, "%s%s -> %s.%s", i ? ", " : "", e->fk_out[i].name,
			   e->fk_out[i].parent.schema, e->fk_out[i].parent.name);
	if (e->nfk_out > 0)
		strlist_push_take(out, xasprintf("%s has %zu foreign key%s to other tables (%s): the "
						 "new table gets them under the swap's lock, which "
						 "also holds the referenced tables for reading",
						 e->display, e->nfk_out, e->nfk_out == 1 ? "" : "s",
						 buf_str(&names)));
	buf_reset(&names);
	for (size_t i = 0; i < e->nfk_in; i++)
		buf_printf(&names, "%s%s.%s (%s)", i ? ", " : "", e->fk_in[i].child.schema,
			   e->fk_in[i].child.name, e->fk_in[i].name);
	if (e->nfk_in > 0)
		strlist_push_take(out, xasprintf("%zu foreign key%s of other tables reference %s (%s): "
						 "each is re-pointed at the new table under the "
						 "swap's lock (two metadata-only ALTERs each), "
						 "and the swap waits for open transactions "
						 "that wrote those tables",
						 e->nfk_in, e->nfk_in == 1 ? "" : "s", e->display,
						 buf_str(&names)));
	buf_free(&names);
}

int
myeng_drywarn(struct eng *e, struct strlist *out, struct shade_err *err)
{
	struct strlist *plan = e->plan;
	struct buf names = {0};
	int rc;

	e->plan = NULL;  /* questions to the server, no part of a run */
	rc = myeng_drywarn_holders(e, out, err);
	myeng_drywarn_fks(e, out);
	e->plan = plan;
	if (rc != 0 || e->nutrg == 0)
		return rc;
	for (size_t i = 0; i < e->nutrg; i++)
		buf_printf(&names, "%s%s", i ? ", " : "", e->utrg[i].name);
	strlist_push_take(out, xasprintf("%s has %zu trigger%s of its own (%s): they go on firing "
					 "for the application's writes, the copy and the apply do "
					 "not fire them, the new table gets them at the swap",
					 e->display, e->nutrg, e->nutrg == 1 ? "" : "s",
					 buf_str(&names)));
	buf_free(&names);
	return 0;
}

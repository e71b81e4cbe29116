/*
 * engine/mysql/drywarn.c - the dry run's warnings about T that only the
 * server can tell: transactions that would keep the swap waiting, and T's
 * own triggers. (T's foreign keys are refused by preflight, before any.)
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

int
myeng_drywarn(struct eng *e, struct strlist *out, struct shade_err *err)
{
	struct strlist *plan = e->plan;
	struct buf names = {0};
	int rc;

	e->plan = NULL;  /* questions to the server, no part of a run */
	rc = myeng_drywarn_holders(e, out, err);
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

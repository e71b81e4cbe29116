/*
 * engine/pg/capture.c - the change log and the triggers that fill it.
 *
 * Capture starts before the first row is copied: an AFTER row trigger on T
 * appends the key of every row written to _T_log, in the writer's own
 * transaction, so a write and its log row commit together. The apply
 * (apply.c) consumes the log.
 */
#include "pgsql.h"

#include <string.h>

/*
 * The capture's statements: pre (the log, the apply's key table, the trigger
 * function: nothing that locks T) and trg (the triggers on T).
 */
int
pgsql_capture_statements(struct eng *e, struct strlist *pre, struct strlist *trg,
			 struct shade_err *err)
{
	struct buf b = {0}, body = {0}, oldk = {0}, newk = {0};
	int rc = -1;

	/* The log: the key columns with T's types, plus an id. */
	sql_build(&b, SQL_PG, "CREATE TABLE IF NOT EXISTS %Q AS SELECT %L FROM %Q WITH NO DATA",
		  &e->log, &e->pk, &e->orig);
	strlist_push_take(pre, buf_take(&b));
	sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD COLUMN IF NOT EXISTS %I bigserial PRIMARY KEY",
		  &e->log, "_shade_id");
	strlist_push_take(pre, buf_take(&b));
	sql_build(&b, SQL_PG,
		  "CREATE TEMP TABLE IF NOT EXISTS %I ON COMMIT DELETE ROWS AS SELECT %L FROM %Q WITH NO DATA",
		  e->keys.name, &e->pk, &e->log);
	strlist_push_take(pre, buf_take(&b));

	for (size_t i = 0; i < e->pk.len; i++) {
		sql_build(&oldk, SQL_PG, "%sOLD.%I", i ? ", " : "", e->pk.items[i]);
		sql_build(&newk, SQL_PG, "%sNEW.%I", i ? ", " : "", e->pk.items[i]);
	}
	/*
	 * The trigger function. An UPDATE logs the old key, and the new one
	 * too when the key changed, so both rows get re-read. A TRUNCATE
	 * would bypass the row trigger and be lost: it is refused.
	 */
	sql_build(&body, SQL_PG,
		  "BEGIN\n"
		  "  IF TG_OP = 'TRUNCATE' THEN\n"
		  "    RAISE EXCEPTION 'shade is changing the schema of this table: TRUNCATE is refused until it ends';\n"
		  "  END IF;\n"
		  "  IF TG_OP <> 'INSERT' THEN\n"
		  "    INSERT INTO %Q (%L) VALUES (%s);\n"
		  "  END IF;\n"
		  "  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ROW(%s) IS DISTINCT FROM ROW(%s)) THEN\n"
		  "    INSERT INTO %Q (%L) VALUES (%s);\n"
		  "  END IF;\n"
		  "  RETURN NULL;\n"
		  "END",
		  &e->log, &e->pk, buf_str(&oldk), buf_str(&newk), buf_str(&oldk), &e->log,
		  &e->pk, buf_str(&newk));
	if (strstr(buf_str(&body), FN_TAG) != NULL) {
		err_set(err, SHADE_USAGE, "a name of %s contains %s, which shade cannot quote here",
			e->orig.name, FN_TAG);
		goto out;
	}
	sql_build(&b, SQL_PG,
		  "CREATE OR REPLACE FUNCTION %Q() RETURNS trigger LANGUAGE plpgsql AS " FN_TAG "%s" FN_TAG,
		  &e->fn, buf_str(&body));
	strlist_push_take(pre, buf_take(&b));

	sql_build(&b, SQL_PG,
		  "CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %Q FOR EACH ROW EXECUTE FUNCTION %Q()",
		  e->trg, &e->orig, &e->fn);
	strlist_push_take(trg, buf_take(&b));
	sql_build(&b, SQL_PG,
		  "CREATE TRIGGER %I BEFORE TRUNCATE ON %Q FOR EACH STATEMENT EXECUTE FUNCTION %Q()",
		  e->trg_trunc, &e->orig, &e->fn);
	strlist_push_take(trg, buf_take(&b));
	rc = 0;
out:
	buf_free(&b);
	buf_free(&body);
	buf_free(&oldk);
	buf_free(&newk);
	return rc;
}

int
pgsql_capture_create(struct eng *e, struct shade_err *err)
{
	struct strlist pre = {0}, trg = {0};
	int rc = -1;

	if (pgsql_capture_statements(e, &pre, &trg, err) != 0)
		goto out;
	/* Nothing here locks T; safe to repeat when the triggers are retried. */
	if (pgsql_exec_run_list(e, &pre, err) != 0)
		goto out;
	/*
	 * The triggers take a SHARE ROW EXCLUSIVE lock on T, which waits for
	 * running writers and makes new ones wait behind it: bounded by
	 * lock_timeout, retried by the caller.
	 */
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_exec_run_list(e, &trg, err) != 0 || pgsql_state_create(e, err) != 0 ||
	    pgsql_exec_run(e, "COMMIT", err) != 0) {
		pgsql_exec_reset_txn(e);
		/* A lock timeout: who holds T? (blockers.c; nothing otherwise) */
		pgsql_blockers_append(e, PGSQL_CONFLICTS_SHARE_ROW_EXCLUSIVE, err);
		goto out;
	}
	e->capture_created = true;
	rc = 0;
out:
	strlist_free(&pre);
	strlist_free(&trg);
	return rc;
}

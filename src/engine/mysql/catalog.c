/*
 * engine/mysql/catalog.c - preflight: resolve the table as the server
 * would, read its primary key and how the key's values travel, read its
 * foreign keys both ways (fk.c), refuse leftovers of an earlier run
 * (or find one to take up), name the helper objects (the sentry among
 * them), read T's own triggers. Changes nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colmap.h"
#include "myeng.h"

static const char *const trg_suffix[3] = {"_shade_ins", "_shade_upd", "_shade_del"};

static void
myeng_name_in_db(struct qname *q, const char *db, char *name)
{
	q->schema = xstrdup(db);
	q->name = name;
}

/* How a key column of this DATA_TYPE travels; -1: it cannot be a copy key. */
static int
myeng_kind_of(const char *type, const char *coltype)
{
	static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint",
					   "year"};
	static const char *const texts[] = {"char", "varchar", "date", "datetime", "timestamp",
					    "time", "uuid", "inet4", "inet6"};

	for (size_t i = 0; i < ARRAY_LEN(ints); i++)
		if (strcasecmp(type, ints[i]) == 0)
			return strstr(coltype, "unsigned") ? KIND_UNSIGNED : KIND_SIGNED;
	if (strcasecmp(type, "decimal") == 0 || strcasecmp(type, "numeric") == 0)
		return KIND_DECIMAL;
	for (size_t i = 0; i < ARRAY_LEN(texts); i++)
		if (strcasecmp(type, texts[i]) == 0)
			return KIND_TEXT;
	if (strcasecmp(type, "binary") == 0 || strcasecmp(type, "varbinary") == 0)
		return KIND_HEX;
	return -1;
}

/*
 * A TIMESTAMP key column's values travel as text in the session's time
 * zone, which is the server's (the plain ALTER's conversions follow it,
 * see conn.c). Where that zone has daylight saving time, two instants of
 * an autumn night read as one text, and a chunk bound could slip by an
 * hour: such a key is refused. A fixed offset, or one that is UTC in both
 * January and July, has no such night.
 */
static int WARN_UNUSED
myeng_check_timestamp_key(struct eng *e, const char *col, struct shade_err *err)
{
	struct myeng_res res = {0};
	const char *zone;
	bool fixed;
	int rc = -1;

	if (myeng_query(e,
			"SELECT @@SESSION.time_zone, UNIX_TIMESTAMP('2024-01-01 00:00:00') = 1704067200"
			"  AND UNIX_TIMESTAMP('2024-07-01 00:00:00') = 1719792000",
			NULL, &res, err) != 0)
		goto out;
	zone = myeng_text(&res, 0, 0);
	fixed = (zone[0] == '+' || zone[0] == '-') &&
		strspn(zone + 1, "0123456789:") == strlen(zone + 1);
	if (fixed || strcmp(myeng_text(&res, 0, 1), "1") == 0) {
		rc = 0;
		goto out;
	}
	err_set(err, SHADE_USAGE,
		"the primary key of %s has TIMESTAMP column %s, and the server's time zone (%s) "
		"may have daylight saving time: shade reads key values as local times, two of "
		"which can be the same text in an autumn night; refused (set the server's "
		"time_zone to UTC or a fixed offset such as '+01:00')",
		e->display, col, zone);
out:
	myeng_res_free(&res);
	return rc;
}

/* Read T's primary key: names, types and how the values travel. */
static int WARN_UNUSED
myeng_read_pk(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	myeng_param_str(&p, e->orig.name);
	if (myeng_query(e,
			"SELECT s.COLUMN_NAME, s.SUB_PART, c.DATA_TYPE, c.COLUMN_TYPE,"
			"  c.CHARACTER_SET_NAME, c.COLLATION_NAME"
			" FROM information_schema.STATISTICS s"
			" JOIN information_schema.COLUMNS c"
			"   ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME"
			"  AND c.COLUMN_NAME = s.COLUMN_NAME"
			" WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND BINARY s.TABLE_NAME = ?"
			"   AND s.INDEX_NAME = 'PRIMARY'"
			" ORDER BY s.SEQ_IN_INDEX",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows == 0) {
		err_set(err, SHADE_USAGE,
			"%s has no primary key: shade needs one to copy in chunks and to apply changes",
			e->display);
		goto out;
	}
	e->npk = res.nrows;
	e->pk = xcalloc(e->npk, sizeof(*e->pk));
	for (size_t i = 0; i < res.nrows; i++) {
		struct myeng_key *k = &e->pk[i];
		int kind = myeng_kind_of(myeng_text(&res, i, 2), myeng_text(&res, i, 3));

		k->name = xstrdup(myeng_text(&res, i, 0));
		k->type = xstrdup(myeng_text(&res, i, 3));
		if (myeng_cell(&res, i, 4))
			k->charset = xstrdup(myeng_cell(&res, i, 4));
		if (myeng_cell(&res, i, 5))
			k->collation = xstrdup(myeng_cell(&res, i, 5));
		strlist_push(&e->pkcols, k->name);
		if (myeng_cell(&res, i, 1) != NULL) {
			err_set(err, SHADE_USAGE,
				"the primary key of %s uses a prefix of column %s, which shade cannot walk in order",
				e->display, k->name);
			goto out;
		}
		if (kind < 0) {
			err_set(err, SHADE_USAGE,
				"the primary key of %s has column %s of type %s, which shade cannot use as a copy key",
				e->display, k->name, k->type);
			goto out;
		}
		k->kind = (enum myeng_kind)kind;
		if (strcasecmp(myeng_text(&res, i, 2), "timestamp") == 0 &&
		    myeng_check_timestamp_key(e, k->name, err) != 0)
			goto out;
	}
	/* The log's id column must not clash with a key column. */
	e->seq = xstrdup("_shade_seq");
	while (colmap_find(&e->pkcols, e->seq, true) >= 0) {
		char *longer = xasprintf("%s_", e->seq);

		free(e->seq);
		e->seq = longer;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * Leftovers of an earlier run: shade's tables or triggers. A run that was
 * interrupted before its swap is taken up instead (*resumable): its state
 * and its shadow are there and no old table is (the swap's RENAME makes
 * the shadow T, so a shadow means no swap happened: see state.c); state.c
 * checks the rest. Anything else is refused.
 */
static int WARN_UNUSED
myeng_check_leftovers(struct eng *e, bool *resumable, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	const char *db = e->orig.schema;
	bool state = false, shadow = false;
	int rc = -1;

	myeng_param_str(&p, db);
	myeng_param_str(&p, e->shadow.name);
	myeng_param_str(&p, e->log.name);
	myeng_param_str(&p, e->old.name);
	myeng_param_str(&p, e->sentry.name);
	myeng_param_str(&p, e->state.name);
	myeng_param_str(&p, e->old.name);
	myeng_param_str(&p, e->state.name);
	/* The old table first: it blocks even a resume; then the state. */
	if (myeng_query(e,
			"SELECT TABLE_NAME FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?, ?, ?, ?)"
			" ORDER BY BINARY TABLE_NAME = ? DESC, BINARY TABLE_NAME = ? DESC, TABLE_NAME",
			&p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		state |= strcmp(myeng_text(&res, i, 0), e->state.name) == 0;
		shadow |= strcmp(myeng_text(&res, i, 0), e->shadow.name) == 0;
	}
	if (res.nrows > 0) {
		const char *name = myeng_text(&res, 0, 0);

		if (strcmp(name, e->old.name) == 0) {
			err_set(err, SHADE_USAGE,
				"%s.%s exists (the old table an earlier run kept): drop or rename it first",
				db, name);
		} else if (state && shadow) {
			/* An interrupted run: the migration may take it up. */
			*resumable = true;
			rc = 0;
		} else {
			err_set(err, SHADE_USAGE,
				"leftovers of an earlier run that cannot be resumed: %s.%s exists; if no "
				"shade is running on %s, remove them with shade --cleanup --dsn ... "
				"--table %s and run again",
				db, name, e->display, e->display);
		}
		goto out;
	}
	myeng_res_free(&res);
	myeng_params_free(&p);
	myeng_param_str(&p, db);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		myeng_param_str(&p, e->trg[i].name);
	if (myeng_query(e,
			"SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS"
			" WHERE TRIGGER_SCHEMA = ? AND BINARY TRIGGER_NAME IN (?, ?, ?)",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows > 0) {
		err_set(err, SHADE_USAGE,
			"leftovers of an earlier run that cannot be resumed: trigger %s.%s exists on %s; "
			"if no shade is running on %s, remove them with shade --cleanup --dsn ... "
			"--table %s and run again",
			db, myeng_text(&res, 0, 0), myeng_text(&res, 0, 1), e->display, e->display);
		goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * The swap's sentry: a name that sorts after T byte by byte (see
 * myeng_swap), T_shade_cut when that fits the 64-character limit, else a
 * prefix of T followed by "~" and a hash. NULL if T allows neither.
 */
static char *
myeng_sentry_name(const char *t)
{
	static const char suffix[] = "_shade_cut";
	size_t chars = sql_ident_len(SQL_MYSQL, t, strlen(t)), keep = 0, at = 0;
	struct buf b = {0};

	if (chars + strlen(suffix) <= sql_ident_max(SQL_MYSQL))
		return xasprintf("%s%s", t, suffix);
	/* prefix + "~" + 8 hex + "_cut": the prefix may keep 51 characters. */
	chars = 0;
	for (const char *p = t; *p && chars <= 51; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue;
		if ((unsigned char)*p < '~') {
			keep = chars;
			at = (size_t)(p - t);
		}
		chars++;
	}
	if (keep == 0 && (unsigned char)t[0] >= '~')
		return NULL;
	buf_append_n(&b, t, at);
	buf_printf(&b, "~%08x_cut", sql_name_hash(t));
	return buf_take(&b);
}

/*
 * The temporary names T's own triggers get on the shadow at the swap must
 * be free; but on the shadow of a run being taken up (killed in its swap),
 * where the resume drops them (state.c).
 */
static int WARN_UNUSED
myeng_check_trigger_names(struct eng *e, bool resumable, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct buf q = {0};
	int rc = -1;

	if (e->nutrg == 0)
		return 0;
	myeng_param_str(&p, e->orig.schema);
	for (size_t i = 0; i < e->nutrg; i++)
		myeng_param_str(&p, e->utrg[i].tmp);
	buf_append(&q, "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS"
		       " WHERE TRIGGER_SCHEMA = ? AND BINARY TRIGGER_NAME IN (");
	myeng_marks(&q, e->nutrg);
	buf_append(&q, ")");
	if (myeng_query(e, buf_str(&q), &p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		if (resumable && strcmp(myeng_text(&res, i, 1), e->shadow.name) == 0)
			continue;
		err_set(err, SHADE_USAGE,
			"leftovers of an earlier run: trigger %s.%s exists; if no shade is running on %s, "
			"remove it (DROP TRIGGER %s.%s) and run again",
			e->orig.schema, myeng_text(&res, i, 0), e->display, e->orig.schema,
			myeng_text(&res, i, 0));
		goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	buf_free(&q);
	return rc;
}

/*
 * T's own triggers, in the order they fire, to carry over at the swap (the
 * RENAME would leave them on the old table). The temporary names they have
 * on the shadow must be free.
 */
static int WARN_UNUSED
myeng_read_triggers(struct eng *e, bool resumable, struct shade_err *err)
{
	static const char *const timings[] = {"BEFORE", "AFTER"};
	static const char *const events[] = {"INSERT", "UPDATE", "DELETE"};
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	if (myeng_query(e,
			"SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT,"
			"  DEFINER, SQL_MODE"
			" FROM information_schema.TRIGGERS"
			" WHERE EVENT_OBJECT_SCHEMA = ? AND BINARY EVENT_OBJECT_TABLE = ?"
			" ORDER BY EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
			&p, &res, err) != 0)
		goto out;
	e->nutrg = res.nrows;
	e->utrg = xcalloc(res.nrows, sizeof(*e->utrg));
	for (size_t i = 0; i < res.nrows; i++) {
		struct myeng_trigger *t = &e->utrg[i];
		const char *definer = myeng_text(&res, i, 4);
		const char *at = strrchr(definer, '@');
		struct buf b = {0};
		bool ok_timing = false, ok_event = false;

		t->name = xstrdup(myeng_text(&res, i, 0));
		t->tmp = sql_derived_name(SQL_MYSQL, t->name, "_shade_tmp");
		t->timing = xstrdup(myeng_text(&res, i, 1));
		t->event = xstrdup(myeng_text(&res, i, 2));
		t->body = xstrdup(myeng_text(&res, i, 3));
		t->sql_mode = xstrdup(myeng_text(&res, i, 5));
		for (size_t j = 0; j < ARRAY_LEN(timings); j++)
			ok_timing |= strcmp(t->timing, timings[j]) == 0;
		for (size_t j = 0; j < ARRAY_LEN(events); j++)
			ok_event |= strcmp(t->event, events[j]) == 0;
		if (!ok_timing || !ok_event || at == NULL || at == definer || at[1] == '\0') {
			err_set(err, SHADE_USAGE,
				"cannot read trigger %s of %s (%s %s, definer %s) to carry it over",
				t->name, e->display, t->timing, t->event, definer);
			goto out;
		}
		{
			char *user = xstrndup(definer, (size_t)(at - definer));

			sql_build(&b, SQL_MYSQL, "%I@%I", user, at + 1);
			free(user);
		}
		t->definer = buf_take(&b);
	}
	rc = myeng_check_trigger_names(e, resumable, err);
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* T's database: the one named with the table, the DSN's, or the session's. */
static int WARN_UNUSED
myeng_resolve_db(struct eng *e, const struct qname *table, struct shade_err *err)
{
	struct myeng_res res = {0};
	const char *db = table->schema ? table->schema : e->dsn.database;
	int rc = -1;

	if (db == NULL) {
		if (myeng_query(e, "SELECT DATABASE()", NULL, &res, err) != 0)
			goto out;
		db = myeng_cell(&res, 0, 0);
		if (db == NULL) {
			err_set(err, SHADE_USAGE,
				"no database: name one in the DSN (mysql://user@host/DB) or write --table DB.TABLE");
			goto out;
		}
	}
	e->orig.schema = xstrdup(db);
	rc = 0;
out:
	myeng_res_free(&res);
	return rc;
}

/*
 * Find T in its database as the server would (case rules differ) and check
 * it is an InnoDB base table; fill what the summary says of its size.
 */
static int WARN_UNUSED
myeng_resolve_table(struct eng *e, const struct qname *table, struct table_summary *out,
		    struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	const char *db = e->orig.schema;
	size_t pick;
	int rc = -1;

	myeng_param_str(&p, db);
	myeng_param_str(&p, table->name);
	if (myeng_query(e,
			"SELECT TABLE_NAME, TABLE_TYPE, ENGINE, IFNULL(TABLE_ROWS, 0),"
			"  IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0)"
			" FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			&p, &res, err) != 0)
		goto out;
	for (pick = 0; pick < res.nrows; pick++)
		if (strcmp(myeng_text(&res, pick, 0), table->name) == 0)
			break;
	if (pick == res.nrows && e->lctn != 0 && res.nrows == 1)
		pick = 0;
	if (pick == res.nrows) {
		err_set(err, SHADE_USAGE, "unknown table %s.%s", db, table->name);
		goto out;
	}
	e->orig.name = xstrdup(myeng_text(&res, pick, 0));
	e->display = xasprintf("%s.%s", db, e->orig.name);
	out->display = xstrdup(e->display);
	out->est_rows = strtoll(myeng_text(&res, pick, 3), NULL, 10);
	out->bytes = strtoll(myeng_text(&res, pick, 4), NULL, 10);
	if (strcmp(myeng_text(&res, pick, 1), "BASE TABLE") != 0) {
		err_set(err, SHADE_USAGE, "%s is not a base table (%s)", e->display,
			myeng_text(&res, pick, 1));
		goto out;
	}
	if (strcasecmp(myeng_text(&res, pick, 2), "InnoDB") != 0) {
		err_set(err, SHADE_USAGE,
			"%s uses the %s storage engine: shade needs InnoDB (transactions, row locks)",
			e->display, myeng_text(&res, pick, 2));
		goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* The names of the objects shade creates next to T. */
static int WARN_UNUSED
myeng_name_objects(struct eng *e, struct table_summary *out, struct shade_err *err)
{
	const char *db = e->orig.schema;

	myeng_name_in_db(&e->shadow, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_new"));
	myeng_name_in_db(&e->log, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_log"));
	myeng_name_in_db(&e->old, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_old"));
	myeng_name_in_db(&e->state, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_state"));
	out->old_display = xasprintf("%s.%s", db, e->old.name);
	out->leftovers = xasprintf("the change log %s.%s and the state table %s.%s", db, e->log.name,
				   db, e->state.name);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		myeng_name_in_db(&e->trg[i], db,
				 sql_derived_name(SQL_MYSQL, e->orig.name, trg_suffix[i]));
	e->sentry.name = myeng_sentry_name(e->orig.name);
	if (e->sentry.name == NULL) {
		err_set(err, SHADE_USAGE, "the name of %s is too long and too exotic for shade's swap",
			e->display);
		return -1;
	}
	e->sentry.schema = xstrdup(db);
	return 0;
}

/*
 * INSERT ... SELECT under READ COMMITTED can only be logged row by row;
 * with statement-based logging the server would refuse every chunk.
 */
static int WARN_UNUSED
myeng_check_binlog(struct eng *e, struct shade_err *err)
{
	struct myeng_res res = {0};
	int rc = -1;

	if (myeng_query(e, "SELECT @@log_bin, @@binlog_format", NULL, &res, err) != 0)
		goto out;
	if (strcmp(myeng_text(&res, 0, 0), "1") == 0 &&
	    strcasecmp(myeng_text(&res, 0, 1), "STATEMENT") == 0 &&
	    myeng_run(e, "SET SESSION binlog_format = 'ROW'", err) != 0) {
		err_prefix(err, SHADE_USAGE,
			   "binlog_format is STATEMENT and shade may not switch its session to ROW "
			   "(grant it the privilege or set binlog_format=ROW or MIXED): ");
		goto out;
	}
	rc = 0;
out:
	myeng_res_free(&res);
	return rc;
}

/* Resolve the table and name shade's objects for it: all --cleanup needs. */
int
myeng_catalog_identify(struct eng *e, const struct qname *table, struct table_summary *out,
		       struct shade_err *err)
{
	if (myeng_resolve_db(e, table, err) != 0 || myeng_resolve_table(e, table, out, err) != 0)
		return -1;
	return myeng_name_objects(e, out, err);
}

int
myeng_catalog_preflight(struct eng *e, const struct qname *table,
			const struct alter_info *alter, struct table_summary *out,
			struct shade_err *err)
{
	int rc = -1;

	(void)alter;
	if (myeng_resolve_db(e, table, err) != 0 || myeng_resolve_table(e, table, out, err) != 0 ||
	    myeng_name_objects(e, out, err) != 0)
		goto out;

	if (myeng_read_pk(e, err) != 0)
		goto out;
	out->npk = e->npk;

	if (myeng_fk_load(e, err) != 0)
		goto out;
	if (myeng_runlock_take(e, err) != 0)
		goto out;
	if (myeng_check_leftovers(e, &out->resumable, err) != 0)
		goto out;

	if (myeng_read_triggers(e, out->resumable, err) != 0)
		goto out;

	if (myeng_check_binlog(e, err) != 0)
		goto out;
	rc = 0;
out:
	return rc;
}

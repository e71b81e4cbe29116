/*
 * engine/mysql/shadow.c - the shadow table _T_new: created LIKE T, altered
 * with the ALTER-BODY and checked (storage engine, foreign keys: none of
 * its own, and T's must fit, see fk.c; the columns and the key in
 * columns.c); its secondary indexes set aside
 * during the copy and built once after it.
 *
 * The shadow is read with SHOW statements, not information_schema: the dry
 * run's shadow is a TEMPORARY table, which information_schema does not show.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysqld_error.h>

#include "ident.h"
#include "myeng.h"

/* The index name of a SHOW CREATE TABLE line "KEY `name` (...)". */
static char *
myeng_shadow_index_name(const char *def)
{
	const char *p = strchr(def, '`');

	return p ? ident_unquote(p, &p) : NULL;
}

/* What SHOW CREATE TABLE says of the shadow. */
struct myeng_shadow_def {
	char *engine;             /* its storage engine */
	bool has_fk;              /* it has a foreign key */
	struct strlist indexes;   /* its secondary indexes as the server writes
				     them ("KEY `a` (`b`)", "UNIQUE KEY ...") */
	struct strlist checks;    /* the lines that hold a CHECK constraint */
	char *primary;            /* "PRIMARY KEY (...)", or NULL */
	long long auto_increment; /* its AUTO_INCREMENT table option (1: none) */
};

static void
myeng_shadow_def_free(struct myeng_shadow_def *d)
{
	free(d->engine);
	strlist_free(&d->indexes);
	strlist_free(&d->checks);
	free(d->primary);
}

static int WARN_UNUSED
myeng_read_shadow(struct eng *e, struct myeng_shadow_def *def, struct shade_err *err)
{
	static const char *const kinds[] = {"  KEY ", "  UNIQUE KEY ", "  FULLTEXT KEY ",
					    "  SPATIAL KEY "};
	struct myeng_res res = {0};
	struct buf b = {0};
	char *create = NULL, *line, *save = NULL;
	int rc = -1;

	sql_build(&b, SQL_MYSQL, "SHOW CREATE TABLE %Q", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	if (res.nrows != 1 || res.ncols < 2) {
		err_set(err, SHADE_FAILED, "SHOW CREATE TABLE %s returned no definition",
			e->shadow.name);
		goto out;
	}
	create = xstrdup(myeng_text(&res, 0, 1));
	for (line = strtok_r(create, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		const char *eng = strstr(line, " ENGINE=");

		if (line[0] == ')' && eng && def->engine == NULL) {
			eng += strlen(" ENGINE=");
			def->engine = xstrndup(eng, strcspn(eng, " "));
			/* The server writes the counter right after the engine. */
			eng += strcspn(eng, " ");
			if (strncmp(eng, " AUTO_INCREMENT=", 16) == 0)
				def->auto_increment = strtoll(eng + 16, NULL, 10);
			continue;
		}
		if (strncmp(line, "  CONSTRAINT ", 13) == 0 && strstr(line, " FOREIGN KEY "))
			def->has_fk = true;
		if (strstr(line, " CHECK ("))
			strlist_push(&def->checks, line);
		if (strncmp(line, "  PRIMARY KEY ", 14) == 0 && def->primary == NULL)
			def->primary = xstrndup(line + 2, len - 2 - (line[len - 1] == ','));
		for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
			if (strncmp(line, kinds[i], strlen(kinds[i])) != 0)
				continue;
			if (len > 0 && line[len - 1] == ',')
				line[--len] = '\0';
			strlist_push(&def->indexes, line + 2);
			break;
		}
	}
	rc = 0;
out:
	free(create);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * Set the secondary indexes aside: keep their definitions as the server
 * writes them and drop them, to build each once after the copy. Besides
 * speed, this leaves the primary key as the shadow's only unique key while
 * chunks are copied, which ON DUPLICATE KEY UPDATE needs (a second unique
 * key would make it update some other row instead of failing). An
 * AUTO_INCREMENT column must lead some index: it gets a plain temporary one
 * while the copy runs. A new primary key is set aside the same way: during
 * the copy the shadow's primary key is T's, the key the copy walks and the
 * log records, so that ON DUPLICATE KEY UPDATE still meets only a row an
 * apply wrote under the same key; the new one replaces it with the other
 * deferred indexes, after a release, where a duplicate is T's own.
 */
static int WARN_UNUSED
myeng_defer_indexes(struct eng *e, const struct strlist *indexes, struct shade_err *err)
{
	struct buf b = {0}, stmt = {0};
	int rc = -1;

	if (indexes->len == 0 && !e->pk_changed)
		return 0;
	if (e->pk_changed)
		sql_build(&b, SQL_MYSQL, "DROP PRIMARY KEY, ADD PRIMARY KEY (%L)%s", &e->shadow_pk,
			  indexes->len ? ", " : "");
	for (size_t i = 0; i < indexes->len; i++) {
		char *name = myeng_shadow_index_name(indexes->items[i]);

		if (name == NULL) {
			err_set(err, SHADE_FAILED, "cannot read an index definition of %s: %s",
				e->shadow.name, indexes->items[i]);
			goto out;
		}
		sql_build(&b, SQL_MYSQL, "%sDROP INDEX %I", i ? ", " : "", name);
		free(name);
		strlist_push(&e->deferred, indexes->items[i]);
	}
	if (e->ai_col && strcasecmp(e->ai_col, e->shadow_pk.items[0]) != 0) {
		e->ai_key = sql_derived_name(SQL_MYSQL, e->ai_col, "_shade_ai");
		sql_build(&b, SQL_MYSQL, ", ADD KEY %I (%I)", e->ai_key, e->ai_col);
	}
	sql_build(&stmt, SQL_MYSQL, "ALTER TABLE %Q %s", &e->shadow, buf_str(&b));
	rc = myeng_run_buf(e, &stmt, err);
out:
	buf_free(&b);
	buf_free(&stmt);
	return rc;
}

/*
 * shade finds the column renames in the ALTER-BODY itself (alter_parse)
 * and reads "..." as a string and \ as an escape. Where the server's
 * sql_mode, under which the ALTER runs (myeng_shadow_alter), reads them
 * otherwise (ANSI_QUOTES: "a" is a name; NO_BACKSLASH_ESCAPES), a rename
 * could go unseen and the renamed column be taken for a new one: such text
 * is refused.
 */
static int WARN_UNUSED
myeng_shadow_readable(const struct eng *e, const char *alter_body, struct shade_err *err)
{
	const char *what = NULL;

	if (myeng_sql_mode_has(e->server_sql_mode, "ANSI_QUOTES") && strchr(alter_body, '"'))
		what = "double quotes";
	else if (myeng_sql_mode_has(e->server_sql_mode, "NO_BACKSLASH_ESCAPES") &&
		 strchr(alter_body, '\\'))
		what = "backslashes";
	if (what == NULL)
		return 0;
	err_set(err, SHADE_USAGE,
		"the server's sql_mode (%s) reads the ALTER's %s otherwise than shade, which "
		"looks for renamed columns in it; refused (write names in backticks, strings "
		"without backslashes)",
		e->server_sql_mode, what);
	return -1;
}

/*
 * The ALTER-BODY on table (the shadow; an instant attempt on T with
 * suffix ", ALGORITHM=INSTANT"), under the sql_mode the server gives a
 * session, which the plain ALTER would run under: the mode says how its
 * text reads (PIPES_AS_CONCAT, REAL_AS_FLOAT, ORACLE, ...) and which
 * defaults are valid. The shadow is empty: no row is converted under it.
 * Then shade's mode again.
 */
int
myeng_shadow_alter_on(struct eng *e, const struct qname *table, const char *alter_body,
		      const char *suffix, struct shade_err *err)
{
	struct myeng_params server = {0}, ours = {0};
	struct shade_err ignored = {0};
	struct buf b = {0};
	int rc = -1;

	myeng_param_str(&server, e->server_sql_mode);
	myeng_param_str(&ours, e->sql_mode);
	/* The ALTER-BODY is SQL by definition: it goes in as the user wrote it. */
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q %A%A", table, alter_body, suffix);
	if (myeng_query(e, "SET SESSION sql_mode = ?", &server, NULL, err) == 0 &&
	    myeng_run_buf(e, &b, err) == 0)
		rc = 0;
	if (myeng_query(e, "SET SESSION sql_mode = ?", &ours, NULL, rc ? &ignored : err) != 0)
		rc = -1;
	err_clear(&ignored);
	myeng_params_free(&server);
	myeng_params_free(&ours);
	buf_free(&b);
	return rc;
}

static int WARN_UNUSED
myeng_shadow_alter(struct eng *e, const char *alter_body, struct shade_err *err)
{
	return myeng_shadow_alter_on(e, &e->shadow, alter_body, "", err);
}

/*
 * Create the shadow (a TEMPORARY table for the dry run: only this session
 * sees it, and it goes with the session), apply the ALTER-BODY, check it,
 * map the columns, set the indexes aside, build the copy's statements. On
 * failure the shadow is dropped again.
 */
int WARN_UNUSED
myeng_shadow_build(struct eng *e, bool temporary, const char *alter_body,
		   const struct alter_info *alter, struct shade_err *err)
{
	struct myeng_shadow_def def = {.auto_increment = 1};
	struct buf b = {0};
	int rc = -1;

	if (myeng_shadow_readable(e, alter_body, err) != 0)
		return -1;
	/* LIKE keeps columns, indexes, AUTO_INCREMENT, options and partitions. */
	sql_build(&b, SQL_MYSQL, "CREATE %sTABLE %Q LIKE %Q", temporary ? "TEMPORARY " : "",
		  &e->shadow, &e->orig);
	if (myeng_run_buf(e, &b, err) != 0) {
		if (temporary && !err->cancelled && e->resumed)
			err_prefix(err, SHADE_USAGE,
				   "the interrupted run on %s cannot be resumed: taking it up needs a "
				   "temporary copy of it, which the server refuses (remove what is left "
				   "with shade --cleanup --dsn ... --table %s): ",
				   e->display, e->display);
		else if (temporary && !err->cancelled)
			err_prefix(err, SHADE_USAGE,
				   "--dry-run checks the ALTER on a temporary copy of %s, which the server "
				   "refuses (nothing was changed): ",
				   e->display);
		goto out;
	}
	e->shadow_created = !temporary;
	e->shadow_temporary = temporary;

	if (myeng_shadow_alter(e, alter_body, err) != 0) {
		if (err->cancelled)
			goto fail;
		err_prefix(err, SHADE_USAGE, "the ALTER fails on a copy of %s: ", e->display);
		if (e->nfk_out > 0 && err->server_errno == ER_CANT_DROP_FIELD_OR_KEY)
			err_append(err, " (the copy has no foreign keys: shade refuses an ALTER "
					"that drops one)");
		err->retryable = false;
		goto fail;
	}
	if (myeng_read_shadow(e, &def, err) != 0)
		goto fail;
	if (def.engine == NULL || strcasecmp(def.engine, "InnoDB") != 0) {
		err_set(err, SHADE_USAGE,
			"the ALTER makes %s use the %s storage engine: shade needs InnoDB",
			e->display, def.engine ? def.engine : "?");
		goto fail;
	}
	/*
	 * LIKE copies no foreign key (fk.c adds T's at the swap): one on the
	 * shadow is the ALTER's. Refused: the plain ALTER checks every row
	 * against it, which shade could only do under the swap's lock.
	 */
	if (def.has_fk) {
		err_set(err, SHADE_USAGE,
			"the ALTER adds a foreign key: shade would have to check every row against "
			"it while the table is locked; refused (add it with a plain ALTER)");
		goto fail;
	}
	e->ai_start = def.auto_increment;
	free(e->new_pk_def);
	e->new_pk_def = def.primary;
	def.primary = NULL;
	if (myeng_columns_map(e, alter, &def.checks, err) != 0 ||
	    myeng_fk_check_shadow(e, &def.indexes, err) != 0 ||
	    myeng_defer_indexes(e, &def.indexes, err) != 0)
		goto fail;
	myeng_copy_build_sql(e);
	rc = 0;
	goto out;
fail:
	/* A failed shadow leaves nothing behind. */
	{
		struct shade_err ignored = {0};

		sql_build(&b, SQL_MYSQL, "DROP %sTABLE IF EXISTS %Q", temporary ? "TEMPORARY " : "",
			  &e->shadow);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->shadow_created = e->shadow_temporary = false;
		err_clear(&ignored);
	}
out:
	myeng_shadow_def_free(&def);
	buf_free(&b);
	return rc;
}

int
myeng_shadow_create(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    struct shade_err *err)
{
	/* Who the run is, for the state table (state.c). */
	free(e->alter_body);
	e->alter_body = xstrdup(alter_body);
	return myeng_shadow_build(e, false, alter_body, alter, err);
}

/* The ALTER that builds the deferred indexes (NULL: there are none). */
static char *
myeng_shadow_index_sql(const struct eng *e)
{
	struct buf b = {0};

	if (e->deferred.len == 0 && !e->pk_changed)
		return NULL;
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->shadow);
	if (e->pk_changed)
		sql_build(&b, SQL_MYSQL, "DROP PRIMARY KEY, ADD %s%s", e->new_pk_def,
			  e->deferred.len ? ", " : "");
	for (size_t i = 0; i < e->deferred.len; i++)
		sql_build(&b, SQL_MYSQL, "%sADD %s", i ? ", " : "", e->deferred.items[i]);
	if (e->ai_key)
		sql_build(&b, SQL_MYSQL, ", DROP INDEX %I", e->ai_key);
	return buf_take(&b);
}

/*
 * Before a unique index is built, the shadow must hold only rows that T
 * held together. The copy and the apply re-copy each key at its own moment,
 * so a row of the shadow may be stale, and values move between T's rows: a
 * stale row may hold a value another row now holds too, and the build
 * would fail on a duplicate T never had. So every key with a pending log
 * row leaves the shadow first (myeng_apply_release; the log keeps them for
 * the catch-up). The pending rows are read at one snapshot S. A key with
 * none at S has had every write before S consumed, and consuming re-copies
 * the key after its write committed: its shadow row equals T's row at S.
 * The other keys are absent, and nobody else writes the shadow. So the
 * shadow is part of T at S, and a duplicate the build finds is a duplicate
 * in T at S, a real one: it fails with the server's message, as the plain
 * ALTER would. The dry run lists the release (there is no change log).
 */
static int WARN_UNUSED
myeng_shadow_release(struct eng *e, struct shade_err *err)
{
	unsigned long long released;
	bool unique = e->pk_changed;

	for (size_t i = 0; i < e->deferred.len; i++)
		if (strncmp(e->deferred.items[i], "UNIQUE ", 7) == 0)
			unique = true;
	if (!unique)
		return 0;
	if (e->plan) {
		myeng_apply_release_plan(e, "before a unique index: the keys the change log "
					    "holds leave the shadow, for the catch-up to re-copy");
		return 0;
	}
	return myeng_apply_release(e, &released, err);
}

/*
 * Has the shadow its new primary key (*built), or still T's, the copy's
 * (shadow_pk, column for column)?
 */
static int WARN_UNUSED
myeng_shadow_pk_built(struct eng *e, bool *built, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_MYSQL, "SHOW INDEX FROM %Q WHERE Key_name = 'PRIMARY'", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	*built = res.nrows != e->shadow_pk.len || res.ncols < 5;
	for (size_t i = 0; i < res.nrows && !*built; i++)
		if (strcasecmp(myeng_text(&res, i, 4), e->shadow_pk.items[i]) != 0)
			*built = true;
	rc = 0;
out:
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * Taking up an interrupted run: did it build the deferred indexes? The one
 * ALTER that builds them (myeng_shadow_build_indexes) commits all of them
 * (and the new primary key) and drops the AUTO_INCREMENT helper index, or
 * changes nothing: so when they are all on the shadow, the build is done.
 * Only some of them is not shade's doing: the run is not taken up.
 */
int
myeng_shadow_indexes_resume(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct strlist names = {0};
	struct buf b = {0};
	size_t found = 0, total = e->deferred.len + (e->pk_changed ? 1 : 0);
	bool pk_built = false;
	int rc = -1;

	if (total == 0)
		return 0;
	if (e->pk_changed && myeng_shadow_pk_built(e, &pk_built, err) != 0)
		goto out;
	found = pk_built ? 1 : 0;
	if (e->deferred.len == 0)
		goto counted;
	/* Each has a name: myeng_defer_indexes read it. */
	for (size_t i = 0; i < e->deferred.len; i++)
		strlist_push_take(&names, myeng_shadow_index_name(e->deferred.items[i]));
	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->shadow.name);
	for (size_t i = 0; i < names.len; i++)
		myeng_param_str(&p, names.items[i]);
	buf_append(&b, "SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS"
		       " WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME = ? AND INDEX_NAME IN (");
	myeng_marks(&b, e->deferred.len);
	buf_append(&b, ")");
	if (myeng_query(e, buf_str(&b), &p, &res, err) != 0)
		goto out;
	found += (size_t)strtoull(myeng_text(&res, 0, 0), NULL, 10);
counted:
	if (found > 0 && found < total) {
		err_set(err, SHADE_USAGE,
			"the interrupted run on %s cannot be resumed: %s.%s has %zu of the %zu "
			"indexes shade builds in one step; remove what is left with shade --cleanup "
			"--dsn ... --table %s",
			e->display, e->orig.schema, e->shadow.name, found, total, e->display);
		goto out;
	}
	e->indexes_built = found == total;
	if (e->indexes_built) {
		free(e->ai_key);
		e->ai_key = NULL;
	}
	rc = 0;
out:
	strlist_free(&names);
	myeng_params_free(&p);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * Tell who listens (engine_opts.on_build) what the one ALTER builds: the
 * deferred indexes, by name.
 */
static void
myeng_shadow_building(struct eng *e)
{
	struct buf what = {0};

	if (e->plan != NULL || e->opts == NULL || e->opts->on_build == NULL)
		return;
	buf_append(&what, e->deferred.len == 1 ? "index " : "indexes ");
	for (size_t i = 0; i < e->deferred.len; i++) {
		char *name = myeng_shadow_index_name(e->deferred.items[i]);

		buf_printf(&what, "%s%s", i ? ", " : "", name ? name : "?");
		free(name);
	}
	e->opts->on_build(e->opts->on_build_arg, buf_str(&what));
	buf_free(&what);
}

int
myeng_shadow_build_indexes(struct eng *e, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	char *sql = e->indexes_built ? NULL : myeng_shadow_index_sql(e);
	double t0;
	int rc = -1;

	/*
	 * One ALTER builds them all in one pass, under their own names (none
	 * when the interrupted run this one took up had built them).
	 */
	if (sql != NULL) {
		if (myeng_shadow_release(e, err) != 0)
			goto out;
		myeng_shadow_building(e);
		if (myeng_run(e, sql, err) != 0) {
			if (!err->cancelled && (err->server_errno == ER_DUP_ENTRY ||
						err->server_errno == ER_DUP_ENTRY_WITH_KEY_NAME))
				err_prefix(err, SHADE_FAILED,
					   "the rows of %s do not fit a unique key of the new schema: ",
					   e->display);
			goto out;
		}
		free(e->ai_key);
		e->ai_key = NULL;
	}
	/* A new table's statistics are empty: the optimizer needs them. */
	sql_build(&b, SQL_MYSQL, "ANALYZE TABLE %Q", &e->shadow);
	t0 = now_seconds();
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	e->analyze_seconds = now_seconds() - t0;
	for (size_t i = 0; i < res.nrows; i++) {
		if (res.ncols >= 4 && strcasecmp(myeng_text(&res, i, 2), "error") == 0) {
			err_set(err, SHADE_FAILED, "ANALYZE TABLE %s: %s", e->shadow.name,
				myeng_text(&res, i, 3));
			goto out;
		}
	}
	rc = 0;
out:
	free(sql);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * engine/mysql/fk.c - T's foreign keys, in both directions, carried over to
 * the new table.
 *
 * CREATE TABLE ... LIKE copies no foreign key, so the shadow has none while
 * it is copied and applied: neither can fail on one, and no parent write
 * is ever checked against the shadow's stale rows. The keys come at the
 * swap, under the lock, once the drained shadow holds exactly T's rows:
 *
 *   out of T (T -> P)  added to the shadow under a temporary name
 *                      (_name_shade_fk), with foreign_key_checks = 0: a
 *                      change of metadata only, which checks no row (T's
 *                      rows satisfied the key, and the shadow's are T's).
 *                      The locker holds P READ too: a writer of P opens
 *                      its children (T and, from now on, the shadow), and
 *                      one holding the shadow could make the RENAME wait
 *                      there instead of at T (see swap.c).
 *   into T (C -> T)    each child's key re-pointed at the shadow, keeping
 *                      its name, in two ALTERs (a name may not be dropped
 *                      and added in one): DROP name, ADD tmp REFERENCES
 *                      shadow; DROP tmp, ADD name REFERENCES shadow. T is
 *                      locked and the shadow equals it, so the child checks
 *                      against the same rows all along; the RENAME takes
 *                      the references along (InnoDB follows a rename).
 *
 * Right after the RENAME the old table still holds the keys out of T under
 * their names (names are unique per database): they are dropped there and
 * the new table's temporary ones take their names, each in one ALTER, so
 * the new T is checked all along. The plain ALTER keeps every name, and so
 * does shade in the end.
 *
 * Refused (preflight): a key out of T with an action (CASCADE, SET NULL,
 * SET DEFAULT): the rows it changes in T fire no trigger (InnoDB), so the
 * change log would miss them; a key of T to itself, or a parent of T that
 * is its child too; an ALTER that adds or drops a key, or changes, renames
 * or drops a column one uses, or the index it needs.
 *
 * Undo, resume and --cleanup read the state from the database (a killed
 * run knows nothing): every key referencing the shadow goes back to T
 * (myeng_fk_unshadow), every temporary name on T gets its own
 * (myeng_fk_finish).
 */
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "myeng.h"

#define FK_TMP_PREFIX "_"
#define FK_TMP_SUFFIX "_shade_fk"

/* The actions a key may have, as information_schema spells them. */
static const char *const fk_rules[] = {"RESTRICT", "NO ACTION", "CASCADE", "SET NULL",
				       "SET DEFAULT"};

static const char sql_checks_off[] = "SET SESSION foreign_key_checks = 0";
static const char sql_checks_on[] = "SET SESSION foreign_key_checks = 1";

/*
 * The keys on one side of a table. information_schema opens only the
 * tables an equality on its lookup columns names (TABLE_SCHEMA and
 * TABLE_NAME, unwrapped): the keys out of T, and each key's columns, are
 * read that way; the keys into T need every table's, as before shade
 * carried them.
 */
static const char sql_fk_out[] =
	"SELECT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA,"
	"  REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE"
	" FROM information_schema.REFERENTIAL_CONSTRAINTS"
	" WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND BINARY TABLE_NAME = ?"
	" ORDER BY CONSTRAINT_NAME";
static const char sql_fk_in[] =
	"SELECT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA,"
	"  REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE"
	" FROM information_schema.REFERENTIAL_CONSTRAINTS"
	" WHERE UNIQUE_CONSTRAINT_SCHEMA = ? AND BINARY REFERENCED_TABLE_NAME = ?"
	"   AND BINARY REFERENCED_TABLE_NAME = ?"
	" ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME";
static const char sql_fk_cols[] =
	"SELECT COLUMN_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
	" WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND BINARY TABLE_NAME = ?"
	"   AND BINARY CONSTRAINT_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL"
	" ORDER BY ORDINAL_POSITION";

static void
myeng_fk_clear(struct myeng_fk *fk)
{
	free(fk->name);
	free(fk->tmp);
	qname_free(&fk->child);
	qname_free(&fk->parent);
	strlist_free(&fk->cols);
	strlist_free(&fk->refcols);
}

static void
myeng_fk_list_free(struct myeng_fk **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		myeng_fk_clear(&(*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

void
myeng_fk_free(struct eng *e)
{
	myeng_fk_list_free(&e->fk_out, &e->nfk_out);
	myeng_fk_list_free(&e->fk_in, &e->nfk_in);
}

/* The temporary name of key name: _name_shade_fk. */
static char *
myeng_fk_tmp_name(const char *name)
{
	return xasprintf(FK_TMP_PREFIX "%s" FK_TMP_SUFFIX, name);
}

/* The key's own name if name is a temporary one, else NULL. */
static char *
myeng_fk_real_name(const char *name)
{
	size_t len = strlen(name), pre = strlen(FK_TMP_PREFIX), suf = strlen(FK_TMP_SUFFIX);

	if (len <= pre + suf || strncmp(name, FK_TMP_PREFIX, pre) != 0 ||
	    strcmp(name + len - suf, FK_TMP_SUFFIX) != 0)
		return NULL;
	return xstrndup(name + pre, len - pre - suf);
}

/* The action as one of fk_rules (a keyword, safe in SQL), or NULL. */
static const char *
myeng_fk_rule(const char *s)
{
	for (size_t i = 0; i < ARRAY_LEN(fk_rules); i++)
		if (strcmp(s, fk_rules[i]) == 0)
			return fk_rules[i];
	return NULL;
}

/*
 * Read the keys of table: those it holds (incoming false) or those that
 * reference it (incoming true).
 */
/* Read the columns of key fk, in order. */
static int WARN_UNUSED
myeng_fk_read_cols(struct eng *e, struct myeng_fk *fk, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, fk->child.schema);
	myeng_param_str(&p, fk->child.name);
	myeng_param_str(&p, fk->child.name);
	myeng_param_str(&p, fk->name);
	if (myeng_query(e, sql_fk_cols, &p, &res, err) != 0)
		goto out;
	if (res.nrows == 0) {
		err_set(err, SHADE_FAILED, "cannot read the columns of foreign key %s of %s.%s",
			fk->name, fk->child.schema, fk->child.name);
		goto out;
	}
	for (size_t r = 0; r < res.nrows; r++) {
		strlist_push(&fk->cols, myeng_text(&res, r, 0));
		strlist_push(&fk->refcols, myeng_text(&res, r, 1));
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * Read the keys of table: those it holds (incoming false) or those that
 * reference it (incoming true).
 */
static int WARN_UNUSED
myeng_fk_read(struct eng *e, bool incoming, const struct qname *table, struct myeng_fk **out,
	      size_t *n, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	*out = NULL;
	*n = 0;
	myeng_param_str(&p, table->schema);
	myeng_param_str(&p, table->name);
	myeng_param_str(&p, table->name);
	if (myeng_query(e, incoming ? sql_fk_in : sql_fk_out, &p, &res, err) != 0)
		goto out;
	*out = xcalloc(res.nrows ? res.nrows : 1, sizeof(**out));
	for (size_t r = 0; r < res.nrows; r++) {
		struct myeng_fk *fk = &(*out)[(*n)++];

		fk->child.schema = xstrdup(myeng_text(&res, r, 0));
		fk->name = xstrdup(myeng_text(&res, r, 1));
		fk->tmp = myeng_fk_tmp_name(fk->name);
		fk->child.name = xstrdup(myeng_text(&res, r, 2));
		fk->parent.schema = xstrdup(myeng_text(&res, r, 3));
		fk->parent.name = xstrdup(myeng_text(&res, r, 4));
		fk->on_update = myeng_fk_rule(myeng_text(&res, r, 5));
		fk->on_delete = myeng_fk_rule(myeng_text(&res, r, 6));
		if (fk->on_update == NULL || fk->on_delete == NULL) {
			err_set(err, SHADE_USAGE,
				"foreign key %s of %s.%s has an action shade does not know "
				"(ON UPDATE %s ON DELETE %s)",
				fk->name, fk->child.schema, fk->child.name, myeng_text(&res, r, 5),
				myeng_text(&res, r, 6));
			goto out;
		}
		if (myeng_fk_read_cols(e, fk, err) != 0)
			goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * ADD CONSTRAINT name FOREIGN KEY (cols) REFERENCES parent (refcols) ...
 * RESTRICT, the default, is left out: MariaDB's in-place ADD FOREIGN KEY
 * records a written RESTRICT as NO ACTION (a plain ALTER, copying the
 * key, keeps RESTRICT: SHOW CREATE TABLE would differ).
 */
static void
myeng_fk_add_sql(struct buf *b, const struct myeng_fk *fk, const char *name,
		 const struct qname *parent)
{
	sql_build(b, SQL_MYSQL, "ADD CONSTRAINT %I FOREIGN KEY (%L) REFERENCES %Q (%L)", name,
		  &fk->cols, parent, &fk->refcols);
	if (strcmp(fk->on_delete, "RESTRICT") != 0)
		sql_build(b, SQL_MYSQL, " ON DELETE %s", fk->on_delete);
	if (strcmp(fk->on_update, "RESTRICT") != 0)
		sql_build(b, SQL_MYSQL, " ON UPDATE %s", fk->on_update);
}

/* ALTER TABLE child DROP FOREIGN KEY drop, ADD CONSTRAINT add ... parent */
static void
myeng_fk_move_sql(struct buf *b, const struct myeng_fk *fk, const char *drop, const char *add,
		  const struct qname *parent)
{
	sql_build(b, SQL_MYSQL, "ALTER TABLE %Q DROP FOREIGN KEY %I, ", &fk->child, drop);
	myeng_fk_add_sql(b, fk, add, parent);
}

/*
 * Run the ALTER in b with foreign_key_checks off: adding a key then changes
 * metadata only (ALGORITHM=INPLACE, no row read) and checks no row.
 */
static int WARN_UNUSED
myeng_fk_run(struct eng *e, struct buf *b, struct shade_err *err)
{
	struct shade_err ignored = {0};
	int rc = -1;

	if (myeng_run(e, sql_checks_off, err) == 0 && myeng_run(e, buf_str(b), err) == 0)
		rc = 0;
	if (myeng_run(e, sql_checks_on, rc ? &ignored : err) != 0)
		rc = -1;
	err_clear(&ignored);
	buf_reset(b);
	return rc;
}

/* Refuse what shade cannot carry over (see the top of the file). */
static int WARN_UNUSED
myeng_fk_refuse(struct eng *e, const struct myeng_fk *fk, bool out, struct shade_err *err)
{
	char *real = myeng_fk_real_name(fk->name);

	if (real != NULL) {
		err_set(err, SHADE_USAGE,
			"foreign key %s of %s.%s carries shade's temporary name for %s: a swap of %s "
			"was interrupted; if no shade is running on it, finish it with shade "
			"--cleanup --dsn ... --table %s",
			fk->name, fk->child.schema, fk->child.name, real, e->display, e->display);
		free(real);
		return -1;
	}
	if (sql_ident_len(SQL_MYSQL, fk->tmp, strlen(fk->tmp)) > sql_ident_max(SQL_MYSQL)) {
		err_set(err, SHADE_USAGE,
			"the name of foreign key %s of %s.%s is too long for shade's temporary name %s",
			fk->name, fk->child.schema, fk->child.name, fk->tmp);
		return -1;
	}
	if (out && strcmp(fk->parent.schema, e->orig.schema) == 0 &&
	    strcmp(fk->parent.name, e->orig.name) == 0) {
		err_set(err, SHADE_USAGE,
			"%s has foreign key %s to itself, which shade cannot carry over", e->display,
			fk->name);
		return -1;
	}
	if (out && (strcmp(fk->on_delete, "RESTRICT") != 0 &&
		    strcmp(fk->on_delete, "NO ACTION") != 0)) {
		err_set(err, SHADE_USAGE,
			"%s has foreign key %s to %s.%s ON DELETE %s: the rows such an action changes "
			"in %s fire no triggers, so shade's change log would miss them; refused",
			e->display, fk->name, fk->parent.schema, fk->parent.name, fk->on_delete,
			e->display);
		return -1;
	}
	if (out && (strcmp(fk->on_update, "RESTRICT") != 0 &&
		    strcmp(fk->on_update, "NO ACTION") != 0)) {
		err_set(err, SHADE_USAGE,
			"%s has foreign key %s to %s.%s ON UPDATE %s: the rows such an action changes "
			"in %s fire no triggers, so shade's change log would miss them; refused",
			e->display, fk->name, fk->parent.schema, fk->parent.name, fk->on_update,
			e->display);
		return -1;
	}
	return 0;
}

int
myeng_fk_load(struct eng *e, struct shade_err *err)
{
	myeng_fk_free(e);
	if (myeng_fk_read(e, false, &e->orig, &e->fk_out, &e->nfk_out, err) != 0 ||
	    myeng_fk_read(e, true, &e->orig, &e->fk_in, &e->nfk_in, err) != 0)
		return -1;
	for (size_t i = 0; i < e->nfk_out; i++)
		if (myeng_fk_refuse(e, &e->fk_out[i], true, err) != 0)
			return -1;
	for (size_t i = 0; i < e->nfk_in; i++) {
		const struct myeng_fk *in = &e->fk_in[i];

		if (myeng_fk_refuse(e, in, false, err) != 0)
			return -1;
		/*
		 * A parent that is a child too: the swap locks it for reading
		 * and would have to alter it under that lock.
		 */
		for (size_t j = 0; j < e->nfk_out; j++) {
			const struct myeng_fk *out = &e->fk_out[j];

			if (strcmp(out->parent.schema, in->child.schema) == 0 &&
			    strcmp(out->parent.name, in->child.name) == 0) {
				err_set(err, SHADE_USAGE,
					"%s and %s.%s reference each other (foreign keys %s and %s), "
					"which shade cannot carry over",
					e->display, in->child.schema, in->child.name, out->name,
					in->name);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- the shadow's columns and indexes ---------------------------------- */

/* The row of SHOW FULL COLUMNS for column name, or -1. */
static long
myeng_fk_column_row(const struct myeng_res *cols, const char *name)
{
	for (size_t r = 0; r < cols->nrows; r++)
		if (strcmp(myeng_text(cols, r, 0), name) == 0)
			return (long)r;
	return -1;
}

/* Does some index of the shadow lead with cols, in order? */
static bool
myeng_fk_indexed(const struct eng *e, const struct strlist *indexes, const struct strlist *cols)
{
	struct buf needle = {0};
	bool found = cols->len <= e->shadow_pk.len;

	for (size_t i = 0; found && i < cols->len; i++)
		found = strcmp(cols->items[i], e->shadow_pk.items[i]) == 0;
	/* As SHOW CREATE TABLE writes them: KEY `k` (`a`,`b`,...) */
	buf_append_char(&needle, '(');
	for (size_t i = 0; i < cols->len; i++)
		sql_build(&needle, SQL_MYSQL, "%s%I", i ? "," : "", cols->items[i]);
	for (size_t i = 0; !found && i < indexes->len; i++) {
		const char *at = strstr(indexes->items[i], buf_str(&needle));

		found = at && (at[needle.len] == ',' || at[needle.len] == ')');
	}
	buf_free(&needle);
	return found;
}

/*
 * The columns a key uses on T (cols of a key out of T, refcols of one into
 * it) must be on the shadow, of the same type, and lead an index there.
 */
static int WARN_UNUSED
myeng_fk_check_one(struct eng *e, const struct myeng_fk *fk, const struct strlist *cols,
		   const struct myeng_res *t, const struct myeng_res *s,
		   const struct strlist *indexes, struct shade_err *err)
{
	for (size_t i = 0; i < cols->len; i++) {
		long rt = myeng_fk_column_row(t, cols->items[i]);
		long rs = myeng_fk_column_row(s, cols->items[i]);

		if (rt < 0 || rs < 0 ||
		    strcmp(myeng_text(t, (size_t)rt, 1), myeng_text(s, (size_t)rs, 1)) != 0 ||
		    strcmp(myeng_text(t, (size_t)rt, 2), myeng_text(s, (size_t)rs, 2)) != 0) {
			err_set(err, SHADE_USAGE,
				"the ALTER changes, renames or drops column %s of %s, which foreign "
				"key %s (of %s.%s) uses; refused",
				cols->items[i], e->display, fk->name, fk->child.schema,
				fk->child.name);
			return -1;
		}
	}
	if (!myeng_fk_indexed(e, indexes, cols)) {
		err_set(err, SHADE_USAGE,
			"after the ALTER no index of %s leads with the columns of foreign key %s "
			"(of %s.%s), which needs one; refused",
			e->display, fk->name, fk->child.schema, fk->child.name);
		return -1;
	}
	return 0;
}

int
myeng_fk_check_shadow(struct eng *e, const struct strlist *indexes, struct shade_err *err)
{
	struct myeng_res t = {0}, s = {0};
	struct buf b = {0};
	int rc = -1;

	if (e->nfk_out == 0 && e->nfk_in == 0)
		return 0;
	/* SHOW, not information_schema: the dry run's shadow is TEMPORARY. */
	sql_build(&b, SQL_MYSQL, "SHOW FULL COLUMNS FROM %Q", &e->orig);
	if (myeng_query(e, buf_str(&b), NULL, &t, err) != 0)
		goto out;
	buf_reset(&b);
	sql_build(&b, SQL_MYSQL, "SHOW FULL COLUMNS FROM %Q", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &s, err) != 0)
		goto out;
	for (size_t i = 0; i < e->nfk_out; i++)
		if (myeng_fk_check_one(e, &e->fk_out[i], &e->fk_out[i].cols, &t, &s, indexes,
				       err) != 0)
			goto out;
	for (size_t i = 0; i < e->nfk_in; i++)
		if (myeng_fk_check_one(e, &e->fk_in[i], &e->fk_in[i].refcols, &t, &s, indexes,
				       err) != 0)
			goto out;
	rc = 0;
out:
	myeng_res_free(&t);
	myeng_res_free(&s);
	buf_free(&b);
	return rc;
}

/* ---- the swap ----------------------------------------------------------- */

void
myeng_fk_lock_sql(struct buf *b, const struct eng *e)
{
	for (size_t i = 0; i < e->nfk_out; i++) {
		const struct myeng_fk *fk = &e->fk_out[i];
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(e->fk_out[j].parent.schema, fk->parent.schema) == 0 &&
			       strcmp(e->fk_out[j].parent.name, fk->parent.name) == 0;
		if (!seen)
			sql_build(b, SQL_MYSQL, ", %Q READ", &fk->parent);
	}
}

/*
 * The fence: the children, locked for reading once their keys reference
 * the shadow. Renaming a table that children reference waits inside InnoDB
 * (not for a metadata lock) for every open transaction that wrote a child;
 * were it to give up after the locker let T go, T's writers would run while
 * the children reference the shadow. With the children locked no such
 * transaction is open and none begins, so the RENAME does not wait there.
 */
bool
myeng_fk_fence_sql(struct buf *b, const struct eng *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nfk_in; i++) {
		const struct myeng_fk *fk = &e->fk_in[i];
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(e->fk_in[j].child.schema, fk->child.schema) == 0 &&
			       strcmp(e->fk_in[j].child.name, fk->child.name) == 0;
		if (!seen)
			sql_build(b, SQL_MYSQL, "%s%Q READ", n++ ? ", " : "LOCK TABLES ",
				  &fk->child);
	}
	return n > 0;
}

/* ALTER TABLE shadow ADD CONSTRAINT tmp ..., one for each key out of T. */
static void
myeng_fk_shadow_sql(struct buf *b, const struct eng *e)
{
	sql_build(b, SQL_MYSQL, "ALTER TABLE %Q ", &e->shadow);
	for (size_t i = 0; i < e->nfk_out; i++) {
		if (i > 0)
			buf_append(b, ", ");
		myeng_fk_add_sql(b, &e->fk_out[i], e->fk_out[i].tmp, &e->fk_out[i].parent);
	}
}

int
myeng_fk_to_shadow(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	if (e->nfk_out > 0) {
		myeng_fk_shadow_sql(&b, e);
		if (myeng_fk_run(e, &b, err) != 0)
			goto out;
	}
	for (size_t i = 0; i < e->nfk_in; i++) {
		const struct myeng_fk *fk = &e->fk_in[i];

		myeng_fk_move_sql(&b, fk, fk->name, fk->tmp, &e->shadow);
		if (myeng_fk_run(e, &b, err) != 0)
			goto out;
		myeng_fk_move_sql(&b, fk, fk->tmp, fk->name, &e->shadow);
		if (myeng_fk_run(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/*
 * Every key that references the shadow goes back to T under its own name,
 * and the shadow loses its keys: where a swap that failed, or a run killed
 * in its swap, left them. Read from the database.
 */
int
myeng_fk_unshadow(struct eng *e, struct shade_err *err)
{
	struct myeng_fk *v = NULL;
	struct buf b = {0};
	size_t n = 0;
	int rc = -1;

	if (myeng_fk_read(e, true, &e->shadow, &v, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char *real = myeng_fk_real_name(v[i].name);

		if (real == NULL) {
			/* Its own name, on the shadow: through the temporary one. */
			myeng_fk_move_sql(&b, &v[i], v[i].name, v[i].tmp, &e->orig);
			if (myeng_fk_run(e, &b, err) != 0)
				goto out;
			real = xstrdup(v[i].name);
			free(v[i].name);
			v[i].name = xstrdup(v[i].tmp);
		}
		myeng_fk_move_sql(&b, &v[i], v[i].name, real, &e->orig);
		free(real);
		if (myeng_fk_run(e, &b, err) != 0)
			goto out;
	}
	myeng_fk_list_free(&v, &n);
	if (myeng_fk_read(e, false, &e->shadow, &v, &n, err) != 0)
		goto out;
	if (n > 0) {
		sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->shadow);
		for (size_t i = 0; i < n; i++)
			sql_build(&b, SQL_MYSQL, "%sDROP FOREIGN KEY %I", i ? ", " : "", v[i].name);
		if (myeng_fk_run(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	myeng_fk_list_free(&v, &n);
	buf_free(&b);
	return rc;
}

/*
 * After the RENAME: the keys out of T the old table still holds under
 * their names are dropped there, and the new T's temporary ones take the
 * names (one ALTER: T is checked all along). Read from the database, so
 * --cleanup finishes a swap that was killed here.
 */
static int WARN_UNUSED
myeng_fk_finish_once(struct eng *e, const struct qname *old, struct shade_err *err)
{
	struct myeng_fk *v = NULL, *o = NULL;
	size_t n = 0, no = 0, dropped = 0, moved = 0;
	struct buf b = {0}, drop = {0};
	int rc = -1;

	if (myeng_fk_read(e, false, &e->orig, &v, &n, err) != 0 ||
	    myeng_fk_read(e, false, old, &o, &no, err) != 0)
		goto out;
	sql_build(&drop, SQL_MYSQL, "ALTER TABLE %Q ", old);
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->orig);
	for (size_t i = 0; i < n; i++) {
		char *real = myeng_fk_real_name(v[i].name);

		if (real == NULL)
			continue;
		for (size_t j = 0; j < no; j++) {
			if (strcmp(o[j].name, real) == 0)
				sql_build(&drop, SQL_MYSQL, "%sDROP FOREIGN KEY %I",
					  dropped++ ? ", " : "", real);
		}
		sql_build(&b, SQL_MYSQL, "%sDROP FOREIGN KEY %I, ", moved++ ? ", " : "",
			  v[i].name);
		myeng_fk_add_sql(&b, &v[i], real, &v[i].parent);
		free(real);
	}
	if ((dropped > 0 && myeng_fk_run(e, &drop, err) != 0) ||
	    (moved > 0 && myeng_fk_run(e, &b, err) != 0))
		goto out;
	e->fk_named = true;
	rc = 0;
out:
	myeng_fk_list_free(&v, &n);
	myeng_fk_list_free(&o, &no);
	buf_free(&b);
	buf_free(&drop);
	return rc;
}

int
myeng_fk_finish(struct eng *e, struct shade_err *err)
{
	const struct qname *old = e->old_named ? &e->old : &e->sentry;
	struct backoff bo;

	backoff_init(&bo, 0.25, 4, e->opts->lock_retries > 10 ? e->opts->lock_retries : 10);
	for (;;) {
		double pause;

		err_clear(err);
		if (myeng_fk_finish_once(e, old, err) == 0)
			return 0;
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			break;
		dbwait_sleep(e->w, pause);
	}
	err_prefix(err, SHADE_FAILED,
		   "%s has the new schema and its foreign keys are checked, but some still carry "
		   "the temporary names _<name>_shade_fk (finish with shade --cleanup): ",
		   e->display);
	return -1;
}

/* ---- the dry run's plan ------------------------------------------------ */

void
myeng_fk_plan_to_shadow(struct eng *e)
{
	struct buf b = {0};

	if (e->nfk_out > 0) {
		myeng_fk_shadow_sql(&b, e);
		myeng_dryrun_add(e, "main connection: the keys out of T, on the shadow",
				 sql_checks_off);
		myeng_dryrun_take(e, NULL, buf_take(&b));
		myeng_dryrun_add(e, NULL, sql_checks_on);
	}
	for (size_t i = 0; i < e->nfk_in; i++) {
		const struct myeng_fk *fk = &e->fk_in[i];

		myeng_dryrun_add(e, i ? NULL : "main connection: the children's keys, to the shadow",
				 sql_checks_off);
		myeng_fk_move_sql(&b, fk, fk->name, fk->tmp, &e->shadow);
		myeng_dryrun_take(e, NULL, buf_take(&b));
		myeng_fk_move_sql(&b, fk, fk->tmp, fk->name, &e->shadow);
		myeng_dryrun_take(e, NULL, buf_take(&b));
		myeng_dryrun_add(e, NULL, sql_checks_on);
	}
}

void
myeng_fk_plan_finish(struct eng *e)
{
	struct buf b = {0};

	if (e->nfk_out == 0)
		return;
	myeng_dryrun_add(e, "the keys out of T get their names back", sql_checks_off);
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->old);
	for (size_t i = 0; i < e->nfk_out; i++)
		sql_build(&b, SQL_MYSQL, "%sDROP FOREIGN KEY %I", i ? ", " : "", e->fk_out[i].name);
	myeng_dryrun_take(e, NULL, buf_take(&b));
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->orig);
	for (size_t i = 0; i < e->nfk_out; i++) {
		sql_build(&b, SQL_MYSQL, "%sDROP FOREIGN KEY %I, ", i ? ", " : "",
			  e->fk_out[i].tmp);
		myeng_fk_add_sql(&b, &e->fk_out[i], e->fk_out[i].name, &e->fk_out[i].parent);
	}
	myeng_dryrun_take(e, NULL, buf_take(&b));
	myeng_dryrun_add(e, NULL, sql_checks_on);
}

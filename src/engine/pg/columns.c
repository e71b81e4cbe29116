/*
 * engine/pg/columns.c - which column of T fills which column of the shadow,
 * and whether T's key survives the ALTER as a key shade can follow.
 *
 * The mapping goes by attribute number, not by name: the shadow is created
 * LIKE T, so its column k is T's k-th live column, and PostgreSQL never
 * gives an attribute number to another column (a rename keeps it, a type
 * change keeps it, a dropped column leaves its number behind, an added one
 * takes a new one). So a column dropped and added back under its name is a
 * new column, and a generated column whose expression the ALTER drops is
 * filled from T's computed values, as the plain ALTER would.
 *
 * The key. The copy walks T's key and the change log records it; the
 * shadow must hold every row under a key that tells it apart from every
 * other row, as T's did. A key column whose type or collation the ALTER
 * changes, or whose values a USING expression computes, may turn two keys
 * into one: the plain ALTER refuses that with a duplicate-key error, while
 * a copy that skips a key already present would lose a row in silence. So
 * only changes that keep distinct values distinct are allowed (a wider
 * integer, a longer varchar or text, numeric with more digits and the same
 * scale, another deterministic collation); any other is refused before
 * anything is built.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

#include "colmap.h"

/* Built-in type oids (pg_type.dat); stable across releases. */
#define OID_INT2 21u
#define OID_INT4 23u
#define OID_INT8 20u
#define OID_TEXT 25u
#define OID_VARCHAR 1043u
#define OID_NUMERIC 1700u

/*
 * The shadow's insertable columns in order, each with T's column in the
 * same position (NULL: a new column), whether it is an identity column,
 * and both columns' types for the key check.
 */
static const char sql_columns[] =
	"WITH o AS ("
	"  SELECT a.attname, a.atttypid, a.atttypmod, a.attcollation,"
	"    pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,"
	"    pg_catalog.row_number() OVER (ORDER BY a.attnum) AS pos"
	"  FROM pg_catalog.pg_attribute a"
	"  WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped)"
	" SELECT s.attname, o.attname, s.attidentity <> '',"
	"   o.atttypid, o.atttypmod, s.atttypid, s.atttypmod,"
	"   o.type, pg_catalog.format_type(s.atttypid, s.atttypmod),"
	"   o.attcollation = s.attcollation,"
	"   COALESCE((SELECT c.collisdeterministic FROM pg_catalog.pg_collation c"
	"             WHERE c.oid = o.attcollation), true)"
	"   AND COALESCE((SELECT c.collisdeterministic FROM pg_catalog.pg_collation c"
	"                  WHERE c.oid = s.attcollation), true)"
	" FROM pg_catalog.pg_attribute s LEFT JOIN o ON o.pos = s.attnum"
	" WHERE s.attrelid = $2::pg_catalog.regclass AND s.attnum > 0"
	"   AND NOT s.attisdropped AND s.attgenerated = ''"
	" ORDER BY s.attnum";

enum {
	COL_NAME, COL_FROM, COL_IDENTITY, COL_OTYPE, COL_OMOD, COL_STYPE, COL_SMOD,
	COL_OTEXT, COL_STEXT, COL_SAME_COLL, COL_DETERMINISTIC,
};

/* The shadow's primary-key columns, in key order, and whether it is deferrable. */
static const char sql_shadow_key[] =
	"SELECT a.attname, NOT i.indimmediate FROM pg_catalog.pg_index i,"
	"  pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord),"
	"  pg_catalog.pg_attribute a"
	" WHERE i.indrelid = $1::pg_catalog.regclass AND i.indisprimary"
	"   AND a.attrelid = i.indrelid AND a.attnum = k.attnum"
	" ORDER BY k.ord";

/*
 * Does a value of the old type always become a value of the new one that
 * equals no other converted value (or fail to convert)? typmods as stored:
 * varchar n + 4, numeric ((precision << 16) | scale) + 4, -1 for none.
 */
static bool
pgsql_columns_injective(PGresult *res, int row)
{
	unsigned ot = (unsigned)strtoul(PQgetvalue(res, row, COL_OTYPE), NULL, 10);
	unsigned st = (unsigned)strtoul(PQgetvalue(res, row, COL_STYPE), NULL, 10);
	long om = strtol(PQgetvalue(res, row, COL_OMOD), NULL, 10);
	long sm = strtol(PQgetvalue(res, row, COL_SMOD), NULL, 10);
	bool same_coll = PQgetvalue(res, row, COL_SAME_COLL)[0] == 't';

	/* Equal strings stay equal under deterministic collations only. */
	if (!same_coll && PQgetvalue(res, row, COL_DETERMINISTIC)[0] != 't')
		return false;
	if (ot == st && om == sm)
		return true;
	if ((ot == OID_INT2 && (st == OID_INT4 || st == OID_INT8)) ||
	    (ot == OID_INT4 && st == OID_INT8))
		return true;
	if (ot == OID_VARCHAR && st == OID_TEXT)
		return true;
	if (ot == OID_VARCHAR && st == OID_VARCHAR)
		return sm == -1 || (om != -1 && sm >= om);
	if (ot == OID_NUMERIC && st == OID_NUMERIC) {
		if (sm == -1)
			return true;
		return om != -1 && ((om - 4) & 0xffff) == ((sm - 4) & 0xffff) &&
		       ((om - 4) >> 16) <= ((sm - 4) >> 16);
	}
	return false;
}

/* Does the ALTER compute column col with a USING expression? */
static bool
pgsql_columns_computed(const struct alter_info *alter, const char *col)
{
	for (size_t u = 0; u < alter->nusings; u++)
		if (strcmp(alter->usings[u].column, col) == 0)
			return true;
	return false;
}

/*
 * The ALTER changes the primary key (newkey: the shadow's). The log goes on
 * recording T's key, which T enforces at every instant, so the shadow holds
 * at most one row per old key value and the apply by it (delete and
 * re-insert, or in place) stays exact: its columns must stay in the new
 * table. Fills key with their names there.
 */
static int WARN_UNUSED
pgsql_columns_old_key(struct eng *e, const struct strlist *newkey, struct strlist *key,
		      struct shade_err *err)
{
	if (newkey->len == 0) {
		err_set(err, SHADE_USAGE,
			"the ALTER leaves %s.%s without a primary key, which shade needs to follow "
			"changes; refused (add one in the same ALTER, or use a plain ALTER)",
			e->orig.schema, e->orig.name);
		return -1;
	}
	for (size_t i = 0; i < e->pk.len; i++) {
		long at = strlist_find(&e->src, e->pk.items[i]);

		if (at < 0) {
			err_set(err, SHADE_USAGE,
				"the ALTER changes the primary key of %s.%s and drops its column %s: "
				"shade follows changes by the old key, so the new table must keep "
				"its columns; refused (keep %s, under a UNIQUE constraint if need be)",
				e->orig.schema, e->orig.name, e->pk.items[i], e->pk.items[i]);
			return -1;
		}
		strlist_push(key, e->dst.items[at]);
	}
	e->pk_changed = true;
	return 0;
}

/*
 * The shadow's key must be T's key, column for column, or T's key must
 * survive in it (pgsql_columns_old_key), with values the ALTER keeps apart
 * (see the top of the file). res is sql_columns' result.
 */
static int WARN_UNUSED
pgsql_columns_check_key(struct eng *e, const struct alter_info *alter, PGresult *res,
			struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	PGresult *kres = NULL;
	struct strlist key = {0}, newkey = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_shadow_key, 1, params, &kres, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(kres); i++) {
		strlist_push(&newkey, PQgetvalue(kres, i, 0));
		e->key_deferrable = PQgetvalue(kres, i, 1)[0] == 't';
	}
	if (colmap_same_key(&e->src, &e->dst, &e->pk, &newkey, false)) {
		key = newkey;
		newkey = (struct strlist){0};
	} else if (pgsql_columns_old_key(e, &newkey, &key, err) != 0) {
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		const char *col = PQgetvalue(res, r, COL_NAME);

		if (strlist_find(&key, col) < 0)
			continue;
		if (pgsql_columns_computed(alter, col)) {
			err_set(err, SHADE_USAGE,
				"the ALTER computes primary-key column %s of %s.%s with USING: the "
				"new keys could collide, and shade follows changes by the key; "
				"refused (change the key with a plain ALTER, or add a column)",
				col, e->orig.schema, e->orig.name);
			goto out;
		}
		if (!pgsql_columns_injective(res, r)) {
			err_set(err, SHADE_USAGE,
				"the ALTER changes primary-key column %s of %s.%s from %s to %s%s: "
				"two keys could become one, which shade cannot promise to catch "
				"as the plain ALTER does; refused (shade allows a wider integer, "
				"varchar or numeric with the same collation)",
				col, e->orig.schema, e->orig.name, PQgetvalue(res, r, COL_OTEXT),
				PQgetvalue(res, r, COL_STEXT),
				PQgetvalue(res, r, COL_SAME_COLL)[0] == 't' ? "" : " in another collation");
			goto out;
		}
	}
	e->shadow_pk = key;
	key = (struct strlist){0};
	rc = 0;
out:
	PQclear(kres);
	strlist_free(&key);
	strlist_free(&newkey);
	return rc;
}

/*
 * After the ALTER: the column mapping, the copy's select list (a column,
 * or the ALTER's USING expression for it), the identity columns, and the
 * key check.
 */
int
pgsql_columns_map(struct eng *e, const struct alter_info *alter, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, e->shadow_text};
	PGresult *res = NULL;
	struct buf sel = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_columns, 2, params, &res, err) != 0)
		goto out;
	for (int r = 0; r < PQntuples(res); r++) {
		const char *col = PQgetvalue(res, r, COL_NAME);
		size_t u;

		if (PQgetisnull(res, r, COL_FROM)) {
			strlist_push(&e->fresh, col);  /* a new column: its default fills it */
			continue;
		}
		strlist_push(&e->src, PQgetvalue(res, r, COL_FROM));
		strlist_push(&e->dst, col);
		buf_append(&sel, e->dst.len > 1 ? ", " : "");
		for (u = 0; u < alter->nusings; u++)
			if (strcmp(alter->usings[u].column, col) == 0)
				break;
		if (u < alter->nusings) {
			sql_build(&sel, SQL_PG, "(%A)", alter->usings[u].expr);
			e->select_has_usings = true;
		} else {
			sql_ident(&sel, SQL_PG, PQgetvalue(res, r, COL_FROM));
		}
		if (PQgetvalue(res, r, COL_IDENTITY)[0] == 't')
			strlist_push(&e->identity, col);
	}
	e->select_list = buf_take(&sel);
	rc = pgsql_columns_check_key(e, alter, res, err);
out:
	PQclear(res);
	buf_free(&sel);
	return rc;
}

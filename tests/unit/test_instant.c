/*
 * test_instant.c - which PostgreSQL ALTER-BODYs instant.c takes for
 * catalog-only changes: the metadata-only shapes pass (with adds set when
 * an ADD COLUMN needs the catalog's word on its default and type), and
 * anything that rewrites, scans or that the text cannot settle is "no",
 * with the clause named. Data-driven; each body goes through alter_parse
 * first, as in a run.
 */
#include <string.h>

#include "alter.h"
#include "instant.h"
#include "unit.h"

static const struct {
	const char *body;
	bool instant;
	bool adds;
	const char *why;  /* a part of why, for "no" */
} cases[] = {
	{"ADD COLUMN flag int NOT NULL DEFAULT 0", true, true, NULL},
	{"add flag int", true, true, NULL},
	{"ADD COLUMN IF NOT EXISTS \"Note Text\" text DEFAULT 'it''s CHECK'", true, true, NULL},
	{"ADD COLUMN c numeric(10,2) DEFAULT 1.5, DROP COLUMN note", true, true, NULL},
	{"DROP COLUMN note", true, false, NULL},
	{"DROP IF EXISTS note CASCADE", true, false, NULL},
	{"ALTER COLUMN qty SET DEFAULT 5", true, false, NULL},
	{"ALTER qty DROP DEFAULT, ALTER COLUMN sku DROP NOT NULL", true, false, NULL},
	{"RENAME COLUMN qty TO quantity", true, false, NULL},
	{"RENAME \"a b\" TO c", true, false, NULL},
	{"ALTER COLUMN qty TYPE bigint", false, false, "ALTER COLUMN qty TYPE bigint"},
	{"ALTER COLUMN qty SET NOT NULL", false, false, "SET NOT NULL"},
	{"ADD COLUMN id2 int PRIMARY KEY", false, false, "PRIMARY"},
	{"ADD COLUMN u int UNIQUE", false, false, "UNIQUE"},
	{"ADD COLUMN c int REFERENCES t (id)", false, false, "REFERENCES"},
	{"ADD COLUMN c int CHECK (c > 0)", false, false, "CHECK"},
	{"ADD COLUMN c int GENERATED ALWAYS AS IDENTITY", false, false, "GENERATED"},
	{"ADD COLUMN c text COLLATE \"C\"", false, false, "COLLATE"},
	{"ADD CONSTRAINT ck CHECK (qty > 0)", false, false, "ADD CONSTRAINT"},
	{"ADD PRIMARY KEY (id)", false, false, "PRIMARY"},
	{"ADD COLUMN c", false, false, "ADD COLUMN c"},
	{"ADD COLUMN c text DEFAULT $$x$$", false, false, "$$"},
	{"DROP CONSTRAINT items_pkey", false, false, "DROP CONSTRAINT"},
	{"RENAME CONSTRAINT a TO b", false, false, "RENAME CONSTRAINT"},
	{"DROP COLUMN a, ALTER COLUMN b TYPE text", false, false, "TYPE text"},
	{"ENABLE TRIGGER t", false, false, "ENABLE TRIGGER"},
	{"SET UNLOGGED", false, false, "SET UNLOGGED"},
	{"ADD COLUMN \"x\" int, ADD COLUMN y serial", true, true, NULL},
};

int
main(void)
{
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct alter_info a = {0};
		struct shade_err err = {0};
		char why[512] = "";
		bool adds = true, got;

		UNIT_CASE("%s", cases[i].body);
		CHECK(alter_parse(cases[i].body, SQL_PG, &a, &err) == 0);
		got = instant_pg_clauses(&a, &adds, why, sizeof(why));
		CHECK(got == cases[i].instant);
		if (got)
			CHECK(adds == cases[i].adds);
		else
			CHECK(strstr(why, cases[i].why) != NULL);
		alter_info_free(&a);
		err_clear(&err);
	}
	unit_case[0] = '\0';
	return unit_done();
}

/*
 * engine/pg/triggers.c - the ALTER's ENABLE/DISABLE TRIGGER clauses.
 *
 * T's own triggers are not on the shadow while it is filled (they would
 * fire on every copied row); the swap recreates them on the new table. So
 * the clauses that switch them (ENABLE [REPLICA | ALWAYS] TRIGGER,
 * DISABLE TRIGGER, by name or USER) cannot run on the shadow: they are
 * taken out of the statement that alters it, checked against T's triggers
 * as the server would check them, and applied at the swap, in order, to
 * the state each trigger has on T then. ALL would also switch the internal
 * triggers that enforce foreign keys, which shade does not recreate: it is
 * refused.
 */
#include "pgsql.h"

#include <string.h>

/* T's own triggers (not the internal ones of constraints). */
static const char sql_trigger_names[] =
	"SELECT tgname FROM pg_catalog.pg_trigger"
	" WHERE tgrelid = $1::pg_catalog.regclass AND NOT tgisinternal";

/* Is clause i of the ALTER-BODY one of its trigger-state clauses? */
static bool
pgsql_triggers_clause(const struct alter_info *alter, size_t i)
{
	for (size_t k = 0; k < alter->ntriggers; k++)
		if (alter->triggers[k].clause == i)
			return true;
	return false;
}

int
pgsql_triggers_check(struct eng *e, const struct alter_info *alter, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	int rc = -1;

	if (alter->ntriggers == 0)
		return 0;
	if (pgsql_exec(e, sql_trigger_names, 1, params, &res, err) != 0)
		goto out;
	for (size_t k = 0; k < alter->ntriggers; k++) {
		const struct alter_trigger *t = &alter->triggers[k];
		bool found = false;

		if (t->all) {
			err_set(err, SHADE_USAGE,
				"ENABLE/DISABLE TRIGGER ALL also switches the internal triggers that "
				"enforce foreign keys, which shade does not carry over: name the "
				"triggers, or say USER");
			goto out;
		}
		for (int i = 0; t->name && i < PQntuples(res); i++)
			found |= strcmp(PQgetvalue(res, i, 0), t->name) == 0;
		if (t->name && !found) {
			/* The server's own words for the plain ALTER. */
			err_set(err, SHADE_USAGE, "the ALTER fails: trigger \"%s\" for table \"%s\" does not exist",
				t->name, e->orig.name);
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

void
pgsql_triggers_alter_sql(struct eng *e, const struct alter_info *alter, const char *alter_body,
			 struct buf *b)
{
	size_t n = 0;

	if (alter->ntriggers == 0) {
		sql_build(b, SQL_PG, "ALTER TABLE %Q %A", &e->shadow, alter_body);
		return;
	}
	for (size_t i = 0; i < alter->clauses.len; i++) {
		if (pgsql_triggers_clause(alter, i))
			continue;
		if (n++ == 0)
			sql_build(b, SQL_PG, "ALTER TABLE %Q ", &e->shadow);
		else
			buf_append(b, ", ");
		sql_build(b, SQL_PG, "%A", alter->clauses.items[i]);
	}
}

char
pgsql_triggers_state(const struct eng *e, const char *name, char state)
{
	const struct alter_info *alter = e->alter;

	for (size_t k = 0; alter && k < alter->ntriggers; k++)
		if (alter->triggers[k].name == NULL || strcmp(alter->triggers[k].name, name) == 0)
			state = alter->triggers[k].state;
	return state;
}

/*
 * engine/engines.c - the engines shade has, by the kind of DSN that selects
 * them. The only place that names them: the migration asks engine_for().
 */
#include "engine.h"

extern const struct engine engine_pg;
extern const struct engine engine_mysql;

static const struct engine *const engines[] = {
	[DSN_PG] = &engine_pg,
	[DSN_MYSQL] = &engine_mysql,
};

const struct engine *
engine_for(enum dsn_kind kind)
{
	if ((size_t)kind >= ARRAY_LEN(engines) || engines[kind] == NULL)
		die("internal error: no engine for DSN kind %d", (int)kind);
	return engines[kind];
}

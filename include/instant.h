/*
 * instant.h - whether PostgreSQL could make an ALTER-BODY in its catalog
 * alone, without rewriting or scanning the table, judged from its clauses.
 * Conservative: a clause it does not know for certain is "no". Pure
 * (tests/unit/test_instant.c); the engine checks in the catalog what the
 * text cannot tell (engine/pg/instant.c).
 */
#ifndef SHADE_INSTANT_H
#define SHADE_INSTANT_H

#include <stdbool.h>
#include <stddef.h>

#include "alter.h"

/*
 * True when every clause of a is one of:
 *   DROP [COLUMN] [IF EXISTS] c [RESTRICT | CASCADE]
 *   ALTER [COLUMN] c SET DEFAULT expr | DROP DEFAULT | DROP NOT NULL
 *   RENAME [COLUMN] a TO b
 *   ADD [COLUMN] [IF NOT EXISTS] c type [DEFAULT expr] [NOT NULL | NULL]
 *     with no constraint, collation, identity or generated column
 * *adds is then set when an ADD COLUMN is among them: whether its default
 * is non-volatile and its type no domain is for the catalog to tell. False,
 * with why ("`ALTER COLUMN qty TYPE bigint`: ..."), otherwise.
 */
bool instant_pg_clauses(const struct alter_info *a, bool *adds, char *why, size_t len);

#endif

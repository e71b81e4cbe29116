/*
 * alter.h - what shade needs to know about an ALTER-BODY without being a SQL
 * parser: that it is one statement's worth of text (no `;` outside quotes,
 * comments and dollar quotes), its top-level clauses, the column renames it
 * states (so renamed columns are copied), and the clauses shade refuses
 * (renaming the table itself, which would break the swap).
 */
#ifndef SHADE_ALTER_H
#define SHADE_ALTER_H

#include "sql.h"
#include "util.h"

struct alter_rename {
	char *from;
	char *to;
};

/*
 * PostgreSQL `ALTER [COLUMN] c [SET DATA] TYPE t ... USING expr`: the ALTER
 * checks expr on the empty shadow, the copy must compute it for every row.
 */
struct alter_using {
	char *column;  /* unquoted, folded */
	char *expr;    /* the expression as written, over T's columns */
};

/*
 * PostgreSQL `ENABLE [REPLICA | ALWAYS] TRIGGER t`, `DISABLE TRIGGER t`:
 * the shadow has no triggers of T's (they would fire on the copy), so
 * these clauses are not run on it; the swap gives T's triggers the state
 * they leave.
 */
struct alter_trigger {
	size_t clause;  /* its index in clauses */
	char state;     /* pg_trigger.tgenabled: 'O' enable, 'D' disable,
			   'R' enable replica, 'A' enable always */
	char *name;     /* the trigger, unquoted and folded; NULL for USER
			   (every trigger of the table's own) and for ALL */
	bool all;       /* ALL: the internal triggers of constraints too */
};

struct alter_info {
	struct strlist clauses;        /* top-level clauses, trimmed, as written */
	struct alter_rename *renames;  /* column renames, identifiers unquoted
					  and folded as the dialect folds */
	size_t nrenames;
	struct alter_using *usings;
	size_t nusings;
	struct alter_trigger *triggers;
	size_t ntriggers;
	struct strlist dropped;        /* columns the body drops (DROP [COLUMN]
					  [IF EXISTS] c), unquoted and folded:
					  a column the body adds back under
					  the same name is a new column */
};

/*
 * Check and split body. Returns 0, or -1 with err (status SHADE_USAGE) for:
 * an empty body; text after a `;` outside quotes (a second statement); an
 * unterminated quote or comment; RENAME TO / RENAME AS (renaming the table).
 * Renames understood: PostgreSQL `RENAME [COLUMN] a TO b`; MySQL
 * `RENAME COLUMN a TO b` and `CHANGE [COLUMN] a b <definition>`. Type changes
 * with USING (PostgreSQL) are recorded in usings, dropped columns in dropped.
 */
int alter_parse(const char *body, enum sql_dialect d, struct alter_info *out,
		struct shade_err *err) WARN_UNUSED;
void alter_info_free(struct alter_info *a);

/*
 * A name the ALTER-BODY may give to one of the table's indexes, and the
 * name to run it under instead (PostgreSQL: the shadow's twin of that
 * index). constraint: the index backs a constraint of the same name, so
 * the name is also mapped where the body names a constraint.
 */
struct alter_name_map {
	const char *from;  /* as the server stores it */
	const char *to;
	bool constraint;
};

/*
 * Append body to out, byte for byte, except each identifier in a name
 * position that one of map's n entries names, replaced by its `to`, quoted
 * for d: a constraint position (after CONSTRAINT [IF EXISTS]: DROP,
 * RENAME, VALIDATE, ALTER and ADD CONSTRAINT) maps entries marked
 * constraint, an index position (after CLUSTER ON and USING INDEX) maps
 * every entry. Returns 0, or -1 with err if body does not lex (alter_parse
 * accepted it already, so that is a bug).
 */
int alter_map_names(const char *body, enum sql_dialect d, const struct alter_name_map *map,
		    size_t n, struct buf *out, struct shade_err *err) WARN_UNUSED;

#endif

/*
 * sql.h - the one place identifiers become SQL text.
 *
 * Every identifier that shade writes into a statement passes through
 * sql_ident() (directly or through sql_build's %I/%Q/%L conversions), so a
 * grep for the dialects' quote characters in src/engine proves there is no
 * other path. Values never go into SQL text: they are bound parameters.
 */
#ifndef SHADE_SQL_H
#define SHADE_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum sql_dialect {
	SQL_PG,    /* "ident", "" doubles a quote, 63-byte names */
	SQL_MYSQL, /* `ident`, `` doubles a quote, 64-character names */
};

/* A schema-qualified name; schema may be NULL (MySQL: the DSN's database). */
struct qname {
	char *schema;
	char *name;
};

void qname_free(struct qname *q);
void qname_copy(struct qname *dst, const struct qname *src);

/*
 * Longest identifier the server keeps: bytes on PostgreSQL, characters on
 * MySQL (measure with sql_ident_len).
 */
size_t sql_ident_max(enum sql_dialect d);

/*
 * How long the first n bytes of s are in the unit sql_ident_max counts:
 * bytes on PostgreSQL, characters (UTF-8 sequences) on MySQL.
 */
size_t sql_ident_len(enum sql_dialect d, const char *s, size_t n);

/*
 * Append name, quoted for dialect d, to b. Dies if name is empty or not valid
 * UTF-8: callers validate user input first (ident_parse), so that would be a
 * bug, never bad input.
 */
void sql_ident(struct buf *b, enum sql_dialect d, const char *name);

/*
 * Append a statement built from fmt. Conversions:
 *   %I  const char *            one identifier, quoted
 *   %Q  const struct qname *    schema.name, each part quoted
 *   %L  const struct strlist *  identifiers, quoted, joined by ", "
 *   %P  const char *prefix, const struct strlist *  prefix.col, ... (prefix
 *       is an alias written as is, e.g. "o"; it must be a plain word)
 *   %s  const char *            trusted SQL text (built here or returned by
 *                               the server's own catalog functions)
 *   %A  const char *            SQL the operator wrote in --alter: the
 *                               ALTER-BODY or one of its USING expressions.
 *                               SQL by definition, checked by alter_parse();
 *                               this is its one way into a statement
 *                               (scripts/check-banned.sh proves it)
 *   %d  int,  %l  long long,  %u  unsigned
 *   %%  a percent sign
 * Anything else is a programming error and dies.
 */
void sql_build(struct buf *b, enum sql_dialect d, const char *fmt, ...);

/*
 * The name of a helper object derived from table: "_<table><suffix>", e.g.
 * "_items_new". When it would pass the dialect's identifier limit, the table
 * part is shortened (at a UTF-8 boundary) and "_<8 hex digits of a hash of the
 * whole table name>" is inserted before the suffix, so two long names that
 * share a prefix still get different helper names. Caller frees.
 */
char *sql_derived_name(enum sql_dialect d, const char *table, const char *suffix);

/*
 * The hash sql_derived_name() puts into shortened names (32-bit FNV-1a of
 * the whole name), for other short names that must stay distinct.
 */
unsigned sql_name_hash(const char *name);

#endif

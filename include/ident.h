/*
 * ident.h - parse a table name written as in the server's own SQL.
 *
 * `items`, `public.items`, `"Order Items"`, `sales."Order Items"` on
 * PostgreSQL (unquoted parts fold to lower case); `items`, `shop.items`,
 * `` `Order Items` `` on MySQL (no folding: the server decides). The name is
 * parsed, never pasted into SQL: `items; DROP TABLE x` is not a name.
 */
#ifndef SHADE_IDENT_H
#define SHADE_IDENT_H

#include "sql.h"
#include "util.h"

/*
 * Read the quoted identifier that starts at s: s[0] is its quote character
 * (" or `), doubled inside the name to stand for itself. Returns the name
 * unquoted (caller frees) and sets *end past the closing quote; NULL when
 * the quote is never closed. The one place shade unquotes a name, whether
 * the operator wrote it or the server did (SHOW CREATE TABLE).
 */
char *ident_unquote(const char *s, const char **end);

/*
 * Parse s into out (schema NULL when not given). Returns 0, or -1 with err
 * (status SHADE_USAGE) saying why the text is not a table name.
 */
int ident_parse(const char *s, enum sql_dialect d, struct qname *out,
		struct shade_err *err) WARN_UNUSED;

#endif

/*
 * test_ident.c - --table parsing: what each server would read as a table
 * name, and the refusal of everything else (smuggled statements included).
 */
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "unit.h"

#define L63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
#define L64 L63 "l"

static const struct {
	enum sql_dialect d;
	const char *in;
	const char *schema; /* NULL: none */
	const char *name;
} good[] = {
	{SQL_PG, "items", NULL, "items"},
	{SQL_PG, "Items", NULL, "items"},
	{SQL_PG, "ITEMS_2024", NULL, "items_2024"},
	{SQL_PG, "public.items", "public", "items"},
	{SQL_PG, "Public.Items", "public", "items"},
	{SQL_PG, "\"Order Items\"", NULL, "Order Items"},
	{SQL_PG, "sales.\"Order Items\"", "sales", "Order Items"},
	{SQL_PG, "\"Sales\".items", "Sales", "items"},
	{SQL_PG, "\"a.b\"", NULL, "a.b"},
	{SQL_PG, "\"a\"\"b\"", NULL, "a\"b"},
	{SQL_PG, "\"\"\"\"", NULL, "\""},
	{SQL_PG, "\"items; DROP TABLE x\"", NULL, "items; DROP TABLE x"},
	{SQL_PG, "_private", NULL, "_private"},
	{SQL_PG, "t$1", NULL, "t$1"},
	{SQL_PG, "Ünïcødé", NULL, "Ünïcødé"}, /* ASCII-only folding */
	{SQL_PG, "ÉTÉ_Table", NULL, "ÉtÉ_table"}, /* only the ASCII T folds */
	{SQL_PG, "表格", NULL, "表格"},
	{SQL_PG, "  items  ", NULL, "items"},
	{SQL_PG, "public . items", "public", "items"},
	{SQL_PG, "\"with `backtick`\"", NULL, "with `backtick`"},
	{SQL_PG, "\"  spaced  \"", NULL, "  spaced  "},
	{SQL_PG, L63, NULL, L63},
	{SQL_PG, "s." L63, "s", L63},
	{SQL_MYSQL, "items", NULL, "items"},
	{SQL_MYSQL, "Items", NULL, "Items"},
	{SQL_MYSQL, "shop.items", "shop", "items"},
	{SQL_MYSQL, "Shop.Items", "Shop", "Items"},
	{SQL_MYSQL, "`Order Items`", NULL, "Order Items"},
	{SQL_MYSQL, "shop.`Order Items`", "shop", "Order Items"},
	{SQL_MYSQL, "`a``b`", NULL, "a`b"},
	{SQL_MYSQL, "`a\"b`", NULL, "a\"b"},
	{SQL_MYSQL, "`a.b`.`c.d`", "a.b", "c.d"},
	{SQL_MYSQL, "1items", NULL, "1items"},
	{SQL_MYSQL, "2024_orders", NULL, "2024_orders"},
	{SQL_MYSQL, "$price", NULL, "$price"},
	{SQL_MYSQL, "`123`", NULL, "123"},
	{SQL_MYSQL, "`items; DROP TABLE x`", NULL, "items; DROP TABLE x"},
	{SQL_MYSQL, "ünïcødé", NULL, "ünïcødé"},
	{SQL_MYSQL, L64, NULL, L64},
	/* 64 two-byte characters: 128 bytes, still 64 characters. */
	{SQL_MYSQL, "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
	 NULL, "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"},
};

static const struct {
	enum sql_dialect d;
	const char *in;
} bad[] = {
	{SQL_PG, ""},
	{SQL_PG, "   "},
	{SQL_PG, "items; DROP TABLE x"},
	{SQL_PG, "items;"},
	{SQL_PG, "items --"},
	{SQL_PG, "items/**/"},
	{SQL_PG, "a.b.c"},
	{SQL_PG, "\"a\".\"b\".\"c\""},
	{SQL_PG, ".items"},
	{SQL_PG, "items."},
	{SQL_PG, "public..items"},
	{SQL_PG, "\"\""},
	{SQL_PG, "\"unterminated"},
	{SQL_PG, "\"a\"\""},
	{SQL_PG, "\"a\"b"},
	{SQL_PG, "a\"b\""},
	{SQL_PG, "order items"},
	{SQL_PG, "1items"},
	{SQL_PG, "$items"},
	{SQL_PG, "`items`"},
	{SQL_PG, "'items'"},
	{SQL_PG, "items(1)"},
	{SQL_PG, "it-ems"},
	{SQL_PG, "bad\xff"},
	{SQL_PG, "\"bad\xc3\""},
	{SQL_PG, L64},
	{SQL_PG, "s." L64},
	{SQL_PG, L64 ".t"},
	{SQL_PG, "ééééééééééééééééééééééééééééééééé"}, /* 66 bytes */
	{SQL_PG, "items\nx"},
	{SQL_MYSQL, ""},
	{SQL_MYSQL, "items; DROP TABLE x"},
	{SQL_MYSQL, "items`; DROP TABLE x; -- `"},
	{SQL_MYSQL, "`items`; DROP TABLE x"},
	{SQL_MYSQL, "a.b.c"},
	{SQL_MYSQL, "shop."},
	{SQL_MYSQL, ".items"},
	{SQL_MYSQL, "``"},
	{SQL_MYSQL, "`unterminated"},
	{SQL_MYSQL, "`a``"},
	{SQL_MYSQL, "\"items\""},
	{SQL_MYSQL, "123"},
	{SQL_MYSQL, "shop.123"},
	{SQL_MYSQL, "order items"},
	{SQL_MYSQL, "it-ems"},
	{SQL_MYSQL, "bad\xff"},
	{SQL_MYSQL, L64 "m"},
	{SQL_MYSQL, "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"},
};

static void
test_good(void)
{
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct shade_err err = {0};
		struct qname q = {0};

		UNIT_CASE("good #%zu %s", i, good[i].in);
		CHECK(ident_parse(good[i].in, good[i].d, &q, &err) == 0);
		CHECK_STREQ(q.schema, good[i].schema);
		CHECK_STREQ(q.name, good[i].name);
		qname_free(&q);
		err_clear(&err);
	}
}

static void
test_bad(void)
{
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct shade_err err = {0};
		struct qname q = {0};

		UNIT_CASE("bad #%zu %s", i, bad[i].in);
		CHECK(ident_parse(bad[i].in, bad[i].d, &q, &err) == -1);
		CHECK(err.status == SHADE_USAGE);
		CHECK(strncmp(err.msg, "unknown table \"", 15) == 0);
		CHECK(strstr(err.msg, "not a valid [schema.]table name") != NULL);
		/* One line, whatever the input held. */
		CHECK(strchr(err.msg, '\n') == NULL);
		CHECK(q.schema == NULL && q.name == NULL);
		err_clear(&err);
	}
}

static void
test_messages(void)
{
	struct shade_err err = {0};
	struct qname q = {0};

	CHECK(ident_parse("items; DROP TABLE x", SQL_PG, &q, &err) == -1);
	CHECK_STREQ(err.msg, "unknown table \"items; DROP TABLE x\": not a valid "
			     "[schema.]table name");
	err_clear(&err);

	CHECK(ident_parse("a\nb", SQL_MYSQL, &q, &err) == -1);
	CHECK_STREQ(err.msg, "unknown table \"a\\x0Ab\": not a valid "
			     "[schema.]table name");
	err_clear(&err);

	CHECK(ident_parse("\"open", SQL_PG, &q, &err) == -1);
	CHECK(strstr(err.msg, "unterminated") != NULL);
	err_clear(&err);

	CHECK(ident_parse(L64, SQL_PG, &q, &err) == -1);
	CHECK(strstr(err.msg, "longer than 63 bytes") != NULL);
	err_clear(&err);

	CHECK(ident_parse("x\xff", SQL_PG, &q, &err) == -1);
	CHECK(strstr(err.msg, "x\\xFF") != NULL);
	CHECK(strstr(err.msg, "UTF-8") != NULL);
	err_clear(&err);
}

int
main(void)
{
	UNIT_RUN(test_good);
	UNIT_RUN(test_bad);
	UNIT_RUN(test_messages);
	return unit_done();
}

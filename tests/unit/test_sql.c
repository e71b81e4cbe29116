/*
 * test_sql.c - identifier quoting, the statement builder and derived names.
 *
 * Expected derived names were computed independently (FNV-1a 32 of the full
 * table name, cut at a character boundary) rather than by this code.
 */
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "unit.h"

static const struct {
	enum sql_dialect d;
	const char *in;
	const char *want;
} ident_cases[] = {
	{SQL_PG, "items", "\"items\""},
	{SQL_PG, "Order Items", "\"Order Items\""},
	{SQL_PG, "a\"b", "\"a\"\"b\""},
	{SQL_PG, "\"", "\"\"\"\""},
	{SQL_PG, "\"\"x\"", "\"\"\"\"\"x\"\"\""},
	{SQL_PG, "back`tick", "\"back`tick\""},
	{SQL_PG, "x; DROP TABLE y; --", "\"x; DROP TABLE y; --\""},
	{SQL_PG, "it's", "\"it's\""},
	{SQL_PG, "ünïcødé", "\"ünïcødé\""},
	{SQL_PG, "表\"格", "\"表\"\"格\""},
	{SQL_PG, "😀", "\"😀\""},
	{SQL_PG, "back\\slash", "\"back\\slash\""},
	{SQL_MYSQL, "items", "`items`"},
	{SQL_MYSQL, "Order Items", "`Order Items`"},
	{SQL_MYSQL, "a`b", "`a``b`"},
	{SQL_MYSQL, "`", "````"},
	{SQL_MYSQL, "``", "``````"},
	{SQL_MYSQL, "dq\"uote", "`dq\"uote`"},
	{SQL_MYSQL, "x` ; DROP TABLE y; -- ", "`x`` ; DROP TABLE y; -- `"},
	{SQL_MYSQL, "ünïcødé`", "`ünïcødé```"},
	{SQL_MYSQL, "back\\slash", "`back\\slash`"},
};

static void
test_ident(void)
{
	for (size_t i = 0; i < ARRAY_LEN(ident_cases); i++) {
		struct buf b = {0};

		UNIT_CASE("sql_ident #%zu %s", i, ident_cases[i].in);
		buf_append(&b, "<");
		sql_ident(&b, ident_cases[i].d, ident_cases[i].in);
		buf_append(&b, ">");
		{
			char *want = xasprintf("<%s>", ident_cases[i].want);

			CHECK_STREQ(buf_str(&b), want);
			free(want);
		}
		buf_free(&b);
	}
	CHECK(sql_ident_max(SQL_PG) == 63);
	CHECK(sql_ident_max(SQL_MYSQL) == 64);
}

static void
test_ident_dies(void)
{
	struct buf b = {0};

	CHECK_DIES(sql_ident(&b, SQL_PG, ""));
	CHECK_DIES(sql_ident(&b, SQL_MYSQL, ""));
	CHECK_DIES(sql_ident(&b, SQL_PG, NULL));
	CHECK_DIES(sql_ident(&b, SQL_PG, "bad\xff"));
	CHECK_DIES(sql_ident(&b, SQL_MYSQL, "cut\xc3"));
	CHECK_DIES(sql_ident(&b, SQL_PG, "\xed\xa0\x80")); /* a surrogate */
	CHECK_DIES(sql_ident(&b, SQL_PG, "\xc0\xaf"));     /* overlong */
	buf_free(&b);
}

static void
test_build(void)
{
	struct qname q = {.schema = "sa\"les", .name = "Order Items"};
	struct qname q_noschema = {.schema = NULL, .name = "items"};
	struct strlist cols = {0}, none = {0};
	struct buf b = {0};

	strlist_push(&cols, "id");
	strlist_push(&cols, "Na\"me");
	strlist_push(&cols, "x`y");

	sql_build(&b, SQL_PG, "SELECT %L FROM %Q WHERE %I > $1", &cols, &q, "id");
	CHECK_STREQ(buf_str(&b), "SELECT \"id\", \"Na\"\"me\", \"x`y\" FROM "
				 "\"sa\"\"les\".\"Order Items\" WHERE \"id\" > $1");

	buf_reset(&b);
	sql_build(&b, SQL_MYSQL, "SELECT %L FROM %Q", &cols, &q);
	CHECK_STREQ(buf_str(&b), "SELECT `id`, `Na\"me`, `x``y` FROM "
				 "`sa\"les`.`Order Items`");

	buf_reset(&b);
	sql_build(&b, SQL_PG, "%Q", &q_noschema);
	CHECK_STREQ(buf_str(&b), "\"items\"");

	buf_reset(&b);
	sql_build(&b, SQL_MYSQL, "%Q", &q_noschema);
	CHECK_STREQ(buf_str(&b), "`items`");

	buf_reset(&b);
	sql_build(&b, SQL_PG, "INSERT INTO t (%L) SELECT %P FROM s o", &cols, "o",
		  &cols);
	CHECK_STREQ(buf_str(&b), "INSERT INTO t (\"id\", \"Na\"\"me\", \"x`y\") "
				 "SELECT o.\"id\", o.\"Na\"\"me\", o.\"x`y\" FROM s o");

	buf_reset(&b);
	sql_build(&b, SQL_MYSQL, "SELECT %P", "_new2", &cols);
	CHECK_STREQ(buf_str(&b), "SELECT _new2.`id`, _new2.`Na\"me`, _new2.`x``y`");

	buf_reset(&b);
	sql_build(&b, SQL_PG, "(%L)(%P)", &none, "o", &none);
	CHECK_STREQ(buf_str(&b), "()()");

	buf_reset(&b);
	sql_build(&b, SQL_PG, "%d %d %l %l %u %u", 0, -42, (long long)-1,
		  9223372036854775807LL, 0u, 4294967295u);
	CHECK_STREQ(buf_str(&b), "0 -42 -1 9223372036854775807 0 4294967295");

	buf_reset(&b);
	sql_build(&b, SQL_PG, "100%% %s%%", "now()");
	CHECK_STREQ(buf_str(&b), "100% now()%");

	buf_reset(&b);
	sql_build(&b, SQL_PG, "");
	CHECK_STREQ(buf_str(&b), "");

	/* Appends: does not reset the buffer. */
	buf_reset(&b);
	buf_append(&b, "A ");
	sql_build(&b, SQL_PG, "%I", "b");
	sql_build(&b, SQL_PG, " %I", "c");
	CHECK_STREQ(buf_str(&b), "A \"b\" \"c\"");

	/* Literal text around conversions is copied byte for byte. */
	buf_reset(&b);
	sql_build(&b, SQL_PG, "COMMENT ON TABLE %Q IS 'ünï'", &q_noschema);
	CHECK_STREQ(buf_str(&b), "COMMENT ON TABLE \"items\" IS 'ünï'");

	buf_free(&b);
	strlist_free(&cols);
}

static void
test_build_dies(void)
{
	struct buf b = {0};
	struct strlist cols = {0};
	struct qname q_empty = {.schema = "", .name = "x"};

	strlist_push(&cols, "id");
	CHECK_DIES(sql_build(&b, SQL_PG, "%x", 1));
	CHECK_DIES(sql_build(&b, SQL_PG, "trailing %"));
	CHECK_DIES(sql_build(&b, SQL_PG, "%S", "x"));
	CHECK_DIES(sql_build(&b, SQL_PG, "%z", (size_t)1));
	CHECK_DIES(sql_build(&b, SQL_PG, "%P", "o;", &cols));
	CHECK_DIES(sql_build(&b, SQL_PG, "%P", "o.x", &cols));
	CHECK_DIES(sql_build(&b, SQL_PG, "%P", "", &cols));
	CHECK_DIES(sql_build(&b, SQL_PG, "%P", "1o", &cols));
	CHECK_DIES(sql_build(&b, SQL_PG, "%I", ""));
	CHECK_DIES(sql_build(&b, SQL_MYSQL, "%I", "\xfe"));
	CHECK_DIES(sql_build(&b, SQL_PG, "%Q", &q_empty));
	CHECK_DIES(sql_build(&b, SQL_PG, "%s", (const char *)NULL));
	buf_free(&b);
	strlist_free(&cols);
}

static void
test_qname(void)
{
	struct qname a = {.schema = "s", .name = "n"}, b, c;
	struct qname n = {.schema = NULL, .name = "only"};

	qname_copy(&b, &a);
	CHECK(b.schema != a.schema && b.name != a.name);
	CHECK_STREQ(b.schema, "s");
	CHECK_STREQ(b.name, "n");
	qname_free(&b);
	CHECK(b.schema == NULL && b.name == NULL);
	qname_free(&b); /* twice is harmless */

	qname_copy(&c, &n);
	CHECK(c.schema == NULL);
	CHECK_STREQ(c.name, "only");
	qname_free(&c);
}

static const struct {
	enum sql_dialect d;
	const char *table;
	const char *suffix;
	const char *want;
} derived_cases[] = {
	{SQL_PG, "items", "_new", "_items_new"},
	{SQL_MYSQL, "items", "_log", "_items_log"},
	{SQL_PG, "Order Items", "_old", "_Order Items_old"},
	/* PostgreSQL, 63 bytes: 1 + 58 + 4 fits exactly, 59 does not. */
	{SQL_PG, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "_new",
	 "_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_new"},
	{SQL_PG, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "_new",
	 "_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_e1afc92a_new"},
	/* Two long names sharing a 60-byte prefix. */
	{SQL_PG, "customer_order_line_item_history_archive_partitioned_by_month_2023_01",
	 "_new", "_customer_order_line_item_history_archive_partitio_931dd662_new"},
	{SQL_PG, "customer_order_line_item_history_archive_partitioned_by_month_2023_02",
	 "_new", "_customer_order_line_item_history_archive_partitio_921dd4cf_new"},
	/* Multi-byte characters at the cut: never split. */
	{SQL_PG, "éééééééééééééééééééééééééééééééééééééééé", "_new",
	 "_éééééééééééééééééééééééé_da5a8f25_new"},
	{SQL_PG, "ééééééééééééééééééééééééééééé", "_new",
	 "_ééééééééééééééééééééééééééééé_new"},
	{SQL_PG, "€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€", "_log",
	 "_€€€€€€€€€€€€€€€€_f8020365_log"},
	{SQL_PG, "x😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", "_old",
	 "_x😀😀😀😀😀😀😀😀😀😀😀😀_917ff407_old"},
	/* MySQL counts characters: 1 + 59 + 4 = 64 fits, 60 does not. */
	{SQL_MYSQL,
	 "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", "_new",
	 "_ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé_new"},
	{SQL_MYSQL,
	 "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", "_new",
	 "_éééééééééééééééééééééééééééééééééééééééééééééééééé_b4a72df5_new"},
	{SQL_MYSQL,
	 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "_new",
	 "_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb_d237d5c5_new"},
};

/* Length in the unit the dialect's limit counts. */
static size_t
test_len(enum sql_dialect d, const char *s)
{
	size_t n = 0;

	if (d == SQL_PG)
		return strlen(s);
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void
test_derived(void)
{
	for (size_t i = 0; i < ARRAY_LEN(derived_cases); i++) {
		char *got = sql_derived_name(derived_cases[i].d,
					     derived_cases[i].table,
					     derived_cases[i].suffix);

		UNIT_CASE("derived #%zu %s%s", i, derived_cases[i].table,
			  derived_cases[i].suffix);
		CHECK_STREQ(got, derived_cases[i].want);
		CHECK(test_len(derived_cases[i].d, got) <=
		      sql_ident_max(derived_cases[i].d));
		CHECK(utf8_valid(got, strlen(got)));
		free(got);
	}
}

/*
 * Sweep: every length from short to far past the limit, with 1-, 2-, 3- and
 * 4-byte characters, for both dialects: always within the limit, valid
 * UTF-8, ends with the suffix, and distinct from its neighbours.
 */
static void
test_derived_sweep(void)
{
	static const char *unit[] = {"a", "é", "€", "😀"};
	enum sql_dialect ds[] = {SQL_PG, SQL_MYSQL};

	for (size_t di = 0; di < ARRAY_LEN(ds); di++) {
		for (size_t u = 0; u < ARRAY_LEN(unit); u++) {
			struct strlist seen = {0};
			struct buf t = {0};

			buf_append(&t, "t");
			for (int n = 0; n < 90; n++) {
				char *got = sql_derived_name(ds[di], buf_str(&t),
							     "_new");
				size_t gl = strlen(got);

				UNIT_CASE("sweep d=%d unit=%s n=%d", (int)ds[di],
					  unit[u], n);
				if (test_len(ds[di], got) > sql_ident_max(ds[di]) ||
				    !utf8_valid(got, gl) || gl < 4 ||
				    strcmp(got + gl - 4, "_new") != 0 ||
				    strlist_find(&seen, got) >= 0)
					CHECK(!"derived name in range, valid, unique");
				else
					unit_passed++;
				strlist_push_take(&seen, got);
				buf_append(&t, unit[u]);
			}
			strlist_free(&seen);
			buf_free(&t);
		}
	}
	/* Deterministic: the same table always gets the same name. */
	{
		const char *t = "a_very_long_table_name_that_will_not_fit_in_"
				"sixty_three_bytes_anywhere";
		char *x = sql_derived_name(SQL_PG, t, "_log");
		char *y = sql_derived_name(SQL_PG, t, "_log");
		char *z = sql_derived_name(SQL_PG, t, "_new");

		CHECK_STREQ(x, y);
		CHECK(strcmp(x, z) != 0);
		free(x);
		free(y);
		free(z);
	}
}

int
main(void)
{
	UNIT_RUN(test_ident);
	UNIT_RUN(test_ident_dies);
	UNIT_RUN(test_build);
	UNIT_RUN(test_build_dies);
	UNIT_RUN(test_qname);
	UNIT_RUN(test_derived);
	UNIT_RUN(test_derived_sweep);
	return unit_done();
}

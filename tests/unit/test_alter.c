/*
 * test_alter.c - the ALTER-BODY lexer: clause splitting, column renames, and
 * the refusals (a smuggled second statement, renaming the table, anything
 * unterminated). Smuggling cases are built so that a lexer which gets one
 * corner of the server's rules wrong would miss the `;`.
 */
#include <stdlib.h>
#include <string.h>

#include "alter.h"
#include "unit.h"

#define PG SQL_PG
#define MY SQL_MYSQL

/* Expected clauses and renames are joined with " | "; renames as "from>to". */
static const struct {
	enum sql_dialect d;
	const char *body;
	const char *clauses;
	const char *renames;
} good[] = {
	{PG, "ADD COLUMN flag int NOT NULL DEFAULT 0, DROP COLUMN note",
	 "ADD COLUMN flag int NOT NULL DEFAULT 0 | DROP COLUMN note", ""},
	{PG, "ADD COLUMN c numeric(10,2) DEFAULT 1.5, ADD CONSTRAINT ck CHECK "
	     "(c > 0 AND c IN (1,2,3))",
	 "ADD COLUMN c numeric(10,2) DEFAULT 1.5 | ADD CONSTRAINT ck CHECK "
	 "(c > 0 AND c IN (1,2,3))", ""},
	{PG, "ADD COLUMN s text DEFAULT 'a;b,c'",
	 "ADD COLUMN s text DEFAULT 'a;b,c'", ""},
	{PG, "ADD COLUMN s text DEFAULT 'it''s; fine', DROP t",
	 "ADD COLUMN s text DEFAULT 'it''s; fine' | DROP t", ""},
	{PG, "ADD COLUMN \"we;ird,name\" int", "ADD COLUMN \"we;ird,name\" int",
	 ""},
	{PG, "ADD COLUMN \"a\"\"b;\" int", "ADD COLUMN \"a\"\"b;\" int", ""},
	{PG, "ADD COLUMN f text DEFAULT $$a;b$$", "ADD COLUMN f text DEFAULT $$a;b$$",
	 ""},
	{PG, "ADD f text DEFAULT $tag$ $$ ; $ta$ 'x $tag$, DROP x",
	 "ADD f text DEFAULT $tag$ $$ ; $ta$ 'x $tag$ | DROP x", ""},
	{PG, "ADD f text DEFAULT $_1$;$_1$", "ADD f text DEFAULT $_1$;$_1$", ""},
	{PG, "ADD a int -- note; not a statement\n, DROP b", "ADD a int | DROP b",
	 ""},
	{PG, "ADD a int -- trailing; comment", "ADD a int", ""},
	{PG, "/* lead; */ ADD a int /* mid, ; */ NOT NULL",
	 "ADD a int /* mid, ; */ NOT NULL", ""},
	{PG, "ADD a int /* outer /* inner; */ still; comment */, DROP b",
	 "ADD a int | DROP b", ""},
	{PG, "ADD a text DEFAULT E'it\\'s; ok'", "ADD a text DEFAULT E'it\\'s; ok'",
	 ""},
	/* A comment between the lines: no continuation, so '\\' is a standard
	 * string and the ';' is inside the next one. */
	{PG, "ADD a text DEFAULT E'x' /* c */\n'\\' '; DROP TABLE x; --'",
	 "ADD a text DEFAULT E'x' /* c */\n'\\' '; DROP TABLE x; --'", ""},
	{PG, "ADD a text DEFAULT e'\\\\', DROP b",
	 "ADD a text DEFAULT e'\\\\' | DROP b", ""},
	{PG, "ADD a text DEFAULT E'x'\n'\\' ; still, string'",
	 "ADD a text DEFAULT E'x'\n'\\' ; still, string'", ""},
	{PG, "ADD a text DEFAULT E'x' -- c\n  '\\' ; still, string'",
	 "ADD a text DEFAULT E'x' -- c\n  '\\' ; still, string'", ""},
	/* A standard string: the backslash is an ordinary character. */
	{PG, "ADD a text DEFAULT 'x\\', b int", "ADD a text DEFAULT 'x\\' | b int",
	 ""},
	{PG, "ADD a int[] DEFAULT ARRAY[1,2,3], DROP b",
	 "ADD a int[] DEFAULT ARRAY[1,2,3] | DROP b", ""},
	{PG, "ALTER COLUMN a TYPE bigint USING a::bigint, ALTER COLUMN b SET "
	     "DEFAULT now()",
	 "ALTER COLUMN a TYPE bigint USING a::bigint | ALTER COLUMN b SET "
	 "DEFAULT now()", ""},
	{PG, "  \n ADD a int \n ", "ADD a int", ""},
	{PG, "ADD COLUMN x$a$ int, DROP y$", "ADD COLUMN x$a$ int | DROP y$", ""},
	{PG, "ADD COLUMN ünï text DEFAULT '表;'", "ADD COLUMN ünï text DEFAULT '表;'",
	 ""},
	{PG, "ADD a text DEFAULT '/*', DROP b", "ADD a text DEFAULT '/*' | DROP b",
	 ""},
	{PG, "ADD a text DEFAULT '--', DROP b", "ADD a text DEFAULT '--' | DROP b",
	 ""},
	{PG, "ADD a text DEFAULT U&'d\\0061t\\+000061', DROP b",
	 "ADD a text DEFAULT U&'d\\0061t\\+000061' | DROP b", ""},
	{PG, "ADD a int DEFAULT 1e5, ADD b float DEFAULT 1.5E-3",
	 "ADD a int DEFAULT 1e5 | ADD b float DEFAULT 1.5E-3", ""},
	{PG, "ADD a int GENERATED ALWAYS AS (b # 1) STORED",
	 "ADD a int GENERATED ALWAYS AS (b # 1) STORED", ""},
	/* PostgreSQL renames */
	{PG, "RENAME COLUMN Old TO New", "RENAME COLUMN Old TO New", "old>new"},
	{PG, "RENAME old TO new", "RENAME old TO new", "old>new"},
	{PG, "rename column a to b", "rename column a to b", "a>b"},
	{PG, "RENAME COLUMN \"Old Name\" TO \"New\"\"Name\"",
	 "RENAME COLUMN \"Old Name\" TO \"New\"\"Name\"", "Old Name>New\"Name"},
	{PG, "RENAME \"to\" TO \"column\"", "RENAME \"to\" TO \"column\"",
	 "to>column"},
	{PG, "RENAME /* c */ COLUMN ünï -- x\n TO ÜNÏ_B",
	 "RENAME /* c */ COLUMN ünï -- x\n TO ÜNÏ_B", "ünï>ÜnÏ_b"},
	{PG, "RENAME CONSTRAINT c1 TO c2", "RENAME CONSTRAINT c1 TO c2", ""},
	{PG, "ADD rename_me int, DROP COLUMN renamed",
	 "ADD rename_me int | DROP COLUMN renamed", ""},
	/* MySQL */
	{MY, "ADD COLUMN flag INT NOT NULL DEFAULT 0, DROP COLUMN note",
	 "ADD COLUMN flag INT NOT NULL DEFAULT 0 | DROP COLUMN note", ""},
	{MY, "ADD COLUMN s VARCHAR(10) DEFAULT 'it\\'s; x'",
	 "ADD COLUMN s VARCHAR(10) DEFAULT 'it\\'s; x'", ""},
	{MY, "ADD s TEXT DEFAULT 'x\\'; DROP TABLE t; -- '",
	 "ADD s TEXT DEFAULT 'x\\'; DROP TABLE t; -- '", ""},
	{MY, "ADD COLUMN s VARCHAR(10) DEFAULT \"a;b\", DROP c",
	 "ADD COLUMN s VARCHAR(10) DEFAULT \"a;b\" | DROP c", ""},
	{MY, "ADD s TEXT DEFAULT \"q\\\";\"\";\"", "ADD s TEXT DEFAULT \"q\\\";\"\";\"",
	 ""},
	{MY, "ADD COLUMN `we;ird` INT", "ADD COLUMN `we;ird` INT", ""},
	{MY, "ADD COLUMN `a``b;\\` INT", "ADD COLUMN `a``b;\\` INT", ""},
	{MY, "ADD a INT # comment; here\n, DROP b", "ADD a INT | DROP b", ""},
	{MY, "ADD a INT -- comment; here\n, DROP b", "ADD a INT | DROP b", ""},
	{MY, "ADD a INT --\t; tab\n, DROP b", "ADD a INT | DROP b", ""},
	{MY, "ADD a INT DEFAULT 1--1, DROP b", "ADD a INT DEFAULT 1--1 | DROP b",
	 ""},
	{MY, "ADD a INT /* x; /* y; */, DROP b", "ADD a INT | DROP b", ""},
	{MY, "ADD a ENUM('x,y','z'), ALGORITHM=INPLACE, LOCK=NONE",
	 "ADD a ENUM('x,y','z') | ALGORITHM=INPLACE | LOCK=NONE", ""},
	{MY, "ADD COLUMN $a$ INT, DROP b", "ADD COLUMN $a$ INT | DROP b", ""},
	{MY, "ADD COLUMN 2nd INT", "ADD COLUMN 2nd INT", ""},
	/* MySQL renames: no folding */
	{MY, "RENAME COLUMN Abc TO Def", "RENAME COLUMN Abc TO Def", "Abc>Def"},
	{MY, "rename column `a b` to `c``d`", "rename column `a b` to `c``d`",
	 "a b>c`d"},
	{MY, "CHANGE a b INT", "CHANGE a b INT", "a>b"},
	{MY, "CHANGE COLUMN `Old` `New` INT NOT NULL",
	 "CHANGE COLUMN `Old` `New` INT NOT NULL", "Old>New"},
	{MY, "CHANGE a a BIGINT", "CHANGE a a BIGINT", ""},
	{MY, "change column a A bigint", "change column a A bigint", "a>A"},
	{MY, "CHANGE COLUMN IF EXISTS a b INT", "CHANGE COLUMN IF EXISTS a b INT",
	 "a>b"},
	{MY, "RENAME INDEX i1 TO i2, RENAME KEY k1 TO k2",
	 "RENAME INDEX i1 TO i2 | RENAME KEY k1 TO k2", ""},
	{MY, "CHANGE a b INT, RENAME COLUMN c TO d, ADD e INT, MODIFY f TEXT",
	 "CHANGE a b INT | RENAME COLUMN c TO d | ADD e INT | MODIFY f TEXT",
	 "a>b | c>d"},
	{MY, "MODIFY a BIGINT, ALTER COLUMN b SET DEFAULT 'RENAME TO x'",
	 "MODIFY a BIGINT | ALTER COLUMN b SET DEFAULT 'RENAME TO x'", ""},
};

static const struct {
	enum sql_dialect d;
	const char *body;
	const char *msg; /* a part of the message */
} bad[] = {
	{PG, "", "empty"},
	{PG, "   \n\t", "empty"},
	{PG, "-- only a comment", "empty"},
	{PG, "/* ; */", "empty"},
	{PG, "ADD a int; DROP TABLE items", "found ';'"},
	{PG, "ADD a int;", "found ';'"},
	{PG, "ADD a int; -- trailing", "found ';'"},
	{PG, "ADD a int;\n  ", "found ';'"},
	{PG, "ADD a int /* c */ ; /* d */", "found ';'"},
	{PG, ";", "found ';'"},
	{PG, "ADD a text DEFAULT 'unterminated", "unterminated quoted string"},
	{PG, "ADD \"unterminated int", "unterminated quoted identifier"},
	{PG, "ADD a int /* unterminated", "unterminated /* comment"},
	{PG, "ADD a int /* /* nested */ unterminated", "unterminated /* comment"},
	{PG, "ADD a text DEFAULT $x$ ;", "unterminated dollar"},
	{PG, "ADD a text DEFAULT $x$ ; $X$", "unterminated dollar"},
	{PG, "ADD a text DEFAULT E'\\'", "unterminated quoted string"},
	/* smuggling: each needs the server's exact rule to see the ';' */
	{PG, "ADD a int /* /* */ ' */ ; DROP TABLE t; -- '", "found ';'"},
	{PG, "ADD a text DEFAULT E'\\' '; DROP TABLE x; --'", "found ';'"},
	{PG, "ADD a text DEFAULT E'a'\n'\\' '; DROP TABLE x; --'", "found ';'"},
	{PG, "ADD a text DEFAULT 'x\\'; DROP TABLE t; -- '", "found ';'"},
	{PG, "ADD x$a$ int; DROP TABLE y; -- $a$", "found ';'"},
	{PG, "ADD a int DEFAULT 1$$;$$; DROP TABLE x", "found ';'"},
	{PG, "ADD a int # 1; DROP TABLE x", "found ';'"},
	/* the table itself */
	{PG, "RENAME TO items2", "renaming the table is not allowed"},
	{PG, "rename to x", "swaps the tables itself"},
	{PG, "ADD a int, RENAME TO x", "renaming the table is not allowed"},
	{PG, "SET SCHEMA other", "SET SCHEMA"},
	/* clauses */
	{PG, "ADD a int,, DROP b", "empty clause"},
	{PG, "ADD a int,", "empty clause"},
	{PG, ", ADD a int", "empty clause"},
	{PG, "ADD a int, -- nothing\n", "empty clause"},
	{PG, "ADD a numeric(10,2", "unbalanced"},
	{PG, "ADD a int)", "unbalanced"},
	{PG, "ADD a int) (", "unbalanced"},
	{PG, "ADD a int[1", "unbalanced"},
	/* renames shade cannot follow: refused, not silently dropped */
	{PG, "RENAME a b", "cannot read a column rename"},
	{PG, "RENAME COLUMN a TO", "cannot read a column rename"},
	{PG, "RENAME COLUMN a TO b c", "cannot read a column rename"},
	{PG, "RENAME U&\"a\" TO b", "cannot read a column rename"},
	{PG, "RENAME", "cannot read a column rename"},
	{PG, "RENAME 'a' TO b", "cannot read a column rename"},
	{PG, "ADD a\xff int", "UTF-8"},
	/* MySQL */
	{MY, "", "empty"},
	{MY, "# only a comment\n-- and another", "empty"},
	{MY, "ADD a INT; DROP TABLE x", "found ';'"},
	{MY, "ADD a INT;", "found ';'"},
	{MY, "ADD a INT DEFAULT 1--1; DROP TABLE x", "found ';'"},
	{MY, "ADD a INT #\n; DROP TABLE x", "found ';'"},
	{MY, "ADD a INT /* x /* y */ ; */", "found ';'"},
	{MY, "ADD a TEXT DEFAULT $$;$$", "found ';'"},
	{MY, "ADD `a` INT DEFAULT 'x'; DROP TABLE t", "found ';'"},
	{MY, "ADD a TEXT DEFAULT 'a\\'", "unterminated quoted string"},
	{MY, "ADD a TEXT DEFAULT \"a\\\"", "unterminated quoted string"},
	{MY, "ADD `x INT", "unterminated quoted identifier"},
	{MY, "ADD a INT /* x", "unterminated /* comment"},
	{MY, "/*!50000 ADD a INT */", "executable comment"},
	{MY, "ADD a INT /*M!100000 , DROP b */", "executable comment"},
	{MY, "RENAME TO x", "renaming the table is not allowed"},
	{MY, "RENAME AS x", "renaming the table is not allowed"},
	{MY, "RENAME x", "renaming the table is not allowed"},
	{MY, "RENAME `column`", "renaming the table is not allowed"},
	{MY, "rename to shop.x", "renaming the table is not allowed"},
	{MY, "ADD a INT, RENAME TO x", "renaming the table is not allowed"},
	{MY, "RENAME", "renaming the table is not allowed"},
	{MY, "CHANGE a", "cannot read a column rename"},
	{MY, "CHANGE a b", "cannot read a column rename"},
	{MY, "CHANGE COLUMN 'a' b INT", "cannot read a column rename"},
	{MY, "CHANGE 123 b INT", "cannot read a column rename"},
	{MY, "RENAME COLUMN a b", "cannot read a column rename"},
	{MY, "RENAME COLUMN a TO b, RENAME COLUMN \"c\" TO d",
	 "cannot read a column rename"},
	{MY, "ADD a INT,, DROP b", "empty clause"},
	{MY, "ADD a ENUM('x'", "unbalanced"},
};

static void
test_good(void)
{
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct shade_err err = {0};
		struct alter_info a;
		struct buf cl = {0}, rn = {0};

		UNIT_CASE("good #%zu %s", i, good[i].body);
		CHECK(alter_parse(good[i].body, good[i].d, &a, &err) == 0);
		if (err.msg[0])
			printf("     error: %s\n", err.msg);
		for (size_t k = 0; k < a.clauses.len; k++)
			buf_printf(&cl, "%s%s", k ? " | " : "", a.clauses.items[k]);
		for (size_t k = 0; k < a.nrenames; k++)
			buf_printf(&rn, "%s%s>%s", k ? " | " : "", a.renames[k].from,
				   a.renames[k].to);
		CHECK_STREQ(buf_str(&cl), good[i].clauses);
		CHECK_STREQ(buf_str(&rn), good[i].renames);
		alter_info_free(&a);
		CHECK(a.clauses.len == 0 && a.renames == NULL && a.nrenames == 0);
		buf_free(&cl);
		buf_free(&rn);
		err_clear(&err);
	}
}

static void
test_bad(void)
{
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct shade_err err = {0};
		struct alter_info a;

		UNIT_CASE("bad #%zu %s", i, bad[i].body);
		CHECK(alter_parse(bad[i].body, bad[i].d, &a, &err) == -1);
		CHECK(err.status == SHADE_USAGE);
		if (strstr(err.msg, bad[i].msg) == NULL) {
			CHECK(!"message holds the expected text");
			printf("     message: %s\n     wanted: %s\n", err.msg,
			       bad[i].msg);
		} else {
			unit_passed++;
		}
		CHECK(strchr(err.msg, '\n') == NULL);
		/* Nothing is left for the caller to free. */
		CHECK(a.clauses.len == 0 && a.renames == NULL && a.nrenames == 0);
		err_clear(&err);
	}
}

static void
test_messages(void)
{
	struct shade_err err = {0};
	struct alter_info a;

	CHECK(alter_parse("ADD a int; DROP TABLE x", SQL_PG, &a, &err) == -1);
	CHECK_STREQ(err.msg, "the ALTER-BODY must be one ALTER TABLE's clauses: "
			     "found ';' (a second statement?)");
	err_clear(&err);

	CHECK(alter_parse("RENAME TO x", SQL_MYSQL, &a, &err) == -1);
	CHECK(strstr(err.msg, "shade swaps the tables itself") != NULL);
	CHECK(strstr(err.msg, "renaming the table is not allowed") != NULL);
	err_clear(&err);

	/* The same text reads differently per dialect. */
	CHECK(alter_parse("ADD s TEXT DEFAULT 'x\\'; DROP TABLE t; -- '", SQL_MYSQL,
			  &a, &err) == 0);
	alter_info_free(&a);
	CHECK(alter_parse("ADD s TEXT DEFAULT 'x\\'; DROP TABLE t; -- '", SQL_PG, &a,
			  &err) == -1);
	err_clear(&err);
}

/*
 * Every prefix of a valid body must be either accepted or refused cleanly
 * (no crash, no read past the end: the sanitizer build checks that).
 */
/* PostgreSQL type changes with USING: the copy must compute the expression. */
static const struct {
	const char *body;
	const char *column;  /* NULL: no USING recorded */
	const char *expr;
} using_cases[] = {
	{"ALTER COLUMN code TYPE int USING code::int", "code", "code::int"},
	{"ALTER code TYPE int USING code::int + 1", "code", "code::int + 1"},
	{"ALTER COLUMN \"Code X\" SET DATA TYPE bigint USING length(\"Code X\")",
	 "Code X", "length(\"Code X\")"},
	{"alter column Qty type numeric(10, 2) using (qty / 100.0)", "qty", "(qty / 100.0)"},
	{"ADD COLUMN z int, ALTER COLUMN v TYPE text USING v || 'x, y'", "v", "v || 'x, y'"},
	{"ALTER COLUMN v TYPE int", NULL, NULL},
	{"ALTER COLUMN v SET DEFAULT 1", NULL, NULL},
	{"ADD COLUMN u int", NULL, NULL},
};

static void
test_using(void)
{
	for (size_t i = 0; i < ARRAY_LEN(using_cases); i++) {
		struct shade_err err = {0};
		struct alter_info a;

		UNIT_CASE("%s", using_cases[i].body);
		CHECK(alter_parse(using_cases[i].body, SQL_PG, &a, &err) == 0);
		if (using_cases[i].column == NULL) {
			CHECK(a.nusings == 0);
		} else if (a.nusings == 1) {
			CHECK_STREQ(a.usings[0].column, using_cases[i].column);
			CHECK_STREQ(a.usings[0].expr, using_cases[i].expr);
		} else {
			CHECK(a.nusings == 1);
		}
		alter_info_free(&a);
		err_clear(&err);
	}
	UNIT_CASE("%s", "");
}

/* The columns a body drops, joined with " | "; nothing else a DROP names. */
static const struct {
	enum sql_dialect d;
	const char *body;
	const char *dropped;
} drop_cases[] = {
	{PG, "DROP COLUMN note", "note"},
	{PG, "DROP note, ADD COLUMN note text", "note"},
	{PG, "DROP COLUMN IF EXISTS \"Note\" CASCADE", "Note"},
	{PG, "DROP Note", "note"},
	{PG, "DROP CONSTRAINT t_pkey, DROP COLUMN a", "a"},
	{PG, "ALTER COLUMN b DROP EXPRESSION, ALTER COLUMN c DROP DEFAULT", ""},
	{PG, "DROP CONSTRAINT IF EXISTS c", ""},
	{MY, "DROP COLUMN note, DROP v", "note | v"},
	{MY, "DROP `Note`, DROP INDEX i, DROP KEY k, DROP PRIMARY KEY", "Note"},
	{MY, "DROP FOREIGN KEY f, DROP CHECK c, DROP CONSTRAINT d", ""},
	{MY, "DROP PARTITION p1", ""},
	{MY, "DROP IF EXISTS x", "x"},
};

static void
test_dropped(void)
{
	for (size_t i = 0; i < ARRAY_LEN(drop_cases); i++) {
		struct shade_err err = {0};
		struct alter_info a;
		struct buf got = {0};

		UNIT_CASE("%s", drop_cases[i].body);
		CHECK(alter_parse(drop_cases[i].body, drop_cases[i].d, &a, &err) == 0);
		for (size_t k = 0; k < a.dropped.len; k++)
			buf_printf(&got, "%s%s", k ? " | " : "", a.dropped.items[k]);
		CHECK_STREQ(buf_str(&got), drop_cases[i].dropped);
		buf_free(&got);
		alter_info_free(&a);
		err_clear(&err);
	}
	UNIT_CASE("%s", "");
}

/* Trigger-state clauses: "state:name" (USER as "-", ALL as "*") @ clause index. */
static const struct {
	const char *body;
	const char *want;
} trigger_cases[] = {
	{"DISABLE TRIGGER USER", "D:-@0"},
	{"ADD x int, DISABLE TRIGGER \"Touch\", ENABLE TRIGGER ALL", "D:Touch@1 O:*@2"},
	{"ENABLE REPLICA TRIGGER t1, ENABLE ALWAYS TRIGGER T2", "R:t1@0 A:t2@1"},
	{"ENABLE ROW LEVEL SECURITY, DISABLE RULE r", ""},
	{"ENABLE TRIGGER", ""},
};

static void
test_triggers(void)
{
	for (size_t i = 0; i < ARRAY_LEN(trigger_cases); i++) {
		struct shade_err err = {0};
		struct alter_info a;
		struct buf got = {0};

		UNIT_CASE("%s", trigger_cases[i].body);
		CHECK(alter_parse(trigger_cases[i].body, SQL_PG, &a, &err) == 0);
		for (size_t k = 0; k < a.ntriggers; k++)
			buf_printf(&got, "%s%c:%s@%zu", k ? " " : "", a.triggers[k].state,
				   a.triggers[k].all ? "*" : a.triggers[k].name ? a.triggers[k].name : "-",
				   a.triggers[k].clause);
		CHECK_STREQ(buf_str(&got), trigger_cases[i].want);
		buf_free(&got);
		alter_info_free(&a);
		err_clear(&err);
	}
	UNIT_CASE("%s", "");
}

static void
test_prefixes(void)
{
	static const char *bodies[] = {
		"ADD a text DEFAULT E'x\\'y'\n'z', ADD b text DEFAULT $q$ ; $q$ "
		"/* c /* d */ */ -- e\n, RENAME COLUMN \"A\"\"B\" TO c",
		"CHANGE `a``b` c VARCHAR(3) DEFAULT 'x\\'y' # z\n, ADD d INT "
		"DEFAULT \"q\\\"\" /* w */",
	};
	enum sql_dialect ds[] = {SQL_PG, SQL_MYSQL};

	for (size_t b = 0; b < ARRAY_LEN(bodies); b++) {
		size_t n = strlen(bodies[b]);

		for (size_t k = 0; k <= n; k++) {
			char *s = xstrndup(bodies[b], k);
			struct shade_err err = {0};
			struct alter_info a;
			int r = alter_parse(s, ds[b], &a, &err);

			UNIT_CASE("prefix body %zu len %zu", b, k);
			CHECK(r == 0 || (r == -1 && err.status == SHADE_USAGE &&
					 err.msg[0] != '\0'));
			if (r == 0)
				alter_info_free(&a);
			err_clear(&err);
			free(s);
		}
	}
}

/* alter_map_names: names in name positions only, the rest byte for byte. */
static const struct alter_name_map name_map[] = {
	{"t_v_key", "_t_v_key_new", true},
	{"t_pkey", "_t_pkey_new", true},
	{"t_w_idx", "_t_w_idx_new", false},
	{"Odd", "_Odd_new", true},
};

static const struct {
	const char *body, *want;
} map_cases[] = {
	{"DROP CONSTRAINT t_v_key", "DROP CONSTRAINT \"_t_v_key_new\""},
	{"drop constraint if exists T_V_KEY cascade",
	 "drop constraint if exists \"_t_v_key_new\" cascade"},
	{"RENAME CONSTRAINT t_v_key TO t_v_key2", "RENAME CONSTRAINT \"_t_v_key_new\" TO t_v_key2"},
	{"CLUSTER ON t_w_idx", "CLUSTER ON \"_t_w_idx_new\""},
	{"REPLICA IDENTITY USING INDEX t_v_key", "REPLICA IDENTITY USING INDEX \"_t_v_key_new\""},
	/* a plain index is no constraint: a check may have its name */
	{"DROP CONSTRAINT t_w_idx", "DROP CONSTRAINT t_w_idx"},
	/* quoted names compare exactly; bare ones fold */
	{"DROP CONSTRAINT \"Odd\", DROP CONSTRAINT Odd",
	 "DROP CONSTRAINT \"_Odd_new\", DROP CONSTRAINT Odd"},
	/* the same words elsewhere: a column, a string, a comment */
	{"ADD COLUMN t_v_key int DEFAULT 0 /* CONSTRAINT t_v_key */, ALTER t_pkey SET DEFAULT "
	 "'CLUSTER ON t_w_idx'",
	 "ADD COLUMN t_v_key int DEFAULT 0 /* CONSTRAINT t_v_key */, ALTER t_pkey SET DEFAULT "
	 "'CLUSTER ON t_w_idx'"},
	{"DROP CONSTRAINT t_pkey, ADD CONSTRAINT t_pkey PRIMARY KEY (id, k) USING INDEX TABLESPACE x",
	 "DROP CONSTRAINT \"_t_pkey_new\", ADD CONSTRAINT \"_t_pkey_new\" PRIMARY KEY (id, k) "
	 "USING INDEX TABLESPACE x"},
};

static void
test_map_names(void)
{
	for (size_t i = 0; i < ARRAY_LEN(map_cases); i++) {
		struct shade_err err = {0};
		struct buf got = {0};

		UNIT_CASE("%s", map_cases[i].body);
		CHECK(alter_map_names(map_cases[i].body, SQL_PG, name_map, ARRAY_LEN(name_map), &got,
				      &err) == 0);
		CHECK_STREQ(buf_str(&got), map_cases[i].want);
		buf_free(&got);
		err_clear(&err);
	}
	UNIT_CASE("%s", "");
}

int
main(void)
{
	UNIT_RUN(test_good);
	UNIT_RUN(test_bad);
	UNIT_RUN(test_messages);
	UNIT_RUN(test_using);
	UNIT_RUN(test_dropped);
	UNIT_RUN(test_triggers);
	UNIT_RUN(test_prefixes);
	UNIT_RUN(test_map_names);
	return unit_done();
}

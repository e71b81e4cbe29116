/*
 * test_dsn.c - which server a DSN names, the mysql:// parser, and that no
 * error message ever repeats a DSN (or its password).
 */
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "unit.h"

static const char *pg_good[] = {
	"postgres://user@host:5432/db",
	"postgresql://user:s3cret@localhost/db?sslmode=disable",
	"postgres://%2Ftmp%2Fpg/db",
	"postgresql:///db?host=/tmp/x",
	"host=/tmp/pg dbname=shop",
	"dbname=shop",
	"host=localhost port=5432 user=u password='p w' dbname=d",
	"service=prod",
};

static const struct {
	const char *in;
	const char *user, *password, *host;
	unsigned port;
	const char *socket, *database;
} my_good[] = {
	{"mysql://root@localhost/shop", "root", NULL, "localhost", 0, NULL, "shop"},
	{"mysql://root@localhost:3306/shop", "root", NULL, "localhost", 3306, NULL,
	 "shop"},
	{"mysql://u:pw@db.example.com:1/x", "u", "pw", "db.example.com", 1, NULL,
	 "x"},
	{"mysql://u:pw@h:65535/x", "u", "pw", "h", 65535, NULL, "x"},
	{"mysql://root@/shop?socket=/tmp/x/mysqld.sock", "root", NULL, NULL, 0,
	 "/tmp/x/mysqld.sock", "shop"},
	{"mysql://root@localhost/shop?socket=/tmp/x/mysqld.sock", "root", NULL,
	 "localhost", 0, "/tmp/x/mysqld.sock", "shop"},
	{"mysql:///shop?socket=/run/mysqld/mysqld.sock", NULL, NULL, NULL, 0,
	 "/run/mysqld/mysqld.sock", "shop"},
	{"mysql://localhost/shop", NULL, NULL, "localhost", 0, NULL, "shop"},
	{"mysql://127.0.0.1:3307/shop", NULL, NULL, "127.0.0.1", 3307, NULL,
	 "shop"},
	{"mysql://u@[::1]:3306/shop", "u", NULL, "::1", 3306, NULL, "shop"},
	{"mysql://u@[::1]/shop", "u", NULL, "::1", 0, NULL, "shop"},
	{"mysql://h", NULL, NULL, "h", 0, NULL, NULL},
	{"mysql://h/", NULL, NULL, "h", 0, NULL, NULL},
	{"mysql://u:@h/d", "u", "", "h", 0, NULL, "d"},
	/* percent-escapes */
	{"mysql://us%40er:p%40ss%3Aw%2Frd@h/d", "us@er", "p@ss:w/rd", "h", 0, NULL,
	 "d"},
	{"mysql://u:%25%20%3f@h/d", "u", "% ?", "h", 0, NULL, "d"},
	{"mysql://u@h/my%2Fdb", "u", NULL, "h", 0, NULL, "my/db"},
	{"mysql://u@h/%C3%BCn%C3%AF", "u", NULL, "h", 0, NULL, "ünï"},
	{"mysql://u@/d?socket=%2Ftmp%2Fa%20b%2Fmysqld.sock", "u", NULL, NULL, 0,
	 "/tmp/a b/mysqld.sock", "d"},
	{"mysql://u@/d?socket=/tmp/s.sock&", "u", NULL, NULL, 0, "/tmp/s.sock",
	 "d"},
	/* an unencoded '@' in the password: the last '@' ends the userinfo */
	{"mysql://u:p@ss@h/d", "u", "p@ss", "h", 0, NULL, "d"},
	{"mysql://u:a:b@h/d", "u", "a:b", "h", 0, NULL, "d"},
};

/* Each error case holds the marker SECRET, which no message may repeat. */
static const char *bad[] = {
	"",
	"SECRET",
	"mysqlx://u:SECRET@h/d",
	"MYSQL://u:SECRET@h/d",
	"mariadb://u:SECRET@h/d",
	"http://u:SECRET@h/d",
	"postgres:/u:SECRET@h/d",
	"/tmp/SECRET",
	"mysql://u:SECRET@h:0/d",
	"mysql://u:SECRET@h:65536/d",
	"mysql://u:SECRET@h:99999999999/d",
	"mysql://u:SECRET@h:-1/d",
	"mysql://u:SECRET@h:/d",
	"mysql://u:SECRET@h:33a/d",
	"mysql://u:SECRET@h:+3306/d",
	"mysql://u:SECRET@h: 3306/d",
	"mysql://u:SECRET@/d",
	"mysql://u:SECRET@",
	"mysql://",
	"mysql://u:SECRET@h/d?sslmode=SECRET",
	"mysql://u:SECRET@h/d?password=SECRET",
	"mysql://u:SECRET@h/d?socket=",
	"mysql://u:SECRET@/d?socket",
	"mysql://u:SEC%ZZRET@h/d",
	"mysql://u:SECRET%2@h/d",
	"mysql://u:SECRET%@h/d",
	"mysql://u:SECRET%00@h/d",
	"mysql://u:SECRET@h/d%0",
	"mysql://u:SECRET@h/d?socket=%GG",
	"mysql://u:SECRET@h/d/e",
	"mysql://u:SECRET@h/d#frag",
	"mysql://u:SECRET@h#x/d",
	"mysql://u:SECRET@h o/d",
	"mysql://u:SECRET@[::1/d",
	"mysql://u:SECRET@[]/d",
	"mysql://u:SECRET@[::1]x/d",
	"mysql://u:SECRET@[::1]:0/d",
};

static void
test_pg(void)
{
	for (size_t i = 0; i < ARRAY_LEN(pg_good); i++) {
		struct shade_err err = {0};
		struct dsn d;

		UNIT_CASE("pg #%zu %s", i, pg_good[i]);
		CHECK(dsn_parse(pg_good[i], &d, &err) == 0);
		CHECK(d.kind == DSN_PG);
		CHECK_STREQ(d.conninfo, pg_good[i]);
		CHECK(d.conninfo != pg_good[i]);
		CHECK(d.user == NULL && d.password == NULL && d.host == NULL);
		dsn_free(&d);
		CHECK(d.conninfo == NULL);
		err_clear(&err);
	}
}

static void
test_mysql(void)
{
	for (size_t i = 0; i < ARRAY_LEN(my_good); i++) {
		struct shade_err err = {0};
		struct dsn d;

		UNIT_CASE("mysql #%zu %s", i, my_good[i].in);
		CHECK(dsn_parse(my_good[i].in, &d, &err) == 0);
		CHECK(d.kind == DSN_MYSQL);
		CHECK(d.conninfo == NULL);
		CHECK_STREQ(d.user, my_good[i].user);
		CHECK_STREQ(d.password, my_good[i].password);
		CHECK_STREQ(d.host, my_good[i].host);
		CHECK(d.port == my_good[i].port);
		CHECK_STREQ(d.socket, my_good[i].socket);
		CHECK_STREQ(d.database, my_good[i].database);
		dsn_free(&d);
		CHECK(d.password == NULL && d.user == NULL);
		err_clear(&err);
	}
}

static void
test_bad(void)
{
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct shade_err err = {0};
		struct dsn d;

		UNIT_CASE("bad #%zu %s", i, bad[i]);
		CHECK(dsn_parse(bad[i], &d, &err) == -1);
		CHECK(err.status == SHADE_USAGE);
		CHECK(err.msg[0] != '\0');
		CHECK(strstr(err.msg, "SECRET") == NULL);
		CHECK(strstr(err.msg, "SEC") == NULL);
		CHECK(strchr(err.msg, '\n') == NULL);
		/* Nothing left behind to free or leak. */
		CHECK(d.user == NULL && d.password == NULL && d.host == NULL &&
		      d.socket == NULL && d.database == NULL && d.conninfo == NULL);
		err_clear(&err);
	}
}

static void
test_messages(void)
{
	struct shade_err err = {0};
	struct dsn d;

	CHECK(dsn_parse("foo", &d, &err) == -1);
	CHECK_STREQ(err.msg, "unsupported DSN: expected postgres://..., key=value "
			     "conninfo, or mysql://...");
	err_clear(&err);

	CHECK(dsn_parse("mysql://u@h:70000/d", &d, &err) == -1);
	CHECK(strstr(err.msg, "port") != NULL);
	CHECK(strstr(err.msg, "70000") == NULL);
	err_clear(&err);

	CHECK(dsn_parse("mysql://u@h/d?ssl=1", &d, &err) == -1);
	CHECK(strstr(err.msg, "socket") != NULL);
	err_clear(&err);

	/* mysql:// wins over the '=' rule: ?socket= is not conninfo. */
	CHECK(dsn_parse("mysql://u@/d?socket=/s", &d, &err) == 0);
	CHECK(d.kind == DSN_MYSQL);
	dsn_free(&d);
	err_clear(&err);

	/* A second ?socket= replaces the first, without leaking it. */
	CHECK(dsn_parse("mysql://u@/d?socket=/a&socket=/b", &d, &err) == 0);
	CHECK_STREQ(d.socket, "/b");
	dsn_free(&d);
	dsn_free(&d); /* twice is harmless */
	err_clear(&err);
}

int
main(void)
{
	UNIT_RUN(test_pg);
	UNIT_RUN(test_mysql);
	UNIT_RUN(test_bad);
	UNIT_RUN(test_messages);
	return unit_done();
}

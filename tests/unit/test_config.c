/*
 * test_config.c - the --config file's parser: every key and its range, the
 * comments and blanks it skips, the line a bad file is reported at, and a
 * file read from disk (config_read's "PATH:LINE: why").
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static void
test_good(void)
{
	struct config c = {0};
	char err[256] = "";
	int line = -1;

	UNIT_CASE("a full file");
	CHECK(config_parse(&c,
			   "# throttle settings\n"
			   "\n"
			   "  max-lag = 2.5\n"
			   "max-load=40\r\n"
			   "critical-load =  400   \n"
			   "\t# indented comment\n"
			   "throttle-query = SELECT count(*) FROM t WHERE a = 'x#y'\n"
			   "chunk-time = 0.2",
			   &line, err, sizeof(err)) == 0);
	CHECK(c.set == (CONFIG_MAX_LAG | CONFIG_MAX_LOAD | CONFIG_CRITICAL_LOAD |
			CONFIG_THROTTLE_QUERY | CONFIG_CHUNK_TIME));
	CHECK(fabs(c.max_lag - 2.5) < 1e-9);
	CHECK(c.max_load == 40);
	CHECK(c.critical_load == 400);
	CHECK_STREQ(c.throttle_query, "SELECT count(*) FROM t WHERE a = 'x#y'");
	CHECK(fabs(c.chunk_time - 0.2) < 1e-9);
	config_free(&c);

	UNIT_CASE("only some keys; the last of a repeated key wins; empty query is none");
	CHECK(config_parse(&c, "chunk-time = 1\nchunk-time = 2\nthrottle-query =\n", &line, err,
			   sizeof(err)) == 0);
	CHECK(c.set == (CONFIG_CHUNK_TIME | CONFIG_THROTTLE_QUERY));
	CHECK(fabs(c.chunk_time - 2) < 1e-9);
	CHECK(c.throttle_query == NULL);
	config_free(&c);

	UNIT_CASE("an empty file names nothing");
	CHECK(config_parse(&c, "", &line, err, sizeof(err)) == 0);
	CHECK(c.set == 0);
	config_free(&c);
}

static const struct {
	const char *text;
	int line;
	const char *msg;
} bad[] = {
	{"chunk-time = 0\n", 1, "chunk-time takes seconds from 0.01 to 60, not \"0\""},
	{"\n# c\nchunk-time = 61\n", 3, "chunk-time takes seconds from 0.01 to 60, not \"61\""},
	{"max-lag = -1\n", 1, "max-lag takes seconds from 0 to 3600 (0: off), not \"-1\""},
	{"max-lag = 1x\n", 1, "max-lag takes seconds from 0 to 3600 (0: off), not \"1x\""},
	{"max-lag = nan\n", 1, "max-lag takes seconds from 0 to 3600 (0: off), not \"nan\""},
	{"max-load = 2.5\n", 1, "max-load takes a whole number from 0 to 1000000 (0: off), not \"2.5\""},
	{"critical-load = \n", 1,
	 "critical-load takes a whole number from 0 to 1000000 (0: off), not \"\""},
	{"max-load = 5\nfoo = 1\n", 2,
	 "unknown key \"foo\" (the keys: max-lag, max-load, critical-load, throttle-query, "
	 "chunk-time)"},
	{"chunk-time 0.5\n", 1, "expected \"key = value\", not \"chunk-time 0.5\""},
	{"= 3\n", 1,
	 "unknown key \"\" (the keys: max-lag, max-load, critical-load, throttle-query, "
	 "chunk-time)"},
	{"throttle-query = SELECT '\xff'\n", 1, "throttle-query is not valid UTF-8"},
	{"chunk-time = 0.5 # fast\n", 1,
	 "chunk-time takes seconds from 0.01 to 60, not \"0.5 # fast\""},
};

static void
test_bad(void)
{
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct config c = {0};
		char err[256] = "";
		int line = 0;

		UNIT_CASE("bad file %zu: %s", i, bad[i].text);
		CHECK(config_parse(&c, bad[i].text, &line, err, sizeof(err)) == -1);
		CHECK(line == bad[i].line);
		CHECK_STREQ(err, bad[i].msg);
		config_free(&c);
	}
}

/* config_set alone: what the control socket's commands go through. */
static void
test_set(void)
{
	struct config c = {0};
	char err[256] = "";

	UNIT_CASE("config_set");
	CHECK(config_set(&c, "max-load", "0", err, sizeof(err)) == 0);
	CHECK(c.set == CONFIG_MAX_LOAD && c.max_load == 0);
	CHECK(config_set(&c, "max-load", "1000001", err, sizeof(err)) == -1);
	CHECK(c.max_load == 0);  /* unchanged by a bad value */
	CHECK(config_set(&c, "chunk-time", "60", err, sizeof(err)) == 0);
	CHECK(config_set(&c, "chunk-time", "0.01", err, sizeof(err)) == 0);
	CHECK(config_set(&c, "chunk-time", "0.009", err, sizeof(err)) == -1);
	CHECK(fabs(c.chunk_time - 0.01) < 1e-9);
	config_free(&c);
}

static void
test_read(void)
{
	char path[] = "/tmp/shade-config-test.XXXXXX";
	struct shade_err err = {0};
	struct config c = {0};
	int fd = mkstemp(path);
	char want[512];
	FILE *f;

	UNIT_CASE("config_read");
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	fputs("max-lag = 3\nmax-load = lots\n", f);
	fclose(f);
	CHECK(config_read(&c, path, &err) == -1);
	CHECK(err.status == SHADE_USAGE);
	snprintf(want, sizeof(want),
		 "%s:2: max-load takes a whole number from 0 to 1000000 (0: off), not \"lots\"",
		 path);
	CHECK_STREQ(err.msg, want);
	CHECK(c.set == 0 && c.throttle_query == NULL);  /* emptied */
	err_clear(&err);

	f = fopen(path, "w");
	fputs("max-lag = 3\nthrottle-query = SELECT 1\n", f);
	fclose(f);
	CHECK(config_read(&c, path, &err) == 0);
	CHECK(c.set == (CONFIG_MAX_LAG | CONFIG_THROTTLE_QUERY));
	CHECK_STREQ(c.throttle_query, "SELECT 1");
	config_free(&c);

	unlink(path);
	CHECK(config_read(&c, path, &err) == -1);
	snprintf(want, sizeof(want), "%s: cannot read it: No such file or directory", path);
	CHECK_STREQ(err.msg, want);
	err_clear(&err);
}

int
main(void)
{
	test_good();
	test_bad();
	test_set();
	test_read();
	return unit_done();
}

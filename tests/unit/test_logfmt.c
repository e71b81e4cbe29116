/*
 * test_logfmt.c - the JSON lines of --log-format json parse back (with
 * jansson's decoder, not a string compare) into one object per line with
 * ts, level, event and every field with its type, whatever the text holds
 * (quotes, newlines, control characters, bytes that are not UTF-8); the
 * timestamp is ISO 8601 UTC with milliseconds; and the tally groups the
 * throttle reasons by their kind, in a table that cannot overflow.
 */
#include <jansson.h>
#include <math.h>

#include "logfmt.h"
#include "tally.h"
#include "util.h"
#include "unit.h"

/* Encode one event and decode it back; NULL if the line is not one object. */
static json_t *
roundtrip(const char *level, const char *event, const struct logfmt_field *f, size_t n)
{
	struct buf b = {0};
	json_error_t jerr;
	json_t *o;
	size_t len;

	logfmt_json(&b, 1795766462.123, level, event, f, n);
	len = b.len;
	/* One line: a single newline, at the end. */
	CHECK(len > 0 && b.data[len - 1] == '\n');
	CHECK(memchr(b.data, '\n', len - 1) == NULL);
	o = json_loads(buf_str(&b), 0, &jerr);
	buf_free(&b);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void
test_fields(void)
{
	struct logfmt_field f[] = {
		LF_STR("phase", "copy"), LF_INT("rows_copied", 1234567890123LL),
		LF_NUM("rows_per_second", 2500.5), LF_NUM("eta_seconds", NAN),
		LF_BOOL("paused", true), LF_STR("detail", NULL),
		LF_RAW("phase_seconds", json_pack("{s:f}", "copy", 1.5))};
	json_t *o = roundtrip("info", "progress", f, ARRAY_LEN(f));

	CHECK(o != NULL);
	if (o == NULL)
		return;
	CHECK_STREQ(json_string_value(json_object_get(o, "ts")), "2026-11-27T08:01:02.123Z");
	CHECK_STREQ(json_string_value(json_object_get(o, "level")), "info");
	CHECK_STREQ(json_string_value(json_object_get(o, "event")), "progress");
	CHECK_STREQ(json_string_value(json_object_get(o, "phase")), "copy");
	CHECK(json_integer_value(json_object_get(o, "rows_copied")) == 1234567890123LL);
	CHECK(fabs(json_number_value(json_object_get(o, "rows_per_second")) - 2500.5) < 1e-9);
	CHECK(json_is_null(json_object_get(o, "eta_seconds")));
	CHECK(json_is_true(json_object_get(o, "paused")));
	CHECK(json_is_null(json_object_get(o, "detail")));
	CHECK(json_number_value(json_object_get(json_object_get(o, "phase_seconds"), "copy")) ==
	      1.5);
	CHECK(json_object_size(o) == 3 + ARRAY_LEN(f));
	json_decref(o);
}

/* Text that would break a hand-written line comes back byte for byte. */
static void
test_escaping(void)
{
	static const char *const texts[] = {
		"a \"quoted\" name", "two\nlines\r\n", "tab\there \\ back", "ctl \x01\x1f end",
		"caf\xc3\xa9 \xe2\x82\xac", "", "}{\"event\":\"fake\"}",
	};

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		struct logfmt_field f[] = {LF_STR("message", texts[i])};
		json_t *o;

		UNIT_CASE("text %zu", i);
		o = roundtrip("info", "note", f, 1);
		CHECK(o != NULL);
		if (o == NULL)
			continue;
		CHECK_STREQ(json_string_value(json_object_get(o, "message")), texts[i]);
		CHECK_STREQ(json_string_value(json_object_get(o, "event")), "note");
		json_decref(o);
	}
}

/* A server message in another encoding still makes a valid line. */
static void
test_not_utf8(void)
{
	struct logfmt_field f[] = {LF_STR("message", "caf\xe9 \xff ok")};
	json_t *o = roundtrip("error", "failed", f, 1);

	CHECK(o != NULL);
	if (o == NULL)
		return;
	CHECK_STREQ(json_string_value(json_object_get(o, "message")), "caf? ? ok");
	json_decref(o);
}

static void
test_timestamp(void)
{
	char ts[40];

	logfmt_timestamp(ts, sizeof(ts), 0);
	CHECK_STREQ(ts, "1970-01-01T00:00:00.000Z");
	logfmt_timestamp(ts, sizeof(ts), 1795766462.9996);
	CHECK_STREQ(ts, "2026-11-27T08:01:03.000Z");
	logfmt_timestamp(ts, sizeof(ts), 1795766462.9994);
	CHECK_STREQ(ts, "2026-11-27T08:01:02.999Z");
	logfmt_timestamp(ts, sizeof(ts), 951782400.5);
	CHECK_STREQ(ts, "2000-02-29T00:00:00.500Z");
	CHECK(logfmt_wall_now() > 1.6e9);
}

static void
test_parse(void)
{
	enum logfmt_format f = LOGFMT_JSON;

	CHECK(logfmt_parse("text", &f) == 0 && f == LOGFMT_TEXT);
	CHECK(logfmt_parse("json", &f) == 0 && f == LOGFMT_JSON);
	CHECK(logfmt_parse("JSON", &f) == -1);
	CHECK(logfmt_parse("", &f) == -1);
	CHECK(logfmt_parse("json ", &f) == -1);
}

static void
test_tally(void)
{
	struct tally t;
	char reason[32];

	tally_init(&t);
	CHECK(t.swap_lock_secs < 0);
	tally_phase(&t, 3, 1.5);
	tally_phase(&t, 3, 2.0);
	tally_phase(&t, -1, 9);
	tally_phase(&t, TALLY_PHASES, 9);
	tally_phase(&t, 4, -2);
	CHECK(t.phase_secs[3] == 3.5);
	CHECK(t.phase_secs[4] == 0);
	tally_hold(&t, "flag file", 2);
	tally_hold(&t, "replica lag: 12 s > 10 s", 1);
	tally_hold(&t, "replica lag: 30 s > 10 s", 4);
	tally_hold(&t, "", 0.5);
	tally_hold(&t, "replica lag 1.3 s > --max-lag 1 (replica host=/tmp/x port=5433)", 1);
	tally_hold(&t, "replica lag 3.8 s > --max-lag 1 (replica host=/tmp/x port=5433)", 1);
	tally_hold(&t, "flag file", 0);
	CHECK(t.nholds == 3);
	CHECK_STREQ(t.holds[0].reason, "flag file");
	CHECK(t.holds[0].secs == 2);
	CHECK_STREQ(t.holds[1].reason, "replica lag");
	CHECK(t.holds[1].secs == 7);
	CHECK_STREQ(t.holds[2].reason, "throttled");
	CHECK(tally_throttled(&t) == 9.5);
	/* Reasons without end: the table keeps its size, the rest is "other". */
	for (int i = 0; i < 50; i++) {
		snprintf(reason, sizeof(reason), "kind %c%c: x", 'a' + i % 26, 'a' + i / 26);
		tally_hold(&t, reason, 1);
	}
	CHECK(t.nholds == TALLY_HOLDS);
	CHECK_STREQ(t.holds[TALLY_HOLDS - 1].reason, "other");
	CHECK(tally_throttled(&t) == 59.5);
}

int
main(void)
{
	UNIT_RUN(test_fields);
	UNIT_RUN(test_escaping);
	UNIT_RUN(test_not_utf8);
	UNIT_RUN(test_timestamp);
	UNIT_RUN(test_parse);
	UNIT_RUN(test_tally);
	return unit_done();
}

/*
 * test_estimate.c - the whole run's estimate (estimate.c) and the dry
 * run's report (dryreport.c): the copy scales with the rows, the builds
 * by n log n, the apply grows as the writers near the apply's rate and
 * never converges past it; the JSON report parses back (jansson) with
 * every field, null where a figure is unknown or infinite.
 */
#include <jansson.h>
#include <math.h>

#include "dryreport.h"
#include "estimate.h"
#include "util.h"
#include "unit.h"

static int
near(double a, double b)
{
	return fabs(a - b) <= 1e-6 * (fabs(b) > 1 ? fabs(b) : 1);
}

static void
test_copy_and_builds(void)
{
	struct estimate e;

	estimate_run(&(struct estimate_in){.rows = 1000000, .sample_rows = 10000,
					   .sample_seconds = 0.05, .index_seconds = 0.02,
					   .write_rate = 0, .sample_log_bytes = 1000,
					   .fixed_seconds = 0.5},
		     &e);
	CHECK(e.known);
	CHECK(near(e.copy_rate, 200000));
	CHECK(near(e.copy, 5.0));
	/* 100 times the rows, log(1e6) / log(1e4) = 1.5 times the work per row. */
	CHECK(near(e.indexes, 0.02 * 100 * 1.5));
	CHECK(e.apply == 0);
	CHECK(near(e.total, 0.5 + 5.0 + 3.0));
	CHECK(e.converges);
	CHECK(e.log_bytes == 100000);
}

/* The builds' ANALYZE samples as much on any table: added, not scaled. */
static void
test_analyze_apart(void)
{
	struct estimate e;

	estimate_run(&(struct estimate_in){.rows = 1000000, .sample_rows = 10000,
					   .sample_seconds = 0.05, .index_seconds = 0.12,
					   .analyze_seconds = 0.1, .write_rate = 0,
					   .sample_log_bytes = -1},
		     &e);
	CHECK(near(e.indexes, 0.02 * 100 * 1.5 + 0.1));
	CHECK(near(e.total, 5.0 + 3.0 + 0.1));
	/* All of it ANALYZE: nothing to scale. */
	estimate_run(&(struct estimate_in){.rows = 1000000, .sample_rows = 10000,
					   .sample_seconds = 0.05, .index_seconds = 0.1,
					   .analyze_seconds = 0.1, .write_rate = 0},
		     &e);
	CHECK(near(e.indexes, 0.1));
}

static void
test_apply(void)
{
	struct estimate e;
	struct estimate_in in = {.rows = 100000, .sample_rows = 100000, .sample_seconds = 10,
				 .apply_rows = 1000, .apply_seconds = 1, .write_rate = 500,
				 .sample_log_bytes = -1};

	/* Half the apply's rate: the run takes twice its work. */
	estimate_run(&in, &e);
	CHECK(near(e.apply_rate, 1000));
	CHECK(near(e.apply, 10));
	CHECK(near(e.total, 20));
	CHECK(e.converges);
	CHECK(e.log_bytes == -1);
	/* As fast as the apply: never. */
	in.write_rate = 1000;
	estimate_run(&in, &e);
	CHECK(!e.converges);
	CHECK(isinf(e.total));
	/* No sampled apply: assumed to keep up, nothing added. */
	in.apply_rows = 0;
	estimate_run(&in, &e);
	CHECK(e.converges && near(e.total, 10));
}

static void
test_unknown(void)
{
	struct estimate e;

	estimate_run(&(struct estimate_in){.rows = -1, .sample_rows = 10, .sample_seconds = 1,
					   .write_rate = -1},
		     &e);
	CHECK(!e.known);
	estimate_run(&(struct estimate_in){.rows = 10, .write_rate = -1}, &e);
	CHECK(!e.known);
	estimate_run(&(struct estimate_in){.rows = 0, .fixed_seconds = 0.25, .write_rate = -1},
		     &e);
	CHECK(e.known && near(e.total, 0.25) && e.log_bytes == 0);
}

/* The report of est as a parsed JSON object. */
static json_t *
report(const struct estimate *est, const char *log_key, double write_rate)
{
	struct strlist plan = {0}, warn = {0};
	struct buf b = {0};
	json_error_t jerr;
	json_t *o;

	strlist_push(&plan, "CREATE TABLE \"x\" (\"a\" text DEFAULT 'it''s \\ \"quoted\"')");
	strlist_push(&plan, "bad \xff byte");
	strlist_push(&warn, "T has 2 triggers");
	dryreport_json(&b, 1795766462.0,
		       &(struct dryreport){.table = "public.items", .engine = "PostgreSQL",
					   .rows = 1000, .bytes = 8192, .disk_bytes_needed = 8192,
					   .sample_rows = 1000, .sample_seconds = 0.01, .est = est,
					   .write_rate = write_rate, .write_window = 2,
					   .log_key = log_key, .chunk_time = 0.5, .plan = &plan,
					   .warnings = &warn});
	CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
	CHECK(memchr(b.data, '\n', b.len - 1) == NULL);
	o = json_loads(buf_str(&b), 0, &jerr);
	buf_free(&b);
	strlist_free(&plan);
	strlist_free(&warn);
	return o;
}

static void
test_json(void)
{
	struct estimate e;
	json_t *o, *ph;

	estimate_run(&(struct estimate_in){.rows = 1000, .sample_rows = 1000,
					   .sample_seconds = 0.01, .index_seconds = 0.01,
					   .apply_rows = 100, .apply_seconds = 0.01,
					   .write_rate = 5, .sample_log_bytes = 4096},
		     &e);
	o = report(&e, "wal_bytes", 5);
	CHECK(o != NULL && json_is_object(o));
	CHECK_STREQ(json_string_value(json_object_get(o, "event")), "dry_run");
	CHECK(json_integer_value(json_object_get(o, "rows")) == 1000);
	CHECK(json_integer_value(json_object_get(o, "bytes")) == 8192);
	CHECK(json_integer_value(json_object_get(o, "disk_bytes_needed")) == 8192);
	CHECK(near(json_number_value(json_object_get(o, "estimated_seconds")), e.total));
	ph = json_object_get(o, "phases");
	CHECK(json_is_object(ph) && near(json_number_value(json_object_get(ph, "copy")), e.copy));
	CHECK(json_is_number(json_object_get(ph, "indexes")) &&
	      json_is_number(json_object_get(ph, "apply")) &&
	      json_is_number(json_object_get(ph, "other")));
	CHECK(json_integer_value(json_object_get(o, "wal_bytes")) == 4096);
	CHECK(near(json_number_value(json_object_get(o, "write_rate")), 5));
	CHECK(json_is_true(json_object_get(o, "converges")));
	CHECK(json_is_false(json_object_get(o, "instant")));
	CHECK(json_array_size(json_object_get(o, "plan")) == 2);
	CHECK_STREQ(json_string_value(json_array_get(json_object_get(o, "plan"), 0)),
		    "CREATE TABLE \"x\" (\"a\" text DEFAULT 'it''s \\ \"quoted\"')");
	CHECK_STREQ(json_string_value(json_array_get(json_object_get(o, "plan"), 1)),
		    "bad ? byte");
	CHECK(json_array_size(json_object_get(o, "warnings")) == 1);
	json_decref(o);

	/* Never converges: the total and the apply are null; an unknown rate too. */
	estimate_run(&(struct estimate_in){.rows = 1000, .sample_rows = 1000,
					   .sample_seconds = 0.01, .apply_rows = 10,
					   .apply_seconds = 1, .write_rate = 50,
					   .sample_log_bytes = -1},
		     &e);
	o = report(&e, "binlog_bytes", -1);
	CHECK(o != NULL);
	CHECK(json_is_null(json_object_get(o, "estimated_seconds")));
	CHECK(json_is_null(json_object_get(json_object_get(o, "phases"), "apply")));
	CHECK(json_is_false(json_object_get(o, "converges")));
	CHECK(json_is_null(json_object_get(o, "binlog_bytes")));
	CHECK(json_is_null(json_object_get(o, "write_rate")));
	CHECK(json_object_get(o, "wal_bytes") == NULL);
	json_decref(o);
}

int
main(void)
{
	UNIT_RUN(test_copy_and_builds);
	UNIT_RUN(test_analyze_apart);
	UNIT_RUN(test_apply);
	UNIT_RUN(test_unknown);
	UNIT_RUN(test_json);
	return unit_done();
}

/*
 * test_throttle.c - throttle_decide(), table-driven: each input over its
 * limit holds the migration with its own reason, a limit of 0 checks
 * nothing, an unknown lag (replication stopped, a replica gone) counts as
 * over the limit, a failed probe holds but never aborts, --critical-load
 * aborts and says the load, several reasons are joined, and a long reason
 * is cut to the buffer.
 */
#include <string.h>

#include "throttle.h"
#include "unit.h"

struct decide_case {
	const char *name;
	struct throttle_limits limits;
	long load;             /* -1: not probed */
	const char *load_error;
	double lag1, lag2;     /* the two replicas' lags; -2: no replica */
	const char *lag_error;
	double query;          /* -1: not run */
	const char *query_error;
	enum throttle_verdict want;
	const char *want_why;
};

static const struct decide_case cases[] = {
	{"no limits", {.max_lag = 0}, 99, NULL, 99, -2, NULL, 5, NULL, THROTTLE_GO, ""},
	{"load under", {.max_load = 50}, 50, NULL, -2, -2, NULL, -1, NULL, THROTTLE_GO, ""},
	{"load over", {.max_load = 50}, 57, NULL, -2, -2, NULL, -1, NULL, THROTTLE_WAIT,
	 "load 57 running threads > --max-load 50"},
	{"load probe failed", {.max_load = 50}, -1, "server gone", -2, -2, NULL, -1, NULL,
	 THROTTLE_WAIT, "load unknown: server gone"},
	{"critical", {.max_load = 50, .critical_load = 80}, 81, NULL, 99, -2, NULL, -1, NULL,
	 THROTTLE_ABORT, "load 81 running threads > --critical-load 80"},
	{"critical, at the limit", {.critical_load = 80}, 80, NULL, -2, -2, NULL, -1, NULL,
	 THROTTLE_GO, ""},
	{"critical, probe failed", {.critical_load = 80}, -1, "timeout", -2, -2, NULL, -1, NULL,
	 THROTTLE_GO, ""},
	{"lag under", {.max_lag = 5}, -1, NULL, 4.9, 0, NULL, -1, NULL, THROTTLE_GO, ""},
	{"lag over", {.max_lag = 5}, -1, NULL, 0, 12.34, NULL, -1, NULL, THROTTLE_WAIT,
	 "replica lag 12.3 s > --max-lag 5 (replica r2)"},
	{"lag unknown", {.max_lag = 5}, -1, NULL, -1, 0, NULL, -1, NULL, THROTTLE_WAIT,
	 "replica lag unknown, counted as over --max-lag 5 (replica r1: SQL thread stopped)"},
	{"lag probe failed", {.max_lag = 1.5}, -1, NULL, -2, -2, "no primary", -1, NULL,
	 THROTTLE_WAIT, "replica lag unknown: no primary"},
	{"no replica at all", {.max_lag = 1}, -1, NULL, -2, -2, NULL, -1, NULL, THROTTLE_GO, ""},
	{"query 0", {.throttle_query = "q"}, -1, NULL, -2, -2, NULL, 0, NULL, THROTTLE_GO, ""},
	{"query 1", {.throttle_query = "q"}, -1, NULL, -2, -2, NULL, 1, NULL, THROTTLE_WAIT,
	 "--throttle-query returned 1"},
	{"query failed", {.throttle_query = "q"}, -1, NULL, -2, -2, NULL, -1, "no such table",
	 THROTTLE_WAIT, "--throttle-query failed: no such table"},
	{"two reasons", {.max_lag = 1, .throttle_query = "q"}, -1, NULL, 2, -2, NULL, 3, NULL,
	 THROTTLE_WAIT, "replica lag 2.0 s > --max-lag 1 (replica r1); --throttle-query returned 3"},
};

static enum throttle_verdict
run_case(const struct decide_case *c, char *why, size_t len)
{
	struct throttle_lags lags = {0};
	struct throttle_inputs in = {.load_name = "running threads"};
	enum throttle_verdict v;

	if (c->load >= 0) {
		in.load_known = true;
		in.load = c->load;
	}
	in.load_error = c->load_error;
	if (c->lag1 > -2)
		throttle_lags_push(&lags, "r1", c->lag1, c->lag1 < 0 ? "SQL thread stopped" : NULL);
	if (c->lag2 > -2)
		throttle_lags_push(&lags, "r2", c->lag2, NULL);
	in.lags = &lags;
	in.lag_error = c->lag_error;
	if (c->query >= 0) {
		in.query_known = true;
		in.query_value = c->query;
	}
	in.query_error = c->query_error;
	v = throttle_decide(&c->limits, &in, why, len);
	throttle_lags_free(&lags);
	return v;
}

int
main(void)
{
	char why[256], small[24];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		UNIT_CASE("%s", cases[i].name);
		CHECK(run_case(&cases[i], why, sizeof(why)) == cases[i].want);
		CHECK_STREQ(why, cases[i].want_why);
	}
	/* A reason longer than the buffer is cut, still terminated. */
	UNIT_CASE("truncated");
	CHECK(run_case(&cases[15], small, sizeof(small)) == THROTTLE_WAIT);
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(strncmp(small, "replica lag 2.0 s", 17) == 0);
	return unit_done();
}

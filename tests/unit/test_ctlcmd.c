/*
 * test_ctlcmd.c - the control socket's command lines: each command, the
 * blanks it allows, the values and their ranges, and the replies to what
 * it refuses (the client's text shown shortened and printable).
 */
#include <math.h>
#include <string.h>

#include "ctlcmd.h"
#include "unit.h"

static const struct {
	const char *line;
	enum ctlcmd_kind kind;
	double seconds;
	long count;
} good[] = {
	{"status", CTLCMD_STATUS, 0, 0},
	{"  status \r", CTLCMD_STATUS, 0, 0},
	{"pause", CTLCMD_PAUSE, 0, 0},
	{"resume", CTLCMD_RESUME, 0, 0},
	{"postpone", CTLCMD_POSTPONE, 0, 0},
	{"cut-over", CTLCMD_CUT_OVER, 0, 0},
	{"abort", CTLCMD_ABORT, 0, 0},
	{"chunk-time=0.25", CTLCMD_CHUNK_TIME, 0.25, 0},
	{"chunk-time = 2", CTLCMD_CHUNK_TIME, 2, 0},
	{"chunk-time=0.01", CTLCMD_CHUNK_TIME, 0.01, 0},
	{"chunk-time=60", CTLCMD_CHUNK_TIME, 60, 0},
	{"max-lag=0", CTLCMD_MAX_LAG, 0, 0},
	{"max-lag=1.5", CTLCMD_MAX_LAG, 1.5, 0},
	{"max-load=25", CTLCMD_MAX_LOAD, 0, 25},
	{"max-load= 0", CTLCMD_MAX_LOAD, 0, 0},
};

static const struct {
	const char *line;
	const char *reply;
} bad[] = {
	{"xyz", "error: unknown command \"xyz\""},
	{"STATUS", "error: unknown command \"STATUS\""},
	{"statusx", "error: unknown command \"statusx\""},
	{"status now", "error: status takes no value"},
	{"abort=1", "error: abort takes no value"},
	{"chunk-time", "error: chunk-time takes seconds from 0.01 to 60, not \"\""},
	{"chunk-time=", "error: chunk-time takes seconds from 0.01 to 60, not \"\""},
	{"chunk-time=0", "error: chunk-time takes seconds from 0.01 to 60, not \"0\""},
	{"chunk-time=61", "error: chunk-time takes seconds from 0.01 to 60, not \"61\""},
	{"chunk-time=abc", "error: chunk-time takes seconds from 0.01 to 60, not \"abc\""},
	{"max-lag=-2", "error: max-lag takes seconds from 0 to 3600 (0: off), not \"-2\""},
	{"max-load=1.5",
	 "error: max-load takes a whole number from 0 to 1000000 (0: off), not \"1.5\""},
	{"max-load=\x01", "error: max-load takes a whole number from 0 to 1000000 (0: off), not \"?\""},
	{"", "error: empty command (status, pause, resume, chunk-time=S, max-lag=S, max-load=N, "
	     "postpone, cut-over, abort)"},
	{"   ", "error: empty command (status, pause, resume, chunk-time=S, max-lag=S, "
		"max-load=N, postpone, cut-over, abort)"},
	{"bad\x1b[31mcolour", "error: unknown command \"bad?[31mcolour\""},
	{"0123456789012345678901234567890123456789XYZ",
	 "error: unknown command \"0123456789012345678901234567890123456789...\""},
	{"chunk-time=0.100000000000000000000000000000000000000000000001",
	 "error: chunk-time takes seconds from 0.01 to 60, not "
	 "\"0.10000000000000000000000000000000000000\""},  /* refused, not rounded */
};

int
main(void)
{
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct ctlcmd cmd;
		char err[256] = "";

		UNIT_CASE("good line %zu: \"%s\"", i, good[i].line);
		CHECK(ctlcmd_parse(good[i].line, &cmd, err, sizeof(err)) == 0);
		CHECK_STREQ(err, "");
		CHECK(cmd.kind == good[i].kind);
		CHECK(fabs(cmd.seconds - good[i].seconds) < 1e-9);
		CHECK(cmd.count == good[i].count);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct ctlcmd cmd;
		char err[256] = "";

		UNIT_CASE("bad line %zu: \"%s\"", i, bad[i].line);
		CHECK(ctlcmd_parse(bad[i].line, &cmd, err, sizeof(err)) == -1);
		CHECK_STREQ(err, bad[i].reply);
	}
	return unit_done();
}

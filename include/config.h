/*
 * config.h - the --config file: throttle settings an operator may change
 * while shade runs (re-read on SIGHUP).
 *
 *   # lines are "key = value"; a line whose first non-blank is # is a comment
 *   max-lag = 5
 *   max-load = 50
 *   critical-load = 200
 *   throttle-query = SELECT count(*) FROM jobs WHERE running
 *   chunk-time = 0.2
 *
 * A # elsewhere belongs to the value (a throttle query may hold one). A
 * key given twice takes its last value. The control socket's chunk-time=,
 * max-lag= and max-load= take their values through config_set too, so the
 * ranges and the messages are the same everywhere.
 */
#ifndef SHADE_CONFIG_H
#define SHADE_CONFIG_H

#include <stddef.h>

#include "util.h"

/* Which keys a file named: bits of config.set. */
enum {
	CONFIG_MAX_LAG = 1 << 0,
	CONFIG_MAX_LOAD = 1 << 1,
	CONFIG_CRITICAL_LOAD = 1 << 2,
	CONFIG_THROTTLE_QUERY = 1 << 3,
	CONFIG_CHUNK_TIME = 1 << 4,
};

/* The settings a file names; a zeroed struct names none. */
struct config {
	unsigned set;          /* CONFIG_* of the keys given */
	double max_lag;        /* seconds, 0 to 3600; 0: not checked */
	long max_load;         /* 0 to 1000000; 0: not checked */
	long critical_load;    /* 0 to 1000000; 0: not checked */
	char *throttle_query;  /* NULL: none (an empty value); owned */
	double chunk_time;     /* seconds, 0.01 to 60 */
};

/*
 * Set one key from its text. On a bad key or value returns -1 and writes
 * one line into err (e.g. "chunk-time takes seconds from 0.01 to 60, not
 * \"0\""); c is then unchanged.
 */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t len)
	WARN_UNUSED;
/*
 * Parse a whole file's text into c (which should be zeroed). On error
 * returns -1, *line is the 1-based line at fault and err says why; c may
 * then hold some keys: free it.
 */
int config_parse(struct config *c, const char *text, int *line, char *err, size_t len)
	WARN_UNUSED;
/*
 * Read and parse the file at path. On error returns -1 with err->msg
 * "PATH:LINE: why" (or "PATH: why" when it cannot be read), status
 * SHADE_USAGE; c is then empty.
 */
int config_read(struct config *c, const char *path, struct shade_err *err) WARN_UNUSED;
void config_free(struct config *c);

#endif

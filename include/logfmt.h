/*
 * logfmt.h - how shade's lines on stderr are written: as text for a person
 * ("shade: ..."), or with --log-format json as one JSON object per line for
 * a log collector, encoded by jansson. Pure: it formats into a buffer and
 * keeps no state; progress.c decides what to say and when.
 */
#ifndef SHADE_LOGFMT_H
#define SHADE_LOGFMT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum logfmt_format {
	LOGFMT_TEXT,
	LOGFMT_JSON,
};

/* "text" or "json" into *out; -1 for anything else. */
int logfmt_parse(const char *name, enum logfmt_format *out) WARN_UNUSED;

enum logfmt_type {
	LOGFMT_STR,   /* s; NULL is written as null */
	LOGFMT_INT,   /* i */
	LOGFMT_NUM,   /* d; a NaN or an infinity is written as null */
	LOGFMT_BOOL,  /* b */
	LOGFMT_RAW,   /* j: a json_t * the line takes over (objects, arrays) */
};

/* One key of an event's object. Build them with the LF_* macros. */
struct logfmt_field {
	const char *key;
	enum logfmt_type type;
	const char *s;
	long long i;
	double d;
	bool b;
	void *j;
};

#define LF_STR(k, v) ((struct logfmt_field){.key = (k), .type = LOGFMT_STR, .s = (v)})
#define LF_INT(k, v) ((struct logfmt_field){.key = (k), .type = LOGFMT_INT, .i = (v)})
#define LF_NUM(k, v) ((struct logfmt_field){.key = (k), .type = LOGFMT_NUM, .d = (v)})
#define LF_BOOL(k, v) ((struct logfmt_field){.key = (k), .type = LOGFMT_BOOL, .b = (v)})
#define LF_RAW(k, v) ((struct logfmt_field){.key = (k), .type = LOGFMT_RAW, .j = (v)})

/*
 * Wall-clock time (seconds since the epoch) as ISO 8601 UTC with
 * milliseconds: "2026-11-27T08:01:02.123Z".
 */
void logfmt_timestamp(char *out, size_t len, double epoch);

/* The wall clock now, in seconds since the epoch (for logfmt_timestamp). */
double logfmt_wall_now(void);

/*
 * A JSON string (a json_t *, new reference) of s; NULL is null. Text that
 * is not valid UTF-8 has each byte of 0x80 and above written as '?'.
 */
void *logfmt_string(const char *s);

/*
 * Append to out one JSON object and a newline:
 *   {"ts":..., "level":level, "event":event, <fields in order>}
 * Text that is not valid UTF-8 has each byte of 0x80 and above written as
 * '?' (a server's message in another encoding still makes a valid line).
 * Fields of type LOGFMT_RAW are consumed (their reference is stolen).
 */
void logfmt_json(struct buf *out, double epoch, const char *level, const char *event,
		 const struct logfmt_field *fields, size_t n);

#endif

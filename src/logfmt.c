/*
 * logfmt.c - one event as a JSON line, encoded by jansson so that no
 * message, table name or statement can break the line (quotes, newlines,
 * control characters are escaped by the library, never by hand here).
 */
#include "logfmt.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
logfmt_parse(const char *name, enum logfmt_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = LOGFMT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LOGFMT_JSON;
	else
		return -1;
	return 0;
}

double
logfmt_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
logfmt_timestamp(char *out, size_t len, double epoch)
{
	/* Rounded to the millisecond as a whole: .123 is not written .122. */
	long long total_ms = llround(epoch * 1000.0);
	time_t secs = (time_t)(total_ms / 1000);
	long ms = (long)(total_ms % 1000);
	struct tm tm;
	char day[32];

	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03ldZ", day, ms);
}

/*
 * A JSON string of s. jansson refuses text that is not UTF-8: then every
 * byte of 0x80 and above becomes '?', which loses the odd character of a
 * message in another encoding but never the line.
 */
void *
logfmt_string(const char *s)
{
	json_t *j;
	char *ascii;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	ascii = xstrdup(s);
	for (char *p = ascii; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(ascii);
	free(ascii);
	return j ? j : json_null();
}

static json_t *
logfmt_value(const struct logfmt_field *f)
{
	switch (f->type) {
	case LOGFMT_STR:
		return logfmt_string(f->s);
	case LOGFMT_INT:
		return json_integer(f->i);
	case LOGFMT_NUM:
		return isfinite(f->d) ? json_real(f->d) : json_null();
	case LOGFMT_BOOL:
		return json_boolean(f->b);
	case LOGFMT_RAW:
		return f->j ? (json_t *)f->j : json_null();
	}
	return json_null();
}

void
logfmt_json(struct buf *out, double epoch, const char *level, const char *event,
	    const struct logfmt_field *fields, size_t n)
{
	json_t *o = json_object();
	char ts[40];
	char *line;

	if (o == NULL)
		die("out of memory");
	logfmt_timestamp(ts, sizeof(ts), epoch);
	/* The _new calls take the reference: nothing to decref on success. */
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", logfmt_string(level));
	json_object_set_new(o, "event", logfmt_string(event));
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, fields[i].key, logfmt_value(&fields[i]));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (line == NULL)
		die("out of memory");
	buf_append(out, line);
	buf_append_char(out, '\n');
	free(line);
}

/*
 * config.c - the --config file's parser: "key = value" lines into a
 * struct config. Pure (it reads a file, nothing else): the migration
 * decides what to do with the settings (migration_control.c), and
 * tests/unit/test_config.c drives the parser with text.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest file read: a few settings, never megabytes. */
#define CONFIG_MAX_BYTES 65536

static bool
config_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int
config_seconds(const char *key, const char *s, double min, double max, double *out, char *err,
	       size_t len)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max) {
		snprintf(err, len, "%s takes seconds from %g to %g%s, not \"%.40s\"", key, min, max,
			 min == 0 ? " (0: off)" : "", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
config_count(const char *key, const char *s, long max, long *out, char *err, size_t len)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
		snprintf(err, len, "%s takes a whole number from 0 to %ld (0: off), not \"%.40s\"",
			 key, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int
config_set(struct config *c, const char *key, const char *value, char *err, size_t len)
{
	if (strcmp(key, "max-lag") == 0) {
		if (config_seconds(key, value, 0, 3600, &c->max_lag, err, len) != 0)
			return -1;
		c->set |= CONFIG_MAX_LAG;
	} else if (strcmp(key, "max-load") == 0) {
		if (config_count(key, value, 1000000, &c->max_load, err, len) != 0)
			return -1;
		c->set |= CONFIG_MAX_LOAD;
	} else if (strcmp(key, "critical-load") == 0) {
		if (config_count(key, value, 1000000, &c->critical_load, err, len) != 0)
			return -1;
		c->set |= CONFIG_CRITICAL_LOAD;
	} else if (strcmp(key, "chunk-time") == 0) {
		if (config_seconds(key, value, 0.01, 60, &c->chunk_time, err, len) != 0)
			return -1;
		c->set |= CONFIG_CHUNK_TIME;
	} else if (strcmp(key, "throttle-query") == 0) {
		if (!utf8_valid(value, strlen(value))) {
			snprintf(err, len, "throttle-query is not valid UTF-8");
			return -1;
		}
		free(c->throttle_query);
		c->throttle_query = value[0] != '\0' ? xstrdup(value) : NULL;
		c->set |= CONFIG_THROTTLE_QUERY;
	} else {
		snprintf(err, len,
			 "unknown key \"%.40s\" (the keys: max-lag, max-load, critical-load, "
			 "throttle-query, chunk-time)",
			 key);
		return -1;
	}
	return 0;
}

/* One line, without its newline: a comment, blank, or key = value. */
static int
config_line(struct config *c, char *s, char *err, size_t len)
{
	char *eq, *key, *value, *end;

	while (config_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) == NULL) {
		snprintf(err, len, "expected \"key = value\", not \"%.40s\"", s);
		return -1;
	}
	key = s;
	for (end = eq; end > key && config_blank(end[-1]); end--)
		;
	*end = '\0';
	value = eq + 1;
	while (config_blank(*value))
		value++;
	for (end = value + strlen(value); end > value && config_blank(end[-1]); end--)
		;
	*end = '\0';
	return config_set(c, key, value, err, len);
}

int
config_parse(struct config *c, const char *text, int *line, char *err, size_t len)
{
	char *copy = xstrdup(text);
	char *s = copy;
	int rc = 0;

	*line = 0;
	while (s != NULL) {
		char *nl = strchr(s, '\n');

		if (nl != NULL)
			*nl = '\0';
		++*line;
		if (config_line(c, s, err, len) != 0) {
			rc = -1;
			break;
		}
		s = nl != NULL ? nl + 1 : NULL;
	}
	free(copy);
	return rc;
}

int
config_read(struct config *c, const char *path, struct shade_err *err)
{
	struct buf text = {0};
	char chunk[4096], why[512];
	FILE *f = fopen(path, "r");
	size_t n;
	int line, rc = -1;

	*c = (struct config){0};
	if (f == NULL) {
		err_set(err, SHADE_USAGE, "%s: cannot read it: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (memchr(chunk, '\0', n) != NULL || text.len + n > CONFIG_MAX_BYTES) {
			err_set(err, SHADE_USAGE, "%s: not a settings file (a NUL byte, or over %d "
				"bytes)", path, CONFIG_MAX_BYTES);
			goto out;
		}
		buf_append_n(&text, chunk, n);
	}
	if (ferror(f)) {
		err_set(err, SHADE_USAGE, "%s: cannot read it: %s", path, strerror(errno));
		goto out;
	}
	if (config_parse(c, buf_str(&text), &line, why, sizeof(why)) != 0) {
		err_set(err, SHADE_USAGE, "%s:%d: %s", path, line, why);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		config_free(c);
	fclose(f);
	buf_free(&text);
	return rc;
}

void
config_free(struct config *c)
{
	free(c->throttle_query);
	*c = (struct config){0};
}

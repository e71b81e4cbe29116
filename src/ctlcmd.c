/*
 * ctlcmd.c - the control socket's command language (ctlcmd.h). The values
 * of chunk-time=, max-lag= and max-load= go through config_set, so their
 * ranges and messages are the --config file's.
 */
#include "ctlcmd.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

static const struct {
	const char *name;
	enum ctlcmd_kind kind;
	bool value;  /* takes "=value" */
} ctlcmd_table[] = {
	{"status", CTLCMD_STATUS, false},
	{"pause", CTLCMD_PAUSE, false},
	{"resume", CTLCMD_RESUME, false},
	{"postpone", CTLCMD_POSTPONE, false},
	{"cut-over", CTLCMD_CUT_OVER, false},
	{"abort", CTLCMD_ABORT, false},
	{"chunk-time", CTLCMD_CHUNK_TIME, true},
	{"max-lag", CTLCMD_MAX_LAG, true},
	{"max-load", CTLCMD_MAX_LOAD, true},
};

static bool
ctlcmd_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* The client's text, for a reply: at most 40 bytes, printable ASCII. */
static void
ctlcmd_shown(char *out, size_t len, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && i < 40 && o + 1 < len; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && o + 3 < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int
ctlcmd_parse(const char *line, struct ctlcmd *cmd, char *err, size_t len)
{
	const char *s = line, *end = line + strlen(line), *name_end;
	char shown[64], value[64], why[256];
	struct config c = {0};

	while (s < end && ctlcmd_blank(*s))
		s++;
	while (end > s && ctlcmd_blank(end[-1]))
		end--;
	for (name_end = s; name_end < end && *name_end != '=' && !ctlcmd_blank(*name_end);
	     name_end++)
		;
	*cmd = (struct ctlcmd){0};
	for (size_t i = 0; i < ARRAY_LEN(ctlcmd_table); i++) {
		const char *name = ctlcmd_table[i].name;
		const char *rest = name_end;

		if (strlen(name) != (size_t)(name_end - s) || memcmp(name, s, strlen(name)) != 0)
			continue;
		while (rest < end && ctlcmd_blank(*rest))
			rest++;
		cmd->kind = ctlcmd_table[i].kind;
		if (!ctlcmd_table[i].value) {
			if (rest == end)
				return 0;
			snprintf(err, len, "error: %s takes no value", name);
			return -1;
		}
		/*
		 * The value as shown (a longer one gains "..." and so fails):
		 * config_set's message then quotes nothing unprintable.
		 */
		if (rest < end && *rest == '=') {
			for (rest++; rest < end && ctlcmd_blank(*rest); rest++)
				;
			ctlcmd_shown(value, sizeof(value), rest, (size_t)(end - rest));
		} else {
			value[0] = '\0';
		}
		if (config_set(&c, name, value, why, sizeof(why)) != 0) {
			snprintf(err, len, "error: %s", why);
			config_free(&c);
			return -1;
		}
		cmd->seconds = cmd->kind == CTLCMD_MAX_LAG ? c.max_lag : c.chunk_time;
		cmd->count = c.max_load;
		config_free(&c);
		return 0;
	}
	if (s == end) {
		snprintf(err, len, "error: empty command (status, pause, resume, chunk-time=S, "
			 "max-lag=S, max-load=N, postpone, cut-over, abort)");
		return -1;
	}
	ctlcmd_shown(shown, sizeof(shown), s, (size_t)(end - s));
	snprintf(err, len, "error: unknown command \"%s\"", shown);
	return -1;
}

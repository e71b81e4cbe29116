/*
 * ctlcmd.h - one line a client sent to the control socket, parsed:
 *
 *   status | pause | resume | postpone | cut-over | abort
 *   chunk-time=S | max-lag=S | max-load=N
 *
 * Blanks around the line and around "=" are ignored. Pure: the socket
 * (ctlsock.c) hands lines in, the migration (migration_control.c) acts.
 */
#ifndef SHADE_CTLCMD_H
#define SHADE_CTLCMD_H

#include <stddef.h>

#include "util.h"

enum ctlcmd_kind {
	CTLCMD_STATUS,
	CTLCMD_PAUSE,
	CTLCMD_RESUME,
	CTLCMD_CHUNK_TIME,
	CTLCMD_MAX_LAG,
	CTLCMD_MAX_LOAD,
	CTLCMD_POSTPONE,
	CTLCMD_CUT_OVER,
	CTLCMD_ABORT,
};

struct ctlcmd {
	enum ctlcmd_kind kind;
	double seconds;  /* chunk-time=, max-lag= */
	long count;      /* max-load= */
};

/*
 * Parse one line (no newline). On a bad line returns -1 and writes the
 * reply into err, e.g. "error: unknown command \"xyz\"" (the client's
 * text shortened, anything unprintable shown as ?).
 */
int ctlcmd_parse(const char *line, struct ctlcmd *cmd, char *err, size_t len) WARN_UNUSED;

#endif

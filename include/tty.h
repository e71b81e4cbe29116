/*
 * tty.h - asking the operator at the terminal (the password prompt).
 */
#ifndef SHADE_TTY_H
#define SHADE_TTY_H

#include <stdbool.h>

#include "dbwait.h"

/*
 * Print prompt on /dev/tty and read a line without echo, waiting through w
 * so that the event loop (and with it the signal watchers) keeps running.
 * Returns the line (caller wipes and frees it), or NULL: when there is no
 * terminal, or when the operator aborted at the prompt (Ctrl-C, SIGTERM;
 * *aborted is then true).
 */
char *tty_read_secret(struct dbwait *w, const char *prompt, bool *aborted);

#endif

/*
 * tty.h - asking the operator at the terminal (the password prompt).
 */
#ifndef SHADE_TTY_H
#define SHADE_TTY_H

/*
 * Print prompt on /dev/tty and read a line without echo. Returns the line
 * (caller wipes and frees it), or NULL when there is no terminal.
 */
char *tty_read_secret(const char *prompt);

#endif

/*
 * tty.c - read a secret from the controlling terminal, never from stdin
 * (which may be a pipe) and never echoed. Both engines use it when the
 * server asks for a password that neither the DSN nor the environment had.
 */
#include "tty.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>

#include "util.h"

char *
tty_read_secret(const char *prompt)
{
	struct termios old, quiet;
	char line[1024];
	FILE *tty = fopen("/dev/tty", "r+");
	char *secret = NULL;
	bool restore;

	if (tty == NULL)
		return NULL;
	fputs(prompt, tty);
	fflush(tty);
	restore = tcgetattr(fileno(tty), &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	if (fgets(line, sizeof(line), tty) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		secret = xstrdup(line);
	}
	if (restore)
		(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	explicit_bzero(line, sizeof(line));
	fclose(tty);
	return secret;
}

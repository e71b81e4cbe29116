/*
 * unit.h - the unit tests' whole harness, header-only.
 *
 * CHECK(cond) and CHECK_STREQ(a, b) count a pass or print the failing line;
 * CHECK_DIES(stmt) runs stmt in a child and passes if it exits non-zero (for
 * the die() paths that guard against programming errors). UNIT_CASE(fmt, ...)
 * names the data-driven case in hand, so a failure says which row failed.
 * main() ends with `return unit_done();`, which prints "N passed, N failed"
 * and returns non-zero if anything failed.
 */
#ifndef SHADE_UNIT_H
#define SHADE_UNIT_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int unit_passed __attribute__((unused));
static int unit_failed __attribute__((unused));
static char unit_case[512] __attribute__((unused));

#define UNIT_CASE(...) snprintf(unit_case, sizeof(unit_case), __VA_ARGS__)

#define UNIT_FAIL_AT(what)                                                   \
	do {                                                                 \
		unit_failed++;                                               \
		printf("FAIL %s:%d: %s", __FILE__, __LINE__, (what));        \
		if (unit_case[0])                                            \
			printf("  [case: %s]", unit_case);                   \
		putchar('\n');                                              \
	} while (0)

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (cond)                                                    \
			unit_passed++;                                       \
		else                                                         \
			UNIT_FAIL_AT(#cond);                                 \
	} while (0)

#define CHECK_STREQ(a, b)                                                    \
	do {                                                                 \
		const char *unit_a_ = (a), *unit_b_ = (b);                   \
		if (unit_a_ != NULL && unit_b_ != NULL                       \
			? strcmp(unit_a_, unit_b_) == 0                      \
			: unit_a_ == unit_b_) {                              \
			unit_passed++;                                       \
		} else {                                                     \
			UNIT_FAIL_AT(#a " == " #b);                          \
			fprintf(stdout, "     got      %s\n     expected %s\n", \
				unit_a_ ? unit_a_ : "(null)",                \
				unit_b_ ? unit_b_ : "(null)");               \
		}                                                            \
	} while (0)

/* stmt must end the process with a non-zero status (die()). */
#define CHECK_DIES(stmt)                                                     \
	do {                                                                 \
		pid_t unit_pid_;                                             \
		int unit_st_ = 0;                                            \
		fflush(NULL);                                                \
		unit_pid_ = fork();                                          \
		if (unit_pid_ == 0) {                                        \
			int unit_fd_ = open("/dev/null", O_WRONLY);          \
			if (unit_fd_ >= 0)                                   \
				dup2(unit_fd_, 2);                           \
			stmt;                                                \
			_exit(0);                                            \
		}                                                            \
		if (unit_pid_ > 0 && waitpid(unit_pid_, &unit_st_, 0) ==     \
					      unit_pid_ &&                   \
		    WIFEXITED(unit_st_) && WEXITSTATUS(unit_st_) != 0)       \
			unit_passed++;                                       \
		else                                                         \
			UNIT_FAIL_AT("dies: " #stmt);                        \
	} while (0)

/* Run one test function and say so. */
#define UNIT_RUN(fn)                                                         \
	do {                                                                 \
		int unit_before_ = unit_failed;                              \
		unit_case[0] = '\0';                                         \
		fn();                                                        \
		unit_case[0] = '\0';                                         \
		printf("%s %s\n", unit_failed == unit_before_ ? "ok  " : "FAIL", \
		       #fn);                                                 \
	} while (0)

static inline int
unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif

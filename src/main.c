/*
 * main.c - the command line: parse and check the options, hand them to the
 * migration, turn its result into an exit status and one line on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "logfmt.h"
#include "migration.h"
#include "util.h"

static const char usage_text[] =
	"usage: shade --dsn DSN --table [SCHEMA.]TABLE --alter 'ALTER-BODY'\n"
	"             (--execute | --dry-run) [options]\n"
	"       shade --dsn DSN --table [SCHEMA.]TABLE --cleanup\n"
	"\n"
	"Change the schema of a large, busy PostgreSQL or MySQL/MariaDB table\n"
	"without taking it offline.\n"
	"\n"
	"  --dsn DSN            postgres://user@host:port/db, key=value conninfo\n"
	"                       (host=/socket/dir for a unix socket), or\n"
	"                       mysql://user@host:port/db[?socket=/path/mysqld.sock]\n"
	"  --table NAME         the table, written as in the server's SQL\n"
	"  --alter BODY         what follows ALTER TABLE t, e.g.\n"
	"                       'ADD COLUMN flag int NOT NULL DEFAULT 0'\n"
	"  --execute            do it\n"
	"  --dry-run            say what would be done, change nothing\n"
	"  --attempt-instant    with --execute: when the server can make the ALTER\n"
	"                       in its catalog alone, do that instead of a copy\n"
	"  --cleanup            remove what an interrupted run left on the table\n"
	"                       (its triggers, change log and new table); running\n"
	"                       the same --execute command again resumes it instead\n"
	"  --chunk-time SECS    target time per copy chunk (default 0.5)\n"
	"  --lock-timeout SECS  longest wait for a lock on the table (default 1)\n"
	"  --lock-retries N     attempts to take that lock (default 10)\n"
	"  --reconnect-tries N  attempts to reconnect after a lost connection, then\n"
	"                       take the run up where it was (default 10)\n"
	"  --connect-timeout SECS  longest a connection attempt may take (default 10)\n"
	"  --drop-old           drop the old table after the swap\n"
	"  --progress-interval SECS  seconds between progress lines (default 5)\n"
	"  --panic-flag-file F  when file F exists, abort as SIGTERM does (exit 3)\n"
	"  --throttle-flag-file F  while file F exists, copy and apply nothing new\n"
	"  --postpone-flag-file F  while file F exists, keep applying the change log\n"
	"                       and do not swap\n"
	"  --control-socket PATH  serve commands on a unix socket (mode 0600):\n"
	"                       status, pause, resume, chunk-time=S, max-lag=S,\n"
	"                       max-load=N, postpone, cut-over, abort\n"
	"  --postpone-cut-over  do not swap until the control socket's cut-over\n"
	"  --config FILE        throttle settings (key = value), read at start and\n"
	"                       again on SIGHUP: max-lag, max-load, critical-load,\n"
	"                       throttle-query, chunk-time\n"
	"  --max-lag SECS       while a replica's lag is over SECS, copy and apply\n"
	"                       nothing new (PostgreSQL: the standbys the server\n"
	"                       streams to, or each --replica; MySQL: each --replica)\n"
	"  --replica DSN        a replica whose lag --max-lag reads (repeatable)\n"
	"  --max-load N         while more than N sessions run a statement (MySQL\n"
	"                       Threads_running, PostgreSQL active backends), wait\n"
	"  --critical-load N    over N such sessions, abort and undo (exit 1)\n"
	"  --throttle-query SQL  while SQL (run on the server) returns more than 0,\n"
	"                       wait\n"
	"  --log-format FORMAT  text (default) or json: every event, progress line,\n"
	"                       the summary and the final error as one JSON object\n"
	"                       per line on stderr\n"
	"  --quiet              print errors only\n"
	"  --verbose            print every statement shade runs, and with an error\n"
	"                       the statement that failed and its SQLSTATE/errno\n"
	"  --help, --version\n"
	"\n"
	"Exit status: 0 done, 1 failed (original untouched), 2 usage or bad input,\n"
	"3 aborted by the operator (SIGINT/SIGTERM; SIGUSR1 pauses, SIGUSR2 resumes).\n"
	"Passwords: from the DSN, PGPASSWORD/~/.pgpass, MYSQL_PWD/~/.my.cnf.\n";

/* --replica options taken (each is a connection while shade runs). */
#define MAIN_MAX_REPLICAS 64

enum {
	OPT_DSN = 256,
	OPT_TABLE,
	OPT_ALTER,
	OPT_EXECUTE,
	OPT_DRY_RUN,
	OPT_ATTEMPT_INSTANT,
	OPT_CLEANUP,
	OPT_CHUNK_TIME,
	OPT_LOCK_TIMEOUT,
	OPT_LOCK_RETRIES,
	OPT_RECONNECT_TRIES,
	OPT_CONNECT_TIMEOUT,
	OPT_DROP_OLD,
	OPT_PROGRESS_INTERVAL,
	OPT_PANIC_FLAG_FILE,
	OPT_THROTTLE_FLAG_FILE,
	OPT_POSTPONE_FLAG_FILE,
	OPT_CONTROL_SOCKET,
	OPT_POSTPONE_CUT_OVER,
	OPT_CONFIG,
	OPT_MAX_LAG,
	OPT_REPLICA,
	OPT_MAX_LOAD,
	OPT_CRITICAL_LOAD,
	OPT_THROTTLE_QUERY,
	OPT_LOG_FORMAT,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION,
	OPT_END,
};

static const struct option long_options[] = {
	{"dsn", required_argument, NULL, OPT_DSN},
	{"table", required_argument, NULL, OPT_TABLE},
	{"alter", required_argument, NULL, OPT_ALTER},
	{"execute", no_argument, NULL, OPT_EXECUTE},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"attempt-instant", no_argument, NULL, OPT_ATTEMPT_INSTANT},
	{"chunk-time", required_argument, NULL, OPT_CHUNK_TIME},
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	{"lock-retries", required_argument, NULL, OPT_LOCK_RETRIES},
	{"cleanup", no_argument, NULL, OPT_CLEANUP},
	{"reconnect-tries", required_argument, NULL, OPT_RECONNECT_TRIES},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"drop-old", no_argument, NULL, OPT_DROP_OLD},
	{"progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL},
	{"panic-flag-file", required_argument, NULL, OPT_PANIC_FLAG_FILE},
	{"throttle-flag-file", required_argument, NULL, OPT_THROTTLE_FLAG_FILE},
	{"postpone-flag-file", required_argument, NULL, OPT_POSTPONE_FLAG_FILE},
	{"control-socket", required_argument, NULL, OPT_CONTROL_SOCKET},
	{"postpone-cut-over", no_argument, NULL, OPT_POSTPONE_CUT_OVER},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"max-lag", required_argument, NULL, OPT_MAX_LAG},
	{"replica", required_argument, NULL, OPT_REPLICA},
	{"max-load", required_argument, NULL, OPT_MAX_LOAD},
	{"critical-load", required_argument, NULL, OPT_CRITICAL_LOAD},
	{"throttle-query", required_argument, NULL, OPT_THROTTLE_QUERY},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/*
 * The format of the lines on stderr. Options are read in order: a usage
 * error found before --log-format json (or in its own value) is said as
 * text, one found after it, or after all options were read, as JSON.
 */
static enum logfmt_format main_format = LOGFMT_TEXT;

/* The last line, as main_format says: text, or one JSON "failed" object. */
static void
main_say_failed(int status, const char *msg, const struct logfmt_field *extra, size_t nextra)
{
	struct logfmt_field f[8];
	struct buf b = {0};
	size_t n = 0;

	if (main_format == LOGFMT_TEXT) {
		fprintf(stderr, "shade: %s\n", msg);
		return;
	}
	f[n++] = LF_INT("status", status);
	f[n++] = LF_STR("message", msg);
	for (size_t i = 0; i < nextra && n < ARRAY_LEN(f); i++)
		f[n++] = extra[i];
	logfmt_json(&b, logfmt_wall_now(), "error", "failed", f, n);
	fputs(buf_str(&b), stderr);
	buf_free(&b);
}

/* die()'s last line, in JSON when that is the format. */
static void
main_die_line(const char *msg)
{
	main_say_failed(SHADE_FAILED, msg, NULL, 0);
}

static void __attribute__((noreturn)) PRINTF_LIKE(1, 2)
main_usage_error(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, " (see shade --help)");
	main_say_failed(SHADE_USAGE, buf_str(&b), NULL, 0);
	buf_free(&b);
	exit(SHADE_USAGE);
}

static double
main_seconds(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
		main_usage_error("%s takes a number of seconds from %g to %g, not \"%s\"",
				 opt, min, max, s);
	return v;
}

static int
main_count(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		main_usage_error("%s takes a whole number from %ld to %ld, not \"%s\"",
				 opt, min, max, s);
	return (int)v;
}

/*
 * getopt_long said '?'. optopt tells which: a long option's value (it lacks
 * its argument), a short option's character (shade has none), or 0 (an
 * unknown long option, which is argv[optind - 1]).
 */
static void __attribute__((noreturn))
main_bad_option(char **argv)
{
	if (optopt >= OPT_DSN && optopt < OPT_END) {
		for (const struct option *lo = long_options; lo->name; lo++)
			if (lo->val == optopt)
				main_usage_error("option --%s needs a value", lo->name);
	}
	if (optopt > 0 && optopt < 256) {
		if (optopt > ' ' && optopt < 127)
			main_usage_error("unknown option \"-%c\"", optopt);
		main_usage_error("unknown option");
	}
	main_usage_error("unknown option \"%s\"", argv[optind - 1]);
}

/*
 * The last line of a run that failed. With --verbose, the detail behind it
 * for the log: as text, a second line; in JSON, keys of the same object.
 * The statement holds no password (passwords never reach SQL text).
 */
static void main_error_detail(const struct shade_err *err);

static void
main_failed(int status, const struct shade_err *err, bool verbose)
{
	const char *msg = err->msg[0] ? err->msg : "failed";
	struct logfmt_field f[3];
	size_t n = 0;

	if (main_format == LOGFMT_TEXT || !verbose) {
		main_say_failed(status, msg, NULL, 0);
		if (verbose)
			main_error_detail(err);
		return;
	}
	if (err->stmt != NULL)
		f[n++] = LF_STR("statement", err->stmt);
	if (err->sqlstate[0] != '\0')
		f[n++] = LF_STR("sqlstate", err->sqlstate);
	if (err->server_errno != 0)
		f[n++] = LF_INT("server_errno", err->server_errno);
	main_say_failed(status, msg, f, n);
}

static void
main_error_detail(const struct shade_err *err)
{
	char code[64] = "";

	if (err->sqlstate[0] != '\0' && err->server_errno != 0)
		snprintf(code, sizeof(code), " (SQLSTATE %s, error %u)", err->sqlstate,
			 err->server_errno);
	else if (err->sqlstate[0] != '\0')
		snprintf(code, sizeof(code), " (SQLSTATE %s)", err->sqlstate);
	else if (err->server_errno != 0)
		snprintf(code, sizeof(code), " (error %u)", err->server_errno);
	if (err->stmt != NULL)
		fprintf(stderr, "shade: the statement that failed%s: %s\n", code, err->stmt);
	else if (code[0] != '\0')
		fprintf(stderr, "shade: the server's error code:%s\n", code);
}

/*
 * --config: the file's settings override the options' (the command line
 * gives the starting values). A bad file: one line naming the file and
 * line, exit 2. conf owns the throttle query o then points at.
 */
static int
main_config(struct mig_opts *o, struct config *conf, struct shade_err *err)
{
	if (config_read(conf, o->config_file, err) != 0) {
		err_prefix(err, SHADE_USAGE, "--config ");
		return -1;
	}
	if (conf->set & CONFIG_MAX_LAG)
		o->max_lag = conf->max_lag;
	if (conf->set & CONFIG_MAX_LOAD)
		o->max_load = conf->max_load;
	if (conf->set & CONFIG_CRITICAL_LOAD)
		o->critical_load = conf->critical_load;
	if (conf->set & CONFIG_THROTTLE_QUERY)
		o->throttle_query = conf->throttle_query;
	if (conf->set & CONFIG_CHUNK_TIME)
		o->chunk_time = conf->chunk_time;
	return 0;
}

/* Another --replica: kept in an array that lives until exit. */
static void
main_replica(struct mig_opts *o, const char *dsn)
{
	static const char *replicas[MAIN_MAX_REPLICAS];

	if (o->nreplicas == MAIN_MAX_REPLICAS)
		main_usage_error("at most %d --replica options", MAIN_MAX_REPLICAS);
	replicas[o->nreplicas++] = dsn;
	o->replicas = replicas;
}

/* One of the throttle's options (throttle.h) into o. */
static void
main_throttle_option(int c, struct mig_opts *o)
{
	switch (c) {
	case OPT_MAX_LAG:
		o->max_lag = main_seconds("--max-lag", optarg, 0.01, 86400);
		break;
	case OPT_REPLICA:
		main_replica(o, optarg);
		break;
	case OPT_MAX_LOAD:
		o->max_load = main_count("--max-load", optarg, 1, 1000000);
		break;
	case OPT_CRITICAL_LOAD:
		o->critical_load = main_count("--critical-load", optarg, 1, 1000000);
		break;
	case OPT_THROTTLE_QUERY:
		if (optarg[0] == '\0')
			main_usage_error("--throttle-query needs a query");
		o->throttle_query = optarg;
		break;
	}
}

/* One option getopt_long returned: into o (--help and --version exit here). */
static void
main_option(int c, struct mig_opts *o, bool *dry_run, char **argv)
{
	switch (c) {
	case OPT_DSN:
		o->dsn = optarg;
		break;
	case OPT_TABLE:
		o->table = optarg;
		break;
	case OPT_ALTER:
		o->alter = optarg;
		break;
	case OPT_EXECUTE:
		o->execute = true;
		break;
	case OPT_DRY_RUN:
		*dry_run = true;
		break;
	case OPT_ATTEMPT_INSTANT:
		o->attempt_instant = true;
		break;
	case OPT_CLEANUP:
		o->cleanup = true;
		break;
	case OPT_CHUNK_TIME:
		o->chunk_time = main_seconds("--chunk-time", optarg, 0.01, 60);
		break;
	case OPT_LOCK_TIMEOUT:
		o->lock_timeout = main_seconds("--lock-timeout", optarg, 0.01, 60);
		break;
	case OPT_LOCK_RETRIES:
		o->lock_retries = main_count("--lock-retries", optarg, 1, 1000);
		break;
	case OPT_RECONNECT_TRIES:
		o->reconnect_tries = main_count("--reconnect-tries", optarg, 0, 1000);
		break;
	case OPT_CONNECT_TIMEOUT:
		o->connect_timeout = main_seconds("--connect-timeout", optarg, 1, 3600);
		break;
	case OPT_DROP_OLD:
		o->drop_old = true;
		break;
	case OPT_PROGRESS_INTERVAL:
		o->progress_interval = main_seconds("--progress-interval", optarg, 0.1, 3600);
		break;
	case OPT_PANIC_FLAG_FILE:
		o->panic_flag_file = optarg;
		break;
	case OPT_THROTTLE_FLAG_FILE:
		o->throttle_flag_file = optarg;
		break;
	case OPT_POSTPONE_FLAG_FILE:
		o->postpone_flag_file = optarg;
		break;
	case OPT_CONTROL_SOCKET:
		o->control_socket = optarg;
		break;
	case OPT_POSTPONE_CUT_OVER:
		o->postpone_cut_over = true;
		break;
	case OPT_CONFIG:
		o->config_file = optarg;
		break;
	case OPT_MAX_LAG:
	case OPT_REPLICA:
	case OPT_MAX_LOAD:
	case OPT_CRITICAL_LOAD:
	case OPT_THROTTLE_QUERY:
		main_throttle_option(c, o);
		break;
	case OPT_LOG_FORMAT:
		if (logfmt_parse(optarg, &o->log_format) != 0)
			main_usage_error("--log-format takes text or json, not \"%s\"", optarg);
		main_format = o->log_format;
		die_set_printer(main_format == LOGFMT_JSON ? main_die_line : NULL);
		break;
	case OPT_QUIET:
		o->quiet = true;
		break;
	case OPT_VERBOSE:
		o->verbose = true;
		break;
	case OPT_HELP:
		fputs(usage_text, stdout);
		exit(SHADE_OK);
	case OPT_VERSION:
		printf("shade %s\n", SHADE_VERSION);
		exit(SHADE_OK);
	default:
		main_bad_option(argv);
	}
}

int
main(int argc, char **argv)
{
	struct mig_opts o;
	struct shade_err err = {0};
	struct config conf = {0};
	enum shade_status st;
	bool dry_run = false;
	int c;

	/*
	 * Until the migration's signal watchers stand, a pause or resume
	 * request must not kill shade (their default action): ignore them.
	 */
	(void)signal(SIGUSR1, SIG_IGN);
	(void)signal(SIGUSR2, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	migration_defaults(&o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1)
		main_option(c, &o, &dry_run, argv);
	if (optind < argc)
		main_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (o.dsn == NULL)
		main_usage_error("--dsn is required");
	if (o.table == NULL)
		main_usage_error("--table is required");
	if (o.cleanup && (o.execute || dry_run || o.alter != NULL))
		main_usage_error("--cleanup takes --dsn and --table only, not --alter, --execute "
				 "or --dry-run");
	if (o.alter == NULL && !o.cleanup)
		main_usage_error("--alter is required");
	if (o.execute == dry_run && !o.cleanup)
		main_usage_error(o.execute ? "--execute and --dry-run exclude each other"
					   : "say --execute to run the migration, or --dry-run to see the plan");

	if (o.postpone_cut_over && o.control_socket == NULL)
		main_usage_error("--postpone-cut-over needs --control-socket (its cut-over command "
				 "lets the swap go on)");
	if (o.config_file != NULL && main_config(&o, &conf, &err) != 0) {
		st = SHADE_USAGE;
		goto out;
	}

	if (o.critical_load > 0 && o.max_load > 0 && o.critical_load <= o.max_load)
		main_usage_error("--critical-load (%ld) must be above --max-load (%ld)",
				 o.critical_load, o.max_load);
	st = migration_run(&o, &err);
out:
	if (st != SHADE_OK)
		main_failed((int)st, &err, o.verbose);
	err_clear(&err);
	config_free(&conf);
	return (int)st;
}

/*
 * writer/writer.h - what the write load's two files share: its options, a
 * worker's state, and the calls that talk to the server (writer/db.c) for
 * the transactions that writer.c builds and runs. See writer.c for what
 * the writer does.
 */
#ifndef SHADE_TESTS_WRITER_H
#define SHADE_TESTS_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "ident.h"
#include "sql.h"
#include "util.h"

#define WRITER_MAX_PARAMS 8

enum writer_op {
	OP_INSERT,
	OP_UPDATE,   /* all non-key columns */
	OP_BUMP,     /* qty = qty + d (counted as an update) */
	OP_PKUPDATE,
	OP_DELETE,
	OP_USET,     /* --unique-churn: u = ? of one row (counted as a move) */
	OP_UGET,     /* --unique-churn: read u of one row, FOR UPDATE */
	OP_COUNT
};

struct writer_opts {
	enum sql_dialect dialect;
	bool engine_given;
	const char *dsn;
	const char *table;
	const char *mirror;
	int workers;
	double seconds;
	const char *until_file;
	unsigned long long seed;
	bool composite;
	int rollback_pct;
	double rate;  /* transactions per second per worker, 0: no limit */
	const char *renamed_key;  /* T's key column after the swap (not id) */
	bool churn;               /* --unique-churn */
};

/* What a worker reports to the parent through a pipe when it ends. */
struct writer_counts {
	long long commits[OP_COUNT];
	long long rollbacks;
	long long retries;
	long long errors;
	long long mismatches;
	long long conflicts;  /* --unique-churn: unique violations rolled back */
	int fatal;  /* the worker could not go on (connection lost, ...) */
};

/* The key range the table had at the start. */
struct writer_range {
	bool empty;
	long long min[2];
	long long max[2];
	long long umin;  /* --unique-churn: the smallest u, or 0 if none is below */
};

struct writer {
	const struct writer_opts *o;
	int id;
	struct writer_range r;
	uint64_t rng;
	long long fresh_base;  /* first fresh key (a for --composite) */
	long long fresh_next;
	long long fresh_u;       /* --unique-churn: the next fresh u, counting down */
	char *sql[2][OP_COUNT];  /* [0] the table, [1] the mirror */
	const struct qname *table;
	bool renamed;            /* sql[0] names the key renamed_key */
	PGconn *pg;
	MYSQL *my;
	struct writer_counts c;
	int errors_shown;
};

/* -- talking to the server (writer/db.c) ------------------------------- */

enum writer_res {
	WRES_OK,
	WRES_RETRY,  /* deadlock, serialization failure, lock timeout */
	WRES_ERROR,  /* the statement failed; the connection is fine */
	WRES_FATAL,  /* the connection is gone */
	WRES_RENAMED,  /* no column id: --renamed-key's swap has happened */
	WRES_DUP,    /* --unique-churn: a unique violation, a race for a value */
};

/* The one value a SELECT of one column returns (UGET). */
struct writer_cell {
	bool found;  /* a row came back */
	bool null;
	char v[32];
};

/* Print one of the first few errors of a worker, and the statement. */
void writer_report(struct writer *w, const char *what, const char *sql);
/* Run a statement without parameters (BEGIN, COMMIT, ROLLBACK). */
enum writer_res writer_simple(struct writer *w, const char *sql);
/*
 * Run sql with n text parameters (NULL: SQL NULL); *affected rows. cell
 * (not NULL): the statement is a SELECT of one column, and cell gets the
 * value of its first row.
 */
enum writer_res writer_exec(struct writer *w, const char *sql, int n,
			    const char *const *params, long long *affected,
			    struct writer_cell *cell);
int writer_connect(struct writer *w, struct shade_err *err);
void writer_disconnect(struct writer *w);
/* Read the key range of table t (before forking). */
int writer_read_range(struct writer *w, const struct qname *t, struct shade_err *err);

#endif

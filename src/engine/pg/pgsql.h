/*
 * engine/pg/pgsql.h - what the files of the PostgreSQL engine share.
 *
 * The engine is a folder, a file per concern (exec, conn, catalog, runlock,
 * shadow, columns, constraints, triggers, names, carry, views, matviews,
 * capture, copy, apply, swap, blockers, cleanup, dryrun, probe), behind this
 * private header; engine.c exports the one const struct engine the rest of
 * shade sees. A function that one file exports to the others is named after that
 * file (pgsql_copy_chunk is in copy.c, pgsql_exec_run in exec.c). Never a
 * pg_ or PQ prefix: libpq owns those.
 *
 * Objects shade creates next to table T in T's schema:
 *   _T_new          the shadow: LIKE T INCLUDING ALL, then the ALTER-BODY
 *   _T_log          the change log: a bigserial id plus T's key columns
 *   _T_shade_fn     the trigger function that writes the log
 *   _T_shade_trg    AFTER INSERT/UPDATE/DELETE row trigger on T
 *   _T_shade_trunc  BEFORE TRUNCATE trigger on T that refuses a TRUNCATE
 *                   (it would bypass the row trigger and be lost)
 *   _T_old          T after the swap, kept unless --drop-old
 * Shadow indexes are renamed to "_<index>_new" before the ALTER, so that the
 * swap can give each its original name back whatever the ALTER did.
 *
 * search_path: the session runs with it pinned to PGSQL_PINNED_PATH, so that
 * no function or operator in a schema the user can write to changes what
 * shade's own statements mean (pg_repack does the same); the catalog's
 * definitions shade reads (pg_get_*def) are written for that path and run
 * under it. The operator's own SQL (the ALTER-BODY, its USING expressions)
 * runs with the user's search_path, set for the one transaction that runs
 * it, so that it means what the operator meant. The key comparisons name
 * their operators, OPERATOR(s.>) with s the schema of the key type's own
 * operators (key_ops: pg_catalog for the built-in types), so that they
 * mean the same under either path.
 */
#ifndef SHADE_ENGINE_PG_PGSQL_H
#define SHADE_ENGINE_PG_PGSQL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "alter.h"
#include "engine.h"
#include "sql.h"
#include "util.h"

/* The SQLSTATEs shade reacts to. */
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define SQLSTATE_QUERY_CANCELED "57014"

/* The dollar-quote tag of the trigger function's body. */
#define FN_TAG "$shade$"

/* The session's search_path while shade's own statements run. */
#define PGSQL_PINNED_PATH "pg_catalog, pg_temp"

/* WAL positions a probe connection remembers (probe.c). */
#define PGSQL_WAL_SEEN 128

struct index_pair {
	char *orig;    /* index name on T */
	char *shadow;  /* its twin's name on the shadow */
	bool constraint; /* it backs a constraint (of the same name) */
};

/* An index of the shadow, off it for the copy (indexes.c). */
struct aside_index {
	char *name;         /* its name on the shadow */
	char *create;       /* the statement that builds it again */
	char *comment;      /* COMMENT ON INDEX ..., or NULL */
	char *con_comment;  /* COMMENT ON CONSTRAINT ..., or NULL */
	char kind;          /* 'p' the primary key, 'u' unique or exclusion,
			       'i' any other */
	bool clustered;     /* CLUSTER ON it */
	bool replident;     /* the replica identity */
};

struct eng {
	PGconn *conn;
	struct dbwait *w;
	const struct engine_opts *opts;

	/*
	 * The user's search_path before shade pinned its own, read once at
	 * connect: as the setting's text (to run the operator's SQL with it)
	 * and as current_schemas(true) in the server's text form of an array
	 * (to resolve an unqualified --table as the user would).
	 */
	char *user_path;
	char *user_schemas;

	unsigned orig_oid;
	struct qname orig;      /* T, schema-qualified */
	struct qname shadow;    /* _T_new */
	struct qname log;       /* _T_log */
	struct qname old;       /* _T_old */
	struct qname fn;        /* _T_shade_fn */
	struct qname state;     /* _T_state: what a later run resumes from */
	char *trg;              /* _T_shade_trg */
	char *trg_trunc;        /* _T_shade_trunc */
	struct qname keys;      /* pg_temp._shade_keys: one apply batch's keys */
	char *orig_text;        /* T quoted, as a regclass parameter value */
	char *shadow_text;      /* _T_new quoted, likewise */
	bool unlogged;

	struct strlist pk;          /* T's primary-key columns, in order */
	struct strlist shadow_pk;   /* the same columns' names on the shadow */
	bool pk_changed;            /* the ALTER changes the primary key: the log
				       still records T's, and key_index (a unique
				       index on shadow_pk, built in its place
				       after the copy, dropped at the swap) finds
				       the apply's rows (indexes.c) */
	char *key_index;
	char *key_ops;              /* the schema of the operators that order
				       the key (catalog.c), e.g. pg_catalog */
	struct strlist src;         /* copy mapping: T's column ... */
	struct strlist dst;         /* ... goes into the shadow's column */
	struct aside_index *aside;  /* the shadow's indexes, off for the copy */
	size_t naside;
	bool unique_built;          /* the shadow has its unique indexes again:
				       the apply may meet a stale holder */
	struct index_pair *ipairs;  /* T's indexes and their shadow twins */
	size_t nipairs;
	struct strlist identity;    /* shadow identity columns (their T names) */
	struct strlist fresh;       /* the shadow's new columns (their defaults
				       fill them, on every re-apply too) */
	bool key_deferrable;        /* the shadow's primary key is DEFERRABLE:
				       no ON CONFLICT arbiter */
	bool apply_upsert;          /* the apply updates rows in place (apply.c) */
	struct strlist t_fks;       /* T's foreign keys (constraints.c) ... */
	struct strlist t_fks_valid; /* ... and those of them T has validated */
	struct strlist aside_names; /* constraints off the shadow during the copy */
	struct strlist aside_defs;  /* ... their definitions, without NOT VALID */
	struct strlist aside_validate; /* ... those to validate after the swap */
	struct strlist post_swap;   /* after the swap: VALIDATE those */
	char *select_list;          /* what the copy selects from T, in dst order:
				       a column, or an ALTER's USING expression */
	bool select_has_usings;     /* select_list holds a USING expression: the
				       statements that evaluate it run with the
				       user's search_path */

	struct strlist *plan;       /* dry run: record what pgsql_exec_run runs */
	double analyze_seconds;     /* the last ANALYZE of the shadow took (the
				       dry run's estimate keeps it apart) */
	const struct alter_info *alter;  /* the ALTER-BODY as read (the caller's,
					    outlives the engine) */

	bool views_recreate;        /* the ALTER retypes a column a view reads:
				       the swap drops and creates T's views
				       (views.c) */

	bool capture_created;       /* triggers may exist on T */
	bool force_rls;             /* the new table forces row-level security:
				       not while shade copies into it (a table
				       owner would be subject to its policies),
				       set again at the swap */

	/* Statements built once after the shadow exists. */
	char *sql_copy;
	char *sql_take_keys;
	char *sql_apply_delete;
	char *sql_apply_insert;
	char *sql_apply_gone;
	char *sql_apply_upsert;
	char *sql_release;

	char *copy_filenode;        /* T's file when the copy began */
	double rows_per_block;      /* T's, as last analyzed: sizes a chunk */

	char *alter_body;           /* the ALTER-BODY, for the state table */
	bool resumed;               /* taking up an interrupted run: what it
				       built may be there already */
	long long copied_total;     /* rows copied, this run and before */

	/*
	 * A probe connection (probe.c): when the primary's WAL reached each
	 * position, oldest first, to time a standby's replay position.
	 */
	struct pgsql_wal_seen {
		double at;   /* now_seconds() */
		double lsn;  /* pg_current_wal_lsn() as a byte count */
	} wal_seen[PGSQL_WAL_SEEN];
	size_t nwal_seen;
};

/* exec.c: running statements */
void pgsql_exec_set_error(struct eng *e, const PGresult *res, const char *sql,
			  bool cancel_sent, struct shade_err *err);
int pgsql_exec(struct eng *e, const char *sql, int nparams, const char *const *params,
	       PGresult **out, struct shade_err *err) WARN_UNUSED;
int pgsql_exec_run(struct eng *e, const char *sql, struct shade_err *err) WARN_UNUSED;
int pgsql_exec_run_list(struct eng *e, const struct strlist *l,
			struct shade_err *err) WARN_UNUSED;
int pgsql_exec_run_buf(struct eng *e, struct buf *b, struct shade_err *err) WARN_UNUSED;
void pgsql_exec_plan_list(struct eng *e, const struct strlist *l);
void pgsql_exec_reset_txn(struct eng *e);
int pgsql_exec_set_lock_timeout(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_exec_user_path(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_exec_pinned_path(struct eng *e, struct shade_err *err) WARN_UNUSED;

/* conn.c: connecting */
int pgsql_conn_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
		    const struct engine_opts *opts, struct shade_err *err);
void pgsql_conn_close(struct eng *e);

/* catalog.c: preflight */
int pgsql_catalog_identify(struct eng *e, const struct qname *table, struct table_summary *out,
			   struct shade_err *err) WARN_UNUSED;
int pgsql_catalog_preflight(struct eng *e, const struct qname *table,
			    const struct alter_info *alter, struct table_summary *out,
			    struct shade_err *err);

/*
 * runlock.c: one shade per table. Take the run lock on e's connection (a
 * session-level advisory lock, held until the session ends), or refuse
 * with SHADE_USAGE naming the session that holds it. Needs what preflight
 * resolved (e->orig, e->orig_text); call it again after a reconnect.
 */
int pgsql_runlock_take(struct eng *e, struct shade_err *err) WARN_UNUSED;

/* columns.c: the column mapping and the key check */
int pgsql_columns_map(struct eng *e, const struct alter_info *alter,
		      struct shade_err *err) WARN_UNUSED;

/* triggers.c: the ALTER's ENABLE/DISABLE TRIGGER clauses */
int pgsql_triggers_check(struct eng *e, const struct alter_info *alter,
			 struct shade_err *err) WARN_UNUSED;
void pgsql_triggers_alter_sql(struct eng *e, const struct alter_info *alter,
			      const char *alter_body, struct buf *b);
char pgsql_triggers_state(const struct eng *e, const char *name, char state);

/* names.c: T's prefix for the names the server gave after the shadow */
int pgsql_names_taken(struct eng *e, const char *name, bool *taken,
		      struct shade_err *err) WARN_UNUSED;
int pgsql_names_constraints(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_names_swap(struct eng *e, struct strlist *out, struct shade_err *err) WARN_UNUSED;

/* constraints.c: check and foreign-key constraints, and their validation */
int pgsql_constraints_before(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_constraints_set_aside(struct eng *e, struct shade_err *err) WARN_UNUSED;
void pgsql_constraints_swap_statements(struct eng *e, struct strlist *after);

/* state.c: the state table, and taking up an interrupted run */
void pgsql_state_statements(struct eng *e, struct strlist *out);
int pgsql_state_put(struct eng *e, size_t n, const char *const *kv,
		    struct shade_err *err) WARN_UNUSED;
int pgsql_state_create(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_state_phase(struct eng *e, const char *phase, struct shade_err *err);
int pgsql_state_read(struct eng *e, struct run_state *out, struct shade_err *err);
int pgsql_state_resume(struct eng *e, const char *alter_body, const struct alter_info *alter,
		       const struct run_state *st, struct shade_err *err);
int pgsql_cleanup_abandoned(struct eng *e, const struct qname *table, struct table_summary *out,
			    bool *found, struct shade_err *err);

/* shadow.c: the shadow table */
int pgsql_shadow_build(struct eng *e, const char *alter_body, const struct alter_info *alter,
		       struct shade_err *err) WARN_UNUSED;
int pgsql_shadow_create(struct eng *e, const char *alter_body, const struct alter_info *alter,
			struct shade_err *err);

/* indexes.c: the shadow's indexes, off for the copy, built after it */
int pgsql_indexes_set_aside(struct eng *e, struct shade_err *err) WARN_UNUSED;
void pgsql_indexes_free(struct eng *e);
const char *pgsql_indexes_key_note(const struct eng *e);
int pgsql_indexes_build_key(struct eng *e, struct shade_err *err);
int pgsql_indexes_build_rest(struct eng *e, struct shade_err *err);
void pgsql_indexes_plan(struct eng *e, char kind);
int pgsql_indexes_resume(struct eng *e, const char *phase, struct shade_err *err) WARN_UNUSED;

/* carry.c: what belongs to T and moves to the new table */
extern const char pgsql_carry_setval_sql[];
extern const char pgsql_carry_fingerprint_sql[];
void pgsql_carry_fingerprint_query(struct buf *b);
int pgsql_carry_onto_shadow(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_carry_unforce(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_carry_identity(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_carry_fingerprint(struct eng *e, char **out, struct shade_err *err) WARN_UNUSED;
int pgsql_carry_swap_statements(struct eng *e, struct strlist *out,
				struct shade_err *err) WARN_UNUSED;

/* views.c: views over T whose columns change type */
int pgsql_views_check(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_views_swap_statements(struct eng *e, struct strlist *before, struct strlist *after,
				struct shade_err *err) WARN_UNUSED;

/* matviews.c: materialized views over T, built again over the new table */
int pgsql_matviews_check(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_matviews_swap_statements(struct eng *e, struct strlist *after,
				   struct shade_err *err) WARN_UNUSED;

/*
 * drywarn.c: the dry run's warnings about T (transactions that would keep
 * the swap waiting, foreign keys, T's own triggers), appended to out.
 */
int pgsql_drywarn(struct eng *e, struct strlist *out, struct shade_err *err) WARN_UNUSED;

/*
 * instant.c: whether T could take the ALTER in its catalog alone, judged
 * on rel (a copy of T's columns with the ALTER applied, e.g. the dry run's
 * shadow, in the caller's transaction); and --attempt-instant, which makes
 * such an ALTER on T itself (*done) or leaves T as it was, saying why.
 */
int pgsql_instant_check(struct eng *e, const struct alter_info *alter, const char *rel,
			bool *instant, char **why, struct shade_err *err) WARN_UNUSED;
int pgsql_instant_attempt(struct eng *e, const char *alter_body, const struct alter_info *alter,
			  bool *done, char **why, struct shade_err *err);

/* capture.c: the change log and the triggers */
int pgsql_capture_statements(struct eng *e, struct strlist *pre, struct strlist *trg,
			     struct shade_err *err) WARN_UNUSED;
int pgsql_capture_create(struct eng *e, struct shade_err *err);

/* copy.c: the chunked copy */
void pgsql_copy_statements(struct eng *e);
int pgsql_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err);
int pgsql_copy_resume(struct eng *e, struct shade_err *err) WARN_UNUSED;
int pgsql_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max,
		     long rows, struct keyval *upper, long long *copied, bool *last,
		     struct shade_err *err);

/* apply.c: replaying the change log */
void pgsql_apply_statements(struct eng *e);
int pgsql_apply_in_txn(struct eng *e, long limit, long long *applied,
		       struct shade_err *err) WARN_UNUSED;
int pgsql_apply_release(struct eng *e, long long *released,
			struct shade_err *err) WARN_UNUSED;
int pgsql_apply(struct eng *e, long limit, long long *applied, struct shade_err *err);
int pgsql_apply_backlog(struct eng *e, long long *rows, struct shade_err *err);

/* swap.c: the swap */
void pgsql_swap_lock_statement(struct eng *e, struct buf *b);
int pgsql_swap(struct eng *e, struct shade_err *err);

/*
 * blockers.c: after a lock timeout on T (err a retryable 55P03), append to
 * err's message who holds a lock on T in one of modes, the lock modes that
 * conflict with the one shade asked for (a text[] value, one of those
 * below): ERR_BLOCKED_BY, then up to 3 sessions and how many more. Nothing
 * when err is another error, when nobody holds such a lock any more, or
 * when the lookup fails. Run it outside the failed transaction.
 */
#define PGSQL_CONFLICTS_ACCESS_EXCLUSIVE /* the swap's LOCK TABLE: all */ \
	"{AccessShareLock,RowShareLock,RowExclusiveLock,ShareUpdateExclusiveLock," \
	"ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock}"
#define PGSQL_CONFLICTS_SHARE_ROW_EXCLUSIVE /* CREATE TRIGGER: all but reads */ \
	"{RowExclusiveLock,ShareUpdateExclusiveLock,ShareLock,ShareRowExclusiveLock," \
	"ExclusiveLock,AccessExclusiveLock}"
void pgsql_blockers_append(struct eng *e, const char *modes, struct shade_err *err);
/*
 * The same holders (transactions open longer than the lock timeout that
 * hold a lock on T in one of modes), appended to list: "pid 12 (...):
 * UPDATE ...; pid 13 ...; and 2 more". Returns how many, or -1.
 */
int pgsql_blockers_list(struct eng *e, const char *modes, struct buf *list,
			struct shade_err *err) WARN_UNUSED;

/* cleanup.c: after the swap, or instead of it */
void pgsql_cleanup_statements(struct eng *e, bool drop_old, struct strlist *out);
int pgsql_cleanup_finish(struct eng *e, bool drop_old, struct shade_err *err);
int pgsql_cleanup_undo(struct eng *e, struct shade_err *err);

/* probe.c: the throttle's probes, on a connection of their own */
int pgsql_probe_load(struct eng *e, long *load, struct shade_err *err);
int pgsql_probe_lag(struct eng *e, double *seconds, char *why, size_t len,
		    struct shade_err *err);
int pgsql_probe_replicas(struct eng *e, struct throttle_lags *out, struct shade_err *err);
int pgsql_probe_query(struct eng *e, const char *sql, double *value, struct shade_err *err);
void pgsql_probe_name(struct eng *e, char *out, size_t len);

/* drysample.c: what the dry run measures for its estimate */
int pgsql_drysample_writes(struct eng *e, long long *out, struct shade_err *err) WARN_UNUSED;
int pgsql_drysample_wal(struct eng *e, long long *out, struct shade_err *err) WARN_UNUSED;
int pgsql_drysample_apply(struct eng *e, long rows, struct dry_run_report *out,
			  struct shade_err *err) WARN_UNUSED;

/* dryrun.c: the dry run */
int pgsql_dryrun(struct eng *e, const char *alter_body, const struct alter_info *alter,
		 long sample_rows, struct dry_run_report *out, struct shade_err *err);

#endif

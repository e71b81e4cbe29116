/*
 * engine/mysql/myeng.h - what the files of the MySQL/MariaDB engine share:
 * the engine's state (struct eng), the key, parameter, result and trigger
 * records, and the functions one file calls in another.
 *
 * The engine speaks to the server through MariaDB Connector/C's
 * non-blocking API (exec.c). Values are bound parameters of prepared
 * statements; identifiers reach SQL only through sql_build()/sql_ident().
 * Multi-statements stay off, so a second statement smuggled into the
 * ALTER-BODY is a syntax error.
 *
 * Objects shade creates next to table T, in T's database:
 *   _T_new                    the shadow: LIKE T, then the ALTER-BODY; its
 *                             secondary indexes are dropped and rebuilt once
 *                             after the copy (so that the only unique key
 *                             during the copy is the primary key: see copy.c)
 *   _T_log                    the change log: an auto-increment id plus T's
 *                             key columns with T's types
 *   _T_shade_ins/_upd/_del    AFTER row triggers on T writing the log
 *   _T_state                  what a later run resumes from (state.c),
 *                             from the capture to the cleanup after the swap
 *   T_shade_cut               the swap's sentry (a name that sorts after T)
 *   _<trigger>_shade_tmp      T's own triggers on the shadow, from the swap
 *                             until they get their names back right after
 *   _<key>_shade_fk           a foreign key's name while it moves (fk.c): a
 *                             key out of T on the shadow from the swap until
 *                             right after it; a child's key for a moment
 *   _T_old                    T after the swap, kept unless --drop-old
 *
 * A function one file exports is named after its file where that reads
 * naturally (myeng_copy_chunk in copy.c, myeng_shadow_build in shadow.c).
 * The vocabulary every file speaks lives in exec.c: myeng_exec, myeng_run,
 * myeng_query, the myeng_param and myeng_res families, myeng_cell and
 * myeng_text; the myeng_key family is keys.c, myeng_connect and
 * myeng_disconnect conn.c. Never mysql_ or my_: the client
 * library owns those prefixes. (Not named mysql.h: that would shadow the
 * client library's header.)
 */
#ifndef SHADE_ENGINE_MYSQL_MYENG_H
#define SHADE_ENGINE_MYSQL_MYENG_H

#include <stdbool.h>
#include <stddef.h>

#include <mysql.h>

#include "engine.h"

/*
 * Strict: a row that does not fit the new schema is an error, never a
 * truncated or defaulted value. NO_AUTO_VALUE_ON_ZERO: a row whose
 * AUTO_INCREMENT column holds 0 is copied as 0, not given a new number.
 */
#define MYENG_SQL_MODE \
	"STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
/*
 * What a date or time value is, the server's sql_mode says, and so the
 * plain ALTER's: these of its flags shade's sessions keep (a zero date is
 * a valid value unless the server's mode says NO_ZERO_DATE; fractional
 * seconds are rounded or truncated as it says).
 */
#define MYENG_SQL_MODE_KEPT \
	"NO_ZERO_DATE,NO_ZERO_IN_DATE,ALLOW_INVALID_DATES,TIME_ROUND_FRACTIONAL," \
	"TIME_TRUNCATE_FRACTIONAL"

/* Log rows per transaction while the swap drains the log under its lock. */
#define MYENG_DRAIN_BATCH 10000
/* Most ids bound in one IN list (the protocol allows 65535 parameters). */
#define MYENG_IN_MAX 5000

/* Ends LOCK TABLES: the capture, the swap's locker, the trigger restore. */
#define MYENG_UNLOCK "UNLOCK TABLES"

/* The swap's sentry says what it is (a resumed run takes it over). */
#define MYENG_SENTRY_COMMENT "shade cut-over sentry"

/* How a key column's values travel as text and are bound. */
enum myeng_kind {
	KIND_SIGNED,    /* integer types: bound as a 64-bit integer */
	KIND_UNSIGNED,
	KIND_DECIMAL,   /* bound as a decimal */
	KIND_TEXT,      /* character strings, dates and times: bound as a string */
	KIND_HEX,       /* binary strings: read with HEX(), bound with UNHEX(?) */
};

struct myeng_key {
	char *name;        /* the column on T and on the log */
	char *shadow_name; /* its name on the shadow */
	char *type;        /* COLUMN_TYPE as the server writes it */
	char *charset;     /* character strings only, else NULL */
	char *collation;
	enum myeng_kind kind;
};

/* One bound parameter. Strings are borrowed and must outlive the statement. */
struct myeng_param {
	enum myeng_kind kind;
	long long num;
	unsigned long long unum;
	const char *str;
};

struct myeng_params {
	struct myeng_param *v;
	size_t n, cap;
};

/* A result set as text; cells row by row, NULL for SQL NULL. */
struct myeng_res {
	size_t nrows;
	unsigned ncols;
	char **cells;
	char **names;  /* the columns' names (text statements only, else NULL) */
};

/* A text statement sent but not yet finished (the swap's RENAME). */
struct myeng_pending {
	MYSQL *c;
	const char *sql;
	int status;        /* what the client library waits for; 0: done */
	int ret;
	bool cancel_sent;
};

/* A trigger of T's own, carried over to the new table at the swap. */
struct myeng_trigger {
	char *name;
	char *tmp;        /* its name on the shadow until the swap frees name */
	char *timing;     /* BEFORE or AFTER */
	char *event;      /* INSERT, UPDATE or DELETE */
	char *body;       /* ACTION_STATEMENT, as the server keeps it */
	char *definer;    /* `user`@`host` */
	char *sql_mode;   /* the mode it was created (and must run) under */
};

/* A foreign key out of T or into it (fk.c). */
struct myeng_fk {
	char *name;             /* the constraint's name, unique in its database */
	char *tmp;              /* its name during the swap: _name_shade_fk */
	struct qname child;     /* the table that holds it */
	struct qname parent;    /* the table it references */
	struct strlist cols;    /* the child's columns ... */
	struct strlist refcols; /* ... and the parent's, in order */
	const char *on_update;  /* the actions, as keywords from a fixed list */
	const char *on_delete;
};

struct eng {
	MYSQL *conn;
	MYSQL *killer;     /* opened on the first cancel: runs KILL QUERY */
	MYSQL *locker;     /* the swap's lock holder */
	MYSQL *renamer;    /* the swap's RENAME */
	MYSQL *fence;      /* the swap's lock on the tables referencing T */
	struct dbwait *w;
	const struct engine_opts *opts;
	struct dsn dsn;    /* a copy, for the extra connections */
	bool mariadb;
	int lctn;          /* lower_case_table_names */
	char *server_sql_mode; /* the sql_mode a session gets from the server:
				  what the plain ALTER would run under */
	char *sql_mode;    /* shade's sessions': MYENG_SQL_MODE and the
			      server's MYENG_SQL_MODE_KEPT flags */

	struct qname orig;      /* T, database-qualified */
	struct qname shadow;    /* _T_new */
	struct qname log;       /* _T_log */
	struct qname old;       /* _T_old */
	struct qname sentry;    /* T_shade_cut: the swap's sentry, then T */
	struct qname trg[3];    /* _T_shade_ins, _upd, _del */
	struct qname state;     /* _T_state: what a later run resumes from */
	char *seq;              /* the log's id column */
	char *display;

	struct myeng_key *pk;
	size_t npk;
	struct strlist pkcols;      /* the key columns on T, in order */
	struct strlist shadow_pk;   /* their names on the shadow */
	struct strlist src;         /* copy mapping: T's column ... */
	struct strlist dst;         /* ... goes into the shadow's column */
	struct strlist fill;        /* new NOT NULL columns without a DEFAULT ... */
	struct strlist fill_values; /* ... and the constant the copy writes there */
	char *ai_col;               /* the shadow's AUTO_INCREMENT column, or NULL */
	bool ai_new;                /* no column of T fills it: the copy numbers it */
	long long ai_start;         /* the shadow's AUTO_INCREMENT before the copy */
	struct strlist deferred;    /* index definitions to add after the copy */
	struct myeng_trigger *utrg; /* T's own triggers, in firing order */
	size_t nutrg;
	size_t utrg_on_shadow;      /* of them created on the shadow (tmp names) */
	bool utrg_named;            /* they carry their own names on the new T */
	char *ai_key;               /* temporary index kept for AUTO_INCREMENT */
	/*
	 * The ALTER changes the primary key (columns.c): the log and the copy
	 * still follow T's key, whose columns the shadow keeps; the shadow
	 * has that key as its primary key during the copy, and new_pk_def
	 * ("PRIMARY KEY (`a`,`b`)", as SHOW CREATE TABLE writes it) replaces
	 * it with the deferred indexes (shadow.c).
	 */
	bool pk_changed;
	char *new_pk_def;
	struct myeng_fk *fk_out;    /* T's foreign keys to other tables */
	size_t nfk_out;
	struct myeng_fk *fk_in;     /* other tables' foreign keys to T */
	size_t nfk_in;
	bool fk_named;              /* the keys out of T have their names on the
				       new T (after the swap) */

	bool shadow_created;
	bool shadow_temporary;      /* the dry run's shadow */
	double analyze_seconds;     /* the last ANALYZE TABLE of the shadow took
				       (the dry run's estimate keeps it apart) */
	bool log_created;
	bool trg_created[3];
	bool sentry_created;
	bool state_created;
	bool locked;                /* the locker holds LOCK TABLES */
	bool fenced;                /* the fence holds LOCK TABLES */
	bool swapped;
	bool old_named;             /* the old table is called _T_old */
	struct strlist *plan;       /* dry run: what the main connection runs,
				       recorded by myeng_exec (NULL: none) */

	char *alter_body;           /* the ALTER-BODY, for the state table */
	bool resumed;               /* taking up an interrupted run: what it
				       built may be there already */
	bool indexes_built;         /* the deferred indexes are on the shadow */
	long long copied_total;     /* rows copied, by this run and the one it
				       took up */

	/* Statements built once the shadow exists. */
	char *sql_max;
	char *sql_probe_first;
	char *sql_probe_next;
	char *sql_copy_first;
	char *sql_copy_next;
};

/* exec.c: parameters, results, running statements */
void myeng_param_push(struct myeng_params *p, enum myeng_kind kind, const char *str,
		      long long num);
void myeng_param_str(struct myeng_params *p, const char *s);
void myeng_param_int(struct myeng_params *p, long long v);
void myeng_params_free(struct myeng_params *p);
void myeng_marks(struct buf *b, size_t n);
const char *myeng_cell(const struct myeng_res *r, size_t row, unsigned col);
const char *myeng_text(const struct myeng_res *r, size_t row, unsigned col);
void myeng_res_free(struct myeng_res *r);
/* The column called name (case-insensitive), or -1. */
int myeng_res_col(const struct myeng_res *r, const char *name);
void myeng_exec_kill(struct eng *e, MYSQL *c);
int myeng_exec_wait_max(struct eng *e, MYSQL *c, int status, double max_s, bool *cancel_sent);
void myeng_exec_send(struct eng *e, MYSQL *c, const char *sql, struct myeng_pending *pd);
int myeng_exec_finish(struct eng *e, struct myeng_pending *pd, struct shade_err *err)
	WARN_UNUSED;
int myeng_exec(struct eng *e, MYSQL *c, const char *sql, const struct myeng_params *p,
	       struct myeng_res *res, unsigned long long *affected, struct shade_err *err)
	WARN_UNUSED;
int myeng_run(struct eng *e, const char *sql, struct shade_err *err) WARN_UNUSED;
int myeng_run_buf(struct eng *e, struct buf *b, struct shade_err *err) WARN_UNUSED;
int myeng_query(struct eng *e, const char *sql, const struct myeng_params *p,
		struct myeng_res *res, struct shade_err *err) WARN_UNUSED;
void myeng_rollback(struct eng *e);

/* conn.c: connections, open, close */
bool myeng_sql_mode_has(const char *mode, const char *flag);
int myeng_connect(struct eng *e, MYSQL **out, bool setup, struct shade_err *err) WARN_UNUSED;
void myeng_disconnect(MYSQL **c);
int myeng_conn_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
		    const struct engine_opts *opts, struct shade_err *err);
void myeng_conn_close(struct eng *e);

/* catalog.c: preflight */
int myeng_catalog_preflight(struct eng *e, const struct qname *table,
			    const struct alter_info *alter, struct table_summary *out,
			    struct shade_err *err);

/*
 * runlock.c: one shade per table. Take the run lock on e->conn (GET_LOCK,
 * held until the session ends), or refuse with SHADE_USAGE naming the
 * connection that holds it. Needs what preflight resolved (e->orig,
 * e->display); call it again after a reconnect.
 */
int myeng_runlock_take(struct eng *e, struct shade_err *err) WARN_UNUSED;
int myeng_catalog_identify(struct eng *e, const struct qname *table, struct table_summary *out,
			   struct shade_err *err) WARN_UNUSED;

/* keys.c: key expressions, comparisons and values, for the chunk copy */
void myeng_key_exprs(const struct eng *e, struct buf *b);
void myeng_key_order(const struct eng *e, struct buf *b, bool desc);
void myeng_key_cmp(const struct eng *e, struct buf *b, bool greater);
int myeng_key_bind_cmp(const struct eng *e, struct myeng_params *p, const struct keyval *k,
		       struct shade_err *err) WARN_UNUSED;
void myeng_key_from_res(const struct myeng_res *res, size_t row, struct keyval *k);
char *myeng_key_text(const struct eng *e, const struct keyval *k);

/* columns.c: the column mapping, the key check, the new columns' values */
int myeng_columns_map(struct eng *e, const struct alter_info *alter, const struct strlist *checks,
		      struct shade_err *err) WARN_UNUSED;
void myeng_columns_insert(const struct eng *e, struct buf *b, bool qualify);

/* shadow.c: the shadow and its deferred indexes */
int myeng_shadow_build(struct eng *e, bool temporary, const char *alter_body,
		       const struct alter_info *alter, struct shade_err *err) WARN_UNUSED;
int myeng_shadow_create(struct eng *e, const char *alter_body, const struct alter_info *alter,
			struct shade_err *err);
int myeng_shadow_build_indexes(struct eng *e, struct shade_err *err);
/* The ALTER-BODY, then suffix, on table, under the server's sql_mode. */
int myeng_shadow_alter_on(struct eng *e, const struct qname *table, const char *alter_body,
			  const char *suffix, struct shade_err *err) WARN_UNUSED;

/*
 * instant.c: whether the server could make the ALTER with
 * ALGORITHM=INSTANT, asked on an empty copy of T that is dropped at once
 * (the dry run, once its temporary shadow is gone); and --attempt-instant,
 * the ALTER on T with ALGORITHM=INSTANT (*done) or T as it was, and why.
 */
int myeng_instant_probe(struct eng *e, const char *alter_body, bool *instant, char **why,
			struct shade_err *err) WARN_UNUSED;
int myeng_instant_attempt(struct eng *e, const char *alter_body, const struct alter_info *alter,
			  bool *done, char **why, struct shade_err *err);

/* drywarn.c: the dry run's warnings about T, appended to out. */
int myeng_drywarn(struct eng *e, struct strlist *out, struct shade_err *err) WARN_UNUSED;
int myeng_shadow_indexes_resume(struct eng *e, struct shade_err *err) WARN_UNUSED;

/* state.c: the state table, and taking up an interrupted run */
int myeng_state_create(struct eng *e, struct shade_err *err) WARN_UNUSED;
int myeng_state_put(struct eng *e, size_t n, const char *const *kv, struct shade_err *err)
	WARN_UNUSED;
int myeng_state_phase(struct eng *e, const char *phase, struct shade_err *err);
int myeng_state_read(struct eng *e, struct run_state *out, struct shade_err *err);
int myeng_state_resume(struct eng *e, const char *alter_body, const struct alter_info *alter,
		       const struct run_state *st, struct shade_err *err);
/* The dry run: what myeng_state_create runs; one upsert of n keys. */
void myeng_state_plan_create(struct eng *e);
void myeng_state_plan_put(struct eng *e, const char *comment, size_t n);

/* capture.c: the change log and its triggers */
int myeng_capture_create(struct eng *e, struct shade_err *err);
void myeng_capture_plan(struct eng *e);
int myeng_capture_sample_log(struct eng *e, long rows, struct shade_err *err) WARN_UNUSED;

/* copy.c: the chunk copy */
void myeng_copy_build_sql(struct eng *e);
int myeng_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err);
int myeng_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max,
		     long rows, struct keyval *upper, long long *copied, bool *last,
		     struct shade_err *err);
void myeng_copy_plan(struct eng *e, bool sampled);

/* apply.c: replaying the change log */
int myeng_apply(struct eng *e, long limit, long long *applied, struct shade_err *err);
int myeng_apply_backlog(struct eng *e, long long *rows, struct shade_err *err);
void myeng_apply_plan(struct eng *e, const char *comment);
/* Delete from the shadow the keys of every pending log row (they stay logged). */
int myeng_apply_release(struct eng *e, unsigned long long *released, struct shade_err *err)
	WARN_UNUSED;
void myeng_apply_release_plan(struct eng *e, const char *comment);

/* swap.c: the cut-over */
int myeng_swap(struct eng *e, struct shade_err *err);
void myeng_swap_plan(struct eng *e);

/*
 * blockers.c: after a lock wait timeout on T (err a retryable
 * ER_LOCK_WAIT_TIMEOUT), append to err's message who holds a metadata lock
 * on T of a type in lock_types, those that conflict with the lock shade
 * asked for (one of the lists below): ERR_BLOCKED_BY, then up to 3
 * connections and how many more, "(probably)" when performance_schema
 * cannot tell. Nothing when err is another error, when nobody holds such
 * a lock any more, or when the lookup fails. Runs on the main connection.
 */
#define MYENG_CONFLICTS_READ /* LOCK TABLES ... READ: writers */ \
	"SHARED_WRITE,SHARED_NO_READ_WRITE,EXCLUSIVE"
#define MYENG_CONFLICTS_WRITE /* LOCK TABLES ... WRITE: readers too */ \
	"SHARED_READ,SHARED_WRITE,SHARED_UPGRADABLE,SHARED_NO_WRITE,SHARED_NO_READ_WRITE,EXCLUSIVE"
void myeng_blockers_append(struct eng *e, const char *lock_types, struct shade_err *err);
/*
 * The same holders, those whose transaction is open at least min_age
 * seconds, appended to list ("thread 12 (...): UPDATE ...; ..."); with
 * *probably when performance_schema could not tell. How many, or -1.
 */
int myeng_blockers_list(struct eng *e, const char *lock_types, double min_age, struct buf *list,
			bool *probably, struct shade_err *err) WARN_UNUSED;

/* carry.c: T's own triggers and AUTO_INCREMENT, carried over */
int myeng_carry_auto_increment(struct eng *e, struct shade_err *err) WARN_UNUSED;
int myeng_carry_triggers_to_shadow(struct eng *e, struct shade_err *err) WARN_UNUSED;
void myeng_carry_drop_shadow_triggers(struct eng *e);
int myeng_carry_restore_triggers(struct eng *e, struct shade_err *err) WARN_UNUSED;
void myeng_carry_plan_auto_increment(struct eng *e);
void myeng_carry_plan_shadow_triggers(struct eng *e);
void myeng_carry_plan_restore(struct eng *e);

/*
 * fk.c: foreign keys in both directions. load reads them (preflight,
 * again after a resume's unshadow) and refuses what cannot be carried
 * over; check_shadow checks the altered shadow can hold them (indexes: the
 * shadow's secondary index definitions before they are set aside); the
 * swap locks the parents (lock_sql appends ", P READ" for each) and moves
 * the keys to the shadow under the lock (to_shadow); unshadow puts back
 * what a failed or killed swap moved; finish gives the keys out of T their
 * names after the RENAME.
 */
int myeng_fk_load(struct eng *e, struct shade_err *err) WARN_UNUSED;
void myeng_fk_free(struct eng *e);
int myeng_fk_check_shadow(struct eng *e, const struct strlist *indexes, struct shade_err *err)
	WARN_UNUSED;
void myeng_fk_lock_sql(struct buf *b, const struct eng *e);
/* LOCK TABLES C READ, ... for the tables referencing T (false: none). */
bool myeng_fk_fence_sql(struct buf *b, const struct eng *e);
int myeng_fk_to_shadow(struct eng *e, struct shade_err *err) WARN_UNUSED;
int myeng_fk_unshadow(struct eng *e, struct shade_err *err) WARN_UNUSED;
int myeng_fk_finish(struct eng *e, struct shade_err *err) WARN_UNUSED;
void myeng_fk_plan_to_shadow(struct eng *e);
void myeng_fk_plan_finish(struct eng *e);

/* cleanup.c: after the swap, and undo */
void myeng_cleanup_drop_trigger_sql(struct buf *b, const struct qname *trg);
void myeng_cleanup_drop_table_sql(struct buf *b, const struct qname *t, bool if_exists);
void myeng_cleanup_after_swap(struct eng *e);
int myeng_cleanup_finish(struct eng *e, bool drop_old, struct shade_err *err);
int myeng_cleanup_undo(struct eng *e, struct shade_err *err);
int myeng_cleanup_abandoned(struct eng *e, const struct qname *table, struct table_summary *out,
			    bool *found, struct shade_err *err);
void myeng_cleanup_plan_after_swap(struct eng *e);
void myeng_cleanup_plan_finish(struct eng *e);

/* probe.c: the throttle's probes, on a connection of their own */
int myeng_probe_load(struct eng *e, long *load, struct shade_err *err);
int myeng_probe_lag(struct eng *e, double *seconds, char *why, size_t len,
		    struct shade_err *err);
int myeng_probe_query(struct eng *e, const char *sql, double *value, struct shade_err *err);
void myeng_probe_name(struct eng *e, char *out, size_t len);

/*
 * dryrun.c. The files whose statements a dry run must not run (they would
 * touch T) list them with a myeng_<file>_plan function next to the code
 * that runs them, built by the same functions; the rest the dry run runs,
 * and myeng_exec records them.
 */
/* drysample.c: what the dry run measures for its estimate */
int myeng_drysample_writes(struct eng *e, struct dry_run_report *out,
			   struct shade_err *err) WARN_UNUSED;
int myeng_drysample_apply(struct eng *e, long rows, struct dry_run_report *out,
			  struct shade_err *err) WARN_UNUSED;
int myeng_drysample_binlog(struct eng *e, struct dry_run_report *out,
			   struct shade_err *err) WARN_UNUSED;

int myeng_dryrun(struct eng *e, const char *alter_body, const struct alter_info *alter,
		 long sample_rows, struct dry_run_report *out, struct shade_err *err);
/* Append sql to the plan, after a comment when comment is not NULL. */
void myeng_dryrun_add(struct eng *e, const char *comment, const char *sql);
/* The same with an allocated sql, which it frees. */
void myeng_dryrun_take(struct eng *e, const char *comment, char *sql);

#endif

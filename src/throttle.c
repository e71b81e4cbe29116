/*
 * throttle.c - should the copy and the apply wait for the servers? The
 * probes' own connections (never the migration's, which may be inside a
 * transaction), a round of probes, and the decision, which is a pure
 * function of what the round saw and the limits in force (the operator
 * may change them while shade runs: they are read at every round).
 *
 * A probe that fails after the start holds the migration and says why: a
 * monitoring query or a replica that went away must not abort a long
 * migration, and must not let it run blind either. At the start the same
 * failures are bad input (exit 2): the operator is there to fix them.
 */
#include "throttle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "engine.h"

/* Seconds between attempts to reconnect a probe whose server went away. */
#define THROTTLE_RECONNECT_PAUSE 5.0

void
throttle_lags_push(struct throttle_lags *l, const char *name, double seconds, const char *why)
{
	struct throttle_lag *v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));

	l->v = v;
	v[l->n].name = xstrdup(name ? name : "?");
	v[l->n].seconds = seconds;
	v[l->n].why = why ? xstrdup(why) : NULL;
	l->n++;
}

void
throttle_lags_free(struct throttle_lags *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].why);
	}
	free(l->v);
	*l = (struct throttle_lags){0};
}

/* Append one reason to why, after "; " when it holds one already. */
static void PRINTF_LIKE(3, 4)
throttle_say(char *why, size_t len, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used > 0 && used + 2 < len) {
		memcpy(why + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(why + used, len - used, fmt, ap);
	va_end(ap);
}

enum throttle_verdict
throttle_decide(const struct throttle_limits *l, const struct throttle_inputs *in, char *why,
		size_t len)
{
	const char *unit = in->load_name ? in->load_name : "sessions";

	why[0] = '\0';
	if (l->critical_load > 0 && in->load_known && in->load > l->critical_load) {
		throttle_say(why, len, "load %ld %s > --critical-load %ld", in->load, unit,
			     l->critical_load);
		return THROTTLE_ABORT;
	}
	if (l->max_lag > 0 && in->lag_error) {
		throttle_say(why, len, "replica lag unknown: %s", in->lag_error);
	} else if (l->max_lag > 0 && in->lags) {
		for (size_t i = 0; i < in->lags->n; i++) {
			const struct throttle_lag *g = &in->lags->v[i];

			if (g->seconds < 0)
				throttle_say(why, len, "replica lag unknown, counted as over --max-lag %g "
					     "(replica %s: %s)", l->max_lag, g->name,
					     g->why ? g->why : "no reading");
			else if (g->seconds > l->max_lag)
				throttle_say(why, len, "replica lag %.1f s > --max-lag %g (replica %s)",
					     g->seconds, l->max_lag, g->name);
		}
	}
	if (l->max_load > 0 && in->load_error)
		throttle_say(why, len, "load unknown: %s", in->load_error);
	else if (l->max_load > 0 && in->load_known && in->load > l->max_load)
		throttle_say(why, len, "load %ld %s > --max-load %ld", in->load, unit, l->max_load);
	if (l->throttle_query && in->query_error)
		throttle_say(why, len, "--throttle-query failed: %s", in->query_error);
	else if (l->throttle_query && in->query_known && in->query_value > 0)
		throttle_say(why, len, "--throttle-query returned %g", in->query_value);
	return why[0] ? THROTTLE_WAIT : THROTTLE_GO;
}

/* Connect *e to dsn (closed again on failure). */
static int WARN_UNUSED
throttle_connect(struct throttle *t, const struct dsn *dsn, struct eng **e, struct shade_err *err)
{
	if (t->engine->open(e, dsn, t->w, t->opts, err) == 0)
		return 0;
	t->engine->close(*e);
	*e = NULL;
	return -1;
}

/* A probe failed: a lost connection is closed, to be opened again later. */
static void
throttle_drop_if_lost(struct throttle *t, struct eng **e, const struct shade_err *err)
{
	if (err->conn_lost) {
		t->engine->close(*e);
		*e = NULL;
	}
}

/* The primary's probe connection, opened when first needed. */
static struct eng *
throttle_primary(struct throttle *t, struct shade_err *err)
{
	if (t->primary == NULL && throttle_connect(t, t->dsn, &t->primary, err) != 0)
		return NULL;
	return t->primary;
}

/* One replica's lag into lags; an unreachable replica counts as lagging. */
static void
throttle_replica_lag(struct throttle *t, struct throttle_replica *r, struct throttle_lags *lags)
{
	struct shade_err err = {0};
	char why[256] = "";
	double secs = -1;

	if (r->eng == NULL && now_seconds() - r->tried < THROTTLE_RECONNECT_PAUSE) {
		throttle_lags_push(lags, r->name, -1, "cannot reach it (trying again shortly)");
		return;
	}
	if (r->eng == NULL) {
		r->tried = now_seconds();
		if (throttle_connect(t, r->dsn, &r->eng, &err) != 0) {
			snprintf(why, sizeof(why), "cannot reach it: %.200s", err.msg);
			goto out;
		}
	}
	if (t->engine->probe_lag(r->eng, &secs, why, sizeof(why), &err) != 0) {
		snprintf(why, sizeof(why), "cannot read its lag: %.200s", err.msg);
		secs = -1;
		throttle_drop_if_lost(t, &r->eng, &err);
	}
out:
	throttle_lags_push(lags, r->name, secs, secs < 0 ? why : NULL);
	err_clear(&err);
}

/* The lag probes of one round: each --replica, else the primary's view. */
static void
throttle_round_lag(struct throttle *t, struct throttle_lags *lags, struct shade_err *err)
{
	struct eng *p;

	if (t->nreplicas > 0) {
		for (size_t i = 0; i < t->nreplicas; i++)
			throttle_replica_lag(t, &t->replicas[i], lags);
		return;
	}
	if (t->engine->probe_replicas == NULL) {
		/* Refused at the start; set later at run time: nothing to read. */
		return;
	}
	if ((p = throttle_primary(t, err)) == NULL)
		return;
	if (t->engine->probe_replicas(p, lags, err) != 0)
		throttle_drop_if_lost(t, &t->primary, err);
}

/* Probe what limits ask for, and decide. */
static void
throttle_round(struct throttle *t, const struct throttle_limits *l)
{
	struct throttle_inputs in = {.load_name = t->engine->load_name};
	struct throttle_lags lags = {0};
	struct shade_err lerr = {0}, gerr = {0}, qerr = {0};
	struct eng *p;

	if ((l->max_load > 0 || l->critical_load > 0) && t->engine->probe_load) {
		if ((p = throttle_primary(t, &lerr)) != NULL &&
		    t->engine->probe_load(p, &in.load, &lerr) != 0)
			throttle_drop_if_lost(t, &t->primary, &lerr);
		if (lerr.msg[0])
			in.load_error = lerr.msg;
		else
			in.load_known = true;
	}
	if (l->max_lag > 0) {
		throttle_round_lag(t, &lags, &gerr);
		in.lags = &lags;
		if (gerr.msg[0])
			in.lag_error = gerr.msg;
	}
	if (l->throttle_query && t->engine->probe_query) {
		if ((p = throttle_primary(t, &qerr)) != NULL &&
		    t->engine->probe_query(p, l->throttle_query, &in.query_value, &qerr) != 0)
			throttle_drop_if_lost(t, &t->primary, &qerr);
		if (qerr.msg[0])
			in.query_error = qerr.msg;
		else
			in.query_known = true;
	}
	t->verdict = throttle_decide(l, &in, t->why, sizeof(t->why));
	t->probed = now_seconds();
	throttle_lags_free(&lags);
	err_clear(&lerr);
	err_clear(&gerr);
	err_clear(&qerr);
}

/* What the engine cannot probe is refused before anything starts. */
static int WARN_UNUSED
throttle_supported(const struct throttle *t, const struct throttle_limits *l, size_t nreplicas,
		   struct shade_err *err)
{
	const char *eng = t->engine->name;

	if ((l->max_load > 0 || l->critical_load > 0) && t->engine->probe_load == NULL)
		err_set(err, SHADE_USAGE, "--max-load and --critical-load are not supported on %s",
			eng);
	else if (l->throttle_query && t->engine->probe_query == NULL)
		err_set(err, SHADE_USAGE, "--throttle-query is not supported on %s", eng);
	else if (nreplicas > 0 && t->engine->probe_lag == NULL)
		err_set(err, SHADE_USAGE, "--replica is not supported on %s", eng);
	else if (l->max_lag > 0 && nreplicas == 0 && t->engine->probe_replicas == NULL)
		err_set(err, SHADE_USAGE, "--max-lag on %s needs --replica DSN: the lag is read on "
			"each replica", eng);
	else
		return 0;
	return -1;
}

/* Parse and connect the n-th --replica; bad or unreachable: SHADE_USAGE. */
static int WARN_UNUSED
throttle_add_replica(struct throttle *t, const char *text, size_t n, struct shade_err *err)
{
	struct throttle_replica *r = &t->replicas[t->nreplicas];
	char name[200];

	*r = (struct throttle_replica){.dsn = xcalloc(1, sizeof(*r->dsn))};
	t->nreplicas++;
	if (dsn_parse(text, r->dsn, err) != 0) {
		err_prefix(err, SHADE_USAGE, "--replica #%zu: ", n);
		return -1;
	}
	if (r->dsn->kind != t->dsn->kind) {
		err_set(err, SHADE_USAGE, "--replica #%zu is not a %s DSN, as --dsn is", n,
			t->engine->name);
		return -1;
	}
	r->tried = now_seconds();
	if (throttle_connect(t, r->dsn, &r->eng, err) != 0) {
		err_prefix(err, SHADE_USAGE, "cannot reach replica #%zu (--replica): ", n);
		return -1;
	}
	t->engine->probe_name(r->eng, name, sizeof(name));
	r->name = xstrdup(name);
	return 0;
}

/* The first round, where a failure is the operator's to fix (exit 2). */
static int WARN_UNUSED
throttle_first_round(struct throttle *t, const struct throttle_limits *l, struct shade_err *err)
{
	struct eng *p;
	double v, secs;
	long load;
	char why[256];

	for (size_t i = 0; i < t->nreplicas; i++) {
		if (t->engine->probe_lag(t->replicas[i].eng, &secs, why, sizeof(why), err) != 0) {
			err_prefix(err, SHADE_USAGE, "cannot read the lag of replica %s: ",
				   t->replicas[i].name);
			return -1;
		}
	}
	if (l->throttle_query) {
		if ((p = throttle_primary(t, err)) == NULL)
			return -1;
		if (t->engine->probe_query(p, l->throttle_query, &v, err) != 0) {
			err_prefix(err, SHADE_USAGE, "--throttle-query failed: ");
			return -1;
		}
	}
	if ((l->max_load > 0 || l->critical_load > 0) &&
	    ((p = throttle_primary(t, err)) == NULL || t->engine->probe_load(p, &load, err) != 0)) {
		err_prefix(err, SHADE_USAGE, "cannot read the load (--max-load): ");
		return -1;
	}
	throttle_round(t, l);
	return 0;
}

int
throttle_open(struct throttle *t, const struct engine *engine, const struct dsn *dsn,
	      const char *const *replicas, size_t nreplicas, struct dbwait *w,
	      const struct engine_opts *opts, const struct throttle_limits *limits,
	      struct shade_err *err)
{
	*t = (struct throttle){.engine = engine, .dsn = dsn, .w = w, .opts = opts};
	if (throttle_supported(t, limits, nreplicas, err) != 0)
		return -1;
	if (nreplicas > 0)
		t->replicas = xcalloc(nreplicas, sizeof(*t->replicas));
	for (size_t i = 0; i < nreplicas; i++)
		if (throttle_add_replica(t, replicas[i], i + 1, err) != 0)
			return -1;
	return throttle_first_round(t, limits, err);
}

enum throttle_verdict
throttle_check(struct throttle *t, const struct throttle_limits *limits, double max_age)
{
	if (t->engine == NULL)
		return THROTTLE_GO;  /* never opened: a dry run, --cleanup */
	if (limits->max_lag <= 0 && limits->max_load <= 0 && limits->critical_load <= 0 &&
	    limits->throttle_query == NULL) {
		t->verdict = THROTTLE_GO;
		t->why[0] = '\0';
		return THROTTLE_GO;
	}
	if (now_seconds() - t->probed >= max_age)
		throttle_round(t, limits);
	return t->verdict;
}

void
throttle_close(struct throttle *t)
{
	if (t->engine == NULL)
		return;
	if (t->primary)
		t->engine->close(t->primary);
	for (size_t i = 0; i < t->nreplicas; i++) {
		struct throttle_replica *r = &t->replicas[i];

		if (r->eng)
			t->engine->close(r->eng);
		if (r->dsn) {
			dsn_free(r->dsn);
			free(r->dsn);
		}
		free(r->name);
	}
	free(t->replicas);
	*t = (struct throttle){0};
}

/*
 * throttle.h - the limits that hold the copy and the apply while the
 * servers are busy: replica lag, load, the operator's own query. The
 * operator may change them while shade runs (the control socket's
 * max-lag= and max-load=, SIGHUP re-reading --config).
 */
#ifndef SHADE_THROTTLE_H
#define SHADE_THROTTLE_H

struct throttle_limits {
	double max_lag;        /* seconds of replica lag; 0: not checked */
	long max_load;         /* running threads / active backends; 0: not checked */
	long critical_load;    /* over it shade aborts (exit 1); 0: not checked */
	char *throttle_query;  /* a result > 0 throttles; NULL: none (owned) */
	double chunk_time;     /* target seconds per copy chunk */
};

#endif

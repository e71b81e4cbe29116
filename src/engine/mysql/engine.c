/*
 * engine/mysql/engine.c - the MySQL/MariaDB engine, on MariaDB Connector/C's
 * non-blocking API: the operations the migration calls, in the order
 * DESIGN.md gives them. myeng.h says which file holds what.
 */
#include "myeng.h"

const struct engine engine_mysql = {
	.name = "MySQL",
	.dialect = SQL_MYSQL,
	.open = myeng_conn_open,
	.close = myeng_conn_close,
	.preflight = myeng_catalog_preflight,
	.create_shadow = myeng_shadow_create,
	.dry_run = myeng_dryrun,
	.attempt_instant = myeng_instant_attempt,
	.create_capture = myeng_capture_create,
	.state_read = myeng_state_read,
	.resume = myeng_state_resume,
	.state_phase = myeng_state_phase,
	.copy_bounds = myeng_copy_bounds,
	.copy_chunk = myeng_copy_chunk,
	.apply = myeng_apply,
	.backlog = myeng_apply_backlog,
	.build_indexes = myeng_shadow_build_indexes,
	.swap = myeng_swap,
	.finish = myeng_cleanup_finish,
	.undo = myeng_cleanup_undo,
	.cleanup = myeng_cleanup_abandoned,
	.load_name = "running threads",
	.probe_load = myeng_probe_load,
	.probe_lag = myeng_probe_lag,
	.probe_query = myeng_probe_query,
	.probe_name = myeng_probe_name,
};

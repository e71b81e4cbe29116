/*
 * engine/pg/engine.c - the PostgreSQL engine as the rest of shade sees it:
 * one const struct engine (engine.h), whose operations live in the files
 * of this folder.
 */
#include "pgsql.h"

const struct engine engine_pg = {
	.name = "PostgreSQL",
	.dialect = SQL_PG,
	.open = pgsql_conn_open,
	.close = pgsql_conn_close,
	.preflight = pgsql_catalog_preflight,
	.create_shadow = pgsql_shadow_create,
	.dry_run = pgsql_dryrun,
	.attempt_instant = pgsql_instant_attempt,
	.create_capture = pgsql_capture_create,
	.state_read = pgsql_state_read,
	.resume = pgsql_state_resume,
	.state_phase = pgsql_state_phase,
	.cleanup = pgsql_cleanup_abandoned,
	.copy_bounds = pgsql_copy_bounds,
	.copy_chunk = pgsql_copy_chunk,
	.keyless_copy = true,
	.build_key = pgsql_indexes_build_key,
	.key_note = pgsql_indexes_key_note,
	.apply = pgsql_apply,
	.backlog = pgsql_apply_backlog,
	.build_indexes = pgsql_indexes_build_rest,
	.swap = pgsql_swap,
	.finish = pgsql_cleanup_finish,
	.undo = pgsql_cleanup_undo,
	.load_name = "active backends",
	.probe_load = pgsql_probe_load,
	.probe_lag = pgsql_probe_lag,
	.probe_replicas = pgsql_probe_replicas,
	.probe_query = pgsql_probe_query,
	.probe_name = pgsql_probe_name,
};

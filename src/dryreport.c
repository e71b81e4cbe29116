/*
 * dryreport.c - the dry run's report, as text and as one JSON object (see
 * dryreport.h). Both say the same facts; the JSON is built by jansson
 * (through logfmt), never by hand.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "dryreport.h"
#include "logfmt.h"

/* Seconds as "1h02m03s", "4m05s" or "6s"; "never" when infinite. */
static void
dryreport_duration(char *out, size_t len, double secs)
{
	long s;

	if (!isfinite(secs)) {
		snprintf(out, len, "never (the apply cannot keep up)");
		return;
	}
	s = secs > 0 ? (long)(secs + 0.5) : 0;
	if (s >= 3600)
		snprintf(out, len, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, len, "%lds", s);
}

static void
dryreport_text_rate(struct buf *out, const struct dryreport *r)
{
	const struct estimate *e = r->est;

	if (r->write_rate < 0)
		buf_printf(out, "write rate:     unknown\n");
	else
		buf_printf(out, "write rate:     %.1f rows/s %s (counted over %.1f s)\n",
			   r->write_rate, r->write_server_wide ? "server-wide" : "in the table",
			   r->write_window);
	if (e->apply_rate > 0)
		buf_printf(out, "sample apply:   %.0f change-log rows/s; the apply %s\n",
			   e->apply_rate, e->converges ? "keeps up" : "cannot keep up");
	else
		buf_printf(out, "sample apply:   none; the apply is assumed to keep up\n");
}

static void
dryreport_text_estimate(struct buf *out, const struct dryreport *r)
{
	const struct estimate *e = r->est;
	char d[64], c[32], i[32], a[32], f[32];

	if (r->sample_rows > 0 && r->sample_seconds > 0)
		buf_printf(out, "sample copy:    %lld rows in %.3f s (%.0f rows/s), rolled back\n",
			   r->sample_rows, r->sample_seconds,
			   (double)r->sample_rows / r->sample_seconds);
	else if (r->sample_note)
		buf_printf(out, "sample copy:    skipped: %s\n", r->sample_note);
	else
		buf_printf(out, "sample copy:    the table is empty\n");
	dryreport_text_rate(out, r);
	if (!e->known) {
		buf_printf(out, "estimated run:  unknown (%s)\n",
			   r->rows < 0 ? "no row count" : "no sample");
	} else {
		dryreport_duration(d, sizeof(d), e->total);
		dryreport_duration(c, sizeof(c), e->copy);
		dryreport_duration(i, sizeof(i), e->indexes);
		dryreport_duration(a, sizeof(a), e->apply);
		dryreport_duration(f, sizeof(f), e->fixed);
		buf_printf(out, "estimated run:  %s (copy %s, indexes %s, apply %s, the rest %s),\n"
			   "                with no throttling (chunks aim at %.2f s each)\n",
			   d, c, i, a, f, r->chunk_time);
	}
	if (r->log_key && e->log_bytes >= 0)
		buf_printf(out, "%s  about %lld MB%s%s%s\n",
			   r->log_key[0] == 'w' ? "WAL written:  " : "binlog written:",
			   e->log_bytes / (1024 * 1024), r->log_note ? " (" : "",
			   r->log_note ? r->log_note : "", r->log_note ? ")" : "");
	else if (r->log_note)
		buf_printf(out, "log written:    unknown (%s)\n", r->log_note);
}

void
dryreport_text(struct buf *out, const struct dryreport *r)
{
	buf_printf(out, "shade dry run: %s on %s; nothing was changed\n\n", r->table, r->engine);
	if (r->rows >= 0)
		buf_printf(out, "rows to copy:   about %lld\n", r->rows);
	else
		buf_printf(out, "rows to copy:   unknown%s%s\n", r->rows_note ? ": " : "",
			   r->rows_note ? r->rows_note : "");
	buf_printf(out, "disk needed:    about %lld MB (the new table and its indexes, as large "
		   "as the old)\n", r->disk_bytes_needed / (1024 * 1024));
	dryreport_text_estimate(out, r);
	buf_printf(out, "instant:        %s%s%s\n", r->instant ? "yes" : "no",
		   r->instant_why ? ": " : "", r->instant_why ? r->instant_why : "");
	buf_printf(out, "old table:      kept as %s%s\n", r->old_table ? r->old_table : "?",
		   r->drop_old ? " (then dropped: --drop-old)" : "");
	if (r->warnings->len == 0)
		buf_printf(out, "\nwarnings: none\n");
	else
		buf_printf(out, "\nwarnings:\n");
	for (size_t i = 0; i < r->warnings->len; i++)
		buf_printf(out, "  - %s\n", r->warnings->items[i]);
	buf_printf(out, "\nplan (every statement, in order; $n or ? is a value bound at run time):\n");
	for (size_t i = 0; i < r->plan->len; i++)
		buf_printf(out, "%3zu. %s;\n", i + 1, r->plan->items[i]);
}

/* A list of strings as a JSON array. */
static json_t *
dryreport_array(const struct strlist *l)
{
	json_t *a = json_array();

	if (a == NULL)
		die("out of memory");
	for (size_t i = 0; i < l->len; i++)
		json_array_append_new(a, logfmt_string(l->items[i]));
	return a;
}

/* A number, or null when it is not finite (or not known: known false). */
static json_t *
dryreport_num(double v, bool known)
{
	return known && isfinite(v) ? json_real(v) : json_null();
}

static json_t *
dryreport_phases(const struct estimate *e)
{
	json_t *o = json_object();

	if (o == NULL)
		die("out of memory");
	json_object_set_new(o, "copy", dryreport_num(e->copy, e->known));
	json_object_set_new(o, "indexes", dryreport_num(e->indexes, e->known));
	json_object_set_new(o, "apply", dryreport_num(e->apply, e->known));
	json_object_set_new(o, "other", dryreport_num(e->fixed, e->known));
	return o;
}

void
dryreport_json(struct buf *out, double epoch, const struct dryreport *r)
{
	const struct estimate *e = r->est;
	bool rate = r->write_rate >= 0;
	struct logfmt_field f[] = {
		LF_STR("table", r->table),
		LF_STR("engine", r->engine),
		LF_RAW("rows", r->rows >= 0 ? json_integer(r->rows) : json_null()),
		LF_INT("bytes", r->bytes),
		LF_INT("disk_bytes_needed", r->disk_bytes_needed),
		LF_RAW("estimated_seconds", dryreport_num(e->total, e->known)),
		LF_RAW("phases", dryreport_phases(e)),
		LF_INT("sample_rows", r->sample_rows),
		LF_NUM("sample_seconds", r->sample_seconds),
		LF_RAW("copy_rate", dryreport_num(e->copy_rate, e->copy_rate > 0)),
		LF_RAW("apply_rate", dryreport_num(e->apply_rate, e->apply_rate > 0)),
		LF_RAW("write_rate", dryreport_num(r->write_rate, rate)),
		LF_STR("write_rate_scope", !rate ? NULL : r->write_server_wide ? "server" : "table"),
		LF_NUM("write_rate_window", r->write_window),
		LF_BOOL("converges", e->converges),
		LF_RAW(r->log_key ? r->log_key : "log_bytes",
		       r->log_key && e->log_bytes >= 0 ? json_integer(e->log_bytes) : json_null()),
		LF_STR("log_note", r->log_note),
		LF_BOOL("instant", r->instant),
		LF_STR("instant_why", r->instant_why),
		LF_NUM("chunk_time", r->chunk_time),
		LF_RAW("warnings", dryreport_array(r->warnings)),
		LF_RAW("plan", dryreport_array(r->plan)),
	};

	logfmt_json(out, epoch, "info", "dry_run", f, ARRAY_LEN(f));
}

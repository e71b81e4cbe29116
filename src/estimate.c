/*
 * estimate.c - a whole run's duration and log volume from a dry run's
 * samples (see estimate.h for the model).
 */
#include <math.h>

#include "estimate.h"

/*
 * An index build sorts: n log n. The factor for n rows against a sample
 * of s is (n / s) * (log n / log s); never below the linear one.
 */
static double
estimate_build_scale(double n, double s)
{
	double lin = n / s;

	if (n <= s || s < 2)
		return lin;
	return lin * log(n) / log(s);
}

void
estimate_run(const struct estimate_in *in, struct estimate *out)
{
	double scale, work, w, build;

	*out = (struct estimate){.converges = true, .log_bytes = -1};
	out->fixed = in->fixed_seconds > 0 ? in->fixed_seconds : 0;
	if (in->apply_rows > 0 && in->apply_seconds > 0)
		out->apply_rate = (double)in->apply_rows / in->apply_seconds;
	w = in->write_rate > 0 ? in->write_rate : 0;
	if (w > 0 && out->apply_rate > 0 && w >= out->apply_rate)
		out->converges = false;
	if (in->rows == 0) {
		/* Nothing to copy: the run is its fixed part. */
		out->known = true;
		out->total = out->fixed;
		out->log_bytes = 0;
		return;
	}
	if (in->rows < 0 || in->sample_rows <= 0 || in->sample_seconds <= 0)
		return;
	out->known = true;
	scale = (double)in->rows / (double)in->sample_rows;
	out->copy_rate = (double)in->sample_rows / in->sample_seconds;
	out->copy = (double)in->rows / out->copy_rate;
	build = in->index_seconds - (in->analyze_seconds > 0 ? in->analyze_seconds : 0);
	out->indexes = build > 0 ? build * estimate_build_scale((double)in->rows,
								(double)in->sample_rows)
				 : 0;
	if (in->analyze_seconds > 0)
		out->indexes += in->analyze_seconds;
	work = out->copy + out->indexes;
	if (!out->converges) {
		out->apply = INFINITY;
	} else if (w > 0 && out->apply_rate > 0) {
		/*
		 * Writes arrive through the copy, the builds and the apply
		 * itself: total time t = work + w * t / a.
		 */
		out->apply = work / (1 - w / out->apply_rate) - work;
	}
	out->total = out->fixed + work + out->apply;
	if (in->sample_log_bytes >= 0)
		out->log_bytes = (long long)llround((double)in->sample_log_bytes * scale);
}

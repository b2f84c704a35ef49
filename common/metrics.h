/*
 * metrics.h: what both programs need for their GET /metrics: the
 * latency histogram every timing uses, the set of series a process
 * shows and its rendering in Prometheus' text format. Each process shows
 * its own figures (the api those of its own workers), so that a sum()
 * over every scraped instance is right; nothing here talks to Redis.
 */
#ifndef WH_METRICS_H
#define WH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Bucket bounds in seconds, as the exposition format's le labels. */
#define WH_HIST_BUCKETS		14
extern const char *const	wh_hist_le[WH_HIST_BUCKETS];

struct wh_hist {
	uint64_t	bucket[WH_HIST_BUCKETS];	/* per bucket, not summed */
	uint64_t	count;
	uint64_t	sum_us;
};

void	wh_hist_observe(struct wh_hist *, int64_t us);

/*
 * The series a process shows: "field\0value\0" pairs, a field being "c"
 * (cumulative), "g" (gauge) or "u" (cumulative, in microseconds, shown
 * in seconds) then name{labels}; values are decimal integers.
 */
struct wh_mset {
	struct wh_buf	text;
	size_t		n;
};

void	wh_mset_init(struct wh_mset *);
void	wh_mset_free(struct wh_mset *);
/* labels as made by wh_label_add, or "" for none. 0 or -1 (ENOMEM). */
int	wh_mset_counter(struct wh_mset *, const char *name,
	    const char *labels, uint64_t);
int	wh_mset_gauge(struct wh_mset *, const char *name, const char *labels,
	    int64_t);
int	wh_mset_micros(struct wh_mset *, const char *name, const char *labels,
	    uint64_t us);
/* name_bucket{labels,le=...} (cumulative), name_sum (us), name_count. */
int	wh_mset_hist(struct wh_mset *, const char *name, const char *labels,
	    const struct wh_hist *);
/* Append name="value" to a label list, escaped for the text format. */
int	wh_label_add(struct wh_buf *, const char *name, const char *value);

/*
 * A family shown by GET /metrics: its name, type ("counter", "gauge",
 * "histogram") and HELP text.
 */
struct wh_mfamily {
	const char	*name;
	const char	*type;
	const char	*help;
};

/*
 * The text exposition format (0.0.4) of set: each family in the order
 * given, with HELP and TYPE, then its series; series met more than once
 * (one per api worker) are added up. Series of no family are not shown.
 * 0 or -1 (ENOMEM, or more than WH_MSET_MAX series).
 */
#define WH_MSET_MAX		16384
#define WH_METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
int	wh_mset_render(struct wh_buf *, const struct wh_mset *,
	    const struct wh_mfamily *, size_t nfam);

/*
 * This process' CPU time, resident memory and open descriptors (from
 * /proc/self), as series of the families WH_MFAMILIES_PROCESS; what
 * cannot be read is left out. webhooks_build_info is apart: the api
 * adds up its workers' process figures but shows one build_info.
 */
int	wh_mset_process(struct wh_mset *);
int	wh_mset_build_info(struct wh_mset *);

/*
 * WH_METRICS_TOKEN (token, "" = open): 1 if the Authorization header's
 * value (NULL if none) is "Bearer <token>", compared in constant time.
 */
int	wh_metrics_token_ok(const char *token, const char *authorization);
/* The trace exporter's counts (common/otlp.h), in both programs. */
#define WH_MFAMILIES_TRACE						\
	{ "webhooks_trace_spans_exported_total", "counter",		\
	    "Spans the OTLP collector accepted." },			\
	{ "webhooks_trace_spans_dropped_total", "counter",		\
	    "Spans dropped: the export queue was full (collector slow or " \
	    "down) or the collector refused or did not answer them." }
#define WH_MFAMILIES_PROCESS						\
	{ "webhooks_build_info", "gauge",				\
	    "Always 1; the version label names the running build." },	\
	{ "webhooks_process_cpu_seconds_total", "counter",		\
	    "CPU time (user and system) used by this process (the api: "\
	    "by its worker processes together)." },			\
	{ "webhooks_process_resident_memory_bytes", "gauge",		\
	    "Resident memory of this process (the api: of its workers "	\
	    "together)." },						\
	{ "webhooks_process_open_fds", "gauge",				\
	    "Open file descriptors of this process (the api: of its "	\
	    "workers together)." }

#endif

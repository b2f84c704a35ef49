/*
 * otlp.h: the one trace exporter of both programs, OTLP/HTTP with the
 * JSON encoding (POST <WH_OTLP_ENDPOINT>/v1/traces).
 *
 * A program records a finished span into a bounded queue (a copy, a few
 * fixed-size attributes, no allocation) and, from its own loop, takes a
 * batch out of the queue and has it sent; what runs the transfer is the
 * program's: the dispatcher adds the request to its deliveries' curl
 * multi, an api worker hands it to a Kore task thread that performs it.
 * Nothing ever waits for the collector: a full queue drops new spans, a
 * failed export drops its batch, and both are counted.
 *
 * Everything here runs in the program's loop thread except
 * wh_otlp_encode and wh_otlp_easy, which only read the exporter's
 * settings (fixed after wh_otlp_init) and the batch given to them.
 */
#ifndef WH_OTLP_H
#define WH_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "config.h"
#include "trace.h"

#define WH_OTLP_QUEUE_MAX	2048	/* spans waiting for export */
#define WH_OTLP_BATCH_MAX	512	/* spans per request */
#define WH_OTLP_FLUSH_MS	1000	/* a partial batch waits at most this */
#define WH_OTLP_TIMEOUT_MS	5000	/* one export, connect included */
#define WH_OTLP_ATTRS_MAX	10
#define WH_OTLP_VALUE_MAX	80	/* a string attribute, truncated */

#define WH_OTLP_KIND_SERVER	2	/* OTLP SpanKind */
#define WH_OTLP_KIND_CLIENT	3

struct wh_otlp_attr {
	const char	*key;		/* a string constant */
	int		 is_int;
	long long	 i;
	char		 s[WH_OTLP_VALUE_MAX];
};

struct wh_otlp_span {
	uint8_t			 trace_id[WH_TRACE_ID_LEN];
	uint8_t			 id[WH_SPAN_ID_LEN];
	uint8_t			 parent[WH_SPAN_ID_LEN];
	int			 has_parent;	/* else a root span */
	const char		*name;		/* a string constant */
	int			 kind;		/* WH_OTLP_KIND_* */
	int			 error;		/* status ERROR, else OK */
	int64_t			 start_us, end_us;	/* wall clock */
	size_t			 nattrs;
	struct wh_otlp_attr	 attrs[WH_OTLP_ATTRS_MAX];
};

/* Spans taken out of the queue for one export request. */
struct wh_otlp_batch {
	size_t			 n;
	struct wh_otlp_span	 spans[WH_OTLP_BATCH_MAX];
};

struct wh_otlp {
	/* Settings, fixed by wh_otlp_init. */
	int			 on;		/* an endpoint is set */
	double			 sample;
	char			 url[sizeof(((struct wh_config *)0)->
				    otlp_endpoint) + 16];
	struct curl_slist	*headers;
	char			 service[128];
	char			 instance[128];
	const char		*resource_attrs;	/* cfg's */
	/* The queue and the counts, the program's loop thread only. */
	uint64_t		 exported, dropped;
	int			 failing;
	size_t			 nqueued;
	struct wh_otlp_span	 queue[WH_OTLP_QUEUE_MAX];	/* last */
};

/*
 * Settings from cfg (WH_OTLP_ENDPOINT, WH_OTLP_HEADERS, WH_TRACE_SAMPLE,
 * OTEL_SERVICE_NAME else service, OTEL_RESOURCE_ATTRIBUTES) and the
 * process's service.instance.id. Off (o->on 0) without an endpoint.
 * 0, or -1 with err filled.
 */
int	wh_otlp_init(struct wh_otlp *, const struct wh_config *cfg,
	    const char *service, const char *instance, char *err,
	    size_t errlen);
/*
 * 1 when a span of trace t is exported: an endpoint is set, t's sampled
 * flag is on and the trace id falls within WH_TRACE_SAMPLE (decided on
 * the id, so every process agrees on a trace).
 */
int	wh_otlp_sampled(const struct wh_otlp *, const struct wh_trace *t);
/*
 * A new span of trace t (its span_id the parent's; a NULL parent makes
 * a root) in the queue, with a fresh id: the caller fills name, kind,
 * times and attributes. NULL, counted as dropped, when the queue is full.
 */
struct wh_otlp_span *wh_otlp_span_new(struct wh_otlp *,
	    const struct wh_trace *t, const uint8_t *parent);
/* A span id made ahead (an attempt's, sent as traceparent) used instead. */
void	wh_otlp_span_id(struct wh_otlp_span *, const uint8_t *id);
void	wh_otlp_attr_str(struct wh_otlp_span *, const char *key,
	    const char *v);
void	wh_otlp_attr_int(struct wh_otlp_span *, const char *key,
	    long long v);
/* Spans waiting: the program starts an export at WH_OTLP_BATCH_MAX. */
size_t	wh_otlp_pending(const struct wh_otlp *);
/* Move up to WH_OTLP_BATCH_MAX queued spans, oldest first, into b. */
void	wh_otlp_take(struct wh_otlp *, struct wh_otlp_batch *b);
/* The OTLP/JSON ExportTraceServiceRequest of b into out. 0 or -1. */
int	wh_otlp_encode(const struct wh_otlp *, const struct wh_otlp_batch *b,
	    struct wh_buf *out);
/*
 * Set e (reset first) up to POST body to the collector. The body must
 * outlive the transfer. 0 or -1.
 */
int	wh_otlp_easy(const struct wh_otlp *, CURL *e, const struct wh_buf *body);
/*
 * An export of n spans ended: exported, or dropped when it failed
 * (result not CURLE_OK or status not 2xx), logged once per outage.
 */
void	wh_otlp_done(struct wh_otlp *, size_t n, int result, long status);

#endif

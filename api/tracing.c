/*
 * tracing.c: the api's server span per request, through the shared
 * exporter (common/otlp.h).
 *
 * A request that brings a W3C traceparent joins that trace; one without
 * starts a trace of its own. Either way the span is recorded only when
 * the trace is sampled (the flag, and WH_TRACE_SAMPLE on the trace id,
 * as the dispatchers decide it). A published event then carries a
 * traceparent naming this span, so its attempts are its children; an
 * unsampled request passes the caller's traceparent on unchanged.
 *
 * The request only appends its span to the worker's bounded queue as it
 * ends. Sending is done off the worker's loop: a batch taken from the
 * queue is encoded and POSTed by a Kore task (a thread of this worker's,
 * blocking curl there, bounded by WH_OTLP_TIMEOUT_MS), and the loop is
 * told when it ended. One export is in flight at a time; a full queue
 * drops and counts. A thread was chosen over a non-blocking socket on
 * Kore's loop because curl then does the collector's name resolution,
 * TLS and HTTP as it does in the dispatcher, none of which may stall a
 * request, with no second HTTP client written here.
 */
#include <sys/types.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kore/kore.h>
#include <kore/http.h>
#include <kore/tasks.h>

#include "api.h"
#include "encode.h"
#include "log.h"
#include "otlp.h"
#include "timeutil.h"

static struct wh_otlp		 exporter;
static struct kore_task		 task;
static int			 busy;		/* task runs */
/* The export in flight: the task's alone while busy. */
static struct wh_otlp_batch	 batch;
static struct wh_buf		 body;
static CURL			*easy;
static int			 result;
static long			 status;

static void	export_start(void);

/* The task thread: encode the batch and POST it, blocking. */
static int
export_run(struct kore_task *t)
{
	wh_buf_reset(&body);
	status = 0;
	if (wh_otlp_encode(&exporter, &batch, &body) == -1) {
		result = CURLE_OUT_OF_MEMORY;
		return (KORE_RESULT_OK);
	}
	if (easy == NULL && (easy = curl_easy_init()) == NULL) {
		result = CURLE_FAILED_INIT;
		return (KORE_RESULT_OK);
	}
	if (wh_otlp_easy(&exporter, easy, &body) == -1) {
		result = CURLE_FAILED_INIT;
		return (KORE_RESULT_OK);
	}
	result = curl_easy_perform(easy);
	(void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	return (KORE_RESULT_OK);
}

/* Back on the worker's loop: the task wrote or ended. */
static void
export_ended(struct kore_task *t)
{
	if (!kore_task_finished(t))
		return;
	kore_task_destroy(t);
	busy = 0;
	wh_otlp_done(&exporter, batch.n, result, status);
	api_metrics_spans(exporter.exported, exporter.dropped);
	if (wh_otlp_pending(&exporter) >= WH_OTLP_BATCH_MAX)
		export_start();
}

static void
export_start(void)
{
	wh_otlp_take(&exporter, &batch);
	busy = 1;
	kore_task_create(&task, export_run);
	kore_task_bind_callback(&task, export_ended);
	kore_task_run(&task);
}

static void
flush_tick(void *arg, u_int64_t now)
{
	if (!busy && wh_otlp_pending(&exporter) > 0)
		export_start();
}

/*
 * The parent, before the sandbox: libcurl's global state, and the
 * collector's host name resolved once so that glibc's resolver modules
 * are loaded (a sandboxed worker may not map them).
 */
void
api_tracing_prepare(void)
{
	struct addrinfo	 hints, *res;
	CURLU		*u;
	char		*host = NULL;

	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	if (api_cfg.otlp_endpoint[0] == '\0' || (u = curl_url()) == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, api_cfg.otlp_endpoint, 0) ==
	    CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host, 0) ==
	    CURLUE_OK) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &res) == 0)
			freeaddrinfo(res);
	}
	curl_free(host);
	curl_url_cleanup(u);
}

/* Worker start: the exporter, and its flush timer when it is on. */
void
api_tracing_start(void)
{
	char	host[64], instance[128], err[128];

	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "api");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(instance, sizeof(instance), "%s/%u", host,
	    worker != NULL ? (unsigned)worker->id : 0);
	if (wh_otlp_init(&exporter, &api_cfg, "webhooks-api", instance, err,
	    sizeof(err)) == -1) {
		wh_log(WH_LOG_ERROR, "traces are off", "error", err, NULL);
		return;
	}
	if (!exporter.on)
		return;
	wh_buf_init(&body, 0);
	(void)kore_timer_add(flush_tick, WH_OTLP_FLUSH_MS, NULL, 0);
}

/*
 * The request's trace, as it begins: the caller's context, and whether
 * this api records a span of it (then ctx->span_id is that span's id).
 */
void
api_tracing_begin(struct api_ctx *ctx)
{
	const char	*tp;

	if (http_request_header(ctx->req, "traceparent", &tp) &&
	    wh_traceparent_parse(tp, strlen(tp), &ctx->trace) == 0)
		ctx->traced = API_TRACE_GIVEN;
	if (!exporter.on)
		return;
	if (ctx->traced == API_TRACE_NONE) {
		/* A root: sampled as WH_TRACE_SAMPLE says. */
		if (wh_trace_new_id(ctx->trace.trace_id,
		    sizeof(ctx->trace.trace_id)) == -1)
			return;
		ctx->trace.flags = WH_TRACE_SAMPLED;
		if (!wh_otlp_sampled(&exporter, &ctx->trace))
			return;
		ctx->root = 1;
	} else if (!wh_otlp_sampled(&exporter, &ctx->trace))
		return;
	if (wh_trace_new_id(ctx->span_id, sizeof(ctx->span_id)) == 0)
		ctx->traced = API_TRACE_RECORDED;
}

int
api_tracing_traceparent(const struct api_ctx *ctx,
    char out[WH_TRACEPARENT_LEN + 1])
{
	switch (ctx->traced) {
	case API_TRACE_GIVEN:
		wh_traceparent_format(&ctx->trace, ctx->trace.span_id, out);
		return (0);
	case API_TRACE_RECORDED:
		wh_traceparent_format(&ctx->trace, ctx->span_id, out);
		return (0);
	default:
		return (-1);
	}
}

/*
 * The span is kept: a trace begun here for a probe, /metrics or a portal
 * file (routes without an API key) would only be noise.
 */
static int
recorded(const struct api_ctx *ctx)
{
	return (ctx->traced == API_TRACE_RECORDED && (!ctx->root ||
	    (ctx->route != NULL && ctx->route->auth)));
}

/* The request ended (ctx->status is its answer): its span, if recorded. */
void
api_tracing_end(struct api_ctx *ctx)
{
	struct wh_otlp_span	*s;
	int64_t			 now;
	uint64_t		 dropped = exporter.dropped;

	if (!recorded(ctx) || ctx->req == NULL ||
	    (s = wh_otlp_span_new(&exporter, &ctx->trace,
	    ctx->root ? NULL : ctx->trace.span_id)) == NULL) {
		if (exporter.dropped != dropped)
			api_metrics_spans(exporter.exported, exporter.dropped);
		return;
	}
	wh_otlp_span_id(s, ctx->span_id);
	now = wh_now_us();
	s->name = ctx->route != NULL ? ctx->route->pattern : "other";
	s->kind = WH_OTLP_KIND_SERVER;
	s->error = ctx->status >= 500;
	s->end_us = now;
	s->start_us = now - (wh_mono_us() - ctx->started_us);
	wh_otlp_attr_str(s, "http.request.method",
	    http_method_text(ctx->req->method));
	wh_otlp_attr_str(s, "http.route", s->name);
	wh_otlp_attr_int(s, "http.response.status_code", ctx->status);
	wh_otlp_attr_str(s, "webhooks.request_id", ctx->request_id);
	if (ctx->trace_event_sid[0] != '\0')
		wh_otlp_attr_str(s, "webhooks.event_sid", ctx->trace_event_sid);
	if (!busy && wh_otlp_pending(&exporter) >= WH_OTLP_BATCH_MAX)
		export_start();
}

void
api_tracing_log_ids(const struct api_ctx *ctx, char tid[33], char sid[17])
{
	tid[0] = sid[0] = '\0';
	if (ctx->traced == API_TRACE_NONE ||
	    (ctx->traced == API_TRACE_RECORDED && !recorded(ctx)))
		return;
	(void)wh_hex_encode(ctx->trace.trace_id, WH_TRACE_ID_LEN, tid);
	if (ctx->traced == API_TRACE_RECORDED)
		(void)wh_hex_encode(ctx->span_id, WH_SPAN_ID_LEN, sid);
}

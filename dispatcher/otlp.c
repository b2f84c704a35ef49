/*
 * otlp.c: this dispatcher's trace spans, through the shared exporter
 * (common/otlp.h).
 *
 * Each delivery attempt of an event that came with a sampled W3C trace
 * context (trace.h) is a client span, child of the span that published
 * the event (the api's server span, or a direct publisher's own): webhook
 * sid, event sid, attempt number, HTTP status, failure reason, request
 * bytes and the time the delivery waited in the queue. The span is
 * queued as the attempt ends; a loop timer (or a full batch) sends the
 * queue one request at a time, on the deliveries' curl multi (deliver.c
 * hands the finished transfer back), so nothing waits for the collector.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "dispatch.h"
#include "encode.h"
#include "otlp.h"
#include "timeutil.h"

static struct wh_otlp		 exporter;
static struct wh_otlp_batch	 batch;		/* the export in flight */
static struct loop_timer	 flush_timer;
static CURL			*easy;
static struct wh_buf		 body;
static int			 busy;

/* The event's trace context, if it has a valid one. */
static int
event_trace(const struct delivery *dl, struct wh_trace *t)
{
	const char	*tp = dl->entry->task.event.traceparent;

	return (tp != NULL && wh_traceparent_parse(tp, strlen(tp), t) == 0 ?
	    0 : -1);
}

/*
 * A webhook with propagate_trace: the traceparent its request carries,
 * naming this attempt's span (made here, kept in dl for the span). -1
 * when the event has no trace context.
 */
int
otlp_traceparent(struct delivery *dl, char out[WH_TRACEPARENT_LEN + 1])
{
	struct wh_trace	t;

	if (event_trace(dl, &t) == -1 ||
	    wh_trace_new_id(dl->span_id, sizeof(dl->span_id)) == -1)
		return (-1);
	wh_traceparent_format(&t, dl->span_id, out);
	return (0);
}

/*
 * The attempt ended: its span id (made now unless its request already
 * carried it) names it in the log lines, and its span is queued when the
 * trace is sampled.
 */
void
otlp_attempt(struct delivery *dl, const char *reason)
{
	static const uint8_t	 none[WH_SPAN_ID_LEN];
	const struct wh_event	*ev = &dl->entry->task.event;
	struct wh_otlp_span	*s;
	struct wh_trace		 t;
	int64_t			 now = wh_now_us(), since, wait;

	if (event_trace(dl, &t) == -1)
		return;
	if (memcmp(dl->span_id, none, sizeof(none)) == 0 &&
	    wh_trace_new_id(dl->span_id, sizeof(dl->span_id)) == -1)
		return;
	if (!exporter.on || !wh_otlp_sampled(&exporter, &t) ||
	    (s = wh_otlp_span_new(&exporter, &t, t.span_id)) == NULL)
		return;
	wh_otlp_span_id(s, dl->span_id);
	s->name = "webhook delivery";
	s->kind = WH_OTLP_KIND_CLIENT;
	s->error = reason != NULL;
	s->end_us = now;
	s->start_us = now - dl->latency_ms * 1000;
	/* Waiting since publication, or since a retry fell due. */
	since = dl->attempt > 1 && dl->entry->task.due_at > 0 ?
	    dl->entry->task.due_at : ev->created_at;
	wait = since > 0 && s->start_us / 1000 > since ?
	    s->start_us / 1000 - since : 0;
	wh_otlp_attr_str(s, "webhooks.webhook_sid", dl->hook->sid);
	wh_otlp_attr_str(s, "webhooks.event_sid", ev->event_sid);
	wh_otlp_attr_int(s, "webhooks.attempt", dl->attempt);
	wh_otlp_attr_int(s, "webhooks.queue_wait_ms", wait);
	wh_otlp_attr_int(s, "http.request.body.size", (long long)dl->body.len);
	if (dl->status > 0)
		wh_otlp_attr_int(s, "http.response.status_code", dl->status);
	if (reason != NULL)
		wh_otlp_attr_str(s, "error.type", reason);
	if (wh_otlp_pending(&exporter) >= WH_OTLP_BATCH_MAX)
		loop_timer_arm(&flush_timer, 0);
}

/* trace_id and span_id of an attempt's log lines ("" when untraced). */
void
otlp_log_ids(const struct delivery *dl, char tid[33], char sid[17])
{
	static const uint8_t	 none[WH_SPAN_ID_LEN];
	struct wh_trace		 t;

	tid[0] = sid[0] = '\0';
	if (event_trace(dl, &t) == -1)
		return;
	(void)wh_hex_encode(t.trace_id, WH_TRACE_ID_LEN, tid);
	if (memcmp(dl->span_id, none, sizeof(none)) != 0)
		(void)wh_hex_encode(dl->span_id, WH_SPAN_ID_LEN, sid);
}

static const struct otlp_transport	*transport;

/* deliver.c: how the export rides on the deliveries' multi. */
void
otlp_transport(const struct otlp_transport *t)
{
	transport = t;
}

/* The collector is ours to reach wherever it is: no address policy. */
static curl_socket_t
open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	return (transport->socket_open(a));
}

static void
export_start(void)
{
	int	bad = 0;

	wh_otlp_take(&exporter, &batch);
	wh_buf_reset(&body);
	if (wh_otlp_encode(&exporter, &batch, &body) == -1) {
		wh_otlp_done(&exporter, batch.n, CURLE_OUT_OF_MEMORY, 0);
		return;
	}
	if (easy == NULL && (easy = curl_easy_init()) == NULL) {
		wh_otlp_done(&exporter, batch.n, CURLE_FAILED_INIT, 0);
		return;
	}
	bad |= wh_otlp_easy(&exporter, easy, &body);
	bad |= curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_cb);
	bad |= curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
	    transport->socket_close);
	bad |= curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)&busy);
	if (bad != 0 || transport->start(easy) == -1) {
		wh_otlp_done(&exporter, batch.n, CURLE_FAILED_INIT, 0);
		return;
	}
	busy = 1;
}

/* deliver.c: the export transfer ended. */
void
otlp_done(void *e, int result, long status)
{
	busy = 0;
	wh_otlp_done(&exporter, batch.n, result, status);
	/* More than a batch waiting: the next goes at once. */
	if (wh_otlp_pending(&exporter) >= WH_OTLP_BATCH_MAX)
		loop_timer_arm(&flush_timer, 0);
}

/* 1 if e is the exporter's transfer (deliver.c's check_done asks). */
int
otlp_owns(const void *priv)
{
	return (priv == (const void *)&busy);
}

static void
flush_tick(void *arg)
{
	if (!busy && wh_otlp_pending(&exporter) > 0)
		export_start();
	loop_timer_arm(&flush_timer, WH_OTLP_FLUSH_MS);
}

void
otlp_counts(uint64_t *exported, uint64_t *dropped)
{
	*exported = exporter.exported;
	*dropped = exporter.dropped;
}

int
otlp_start(char *err, size_t errlen)
{
	if (wh_otlp_init(&exporter, &d.cfg, "webhooks-dispatcher",
	    d.consumer, err, errlen) == -1)
		return (-1);
	if (!exporter.on)
		return (0);
	wh_buf_init(&body, 0);
	loop_timer_init(&flush_timer, flush_tick, NULL);
	loop_timer_arm(&flush_timer, WH_OTLP_FLUSH_MS);
	return (0);
}

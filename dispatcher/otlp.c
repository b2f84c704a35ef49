/*
 * otlp.c: this dispatcher's trace spans, exported over OTLP/HTTP with
 * the JSON encoding (POST <WH_OTLP_ENDPOINT>/v1/traces).
 *
 * Each delivery attempt of an event that came with a sampled W3C trace
 * context (trace.h) is a client span, child of the publisher's span:
 * webhook sid, event sid, attempt number, HTTP status, failure reason,
 * request bytes and the time the delivery waited in the queue. A span is
 * only appended to a bounded queue as the attempt ends; a loop timer
 * sends the queue in one request at a time, on the deliveries' curl
 * multi (deliver.c hands the finished transfer back). Nothing ever waits
 * for the collector: when the queue is full (the collector slow or
 * down) new spans are dropped and counted
 * (webhooks_trace_spans_dropped_total), as are those of a failed export.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dispatch.h"
#include "encode.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"
#include "trace.h"

#define QUEUE_MAX	2048	/* spans waiting for export */
#define BATCH_MAX	512	/* spans per request */
#define FLUSH_MS	1000
#define EXPORT_TIMEOUT_MS 5000

struct span {
	struct wh_trace	 trace;		/* span_id: the parent's */
	uint8_t		 id[WH_SPAN_ID_LEN];
	int64_t		 start_us, end_us;	/* wall clock */
	char		 webhook_sid[64];
	char		 event_sid[64];
	uint32_t	 attempt;
	long		 status;
	const char	*reason;	/* NULL: succeeded */
	size_t		 bytes;
	int64_t		 wait_ms;
};

static struct span		 queue[QUEUE_MAX];
static size_t			 nqueued;
static struct loop_timer	 flush_timer;
static CURL			*easy;		/* the export in flight */
static struct curl_slist	*headers;
static struct wh_buf		 body;
static size_t			 nsent;		/* spans in that request */
static char			 url[sizeof(d.cfg.otlp_endpoint) + 16];
static uint64_t			 n_exported, n_dropped;
static int			 failing;

/* The decision W3C's "sampled" flag and WH_TRACE_SAMPLE make together,
 * the same in every process for one trace id. */
static int
sampled(const struct wh_trace *t)
{
	uint64_t	v = 0;
	size_t		i;

	if (!(t->flags & WH_TRACE_SAMPLED) || d.cfg.trace_sample <= 0)
		return (0);
	for (i = 8; i < WH_TRACE_ID_LEN; i++)
		v = v << 8 | t->trace_id[i];
	return ((double)v < d.cfg.trace_sample * 18446744073709551616.0);
}

void
otlp_attempt(const struct delivery *dl, const char *reason)
{
	const struct wh_event	*ev = &dl->entry->task.event;
	struct wh_trace		 t;
	struct span		*s;
	int64_t			 now = wh_now_ms() * 1000, since;

	if (d.cfg.otlp_endpoint[0] == '\0' || ev->traceparent == NULL ||
	    wh_traceparent_parse(ev->traceparent, strlen(ev->traceparent),
	    &t) == -1 || !sampled(&t))
		return;
	if (nqueued == QUEUE_MAX) {
		n_dropped++;
		return;
	}
	s = &queue[nqueued];
	memset(s, 0, sizeof(*s));
	if (wh_trace_new_id(s->id, sizeof(s->id)) == -1) {
		n_dropped++;
		return;
	}
	s->trace = t;
	s->end_us = now;
	s->start_us = now - dl->latency_ms * 1000;
	(void)snprintf(s->webhook_sid, sizeof(s->webhook_sid), "%s",
	    dl->hook->sid);
	(void)snprintf(s->event_sid, sizeof(s->event_sid), "%s",
	    ev->event_sid);
	s->attempt = dl->attempt;
	s->status = dl->status;
	s->reason = reason;
	s->bytes = dl->body.len;
	/* Waiting since publication, or since a retry fell due. */
	since = dl->attempt > 1 && dl->entry->task.due_at > 0 ?
	    dl->entry->task.due_at : ev->created_at;
	s->wait_ms = since > 0 && s->start_us / 1000 > since ?
	    s->start_us / 1000 - since : 0;
	nqueued++;
	if (nqueued >= BATCH_MAX)
		loop_timer_arm(&flush_timer, 0);
}

static int
attr_str(struct wh_buf *b, const char *key, const char *v, int first)
{
	return (wh_buf_appendf(b, "%s{\"key\":\"%s\",\"value\":"
	    "{\"stringValue\":", first ? "" : ",", key) |
	    wh_json_str(b, v, strlen(v)) | wh_buf_appendstr(b, "}}"));
}

static int
attr_int(struct wh_buf *b, const char *key, long long v)
{
	return (wh_buf_appendf(b, ",{\"key\":\"%s\",\"value\":"
	    "{\"intValue\":\"%lld\"}}", key, v));
}

/* The value of one name=value pair, percent-decoded, as an attribute. */
static int
resource_pair(const char *n, size_t nlen, const char *v, size_t vlen,
    void *arg)
{
	struct wh_buf	*b = arg;

	return (wh_buf_appendstr(b, ",{\"key\":") |
	    wh_json_str(b, n, nlen) |
	    wh_buf_appendstr(b, ",\"value\":{\"stringValue\":") |
	    wh_json_str(b, v, vlen) | wh_buf_appendstr(b, "}}"));
}

static int
span_json(struct wh_buf *b, const struct span *s, int first)
{
	char	tid[2 * WH_TRACE_ID_LEN + 1], sid[2 * WH_SPAN_ID_LEN + 1];
	char	pid[2 * WH_SPAN_ID_LEN + 1];
	int	rc = 0;

	(void)wh_hex_encode(s->trace.trace_id, WH_TRACE_ID_LEN, tid);
	(void)wh_hex_encode(s->id, WH_SPAN_ID_LEN, sid);
	(void)wh_hex_encode(s->trace.span_id, WH_SPAN_ID_LEN, pid);
	/* kind 3: SPAN_KIND_CLIENT; status 1 ok, 2 error. */
	rc |= wh_buf_appendf(b, "%s{\"traceId\":\"%s\",\"spanId\":\"%s\","
	    "\"parentSpanId\":\"%s\",\"name\":\"webhook delivery\","
	    "\"kind\":3,\"startTimeUnixNano\":\"%lld000\","
	    "\"endTimeUnixNano\":\"%lld000\",\"attributes\":[",
	    first ? "" : ",", tid, sid, pid, (long long)s->start_us,
	    (long long)s->end_us);
	rc |= attr_str(b, "webhooks.webhook_sid", s->webhook_sid, 1);
	rc |= attr_str(b, "webhooks.event_sid", s->event_sid, 0);
	rc |= attr_int(b, "webhooks.attempt", s->attempt);
	rc |= attr_int(b, "webhooks.queue_wait_ms", s->wait_ms);
	rc |= attr_int(b, "http.request.body.size", (long long)s->bytes);
	if (s->status > 0)
		rc |= attr_int(b, "http.response.status_code", s->status);
	if (s->reason != NULL)
		rc |= attr_str(b, "error.type", s->reason, 0);
	rc |= wh_buf_appendf(b, "],\"status\":{\"code\":%d}}",
	    s->reason != NULL ? 2 : 1);
	return (rc);
}

/* The OTLP/JSON request of the first n queued spans. */
static int
request_json(struct wh_buf *b, size_t n)
{
	size_t	i;
	int	rc = 0;

	rc |= wh_buf_appendstr(b, "{\"resourceSpans\":[{\"resource\":"
	    "{\"attributes\":[");
	rc |= attr_str(b, "service.name", d.cfg.service_name[0] != '\0' ?
	    d.cfg.service_name : "webhooks-dispatcher", 1);
	rc |= attr_str(b, "service.version", WH_VERSION, 0);
	rc |= attr_str(b, "service.instance.id", d.consumer, 0);
	if (wh_otlp_headers_parse(d.cfg.resource_attrs,
	    strlen(d.cfg.resource_attrs), resource_pair, b) == -1)
		rc = -1;
	rc |= wh_buf_appendstr(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":"
	    "\"streem-webhooks\",\"version\":\"" WH_VERSION "\"},\"spans\":[");
	for (i = 0; i < n && rc == 0; i++)
		rc |= span_json(b, &queue[i], i == 0);
	rc |= wh_buf_appendstr(b, "]}]}]}");
	return (rc != 0 ? -1 : 0);
}

static int
header_pair(const char *n, size_t nlen, const char *v, size_t vlen,
    void *arg)
{
	struct curl_slist	**list = arg, *next;
	char			  line[WH_OTLP_HEADER_MAX + 256];

	if ((size_t)snprintf(line, sizeof(line), "%.*s: %.*s", (int)nlen, n,
	    (int)vlen, v) >= sizeof(line) ||
	    (next = curl_slist_append(*list, line)) == NULL)
		return (-1);
	*list = next;
	return (0);
}

/*
 * The deliveries' curl multi and sockets the exports ride on, given by
 * their owner (deliver.c) so that this file never calls up into it.
 */
static const struct otlp_transport	*transport;

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
	size_t	n = nqueued < BATCH_MAX ? nqueued : BATCH_MAX;
	int	bad = 0;

	wh_buf_reset(&body);
	if (request_json(&body, n) == -1) {
		n_dropped += n;
		goto shift;
	}
	if (easy == NULL && (easy = curl_easy_init()) == NULL)
		return;
	curl_easy_reset(easy);
	bad |= curl_easy_setopt(easy, CURLOPT_URL, url);
	bad |= curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data);
	bad |= curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body.len);
	bad |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	bad |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
	    (long)EXPORT_TIMEOUT_MS);
	bad |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_cb);
	bad |= curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
	    transport->socket_close);
	bad |= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)&nsent);
	if (bad != 0 || transport->start(easy) == -1) {
		n_dropped += n;
		goto shift;
	}
	nsent = n;
shift:
	/* The request holds its own copy (body): the queue moves on. */
	memmove(queue, queue + n, (nqueued - n) * sizeof(*queue));
	nqueued -= n;
}

/* deliver.c: the export transfer ended. */
void
otlp_done(void *e, int result, long status)
{
	if (result == CURLE_OK && status >= 200 && status <= 299) {
		n_exported += nsent;
		if (failing)
			wh_log(WH_LOG_INFO, "trace export works again", NULL);
		failing = 0;
	} else {
		n_dropped += nsent;
		if (!failing)
			wh_log(WH_LOG_WARN, "trace export failed; spans are "
			    "dropped until it works", "error", result !=
			    CURLE_OK ? curl_easy_strerror(result) : "HTTP "
			    "status not 2xx", NULL);
		failing = 1;
	}
	nsent = 0;
}

/* 1 if e is the exporter's transfer (deliver.c's check_done asks). */
int
otlp_owns(const void *priv)
{
	return (priv == (const void *)&nsent);
}

static void
flush_tick(void *arg)
{
	if (nsent == 0 && nqueued > 0)
		export_start();
	loop_timer_arm(&flush_timer, FLUSH_MS);
}

void
otlp_counts(uint64_t *exported, uint64_t *dropped)
{
	*exported = n_exported;
	*dropped = n_dropped;
}

int
otlp_start(char *err, size_t errlen)
{
	const char	*h = d.cfg.otlp_headers;

	if (d.cfg.otlp_endpoint[0] == '\0')
		return (0);
	(void)snprintf(url, sizeof(url), "%s/v1/traces",
	    d.cfg.otlp_endpoint);
	wh_buf_init(&body, 0);
	if ((headers = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL ||
	    wh_otlp_headers_parse(h, strlen(h), header_pair, &headers) == -1) {
		(void)snprintf(err, errlen, "cannot set up the trace exporter");
		return (-1);
	}
	loop_timer_init(&flush_timer, flush_tick, NULL);
	loop_timer_arm(&flush_timer, FLUSH_MS);
	return (0);
}

/*
 * otlp.c: the trace exporter both programs share (see otlp.h): the
 * bounded span queue, the sampling decision, the OTLP/JSON encoding and
 * the export request's curl settings. Which thread performs the request
 * is each program's business.
 */
#include <stdio.h>
#include <string.h>

#include "encode.h"
#include "json.h"
#include "log.h"
#include "otlp.h"

/* One header of WH_OTLP_HEADERS into the request's list. */
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

int
wh_otlp_init(struct wh_otlp *o, const struct wh_config *cfg,
    const char *service, const char *instance, char *err, size_t errlen)
{
	const char	*h = cfg->otlp_headers;

	memset(o, 0, sizeof(*o) - sizeof(o->queue));
	o->nqueued = 0;
	if (cfg->otlp_endpoint[0] == '\0')
		return (0);
	o->sample = cfg->trace_sample;
	(void)snprintf(o->url, sizeof(o->url), "%s/v1/traces",
	    cfg->otlp_endpoint);
	(void)snprintf(o->service, sizeof(o->service), "%s",
	    cfg->service_name[0] != '\0' ? cfg->service_name : service);
	(void)snprintf(o->instance, sizeof(o->instance), "%s", instance);
	o->resource_attrs = cfg->resource_attrs;
	if ((o->headers = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL ||
	    wh_otlp_headers_parse(h, strlen(h), header_pair,
	    &o->headers) == -1) {
		(void)snprintf(err, errlen, "cannot set up the trace exporter");
		return (-1);
	}
	o->on = 1;
	return (0);
}

int
wh_otlp_sampled(const struct wh_otlp *o, const struct wh_trace *t)
{
	uint64_t	v = 0;
	size_t		i;

	if (!o->on || !(t->flags & WH_TRACE_SAMPLED) || o->sample <= 0)
		return (0);
	/* The id's random low half, as a fraction of 2^64. */
	for (i = 8; i < WH_TRACE_ID_LEN; i++)
		v = v << 8 | t->trace_id[i];
	return ((double)v < o->sample * 18446744073709551616.0);
}

struct wh_otlp_span *
wh_otlp_span_new(struct wh_otlp *o, const struct wh_trace *t,
    const uint8_t *parent)
{
	struct wh_otlp_span	*s;

	if (o->nqueued == WH_OTLP_QUEUE_MAX) {
		o->dropped++;
		return (NULL);
	}
	s = &o->queue[o->nqueued];
	s->nattrs = 0;
	s->error = 0;
	memcpy(s->trace_id, t->trace_id, sizeof(s->trace_id));
	s->has_parent = parent != NULL;
	if (parent != NULL)
		memcpy(s->parent, parent, sizeof(s->parent));
	if (wh_trace_new_id(s->id, sizeof(s->id)) == -1) {
		o->dropped++;
		return (NULL);
	}
	o->nqueued++;
	return (s);
}

void
wh_otlp_span_id(struct wh_otlp_span *s, const uint8_t *id)
{
	memcpy(s->id, id, sizeof(s->id));
}

void
wh_otlp_attr_str(struct wh_otlp_span *s, const char *key, const char *v)
{
	struct wh_otlp_attr	*a;

	if (s->nattrs == WH_OTLP_ATTRS_MAX || v == NULL)
		return;
	a = &s->attrs[s->nattrs++];
	a->key = key;
	a->is_int = 0;
	(void)snprintf(a->s, sizeof(a->s), "%s", v);
}

void
wh_otlp_attr_int(struct wh_otlp_span *s, const char *key, long long v)
{
	struct wh_otlp_attr	*a;

	if (s->nattrs == WH_OTLP_ATTRS_MAX)
		return;
	a = &s->attrs[s->nattrs++];
	a->key = key;
	a->is_int = 1;
	a->i = v;
}

size_t
wh_otlp_pending(const struct wh_otlp *o)
{
	return (o->nqueued);
}

void
wh_otlp_take(struct wh_otlp *o, struct wh_otlp_batch *b)
{
	size_t	n = o->nqueued < WH_OTLP_BATCH_MAX ? o->nqueued :
		    WH_OTLP_BATCH_MAX;

	memcpy(b->spans, o->queue, n * sizeof(*o->queue));
	memmove(o->queue, o->queue + n, (o->nqueued - n) * sizeof(*o->queue));
	o->nqueued -= n;
	b->n = n;
}

static int
attr_json(struct wh_buf *b, const char *key, size_t klen, const char *v,
    size_t vlen, int first)
{
	return (wh_buf_appendstr(b, first ? "{\"key\":" : ",{\"key\":") |
	    wh_json_str(b, key, klen) |
	    wh_buf_appendstr(b, ",\"value\":{\"stringValue\":") |
	    wh_json_str(b, v, vlen) | wh_buf_appendstr(b, "}}"));
}

/* One pair of OTEL_RESOURCE_ATTRIBUTES (percent-decoded) as an attribute. */
static int
resource_pair(const char *n, size_t nlen, const char *v, size_t vlen,
    void *arg)
{
	return (attr_json(arg, n, nlen, v, vlen, 0));
}

static int
span_json(struct wh_buf *b, const struct wh_otlp_span *s, int first)
{
	const struct wh_otlp_attr	*a;
	char				 tid[2 * WH_TRACE_ID_LEN + 1];
	char				 sid[2 * WH_SPAN_ID_LEN + 1];
	char				 pid[2 * WH_SPAN_ID_LEN + 1];
	size_t				 i;
	int				 rc = 0;

	(void)wh_hex_encode(s->trace_id, WH_TRACE_ID_LEN, tid);
	(void)wh_hex_encode(s->id, WH_SPAN_ID_LEN, sid);
	pid[0] = '\0';
	if (s->has_parent)
		(void)wh_hex_encode(s->parent, WH_SPAN_ID_LEN, pid);
	rc |= wh_buf_appendf(b, "%s{\"traceId\":\"%s\",\"spanId\":\"%s\","
	    "\"parentSpanId\":\"%s\",\"name\":", first ? "" : ",", tid, sid,
	    pid);
	rc |= wh_json_str(b, s->name, strlen(s->name));
	rc |= wh_buf_appendf(b, ",\"kind\":%d,\"startTimeUnixNano\":"
	    "\"%lld000\",\"endTimeUnixNano\":\"%lld000\",\"attributes\":[",
	    s->kind, (long long)s->start_us, (long long)s->end_us);
	for (i = 0; i < s->nattrs; i++) {
		a = &s->attrs[i];
		if (a->is_int)
			rc |= wh_buf_appendf(b, "%s{\"key\":\"%s\",\"value\":"
			    "{\"intValue\":\"%lld\"}}", i == 0 ? "" : ",",
			    a->key, a->i);
		else
			rc |= attr_json(b, a->key, strlen(a->key), a->s,
			    strlen(a->s), i == 0);
	}
	/* Status code 1: OK, 2: ERROR. */
	rc |= wh_buf_appendf(b, "],\"status\":{\"code\":%d}}",
	    s->error ? 2 : 1);
	return (rc);
}

int
wh_otlp_encode(const struct wh_otlp *o, const struct wh_otlp_batch *bt,
    struct wh_buf *b)
{
	const char	*ra = o->resource_attrs != NULL ? o->resource_attrs : "";
	size_t		 i;
	int		 rc = 0;

	rc |= wh_buf_appendstr(b, "{\"resourceSpans\":[{\"resource\":"
	    "{\"attributes\":[");
	rc |= attr_json(b, "service.name", 12, o->service, strlen(o->service),
	    1);
	rc |= attr_json(b, "service.version", 15, WH_VERSION,
	    strlen(WH_VERSION), 0);
	rc |= attr_json(b, "service.instance.id", 19, o->instance,
	    strlen(o->instance), 0);
	if (wh_otlp_headers_parse(ra, strlen(ra), resource_pair, b) == -1)
		rc = -1;
	rc |= wh_buf_appendstr(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":"
	    "\"streem-webhooks\",\"version\":\"" WH_VERSION "\"},\"spans\":[");
	for (i = 0; i < bt->n && rc == 0; i++)
		rc |= span_json(b, &bt->spans[i], i == 0);
	rc |= wh_buf_appendstr(b, "]}]}]}");
	return (rc != 0 ? -1 : 0);
}

int
wh_otlp_easy(const struct wh_otlp *o, CURL *e, const struct wh_buf *body)
{
	int	bad = 0;

	curl_easy_reset(e);
	bad |= curl_easy_setopt(e, CURLOPT_URL, o->url);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len);
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)WH_OTLP_TIMEOUT_MS);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	return (bad != 0 ? -1 : 0);
}

void
wh_otlp_done(struct wh_otlp *o, size_t n, int result, long status)
{
	if (result == CURLE_OK && status >= 200 && status <= 299) {
		o->exported += n;
		if (o->failing)
			wh_log(WH_LOG_INFO, "trace export works again", NULL);
		o->failing = 0;
		return;
	}
	o->dropped += n;
	if (!o->failing)
		wh_log(WH_LOG_WARN, "trace export failed; spans are dropped "
		    "until it works", "error", result != CURLE_OK ?
		    curl_easy_strerror((CURLcode)result) :
		    "HTTP status not 2xx", NULL);
	o->failing = 1;
}

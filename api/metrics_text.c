/*
 * metrics_text.c: GET /metrics, in Prometheus' text exposition format
 * (version 0.0.4).
 *
 * What is shown is summed over every live instance: each api worker and
 * each dispatcher publishes its own figures to Redis every second
 * (api/metrics.c, dispatcher/metrics.c), and one call of
 * common/lua/metrics.lua here adds them up (with the totals of instances
 * that are gone, so counters never go down). The queue figures are read
 * from Redis at the same time: the retry set's size, the streams' lengths
 * and the consumer group's lag and pending count, and the number of
 * disabled webhooks (the set the webhook scripts keep). All of it is one
 * round trip on the worker's async connection, bounded by
 * SCRAPE_TIMEOUT_MS.
 *
 * Open to anyone who can reach the api unless WH_METRICS_TOKEN is set;
 * then it takes "Authorization: Bearer <token>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "metrics.h"
#include "sign.h"

/* Below Prometheus' default scrape timeout (10 s). */
#define SCRAPE_TIMEOUT_MS	2000
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"
#define SERIES_MAX		8192
#define EXTRA_MAX		12	/* queue figures added to the sums */

/* The replies of one scrape, in the order sent. */
#define R_SUMS		0
#define R_RETRY		1
#define R_EVENTS	2
#define R_RETRIES	3
#define R_DEAD		4
#define R_GROUP_EVENTS	5
#define R_GROUP_RETRIES	6
#define R_DISABLED	7
#define R_COUNT		8

struct family {
	const char	*name;
	const char	*type;
	const char	*help;
};

/* Every family shown, in this order (docs/operations.md, "Metrics", lists them). */
static const struct family	families[] = {
	{ "webhooks_api_requests_total", "counter",
	    "HTTP requests the api answered, by route pattern, method and "
	    "status." },
	{ "webhooks_api_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its answer, by route pattern "
	    "and method." },
	{ "webhooks_api_events_published_total", "counter",
	    "Events published through the api, by outcome: accepted "
	    "(enqueued), duplicate (event_sid seen before, nothing enqueued), "
	    "conflict (event_sid seen with other content, 409)." },
	{ "webhooks_api_workers", "gauge",
	    "api worker processes that published their figures within the "
	    "last 5 seconds." },
	{ "webhooks_dispatchers", "gauge",
	    "Dispatchers that published their figures within the last 5 "
	    "seconds." },
	{ "webhooks_dispatcher_events_total", "counter",
	    "Events the dispatchers read from the events stream (those taken "
	    "over from a stopped dispatcher included)." },
	{ "webhooks_dispatcher_claimed_total", "counter",
	    "Stream entries taken over from a dispatcher that stopped "
	    "(XAUTOCLAIM)." },
	{ "webhooks_dispatcher_malformed_total", "counter",
	    "Stream entries moved to the dead letters as malformed." },
	{ "webhooks_delivery_attempts_total", "counter",
	    "Delivery attempts, by outcome: succeeded, retrying (failed, "
	    "another attempt scheduled), dead (failed, no attempt left)." },
	{ "webhooks_delivery_attempt_duration_seconds", "histogram",
	    "Duration of delivery attempts, from the start of the transfer "
	    "to its end (answer, error or timeout)." },
	{ "webhooks_deliveries_parked_total", "counter",
	    "Deliveries not attempted because their webhook is disabled "
	    "(kept in the dead letters)." },
	{ "webhooks_deliveries_filtered_total", "counter",
	    "Events a webhook's payload filter left out (no attempt made)." },
	{ "webhooks_deliveries_rate_limited_total", "counter",
	    "Deliveries deferred by their webhook's rate_limit (no attempt "
	    "counted)." },
	{ "webhooks_dispatcher_inflight", "gauge",
	    "HTTP transfers running, all dispatchers together." },
	{ "webhooks_dispatcher_queued", "gauge",
	    "Deliveries waiting for a free transfer slot (per-endpoint and "
	    "per-dispatcher limits), all dispatchers together." },
	{ "webhooks_retry_scheduled", "gauge",
	    "Attempts waiting in the retry set for their time." },
	{ "webhooks_stream_entries", "gauge",
	    "Entries in a work stream, read or not (acked entries are "
	    "deleted), by stream." },
	{ "webhooks_consumer_group_lag", "gauge",
	    "Entries of a stream the consumer group has not read yet (absent "
	    "when Redis cannot tell), by stream." },
	{ "webhooks_consumer_group_pending", "gauge",
	    "Entries read by a dispatcher and not acked yet, by stream." },
	{ "webhooks_dead_letters", "gauge",
	    "Entries in the dead-letter stream." },
	{ "webhooks_endpoints_disabled", "gauge",
	    "Webhooks disabled, by a PATCH or automatically after their "
	    "endpoint kept failing; their deliveries are parked." },
};

/* One summed series: its field ("c"/"g" + name{labels}) and value. */
struct series {
	const char	*field;
	long long	 value;
};

struct scrape {
	struct series	*all;
	size_t		 n;
	char		 extra[EXTRA_MAX][96];
	size_t		 nextra;
};

static int
series_cmp(const void *a, const void *b)
{
	const struct series	*x = a, *y = b;

	return (strcmp(x->field + 1, y->field + 1));
}

static int
series_find(const struct scrape *s, const char *key, long long *v)
{
	struct series	 probe, *hit;
	char		 field[256];

	(void)snprintf(field, sizeof(field), "?%s", key);
	probe.field = field;
	hit = bsearch(&probe, s->all, s->n, sizeof(*s->all), series_cmp);
	if (hit == NULL)
		return (0);
	*v = hit->value;
	return (1);
}

static void
series_extra(struct scrape *s, const char *field, long long v)
{
	if (s->nextra == EXTRA_MAX)
		return;
	(void)snprintf(s->extra[s->nextra], sizeof(s->extra[0]), "%s", field);
	s->all[s->n].field = s->extra[s->nextra++];
	s->all[s->n++].value = v;
}

/* XINFO GROUPS: pending and (Redis 7) lag of group "dispatchers". */
static void
group_figures(struct scrape *s, const struct api_reply *r,
    const char *stream)
{
	const struct api_reply	*g, *k, *v;
	char			 field[96];
	size_t			 j;

	if ((g = api_xinfo_group(r, WH_GROUP)) == NULL)
		return;
	for (j = 0; j + 1 < g->nelem; j += 2) {
		k = g->elem[j];
		v = g->elem[j + 1];
		/* lag is nil when Redis cannot tell: not shown then. */
		if (k->str == NULL || v->type != REDIS_REPLY_INTEGER ||
		    (strcmp(k->str, "lag") != 0 &&
		    strcmp(k->str, "pending") != 0))
			continue;
		(void)snprintf(field, sizeof(field),
		    "gwebhooks_consumer_group_%s{stream=\"%s\"}", k->str,
		    stream);
		series_extra(s, field, v->integer);
	}
}

static void
int_figure(struct scrape *s, const struct api_reply *r, const char *field)
{
	if (r->type == REDIS_REPLY_INTEGER)
		series_extra(s, field, r->integer);
}

/* The sums and the queue figures, sorted by series. -1 if malformed. */
static int
scrape_read(struct api_ctx *ctx, struct scrape *s)
{
	const struct api_reply	*sums = ctx->replies[R_SUMS];
	size_t			 i;

	if (sums->type != REDIS_REPLY_ARRAY || sums->nelem % 2 != 0 ||
	    sums->nelem / 2 + EXTRA_MAX > SERIES_MAX)
		return (-1);
	if ((s->all = calloc(sums->nelem / 2 + EXTRA_MAX,
	    sizeof(*s->all))) == NULL)
		return (-1);
	for (i = 0; i < sums->nelem; i += 2) {
		if (sums->elem[i]->type != REDIS_REPLY_STRING ||
		    sums->elem[i]->len < 2 ||
		    sums->elem[i + 1]->type != REDIS_REPLY_INTEGER)
			continue;
		s->all[s->n].field = sums->elem[i]->str;
		s->all[s->n++].value = sums->elem[i + 1]->integer;
	}
	int_figure(s, ctx->replies[R_RETRY], "gwebhooks_retry_scheduled");
	int_figure(s, ctx->replies[R_EVENTS],
	    "gwebhooks_stream_entries{stream=\"events\"}");
	int_figure(s, ctx->replies[R_RETRIES],
	    "gwebhooks_stream_entries{stream=\"retries\"}");
	int_figure(s, ctx->replies[R_DEAD], "gwebhooks_dead_letters");
	int_figure(s, ctx->replies[R_DISABLED],
	    "gwebhooks_endpoints_disabled");
	group_figures(s, ctx->replies[R_GROUP_EVENTS], "events");
	group_figures(s, ctx->replies[R_GROUP_RETRIES], "retries");
	qsort(s->all, s->n, sizeof(*s->all), series_cmp);
	return (0);
}

/* name{labels} of a counter or gauge family, each with its value. */
static int
render_plain(struct wh_buf *b, const struct scrape *s, const char *name)
{
	const char	*f;
	size_t		 i, len = strlen(name);
	int		 rc = 0;

	for (i = 0; i < s->n && rc == 0; i++) {
		f = s->all[i].field + 1;
		if (strncmp(f, name, len) != 0 ||
		    (f[len] != '\0' && f[len] != '{'))
			continue;
		rc |= wh_buf_appendf(b, "%s %lld\n", f, s->all[i].value);
	}
	return (rc);
}

/* Microseconds as seconds. */
static int
render_seconds(struct wh_buf *b, long long us)
{
	return (wh_buf_appendf(b, "%s%lld.%06lld\n", us < 0 ? "-" : "",
	    llabs(us) / 1000000, llabs(us) % 1000000));
}

/*
 * A histogram family: for each label set (from its _count series), the
 * buckets in bound order, +Inf (= the count), the sum and the count.
 */
static int
render_hist(struct wh_buf *b, const struct scrape *s, const char *name)
{
	const char	*f, *labels;
	char		 count[128], key[256], inner[192];
	long long	 v;
	size_t		 i, j, len;
	int		 rc = 0;

	len = (size_t)snprintf(count, sizeof(count), "%s_count", name);
	for (i = 0; i < s->n && rc == 0; i++) {
		f = s->all[i].field + 1;
		if (strncmp(f, count, len) != 0 ||
		    (f[len] != '\0' && f[len] != '{'))
			continue;
		labels = f + len;	/* "" or "{...}" */
		(void)snprintf(inner, sizeof(inner), "%.*s",
		    labels[0] == '{' ? (int)strlen(labels) - 2 : 0,
		    labels[0] == '{' ? labels + 1 : "");
		for (j = 0; j < WH_HIST_BUCKETS && rc == 0; j++) {
			(void)snprintf(key, sizeof(key),
			    "%s_bucket{%s%sle=\"%s\"}", name, inner,
			    inner[0] != '\0' ? "," : "", wh_hist_le[j]);
			if (!series_find(s, key, &v))
				v = 0;
			rc |= wh_buf_appendf(b, "%s %lld\n", key, v);
		}
		rc |= wh_buf_appendf(b, "%s_bucket{%s%sle=\"+Inf\"} %lld\n",
		    name, inner, inner[0] != '\0' ? "," : "",
		    s->all[i].value);
		(void)snprintf(key, sizeof(key), "%s_sum%s", name, labels);
		if (!series_find(s, key, &v))
			v = 0;
		rc |= wh_buf_appendf(b, "%s ", key);
		rc |= render_seconds(b, v);
		rc |= wh_buf_appendf(b, "%s %lld\n", f, s->all[i].value);
	}
	return (rc);
}

static int
scrape_render(struct wh_buf *b, const struct scrape *s)
{
	const struct family	*fam;
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		fam = &families[i];
		rc |= wh_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    fam->name, fam->help, fam->name, fam->type);
		if (strcmp(fam->type, "histogram") == 0)
			rc |= render_hist(b, s, fam->name);
		else
			rc |= render_plain(b, s, fam->name);
	}
	return (rc != 0 ? -1 : 0);
}

static int
scrape_answer(struct api_ctx *ctx)
{
	struct scrape	s;
	struct wh_buf	b;
	int		rc;

	if (ctx->pending > 0)
		return (api_problem(ctx, API_P_UNAVAILABLE, "Redis did not "
		    "answer in time; the figures are unavailable.", NULL));
	if (ctx->nreplies != R_COUNT ||
	    ctx->replies[R_SUMS]->type == REDIS_REPLY_ERROR)
		return (api_problem_redis(ctx));
	memset(&s, 0, sizeof(s));
	wh_buf_init(&b, 0);
	if (scrape_read(ctx, &s) == -1)
		rc = api_problem_redis(ctx);
	else if (scrape_render(&b, &s) == -1)
		rc = api_problem_nomem(ctx);
	else {
		api_respond_raw(ctx, 200, CONTENT_TYPE, b.data, b.len);
		rc = API_DONE;
	}
	free(s.all);
	wh_buf_free(&b);
	return (rc);
}

/* WH_METRICS_TOKEN, when set: 1 if the request carries it. */
static int
token_ok(struct api_ctx *ctx)
{
	unsigned char	 want[WH_SHA256_LEN], got[WH_SHA256_LEN];
	const char	*h;

	if (api_cfg.metrics_token[0] == '\0')
		return (1);
	if (!http_request_header(ctx->req, "authorization", &h) ||
	    strncasecmp(h, "Bearer ", 7) != 0)
		return (0);
	/* Equal lengths for the constant-time comparison. */
	if (wh_sha256(api_cfg.metrics_token, strlen(api_cfg.metrics_token),
	    want) == -1 || wh_sha256(h + 7, strlen(h + 7), got) == -1)
		return (0);
	return (wh_ct_equal(want, got, sizeof(want)));
}

/* Send the scrape's commands, in the R_* order. */
static int
scrape_send(struct api_ctx *ctx)
{
	struct wh_mkeys	 keys;
	struct wh_mcall	 call;
	char		 k[5][WH_KEY_MAX];
	const char	*argv[3];
	int		 rc;

	if (wh_mkeys_init(&keys, api_cfg.prefix) == -1 ||
	    wh_key_retry(k[0], sizeof(k[0]), api_cfg.prefix) == -1 ||
	    wh_key_events(k[1], sizeof(k[1]), api_cfg.prefix) == -1 ||
	    wh_key_retries(k[2], sizeof(k[2]), api_cfg.prefix) == -1 ||
	    wh_key_dead(k[3], sizeof(k[3]), api_cfg.prefix) == -1 ||
	    wh_key_webhooks_disabled(k[4], sizeof(k[4]), api_cfg.prefix) == -1 ||
	    wh_mcall_build(&call, &keys, "read", NULL, NULL, NULL) == -1)
		return (-1);
	rc = api_redis_cmd(ctx, call.argc, call.argv, call.lens);
	wh_mcall_free(&call);
	argv[0] = "ZCARD";
	argv[1] = k[0];
	rc |= api_redis_cmd(ctx, 2, argv, NULL);
	argv[0] = "XLEN";
	argv[1] = k[1];
	rc |= api_redis_cmd(ctx, 2, argv, NULL);
	argv[1] = k[2];
	rc |= api_redis_cmd(ctx, 2, argv, NULL);
	argv[1] = k[3];
	rc |= api_redis_cmd(ctx, 2, argv, NULL);
	argv[0] = "XINFO";
	argv[1] = "GROUPS";
	argv[2] = k[1];
	rc |= api_redis_cmd(ctx, 3, argv, NULL);
	argv[2] = k[2];
	rc |= api_redis_cmd(ctx, 3, argv, NULL);
	argv[0] = "SCARD";
	argv[1] = k[4];
	rc |= api_redis_cmd(ctx, 2, argv, NULL);
	return (rc != 0 ? -1 : 0);
}

int
api_metrics(struct api_ctx *ctx)
{
	if (ctx->phase == 1)
		return (scrape_answer(ctx));
	if (!token_ok(ctx)) {
		http_response_header(ctx->req, "www-authenticate",
		    "Bearer realm=\"metrics\"");
		return (api_problem(ctx, API_P_UNAUTHORIZED, "GET /metrics "
		    "needs Authorization: Bearer <WH_METRICS_TOKEN>.", NULL));
	}
	ctx->phase = 1;
	if (scrape_send(ctx) == -1) {
		/* Replies to what did go out still come: wait for them. */
		ctx->redis_failed = 1;
		return (ctx->pending > 0 ? API_WAIT : api_problem_redis(ctx));
	}
	api_redis_deadline(ctx, SCRAPE_TIMEOUT_MS);
	return (API_WAIT);
}

/*
 * metrics_text.c: GET /metrics, in Prometheus' text exposition format
 * (version 0.0.4).
 *
 * What this api shows is its own: the figures of its workers, added up
 * (api/metrics.c), each dispatcher showing its own on WH_METRICS_LISTEN;
 * a sum() over every scraped instance is therefore right. The queue
 * figures are different: read from Redis at scrape time (the retry
 * set's size, the streams' lengths, the consumer group's lag and pending
 * count, the dead letters, the disabled webhooks), they are the same
 * cluster-wide value on every api, and only the api shows them: take
 * max() of them over the instances, never sum(). With WH_PARTITIONS,
 * each is the sum over the partitions. Reading them is one
 * round trip on the worker's async connection, bounded by
 * SCRAPE_TIMEOUT_MS; when Redis is down or slow the answer is still 200,
 * without them and with webhooks_redis_up 0.
 *
 * Open to anyone who can reach the api unless WH_METRICS_TOKEN is set;
 * then it takes "Authorization: Bearer <token>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "metrics.h"

/* Below Prometheus' default scrape timeout (10 s). */
#define SCRAPE_TIMEOUT_MS	2000

/*
 * The replies of one scrape, in the order sent: R_PART of them for each
 * partition, then the disabled webhooks' count.
 */
#define R_RETRY		0
#define R_EVENTS	1
#define R_RETRIES	2
#define R_DEAD		3
#define R_GROUP_EVENTS	4
#define R_GROUP_RETRIES	5
#define R_PART		6
#define R_COUNT		(R_PART * api_cfg.partitions + 1)

/* Sums over the partitions; lag -1 once one could not tell it. */
struct queue_sums {
	int64_t		v[R_PART];
	int64_t		lag[2], pending[2];	/* events, retries */
};

/* Every family shown, in this order (README, "Metrics", lists them). */
static const struct wh_mfamily	families[] = {
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
	    "Worker processes of this api that refreshed their figures "
	    "within the last 5 seconds." },
	WH_MFAMILIES_TRACE,
	WH_MFAMILIES_PROCESS,
	{ "webhooks_redis_up", "gauge",
	    "1 if this scrape read the queue figures from Redis, 0 if Redis "
	    "did not answer (they are then absent)." },
	{ "webhooks_retry_scheduled", "gauge",
	    "Attempts waiting in the retry set for their time (cluster-wide: "
	    "aggregate with max())." },
	{ "webhooks_stream_entries", "gauge",
	    "Entries in a work stream, read or not (acked entries are "
	    "deleted), by stream (cluster-wide: aggregate with max())." },
	{ "webhooks_consumer_group_lag", "gauge",
	    "Entries of a stream the consumer group has not read yet (absent "
	    "when Redis cannot tell), by stream (cluster-wide: max())." },
	{ "webhooks_consumer_group_pending", "gauge",
	    "Entries read by a dispatcher and not acked yet, by stream "
	    "(cluster-wide: aggregate with max())." },
	{ "webhooks_dead_letters", "gauge",
	    "Entries in the dead-letter stream (cluster-wide: aggregate with "
	    "max())." },
	{ "webhooks_endpoints_disabled", "gauge",
	    "Webhooks disabled, by a PATCH or automatically after their "
	    "endpoint kept failing; their deliveries are parked "
	    "(cluster-wide: aggregate with max())." },
};

/*
 * XINFO GROUPS: pending and (Redis 7) lag of group "dispatchers", added
 * to *lag and *pending. lag is nil when Redis cannot tell: *lag becomes
 * -1 (not shown).
 */
static int
group_sum(const struct api_reply *r, int64_t *lag, int64_t *pending)
{
	const struct api_reply	*g, *k, *v;
	size_t			 j;
	int			 seen_lag = 0;

	if ((g = api_xinfo_group(r, WH_GROUP)) == NULL)
		return (-1);
	for (j = 0; j + 1 < g->nelem; j += 2) {
		k = g->elem[j];
		v = g->elem[j + 1];
		if (k->str == NULL || v->type != REDIS_REPLY_INTEGER)
			continue;
		if (strcmp(k->str, "pending") == 0)
			*pending += v->integer;
		else if (strcmp(k->str, "lag") == 0 && *lag >= 0) {
			*lag += v->integer;
			seen_lag = 1;
		}
	}
	if (!seen_lag)
		*lag = -1;
	return (0);
}

/* The figures of one partition's replies r, added to q. */
static int
partition_sum(struct api_reply *const *r, struct queue_sums *q)
{
	int	i;

	for (i = 0; i < R_PART; i++) {
		if (r[i] == NULL || r[i]->type == REDIS_REPLY_ERROR)
			return (-1);
		if (i == R_GROUP_EVENTS || i == R_GROUP_RETRIES) {
			if (group_sum(r[i], &q->lag[i - R_GROUP_EVENTS],
			    &q->pending[i - R_GROUP_EVENTS]) == -1)
				q->pending[i - R_GROUP_EVENTS] = -1;
			continue;
		}
		if (r[i]->type != REDIS_REPLY_INTEGER)
			return (-1);
		q->v[i] += r[i]->integer;
	}
	return (0);
}

/* The queue figures, if every reply came; 1 if so (Redis is up). */
static int
queue_figures(struct api_ctx *ctx, struct wh_mset *set, int *rc)
{
	static const char	*streams[2] = { "events", "retries" };
	struct api_reply *const	*r = ctx->replies;
	const struct api_reply	*dis;
	struct queue_sums	 q;
	unsigned		 p;
	char			 labels[32];
	int			 i;

	if (ctx->pending > 0 || ctx->redis_failed ||
	    ctx->nreplies != R_COUNT)
		return (0);
	memset(&q, 0, sizeof(q));
	for (p = 0; p < api_cfg.partitions; p++) {
		if (partition_sum(r + p * R_PART, &q) == -1)
			return (0);
	}
	dis = r[R_COUNT - 1];
	if (dis == NULL || dis->type != REDIS_REPLY_INTEGER)
		return (0);
	*rc |= wh_mset_gauge(set, "webhooks_retry_scheduled", "",
	    q.v[R_RETRY]);
	*rc |= wh_mset_gauge(set, "webhooks_stream_entries",
	    "stream=\"events\"", q.v[R_EVENTS]);
	*rc |= wh_mset_gauge(set, "webhooks_stream_entries",
	    "stream=\"retries\"", q.v[R_RETRIES]);
	*rc |= wh_mset_gauge(set, "webhooks_dead_letters", "", q.v[R_DEAD]);
	*rc |= wh_mset_gauge(set, "webhooks_endpoints_disabled", "",
	    dis->integer);
	for (i = 0; i < 2; i++) {
		(void)snprintf(labels, sizeof(labels), "stream=\"%s\"",
		    streams[i]);
		if (q.lag[i] >= 0 && q.pending[i] >= 0)
			*rc |= wh_mset_gauge(set, "webhooks_consumer_group_lag",
			    labels, q.lag[i]);
		if (q.pending[i] >= 0)
			*rc |= wh_mset_gauge(set,
			    "webhooks_consumer_group_pending", labels,
			    q.pending[i]);
	}
	return (1);
}

/* Whatever Redis said (or not): this api's figures, answered 200. */
static int
scrape_answer(struct api_ctx *ctx)
{
	struct wh_mset	set;
	struct wh_buf	b;
	int		rc = 0, up;

	wh_mset_init(&set);
	wh_buf_init(&b, 0);
	rc |= api_metrics_collect(&set);
	rc |= wh_mset_build_info(&set);
	up = queue_figures(ctx, &set, &rc);
	rc |= wh_mset_gauge(&set, "webhooks_redis_up", "", up);
	if (rc != 0 || wh_mset_render(&b, &set, families,
	    sizeof(families) / sizeof(families[0])) == -1)
		rc = api_problem_nomem(ctx);
	else {
		api_respond_raw(ctx, 200, WH_METRICS_CONTENT_TYPE, b.data,
		    b.len);
		rc = API_DONE;
	}
	wh_mset_free(&set);
	wh_buf_free(&b);
	return (rc);
}

/* WH_METRICS_TOKEN, when set: 1 if the request carries it. */
static int
token_ok(struct api_ctx *ctx)
{
	const char	*h;

	if (!http_request_header(ctx->req, "authorization", &h))
		h = NULL;
	return (wh_metrics_token_ok(api_cfg.metrics_token, h));
}

/* Partition p's commands of a scrape, in the R_* order. */
static int
scrape_send_partition(struct api_ctx *ctx, unsigned p)
{
	char		 k[4][WH_KEY_MAX];
	const char	*argv[3];
	int		 rc = 0;

	if (wh_key_retry(k[0], sizeof(k[0]), api_cfg.prefix, p) == -1 ||
	    wh_key_events(k[1], sizeof(k[1]), api_cfg.prefix, p) == -1 ||
	    wh_key_retries(k[2], sizeof(k[2]), api_cfg.prefix, p) == -1 ||
	    wh_key_dead(k[3], sizeof(k[3]), api_cfg.prefix, p) == -1)
		return (-1);
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
	return (rc != 0 ? -1 : 0);
}

/* Send the scrape's commands: each partition's, then the disabled count. */
static int
scrape_send(struct api_ctx *ctx)
{
	char		 k[WH_KEY_MAX];
	const char	*argv[2];
	unsigned	 p;

	for (p = 0; p < api_cfg.partitions; p++) {
		if (scrape_send_partition(ctx, p) == -1)
			return (-1);
	}
	if (wh_key_webhooks_disabled(k, sizeof(k), api_cfg.prefix) == -1)
		return (-1);
	argv[0] = "SCARD";
	argv[1] = k;
	return (api_redis_cmd(ctx, 2, argv, NULL));
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
	if (!api_redis_ready())
		return (scrape_answer(ctx));
	if (scrape_send(ctx) == -1) {
		/* Replies to what did go out still come: wait for them. */
		ctx->redis_failed = 1;
		if (ctx->pending == 0)
			return (scrape_answer(ctx));
	}
	api_redis_deadline(ctx, SCRAPE_TIMEOUT_MS);
	return (API_WAIT);
}

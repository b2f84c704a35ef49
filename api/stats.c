/*
 * stats.c: GET /v1/webhooks/{webhook_sid}/stats, the last 24 hours of a
 * webhook's attempts by hour: succeeded, failed, and latency p50/p95.
 *
 * The dispatchers keep the rollup in the same script that records an
 * attempt (common/lua/attempt_record.lua): a ring of 24 hourly slots in
 * wh:webhook:<sid>:hourly, each holding its hour, two counts and a
 * latency histogram, so this costs one HGETALL (pipelined with the
 * webhook's record) however busy the endpoint. A slot whose hour is not
 * one of the last 24 is an earlier day's and counts nothing. Percentiles
 * are read off the histogram: the upper bound of the bucket where the
 * rank falls (30000+ for the last), so "p95 250" means "95 % took at most
 * 250 ms". The delivery portal draws its charts from this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "json.h"
#include "keys.h"
#include "timeutil.h"

#define HOURS		24
#define HOUR_MS		3600000LL
#define BUCKETS		12

/* Upper bounds (ms) of the histogram buckets; the last is open. */
static const long long	bounds[BUCKETS] = {
	10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 30000
};

struct hour_slot {
	long long	hour;
	long long	ok;
	long long	fail;
	long long	lat[BUCKETS];
};

static long long
count(const struct api_reply *v)
{
	char		*end;
	long long	 n;

	if (v->type != REDIS_REPLY_STRING)
		return (0);
	n = strtoll(v->str, &end, 10);
	return (*end == '\0' && n > 0 ? n : 0);
}

/* One field "<slot>:<what>" of the hash into slots; others are ignored. */
static void
take_field(struct hour_slot *slots, const struct api_reply *k,
    const struct api_reply *v)
{
	char		*what;
	long		 slot, b;

	if (k->type != REDIS_REPLY_STRING)
		return;
	slot = strtol(k->str, &what, 10);
	if (what == k->str || *what != ':' || slot < 0 || slot >= HOURS)
		return;
	what++;
	if (strcmp(what, "h") == 0)
		slots[slot].hour = count(v);
	else if (strcmp(what, "ok") == 0)
		slots[slot].ok = count(v);
	else if (strcmp(what, "fail") == 0)
		slots[slot].fail = count(v);
	else if (what[0] == 'l' && what[1] >= '0' && what[1] <= '9') {
		b = strtol(what + 1, NULL, 10);
		if (b >= 0 && b < BUCKETS)
			slots[slot].lat[b] = count(v);
	}
}

/* The latency at fraction q of the slot's histogram; -1 when empty. */
static long long
percentile(const struct hour_slot *s, double q)
{
	long long	total = 0, seen = 0, rank;
	int		i;

	for (i = 0; i < BUCKETS; i++)
		total += s->lat[i];
	if (total == 0)
		return (-1);
	rank = (long long)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < BUCKETS; i++) {
		seen += s->lat[i];
		if (seen >= rank)
			return (bounds[i]);
	}
	return (bounds[BUCKETS - 1]);
}

static int
render(struct wh_buf *b, const char *sid, const struct hour_slot *slots)
{
	char			 ts[WH_RFC3339_LEN + 1];
	const struct hour_slot	*s;
	long long		 now_h, h, p50, p95;
	int			 i;

	now_h = wh_now_ms() / HOUR_MS;
	if (wh_buf_appendstr(b, "{\"stats\":{\"webhook_sid\":") == -1 ||
	    wh_json_str(b, sid, strlen(sid)) == -1 ||
	    wh_buf_appendstr(b, ",\"hours\":[") == -1)
		return (-1);
	for (i = 0; i < HOURS; i++) {
		h = now_h - (HOURS - 1) + i;
		s = &slots[h % HOURS];
		if (s->hour != h)
			s = NULL;
		p50 = s ? percentile(s, 0.50) : -1;
		p95 = s ? percentile(s, 0.95) : -1;
		if (wh_rfc3339_ms(h * HOUR_MS, ts) == -1 ||
		    wh_buf_appendf(b, "%s{\"start\":\"%s\",\"succeeded\":%lld,"
		    "\"failed\":%lld,", i ? "," : "", ts, s ? s->ok : 0,
		    s ? s->fail : 0) == -1 ||
		    (p50 < 0 ? wh_buf_appendstr(b, "\"latency_p50_ms\":null,"
		    "\"latency_p95_ms\":null}") : wh_buf_appendf(b,
		    "\"latency_p50_ms\":%lld,\"latency_p95_ms\":%lld}", p50,
		    p95)) == -1)
			return (-1);
	}
	return (wh_buf_appendstr(b, "]}}"));
}

int
api_webhook_stats(struct api_ctx *ctx)
{
	struct hour_slot	 slots[HOURS];
	struct wh_webhook	 w;
	struct wh_buf		 b;
	const struct api_reply	*r;
	char			 key[WH_KEY_MAX];
	const char		*argv[2];
	size_t			 i;
	int			 rc;

	if (ctx->phase == 0) {
		if (wh_key_webhook_hourly(key, sizeof(key), api_cfg.prefix,
		    ctx->params[0]) == -1 ||
		    api_webhook_fetch(ctx, ctx->params[0]) == -1)
			return (api_problem_redis(ctx));
		argv[0] = "HGETALL";
		argv[1] = key;
		ctx->phase = 1;
		if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	}
	if (ctx->nreplies != 2)
		return (api_problem_redis(ctx));
	if (api_webhook_visible(ctx, ctx->replies[0], &w) == -1)
		return (API_DONE);
	wh_webhook_free(&w);
	r = ctx->replies[1];
	if (r->type != REDIS_REPLY_ARRAY || r->nelem % 2 != 0)
		return (api_problem_redis(ctx));
	memset(slots, 0, sizeof(slots));
	for (i = 0; i + 1 < r->nelem; i += 2)
		take_field(slots, r->elem[i], r->elem[i + 1]);
	wh_buf_init(&b, 0);
	rc = render(&b, ctx->params[0], slots);
	if (rc == 0)
		(void)api_json(ctx, 200, &b);
	wh_buf_free(&b);
	return (rc == 0 ? API_DONE : api_problem_nomem(ctx));
}

/*
 * redeliver.c: POST /v1/webhooks/{webhook_sid}/deliveries/{event_sid}/
 * ~redeliver gives one dead-lettered delivery another go, its attempts
 * counted afresh (attempt 1, then the webhook's max_attempts and backoff
 * as for a new event).
 *
 * common/lua/dead_requeue.lua does it in one atomic step: the kept task
 * is re-encoded with attempt 1 and added to wh:{0}:retries (the
 * dispatchers take it at once), and the dead letter leaves the stream
 * and the webhook's index; so two calls never enqueue it twice (the
 * second is a 404, and an Idempotency-Key replays the first answer).
 * A disabled webhook would only park it again: 409, enable it first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "scripts.h"
#include "timeutil.h"

/*
 * The body may be empty or {}: there is nothing to say (also for
 * POST .../~test, test_delivery.c).
 */
static const struct api_field_spec	no_fields[] = { { NULL, 0 } };

int
api_body_none(struct api_ctx *ctx)
{
	struct api_body		 body;
	struct api_obj		*obj;
	struct api_errors	 e;

	memset(&e, 0, sizeof(e));
	if ((obj = api_body_object(ctx, &body, NULL, 1, &e)) == NULL)
		return (-1);
	api_fields_check(obj, no_fields, "", &e);
	return (api_body_verdict(ctx, &body, 0, &e, "request"));
}

/*
 * dead_requeue.lua for the event's dead letter: the letter and the queue
 * it goes back to are those of the company's partition.
 */
static int
requeue_send(struct api_ctx *ctx, const char *company, int64_t now)
{
	char		 idx[WH_KEY_MAX], ids[WH_KEY_MAX], dead[WH_KEY_MAX];
	char		 retries[WH_KEY_MAX], ms[24];
	const char	*argv[7];
	unsigned	 p = wh_partition(company, api_cfg.partitions);

	if (wh_key_webhook_dead(idx, sizeof(idx), api_cfg.prefix, p,
	    ctx->params[0]) == -1 ||
	    wh_key_webhook_dead_ids(ids, sizeof(ids), api_cfg.prefix, p,
	    ctx->params[0]) == -1 ||
	    wh_key_dead(dead, sizeof(dead), api_cfg.prefix, p) == -1 ||
	    wh_key_retries(retries, sizeof(retries), api_cfg.prefix, p) == -1)
		return (-1);
	(void)snprintf(ms, sizeof(ms), "%lld", (long long)now);
	argv[0] = idx;
	argv[1] = ids;
	argv[2] = dead;
	argv[3] = retries;
	argv[4] = ms;
	argv[5] = "event";
	argv[6] = ctx->params[1];
	return (api_redis_eval(ctx, wh_lua_dead_requeue, 4, 7, argv, NULL));
}

/* {"redelivery":{"webhook_sid","event_sid","attempt":1,"queued_at"}} */
static int
accepted(struct api_ctx *ctx, int64_t at)
{
	struct wh_buf	b;
	char		ts[WH_RFC3339_LEN + 1];
	int		rc;

	wh_buf_init(&b, 0);
	rc = wh_rfc3339_ms(at, ts) == -1 ||
	    wh_buf_appendf(&b, "{\"redelivery\":{\"webhook_sid\":\"%s\","
	    "\"event_sid\":\"%s\",\"attempt\":1,\"queued_at\":\"%s\"}}",
	    ctx->params[0], ctx->params[1], ts) == -1;
	if (!rc)
		(void)api_json(ctx, 202, &b);
	wh_buf_free(&b);
	return (rc ? api_problem_nomem(ctx) : API_DONE);
}

int
api_redeliver(struct api_ctx *ctx)
{
	char			 company[WH_ID_MAX];
	int64_t			*at;
	long long		 v;

	if ((at = api_state(ctx, sizeof(*at), free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (api_body_none(ctx) == -1)
			return (API_DONE);
		return (api_webhook_await(ctx));
	case 1:
		if (api_webhook_enabled(ctx, ctx->replies[0], "redelivering",
		    company) == -1)
			return (API_DONE);
		*at = wh_now_ms();
		ctx->phase = 2;
		if (requeue_send(ctx, company, *at) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v == 1)
			return (accepted(ctx, *at));
		return (api_problem(ctx, API_P_NOT_FOUND, v == 0 ? "No dead "
		    "letter of this event for this webhook." : "The dead "
		    "letter of this event is gone (past its retention).",
		    NULL));
	}
}

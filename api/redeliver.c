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
 *
 * POST .../deliveries/{event_sid}/~resend gives any event the company
 * still keeps (WH_EVENT_RETENTION_MS: delivered, failed or dead) a new
 * series of attempts to the webhook, with the same event_sid and so the
 * same webhook-id (common/lua/event_resend.lua); each call is one more
 * series, and an Idempotency-Key makes a retried call count once.
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

/* {"<wrapper>":{"webhook_sid","event_sid","attempt":1,"queued_at"}} */
static int
accepted(struct api_ctx *ctx, const char *wrapper, int64_t at)
{
	struct wh_buf	b;
	char		ts[WH_RFC3339_LEN + 1];
	int		rc;

	wh_buf_init(&b, 0);
	rc = wh_rfc3339_ms(at, ts) == -1 ||
	    wh_buf_appendf(&b, "{\"%s\":{\"webhook_sid\":\"%s\","
	    "\"event_sid\":\"%s\",\"attempt\":1,\"queued_at\":\"%s\"}}",
	    wrapper, ctx->params[0], ctx->params[1], ts) == -1;
	if (!rc)
		(void)api_json(ctx, 202, &b);
	wh_buf_free(&b);
	return (rc ? api_problem_nomem(ctx) : API_DONE);
}

/* What queues the delivery again: one script call, its reply an integer. */
typedef int	requeue_fn(struct api_ctx *, const char *company, int64_t now);

/*
 * Both routes: an empty body, an enabled webhook of the caller's (409
 * when disabled, as it would only be parked), then send's script, whose
 * 1 is a 202 under wrapper and whose 0 or -1 is a 404 saying gone0 or
 * gone1.
 */
static int
requeue_route(struct api_ctx *ctx, const char *doing, requeue_fn *send,
    const char *wrapper, const char *gone0, const char *gone1)
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
		if (api_webhook_enabled(ctx, ctx->replies[0], doing,
		    company) == -1)
			return (API_DONE);
		*at = wh_now_ms();
		ctx->phase = 2;
		if (send(ctx, company, *at) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v == 1)
			return (accepted(ctx, wrapper, *at));
		return (api_problem(ctx, API_P_NOT_FOUND, v == 0 ? gone0 :
		    gone1, NULL));
	}
}

int
api_redeliver(struct api_ctx *ctx)
{
	return (requeue_route(ctx, "redelivering", requeue_send, "redelivery",
	    "No dead letter of this event for this webhook.", "The dead "
	    "letter of this event is gone (past its retention)."));
}

static int
resend_send(struct api_ctx *ctx, const char *company, int64_t now)
{
	char		 rec[WH_KEY_MAX], retries[WH_KEY_MAX], ms[24];
	const char	*argv[5];
	unsigned	 p = wh_partition(company, api_cfg.partitions);

	if (wh_key_event_kept(rec, sizeof(rec), api_cfg.prefix, p, company,
	    ctx->params[1]) == -1 ||
	    wh_key_retries(retries, sizeof(retries), api_cfg.prefix, p) == -1)
		return (-1);
	(void)snprintf(ms, sizeof(ms), "%lld", (long long)now);
	argv[0] = rec;
	argv[1] = retries;
	argv[2] = ms;
	argv[3] = "event";
	argv[4] = ctx->params[0];
	return (api_redis_eval(ctx, wh_lua_event_resend, 2, 5, argv, NULL));
}

int
api_resend(struct api_ctx *ctx)
{
	static const char	gone[] = "No such event is kept for this "
	    "webhook's company (unknown, or past WH_EVENT_RETENTION_MS).";

	return (requeue_route(ctx, "resending", resend_send, "resend", gone,
	    gone));
}

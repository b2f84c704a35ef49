/*
 * test_delivery.c: POST /v1/webhooks/{webhook_sid}/~test sends one real,
 * signed "webhook.test" event to the endpoint and answers with what
 * happened (GET does the same, kept for compatibility; POST is preferred:
 * a request with a side effect, it can carry an Idempotency-Key, and its
 * body, if any, is {}): {"test": {"webhook_sid", "event_sid", "ok",
 * "status", "error", "latency_ms", "answer"}}. An endpoint that fails or cannot be
 * reached is a 200 describing that; a 504 means no dispatcher sent the
 * test in time (none running, or all far behind).
 *
 * The api never connects to endpoints itself: the test goes the normal
 * way, through a dispatcher (address policy, signing, fairness), as a
 * task on wh:{0}:retries carrying a reply key (wh:test:<id>) and a
 * deadline (dispatcher/test_delivery.c). The dispatcher sends it once, to a
 * disabled webhook too, and pushes the outcome to the reply list; tests
 * are not in the attempt log, the endpoint's health or the dead letters.
 * The request polls the list every POLL_MS on a Kore timer
 * (api_ctx_sleep), so it holds no worker while it waits, for at most
 * START_WAIT_MS (for a dispatcher to start it) + the webhook's
 * timeout_ms + MARGIN_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "json.h"
#include "keys.h"
#include "timeutil.h"

#define START_WAIT_MS	2000
#define MARGIN_MS	1000
#define POLL_MS		50
#define TEST_TYPE	"webhook.test"

struct ts_state {
	char		reply_key[WH_KEY_MAX];
	int64_t		deadline;	/* wall ms: 504 from then on */
};

/* XADD the test task, its reply key and start deadline. */
static int
enqueue(struct api_ctx *ctx, struct ts_state *st, const struct wh_webhook *w)
{
	struct wh_task	 t;
	struct wh_buf	 task, payload;
	char		 event_sid[WH_ID_MAX], reply_id[WH_ID_MAX];
	char		 retries[WH_KEY_MAX], start[24];
	const char	*argv[9];
	size_t		 lens[9];
	int64_t		 now = wh_now_ms();
	int		 i, rc = -1;

	wh_buf_init(&task, 0);
	wh_buf_init(&payload, 0);
	if (wh_id_new("evt_", event_sid, sizeof(event_sid)) == -1 ||
	    wh_id_new("tst_", reply_id, sizeof(reply_id)) == -1 ||
	    wh_key_test_reply(st->reply_key, sizeof(st->reply_key),
	    api_cfg.prefix, reply_id) == -1 ||
	    wh_key_retries(retries, sizeof(retries), api_cfg.prefix,
	    wh_partition(w->company_sid, api_cfg.partitions)) == -1 ||
	    wh_buf_appendf(&payload, "{\"webhook_sid\":\"%s\",\"test\":true}",
	    w->sid) == -1)
		goto out;
	memset(&t, 0, sizeof(t));
	t.event.event_sid = event_sid;
	t.event.company_sid = w->company_sid;
	t.event.event_type = TEST_TYPE;
	t.event.payload = payload.data;
	t.event.payload_len = payload.len;
	t.event.created_at = now;
	t.webhook_sid = w->sid;
	t.attempt = 1;
	t.first_attempt_at = now;
	t.due_at = now;
	if (wh_task_encode(&t, &task) == -1)
		goto out;
	(void)snprintf(start, sizeof(start), "%lld",
	    (long long)(now + START_WAIT_MS));
	st->deadline = now + START_WAIT_MS + w->timeout_ms + MARGIN_MS;
	argv[0] = "XADD"; argv[1] = retries; argv[2] = "*";
	argv[3] = WH_TASK_FIELD; argv[4] = task.data;
	argv[5] = "reply"; argv[6] = st->reply_key;
	argv[7] = "deadline"; argv[8] = start;
	for (i = 0; i < 9; i++)
		lens[i] = i == 4 ? task.len : strlen(argv[i]);
	rc = api_redis_cmd(ctx, 9, argv, lens);
out:
	wh_buf_free(&task);
	wh_buf_free(&payload);
	return (rc);
}

/* The outcome as the dispatcher wrote it (a JSON object): the answer. */
static int
answer(struct api_ctx *ctx, const struct api_reply *r)
{
	struct wh_buf	b;
	int		rc;

	if (r->len == 0 || r->str[0] != '{' || !wh_json_valid(r->str, r->len))
		return (api_problem(ctx, API_P_INTERNAL, "The test outcome "
		    "could not be read.", NULL));
	wh_buf_init(&b, 0);
	rc = wh_buf_appendstr(&b, "{\"test\":") == -1 ||
	    wh_buf_append(&b, r->str, r->len) == -1 ||
	    wh_buf_append(&b, "}", 1) == -1;
	if (!rc)
		(void)api_json(ctx, 200, &b);
	wh_buf_free(&b);
	return (rc ? api_problem_nomem(ctx) : API_DONE);
}

static int
poll_later(struct api_ctx *ctx)
{
	ctx->phase = 3;
	if (api_ctx_sleep(ctx, POLL_MS) == -1)
		return (api_problem_nomem(ctx));
	return (API_WAIT);
}

int
api_webhook_test(struct api_ctx *ctx)
{
	struct ts_state		*st;
	struct wh_webhook	 w;
	const struct api_reply	*r;
	const char		*argv[2];
	int			 rc;

	if ((st = api_state(ctx, sizeof(*st), free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (ctx->req->method == HTTP_METHOD_POST &&
		    api_body_none(ctx) == -1)
			return (API_DONE);
		return (api_webhook_await(ctx));
	case 1:
		if (api_webhook_visible(ctx, ctx->replies[0], &w) == -1)
			return (API_DONE);
		ctx->phase = 2;
		rc = enqueue(ctx, st, &w);
		wh_webhook_free(&w);
		return (rc == -1 ? api_problem_redis(ctx) : API_WAIT);
	case 2:
		if (ctx->nreplies != 1 ||
		    ctx->replies[0]->type != REDIS_REPLY_STRING)
			return (api_problem_redis(ctx));
		return (poll_later(ctx));
	case 3:
		argv[0] = "LPOP";
		argv[1] = st->reply_key;
		ctx->phase = 4;
		if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (ctx->nreplies != 1)
			return (api_problem_redis(ctx));
		r = ctx->replies[0];
		if (r->type == REDIS_REPLY_STRING)
			return (answer(ctx, r));
		if (r->type != REDIS_REPLY_NIL)
			return (api_problem_redis(ctx));
		if (wh_now_ms() < st->deadline)
			return (poll_later(ctx));
		if (ctx->req != NULL)
			http_response_header(ctx->req, "retry-after", "5");
		return (api_problem(ctx, API_P_TEST_NOT_SENT, "No dispatcher "
		    "delivered the test in time; are the dispatchers running?",
		    NULL));
	}
}

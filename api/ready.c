/*
 * ready.c: GET /readyz, the readiness probe. Ready means this worker can
 * do its job: its Redis connection is up and answers, and the consumer
 * group "dispatchers" exists on the events stream (so an event published
 * now will be read). Anything else is 503 problem+json naming the reason.
 *
 * It never blocks the worker: one XINFO GROUPS goes out on the worker's
 * async connection. A disconnected Redis is answered at once; a Redis
 * that is connected but does not answer (stopped, partitioned) is
 * answered after READY_TIMEOUT_MS by a Kore timer, and the late reply,
 * if any, is dropped with the request's context (module.c keeps it alive
 * while a reply is owed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "json.h"
#include "keys.h"

/* Below any sensible probe timeout (Kubernetes' default is 1 s). */
#define READY_TIMEOUT_MS	800

struct ready_state {
	struct kore_timer	*timer;		/* armed while waiting */
	char			 stream[WH_KEY_MAX];
};

static void
ready_state_free(void *p)
{
	struct ready_state	*st = p;

	if (st->timer != NULL)
		kore_timer_remove(st->timer);
	free(st);
}

/* The reply is late: wake the request so that it answers 503 now. */
static void
ready_timeout(void *arg, u_int64_t now)
{
	struct api_ctx		*ctx = arg;
	struct ready_state	*st = ctx->data;

	/* Kore frees a one-shot timer after this callback. */
	st->timer = NULL;
	if (ctx->req != NULL)
		http_request_wakeup(ctx->req);
}

static int
not_ready(struct api_ctx *ctx, const char *detail)
{
	return (api_problem(ctx, 503, detail, NULL));
}

/* 1 if the XINFO GROUPS reply lists a group named WH_GROUP. */
static int
group_listed(const struct api_reply *r)
{
	const struct api_reply	*g;
	size_t			 i, j;

	for (i = 0; i < r->nelem; i++) {
		g = r->elem[i];
		if (g->type != REDIS_REPLY_ARRAY)
			continue;
		for (j = 0; j + 1 < g->nelem; j += 2) {
			if (g->elem[j]->str == NULL ||
			    strcmp(g->elem[j]->str, "name") != 0)
				continue;
			if (g->elem[j + 1]->str != NULL &&
			    strcmp(g->elem[j + 1]->str, WH_GROUP) == 0)
				return (1);
			break;
		}
	}
	return (0);
}

static int
ready_answer(struct api_ctx *ctx, struct ready_state *st)
{
	const struct api_reply	*r;
	struct wh_buf		 b;

	if (ctx->pending > 0) {
		return (not_ready(ctx, "Redis did not answer in time "
		    "(readiness check)."));
	}
	if (ctx->nreplies != 1)
		return (not_ready(ctx, "Redis is unavailable."));
	r = ctx->replies[0];
	if (r->type == REDIS_REPLY_ERROR) {
		/* "ERR no such key": nothing ever created the stream. */
		return (not_ready(ctx, "The events stream does not exist yet: "
		    "no dispatcher has created its consumer group."));
	}
	if (r->type != REDIS_REPLY_ARRAY || !group_listed(r))
		return (not_ready(ctx, "The consumer group \"" WH_GROUP "\" "
		    "does not exist on the events stream: no dispatcher has "
		    "started since Redis lost it."));

	wh_buf_init(&b, 0);
	if (wh_buf_appendstr(&b, "{\"status\":\"ready\",\"stream\":") == -1 ||
	    wh_json_str(&b, st->stream, strlen(st->stream)) == -1 ||
	    wh_buf_appendstr(&b, ",\"group\":\"" WH_GROUP "\"}") == -1) {
		wh_buf_free(&b);
		return (api_problem_nomem(ctx));
	}
	(void)api_json(ctx, 200, &b);
	wh_buf_free(&b);
	return (API_DONE);
}

int
api_readyz(struct api_ctx *ctx)
{
	struct ready_state	*st;
	const char		*argv[3];

	if ((st = api_state(ctx, sizeof(*st), ready_state_free)) == NULL)
		return (api_problem_nomem(ctx));

	if (ctx->phase == 1) {
		if (st->timer != NULL) {
			kore_timer_remove(st->timer);
			st->timer = NULL;
		}
		return (ready_answer(ctx, st));
	}

	if (!api_redis_ready())
		return (not_ready(ctx, "Redis is not connected."));
	if (wh_key_events(st->stream, sizeof(st->stream),
	    api_cfg.prefix) == -1)
		return (api_problem_nomem(ctx));
	argv[0] = "XINFO";
	argv[1] = "GROUPS";
	argv[2] = st->stream;
	if (api_redis_cmd(ctx, 3, argv, NULL) == -1)
		return (not_ready(ctx, "Redis is not connected."));
	st->timer = kore_timer_add(ready_timeout, READY_TIMEOUT_MS, ctx,
	    KORE_TIMER_ONESHOT);
	ctx->phase = 1;
	return (API_WAIT);
}

/*
 * probes.c: the api's two probes.
 *
 * GET /healthz, liveness, answers 200 while the worker runs. It does not
 * touch Redis: liveness must not flap with the data store (it only says
 * whether the worker's connection is up).
 *
 * GET /readyz, the readiness probe. Ready means this worker can
 * do its job: its Redis connection is up and answers, and the consumer
 * group "dispatchers" exists on the events stream (so an event published
 * now will be read). Anything else is 503 problem+json naming the reason.
 *
 * It never blocks the worker: one XINFO GROUPS goes out on the worker's
 * async connection. A disconnected Redis is answered at once; a Redis
 * that is connected but does not answer (stopped, partitioned) is
 * answered after READY_TIMEOUT_MS (api_redis_deadline), and the late
 * reply, if any, is dropped with the request's context (module.c keeps
 * it alive while a reply is owed).
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
	char		 stream[WH_KEY_MAX];
};

static int
not_ready(struct api_ctx *ctx, const char *detail)
{
	return (api_problem(ctx, API_P_NOT_READY, detail, NULL));
}

/*
 * Not connected: the last failure of the connection says why (a TLS
 * certificate refused, a password refused, no route), when known.
 */
static int
not_connected(struct api_ctx *ctx)
{
	char	detail[384];

	if (api_redis_why()[0] == '\0')
		return (not_ready(ctx, "Redis is not connected."));
	(void)snprintf(detail, sizeof(detail), "Redis is not connected: %s.",
	    api_redis_why());
	return (not_ready(ctx, detail));
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
	if (api_xinfo_group(r, WH_GROUP) == NULL)
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

	if ((st = api_state(ctx, sizeof(*st), free)) == NULL)
		return (api_problem_nomem(ctx));

	if (ctx->phase == 1)
		return (ready_answer(ctx, st));

	if (!api_redis_ready())
		return (not_connected(ctx));
	if (wh_key_events(st->stream, sizeof(st->stream),
	    api_cfg.prefix, 0) == -1)
		return (api_problem_nomem(ctx));
	argv[0] = "XINFO";
	argv[1] = "GROUPS";
	argv[2] = st->stream;
	if (api_redis_cmd(ctx, 3, argv, NULL) == -1)
		return (not_connected(ctx));
	api_redis_deadline(ctx, READY_TIMEOUT_MS);
	ctx->phase = 1;
	return (API_WAIT);
}

int
api_healthz(struct api_ctx *ctx)
{
	struct wh_buf	b;

	wh_buf_init(&b, 0);
	if (wh_buf_appendf(&b, "{\"status\":\"ok\",\"redis\":\"%s\"}",
	    api_redis_ready() ? "connected" : "disconnected") == -1) {
		wh_buf_free(&b);
		return (api_problem_nomem(ctx));
	}
	(void)api_json(ctx, 200, &b);
	wh_buf_free(&b);
	return (API_DONE);
}

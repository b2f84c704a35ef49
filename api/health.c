/*
 * health.c: GET /healthz answers 200 while the worker runs. It does not
 * touch Redis: liveness must not flap with the data store (readiness,
 * which does check Redis, is GET /readyz in ready.c).
 */
#include "api.h"

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

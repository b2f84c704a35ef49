/*
 * event_get.c: GET /v1/events/{event_sid}?company_sid=, one event as it
 * was published, while it is kept (WH_EVENT_RETENTION_MS; the
 * dispatchers keep each event they read: dispatcher/retain.c).
 *
 * event_sid is unique per company only (publishers choose it), so the
 * company is part of the key, as for GET /v1/events/{sid}/attempts: a
 * company key reads its own company's, an admin key names the company,
 * and an event the company does not have (any more) is a 404, exactly
 * like another company's.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "model.h"

static const char *const	params[] = { "company_sid", NULL };

static void
list_state_free(void *p)
{
	api_list_free(p);
	free(p);
}

int
api_event_get(struct api_ctx *ctx)
{
	struct api_list		*list;
	const struct api_reply	*r;
	struct wh_event		 ev;
	const char		*company, *argv[2];
	char			 key[WH_KEY_MAX];
	int			 rc;

	if ((list = api_state(ctx, sizeof(*list), list_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase == 0) {
		if (api_list_parse_with(ctx, list, API_SORT_CREATED,
		    params) == -1 ||
		    api_list_company(ctx, list, 1, &company) == -1)
			return (API_DONE);
		if (wh_key_event_kept(key, sizeof(key), api_cfg.prefix,
		    wh_partition(company, api_cfg.partitions), company,
		    ctx->params[0]) == -1)
			return (api_problem_redis(ctx));
		argv[0] = "GET";
		argv[1] = key;
		ctx->phase = 1;
		if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	}
	if (ctx->nreplies != 1)
		return (api_problem_redis(ctx));
	r = ctx->replies[0];
	if (r->type != REDIS_REPLY_STRING)
		return (api_problem(ctx, API_P_NOT_FOUND, "No such event is "
		    "kept (unknown, or past WH_EVENT_RETENTION_MS).", NULL));
	if (wh_event_decode(r->str, r->len, &ev) == -1)
		return (api_problem_redis(ctx));
	rc = api_respond_one(ctx, 200, "event", api_render_event, &ev);
	wh_event_free(&ev);
	return (rc);
}

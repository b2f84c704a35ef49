/*
 * event_attempts.c: GET /v1/events/{event_sid}/attempts?company_sid=&
 * page_size=&page_token=, every attempt at delivering one event, across
 * the company's webhooks, newest first.
 *
 * Scanning every webhook's log for one event would cost as much as the
 * logs are long, so the dispatchers index each attempt under its event
 * as they log it (common/lua/attempt_record.lua): the zset
 * wh:event:<company_sid>:<event_sid>:attempts holds "<entry id>_<webhook
 * sid>" scored by the attempt's time, and expires. event_sid is unique
 * per company only (publishers choose it), hence the company in the key:
 * a company key reads its own company's index, an admin key names the
 * company, and an event the company has no attempt of is a 404, exactly
 * like another company's.
 *
 * The index is read whole (an event has at most one line per webhook and
 * attempt), a page is chosen from it like any list (api/list.c, ordered
 * by time then member), and only the page's lines are read from the
 * logs. A line its log trimmed, or whose webhook was deleted, is skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"

static const char *const	params[] = {
	"page_size", "page_token", "company_sid", NULL
};

struct ea_state {
	struct api_list		  list;
	struct api_ids		  ids;
	char			(*hook)[WH_ID_MAX];	/* of each id */
	struct api_reply	**kept;
	const char		**kept_hook;
	size_t			  nkept;
};

static void
ea_state_free(void *p)
{
	struct ea_state	*st = p;

	api_list_free(&st->list);
	api_ids_free(&st->ids);
	api_replies_free(st->kept, st->nkept);
	free(st->kept_hook);
	free(st->hook);
	free(st);
}

static int
ea_begin(struct api_ctx *ctx, struct ea_state *st)
{
	const char	*company;
	char		 idx[WH_KEY_MAX];

	if (api_list_parse_with(ctx, &st->list, API_SORT_CREATED,
	    params) == -1 ||
	    api_list_company(ctx, &st->list, 1, &company) == -1)
		return (API_DONE);
	st->list.desc = 1;	/* newest first */
	(void)snprintf(st->list.scope, sizeof(st->list.scope),
	    "event-attempts/%s/%s", company, ctx->params[0]);
	if (wh_key_event_attempts(idx, sizeof(idx), api_cfg.prefix, company,
	    ctx->params[0]) == -1 || api_list_begin(ctx, &st->list, idx) == -1)
		return (api_problem_redis(ctx));
	ctx->phase = 1;
	return (API_WAIT);
}

/*
 * The index arrived: choose the page, split its members ("<entry id>_
 * <webhook sid>"; an entry id holds no '_') and read those lines.
 */
static int
ea_index(struct api_ctx *ctx, struct ea_state *st)
{
	const struct api_reply	*idx;
	char			 key[WH_KEY_MAX], *sep;
	const char		*argv[4];
	size_t			 i;

	if (api_list_open(ctx, &st->list) == -1)
		return (API_DONE);
	if ((size_t)st->list.nsecret >= ctx->nreplies)
		return (api_problem_redis(ctx));
	idx = ctx->replies[st->list.nsecret];
	if (idx->type == REDIS_REPLY_ARRAY && idx->nelem == 0)
		return (api_problem(ctx, API_P_NOT_FOUND, "No attempt of this "
		    "event is known (none yet, or past "
		    "WH_EVENT_ATTEMPTS_TTL_MS).", NULL));
	if (api_list_ids(&st->list, idx, 1, &st->ids) == -1)
		return (api_problem_nomem(ctx));
	if (st->ids.n == 0)
		return (api_attempts_respond(ctx, &st->list, NULL, NULL, 0,
		    NULL));
	if ((st->hook = calloc(st->ids.n, sizeof(*st->hook))) == NULL ||
	    (st->kept = calloc(st->ids.n, sizeof(*st->kept))) == NULL ||
	    (st->kept_hook = calloc(st->ids.n,
	    sizeof(*st->kept_hook))) == NULL)
		return (api_problem_nomem(ctx));
	ctx->phase = 2;
	for (i = 0; i < st->ids.n; i++) {
		/* The member, split in place: entry id, then webhook sid. */
		if ((sep = strchr(st->ids.sid[i], '_')) == NULL ||
		    sep == st->ids.sid[i] || sep[1] == '\0') {
			st->ids.sid[i][0] = '\0';	/* not ours: skip */
			sep = st->ids.sid[i];
		} else
			*sep++ = '\0';
		(void)snprintf(st->hook[i], sizeof(st->hook[i]), "%s", sep);
		if (wh_key_attempts(key, sizeof(key), api_cfg.prefix,
		    st->hook[i]) == -1)
			return (api_problem_redis(ctx));
		argv[0] = "XRANGE";
		argv[1] = key;
		argv[2] = st->ids.sid[i][0] != '\0' ? st->ids.sid[i] : "+";
		argv[3] = argv[2];
		if (api_redis_cmd(ctx, 4, argv, NULL) == -1) {
			if (ctx->pending == 0)
				return (api_problem_redis(ctx));
			ctx->redis_failed = 1;
			break;
		}
	}
	return (API_WAIT);
}

/* One XRANGE reply per page member, in order: answer with those found. */
static int
ea_lines(struct api_ctx *ctx, struct ea_state *st)
{
	struct api_reply	*r;
	size_t			 i;

	if (ctx->nreplies != st->ids.n)
		return (api_problem_redis(ctx));
	for (i = 0; i < st->ids.n; i++) {
		r = ctx->replies[i];
		if (st->ids.sid[i][0] == '\0' || r->type != REDIS_REPLY_ARRAY ||
		    r->nelem != 1 || r->elem[0]->type != REDIS_REPLY_ARRAY ||
		    r->elem[0]->nelem != 2 ||
		    r->elem[0]->elem[0]->type != REDIS_REPLY_STRING ||
		    r->elem[0]->elem[1]->type != REDIS_REPLY_ARRAY)
			continue;	/* trimmed, or its webhook deleted */
		st->kept_hook[st->nkept] = st->hook[i];
		st->kept[st->nkept++] = api_reply_steal(&r->elem[0]);
	}
	return (api_attempts_respond(ctx, &st->list, st->kept, st->kept_hook,
	    st->nkept, st->list.more ? &st->ids.last : NULL));
}

int
api_event_attempts_list(struct api_ctx *ctx)
{
	struct ea_state	*st;

	if ((st = api_state(ctx, sizeof(*st), ea_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		return (ea_begin(ctx, st));
	case 1:
		return (ea_index(ctx, st));
	default:
		return (ea_lines(ctx, st));
	}
}

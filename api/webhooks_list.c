/*
 * webhooks_list.c: GET /v1/webhooks?company_sid=&page_size=&sort=&
 * page_token=. An admin key names the company, a company key lists its
 * own (naming another is 404, like any of its resources).
 *
 * The company index (a zset scored by creation time) is read whole:
 * WH_MAX_WEBHOOKS_PER_COMPANY bounds it. Sorted by created_at, the page
 * is chosen from the index alone and only its records are fetched;
 * sorted by url or label, every record is fetched (MGET) and sorted
 * here. Then the health of the page's endpoints is read (one HGETALL
 * each, pipelined). Three round trips either way; the worker never
 * blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "model.h"

struct wl_state {
	struct api_list		 list;
	char			 company[WH_ID_MAX];
	struct api_ids		 ids;		/* to MGET */
	struct wh_webhook	*hooks;
	size_t			 nhooks;
	const struct wh_webhook	**page;		/* shown, in order */
	size_t			 npage;
	struct api_item		 next;		/* valid when has_next */
	char			 next_sid[WH_ID_MAX];
	int			 has_next;
};

static void
wl_state_free(void *p)
{
	struct wl_state	*st = p;
	size_t		 i;

	api_list_free(&st->list);
	api_ids_free(&st->ids);
	for (i = 0; i < st->nhooks; i++)
		wh_webhook_free(&st->hooks[i]);
	free(st->hooks);
	free(st->page);
	free(st);
}

static int
wl_begin(struct api_ctx *ctx, struct wl_state *st)
{
	const char	*c;
	char		 idx[WH_KEY_MAX];

	if (api_list_parse(ctx, &st->list, API_SORT_CREATED | API_SORT_URL |
	    API_SORT_LABEL, 1) == -1 ||
	    api_list_company(ctx, &st->list, 1, &c) == -1)
		return (API_DONE);
	memcpy(st->company, c, strlen(c) + 1);
	(void)snprintf(st->list.scope, sizeof(st->list.scope), "webhooks/%s",
	    st->company);
	if (wh_key_company_webhooks(idx, sizeof(idx), api_cfg.prefix,
	    st->company) == -1 || api_list_begin(ctx, &st->list, idx) == -1)
		return (api_problem_redis(ctx));
	ctx->phase = 1;
	return (API_WAIT);
}

/* MGET the records of st->ids. */
static int
fetch_records(struct api_ctx *ctx, struct wl_state *st)
{
	const char	**argv;
	char		**keys;
	size_t		  i;
	int		  rc = -1;

	argv = calloc(st->ids.n + 1, sizeof(*argv));
	keys = calloc(st->ids.n, sizeof(*keys));
	if (argv == NULL || keys == NULL)
		goto out;
	argv[0] = "MGET";
	for (i = 0; i < st->ids.n; i++) {
		if ((keys[i] = malloc(WH_KEY_MAX)) == NULL ||
		    wh_key_webhook(keys[i], WH_KEY_MAX, api_cfg.prefix,
		    st->ids.sid[i]) == -1)
			goto out;
		argv[i + 1] = keys[i];
	}
	rc = api_redis_cmd(ctx, (int)st->ids.n + 1, argv, NULL);
out:
	for (i = 0; keys != NULL && i < st->ids.n; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	return (rc);
}

/*
 * The index arrived. created_at: pick the page now and fetch only it;
 * url, label: fetch everything.
 */
static int
wl_index(struct api_ctx *ctx, struct wl_state *st)
{
	if (api_list_open(ctx, &st->list) == -1)
		return (API_DONE);
	if (api_list_ids(&st->list, ctx->replies[st->list.nsecret],
	    st->list.field == API_SORT_CREATED, &st->ids) == -1)
		return (api_problem_nomem(ctx));
	if (st->ids.n == 0)
		return (api_list_respond(ctx, &st->list, "webhooks",
		    api_render_webhook, NULL, 0, NULL));
	ctx->phase = 2;
	if (fetch_records(ctx, st) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/* Keep the page (and where the next starts) for the last phase. */
static int
keep_page(struct wl_state *st, const void **recs, size_t n,
    const struct api_item *next)
{
	size_t	i;

	if ((st->page = calloc(n + 1, sizeof(*st->page))) == NULL)
		return (-1);
	for (i = 0; i < n; i++)
		st->page[i] = recs[i];
	st->npage = n;
	if (next != NULL) {
		st->next = *next;
		(void)snprintf(st->next_sid, sizeof(st->next_sid), "%s",
		    next->sid);
		st->next.sid = st->next_sid;
		/* A url or label cursor points into a record we keep. */
		st->has_next = 1;
	}
	return (0);
}

/*
 * The records arrived: decode what still exists, sort if needed, keep
 * the page and ask for its endpoints' health.
 */
static int
wl_records(struct api_ctx *ctx, struct wl_state *st)
{
	struct api_reply	 *r = ctx->replies[0], *e;
	struct api_item		 *items = NULL;
	const void		**recs = NULL;
	const struct api_item	 *next;
	const char		 *v;
	size_t			  i, n;
	int			  rc = 0;

	if (r->type != REDIS_REPLY_ARRAY)
		return (api_problem_redis(ctx));
	if ((st->hooks = calloc(r->nelem + 1, sizeof(*st->hooks))) == NULL ||
	    (items = calloc(r->nelem + 1, sizeof(*items))) == NULL ||
	    (recs = calloc(r->nelem + 1, sizeof(*recs))) == NULL) {
		free(items);
		return (api_problem_nomem(ctx));
	}
	for (i = 0; i < r->nelem; i++) {
		e = r->elem[i];
		if (e->type != REDIS_REPLY_STRING || wh_webhook_decode(e->str,
		    e->len, &st->hooks[st->nhooks]) == -1)
			continue;	/* deleted meanwhile, or unreadable */
		if (strcmp(st->hooks[st->nhooks].company_sid,
		    st->company) != 0) {
			wh_webhook_free(&st->hooks[st->nhooks]);
			continue;
		}
		st->nhooks++;
	}
	next = st->list.more ? &st->ids.last : NULL;
	n = st->nhooks;
	for (i = 0; i < st->nhooks; i++) {
		recs[i] = &st->hooks[i];
		items[i].sid = st->hooks[i].sid;
		items[i].num = st->hooks[i].created_at;
		v = st->list.field == API_SORT_URL ? st->hooks[i].url :
		    st->hooks[i].label;
		items[i].str = v != NULL ? v : "";
		items[i].slen = strlen(items[i].str);
		items[i].rec = &st->hooks[i];
	}
	if (st->list.field != API_SORT_CREATED) {
		if (api_list_select(&st->list, items, st->nhooks) == -1)
			rc = -1;
		n = rc == 0 ? st->list.nsel : 0;
		for (i = 0; i < n; i++)
			recs[i] = st->list.sel[i]->rec;
		next = rc == 0 && st->list.more ? st->list.sel[n - 1] : NULL;
	}
	if (rc == 0)
		rc = keep_page(st, recs, n, next);
	free(items);
	free(recs);
	if (rc == -1)
		return (api_problem_nomem(ctx));
	if (st->npage == 0)
		return (api_list_respond(ctx, &st->list, "webhooks",
		    api_render_webhook, NULL, 0, NULL));
	ctx->phase = 3;
	for (i = 0; i < st->npage; i++) {
		if (api_webhook_health_fetch(ctx, st->page[i]->sid) == -1) {
			if (ctx->pending == 0)
				return (api_problem_redis(ctx));
			ctx->redis_failed = 1;	/* 503 once they reply */
			break;
		}
	}
	return (API_WAIT);
}

/* The page's health arrived (one reply each, in order): answer. */
static int
wl_respond(struct api_ctx *ctx, struct wl_state *st)
{
	struct api_webhook_view	 *views;
	const void		**recs;
	size_t			  i;
	int			  rc;

	if (ctx->nreplies != st->npage)
		return (api_problem_redis(ctx));
	views = calloc(st->npage + 1, sizeof(*views));
	recs = calloc(st->npage + 1, sizeof(*recs));
	if (views == NULL || recs == NULL) {
		free(views);
		free(recs);
		return (api_problem_nomem(ctx));
	}
	for (i = 0; i < st->npage; i++) {
		views[i].w = st->page[i];
		(void)api_health_take(ctx->replies[i], &views[i].health);
		recs[i] = &views[i];
	}
	rc = api_list_respond(ctx, &st->list, "webhooks", api_render_webhook,
	    recs, st->npage, st->has_next ? &st->next : NULL);
	free(views);
	free(recs);
	return (rc);
}

int
api_webhooks_list(struct api_ctx *ctx)
{
	struct wl_state	*st;

	if ((st = api_state(ctx, sizeof(*st), wl_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		return (wl_begin(ctx, st));
	case 1:
		return (wl_index(ctx, st));
	case 2:
		return (wl_records(ctx, st));
	default:
		return (wl_respond(ctx, st));
	}
}

/*
 * dead_letters.c: GET /v1/webhooks/{webhook_sid}/dead-letters?page_size=
 * &page_token=, the deliveries of a webhook that used all their attempts
 * (or were parked while it was disabled), newest first.
 *
 * wh:{0}:dead is one stream for every webhook (docs/design.md, "Redis keys"), so the
 * dispatchers index each dead letter under its webhook as they write it
 * (common/lua/dead_letter.lua): the zset wh:webhook:<sid>:dead holds the
 * event sids scored by dead_at (ms), the hash wh:webhook:<sid>:dead_ids
 * their entry ids. A page is a keyset range of the zset, ordered by
 * (dead_at, event_sid) descending like any list (api/list.c), read
 * without loading the whole index: the members of the cursor's own
 * millisecond, then the page below it. The entries are then read in one
 * small script, which also drops from the index what the stream trimmed
 * meanwhile (by count or age), so such a page may be short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "json.h"
#include "keys.h"
#include "scripts.h"

static const char *const	params[] = {
	"page_size", "page_token", NULL
};

struct dl_state {
	struct api_list		 list;
	int			 nindex;	/* index replies: 1 or 2 */
	struct api_ids		 ids;
	char			 idx[WH_KEY_MAX];
	char			 ids_key[WH_KEY_MAX];
	char			 company[WH_ID_MAX]; /* its partition's dead */
};

static void
dl_state_free(void *p)
{
	struct dl_state	*st = p;

	api_list_free(&st->list);
	api_ids_free(&st->ids);
	free(st);
}

/*
 * The index range after the cursor (or from the top): the members of the
 * cursor's millisecond (few), and page_size + 1 below it, both read with
 * scores; list.c then orders them and cuts the page.
 */
static int
index_send(struct api_ctx *ctx, struct dl_state *st)
{
	char		 top[32], limit[16];
	const char	*argv[10];

	(void)snprintf(limit, sizeof(limit), "%d", st->list.page_size + 1);
	st->nindex = 1;
	if (st->list.after) {
		(void)snprintf(top, sizeof(top), "%lld",
		    (long long)st->list.cursor.num);
		argv[0] = "ZRANGE"; argv[1] = st->idx; argv[2] = top;
		argv[3] = top; argv[4] = "BYSCORE"; argv[5] = "WITHSCORES";
		if (api_redis_cmd(ctx, 6, argv, NULL) == -1)
			return (-1);
		st->nindex = 2;
		(void)snprintf(top, sizeof(top), "(%lld",
		    (long long)st->list.cursor.num);
	} else
		(void)snprintf(top, sizeof(top), "+inf");
	argv[0] = "ZRANGE"; argv[1] = st->idx; argv[2] = top;
	argv[3] = "-inf"; argv[4] = "BYSCORE"; argv[5] = "REV";
	argv[6] = "LIMIT"; argv[7] = "0"; argv[8] = limit;
	argv[9] = "WITHSCORES";
	if (api_redis_cmd(ctx, 10, argv, NULL) == -1) {
		ctx->redis_failed = st->nindex == 2;
		return (st->nindex == 2 ? 0 : -1);
	}
	return (0);
}

/* Both index replies as one, then the page (list.c). */
static int
index_take(struct api_ctx *ctx, struct dl_state *st)
{
	struct api_reply	 all, *r;
	struct api_reply	**el;
	size_t			  i, j, n = 0;
	int			  rc;

	if (ctx->nreplies != (size_t)st->nindex)
		return (-1);
	for (i = 0; i < ctx->nreplies; i++) {
		if (ctx->replies[i]->type != REDIS_REPLY_ARRAY)
			return (-1);
		n += ctx->replies[i]->nelem;
	}
	if ((el = calloc(n + 1, sizeof(*el))) == NULL)
		return (-1);
	n = 0;
	for (i = 0; i < ctx->nreplies; i++) {
		r = ctx->replies[i];
		for (j = 0; j < r->nelem; j++)
			el[n++] = r->elem[j];
	}
	memset(&all, 0, sizeof(all));
	all.type = REDIS_REPLY_ARRAY;
	all.elem = el;
	all.nelem = n;
	rc = api_list_ids(&st->list, &all, 1, &st->ids);
	free(el);
	return (rc);
}

/* dead_letter_page.lua for the page's event sids. */
static int
entries_send(struct api_ctx *ctx, struct dl_state *st)
{
	const char	**argv;
	char		  dead[WH_KEY_MAX];
	size_t		  i;
	int		  rc;

	if (wh_key_dead(dead, sizeof(dead), api_cfg.prefix,
	    wh_partition(st->company, api_cfg.partitions)) == -1 ||
	    (argv = calloc(st->ids.n + 3, sizeof(*argv))) == NULL)
		return (-1);
	argv[0] = st->idx;
	argv[1] = st->ids_key;
	argv[2] = dead;
	for (i = 0; i < st->ids.n; i++)
		argv[3 + i] = st->ids.sid[i];
	rc = api_redis_eval(ctx, wh_lua_dead_letter_page, 3,
	    (int)st->ids.n + 3, argv, NULL);
	free(argv);
	return (rc);
}

/*
 * {"id","event_sid","event_type","reason","attempts","last_status",
 *  "last_error","first_attempt_at","dead_at","payload"}; the payload is
 * the event's own JSON (a string if it somehow is not JSON).
 */
static int
render_dead(struct wh_buf *b, const void *p)
{
	const struct api_reply	*e = p, *f = e->elem[1], *v;

	if (wh_buf_appendstr(b, "{\"id\":") == -1 ||
	    wh_json_str(b, e->elem[0]->str, e->elem[0]->len) == -1 ||
	    api_json_text(b, "event_sid", api_entry_field(f, "event_sid"),
	    0) == -1 ||
	    api_json_text(b, "event_type", api_entry_field(f, "event_type"),
	    0) == -1 ||
	    api_json_text(b, "reason", api_entry_field(f, "reason"), 0) == -1 ||
	    api_json_count(b, "attempts", api_entry_field(f, "attempts"),
	    0) == -1 ||
	    api_json_count(b, "last_status", api_entry_field(f,
	    "last_status"), 1) == -1 ||
	    api_json_text(b, "last_error", api_entry_field(f, "last_error"),
	    1) == -1 ||
	    api_json_time(b, "first_attempt_at", api_entry_field(f,
	    "first_attempt_at")) == -1 ||
	    api_json_time(b, "dead_at", api_entry_field(f, "dead_at")) == -1 ||
	    wh_buf_appendstr(b, ",\"payload\":") == -1)
		return (-1);
	if ((v = api_entry_field(f, "payload")) == NULL)
		return (wh_buf_appendstr(b, "null}"));
	if (wh_json_valid(v->str, v->len)) {
		if (wh_buf_append(b, v->str, v->len) == -1)
			return (-1);
	} else if (wh_json_str(b, v->str, v->len) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/* The entries arrived: show those of this webhook still in the stream. */
static int
respond(struct api_ctx *ctx, struct dl_state *st)
{
	const struct api_reply	 *r, *e, *w;
	const void		**recs;
	size_t			  i, n = 0;
	int			  rc;

	if (ctx->nreplies != 1 || (r = ctx->replies[0])->type !=
	    REDIS_REPLY_ARRAY)
		return (api_problem_redis(ctx));
	if ((recs = calloc(r->nelem + 1, sizeof(*recs))) == NULL)
		return (api_problem_nomem(ctx));
	for (i = 0; i < r->nelem; i++) {
		e = r->elem[i];
		if (e->type != REDIS_REPLY_ARRAY || e->nelem != 2 ||
		    e->elem[0]->type != REDIS_REPLY_STRING ||
		    e->elem[1]->type != REDIS_REPLY_ARRAY)
			continue;
		w = api_entry_field(e->elem[1], "webhook_sid");
		if (w == NULL || strcmp(w->str, ctx->params[0]) != 0)
			continue;
		recs[n++] = e;
	}
	rc = api_list_respond(ctx, &st->list, "dead_letters", render_dead,
	    recs, n, st->list.more ? &st->ids.last : NULL);
	free(recs);
	return (rc);
}

int
api_dead_letters_list(struct api_ctx *ctx)
{
	struct dl_state		*st;

	if ((st = api_state(ctx, sizeof(*st), dl_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (api_list_parse_with(ctx, &st->list, API_SORT_CREATED,
		    params) == -1)
			return (API_DONE);
		st->list.desc = 1;
		(void)snprintf(st->list.scope, sizeof(st->list.scope),
		    "dead-letters/%s", ctx->params[0]);
		return (api_webhook_list_begin(ctx, &st->list));
	case 1:
		if (api_webhook_list_open(ctx, &st->list, st->company) == -1)
			return (API_DONE);
		/* In a cluster the index is in the company's partition. */
		if (wh_key_webhook_dead(st->idx, sizeof(st->idx),
		    api_cfg.prefix, wh_partition(st->company,
		    api_cfg.partitions), ctx->params[0]) == -1 ||
		    wh_key_webhook_dead_ids(st->ids_key, sizeof(st->ids_key),
		    api_cfg.prefix, wh_partition(st->company,
		    api_cfg.partitions), ctx->params[0]) == -1)
			return (api_problem_redis(ctx));
		ctx->phase = 2;
		if (index_send(ctx, st) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	case 2:
		if (index_take(ctx, st) == -1)
			return (api_problem_redis(ctx));
		if (st->ids.n == 0)
			return (api_list_respond(ctx, &st->list,
			    "dead_letters", render_dead, NULL, 0, NULL));
		ctx->phase = 3;
		if (entries_send(ctx, st) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		return (respond(ctx, st));
	}
}

/*
 * webhooks.c: the webhook resource: create, read, partial update and
 * delete (the list is webhooks_list.c). Another company's webhook
 * answers 404, exactly like a missing one.
 *
 * Writes that depend on what was read go through small Lua scripts so
 * that they are atomic without WATCH (which a connection shared by every
 * request of a worker cannot use):
 *   - create stores the webhook, its index entry and its default key
 *     together, unless the company is at WH_MAX_WEBHOOKS_PER_COMPANY;
 *   - update writes only if the record is still the one it read
 *     (compare-and-set, common/lua/webhook_cas.lua, which a dispatcher
 *     disabling a failing webhook runs too), else reads again:
 *     concurrent updates never lose one another's changes, and a deleted
 *     webhook is never recreated. Enabling a disabled webhook clears its
 *     disabled_reason and starts its failing streak over.
 *
 * A webhook is shown with its endpoint's health (wh:webhook:<sid>:health,
 * kept by the dispatchers), read in the same round trip as the record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "model.h"
#include "scripts.h"
#include "timeutil.h"

#define UPDATE_TRIES	32	/* each round lets at least one writer in */

struct hook_state {
	struct api_webhook_input	 in;
	struct wh_webhook		 hook;
	struct api_webhook_view		 view;
	int				 tries;
};

static void
hook_state_free(void *p)
{
	struct hook_state	*st = p;

	wh_webhook_free(&st->in.w);
	wh_webhook_free(&st->hook);
	free(st);
}

/* GET wh:webhook:<sid>, for the handlers of the routes below it. */
int
api_webhook_fetch(struct api_ctx *ctx, const char *sid)
{
	char		 key[WH_KEY_MAX];
	const char	*argv[2];

	if (wh_key_webhook(key, sizeof(key), api_cfg.prefix, sid) == -1)
		return (-1);
	argv[0] = "GET";
	argv[1] = key;
	return (api_redis_cmd(ctx, 2, argv, NULL));
}

/* HGETALL wh:webhook:<sid>:health, the endpoint's health. */
int
api_webhook_health_fetch(struct api_ctx *ctx, const char *sid)
{
	char		 key[WH_KEY_MAX];
	const char	*argv[2];

	if (wh_key_webhook_health(key, sizeof(key), api_cfg.prefix,
	    sid) == -1)
		return (-1);
	argv[0] = "HGETALL";
	argv[1] = key;
	return (api_redis_cmd(ctx, 2, argv, NULL));
}

/*
 * An HGETALL reply of the health hash into h (zero when there is none
 * yet); fields that do not read as counts are left out. -1 when the
 * reply is not a hash's.
 */
int
api_health_take(const struct api_reply *r, struct wh_health *h)
{
	size_t	i;

	memset(h, 0, sizeof(*h));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->nelem % 2 != 0)
		return (-1);
	for (i = 0; i + 1 < r->nelem; i += 2) {
		if (r->elem[i]->type != REDIS_REPLY_STRING ||
		    r->elem[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		(void)wh_health_field(h, r->elem[i]->str, r->elem[i]->len,
		    r->elem[i + 1]->str, r->elem[i + 1]->len);
	}
	return (0);
}

/* The record and its health (replies 0 and 1), for GET and PATCH. */
static int
await_with_health(struct api_ctx *ctx)
{
	ctx->phase = 1;
	if (api_webhook_fetch(ctx, ctx->params[0]) == -1)
		return (api_problem_redis(ctx));
	if (api_webhook_health_fetch(ctx, ctx->params[0]) == -1)
		ctx->redis_failed = 1;
	return (API_WAIT);
}

/* Ask for the webhook of the path; its reply comes in phase 1. */
int
api_webhook_await(struct api_ctx *ctx)
{
	ctx->phase = 1;
	if (api_webhook_fetch(ctx, ctx->params[0]) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/*
 * The reply to api_webhook_fetch(): 0 with w filled when it holds a
 * webhook the caller may see, else -1 with the answer written.
 */
int
api_webhook_visible(struct api_ctx *ctx, struct api_reply *r,
    struct wh_webhook *w)
{
	memset(w, 0, sizeof(*w));
	if (r == NULL || r->type == REDIS_REPLY_NIL)
		return (api_problem(ctx, API_P_NOT_FOUND, "No such webhook.",
		    NULL), -1);
	if (r->type != REDIS_REPLY_STRING)
		return (api_problem_redis(ctx), -1);
	if (wh_webhook_decode(r->str, r->len, w) == -1)
		return (api_problem(ctx, API_P_INTERNAL, "The stored webhook "
		    "could not be read.", NULL), -1);
	if (!api_company_visible(ctx, w->company_sid)) {
		wh_webhook_free(w);
		return (api_problem(ctx, API_P_NOT_FOUND, "No such webhook.",
		    NULL), -1);
	}
	return (0);
}

/*
 * api_webhook_visible for the routes that give dead letters another
 * delivery (what: "redelivering"): the webhook must also be enabled, as
 * a disabled one would only park them again (409). 0 with its company
 * in company, else -1 with the answer written.
 */
int
api_webhook_enabled(struct api_ctx *ctx, struct api_reply *r,
    const char *what, char company[WH_ID_MAX])
{
	struct wh_webhook	w;
	char			detail[128];
	int			enabled;

	if (api_webhook_visible(ctx, r, &w) == -1)
		return (-1);
	enabled = w.enabled;
	(void)snprintf(company, WH_ID_MAX, "%s", w.company_sid);
	wh_webhook_free(&w);
	if (enabled)
		return (0);
	(void)snprintf(detail, sizeof(detail), "The webhook is disabled; "
	    "enable it (PATCH enabled: true) before %s.", what);
	return (api_problem(ctx, API_P_WEBHOOK_DISABLED, detail, NULL), -1);
}

/*
 * A list below the webhook of the path (its attempts, its dead letters):
 * the page token secret if needed and the webhook, in one round trip;
 * phase 1 takes both with api_webhook_list_open(). API_WAIT, or
 * API_DONE with the answer written.
 */
int
api_webhook_list_begin(struct api_ctx *ctx, struct api_list *list)
{
	if (api_list_begin(ctx, list, NULL) == -1)
		return (api_problem_redis(ctx));
	if (api_webhook_fetch(ctx, ctx->params[0]) == -1) {
		if (ctx->pending == 0)
			return (api_problem_redis(ctx));
		ctx->redis_failed = 1;		/* 503 once they reply */
	}
	ctx->phase = 1;
	return (API_WAIT);
}

/* The page token checked, the webhook the caller's: 0, or -1 answered. */
int
api_webhook_list_open(struct api_ctx *ctx, struct api_list *list,
    char company[WH_ID_MAX])
{
	struct wh_webhook	w;

	if (api_list_open(ctx, list) == -1)
		return (-1);
	if ((size_t)list->nsecret >= ctx->nreplies)
		return (api_problem_redis(ctx), -1);
	if (api_webhook_visible(ctx, ctx->replies[list->nsecret], &w) == -1)
		return (-1);
	if (company != NULL)
		(void)snprintf(company, WH_ID_MAX, "%s",
		    w.company_sid != NULL ? w.company_sid : "");
	wh_webhook_free(&w);
	return (0);
}

/* Parse the body into st->in; -1 with the answer (400/422/500) written. */
static int
read_body(struct api_ctx *ctx, struct hook_state *st, int create)
{
	struct api_body		 body;
	struct api_obj		*obj;
	struct api_errors	 e;
	int			 rc;

	memset(&e, 0, sizeof(e));
	wh_webhook_free(&st->in.w);
	if ((obj = api_body_object(ctx, &body, "webhook", 0, &e)) == NULL)
		return (-1);
	rc = api_webhook_parse(ctx, obj, create, &st->in, &e);
	return (api_body_verdict(ctx, &body, rc, &e, "webhook"));
}

/* webhook_create.lua: record, company index entry, default key; capped. */
static int
create_send(struct api_ctx *ctx, const struct wh_webhook *w,
    const struct wh_signing_key *k)
{
	struct wh_buf	 rec, krec;
	char		 key[WH_KEY_MAX], idx[WH_KEY_MAX], keys[WH_KEY_MAX];
	char		 score[32], cap[32], off[WH_KEY_MAX];
	const char	*argv[11];
	size_t		 lens[11];
	int		 rc = -1, i;

	wh_buf_init(&rec, 0);
	wh_buf_init(&krec, 0);
	if (wh_webhook_encode(w, &rec) == -1 ||
	    wh_signing_key_encode(k, &krec) == -1 ||
	    wh_key_webhook(key, sizeof(key), api_cfg.prefix, w->sid) == -1 ||
	    wh_key_company_webhooks(idx, sizeof(idx), api_cfg.prefix,
	    w->company_sid) == -1 ||
	    wh_key_webhook_keys(keys, sizeof(keys), api_cfg.prefix,
	    w->sid) == -1 ||
	    wh_key_webhooks_disabled(off, sizeof(off), api_cfg.prefix) == -1)
		goto done;
	(void)snprintf(score, sizeof(score), "%lld", (long long)w->created_at);
	(void)snprintf(cap, sizeof(cap), "%ld", api_caps.max_webhooks);
	argv[0] = key;
	argv[1] = idx;
	argv[2] = keys;
	argv[3] = off;
	argv[4] = rec.data;	/* msgpack bytes: lengths given */
	argv[5] = score;
	argv[6] = w->sid;
	argv[7] = k->sid;
	argv[8] = krec.data;
	argv[9] = cap;
	argv[10] = w->enabled ? "1" : "0";
	for (i = 0; i < 11; i++) {
		if (i == 4 || i == 8)
			lens[i] = i == 4 ? rec.len : krec.len;
		else
			lens[i] = strlen(argv[i]);
	}
	rc = api_redis_eval_bump(ctx, wh_lua_webhook_create, w->company_sid, 4, 11, argv,
	    lens);
done:
	wh_buf_free(&rec);
	if (krec.data != NULL)
		explicit_bzero(krec.data, krec.len);
	wh_buf_free(&krec);
	return (rc);
}

int
api_webhooks_create(struct api_ctx *ctx)
{
	struct hook_state	*st;
	struct wh_webhook	*w;
	struct wh_signing_key	 k;
	long long		 v;
	int			 rc;

	if ((st = api_state(ctx, sizeof(*st), hook_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	w = &st->hook;
	if (ctx->phase == 1) {
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v == 0)
			return (api_problem(ctx, API_P_WEBHOOK_LIMIT, "The "
			    "company has as many webhooks as allowed "
			    "(WH_MAX_WEBHOOKS_PER_COMPANY); delete one first.",
			    NULL));
		api_location(ctx, "/v1/webhooks/%s", w->sid);
		st->view.w = w;		/* new: healthy, never tried */
		return (api_respond_one(ctx, 201, "webhook",
		    api_render_webhook, &st->view));
	}

	if (read_body(ctx, st, 1) == -1)
		return (API_DONE);
	w->method = WH_METHOD_POST;
	api_webhook_apply(w, &st->in);
	if ((w->company_sid = strdup(st->in.company)) == NULL ||
	    (w->sid = malloc(WH_ID_MAX)) == NULL ||
	    wh_id_new("wh_", w->sid, WH_ID_MAX) == -1)
		return (api_problem_nomem(ctx));
	w->created_at = w->updated_at = wh_now_ms();
	if (api_signing_key_make(&k, w->sid, "default", NULL, w->created_at,
	    0) == -1) {
		wh_signing_key_free(&k);
		return (api_problem_nomem(ctx));
	}
	ctx->phase = 1;
	rc = create_send(ctx, w, &k);
	wh_signing_key_free(&k);
	return (rc == -1 ? api_problem_redis(ctx) : API_WAIT);
}

int
api_webhooks_get(struct api_ctx *ctx)
{
	struct api_webhook_view	v;
	struct wh_webhook	w;
	int			rc;

	if (ctx->phase == 0)
		return (await_with_health(ctx));
	if (ctx->nreplies != 2)
		return (api_problem_redis(ctx));
	if (api_webhook_visible(ctx, ctx->replies[0], &w) == -1)
		return (API_DONE);
	v.w = &w;
	if (api_health_take(ctx->replies[1], &v.health) == -1)
		rc = api_problem_redis(ctx);
	else
		rc = api_respond_one(ctx, 200, "webhook", api_render_webhook,
		    &v);
	wh_webhook_free(&w);
	return (rc);
}

/*
 * Write the changed record if the stored one is still old; restart the
 * failing streak when this enables a disabled webhook.
 */
static int
update_send(struct api_ctx *ctx, const struct api_reply *old,
    const struct wh_webhook *w, int restart)
{
	struct wh_buf	 rec;
	char		 key[WH_KEY_MAX], health[WH_KEY_MAX], off[WH_KEY_MAX];
	const char	*argv[8];
	size_t		 lens[8];
	int		 rc = -1;

	wh_buf_init(&rec, 0);
	if (wh_webhook_encode(w, &rec) == 0 &&
	    wh_key_webhook(key, sizeof(key), api_cfg.prefix, w->sid) != -1 &&
	    wh_key_webhook_health(health, sizeof(health), api_cfg.prefix,
	    w->sid) != -1 &&
	    wh_key_webhooks_disabled(off, sizeof(off), api_cfg.prefix) != -1) {
		argv[0] = key;		lens[0] = strlen(key);
		argv[1] = health;	lens[1] = strlen(health);
		argv[2] = off;		lens[2] = strlen(off);
		argv[3] = old->str;	lens[3] = old->len;
		argv[4] = rec.data;	lens[4] = rec.len;
		argv[5] = restart ? "1" : "0";
		lens[5] = 1;
		argv[6] = w->sid;	lens[6] = strlen(w->sid);
		argv[7] = w->enabled ? "1" : "0";
		lens[7] = 1;
		rc = api_redis_eval_bump(ctx, wh_lua_webhook_cas,
		    w->company_sid, 3, 8, argv, lens);
	}
	wh_buf_free(&rec);
	return (rc);
}

/*
 * PATCH: read, change the given fields, compare-and-set; when another
 * writer came first, start over (the body is parsed again).
 */
int
api_webhooks_update(struct api_ctx *ctx)
{
	struct hook_state	*st;
	struct api_reply	*r;
	int64_t			 now;
	long long		 v;
	int			 was_off;

	if ((st = api_state(ctx, sizeof(*st), hook_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (read_body(ctx, st, 0) == -1)
			return (API_DONE);
		return (await_with_health(ctx));
	case 1:
		if (ctx->nreplies != 2)
			return (api_problem_redis(ctx));
		r = ctx->replies[0];
		wh_webhook_free(&st->hook);
		if (api_webhook_visible(ctx, r, &st->hook) == -1)
			return (API_DONE);
		if (api_health_take(ctx->replies[1], &st->view.health) == -1)
			return (api_problem_redis(ctx));
		was_off = !st->hook.enabled;
		api_webhook_apply(&st->hook, &st->in);
		if (was_off && st->hook.enabled) {
			/* As webhook_cas.lua does in Redis. */
			st->view.health.consecutive_failures = 0;
			st->view.health.failing_since = 0;
		}
		now = wh_now_ms();
		st->hook.updated_at = now > st->hook.updated_at ? now :
		    st->hook.updated_at + 1;
		ctx->phase = 2;
		if (update_send(ctx, r, &st->hook,
		    was_off && st->hook.enabled) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		st->view.w = &st->hook;
		if (v == 1)
			return (api_respond_one(ctx, 200, "webhook",
			    api_render_webhook, &st->view));
		if (++st->tries >= UPDATE_TRIES)
			return (api_problem(ctx, API_P_CONCURRENT_CHANGE, "The "
			    "webhook is being changed by other requests; "
			    "retry.", NULL));
		ctx->phase = 0;
		return (api_webhooks_update(ctx));
	}
}

/*
 * The record, its keys, its index entry, its attempt log, its health and
 * its dead-letter index, at once. (Its lines in events' attempt indexes
 * expire; readers skip what is gone.) In a Redis Cluster the dead-letter
 * index is in the slot of the company's partition, not the script's: a
 * DEL of its own follows in the same step (the script is given the record
 * in its place), and a dead letter indexed in between is left to expire
 * with its index.
 */
static int
delete_send(struct api_ctx *ctx, const struct wh_webhook *w)
{
	char		 key[WH_KEY_MAX], keys[WH_KEY_MAX], idx[WH_KEY_MAX];
	char		 log[WH_KEY_MAX], health[WH_KEY_MAX];
	char		 dead[WH_KEY_MAX], dead_ids[WH_KEY_MAX], off[WH_KEY_MAX];
	const char	*argv[9];
	unsigned	 p = wh_partition(w->company_sid, api_cfg.partitions);
	int		 split = api_cfg.redis.ncluster > 0;

	if (wh_key_webhook(key, sizeof(key), api_cfg.prefix, w->sid) == -1 ||
	    wh_key_webhook_keys(keys, sizeof(keys), api_cfg.prefix,
	    w->sid) == -1 ||
	    wh_key_company_webhooks(idx, sizeof(idx), api_cfg.prefix,
	    w->company_sid) == -1 ||
	    wh_key_attempts(log, sizeof(log), api_cfg.prefix, w->sid) == -1 ||
	    wh_key_webhook_health(health, sizeof(health), api_cfg.prefix,
	    w->sid) == -1 ||
	    wh_key_webhook_dead(dead, sizeof(dead), api_cfg.prefix, p,
	    w->sid) == -1 ||
	    wh_key_webhook_dead_ids(dead_ids, sizeof(dead_ids), api_cfg.prefix,
	    p, w->sid) == -1 ||
	    wh_key_webhooks_disabled(off, sizeof(off), api_cfg.prefix) == -1)
		return (-1);
	argv[0] = key;
	argv[1] = keys;
	argv[2] = log;
	argv[3] = health;
	argv[4] = split ? key : dead;
	argv[5] = split ? key : dead_ids;
	argv[6] = idx;
	argv[7] = off;
	argv[8] = w->sid;
	if (api_redis_eval_bump(ctx, wh_lua_webhook_delete, w->company_sid, 8,
	    9, argv, NULL) == -1)
		return (-1);
	if (!split)
		return (0);
	argv[0] = "DEL";
	argv[1] = dead;
	argv[2] = dead_ids;
	return (api_redis_cmd_quiet(ctx, 3, argv, NULL));
}

int
api_webhooks_delete(struct api_ctx *ctx)
{
	struct wh_webhook	w;
	long long		v;
	int			rc;

	if (ctx->phase == 0)
		return (api_webhook_await(ctx));
	if (ctx->phase == 1) {
		if (api_webhook_visible(ctx, ctx->replies[0], &w) == -1)
			return (API_DONE);
		ctx->phase = 2;
		rc = delete_send(ctx, &w);
		wh_webhook_free(&w);
		return (rc == -1 ? api_problem_redis(ctx) : API_WAIT);
	}
	if (api_reply_int(ctx, &v) == -1)
		return (API_DONE);
	return (api_no_content(ctx));
}

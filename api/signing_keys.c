/*
 * signing_keys.c: a webhook's signing keys. Every key that has not
 * expired signs every delivery, so customers rotate by adding a key,
 * switching their verifier, then expiring the old one. Secrets are shown
 * only to the webhook's own company (and admins).
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "model.h"

/* Oldest first, then by sid, so the order is stable between calls. */
static int
key_cmp(const void *a, const void *b)
{
	const struct wh_signing_key	*x = a, *y = b;

	if (x->created_at != y->created_at)
		return (x->created_at < y->created_at ? -1 : 1);
	return (strcmp(x->sid, y->sid));
}

static int
keys_respond(struct api_ctx *ctx, struct api_reply *vals)
{
	struct wh_signing_key	*keys;
	struct wh_buf		 b;
	size_t			 i, n = 0;
	int			 rc = -1;

	if ((keys = calloc(vals->nelem ? vals->nelem : 1,
	    sizeof(*keys))) == NULL)
		return (api_problem_nomem(ctx));
	for (i = 0; i < vals->nelem; i++) {
		if (vals->elem[i]->type == REDIS_REPLY_STRING &&
		    wh_signing_key_decode(vals->elem[i]->str,
		    vals->elem[i]->len, &keys[n]) == 0)
			n++;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);

	wh_buf_init(&b, 0);
	if (wh_buf_appendstr(&b, "{\"signing_keys\":[") == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if ((i > 0 && wh_buf_append(&b, ",", 1) == -1) ||
		    api_render_signing_key(&b, &keys[i]) == -1)
			goto out;
	}
	if (wh_buf_appendstr(&b, "],\"next_page_token\":null}") == -1)
		goto out;
	rc = api_json(ctx, 200, &b);
out:
	for (i = 0; i < n; i++)
		wh_signing_key_free(&keys[i]);
	free(keys);
	explicit_bzero(b.data, b.len);
	wh_buf_free(&b);
	if (rc == -1)
		return (api_problem_nomem(ctx));
	return (API_DONE);
}

int
api_signing_keys_list(struct api_ctx *ctx)
{
	struct wh_webhook	 w;
	struct api_reply	*hook, *vals;
	const char		*argv[2];
	char			 key[WH_KEY_MAX], keys[WH_KEY_MAX];
	int			 visible;

	if (ctx->phase == 0) {
		if (wh_key_webhook(key, sizeof(key), api_cfg.prefix,
		    ctx->params[0]) == -1 ||
		    wh_key_webhook_keys(keys, sizeof(keys), api_cfg.prefix,
		    ctx->params[0]) == -1)
			return (api_problem(ctx, 404, "No such webhook.", NULL));
		ctx->phase = 1;
		argv[0] = "GET";
		argv[1] = key;
		if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
			return (API_WAIT);
		argv[0] = "HVALS";
		argv[1] = keys;
		if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
			ctx->redis_failed = 1;
		return (API_WAIT);
	}

	if (ctx->nreplies != 2)
		return (api_problem_redis(ctx));
	hook = ctx->replies[0];
	vals = ctx->replies[1];
	if (hook->type != REDIS_REPLY_STRING)
		return (api_problem(ctx, 404, "No such webhook.", NULL));
	memset(&w, 0, sizeof(w));
	if (wh_webhook_decode(hook->str, hook->len, &w) == -1)
		return (api_problem(ctx, 500, "The stored webhook could not "
		    "be read.", NULL));
	visible = api_company_visible(ctx, w.company_sid);
	wh_webhook_free(&w);
	if (!visible)
		return (api_problem(ctx, 404, "No such webhook.", NULL));
	if (vals->type != REDIS_REPLY_ARRAY)
		return (api_problem_redis(ctx));
	return (keys_respond(ctx, vals));
}

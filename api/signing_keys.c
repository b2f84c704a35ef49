/*
 * signing_keys.c: a webhook's signing keys (create, read, list, change
 * label or expiry, delete). Every key that has not expired signs every
 * delivery, so customers rotate by adding a key, switching their
 * verifier, then expiring or deleting the old one. A key is HMAC (a
 * shared secret: Streem-Signature and webhook-signature "v1,") or, asked
 * for with "algorithm":"ed25519", an Ed25519 pair made here whose public
 * key alone is shown (webhook-signature "v1a,"). Secrets are shown to
 * the webhook's own company (and admins): every route here answers 404
 * for another company's webhook.
 *
 * A webhook always keeps a key that has not expired: a change or a
 * delete that would leave none is 409 (and its very last key, expired
 * or not, is never deleted). The writes are small Lua scripts
 * (atomic without WATCH): a key is added only while the webhook exists
 * and has fewer than API_SIGNING_KEYS_MAX keys, changed only if it is
 * still what was read, and the last key is never deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "model.h"
#include "sign.h"
#include "timeutil.h"
#include "scripts.h"
#include "validate.h"

#define UPDATE_TRIES	32	/* each round lets at least one writer in */
#define GIVEN_LABEL	0x01
#define GIVEN_EXPIRES	0x02

static const struct api_field_spec	create_fields[] = {
	{ "label", 0 }, { "shared_secret", 0 }, { "expires_at", 0 },
	{ "algorithm", 0 },
	{ "sid", 1 }, { "webhook_sid", 1 }, { "created_at", 1 },
	{ "standard_webhooks_secret", 1 }, { "public_key", 1 },
	{ NULL, 0 }
};

static const struct api_field_spec	update_fields[] = {
	{ "label", 0 }, { "expires_at", 0 },
	{ "sid", 1 }, { "webhook_sid", 1 }, { "created_at", 1 },
	{ "shared_secret", 1 }, { "standard_webhooks_secret", 1 },
	{ "algorithm", 1 }, { "public_key", 1 },
	{ NULL, 0 }
};

struct key_state {
	struct api_list		  list;
	int			  given;	/* GIVEN_* */
	char			 *label;
	char			 *secret;	/* the customer's own */
	int			  alg;		/* WH_KEY_* asked for */
	int64_t			  expires_at;
	struct wh_signing_key	  made;		/* create */
	struct wh_signing_key	 *keys;		/* the webhook's */
	const struct api_reply	**raw;		/* as stored */
	size_t			  nkeys;
	size_t			  target;	/* update: the key */
	int			  tries;
	char			  company[WH_ID_MAX];	/* the webhook's */
};

static void
keys_clear(struct key_state *st)
{
	size_t	i;

	for (i = 0; i < st->nkeys; i++)
		wh_signing_key_free(&st->keys[i]);
	free(st->keys);
	free(st->raw);
	st->keys = NULL;
	st->raw = NULL;
	st->nkeys = 0;
}

static void
key_state_free(void *p)
{
	struct key_state	*st = p;

	api_list_free(&st->list);
	keys_clear(st);
	free(st->label);
	if (st->secret != NULL)
		explicit_bzero(st->secret, strlen(st->secret));
	free(st->secret);
	wh_signing_key_free(&st->made);
	free(st);
}

/*
 * A new key for webhook_sid: the given secret, or 32 random bytes as
 * URL-safe text. 0, or -1 (the key is then partly filled: free it).
 */
int
api_signing_key_make(struct wh_signing_key *k, const char *webhook_sid,
    const char *label, const char *secret, int64_t created_at,
    int64_t expires_at)
{
	char	gen[WH_SECRET_LEN + 1];
	size_t	len;
	int	rc = -1;

	memset(k, 0, sizeof(*k));
	if (secret == NULL) {
		if (wh_secret_new(gen, sizeof(gen)) == -1)
			return (-1);
		secret = gen;
	}
	len = strlen(secret);
	if ((k->sid = malloc(WH_ID_MAX)) != NULL &&
	    wh_id_new("sk_", k->sid, WH_ID_MAX) == 0 &&
	    (k->webhook_sid = strdup(webhook_sid)) != NULL &&
	    (k->label = strdup(label)) != NULL &&
	    (k->secret = malloc(len)) != NULL) {
		memcpy(k->secret, secret, len);
		k->secret_len = len;
		k->created_at = created_at;
		k->expires_at = expires_at;
		rc = 0;
	}
	explicit_bzero(gen, sizeof(gen));
	return (rc);
}

/*
 * Make k (filled by api_signing_key_make) an Ed25519 key: its secret
 * becomes a fresh raw private key, which no answer ever shows (the
 * public key is derived from it when rendered). 0, or -1.
 */
static int
key_make_ed25519(struct wh_signing_key *k)
{
	unsigned char	*priv;

	if ((priv = malloc(WH_ED25519_KEY_LEN)) == NULL)
		return (-1);
	if (wh_ed25519_generate(priv) == -1) {
		free(priv);
		return (-1);
	}
	explicit_bzero(k->secret, k->secret_len);
	free(k->secret);
	k->secret = priv;
	k->secret_len = WH_ED25519_KEY_LEN;
	k->alg = WH_KEY_ED25519;
	return (0);
}

/* Parse the body into st; -1 with the answer written. */
static int
read_body(struct api_ctx *ctx, struct key_state *st, int create)
{
	struct api_body		 body;
	struct api_obj		*obj;
	struct api_errors	 e;
	const char		*v, *why;
	int			 rc = 0;

	memset(&e, 0, sizeof(e));
	if ((obj = api_body_object(ctx, &body, "signing_key", 1,
	    &e)) == NULL)
		return (-1);
	api_fields_check(obj, create ? create_fields : update_fields, "", &e);
	if (api_field_present(obj, "label")) {
		st->given |= GIVEN_LABEL;
		v = api_field_str(obj, "label", &e, 0);
		if (v != NULL && (why = wh_validate_label(v,
		    strlen(v))) != NULL)
			api_errors_add(&e, "label", "%s", why);
		free(st->label);
		if ((st->label = strdup(v ? v : "")) == NULL)
			rc = -1;
	}
	if (create && (v = api_field_str(obj, "shared_secret", &e,
	    0)) != NULL) {
		if ((why = wh_validate_shared_secret(v, strlen(v))) != NULL)
			api_errors_add(&e, "shared_secret", "%s", why);
		else if ((st->secret = strdup(v)) == NULL)
			rc = -1;
	}
	if (create && (v = api_field_str(obj, "algorithm", &e, 0)) != NULL) {
		if (strcmp(v, "ed25519") == 0)
			st->alg = WH_KEY_ED25519;
		else if (strcmp(v, "hmac-sha256") != 0)
			api_errors_add(&e, "algorithm", "must be \"hmac-sha256\" "
			    "or \"ed25519\"");
	}
	if (st->alg == WH_KEY_ED25519 && st->secret != NULL)
		api_errors_add(&e, "shared_secret", "an ed25519 key is "
		    "generated by the service: give no shared_secret");
	if (api_field_time(obj, "expires_at", &e, &st->expires_at) == 1)
		st->given |= GIVEN_EXPIRES;
	return (api_body_verdict(ctx, &body, rc, &e, "signing key"));
}

/* GET the webhook, then HGET the named key (one) or HVALS all. */
static int
lookup_send(struct api_ctx *ctx, int one)
{
	char		 keys[WH_KEY_MAX];
	const char	*argv[3];

	if (wh_key_webhook_keys(keys, sizeof(keys), api_cfg.prefix,
	    ctx->params[0]) == -1 || api_webhook_fetch(ctx,
	    ctx->params[0]) == -1)
		return (api_problem_redis(ctx));
	argv[0] = one ? "HGET" : "HVALS";
	argv[1] = keys;
	argv[2] = ctx->params[1];
	if (api_redis_cmd(ctx, one ? 3 : 2, argv, NULL) == -1)
		ctx->redis_failed = 1;
	ctx->phase = 1;
	return (API_WAIT);
}

/*
 * replies[at] is the webhook, replies[at + 1] its keys (HVALS or HGET):
 * check the webhook is the caller's, decode the keys into st. -1 with
 * the answer written.
 */
static int
lookup_take(struct api_ctx *ctx, struct key_state *st, size_t at)
{
	struct wh_webhook	 w;
	struct api_reply	*vals, *one[1];
	struct api_reply	**el;
	size_t			 i, n;

	keys_clear(st);
	if (ctx->nreplies < at + 2)
		return (api_problem_redis(ctx), -1);
	if (api_webhook_visible(ctx, ctx->replies[at], &w) == -1)
		return (-1);
	(void)snprintf(st->company, sizeof(st->company), "%s", w.company_sid);
	wh_webhook_free(&w);
	vals = ctx->replies[at + 1];
	if (vals->type == REDIS_REPLY_ARRAY) {
		el = vals->elem;
		n = vals->nelem;
	} else if (vals->type == REDIS_REPLY_STRING) {
		one[0] = vals;
		el = one;
		n = 1;
	} else if (vals->type == REDIS_REPLY_NIL) {
		el = NULL;
		n = 0;
	} else
		return (api_problem_redis(ctx), -1);
	if ((st->keys = calloc(n + 1, sizeof(*st->keys))) == NULL ||
	    (st->raw = calloc(n + 1, sizeof(*st->raw))) == NULL)
		return (api_problem_nomem(ctx), -1);
	for (i = 0; i < n; i++) {
		if (el[i]->type == REDIS_REPLY_STRING &&
		    wh_signing_key_decode(el[i]->str, el[i]->len,
		    &st->keys[st->nkeys]) == 0)
			st->raw[st->nkeys++] = el[i];
	}
	return (0);
}

/* The key the path names among st->keys; -1 with a 404 written. */
static int
target_key(struct api_ctx *ctx, struct key_state *st, size_t *idx)
{
	size_t	i;

	for (i = 0; i < st->nkeys; i++) {
		if (strcmp(st->keys[i].sid, ctx->params[1]) == 0) {
			*idx = i;
			return (0);
		}
	}
	return (api_problem(ctx, API_P_NOT_FOUND, "No such signing key.", NULL),
	    -1);
}

/*
 * HMAC keys other than skip that sign now. Only they count for "a webhook
 * keeps a key that signs": Streem-Signature (HMAC only) is on every
 * delivery; ed25519 keys come and go freely beside them.
 */
static size_t
active_others(const struct key_state *st, size_t skip)
{
	int64_t	now = wh_now_ms();
	size_t	i, n = 0;

	for (i = 0; i < st->nkeys; i++) {
		if (i != skip && st->keys[i].alg == WH_KEY_HMAC &&
		    wh_signing_key_active(&st->keys[i], now))
			n++;
	}
	return (n);
}

static int
last_key(struct api_ctx *ctx)
{
	return (api_problem(ctx, API_P_LAST_SIGNING_KEY, "A webhook keeps at "
	    "least one signing key that has not expired; add another key "
	    "first.", NULL));
}

/*
 * EVALSHA one of the scripts on the webhook's keys hash (st->company known:
 * the change counters move with the keys).
 */
static int
keys_eval(struct api_ctx *ctx, struct key_state *st, const char *script,
    int with_webhook, const char **args, const size_t *alens, int nargs)
{
	char		 hook[WH_KEY_MAX], keys[WH_KEY_MAX];
	const char	*argv[6];
	size_t		 lens[6];
	int		 nk = 0, i;

	if (wh_key_webhook(hook, sizeof(hook), api_cfg.prefix,
	    ctx->params[0]) == -1 || wh_key_webhook_keys(keys, sizeof(keys),
	    api_cfg.prefix, ctx->params[0]) == -1 || nargs > 4)
		return (-1);
	if (with_webhook) {
		argv[nk] = hook;
		lens[nk++] = strlen(hook);
	}
	argv[nk] = keys;
	lens[nk++] = strlen(keys);
	for (i = 0; i < nargs; i++) {
		argv[nk + i] = args[i];
		lens[nk + i] = alens[i];
	}
	return (api_redis_eval_bump(ctx, script, st->company, nk, nk + nargs,
	    argv, lens));
}

int
api_signing_keys_create(struct api_ctx *ctx)
{
	struct key_state	*st;
	struct wh_webhook	 w;
	struct wh_buf		 rec;
	long long		 v;
	const char		*args[3];
	size_t			 lens[3];
	char			 cap[16];
	int			 rc;

	if ((st = api_state(ctx, sizeof(*st), key_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (read_body(ctx, st, 1) == -1)
			return (API_DONE);
		return (api_webhook_await(ctx));
	case 1:
		if (api_webhook_visible(ctx, ctx->replies[0], &w) == -1)
			return (API_DONE);
		(void)snprintf(st->company, sizeof(st->company), "%s",
		    w.company_sid);
		wh_webhook_free(&w);
		if (api_signing_key_make(&st->made, ctx->params[0],
		    st->label ? st->label : "", st->secret, wh_now_ms(),
		    st->expires_at) == -1 || (st->alg == WH_KEY_ED25519 &&
		    key_make_ed25519(&st->made) == -1))
			return (api_problem_nomem(ctx));
		wh_buf_init(&rec, 0);
		if (wh_signing_key_encode(&st->made, &rec) == -1) {
			wh_buf_free(&rec);
			return (api_problem_nomem(ctx));
		}
		(void)snprintf(cap, sizeof(cap), "%d", API_SIGNING_KEYS_MAX);
		args[0] = st->made.sid;	lens[0] = strlen(st->made.sid);
		args[1] = rec.data;	lens[1] = rec.len;
		args[2] = cap;		lens[2] = strlen(cap);
		ctx->phase = 2;
		rc = keys_eval(ctx, st, wh_lua_signing_key_add, 1, args, lens, 3);
		explicit_bzero(rec.data, rec.len);
		wh_buf_free(&rec);
		return (rc == -1 ? api_problem_redis(ctx) : API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v == -1)
			return (api_problem(ctx, API_P_NOT_FOUND, "No such "
			    "webhook.", NULL));
		if (v == 0)
			return (api_problem(ctx, API_P_SIGNING_KEY_LIMIT, "A "
			    "webhook has at most 10 signing keys; delete one "
			    "first.", NULL));
		api_location(ctx, "/v1/webhooks/%s/signing-keys/%s",
		    ctx->params[0], st->made.sid);
		return (api_respond_one(ctx, 201, "signing_key",
		    api_render_signing_key, &st->made));
	}
}

int
api_signing_keys_get(struct api_ctx *ctx)
{
	struct key_state	*st;

	if ((st = api_state(ctx, sizeof(*st), key_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase == 0)
		return (lookup_send(ctx, 1));
	if (lookup_take(ctx, st, 0) == -1)
		return (API_DONE);
	if (st->nkeys == 0)
		return (api_problem(ctx, API_P_NOT_FOUND, "No such signing "
		    "key.", NULL));
	return (api_respond_one(ctx, 200, "signing_key",
	    api_render_signing_key, &st->keys[0]));
}

int
api_signing_keys_list(struct api_ctx *ctx)
{
	struct key_state	 *st;
	struct api_item		 *items;
	const void		**recs;
	const char		 *label;
	size_t			  i;
	int			  rc;

	if ((st = api_state(ctx, sizeof(*st), key_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase == 0) {
		if (api_list_parse(ctx, &st->list, API_SORT_CREATED |
		    API_SORT_LABEL, 0) == -1)
			return (API_DONE);
		(void)snprintf(st->list.scope, sizeof(st->list.scope),
		    "signing-keys/%s", ctx->params[0]);
		if (api_list_begin(ctx, &st->list, NULL) == -1)
			return (api_problem_redis(ctx));
		return (lookup_send(ctx, 0));
	}
	if (api_list_open(ctx, &st->list) == -1 ||
	    lookup_take(ctx, st, (size_t)st->list.nsecret) == -1)
		return (API_DONE);
	items = calloc(st->nkeys + 1, sizeof(*items));
	recs = calloc(st->nkeys + 1, sizeof(*recs));
	rc = items == NULL || recs == NULL;
	for (i = 0; !rc && i < st->nkeys; i++) {
		items[i].sid = st->keys[i].sid;
		items[i].num = st->keys[i].created_at;
		if (st->list.field == API_SORT_LABEL) {
			label = st->keys[i].label;
			items[i].str = label != NULL ? label : "";
			items[i].slen = strlen(items[i].str);
		}
		items[i].rec = &st->keys[i];
	}
	if (!rc && api_list_select(&st->list, items, st->nkeys) == -1)
		rc = 1;
	for (i = 0; !rc && i < st->list.nsel; i++)
		recs[i] = st->list.sel[i]->rec;
	if (!rc)
		rc = api_list_respond(ctx, &st->list, "signing_keys",
		    api_render_signing_key, recs, st->list.nsel,
		    st->list.more ? st->list.sel[st->list.nsel - 1] : NULL);
	else
		rc = api_problem_nomem(ctx);
	free(items);
	free(recs);
	return (rc);
}

/* The given label and expiry onto the key; 409 if none would sign. */
static int
update_apply(struct api_ctx *ctx, struct key_state *st)
{
	struct wh_signing_key	*k = &st->keys[st->target];
	struct wh_buf		 rec;
	const char		*args[3];
	size_t			 lens[3];
	int			 rc;

	if (st->given & GIVEN_LABEL) {
		free(k->label);
		if ((k->label = strdup(st->label)) == NULL)
			return (api_problem_nomem(ctx));
	}
	if (st->given & GIVEN_EXPIRES) {
		k->expires_at = st->expires_at;
		if (k->alg == WH_KEY_HMAC &&
		    !wh_signing_key_active(k, wh_now_ms()) &&
		    active_others(st, st->target) == 0)
			return (last_key(ctx));
	}
	wh_buf_init(&rec, 0);
	if (wh_signing_key_encode(k, &rec) == -1) {
		wh_buf_free(&rec);
		return (api_problem_nomem(ctx));
	}
	args[0] = k->sid;
	lens[0] = strlen(k->sid);
	args[1] = st->raw[st->target]->str;
	lens[1] = st->raw[st->target]->len;
	args[2] = rec.data;
	lens[2] = rec.len;
	ctx->phase = 2;
	rc = keys_eval(ctx, st, wh_lua_signing_key_cas, 0, args, lens, 3);
	explicit_bzero(rec.data, rec.len);
	wh_buf_free(&rec);
	return (rc == -1 ? api_problem_redis(ctx) : API_WAIT);
}

int
api_signing_keys_update(struct api_ctx *ctx)
{
	struct key_state	*st;
	long long		 v;

	if ((st = api_state(ctx, sizeof(*st), key_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (st->tries == 0 && read_body(ctx, st, 0) == -1)
			return (API_DONE);
		return (lookup_send(ctx, 0));
	case 1:
		if (lookup_take(ctx, st, 0) == -1 ||
		    target_key(ctx, st, &st->target) == -1)
			return (API_DONE);
		return (update_apply(ctx, st));
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v == 1)
			return (api_respond_one(ctx, 200, "signing_key",
			    api_render_signing_key, &st->keys[st->target]));
		if (++st->tries >= UPDATE_TRIES)
			return (api_problem(ctx, API_P_CONCURRENT_CHANGE, "The "
			    "signing key is being changed by other requests; "
			    "retry.", NULL));
		ctx->phase = 0;
		return (api_signing_keys_update(ctx));
	}
}

int
api_signing_keys_delete(struct api_ctx *ctx)
{
	struct key_state	*st;
	long long		 v;
	const char		*args[1];
	size_t			 lens[1], idx;

	if ((st = api_state(ctx, sizeof(*st), key_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		return (lookup_send(ctx, 0));
	case 1:
		if (lookup_take(ctx, st, 0) == -1 ||
		    target_key(ctx, st, &idx) == -1)
			return (API_DONE);
		if (st->keys[idx].alg == WH_KEY_HMAC &&
		    wh_signing_key_active(&st->keys[idx], wh_now_ms()) &&
		    active_others(st, idx) == 0)
			return (last_key(ctx));
		args[0] = ctx->params[1];
		lens[0] = strlen(args[0]);
		ctx->phase = 2;
		if (keys_eval(ctx, st, wh_lua_signing_key_delete, 0, args, lens, 1) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v == 0)
			return (api_problem(ctx, API_P_NOT_FOUND, "No such "
			    "signing key.", NULL));
		if (v == -1)
			return (last_key(ctx));
		return (api_no_content(ctx));
	}
}

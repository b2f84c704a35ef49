/*
 * api_keys.c: POST, GET and DELETE /v1/api-keys.
 *
 * Only an admin key creates keys: for one company ({"company_sid"}) or
 * another admin ({"admin": true}). The secret (32 random bytes, URL-safe
 * text) is shown once, in the 201; Redis keeps only its SHA-256
 * (wh:apikey:<key_id>, the hash auth.c reads). Every key id is indexed
 * in wh:apikeys and a company's also in wh:company:<sid>:apikeys (zsets
 * scored by creation time), which is what the list pages through.
 *
 * A company key lists and deletes its own company's keys only; any other
 * key id answers 404, admin keys (the bootstrap key among them) included.
 * A deleted key stops working at once: auth reads Redis on every request.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "keys.h"
#include "scripts.h"
#include "timeutil.h"
#include "validate.h"

#define ADMIN_COMPANY	"*"

static const struct api_field_spec	create_fields[] = {
	{ "company_sid", 0 }, { "admin", 0 }, { "label", 0 },
	{ "key_id", 1 }, { "secret", 1 }, { "created_at", 1 },
	{ NULL, 0 }
};

struct ak_state {
	struct api_list	 list;
	struct api_key	 made;
	char		 secret[WH_SECRET_LEN + 1];
	char		 company[WH_ID_MAX];	/* listed; "": all */
	struct api_ids	 ids;
	struct api_key	*keys;
	size_t		 nkeys;
};

static void
ak_state_free(void *p)
{
	struct ak_state	*st = p;

	api_list_free(&st->list);
	api_ids_free(&st->ids);
	free(st->keys);
	explicit_bzero(st->secret, sizeof(st->secret));
	free(st);
}

/* Index keys: every key's, and the company's (none for an admin key). */
static int
index_keys(const char *company, char *all, char *own, size_t len)
{
	own[0] = '\0';
	if (wh_key_apikeys(all, len, api_cfg.prefix) == -1)
		return (-1);
	if (strcmp(company, ADMIN_COMPANY) == 0)
		return (0);
	return (wh_key_company_apikeys(own, len, api_cfg.prefix,
	    company) == -1 ? -1 : 0);
}

/*
 * EVALSHA script over the key's record, the index of all keys and, unless
 * own is "" (an admin key), the company's index; then args.
 */
static int
eval_indexed(struct api_ctx *ctx, const char *script, const char *rec,
    const char *all, const char *own, const char **args, int nargs)
{
	const char	*argv[8];
	int		 nk = 0, i;

	if (nargs > 5)
		return (-1);
	argv[nk++] = rec;
	argv[nk++] = all;
	if (own[0] != '\0')
		argv[nk++] = own;
	for (i = 0; i < nargs; i++)
		argv[nk + i] = args[i];
	return (api_redis_eval(ctx, script, nk, nk + nargs, argv, NULL));
}

/* The body into st->made; -1 with the answer written. */
static int
read_body(struct api_ctx *ctx, struct ak_state *st)
{
	struct api_body		 body;
	struct api_obj		*obj;
	struct api_errors	 e;
	const char		*company, *label, *why;
	int			 admin;

	memset(&e, 0, sizeof(e));
	if ((obj = api_body_object(ctx, &body, "api_key", 0, &e)) == NULL)
		return (-1);
	api_fields_check(obj, create_fields, "", &e);
	company = api_field_str(obj, "company_sid", &e, 0);
	admin = api_field_bool(obj, "admin", &e, 0);
	label = api_field_str(obj, "label", &e, 0);
	if (admin && company != NULL)
		api_errors_add(&e, "company_sid", "give company_sid or "
		    "\"admin\": true, not both");
	else if (!admin && company == NULL)
		api_errors_add(&e, "company_sid", "is required (or \"admin\": "
		    "true for an admin key)");
	else if (company != NULL && (why = wh_validate_company_sid(company,
	    strlen(company))) != NULL)
		api_errors_add(&e, "company_sid", "%s", why);
	if (label != NULL && (why = wh_validate_label(label,
	    strlen(label))) != NULL)
		api_errors_add(&e, "label", "%s", why);
	if (e.n == 0) {
		(void)snprintf(st->made.company_sid,
		    sizeof(st->made.company_sid), "%s",
		    admin ? ADMIN_COMPANY : company);
		(void)snprintf(st->made.label, sizeof(st->made.label), "%s",
		    label ? label : "");
	}
	return (api_body_verdict(ctx, &body, 0, &e, "API key"));
}

static int
create_send(struct api_ctx *ctx, struct ak_state *st)
{
	struct api_key	*k = &st->made;
	unsigned char	 digest[WH_SHA256_LEN];
	char		 hex[2 * WH_SHA256_LEN + 1], ts[24];
	char		 rec[WH_KEY_MAX], all[WH_KEY_MAX], own[WH_KEY_MAX];
	const char	*args[5];

	if (wh_id_new("key_", k->key_id, sizeof(k->key_id)) == -1 ||
	    wh_secret_new(st->secret, sizeof(st->secret)) == -1 ||
	    wh_key_apikey(rec, sizeof(rec), api_cfg.prefix,
	    k->key_id) == -1 ||
	    index_keys(k->company_sid, all, own, sizeof(all)) == -1 ||
	    wh_sha256(st->secret, strlen(st->secret), digest) == -1)
		return (-1);
	(void)wh_hex_encode(digest, sizeof(digest), hex);
	k->created_at = wh_now_ms();
	k->secret = st->secret;
	(void)snprintf(ts, sizeof(ts), "%lld", (long long)k->created_at);
	args[0] = hex;
	args[1] = k->company_sid;
	args[2] = k->label;
	args[3] = ts;
	args[4] = k->key_id;
	return (eval_indexed(ctx, wh_lua_api_key_create, rec, all, own, args, 5));
}

int
api_api_keys_create(struct api_ctx *ctx)
{
	struct ak_state	*st;
	long long	 v;

	if ((st = api_state(ctx, sizeof(*st), ak_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase == 1) {
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		return (api_respond_one(ctx, 201, "api_key",
		    api_render_api_key, &st->made));
	}
	if (!ctx->who.admin)
		return (api_problem(ctx, API_P_ADMIN_KEY_REQUIRED, "Only an "
		    "admin API key can create API keys.", NULL));
	if (read_body(ctx, st) == -1)
		return (API_DONE);
	ctx->phase = 1;
	if (create_send(ctx, st) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/* Which index to list; -1 with the answer (400/404) written. */
static int
list_index(struct api_ctx *ctx, struct ak_state *st, char *idx, size_t len)
{
	const char	*c;

	if (api_list_company(ctx, &st->list, 0, &c) == -1)
		return (-1);
	(void)snprintf(st->list.scope, sizeof(st->list.scope), "api-keys/%s",
	    c != NULL ? c : ADMIN_COMPANY);
	if (c != NULL)
		(void)snprintf(st->company, sizeof(st->company), "%s", c);
	if ((c == NULL ? wh_key_apikeys(idx, len, api_cfg.prefix) :
	    wh_key_company_apikeys(idx, len, api_cfg.prefix, c)) == -1)
		return (api_problem_redis(ctx), -1);
	return (0);
}

/* One HMGET per key of the page. */
static int
list_fetch(struct api_ctx *ctx, struct ak_state *st)
{
	char		 key[WH_KEY_MAX];
	const char	*argv[5];
	size_t		 i;

	argv[0] = "HMGET";
	argv[2] = "company_sid";
	argv[3] = "label";
	argv[4] = "created_at";
	for (i = 0; i < st->ids.n; i++) {
		if (wh_key_apikey(key, sizeof(key), api_cfg.prefix,
		    st->ids.sid[i]) == -1)
			return (-1);
		argv[1] = key;
		if (api_redis_cmd(ctx, 5, argv, NULL) == -1) {
			if (i == 0)
				return (-1);
			/* Answered (503) once the others reply. */
			ctx->redis_failed = 1;
			break;
		}
	}
	return (0);
}

/* The keys of the page that still exist (and are the company's). */
static int
list_respond(struct api_ctx *ctx, struct ak_state *st)
{
	const void		**recs;
	struct api_reply	 *r, **f;
	struct api_key		 *k;
	size_t			  i;
	int			  rc;

	st->keys = calloc(st->ids.n + 1, sizeof(*st->keys));
	recs = calloc(st->ids.n + 1, sizeof(*recs));
	if (st->keys == NULL || recs == NULL) {
		free(recs);
		return (api_problem_nomem(ctx));
	}
	for (i = 0; i < ctx->nreplies && i < st->ids.n; i++) {
		r = ctx->replies[i];
		if (r->type != REDIS_REPLY_ARRAY || r->nelem != 3)
			continue;
		f = r->elem;
		if (f[0]->type != REDIS_REPLY_STRING ||
		    f[0]->len >= WH_ID_MAX || (st->company[0] != '\0' &&
		    strcmp(f[0]->str, st->company) != 0))
			continue;
		k = &st->keys[st->nkeys];
		(void)snprintf(k->key_id, sizeof(k->key_id), "%s",
		    st->ids.sid[i]);
		memcpy(k->company_sid, f[0]->str, f[0]->len + 1);
		if (f[1]->type == REDIS_REPLY_STRING &&
		    f[1]->len < sizeof(k->label))
			memcpy(k->label, f[1]->str, f[1]->len + 1);
		if (f[2]->type == REDIS_REPLY_STRING)
			k->created_at = strtoll(f[2]->str, NULL, 10);
		recs[st->nkeys++] = k;
	}
	rc = api_list_respond(ctx, &st->list, "api_keys", api_render_api_key,
	    recs, st->nkeys, st->list.more ? &st->ids.last : NULL);
	free(recs);
	return (rc);
}

int
api_api_keys_list(struct api_ctx *ctx)
{
	struct ak_state	*st;
	char		 idx[WH_KEY_MAX];

	if ((st = api_state(ctx, sizeof(*st), ak_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (api_list_parse(ctx, &st->list, API_SORT_CREATED, 1) == -1 ||
		    list_index(ctx, st, idx, sizeof(idx)) == -1)
			return (API_DONE);
		if (api_list_begin(ctx, &st->list, idx) == -1)
			return (api_problem_redis(ctx));
		ctx->phase = 1;
		return (API_WAIT);
	case 1:
		if (api_list_open(ctx, &st->list) == -1)
			return (API_DONE);
		if (api_list_ids(&st->list, ctx->replies[st->list.nsecret], 1,
		    &st->ids) == -1)
			return (api_problem_nomem(ctx));
		if (st->ids.n == 0)
			return (list_respond(ctx, st));
		ctx->phase = 2;
		if (list_fetch(ctx, st) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		return (list_respond(ctx, st));
	}
}

int
api_api_keys_delete(struct api_ctx *ctx)
{
	struct api_reply	*r;
	char			 rec[WH_KEY_MAX], all[WH_KEY_MAX];
	char			 own[WH_KEY_MAX];
	const char		*argv[3];
	long long		 v;

	if (wh_key_apikey(rec, sizeof(rec), api_cfg.prefix,
	    ctx->params[0]) == -1)
		return (api_problem(ctx, API_P_NOT_FOUND, "No such API key.",
		    NULL));
	switch (ctx->phase) {
	case 0:
		argv[0] = "HGET";
		argv[1] = rec;
		argv[2] = "company_sid";
		ctx->phase = 1;
		if (api_redis_cmd(ctx, 3, argv, NULL) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	case 1:
		r = ctx->replies[0];
		if (r->type != REDIS_REPLY_STRING ||
		    (!ctx->who.admin && (strcmp(r->str, ADMIN_COMPANY) == 0 ||
		    !api_company_visible(ctx, r->str))))
			return (api_problem(ctx, API_P_NOT_FOUND, "No such API "
			    "key.", NULL));
		if (index_keys(r->str, all, own, sizeof(all)) == -1)
			return (api_problem_redis(ctx));
		argv[0] = ctx->params[0];
		ctx->phase = 2;
		if (eval_indexed(ctx, wh_lua_api_key_delete, rec, all, own, argv, 1) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		api_auth_forget(ctx->params[0]);
		return (api_no_content(ctx));
	}
}

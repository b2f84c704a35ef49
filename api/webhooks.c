/*
 * webhooks.c: the webhook resource. POST /v1/webhooks creates a webhook
 * and its default signing key in one MULTI/EXEC (a webhook never exists
 * without a key); GET /v1/webhooks/{sid} reads one. Another company's
 * webhook answers 404, exactly like a missing one.
 */
#include <openssl/rand.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "keys.h"
#include "model.h"
#include "sign.h"
#include "timeutil.h"
#include "validate.h"

#define DEFAULT_SECRET_BYTES	32

struct create_state {
	struct wh_webhook	hook;
};

static void
create_state_free(void *p)
{
	struct create_state	*st = p;

	wh_webhook_free(&st->hook);
	free(st);
}

static char *
dup_str(const char *s)
{
	return (s == NULL ? strdup("") : strdup(s));
}

/* Custom headers: names valid and unique, values free of CR/LF. */
static int
parse_headers(struct kore_json_item *arr, struct wh_webhook *w,
    struct api_errors *e)
{
	struct kore_json_item	*it;
	const char		*name, *value, *why;
	char			 field[64];
	size_t			 n = 0, i;

	TAILQ_FOREACH(it, &arr->data.items, list)
		n++;
	if (n > WH_HEADERS_MAX) {
		api_errors_add(e, "headers", "at most %d headers",
		    WH_HEADERS_MAX);
		return (-1);
	}
	if (n == 0)
		return (0);
	if ((w->headers = calloc(n, sizeof(*w->headers))) == NULL)
		return (-1);
	i = 0;
	TAILQ_FOREACH(it, &arr->data.items, list) {
		(void)snprintf(field, sizeof(field), "headers[%zu]", i);
		if (it->type != KORE_JSON_TYPE_OBJECT) {
			api_errors_add(e, field, "must be an object with name "
			    "and value");
			return (-1);
		}
		name = api_field_str(it, "name", e, 1);
		value = api_field_str(it, "value", e, 1);
		if (name == NULL || value == NULL)
			return (-1);
		if ((why = wh_validate_header_name(name, strlen(name))) != NULL) {
			api_errors_add(e, field, "name %s", why);
			return (-1);
		}
		if ((why = wh_validate_header_value(value,
		    strlen(value))) != NULL) {
			api_errors_add(e, field, "value %s", why);
			return (-1);
		}
		for (n = 0; n < w->nheaders; n++) {
			if (strcasecmp(w->headers[n].name, name) == 0) {
				api_errors_add(e, field, "name repeats an "
				    "earlier header");
				return (-1);
			}
		}
		w->headers[i].sign = api_field_bool(it,
		    "include_in_request_signature", e, 0);
		if ((w->headers[i].name = strdup(name)) == NULL ||
		    (w->headers[i].value = strdup(value)) == NULL)
			return (-1);
		w->nheaders = ++i;
	}
	return (0);
}

static int
parse_event_types(struct kore_json_item *arr, struct wh_webhook *w,
    struct api_errors *e)
{
	struct kore_json_item	*it;
	const char		*why;
	size_t			 n = 0;

	TAILQ_FOREACH(it, &arr->data.items, list)
		n++;
	if (n > WH_EVENT_TYPES_MAX) {
		api_errors_add(e, "event_types", "at most %d entries",
		    WH_EVENT_TYPES_MAX);
		return (-1);
	}
	if (n == 0)
		return (0);
	if ((w->event_types = calloc(n, sizeof(char *))) == NULL)
		return (-1);
	TAILQ_FOREACH(it, &arr->data.items, list) {
		if (it->type != KORE_JSON_TYPE_STRING) {
			api_errors_add(e, "event_types", "must hold strings");
			return (-1);
		}
		why = wh_validate_event_filter(it->data.string,
		    strlen(it->data.string));
		if (why != NULL) {
			api_errors_add(e, "event_types", "\"%.40s\" %s",
			    it->data.string, why);
			return (-1);
		}
		if ((w->event_types[w->nevent_types] =
		    strdup(it->data.string)) == NULL)
			return (-1);
		w->nevent_types++;
	}
	return (0);
}

/*
 * The company a write applies to: an admin key names it, a company key
 * implies it (and may repeat it, but not name another). NULL with a
 * problem recorded when neither holds.
 */
static const char *
write_company(struct api_ctx *ctx, const char *given, struct api_errors *e)
{
	const char	*why;

	if (!ctx->who.admin) {
		if (given != NULL && strcmp(given, ctx->who.company_sid) != 0) {
			api_errors_add(e, "company_sid", "this API key acts "
			    "only within its own company");
			return (NULL);
		}
		return (ctx->who.company_sid);
	}
	if (given == NULL) {
		api_errors_add(e, "company_sid", "is required with an admin "
		    "API key");
		return (NULL);
	}
	if ((why = wh_validate_company_sid(given, strlen(given))) != NULL) {
		api_errors_add(e, "company_sid", "%s", why);
		return (NULL);
	}
	return (given);
}

/* Fill w from the body; the errors say what was wrong. -1 on ENOMEM. */
static int
webhook_from_body(struct api_ctx *ctx, struct kore_json_item *obj,
    struct wh_webhook *w, struct api_errors *e)
{
	struct kore_json_item	*arr;
	const char		*company, *label, *url, *method, *why;
	char			 m[8];
	long long		 v;
	size_t			 i;

	company = write_company(ctx, api_field_str(obj, "company_sid", e, 0),
	    e);
	label = api_field_str(obj, "label", e, 0);
	if (label != NULL && (why = wh_validate_label(label,
	    strlen(label))) != NULL)
		api_errors_add(e, "label", "%s", why);
	url = api_field_str(obj, "url", e, 1);
	if (url != NULL && (why = wh_validate_url(url, strlen(url))) != NULL)
		api_errors_add(e, "url", "%s", why);

	w->method = WH_METHOD_POST;
	if ((method = api_field_str(obj, "method", e, 0)) != NULL) {
		for (i = 0; method[i] != '\0' && i < sizeof(m) - 1; i++)
			m[i] = (char)toupper((unsigned char)method[i]);
		m[i] = '\0';
		if ((w->method = wh_method_parse(m, strlen(method))) == 0)
			api_errors_add(e, "method", "must be POST, PUT or "
			    "PATCH");
	}
	if (api_field_int(obj, "timeout_ms", e, WH_TIMEOUT_MIN,
	    WH_TIMEOUT_MAX, WH_TIMEOUT_DEFAULT, &v) == 0)
		w->timeout_ms = (uint32_t)v;
	if (api_field_int(obj, "max_attempts", e, WH_ATTEMPTS_MIN,
	    WH_ATTEMPTS_MAX, WH_ATTEMPTS_DEFAULT, &v) == 0)
		w->max_attempts = (uint32_t)v;
	w->enabled = api_field_bool(obj, "enabled", e, 1);

	if ((arr = api_field_array(obj, "headers", e)) != NULL &&
	    parse_headers(arr, w, e) == -1 && e->n == 0)
		return (-1);
	if ((arr = api_field_array(obj, "event_types", e)) != NULL &&
	    parse_event_types(arr, w, e) == -1 && e->n == 0)
		return (-1);
	if (e->n > 0)
		return (0);

	if ((w->company_sid = strdup(company)) == NULL ||
	    (w->label = dup_str(label)) == NULL ||
	    (w->url = strdup(url)) == NULL)
		return (-1);
	return (0);
}

/* A new key with a generated secret: 32 random bytes as URL-safe text. */
static int
default_key(const struct wh_webhook *w, struct wh_signing_key *k)
{
	unsigned char	raw[DEFAULT_SECRET_BYTES];
	char		text[WH_B64_LEN(DEFAULT_SECRET_BYTES)];
	int		n;

	memset(k, 0, sizeof(*k));
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return (-1);
	n = wh_b64url_encode(raw, sizeof(raw), text, sizeof(text));
	explicit_bzero(raw, sizeof(raw));
	if (n == -1)
		return (-1);
	if ((k->sid = malloc(WH_ID_MAX)) == NULL ||
	    wh_id_new("sk_", k->sid, WH_ID_MAX) == -1 ||
	    (k->webhook_sid = strdup(w->sid)) == NULL ||
	    (k->label = strdup("default")) == NULL ||
	    (k->secret = malloc((size_t)n)) == NULL)
		return (-1);
	memcpy(k->secret, text, (size_t)n);
	k->secret_len = (size_t)n;
	k->created_at = w->created_at;
	explicit_bzero(text, sizeof(text));
	return (0);
}

/* MULTI; SET record; ZADD company index; HSET default key; EXEC. */
static int
create_send(struct api_ctx *ctx, const struct wh_webhook *w,
    const struct wh_signing_key *k)
{
	struct wh_buf	 rec, krec;
	char		 key[WH_KEY_MAX], idx[WH_KEY_MAX], keys[WH_KEY_MAX];
	char		 score[32];
	const char	*argv[4];
	size_t		 lens[4];
	int		 rc = -1;

	wh_buf_init(&rec, 0);
	wh_buf_init(&krec, 0);
	if (wh_webhook_encode(w, &rec) == -1 ||
	    wh_signing_key_encode(k, &krec) == -1 ||
	    wh_key_webhook(key, sizeof(key), api_cfg.prefix, w->sid) == -1 ||
	    wh_key_company_webhooks(idx, sizeof(idx), api_cfg.prefix,
	    w->company_sid) == -1 ||
	    wh_key_webhook_keys(keys, sizeof(keys), api_cfg.prefix,
	    w->sid) == -1)
		goto done;
	(void)snprintf(score, sizeof(score), "%lld", (long long)w->created_at);

	argv[0] = "MULTI";
	if (api_redis_cmd(ctx, 1, argv, NULL) == -1)
		goto done;
	argv[0] = "SET"; argv[1] = key; argv[2] = rec.data;
	lens[0] = 3; lens[1] = strlen(key); lens[2] = rec.len;
	if (api_redis_cmd(ctx, 3, argv, lens) == -1)
		goto done;
	argv[0] = "ZADD"; argv[1] = idx; argv[2] = score; argv[3] = w->sid;
	if (api_redis_cmd(ctx, 4, argv, NULL) == -1)
		goto done;
	argv[0] = "HSET"; argv[1] = keys; argv[2] = k->sid; argv[3] = krec.data;
	lens[0] = 4; lens[1] = strlen(keys); lens[2] = strlen(k->sid);
	lens[3] = krec.len;
	if (api_redis_cmd(ctx, 4, argv, lens) == -1)
		goto done;
	argv[0] = "EXEC";
	rc = api_redis_cmd(ctx, 1, argv, NULL);
done:
	wh_buf_free(&rec);
	explicit_bzero(krec.data, krec.len);
	wh_buf_free(&krec);
	if (rc == -1)
		ctx->redis_failed = 1;
	return (rc);
}

static int
respond_webhook(struct api_ctx *ctx, int status, const struct wh_webhook *w)
{
	struct wh_buf	b;
	char		loc[WH_ID_MAX + 16];

	wh_buf_init(&b, 0);
	if (wh_buf_appendstr(&b, "{\"webhook\":") == -1 ||
	    api_render_webhook(&b, w) == -1 || wh_buf_append(&b, "}", 1) == -1) {
		wh_buf_free(&b);
		return (api_problem_nomem(ctx));
	}
	if (status == 201 && ctx->req != NULL) {
		(void)snprintf(loc, sizeof(loc), "/v1/webhooks/%s", w->sid);
		http_response_header(ctx->req, "location", loc);
	}
	(void)api_json(ctx, status, &b);
	wh_buf_free(&b);
	return (API_DONE);
}

int
api_webhooks_create(struct api_ctx *ctx)
{
	struct create_state	*st;
	struct kore_json	 json;
	struct kore_json_item	*obj;
	struct api_errors	 e;
	struct wh_signing_key	 k;
	struct api_reply	*exec;
	int			 rc;

	if (ctx->phase == 1) {
		st = ctx->data;
		exec = ctx->nreplies ? ctx->replies[ctx->nreplies - 1] : NULL;
		if (exec == NULL || exec->type != REDIS_REPLY_ARRAY)
			return (api_problem_redis(ctx));
		return (respond_webhook(ctx, 201, &st->hook));
	}

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (api_problem_nomem(ctx));
	ctx->data = st;
	ctx->data_free = create_state_free;

	memset(&e, 0, sizeof(e));
	if ((obj = api_body_object(ctx, &json, "webhook")) == NULL) {
		kore_json_cleanup(&json);
		return (API_DONE);
	}
	rc = webhook_from_body(ctx, obj, &st->hook, &e);
	kore_json_cleanup(&json);
	if (rc == -1)
		return (api_problem_nomem(ctx));
	if (e.n > 0)
		return (api_problem_errors(ctx, 422, "The webhook is not "
		    "valid; see errors.", &e));

	if ((st->hook.sid = malloc(WH_ID_MAX)) == NULL ||
	    wh_id_new("wh_", st->hook.sid, WH_ID_MAX) == -1)
		return (api_problem_nomem(ctx));
	st->hook.created_at = st->hook.updated_at = wh_now_ms();
	if (default_key(&st->hook, &k) == -1) {
		wh_signing_key_free(&k);
		return (api_problem_nomem(ctx));
	}
	ctx->phase = 1;
	rc = create_send(ctx, &st->hook, &k);
	wh_signing_key_free(&k);
	return (API_WAIT);
}

int
api_webhooks_get(struct api_ctx *ctx)
{
	struct wh_webhook	 w;
	struct api_reply	*r;
	const char		*argv[2];
	char			 key[WH_KEY_MAX];
	int			 rc;

	if (ctx->phase == 0) {
		if (wh_key_webhook(key, sizeof(key), api_cfg.prefix,
		    ctx->params[0]) == -1)
			return (api_problem(ctx, 404, "No such webhook.", NULL));
		argv[0] = "GET";
		argv[1] = key;
		ctx->phase = 1;
		(void)api_redis_cmd(ctx, 2, argv, NULL);
		return (API_WAIT);
	}

	r = ctx->replies[0];
	if (r->type == REDIS_REPLY_NIL)
		return (api_problem(ctx, 404, "No such webhook.", NULL));
	memset(&w, 0, sizeof(w));
	if (r->type != REDIS_REPLY_STRING ||
	    wh_webhook_decode(r->str, r->len, &w) == -1)
		return (api_problem(ctx, 500, "The stored webhook could not "
		    "be read.", NULL));
	if (!api_company_visible(ctx, w.company_sid))
		rc = api_problem(ctx, 404, "No such webhook.", NULL);
	else
		rc = respond_webhook(ctx, 200, &w);
	wh_webhook_free(&w);
	return (rc);
}

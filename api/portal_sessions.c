/*
 * portal_sessions.c: POST and DELETE /v1/portal-sessions, and what a
 * portal session may do once auth.c has let it in.
 *
 * A portal session lets one company's engineers use the delivery portal
 * (/portal/, portal_static.c) for ttl_s seconds (default 1 h, at most
 * 24 h) without an API key. An admin key opens one for any company, a
 * company key for its own. The answer's url carries the token
 * "<sid>.<secret>" in its fragment (#token=...), which browsers never
 * send to a server, put in a Referer or write to a log; the token is
 * shown once, and Redis keeps only the secret's SHA-256 in
 * wh:portal:<sid>, a hash that expires with the session. The portal's
 * script sends it as "Authorization: Bearer <token>" on each call to the
 * public API routes (auth.c): no cookie, so no request a third-party
 * page makes from the browser carries it (CSRF is impossible by
 * construction), and the portal needs no second back end.
 *
 * A session acts as a key of its company on the webhook routes (and
 * their jobs and event attempts) and nowhere else: it cannot publish
 * events, mint API keys or open further sessions. A read-only session
 * may only GET. DELETE ends a session at once: auth never caches one.
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

#define TTL_DEFAULT_S	3600
#define TTL_MAX_S	86400

static const struct api_field_spec	create_fields[] = {
	{ "company_sid", 0 }, { "ttl_s", 0 }, { "read_only", 0 },
	{ "sid", 1 }, { "url", 1 }, { "expires_at", 1 },
	{ NULL, 0 }
};

struct ps_state {
	struct api_portal_session	 made;
	char				 token[WH_ID_MAX +
					    WH_SECRET_LEN + 2];
	char				 url[WH_ID_MAX + WH_SECRET_LEN +
					    32];
	long long			 ttl_s;
};

static void
ps_state_free(void *p)
{
	struct ps_state	*st = p;

	explicit_bzero(st, sizeof(*st));
	free(st);
}

/* The body into st; -1 with the answer written. */
static int
read_body(struct api_ctx *ctx, struct ps_state *st)
{
	struct api_body		 body;
	struct api_obj		*obj;
	struct api_errors	 e;
	const char		*company, *why;

	memset(&e, 0, sizeof(e));
	if ((obj = api_body_object(ctx, &body, "portal_session", 1,
	    &e)) == NULL)
		return (-1);
	api_fields_check(obj, create_fields, "", &e);
	company = api_field_str(obj, "company_sid", &e, 0);
	(void)api_field_int(obj, "ttl_s", &e, 60, TTL_MAX_S, TTL_DEFAULT_S,
	    &st->ttl_s);
	st->made.read_only = api_field_bool(obj, "read_only", &e, 0);
	if (company == NULL && ctx->who.admin)
		api_errors_add(&e, "company_sid", "is required with an admin "
		    "key");
	else if (company != NULL && (why = wh_validate_company_sid(company,
	    strlen(company))) != NULL)
		api_errors_add(&e, "company_sid", "%s", why);
	else if (company != NULL && !ctx->who.admin &&
	    strcmp(company, ctx->who.company_sid) != 0)
		api_errors_add(&e, "company_sid", "this API key acts only "
		    "within its own company");
	if (e.n == 0)
		(void)snprintf(st->made.company_sid,
		    sizeof(st->made.company_sid), "%s",
		    company != NULL ? company : ctx->who.company_sid);
	return (api_body_verdict(ctx, &body, 0, &e, "portal session"));
}

/* Mint the sid and secret and store the session; -1 on failure. */
static int
create_send(struct api_ctx *ctx, struct ps_state *st)
{
	struct api_portal_session	*s = &st->made;
	unsigned char			 digest[WH_SHA256_LEN];
	char				 hex[2 * WH_SHA256_LEN + 1];
	char				 secret[WH_SECRET_LEN + 1];
	char				 key[WH_KEY_MAX], exp[24], ro[2];
	const char			*argv[6];
	int				 n;

	if (wh_id_new("ps_", s->sid, sizeof(s->sid)) == -1 ||
	    wh_secret_new(secret, sizeof(secret)) == -1 ||
	    wh_key_portal_session(key, sizeof(key), api_cfg.prefix,
	    s->sid) == -1 ||
	    wh_sha256(secret, strlen(secret), digest) == -1)
		return (-1);
	n = snprintf(st->token, sizeof(st->token), "%s.%s", s->sid, secret);
	explicit_bzero(secret, sizeof(secret));
	if (n < 0 || (size_t)n >= sizeof(st->token))
		return (-1);
	n = snprintf(st->url, sizeof(st->url), "/portal/#token=%s",
	    st->token);
	if (n < 0 || (size_t)n >= sizeof(st->url))
		return (-1);
	(void)wh_hex_encode(digest, sizeof(digest), hex);
	s->expires_at = wh_now_ms() + st->ttl_s * 1000;
	s->url = st->url;
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)s->expires_at);
	(void)snprintf(ro, sizeof(ro), "%d", s->read_only ? 1 : 0);
	argv[0] = key;
	argv[1] = hex;
	argv[2] = s->company_sid;
	argv[3] = ro;
	argv[4] = exp;
	argv[5] = ctx->who.key_id;
	return (api_redis_eval(ctx, wh_lua_portal_session_create, 1, 6, argv,
	    NULL));
}

int
api_portal_sessions_create(struct api_ctx *ctx)
{
	struct ps_state	*st;
	long long	 v;

	if ((st = api_state(ctx, sizeof(*st), ps_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase == 1) {
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		return (api_respond_one(ctx, 201, NULL,
		    api_render_portal_session, &st->made));
	}
	if (read_body(ctx, st) == -1)
		return (API_DONE);
	ctx->phase = 1;
	if (create_send(ctx, st) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

int
api_portal_sessions_delete(struct api_ctx *ctx)
{
	char		 key[WH_KEY_MAX];
	const char	*argv[2];
	long long	 v;

	if (ctx->phase == 1) {
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		if (v != 1)
			return (api_problem(ctx, API_P_NOT_FOUND, "No such "
			    "portal session.", NULL));
		return (api_no_content(ctx));
	}
	if (wh_key_portal_session(key, sizeof(key), api_cfg.prefix,
	    ctx->params[0]) == -1)
		return (api_problem(ctx, API_P_NOT_FOUND, "No such portal "
		    "session.", NULL));
	argv[0] = key;
	argv[1] = ctx->who.admin ? "*" : ctx->who.company_sid;
	ctx->phase = 1;
	if (api_redis_eval(ctx, wh_lua_portal_session_delete, 1, 2, argv,
	    NULL) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/*
 * Route patterns a portal session may use (a prefix each): "/v1/events/:"
 * covers one kept event (its ordering_key on an attempt's page) and its
 * attempts; publishing ("/v1/events", "/v1/events:batch") stays out.
 */
static const char *const	portal_routes[] = {
	"/v1/webhooks",
	"/v1/jobs/",
	"/v1/events/:",
	NULL
};

/* 1 for a route whose GET has a side effect (the documented GET ~test). */
static int
route_sends(const char *pat)
{
	size_t	len = strlen(pat);

	return (len >= 6 && strcmp(pat + len - 6, "/~test") == 0);
}

/*
 * After authentication: 0 when the caller may go on to the handler, -1
 * with a 403 written when a portal session asks for a route outside the
 * portal's, or a read-only one for anything that changes something:
 * every method but GET, and GET ~test, which sends a real signed request
 * (kept as a GET for API keys only, for compatibility). API keys pass.
 */
int
api_portal_check(struct api_ctx *ctx)
{
	const char	*pat = ctx->route->pattern;
	size_t		 i;

	if (!ctx->who.portal)
		return (0);
	for (i = 0; portal_routes[i] != NULL; i++) {
		if (strncmp(pat, portal_routes[i],
		    strlen(portal_routes[i])) == 0)
			break;
	}
	if (portal_routes[i] == NULL)
		return (api_problem(ctx, API_P_PORTAL_SESSION_FORBIDDEN, "A "
		    "portal session may not use this route.", NULL), -1);
	if (ctx->who.read_only && (ctx->req->method != HTTP_METHOD_GET ||
	    route_sends(pat)))
		return (api_problem(ctx, API_P_READ_ONLY_SESSION, "This "
		    "portal session is read-only: it may look, not change.",
		    NULL), -1);
	return (0);
}

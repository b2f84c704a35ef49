/*
 * module.c: the Kore application: worker start, the sandbox additions,
 * the route table and the one Kore handler that drives every request's
 * state machine (route -> authenticate -> resource handler, each step
 * free to wait on Redis without blocking the worker).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kore/kore.h>
#include <kore/http.h>
#include <kore/seccomp.h>

#include "api.h"
#include "log.h"
#include "timeutil.h"

int	api_http(struct http_request *);
int	kore_parent_configure(int, char **);
void	kore_worker_configure(void);

struct wh_config	api_cfg;
struct wh_caps		api_caps;

/*
 * The worker talks to Redis (TCP or a unix socket, maybe by name) and
 * reads randomness; Kore's default sandbox allows neither. Over TLS
 * without WH_REDIS_TLS_CA_FILE, OpenSSL lists the system's CA directory
 * (getdents64) when the worker makes its context.
 */
KORE_SECCOMP_FILTER("webhooks",
	KORE_SYSCALL_ALLOW(socket),
	KORE_SYSCALL_ALLOW(connect),
	KORE_SYSCALL_ALLOW(getsockopt),
	KORE_SYSCALL_ALLOW(setsockopt),
	KORE_SYSCALL_ALLOW(getsockname),
	KORE_SYSCALL_ALLOW(getpeername),
	KORE_SYSCALL_ALLOW(sendto),
	KORE_SYSCALL_ALLOW(recvfrom),
	KORE_SYSCALL_ALLOW(sendmsg),
	KORE_SYSCALL_ALLOW(recvmsg),
	KORE_SYSCALL_ALLOW(sendmmsg),
	KORE_SYSCALL_ALLOW(poll),
	KORE_SYSCALL_ALLOW(ppoll),
	KORE_SYSCALL_ALLOW(bind),
	KORE_SYSCALL_ALLOW(uname),
	KORE_SYSCALL_ALLOW(getrandom),
	KORE_SYSCALL_ALLOW(madvise),
	KORE_SYSCALL_ALLOW(mremap),
	KORE_SYSCALL_ALLOW(futex),
	KORE_SYSCALL_ALLOW(newfstatat),
	KORE_SYSCALL_ALLOW(statx),
	/* and /proc/self/fd, counted for GET /metrics */
	KORE_SYSCALL_ALLOW(getdents64),
	/*
	 * The trace exporter's Kore task thread and curl's resolver thread:
	 * glibc tries clone3 first and falls back to clone (which Kore's
	 * task filter allows) when told it does not exist.
	 */
	KORE_SYSCALL_DENY(clone3, ENOSYS),
	KORE_SYSCALL_ALLOW(rseq),
	KORE_SYSCALL_ALLOW(gettid),
	KORE_SYSCALL_ALLOW(eventfd2),
	KORE_SYSCALL_ALLOW(pipe2),
	/* (AddressSanitizer's thread start asks it; read-only.) */
	KORE_SYSCALL_ALLOW(sched_getaffinity)
);

/*
 * Routes. ":" is one path segment holding an id, kept in ctx->params; a
 * final "*" matches any rest of the path (the handler reads it).
 * api/openapi.yaml describes each one (tests/e2e/api-openapi.test.js
 * reads this table to check that). They are tried in order for every
 * request: the ingest routes, which carry most of the traffic, come
 * first (no other pattern matches their paths).
 */
static const struct api_route routes[] = {
	{ HTTP_METHOD_POST,   "/v1/events", api_events_publish, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/events:batch", api_events_batch, 1,
	    API_BATCH_BODY_MAX },
	{ HTTP_METHOD_GET,    "/healthz", api_healthz, 0, 0 },
	{ HTTP_METHOD_GET,    "/readyz", api_readyz, 0, 0 },
	{ HTTP_METHOD_GET,    "/metrics", api_metrics, 0, 0 },
	{ HTTP_METHOD_POST,   "/v1/webhooks", api_webhooks_create, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks", api_webhooks_list, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:", api_webhooks_get, 1, 0 },
	{ HTTP_METHOD_PATCH,  "/v1/webhooks/:", api_webhooks_update, 1, 0 },
	{ HTTP_METHOD_DELETE, "/v1/webhooks/:", api_webhooks_delete, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/webhooks/:/signing-keys",
	    api_signing_keys_create, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:/signing-keys",
	    api_signing_keys_list, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:/signing-keys/:",
	    api_signing_keys_get, 1, 0 },
	{ HTTP_METHOD_PATCH,  "/v1/webhooks/:/signing-keys/:",
	    api_signing_keys_update, 1, 0 },
	{ HTTP_METHOD_DELETE, "/v1/webhooks/:/signing-keys/:",
	    api_signing_keys_delete, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:/attempts", api_attempts_list, 1,
	    0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:/dead-letters",
	    api_dead_letters_list, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/webhooks/:/deliveries/:/~redeliver",
	    api_redeliver, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/webhooks/:/deliveries/:/~resend",
	    api_resend, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/webhooks/:/~recover", api_recover, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/webhooks/:/~test", api_webhook_test, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:/~test", api_webhook_test, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/events/:/attempts", api_event_attempts_list,
	    1, 0 },
	{ HTTP_METHOD_GET,    "/v1/events/:", api_event_get, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/jobs/:", api_jobs_get, 1, 0 },
	{ HTTP_METHOD_POST,   "/v1/api-keys", api_api_keys_create, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/api-keys", api_api_keys_list, 1, 0 },
	{ HTTP_METHOD_DELETE, "/v1/api-keys/:", api_api_keys_delete, 1, 0 },
	{ HTTP_METHOD_GET,    "/v1/webhooks/:/stats", api_webhook_stats, 1,
	    0 },
	{ HTTP_METHOD_POST,   "/v1/portal-sessions",
	    api_portal_sessions_create, 1, 0 },
	{ HTTP_METHOD_DELETE, "/v1/portal-sessions/:",
	    api_portal_sessions_delete, 1, 0 },
	{ HTTP_METHOD_GET,    "/portal", api_portal_static, 0, 0 },
	{ HTTP_METHOD_GET,    "/portal/*", api_portal_static, 0, 0 },
	{ 0, NULL, NULL, 0, 0 }
};

/*
 * The steps of every request (ctx->stage): find the route and check the
 * body's size and type; the API key's record was asked for; the
 * Idempotency-Key was claimed; the resource handler runs (and may wait);
 * its answer is being stored, then sent.
 */
#define STAGE_ROUTE	0
#define STAGE_AUTH	1
#define STAGE_IDEM	2
#define STAGE_HANDLER	3
#define STAGE_SAVE	4

/*
 * The parent resolves Redis' host name (or the sentinels') once before it
 * forks the workers:
 * glibc then has its NSS modules loaded, and the sandboxed workers (which
 * may not map executable memory) can resolve the name again on reconnect.
 */
int
kore_parent_configure(int argc, char **argv)
{
	struct addrinfo	 hints, *res;
	const char	*host;
	size_t		 i;

	wh_config_start(&api_cfg, &api_caps, "api");
	if (api_metrics_init() == -1) {
		wh_log(WH_LOG_ERROR, "cannot map the metrics table", NULL);
		exit(2);
	}
	api_tracing_prepare();
	/* Kore logs with printf; the launcher reads them line by line. */
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (api_cfg.redis.unix_path[0] == '\0') {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		/* With sentinels, the URL's host is not used. */
		i = api_cfg.redis.nsentinels > 0 ? 1 : 0;
		for (; i <= api_cfg.redis.nsentinels; i++) {
			host = i == 0 ? api_cfg.redis.host :
			    api_cfg.redis.sentinels[i - 1].host;
			if (getaddrinfo(host, NULL, &hints, &res) == 0)
				freeaddrinfo(res);
		}
	}
	return (KORE_RESULT_OK);
}

void
kore_worker_configure(void)
{
	wh_config_start(&api_cfg, &api_caps, "api");
	(void)api_redis_start();
	api_metrics_start();
	api_tracing_start();
}

/* Match path against pattern; fills params. 1 on match. */
static int
route_match(const char *pattern, const char *path, struct api_ctx *ctx)
{
	const char	*seg, *start = pattern;
	size_t		 len, np = 0;

	while (*pattern != '\0') {
		if (pattern[0] == '*' && pattern[1] == '\0')
			return (1);
		/* ":" opens a parameter only as a whole segment. */
		if (*pattern == ':' && pattern > start && pattern[-1] == '/') {
			seg = path;
			while (*path != '\0' && *path != '/')
				path++;
			len = (size_t)(path - seg);
			if (np >= API_PARAMS_MAX || !wh_id_valid(seg, len))
				return (0);
			memcpy(ctx->params[np], seg, len);
			ctx->params[np][len] = '\0';
			np++;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return (0);
		pattern++;
		path++;
	}
	return (*path == '\0');
}

/*
 * Find the route. -1 when none: a 404, or a 405 with Allow when the path
 * exists with other methods, is written.
 */
static int
route_find(struct api_ctx *ctx)
{
	const struct api_route	*r;
	char			 allow[128];
	size_t			 off = 0;
	int			 n;

	allow[0] = '\0';
	for (r = routes; r->pattern != NULL; r++) {
		if (!route_match(r->pattern, ctx->req->path, ctx))
			continue;
		if (r->method == ctx->req->method) {
			ctx->route = r;
			return (0);
		}
		n = snprintf(allow + off, sizeof(allow) - off, "%s%s",
		    off ? ", " : "", http_method_text(r->method));
		if (n > 0 && (size_t)n < sizeof(allow) - off)
			off += (size_t)n;
	}
	if (off > 0) {
		http_response_header(ctx->req, "allow", allow);
		(void)api_problem(ctx, API_P_METHOD_NOT_ALLOWED, "This method "
		    "is not allowed on this resource.", NULL);
		return (-1);
	}
	(void)api_problem(ctx, API_P_NO_SUCH_ROUTE, "No such route.", NULL);
	return (-1);
}

static void
request_log(struct api_ctx *ctx)
{
	char	status[8], ms[24], tid[33], sid[17];
	int	level = ctx->status >= 500 ? WH_LOG_WARN : WH_LOG_INFO;

	if (!wh_log_enabled(level))
		return;
	api_tracing_log_ids(ctx, tid, sid);
	(void)snprintf(status, sizeof(status), "%d", ctx->status);
	(void)snprintf(ms, sizeof(ms), "%llu", (unsigned long long)
	    (kore_time_ms() - ctx->req->start));
	wh_log(level, "request", "request_id", ctx->request_id,
	    "method", http_method_text(ctx->req->method),
	    "path", ctx->req->path, "status", status, "duration_ms", ms,
	    "key_id", ctx->who.key_id[0] ? ctx->who.key_id : NULL,
	    "trace_id", tid[0] ? tid : NULL, "span_id", sid[0] ? sid : NULL,
	    NULL);
}

/* Kore frees the request: a ctx still awaiting replies is orphaned. */
static void
ctx_onfree(struct http_request *req)
{
	struct api_ctx	**slot = http_state_get(req);

	if (slot == NULL || *slot == NULL)
		return;
	if ((*slot)->pending > 0)
		(*slot)->req = NULL;
	else
		api_ctx_release(*slot);
	*slot = NULL;
}

static struct api_ctx *
ctx_create(struct http_request *req)
{
	struct api_ctx	**slot, *ctx;
	const char	 *rid;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return (NULL);
	ctx->req = req;
	ctx->started_us = wh_mono_us();
	if (http_request_header(req, "x-request-id", &rid) &&
	    wh_id_valid(rid, strlen(rid)))
		(void)snprintf(ctx->request_id, sizeof(ctx->request_id),
		    "%s", rid);
	else if (wh_id_new("req_", ctx->request_id,
	    sizeof(ctx->request_id)) == -1)
		(void)snprintf(ctx->request_id, sizeof(ctx->request_id),
		    "req_unknown");
	api_tracing_begin(ctx);
	slot = http_state_create(req, sizeof(*slot), ctx_onfree);
	*slot = ctx;
	return (ctx);
}

/*
 * application/json or any application/...+json, parameters (charset)
 * aside; case does not matter (RFC 9110, 8.3.1).
 */
static int
media_is_json(const char *ct)
{
	const char	*end, *slash;
	size_t		 len;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if ((end = strchr(ct, ';')) == NULL)
		end = ct + strlen(ct);
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	len = (size_t)(end - ct);
	if (len == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return (1);
	if ((slash = memchr(ct, '/', len)) == NULL ||
	    (size_t)(slash - ct) != 11 || strncasecmp(ct, "application", 11))
		return (0);
	return (len > 17 && strncasecmp(end - 5, "+json", 5) == 0);
}

/*
 * Headers the api acts on whose repetition leaves the meaning open: which
 * credentials, which media type, which idempotency key. Kore keeps every
 * line and answers the first, so a repeat is refused (400 naming it)
 * rather than resolved one way here and another way by a proxy. Kore
 * takes the first Host line out of the list: any left is a second.
 * (Content-Length is framing, decided by our Kore before the module: two
 * different values are a 400 there, RFC 9112 6.3; equal ones are one.)
 */
static const struct {
	const char	*name;		/* as Kore matches it: any case */
	const char	*shown;		/* as the problem names it */
	int		 max;
} single_headers[] = {
	{ "host",		"Host",			0 },
	{ "authorization",	"Authorization",	1 },
	{ "content-type",	"Content-Type",		1 },
	{ "idempotency-key",	"Idempotency-Key",	1 },
};

/* -1 with a 400 written when a header of single_headers repeats. */
static int
headers_check(struct api_ctx *ctx)
{
	struct http_header	*hdr;
	size_t			 i;
	int			 seen;

	for (i = 0; i < sizeof(single_headers) / sizeof(single_headers[0]);
	    i++) {
		seen = 0;
		TAILQ_FOREACH(hdr, &ctx->req->req_headers, list) {
			if (strcasecmp(hdr->header, single_headers[i].name))
				continue;
			if (++seen > single_headers[i].max)
				return (api_problem(ctx,
				    API_P_DUPLICATE_HEADER, "must appear at "
				    "most once", single_headers[i].shown), -1);
		}
	}
	return (0);
}

/*
 * Before any work: a body over API_BODY_MAX is 413, a body that is not
 * JSON 415 (Kore itself refuses bodies over its http_body_max). Only the
 * methods that carry a body are looked at: Kore refuses a body on the
 * others. -1 with the answer written.
 */
static int
body_check(struct api_ctx *ctx)
{
	struct http_request	*req = ctx->req;
	const char		*ct;
	size_t			 max;

	if (req->method != HTTP_METHOD_POST &&
	    req->method != HTTP_METHOD_PATCH && req->method != HTTP_METHOD_PUT)
		return (0);
	max = ctx->route->body_max ? ctx->route->body_max : API_BODY_MAX;
	if (req->content_length > max)
		return (api_problem(ctx, API_P_BODY_TOO_LARGE,
		    max == API_BODY_MAX ?
		    "The request body is larger than 1 MiB." :
		    "The request body is larger than 5 MiB; send smaller "
		    "batches.", NULL), -1);
	if (req->content_length == 0)
		return (0);
	if (!http_request_header(req, "content-type", &ct) ||
	    !media_is_json(ct))
		return (api_problem(ctx, API_P_UNSUPPORTED_MEDIA_TYPE, "The "
		    "request body must be JSON (Content-Type: "
		    "application/json).", "Content-Type"), -1);
	return (0);
}

/*
 * Run the resource handler. When it has answered and an Idempotency-Key
 * kept that answer, storing it comes first (STAGE_SAVE).
 */
static int
handler_step(struct api_ctx *ctx)
{
	int	r, failed;

	ctx->stage = STAGE_HANDLER;
	if (ctx->redis_failed)
		r = api_problem_redis(ctx);
	else {
		r = ctx->route->handler(ctx);
		if (r == API_WAIT && ctx->pending == 0)
			r = api_problem_redis(ctx);
	}
	if (r == API_WAIT) {
		/* No reply is in yet: the array is free for the next ones. */
		failed = ctx->redis_failed;
		api_ctx_clear_replies(ctx);
		ctx->redis_failed = failed;
		return (API_WAIT);
	}
	api_ctx_clear_replies(ctx);
	ctx->stage = STAGE_SAVE;
	if ((r = api_idem_save(ctx)) == API_NEXT)
		return (API_DONE);
	return (r);
}

/* Authenticated: the Idempotency-Key claim, then the handler. */
static int
authed_step(struct api_ctx *ctx)
{
	int	r;

	if (api_portal_check(ctx) == -1)
		return (API_DONE);
	ctx->stage = STAGE_IDEM;
	if ((r = api_idem_begin(ctx)) != API_NEXT)
		return (r);
	return (handler_step(ctx));
}

/* One step of the machine; API_DONE once a response is written. */
static int
ctx_step(struct api_ctx *ctx)
{
	int	r;

	switch (ctx->stage) {
	case STAGE_ROUTE:
		if (headers_check(ctx) == -1 || route_find(ctx) == -1 ||
		    body_check(ctx) == -1)
			return (API_DONE);
		if (!ctx->route->auth)
			return (handler_step(ctx));
		ctx->stage = STAGE_AUTH;
		if ((r = api_auth_begin(ctx)) != API_NEXT)
			return (r);
		return (authed_step(ctx));
	case STAGE_AUTH:
		if (ctx->redis_failed)
			return (api_problem_redis(ctx));
		if (api_auth_finish(ctx) != 1)
			return (API_DONE);
		return (authed_step(ctx));
	case STAGE_IDEM:
		if (ctx->redis_failed)
			return (api_problem_redis(ctx));
		if ((r = api_idem_check(ctx)) != API_NEXT)
			return (r);
		return (handler_step(ctx));
	case STAGE_HANDLER:
		return (handler_step(ctx));
	default:
		api_idem_flush(ctx);
		return (API_DONE);
	}
}

/* The single Kore handler (api/conf/webhooks.conf routes everything here). */
int
api_http(struct http_request *req)
{
	struct api_ctx	**slot, *ctx;

	if (!http_state_exists(req)) {
		if ((ctx = ctx_create(req)) == NULL) {
			http_response(req, 500, NULL, 0);
			return (KORE_RESULT_OK);
		}
	} else {
		slot = http_state_get(req);
		ctx = *slot;
	}

	if (ctx_step(ctx) == API_WAIT) {
		http_request_sleep(req);
		return (KORE_RESULT_RETRY);
	}
	request_log(ctx);
	api_metrics_request(ctx);
	api_tracing_end(ctx);
	return (KORE_RESULT_OK);
}

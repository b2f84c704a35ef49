/*
 * respond.c: every answer the api writes goes through here, so that all
 * of them carry the request id, the right media type, and land in the
 * request log with their status.
 *
 * Failures are RFC 9457 problem details:
 *   {"type":"/problems/validation-failed","title":"Unprocessable Content",
 *    "status":422,"detail":"...","errors":[{"field":"url","message":"..."}],
 *    "request_id":"req_..."}
 * The type is a relative URI reference, the same on every deployment; a
 * client compares it as a string.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "json.h"
#include "log.h"

static const char *
status_title(int status)
{
	switch (status) {
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 409: return ("Conflict");
	case 413: return ("Content Too Large");
	case 415: return ("Unsupported Media Type");
	case 422: return ("Unprocessable Content");
	case 429: return ("Too Many Requests");
	case 503: return ("Service Unavailable");
	case 504: return ("Gateway Timeout");
	default: return ("Internal Server Error");
	}
}

/*
 * Every kind of error: its type name and status (api.h says what each is
 * for). tests/e2e/api-openapi.test.js reads this table: each name must be
 * in api/openapi.yaml's Problem.type and docs/api.md's table, and nothing else.
 */
static const struct {
	const char	*name;
	int		 status;
} problem_kinds[API_P_KINDS] = {
	[API_P_INVALID_BODY] =		{ "invalid-body", 400 },
	[API_P_BODY_TOO_DEEP] =		{ "body-too-deep", 400 },
	[API_P_INVALID_PARAMETER] =	{ "invalid-parameter", 400 },
	[API_P_INVALID_PAGE_TOKEN] =	{ "invalid-page-token", 400 },
	[API_P_INVALID_HEADER] =	{ "invalid-header", 400 },
	[API_P_DUPLICATE_HEADER] =	{ "duplicate-header", 400 },
	[API_P_UNAUTHORIZED] =		{ "unauthorized", 401 },
	[API_P_ADMIN_KEY_REQUIRED] =	{ "admin-key-required", 403 },
	[API_P_NOT_FOUND] =		{ "not-found", 404 },
	[API_P_NO_SUCH_ROUTE] =		{ "no-such-route", 404 },
	[API_P_METHOD_NOT_ALLOWED] =	{ "method-not-allowed", 405 },
	[API_P_EVENT_SID_CONFLICT] =	{ "event-sid-conflict", 409 },
	[API_P_IDEMPOTENCY_IN_PROGRESS] = { "idempotency-key-in-progress",
					    409 },
	[API_P_LAST_SIGNING_KEY] =	{ "last-signing-key", 409 },
	[API_P_SIGNING_KEY_LIMIT] =	{ "signing-key-limit-reached", 409 },
	[API_P_WEBHOOK_LIMIT] =		{ "webhook-limit-reached", 409 },
	[API_P_WEBHOOK_DISABLED] =	{ "webhook-disabled", 409 },
	[API_P_CONCURRENT_CHANGE] =	{ "concurrent-change", 409 },
	[API_P_BODY_TOO_LARGE] =	{ "body-too-large", 413 },
	[API_P_EVENT_TOO_LARGE] =	{ "event-too-large", 413 },
	[API_P_UNSUPPORTED_MEDIA_TYPE] = { "unsupported-media-type", 415 },
	[API_P_VALIDATION] =		{ "validation-failed", 422 },
	[API_P_IDEMPOTENCY_KEY_REUSED] = { "idempotency-key-reused", 422 },
	[API_P_AUTH_THROTTLED] =	{ "too-many-failed-authentications",
					  429 },
	[API_P_INTERNAL] =		{ "internal-error", 500 },
	[API_P_UNAVAILABLE] =		{ "unavailable", 503 },
	[API_P_NOT_READY] =		{ "not-ready", 503 },
	[API_P_TEST_NOT_SENT] =		{ "test-not-sent", 504 },
	[API_P_READ_ONLY_SESSION] =	{ "read-only-session", 403 },
	[API_P_PORTAL_SESSION_FORBIDDEN] = { "portal-session-forbidden",
					     403 },
};

/* Field names and messages are copied: callers may build them on the fly. */
void
api_errors_add(struct api_errors *e, const char *field, const char *fmt, ...)
{
	va_list	ap;

	if (e->n >= API_ERRORS_MAX)
		return;
	(void)snprintf(e->field[e->n], sizeof(e->field[e->n]), "%s", field);
	va_start(ap, fmt);
	(void)vsnprintf(e->message[e->n], sizeof(e->message[e->n]), fmt, ap);
	va_end(ap);
	e->n++;
}

/*
 * Write the answer, or hand it to the Idempotency-Key machinery, which
 * stores it before it goes out (idempotency.c). type NULL: no body.
 */
/* Errors from index `from` on concern a nested object: "value" becomes
 * "headers[2].value". */
void
api_errors_prefix(struct api_errors *e, size_t from, const char *prefix)
{
	char	field[sizeof(e->field[0])];

	for (; from < e->n; from++) {
		(void)snprintf(field, sizeof(field), "%s%s", prefix,
		    e->field[from]);
		memcpy(e->field[from], field, sizeof(field));
	}
}

static void
respond(struct api_ctx *ctx, int status, const char *type,
    const void *body, size_t len)
{
	ctx->status = status;
	if (api_idem_capture(ctx, status, type, body, len))
		return;
	api_respond_raw(ctx, status, type, body, len);
}

/* Straight to Kore, with the headers every answer carries. */
void
api_respond_raw(struct api_ctx *ctx, int status, const char *type,
    const void *body, size_t len)
{
	struct http_request	*req = ctx->req;

	ctx->status = status;
	if (req == NULL)
		return;
	if (type != NULL)
		http_response_header(req, "content-type", type);
	if (ctx->location[0] != '\0')
		http_response_header(req, "location", ctx->location);
	http_response_header(req, "x-request-id", ctx->request_id);
	/*
	 * Only an answer to GET or HEAD could be reused by a cache: one to
	 * POST needs explicit freshness and a Content-Location for that, and
	 * ones to PUT, PATCH and DELETE never are (RFC 9110 9.3.3-9.3.5,
	 * RFC 5789 2). Elsewhere the header would only cost Kore its copies.
	 */
	if (req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD)
		http_response_header(req, "cache-control", "no-store");
	http_response(req, status, body, len);
}

int
api_json(struct api_ctx *ctx, int status, struct wh_buf *b)
{
	respond(ctx, status, "application/json", b->data, b->len);
	return (API_DONE);
}

int
api_no_content(struct api_ctx *ctx)
{
	respond(ctx, 204, NULL, NULL, 0);
	return (API_DONE);
}

/* The Location of a created resource; kept for an idempotent replay. */
void
api_location(struct api_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(ctx->location, sizeof(ctx->location), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(ctx->location))
		ctx->location[0] = '\0';
}

/*
 * {"<wrapper>": <resource>}: how every single resource is answered; a
 * NULL wrapper answers the resource itself (POST /v1/portal-sessions,
 * whose flat shape is what embedders are told to expect).
 */
int
api_respond_one(struct api_ctx *ctx, int status, const char *wrapper,
    api_render_fn render, const void *rec)
{
	struct wh_buf	b;
	int		rc;

	wh_buf_init(&b, 0);
	if (wrapper == NULL)
		rc = render(&b, rec) == -1;
	else
		rc = wh_buf_appendf(&b, "{\"%s\":", wrapper) == -1 ||
		    render(&b, rec) == -1 || wh_buf_append(&b, "}", 1) == -1;
	if (!rc)
		(void)api_json(ctx, status, &b);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	wh_buf_free(&b);
	return (rc ? api_problem_nomem(ctx) : API_DONE);
}

int
api_problem_errors(struct api_ctx *ctx, enum api_problem_kind kind,
    const char *detail, const struct api_errors *e)
{
	struct wh_buf	b;
	size_t		i;
	int		rc, status;

	if ((unsigned int)kind >= API_P_KINDS)
		kind = API_P_INTERNAL;
	status = problem_kinds[kind].status;
	wh_buf_init(&b, 0);
	rc = wh_buf_appendf(&b, "{\"type\":\"/problems/%s\",\"title\":\"%s\","
	    "\"status\":%d,\"detail\":", problem_kinds[kind].name,
	    status_title(status), status);
	if (rc == 0)
		rc = wh_json_str(&b, detail, strlen(detail));
	if (rc == 0 && e != NULL && e->n > 0) {
		rc = wh_buf_appendstr(&b, ",\"errors\":[");
		for (i = 0; rc == 0 && i < e->n; i++) {
			if (i > 0)
				rc = wh_buf_append(&b, ",", 1);
			if (rc == 0)
				rc = wh_buf_appendstr(&b, "{\"field\":");
			if (rc == 0)
				rc = wh_json_str(&b, e->field[i],
				    strlen(e->field[i]));
			if (rc == 0)
				rc = wh_buf_appendstr(&b, ",\"message\":");
			if (rc == 0)
				rc = wh_json_str(&b, e->message[i],
				    strlen(e->message[i]));
			if (rc == 0)
				rc = wh_buf_append(&b, "}", 1);
		}
		if (rc == 0)
			rc = wh_buf_append(&b, "]", 1);
	}
	if (rc == 0)
		rc = wh_buf_appendf(&b, ",\"request_id\":\"%s\"}",
		    ctx->request_id);
	if (rc == -1) {
		wh_buf_free(&b);
		respond(ctx, 500, "application/problem+json", NULL, 0);
		return (API_DONE);
	}
	if (status == 401 && ctx->req != NULL)
		http_response_header(ctx->req, "www-authenticate",
		    "Basic realm=\"streem-webhooks\"");
	respond(ctx, status, "application/problem+json", b.data, b.len);
	wh_buf_free(&b);
	return (API_DONE);
}

int
api_problem(struct api_ctx *ctx, enum api_problem_kind kind,
    const char *detail, const char *field)
{
	struct api_errors	e;
	char			full[256];

	if (field == NULL)
		return (api_problem_errors(ctx, kind, detail, NULL));
	memset(&e, 0, sizeof(e));
	api_errors_add(&e, field, "%s", detail);
	/* "must be ..." about a field reads "page_size must be ...". */
	if (detail[0] >= 'a' && detail[0] <= 'z') {
		(void)snprintf(full, sizeof(full), "%s %s.", field, detail);
		detail = full;
	}
	return (api_problem_errors(ctx, kind, detail, &e));
}

int
api_problem_redis(struct api_ctx *ctx)
{
	wh_log(WH_LOG_WARN, "redis unavailable for request",
	    "request_id", ctx->request_id, NULL);
	if (ctx->req != NULL)
		http_response_header(ctx->req, "retry-after", "1");
	return (api_problem(ctx, API_P_UNAVAILABLE, "The data store is "
	    "unavailable; retry shortly.", NULL));
}

int
api_problem_nomem(struct api_ctx *ctx)
{
	wh_log(WH_LOG_ERROR, "out of memory", "request_id", ctx->request_id,
	    NULL);
	return (api_problem(ctx, API_P_INTERNAL, "The server ran out of "
	    "memory.", NULL));
}

/*
 * The request body as bytes. Kore keeps it in memory (no disk offload is
 * configured) and rewinds its buffer once complete, so the length is the
 * request's content_length, bounded by what the buffer holds.
 */
void
api_body(struct api_ctx *ctx, const char **p, size_t *len)
{
	struct http_request	*req = ctx->req;

	if (req == NULL || req->http_body == NULL) {
		*p = "";
		*len = 0;
		return;
	}
	*p = (const char *)req->http_body->data;
	*len = req->content_length;
	if (*len > req->http_body->length)
		*len = req->http_body->length;
}

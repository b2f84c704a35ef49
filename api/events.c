/*
 * events.c: POST /v1/events puts one event on the stream wh:{0}:events
 * in the public format of DESIGN.md (plain string fields company_sid,
 * event_type, payload, event_sid, ts), the same shape other services
 * XADD directly.
 *
 * The payload is kept as the publisher's exact JSON text: the body is
 * validated with our own JSON checker (which has no small depth limit)
 * and the payload's raw span is cut out of it, so numbers like
 * 12345678901234567890 reach the receiver digit for digit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "json.h"
#include "keys.h"
#include "timeutil.h"
#include "validate.h"

struct publish_state {
	char		 event_sid[WH_ID_MAX];
	char		 company_sid[WH_ID_MAX];
	char		 event_type[WH_EVENT_TYPE_MAX + 1];
	int64_t		 created_at;
	char		*payload;
	size_t		 payload_len;
};

static void
publish_state_free(void *p)
{
	struct publish_state	*st = p;

	free(st->payload);
	free(st);
}

/*
 * A top-level string member of the body, unescaped into out. Returns 1
 * when present and valid, 0 when absent (an error is added if required),
 * -1 when present but wrong.
 */
static int
member_str(const char *body, size_t len, const char *name, char *out,
    size_t outlen, struct api_errors *e, int required)
{
	struct kore_json	 json;
	const char		*v;
	size_t			 vlen, slen;
	int			 rc = -1;

	if (wh_json_member(body, len, name, &v, &vlen) != 1 ||
	    (vlen == 4 && memcmp(v, "null", 4) == 0)) {
		if (required)
			api_errors_add(e, name, "is required");
		return (0);
	}
	kore_json_init(&json, v, vlen);
	if (!kore_json_parse(&json) ||
	    json.root->type != KORE_JSON_TYPE_STRING) {
		api_errors_add(e, name, "must be a string");
		goto out;
	}
	slen = strlen(json.root->data.string);
	if (slen == 0 || slen >= outlen) {
		api_errors_add(e, name, "must be 1 to %zu characters",
		    outlen - 1);
		goto out;
	}
	memcpy(out, json.root->data.string, slen + 1);
	rc = 1;
out:
	kore_json_cleanup(&json);
	return (rc);
}

/* Validate the body into st; errors say what is wrong. */
static void
publish_parse(struct api_ctx *ctx, const char *body, size_t len,
    struct publish_state *st, struct api_errors *e)
{
	const char	*p, *why;
	size_t		 plen;
	int		 has_company;

	has_company = member_str(body, len, "company_sid", st->company_sid,
	    sizeof(st->company_sid), e, ctx->who.admin);
	if (has_company == 1 && (why = wh_validate_company_sid(
	    st->company_sid, strlen(st->company_sid))) != NULL)
		api_errors_add(e, "company_sid", "%s", why);
	if (!ctx->who.admin) {
		if (has_company == 1 &&
		    strcmp(st->company_sid, ctx->who.company_sid) != 0)
			api_errors_add(e, "company_sid", "this API key acts "
			    "only within its own company");
		(void)snprintf(st->company_sid, sizeof(st->company_sid), "%s",
		    ctx->who.company_sid);
	}

	if (member_str(body, len, "event_type", st->event_type,
	    sizeof(st->event_type), e, 1) == 1 &&
	    (why = wh_validate_event_type(st->event_type,
	    strlen(st->event_type))) != NULL)
		api_errors_add(e, "event_type", "%s", why);

	if (member_str(body, len, "event_sid", st->event_sid,
	    sizeof(st->event_sid), e, 0) == 1 &&
	    !wh_id_valid(st->event_sid, strlen(st->event_sid)))
		api_errors_add(e, "event_sid", "must be 1 to 63 characters of "
		    "A-Z, a-z, 0-9, _ and -");

	if (wh_json_member(body, len, "payload", &p, &plen) != 1)
		api_errors_add(e, "payload", "is required (any JSON value)");
	else if ((st->payload = malloc(plen + 1)) != NULL) {
		memcpy(st->payload, p, plen);
		st->payload[plen] = '\0';
		st->payload_len = plen;
	}
}

static int
publish_respond(struct api_ctx *ctx, struct publish_state *st)
{
	struct wh_buf	b;
	char		ts[WH_RFC3339_LEN + 1];

	wh_buf_init(&b, 0);
	if (wh_rfc3339_ms(st->created_at, ts) == -1 ||
	    wh_buf_appendstr(&b, "{\"event\":{\"event_sid\":") == -1 ||
	    wh_json_str(&b, st->event_sid, strlen(st->event_sid)) == -1 ||
	    wh_buf_appendstr(&b, ",\"company_sid\":") == -1 ||
	    wh_json_str(&b, st->company_sid, strlen(st->company_sid)) == -1 ||
	    wh_buf_appendstr(&b, ",\"event_type\":") == -1 ||
	    wh_json_str(&b, st->event_type, strlen(st->event_type)) == -1 ||
	    wh_buf_appendf(&b, ",\"created_at\":\"%s\",\"payload\":", ts) == -1 ||
	    wh_buf_append(&b, st->payload, st->payload_len) == -1 ||
	    wh_buf_appendstr(&b, "}}") == -1) {
		wh_buf_free(&b);
		return (api_problem_nomem(ctx));
	}
	(void)api_json(ctx, 202, &b);
	wh_buf_free(&b);
	return (API_DONE);
}

int
api_events_publish(struct api_ctx *ctx)
{
	struct publish_state	*st;
	struct api_errors	 e;
	const char		*body, *argv[13];
	size_t			 len, lens[13];
	char			 stream[WH_KEY_MAX], ts[24];

	if (ctx->phase == 1) {
		st = ctx->data;
		if (ctx->nreplies != 1 ||
		    ctx->replies[0]->type != REDIS_REPLY_STRING)
			return (api_problem_redis(ctx));
		return (publish_respond(ctx, st));
	}

	api_body(ctx, &body, &len);
	if (len > api_cfg.event_max)
		return (api_problem(ctx, 413, "The event is larger than "
		    "allowed.", NULL));
	if (!wh_json_valid(body, len) || len == 0 || body[0] != '{')
		return (api_problem(ctx, 400, "The request body must be a "
		    "JSON object.", NULL));
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (api_problem_nomem(ctx));
	ctx->data = st;
	ctx->data_free = publish_state_free;

	memset(&e, 0, sizeof(e));
	publish_parse(ctx, body, len, st, &e);
	if (e.n > 0)
		return (api_problem_errors(ctx, 422, "The event is not valid; "
		    "see errors.", &e));
	if (st->payload == NULL)
		return (api_problem_nomem(ctx));
	if (st->event_sid[0] == '\0' &&
	    wh_id_new("evt_", st->event_sid, sizeof(st->event_sid)) == -1)
		return (api_problem_nomem(ctx));
	st->created_at = wh_now_ms();

	if (wh_key_events(stream, sizeof(stream), api_cfg.prefix) == -1)
		return (api_problem_nomem(ctx));
	(void)snprintf(ts, sizeof(ts), "%lld", (long long)st->created_at);
	argv[0] = "XADD";		lens[0] = 4;
	argv[1] = stream;		lens[1] = strlen(stream);
	argv[2] = "*";			lens[2] = 1;
	argv[3] = "company_sid";	lens[3] = 11;
	argv[4] = st->company_sid;	lens[4] = strlen(st->company_sid);
	argv[5] = "event_type";		lens[5] = 10;
	argv[6] = st->event_type;	lens[6] = strlen(st->event_type);
	argv[7] = "payload";		lens[7] = 7;
	argv[8] = st->payload;		lens[8] = st->payload_len;
	argv[9] = "event_sid";		lens[9] = 9;
	argv[10] = st->event_sid;	lens[10] = strlen(st->event_sid);
	argv[11] = "ts";		lens[11] = 2;
	argv[12] = ts;			lens[12] = strlen(ts);
	ctx->phase = 1;
	(void)api_redis_cmd(ctx, 13, argv, lens);
	return (API_WAIT);
}

/*
 * attempts.c: GET /v1/webhooks/{webhook_sid}/attempts?page_size=&
 * page_token=&status=succeeded|failed&event_type=&since=&until=, a
 * webhook's attempt log (wh:attempts:<sid>, written by the dispatchers),
 * newest first.
 *
 * The log is a stream, so its entry ids are the keyset: a page token
 * holds the id of the last entry the page covered (MACed like every
 * token, bound to the webhook and the filters), and the next page is
 * XREVRANGE from just before it. Entries added or trimmed between two
 * pages never make another one skip or repeat. since and until bound the
 * entry ids (the time an attempt was recorded, within milliseconds of
 * its `at`), so the range is Redis's to cut. With a status or event type
 * filter the log is read in slices until the page is full, the range
 * ends, or SCAN_MAX entries were read; in the last case the page is
 * short and its token resumes after the last entry read (documented: a
 * short page with a token is not the end).
 *
 * The rendering of one line, and of a page of them, is shared with
 * event_attempts.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "json.h"
#include "keys.h"
#include "sign.h"
#include "timeutil.h"
#include "validate.h"

#define SLICE		200	/* entries read at a time when filtering */
#define SCAN_MAX	2000	/* entries one request reads at most */
#define ENTRY_ID_MAX	48

#define STATUS_ALL		0
#define STATUS_SUCCEEDED	1
#define STATUS_FAILED		2

static const char *const	params[] = {
	"page_size", "page_token", "status", "event_type", "since", "until",
	NULL
};

struct att_state {
	struct api_list		  list;
	int			  status;	/* STATUS_* */
	const char		 *event_type;	/* a filter, or NULL */
	int			  scanned;
	char			  from[ENTRY_ID_MAX + 1];	/* "(" id */
	char			  to[24];	/* since ms, or "-" */
	struct api_reply	**kept;		/* the page's entries */
	size_t			  nkept;
	struct api_item		  next;
	char			  next_id[ENTRY_ID_MAX];
	int			  has_next;
};

static void
att_state_free(void *p)
{
	struct att_state	*st = p;

	api_list_free(&st->list);
	api_replies_free(st->kept, st->nkept);
	free(st);
}

/* ,"name":<signed integer>, null when absent or not one. */
static int
json_signed(struct wh_buf *b, const char *name, const struct api_reply *v)
{
	size_t	i;

	if (v == NULL || v->len == 0 || v->len > 18)
		return (wh_buf_appendf(b, ",\"%s\":null", name));
	for (i = v->str[0] == '-' ? 1 : 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return (wh_buf_appendf(b, ",\"%s\":null", name));
	}
	if (v->len == 1 && v->str[0] == '-')
		return (wh_buf_appendf(b, ",\"%s\":null", name));
	return (wh_buf_appendf(b, ",\"%s\":%lld", name,
	    strtoll(v->str, NULL, 10)));
}

/*
 * The event type at the head of a line's `request` (dispatcher/record.c:
 * the type, then a header line after each LF); NULL when it has none.
 */
static const char *
request_type(const struct api_reply *req, size_t *len)
{
	const char	*nl;

	if (req == NULL || req->len == 0)
		return (NULL);
	nl = memchr(req->str, '\n', req->len);
	*len = nl != NULL ? (size_t)(nl - req->str) : req->len;
	return (req->str);
}

/*
 * ,"event_type":"…","request_headers":[{"name","value"}, …] from a
 * line's `request`; both null for a line recorded without one. A header
 * line without ": " (not one the dispatchers write) is left out.
 */
static int
json_request(struct wh_buf *b, const struct api_reply *req)
{
	const char	*p, *end, *nl, *sep, *type;
	size_t		 tlen, n = 0;

	if ((type = request_type(req, &tlen)) == NULL)
		return (wh_buf_appendstr(b, ",\"event_type\":null,"
		    "\"request_headers\":null"));
	if (wh_buf_appendstr(b, ",\"event_type\":") == -1 ||
	    wh_json_str(b, type, tlen) == -1 ||
	    wh_buf_appendstr(b, ",\"request_headers\":[") == -1)
		return (-1);
	end = req->str + req->len;
	for (p = type + tlen; p < end; p = nl) {
		p++;			/* the LF before each line */
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		sep = memchr(p, ':', (size_t)(nl - p));
		if (sep == NULL || sep + 1 >= nl || sep[1] != ' ')
			continue;
		if ((n++ > 0 && wh_buf_append(b, ",", 1) == -1) ||
		    wh_buf_appendstr(b, "{\"name\":") == -1 ||
		    wh_json_str(b, p, (size_t)(sep - p)) == -1 ||
		    wh_buf_appendstr(b, ",\"value\":") == -1 ||
		    wh_json_str(b, sep + 2, (size_t)(nl - sep - 2)) == -1 ||
		    wh_buf_append(b, "}", 1) == -1)
			return (-1);
	}
	return (wh_buf_append(b, "]", 1));
}

/*
 * {"id","webhook_sid","event_sid","event_type","attempt","outcome",
 *  "status","error","latency_ms","at","answer","receiver_date",
 *  "clock_skew_ms","request_headers"} of one log line (a struct
 * api_attempt); receiver_date and clock_skew_ms null when the answer had
 * no Date header.
 */
int
api_render_attempt(struct wh_buf *b, const void *p)
{
	const struct api_attempt	*a = p;
	const struct api_reply		*id = a->entry->elem[0];
	const struct api_reply		*f = a->entry->elem[1];

	if (wh_buf_appendstr(b, "{\"id\":") == -1 ||
	    wh_json_str(b, id->str, id->len) == -1 ||
	    wh_buf_appendstr(b, ",\"webhook_sid\":") == -1 ||
	    wh_json_str(b, a->webhook_sid, strlen(a->webhook_sid)) == -1 ||
	    api_json_text(b, "event_sid", api_entry_field(f, "event_sid"),
	    0) == -1 ||
	    json_request(b, api_entry_field(f, "request")) == -1 ||
	    api_json_count(b, "attempt", api_entry_field(f, "attempt"),
	    0) == -1 ||
	    api_json_text(b, "outcome", api_entry_field(f, "outcome"),
	    0) == -1 ||
	    api_json_count(b, "status", api_entry_field(f, "status"), 1) == -1 ||
	    api_json_text(b, "error", api_entry_field(f, "error"), 1) == -1 ||
	    api_json_count(b, "latency_ms", api_entry_field(f, "latency_ms"),
	    0) == -1 ||
	    api_json_time(b, "at", api_entry_field(f, "at")) == -1 ||
	    api_json_text(b, "answer", api_entry_field(f, "answer"), 0) == -1 ||
	    api_json_text(b, "receiver_date", api_entry_field(f,
	    "receiver_date"), 1) == -1 ||
	    json_signed(b, "clock_skew_ms", api_entry_field(f,
	    "clock_skew_ms")) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/* An [id, fields] entry with a sane id. */
static int
entry_ok(const struct api_reply *e)
{
	return (e->type == REDIS_REPLY_ARRAY && e->nelem == 2 &&
	    e->elem[0]->type == REDIS_REPLY_STRING &&
	    e->elem[0]->len > 0 && e->elem[0]->len < ENTRY_ID_MAX &&
	    wh_id_valid(e->elem[0]->str, e->elem[0]->len) &&
	    e->elem[1]->type == REDIS_REPLY_ARRAY);
}

/* Whether a status or event type filter reads the log in slices. */
static int
filtered(const struct att_state *st)
{
	return (st->status != STATUS_ALL || st->event_type != NULL);
}

/* The line's event type matches st->event_type (exact, "a.*" or "*"). */
static int
type_wanted(const struct att_state *st, const struct api_reply *fields)
{
	const char	*t;
	char		 type[WH_EVENT_TYPE_MAX + 1];
	size_t		 len;

	if (st->event_type == NULL)
		return (1);
	t = request_type(api_entry_field(fields, "request"), &len);
	if (t == NULL || len > WH_EVENT_TYPE_MAX)
		return (0);
	memcpy(type, t, len);
	type[len] = '\0';
	return (wh_event_type_matches(st->event_type, type));
}

static int
wanted(const struct att_state *st, const struct api_reply *e)
{
	const struct api_reply	*o = api_entry_field(e->elem[1], "outcome");

	if (!type_wanted(st, e->elem[1]))
		return (0);
	if (st->status == STATUS_ALL)
		return (1);
	if (o == NULL)
		return (0);
	if (st->status == STATUS_SUCCEEDED)
		return (strcmp(o->str, "succeeded") == 0);
	return (strcmp(o->str, "succeeded") != 0);
}

/* XREVRANGE the log from st->from, n entries. */
static int
read_slice(struct api_ctx *ctx, struct att_state *st)
{
	char		 key[WH_KEY_MAX], count[16];
	const char	*argv[6];
	int		 n;

	n = !filtered(st) ? st->list.page_size + 1 - (int)st->nkept : SLICE;
	(void)snprintf(count, sizeof(count), "%d", n);
	if (wh_key_attempts(key, sizeof(key), api_cfg.prefix,
	    ctx->params[0]) == -1)
		return (-1);
	argv[0] = "XREVRANGE";
	argv[1] = key;
	argv[2] = st->from;
	argv[3] = st->to;
	argv[4] = "COUNT";
	argv[5] = count;
	ctx->phase = 2;
	return (api_redis_cmd(ctx, 6, argv, NULL));
}

/*
 * Take a slice: keep the matching entries (a page and one more tells
 * there is a next page); read on when the slice was full and the page
 * is not, within SCAN_MAX.
 */
static int
take_slice(struct api_ctx *ctx, struct att_state *st)
{
	struct api_reply	*r = ctx->replies[0], *e;
	const char		*last = NULL;
	size_t			 i;

	if (ctx->nreplies != 1 || r->type != REDIS_REPLY_ARRAY)
		return (api_problem_redis(ctx));
	for (i = 0; i < r->nelem; i++) {
		e = r->elem[i];
		if (!entry_ok(e))
			continue;
		last = e->elem[0]->str;
		st->scanned++;
		if (!wanted(st, e))
			continue;
		if (st->nkept == (size_t)st->list.page_size) {
			st->has_next = 1;	/* resumes after the page */
			break;
		}
		/* The reply goes when this step returns: keep the entry. */
		st->kept[st->nkept++] = api_reply_steal(&r->elem[i]);
	}
	if (st->has_next || !filtered(st))
		return (API_NEXT);	/* a page and one more was asked */
	if (last == NULL || r->nelem < SLICE)
		return (API_NEXT);	/* the log ended */
	(void)snprintf(st->from, sizeof(st->from), "(%s", last);
	if (st->scanned >= SCAN_MAX) {
		/* A short page; the token resumes after what was read. */
		(void)snprintf(st->next_id, sizeof(st->next_id), "%s", last);
		st->next.sid = st->next_id;
		st->next.num = api_entry_ms(last);
		st->has_next = 2;
		return (API_NEXT);
	}
	if (read_slice(ctx, st) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/*
 * Answer a page of log lines (entries[i] of webhook hooks[i]) as
 * {"attempts": [...], "next_page_token"}: both attempt lists end here.
 */
int
api_attempts_respond(struct api_ctx *ctx, const struct api_list *list,
    struct api_reply *const *entries, const char *const *hooks, size_t n,
    const struct api_item *next)
{
	struct api_attempt	 *items;
	const void		**recs;
	size_t			  i;
	int			  rc;

	items = calloc(n + 1, sizeof(*items));
	recs = calloc(n + 1, sizeof(*recs));
	if (items == NULL || recs == NULL) {
		free(items);
		free(recs);
		return (api_problem_nomem(ctx));
	}
	for (i = 0; i < n; i++) {
		items[i].entry = entries[i];
		items[i].webhook_sid = hooks[i];
		recs[i] = &items[i];
	}
	rc = api_list_respond(ctx, list, "attempts", api_render_attempt,
	    recs, n, next);
	free(items);
	free(recs);
	return (rc);
}

static int
respond(struct api_ctx *ctx, struct att_state *st)
{
	const struct api_reply	 *id;
	const char		**hooks;
	size_t			  i;
	int			  rc;

	if (st->has_next == 1 && st->nkept > 0) {
		id = st->kept[st->nkept - 1]->elem[0];
		(void)snprintf(st->next_id, sizeof(st->next_id), "%s",
		    id->str);
		st->next.sid = st->next_id;
		st->next.num = api_entry_ms(id->str);
	}
	if ((hooks = calloc(st->nkept + 1, sizeof(*hooks))) == NULL)
		return (api_problem_nomem(ctx));
	for (i = 0; i < st->nkept; i++)
		hooks[i] = ctx->params[0];
	rc = api_attempts_respond(ctx, &st->list, st->kept, hooks, st->nkept,
	    st->has_next ? &st->next : NULL);
	free(hooks);
	return (rc);
}

/* since or until (RFC 3339) into *ms; 0 if absent, -1 with a 400. */
static int
time_param(struct api_ctx *ctx, struct att_state *st, const char *name,
    int64_t *ms)
{
	const char	*v;

	*ms = 0;
	if ((v = api_query_get(&st->list.query, name)) == NULL)
		return (0);
	if (wh_rfc3339_parse(v, strlen(v), ms) == -1 || *ms <= 0) {
		(void)api_problem(ctx, API_P_INVALID_PARAMETER,
		    "must be an RFC 3339 time", name);
		return (-1);
	}
	return (0);
}

/*
 * The filters: event_type, since and until into st (the range's ends,
 * until exclusive), and the page tokens' scope, which binds them all
 * (their SHA-256, as an event type may be long). -1 with a 400 written.
 */
static int
att_filters(struct api_ctx *ctx, struct att_state *st)
{
	struct wh_buf	 b;
	unsigned char	 md[WH_SHA256_LEN];
	char		 hex[2 * 12 + 1];
	const char	*v;
	int64_t		 since, until;
	int		 rc;

	if ((v = api_query_get(&st->list.query, "event_type")) != NULL) {
		if (wh_validate_event_filter(v, strlen(v)) != NULL) {
			(void)api_problem(ctx, API_P_INVALID_PARAMETER,
			    "must be an event type, \"prefix.*\" or \"*\"",
			    "event_type");
			return (-1);
		}
		st->event_type = v;
	}
	if (time_param(ctx, st, "since", &since) == -1 ||
	    time_param(ctx, st, "until", &until) == -1)
		return (-1);
	if (since != 0 && until != 0 && since >= until) {
		(void)api_problem(ctx, API_P_INVALID_PARAMETER,
		    "must be after since", "until");
		return (-1);
	}
	(void)snprintf(st->to, sizeof(st->to), "-");
	if (since != 0)
		(void)snprintf(st->to, sizeof(st->to), "%lld",
		    (long long)since);
	(void)snprintf(st->from, sizeof(st->from), "+");
	if (until != 0)
		(void)snprintf(st->from, sizeof(st->from), "%lld",
		    (long long)until - 1);
	wh_buf_init(&b, 0);
	rc = wh_buf_appendf(&b, "%s\n%lld\n%lld", st->event_type != NULL ?
	    st->event_type : "", (long long)since, (long long)until) == -1 ||
	    wh_sha256(b.data, b.len, md) == -1;
	wh_buf_free(&b);
	if (rc) {
		(void)api_problem_nomem(ctx);
		return (-1);
	}
	(void)wh_hex_encode(md, 12, hex);
	hex[sizeof(hex) - 1] = '\0';
	(void)snprintf(st->list.scope, sizeof(st->list.scope),
	    "attempts/%s/%d/%s", ctx->params[0], st->status, hex);
	return (0);
}

/*
 * page_size, page_token, status and the other filters; the token secret
 * and the webhook.
 */
static int
att_begin(struct api_ctx *ctx, struct att_state *st)
{
	const char	*v;

	if (api_list_parse_with(ctx, &st->list, API_SORT_CREATED,
	    params) == -1)
		return (API_DONE);
	st->list.desc = 1;	/* newest first */
	if ((v = api_query_get(&st->list.query, "status")) != NULL) {
		if (strcmp(v, "succeeded") == 0)
			st->status = STATUS_SUCCEEDED;
		else if (strcmp(v, "failed") == 0)
			st->status = STATUS_FAILED;
		else
			return (api_problem(ctx, API_P_INVALID_PARAMETER,
			    "must be succeeded or failed", "status"));
	}
	if (att_filters(ctx, st) == -1)
		return (API_DONE);
	if ((st->kept = calloc((size_t)st->list.page_size + 1,
	    sizeof(*st->kept))) == NULL)
		return (api_problem_nomem(ctx));
	return (api_webhook_list_begin(ctx, &st->list));
}

int
api_attempts_list(struct api_ctx *ctx)
{
	struct att_state	*st;
	int			 rc;

	if ((st = api_state(ctx, sizeof(*st), att_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		return (att_begin(ctx, st));
	case 1:
		if (api_webhook_list_open(ctx, &st->list, NULL) == -1)
			return (API_DONE);
		if (st->list.after)
			(void)snprintf(st->from, sizeof(st->from), "(%s",
			    st->list.cursor.sid);
		if (read_slice(ctx, st) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if ((rc = take_slice(ctx, st)) != API_NEXT)
			return (rc);
		return (respond(ctx, st));
	}
}

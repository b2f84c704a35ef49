/*
 * events.c: POST /v1/events and POST /v1/events:batch put events on the
 * stream of their company's partition, wh:{p}:events (WH_PARTITIONS;
 * wh:{0}:events with one), in the public format of docs/design.md (plain
 * string fields company_sid, event_type, payload, event_sid, ts, and
 * ordering_key when given), the same shape other services XADD directly.
 *
 * The payload is kept as the publisher's exact JSON text: the body is
 * checked with our own JSON validator (nesting up to WH_JSON_DEPTH_MAX,
 * \uXXXX escapes understood) and the payload's raw span is cut out of it, so
 * numbers like 12345678901234567890 reach the receiver digit for digit.
 *
 * An event that carries the publisher's own event_sid goes through the
 * Lua script common/lua/publish_event.lua (SET NX of
 * wh:idem:<company>:<event_sid> and XADD, atomically): a repeat within
 * IDEM_TTL_S answers 200 with the original event and enqueues nothing;
 * the same event_sid with another event_type or payload is a 409. An
 * event without one gets a fresh sid and a plain XADD.
 *
 * A batch is validated whole first (any invalid item: 422 naming
 * events[i].field, nothing enqueued), then sent as one MULTI/EXEC in one
 * round trip (in a Redis Cluster, one MULTI/EXEC per partition it
 * touches, since a transaction stays in one slot). The script is called by EVALSHA (the connection loads the
 * scripts as it comes up); should Redis forget it meanwhile (SCRIPT
 * FLUSH), a NOSCRIPT answer sends those items again with EVAL, so that a
 * publish does not fail while the connection loads the scripts again.
 * With WH_REDIS_WAIT_REPLICAS, a WAIT follows in the same step (in a
 * cluster, one after each partition's write, so that every master written
 * is waited for) and the 202 waits for them (api_redis_wait_replicas).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "json.h"
#include "keys.h"
#include "scripts.h"
#include "timeutil.h"
#include "trace.h"
#include "validate.h"

#define IDEM_TTL_S	"86400"
#define BATCH_MAX	1000
/* Arguments of the longest command (EVALSHA sha 2 k k ttl + 14 fields). */
#define EVENT_ARGV	20

/* Outcomes of one event. */
#define EV_ADDED	1
#define EV_REPEAT	2	/* its event_sid was seen: the original */
#define EV_CONFLICT	3	/* its event_sid was seen with other content */
#define EV_NOSCRIPT	4	/* send again with EVAL */

struct event_in {
	char		 event_sid[WH_ID_MAX];
	char		 company_sid[WH_ID_MAX];
	char		 event_type[WH_EVENT_TYPE_MAX + 1];
	int		 given_sid;	/* the publisher's: idempotent */
	unsigned	 part;		/* its company's partition */
	const char	*payload;	/* a span of the request body */
	size_t		 payload_len;
	int64_t		 created_at;
	char		 ts[24];
	char		 okey[WH_ORDERING_KEY_MAX + 1]; /* "": none */
	int		 outcome;	/* EV_* */
};

struct publish_state {
	struct event_in	*ev;
	size_t		 n;
};

/* An answer buffer grown past this by a large event is let go. */
#define ANSWER_KEEP	(64 * 1024)

static struct wh_buf	answer;

static void
publish_state_free(void *p)
{
	struct publish_state	*st = p;

	free(st->ev);
	free(st);
}

/* The members of an event object event_read() looks at. */
static const char *const event_members[] = {
	"company_sid", "event_type", "event_sid", "payload", "ordering_key"
};
enum { EM_COMPANY, EM_TYPE, EM_SID, EM_PAYLOAD, EM_OKEY, EM_N };

/*
 * A string member (its raw span v, or NULL when absent), decoded into
 * out. 1 when present and valid, 0 when absent or null (an error is
 * added if required), -1 when present but wrong.
 */
static int
member_str(const char *v, size_t vlen, const char *name, char *out,
    size_t outlen, struct api_errors *e, int required)
{
	int	n;

	if (v == NULL || (vlen == 4 && memcmp(v, "null", 4) == 0)) {
		if (required)
			api_errors_add(e, name, "is required");
		return (0);
	}
	if ((n = wh_json_string(v, vlen, out, outlen)) == -1) {
		api_errors_add(e, name, "must be a string");
		return (-1);
	}
	if (n <= 0) {
		api_errors_add(e, name, "must be 1 to %zu characters",
		    outlen - 1);
		return (-1);
	}
	return (1);
}

/*
 * The members of one event object (found by the caller's walk: v and l
 * per event_members, found -2 when one of them repeats) into ev; what is
 * wrong goes into e, with the bare field names (the batch prefixes them).
 */
static void
event_fields(struct api_ctx *ctx, const char **v, const size_t *l, int found,
    struct event_in *ev, struct api_errors *e)
{
	const char	*why;
	int		 has_company;

	if (found < 0) {
		api_errors_add(e, "", "must be an event object without "
		    "repeated members");
		return;
	}
	has_company = member_str(v[EM_COMPANY], l[EM_COMPANY], "company_sid",
	    ev->company_sid, sizeof(ev->company_sid), e, ctx->who.admin);
	if (has_company == 1 && (why = wh_validate_company_sid(
	    ev->company_sid, strlen(ev->company_sid))) != NULL)
		api_errors_add(e, "company_sid", "%s", why);
	if (!ctx->who.admin) {
		if (has_company == 1 &&
		    strcmp(ev->company_sid, ctx->who.company_sid) != 0)
			api_errors_add(e, "company_sid", "this API key acts "
			    "only within its own company");
		(void)snprintf(ev->company_sid, sizeof(ev->company_sid), "%s",
		    ctx->who.company_sid);
	}

	if (member_str(v[EM_TYPE], l[EM_TYPE], "event_type", ev->event_type,
	    sizeof(ev->event_type), e, 1) == 1 &&
	    (why = wh_validate_event_type(ev->event_type,
	    strlen(ev->event_type))) != NULL)
		api_errors_add(e, "event_type", "%s", why);

	if (member_str(v[EM_SID], l[EM_SID], "event_sid", ev->event_sid,
	    sizeof(ev->event_sid), e, 0) == 1) {
		if (!wh_id_valid(ev->event_sid, strlen(ev->event_sid)))
			api_errors_add(e, "event_sid", "must be 1 to 63 "
			    "characters of A-Z, a-z, 0-9, _ and -");
		ev->given_sid = 1;
	}

	/* 1 to 128 bytes of UTF-8, no U+0000 (docs/ordering.md). */
	(void)member_str(v[EM_OKEY], l[EM_OKEY], "ordering_key", ev->okey,
	    sizeof(ev->okey), e, 0);

	if (v[EM_PAYLOAD] == NULL)
		api_errors_add(e, "payload", "is required (any JSON value)");
	ev->payload = v[EM_PAYLOAD];
	ev->payload_len = l[EM_PAYLOAD];
}

/* One event object of a batch (valid JSON, checked already) into ev. */
static void
event_read(struct api_ctx *ctx, const char *obj, size_t len,
    struct event_in *ev, struct api_errors *e)
{
	const char	*v[EM_N] = { NULL };
	size_t		 l[EM_N] = { 0 };

	event_fields(ctx, v, l, wh_json_members_trusted(obj, len,
	    event_members, EM_N, v, l), ev, e);
}

/* Give ev its sid (unless the publisher did) and its time. */
static int
event_stamp(struct event_in *ev, int64_t now)
{
	if (!ev->given_sid &&
	    wh_id_new("evt_", ev->event_sid, sizeof(ev->event_sid)) == -1)
		return (-1);
	ev->created_at = now;
	ev->part = wh_partition(ev->company_sid, api_cfg.partitions);
	if (now < 0)
		return (-1);
	ev->ts[wh_dec_encode((uint64_t)now, ev->ts)] = '\0';
	return (0);
}

/*
 * The command that publishes ev: XADD, or the script (by SHA, or by text
 * when eval). cmd_quiet sends it inside a MULTI.
 */
static int
event_send(struct api_ctx *ctx, struct event_in *ev, int eval, int quiet)
{
	const char	*argv[EVENT_ARGV], *sha;
	size_t		 lens[EVENT_ARGV];
	char		 idem[WH_KEY_MAX], stream_key[WH_KEY_MAX];
	char		 tp[WH_TRACEPARENT_LEN + 1];
	int		 argc = 0, i;

	if (wh_key_events(stream_key, sizeof(stream_key), api_cfg.prefix,
	    ev->part) == -1)
		return (-1);
	if (!ev->given_sid) {
		argv[argc++] = "XADD";
		argv[argc++] = stream_key;
		argv[argc++] = "*";
	} else {
		if (wh_key_idem(idem, sizeof(idem), api_cfg.prefix,
		    api_cfg.redis.ncluster > 0, ev->part, ev->company_sid,
		    ev->event_sid) == -1)
			return (-1);
		if ((sha = wh_script_sha(wh_lua_publish_event)) == NULL)
			eval = 1;
		argv[argc++] = eval ? "EVAL" : "EVALSHA";
		argv[argc++] = eval ? wh_lua_publish_event : sha;
		argv[argc++] = "2";
		argv[argc++] = idem;
		argv[argc++] = stream_key;
		argv[argc++] = IDEM_TTL_S;
	}
	argv[argc++] = "company_sid";
	argv[argc++] = ev->company_sid;
	argv[argc++] = "event_type";
	argv[argc++] = ev->event_type;
	argv[argc++] = "payload";
	argv[argc++] = ev->payload;
	argv[argc++] = "event_sid";
	argv[argc++] = ev->event_sid;
	argv[argc++] = "ts";
	argv[argc++] = ev->ts;
	if (ev->okey[0] != '\0') {
		argv[argc++] = "ordering_key";
		argv[argc++] = ev->okey;
	}
	/*
	 * The trace context goes with the event to every attempt: this
	 * request's span as the parent when it is recorded, else the
	 * caller's as given (an invalid one is dropped, W3C Trace Context).
	 */
	if (api_tracing_traceparent(ctx, tp) == 0) {
		argv[argc++] = "traceparent";
		argv[argc++] = tp;
	}
	for (i = 0; i < argc; i++)
		lens[i] = argv[i] == ev->payload ? ev->payload_len :
		    strlen(argv[i]);
	if (quiet)
		return (api_redis_cmd_quiet(ctx, argc, argv, lens));
	return (api_redis_cmd(ctx, argc, argv, lens));
}

/*
 * What Redis answered for ev: the XADD's entry id, or the script's
 * {1, id, ts} / {0, ts, event_type, same}. -1 when it makes no sense.
 */
static int
event_outcome(struct event_in *ev, const struct api_reply *r)
{
	const struct api_reply	*ts, *type, *same;
	char			*end;
	long long		 ms;

	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "NOSCRIPT", 8) != 0)
			return (-1);
		ev->outcome = EV_NOSCRIPT;
		return (0);
	}
	if (r->type == REDIS_REPLY_STRING && !ev->given_sid) {
		ev->outcome = EV_ADDED;
		return (0);
	}
	if (r->type != REDIS_REPLY_ARRAY || r->nelem < 3 ||
	    r->elem[0]->type != REDIS_REPLY_INTEGER)
		return (-1);
	if (r->elem[0]->integer == 1) {
		ev->outcome = EV_ADDED;
		return (0);
	}
	if (r->nelem != 4)
		return (-1);
	ts = r->elem[1];
	type = r->elem[2];
	same = r->elem[3];
	if (ts->type != REDIS_REPLY_STRING ||
	    type->type != REDIS_REPLY_STRING ||
	    same->type != REDIS_REPLY_INTEGER)
		return (-1);
	ev->outcome = same->integer == 1 ? EV_REPEAT : EV_CONFLICT;
	ms = strtoll(ts->str, &end, 10);
	if (end != ts->str && *end == '\0' && ms > 0) {
		ev->created_at = ms;
		(void)snprintf(ev->ts, sizeof(ev->ts), "%lld", ms);
	}
	if (type->len > 0 && type->len < sizeof(ev->event_type))
		memcpy(ev->event_type, type->str, type->len + 1);
	return (0);
}

/* ev as JSON members (no braces); the payload only when asked. */
static int
event_render(struct wh_buf *b, const struct event_in *ev, int payload)
{
	char	ts[WH_RFC3339_LEN + 1];

	if (wh_rfc3339_ms(ev->created_at, ts) == -1 ||
	    wh_buf_appendstr(b, "\"event_sid\":") == -1 ||
	    wh_json_str(b, ev->event_sid, strlen(ev->event_sid)) == -1 ||
	    wh_buf_appendstr(b, ",\"company_sid\":") == -1 ||
	    wh_json_str(b, ev->company_sid, strlen(ev->company_sid)) == -1 ||
	    wh_buf_appendstr(b, ",\"event_type\":") == -1 ||
	    wh_json_str(b, ev->event_type, strlen(ev->event_type)) == -1 ||
	    wh_buf_appendstr(b, ",\"created_at\":\"") == -1 ||
	    wh_buf_append(b, ts, WH_RFC3339_LEN) == -1 ||
	    wh_buf_append(b, "\"", 1) == -1)
		return (-1);
	if (!payload)
		return (0);
	if (wh_buf_appendstr(b, ",\"payload\":") == -1 ||
	    wh_buf_append(b, ev->payload, ev->payload_len) == -1)
		return (-1);
	return (0);
}

static int
conflict(struct api_ctx *ctx)
{
	return (api_problem(ctx, API_P_EVENT_SID_CONFLICT, "This event_sid was already published "
	    "(within 24 hours) with another event_type or payload; use a "
	    "new event_sid for a new event.", "event_sid"));
}

/*
 * The answer is built in one buffer per worker, kept between requests:
 * Kore copies the body out (http_response queues a copy, and so does an
 * idempotent capture), and the answer to a 1 KiB payload is past glibc's
 * per-thread cache, where a malloc and free each time cost ~1 % of the
 * worker.
 */
static int
publish_respond(struct api_ctx *ctx, struct event_in *ev)
{
	int	rc = API_DONE;

	api_metrics_events(ev->outcome == EV_ADDED, ev->outcome == EV_REPEAT,
	    ev->outcome == EV_CONFLICT);
	if (ev->outcome == EV_CONFLICT)
		return (conflict(ctx));
	wh_buf_reset(&answer);
	/* The payload and room for the rest (ids, type, time, names). */
	if (wh_buf_reserve(&answer, ev->payload_len + 384) == -1 ||
	    wh_buf_appendstr(&answer, "{\"event\":{") == -1 ||
	    event_render(&answer, ev, 1) == -1 ||
	    wh_buf_appendstr(&answer, "}}") == -1)
		rc = api_problem_nomem(ctx);
	else
		(void)api_json(ctx, ev->outcome == EV_REPEAT ? 200 : 202,
		    &answer);
	if (answer.cap > ANSWER_KEEP)
		wh_buf_free(&answer);
	return (rc);
}

/* The request body as a JSON object; -1 with the answer written. */
static int
body_object(struct api_ctx *ctx, const char **body, size_t *len)
{
	int	rc;

	api_body(ctx, body, len);
	rc = *len == 0 ? WH_JSON_INVALID : wh_json_check(*body, *len);
	if (rc == WH_JSON_DEEP)
		return (api_problem_deep(ctx), -1);
	if (rc != 0)
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body must be a "
		    "JSON object.", NULL), -1);
	while (**body == ' ' || **body == '\t' || **body == '\r' ||
	    **body == '\n') {
		(*body)++;
		(*len)--;
	}
	if (**body != '{')
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body must be a "
		    "JSON object.", NULL), -1);
	return (0);
}

int
api_events_publish(struct api_ctx *ctx)
{
	struct publish_state	*st;
	struct api_errors	 e;
	struct event_in		*ev;
	const char		*body, *v[EM_N] = { NULL };
	size_t			 len, l[EM_N] = { 0 };
	int			 found;

	if ((st = api_state(ctx, sizeof(*st), publish_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase > 0) {
		ev = st->ev;
		if (ctx->nreplies != 1 + api_redis_waits() ||
		    event_outcome(ev, ctx->replies[0]) == -1)
			return (api_problem_redis(ctx));
		if (ev->outcome != EV_NOSCRIPT) {
			if (api_redis_replicated(ctx, ctx->nreplies) == -1)
				return (API_DONE);
			return (publish_respond(ctx, ev));
		}
		if (ctx->phase == 2 || event_send(ctx, ev, 1, 0) == -1 ||
		    api_redis_wait_replicas(ctx) == -1)
			return (api_problem_redis(ctx));
		ctx->phase = 2;
		return (API_WAIT);
	}

	api_body(ctx, &body, &len);
	if (len > api_cfg.event_max)
		return (api_problem(ctx, API_P_EVENT_TOO_LARGE, "The event is larger than "
		    "allowed (WH_EVENT_MAX_BYTES).", NULL));
	/* Checked and read in one walk (the body is most of the work). */
	if ((found = wh_json_members(body, len, event_members, EM_N, v,
	    l)) == WH_JSON_DEEP)
		return (api_problem_deep(ctx));
	if (found == WH_JSON_INVALID)
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body must be a "
		    "JSON object.", NULL));
	if ((st->ev = calloc(1, sizeof(*st->ev))) == NULL)
		return (api_problem_nomem(ctx));
	st->n = 1;
	ev = st->ev;
	memset(&e, 0, sizeof(e));
	event_fields(ctx, v, l, found, ev, &e);
	if (e.n > 0)
		return (api_problem_errors(ctx, API_P_VALIDATION, "The event is not valid; "
		    "see errors.", &e));
	if (event_stamp(ev, wh_now_ms()) == -1)
		return (api_problem_nomem(ctx));
	(void)snprintf(ctx->trace_event_sid, sizeof(ctx->trace_event_sid),
	    "%s", ev->event_sid);
	if (event_send(ctx, ev, 0, 0) == -1 ||
	    api_redis_wait_replicas(ctx) == -1)
		return (api_problem_redis(ctx));
	ctx->phase = 1;
	return (API_WAIT);
}

/*
 * Every event of the batch, checked; e names events[i].field. 0 when all
 * are valid.
 */
static int
batch_read(struct api_ctx *ctx, struct publish_state *st, const char *body,
    size_t len, struct api_errors *e)
{
	static const char *const events_member[] = { "events" };
	const char	*arr, **vals;
	size_t		*lens, i, from;
	char		 prefix[32];
	int		 n, nomem = 0;

	if (wh_json_members_trusted(body, len, events_member, 1, &arr,
	    &len) != 1) {
		api_errors_add(e, "events", "is required (an array of 1 to "
		    "%d events)", BATCH_MAX);
		return (-1);
	}
	vals = calloc(BATCH_MAX, sizeof(*vals));
	lens = calloc(BATCH_MAX, sizeof(*lens));
	if (vals == NULL || lens == NULL) {
		free(vals);
		free(lens);
		return (-2);
	}
	n = wh_json_elements_trusted(arr, len, vals, lens, BATCH_MAX);
	if (n <= 0) {
		api_errors_add(e, "events", "must be an array of 1 to %d "
		    "events", BATCH_MAX);
		goto out;
	}
	if ((st->ev = calloc((size_t)n, sizeof(*st->ev))) == NULL) {
		nomem = 1;
		goto out;
	}
	st->n = (size_t)n;
	for (i = 0; i < st->n && e->n < API_ERRORS_MAX; i++) {
		(void)snprintf(prefix, sizeof(prefix), "events[%zu]", i);
		if (vals[i][0] != '{') {
			api_errors_add(e, prefix, "must be an event object");
			continue;
		}
		if (lens[i] > api_cfg.event_max) {
			api_errors_add(e, prefix, "is larger than %zu bytes "
			    "(WH_EVENT_MAX_BYTES)", api_cfg.event_max);
			continue;
		}
		from = e->n;
		event_read(ctx, vals[i], lens[i], &st->ev[i], e);
		(void)snprintf(prefix, sizeof(prefix), "events[%zu].", i);
		api_errors_prefix(e, from, prefix);
		/* An error about the event itself names "events[i]". */
		for (; from < e->n; from++) {
			if (strcmp(e->field[from], prefix) == 0)
				e->field[from][strlen(prefix) - 1] = '\0';
		}
	}
out:
	free(vals);
	free(lens);
	if (nomem)
		return (-2);
	return (e->n > 0 ? -1 : 0);
}

/*
 * The transaction an event goes in: in a Redis Cluster one per partition
 * (a transaction stays in one slot), on one Redis a single one.
 */
static unsigned
batch_group(const struct event_in *ev)
{
	return (api_cfg.redis.ncluster > 0 ? ev->part : 0);
}

/* Whether ev is sent in this round (the retry round: only NOSCRIPT ones). */
static int
batch_sends(const struct event_in *ev, int retry)
{
	return (!retry || ev->outcome == EV_NOSCRIPT);
}

/*
 * The groups of st sent in this round, in order: g is the next group at
 * or after from that has an event to send; -1 when none is left.
 */
static long
batch_next_group(const struct publish_state *st, int retry, long from)
{
	long	best = -1;
	size_t	i;
	unsigned g;

	for (i = 0; i < st->n; i++) {
		g = batch_group(&st->ev[i]);
		if (!batch_sends(&st->ev[i], retry) || (long)g < from)
			continue;
		if (best == -1 || (long)g < best)
			best = g;
	}
	return (best);
}

/*
 * One MULTI/EXEC per group (see batch_group), each followed by its WAIT:
 * every event (or only those Redis had no script for, again with EVAL).
 * One reply slot a group: EXEC's array (and the WAIT's). The worker's
 * Redis link is shared, so a transaction that cannot be finished is
 * discarded at once: nothing else may land inside it.
 */
static int
batch_send(struct api_ctx *ctx, struct publish_state *st, int retry)
{
	const char	*argv[1];
	size_t		 i;
	long		 g;

	for (g = batch_next_group(st, retry, 0); g != -1;
	    g = batch_next_group(st, retry, g + 1)) {
		argv[0] = "MULTI";
		if (api_redis_cmd_quiet(ctx, 1, argv, NULL) == -1)
			return (-1);
		for (i = 0; i < st->n; i++) {
			if (!batch_sends(&st->ev[i], retry) ||
			    batch_group(&st->ev[i]) != (unsigned)g)
				continue;
			if (event_send(ctx, &st->ev[i], retry, 1) == -1)
				goto discard;
		}
		argv[0] = "EXEC";
		if (api_redis_cmd(ctx, 1, argv, NULL) == -1)
			goto discard;
		if (api_redis_wait_replicas(ctx) == -1)
			return (-1);
	}
	return (0);
discard:
	argv[0] = "DISCARD";
	(void)api_redis_cmd_quiet(ctx, 1, argv, NULL);
	ctx->redis_failed = 1;
	return (-1);
}

/*
 * EXEC's answers, group by group in the order sent, each followed by its
 * WAIT's: *unreplicated is the position of the first WAIT that counted
 * too few replicas (0: none). -1 on anything unexpected.
 */
static int
batch_take(struct api_ctx *ctx, struct publish_state *st, int retry,
    int *again, size_t *unreplicated)
{
	const struct api_reply	*r;
	size_t			 i, k, at = 0;
	long			 g;

	*again = 0;
	*unreplicated = 0;
	if (ctx->redis_failed)
		return (-1);
	for (g = batch_next_group(st, retry, 0); g != -1;
	    g = batch_next_group(st, retry, g + 1)) {
		if (at + 1 + api_redis_waits() > ctx->nreplies)
			return (-1);
		r = ctx->replies[at];
		if (r->type != REDIS_REPLY_ARRAY)
			return (-1);
		k = 0;
		for (i = 0; i < st->n; i++) {
			if (!batch_sends(&st->ev[i], retry) ||
			    batch_group(&st->ev[i]) != (unsigned)g)
				continue;
			if (k >= r->nelem || event_outcome(&st->ev[i],
			    r->elem[k++]) == -1)
				return (-1);
		}
		if (k != r->nelem)
			return (-1);
		at += 1 + api_redis_waits();
		if (api_redis_waits() > 0 && *unreplicated == 0 &&
		    !api_redis_replicas_ok(ctx, at))
			*unreplicated = at;
	}
	for (i = 0; i < st->n; i++) {
		if (batch_sends(&st->ev[i], retry) &&
		    st->ev[i].outcome == EV_NOSCRIPT)
			*again = 1;
	}
	return (at == ctx->nreplies ? 0 : -1);
}

static int
batch_respond(struct api_ctx *ctx, struct publish_state *st)
{
	static const char	*names[] = { "", "accepted", "duplicate",
				    "conflict" };
	struct wh_buf		 b;
	size_t			 i, counts[4] = { 0 };
	int			 rc = 0;

	for (i = 0; i < st->n; i++)
		counts[st->ev[i].outcome]++;
	api_metrics_events(counts[EV_ADDED], counts[EV_REPEAT],
	    counts[EV_CONFLICT]);
	wh_buf_init(&b, 0);
	rc |= wh_buf_appendstr(&b, "{\"events\":[");
	for (i = 0; i < st->n && rc == 0; i++) {
		rc |= wh_buf_appendstr(&b, i ? ",{" : "{");
		rc |= event_render(&b, &st->ev[i], 0);
		rc |= wh_buf_appendf(&b, ",\"status\":\"%s\"}",
		    names[st->ev[i].outcome]);
	}
	rc |= wh_buf_appendf(&b, "],\"accepted\":%zu,\"duplicates\":%zu,"
	    "\"conflicts\":%zu}", counts[EV_ADDED], counts[EV_REPEAT],
	    counts[EV_CONFLICT]);
	if (rc != 0) {
		wh_buf_free(&b);
		return (api_problem_nomem(ctx));
	}
	(void)api_json(ctx, 202, &b);
	wh_buf_free(&b);
	return (API_DONE);
}

int
api_events_batch(struct api_ctx *ctx)
{
	struct publish_state	*st;
	struct api_errors	 e;
	const char		*body;
	size_t			 len, i;
	int64_t			 now;
	size_t			 unreplicated;
	int			 again, rc;

	if ((st = api_state(ctx, sizeof(*st), publish_state_free)) == NULL)
		return (api_problem_nomem(ctx));
	if (ctx->phase > 0) {
		if (batch_take(ctx, st, ctx->phase == 2, &again,
		    &unreplicated) == -1)
			return (api_problem_redis(ctx));
		if (unreplicated > 0 &&
		    api_redis_replicated(ctx, unreplicated) == -1)
			return (API_DONE);
		if (!again)
			return (batch_respond(ctx, st));
		if (ctx->phase == 2 || batch_send(ctx, st, 1) == -1)
			return (api_problem_redis(ctx));
		ctx->phase = 2;
		return (API_WAIT);
	}

	if (body_object(ctx, &body, &len) == -1)
		return (API_DONE);
	memset(&e, 0, sizeof(e));
	if ((rc = batch_read(ctx, st, body, len, &e)) == -2)
		return (api_problem_nomem(ctx));
	if (rc == -1)
		return (api_problem_errors(ctx, API_P_VALIDATION, "The batch is not valid "
		    "(nothing was published); see errors.", &e));
	now = wh_now_ms();
	for (i = 0; i < st->n; i++) {
		if (event_stamp(&st->ev[i], now) == -1)
			return (api_problem_nomem(ctx));
	}
	if (batch_send(ctx, st, 0) == -1)
		return (api_problem_redis(ctx));
	ctx->phase = 1;
	return (API_WAIT);
}

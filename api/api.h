/*
 * api.h: what the files of the Kore module share.
 *
 * A request is served by one state machine (struct api_ctx): route,
 * authenticate, then the resource handler, each step possibly waiting on
 * Redis. Redis replies arrive on the worker's own event loop; the ctx
 * outlives the Kore request if the client goes away while a command is in
 * flight, so a late reply never touches freed memory.
 */
#ifndef WH_API_H
#define WH_API_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "config.h"
#include "ids.h"
#include "endpoint_health.h"
#include "model.h"
#include "redis_wire.h"
#include "sign.h"
#include "trace.h"
#include "validate.h"

#define API_PARAMS_MAX		3
/* A step may pipeline one command per listed item (a page of 100). */
#define API_REPLIES_MAX		128
/* Largest request body of any route (docs/api.md, "Validation"). */
#define API_BODY_MAX		(1024 * 1024)
/* POST /v1/events:batch (up to 1000 events): api/conf allows for it. */
#define API_BATCH_BODY_MAX	(5 * 1024 * 1024)
/* Signing keys one webhook may hold (rotation needs two or three). */
#define API_SIGNING_KEYS_MAX	10
#define API_LOCATION_MAX	160

/* A Redis reply, copied out of the wire (which frees its own on return). */
struct api_reply {
	int			 type;		/* REDIS_REPLY_* */
	long long		 integer;
	char			*str;		/* string, status, error */
	size_t			 len;
	struct api_reply	**elem;
	size_t			 nelem;
};

struct api_principal {
	char		key_id[WH_ID_MAX];
	char		company_sid[WH_ID_MAX];
	int		admin;
	int		portal;		/* a portal session (key_id: its sid) */
	int		read_only;	/* a read-only portal session */
};

struct api_ctx;
struct api_idem;
typedef int	(*api_handler)(struct api_ctx *);

struct api_route {
	int		 method;		/* HTTP_METHOD_* */
	const char	*pattern;		/* "/v1/webhooks/:" */
	api_handler	 handler;
	int		 auth;			/* 1: needs an API key */
	size_t		 body_max;		/* 0: API_BODY_MAX */
};

struct api_ctx {
	struct http_request	*req;		/* NULL once Kore freed it */
	const struct api_route	*route;
	int			 stage;		/* module.c: route, auth, ... */
	struct api_idem		*idem;		/* Idempotency-Key state */
	char			 location[API_LOCATION_MAX];
	char			 params[API_PARAMS_MAX][WH_ID_MAX];
	int			 phase;		/* handler-defined step */
	int			 authed;
	struct api_principal	 who;
	unsigned char		 auth_hash[WH_SHA256_LEN];	/* SHA-256 of the given secret */
	int			 status;	/* of the response, for the log */
	int			 pending;	/* Redis replies awaited */
	int			 redis_failed;	/* a command got no reply */
	struct api_reply	*replies[API_REPLIES_MAX];
	size_t			 nreplies;
	struct kore_timer	*deadline;	/* api_redis_deadline */
	int64_t			 started_us;	/* mono, for metrics */
	void			*data;		/* the handler's own state */
	void			(*data_free)(void *);
	char			 request_id[WH_ID_MAX];
	struct wh_trace		 trace;		/* tracing.c: if traced */
	int			 traced;	/* API_TRACE_* */
	int			 root;		/* the trace began here */
	uint8_t			 span_id[WH_SPAN_ID_LEN]; /* RECORDED */
	char			 trace_event_sid[WH_ID_MAX]; /* for the span */
};

#define API_TRACE_NONE		0	/* no trace context */
#define API_TRACE_GIVEN		1	/* the caller's, not recorded here */
#define API_TRACE_RECORDED	2	/* this request is a span */

/* Handler results. */
#define API_DONE	0	/* a response was written */
#define API_WAIT	1	/* Redis commands were sent; sleep */
#define API_NEXT	2	/* module.c: go on to the next stage now */

extern struct wh_config	api_cfg;
extern struct wh_caps		api_caps;

/* redis.c: our Redis connection on Kore's event loop. */
int	api_redis_start(void);
int	api_redis_ready(void);
const char *api_redis_why(void);
int	api_redis_cmd(struct api_ctx *, int argc, const char **argv,
	    const size_t *lens);
int	api_redis_cmd_quiet(struct api_ctx *, int argc, const char **argv,
	    const size_t *lens);
/*
 * WH_REDIS_WAIT_REPLICAS: after a step's writes, WAIT k 1000 as one more
 * reply of the step (nothing sent when k is 0; api_redis_waits() says
 * how many replies that adds). -1 when it cannot be sent.
 */
int	api_redis_wait_replicas(struct api_ctx *);
size_t	api_redis_waits(void);
/*
 * With WH_REDIS_WAIT_REPLICAS, reply pos (1-based; a WAIT's) of the step
 * counted k replicas: 0 (ok: 1); otherwise the 503 is written and -1
 * returned (ok: 0, nothing written).
 */
int	api_redis_replicated(struct api_ctx *, size_t pos);
int	api_redis_replicas_ok(const struct api_ctx *, size_t pos);
int	api_redis_send(wh_reply_fn *, void *priv, int argc,
	    const char **argv, const size_t *lens);
void	api_redis_deadline(struct api_ctx *, u_int64_t ms);
void	api_ctx_release(struct api_ctx *);
void	api_ctx_clear_replies(struct api_ctx *);
int	api_redis_eval(struct api_ctx *, const char *script, int nkeys,
	    int argc, const char **argv, const size_t *lens);
/*
 * A script given to api_redis_eval_bump INCRs its last two KEYS (the
 * change counters).
 */
int	api_redis_eval_bump(struct api_ctx *, const char *script,
	    const char *company_sid, int nkeys, int argc, const char **argv,
	    const size_t *lens);
void	*api_state(struct api_ctx *, size_t, void (*)(void *));
void	 api_reply_free(struct api_reply *);
void	 api_replies_free(struct api_reply **, size_t);
void	 api_ctx_reply_done(struct api_ctx *);
struct api_reply *api_reply_steal(struct api_reply **);
int	 api_reply_int(struct api_ctx *, long long *);
const struct api_reply *api_xinfo_group(const struct api_reply *,
	    const char *name);

/* respond.c: JSON and RFC 9457 problem answers. */
#define API_ERRORS_MAX	16

/* Field errors gathered while validating one request body. */
struct api_errors {
	size_t		 n;
	char		 field[API_ERRORS_MAX][64];
	char		 message[API_ERRORS_MAX][128];
};

void	api_errors_add(struct api_errors *, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	api_errors_prefix(struct api_errors *, size_t from,
	    const char *prefix);
int	api_json(struct api_ctx *, int status, struct wh_buf *);
int	api_no_content(struct api_ctx *);
void	api_respond_raw(struct api_ctx *, int status, const char *type,
	    const void *body, size_t len);
void	api_location(struct api_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * The kinds of error, each answered with its own problem "type"
 * (/problems/<name>) and status; respond.c's table names them, and
 * api/openapi.yaml and docs/api.md list every one
 * (tests/e2e/api-openapi.test.js holds the three together). A client
 * tells errors apart by type, never by detail: a new kind of error gets a
 * new entry, an entry's name and status never change.
 */
enum api_problem_kind {
	API_P_INVALID_BODY,		/* 400 body is not a JSON object */
	API_P_BODY_TOO_DEEP,		/* 400 nested deeper than the limit */
	API_P_INVALID_PARAMETER,	/* 400 a query parameter */
	API_P_INVALID_PAGE_TOKEN,	/* 400 */
	API_P_INVALID_HEADER,		/* 400 a header's value */
	API_P_DUPLICATE_HEADER,		/* 400 */
	API_P_UNAUTHORIZED,		/* 401 */
	API_P_ADMIN_KEY_REQUIRED,	/* 403 */
	API_P_NOT_FOUND,		/* 404 a resource */
	API_P_NO_SUCH_ROUTE,		/* 404 a path */
	API_P_METHOD_NOT_ALLOWED,	/* 405 */
	API_P_EVENT_SID_CONFLICT,	/* 409 */
	API_P_IDEMPOTENCY_IN_PROGRESS,	/* 409 */
	API_P_LAST_SIGNING_KEY,		/* 409 */
	API_P_SIGNING_KEY_LIMIT,	/* 409 */
	API_P_WEBHOOK_LIMIT,		/* 409 */
	API_P_WEBHOOK_DISABLED,		/* 409 */
	API_P_CONCURRENT_CHANGE,	/* 409 */
	API_P_BODY_TOO_LARGE,		/* 413 */
	API_P_EVENT_TOO_LARGE,		/* 413 */
	API_P_UNSUPPORTED_MEDIA_TYPE,	/* 415 */
	API_P_VALIDATION,		/* 422 fields, named in errors[] */
	API_P_IDEMPOTENCY_KEY_REUSED,	/* 422 */
	API_P_AUTH_THROTTLED,		/* 429 */
	API_P_INTERNAL,			/* 500 */
	API_P_UNAVAILABLE,		/* 503 Redis */
	API_P_NOT_READY,		/* 503 /readyz */
	API_P_TEST_NOT_SENT,		/* 504 ~test */
	API_P_READ_ONLY_SESSION,	/* 403 a change, read-only session */
	API_P_PORTAL_SESSION_FORBIDDEN,	/* 403 a route outside the portal */
	API_P_KINDS
};

int	api_problem(struct api_ctx *, enum api_problem_kind,
	    const char *detail, const char *field);
int	api_problem_errors(struct api_ctx *, enum api_problem_kind,
	    const char *detail, const struct api_errors *);
int	api_problem_redis(struct api_ctx *);
int	api_problem_nomem(struct api_ctx *);
void	api_body(struct api_ctx *, const char **, size_t *);

/* auth.c */
int	api_auth_begin(struct api_ctx *);
int	api_auth_finish(struct api_ctx *);
void	api_auth_forget(const char *key_id);
int	api_company_visible(const struct api_ctx *, const char *company_sid);

/* idempotency.c: Idempotency-Key on POST (module.c drives it). */
int	api_idem_begin(struct api_ctx *);
int	api_idem_check(struct api_ctx *);
int	api_idem_capture(struct api_ctx *, int status, const char *type,
	    const void *body, size_t len);
int	api_idem_save(struct api_ctx *);
void	api_idem_flush(struct api_ctx *);
void	api_idem_free(struct api_idem *);

/* The resource handlers (one file per resource), probes.c, events.c. */
int	api_webhooks_create(struct api_ctx *);
int	api_webhooks_get(struct api_ctx *);
int	api_webhooks_list(struct api_ctx *);
int	api_webhooks_update(struct api_ctx *);
int	api_webhooks_delete(struct api_ctx *);
int	api_signing_keys_create(struct api_ctx *);
int	api_signing_keys_get(struct api_ctx *);
int	api_signing_keys_list(struct api_ctx *);
int	api_signing_keys_update(struct api_ctx *);
int	api_signing_keys_delete(struct api_ctx *);
int	api_api_keys_create(struct api_ctx *);
int	api_api_keys_list(struct api_ctx *);
int	api_api_keys_delete(struct api_ctx *);
int	api_events_publish(struct api_ctx *);
int	api_events_batch(struct api_ctx *);
int	api_healthz(struct api_ctx *);
int	api_readyz(struct api_ctx *);
int	api_metrics(struct api_ctx *);

/* metrics.c: the figures of this api's workers, for GET /metrics. */
struct wh_mset;
int	api_metrics_init(void);
void	api_metrics_start(void);
int	api_metrics_collect(struct wh_mset *);
void	api_metrics_request(struct api_ctx *);
void	api_metrics_events(size_t accepted, size_t duplicates,
	    size_t conflicts);
void	api_metrics_spans(uint64_t exported, uint64_t dropped);

/* tracing.c: the request's server span, exported over OTLP/HTTP. */
void	api_tracing_prepare(void);
void	api_tracing_start(void);
void	api_tracing_begin(struct api_ctx *);
void	api_tracing_end(struct api_ctx *);
/* The traceparent a published event carries on; -1 when none. */
int	api_tracing_traceparent(const struct api_ctx *,
	    char out[WH_TRACEPARENT_LEN + 1]);
/* trace_id and span_id of the request's log lines ("" when none). */
void	api_tracing_log_ids(const struct api_ctx *, char tid[33],
	    char sid[17]);

/* Delivery visibility and control (one file each). */
int	api_attempts_list(struct api_ctx *);		/* attempts.c */
int	api_event_attempts_list(struct api_ctx *);	/* event_attempts.c */
int	api_dead_letters_list(struct api_ctx *);	/* dead_letters.c */
int	api_redeliver(struct api_ctx *);		/* redeliver.c */
int	api_resend(struct api_ctx *);			/* redeliver.c */
int	api_event_get(struct api_ctx *);		/* event_get.c */
/* A body that must say nothing (absent, empty or {}); -1 with 400/422. */
int	api_body_none(struct api_ctx *);		/* redeliver.c */
int	api_recover(struct api_ctx *);			/* recover.c */
int	api_jobs_get(struct api_ctx *);			/* jobs.c */
int	api_webhook_test(struct api_ctx *);		/* test_delivery.c */


/* webhooks.c: the webhook a request names, for the routes below it. */
int	api_webhook_fetch(struct api_ctx *, const char *sid);
int	api_webhook_await(struct api_ctx *);
int	api_webhook_visible(struct api_ctx *, struct api_reply *,
	    struct wh_webhook *);
int	api_webhook_enabled(struct api_ctx *, struct api_reply *,
	    const char *what, char company[WH_ID_MAX]);
int	api_webhook_health_fetch(struct api_ctx *, const char *sid);
int	api_health_take(const struct api_reply *, struct wh_health *);

/* webhook_body.c: a webhook body, for POST and PATCH alike. */
#define API_WB_LABEL		0x01
#define API_WB_URL		0x02
#define API_WB_METHOD		0x04
#define API_WB_TIMEOUT		0x08
#define API_WB_ATTEMPTS		0x10
#define API_WB_ENABLED		0x20
#define API_WB_HEADERS		0x40
#define API_WB_EVENT_TYPES	0x80
#define API_WB_TLS_CERT		0x100
#define API_WB_TLS_CA		0x200
#define API_WB_SCHEDULE		0x400
#define API_WB_FILTER		0x800
#define API_WB_RATE		0x1000
#define API_WB_TRACE		0x2000

struct api_webhook_input {
	struct wh_webhook	 w;		/* the given fields only */
	unsigned int		 given;		/* API_WB_* */
	char			 company[WH_ID_MAX];	/* POST */
};

struct api_obj;
int	api_webhook_parse(struct api_ctx *, struct api_obj *,
	    int create, struct api_webhook_input *, struct api_errors *);
void	api_webhook_apply(struct wh_webhook *, struct api_webhook_input *);
/* webhook_tls.c: tls_client_certificate and tls_ca_pem of a body. */
int	api_webhook_tls_parse(struct api_obj *, int create,
	    struct api_webhook_input *, struct api_errors *);
void	api_webhook_tls_apply(struct wh_webhook *, struct api_webhook_input *);
int	api_render_webhook_tls(struct wh_buf *, const struct wh_webhook *);
/* webhook_control.c: retry_schedule_s, filter, rate_limit (issue 21). */
int	api_webhook_control_parse(struct api_obj *, int create,
	    struct api_webhook_input *, struct api_errors *);
void	api_webhook_control_apply(struct wh_webhook *,
	    struct api_webhook_input *);
int	api_render_webhook_control(struct wh_buf *, const struct wh_webhook *);

/* signing_keys.c: a new key (a generated secret when secret is NULL). */
int	api_signing_key_make(struct wh_signing_key *,
	    const char *webhook_sid, const char *label, const char *secret,
	    int64_t created_at, int64_t expires_at);

/*
 * fields.c: reading request bodies (common/json.c walks, no tree) with
 * field errors.
 */
struct wh_json_member;

/* A member of a body object: its name decoded, its value as raw JSON. */
struct api_member {
	const char	*name;
	const char	*val;
	size_t		 vlen;
	const char	*str;		/* the string value, once decoded */
};

struct api_body;

/* An object of a body: members [first, first + n) of body->mem. */
struct api_obj {
	struct api_body	*body;
	size_t		 first;
	size_t		 n;
};

/* A request body being read (api_body_object .. api_body_verdict). */
struct api_body {
	struct api_member	*mem;	/* of every object read */
	struct wh_json_member	*raw;	/* one object's, as walked */
	size_t			 nmem, cap;
	char			*text;	/* decoded names and strings */
	size_t			 used, size;
	int			 nomem;
	struct api_obj		 root, inner;
};

/* A body field a route accepts; readonly ones are named as such. */
struct api_field_spec {
	const char	*name;
	int		 readonly;
};

struct api_obj	*api_body_object(struct api_ctx *, struct api_body *,
		    const char *wrapper, int empty_ok, struct api_errors *);
int		 api_body_verdict(struct api_ctx *, struct api_body *, int rc,
		    const struct api_errors *, const char *what);
void		 api_body_free(struct api_body *);
int		 api_problem_deep(struct api_ctx *);
void		 api_fields_check(struct api_obj *,
		    const struct api_field_spec *, const char *prefix,
		    struct api_errors *);
int		 api_field_present(struct api_obj *, const char *name);
int		 api_field_time(struct api_obj *, const char *name,
		    struct api_errors *, int64_t *out);
const char	*api_field_str(struct api_obj *, const char *name,
		    struct api_errors *, int required);
int		 api_field_int(struct api_obj *, const char *name,
		    struct api_errors *, long long lo, long long hi,
		    long long def, long long *out);
int		 api_field_bool(struct api_obj *, const char *name,
		    struct api_errors *, int def);
int		 api_field_array(struct api_obj *, const char *name,
		    struct api_errors *, const char **arr, size_t *len);
int		 api_field_object(struct api_obj *, const char *name,
		    struct api_errors *, struct api_obj *);
int		 api_field_json(struct api_obj *, const char *name,
		    const char **val, size_t *len);
int		 api_element_object(struct api_obj *, const char *, size_t,
		    struct api_obj *);
const char	*api_element_str(struct api_obj *, const char *, size_t);

/* An API key as shown (api_keys.c); never its secret's hash. */
struct api_key {
	char		 key_id[WH_ID_MAX];
	char		 company_sid[WH_ID_MAX];	/* "*": admin */
	char		 label[WH_LABEL_MAX + 1];
	int64_t		 created_at;
	const char	*secret;	/* only in the answer that made it */
};

/* query.c: the query string, every parameter (none is ignored). */
#define API_QUERY_MAX		16

struct api_query {
	size_t		 n;
	char		*name[API_QUERY_MAX];
	char		*value[API_QUERY_MAX];
};

int		 api_query_parse(struct api_ctx *,
		    const char *const *allowed, struct api_query *);
const char	*api_query_get(const struct api_query *, const char *name);
void		 api_query_free(struct api_query *);

/* list.c, cursor.c: sorted collections with keyset page tokens. */
#define API_SORT_CREATED	0x01
#define API_SORT_URL		0x02
#define API_SORT_LABEL		0x04
#define API_PAGE_DEFAULT	10
#define API_PAGE_MAX		100

/* One listed thing: its sort value (num, or str when set) and sid. */
struct api_item {
	int64_t		 num;
	const char	*str;
	size_t		 slen;
	const char	*sid;
	const void	*rec;		/* what the render function shows */
};

typedef int	(*api_render_fn)(struct wh_buf *, const void *);

struct api_list {
	int			 page_size;
	int			 field;		/* API_SORT_* */
	int			 desc;
	struct api_query	 query;
	const char		*token;		/* page_token, into query */
	const char		*company;	/* company_sid, into query */
	char			 scope[128];	/* what cursors are bound to */
	int			 nsecret;	/* replies the secret takes */
	int			 after;		/* a cursor was given */
	int			 cut;		/* its value is a prefix */
	struct api_item		 cursor;
	unsigned char		*cursor_buf;
	const struct api_item	**sel;		/* the page, in order */
	size_t			 nsel;
	int			 more;		/* items follow the page */
};

int	api_list_parse(struct api_ctx *, struct api_list *, int sorts,
	    int company_ok);
int	api_list_parse_with(struct api_ctx *, struct api_list *, int sorts,
	    const char *const *allowed);
int	api_list_company(struct api_ctx *, const struct api_list *,
	    int required, const char **);
int	api_list_begin(struct api_ctx *, struct api_list *,
	    const char *index);
int	api_list_open(struct api_ctx *, struct api_list *);
int	api_list_select(struct api_list *, struct api_item *, size_t);
int	api_list_respond(struct api_ctx *, const struct api_list *,
	    const char *name, api_render_fn, const void *const *recs,
	    size_t nrecs, const struct api_item *next);
void	api_list_free(struct api_list *);

/* Sids read from an index, with the end of the page they make. */
struct api_ids {
	char		**sid;
	size_t		  n;
	struct api_item	  last;		/* valid when the list has more */
	char		  last_sid[WH_ID_MAX];
};

int	api_list_ids(struct api_list *, const struct api_reply *, int page,
	    struct api_ids *);
/*
 * webhooks.c: a list below the webhook of the path; company (if not NULL)
 * gets the webhook's company_sid.
 */
int	api_webhook_list_begin(struct api_ctx *, struct api_list *);
int	api_webhook_list_open(struct api_ctx *, struct api_list *,
	    char company[WH_ID_MAX]);
void	api_ids_free(struct api_ids *);

int	api_cursor_fetch(struct api_ctx *);
int	api_cursor_take(struct api_ctx *, size_t at);
int	api_cursor_seal(const struct api_list *, const struct api_item *,
	    struct wh_buf *);
int	api_cursor_open(struct api_list *);

/* render.c: resources as JSON. */
/* A webhook as shown: the record and its endpoint's health. */
struct api_webhook_view {
	const struct wh_webhook	*w;
	struct wh_health	 health;
};

/* A ~recover job (wh:job:<sid>) as stored. */
struct api_job {
	char		 sid[WH_ID_MAX];
	char		 webhook_sid[WH_ID_MAX];
	char		 company_sid[WH_ID_MAX];
	char		 state[16];
	int		 include_all;	/* include "all": kept events, not
					   only dead letters */
	int64_t		 since, until;
	int64_t		 scanned, moved, skipped;
	int64_t		 created_at, updated_at, finished_at;
};

/*
 * Each takes its resource (struct api_webhook_view, wh_signing_key,
 * api_key, api_job).
 */
int	api_render_webhook(struct wh_buf *, const void *);
int	api_render_signing_key(struct wh_buf *, const void *);
int	api_render_api_key(struct wh_buf *, const void *);
int	api_render_job(struct wh_buf *, const void *);
int	api_render_event(struct wh_buf *, const void *);	/* wh_event */
int	api_respond_one(struct api_ctx *, int status, const char *wrapper,
	    api_render_fn, const void *);

/* attempts.c: one attempt log line as shown, by both attempt lists. */
struct api_attempt {
	const struct api_reply	*entry;		/* [id, [field, value...]] */
	const char		*webhook_sid;
};
int	api_render_attempt(struct wh_buf *, const void *);
int	api_attempts_respond(struct api_ctx *, const struct api_list *,
	    struct api_reply *const *entries, const char *const *hooks,
	    size_t n, const struct api_item *next);

/* entry.c: stream entries' fields (attempts, dead letters) as JSON. */
int64_t	api_entry_ms(const char *entry_id);
const struct api_reply *api_entry_field(const struct api_reply *fields,
	    const char *name);
int	api_json_count(struct wh_buf *, const char *name,
	    const struct api_reply *, int zero_null);
int	api_json_text(struct wh_buf *, const char *name,
	    const struct api_reply *, int empty_null);
int	api_json_time(struct wh_buf *, const char *name,
	    const struct api_reply *);

/* redis.c: wait on a Kore timer, counted like a Redis reply awaited. */
int	api_ctx_sleep(struct api_ctx *, u_int64_t ms);

/* portal_sessions.c: the delivery portal's sessions. */
struct api_portal_session {
	char		 sid[WH_ID_MAX];
	char		 company_sid[WH_ID_MAX];
	int		 read_only;
	int64_t		 expires_at;
	const char	*url;		/* only in the answer that made it */
};

int	api_portal_sessions_create(struct api_ctx *);
int	api_portal_sessions_delete(struct api_ctx *);
int	api_portal_check(struct api_ctx *);
int	api_render_portal_session(struct wh_buf *, const void *);
/* stats.c: GET /v1/webhooks/{sid}/stats, the hourly rollup. */
int	api_webhook_stats(struct api_ctx *);
/* portal_static.c: the portal's files under /portal/. */
int	api_portal_static(struct api_ctx *);

#endif

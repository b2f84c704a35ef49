/*
 * redis.c: hiredis' async client driven by Kore's own event loop.
 *
 * Each worker holds one connection. Its socket is registered with Kore's
 * epoll level-triggered (kore_platform_event_schedule), reading always and
 * writing only while hiredis has output queued, so a reply is never left
 * unread and a command never waits for an edge that already passed.
 * Replies are copied out of hiredis into the request's api_ctx, then the
 * request is woken (as Kore's pgsql.c does with http_request_wakeup).
 * A lost connection fails every command in flight (the handlers answer
 * 503) and is re-established with capped backoff.
 */
#include <sys/epoll.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "redis_link.h"
#include "scripts.h"

#define REPLY_DEPTH_MAX		8
#define RECONNECT_MIN_MS	100
#define RECONNECT_MAX_MS	5000
#define API_TYPE_REDIS		100	/* our kore_event type, not Kore's */

struct api_redis {
	struct kore_event	 evt;	/* first: Kore calls evt.handle */
	redisAsyncContext	*ac;
	int			 fd;
	int			 registered;
	int			 want_write;
	int			 ready;
	u_int64_t		 backoff_ms;
};

static struct api_redis	rs;

static void	redis_connect(void);

static void
redis_interest(void)
{
	u_int32_t	ev;

	if (rs.ac == NULL || rs.fd < 0)
		return;
	ev = EPOLLIN | (rs.want_write ? EPOLLOUT : 0);
	kore_platform_event_schedule(rs.fd, ev, 0, &rs);
	rs.registered = 1;
}

static void
ev_add_read(void *arg)
{
	redis_interest();
}

static void
ev_del_read(void *arg)
{
	/* Reading stays on until cleanup: a reply must never sit unread. */
}

static void
ev_add_write(void *arg)
{
	if (!rs.want_write) {
		rs.want_write = 1;
		redis_interest();
	}
}

static void
ev_del_write(void *arg)
{
	if (rs.want_write) {
		rs.want_write = 0;
		redis_interest();
	}
}

/* hiredis is about to close the socket: take it out of epoll first. */
static void
ev_cleanup(void *arg)
{
	if (rs.registered && rs.fd >= 0)
		kore_platform_disable_read(rs.fd);
	rs.registered = 0;
	rs.want_write = 0;
	rs.fd = -1;
}

static void
redis_event(void *arg, int err)
{
	if (rs.ac == NULL) {
		rs.evt.flags = 0;
		return;
	}
	if (rs.evt.flags & KORE_EVENT_WRITE) {
		rs.evt.flags &= ~KORE_EVENT_WRITE;
		redisAsyncHandleWrite(rs.ac);
	}
	/* The write may have failed and freed the context. */
	if (rs.ac != NULL && ((rs.evt.flags & KORE_EVENT_READ) || err)) {
		rs.evt.flags &= ~KORE_EVENT_READ;
		redisAsyncHandleRead(rs.ac);
	}
}

static void
redis_retry_timer(void *arg, u_int64_t now)
{
	redis_connect();
}

static void
redis_schedule_reconnect(void)
{
	rs.backoff_ms = rs.backoff_ms == 0 ? RECONNECT_MIN_MS :
	    rs.backoff_ms * 2;
	if (rs.backoff_ms > RECONNECT_MAX_MS)
		rs.backoff_ms = RECONNECT_MAX_MS;
	kore_timer_add(redis_retry_timer, rs.backoff_ms, NULL, 1);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		wh_log(WH_LOG_WARN, "redis connect failed", "error",
		    ac->errstr, NULL);
		rs.ac = NULL;
		rs.ready = 0;
		redis_schedule_reconnect();
		return;
	}
	rs.ready = 1;
	if (rs.backoff_ms != 0)
		wh_log(WH_LOG_INFO, "redis reconnected", NULL);
	rs.backoff_ms = 0;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	rs.ac = NULL;
	rs.ready = 0;
	wh_log(WH_LOG_WARN, "redis connection lost", "error",
	    status == REDIS_OK ? "closed" : ac->errstr, NULL);
	redis_schedule_reconnect();
}

/* Replies to AUTH and SELECT: a failure there makes the link useless. */
static void
on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		wh_log(WH_LOG_ERROR, "redis setup command refused", "command",
		    (const char *)priv, "error", reply->str, NULL);
		redisAsyncDisconnect(ac);
	}
}

static void
redis_connect(void)
{
	char	err[256];

	if ((rs.ac = wh_redis_open_async(&api_cfg.redis, on_setup_reply, err,
	    sizeof(err))) == NULL) {
		wh_log(WH_LOG_WARN, "redis connect failed", "error", err, NULL);
		redis_schedule_reconnect();
		return;
	}

	rs.fd = rs.ac->c.fd;
	rs.evt.type = API_TYPE_REDIS;
	rs.evt.flags = 0;
	rs.evt.handle = redis_event;
	rs.ac->ev.data = &rs;
	rs.ac->ev.addRead = ev_add_read;
	rs.ac->ev.delRead = ev_del_read;
	rs.ac->ev.addWrite = ev_add_write;
	rs.ac->ev.delWrite = ev_del_write;
	rs.ac->ev.cleanup = ev_cleanup;
	(void)redisAsyncSetConnectCallback(rs.ac, on_connect);
	(void)redisAsyncSetDisconnectCallback(rs.ac, on_disconnect);
	/* The connect completes on the first writable event. */
	ev_add_write(&rs);
}

int
api_redis_start(void)
{
	memset(&rs, 0, sizeof(rs));
	rs.fd = -1;
	redis_connect();
	return (0);
}

int
api_redis_ready(void)
{
	return (rs.ready && rs.ac != NULL);
}

static void
reply_free(struct api_reply *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nelem; i++)
		reply_free(r->elem[i]);
	free(r->elem);
	free(r->str);
	free(r);
}

void
api_reply_free(struct api_reply *r)
{
	reply_free(r);
}

/* n replies kept beyond their step, and their array. */
void
api_replies_free(struct api_reply **r, size_t n)
{
	size_t	i;

	for (i = 0; r != NULL && i < n; i++)
		reply_free(r[i]);
	free(r);
}

/*
 * Take a reply (an element of another, usually) out of its slot, to keep
 * beyond the step: the slot is left NULL, which freeing skips. The
 * caller frees it with api_reply_free().
 */
struct api_reply *
api_reply_steal(struct api_reply **slot)
{
	struct api_reply	*r = *slot;

	*slot = NULL;
	return (r);
}

/* Deep copy of a hiredis reply; NULL on ENOMEM or absurd nesting. */
static struct api_reply *
reply_copy(const redisReply *src, int depth)
{
	struct api_reply	*r;
	size_t			 i;

	if (depth > REPLY_DEPTH_MAX)
		return (NULL);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->type = src->type;
	r->integer = src->integer;
	if (src->str != NULL) {
		if ((r->str = malloc(src->len + 1)) == NULL)
			goto fail;
		memcpy(r->str, src->str, src->len);
		r->str[src->len] = '\0';
		r->len = src->len;
	}
	if (src->type == REDIS_REPLY_ARRAY && src->elements > 0) {
		if ((r->elem = calloc(src->elements, sizeof(*r->elem))) == NULL)
			goto fail;
		for (i = 0; i < src->elements; i++) {
			r->elem[i] = reply_copy(src->element[i], depth + 1);
			if (r->elem[i] == NULL)
				goto fail;
			r->nelem++;
		}
	}
	return (r);
fail:
	reply_free(r);
	return (NULL);
}

void
api_ctx_clear_replies(struct api_ctx *ctx)
{
	size_t	i;

	for (i = 0; i < ctx->nreplies; i++)
		reply_free(ctx->replies[i]);
	ctx->nreplies = 0;
	ctx->redis_failed = 0;
}

void
api_ctx_release(struct api_ctx *ctx)
{
	api_ctx_clear_replies(ctx);
	if (ctx->data_free != NULL && ctx->data != NULL)
		ctx->data_free(ctx->data);
	api_idem_free(ctx->idem);
	wh_buf_free(&ctx->body_text);
	free(ctx);
}

/*
 * One thing the request awaited (a reply, or a timer: sleep.c) came: the
 * last one wakes the request; if Kore freed the request meanwhile, the
 * ctx is ours to free.
 */
void
api_ctx_reply_done(struct api_ctx *ctx)
{
	if (--ctx->pending > 0)
		return;
	if (ctx->req != NULL)
		http_request_wakeup(ctx->req);
	else
		api_ctx_release(ctx);
}

/*
 * Every command's reply lands here, in the order sent. The last one wakes
 * the request; if Kore freed the request meanwhile, the ctx is ours to
 * free.
 */
static void
on_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct api_ctx		*ctx = priv;
	struct api_reply	*copy;

	if (r == NULL) {
		ctx->redis_failed = 1;
	} else if (ctx->nreplies >= API_REPLIES_MAX ||
	    (copy = reply_copy(r, 0)) == NULL) {
		ctx->redis_failed = 1;
	} else {
		ctx->replies[ctx->nreplies++] = copy;
	}
	api_ctx_reply_done(ctx);
}

/* A reply the step does not keep (MULTI's +OK, +QUEUED). */
static void
on_reply_quiet(redisAsyncContext *ac, void *r, void *priv)
{
	struct api_ctx	*ctx = priv;
	redisReply	*reply = r;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		ctx->redis_failed = 1;
	api_ctx_reply_done(ctx);
}

/*
 * api_redis_cmd whose reply is only checked (an error fails the step),
 * not kept: the commands queued inside a MULTI, whose real replies come
 * in EXEC's array, so a transaction of any size takes one reply slot.
 */
int
api_redis_cmd_quiet(struct api_ctx *ctx, int argc, const char **argv,
    const size_t *lens)
{
	if (!api_redis_ready())
		return (-1);
	if (redisAsyncCommandArgv(rs.ac, on_reply_quiet, ctx, argc, argv,
	    lens) != REDIS_OK)
		return (-1);
	ctx->pending++;
	return (0);
}

/*
 * Send one command on behalf of ctx. -1 when Redis is not connected or
 * hiredis refuses; the caller answers 503 (after any earlier commands of
 * the same step have replied: it must still wait if ctx->pending > 0).
 */
int
api_redis_cmd(struct api_ctx *ctx, int argc, const char **argv,
    const size_t *lens)
{
	if (!api_redis_ready())
		return (-1);
	if (redisAsyncCommandArgv(rs.ac, on_reply, ctx, argc, argv,
	    lens) != REDIS_OK)
		return (-1);
	ctx->pending++;
	return (0);
}

/*
 * The step's single reply as an integer (what the Lua scripts answer).
 * -1 with a 503 written when it is anything else.
 */
int
api_reply_int(struct api_ctx *ctx, long long *v)
{
	if (ctx->nreplies != 1 || ctx->replies[0]->type != REDIS_REPLY_INTEGER)
		return (api_problem_redis(ctx), -1);
	*v = ctx->replies[0]->integer;
	return (0);
}

/*
 * The handler's own state, made zeroed on its first step and kept (and
 * freed with free_fn) for the request's life. NULL on ENOMEM.
 */
void *
api_state(struct api_ctx *ctx, size_t size, void (*free_fn)(void *))
{
	if (ctx->data != NULL)
		return (ctx->data);
	if ((ctx->data = calloc(1, size)) == NULL)
		return (NULL);
	ctx->data_free = free_fn;
	return (ctx->data);
}

/*
 * EVAL script with nkeys keys then the other arguments: argv holds the
 * keys first, argc counts keys and arguments (lens may be NULL). The
 * scripts are a few lines each; Redis caches them by their SHA-1.
 */
int
api_redis_eval(struct api_ctx *ctx, const char *script, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	const char	*av[16];
	size_t		 al[16];
	char		 nk[12];
	int		 n;

	if ((n = wh_script_args("EVAL", script, nkeys, argc, argv, lens, av,
	    al, sizeof(av) / sizeof(av[0]), nk)) == -1)
		return (-1);
	return (api_redis_cmd(ctx, n, av, al));
}

/*
 * api_redis_eval for a script that changes a webhook of company: the
 * change counters (wh:company:<sid>:version, wh:webhooks:version) are
 * passed as two more keys after the script's own, for API_LUA_BUMP to
 * INCR in the same atomic step. A dispatcher that reads an event
 * published after our answer therefore sees the counters moved, and
 * refreshes its cached copy of the company's webhooks first.
 */
int
api_redis_eval_bump(struct api_ctx *ctx, const char *script,
    const char *company_sid, int nkeys, int argc, const char **argv,
    const size_t *lens)
{
	const char	*av[14];
	size_t		 al[14];
	char		 kc[WH_KEY_MAX], kg[WH_KEY_MAX];
	int		 i, n = 0;

	if (argc < nkeys || argc + 2 > (int)(sizeof(av) / sizeof(av[0])) ||
	    wh_key_company_version(kc, sizeof(kc), api_cfg.prefix,
	    company_sid) == -1 ||
	    wh_key_webhooks_version(kg, sizeof(kg), api_cfg.prefix) == -1)
		return (-1);
	for (i = 0; i < nkeys; i++, n++) {
		av[n] = argv[i];
		al[n] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	av[n] = kc;
	al[n++] = strlen(kc);
	av[n] = kg;
	al[n++] = strlen(kg);
	for (; i < argc; i++, n++) {
		av[n] = argv[i];
		al[n] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	return (api_redis_eval(ctx, script, nkeys + 2, n, av, al));
}

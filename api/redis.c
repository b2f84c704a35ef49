/*
 * redis.c: our Redis connections (common/redis_conn.c) on Kore's own
 * event loop.
 *
 * Each worker holds one connection for commands (and, with Redis
 * Sentinel, one more to a sentinel that announces failovers). Its socket
 * is registered with Kore's epoll level-triggered
 * (kore_platform_event_schedule), reading always and writing only while
 * commands wait to be written, so a reply is never left unread and a
 * command never waits for an edge that already passed. Replies are
 * copied out of the wire into the request's api_ctx, then the request is
 * woken (as Kore's pgsql.c does with http_request_wakeup). A lost
 * connection fails every command in flight (the handlers answer 503);
 * common/redis_conn.c connects again (through the sentinels, if any),
 * never blocking the worker on Redis. With WH_REDIS_CLUSTER_NODES the
 * commands go through common/redis_cluster.c instead, which keeps one
 * such connection per node (each an api_redis of its own).
 */
#include <sys/epoll.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "redis_cluster.h"
#include "redis_conn.h"
#include "scripts.h"

#define REPLY_DEPTH_MAX		8
#define API_TYPE_REDIS		100	/* our kore_event type, not Kore's */

struct api_redis {
	struct kore_event	 evt;	/* first: Kore calls evt.handle */
	struct wh_conn		 conn;
	struct kore_timer	*timer;
	int			 registered;
};

static struct api_redis	rs;		/* the commands' connection */
static struct api_redis	watch;		/* Sentinel: failover news */
static struct wh_cluster	cluster;	/* WH_REDIS_CLUSTER_NODES */
static struct kore_timer	*cluster_timer;

static void
redis_event(void *arg, int err)
{
	struct api_redis	*r = arg;
	int			 events = 0;

	if (r->evt.flags & KORE_EVENT_WRITE)
		events |= WH_WIRE_EV_WRITE;
	if ((r->evt.flags & KORE_EVENT_READ) || err)
		events |= WH_WIRE_EV_READ;
	r->evt.flags &= ~(KORE_EVENT_READ | KORE_EVENT_WRITE);
	wh_conn_io(&r->conn, events);
}

static void
conn_watch(struct wh_conn *c, int fd, int write)
{
	struct api_redis	*r = c->owner;

	kore_platform_event_schedule(fd, EPOLLIN | (write ? EPOLLOUT : 0), 0,
	    r);
	r->registered = 1;
}

static void
conn_unwatch(struct wh_conn *c, int fd)
{
	struct api_redis	*r = c->owner;

	if (r->registered)
		kore_platform_disable_read(fd);
	r->registered = 0;
	r->evt.flags = 0;
}

static void
conn_timer_fired(void *arg, u_int64_t now)
{
	struct api_redis	*r = arg;

	/* Kore frees a one-shot timer after this callback. */
	r->timer = NULL;
	wh_conn_timer(&r->conn);
}

static void
conn_timer(struct wh_conn *c, int64_t ms)
{
	struct api_redis	*r = c->owner;

	if (r->timer != NULL) {
		kore_timer_remove(r->timer);
		r->timer = NULL;
	}
	if (ms >= 0)
		r->timer = kore_timer_add(conn_timer_fired, (u_int64_t)ms, r,
		    KORE_TIMER_ONESHOT);
}

static const struct wh_conn_ops	conn_ops = {
	conn_watch, conn_unwatch, conn_timer
};

/* The sentinels moved the master: leave the old one now. */
static void
on_switch(struct wh_conn *c)
{
	wh_conn_kick(&rs.conn, NULL);
}

static void
redis_conn_start(struct api_redis *r, const char *name, int kind)
{
	memset(r, 0, sizeof(*r));
	r->evt.type = API_TYPE_REDIS;
	r->evt.handle = redis_event;
	r->conn.name = name;
	r->conn.addr = &api_cfg.redis;
	r->conn.ops = &conn_ops;
	r->conn.kind = kind;
	r->conn.owner = r;
	r->conn.on_switch = on_switch;
	wh_conn_start(&r->conn);
}

/* A connection for one cluster node, on Kore's loop like rs. */
static struct wh_conn *
cluster_conn_new(struct wh_cluster *cl)
{
	struct api_redis	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->evt.type = API_TYPE_REDIS;
	r->evt.handle = redis_event;
	r->conn.ops = &conn_ops;
	r->conn.owner = r;
	return (&r->conn);
}

static void
cluster_timer_fired(void *arg, u_int64_t now)
{
	cluster_timer = NULL;	/* Kore frees a one-shot timer */
	wh_cluster_timer(&cluster);
}

static void
cluster_timer_set(struct wh_cluster *cl, int64_t ms)
{
	if (cluster_timer != NULL) {
		kore_timer_remove(cluster_timer);
		cluster_timer = NULL;
	}
	if (ms >= 0)
		cluster_timer = kore_timer_add(cluster_timer_fired,
		    (u_int64_t)ms, NULL, KORE_TIMER_ONESHOT);
}

static const struct wh_cluster_ops	cluster_ops = {
	cluster_conn_new, cluster_timer_set
};

int
api_redis_start(void)
{
	if (api_cfg.redis.ncluster > 0) {
		cluster.name = "main";
		cluster.addr = &api_cfg.redis;
		cluster.ops = &cluster_ops;
		wh_cluster_start(&cluster);
		return (0);
	}
	redis_conn_start(&rs, "main", WH_CONN_MASTER);
	if (api_cfg.redis.nsentinels > 0)
		redis_conn_start(&watch, "sentinel-watch", WH_CONN_WATCH);
	return (0);
}

int
api_redis_ready(void)
{
	if (api_cfg.redis.ncluster > 0)
		return (cluster.ready);
	return (rs.conn.ready && rs.conn.wire != NULL);
}

/* Why the connection is down ("" if nobody said), for /readyz. */
const char *
api_redis_why(void)
{
	if (api_cfg.redis.ncluster > 0)
		return (cluster.ready ? "" : cluster.why);
	return (rs.conn.why);
}

/*
 * A command of the worker's own (not a request's): cb gets the reply
 * (NULL if the link drops). -1 when Redis is not connected.
 */
int
api_redis_send(wh_reply_fn *cb, void *priv, int argc, const char **argv,
    const size_t *lens)
{
	if (api_cfg.redis.ncluster > 0)
		return (wh_cluster_command(&cluster, cb, priv, argc, argv,
		    lens));
	return (wh_conn_command(&rs.conn, cb, priv, argc, argv, lens));
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

/* The deadline passed with replies still owed: the handler answers. */
static void
deadline_passed(void *arg, u_int64_t now)
{
	struct api_ctx	*ctx = arg;

	/* Kore frees a one-shot timer after this callback. */
	ctx->deadline = NULL;
	if (ctx->req != NULL)
		http_request_wakeup(ctx->req);
}

static void
deadline_cancel(struct api_ctx *ctx)
{
	if (ctx->deadline != NULL) {
		kore_timer_remove(ctx->deadline);
		ctx->deadline = NULL;
	}
}

/*
 * Wake the request after ms even if replies are still owed (the handler
 * sees ctx->pending > 0 and answers without them; late replies are
 * dropped with the ctx). Cancelled when the last reply arrives.
 */
void
api_redis_deadline(struct api_ctx *ctx, u_int64_t ms)
{
	deadline_cancel(ctx);
	ctx->deadline = kore_timer_add(deadline_passed, ms, ctx,
	    KORE_TIMER_ONESHOT);
}

void
api_ctx_release(struct api_ctx *ctx)
{
	deadline_cancel(ctx);
	api_ctx_clear_replies(ctx);
	if (ctx->data_free != NULL && ctx->data != NULL)
		ctx->data_free(ctx->data);
	api_idem_free(ctx->idem);
	free(ctx);
}

/*
 * One thing the request awaited (a reply, or a timer: api_ctx_sleep)
 * came: the last one wakes the request (and cancels its deadline); if
 * Kore freed the request meanwhile, the ctx is ours to free.
 */
void
api_ctx_reply_done(struct api_ctx *ctx)
{
	if (--ctx->pending > 0)
		return;
	deadline_cancel(ctx);
	if (ctx->req != NULL)
		http_request_wakeup(ctx->req);
	else
		api_ctx_release(ctx);
}

static void
sleep_over(void *arg, u_int64_t now)
{
	api_ctx_reply_done(arg);
}

/*
 * Wake the request after ms; -1 if no timer could be set. A request that
 * waits for something other than a Redis reply (the outcome of a ~test,
 * which a dispatcher pushes to a list) polls: it sleeps on a one-shot
 * Kore timer and asks Redis again, the worker never blocked (no BLPOP on
 * the connection all its requests share). The timer counts as one reply
 * awaited (ctx->pending), so module.c sees the handler waiting exactly
 * as for a command in flight, and a request Kore frees meanwhile leaves
 * its ctx to the timer, which frees it, as for replies.
 */
int
api_ctx_sleep(struct api_ctx *ctx, u_int64_t ms)
{
	if (kore_timer_add(sleep_over, ms, ctx, KORE_TIMER_ONESHOT) == NULL)
		return (-1);
	ctx->pending++;
	return (0);
}

/* Every command's reply lands here, in the order sent. */
static void
on_reply(struct wh_wire *w, void *r, void *priv)
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
on_reply_quiet(struct wh_wire *w, void *r, void *priv)
{
	struct api_ctx	*ctx = priv;
	redisReply	*reply = r;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		ctx->redis_failed = 1;
	api_ctx_reply_done(ctx);
}

/* Send for ctx: its reply is counted in ctx->pending. */
static int
cmd_send(struct api_ctx *ctx, wh_reply_fn *fn, int argc,
    const char **argv, const size_t *lens)
{
	if (api_redis_send(fn, ctx, argc, argv, lens) == -1)
		return (-1);
	ctx->pending++;
	return (0);
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
	return (cmd_send(ctx, on_reply_quiet, argc, argv, lens));
}

/*
 * Send one command on behalf of ctx. -1 when Redis is not connected or
 * the wire refuses; the caller answers 503 (after any earlier commands of
 * the same step have replied: it must still wait if ctx->pending > 0).
 */
int
api_redis_cmd(struct api_ctx *ctx, int argc, const char **argv,
    const size_t *lens)
{
	return (cmd_send(ctx, on_reply, argc, argv, lens));
}

size_t
api_redis_waits(void)
{
	return (api_cfg.wait_replicas > 0 ? 1 : 0);
}

/*
 * Redis replicates asynchronously: a master that dies right after
 * answering takes the write with it. WAIT holds this worker's link
 * until k replicas have everything written on it (1 s at most); in a
 * cluster it goes to the node of the command just before it.
 */
int
api_redis_wait_replicas(struct api_ctx *ctx)
{
	const char	*argv[3];
	char		 k[WH_WAIT_NUM];

	if (api_cfg.wait_replicas == 0)
		return (0);
	wh_redis_wait_argv(argv, k, api_cfg.wait_replicas);
	return (api_redis_cmd(ctx, 3, argv, NULL));
}

int
api_redis_replicas_ok(const struct api_ctx *ctx, size_t pos)
{
	const struct api_reply	*r;

	if (api_cfg.wait_replicas == 0)
		return (1);
	r = pos > 0 && pos <= ctx->nreplies ? ctx->replies[pos - 1] : NULL;
	return (r != NULL && r->type == REDIS_REPLY_INTEGER &&
	    r->integer >= api_cfg.wait_replicas);
}

int
api_redis_replicated(struct api_ctx *ctx, size_t pos)
{
	const struct api_reply	*r;
	char			 n[24];

	if (api_redis_replicas_ok(ctx, pos))
		return (0);
	r = pos > 0 && pos <= ctx->nreplies ? ctx->replies[pos - 1] : NULL;
	(void)snprintf(n, sizeof(n), "%lld", r != NULL &&
	    r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
	wh_log(WH_LOG_WARN, "fewer replicas than WH_REDIS_WAIT_REPLICAS "
	    "confirmed a write", "request_id", ctx->request_id, "replicas", n,
	    NULL);
	if (ctx->req != NULL)
		http_response_header(ctx->req, "retry-after", "1");
	(void)api_problem(ctx, API_P_UNAVAILABLE, "Fewer Redis replicas than "
	    "required (WH_REDIS_WAIT_REPLICAS) confirmed the write in time; it "
	    "may still be queued: retry (with the same event_sid, a retry is "
	    "safe).", NULL);
	return (-1);
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
 * The entry of group name in an XINFO GROUPS reply (each group a flat
 * field, value array), or NULL when the reply does not list it.
 */
const struct api_reply *
api_xinfo_group(const struct api_reply *r, const char *name)
{
	const struct api_reply	*g;
	size_t			 i, j;

	if (r->type != REDIS_REPLY_ARRAY)
		return (NULL);
	for (i = 0; i < r->nelem; i++) {
		g = r->elem[i];
		for (j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->nelem;
		    j += 2) {
			if (g->elem[j]->str != NULL &&
			    strcmp(g->elem[j]->str, "name") == 0) {
				if (g->elem[j + 1]->str != NULL &&
				    strcmp(g->elem[j + 1]->str, name) == 0)
					return (g);
				break;
			}
		}
	}
	return (NULL);
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
 * EVALSHA of an embedded script (wh_lua_<name>) with nkeys keys then the
 * other arguments: argv holds the keys first, argc counts keys and
 * arguments (lens may be NULL). The connection loaded every script as it
 * came up (common/redis_conn.c); should Redis have forgotten them since
 * (SCRIPT FLUSH), this call gets the NOSCRIPT error (the handler answers
 * 503, which a client retries) and the connection loads them again.
 */
int
api_redis_eval(struct api_ctx *ctx, const char *script, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	struct wh_script_argv	a;
	int			rc;

	if (wh_script_argv(&a, script, nkeys, argc, argv, lens) == -1)
		return (-1);
	rc = api_redis_cmd(ctx, a.n, a.av, a.al);
	wh_script_argv_free(&a);
	return (rc);
}

/*
 * api_redis_eval for a script that changes a webhook of company: the
 * change counters (wh:company:<sid>:version, wh:webhooks:version) are
 * passed as two more keys after the script's own, for the script to
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

/*
 * redis_conn.c: the life of one asynchronous Redis connection (see
 * redis_conn.h): down, asking a sentinel, connecting, up; and back down
 * when the link drops, a timeout passes or the server turns out to be a
 * replica.
 *
 * Every step that opens a new hiredis context runs from the connection's
 * timer, never from inside a callback of the old context, so that the
 * old one has been freed (and its socket taken out of the loop) first.
 * A context this file gave up on may still call back while hiredis frees
 * it; callbacks compare the context with c->ac and ignore stale ones.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "redis_conn.h"
#include "redis_link.h"
#include "timeutil.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
/* A sentinel has this long to accept the connection and answer. */
#define ASK_TIMEOUT_MS		1000
/* A server has this long to accept the connection. */
#define CONNECT_TIMEOUT_MS	3000
/* A link up this long before it dropped starts the backoff afresh. */
#define STABLE_MS		1000
#define SWITCH_CHANNEL		"+switch-master"

static void	conn_open(struct wh_conn *);

/* hiredis' own reply builders, wrapped to see every error reply. */
static redisReplyObjectFunctions	*plain_fns;
static redisReplyObjectFunctions	 checked_fns;

static void
retry_later(struct wh_conn *c)
{
	if (c->stopping)
		return;
	c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    c->backoff_ms * 2;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->ops->timer(c, c->backoff_ms);
}

/*
 * Called by the reply parser for every string, status and error, nested
 * ones (inside EXEC's array) too. A READONLY error means we talk to a
 * replica: the connection is left from its timer (not from inside the
 * parser) and the caller still gets its error reply.
 */
static void *
create_string(const redisReadTask *task, char *str, size_t len)
{
	struct wh_conn	*c = task->privdata;

	if (c != NULL && task->type == REDIS_REPLY_ERROR && !c->kicked &&
	    wh_redis_wrong_master(str, len))
		wh_conn_kick(c, "the server answered READONLY: it is a replica");
	return (plain_fns->createString(task, str, len));
}

void
wh_conn_watch_reader(struct wh_conn *c, redisReader *r)
{
	if (plain_fns == NULL) {
		plain_fns = r->fn;
		checked_fns = *plain_fns;
		checked_fns.createString = create_string;
	}
	r->fn = &checked_fns;
	(void)redisReaderSetPrivdata(r, c);
}

/* Asking sentinel c->sentinel failed: the next one now, or later. */
static void
ask_failed(struct wh_conn *c, const char *why)
{
	const struct wh_sentinel	*s = &c->addr->sentinels[c->sentinel];
	char				 port[16];

	(void)snprintf(port, sizeof(port), "%d", s->port);
	wh_log(WH_LOG_WARN, "sentinel did not name the master", "conn",
	    c->name, "sentinel", s->host, "port", port, "error", why, NULL);
	c->state = WH_CONN_DOWN;
	c->sentinel = (c->sentinel + 1) % c->addr->nsentinels;
	if (++c->tries < c->addr->nsentinels) {
		c->ops->timer(c, 0);
		return;
	}
	c->tries = 0;
	retry_later(c);
}

/*
 * The connection is gone (or never came up): try again after a pause,
 * which keeps growing while links drop as soon as they are made (a
 * refused AUTH, a replica named as master).
 */
static void
went_down(struct wh_conn *c, int was_up, const char *why)
{
	if (was_up && wh_mono_ms() - c->up_since >= STABLE_MS)
		c->backoff_ms = 0;
	c->ac = NULL;
	c->ready = 0;
	c->state = WH_CONN_DOWN;
	c->resolved = 0;
	if (c->kind == WH_CONN_WATCH)
		c->sentinel = (c->sentinel + 1) % c->addr->nsentinels;
	if (!c->stopping && !c->kicked)
		wh_log(WH_LOG_WARN, was_up ? "redis connection lost" :
		    "redis connect failed", "conn", c->name, "error", why, NULL);
	c->kicked = 0;
	if (was_up && c->on_down != NULL)
		c->on_down(c);
	retry_later(c);
}

/* hiredis is freeing the current context: what next depends on why. */
static void
context_gone(struct wh_conn *c, int was_up, const char *why)
{
	c->ac = NULL;
	if (c->state == WH_CONN_ASKING)
		ask_failed(c, why);
	else
		went_down(c, was_up, why);
}

/* Give up on the context in progress (timeout, bad answer, stop). */
static void
drop_context(struct wh_conn *c)
{
	redisAsyncContext	*ac = c->ac;

	/* Its callbacks, run while it is freed, see it is stale. */
	c->ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);
}

static void
on_setup(redisAsyncContext *ac, void *r, void *priv)
{
	struct wh_conn	*c = ac->data;
	redisReply	*reply = r;

	/* Before the conn is attached (a failed open) there is none. */
	if (c == NULL || ac != c->ac || reply == NULL ||
	    reply->type != REDIS_REPLY_ERROR)
		return;
	wh_log(WH_LOG_ERROR, "redis setup command refused", "conn", c->name,
	    "command", (const char *)priv, "error", reply->str, NULL);
	wh_conn_kick(c, NULL);
}

/* The sentinel's answer: where the master is. */
static void
on_master(redisAsyncContext *ac, void *r, void *priv)
{
	struct wh_conn	*c = ac->data;
	redisReply	*reply = r;
	char		 err[256];

	/* NULL: the link failed; on_connect or on_disconnect say why. */
	if (ac != c->ac || reply == NULL)
		return;
	c->master = *c->addr;
	if (reply->type == REDIS_REPLY_ERROR)
		(void)snprintf(err, sizeof(err), "%s", reply->str);
	else if (wh_sentinel_master(reply, &c->master, err,
	    sizeof(err)) == 0) {
		drop_context(c);
		c->resolved = 1;
		c->tries = 0;
		c->state = WH_CONN_DOWN;
		c->ops->timer(c, 0);
		return;
	}
	drop_context(c);
	ask_failed(c, err);
}

static void
on_role(redisAsyncContext *ac, void *r, void *priv)
{
	struct wh_conn	*c = ac->data;

	if (ac != c->ac || r == NULL || wh_redis_is_master(r))
		return;
	wh_conn_kick(c, "the server the sentinels named is not a master");
}

/*
 * WATCH: a +switch-master message ("<name> <old ip> <old port> <new ip>
 * <new port>") about our master tells the owner to reconnect.
 */
static void
on_message(redisAsyncContext *ac, void *r, void *priv)
{
	struct wh_conn	*c = ac->data;
	redisReply	*reply = r;
	const char	*text;
	size_t		 n;

	if (ac != c->ac || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0 ||
	    reply->element[2]->type != REDIS_REPLY_STRING)
		return;
	text = reply->element[2]->str;
	n = strlen(c->addr->master_name);
	if (strncmp(text, c->addr->master_name, n) != 0 || text[n] != ' ')
		return;
	wh_log(WH_LOG_INFO, "sentinel reports a new master", "conn", c->name,
	    "switch", text, NULL);
	if (c->on_switch != NULL)
		c->on_switch(c);
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext	*ac = (redisAsyncContext *)cac;
	struct wh_conn		*c = ac->data;
	const char		*argv[2];

	if (ac != c->ac)
		return;
	if (status != REDIS_OK) {
		context_gone(c, 0, ac->errstr);
		return;
	}
	if (c->state == WH_CONN_ASKING)
		return;		/* the answer (or the timer) comes next */
	c->ops->timer(c, -1);
	c->state = WH_CONN_UP;
	c->ready = 1;
	if (c->backoff_ms != 0)
		wh_log(WH_LOG_INFO, "redis reconnected", "conn", c->name, NULL);
	c->up_since = wh_mono_ms();
	c->tries = 0;
	if (c->kind == WH_CONN_WATCH) {
		argv[0] = "SUBSCRIBE";
		argv[1] = SWITCH_CHANNEL;
		if (redisAsyncCommandArgv(ac, on_message, NULL, 2, argv,
		    NULL) != REDIS_OK)
			wh_conn_kick(c, "cannot subscribe");
		return;
	}
	argv[0] = "ROLE";
	if (c->addr->nsentinels > 0 && redisAsyncCommandArgv(ac, on_role, NULL,
	    1, argv, NULL) != REDIS_OK)
		wh_conn_kick(c, "cannot check the role");
	if (c->on_up != NULL)
		c->on_up(c);
}

static void
on_disconnect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext	*ac = (redisAsyncContext *)cac;
	struct wh_conn		*c = ac->data;

	if (ac != c->ac)
		return;
	context_gone(c, 1, status == REDIS_OK ? "closed" : ac->errstr);
}

/*
 * hiredis' event hooks: the socket is watched for reading always and for
 * writing only while hiredis has output queued, so a reply is never left
 * unread and a command never waits for an edge that already passed.
 * hiredis asks for reading again after every read and write; only a
 * change reaches the program's loop (each is an epoll_ctl, two in Kore's
 * kore_platform_event_schedule: 0.42 per published event before, 0.21).
 */
static void
hook_add_read(void *arg)
{
	struct wh_conn	*c = arg;

	if (c->fd < 0 || c->watched == c->want_write)
		return;
	c->ops->watch(c, c->fd, c->want_write);
	c->watched = c->want_write;
}

static void
hook_del_read(void *arg)
{
	/* Reading stays on until cleanup: a reply must never sit unread. */
}

static void
hook_add_write(void *arg)
{
	struct wh_conn	*c = arg;

	if (!c->want_write) {
		c->want_write = 1;
		hook_add_read(c);
	}
}

static void
hook_del_write(void *arg)
{
	struct wh_conn	*c = arg;

	if (c->want_write) {
		c->want_write = 0;
		hook_add_read(c);
	}
}

/* hiredis is about to close the socket: out of the loop first. */
static void
hook_cleanup(void *arg)
{
	struct wh_conn	*c = arg;

	if (c->fd >= 0)
		c->ops->unwatch(c, c->fd);
	c->fd = -1;
	c->want_write = 0;
	c->watched = -1;
}

/* Hook a new context up: ours in ac->data, the program's loop, checks. */
static void
conn_attach(struct wh_conn *c, redisAsyncContext *ac)
{
	c->ac = ac;
	c->fd = ac->c.fd;
	c->want_write = 0;
	c->watched = -1;
	ac->data = c;
	ac->ev.data = c;
	ac->ev.addRead = hook_add_read;
	ac->ev.delRead = hook_del_read;
	ac->ev.addWrite = hook_add_write;
	ac->ev.delWrite = hook_del_write;
	ac->ev.cleanup = hook_cleanup;
	wh_conn_watch_reader(c, ac->c.reader);
	(void)redisAsyncSetConnectCallback(ac, on_connect);
	(void)redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* The connect completes on the first writable event. */
	hook_add_write(c);
}

static void
conn_ask(struct wh_conn *c)
{
	redisAsyncContext	*ac;
	const char		*argv[3];
	char			 err[256];

	if ((ac = wh_sentinel_open_async(c->addr, c->sentinel, on_setup, err,
	    sizeof(err))) == NULL) {
		ask_failed(c, err);
		return;
	}
	c->state = WH_CONN_ASKING;
	conn_attach(c, ac);
	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = c->addr->master_name;
	if (redisAsyncCommandArgv(ac, on_master, NULL, 3, argv, NULL) !=
	    REDIS_OK) {
		drop_context(c);
		ask_failed(c, "cannot queue the question");
		return;
	}
	c->ops->timer(c, ASK_TIMEOUT_MS);
}

static void
conn_open(struct wh_conn *c)
{
	redisAsyncContext	*ac;
	char			 err[256];

	if (c->stopping)
		return;
	if (c->kind == WH_CONN_MASTER && c->addr->nsentinels > 0 &&
	    !c->resolved) {
		conn_ask(c);
		return;
	}
	c->resolved = 0;	/* the next connect asks again */
	if (c->kind == WH_CONN_WATCH)
		ac = wh_sentinel_open_async(c->addr, c->sentinel, on_setup, err,
		    sizeof(err));
	else
		ac = wh_redis_open_async(c->addr->nsentinels > 0 ? &c->master :
		    c->addr, on_setup, err, sizeof(err));
	if (ac == NULL) {
		went_down(c, 0, err);
		return;
	}
	c->state = WH_CONN_CONNECTING;
	conn_attach(c, ac);
	c->ops->timer(c, CONNECT_TIMEOUT_MS);
}

void
wh_conn_start(struct wh_conn *c)
{
	c->ac = NULL;
	c->fd = -1;
	c->want_write = 0;
	c->watched = -1;
	c->state = WH_CONN_DOWN;
	c->ready = c->stopping = c->kicked = c->resolved = 0;
	c->backoff_ms = 0;
	c->sentinel = c->tries = 0;
	conn_open(c);
}

void
wh_conn_stop(struct wh_conn *c)
{
	c->stopping = 1;
	c->ops->timer(c, -1);
	if (c->ac == NULL)
		return;
	if (c->state == WH_CONN_UP)
		redisAsyncDisconnect(c->ac);
	else
		drop_context(c);
}

void
wh_conn_kick(struct wh_conn *c, const char *why)
{
	if (c->kicked || c->stopping)
		return;
	/* Not connected: the next connect asks the sentinels anyway. */
	if (c->state == WH_CONN_DOWN)
		c->resolved = 0;
	if (c->state != WH_CONN_UP && c->state != WH_CONN_CONNECTING)
		return;
	if (why != NULL)
		wh_log(WH_LOG_WARN, "leaving this redis server", "conn",
		    c->name, "reason", why, NULL);
	c->kicked = 1;
	c->ops->timer(c, 0);
}

void
wh_conn_timer(struct wh_conn *c)
{
	switch (c->state) {
	case WH_CONN_DOWN:
		conn_open(c);
		break;
	case WH_CONN_ASKING:
		drop_context(c);
		ask_failed(c, "no answer in time");
		break;
	case WH_CONN_CONNECTING:
		drop_context(c);
		went_down(c, 0, "connect timed out");
		break;
	case WH_CONN_UP:
		if (c->kicked && c->ac != NULL) {
			/* Pending callbacks get NULL; on_disconnect follows. */
			redisAsyncFree(c->ac);
		}
		break;
	}
}

/*
 * rconn.c: hiredis' async client on loop.c. The socket is watched for
 * reading always and for writing only while hiredis has output queued
 * (its addWrite/delWrite hooks), level-triggered. When the link drops,
 * hiredis fails every callback in flight with a NULL reply, and we
 * reconnect after a backoff; the owner's on_up runs again so it can
 * resume (re-create the consumer group, read again).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "redis_link.h"
#include "rconn.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

static void	rconn_connect(struct rconn *);

static void
on_io(int fd, int what, void *arg)
{
	struct rconn	*c = arg;

	if (c->ac != NULL && (what & LOOP_WRITE))
		redisAsyncHandleWrite(c->ac);
	if (c->ac != NULL && (what & LOOP_READ))
		redisAsyncHandleRead(c->ac);
}

static void
set_interest(struct rconn *c)
{
	if (c->ac == NULL || c->fd < 0)
		return;
	if (loop_watch(c->fd, LOOP_READ | (c->want_write ? LOOP_WRITE : 0),
	    on_io, c) == -1)
		wh_log(WH_LOG_ERROR, "epoll refused the redis socket",
		    "conn", c->name, NULL);
}

static void
ev_add_read(void *arg)
{
	set_interest(arg);
}

static void
ev_del_read(void *arg)
{
}

static void
ev_add_write(void *arg)
{
	struct rconn	*c = arg;

	if (!c->want_write) {
		c->want_write = 1;
		set_interest(c);
	}
}

static void
ev_del_write(void *arg)
{
	struct rconn	*c = arg;

	if (c->want_write) {
		c->want_write = 0;
		set_interest(c);
	}
}

static void
ev_cleanup(void *arg)
{
	struct rconn	*c = arg;

	if (c->fd >= 0)
		(void)loop_watch(c->fd, 0, NULL, NULL);
	c->fd = -1;
	c->want_write = 0;
}

static void
retry_cb(void *arg)
{
	rconn_connect(arg);
}

static void
schedule_retry(struct rconn *c)
{
	if (c->stopping)
		return;
	c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    c->backoff_ms * 2;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	loop_timer_arm(&c->retry, c->backoff_ms);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn	*c = ac->ev.data;

	if (status != REDIS_OK) {
		wh_log(WH_LOG_WARN, "redis connect failed", "conn", c->name,
		    "error", ac->errstr, NULL);
		c->ac = NULL;
		c->ready = 0;
		schedule_retry(c);
		return;
	}
	if (c->backoff_ms != 0)
		wh_log(WH_LOG_INFO, "redis reconnected", "conn", c->name, NULL);
	c->backoff_ms = 0;
	c->ready = 1;
	if (c->on_up != NULL)
		c->on_up(c);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn	*c = ac->ev.data;

	c->ac = NULL;
	c->ready = 0;
	if (!c->stopping)
		wh_log(WH_LOG_WARN, "redis connection lost", "conn", c->name,
		    "error", status == REDIS_OK ? "closed" : ac->errstr, NULL);
	if (c->on_down != NULL)
		c->on_down(c);
	schedule_retry(c);
}

static void
on_setup(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;
	struct rconn	*c = ac->ev.data;

	/* Before the hooks are set (a failed open), there is no rconn. */
	if (c != NULL && reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		wh_log(WH_LOG_ERROR, "redis setup refused", "conn", c->name,
		    "command", (const char *)priv, "error", reply->str, NULL);
		redisAsyncDisconnect(ac);
	}
}

static void
rconn_connect(struct rconn *c)
{
	char	err[256];

	if ((c->ac = wh_redis_open_async(c->addr, on_setup, err,
	    sizeof(err))) == NULL) {
		wh_log(WH_LOG_WARN, "redis connect failed", "conn", c->name,
		    "error", err, NULL);
		schedule_retry(c);
		return;
	}
	c->fd = c->ac->c.fd;
	c->want_write = 0;
	c->ac->ev.data = c;
	c->ac->ev.addRead = ev_add_read;
	c->ac->ev.delRead = ev_del_read;
	c->ac->ev.addWrite = ev_add_write;
	c->ac->ev.delWrite = ev_del_write;
	c->ac->ev.cleanup = ev_cleanup;
	(void)redisAsyncSetConnectCallback(c->ac, on_connect);
	(void)redisAsyncSetDisconnectCallback(c->ac, on_disconnect);
	/* The connect completes on the first writable event. */
	ev_add_write(c);
}

int
rconn_start(struct rconn *c, const char *name, const struct wh_redis_addr *a,
    void (*on_up)(struct rconn *), void (*on_down)(struct rconn *))
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->addr = a;
	c->fd = -1;
	c->on_up = on_up;
	c->on_down = on_down;
	loop_timer_init(&c->retry, retry_cb, c);
	rconn_connect(c);
	return (0);
}

void
rconn_stop(struct rconn *c)
{
	c->stopping = 1;
	loop_timer_disarm(&c->retry);
	if (c->ac != NULL)
		redisAsyncDisconnect(c->ac);
}

int
rconn_cmd(struct rconn *c, redisCallbackFn *cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	if (!c->ready || c->ac == NULL)
		return (-1);
	if (redisAsyncCommandArgv(c->ac, cb, priv, argc, argv, lens) !=
	    REDIS_OK)
		return (-1);
	return (0);
}

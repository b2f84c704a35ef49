/*
 * rconn.c: our Redis connection (common/redis_conn.c) on loop.c (epoll,
 * level-triggered, the interest common/redis_conn.c asks for). The
 * connection's life (reconnecting with backoff, finding the master
 * through Sentinel) is common/redis_conn.c's; when the link drops, every
 * callback in flight gets a NULL reply, and the owner's on_up runs again
 * once it is back so it can resume (re-create the consumer group, read
 * again).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rconn.h"

static void
on_io(int fd, int what, void *arg)
{
	struct rconn	*c = arg;

	wh_conn_io(&c->conn, ((what & LOOP_WRITE) ? WH_WIRE_EV_WRITE : 0) |
	    ((what & LOOP_READ) ? WH_WIRE_EV_READ : 0));
}

static void
conn_watch(struct wh_conn *wc, int fd, int write)
{
	if (loop_watch(fd, LOOP_READ | (write ? LOOP_WRITE : 0), on_io,
	    wc->owner) == -1)
		wh_log(WH_LOG_ERROR, "epoll refused the redis socket",
		    "conn", wc->name, NULL);
}

static void
conn_unwatch(struct wh_conn *wc, int fd)
{
	(void)loop_watch(fd, 0, NULL, NULL);
}

static void
conn_timer(struct wh_conn *wc, int64_t ms)
{
	struct rconn	*c = wc->owner;

	if (ms < 0)
		loop_timer_disarm(&c->timer);
	else
		loop_timer_arm(&c->timer, ms);
}

static void
timer_fired(void *arg)
{
	struct rconn	*c = arg;

	wh_conn_timer(&c->conn);
}

static const struct wh_conn_ops	conn_ops = {
	conn_watch, conn_unwatch, conn_timer
};

static void
conn_up(struct wh_conn *wc)
{
	struct rconn	*c = wc->owner;

	if (c->on_up != NULL)
		c->on_up(c);
}

static void
conn_down(struct wh_conn *wc)
{
	struct rconn	*c = wc->owner;

	if (c->on_down != NULL)
		c->on_down(c);
}

static void
conn_switch(struct wh_conn *wc)
{
	struct rconn	*c = wc->owner;

	if (c->on_switch != NULL)
		c->on_switch(c);
}

static void
start(struct rconn *c, const char *name, int kind,
    const struct wh_redis_addr *a)
{
	c->conn.name = name;
	c->conn.addr = a;
	c->conn.ops = &conn_ops;
	c->conn.kind = kind;
	c->conn.owner = c;
	c->conn.on_up = conn_up;
	c->conn.on_down = conn_down;
	c->conn.on_switch = conn_switch;
	loop_timer_init(&c->timer, timer_fired, c);
	wh_conn_start(&c->conn);
}

int
rconn_start(struct rconn *c, const char *name, const struct wh_redis_addr *a,
    void (*on_up)(struct rconn *), void (*on_down)(struct rconn *))
{
	memset(c, 0, sizeof(*c));
	c->on_up = on_up;
	c->on_down = on_down;
	start(c, name, WH_CONN_MASTER, a);
	return (0);
}

int
rconn_watch(struct rconn *c, const struct wh_redis_addr *a,
    void (*on_switch)(struct rconn *))
{
	memset(c, 0, sizeof(*c));
	c->on_switch = on_switch;
	start(c, "sentinel-watch", WH_CONN_WATCH, a);
	return (0);
}

void
rconn_stop(struct rconn *c)
{
	wh_conn_stop(&c->conn);
}

void
rconn_kick(struct rconn *c)
{
	wh_conn_kick(&c->conn, NULL);
}

int
rconn_cmd(struct rconn *c, wh_reply_fn *cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	return (wh_conn_command(&c->conn, cb, priv, argc, argv, lens));
}

int
rconn_script(struct rconn *c, const char *text, wh_reply_fn *cb, void *priv,
    int nkeys, int argc, const char **argv, const size_t *lens)
{
	return (wh_conn_script(&c->conn, cb, priv, text, nkeys, argc, argv,
	    lens));
}

/*
 * rconn.c: our Redis connection (common/redis_conn.c) on loop.c (epoll,
 * level-triggered, the interest common/redis_conn.c asks for). The
 * connection's life (reconnecting with backoff, finding the master
 * through Sentinel) is common/redis_conn.c's; when the link drops, every
 * callback in flight gets a NULL reply, and the owner's on_up runs again
 * once it is back so it can resume (re-create the consumer group, read
 * again). With WH_REDIS_CLUSTER_NODES, common/redis_cluster.c stands in
 * for the one connection: the hooks run when the slot map is first
 * known, when a node's link drops, and when it is back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "scripts.h"

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

/* A connection for one cluster node, on the same loop hooks. */
static struct wh_conn *
cluster_conn_new(struct wh_cluster *cl)
{
	struct rconn	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	n->conn.ops = &conn_ops;
	n->conn.owner = n;
	loop_timer_init(&n->timer, timer_fired, n);
	return (&n->conn);
}

static void
cluster_timer(struct wh_cluster *cl, int64_t ms)
{
	struct rconn	*c = cl->owner;

	if (ms < 0)
		loop_timer_disarm(&c->cl_timer);
	else
		loop_timer_arm(&c->cl_timer, ms);
}

static void
cluster_timer_fired(void *arg)
{
	struct rconn	*c = arg;

	wh_cluster_timer(c->cl);
}

static const struct wh_cluster_ops	cluster_ops = {
	cluster_conn_new, cluster_timer
};

static void
cluster_up(struct wh_cluster *cl)
{
	struct rconn	*c = cl->owner;

	c->conn.ready = 1;
	if (c->on_up != NULL)
		c->on_up(c);
}

static void
cluster_down(struct wh_cluster *cl)
{
	struct rconn	*c = cl->owner;

	if (c->on_down != NULL)
		c->on_down(c);
}

static int
cluster_start(struct rconn *c, const char *name,
    const struct wh_redis_addr *a)
{
	if ((c->cl = calloc(1, sizeof(*c->cl))) == NULL)
		return (-1);
	c->conn.name = name;
	c->cl->name = name;
	c->cl->addr = a;
	c->cl->ops = &cluster_ops;
	c->cl->owner = c;
	c->cl->on_up = cluster_up;
	c->cl->on_down = cluster_down;
	loop_timer_init(&c->cl_timer, cluster_timer_fired, c);
	wh_cluster_start(c->cl);
	return (0);
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
	if (a->ncluster > 0)
		return (cluster_start(c, name, a));
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
	if (c->cl != NULL) {
		c->conn.ready = 0;
		wh_cluster_stop(c->cl);
		return;
	}
	wh_conn_stop(&c->conn);
}

size_t
rconn_owed(const struct rconn *c)
{
	if (c->cl != NULL)
		return (wh_cluster_owed(c->cl));
	return (wh_conn_owed(&c->conn));
}

void
rconn_kick(struct rconn *c)
{
	if (c->cl == NULL)
		wh_conn_kick(&c->conn, NULL);
}

int
rconn_cmd(struct rconn *c, wh_reply_fn *cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	if (c->cl != NULL)
		return (wh_cluster_command(c->cl, cb, priv, argc, argv, lens));
	return (wh_conn_command(&c->conn, cb, priv, argc, argv, lens));
}

int
rconn_script(struct rconn *c, const char *text, wh_reply_fn *cb, void *priv,
    int nkeys, int argc, const char **argv, const size_t *lens)
{
	struct wh_script_argv	a;
	int			rc;

	if (c->cl == NULL)
		return (wh_conn_script(&c->conn, cb, priv, text, nkeys, argc,
		    argv, lens));
	/* A cluster routes the EVALSHA by its first key (cluster_map.c). */
	if (wh_script_argv(&a, text, nkeys, argc, argv, lens) == -1)
		return (-1);
	rc = wh_cluster_command(c->cl, cb, priv, a.n, a.av, a.al);
	wh_script_argv_free(&a);
	return (rc);
}

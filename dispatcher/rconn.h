/*
 * rconn.h: one asynchronous Redis connection on the dispatcher's loop,
 * reconnecting by itself (common/redis_conn.c: backoff, Sentinel).
 */
#ifndef WH_RCONN_H
#define WH_RCONN_H

#include <hiredis/hiredis.h>

#include "config.h"
#include "loop.h"
#include "redis_cluster.h"
#include "redis_conn.h"

struct rconn {
	/*
	 * conn.ready: commands may go. With WH_REDIS_CLUSTER_NODES, conn is
	 * not connected: cl routes the commands over one connection per
	 * node (each a struct rconn of its own), and conn.ready says that
	 * the slot map is known.
	 */
	struct wh_conn		 conn;
	struct loop_timer	 timer;
	struct wh_cluster	*cl;
	struct loop_timer	 cl_timer;
	/* Called each time the link is (re)established and set up. */
	void			(*on_up)(struct rconn *);
	void			(*on_down)(struct rconn *);
	/* A watch: the sentinels announced a new master. */
	void			(*on_switch)(struct rconn *);
};

int	rconn_start(struct rconn *, const char *name,
	    const struct wh_redis_addr *, void (*on_up)(struct rconn *),
	    void (*on_down)(struct rconn *));
/* With Sentinel: subscribe to a sentinel's failover announcements. */
int	rconn_watch(struct rconn *, const struct wh_redis_addr *,
	    void (*on_switch)(struct rconn *));
void	rconn_stop(struct rconn *);
/* Replies still owed. */
size_t	rconn_owed(const struct rconn *);
/* Leave the server now and connect again (to the master of the hour). */
void	rconn_kick(struct rconn *);
/* 0 when queued (cb will run, with NULL if the link drops), -1 if down. */
int	rconn_cmd(struct rconn *, wh_reply_fn *, void *priv, int argc,
	    const char **argv, const size_t *lens);
/*
 * The same for EVALSHA of an embedded script (wh_lua_<name>, common/lua/)
 * with nkeys keys, then the arguments (argv holds the keys first; argc
 * counts both; lens may be NULL). The connection loads the scripts as it
 * comes up and after a NOSCRIPT answer (common/redis_conn.c); a call that
 * met NOSCRIPT fails like any Redis error (its entry is claimed again
 * later: at least once, never lost).
 */
int	rconn_script(struct rconn *, const char *text, wh_reply_fn *,
	    void *priv, int nkeys, int argc, const char **argv,
	    const size_t *lens);

#endif

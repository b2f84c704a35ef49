/*
 * rconn.h: one asynchronous Redis connection on the dispatcher's loop,
 * reconnecting by itself with capped backoff.
 */
#ifndef WH_RCONN_H
#define WH_RCONN_H

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "config.h"
#include "loop.h"

struct rconn {
	const char		*name;
	const struct wh_redis_addr *addr;
	redisAsyncContext	*ac;
	int			 fd;
	int			 want_write;
	int			 ready;
	int			 stopping;
	int64_t			 backoff_ms;
	struct loop_timer	 retry;
	/* Called each time the link is (re)established and set up. */
	void			(*on_up)(struct rconn *);
	void			(*on_down)(struct rconn *);
};

int	rconn_start(struct rconn *, const char *name,
	    const struct wh_redis_addr *, void (*on_up)(struct rconn *),
	    void (*on_down)(struct rconn *));
void	rconn_stop(struct rconn *);
/* 0 when queued (cb will run, with NULL if the link drops), -1 if down. */
int	rconn_cmd(struct rconn *, redisCallbackFn *, void *priv, int argc,
	    const char **argv, const size_t *lens);

#endif

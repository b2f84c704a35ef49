/*
 * redis_link.h: opening a Redis connection the way WH_REDIS_URL says
 * (TCP or unix socket, AUTH with or without a user, SELECT), shared by
 * the api launcher, the api workers and the dispatcher.
 */
#ifndef WH_REDIS_LINK_H
#define WH_REDIS_LINK_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "config.h"

/*
 * Blocking connect, AUTH, SELECT and PING, each bounded by timeout_s.
 * NULL with the reason in err on any failure.
 */
redisContext	*wh_redis_open_sync(const struct wh_redis_addr *, int timeout_s,
		    char *err, size_t errlen);

/*
 * Non-blocking connect; AUTH and SELECT are queued first so they run
 * before any command of the caller. on_setup gets their replies (priv is
 * the command name). NULL with the reason in err if hiredis refuses.
 */
redisAsyncContext *wh_redis_open_async(const struct wh_redis_addr *,
		    redisCallbackFn *on_setup, char *err, size_t errlen);

/* One blocking command; NULL (reason in err) on failure or error reply. */
redisReply	*wh_redis_run(redisContext *, char *err, size_t errlen, int argc,
		    const char **argv);

/* "host:port" or the socket path, for log lines (never the password). */
void		 wh_redis_where(const struct wh_redis_addr *, char *out,
		    size_t len);

#endif

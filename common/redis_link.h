/*
 * redis_link.h: opening a Redis connection the way WH_REDIS_URL says
 * (TCP, TLS or unix socket, AUTH with or without a user, SELECT), or through
 * Redis Sentinel (WH_REDIS_SENTINELS), shared by the api launcher, the
 * api workers and the dispatcher.
 */
#ifndef WH_REDIS_LINK_H
#define WH_REDIS_LINK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "redis_wire.h"

/*
 * Blocking connect, AUTH, SELECT and PING, each bounded by timeout_s
 * (as is each later wh_redis_run on the wire; wh_wire_free closes it).
 * With sentinels, the master is asked of each in turn (1 s each) and
 * must answer ROLE as a master. NULL with the reason in err on failure.
 */
struct wh_wire	*wh_redis_open_sync(const struct wh_redis_addr *,
		    int timeout_s, char *err, size_t errlen);

/*
 * Non-blocking connect to addr's host and port (never its sentinels);
 * AUTH and SELECT are queued first so they run before any command of
 * the caller. on_setup gets their replies (priv is the command name).
 * NULL with the reason in err if the connect failed at once.
 */
struct wh_wire	*wh_redis_open_async(const struct wh_redis_addr *,
		    wh_reply_fn *on_setup, char *err, size_t errlen);

/* The same to sentinel i of addr, with its AUTH (sentinel password). */
struct wh_wire	*wh_sentinel_open_async(const struct wh_redis_addr *,
		    size_t i, wh_reply_fn *on_setup, char *err, size_t errlen);
/* AUTH for a sentinel into argv (2 slots); its argc, 0 if none. */
int		 wh_sentinel_auth_argv(const struct wh_redis_addr *,
		    const char **argv);
/*
 * The reply to SENTINEL get-master-addr-by-name into m's host and port.
 * -1 with the reason in err (an unknown name, a malformed answer).
 */
int		 wh_sentinel_master(const redisReply *, struct wh_redis_addr *m,
		    char *err, size_t errlen);
/* 1 if a ROLE reply says master. */
int		 wh_redis_is_master(const redisReply *);
/* 1 if an error reply means "not the master" (READONLY). */
int		 wh_redis_wrong_master(const char *error, size_t len);

/*
 * A program's first look at Redis, the same in each: wh_redis_open_sync,
 * or one log line ("cannot reach Redis", where and why) and exit status
 * 1. The caller frees the wire (wh_wire_free).
 */
struct wh_wire	*wh_redis_reach(const struct wh_redis_addr *, int timeout_s);

/* One blocking command; NULL (reason in err) on failure or error reply. */
redisReply	*wh_redis_run(struct wh_wire *, char *err, size_t errlen,
		    int argc, const char **argv);
/* The same with lengths (lens may be NULL), any reply (errors too). */
redisReply	*wh_redis_call(struct wh_wire *, char *err, size_t errlen,
		    int argc, const char **argv, const size_t *lens);

/*
 * The same for EVALSHA of an embedded script (wh_lua_<name>), loading it
 * first should Redis not know it (wh_redis_call's arguments after the
 * script's).
 */
redisReply	*wh_redis_script(struct wh_wire *, char *err, size_t errlen,
		    const char *text, int nkeys, int argc, const char **argv,
		    const size_t *lens);

/*
 * In a Redis Cluster (w opened with WH_REDIS_CLUSTER_NODES): a new
 * blocking wire to the master serving the slot of key (len bytes) now,
 * following MOVED and ASK like w; the caller frees it. NULL with the
 * reason in err (not a cluster, no master for that slot, unreachable).
 */
struct wh_wire	*wh_redis_slot_master(struct wh_wire *w, const char *key,
		    size_t len, char *err, size_t errlen);

/* "host:port" or the socket path, for log lines (never the password). */
void		 wh_redis_where(const struct wh_redis_addr *, char *out,
		    size_t len);

#endif

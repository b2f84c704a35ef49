/*
 * redis_conn.h: one asynchronous Redis connection that stays up, the
 * same way in both programs (the api workers on Kore's loop, the
 * dispatcher on its own). What differs between the two loops is behind
 * two small hooks; the rest lives here once:
 *
 * - reconnecting with capped backoff (100 ms doubling to 5 s);
 * - with WH_REDIS_SENTINELS, asking the sentinels in turn where the
 *   master is before every connect (each has ASK_TIMEOUT_MS to connect
 *   and answer), then checking that it says it is a master (ROLE);
 * - leaving a server that answers READONLY (a demoted master) to find
 *   the master again;
 * - loading every Lua script (common/scripts.h) as a master connection
 *   comes up, before the owner's commands, and again when Redis answered
 *   NOSCRIPT (SCRIPT FLUSH by hand), so EVALSHA is all callers send;
 * - a WATCH connection: subscribed to a sentinel's +switch-master, it
 *   tells its owner at once when a failover moved the master.
 */
#ifndef WH_REDIS_CONN_H
#define WH_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include "config.h"
#include "redis_wire.h"

struct wh_conn;

struct wh_conn_ops {
	/*
	 * Watch fd on the program's loop, level-triggered: for reading, and
	 * for writing too when write is 1 (replacing an earlier watch). When
	 * it is ready the program calls wh_conn_io().
	 */
	void	(*watch)(struct wh_conn *, int fd, int write);
	/* Stop watching fd (it is about to be closed). */
	void	(*unwatch)(struct wh_conn *, int fd);
	/*
	 * Arm the connection's one timer ms from now, replacing one already
	 * armed, or cancel it (ms < 0). When it fires the program calls
	 * wh_conn_timer().
	 */
	void	(*timer)(struct wh_conn *, int64_t ms);
};

#define WH_CONN_MASTER	0	/* commands go to the master */
#define WH_CONN_WATCH	1	/* a sentinel, subscribed to +switch-master */

/* States. */
#define WH_CONN_DOWN		0	/* no context; the timer opens one */
#define WH_CONN_ASKING		1	/* wire: a sentinel, asked the master */
#define WH_CONN_CONNECTING	2	/* wire: the server, connect pending */
#define WH_CONN_UP		3

struct wh_conn {
	/* Set by the owner before wh_conn_start(). */
	const char		*name;		/* for logs */
	const struct wh_redis_addr *addr;
	const struct wh_conn_ops *ops;
	int			 kind;		/* WH_CONN_* */
	void			*owner;
	void			(*on_up)(struct wh_conn *);
	void			(*on_down)(struct wh_conn *);
	void			(*on_switch)(struct wh_conn *);	/* WATCH */
	void			*link;		/* a cluster's node, or NULL */

	/* The connection's own state. */
	struct wh_wire		*wire;		/* NULL while down */
	int			 fd;		/* wire's socket, -1 if none */
	int			 watched;	/* write given to ops->watch, -1 */
	int			 state;		/* WH_CONN_DOWN ... */
	int			 ready;		/* commands may be sent */
	int			 stopping;
	int			 kicked;	/* leave this server */
	int			 resolved;	/* master holds an answer */
	int			 scripts_lost;	/* NOSCRIPT seen: load again */
	int64_t			 backoff_ms;
	int64_t			 up_since;	/* mono ms of the last connect */
	size_t			 sentinel;	/* the one to ask or watch */
	size_t			 tries;		/* sentinels failed in a row */
	struct wh_redis_addr	 master;	/* what the sentinels named */
	char			 why[256];	/* the last failure, for /readyz */
};

void	wh_conn_start(struct wh_conn *);
/* Close (gracefully once up: replies in flight still arrive). */
void	wh_conn_stop(struct wh_conn *);
/* The fd watched through ops->watch is ready (WH_WIRE_EV_*). */
void	wh_conn_io(struct wh_conn *, int events);
/*
 * Queue a command (cb gets its reply, NULL if the link drops first).
 * 0, or -1 when not connected (cb is then not called).
 */
int	wh_conn_command(struct wh_conn *, wh_reply_fn *cb, void *priv,
	    int argc, const char **argv, const size_t *lens);
/*
 * wh_conn_command of EVALSHA of an embedded script (wh_lua_<name>) with
 * nkeys keys, then the arguments (argv holds the keys first; argc counts
 * both; lens may be NULL). Should Redis have forgotten the script, the
 * call gets the NOSCRIPT error and the connection loads them all again.
 */
int	wh_conn_script(struct wh_conn *, wh_reply_fn *cb, void *priv,
	    const char *text, int nkeys, int argc, const char **argv,
	    const size_t *lens);
/* Replies still owed on the connection. */
size_t	wh_conn_owed(const struct wh_conn *);
/* The timer armed through ops->timer fired. */
void	wh_conn_timer(struct wh_conn *);
/* Leave this server soon and connect again (finding the master anew). */
void	wh_conn_kick(struct wh_conn *, const char *why);
/*
 * Route reader's replies through the READONLY check of c (done for every
 * connection this file opens; exposed for the unit test).
 */
void	wh_conn_watch_reader(struct wh_conn *, redisReader *);

/*
 * WAIT for k replicas (WH_REDIS_WAIT_REPLICAS), 1 s at most: its three
 * words into argv, k's digits into num (WH_WAIT_NUM bytes).
 */
#define WH_WAIT_NUM	12
void	wh_redis_wait_argv(const char *argv[3], char *num, int k);

#endif

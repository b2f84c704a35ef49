/*
 * redis_cluster.h: a Redis Cluster as one connection (WH_REDIS_CLUSTER_NODES).
 *
 * The slot map is asked of the seed nodes (CLUSTER SLOTS) and kept; each
 * master in it gets one common/redis_conn.c connection (reconnecting by
 * itself), opened the first time a command needs it. A command goes to
 * the master of its key's slot (cluster_map.c says which argument is the
 * key; keyless ones go to any master). MOVED updates the map (and asks
 * for the whole map again) and sends the command again; ASK sends it to
 * the named node once, after ASKING; TRYAGAIN and CLUSTERDOWN are waited
 * out with a doubling pause; each a bounded number of times, after which
 * the caller gets the error. SCRIPT LOAD goes to every master, now and
 * whenever one (re)connects, so EVALSHA finds its script on any shard.
 * MULTI goes with the first command after it, and everything up to EXEC
 * or DISCARD follows it to that node, unredirected (a MOVED there fails
 * the transaction, but still updates the map for the next one). WAIT goes where the command given
 * just before it went (NULL reply if that one is still waiting).
 *
 * Callbacks run in the order the commands were given, as on one
 * connection, whatever node answered first: an early reply waits (kept)
 * for those before it. A command that cannot be sent within WAIT_MS (its
 * node unreachable) gets a NULL reply, as when a link drops.
 */
#ifndef WH_REDIS_CLUSTER_H
#define WH_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "cluster_map.h"
#include "config.h"
#include "redis_conn.h"

/* Connections at most: the masters of a map, the seeds, and moves. */
#define WH_CLUSTER_LINKS_MAX	(WH_CLUSTER_NODES_MAX + WH_SENTINELS_MAX)

struct wh_cluster;
struct wh_ccmd;

struct wh_cluster_ops {
	/*
	 * A connection on the program's loop for one node: its ops and owner
	 * set, nothing else (the cluster fills in the rest and starts it).
	 * NULL when memory runs out.
	 */
	struct wh_conn	*(*conn_new)(struct wh_cluster *);
	/*
	 * The cluster's own timer, armed ms from now (replacing one armed)
	 * or cancelled (ms < 0); when it fires the program calls
	 * wh_cluster_timer().
	 */
	void		 (*timer)(struct wh_cluster *, int64_t ms);
};

struct wh_clink {
	struct wh_cluster	*cl;
	struct wh_conn		*conn;
	struct wh_redis_addr	 addr;	/* the node; credentials, TLS */
	char			 name[WH_HOST_MAX + 16];
	int			 started;
	int			 was_up;	/* up since its last on_down */
	int			 downs;		/* times it went down */
};

struct wh_cluster {
	/* Set by the owner before wh_cluster_start(). */
	const char			*name;	/* for logs */
	const struct wh_redis_addr	*addr;	/* seeds in addr->cluster */
	const struct wh_cluster_ops	*ops;
	void				*owner;
	/*
	 * The map is known (the first time), or known anew after a command
	 * got a NULL reply: resume what was lost.
	 */
	void				(*on_up)(struct wh_cluster *);
	/* A command got a NULL reply (its node's link dropped, or none). */
	void				(*on_down)(struct wh_cluster *);

	/* The cluster's own state. */
	int			 ready;		/* a map is known */
	int			 stopping;
	int			 mapping;	/* CLUSTER SLOTS in flight */
	int			 remap;		/* ask again once it answers */
	int			 resume;	/* on_up owed after a loss */
	int64_t			 mapped_at;	/* mono ms of the last map */
	uint16_t		 slot_link[WH_CLUSTER_SLOTS];
	struct wh_clink		*links[WH_CLUSTER_LINKS_MAX];
	size_t			 nlinks;
	size_t			 multi_link;	/* inside MULTI: its link */
	size_t			 last_link;	/* the last command's, or -1 */
	int			 in_multi;	/* 0, 1 MULTI held, 2 sent */
	struct wh_ccmd		*held_multi;
	struct wh_ccmd		*order_head;	/* every command, in order */
	struct wh_ccmd		**order_tail;
	char			**scripts;	/* SCRIPT LOAD texts given */
	size_t			*script_lens;
	size_t			 nscripts;
	int64_t			 timer_at;	/* armed for, 0 if not */
	char			 why[256];	/* for /readyz */
};

void	wh_cluster_start(struct wh_cluster *);
/* Close every node's connection (replies in flight still arrive). */
void	wh_cluster_stop(struct wh_cluster *);
/*
 * Queue a command (cb gets its reply, NULL if its link drops or no node
 * can take it in time). 0, or -1 before any map is known or when memory
 * runs out (cb is then not called).
 */
int	wh_cluster_command(struct wh_cluster *, wh_reply_fn *cb, void *priv,
	    int argc, const char **argv, const size_t *lens);
/* The timer armed through ops->timer fired. */
void	wh_cluster_timer(struct wh_cluster *);
/* Commands still owed a reply. */
size_t	wh_cluster_owed(const struct wh_cluster *);
/* 1 when a map is known and every master of it has its link up. */
int	wh_cluster_up(const struct wh_cluster *);

#endif

/*
 * cluster_map.h: what a Redis Cluster client must know without talking
 * to anyone: the hash slot of a key (CRC16 of the key or of its {hash
 * tag}, mod 16384), which argument of a command is the key that routes
 * it, what a MOVED / ASK / TRYAGAIN / CLUSTERDOWN error says, and the
 * slot map read from a CLUSTER SLOTS answer. Pure functions, so the
 * unit tests and the fuzz target reach all of it; common/redis_cluster.c
 * does the talking.
 */
#ifndef WH_CLUSTER_MAP_H
#define WH_CLUSTER_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"

#define WH_CLUSTER_SLOTS	16384
/* Masters a map may name (a cluster of more is refused, not cut). */
#define WH_CLUSTER_NODES_MAX	64
/* The slot of a slot map that no master serves. */
#define WH_CLUSTER_NO_NODE	0xffff

/* What a cluster error reply asks of the client (wh_cluster_redirect). */
#define WH_REDIR_NONE		0	/* an ordinary error: the caller's */
#define WH_REDIR_MOVED		1	/* the slot lives elsewhere now */
#define WH_REDIR_ASK		2	/* this once, ASKING at host:port */
#define WH_REDIR_TRYAGAIN	3	/* a slot migrating: later */
#define WH_REDIR_DOWN		4	/* CLUSTERDOWN: later */

struct wh_redirect {
	int		 kind;		/* WH_REDIR_* */
	unsigned	 slot;		/* MOVED, ASK */
	char		 host[WH_HOST_MAX];	/* "" = the node that said it */
	int		 port;
};

struct wh_cluster_node {
	char		 host[WH_HOST_MAX];
	int		 port;
};

struct wh_slot_map {
	uint16_t		node[WH_CLUSTER_SLOTS];	/* index, or NO_NODE */
	struct wh_cluster_node	nodes[WH_CLUSTER_NODES_MAX];
	size_t			nnodes;
};

/* The hash slot of key (of len bytes), as CLUSTER KEYSLOT answers. */
unsigned	wh_key_slot(const char *key, size_t len);

/*
 * The index in argv of the key that routes the command, or -1 when it
 * has none (PING, SCRIPT LOAD, an EVAL with no keys: any node will do).
 * Scripts route by their first key (all their keys must share its slot),
 * XREAD/XREADGROUP by the first stream after STREAMS, XGROUP, XINFO,
 * OBJECT and MEMORY by the argument after their subcommand, everything
 * else by argv[1].
 */
int		wh_command_key(int argc, const char **argv, const size_t *lens);

/*
 * Read an error reply's text (err, len bytes). Returns its kind
 * (WH_REDIR_*) and, for MOVED and ASK, fills r; a malformed MOVED or
 * ASK is WH_REDIR_NONE (an error like any other for the caller).
 */
int		wh_cluster_redirect(const char *err, size_t len,
		    struct wh_redirect *r);

/*
 * Fill m from a CLUSTER SLOTS answer (reply), each master's endpoint; a
 * master announced without one ("" or "?") is taken to be at from_host,
 * the node that answered. 0, or -1 with the reason in err when the
 * answer is malformed or names more than WH_CLUSTER_NODES_MAX masters.
 * Slots it leaves out are WH_CLUSTER_NO_NODE.
 */
int		wh_slot_map_parse(const redisReply *reply, const char *from_host,
		    struct wh_slot_map *m, char *err, size_t errlen);

/*
 * Whether a CLUSTER NODES answer (text, len bytes) says that the node
 * that gave it ("myself") is a master serving slot and not migrating it
 * away ("[<slot>->-<id>]"): 1 yes, 0 no, -1 when it has no "myself"
 * line. A slot it serves and does not migrate holds all its keys there.
 */
int		wh_cluster_nodes_serves(const char *text, size_t len,
		    unsigned slot);

#endif

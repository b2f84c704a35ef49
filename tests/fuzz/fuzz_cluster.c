/*
 * fuzz_cluster.c: what a Redis Cluster node (or anyone on its port)
 * tells a client, on any bytes (common/cluster_map.c): an error reply
 * read as MOVED / ASK / TRYAGAIN / CLUSTERDOWN, a CLUSTER NODES answer
 * asked whether its node serves a slot, and RESP replies read as a
 * CLUSTER SLOTS answer into a slot map; the input's hash slot too.
 * The first byte picks: even, the rest is an error's text; odd, RESP.
 *
 * Checks, beyond memory safety:
 * - a slot is always below 16384, and a key's slot is that of its
 *   non-empty {tag} alone;
 * - a redirect names a slot and a port 1-65535, its host a string
 *   without spaces or control characters, at most WH_HOST_MAX - 1;
 * - an accepted slot map sends every slot to a master it lists or to
 *   none, lists each master once, and keeps at most NODES_MAX;
 * - a CLUSTER NODES text is -1 (no "myself" line), 0 or 1, and 1 only
 *   when it says "myself" and "master".
 */
#include <hiredis/read.h>

#include "cluster_map.h"
#include "redis_wire.h"

#include "fuzz.h"

static void
check_redirect(const char *s, size_t len)
{
	struct wh_redirect	r;
	size_t			i, n;
	int			kind;

	kind = wh_cluster_redirect(s, len, &r);
	FUZZ_CHECK(kind >= WH_REDIR_NONE && kind <= WH_REDIR_DOWN);
	if (kind != WH_REDIR_MOVED && kind != WH_REDIR_ASK)
		return;
	FUZZ_CHECK(r.slot < WH_CLUSTER_SLOTS);
	FUZZ_CHECK(r.port >= 1 && r.port <= 65535);
	n = strnlen(r.host, sizeof(r.host));
	FUZZ_CHECK(n < sizeof(r.host));
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)r.host[i] > ' ' &&
		    r.host[i] != 0x7f);
}

static void
check_nodes(const char *s, size_t len)
{
	unsigned	slot;
	int		r;

	slot = wh_key_slot(s, len);
	r = wh_cluster_nodes_serves(s, len, slot);
	FUZZ_CHECK(r >= -1 && r <= 1);
	if (r == 1)
		FUZZ_CHECK(memmem(s, len, "myself", 6) != NULL &&
		    memmem(s, len, "master", 6) != NULL);
	FUZZ_CHECK(wh_cluster_nodes_serves(s, len, 0) >= -1);
}

/* The slot of "{s}" plus anything is the slot of s, when s has no '}'. */
static void
check_slot(const char *s, size_t len)
{
	char	*tagged;

	FUZZ_CHECK(wh_key_slot(s, len) < WH_CLUSTER_SLOTS);
	if (len == 0 || memchr(s, '}', len) != NULL ||
	    (tagged = malloc(len + 4)) == NULL)
		return;
	tagged[0] = '{';
	memcpy(tagged + 1, s, len);
	memcpy(tagged + 1 + len, "}:x", 3);
	FUZZ_CHECK(wh_key_slot(tagged, len + 4) == wh_key_slot(s, len));
	free(tagged);
}

static void
check_map(const redisReply *reply)
{
	static struct wh_slot_map	m;
	char				err[256];
	size_t				i, j;

	if (wh_slot_map_parse(reply, "seed", &m, err, sizeof(err)) == -1) {
		FUZZ_CHECK(strncmp(err, "CLUSTER SLOTS", 13) == 0);
		return;
	}
	FUZZ_CHECK(m.nnodes <= WH_CLUSTER_NODES_MAX);
	for (i = 0; i < WH_CLUSTER_SLOTS; i++)
		FUZZ_CHECK(m.node[i] == WH_CLUSTER_NO_NODE ||
		    m.node[i] < m.nnodes);
	for (i = 0; i < m.nnodes; i++) {
		FUZZ_CHECK(m.nodes[i].port >= 1 && m.nodes[i].port <= 65535);
		FUZZ_CHECK(strnlen(m.nodes[i].host, WH_HOST_MAX) <
		    WH_HOST_MAX);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(m.nodes[i].port != m.nodes[j].port ||
			    strcmp(m.nodes[i].host, m.nodes[j].host) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader	*rd;
	void		*reply;
	const char	*s = (const char *)data + 1;
	int		 n;

	if (size == 0)
		return (0);
	check_slot(s, size - 1);
	if ((data[0] & 1) == 0) {
		check_redirect(s, size - 1);
		check_nodes(s, size - 1);
		return (0);
	}
	if ((rd = wh_reader_new()) == NULL)
		return (0);
	if (redisReaderFeed(rd, s, size - 1) == REDIS_OK) {
		for (n = 0; n < 8; n++) {
			reply = NULL;
			if (redisReaderGetReply(rd, &reply) != REDIS_OK ||
			    reply == NULL)
				break;
			check_map(reply);
			freeReplyObject(reply);
		}
	}
	redisReaderFree(rd);
	return (0);
}

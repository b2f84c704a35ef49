/*
 * test_cluster_map.c: hash slots against the answers of Redis' own
 * CLUSTER KEYSLOT (redis-server 7, cluster mode), the routing key of the
 * commands the programs send, the MOVED / ASK / TRYAGAIN / CLUSTERDOWN
 * errors (well-formed and hostile), and CLUSTER SLOTS answers read into
 * a slot map (parsed from RESP bytes by hiredis' reader, as on a wire).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "cluster_map.h"

static const struct {
	const char	*key;
	unsigned	 slot;
} keyslots[] = {
	{ "", 0 }, { "foo", 12182 }, { "bar", 5061 }, { "hello", 866 },
	{ "{user1000}.following", 3443 }, { "{user1000}.followers", 3443 },
	{ "foo{}{bar}", 8363 }, { "foo{{bar}}zap", 4015 },
	{ "foo{bar}{zap}", 5061 }, { "{}foo", 9500 },
	{ "wh:{0}:events", 13907 }, { "wh:{3}:events", 1584 },
	{ "wh:{7}:dead", 1716 }, { "wh:webhooks", 6571 }, { "a{b", 13340 },
	{ "}{x}", 16287 }, { "123456789", 12739 },
	{ "wh:{0}:idem:abc", 13907 }
};

static void
test_key_slot(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(keyslots) / sizeof(keyslots[0]); i++)
		assert_int_equal(wh_key_slot(keyslots[i].key,
		    strlen(keyslots[i].key)), keyslots[i].slot);
	/* Explicit lengths: a NUL inside is hashed, what follows is not. */
	assert_int_equal(wh_key_slot("foo\0bar", 3), 12182);
	assert_int_not_equal(wh_key_slot("foo\0bar", 7), 12182);
}

static int
key_of(int argc, const char **argv)
{
	return (wh_command_key(argc, argv, NULL));
}

static void
test_command_key(void **state)
{
	const char	*get[] = { "GET", "k" };
	const char	*xadd[] = { "xadd", "s", "*", "f", "v" };
	const char	*ping[] = { "PING" };
	const char	*load[] = { "SCRIPT", "LOAD", "return 1" };
	const char	*ev[] = { "EVALSHA", "abc", "2", "k1", "k2", "a" };
	const char	*ev0[] = { "EVAL", "return 1", "0", "a" };
	const char	*evbad[] = { "EVAL", "return 1", "x1", "a" };
	const char	*xrg[] = { "XREADGROUP", "GROUP", "g", "c", "COUNT",
			    "10", "STREAMS", "wh:{0}:events", ">" };
	const char	*xr[] = { "XREAD", "BLOCK", "10", "streams", "a", "b",
			    "0", "0" };
	const char	*xrnone[] = { "XREAD", "BLOCK", "10" };
	const char	*wait[] = { "WAIT", "1", "100" };
	const char	*xg[] = { "XGROUP", "CREATE", "wh:{0}:events", "g", "$" };
	const char	*xi[] = { "xinfo", "GROUPS", "s" };
	const char	*xi1[] = { "XINFO", "HELP" };
	const char	*lens_cmd[] = { "GETX", "k" };
	size_t		 lens[] = { 3, 1 };

	(void)state;
	assert_int_equal(key_of(2, get), 1);
	assert_int_equal(key_of(5, xadd), 1);
	assert_int_equal(key_of(1, ping), -1);
	assert_int_equal(key_of(3, load), -1);
	assert_int_equal(key_of(6, ev), 3);
	assert_int_equal(key_of(4, ev0), -1);
	assert_int_equal(key_of(4, evbad), -1);
	assert_int_equal(key_of(3, ev), -1);	/* numkeys, no key */
	assert_int_equal(key_of(9, xrg), 7);
	assert_int_equal(key_of(8, xr), 4);
	assert_int_equal(key_of(3, xrnone), -1);
	assert_int_equal(key_of(3, wait), -1);
	assert_int_equal(key_of(5, xg), 2);
	assert_int_equal(key_of(3, xi), 2);
	assert_int_equal(key_of(2, xi1), -1);
	/* The command name is compared with its length, not to a NUL. */
	assert_int_equal(wh_command_key(2, lens_cmd, lens), 1);
}

static int
redirect(const char *s, struct wh_redirect *r)
{
	return (wh_cluster_redirect(s, strlen(s), r));
}

static void
test_redirect(void **state)
{
	struct wh_redirect	r;
	static const char	*const bad[] = {
		"MOVED", "MOVED ", "MOVED 16384 h:1", "MOVED 1 h", "MOVED 1 h:0",
		"MOVED 1 h:65536", "MOVED x h:1", "MOVED 1h:1", "MOVEDX 1 h:1",
		"ASK 1 h:1x", "MOVED 1 h\x01:1", "ERR MOVED 1 h:1",
		"MOVED 99999999999999999999 h:1", "MOVED 1 [::1:5",
		"tryagain", "CLUSTERDOWNX"
	};
	size_t			 i;

	(void)state;
	assert_int_equal(redirect("MOVED 3999 127.0.0.1:6381", &r),
	    WH_REDIR_MOVED);
	assert_int_equal(r.slot, 3999);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(r.port, 6381);
	assert_int_equal(redirect("ASK 16383 redis-2.svc:7000", &r),
	    WH_REDIR_ASK);
	assert_int_equal(r.slot, 16383);
	assert_string_equal(r.host, "redis-2.svc");
	assert_int_equal(redirect("MOVED 0 ::1:7001", &r), WH_REDIR_MOVED);
	assert_string_equal(r.host, "::1");
	assert_int_equal(r.port, 7001);
	assert_int_equal(redirect("MOVED 5 [fe80::1]:7002", &r),
	    WH_REDIR_MOVED);
	assert_string_equal(r.host, "fe80::1");
	assert_int_equal(redirect("MOVED 5 :7003", &r), WH_REDIR_MOVED);
	assert_string_equal(r.host, "");
	assert_int_equal(r.port, 7003);
	assert_int_equal(redirect("MOVED 5 ?:7003", &r), WH_REDIR_MOVED);
	assert_string_equal(r.host, "");
	assert_int_equal(redirect("TRYAGAIN Multiple keys request during "
	    "rehashing of slot", &r), WH_REDIR_TRYAGAIN);
	assert_int_equal(redirect("CLUSTERDOWN The cluster is down", &r),
	    WH_REDIR_DOWN);
	assert_int_equal(redirect("CLUSTERDOWN", &r), WH_REDIR_DOWN);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(redirect(bad[i], &r), WH_REDIR_NONE);
	/* Explicit length: a valid target cut short is not one. */
	assert_int_equal(wh_cluster_redirect("MOVED 1 h:1", 9, &r),
	    WH_REDIR_NONE);
}

/* One reply from RESP bytes. */
static redisReply *
parse(const char *resp)
{
	redisReader	*rd;
	void		*reply = NULL;

	rd = redisReaderCreate();
	assert_non_null(rd);
	assert_int_equal(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
	assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
	assert_non_null(reply);
	redisReaderFree(rd);
	return (reply);
}

static int
map_of(const char *resp, struct wh_slot_map *m, char *err, size_t errlen)
{
	redisReply	*r = parse(resp);
	int		 rc;

	rc = wh_slot_map_parse(r, "seed.example", m, err, errlen);
	freeReplyObject(r);
	return (rc);
}

static void
test_slot_map(void **state)
{
	static struct wh_slot_map	m;
	char				err[256];
	static const char		*const bad[] = {
		"+OK\r\n",
		"*1\r\n*2\r\n:0\r\n:5\r\n",
		"*1\r\n*3\r\n:5\r\n:0\r\n*2\r\n$1\r\na\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:1\r\n",
		"*1\r\n*3\r\n:-1\r\n:0\r\n*2\r\n$1\r\na\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:0\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\na\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$3\r\na b\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:1\r\n:1\r\n",
	};
	size_t				 i;

	(void)state;
	/* Three masters (each with a replica), one announcing no host. */
	assert_int_equal(map_of("*3\r\n"
	    "*4\r\n:0\r\n:5460\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n:7004\r\n$2\r\nid\r\n"
	    "*4\r\n:5461\r\n:10922\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$2\r\nid\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n:7005\r\n$2\r\nid\r\n"
	    "*3\r\n:10923\r\n:16383\r\n"
	    "*2\r\n$0\r\n\r\n:7002\r\n", &m, err, sizeof(err)), 0);
	assert_int_equal(m.nnodes, 3);
	assert_int_equal(m.node[0], 0);
	assert_int_equal(m.node[5460], 0);
	assert_int_equal(m.node[5461], 1);
	assert_int_equal(m.node[16383], 2);
	assert_int_equal(m.nodes[1].port, 7001);
	assert_string_equal(m.nodes[2].host, "seed.example");
	/* Two ranges of one master: one node; a gap: no node. */
	assert_int_equal(map_of("*2\r\n"
	    "*3\r\n:0\r\n:9\r\n*2\r\n$1\r\na\r\n:1\r\n"
	    "*3\r\n:20\r\n:29\r\n*2\r\n$1\r\na\r\n:1\r\n",
	    &m, err, sizeof(err)), 0);
	assert_int_equal(m.nnodes, 1);
	assert_int_equal(m.node[9], 0);
	assert_int_equal(m.node[10], WH_CLUSTER_NO_NODE);
	assert_int_equal(m.node[25], 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(map_of(bad[i], &m, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "CLUSTER SLOTS"));
	}
}

/* CLUSTER NODES: does myself serve the slot, unmigrating? */
static void
test_nodes_serves(void **state)
{
	const char	*me = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 "
			    "connected 0-5460 7000\n"
			    "a1b2 127.0.0.1:30002@40002 master - 0 1 2 connected "
			    "5461-6999 7001-10922\n";
	const char	*mig = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 "
			    "connected 0-5460 [7233->-a1b2] 7233\n";
	const char	*imp = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 "
			    "connected 0-5460 7233 [7000-<-a1b2]\r\n";
	const char	*rep = "07c3 127.0.0.1:30001@40001 myself,slave a1b2 0 0 "
			    "1 connected\n";
	const char	*junk = "a b myself,master - 0 0 1 connected 99999 -3 "
			    "5- [1-> [5->";
	const char	*other;

	assert_int_equal(wh_cluster_nodes_serves(me, strlen(me), 0), 1);
	assert_int_equal(wh_cluster_nodes_serves(me, strlen(me), 5460), 1);
	assert_int_equal(wh_cluster_nodes_serves(me, strlen(me), 7000), 1);
	assert_int_equal(wh_cluster_nodes_serves(me, strlen(me), 5461), 0);
	assert_int_equal(wh_cluster_nodes_serves(me, strlen(me), 7001), 0);
	/* Migrating away: its keys may be on the other node already. */
	assert_int_equal(wh_cluster_nodes_serves(mig, strlen(mig), 7233), 0);
	assert_int_equal(wh_cluster_nodes_serves(mig, strlen(mig), 100), 1);
	/* Importing another slot, CRLF: the served one still is. */
	assert_int_equal(wh_cluster_nodes_serves(imp, strlen(imp), 7233), 1);
	assert_int_equal(wh_cluster_nodes_serves(imp, strlen(imp), 7000), 0);
	assert_int_equal(wh_cluster_nodes_serves(rep, strlen(rep), 0), 0);
	/* No myself line, a short one, garbage, nothing. */
	other = strchr(me, '\n') + 1;
	assert_int_equal(wh_cluster_nodes_serves(other, strlen(other), 7001),
	    -1);
	assert_int_equal(wh_cluster_nodes_serves("x y myself", 10, 0), 0);
	assert_int_equal(wh_cluster_nodes_serves("x y", 3, 0), -1);
	assert_int_equal(wh_cluster_nodes_serves("", 0, 0), -1);
	assert_int_equal(wh_cluster_nodes_serves(junk, strlen(junk), 5), 0);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_key_slot),
		cmocka_unit_test(test_command_key),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_slot_map),
		cmocka_unit_test(test_nodes_serves),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

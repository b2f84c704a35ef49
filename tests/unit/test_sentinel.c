/*
 * test_sentinel.c: the Redis Sentinel settings (WH_REDIS_SENTINELS,
 * WH_REDIS_SENTINEL_MASTER, WH_REDIS_SENTINEL_PASSWORD: accepted lists,
 * and WH_REDIS_CLUSTER_NODES, which shares their list format,
 * every malformed one refused with a sentence naming the variable, the
 * password never echoed), reading a sentinel's and ROLE's answers, and
 * the READONLY check every connection's reply parser carries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "redis_conn.h"
#include "redis_link.h"

static void
clear_env(void)
{
	(void)unsetenv("WH_REDIS_URL");
	(void)unsetenv("WH_REDIS_SENTINELS");
	(void)unsetenv("WH_REDIS_SENTINEL_MASTER");
	(void)unsetenv("WH_REDIS_SENTINEL_PASSWORD");
	(void)unsetenv("WH_REDIS_CLUSTER_NODES");
}

static void
test_parse_lists(void **state)
{
	struct wh_redis_addr	a;
	char			err[256];

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(wh_sentinels_parse("10.0.0.1:26380, s2 ,[::1]:5,"
	    "[fe80::1],sentinel-3.redis.svc:1", &a, err, sizeof(err)), 0);
	assert_int_equal(a.nsentinels, 5);
	assert_string_equal(a.sentinels[0].host, "10.0.0.1");
	assert_int_equal(a.sentinels[0].port, 26380);
	assert_string_equal(a.sentinels[1].host, "s2");
	assert_int_equal(a.sentinels[1].port, WH_SENTINEL_PORT);
	assert_string_equal(a.sentinels[2].host, "::1");
	assert_int_equal(a.sentinels[2].port, 5);
	assert_string_equal(a.sentinels[3].host, "fe80::1");
	assert_int_equal(a.sentinels[3].port, WH_SENTINEL_PORT);
	assert_string_equal(a.sentinels[4].host, "sentinel-3.redis.svc");
	assert_int_equal(a.sentinels[4].port, 1);
}

static void
test_parse_refused(void **state)
{
	static const char *const	bad[] = {
		"", ",", "a,,b", "a:", "a:0", "a:65536", "a:1x", ":26379",
		"::1", "[::1", "[::1]x", "a b", "a/b:1", "a:1:2", "a\n",
		"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
	};
	struct wh_redis_addr		a;
	char				err[256];
	size_t				i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0, sizeof(a));
		err[0] = '\0';
		if (wh_sentinels_parse(bad[i], &a, err, sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(strstr(err, "WH_REDIS_SENTINELS"));
	}
}

static void
expect_refusal(const char *names)
{
	struct wh_config	cfg;
	char			err[512];

	err[0] = '\0';
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), -1);
	if (strstr(err, names) == NULL)
		fail_msg("\"%s\" does not name %s", err, names);
	assert_null(strstr(err, "hunter2"));
}

static void
test_config_combinations(void **state)
{
	struct wh_config	cfg;
	char			err[512];

	(void)state;
	clear_env();
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.redis.nsentinels, 0);

	assert_int_equal(setenv("WH_REDIS_SENTINELS", "127.0.0.1:26379", 1),
	    0);
	expect_refusal("WH_REDIS_SENTINEL_MASTER");
	assert_int_equal(setenv("WH_REDIS_SENTINEL_MASTER", "my master", 1),
	    0);
	expect_refusal("WH_REDIS_SENTINEL_MASTER");
	assert_int_equal(setenv("WH_REDIS_SENTINEL_MASTER", "mymaster", 1), 0);
	assert_int_equal(setenv("WH_REDIS_URL", "redis://:pw@ignored/3", 1),
	    0);
	assert_int_equal(setenv("WH_REDIS_SENTINEL_PASSWORD", "s3cret pw", 1),
	    0);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.redis.nsentinels, 1);
	assert_string_equal(cfg.redis.master_name, "mymaster");
	assert_string_equal(cfg.redis.password, "pw");
	assert_int_equal(cfg.redis.db, 3);
	assert_string_equal(cfg.redis.sentinel_password, "s3cret pw");

	assert_int_equal(setenv("WH_REDIS_SENTINEL_PASSWORD", "hunter2\n", 1),
	    0);
	expect_refusal("WH_REDIS_SENTINEL_PASSWORD");
	(void)unsetenv("WH_REDIS_SENTINEL_PASSWORD");
	assert_int_equal(setenv("WH_REDIS_URL", "unix:///tmp/r.sock", 1), 0);
	expect_refusal("WH_REDIS_URL");
	(void)unsetenv("WH_REDIS_URL");

	(void)unsetenv("WH_REDIS_SENTINELS");
	expect_refusal("WH_REDIS_SENTINELS");
	(void)unsetenv("WH_REDIS_SENTINEL_MASTER");
	assert_int_equal(setenv("WH_REDIS_SENTINEL_PASSWORD", "hunter2", 1),
	    0);
	expect_refusal("WH_REDIS_SENTINELS");
	clear_env();
}

static redisReply *
str_reply(const char *s)
{
	redisReply	*r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->type = REDIS_REPLY_STRING;
	r->str = strdup(s);
	assert_non_null(r->str);
	r->len = strlen(s);
	return (r);
}

static redisReply *
array_reply(size_t n, ...)
{
	redisReply	*r = calloc(1, sizeof(*r));
	va_list		 ap;
	size_t		 i;

	assert_non_null(r);
	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	r->element = calloc(n, sizeof(*r->element));
	assert_non_null(r->element);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		r->element[i] = str_reply(va_arg(ap, const char *));
	va_end(ap);
	return (r);
}

static void
test_answers(void **state)
{
	struct wh_redis_addr	 m;
	redisReply		*r, nil;
	char			 err[256];

	(void)state;
	memset(&m, 0, sizeof(m));
	r = array_reply(2, "10.1.2.3", "6380");
	assert_int_equal(wh_sentinel_master(r, &m, err, sizeof(err)), 0);
	assert_string_equal(m.host, "10.1.2.3");
	assert_int_equal(m.port, 6380);
	freeReplyObject(r);
	r = array_reply(2, "10.1.2.3", "0");
	assert_int_equal(wh_sentinel_master(r, &m, err, sizeof(err)), -1);
	freeReplyObject(r);
	r = array_reply(1, "10.1.2.3");
	assert_int_equal(wh_sentinel_master(r, &m, err, sizeof(err)), -1);
	freeReplyObject(r);
	memset(&nil, 0, sizeof(nil));
	nil.type = REDIS_REPLY_NIL;
	assert_int_equal(wh_sentinel_master(&nil, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "WH_REDIS_SENTINEL_MASTER"));

	r = array_reply(3, "master", "x", "y");
	assert_int_equal(wh_redis_is_master(r), 1);
	freeReplyObject(r);
	r = array_reply(2, "slave", "10.0.0.1");
	assert_int_equal(wh_redis_is_master(r), 0);
	freeReplyObject(r);
	assert_int_equal(wh_redis_is_master(NULL), 0);

	assert_int_equal(wh_redis_wrong_master("READONLY You can't", 18), 1);
	assert_int_equal(wh_redis_wrong_master("ERR READONLY", 12), 0);
	assert_int_equal(wh_redis_wrong_master("NOREPLICAS x", 12), 0);
}

static int64_t	timer_ms;
static int	timer_calls;

static void
stub_timer(struct wh_conn *c, int64_t ms)
{
	timer_ms = ms;
	timer_calls++;
}

static const struct wh_conn_ops	stub_ops = { NULL, NULL, stub_timer };

/* Feed text to a reader carrying c's check; returns how many replies. */
static int
feed(struct wh_conn *c, const char *text)
{
	redisReader	*r;
	void		*reply;
	int		 n = 0;

	assert_non_null(r = redisReaderCreate());
	wh_conn_watch_reader(c, r);
	assert_int_equal(redisReaderFeed(r, text, strlen(text)), REDIS_OK);
	while (redisReaderGetReply(r, &reply) == REDIS_OK && reply != NULL) {
		freeReplyObject(reply);
		n++;
	}
	redisReaderFree(r);
	return (n);
}

static void
test_readonly_kicks(void **state)
{
	struct wh_redis_addr	a;
	struct wh_conn		c;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	c.name = "test";
	c.addr = &a;
	c.ops = &stub_ops;
	c.state = WH_CONN_UP;

	/* Other errors, and READONLY as data, leave the server alone. */
	assert_int_equal(feed(&c, "-ERR nope\r\n$8\r\nREADONLY\r\n+OK\r\n"
	    "-NOREPLICAS Not enough good replicas\r\n"), 4);
	assert_int_equal(c.kicked, 0);
	assert_int_equal(timer_calls, 0);

	/* Inside EXEC's array too; the reply still reaches the caller. */
	assert_int_equal(feed(&c, "*2\r\n:1\r\n-READONLY You can't write "
	    "against a read only replica.\r\n-READONLY again\r\n"), 2);
	assert_int_equal(c.kicked, 1);
	assert_int_equal(timer_calls, 1);
	assert_int_equal(timer_ms, 0);
}

/*
 * WH_REDIS_CLUSTER_NODES: seeds with 6379 by default; not with Sentinel,
 * a unix socket or a database other than 0; the URL's password kept.
 */
static void
test_cluster_nodes(void **state)
{
	struct wh_config	cfg;
	char			err[512];

	(void)state;
	clear_env();
	assert_int_equal(setenv("WH_REDIS_CLUSTER_NODES",
	    "10.0.0.1, redis-2.svc:7001,[::1]:7002", 1), 0);
	assert_int_equal(setenv("WH_REDIS_URL", "redis://:hunter2@x/0", 1), 0);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.redis.ncluster, 3);
	assert_string_equal(cfg.redis.cluster[0].host, "10.0.0.1");
	assert_int_equal(cfg.redis.cluster[0].port, 6379);
	assert_int_equal(cfg.redis.cluster[1].port, 7001);
	assert_string_equal(cfg.redis.cluster[2].host, "::1");
	assert_string_equal(cfg.redis.password, "hunter2");
	assert_int_equal(setenv("WH_REDIS_URL", "redis://:hunter2@x/2", 1), 0);
	expect_refusal("WH_REDIS_CLUSTER_NODES");
	assert_int_equal(setenv("WH_REDIS_URL", "unix:///tmp/r.sock", 1), 0);
	expect_refusal("WH_REDIS_CLUSTER_NODES");
	(void)unsetenv("WH_REDIS_URL");
	assert_int_equal(setenv("WH_REDIS_CLUSTER_NODES", "a:1,b:0", 1), 0);
	expect_refusal("WH_REDIS_CLUSTER_NODES");
	assert_int_equal(setenv("WH_REDIS_CLUSTER_NODES", "a:1", 1), 0);
	assert_int_equal(setenv("WH_REDIS_SENTINELS", "s", 1), 0);
	assert_int_equal(setenv("WH_REDIS_SENTINEL_MASTER", "m", 1), 0);
	expect_refusal("WH_REDIS_CLUSTER_NODES");
	clear_env();
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.redis.ncluster, 0);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_parse_lists),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_config_combinations),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_readonly_kicks),
		cmocka_unit_test(test_cluster_nodes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

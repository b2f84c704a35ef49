/*
 * test_redis_url.c: WH_REDIS_URL parsing: redis:// and rediss:// (TLS),
 * percent-decoded user and password (ACL passwords with '@', ':', '/'),
 * bad escapes refused, the WH_REDIS_TLS_* variables checked together, and
 * the one reading of host[:port] it shares with WH_API_LISTEN.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static void
test_plain_and_tls(void **state)
{
	struct wh_redis_addr	a;
	char			err[256];

	assert_int_equal(wh_redis_url_parse("redis://h:6380/2", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.host, "h");
	assert_int_equal(a.port, 6380);
	assert_int_equal(a.db, 2);
	assert_int_equal(a.tls.on, 0);

	assert_int_equal(wh_redis_url_parse("rediss://u:p@cache.example:6380/1",
	    &a, err, sizeof(err)), 0);
	assert_int_equal(a.tls.on, 1);
	assert_string_equal(a.host, "cache.example");
	assert_int_equal(a.port, 6380);
	assert_string_equal(a.username, "u");
	assert_string_equal(a.password, "p");
	assert_int_equal(a.db, 1);

	assert_int_equal(wh_redis_url_parse("redisss://h", &a, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "rediss://"));
}

static void
test_percent_decoding(void **state)
{
	struct wh_redis_addr	a;
	char			err[256];

	assert_int_equal(wh_redis_url_parse(
	    "rediss://app%3Auser:p%40ss%2Fw%3Ard%25@h:6379/0", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.username, "app:user");
	assert_string_equal(a.password, "p@ss/w:rd%");
	assert_string_equal(a.host, "h");

	/* A raw '@' in the password: the last one ends the user info. */
	assert_int_equal(wh_redis_url_parse("redis://:a@b@h:1/3", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.password, "a@b");
	assert_string_equal(a.host, "h");
	assert_int_equal(a.port, 1);

	assert_int_equal(wh_redis_url_parse("redis://:pa%4@h", &a, err,
	    sizeof(err)), -1);
	assert_int_equal(wh_redis_url_parse("redis://:pa%zz@h", &a, err,
	    sizeof(err)), -1);
	assert_int_equal(wh_redis_url_parse("redis://:pa%00x@h", &a, err,
	    sizeof(err)), -1);
	assert_int_equal(wh_redis_url_parse("redis://u%:p@h", &a, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "user name"));
}

static void
test_pct_decode_bounds(void **state)
{
	char	out[4];

	assert_int_equal(wh_pct_decode(out, sizeof(out), "abc", 3), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(wh_pct_decode(out, sizeof(out), "abcd", 4), -1);
	assert_int_equal(wh_pct_decode(out, sizeof(out), "%41%42%43", 9), 0);
	assert_string_equal(out, "ABC");
	/* Only n bytes are read: an escape cut by n is bad. */
	assert_int_equal(wh_pct_decode(out, sizeof(out), "%41", 2), -1);
	assert_int_equal(wh_pct_decode(out, sizeof(out), "", 0), 0);
	assert_string_equal(out, "");
}

static void
test_tls_variables(void **state)
{
	struct wh_config	cfg;
	char			err[256];

	unsetenv("WH_REDIS_SENTINELS");
	setenv("WH_REDIS_URL", "redis://127.0.0.1:6379/0", 1);
	setenv("WH_REDIS_TLS_CA_FILE", "/ca.pem", 1);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rediss://"));

	setenv("WH_REDIS_URL", "rediss://127.0.0.1:6379/0", 1);
	setenv("WH_REDIS_TLS_SERVER_NAME", "redis.internal", 1);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.redis.tls.on, 1);
	assert_int_equal(cfg.redis.tls.insecure, 0);
	assert_string_equal(cfg.redis.tls.ca_file, "/ca.pem");
	assert_string_equal(cfg.redis.tls.server_name, "redis.internal");

	setenv("WH_REDIS_TLS_CERT_FILE", "/client.pem", 1);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "WH_REDIS_TLS_KEY_FILE"));
	setenv("WH_REDIS_TLS_KEY_FILE", "/client.key", 1);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);

	setenv("WH_REDIS_SENTINEL_TLS", "1", 1);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "WH_REDIS_SENTINELS"));
	setenv("WH_REDIS_SENTINELS", "127.0.0.1:26379", 1);
	setenv("WH_REDIS_SENTINEL_MASTER", "m", 1);
	setenv("WH_REDIS_URL", "redis://127.0.0.1/0", 1);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.redis.tls.sentinels, 1);
	assert_int_equal(cfg.redis.tls.on, 1);

	unsetenv("WH_REDIS_SENTINELS");
	unsetenv("WH_REDIS_SENTINEL_MASTER");
	unsetenv("WH_REDIS_SENTINEL_TLS");
	unsetenv("WH_REDIS_TLS_CA_FILE");
	unsetenv("WH_REDIS_TLS_SERVER_NAME");
	unsetenv("WH_REDIS_TLS_CERT_FILE");
	unsetenv("WH_REDIS_TLS_KEY_FILE");
	unsetenv("WH_REDIS_URL");
}

/*
 * One reading of host[:port] for WH_REDIS_URL, WH_API_LISTEN and the
 * sentinels: brackets for IPv6, the default port without one, and a
 * bare IPv6 address, a stray byte after ']', a port of 0 or above 65535
 * refused alike.
 */
static void
test_host_port(void **state)
{
	static struct wh_config	 cfg;
	struct wh_redis_addr	 a;
	char			 err[256];
	size_t			 i;
	const char		*bad[] = {
		"redis://[::1]x", "redis://a:b:6379", "redis://h:0",
		"redis://h:65536", "redis://[::1", "redis://h:",
	};
	const char		*bad_listen[] = {
		"::1:8080", "[::1]8080", "h:0", ":8080", "h", "[::1]",
	};

	(void)state;
	assert_int_equal(wh_redis_url_parse("redis://[::1]:6380", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 6380);
	assert_int_equal(wh_redis_url_parse("redis://[::1]/3", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.host, "::1");
	assert_true(a.port == 6379 && a.db == 3);
	assert_int_equal(wh_redis_url_parse("redis://:6390", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 6390);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wh_redis_url_parse(bad[i], &a, err, sizeof(err)) != -1)
			fail_msg("%s accepted", bad[i]);
	}

	assert_int_equal(setenv("WH_API_LISTEN", "[::1]:8081", 1), 0);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.api_host, "::1");
	assert_string_equal(cfg.api_port, "8081");
	assert_int_equal(setenv("WH_API_LISTEN", "0.0.0.0:80", 1), 0);
	assert_int_equal(wh_config_load(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.api_host, "0.0.0.0");
	assert_string_equal(cfg.api_port, "80");
	for (i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		assert_int_equal(setenv("WH_API_LISTEN", bad_listen[i], 1), 0);
		if (wh_config_load(&cfg, err, sizeof(err)) != -1)
			fail_msg("WH_API_LISTEN=%s accepted", bad_listen[i]);
	}
	assert_int_equal(unsetenv("WH_API_LISTEN"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_tls),
		cmocka_unit_test(test_percent_decoding),
		cmocka_unit_test(test_pct_decode_bounds),
		cmocka_unit_test(test_tls_variables),
		cmocka_unit_test(test_host_port),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

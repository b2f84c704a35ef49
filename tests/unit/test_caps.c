/*
 * test_caps.c: WH_MAX_WEBHOOKS_PER_COMPANY (the default when unset or
 * empty, the accepted range, and every malformed value refused with a
 * sentence naming the variable), and the Redis key names the api added
 * for API key indexes, page tokens and Idempotency-Keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "keys.h"
#include "scripts.h"

static void
test_caps_default(void **state)
{
	struct wh_caps	c;
	char		err[256];

	(void)state;
	assert_int_equal(unsetenv("WH_MAX_WEBHOOKS_PER_COMPANY"), 0);
	assert_int_equal(wh_caps_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.max_webhooks, 1000);
	assert_int_equal(setenv("WH_MAX_WEBHOOKS_PER_COMPANY", "", 1), 0);
	assert_int_equal(wh_caps_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.max_webhooks, 1000);
}

static void
test_caps_range(void **state)
{
	static const char *const	ok[] = { "1", "3", "1000", "100000" };
	static const char *const	bad[] = {
		"0", "-1", "100001", "abc", "10x", " 5", "1e3", "5.0",
		"99999999999999999999",
	};
	struct wh_caps			c;
	char				err[256];
	size_t				i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(setenv("WH_MAX_WEBHOOKS_PER_COMPANY", ok[i],
		    1), 0);
		assert_int_equal(wh_caps_load(&c, err, sizeof(err)), 0);
		assert_int_equal(c.max_webhooks, strtol(ok[i], NULL, 10));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(setenv("WH_MAX_WEBHOOKS_PER_COMPANY", bad[i],
		    1), 0);
		err[0] = '\0';
		assert_int_equal(wh_caps_load(&c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "WH_MAX_WEBHOOKS_PER_COMPANY"));
	}
	assert_int_equal(unsetenv("WH_MAX_WEBHOOKS_PER_COMPANY"), 0);
}

static void
test_api_keys_names(void **state)
{
	char	k[64];

	(void)state;
	assert_int_equal(wh_key_apikeys(k, sizeof(k), "wh:"), 10);
	assert_string_equal(k, "wh:apikeys");
	assert_true(wh_key_company_apikeys(k, sizeof(k), "wh:", "CO_1") > 0);
	assert_string_equal(k, "wh:company:CO_1:apikeys");
	assert_true(wh_key_cursor_secret(k, sizeof(k), "p:") > 0);
	assert_string_equal(k, "p:cursor_secret");
	assert_true(wh_key_idemkey(k, sizeof(k), "wh:", "key_1",
	    "a b:c") > 0);
	assert_string_equal(k, "wh:idemkey:key_1:a b:c");
	assert_int_equal(wh_key_idemkey(k, 16, "wh:", "key_1", "abc"), -1);
}

/* The change counters the api bumps and the dispatchers read. */
static void
test_version_names(void **state)
{
	char	k[WH_KEY_MAX];

	assert_int_equal(wh_key_webhooks_version(k, sizeof(k), "wh:"), 19);
	assert_string_equal(k, "wh:webhooks:version");
	assert_int_equal(wh_key_webhooks_disabled(k, sizeof(k), "wh:"), 20);
	assert_string_equal(k, "wh:webhooks:disabled");
	assert_true(wh_key_company_version(k, sizeof(k), "p:", "CO_1") > 0);
	assert_string_equal(k, "p:company:CO_1:version");
	assert_int_equal(wh_key_company_version(k, 10, "wh:", "CO_1"), -1);
	assert_true(wh_key_idem(k, sizeof(k), "wh:", 0, 3, "CO_1", "evt_9") > 0);
	assert_string_equal(k, "wh:idem:CO_1:evt_9");
	/* In a cluster: the slot of the partition's stream it guards. */
	assert_true(wh_key_idem(k, sizeof(k), "wh:", 1, 0, "CO_1", "evt_9") > 0);
	assert_string_equal(k, "wh:{0}:idem:CO_1:evt_9");
	assert_true(wh_key_idem(k, sizeof(k), "wh:", 1, 3, "CO_1", "evt_9") > 0);
	assert_string_equal(k, "wh:{3}:idem:CO_1:evt_9");
}

/*
 * The partition function is a public contract (docs/design.md,
 * "Partitions"): FNV-1a 32's published vectors ("a", "foobar") and the
 * values docs/publishing.md and examples/publish show; one partition is
 * today's {0} keys byte for byte.
 */
static void
test_partition(void **state)
{
	char	k[WH_KEY_MAX];

	assert_int_equal(wh_partition("a", 4294967295u), 0xe40c292cu);
	assert_int_equal(wh_partition("foobar", 4294967295u), 0xbf9cf968u);
	assert_int_equal(wh_partition("CO_1", 8), 3);
	assert_int_equal(wh_partition("CO_acme", 8), 6);
	assert_int_equal(wh_partition("CO_acme", 4), 2);
	assert_int_equal(wh_partition("CO_acme", 1), 0);
	assert_int_equal(wh_partition("", 8), 0x811c9dc5u % 8);
	assert_int_equal(wh_key_events(k, sizeof(k), "wh:", 0), 13);
	assert_string_equal(k, "wh:{0}:events");
	assert_true(wh_key_retry(k, sizeof(k), "wh:", 0) > 0);
	assert_string_equal(k, "wh:{0}:retry");
	assert_true(wh_key_retries(k, sizeof(k), "wh:", 0) > 0);
	assert_string_equal(k, "wh:{0}:retries");
	assert_true(wh_key_dead(k, sizeof(k), "wh:", 0) > 0);
	assert_string_equal(k, "wh:{0}:dead");
	assert_true(wh_key_events(k, sizeof(k), "x:", 63) > 0);
	assert_string_equal(k, "x:{63}:events");
	assert_int_equal(wh_key_dead(k, 8, "wh:", 7), -1);
}

/*
 * EVALSHA names: Redis' documented example (SCRIPT LOAD "return 1"),
 * and the shipped publish script is the text of its .lua file.
 */
static void
test_script_sha(void **state)
{
	char	sha[WH_SCRIPT_SHA_LEN + 1];

	assert_int_equal(wh_script_sha1("return 1", sha), 0);
	assert_string_equal(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
	assert_non_null(strstr(wh_lua_publish_event, "redis.call('XADD'"));
	assert_int_equal(strncmp(wh_lua_publish_event,
	    "-- publish_event.lua:", 21), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_default),
		cmocka_unit_test(test_caps_range),
		cmocka_unit_test(test_api_keys_names),
		cmocka_unit_test(test_version_names),
		cmocka_unit_test(test_partition),
		cmocka_unit_test(test_script_sha),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_scripts.c: what the programs need to call the Lua scripts: the
 * SHA-1 that EVALSHA names a script by (Redis' own value for a known
 * text), the table of every embedded script, and the EVALSHA argument
 * list (SHA-1, key count, keys then arguments, binary-safe lengths, a
 * long list in room of its own), shared by the api and the dispatcher; and the names of the
 * keys the delivery control scripts keep (the e2e tests ratelimit-script
 * and ordering-script run those scripts on the same names).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "scripts.h"

static void
test_sha1(void **state)
{
	char	sha[WH_SCRIPT_SHA_LEN + 1];

	(void)state;
	/* redis-cli SCRIPT LOAD "return 1" */
	assert_int_equal(wh_script_sha1("return 1", sha), 0);
	assert_string_equal(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
	/* An embedded script has one as well. */
	assert_int_equal(wh_script_sha1(wh_lua_attempt_record, sha), 0);
	assert_int_equal(strlen(sha), WH_SCRIPT_SHA_LEN);
}

static void
test_args(void **state)
{
	const char		*argv[3] = { "k1", "a\0b", "c" };
	size_t			 lens[3] = { 2, 3, 1 };
	const char		*many[40];
	struct wh_script_argv	 a;
	int			 i;

	(void)state;
	assert_int_equal(wh_script_argv(&a, wh_lua_dead_entry, 1, 3, argv,
	    lens), 0);
	assert_int_equal(a.n, 6);
	assert_string_equal(a.av[0], "EVALSHA");
	assert_string_equal(a.av[1], wh_script_sha(wh_lua_dead_entry));
	assert_string_equal(a.av[2], "1");
	assert_true(a.al[1] == WH_SCRIPT_SHA_LEN && a.al[2] == 1);
	assert_ptr_equal(a.av[3], argv[0]);
	assert_ptr_equal(a.av[4], argv[1]);
	assert_true(a.al[4] == 3);	/* binary-safe: the given length */
	assert_true(a.al[5] == 1);
	wh_script_argv_free(&a);

	/* Without lengths, strlen. */
	assert_int_equal(wh_script_argv(&a, wh_lua_retry_move_due, 0, 1, argv, NULL),
	    0);
	assert_string_equal(a.av[2], "0");
	assert_true(a.n == 4 && a.al[3] == 2);
	wh_script_argv_free(&a);

	/* A long list (a batch, a page) gets room of its own. */
	for (i = 0; i < 40; i++)
		many[i] = "x";
	assert_int_equal(wh_script_argv(&a, wh_lua_attempt_record, 20, 40,
	    many, NULL), 0);
	assert_int_equal(a.n, 43);
	assert_string_equal(a.av[2], "20");
	assert_ptr_equal(a.av[42], many[39]);
	assert_true(a.al[42] == 1);
	wh_script_argv_free(&a);

	/*
	 * More keys than arguments, a negative count, and a text that is not
	 * an embedded script are refused.
	 */
	assert_int_equal(wh_script_argv(&a, wh_lua_retry_move_due, 4, 3, argv, lens),
	    -1);
	assert_int_equal(wh_script_argv(&a, wh_lua_retry_move_due, -1, 3, argv,
	    lens), -1);
	assert_int_equal(wh_script_argv(&a, "return 1", 0, 0, argv, lens), -1);
}

/*
 * Every embedded script has its SHA-1, found by the text's address, and
 * each name appears once; the retry mover and the api's scripts are
 * among them (no script is left inline in the C files).
 */
static void
test_table(void **state)
{
	char	sha[WH_SCRIPT_SHA_LEN + 1];
	size_t	i, j;

	(void)state;
	assert_true(wh_nscripts >= 20);
	for (i = 0; i < wh_nscripts; i++) {
		assert_int_equal(wh_script_sha1(wh_scripts[i].text, sha), 0);
		assert_string_equal(wh_script_sha(wh_scripts[i].text), sha);
		for (j = i + 1; j < wh_nscripts; j++)
			assert_string_not_equal(wh_scripts[i].name,
			    wh_scripts[j].name);
	}
	assert_non_null(wh_script_sha(wh_lua_retry_move_due));
	assert_non_null(wh_script_sha(wh_lua_webhook_create));
	assert_non_null(wh_script_sha(wh_lua_signing_key_cas));
	assert_non_null(wh_script_sha(wh_lua_dead_letter_page));
	assert_null(wh_script_sha("return 1"));

	assert_true(wh_script_lost("NOSCRIPT No matching script.", 28));
	assert_false(wh_script_lost("NOSCRIP", 7));
	assert_false(wh_script_lost("ERR NOSCRIPT", 12));
}

static void
test_control_keys(void **state)
{
	char	k[64];

	(void)state;
	assert_int_equal(wh_key_webhook_rate(k, sizeof(k), "wh:", "WH1"),
	    19);
	assert_string_equal(k, "wh:webhook:WH1:rate");
	assert_int_equal(wh_key_webhook_rate(k, 10, "wh:", "WH1"), -1);
	assert_true(strstr(wh_lua_ratelimit, "GCRA") != NULL);
	assert_int_equal(wh_key_order(k, sizeof(k), "wh:", 0, "WH1",
	    "a:b\0c", 3), 20);
	assert_string_equal(k, "wh:{0}:order:WH1:a:b");
	assert_true(wh_key_order_parked(k, sizeof(k), "wh:", 0, "WH1", "k",
	    1) > 0);
	assert_string_equal(k, "wh:{0}:order:WH1:k:parked");
	/* The slot of the company's partition, with its queue keys. */
	assert_true(wh_key_order_parked(k, sizeof(k), "wh:", 5, "WH1", "k",
	    1) > 0);
	assert_string_equal(k, "wh:{5}:order:WH1:k:parked");
	/* No NUL inside, 1 to 128 bytes. */
	assert_int_equal(wh_key_order(k, sizeof(k), "wh:", 0, "WH1", "a\0c",
	    3), -1);
	assert_int_equal(wh_key_order(k, sizeof(k), "wh:", 0, "WH1", "", 0),
	    -1);
	/* Kept events: partition 0 is the one-Redis name, byte for byte. */
	assert_true(wh_key_event_kept(k, sizeof(k), "wh:", 0, "CO1", "E1") >
	    0);
	assert_string_equal(k, "wh:{0}:event:CO1:E1");
	assert_true(wh_key_company_events(k, sizeof(k), "wh:", 3, "CO1") > 0);
	assert_string_equal(k, "wh:{3}:company:CO1:events");
	assert_true(wh_key_event_kept(k, sizeof(k), "wh:", 3, "CO1", "") > 0);
	assert_string_equal(k, "wh:{3}:event:CO1:");
	assert_int_equal(wh_key_event_kept(k, 12, "wh:", 3, "CO1", "E1"), -1);
	assert_true(strstr(wh_lua_order_start, "XPENDING") != NULL);
	assert_true(strstr(wh_lua_order_finish, "ZRANGE") != NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_control_keys),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

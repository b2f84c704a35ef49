/*
 * test_scripts.c: what the programs need to call the Lua scripts: the
 * SHA-1 that EVALSHA names a script by (Redis' own value for a known
 * text), and the EVAL/EVALSHA argument list (command, script, key count,
 * keys then arguments, binary-safe lengths, refused when it does not
 * fit), shared by the api and the dispatcher; and the names of the
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
	const char	*argv[3] = { "k1", "a\0b", "c" };
	size_t		 lens[3] = { 2, 3, 1 };
	const char	*av[6];
	size_t		 al[6];
	char		 nk[12];

	(void)state;
	assert_int_equal(wh_script_args("EVALSHA", "abc", 1, 3, argv, lens,
	    av, al, 6, nk), 6);
	assert_string_equal(av[0], "EVALSHA");
	assert_string_equal(av[1], "abc");
	assert_string_equal(av[2], "1");
	assert_true(al[2] == 1);
	assert_ptr_equal(av[3], argv[0]);
	assert_ptr_equal(av[4], argv[1]);
	assert_true(al[4] == 3);	/* binary-safe: the given length */
	assert_true(al[5] == 1);

	/* Without lengths, strlen. */
	assert_int_equal(wh_script_args("EVAL", "return 1", 0, 1, argv, NULL,
	    av, al, 6, nk), 4);
	assert_string_equal(av[2], "0");
	assert_true(al[1] == 8 && al[3] == 2);

	/* What does not fit, or more keys than arguments, is refused. */
	assert_int_equal(wh_script_args("EVAL", "x", 1, 3, argv, lens, av,
	    al, 5, nk), -1);
	assert_int_equal(wh_script_args("EVAL", "x", 4, 3, argv, lens, av,
	    al, 6, nk), -1);
	assert_int_equal(wh_script_args("EVAL", "x", -1, 3, argv, lens, av,
	    al, 6, nk), -1);
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
	assert_int_equal(wh_key_order(k, sizeof(k), "wh:", "WH1", "a:b\0c",
	    3), 20);
	assert_string_equal(k, "wh:{0}:order:WH1:a:b");
	assert_true(wh_key_order_parked(k, sizeof(k), "wh:", "WH1", "k", 1) >
	    0);
	assert_string_equal(k, "wh:{0}:order:WH1:k:parked");
	/* No NUL inside, 1 to 128 bytes. */
	assert_int_equal(wh_key_order(k, sizeof(k), "wh:", "WH1", "a\0c", 3),
	    -1);
	assert_int_equal(wh_key_order(k, sizeof(k), "wh:", "WH1", "", 0), -1);
	assert_true(strstr(wh_lua_order_start, "XPENDING") != NULL);
	assert_true(strstr(wh_lua_order_finish, "ZRANGE") != NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_control_keys),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

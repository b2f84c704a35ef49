/*
 * test_resp.c: our RESP formatting (common/resp.c) against hiredis' own
 * redisFormatCommandArgv, byte for byte, and its refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "resp.h"

static void
same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
	struct wh_buf	 b;
	char		*want;
	long long	 n;

	wh_buf_init(&b, 0);
	/* Something already in the buffer stays in front. */
	assert_int_equal(wh_buf_append(&b, "PRE", 3), 0);
	assert_int_equal(wh_resp_command(&b, argc, argv, lens), 0);
	n = redisFormatCommandArgv(&want, argc, argv, lens);
	assert_true(n > 0);
	assert_int_equal(b.len, 3 + (size_t)n);
	assert_memory_equal(b.data, "PRE", 3);
	assert_memory_equal(b.data + 3, want, (size_t)n);
	free(want);
	wh_buf_free(&b);
}

static void
test_resp_matches_hiredis(void **state)
{
	const char	*ping[] = { "PING" };
	const char	*xadd[] = { "XADD", "wh:{0}:events", "*", "payload",
			    "{\"a\":1}" };
	const char	*bin[] = { "SET", "k\r\n", "a\0b\r\n$3", "" };
	size_t		 binlens[] = { 3, 3, 8, 0 };
	const char	*many[12];
	size_t		 manylens[12], i;
	char		*big;

	(void)state;
	same_as_hiredis(1, ping, NULL);
	same_as_hiredis(5, xadd, NULL);
	same_as_hiredis(4, bin, binlens);
	/* Ten or more arguments: a two-digit count. */
	for (i = 0; i < 12; i++) {
		many[i] = "0123456789";
		manylens[i] = i;
	}
	same_as_hiredis(12, many, manylens);
	/* Lengths of several digits, up to the api's largest event. */
	assert_non_null(big = malloc(262144));
	memset(big, 'x', 262144);
	for (i = 9; i <= 262144; i = i * 10 + 1) {
		const char	*a[] = { "XADD", big };
		size_t		 l[] = { 4, i };

		same_as_hiredis(2, a, l);
	}
	free(big);
}

static void
test_resp_refusals(void **state)
{
	struct wh_buf	 b;
	const char	*argv[] = { "SET", "key", "a value longer than the cap" };

	(void)state;
	wh_buf_init(&b, 0);
	assert_int_equal(wh_resp_command(&b, 0, argv, NULL), -1);
	assert_int_equal(b.len, 0);
	wh_buf_free(&b);

	/* A capped buffer that cannot hold the command keeps its length. */
	wh_buf_init(&b, 32);
	assert_int_equal(wh_buf_append(&b, "x", 1), 0);
	assert_int_equal(wh_resp_command(&b, 3, argv, NULL), -1);
	assert_int_equal(b.len, 1);
	wh_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_matches_hiredis),
		cmocka_unit_test(test_resp_refusals),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

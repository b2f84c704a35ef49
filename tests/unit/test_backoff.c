/*
 * test_backoff.c: the retry schedule stays within +-20% of each step,
 * scales, saturates at the last step, and Retry-After is parsed in both
 * forms and clamped into [scheduled, 2 x scheduled].
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_schedule(void **state)
{
	static const int64_t	want[] = { 5000, 300000, 1800000, 7200000,
				    18000000, 36000000, 36000000, 36000000 };
	uint32_t		i;

	for (i = 0; i < 8; i++)
		assert_true(wh_backoff_base_ms(i + 1) == want[i]);
	assert_true(wh_backoff_base_ms(0) == 5000);
	assert_true(wh_backoff_base_ms(1000) == 36000000);
}

static void
test_jitter_bounds(void **state)
{
	uint32_t	a, r;
	int64_t		ms, base;

	for (a = 1; a <= 8; a++) {
		base = wh_backoff_base_ms(a);
		assert_true(wh_backoff_schedule_ms(NULL, a, 1.0, 0) ==
		    base * 8 / 10);
		assert_true(wh_backoff_schedule_ms(NULL, a, 1.0, UINT32_MAX) ==
		    base * 12 / 10);
		for (r = 0; r < 4000000000U; r += 97654321U) {
			ms = wh_backoff_schedule_ms(NULL, a, 1.0, r);
			assert_true(ms >= base * 8 / 10);
			assert_true(ms <= base * 12 / 10);
		}
	}
	/* Mid-range randomness is no jitter at all, give or take 1 ms. */
	ms = wh_backoff_schedule_ms(NULL, 1, 1.0, UINT32_MAX / 2);
	assert_true(ms >= 4999 && ms <= 5001);
}

static void
test_scale(void **state)
{
	assert_true(wh_backoff_schedule_ms(NULL, 1, 0.001, UINT32_MAX / 2) == 4 ||
	    wh_backoff_schedule_ms(NULL, 1, 0.001, UINT32_MAX / 2) == 5);
	assert_true(wh_backoff_schedule_ms(NULL, 2, 0.001, UINT32_MAX / 2) >= 299);
	assert_true(wh_backoff_schedule_ms(NULL, 2, 0.001, UINT32_MAX / 2) <= 300);
	assert_true(wh_backoff_schedule_ms(NULL, 1, 0.00000001, 0) == 1);
	assert_true(wh_backoff_schedule_ms(NULL, 7, 2.0, UINT32_MAX) == 86400000);
}

static void
test_retry_after(void **state)
{
	int64_t	d, now = 784111777000LL;	/* Sun, 06 Nov 1994 08:49:37 */

	assert_int_equal(wh_retry_after_parse("120", 3, now, &d), 0);
	assert_true(d == 120000);
	assert_int_equal(wh_retry_after_parse(" 0 ", 3, now, &d), 0);
	assert_true(d == 0);
	assert_int_equal(wh_retry_after_parse(
	    "Sun, 06 Nov 1994 08:49:47 GMT", 29, now, &d), 0);
	assert_true(d == 10000);
	assert_int_equal(wh_retry_after_parse(
	    "Sun, 06 Nov 1994 08:49:27 GMT", 29, now, &d), 0);
	assert_true(d == 0);
	assert_int_equal(wh_retry_after_parse("-1", 2, now, &d), -1);
	assert_int_equal(wh_retry_after_parse("1.5", 3, now, &d), -1);
	assert_int_equal(wh_retry_after_parse("", 0, now, &d), -1);
	assert_int_equal(wh_retry_after_parse("99999999999", 11, now, &d),
	    -1);
	assert_int_equal(wh_retry_after_parse(
	    "Sun, 06 Foo 1994 08:49:47 GMT", 29, now, &d), -1);
	assert_int_equal(wh_retry_after_parse(
	    "Sunday, 06-Nov-94 08:49:37 GMT", 30, now, &d), -1);
}

/* Dates that do not exist are refused, not moved (found by fuzz_retry_after). */
static void
test_retry_after_calendar(void **state)
{
	int64_t	d, now = 0;

	assert_int_equal(wh_retry_after_parse(
	    "Tue, 31 Feb 2026 12:00:00 GMT", 29, now, &d), -1);
	assert_int_equal(wh_retry_after_parse(
	    "Sun, 29 Feb 2026 12:00:00 GMT", 29, now, &d), -1);
	assert_int_equal(wh_retry_after_parse(
	    "Fri, 31 Apr 2026 12:00:00 GMT", 29, now, &d), -1);
	assert_int_equal(wh_retry_after_parse(
	    "Thu, 29 Feb 2024 12:00:00 GMT", 29, now, &d), 0);
	assert_true(d == 1709208000000LL);
	/* A leap second on the last day of a month folds into the next. */
	assert_int_equal(wh_retry_after_parse(
	    "Sat, 31 Dec 2016 23:59:60 GMT", 29, now, &d), 0);
	assert_true(d == 1483228800000LL);
}

static void
test_clamp(void **state)
{
	assert_true(wh_retry_after_clamp(10, 100) == 100);
	assert_true(wh_retry_after_clamp(150, 100) == 150);
	assert_true(wh_retry_after_clamp(500, 100) == 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_retry_after_calendar),
		cmocka_unit_test(test_clamp),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

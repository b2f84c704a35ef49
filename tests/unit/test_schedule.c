/*
 * test_schedule.c: a webhook's retry_schedule_s is read only as 1 to 20
 * plain integers from 1 to 86400, errors name the element, and the
 * backoff follows it step by step (the last step repeating) with the
 * default schedule's jitter, scale and Retry-After clamp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "schedule.h"

static int
parse(const char *text, struct wh_schedule *s, struct wh_schedule_err *e)
{
	return (wh_schedule_parse(text, strlen(text), s, e));
}

static void
test_accepted(void **state)
{
	struct wh_schedule	s;
	char			buf[256];
	int			i;

	assert_int_equal(parse("[1]", &s, NULL), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.delay_s[0], 1);
	assert_int_equal(parse(" [ 5 , 60,86400 ] ", &s, NULL), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.delay_s[0], 5);
	assert_int_equal(s.delay_s[1], 60);
	assert_int_equal(s.delay_s[2], 86400);
	strcpy(buf, "[1");
	for (i = 1; i < 20; i++)
		strcat(buf, ",2");
	strcat(buf, "]");
	assert_int_equal(parse(buf, &s, NULL), 0);
	assert_int_equal(s.n, 20);
	assert_int_equal(s.delay_s[19], 2);
}

static void
refused(const char *text, int index)
{
	struct wh_schedule	s;
	struct wh_schedule_err	e;

	memset(&e, 0, sizeof(e));
	s.n = 7;
	if (parse(text, &s, &e) != -1) {
		print_error("accepted %s\n", text);
		fail();
	}
	assert_non_null(e.reason);
	if (e.index != index) {
		print_error("%s: index %d, %s\n", text, e.index, e.reason);
		fail();
	}
	assert_int_equal(s.n, 0);
}

static void
test_refused(void **state)
{
	char	buf[256];
	int	i;

	refused("", -1);
	refused("[1,", -1);
	refused("[]", -1);
	refused("5", -1);
	refused("{\"a\":1}", -1);
	refused("null", -1);
	refused("[0]", 0);
	refused("[5,86401]", 1);
	refused("[5,-1]", 1);
	refused("[5,1.5]", 1);
	refused("[5,1.0]", 1);
	refused("[5,1e3]", 1);
	refused("[5,\"30\"]", 1);
	refused("[5,null]", 1);
	refused("[5,[30]]", 1);
	refused("[5,0030]", -1);	/* not JSON */
	refused("[5,1000000]", 1);
	strcpy(buf, "[1");
	for (i = 1; i < 21; i++)
		strcat(buf, ",2");
	strcat(buf, "]");
	refused(buf, 20);
}

static void
test_backoff(void **state)
{
	struct wh_schedule	s;
	uint32_t		a;

	assert_int_equal(parse("[1, 60, 3600]", &s, NULL), 0);
	assert_true(wh_backoff_schedule_base_ms(&s, 1) == 1000);
	assert_true(wh_backoff_schedule_base_ms(&s, 2) == 60000);
	assert_true(wh_backoff_schedule_base_ms(&s, 3) == 3600000);
	assert_true(wh_backoff_schedule_base_ms(&s, 4) == 3600000);
	assert_true(wh_backoff_schedule_base_ms(&s, 100) == 3600000);
	assert_true(wh_backoff_schedule_base_ms(&s, 0) == 1000);
	/* The same +-20 % jitter and scale as the default schedule. */
	for (a = 1; a <= 5; a++) {
		int64_t	base = wh_backoff_schedule_base_ms(&s, a);

		assert_true(wh_backoff_schedule_ms(&s, a, 1.0, 0) ==
		    base * 8 / 10);
		assert_true(wh_backoff_schedule_ms(&s, a, 1.0, UINT32_MAX) ==
		    base * 12 / 10);
		assert_true(wh_backoff_schedule_ms(&s, a, 0.5, 2147483648U) >=
		    base / 2 - 1);
		assert_true(wh_backoff_schedule_ms(&s, a, 0.5, 2147483648U) <=
		    base / 2 + 1);
	}
	/* No schedule (or an empty one) is the default, exactly. */
	for (a = 1; a <= 9; a++) {
		assert_true(wh_backoff_schedule_base_ms(NULL, a) ==
		    wh_backoff_base_ms(a));
		s.n = 0;
		assert_true(wh_backoff_schedule_ms(&s, a, 0.01, 99) ==
		    wh_backoff_schedule_ms(NULL, a, 0.01, 99));
	}
	/* Never below 1 ms, however small the scale. */
	assert_int_equal(parse("[1]", &s, NULL), 0);
	assert_true(wh_backoff_schedule_ms(&s, 1, 1e-9, 0) == 1);
	/* Retry-After is clamped to the webhook's own step. */
	assert_int_equal(parse("[10, 20]", &s, NULL), 0);
	assert_true(wh_retry_after_clamp(5000,
	    wh_backoff_schedule_base_ms(&s, 1)) == 10000);
	assert_true(wh_retry_after_clamp(30000,
	    wh_backoff_schedule_base_ms(&s, 2)) == 30000);
	assert_true(wh_retry_after_clamp(90000,
	    wh_backoff_schedule_base_ms(&s, 2)) == 40000);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_backoff),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

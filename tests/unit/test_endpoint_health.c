/*
 * test_endpoint_health.c: the endpoint health rules. The auto-disable
 * period is scaled like the backoff (WH_RETRY_SCALE) and a streak disables only
 * once it has lasted the whole period; the health hash is read field by
 * field, refusing what a Redis hand edit could leave there; and the
 * ~recover window (RFC 3339 since/until) is checked and clamped to now.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint_health.h"
#include "timeutil.h"

#define L(s)	s, sizeof(s) - 1
#define DAY_MS	86400000LL

static void
test_disable_after_scaled(void **state)
{
	(void)state;
	assert_true(wh_disable_after_scaled(5 * DAY_MS, 1.0) == 5 * DAY_MS);
	/* The default period under a test's WH_RETRY_SCALE. */
	assert_true(wh_disable_after_scaled(432000000, 0.00001) == 4320);
	assert_true(wh_disable_after_scaled(432000000, 0.001) == 432000);
	assert_true(wh_disable_after_scaled(1000, 2.5) == 2500);
	/* Never 0 unless asked: 0 means "never disable". */
	assert_true(wh_disable_after_scaled(1, 0.000001) == 1);
	assert_true(wh_disable_after_scaled(0, 1.0) == 0);
	assert_true(wh_disable_after_scaled(0, 1000.0) == 0);
	assert_true(wh_disable_after_scaled(-5, 1.0) == 0);
	/* Huge products saturate instead of overflowing. */
	assert_true(wh_disable_after_scaled(INT64_MAX / 2, 1000.0) ==
	    (int64_t)9.0e15);
}

static void
test_should_disable(void **state)
{
	const int64_t	t0 = 1795860020021LL, after = 4320;

	(void)state;
	/* The streak must last the whole period: not a ms less. */
	assert_int_equal(wh_health_should_disable(t0, t0, after), 0);
	assert_int_equal(wh_health_should_disable(t0, t0 + after - 1, after),
	    0);
	assert_int_equal(wh_health_should_disable(t0, t0 + after, after), 1);
	assert_int_equal(wh_health_should_disable(t0, t0 + 10 * after,
	    after), 1);
	/* No streak, a disabled rule, a clock that went back: never. */
	assert_int_equal(wh_health_should_disable(0, t0, after), 0);
	assert_int_equal(wh_health_should_disable(t0, t0 + DAY_MS, 0), 0);
	assert_int_equal(wh_health_should_disable(t0, t0 - 1, after), 0);
	assert_int_equal(wh_health_should_disable(-1, t0, after), 0);
}

static void
test_health_fields(void **state)
{
	struct wh_health	h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(wh_health_field(&h, L("consecutive_failures"),
	    L("17")), 0);
	assert_int_equal(wh_health_field(&h, L("failing_since"),
	    L("1795860020021")), 0);
	assert_int_equal(wh_health_field(&h, L("last_success_at"),
	    L("1795860000000")), 0);
	assert_int_equal(wh_health_field(&h, L("last_failure_at"),
	    L("1795860020999")), 0);
	assert_true(h.consecutive_failures == 17);
	assert_true(h.failing_since == 1795860020021LL);
	assert_true(h.last_success_at == 1795860000000LL);
	assert_true(h.last_failure_at == 1795860020999LL);

	/* Unknown fields are left alone; a prefix of a name is unknown. */
	assert_int_equal(wh_health_field(&h, L("future_field"), L("x")), 0);
	assert_int_equal(wh_health_field(&h, L("failing"), L("1")), 0);
	assert_true(h.failing_since == 1795860020021LL);

	/* Not a whole number >= 0: refused, the value kept. */
	assert_int_equal(wh_health_field(&h, L("consecutive_failures"),
	    L("-1")), -1);
	assert_int_equal(wh_health_field(&h, L("consecutive_failures"),
	    L("")), -1);
	assert_int_equal(wh_health_field(&h, L("consecutive_failures"),
	    L("1.5")), -1);
	assert_int_equal(wh_health_field(&h, L("failing_since"),
	    L("1e12")), -1);
	assert_int_equal(wh_health_field(&h, L("failing_since"),
	    L("9999999999999999999")), -1);
	assert_true(h.consecutive_failures == 17);
	assert_true(h.failing_since == 1795860020021LL);
}

static void
test_time_window(void **state)
{
	const int64_t	 now = 1795860020021LL;	/* 2026-11-28T10:00:20.021Z */
	const char	*why, *field;
	int64_t		 s, u;

	(void)state;
	why = wh_time_window(L("2026-11-28T09:00:00Z"),
	    L("2026-11-28T10:00:00.5+00:00"), now, &s, &u, &field);
	assert_null(why);
	assert_null(field);
	assert_true(s == 1795856400000LL);
	assert_true(u == 1795860000500LL);

	/* Offsets are honoured: 11:00+01:00 is 10:00Z. */
	why = wh_time_window(L("2026-11-28T10:59:00+01:00"),
	    L("2026-11-28T11:00:00+01:00"), now, &s, &u, &field);
	assert_null(why);
	assert_true(u - s == 60000);
	assert_true(u == 1795860000000LL);

	/* A future until is now. */
	why = wh_time_window(L("2026-11-28T09:00:00Z"),
	    L("2030-01-01T00:00:00Z"), now, &s, &u, &field);
	assert_null(why);
	assert_true(u == now);

	/* Malformed bounds name themselves. */
	why = wh_time_window(L("yesterday"), L("2026-11-28T10:00:00Z"), now,
	    &s, &u, &field);
	assert_non_null(why);
	assert_string_equal(field, "since");
	why = wh_time_window(L("2026-11-28T09:00:00Z"),
	    L("2026-11-28 10:00:00"), now, &s, &u, &field);
	assert_non_null(why);
	assert_string_equal(field, "until");

	/* An empty or reversed window, or one wholly in the future. */
	why = wh_time_window(L("2026-11-28T10:00:00Z"),
	    L("2026-11-28T10:00:00Z"), now, &s, &u, &field);
	assert_non_null(why);
	assert_string_equal(field, "until");
	why = wh_time_window(L("2026-11-28T10:00:00Z"),
	    L("2026-11-28T09:00:00Z"), now, &s, &u, &field);
	assert_non_null(why);
	assert_string_equal(field, "until");
	why = wh_time_window(L("2027-01-01T00:00:00Z"),
	    L("2028-01-01T00:00:00Z"), now, &s, &u, &field);
	assert_non_null(why);
	assert_string_equal(field, "until");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disable_after_scaled),
		cmocka_unit_test(test_should_disable),
		cmocka_unit_test(test_health_fields),
		cmocka_unit_test(test_time_window),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_metrics.c: what an instance publishes for GET /metrics: label
 * values escaped as the text format wants, histogram buckets (bounds
 * inclusive, cumulative when published, sums in microseconds), the field
 * names and kinds, and the argument layout of common/lua/metrics.lua.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "scripts.h"

static void
test_label_escape(void **state)
{
	struct wh_buf	b;

	(void)state;
	wh_buf_init(&b, 0);
	assert_int_equal(wh_label_add(&b, "route", "/v1/x"), 0);
	assert_int_equal(wh_label_add(&b, "v", "a\"b\\c\nd{}"), 0);
	assert_string_equal(b.data,
	    "route=\"/v1/x\",v=\"a\\\"b\\\\c\\nd{}\"");
	wh_buf_free(&b);
}

static void
test_hist_buckets(void **state)
{
	struct wh_hist	h;

	(void)state;
	memset(&h, 0, sizeof(h));
	wh_hist_observe(&h, 0);
	wh_hist_observe(&h, 1000);		/* on the bound: <= 0.001 */
	wh_hist_observe(&h, 1001);
	wh_hist_observe(&h, -5);		/* a clock step: counted as 0 */
	wh_hist_observe(&h, 31000000);		/* beyond 30 s: +Inf only */
	assert_int_equal(h.bucket[0], 3);
	assert_int_equal(h.bucket[1], 1);
	assert_int_equal(h.count, 5);
	assert_int_equal(h.sum_us, 1000 + 1001 + 31000000);
	assert_string_equal(wh_hist_le[0], "0.001");
	assert_string_equal(wh_hist_le[WH_HIST_BUCKETS - 1], "30");
}

/* The value of field in the set, or NULL. */
static const char *
field(const struct wh_mset *s, const char *name)
{
	const char	*p = s->text.data;
	size_t		 i;

	for (i = 0; i < s->n; i++) {
		if (strcmp(p, name) == 0)
			return (p + strlen(p) + 1);
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
	return (NULL);
}

static void
test_mset(void **state)
{
	struct wh_mset	s;
	struct wh_hist	h;

	(void)state;
	memset(&h, 0, sizeof(h));
	wh_hist_observe(&h, 500);
	wh_hist_observe(&h, 4000);
	wh_mset_init(&s);
	assert_int_equal(wh_mset_counter(&s, "a_total", "k=\"v\"", 7), 0);
	assert_int_equal(wh_mset_gauge(&s, "g", "", -3), 0);
	assert_int_equal(wh_mset_hist(&s, "h_seconds", "", &h), 0);
	assert_int_equal(s.n, 2 + WH_HIST_BUCKETS + 2);
	assert_string_equal(field(&s, "ca_total{k=\"v\"}"), "7");
	assert_string_equal(field(&s, "gg"), "-3");
	assert_string_equal(field(&s, "ch_seconds_bucket{le=\"0.001\"}"), "1");
	assert_string_equal(field(&s, "ch_seconds_bucket{le=\"0.0025\"}"),
	    "1");
	assert_string_equal(field(&s, "ch_seconds_bucket{le=\"0.005\"}"), "2");
	assert_string_equal(field(&s, "ch_seconds_bucket{le=\"30\"}"), "2");
	assert_string_equal(field(&s, "ch_seconds_sum"), "4500");
	assert_string_equal(field(&s, "ch_seconds_count"), "2");
	wh_mset_free(&s);

	wh_mset_init(&s);
	assert_int_equal(wh_mset_hist(&s, "h_seconds", "r=\"x\"", &h), 0);
	assert_non_null(field(&s, "ch_seconds_bucket{r=\"x\",le=\"1\"}"));
	assert_non_null(field(&s, "ch_seconds_count{r=\"x\"}"));
	wh_mset_free(&s);
}

static void
test_calls(void **state)
{
	struct wh_mpub	p;
	struct wh_mset	s;
	struct wh_mcall	c;

	(void)state;
	assert_int_equal(wh_mpub_init(&p, "wh:", "dispatcher", "h-1-2"), 0);
	assert_string_equal(p.id, "dispatcher:h-1-2");
	assert_string_equal(p.self, "wh:metrics:dispatcher:h-1-2");
	assert_string_equal(p.keys.registry, "wh:metrics:instances");
	assert_string_equal(p.keys.retired, "wh:metrics:retired");
	assert_string_equal(p.keys.prefix, "wh:metrics:");

	wh_mset_init(&s);
	assert_int_equal(wh_mset_counter(&s, "x_total", "", 1), 0);
	assert_int_equal(wh_mcall_build(&c, &p.keys, "publish", p.self, p.id,
	    &s), 0);
	assert_int_equal(c.argc, 13);
	assert_string_equal(c.argv[0], "EVALSHA");
	assert_string_equal(c.argv[1], wh_script_sha(wh_lua_metrics));
	assert_string_equal(c.argv[2], "3");
	assert_string_equal(c.argv[5], "wh:metrics:dispatcher:h-1-2");
	assert_string_equal(c.argv[6], "publish");
	assert_string_equal(c.argv[10], "dispatcher:h-1-2");
	assert_string_equal(c.argv[11], "cx_total");
	assert_string_equal(c.argv[12], "1");
	assert_int_equal(c.lens[11], strlen("cx_total"));
	wh_mcall_free(&c);
	wh_mset_free(&s);

	assert_int_equal(wh_mcall_build(&c, &p.keys, "read", NULL, NULL, NULL),
	    0);
	assert_int_equal(c.argc, 11);
	assert_string_equal(c.argv[5], "wh:metrics:instances");
	assert_string_equal(c.argv[10], "");
	wh_mcall_free(&c);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_mset),
		cmocka_unit_test(test_calls),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

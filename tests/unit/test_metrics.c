/*
 * test_metrics.c: what an instance publishes for GET /metrics: label
 * values escaped as the text format wants, histogram buckets (bounds
 * inclusive, cumulative when published, sums in microseconds), the field
 * names and kinds, the text format rendered from them (equal series
 * added up) and the process' own figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

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
	assert_string_equal(field(&s, "uh_seconds_sum"), "4500");
	assert_string_equal(field(&s, "ch_seconds_count"), "2");
	wh_mset_free(&s);

	wh_mset_init(&s);
	assert_int_equal(wh_mset_hist(&s, "h_seconds", "r=\"x\"", &h), 0);
	assert_non_null(field(&s, "ch_seconds_bucket{r=\"x\",le=\"1\"}"));
	assert_non_null(field(&s, "ch_seconds_count{r=\"x\"}"));
	wh_mset_free(&s);
}

/* Equal series (one per api worker) are added; times shown in seconds. */
static void
test_render(void **state)
{
	static const struct wh_mfamily	fams[] = {
		{ "a_total", "counter", "A." },
		{ "h_seconds", "histogram", "H." },
		{ "t_seconds_total", "counter", "T." },
	};
	struct wh_mset			s;
	struct wh_hist			h;
	struct wh_buf			b;

	(void)state;
	memset(&h, 0, sizeof(h));
	wh_hist_observe(&h, 1500000);
	wh_mset_init(&s);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_mset_counter(&s, "a_total", "k=\"v\"", 7), 0);
	assert_int_equal(wh_mset_counter(&s, "unlisted_total", "", 1), 0);
	assert_int_equal(wh_mset_hist(&s, "h_seconds", "", &h), 0);
	assert_int_equal(wh_mset_micros(&s, "t_seconds_total", "", 2500), 0);
	assert_int_equal(wh_mset_counter(&s, "a_total", "k=\"v\"", 5), 0);
	assert_int_equal(wh_mset_hist(&s, "h_seconds", "", &h), 0);
	assert_int_equal(wh_mset_render(&b, &s, fams, 3), 0);
	assert_int_equal(wh_buf_cstr(&b), 0);
	assert_non_null(strstr(b.data, "# HELP a_total A.\n# TYPE a_total "
	    "counter\na_total{k=\"v\"} 12\n"));
	assert_non_null(strstr(b.data, "h_seconds_bucket{le=\"1\"} 0\n"
	    "h_seconds_bucket{le=\"2.5\"} 2\n"));
	assert_non_null(strstr(b.data, "h_seconds_bucket{le=\"+Inf\"} 2\n"
	    "h_seconds_sum 3.000000\nh_seconds_count 2\n"));
	assert_non_null(strstr(b.data, "t_seconds_total 0.002500\n"));
	assert_null(strstr(b.data, "unlisted"));
	wh_buf_free(&b);
	wh_mset_free(&s);
}

/* What /proc/self tells: this test process has a few descriptors open. */
static void
test_process(void **state)
{
	struct wh_mset	s;

	(void)state;
	wh_mset_init(&s);
	assert_int_equal(wh_mset_process(&s), 0);
	assert_int_equal(wh_mset_build_info(&s), 0);
	assert_non_null(field(&s, "uwebhooks_process_cpu_seconds_total"));
	assert_true(atoll(field(&s,
	    "gwebhooks_process_resident_memory_bytes")) > 4096);
	assert_true(atoll(field(&s, "gwebhooks_process_open_fds")) >= 3);
	assert_string_equal(field(&s,
	    "gwebhooks_build_info{version=\"" WH_VERSION "\"}"), "1");
	wh_mset_free(&s);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_mset),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_process),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

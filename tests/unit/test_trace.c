/*
 * test_trace.c: traceparent parsing (the W3C examples, what must be
 * refused), formatting back, fresh ids, and WH_OTLP_HEADERS parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "encode.h"
#include "trace.h"

#define TP	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int
parse(const char *s)
{
	struct wh_trace	t;

	return (wh_traceparent_parse(s, strlen(s), &t));
}

static void
test_parse(void **state)
{
	struct wh_trace	t;
	char		out[WH_TRACEPARENT_LEN + 1];

	(void)state;
	assert_int_equal(wh_traceparent_parse(TP, strlen(TP), &t), 0);
	assert_int_equal(t.trace_id[0], 0x4b);
	assert_int_equal(t.span_id[7], 0xb7);
	assert_int_equal(t.flags, WH_TRACE_SAMPLED);
	wh_traceparent_format(&t, t.span_id, out);
	assert_string_equal(out, TP);
	/* A later version may carry more, after a dash. */
	assert_int_equal(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-00-what-comes"), 0);
	assert_int_equal(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-00x"), -1);
	assert_int_equal(parse(TP "-more"), -1);		/* 00: exact */
	assert_int_equal(parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01"), -1);
	assert_int_equal(parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-"
	    "00f067aa0ba902b7-01"), -1);
	assert_int_equal(parse("00-00000000000000000000000000000000-"
	    "00f067aa0ba902b7-01"), -1);
	assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "0000000000000000-01"), -1);
	assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736_"
	    "00f067aa0ba902b7-01"), -1);
	assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e473"), -1);
	assert_int_equal(wh_traceparent_parse(TP, strlen(TP) - 1, &t), -1);
}

static void
test_new_id(void **state)
{
	uint8_t	a[WH_SPAN_ID_LEN], b[WH_SPAN_ID_LEN];
	char	hex[2 * WH_SPAN_ID_LEN + 1];

	(void)state;
	assert_int_equal(wh_trace_new_id(a, sizeof(a)), 0);
	assert_int_equal(wh_trace_new_id(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	(void)wh_hex_encode(a, sizeof(a), hex);
	assert_int_equal(strlen(hex), 16);
}

struct seen {
	char	text[512];
};

static int
collect(const char *n, size_t nlen, const char *v, size_t vlen, void *arg)
{
	struct seen	*s = arg;
	size_t		 at = strlen(s->text);

	(void)snprintf(s->text + at, sizeof(s->text) - at, "[%.*s|%.*s]",
	    (int)nlen, n, (int)vlen, v);
	return (0);
}

static void
test_headers(void **state)
{
	struct seen	s;
	const char	*bad[] = {
		"novalue", "=v", "a b=c", "a=%zz", "a=%2", "a=%0d", "a=1,",
		"a=1,,b=2", "a=\x01",
	};
	size_t		i;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(wh_otlp_headers_parse(" api-key = abc%20d ,x=",
	    22, collect, &s), 0);
	assert_string_equal(s.text, "[api-key|abc d][x|]");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(wh_otlp_headers_parse(bad[i], strlen(bad[i]),
		    collect, &s), -1);
	}
	assert_int_equal(wh_otlp_headers_parse("", 0, collect, &s), 0);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_new_id),
		cmocka_unit_test(test_headers),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

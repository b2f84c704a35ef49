/*
 * test_otlp.c: the shared trace exporter (common/otlp.c) without a
 * collector: the sampling decision, the bounded queue and its drop
 * count, batches taken oldest first, and the OTLP/JSON request (valid
 * JSON, ids in hex, hostile attribute values escaped, the resource).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "json.h"
#include "otlp.h"

static struct wh_otlp	o;
static struct wh_otlp_batch	b;

static void
setup_exporter(double sample)
{
	static struct wh_config	cfg;	/* the exporter keeps a pointer */
	char			err[128];

	/* A program sets its exporter up once; the test, many times. */
	curl_slist_free_all(o.headers);
	memset(&cfg, 0, sizeof(cfg));
	(void)snprintf(cfg.otlp_endpoint, sizeof(cfg.otlp_endpoint),
	    "http://127.0.0.1:4318");
	(void)snprintf(cfg.resource_attrs, sizeof(cfg.resource_attrs),
	    "deployment.environment=t%%20e");
	cfg.trace_sample = sample;
	assert_int_equal(wh_otlp_init(&o, &cfg, "svc", "inst-1", err,
	    sizeof(err)), 0);
	assert_true(o.on);
}

static void
trace_of(struct wh_trace *t, uint8_t low, uint8_t flags)
{
	memset(t, 0, sizeof(*t));
	memset(t->trace_id, low, sizeof(t->trace_id));
	t->trace_id[0] = 1;
	memset(t->span_id, 0xab, sizeof(t->span_id));
	t->flags = flags;
}

static void
test_sampled(void **state)
{
	struct wh_trace	lo, hi;

	(void)state;
	trace_of(&lo, 0x01, WH_TRACE_SAMPLED);
	trace_of(&hi, 0xfe, WH_TRACE_SAMPLED);
	setup_exporter(1);
	assert_true(wh_otlp_sampled(&o, &lo));
	assert_true(wh_otlp_sampled(&o, &hi));
	lo.flags = 0;
	assert_false(wh_otlp_sampled(&o, &lo));
	lo.flags = WH_TRACE_SAMPLED;
	setup_exporter(0.5);
	assert_true(wh_otlp_sampled(&o, &lo));
	assert_false(wh_otlp_sampled(&o, &hi));
	setup_exporter(0);
	assert_false(wh_otlp_sampled(&o, &lo));
	o.on = 0;
	setup_exporter(1);
	o.on = 0;
	assert_false(wh_otlp_sampled(&o, &lo));
}

static void
test_queue_bound(void **state)
{
	struct wh_trace		 t;
	struct wh_otlp_span	*s;
	size_t			 i;

	(void)state;
	setup_exporter(1);
	trace_of(&t, 0x10, WH_TRACE_SAMPLED);
	for (i = 0; i < WH_OTLP_QUEUE_MAX; i++) {
		assert_non_null(s = wh_otlp_span_new(&o, &t, t.span_id));
		s->name = "n";
		s->start_us = (int64_t)i;
	}
	assert_null(wh_otlp_span_new(&o, &t, NULL));
	assert_int_equal(o.dropped, 1);
	wh_otlp_take(&o, &b);
	assert_int_equal(b.n, WH_OTLP_BATCH_MAX);
	assert_int_equal(b.spans[0].start_us, 0);
	assert_int_equal(wh_otlp_pending(&o),
	    WH_OTLP_QUEUE_MAX - WH_OTLP_BATCH_MAX);
	wh_otlp_take(&o, &b);
	assert_int_equal(b.spans[0].start_us, WH_OTLP_BATCH_MAX);
	wh_otlp_done(&o, b.n, CURLE_OK, 200);
	assert_int_equal(o.exported, WH_OTLP_BATCH_MAX);
	wh_otlp_done(&o, 3, CURLE_OK, 503);
	wh_otlp_done(&o, 2, CURLE_COULDNT_CONNECT, 0);
	assert_int_equal(o.dropped, 1 + 3 + 2);
}

static void
test_encode(void **state)
{
	struct wh_trace		 t;
	struct wh_otlp_span	*s;
	struct wh_buf		 out;
	char			 big[300];

	(void)state;
	setup_exporter(1);
	trace_of(&t, 0x22, WH_TRACE_SAMPLED);
	assert_non_null(s = wh_otlp_span_new(&o, &t, t.span_id));
	s->name = "webhook \"delivery\"";
	s->kind = WH_OTLP_KIND_CLIENT;
	s->error = 1;
	s->start_us = 1000;
	s->end_us = 2500;
	wh_otlp_attr_str(s, "error.type", "x\"\n\\y");
	wh_otlp_attr_int(s, "webhooks.attempt", 3);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	wh_otlp_attr_str(s, "long", big);
	assert_non_null(s = wh_otlp_span_new(&o, &t, NULL));
	s->name = "/v1/events";
	s->kind = WH_OTLP_KIND_SERVER;
	s->start_us = s->end_us = 5;
	wh_otlp_take(&o, &b);
	wh_buf_init(&out, 0);
	assert_int_equal(wh_otlp_encode(&o, &b, &out), 0);
	assert_int_equal(wh_buf_cstr(&out), 0);
	assert_true(wh_json_valid(out.data, out.len));
	assert_non_null(strstr(out.data, "\"traceId\":\"01222222222222222222222222222222\""));
	assert_non_null(strstr(out.data, "\"parentSpanId\":\"abababababababab\""));
	assert_non_null(strstr(out.data, "\"parentSpanId\":\"\""));
	assert_non_null(strstr(out.data, "\"name\":\"webhook \\\"delivery\\\"\""));
	assert_non_null(strstr(out.data, "\"stringValue\":\"x\\\"\\n\\\\y\""));
	assert_non_null(strstr(out.data, "{\"key\":\"webhooks.attempt\","
	    "\"value\":{\"intValue\":\"3\"}}"));
	assert_non_null(strstr(out.data, "\"startTimeUnixNano\":\"1000000\","
	    "\"endTimeUnixNano\":\"2500000\""));
	assert_non_null(strstr(out.data, "\"status\":{\"code\":2}"));
	assert_non_null(strstr(out.data, "\"kind\":2"));
	/* Truncated to WH_OTLP_VALUE_MAX - 1 bytes. */
	memset(big, 'a', WH_OTLP_VALUE_MAX - 1);
	big[WH_OTLP_VALUE_MAX - 1] = '"';
	big[WH_OTLP_VALUE_MAX] = '\0';
	assert_non_null(strstr(out.data, big));
	assert_non_null(strstr(out.data, "{\"key\":\"service.name\",\"value\":"
	    "{\"stringValue\":\"svc\"}}"));
	assert_non_null(strstr(out.data, "{\"key\":\"deployment.environment\","
	    "\"value\":{\"stringValue\":\"t e\"}}"));
	wh_buf_free(&out);
}

int
main(void)
{
	int	rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sampled),
		cmocka_unit_test(test_queue_bound),
		cmocka_unit_test(test_encode),
	};

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_slist_free_all(o.headers);
	return (rc);
}

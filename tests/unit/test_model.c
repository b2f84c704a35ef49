/*
 * test_model.c: the msgpack codecs of the stored records and tasks.
 * Round trips keep every field (binary secrets and raw JSON payloads byte
 * for byte); unknown keys are skipped so a newer writer does not break an
 * older reader; anything malformed, truncated or of the wrong type is
 * refused without a leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "buf.h"
#include "model.h"

static void
sample_webhook(struct wh_webhook *w)
{
	static struct wh_header	 h[2];
	static char		*types[2];

	memset(w, 0, sizeof(*w));
	w->sid = "wh_abc";
	w->company_sid = "CO_1";
	w->label = "label \xc3\xa9";
	w->url = "https://example.com/hook?x=1";
	w->method = WH_METHOD_PATCH;
	w->timeout_ms = 2500;
	w->max_attempts = 3;
	h[0].name = "X-Tenant";
	h[0].value = "acme";
	h[0].sign = 1;
	h[1].name = "X-Trace";
	h[1].value = "t 1";
	h[1].sign = 0;
	w->headers = h;
	w->nheaders = 2;
	types[0] = "call.ended";
	types[1] = "artifact.*";
	w->event_types = types;
	w->nevent_types = 2;
	w->enabled = 0;
	w->created_at = 1795860020021LL;
	w->updated_at = 1795860020999LL;
}

static void
test_webhook_roundtrip(void **state)
{
	struct wh_webhook	in, out;
	struct wh_buf		b;

	sample_webhook(&in);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_webhook_encode(&in, &b), 0);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &out), 0);
	assert_string_equal(out.sid, "wh_abc");
	assert_string_equal(out.company_sid, "CO_1");
	assert_string_equal(out.label, "label \xc3\xa9");
	assert_string_equal(out.url, in.url);
	assert_int_equal(out.method, WH_METHOD_PATCH);
	assert_int_equal(out.timeout_ms, 2500);
	assert_int_equal(out.max_attempts, 3);
	assert_int_equal(out.nheaders, 2);
	assert_string_equal(out.headers[0].name, "X-Tenant");
	assert_string_equal(out.headers[0].value, "acme");
	assert_int_equal(out.headers[0].sign, 1);
	assert_string_equal(out.headers[1].value, "t 1");
	assert_int_equal(out.headers[1].sign, 0);
	assert_int_equal(out.nevent_types, 2);
	assert_string_equal(out.event_types[1], "artifact.*");
	assert_int_equal(out.enabled, 0);
	assert_true(out.created_at == 1795860020021LL);
	assert_true(out.updated_at == 1795860020999LL);
	wh_webhook_free(&out);
	wh_buf_free(&b);
}

static void
test_key_roundtrip(void **state)
{
	struct wh_signing_key	in, out;
	struct wh_buf		b;
	unsigned char		secret[] = { 'a', 0x00, 0xff, 'z', 0x80 };

	memset(&in, 0, sizeof(in));
	in.sid = "sk_1";
	in.webhook_sid = "wh_1";
	in.label = "default";
	in.secret = secret;
	in.secret_len = sizeof(secret);
	in.created_at = 5;
	in.expires_at = 1000;
	wh_buf_init(&b, 0);
	assert_int_equal(wh_signing_key_encode(&in, &b), 0);
	assert_int_equal(wh_signing_key_decode(b.data, b.len, &out), 0);
	assert_string_equal(out.sid, "sk_1");
	assert_string_equal(out.webhook_sid, "wh_1");
	assert_int_equal(out.secret_len, sizeof(secret));
	assert_memory_equal(out.secret, secret, sizeof(secret));
	assert_true(out.expires_at == 1000);
	assert_int_equal(wh_signing_key_active(&out, 999), 1);
	assert_int_equal(wh_signing_key_active(&out, 1000), 0);
	out.expires_at = 0;
	assert_int_equal(wh_signing_key_active(&out, 1LL << 50), 1);
	wh_signing_key_free(&out);
	wh_buf_free(&b);
}

static void
test_task_roundtrip(void **state)
{
	struct wh_task	in, out;
	struct wh_buf	b;
	const char	*payload = "{\"n\":12345678901234567890,\"a\":[1,2.50]}";

	memset(&in, 0, sizeof(in));
	in.event.event_sid = "evt_1";
	in.event.company_sid = "CO_1";
	in.event.event_type = "call.ended";
	in.event.payload = (char *)payload;
	in.event.payload_len = strlen(payload);
	in.event.created_at = 42;
	in.webhook_sid = "wh_1";
	in.attempt = 3;
	in.first_attempt_at = 100;
	in.due_at = 200;
	in.last_error = "HTTP 503";
	wh_buf_init(&b, 0);
	assert_int_equal(wh_task_encode(&in, &b), 0);
	assert_int_equal(wh_task_decode(b.data, b.len, &out), 0);
	assert_string_equal(out.event.event_sid, "evt_1");
	assert_string_equal(out.event.payload, payload);
	assert_int_equal(out.event.payload_len, strlen(payload));
	assert_int_equal(out.attempt, 3);
	assert_true(out.due_at == 200);
	assert_string_equal(out.last_error, "HTTP 503");
	wh_task_free(&out);
	wh_buf_free(&b);
}

static int
pk_write(void *data, const char *p, size_t len)
{
	return (wh_buf_append(data, p, len));
}

static void
pk_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A newer writer's extra field is skipped; a wrong type is refused. */
static void
test_unknown_and_wrong_types(void **state)
{
	struct wh_webhook	w;
	struct wh_buf		b;
	msgpack_packer		pk;

	wh_buf_init(&b, 0);
	msgpack_packer_init(&pk, &b, pk_write);
	msgpack_pack_map(&pk, 5);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); msgpack_pack_int(&pk, WH_METHOD_PUT);
	pk_s(&pk, "from_the_future"); msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), 0);
	assert_int_equal(w.method, WH_METHOD_PUT);
	assert_int_equal(w.enabled, 1);
	wh_webhook_free(&w);

	wh_buf_reset(&b);
	msgpack_pack_map(&pk, 4);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); msgpack_pack_int(&pk, 7);
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); msgpack_pack_int(&pk, WH_METHOD_PUT);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), -1);
	assert_null(w.sid);

	/* A required field missing. */
	wh_buf_reset(&b);
	msgpack_pack_map(&pk, 2);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), -1);

	/* An embedded NUL in a text field. */
	wh_buf_reset(&b);
	msgpack_pack_map(&pk, 4);
	pk_s(&pk, "sid"); msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "a\0b", 3);
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); msgpack_pack_int(&pk, WH_METHOD_PUT);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), -1);
	wh_buf_free(&b);
}

/* Every prefix of a valid record is refused, and so is trailing data. */
static void
test_truncated_and_garbage(void **state)
{
	struct wh_webhook	in, w;
	struct wh_task		t;
	struct wh_buf		b;
	size_t			i;
	char			junk[64];

	sample_webhook(&in);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_webhook_encode(&in, &b), 0);
	for (i = 0; i < b.len; i++)
		assert_int_equal(wh_webhook_decode(b.data, i, &w), -1);
	assert_int_equal(wh_buf_append(&b, "\xc0", 1), 0);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), -1);
	wh_buf_free(&b);

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 37 + 11);
	assert_int_equal(wh_webhook_decode(junk, sizeof(junk), &w), -1);
	assert_int_equal(wh_task_decode(junk, sizeof(junk), &t), -1);
	assert_int_equal(wh_task_decode("", 0, &t), -1);
}

static void
test_methods(void **state)
{
	assert_int_equal(wh_method_parse("POST", 4), WH_METHOD_POST);
	assert_int_equal(wh_method_parse("PUT", 3), WH_METHOD_PUT);
	assert_int_equal(wh_method_parse("PATCH", 5), WH_METHOD_PATCH);
	assert_int_equal(wh_method_parse("post", 4), 0);
	assert_int_equal(wh_method_parse("GET", 3), 0);
	assert_int_equal(wh_method_parse("PUTX", 3), WH_METHOD_PUT);
	assert_string_equal(wh_method_name(WH_METHOD_PATCH), "PATCH");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook_roundtrip),
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_task_roundtrip),
		cmocka_unit_test(test_unknown_and_wrong_types),
		cmocka_unit_test(test_truncated_and_garbage),
		cmocka_unit_test(test_methods),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

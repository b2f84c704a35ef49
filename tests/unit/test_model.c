/*
 * test_model.c: the msgpack codecs of the stored records and tasks.
 *
 * Round trips keep every field (binary secrets and raw JSON payloads byte
 * for byte). Records are also built by hand from tables of fields, so that
 * every field can in turn be left out or given a value of each wrong type,
 * and every map can carry a key from the future that must be skipped.
 * Anything malformed, truncated or random is refused without a leak and
 * leaves the struct zeroed; run this under ASan/UBSan and valgrind. Every
 * decode reads from a heap copy of exactly the bytes given, so a read past
 * the end is caught by the sanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "buf.h"
#include "model.h"
#include "validate.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

enum rec { REC_WEBHOOK, REC_KEY, REC_TASK };

/* ---- helpers ---- */

static int
is_zero(const void *p, size_t len)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (c[i] != 0)
			return (0);
	}
	return (1);
}

/*
 * Decode len bytes of p as a record of the given kind from an exact-size
 * heap copy. On success the record is freed; on failure it must be zero.
 */
static int
decode_as(enum rec kind, const void *p, size_t len)
{
	struct wh_webhook	 w;
	struct wh_signing_key	 k;
	struct wh_task		 t;
	char			*copy;
	int			 rc = -1;

	copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, p, len);
	switch (kind) {
	case REC_WEBHOOK:
		rc = wh_webhook_decode(copy, len, &w);
		if (rc == 0)
			wh_webhook_free(&w);
		assert_true(is_zero(&w, sizeof(w)));
		break;
	case REC_KEY:
		rc = wh_signing_key_decode(copy, len, &k);
		if (rc == 0)
			wh_signing_key_free(&k);
		assert_true(is_zero(&k, sizeof(k)));
		break;
	case REC_TASK:
		rc = wh_task_decode(copy, len, &t);
		if (rc == 0)
			wh_task_free(&t);
		assert_true(is_zero(&t, sizeof(t)));
		break;
	}
	free(copy);
	assert_true(rc == 0 || rc == -1);
	return (rc);
}

static int
pk_write(void *data, const char *p, size_t len)
{
	return (wh_buf_append(data, p, len) == -1 ? -1 : 0);
}

static void
pk_s(msgpack_packer *pk, const char *s)
{
	assert_int_equal(msgpack_pack_str(pk, strlen(s)), 0);
	assert_int_equal(msgpack_pack_str_body(pk, s, strlen(s)), 0);
}

static void
pk_i(msgpack_packer *pk, int64_t v)
{
	assert_int_equal(msgpack_pack_int64(pk, v), 0);
}

static void
pk_map(msgpack_packer *pk, size_t n)
{
	assert_int_equal(msgpack_pack_map(pk, n), 0);
}

/* ---- sample records ---- */

static struct wh_header sample_headers[] = {
	{ "X-Tenant", "acme", 1 },
	{ "X-Trace", "t 1\tx", 0 },
	{ "X-Streem-API-Key-ID", "key_123", 1 },
	{ "X-Empty", "", 0 },
};

static char *sample_types[] = { "call.ended", "artifact.*", "*" };

static void
sample_webhook(struct wh_webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->sid = "wh_2Jd8sKx";
	w->company_sid = "CO_1";
	w->label = "label \xc3\xa9\xe2\x82\xac";
	w->url = "https://example.com/hook?x=1&y=%20";
	w->method = WH_METHOD_PATCH;
	w->timeout_ms = 2500;
	w->max_attempts = 3;
	w->headers = sample_headers;
	w->nheaders = NITEMS(sample_headers);
	w->event_types = sample_types;
	w->nevent_types = NITEMS(sample_types);
	w->enabled = 0;
	w->disabled_reason = "endpoint failing since 2026-11-28T10:00:20.021Z";
	w->created_at = 1795860020021LL;
	w->updated_at = -5;
}

static unsigned char sample_secret[] = {
	'a', 0x00, 0xff, 'z', 0x80, 0xc3, 0xa9, 0x7f, 0x01, 0xfe
};

static void
sample_key(struct wh_signing_key *k)
{
	memset(k, 0, sizeof(*k));
	k->sid = "sk_1";
	k->webhook_sid = "wh_1";
	k->label = "default";
	k->secret = sample_secret;
	k->secret_len = sizeof(sample_secret);
	k->created_at = 5;
	k->expires_at = INT64_MAX;
}

static const char *sample_payload =
    "{\"call_sid\":\"CA_9\",\"n\":12345678901234567890,\"a\":[1,2.50,-3e-7],"
    "\"s\":\"\\u0000 \\\" \\\\ \xf0\x9f\x98\x80\",\n\t\"o\":{\"z\":null}}";

static void
sample_task(struct wh_task *t)
{
	memset(t, 0, sizeof(*t));
	t->event.event_sid = "evt_1";
	t->event.company_sid = "CO_1";
	t->event.event_type = "call.ended";
	t->event.payload = (char *)sample_payload;
	t->event.payload_len = strlen(sample_payload);
	t->event.created_at = 42;
	t->webhook_sid = "wh_1";
	t->attempt = 3;
	t->first_attempt_at = 100;
	t->due_at = INT64_MIN;
	t->last_error = "HTTP 503: \xe2\x80\x94 busy";
}

static void
encode_sample(enum rec kind, struct wh_buf *b)
{
	struct wh_webhook	w;
	struct wh_signing_key	k;
	struct wh_task		t;

	wh_buf_init(b, 0);
	switch (kind) {
	case REC_WEBHOOK:
		sample_webhook(&w);
		assert_int_equal(wh_webhook_encode(&w, b), 0);
		break;
	case REC_KEY:
		sample_key(&k);
		assert_int_equal(wh_signing_key_encode(&k, b), 0);
		break;
	case REC_TASK:
		sample_task(&t);
		assert_int_equal(wh_task_encode(&t, b), 0);
		break;
	}
}

/* ---- round trips ---- */

static void
test_methods(void **state)
{
	(void)state;
	assert_int_equal(wh_method_parse("POST", 4), WH_METHOD_POST);
	assert_int_equal(wh_method_parse("PUT", 3), WH_METHOD_PUT);
	assert_int_equal(wh_method_parse("PATCH", 5), WH_METHOD_PATCH);
	assert_int_equal(wh_method_parse("PUTX", 3), WH_METHOD_PUT);
	assert_int_equal(wh_method_parse("PUT", 4), 0);
	assert_int_equal(wh_method_parse("post", 4), 0);
	assert_int_equal(wh_method_parse("GET", 3), 0);
	assert_int_equal(wh_method_parse("", 0), 0);
	assert_int_equal(wh_method_parse(NULL, 0), 0);
	assert_string_equal(wh_method_name(WH_METHOD_POST), "POST");
	assert_string_equal(wh_method_name(WH_METHOD_PUT), "PUT");
	assert_string_equal(wh_method_name(WH_METHOD_PATCH), "PATCH");
	assert_null(wh_method_name(0));
	assert_null(wh_method_name(4));
	assert_null(wh_method_name(-1));
}

static void
check_webhook(const struct wh_webhook *in, const struct wh_webhook *out)
{
	size_t	i;

	assert_string_equal(out->sid, in->sid);
	assert_string_equal(out->company_sid, in->company_sid);
	if (in->label == NULL)
		assert_null(out->label);
	else
		assert_string_equal(out->label, in->label);
	assert_string_equal(out->url, in->url);
	assert_int_equal(out->method, in->method);
	assert_int_equal(out->timeout_ms, in->timeout_ms);
	assert_int_equal(out->max_attempts, in->max_attempts);
	assert_int_equal(out->nheaders, in->nheaders);
	for (i = 0; i < in->nheaders; i++) {
		assert_string_equal(out->headers[i].name, in->headers[i].name);
		assert_string_equal(out->headers[i].value,
		    in->headers[i].value);
		assert_int_equal(out->headers[i].sign, in->headers[i].sign);
	}
	if (in->nheaders == 0)
		assert_null(out->headers);
	assert_int_equal(out->nevent_types, in->nevent_types);
	for (i = 0; i < in->nevent_types; i++)
		assert_string_equal(out->event_types[i], in->event_types[i]);
	if (in->nevent_types == 0)
		assert_null(out->event_types);
	assert_int_equal(out->enabled, in->enabled);
	if (in->disabled_reason == NULL)
		assert_null(out->disabled_reason);
	else
		assert_string_equal(out->disabled_reason, in->disabled_reason);
	assert_true(out->created_at == in->created_at);
	assert_true(out->updated_at == in->updated_at);
}

static void
test_webhook_roundtrip(void **state)
{
	struct wh_webhook	in, out;
	struct wh_buf		b;

	(void)state;
	sample_webhook(&in);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_webhook_encode(&in, &b), 0);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &out), 0);
	check_webhook(&in, &out);
	wh_webhook_free(&out);
	assert_true(is_zero(&out, sizeof(out)));

	/*
	 * No label, no headers, no types, no disabled_reason (a record
	 * written before that field existed), extremes of the integers.
	 */
	in.label = NULL;
	in.disabled_reason = NULL;
	in.headers = NULL;
	in.nheaders = 0;
	in.event_types = NULL;
	in.nevent_types = 0;
	in.enabled = 1;
	in.method = WH_METHOD_POST;
	in.timeout_ms = UINT32_MAX;
	in.max_attempts = 0;
	in.created_at = INT64_MIN;
	in.updated_at = INT64_MAX;
	wh_buf_reset(&b);
	assert_int_equal(wh_webhook_encode(&in, &b), 0);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &out), 0);
	check_webhook(&in, &out);
	wh_webhook_free(&out);
	wh_buf_free(&b);
}

/* An array of n integers. */
static void
pk_ints(msgpack_packer *pk, size_t n, const int64_t *v)
{
	size_t	i;

	assert_int_equal(msgpack_pack_array(pk, n), 0);
	for (i = 0; i < n; i++)
		pk_i(pk, v[i]);
}

/* A webhook map with only its required fields, and room for extra more. */
static void
pk_min_webhook(msgpack_packer *pk, size_t extra)
{
	pk_map(pk, 4 + extra);
	pk_s(pk, "sid"); pk_s(pk, "wh_1");
	pk_s(pk, "company_sid"); pk_s(pk, "CO_1");
	pk_s(pk, "url"); pk_s(pk, "https://example.com/");
	pk_s(pk, "method"); pk_i(pk, WH_METHOD_POST);
}

/*
 * The delivery-control fields (issue 21: retry_schedule_s, filter,
 * rate_limit): kept through a round trip,
 * absent when unset (a record without them is one written before them),
 * and refused out of their bounds by both the encoder and the decoder.
 */
static void
test_webhook_control(void **state)
{
	struct wh_webhook	 in, out;
	struct wh_buf		 b;
	msgpack_packer		 pk;
	const char		*filter = "{\"eq\": [\"event_type\", \"a\"]}";
	int64_t			 ones[WH_SCHEDULE_MAX + 1];
	int64_t			 days[WH_SCHEDULE_MAX];
	uint32_t		 i;
	int			 bad;

	(void)state;
	for (i = 0; i <= WH_SCHEDULE_MAX; i++)
		ones[i] = 1;
	sample_webhook(&in);
	in.retry.n = 3;
	in.retry.delay_s[0] = 1;
	in.retry.delay_s[1] = 86400;
	in.retry.delay_s[2] = 30;
	in.filter = (char *)filter;
	in.rate_per_second = 50;
	in.rate_burst = 10000;
	wh_buf_init(&b, 0);
	assert_int_equal(wh_webhook_encode(&in, &b), 0);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &out), 0);
	check_webhook(&in, &out);
	assert_int_equal(out.rate_per_second, 50);
	assert_int_equal(out.rate_burst, 10000);
	assert_int_equal(out.retry.n, 3);
	assert_memory_equal(out.retry.delay_s, in.retry.delay_s,
	    3 * sizeof(uint32_t));
	assert_string_equal(out.filter, filter);
	wh_webhook_free(&out);

	/* Unset: nothing written, nothing read back. */
	sample_webhook(&in);
	wh_buf_reset(&b);
	assert_int_equal(wh_webhook_encode(&in, &b), 0);
	assert_null(memmem(b.data, b.len, "retry_schedule_s", 16));
	assert_null(memmem(b.data, b.len, "filter", 6));
	assert_null(memmem(b.data, b.len, "rate_limit", 10));
	assert_int_equal(wh_webhook_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.retry.n, 0);
	assert_int_equal(out.rate_per_second, 0);
	assert_null(out.filter);
	wh_webhook_free(&out);

	/* The encoder refuses what the decoder would. */
	sample_webhook(&in);
	wh_buf_reset(&b);
	in.filter = "";
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	in.filter = NULL;
	in.retry.n = 1;
	in.retry.delay_s[0] = 0;
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	in.retry.delay_s[0] = 86401;
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	in.retry.n = WH_SCHEDULE_MAX + 1;
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	in.retry.n = 0;
	in.rate_per_second = 50;	/* without a burst */
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	in.rate_burst = WH_RATE_MAX + 1;
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	in.rate_per_second = 0;
	in.rate_burst = 10;
	assert_int_equal(wh_webhook_encode(&in, &b), -1);
	assert_int_equal(b.len, 0);

	/* By hand: each bad value of either field makes the record bad. */
	for (bad = 0; bad < 14; bad++) {
		wh_buf_reset(&b);
		msgpack_packer_init(&pk, &b, pk_write);
		pk_min_webhook(&pk, 1);
		pk_s(&pk, bad < 6 ? "retry_schedule_s" : bad < 9 ? "filter" :
		    "rate_limit");
		switch (bad) {
		case 0:		/* empty */
			pk_ints(&pk, 0, NULL);
			break;
		case 1:
			pk_ints(&pk, 1, (const int64_t[]){ 0 });
			break;
		case 2:
			pk_ints(&pk, 2, (const int64_t[]){ 5, 86401 });
			break;
		case 3:
			pk_ints(&pk, 1, (const int64_t[]){ -5 });
			break;
		case 4:
			pk_ints(&pk, WH_SCHEDULE_MAX + 1, ones);
			break;
		case 5:
			pk_s(&pk, "[1]");
			break;
		case 6:
			pk_s(&pk, "");
			break;
		case 7:
			pk_i(&pk, 1);
			break;
		case 8:
			assert_int_equal(msgpack_pack_str(&pk, 3), 0);
			assert_int_equal(msgpack_pack_str_body(&pk, "{\0}",
			    3), 0);
			break;
		case 9:		/* rate_limit: [per_second, burst] only */
			pk_ints(&pk, 1, (const int64_t[]){ 50 });
			break;
		case 10:
			pk_ints(&pk, 2, (const int64_t[]){ 0, 10 });
			break;
		case 11:
			pk_ints(&pk, 2, (const int64_t[]){ 50,
			    WH_RATE_MAX + 1 });
			break;
		case 12:
			pk_ints(&pk, 3, (const int64_t[]){ 50, 10, 1 });
			break;
		case 13:
			pk_i(&pk, 50);
			break;
		}
		assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), -1);
	}
	/* And the same record with good values decodes. */
	wh_buf_reset(&b);
	msgpack_packer_init(&pk, &b, pk_write);
	pk_min_webhook(&pk, 3);
	pk_s(&pk, "retry_schedule_s");
	for (i = 0; i < WH_SCHEDULE_MAX; i++)
		days[i] = 86400;
	pk_ints(&pk, WH_SCHEDULE_MAX, days);
	pk_s(&pk, "filter"); pk_s(&pk, filter);
	pk_s(&pk, "rate_limit");
	pk_ints(&pk, 2, (const int64_t[]){ WH_RATE_MAX, 1 });
	assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), 0);
	wh_buf_free(&b);
}

static void
test_key_roundtrip(void **state)
{
	struct wh_signing_key	in, out;
	struct wh_buf		b;

	(void)state;
	sample_key(&in);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_signing_key_encode(&in, &b), 0);
	assert_int_equal(wh_signing_key_decode(b.data, b.len, &out), 0);
	assert_string_equal(out.sid, "sk_1");
	assert_string_equal(out.webhook_sid, "wh_1");
	assert_string_equal(out.label, "default");
	assert_int_equal(out.secret_len, sizeof(sample_secret));
	assert_memory_equal(out.secret, sample_secret, sizeof(sample_secret));
	assert_true(out.created_at == 5);
	assert_true(out.expires_at == INT64_MAX);
	wh_signing_key_free(&out);
	assert_true(is_zero(&out, sizeof(out)));

	in.label = NULL;
	in.expires_at = 0;
	wh_buf_reset(&b);
	assert_int_equal(wh_signing_key_encode(&in, &b), 0);
	assert_int_equal(wh_signing_key_decode(b.data, b.len, &out), 0);
	assert_null(out.label);
	assert_true(out.expires_at == 0);
	assert_memory_equal(out.secret, sample_secret, sizeof(sample_secret));
	assert_int_equal(out.alg, WH_KEY_HMAC);
	wh_signing_key_free(&out);

	/* An ed25519 key keeps its kind; its secret is exactly 32 bytes. */
	in.alg = WH_KEY_ED25519;
	wh_buf_reset(&b);
	assert_int_equal(wh_signing_key_encode(&in, &b), -1);
	in.secret = (unsigned char *)"0123456789abcdef0123456789abcdef";
	in.secret_len = 32;
	assert_int_equal(wh_signing_key_encode(&in, &b), 0);
	assert_int_equal(wh_signing_key_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.alg, WH_KEY_ED25519);
	assert_int_equal(out.secret_len, 32);
	wh_signing_key_free(&out);
	in.alg = 7;
	wh_buf_reset(&b);
	assert_int_equal(wh_signing_key_encode(&in, &b), -1);
	wh_buf_free(&b);
}

static void
test_key_active(void **state)
{
	struct wh_signing_key	k;

	(void)state;
	sample_key(&k);
	k.expires_at = 1000;
	assert_int_equal(wh_signing_key_active(&k, 0), 1);
	assert_int_equal(wh_signing_key_active(&k, 999), 1);
	assert_int_equal(wh_signing_key_active(&k, 1000), 0);
	assert_int_equal(wh_signing_key_active(&k, 1001), 0);
	k.expires_at = 0;
	assert_int_equal(wh_signing_key_active(&k, 1LL << 50), 1);
	assert_int_equal(wh_signing_key_active(&k, INT64_MAX), 1);
}

static void
check_task(const struct wh_task *in, const struct wh_task *out)
{
	assert_string_equal(out->event.event_sid, in->event.event_sid);
	assert_string_equal(out->event.company_sid, in->event.company_sid);
	assert_string_equal(out->event.event_type, in->event.event_type);
	assert_int_equal(out->event.payload_len, in->event.payload_len);
	assert_memory_equal(out->event.payload, in->event.payload,
	    in->event.payload_len);
	assert_int_equal(out->event.payload[out->event.payload_len], '\0');
	assert_true(out->event.created_at == in->event.created_at);
	assert_string_equal(out->webhook_sid, in->webhook_sid);
	assert_int_equal(out->attempt, in->attempt);
	assert_true(out->first_attempt_at == in->first_attempt_at);
	assert_true(out->due_at == in->due_at);
	if (in->last_error == NULL)
		assert_null(out->last_error);
	else
		assert_string_equal(out->last_error, in->last_error);
}

static void
test_task_roundtrip(void **state)
{
	static const char *const payloads[] = {
		"null", "0", "\"\"", "[]", "{}", " { } ", "-1.5e+300",
		"\"\\ud83d\\ude00 \xe6\x97\xa5\xe6\x9c\xac\"",
		"{\"test\": 2432232314}",
		"[{\"a\":[[[[[]]]]]},true,false,null]",
	};
	struct wh_task	 in, out;
	struct wh_buf	 b;
	char		*big;
	size_t		 i, biglen = 300000;

	(void)state;
	wh_buf_init(&b, 0);
	sample_task(&in);
	assert_int_equal(wh_task_encode(&in, &b), 0);
	assert_int_equal(wh_task_decode(b.data, b.len, &out), 0);
	check_task(&in, &out);
	wh_task_free(&out);
	assert_true(is_zero(&out, sizeof(out)));

	/* The trace context travels with the event; a bad one is refused. */
	in.event.traceparent =
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	wh_buf_reset(&b);
	assert_int_equal(wh_task_encode(&in, &b), 0);
	assert_int_equal(wh_task_decode(b.data, b.len, &out), 0);
	assert_string_equal(out.event.traceparent, in.event.traceparent);
	wh_task_free(&out);
	in.event.traceparent =
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
	assert_int_equal(wh_task_encode(&in, &b), -1);
	in.event.traceparent = NULL;
	wh_buf_reset(&b);

	in.last_error = NULL;
	for (i = 0; i < NITEMS(payloads); i++) {
		in.event.payload = (char *)payloads[i];
		in.event.payload_len = strlen(payloads[i]);
		in.attempt = (uint32_t)i + 1;
		wh_buf_reset(&b);
		assert_int_equal(wh_task_encode(&in, &b), 0);
		assert_int_equal(wh_task_decode(b.data, b.len, &out), 0);
		check_task(&in, &out);
		wh_task_free(&out);
	}

	/* A payload past 64 KiB takes the str 32 form. */
	big = malloc(biglen);
	assert_non_null(big);
	big[0] = '[';
	for (i = 1; i + 1 < biglen; i += 2) {
		big[i] = '1';
		big[i + 1] = ',';
	}
	big[biglen - 2] = '1';
	big[biglen - 1] = ']';
	in.event.payload = big;
	in.event.payload_len = biglen;
	in.attempt = UINT32_MAX;
	wh_buf_reset(&b);
	assert_int_equal(wh_task_encode(&in, &b), 0);
	assert_int_equal(wh_task_decode(b.data, b.len, &out), 0);
	check_task(&in, &out);
	wh_task_free(&out);
	free(big);
	wh_buf_free(&b);
}

/* Encoders append after what the buffer holds already. */
static void
test_encode_appends(void **state)
{
	struct wh_webhook	w, out;
	struct wh_buf		b;

	(void)state;
	sample_webhook(&w);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_buf_append(&b, "xyz", 3), 0);
	assert_int_equal(wh_webhook_encode(&w, &b), 0);
	assert_memory_equal(b.data, "xyz", 3);
	assert_int_equal(wh_webhook_decode(b.data + 3, b.len - 3, &out), 0);
	check_webhook(&w, &out);
	wh_webhook_free(&out);
	wh_buf_free(&b);
}

/*
 * An encoder refuses what its decoder would refuse and leaves the buffer
 * as it was, also when the buffer's cap stops it halfway.
 */
static void
test_encode_refuses(void **state)
{
	struct wh_webhook	 w;
	struct wh_signing_key	 k;
	struct wh_task		 t;
	struct wh_header	 h[2];
	char			*types[2];
	struct wh_buf		 b, small;
	size_t			 i;

	(void)state;
	wh_buf_init(&b, 0);
	assert_int_equal(wh_buf_append(&b, "keep", 4), 0);

#define REFUSE(enc, rec) do {						\
	assert_int_equal(enc(&rec, &b), -1);				\
	assert_int_equal(b.len, 4);					\
} while (0)

	sample_webhook(&w); w.sid = NULL; REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.sid = ""; REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.company_sid = NULL;
	REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.url = NULL; REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.method = 0; REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.method = 4; REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.headers = NULL; REFUSE(wh_webhook_encode, w);
	sample_webhook(&w); w.event_types = NULL;
	REFUSE(wh_webhook_encode, w);
	memcpy(h, sample_headers, sizeof(h));
	sample_webhook(&w); w.headers = h; w.nheaders = 2;
	h[1].name = NULL; REFUSE(wh_webhook_encode, w);
	h[1].name = ""; REFUSE(wh_webhook_encode, w);
	h[1].name = "X-A"; h[1].value = NULL; REFUSE(wh_webhook_encode, w);
	types[0] = "a";
	types[1] = NULL;
	sample_webhook(&w); w.event_types = types; w.nevent_types = 2;
	REFUSE(wh_webhook_encode, w);
	types[1] = ""; REFUSE(wh_webhook_encode, w);

	sample_key(&k); k.sid = NULL; REFUSE(wh_signing_key_encode, k);
	sample_key(&k); k.webhook_sid = ""; REFUSE(wh_signing_key_encode, k);
	sample_key(&k); k.secret = NULL; REFUSE(wh_signing_key_encode, k);
	sample_key(&k); k.secret_len = 0; REFUSE(wh_signing_key_encode, k);

	sample_task(&t); t.event.event_sid = NULL; REFUSE(wh_task_encode, t);
	sample_task(&t); t.event.company_sid = ""; REFUSE(wh_task_encode, t);
	sample_task(&t); t.event.event_type = NULL; REFUSE(wh_task_encode, t);
	sample_task(&t); t.webhook_sid = NULL; REFUSE(wh_task_encode, t);
	sample_task(&t); t.attempt = 0; REFUSE(wh_task_encode, t);
	sample_task(&t); t.event.payload = NULL; REFUSE(wh_task_encode, t);
	sample_task(&t); t.event.payload_len = 0; REFUSE(wh_task_encode, t);
	sample_task(&t); t.event.payload = "{\"a\":\0}";
	t.event.payload_len = 7; REFUSE(wh_task_encode, t);
#undef REFUSE
	assert_memory_equal(b.data, "keep", 4);
	wh_buf_free(&b);

	/* A capped buffer fills up halfway through: rolled back. */
	sample_webhook(&w);
	for (i = 0; i < 200; i += 7) {
		wh_buf_init(&small, i + 2);
		assert_int_equal(wh_buf_append(&small, "ab", 2), 0);
		assert_int_equal(wh_webhook_encode(&w, &small), -1);
		assert_int_equal(small.len, 2);
		wh_buf_free(&small);
	}
	sample_task(&t);
	wh_buf_init(&small, 100);
	assert_int_equal(wh_task_encode(&t, &small), -1);
	assert_int_equal(small.len, 0);
	wh_buf_free(&small);
	sample_key(&k);
	wh_buf_init(&small, 20);
	assert_int_equal(wh_signing_key_encode(&k, &small), -1);
	assert_int_equal(small.len, 0);
	wh_buf_free(&small);
}

/*
 * ---- records by hand ----
 *
 * A table of fields per map. One mutation at a time applies to the field
 * named by its path: leave it out, or pack a wrong value in its place.
 * With extra set, every map also carries a key no reader knows.
 */

typedef void	(*packfn)(msgpack_packer *);

struct fld {
	const char	*path;
	const char	*key;
	packfn		 good;
};

static const char	*mut_path;
static int		 mut_omit;
static packfn		 mut_bad;
static int		 mut_extra;

static void
pack_fields(msgpack_packer *pk, const struct fld *f, size_t n)
{
	size_t	i, cnt = n;
	int	hit;

	for (i = 0; i < n; i++) {
		if (mut_omit && mut_path != NULL &&
		    strcmp(f[i].path, mut_path) == 0)
			cnt--;
	}
	pk_map(pk, cnt + (mut_extra ? 2 : 0));
	if (mut_extra) {
		/* A key from the future, first: a value of every type. */
		pk_s(pk, "x_future");
		assert_int_equal(msgpack_pack_array(pk, 8), 0);
		assert_int_equal(msgpack_pack_nil(pk), 0);
		assert_int_equal(msgpack_pack_double(pk, 0.25), 0);
		assert_int_equal(msgpack_pack_bin(pk, 3), 0);
		assert_int_equal(msgpack_pack_bin_body(pk, "\0\1\2", 3), 0);
		assert_int_equal(msgpack_pack_ext(pk, 4, 7), 0);
		assert_int_equal(msgpack_pack_ext_body(pk, "abcd", 4), 0);
		pk_map(pk, 1);
		pk_s(pk, "sid");
		pk_i(pk, -7);
		pk_i(pk, INT64_MIN);
		assert_int_equal(msgpack_pack_uint64(pk, UINT64_MAX), 0);
		pk_s(pk, "sid");
	}
	for (i = 0; i < n; i++) {
		hit = mut_path != NULL && strcmp(f[i].path, mut_path) == 0;
		if (hit && mut_omit)
			continue;
		pk_s(pk, f[i].key);
		if (hit)
			mut_bad(pk);
		else
			f[i].good(pk);
	}
	if (mut_extra) {
		/* And one last, with a key that is almost a known one. */
		pk_s(pk, "sid2");
		pk_s(pk, "nope");
	}
}

static void
g_v(msgpack_packer *pk)
{
	pk_i(pk, 1);
}

static void
g_sid(msgpack_packer *pk)
{
	pk_s(pk, "wh_1");
}

static void
g_company(msgpack_packer *pk)
{
	pk_s(pk, "CO_1");
}

static void
g_label(msgpack_packer *pk)
{
	pk_s(pk, "my label");
}

static void
g_url(msgpack_packer *pk)
{
	pk_s(pk, "https://example.com/h");
}

static void
g_method(msgpack_packer *pk)
{
	pk_i(pk, WH_METHOD_PUT);
}

static void
g_timeout(msgpack_packer *pk)
{
	pk_i(pk, 1234);
}

static void
g_attempts(msgpack_packer *pk)
{
	pk_i(pk, 7);
}

static void
g_true(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_true(pk), 0);
}

static void
g_false(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_false(pk), 0);
}

static void
g_time(msgpack_packer *pk)
{
	pk_i(pk, 1795860020021LL);
}

static void
g_hname(msgpack_packer *pk)
{
	pk_s(pk, "X-Tenant");
}

static void
g_hvalue(msgpack_packer *pk)
{
	pk_s(pk, "acme");
}

static const struct fld header_flds[] = {
	{ "headers.name", "name", g_hname },
	{ "headers.value", "value", g_hvalue },
	{ "headers.sign", "sign", g_true },
};

static void
g_headers(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_array(pk, 2), 0);
	pack_fields(pk, header_flds, NITEMS(header_flds));
	pack_fields(pk, header_flds, NITEMS(header_flds));
}

/* The second element of event_types is the target "event_types[]". */
static void
g_types(msgpack_packer *pk)
{
	int	hit;

	hit = mut_path != NULL && strcmp(mut_path, "event_types[]") == 0;

	assert_int_equal(msgpack_pack_array(pk, hit && mut_omit ? 1 : 2), 0);
	pk_s(pk, "call.ended");
	if (hit && !mut_omit)
		mut_bad(pk);
	else if (!hit)
		pk_s(pk, "artifact.*");
}

static const struct fld webhook_flds[] = {
	{ "v", "v", g_v },
	{ "sid", "sid", g_sid },
	{ "company_sid", "company_sid", g_company },
	{ "label", "label", g_label },
	{ "url", "url", g_url },
	{ "method", "method", g_method },
	{ "timeout_ms", "timeout_ms", g_timeout },
	{ "max_attempts", "max_attempts", g_attempts },
	{ "headers", "headers", g_headers },
	{ "event_types", "event_types", g_types },
	{ "enabled", "enabled", g_false },
	{ "created_at", "created_at", g_time },
	{ "updated_at", "updated_at", g_time },
	{ "disabled_reason", "disabled_reason", g_label },
};

static void
g_ksid(msgpack_packer *pk)
{
	pk_s(pk, "sk_1");
}

static void
g_secret(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_bin(pk, sizeof(sample_secret)), 0);
	assert_int_equal(msgpack_pack_bin_body(pk, sample_secret,
	    sizeof(sample_secret)), 0);
}

static const struct fld key_flds[] = {
	{ "v", "v", g_v },
	{ "sid", "sid", g_ksid },
	{ "webhook_sid", "webhook_sid", g_sid },
	{ "label", "label", g_label },
	{ "secret", "secret", g_secret },
	{ "created_at", "created_at", g_time },
	{ "expires_at", "expires_at", g_time },
};

static void
g_esid(msgpack_packer *pk)
{
	pk_s(pk, "evt_1");
}

static void
g_etype(msgpack_packer *pk)
{
	pk_s(pk, "call.ended");
}

static void
g_payload(msgpack_packer *pk)
{
	pk_s(pk, "{\"a\":1}");
}

static const struct fld event_flds[] = {
	{ "event.event_sid", "event_sid", g_esid },
	{ "event.company_sid", "company_sid", g_company },
	{ "event.event_type", "event_type", g_etype },
	{ "event.payload", "payload", g_payload },
	{ "event.created_at", "created_at", g_time },
};

static void
g_event(msgpack_packer *pk)
{
	pack_fields(pk, event_flds, NITEMS(event_flds));
}

static void
g_error(msgpack_packer *pk)
{
	pk_s(pk, "timeout");
}

static const struct fld task_flds[] = {
	{ "v", "v", g_v },
	{ "event", "event", g_event },
	{ "webhook_sid", "webhook_sid", g_sid },
	{ "attempt", "attempt", g_attempts },
	{ "first_attempt_at", "first_attempt_at", g_time },
	{ "due_at", "due_at", g_time },
	{ "last_error", "last_error", g_error },
};

static void
build(enum rec kind, struct wh_buf *b)
{
	msgpack_packer	pk;

	wh_buf_init(b, 0);
	msgpack_packer_init(&pk, b, pk_write);
	switch (kind) {
	case REC_WEBHOOK:
		pack_fields(&pk, webhook_flds, NITEMS(webhook_flds));
		break;
	case REC_KEY:
		pack_fields(&pk, key_flds, NITEMS(key_flds));
		break;
	case REC_TASK:
		pack_fields(&pk, task_flds, NITEMS(task_flds));
		break;
	}
}

/* The wrong values, and a bit for each. */
static void
b_nil(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_nil(pk), 0);
}

static void
b_neg(msgpack_packer *pk)
{
	pk_i(pk, -1);
}

static void
b_pos(msgpack_packer *pk)
{
	pk_i(pk, 9);
}

static void
b_float(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_double(pk, 1.0), 0);
}

static void
b_str(msgpack_packer *pk)
{
	pk_s(pk, "x");
}

static void
b_estr(msgpack_packer *pk)
{
	pk_s(pk, "");
}

static void
b_nulstr(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_str(pk, 3), 0);
	assert_int_equal(msgpack_pack_str_body(pk, "a\0b", 3), 0);
}

static void
b_bin(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_bin(pk, 2), 0);
	assert_int_equal(msgpack_pack_bin_body(pk, "\x01\xff", 2), 0);
}

static void
b_earr(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_array(pk, 0), 0);
}

static void
b_arr(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_array(pk, 1), 0);
	pk_s(pk, "x");
}

static void
b_emap(msgpack_packer *pk)
{
	pk_map(pk, 0);
}

static void
b_u64max(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_uint64(pk, UINT64_MAX), 0);
}

static void
b_u32over(msgpack_packer *pk)
{
	pk_i(pk, (int64_t)1 << 32);
}

static void
b_ext(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_ext(pk, 1, 5), 0);
	assert_int_equal(msgpack_pack_ext_body(pk, "x", 1), 0);
}

static const packfn bads[] = {
	b_nil, g_true, b_neg, b_pos, b_float, b_str, b_estr, b_nulstr,
	b_bin, b_earr, b_arr, b_emap, b_u64max, b_u32over, b_ext
};
#define B(f)	(1U << (f))
enum {
	NIL, TRUE, NEG, POS, FLOAT, STR, ESTR, NULSTR, BIN, EARR, ARR, EMAP,
	U64MAX, U32OVER, EXT
};

#define OK_ID		B(STR)
#define OK_TEXT		(B(STR) | B(ESTR))
#define OK_I64		(B(NEG) | B(POS) | B(U32OVER))
#define OK_U32		B(POS)
#define OK_BOOL		B(TRUE)
#define OK_LIST		B(EARR)

struct target {
	enum rec	 kind;
	const char	*path;
	int		 required;
	unsigned	 ok;	/* which bads[] decode */
};

static const struct target targets[] = {
	{ REC_WEBHOOK, "v", 0, 0 },
	{ REC_WEBHOOK, "sid", 1, OK_ID },
	{ REC_WEBHOOK, "company_sid", 1, OK_ID },
	{ REC_WEBHOOK, "label", 0, OK_TEXT },
	{ REC_WEBHOOK, "url", 1, OK_ID },
	{ REC_WEBHOOK, "method", 1, 0 },
	{ REC_WEBHOOK, "timeout_ms", 0, OK_U32 },
	{ REC_WEBHOOK, "max_attempts", 0, OK_U32 },
	{ REC_WEBHOOK, "headers", 0, OK_LIST },
	{ REC_WEBHOOK, "headers.name", 1, OK_ID },
	{ REC_WEBHOOK, "headers.value", 1, OK_TEXT },
	{ REC_WEBHOOK, "headers.sign", 0, OK_BOOL },
	{ REC_WEBHOOK, "event_types", 0, OK_LIST | B(ARR) },
	{ REC_WEBHOOK, "event_types[]", 0, OK_ID },
	{ REC_WEBHOOK, "enabled", 0, OK_BOOL },
	{ REC_WEBHOOK, "created_at", 0, OK_I64 },
	{ REC_WEBHOOK, "updated_at", 0, OK_I64 },
	{ REC_WEBHOOK, "disabled_reason", 0, OK_TEXT },
	{ REC_KEY, "v", 0, 0 },
	{ REC_KEY, "sid", 1, OK_ID },
	{ REC_KEY, "webhook_sid", 1, OK_ID },
	{ REC_KEY, "label", 0, OK_TEXT },
	{ REC_KEY, "secret", 1, B(BIN) },
	{ REC_KEY, "created_at", 0, OK_I64 },
	{ REC_KEY, "expires_at", 0, OK_I64 },
	{ REC_TASK, "v", 0, 0 },
	{ REC_TASK, "event", 1, 0 },
	{ REC_TASK, "event.event_sid", 1, OK_ID },
	{ REC_TASK, "event.company_sid", 1, OK_ID },
	{ REC_TASK, "event.event_type", 1, OK_ID },
	{ REC_TASK, "event.payload", 1, B(STR) | B(BIN) },
	{ REC_TASK, "event.created_at", 0, OK_I64 },
	{ REC_TASK, "webhook_sid", 1, OK_ID },
	{ REC_TASK, "attempt", 1, B(POS) },
	{ REC_TASK, "first_attempt_at", 0, OK_I64 },
	{ REC_TASK, "due_at", 0, OK_I64 },
	{ REC_TASK, "last_error", 0, OK_TEXT },
};

static void
mut_reset(void)
{
	mut_path = NULL;
	mut_omit = 0;
	mut_bad = NULL;
	mut_extra = 0;
}

static void
test_hand_built_valid(void **state)
{
	struct wh_buf	b;
	enum rec	kind;

	(void)state;
	mut_reset();
	for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++) {
		build(kind, &b);
		assert_int_equal(decode_as(kind, b.data, b.len), 0);
		wh_buf_free(&b);
	}
}

/* A newer writer's keys, anywhere, are skipped; the rest is intact. */
static void
test_unknown_keys_skipped(void **state)
{
	struct wh_webhook	w;
	struct wh_signing_key	k;
	struct wh_task		t;
	struct wh_buf		b;

	(void)state;
	mut_reset();
	mut_extra = 1;

	build(REC_WEBHOOK, &b);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), 0);
	assert_string_equal(w.sid, "wh_1");
	assert_string_equal(w.url, "https://example.com/h");
	assert_int_equal(w.method, WH_METHOD_PUT);
	assert_int_equal(w.timeout_ms, 1234);
	assert_int_equal(w.nheaders, 2);
	assert_string_equal(w.headers[1].name, "X-Tenant");
	assert_string_equal(w.headers[1].value, "acme");
	assert_int_equal(w.headers[1].sign, 1);
	assert_int_equal(w.nevent_types, 2);
	assert_string_equal(w.event_types[1], "artifact.*");
	assert_int_equal(w.enabled, 0);
	wh_webhook_free(&w);
	wh_buf_free(&b);

	build(REC_KEY, &b);
	assert_int_equal(wh_signing_key_decode(b.data, b.len, &k), 0);
	assert_string_equal(k.sid, "sk_1");
	assert_memory_equal(k.secret, sample_secret, sizeof(sample_secret));
	wh_signing_key_free(&k);
	wh_buf_free(&b);

	build(REC_TASK, &b);
	assert_int_equal(wh_task_decode(b.data, b.len, &t), 0);
	assert_string_equal(t.event.event_sid, "evt_1");
	assert_string_equal(t.event.payload, "{\"a\":1}");
	assert_int_equal(t.event.payload_len, 7);
	assert_int_equal(t.attempt, 7);
	assert_string_equal(t.last_error, "timeout");
	wh_task_free(&t);
	wh_buf_free(&b);
	mut_reset();
}

/* Every field left out: refused exactly when it is required. */
static void
test_missing_fields(void **state)
{
	struct wh_buf	b;
	size_t		i;

	(void)state;
	for (i = 0; i < NITEMS(targets); i++) {
		mut_reset();
		mut_path = targets[i].path;
		mut_omit = 1;
		build(targets[i].kind, &b);
		if (decode_as(targets[i].kind, b.data, b.len) !=
		    (targets[i].required ? -1 : 0))
			fail_msg("omitting %s", targets[i].path);
		wh_buf_free(&b);
	}
	mut_reset();
}

/* Every field given each value of the wrong type (or range). */
static void
test_wrong_types(void **state)
{
	struct wh_buf	b;
	size_t		i, j;
	int		want;

	(void)state;
	for (i = 0; i < NITEMS(targets); i++) {
		for (j = 0; j < NITEMS(bads); j++) {
			mut_reset();
			mut_path = targets[i].path;
			mut_bad = bads[j];
			build(targets[i].kind, &b);
			want = (targets[i].ok & B(j)) ? 0 : -1;
			if (decode_as(targets[i].kind, b.data, b.len) != want)
				fail_msg("%s with bad value %zu",
				    targets[i].path, j);
			wh_buf_free(&b);
		}
	}
	mut_reset();
}

/* Left out, these get the api's defaults rather than zero. */
static void
test_defaults(void **state)
{
	struct wh_webhook	w;
	struct wh_buf		b;
	msgpack_packer		pk;

	(void)state;
	wh_buf_init(&b, 0);
	msgpack_packer_init(&pk, &b, pk_write);
	pk_map(&pk, 4);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); pk_i(&pk, WH_METHOD_POST);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &w), 0);
	assert_int_equal(w.timeout_ms, WH_TIMEOUT_DEFAULT);
	assert_int_equal(w.max_attempts, WH_ATTEMPTS_DEFAULT);
	assert_int_equal(w.enabled, 1);
	assert_null(w.label);
	assert_null(w.headers);
	assert_int_equal(w.nheaders, 0);
	assert_null(w.event_types);
	assert_true(w.created_at == 0);
	wh_webhook_free(&w);
	wh_buf_free(&b);
}

/* Hand-made oddities: repeated keys, keys that are not strings, v. */
static void
test_odd_maps(void **state)
{
	struct wh_buf	b;
	msgpack_packer	pk;

	(void)state;
	wh_buf_init(&b, 0);
	msgpack_packer_init(&pk, &b, pk_write);

	/* The same key twice, a list one (would leak if overwritten). */
	pk_map(&pk, 6);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); pk_i(&pk, WH_METHOD_POST);
	pk_s(&pk, "event_types");
	assert_int_equal(msgpack_pack_array(&pk, 1), 0); pk_s(&pk, "a");
	pk_s(&pk, "event_types");
	assert_int_equal(msgpack_pack_array(&pk, 1), 0); pk_s(&pk, "b");
	assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), -1);

	wh_buf_reset(&b);
	pk_map(&pk, 5);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); pk_i(&pk, WH_METHOD_POST);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_2");
	assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), -1);

	/* A key that is not a string. */
	wh_buf_reset(&b);
	pk_map(&pk, 5);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "url"); pk_s(&pk, "http://x");
	pk_s(&pk, "method"); pk_i(&pk, WH_METHOD_POST);
	pk_i(&pk, 1); pk_s(&pk, "x");
	assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), -1);

	/* Bin where str is expected as key. */
	wh_buf_reset(&b);
	pk_map(&pk, 4);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	assert_int_equal(msgpack_pack_bin(&pk, 3), 0);
	assert_int_equal(msgpack_pack_bin_body(&pk, "url", 3), 0);
	pk_s(&pk, "http://x");
	pk_s(&pk, "method"); pk_i(&pk, WH_METHOD_POST);
	assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), -1);

	/* The top level is not a map. */
	wh_buf_reset(&b);
	assert_int_equal(msgpack_pack_array(&pk, 2), 0);
	pk_s(&pk, "sid"); pk_s(&pk, "wh_1");
	assert_int_equal(decode_as(REC_WEBHOOK, b.data, b.len), -1);
	assert_int_equal(decode_as(REC_KEY, b.data, b.len), -1);
	assert_int_equal(decode_as(REC_TASK, b.data, b.len), -1);

	/* Two maps back to back: only one record per value. */
	wh_buf_free(&b);
	build(REC_KEY, &b);
	msgpack_packer_init(&pk, &b, pk_write);
	pk_map(&pk, 0);
	assert_int_equal(decode_as(REC_KEY, b.data, b.len), -1);
	assert_int_equal(decode_as(REC_KEY, b.data, b.len - 1), 0);
	wh_buf_free(&b);
}

/* A version from an incompatible future is refused; ours is fine. */
static void
test_version(void **state)
{
	struct wh_buf	b;

	(void)state;
	mut_reset();
	mut_path = "v";
	mut_bad = b_pos;
	build(REC_TASK, &b);
	assert_int_equal(decode_as(REC_TASK, b.data, b.len), -1);
	wh_buf_free(&b);
	mut_bad = g_v;
	build(REC_TASK, &b);
	assert_int_equal(decode_as(REC_TASK, b.data, b.len), 0);
	wh_buf_free(&b);
	mut_reset();
}

/* A payload stored as bin (a writer that sees it as bytes) decodes. */
static void
test_payload_bin(void **state)
{
	struct wh_task	t;
	struct wh_buf	b;
	msgpack_packer	pk;
	const char	*json = "{\"k\":\"\xc3\xa9\"}";

	(void)state;
	wh_buf_init(&b, 0);
	msgpack_packer_init(&pk, &b, pk_write);
	pk_map(&pk, 3);
	pk_s(&pk, "event");
	pk_map(&pk, 4);
	pk_s(&pk, "event_sid"); pk_s(&pk, "evt_1");
	pk_s(&pk, "company_sid"); pk_s(&pk, "CO_1");
	pk_s(&pk, "event_type"); pk_s(&pk, "a.b");
	pk_s(&pk, "payload");
	assert_int_equal(msgpack_pack_bin(&pk, strlen(json)), 0);
	assert_int_equal(msgpack_pack_bin_body(&pk, json, strlen(json)), 0);
	pk_s(&pk, "webhook_sid"); pk_s(&pk, "wh_1");
	pk_s(&pk, "attempt"); pk_i(&pk, 1);
	assert_int_equal(wh_task_decode(b.data, b.len, &t), 0);
	assert_int_equal(t.event.payload_len, strlen(json));
	assert_string_equal(t.event.payload, json);
	assert_null(t.last_error);
	wh_task_free(&t);
	wh_buf_free(&b);
}

/* Every proper prefix of a record is refused, and so is a byte more. */
static void
test_truncated(void **state)
{
	struct wh_buf	b;
	enum rec	kind;
	size_t		i;

	(void)state;
	mut_reset();
	for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++) {
		encode_sample(kind, &b);
		assert_int_equal(decode_as(kind, b.data, b.len), 0);
		for (i = 0; i < b.len; i++)
			assert_int_equal(decode_as(kind, b.data, i), -1);
		assert_int_equal(wh_buf_append(&b, "\xc0", 1), 0);
		assert_int_equal(decode_as(kind, b.data, b.len), -1);
		wh_buf_free(&b);

		/* Hand-built, with the maps of the future in it. */
		mut_extra = 1;
		build(kind, &b);
		assert_int_equal(decode_as(kind, b.data, b.len), 0);
		for (i = 0; i < b.len; i++)
			assert_int_equal(decode_as(kind, b.data, i), -1);
		wh_buf_free(&b);
		mut_extra = 0;
	}
	assert_int_equal(wh_webhook_decode(NULL, 0, &(struct wh_webhook){0}),
	    -1);
}

/* Bytes that claim far more than they hold, or nest without end. */
static void
test_hostile(void **state)
{
	static const struct {
		const char	*p;
		size_t		 len;
	} cases[] = {
		{ "\xdf\xff\xff\xff\xff", 5 },	/* map 32, 2^32 - 1 */
		{ "\xdd\xff\xff\xff\xff", 5 },		/* array 32 */
		{ "\xde\xff\xff", 3 },			/* map 16 */
		{ "\x81\xa3sid\xdd\x7f\xff\xff\xff", 10 },
		{ "\x81\xa3sid\xdb\xff\xff\xff\xff", 10 }, /* str 32 */
		{ "\x81\xa3sid\xc6\xff\xff\xff\xf0", 10 }, /* bin 32 */
		{ "\x81\xa3sid\xc9\xff\xff\xff\xff\x01", 11 }, /* ext 32 */
		{ "\x81\xa3sid\xd8\x01", 6 },		/* fixext 16 */
		{ "\x81\xa3sid\xcb\x00", 6 },		/* float 64 */
		{ "\x81\xa3sid\xc1", 5 },		/* never used */
		{ "\xc1", 1 },
		{ "\x80", 1 },				/* empty map */
		{ "\x8f", 1 },
		{ "\xc0", 1 },
		{ "\x00", 1 },
		{ "\xa0", 1 },
	};
	enum rec	 kind;
	size_t		 i, n;
	char		*deep;

	(void)state;
	for (i = 0; i < NITEMS(cases); i++) {
		for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++)
			assert_int_equal(decode_as(kind, cases[i].p,
			    cases[i].len), -1);
	}

	/* 100000 nested arrays, then 100000 nested one-entry maps. */
	n = 100000;
	deep = malloc(n * 2 + 1);
	assert_non_null(deep);
	memset(deep, 0x91, n);
	deep[n] = '\xc0';
	for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++)
		assert_int_equal(decode_as(kind, deep, n + 1), -1);
	for (i = 0; i < n; i++) {
		deep[2 * i] = '\x81';
		deep[2 * i + 1] = '\x00';
	}
	deep[2 * n] = '\xc0';
	for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++)
		assert_int_equal(decode_as(kind, deep, 2 * n + 1), -1);
	free(deep);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/*
 * Random bytes, and valid records with random bytes changed: nothing may
 * crash or leak (decode_as checks the zeroed struct on failure).
 */
static void
test_garbage(void **state)
{
	unsigned char	 junk[300];
	struct wh_buf	 b;
	enum rec	 kind;
	uint64_t	 s = 0x9e3779b97f4a7c15ULL;
	size_t		 i, j, len, nflip;
	unsigned char	*m;

	(void)state;
	for (i = 0; i < 20000; i++) {
		len = rnd(&s) % sizeof(junk);
		for (j = 0; j < len; j++)
			junk[j] = (unsigned char)rnd(&s);
		/* Often start like a map, so that the decoders go deeper. */
		if (len > 0 && i % 2 == 0)
			junk[0] = 0x80 | (junk[0] & 0x0f);
		for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++)
			(void)decode_as(kind, junk, len);
	}

	mut_reset();
	for (kind = REC_WEBHOOK; kind <= REC_TASK; kind++) {
		encode_sample(kind, &b);
		m = malloc(b.len);
		assert_non_null(m);
		for (i = 0; i < 5000; i++) {
			memcpy(m, b.data, b.len);
			nflip = 1 + rnd(&s) % 3;
			for (j = 0; j < nflip; j++)
				m[rnd(&s) % b.len] = (unsigned char)rnd(&s);
			(void)decode_as(kind, m, b.len);
			(void)decode_as(kind, m, rnd(&s) % b.len);
		}
		free(m);
		wh_buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_webhook_roundtrip),
		cmocka_unit_test(test_webhook_control),
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_key_active),
		cmocka_unit_test(test_task_roundtrip),
		cmocka_unit_test(test_encode_appends),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_hand_built_valid),
		cmocka_unit_test(test_unknown_keys_skipped),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_odd_maps),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_payload_bin),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_garbage),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

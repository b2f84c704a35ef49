/*
 * test_validate.c: every input rule, each with values it must accept and
 * values it must refuse (CR/LF and NUL in header values, userinfo and
 * bad ports in URLs, reserved header names in any case, malformed event
 * types and filters), the exact length limits, and filter matching.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sign.h"
#include "validate.h"

#define L(s)	s, sizeof(s) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

typedef const char *(*rule_fn)(const char *, size_t);

static void
accepts(rule_fn fn, const char *const *v, size_t n)
{
	const char	*why;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((why = fn(v[i], strlen(v[i]))) != NULL)
			fail_msg("refused \"%s\": %s", v[i], why);
	}
}

static void
refuses(rule_fn fn, const char *const *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (fn(v[i], strlen(v[i])) == NULL)
			fail_msg("accepted \"%s\"", v[i]);
	}
}

/* A string of n copies of c (caller frees). */
static char *
repeat(char c, size_t n)
{
	char	*s;

	s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return (s);
}

static void
test_url(void **state)
{
	static const char *const	ok[] = {
		"http://example.com", "https://example.com/",
		"HTTPS://Example.COM/Hook", "HtTp://a",
		"https://example.com:8443/a/b?c=d&e=f#g",
		"http://127.0.0.1:1/", "http://127.0.0.1:65535",
		"http://[::1]/", "http://[::1]:8080/x",
		"https://[2001:db8::1]", "http://[::ffff:10.0.0.1]:80",
		"http://my_host.internal/x", "http://example.com./",
		"https://example.com?q", "https://example.com#f",
		"https://xn--bcher-kva.example/%C3%A9",
		"http://a.b/path%20with%20escapes",
	};
	static const char *const	bad[] = {
		"", "example.com", "ftp://example.com", "http:/example.com",
		"http//example.com", "http://", "https://", "http:///x",
		"http://:80/", "http://example.com:", "http://example.com:0",
		"http://example.com:65536", "http://example.com:123456",
		"http://example.com:-1", "http://example.com:8a",
		"http://user@example.com", "http://user:pw@example.com/",
		"http://@example.com", "http://example.com@evil.com/",
		"http://exa mple.com", "http://example.com/a b",
		" http://example.com", "http://example.com\t",
		"http://example.com/\r\nX: y", "http://example.com/\n",
		"http://example.com/\x7f", "http://ex\xc3\xa4mple.com/",
		"http://example.com/caf\xc3\xa9", "http://[::1", "http://[]/",
		"http://[zz::1]/", "http://[::1]x/", "http://[fe80::1%25eth0]/",
		"http://::1/", "http://a..b/", "http://.a/", "http://a../",
		"http://ex!ample.com/", "http://ex\\ample.com/",
		"http://example.com\\@evil.com/", "javascript:alert(1)",
		"https:example.com", "wss://example.com",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_url, ok, NELEM(ok));
	refuses(wh_validate_url, bad, NELEM(bad));
	assert_non_null(wh_validate_url(L("http://a.com/\0x")));

	/* Exactly WH_URL_MAX is fine, one more is not. */
	s = repeat('a', WH_URL_MAX);
	memcpy(s, "http://a.com/", 13);
	assert_null(wh_validate_url(s, WH_URL_MAX));
	free(s);
	s = repeat('a', WH_URL_MAX + 1);
	memcpy(s, "http://a.com/", 13);
	assert_non_null(wh_validate_url(s, WH_URL_MAX + 1));
	free(s);

	/* A 64-char DNS label is too long. */
	s = repeat('a', 7 + 64);
	memcpy(s, "http://", 7);
	assert_non_null(wh_validate_url(s, 7 + 64));
	assert_null(wh_validate_url(s, 7 + 63));
	free(s);
}

static void
test_header_name(void **state)
{
	static const char *const	ok[] = {
		"X-Tenant", "X-Streem-API-Key-ID", "Authorization", "a",
		"x!#$%&'*+-.^_`|~1", "Accept", "X-Webhook-Id", "Streem",
		"webhook", "X-Content-Type", "Hostname", "Streem_Sent_At",
	};
	static const char *const	bad[] = {
		"", "X Tenant", "X-Tenant:", "X:Y", "X-Tenant\r\n",
		"X\nY", "(x)", "x/y", "x@y", "x\"y", "x,y", "x;y", "x=y",
		"{x}", "x\x7f", "x\xc3\xa9", "x\ty",
		"Content-Type", "content-type", "CONTENT-TYPE",
		"Content-Length", "Host", "host", "User-Agent",
		"user-agent", "Transfer-Encoding", "Connection",
		"Expect", "Keep-Alive", "Upgrade", "TE", "Trailer",
		"Proxy-Connection", "Proxy-Authorization",
		"proxy-authenticate", "Content-Encoding", "HTTP2-Settings",
		"Streem-Signature", "Streem-Sent-At", "streem-anything",
		"STREEM-SIGNATURE-HEADERS", "Streem-",
		"webhook-id", "Webhook-Signature", "WEBHOOK-TIMESTAMP",
		"webhook-",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_header_name, ok, NELEM(ok));
	refuses(wh_validate_header_name, bad, NELEM(bad));
	assert_non_null(wh_validate_header_name(L("X\0Y")));

	s = repeat('x', WH_HEADER_NAME_MAX + 1);
	assert_null(wh_validate_header_name(s, WH_HEADER_NAME_MAX));
	assert_non_null(wh_validate_header_name(s, WH_HEADER_NAME_MAX + 1));
	free(s);
}

static void
test_header_value(void **state)
{
	static const char *const	ok[] = {
		"acme", "key_123", "a b", "a\tb", "Bearer abc.def-ghi",
		"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "0",
	};
	static const char *const	bad[] = {
		"", "a\rb", "a\nb", "a\r\nX-Injected: 1", "acme\r\n",
		"\r\nacme", "\n", "\r", "a\x01", "a\177b", "caf\xc3\xa9",
		"\xff", " acme", "acme ", "\tacme", "acme\t", " ",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_header_value, ok, NELEM(ok));
	refuses(wh_validate_header_value, bad, NELEM(bad));
	assert_non_null(wh_validate_header_value(L("a\0b")));
	assert_non_null(wh_validate_header_value(L("a\0")));

	s = repeat('v', WH_HEADER_VALUE_MAX + 1);
	assert_null(wh_validate_header_value(s, WH_HEADER_VALUE_MAX));
	assert_non_null(wh_validate_header_value(s,
	    WH_HEADER_VALUE_MAX + 1));
	free(s);
}

static void
test_event_type(void **state)
{
	static const char *const	ok[] = {
		"call.ended", "a", "artifact.ready", "a.b.c.d",
		"call_ended", "call-ended", "v2.call.ended", "0.1",
		"x-y_z.0-9_",
	};
	static const char *const	bad[] = {
		"", ".", "..", ".call", "call.", "call..ended", "Call.ended",
		"call.Ended", "CALL", "call ended", "call.*", "*", "call/x",
		"call.ended\n", "caf\xc3\xa9", "call:ended", " call",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_event_type, ok, NELEM(ok));
	refuses(wh_validate_event_type, bad, NELEM(bad));
	assert_non_null(wh_validate_event_type(L("call\0ended")));

	s = repeat('a', WH_EVENT_TYPE_MAX + 1);
	assert_null(wh_validate_event_type(s, WH_EVENT_TYPE_MAX));
	assert_non_null(wh_validate_event_type(s, WH_EVENT_TYPE_MAX + 1));
	free(s);
}

static void
test_event_filter(void **state)
{
	static const char *const	ok[] = {
		"*", "call.ended", "call.*", "a.b.*", "a", "a-b_c.*",
	};
	static const char *const	bad[] = {
		"", ".*", "*.*", "**", "call*", "call.**", "call.*.ended",
		"*.ended", "call.e*", "Call.*", "call..*", "call.ended.",
		".call.*", "call.*x", " *", "* ",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_event_filter, ok, NELEM(ok));
	refuses(wh_validate_event_filter, bad, NELEM(bad));

	/* The whole filter, ".*" included, is at most 128 chars. */
	s = repeat('a', WH_EVENT_TYPE_MAX + 1);
	memcpy(s + WH_EVENT_TYPE_MAX - 2, ".*", 2);
	assert_null(wh_validate_event_filter(s, WH_EVENT_TYPE_MAX));
	free(s);
	s = repeat('a', WH_EVENT_TYPE_MAX + 1);
	memcpy(s + WH_EVENT_TYPE_MAX - 1, ".*", 2);
	assert_non_null(wh_validate_event_filter(s, WH_EVENT_TYPE_MAX + 1));
	free(s);
}

static void
test_event_type_matches(void **state)
{
	(void)state;
	assert_int_equal(wh_event_type_matches("*", "call.ended"), 1);
	assert_int_equal(wh_event_type_matches("*", "a"), 1);
	assert_int_equal(wh_event_type_matches("call.ended", "call.ended"),
	    1);
	assert_int_equal(wh_event_type_matches("call.ended", "call.ende"),
	    0);
	assert_int_equal(wh_event_type_matches("call.ended", "call.ended.x"),
	    0);
	assert_int_equal(wh_event_type_matches("call.ended", "call.started"),
	    0);
	assert_int_equal(wh_event_type_matches("call.*", "call.ended"), 1);
	assert_int_equal(wh_event_type_matches("call.*", "call.a.b"), 1);
	assert_int_equal(wh_event_type_matches("call.*", "call"), 0);
	assert_int_equal(wh_event_type_matches("call.*", "call."), 0);
	assert_int_equal(wh_event_type_matches("call.*", "callx.ended"), 0);
	assert_int_equal(wh_event_type_matches("call.*", "recall.ended"), 0);
	assert_int_equal(wh_event_type_matches("call.*", "artifact.ready"),
	    0);
	assert_int_equal(wh_event_type_matches("a.b.*", "a.b.c"), 1);
	assert_int_equal(wh_event_type_matches("a.b.*", "a.bc"), 0);
	assert_int_equal(wh_event_type_matches("a.b.*", "a.c.d"), 0);
	assert_int_equal(wh_event_type_matches("Call.ended", "call.ended"),
	    0);
	assert_int_equal(wh_event_type_matches(NULL, "call.ended"), 0);
	assert_int_equal(wh_event_type_matches("*", NULL), 0);
}

static void
test_company_sid(void **state)
{
	static const char *const	ok[] = {
		"CO_123", "a", "co-1_X", "0",
	};
	static const char *const	bad[] = {
		"", "CO 1", "CO.1", "CO/1", "../x", "CO:1", "CO*",
		"caf\xc3\xa9", "CO\n",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_company_sid, ok, NELEM(ok));
	refuses(wh_validate_company_sid, bad, NELEM(bad));

	s = repeat('C', WH_COMPANY_SID_MAX + 1);
	assert_null(wh_validate_company_sid(s, WH_COMPANY_SID_MAX));
	assert_non_null(wh_validate_company_sid(s, WH_COMPANY_SID_MAX + 1));
	free(s);
}

static void
test_shared_secret(void **state)
{
	static const char *const	ok[] = {
		"ClickToVideo Example Signing Key Secret",
		"0123456789abcdef", " !\"#$%&'()*+,-./~",
	};
	static const char *const	bad[] = {
		"", "short", "0123456789abcde", "0123456789abcdef\n",
		"0123456789abcdef\t", "0123456789abcde\x7f",
		"0123456789abcd\xc3\xa9",
	};
	char				*s;

	(void)state;
	accepts(wh_validate_shared_secret, ok, NELEM(ok));
	refuses(wh_validate_shared_secret, bad, NELEM(bad));
	assert_non_null(wh_validate_shared_secret(L("0123456789\0abcdef")));

	s = repeat('k', WH_SECRET_MAX + 1);
	assert_null(wh_validate_shared_secret(s, WH_SECRET_MIN));
	assert_non_null(wh_validate_shared_secret(s, WH_SECRET_MIN - 1));
	assert_null(wh_validate_shared_secret(s, WH_SECRET_MAX));
	assert_non_null(wh_validate_shared_secret(s, WH_SECRET_MAX + 1));
	free(s);
}

static void
test_label(void **state)
{
	static const char *const	ok[] = {
		"", "Production", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"a \"quoted\" <label> & more",
	};
	static const char *const	bad[] = {
		"a\nb", "a\rb", "a\tb", "\x1b[31m", "a\x7f",
		"\xc2\x85", "\xc2\x9f",		/* C1 controls */
		"\xff", "\xc3", "\xc0\x80", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "caf\xe9",
	};
	char				*s;
	size_t				 i;

	(void)state;
	accepts(wh_validate_label, ok, NELEM(ok));
	refuses(wh_validate_label, bad, NELEM(bad));
	assert_non_null(wh_validate_label(L("a\0b")));

	s = repeat('l', WH_LABEL_MAX + 1);
	assert_null(wh_validate_label(s, WH_LABEL_MAX));
	assert_non_null(wh_validate_label(s, WH_LABEL_MAX + 1));
	free(s);
	/* The limit is bytes: 128 two-byte chars fit, 129 do not. */
	s = malloc(2 * 129);
	assert_non_null(s);
	for (i = 0; i < 129; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	assert_null(wh_validate_label(s, 2 * 128));
	assert_non_null(wh_validate_label(s, 2 * 129));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_header_name),
		cmocka_unit_test(test_header_value),
		cmocka_unit_test(test_event_type),
		cmocka_unit_test(test_event_filter),
		cmocka_unit_test(test_event_type_matches),
		cmocka_unit_test(test_company_sid),
		cmocka_unit_test(test_shared_secret),
		cmocka_unit_test(test_label),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_sign.c: the two request signatures against the DESIGN.md vectors
 * (Streem's documented scheme and the Standard Webhooks reference), plus
 * the properties a receiver relies on: another key, body, header value or
 * header order gives another signature, and the whsec_ secret we publish
 * decodes back to the exact key bytes we sign with; and Standard
 * Webhooks' Ed25519 form (v1a) against an RFC 8032 key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sign.h"

#define KEY		"ClickToVideo Example Signing Key Secret"
#define KEYLEN		(sizeof(KEY) - 1)
#define BODY1		"{\"test\": 2432232314}"
#define BODY2		"{\"event\":{\"event_type\":\"call.ended\"," \
			"\"payload\":{\"call_sid\":\"CA_1\"}}," \
			"\"sent_at\":\"2026-11-28T10:00:20.021Z\"}"
#define SENT_AT1	"1972-01-01T10:00:20.021Z"
#define SENT_AT2	"2026-11-28T10:00:20.021Z"
#define SIG1		"aad326438e055b2b1f8d6cb3523b2b36" \
			"778d8d54a2f5baebea8bb55eb16205da"
#define SIG2		"109b5ef6a1efc807a47f586072a39e14" \
			"aeef615dfe4cf02df62383340892cc9a"

#define SW_SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID		"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS		1614265330
#define SW_SIG		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/*
 * Ed25519 (v1a): RFC 8032's first test key; the signature of the
 * Standard Webhooks example message made independently (Node's
 * crypto.sign) when this test was written.
 */
#define ED_PRIV		"9d61b19deffd5a60ba844af492ec2cc4" \
			"4449c5697b326919703bac031cae7f60"
#define ED_PUB		"whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define ED_SIG		"v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbz" \
			"EHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw=="

static void
hdr(struct wh_sign_header *h, const char *name, const char *value)
{
	h->name = name;
	h->name_len = strlen(name);
	h->value = value;
	h->value_len = strlen(value);
}

static void
test_streem_vector1(void **state)
{
	struct wh_sign_header	h[1];
	char			out[WH_SIG_HEX_LEN + 1];

	(void)state;
	hdr(&h[0], "Streem-Sent-At", SENT_AT1);
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    h, 1, BODY1, strlen(BODY1), out), 0);
	assert_string_equal(out, SIG1);
	assert_int_equal(strlen(out), WH_SIG_HEX_LEN);
}

static void
test_streem_vector2(void **state)
{
	struct wh_sign_header	h[3];
	char			out[WH_SIG_HEX_LEN + 1];

	(void)state;
	hdr(&h[0], "Streem-Sent-At", SENT_AT2);
	hdr(&h[1], "X-Streem-API-Key-ID", "key_123");
	hdr(&h[2], "X-Tenant", "acme");
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    h, 3, BODY2, strlen(BODY2), out), 0);
	assert_string_equal(out, SIG2);
}

/* The signed input is exactly "Name=Value;"... + body, nothing else. */
static void
test_streem_concatenation(void **state)
{
	static const char	 input[] =
	    "Streem-Sent-At=2026-11-28T10:00:20.021Z;"
	    "X-Streem-API-Key-ID=key_123;X-Tenant=acme;" BODY2;
	char			 out[WH_SIG_HEX_LEN + 1];

	(void)state;
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    NULL, 0, input, sizeof(input) - 1, out), 0);
	assert_string_equal(out, SIG2);
}

static void
test_streem_differs(void **state)
{
	static const char	 other_key[] =
	    "ClickToVideo Example Signing Key Secreu";
	struct wh_sign_header	 h[3];
	char			 out[WH_SIG_HEX_LEN + 1];

	(void)state;
	hdr(&h[0], "Streem-Sent-At", SENT_AT1);

	/* Another key. */
	assert_int_equal(wh_sign_streem((const unsigned char *)other_key,
	    sizeof(other_key) - 1, h, 1, BODY1, strlen(BODY1), out), 0);
	assert_string_equal(out, "ba403e311977b253cf154689ea33511935911d28"
	    "e8499d624d0df3ad0f50034a");
	assert_string_not_equal(out, SIG1);

	/* Another body (one digit). */
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    h, 1, "{\"test\": 2432232315}", strlen(BODY1), out), 0);
	assert_string_not_equal(out, SIG1);

	/* Another sent-at. */
	hdr(&h[0], "Streem-Sent-At", "1972-01-01T10:00:20.022Z");
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    h, 1, BODY1, strlen(BODY1), out), 0);
	assert_string_not_equal(out, SIG1);

	/* Header order matters. */
	hdr(&h[0], "Streem-Sent-At", SENT_AT2);
	hdr(&h[1], "X-Tenant", "acme");
	hdr(&h[2], "X-Streem-API-Key-ID", "key_123");
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    h, 3, BODY2, strlen(BODY2), out), 0);
	assert_string_not_equal(out, SIG2);

	/* A header value. */
	hdr(&h[1], "X-Streem-API-Key-ID", "key_124");
	hdr(&h[2], "X-Tenant", "acme");
	assert_int_equal(wh_sign_streem((const unsigned char *)KEY, KEYLEN,
	    h, 3, BODY2, strlen(BODY2), out), 0);
	assert_string_not_equal(out, SIG2);
}

static void
test_streem_empty_key(void **state)
{
	char	out[WH_SIG_HEX_LEN + 1];

	(void)state;
	assert_int_equal(wh_sign_streem((const unsigned char *)"", 0, NULL,
	    0, BODY1, strlen(BODY1), out), -1);
}

static void
test_standard_vector(void **state)
{
	unsigned char	key[64];
	char		out[WH_SIG_SW_LEN + 1];
	int		n;

	(void)state;
	n = wh_standard_secret_decode(SW_SECRET, strlen(SW_SECRET), key,
	    sizeof(key));
	assert_int_equal(n, 24);
	assert_int_equal(wh_sign_standard(key, (size_t)n, SW_ID, SW_TS,
	    BODY1, strlen(BODY1), out), 0);
	assert_string_equal(out, SW_SIG);
	assert_int_equal(strlen(out), 47);

	/* Bare base64 decodes to the same key. */
	assert_int_equal(wh_standard_secret_decode(&SW_SECRET[6],
	    strlen(SW_SECRET) - 6, key, sizeof(key)), 24);
	assert_int_equal(wh_sign_standard(key, 24, SW_ID, SW_TS, BODY1,
	    strlen(BODY1), out), 0);
	assert_string_equal(out, SW_SIG);
}

/*
 * The keyed-context cache (sign.c) must not change any result: many keys
 * (more than its slots, so slots are taken over), each signed again after
 * the others, a key longer than it caches, and the vector at the end.
 */
static void
test_key_cache(void **state)
{
	unsigned char	key[64], longkey[300];
	char		first[200][WH_SIG_SW_LEN + 1], out[WH_SIG_SW_LEN + 1];
	size_t		i;
	int		n;

	(void)state;
	for (i = 0; i < 200; i++) {
		(void)snprintf((char *)key, sizeof(key), "secret-%zu-abcdefgh", i);
		assert_int_equal(wh_sign_standard(key, strlen((char *)key),
		    SW_ID, SW_TS, BODY1, strlen(BODY1), first[i]), 0);
	}
	for (i = 0; i < 200; i++) {
		(void)snprintf((char *)key, sizeof(key), "secret-%zu-abcdefgh", i);
		assert_int_equal(wh_sign_standard(key, strlen((char *)key),
		    SW_ID, SW_TS, BODY1, strlen(BODY1), out), 0);
		assert_string_equal(out, first[i]);
		if (i > 0)
			assert_string_not_equal(out, first[i - 1]);
	}
	memset(longkey, 'k', sizeof(longkey));
	assert_int_equal(wh_sign_standard(longkey, sizeof(longkey), SW_ID,
	    SW_TS, BODY1, strlen(BODY1), out), 0);
	assert_int_equal(wh_sign_standard(longkey, sizeof(longkey) - 1, SW_ID,
	    SW_TS, BODY1, strlen(BODY1), first[0]), 0);
	assert_string_not_equal(out, first[0]);
	n = wh_standard_secret_decode(SW_SECRET, strlen(SW_SECRET), key,
	    sizeof(key));
	assert_int_equal(wh_sign_standard(key, (size_t)n, SW_ID, SW_TS,
	    BODY1, strlen(BODY1), out), 0);
	assert_string_equal(out, SW_SIG);
	wh_sign_cleanup();
	assert_int_equal(wh_sign_standard(key, (size_t)n, SW_ID, SW_TS,
	    BODY1, strlen(BODY1), out), 0);
	assert_string_equal(out, SW_SIG);
	wh_sign_cleanup();
}

static void
test_standard_differs(void **state)
{
	unsigned char	key[64];
	char		out[WH_SIG_SW_LEN + 1];
	int		n;

	(void)state;
	n = wh_standard_secret_decode(SW_SECRET, strlen(SW_SECRET), key,
	    sizeof(key));
	assert_int_equal(n, 24);

	assert_int_equal(wh_sign_standard(key, (size_t)n, SW_ID, SW_TS + 1,
	    BODY1, strlen(BODY1), out), 0);
	assert_string_not_equal(out, SW_SIG);
	assert_memory_equal(out, "v1,", 3);

	assert_int_equal(wh_sign_standard(key, (size_t)n, "msg_other", SW_TS,
	    BODY1, strlen(BODY1), out), 0);
	assert_string_not_equal(out, SW_SIG);

	assert_int_equal(wh_sign_standard(key, (size_t)n, SW_ID, SW_TS,
	    "{\"test\": 2432232315}", strlen(BODY1), out), 0);
	assert_string_not_equal(out, SW_SIG);

	key[0] ^= 1;
	assert_int_equal(wh_sign_standard(key, (size_t)n, SW_ID, SW_TS,
	    BODY1, strlen(BODY1), out), 0);
	assert_string_not_equal(out, SW_SIG);
}

static void
test_standard_secret_roundtrip(void **state)
{
	char		sw[WH_SWSECRET_MAX];
	char		longsecret[WH_SECRET_MAX];
	unsigned char	key[WH_SECRET_MAX + 8];
	int		n;

	(void)state;
	n = wh_standard_secret((const unsigned char *)KEY, KEYLEN, sw,
	    sizeof(sw));
	assert_int_equal(n, 58);
	assert_string_equal(sw,
	    "whsec_Q2xpY2tUb1ZpZGVvIEV4YW1wbGUgU2lnbmluZyBLZXkgU2VjcmV0");
	n = wh_standard_secret_decode(sw, strlen(sw), key, sizeof(key));
	assert_int_equal(n, KEYLEN);
	assert_memory_equal(key, KEY, KEYLEN);

	/* The longest secret fits WH_SWSECRET_MAX exactly. */
	memset(longsecret, 'x', sizeof(longsecret));
	n = wh_standard_secret((const unsigned char *)longsecret,
	    sizeof(longsecret), sw, sizeof(sw));
	assert_int_equal(n, 6 + 344);
	assert_int_equal((size_t)n + 1, sizeof(sw));
	n = wh_standard_secret_decode(sw, (size_t)n, key, sizeof(key));
	assert_int_equal(n, WH_SECRET_MAX);
	assert_memory_equal(key, longsecret, WH_SECRET_MAX);

	/* One byte short. */
	assert_int_equal(wh_standard_secret((const unsigned char *)longsecret,
	    sizeof(longsecret), sw, sizeof(sw) - 1), -1);
	assert_int_equal(wh_standard_secret((const unsigned char *)KEY,
	    KEYLEN, sw, 3), -1);
}

static void
test_standard_secret_decode_bad(void **state)
{
	unsigned char	key[64];

	(void)state;
	assert_int_equal(wh_standard_secret_decode("whsec_***",
	    9, key, sizeof(key)), -1);
	assert_int_equal(wh_standard_secret_decode("whsec_MfKQ9r8",
	    13, key, sizeof(key)), -1);
	assert_int_equal(wh_standard_secret_decode(SW_SECRET,
	    strlen(SW_SECRET), key, 23), -1);
}

static void
test_ct_equal(void **state)
{
	(void)state;
	assert_int_equal(wh_ct_equal("abcdef", "abcdef", 6), 1);
	assert_int_equal(wh_ct_equal("abcdef", "abcdeg", 6), 0);
	assert_int_equal(wh_ct_equal("xbcdef", "abcdef", 6), 0);
	assert_int_equal(wh_ct_equal("abcdef", "abcdeg", 5), 1);
	assert_int_equal(wh_ct_equal("a", "b", 0), 1);
}

/* The API key digest: FIPS 180-2's "abc", the empty string, twice each
 * (the algorithm is fetched once and kept). */
static void
test_sha256(void **state)
{
	unsigned char	d[WH_SHA256_LEN];
	char		hex[2 * WH_SHA256_LEN + 1];
	int		i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(wh_sha256("abc", 3, d), 0);
		assert_int_equal(wh_hex_encode(d, sizeof(d), hex), 64);
		assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad");
		assert_int_equal(wh_sha256("", 0, d), 0);
		(void)wh_hex_encode(d, sizeof(d), hex);
		assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855");
	}
	wh_sign_cleanup();
	assert_int_equal(wh_sha256("abc", 3, d), 0);
}

static void
ed_priv(unsigned char out[WH_ED25519_KEY_LEN])
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < WH_ED25519_KEY_LEN; i++) {
		hi = wh_hexval((unsigned char)ED_PRIV[2 * i]);
		lo = wh_hexval((unsigned char)ED_PRIV[2 * i + 1]);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

static void
test_ed25519_vector(void **state)
{
	unsigned char	priv[WH_ED25519_KEY_LEN];
	char		out[WH_SIG_V1A_LEN + 1], pub[WH_SWPUBKEY_MAX];

	(void)state;
	ed_priv(priv);
	assert_int_equal(wh_sign_ed25519(priv, SW_ID, SW_TS, BODY1,
	    strlen(BODY1), out), 0);
	assert_string_equal(out, ED_SIG);
	assert_int_equal(strlen(out), WH_SIG_V1A_LEN);
	assert_int_equal(wh_ed25519_public(priv, pub, sizeof(pub)),
	    (int)strlen(ED_PUB));
	assert_string_equal(pub, ED_PUB);
	/* Another timestamp, id or body: another signature. */
	assert_int_equal(wh_sign_ed25519(priv, SW_ID, SW_TS + 1, BODY1,
	    strlen(BODY1), out), 0);
	assert_string_not_equal(out, ED_SIG);
	assert_int_equal(wh_sign_ed25519(priv, "msg_other", SW_TS, BODY1,
	    strlen(BODY1), out), 0);
	assert_string_not_equal(out, ED_SIG);
	assert_int_equal(wh_sign_ed25519(priv, SW_ID, SW_TS, BODY1,
	    strlen(BODY1) - 1, out), 0);
	assert_string_not_equal(out, ED_SIG);
	assert_int_equal(wh_ed25519_public(priv, pub, 10), -1);
}

static void
test_ed25519_generate(void **state)
{
	unsigned char	a[WH_ED25519_KEY_LEN], b[WH_ED25519_KEY_LEN];
	char		pa[WH_SWPUBKEY_MAX], pb[WH_SWPUBKEY_MAX];

	(void)state;
	assert_int_equal(wh_ed25519_generate(a), 0);
	assert_int_equal(wh_ed25519_generate(b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_true(wh_ed25519_public(a, pa, sizeof(pa)) > 0);
	assert_true(wh_ed25519_public(b, pb, sizeof(pb)) > 0);
	assert_string_not_equal(pa, pb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_streem_vector1),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_streem_vector2),
		cmocka_unit_test(test_streem_concatenation),
		cmocka_unit_test(test_streem_differs),
		cmocka_unit_test(test_streem_empty_key),
		cmocka_unit_test(test_standard_vector),
		cmocka_unit_test(test_standard_differs),
		cmocka_unit_test(test_standard_secret_roundtrip),
		cmocka_unit_test(test_standard_secret_decode_bad),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_ed25519_vector),
		cmocka_unit_test(test_ed25519_generate),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

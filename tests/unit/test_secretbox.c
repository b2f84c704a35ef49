/*
 * test_secretbox.c: signing secrets sealed at rest (AES-256-GCM): the
 * WH_SECRETS_KEY ring, sealing and opening, what must not open (another
 * record, a changed byte, an unknown kid), rotation, and the signing-key
 * codec with and without a ring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "secretbox.h"

/* base64 of 32 bytes each. */
#define K1	"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2	"k2:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE="

static void
test_parse(void **state)
{
	struct wh_secrets	r;
	char			err[160];

	assert_int_equal(wh_secrets_parse(NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(wh_secrets_parse("", &r, err, sizeof(err)), 0);
	assert_int_equal(wh_secrets_parse(K1 ", " K2, &r, err, sizeof(err)),
	    0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.keys[0].kid, "k1");
	assert_int_equal(r.keys[0].key[31], 31);
	assert_string_equal(r.keys[1].kid, "k2");
	assert_int_equal(wh_secrets_parse("k1:c2hvcnQ=", &r, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "WH_SECRETS_KEY"));
	assert_int_equal(wh_secrets_parse("nokid", &r, err, sizeof(err)), -1);
	assert_int_equal(wh_secrets_parse(K1 "," K1, &r, err, sizeof(err)),
	    -1);
	assert_int_equal(wh_secrets_parse(
	    "bad kid:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &r, err,
	    sizeof(err)), -1);
	assert_int_equal(wh_secrets_parse(K1 "," K2 "," K1 "x," K2 "y,"
	    K1 "z", &r, err, sizeof(err)), -1);
}

static void
test_seal_open(void **state)
{
	struct wh_secrets	r, r2, rot;
	struct wh_buf		b;
	unsigned char		out[64];
	char			err[160];
	const char		*pt = "a-shared-secret-0123456789";
	int			n;

	assert_int_equal(wh_secrets_parse(K1, &r, err, sizeof(err)), 0);
	assert_int_equal(wh_secrets_parse(K2, &r2, err, sizeof(err)), 0);
	assert_int_equal(wh_secrets_parse(K2 "," K1, &rot, err, sizeof(err)),
	    0);
	wh_buf_init(&b, 0);
	assert_int_equal(wh_secret_seal(&r, "wh_1:sk_1",
	    (const unsigned char *)pt, strlen(pt), &b), 0);
	assert_int_equal(b.len, 2 + 2 + 12 + strlen(pt) + 16);
	assert_null(memmem(b.data, b.len, pt, strlen(pt)));
	n = wh_secret_open(&r, "wh_1:sk_1", (unsigned char *)b.data, b.len,
	    out, sizeof(out));
	assert_int_equal(n, strlen(pt));
	assert_memory_equal(out, pt, strlen(pt));
	/* Rotation: the new ring still opens what the old key sealed. */
	assert_int_equal(wh_secret_open(&rot, "wh_1:sk_1",
	    (unsigned char *)b.data, b.len, out, sizeof(out)), strlen(pt));
	/* Not: another record, another ring, a changed byte, too small. */
	assert_int_equal(wh_secret_open(&r, "wh_1:sk_2",
	    (unsigned char *)b.data, b.len, out, sizeof(out)), -1);
	assert_int_equal(wh_secret_open(&r2, "wh_1:sk_1",
	    (unsigned char *)b.data, b.len, out, sizeof(out)), -1);
	b.data[b.len - 20] ^= 1;
	assert_int_equal(wh_secret_open(&r, "wh_1:sk_1",
	    (unsigned char *)b.data, b.len, out, sizeof(out)), -1);
	b.data[b.len - 20] ^= 1;
	assert_int_equal(wh_secret_open(&r, "wh_1:sk_1",
	    (unsigned char *)b.data, b.len, out, 4), -1);
	assert_int_equal(wh_secret_open(&r, "wh_1:sk_1",
	    (unsigned char *)b.data, 10, out, sizeof(out)), -1);
	assert_int_equal(wh_secret_open(NULL, "wh_1:sk_1",
	    (unsigned char *)b.data, b.len, out, sizeof(out)), -1);
	/* Two seals of one secret differ (fresh nonce). */
	{
		struct wh_buf	c;

		wh_buf_init(&c, 0);
		assert_int_equal(wh_secret_seal(&r, "wh_1:sk_1",
		    (const unsigned char *)pt, strlen(pt), &c), 0);
		assert_int_equal(c.len, b.len);
		assert_memory_not_equal(c.data, b.data, b.len);
		wh_buf_free(&c);
	}
	wh_buf_free(&b);
}

/* A webhook's client key is sealed like a signing secret, bound to it. */
static void
test_webhook_tls_key(void **state)
{
	struct wh_secrets	r;
	struct wh_webhook	w, d;
	struct wh_buf		b;
	char			err[160];
	const char		*key = "-----BEGIN PRIVATE KEY-----\nsecretbits"
				    "\n-----END PRIVATE KEY-----\n";

	(void)state;
	assert_int_equal(wh_secrets_parse(K1, &r, err, sizeof(err)), 0);
	memset(&w, 0, sizeof(w));
	w.sid = "wh_tls";
	w.company_sid = "CO_1";
	w.url = "https://example.com/";
	w.method = WH_METHOD_POST;
	w.tls_cert = "CERT";
	w.tls_key = (char *)key;
	w.tls_ca = "CA";
	wh_buf_init(&b, 0);
	wh_secrets_use(&r);
	assert_int_equal(wh_webhook_encode(&w, &b), 0);
	assert_null(memmem(b.data, b.len, "secretbits", 10));
	assert_non_null(memmem(b.data, b.len, "tls_key_enc", 11));
	assert_int_equal(wh_webhook_decode(b.data, b.len, &d), 0);
	assert_string_equal(d.tls_key, key);
	assert_string_equal(d.tls_cert, "CERT");
	assert_string_equal(d.tls_ca, "CA");
	wh_webhook_free(&d);
	/* Moved to another webhook, it does not open. */
	wh_buf_reset(&b);
	w.sid = "wh_tlsA";
	assert_int_equal(wh_webhook_encode(&w, &b), 0);
	(void)memcpy(memmem(b.data, b.len, "wh_tlsA", 7), "wh_tlsB", 7);
	assert_int_equal(wh_webhook_decode(b.data, b.len, &d), -1);
	wh_secrets_use(NULL);
	wh_buf_reset(&b);
	assert_int_equal(wh_webhook_encode(&w, &b), 0);
	assert_non_null(memmem(b.data, b.len, "secretbits", 10));
	/* A certificate without its key is not a record. */
	w.tls_key = NULL;
	wh_buf_reset(&b);
	assert_int_equal(wh_webhook_encode(&w, &b), -1);
	wh_buf_free(&b);
}

static void
test_codec(void **state)
{
	struct wh_secrets	r, other;
	struct wh_signing_key	k, d;
	struct wh_buf		clear, sealed;
	char			err[160];
	const char		*pt = "codec-secret-value-42";

	assert_int_equal(wh_secrets_parse(K1, &r, err, sizeof(err)), 0);
	assert_int_equal(wh_secrets_parse(K2, &other, err, sizeof(err)), 0);
	memset(&k, 0, sizeof(k));
	k.sid = "sk_abc";
	k.webhook_sid = "wh_abc";
	k.secret = (unsigned char *)pt;
	k.secret_len = strlen(pt);
	k.created_at = 1;
	wh_buf_init(&clear, 0);
	wh_buf_init(&sealed, 0);

	wh_secrets_use(NULL);
	assert_int_equal(wh_signing_key_encode(&k, &clear), 0);
	assert_non_null(memmem(clear.data, clear.len, pt, strlen(pt)));

	wh_secrets_use(&r);
	assert_int_equal(wh_signing_key_encode(&k, &sealed), 0);
	assert_null(memmem(sealed.data, sealed.len, pt, strlen(pt)));
	assert_non_null(memmem(sealed.data, sealed.len, "secret_enc", 10));
	assert_int_equal(wh_signing_key_decode(sealed.data, sealed.len, &d),
	    0);
	assert_int_equal(d.secret_len, strlen(pt));
	assert_memory_equal(d.secret, pt, strlen(pt));
	wh_signing_key_free(&d);
	/* A record in the clear still reads with a ring (migration). */
	assert_int_equal(wh_signing_key_decode(clear.data, clear.len, &d), 0);
	assert_memory_equal(d.secret, pt, strlen(pt));
	wh_signing_key_free(&d);

	/* Without the ring, or with another, a sealed record is unreadable. */
	wh_secrets_use(NULL);
	assert_int_equal(wh_signing_key_decode(sealed.data, sealed.len, &d),
	    -1);
	wh_secrets_use(&other);
	assert_int_equal(wh_signing_key_decode(sealed.data, sealed.len, &d),
	    -1);
	wh_secrets_use(NULL);
	wh_buf_free(&clear);
	wh_buf_free(&sealed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_webhook_tls_key),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

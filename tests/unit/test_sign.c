/*
 * test_sign.c: the two request signatures against the reference vectors
 * of docs/vectors/signatures.json, the file docs/design.md shows
 * (Streem's documented scheme and the Standard Webhooks reference), plus
 * the properties a receiver relies on: another key, body, header value or
 * header order gives another signature, and the whsec_ secret we publish
 * decodes back to the exact key bytes we sign with. The Makefile gives the
 * docs directory as TEST_DOCS_DIR, so the test and the doc cannot disagree.
 * Also Standard Webhooks' Ed25519 form (v1a) against the file's ed25519
 * vectors (RFC 8032's first test key over the reference message).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "docs_file.h"

#include "encode.h"
#include "json.h"
#include "sign.h"

#define VECTORS_FILE	"vectors/signatures.json"

#define VEC_MAX		8
#define HDR_MAX		8
#define STR_MAX		1024

struct streem_vec {
	char	secret[STR_MAX];
	char	names[HDR_MAX][STR_MAX];
	char	values[HDR_MAX][STR_MAX];
	size_t	nheaders;
	char	body[STR_MAX];
	char	input[2 * STR_MAX];
	char	sig[STR_MAX];
};

struct sw_vec {
	char	secret[STR_MAX];
	char	id[STR_MAX];
	int64_t	ts;
	char	body[STR_MAX];
	char	sig[STR_MAX];
};

struct ed_vec {
	unsigned char	priv[WH_ED25519_KEY_LEN];
	char		pub[STR_MAX];
	char		id[STR_MAX];
	int64_t		ts;
	char		body[STR_MAX];
	char		sig[STR_MAX];
};

struct secret_vec {
	char	shared[STR_MAX];
	char	standard[STR_MAX];
};

static struct streem_vec	sv[VEC_MAX];
static size_t			nsv;
static struct sw_vec		swv[VEC_MAX];
static size_t			nswv;
static struct ed_vec		edv[VEC_MAX];
static size_t			nedv;
static struct secret_vec	secv[VEC_MAX];
static size_t			nsecv;

/* The string member name of a JSON object span, decoded into out. */
static void
member_str(const char *obj, size_t olen, const char *name, char *out,
    size_t outlen)
{
	const char	*v;
	size_t		 vlen;

	if (wh_json_member(obj, olen, name, &v, &vlen) != 1)
		fail_msg("vector without \"%s\"", name);
	if (wh_json_string(v, vlen, out, outlen) < 0)
		fail_msg("vector member \"%s\" is not a string", name);
}

/* The elements of the top-level array member name of the file. */
static size_t
member_array(const char *doc, size_t dlen, const char *name,
    const char **vals, size_t *lens)
{
	const char	*v;
	size_t		 vlen;
	int		 n;

	if (wh_json_member(doc, dlen, name, &v, &vlen) != 1)
		fail_msg("%s: no \"%s\"", VECTORS_FILE, name);
	n = wh_json_elements(v, vlen, vals, lens, VEC_MAX);
	if (n < 1)
		fail_msg("%s: \"%s\" is not a list of 1 to %d vectors",
		    VECTORS_FILE, name, VEC_MAX);
	return ((size_t)n);
}

static void
load_streem(const char *obj, size_t olen, struct streem_vec *t)
{
	const char	*hv[HDR_MAX], *pv[2], *v;
	size_t		 hl[HDR_MAX], pl[2], vlen;
	int		 n, i;

	member_str(obj, olen, "shared_secret", t->secret, sizeof(t->secret));
	member_str(obj, olen, "body", t->body, sizeof(t->body));
	member_str(obj, olen, "signed_input", t->input, sizeof(t->input));
	member_str(obj, olen, "signature", t->sig, sizeof(t->sig));
	assert_int_equal(wh_json_member(obj, olen, "headers", &v, &vlen), 1);
	n = wh_json_elements(v, vlen, hv, hl, HDR_MAX);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(wh_json_elements(hv[i], hl[i], pv, pl, 2), 2);
		assert_true(wh_json_string(pv[0], pl[0], t->names[i],
		    STR_MAX) > 0);
		assert_true(wh_json_string(pv[1], pl[1], t->values[i],
		    STR_MAX) >= 0);
	}
	t->nheaders = (size_t)n;
}

/* The positive integer member "timestamp" of a vector. */
static int64_t
member_ts(const char *obj, size_t olen)
{
	const char	*v;
	size_t		 vlen;
	char		 num[32];
	int64_t		 ts;

	assert_int_equal(wh_json_member(obj, olen, "timestamp", &v, &vlen), 1);
	assert_true(vlen > 0 && vlen < sizeof(num));
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	ts = strtoll(num, NULL, 10);
	assert_true(ts > 0);
	return (ts);
}

/*
 * The signed message and its signature, the same members in the
 * standard_webhooks and ed25519 vectors (each buffer STR_MAX bytes).
 */
static void
load_message(const char *obj, size_t olen, char *id, int64_t *ts,
    char *body, char *sig)
{
	member_str(obj, olen, "id", id, STR_MAX);
	member_str(obj, olen, "body", body, STR_MAX);
	member_str(obj, olen, "signature", sig, STR_MAX);
	*ts = member_ts(obj, olen);
}

static void
load_sw(const char *obj, size_t olen, struct sw_vec *t)
{
	member_str(obj, olen, "secret", t->secret, sizeof(t->secret));
	load_message(obj, olen, t->id, &t->ts, t->body, t->sig);
}

/*
 * An ed25519 vector: the private key is given as hex (the 32-byte RFC
 * 8032 seed) because that is how RFC 8032 prints it.
 */
static void
load_ed(const char *obj, size_t olen, struct ed_vec *t)
{
	char	hex[STR_MAX];
	size_t	i;
	int	hi, lo;

	member_str(obj, olen, "private_key_hex", hex, sizeof(hex));
	if (strlen(hex) != 2 * WH_ED25519_KEY_LEN)
		fail_msg("private_key_hex is not %d hex digits",
		    2 * WH_ED25519_KEY_LEN);
	for (i = 0; i < WH_ED25519_KEY_LEN; i++) {
		hi = wh_hexval((unsigned char)hex[2 * i]);
		lo = wh_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			fail_msg("private_key_hex is not hex");
		t->priv[i] = (unsigned char)(hi << 4 | lo);
	}
	member_str(obj, olen, "public_key", t->pub, sizeof(t->pub));
	load_message(obj, olen, t->id, &t->ts, t->body, t->sig);
}

/* Group setup: every vector of the file, or the whole group fails. */
static int
load_vectors(void **state)
{
	const char	*vals[VEC_MAX];
	size_t		 lens[VEC_MAX], len, i;
	char		*doc;

	(void)state;
	doc = docs_file_read(VECTORS_FILE, &len);
	assert_true(wh_json_valid(doc, len));
	nsv = member_array(doc, len, "streem", vals, lens);
	for (i = 0; i < nsv; i++)
		load_streem(vals[i], lens[i], &sv[i]);
	nswv = member_array(doc, len, "standard_webhooks", vals, lens);
	for (i = 0; i < nswv; i++)
		load_sw(vals[i], lens[i], &swv[i]);
	nedv = member_array(doc, len, "ed25519", vals, lens);
	for (i = 0; i < nedv; i++)
		load_ed(vals[i], lens[i], &edv[i]);
	nsecv = member_array(doc, len, "standard_webhooks_secret", vals, lens);
	for (i = 0; i < nsecv; i++) {
		member_str(vals[i], lens[i], "shared_secret", secv[i].shared,
		    STR_MAX);
		member_str(vals[i], lens[i], "standard_webhooks_secret",
		    secv[i].standard, STR_MAX);
	}
	free(doc);
	/* The tests below use the first two Streem vectors by name. */
	assert_true(nsv >= 2 && sv[0].nheaders == 1 && sv[1].nheaders >= 2);
	return (0);
}

/* Sign vector t with its headers, into out. */
static int
sign_vec(const struct streem_vec *t, const char *secret,
    struct wh_sign_header *h, const char *body, char *out)
{
	size_t	i;

	for (i = 0; i < t->nheaders; i++) {
		h[i].name = t->names[i];
		h[i].name_len = strlen(t->names[i]);
		h[i].value = t->values[i];
		h[i].value_len = strlen(t->values[i]);
	}
	return (wh_sign_streem((const unsigned char *)secret, strlen(secret),
	    h, t->nheaders, body, strlen(body), out));
}

/*
 * A vector's "whsec_..." secret as key bytes: the prefix, then base64
 * through the decoder the programs use (common/encode.c); -1 if bad.
 */
static int
vector_key(const char *s, size_t len, unsigned char *out, size_t outlen)
{
	if (len >= 6 && memcmp(s, "whsec_", 6) == 0) {
		s += 6;
		len -= 6;
	}
	return (wh_b64_decode(s, len, out, outlen));
}

static void
test_streem_vectors(void **state)
{
	struct wh_sign_header	h[HDR_MAX];
	char			out[WH_SIG_HEX_LEN + 1];
	size_t			i;

	(void)state;
	for (i = 0; i < nsv; i++) {
		assert_int_equal(sign_vec(&sv[i], sv[i].secret, h, sv[i].body,
		    out), 0);
		assert_string_equal(out, sv[i].sig);
		assert_int_equal(strlen(out), WH_SIG_HEX_LEN);
	}
}

/* The signed input is exactly "Name=Value;"... + body, nothing else. */
static void
test_streem_concatenation(void **state)
{
	char	out[WH_SIG_HEX_LEN + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < nsv; i++) {
		assert_int_equal(wh_sign_streem(
		    (const unsigned char *)sv[i].secret, strlen(sv[i].secret),
		    NULL, 0, sv[i].input, strlen(sv[i].input), out), 0);
		assert_string_equal(out, sv[i].sig);
	}
}

static void
test_streem_differs(void **state)
{
	struct streem_vec	 t;
	struct wh_sign_header	 h[HDR_MAX];
	char			 out[WH_SIG_HEX_LEN + 1], key[STR_MAX];
	char			 body[STR_MAX];
	size_t			 n;

	(void)state;
	/* Another key: the last byte changed. */
	(void)snprintf(key, sizeof(key), "%s", sv[0].secret);
	key[strlen(key) - 1] ^= 1;
	assert_int_equal(sign_vec(&sv[0], key, h, sv[0].body, out), 0);
	assert_string_not_equal(out, sv[0].sig);

	/* Another body (its last byte changed). */
	(void)snprintf(body, sizeof(body), "%s", sv[0].body);
	n = strlen(body);
	assert_true(n >= 2);
	body[n - 2] ^= 1;
	assert_int_equal(sign_vec(&sv[0], sv[0].secret, h, body, out), 0);
	assert_string_not_equal(out, sv[0].sig);

	/* Another sent-at. */
	t = sv[0];
	t.values[0][strlen(t.values[0]) - 2] ^= 1;
	assert_int_equal(sign_vec(&t, t.secret, h, t.body, out), 0);
	assert_string_not_equal(out, sv[0].sig);

	/* Header order matters. */
	t = sv[1];
	memcpy(t.names[0], sv[1].names[1], STR_MAX);
	memcpy(t.values[0], sv[1].values[1], STR_MAX);
	memcpy(t.names[1], sv[1].names[0], STR_MAX);
	memcpy(t.values[1], sv[1].values[0], STR_MAX);
	assert_int_equal(sign_vec(&t, t.secret, h, t.body, out), 0);
	assert_string_not_equal(out, sv[1].sig);

	/* A header value. */
	t = sv[1];
	t.values[1][strlen(t.values[1]) - 1] ^= 1;
	assert_int_equal(sign_vec(&t, t.secret, h, t.body, out), 0);
	assert_string_not_equal(out, sv[1].sig);
}

static void
test_streem_empty_key(void **state)
{
	char	out[WH_SIG_HEX_LEN + 1];

	(void)state;
	assert_int_equal(wh_sign_streem((const unsigned char *)"", 0, NULL,
	    0, sv[0].body, strlen(sv[0].body), out), -1);
}

static void
test_standard_vectors(void **state)
{
	unsigned char	key[STR_MAX];
	char		out[WH_SIG_SW_LEN + 1];
	size_t		i;
	int		n;

	(void)state;
	for (i = 0; i < nswv; i++) {
		n = vector_key(swv[i].secret,
		    strlen(swv[i].secret), key, sizeof(key));
		assert_true(n > 0);
		assert_int_equal(wh_sign_standard(key, (size_t)n, swv[i].id,
		    swv[i].ts, swv[i].body, strlen(swv[i].body), out), 0);
		assert_string_equal(out, swv[i].sig);
		assert_int_equal(strlen(out), strlen(swv[i].sig));

		/* Bare base64 (no whsec_) decodes to the same key. */
		assert_int_equal(strncmp(swv[i].secret, "whsec_", 6), 0);
		assert_int_equal(vector_key(&swv[i].secret[6],
		    strlen(swv[i].secret) - 6, key, sizeof(key)), n);
		assert_int_equal(wh_sign_standard(key, (size_t)n, swv[i].id,
		    swv[i].ts, swv[i].body, strlen(swv[i].body), out), 0);
		assert_string_equal(out, swv[i].sig);
	}
}

/*
 * The keyed-context cache (sign.c) must not change any result: many keys
 * (more than its slots, so slots are taken over), each signed again after
 * the others, a key longer than it caches, and the vector at the end.
 */
static void
test_key_cache(void **state)
{
	const struct sw_vec	*v = &swv[0];
	unsigned char	key[64], longkey[300];
	char		first[200][WH_SIG_SW_LEN + 1], out[WH_SIG_SW_LEN + 1];
	size_t		i;
	int		n;

	(void)state;
	for (i = 0; i < 200; i++) {
		(void)snprintf((char *)key, sizeof(key), "secret-%zu-abcdefgh", i);
		assert_int_equal(wh_sign_standard(key, strlen((char *)key),
		    v->id, v->ts, v->body, strlen(v->body), first[i]), 0);
	}
	for (i = 0; i < 200; i++) {
		(void)snprintf((char *)key, sizeof(key), "secret-%zu-abcdefgh", i);
		assert_int_equal(wh_sign_standard(key, strlen((char *)key),
		    v->id, v->ts, v->body, strlen(v->body), out), 0);
		assert_string_equal(out, first[i]);
		if (i > 0)
			assert_string_not_equal(out, first[i - 1]);
	}
	memset(longkey, 'k', sizeof(longkey));
	assert_int_equal(wh_sign_standard(longkey, sizeof(longkey), v->id,
	    v->ts, v->body, strlen(v->body), out), 0);
	assert_int_equal(wh_sign_standard(longkey, sizeof(longkey) - 1, v->id,
	    v->ts, v->body, strlen(v->body), first[0]), 0);
	assert_string_not_equal(out, first[0]);
	n = vector_key(v->secret, strlen(v->secret), key,
	    sizeof(key));
	assert_int_equal(wh_sign_standard(key, (size_t)n, v->id, v->ts,
	    v->body, strlen(v->body), out), 0);
	assert_string_equal(out, v->sig);
	wh_sign_cleanup();
	assert_int_equal(wh_sign_standard(key, (size_t)n, v->id, v->ts,
	    v->body, strlen(v->body), out), 0);
	assert_string_equal(out, v->sig);
	wh_sign_cleanup();
}

static void
test_standard_differs(void **state)
{
	const struct sw_vec	*v = &swv[0];
	unsigned char	key[64];
	char		out[WH_SIG_SW_LEN + 1], body[STR_MAX];
	int		n;

	(void)state;
	n = vector_key(v->secret, strlen(v->secret), key,
	    sizeof(key));
	assert_true(n > 0);

	assert_int_equal(wh_sign_standard(key, (size_t)n, v->id, v->ts + 1,
	    v->body, strlen(v->body), out), 0);
	assert_string_not_equal(out, v->sig);
	assert_memory_equal(out, "v1,", 3);

	assert_int_equal(wh_sign_standard(key, (size_t)n, "msg_other", v->ts,
	    v->body, strlen(v->body), out), 0);
	assert_string_not_equal(out, v->sig);

	(void)snprintf(body, sizeof(body), "%s", v->body);
	body[strlen(body) - 2] ^= 1;
	assert_int_equal(wh_sign_standard(key, (size_t)n, v->id, v->ts,
	    body, strlen(body), out), 0);
	assert_string_not_equal(out, v->sig);

	key[0] ^= 1;
	assert_int_equal(wh_sign_standard(key, (size_t)n, v->id, v->ts,
	    v->body, strlen(v->body), out), 0);
	assert_string_not_equal(out, v->sig);
}

static void
test_standard_secret_roundtrip(void **state)
{
	char		sw[WH_SWSECRET_MAX];
	char		longsecret[WH_SECRET_MAX];
	unsigned char	key[WH_SECRET_MAX + 8];
	size_t		i, klen;
	int		n;

	(void)state;
	for (i = 0; i < nsecv; i++) {
		klen = strlen(secv[i].shared);
		n = wh_standard_secret((const unsigned char *)secv[i].shared,
		    klen, sw, sizeof(sw));
		assert_int_equal(n, strlen(secv[i].standard));
		assert_string_equal(sw, secv[i].standard);
		n = vector_key(sw, strlen(sw), key, sizeof(key));
		assert_int_equal(n, klen);
		assert_memory_equal(key, secv[i].shared, klen);
	}

	/* The longest secret fits WH_SWSECRET_MAX exactly. */
	memset(longsecret, 'x', sizeof(longsecret));
	n = wh_standard_secret((const unsigned char *)longsecret,
	    sizeof(longsecret), sw, sizeof(sw));
	assert_int_equal(n, 6 + 344);
	assert_int_equal((size_t)n + 1, sizeof(sw));
	n = vector_key(sw, (size_t)n, key, sizeof(key));
	assert_int_equal(n, WH_SECRET_MAX);
	assert_memory_equal(key, longsecret, WH_SECRET_MAX);

	/* One byte short. */
	assert_int_equal(wh_standard_secret((const unsigned char *)longsecret,
	    sizeof(longsecret), sw, sizeof(sw) - 1), -1);
	assert_int_equal(wh_standard_secret(
	    (const unsigned char *)secv[0].shared, strlen(secv[0].shared),
	    sw, 3), -1);
}

static void
test_vector_key_bad(void **state)
{
	const struct sw_vec	*v = &swv[0];
	unsigned char	key[64];
	int		n;

	(void)state;
	assert_int_equal(vector_key("whsec_***",
	    9, key, sizeof(key)), -1);
	assert_int_equal(vector_key("whsec_MfKQ9r8",
	    13, key, sizeof(key)), -1);
	n = vector_key(v->secret, strlen(v->secret),
	    key, sizeof(key));
	assert_true(n > 1);
	assert_int_equal(vector_key(v->secret,
	    strlen(v->secret), key, (size_t)n - 1), -1);
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

/*
 * Each ed25519 vector signs to its signature and derives its public key;
 * another timestamp, id or body gives another signature.
 */
static void
test_ed25519_vectors(void **state)
{
	const struct ed_vec	*v;
	char		out[WH_SIG_V1A_LEN + 1], pub[WH_SWPUBKEY_MAX];
	size_t		i, blen;

	(void)state;
	for (i = 0; i < nedv; i++) {
		v = &edv[i];
		blen = strlen(v->body);
		assert_true(blen > 0);
		assert_int_equal(wh_sign_ed25519(v->priv, v->id, v->ts,
		    v->body, blen, out), 0);
		assert_string_equal(out, v->sig);
		assert_int_equal(strlen(out), WH_SIG_V1A_LEN);
		assert_int_equal(wh_ed25519_public(v->priv, pub, sizeof(pub)),
		    (int)strlen(v->pub));
		assert_string_equal(pub, v->pub);
		assert_int_equal(wh_sign_ed25519(v->priv, v->id, v->ts + 1,
		    v->body, blen, out), 0);
		assert_string_not_equal(out, v->sig);
		assert_int_equal(wh_sign_ed25519(v->priv, "msg_other", v->ts,
		    v->body, blen, out), 0);
		assert_string_not_equal(out, v->sig);
		assert_int_equal(wh_sign_ed25519(v->priv, v->id, v->ts,
		    v->body, blen - 1, out), 0);
		assert_string_not_equal(out, v->sig);
		assert_int_equal(wh_ed25519_public(v->priv, pub, 10), -1);
	}
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
		cmocka_unit_test(test_streem_vectors),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_streem_concatenation),
		cmocka_unit_test(test_streem_differs),
		cmocka_unit_test(test_streem_empty_key),
		cmocka_unit_test(test_standard_vectors),
		cmocka_unit_test(test_standard_differs),
		cmocka_unit_test(test_standard_secret_roundtrip),
		cmocka_unit_test(test_vector_key_bad),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_ed25519_vectors),
		cmocka_unit_test(test_ed25519_generate),
	};

	return (cmocka_run_group_tests(tests, load_vectors, NULL));
}

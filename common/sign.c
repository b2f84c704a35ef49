/*
 * sign.c: the Streem and Standard Webhooks signatures of a delivered
 * request (docs/design.md, "The delivered request"). Both are HMAC-SHA256 with
 * the shared secret's bytes as the key (and Standard Webhooks' v1a form
 * is Ed25519, for asymmetric keys); the signed input is fed to an
 * OpenSSL EVP_MAC context piece by piece, so neither the headers nor the
 * body are ever copied into one contiguous message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "buf.h"
#include "encode.h"
#include "sign.h"

#define SHA256_LEN	32
#define SW_PREFIX	"whsec_"
#define SW_PREFIX_LEN	(sizeof(SW_PREFIX) - 1)

/*
 * HMAC contexts are kept keyed, one per recent key (a small direct-mapped
 * cache): every delivery signs with the same few keys twice, and keying
 * an OpenSSL 3 context (fetching the algorithms, hashing the pads) costs
 * more than the signing of a small body. A cached context is reset to
 * its keyed state with EVP_MAC_init(ctx, NULL, 0, NULL).
 */
#define KEY_CACHE	64
#define KEY_CACHE_MAX	256	/* longer keys are keyed afresh each time */

struct keyed {
	unsigned char	 key[KEY_CACHE_MAX];
	size_t		 keylen;
	EVP_MAC_CTX	*ctx;
};

static EVP_MAC		*hmac_alg;
static EVP_MD		*sha256_alg;
static EVP_MD_CTX	*sha256_ctx;
static struct keyed	 key_cache[KEY_CACHE];

struct hmac {
	EVP_MAC_CTX	*ctx;
	int		 owned;		/* not the cache's: free it */
};

static void
hmac_free(struct hmac *h)
{
	if (h->owned)
		EVP_MAC_CTX_free(h->ctx);
	h->ctx = NULL;
	h->owned = 0;
}

static size_t
key_slot(const unsigned char *key, size_t keylen)
{
	return (wh_hash(key, keylen) % KEY_CACHE);
}

/* A new context keyed with key, or NULL. */
static EVP_MAC_CTX *
hmac_keyed(const unsigned char *key, size_t keylen)
{
	OSSL_PARAM	 params[2];
	EVP_MAC_CTX	*ctx;
	char		 digest[] = "SHA256";

	if (hmac_alg == NULL &&
	    (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return (NULL);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL)
		return (NULL);
	if (EVP_MAC_init(ctx, key, keylen, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
}

/*
 * An HMAC-SHA256 context keyed with key. An empty key is refused: OpenSSL
 * reads a NULL key as "keep the previous one", and our secrets are never
 * empty (WH_SECRET_MIN).
 */
static int
hmac_begin(struct hmac *h, const unsigned char *key, size_t keylen)
{
	struct keyed	*k;

	h->ctx = NULL;
	h->owned = 0;
	if (key == NULL || keylen == 0)
		return (-1);
	if (keylen > KEY_CACHE_MAX) {
		if ((h->ctx = hmac_keyed(key, keylen)) == NULL)
			return (-1);
		h->owned = 1;
		return (0);
	}
	k = &key_cache[key_slot(key, keylen)];
	if (k->ctx != NULL && k->keylen == keylen &&
	    CRYPTO_memcmp(k->key, key, keylen) == 0) {
		if (EVP_MAC_init(k->ctx, NULL, 0, NULL) != 1)
			return (-1);
		h->ctx = k->ctx;
		return (0);
	}
	if ((h->ctx = hmac_keyed(key, keylen)) == NULL)
		return (-1);
	EVP_MAC_CTX_free(k->ctx);
	explicit_bzero(k->key, sizeof(k->key));
	memcpy(k->key, key, keylen);
	k->keylen = keylen;
	k->ctx = h->ctx;
	return (0);
}

static int
hmac_update(struct hmac *h, const void *p, size_t len)
{
	if (len == 0)
		return (0);
	if (EVP_MAC_update(h->ctx, p, len) != 1)
		return (-1);
	return (0);
}

/* Finish into out (32 bytes) and free the context either way. */
static int
hmac_end(struct hmac *h, unsigned char out[SHA256_LEN])
{
	size_t	outl = 0;
	int	rc;

	rc = EVP_MAC_final(h->ctx, out, &outl, SHA256_LEN);
	hmac_free(h);
	if (rc != 1 || outl != SHA256_LEN)
		return (-1);
	return (0);
}

int
wh_sign_streem(const unsigned char *key, size_t keylen,
    const struct wh_sign_header *hdrs, size_t nhdrs,
    const char *body, size_t bodylen, char out[WH_SIG_HEX_LEN + 1])
{
	struct hmac	h;
	unsigned char	md[SHA256_LEN];
	size_t		i;

	if (hmac_begin(&h, key, keylen) == -1)
		return (-1);
	for (i = 0; i < nhdrs; i++) {
		if (hmac_update(&h, hdrs[i].name, hdrs[i].name_len) == -1 ||
		    hmac_update(&h, "=", 1) == -1 ||
		    hmac_update(&h, hdrs[i].value, hdrs[i].value_len) == -1 ||
		    hmac_update(&h, ";", 1) == -1) {
			hmac_free(&h);
			return (-1);
		}
	}
	if (hmac_update(&h, body, bodylen) == -1) {
		hmac_free(&h);
		return (-1);
	}
	if (hmac_end(&h, md) == -1)
		return (-1);
	(void)wh_hex_encode(md, sizeof(md), out);
	return (0);
}

int
wh_sign_standard(const unsigned char *key, size_t keylen,
    const char *msg_id, int64_t ts, const char *body, size_t bodylen,
    char out[WH_SIG_SW_LEN + 1])
{
	struct hmac	h;
	unsigned char	md[SHA256_LEN];
	char		tsbuf[24];
	int		n;

	n = snprintf(tsbuf, sizeof(tsbuf), ".%" PRId64 ".", ts);
	if (n < 0 || (size_t)n >= sizeof(tsbuf))
		return (-1);
	if (hmac_begin(&h, key, keylen) == -1)
		return (-1);
	if (hmac_update(&h, msg_id, strlen(msg_id)) == -1 ||
	    hmac_update(&h, tsbuf, (size_t)n) == -1 ||
	    hmac_update(&h, body, bodylen) == -1) {
		hmac_free(&h);
		return (-1);
	}
	if (hmac_end(&h, md) == -1)
		return (-1);

	memcpy(out, "v1,", 3);
	if (wh_b64_encode(md, sizeof(md), out + 3, WH_SIG_SW_LEN + 1 - 3) == -1)
		return (-1);
	return (0);
}

/* An EVP_PKEY for a raw Ed25519 private key, or NULL. */
static EVP_PKEY *
ed25519_key(const unsigned char priv[WH_ED25519_KEY_LEN])
{
	return (EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv,
	    WH_ED25519_KEY_LEN));
}

/*
 * Ed25519 signs the whole message at once (no streaming: the hash is
 * taken twice over it), so id.ts.body is put together here; bodies are
 * at most a few hundred KiB.
 */
int
wh_sign_ed25519(const unsigned char priv[WH_ED25519_KEY_LEN],
    const char *msg_id, int64_t ts, const char *body, size_t bodylen,
    char out[WH_SIG_V1A_LEN + 1])
{
	struct wh_buf	 msg;
	EVP_PKEY	*pk;
	EVP_MD_CTX	*mctx = NULL;
	unsigned char	 sig[64];
	size_t		 siglen = sizeof(sig);
	int		 rc = -1;

	wh_buf_init(&msg, 0);
	if ((pk = ed25519_key(priv)) == NULL)
		return (-1);
	if (wh_buf_appendf(&msg, "%s.%" PRId64 ".", msg_id, ts) == 0 &&
	    wh_buf_append(&msg, body, bodylen) == 0 &&
	    (mctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(mctx, NULL, NULL, NULL, pk) == 1 &&
	    EVP_DigestSign(mctx, sig, &siglen, (unsigned char *)msg.data,
	    msg.len) == 1 && siglen == sizeof(sig)) {
		memcpy(out, "v1a,", 4);
		if (wh_b64_encode(sig, sizeof(sig), out + 4,
		    WH_SIG_V1A_LEN + 1 - 4) == WH_SIG_V1A_LEN - 4)
			rc = 0;
	}
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pk);
	wh_buf_free(&msg);
	return (rc);
}

int
wh_ed25519_generate(unsigned char priv[WH_ED25519_KEY_LEN])
{
	EVP_PKEY	*pk;
	size_t		 len = WH_ED25519_KEY_LEN;
	int		 rc;

	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return (-1);
	rc = EVP_PKEY_get_raw_private_key(pk, priv, &len) == 1 &&
	    len == WH_ED25519_KEY_LEN ? 0 : -1;
	EVP_PKEY_free(pk);
	return (rc);
}

int
wh_ed25519_public(const unsigned char priv[WH_ED25519_KEY_LEN], char *out,
    size_t outlen)
{
	EVP_PKEY	*pk;
	unsigned char	 pub[WH_ED25519_KEY_LEN];
	size_t		 len = sizeof(pub);
	int		 n = -1;

	if (outlen < 6 || (pk = ed25519_key(priv)) == NULL)
		return (-1);
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 &&
	    len == sizeof(pub)) {
		memcpy(out, "whpk_", 5);
		n = wh_b64_encode(pub, sizeof(pub), out + 5, outlen - 5);
	}
	EVP_PKEY_free(pk);
	return (n == -1 ? -1 : 5 + n);
}

int
wh_standard_secret(const unsigned char *secret, size_t len, char *out,
    size_t outlen)
{
	int	n;

	if (outlen < SW_PREFIX_LEN + 1)
		return (-1);
	memcpy(out, SW_PREFIX, SW_PREFIX_LEN);
	n = wh_b64_encode(secret, len, out + SW_PREFIX_LEN,
	    outlen - SW_PREFIX_LEN);
	if (n == -1) {
		out[0] = '\0';
		return (-1);
	}
	return ((int)SW_PREFIX_LEN + n);
}

int
wh_ct_equal(const void *a, const void *b, size_t len)
{
	return (CRYPTO_memcmp(a, b, len) == 0);
}

/*
 * OpenSSL 3's one-shot SHA256() fetches the algorithm on every call (a
 * lock and a lookup in the provider store), and EVP_Digest allocates and
 * frees a context each time; the api hashes the secret presented with
 * every request, so the algorithm and one context are kept per process
 * (single threaded) and the context is initialised afresh for each hash.
 */
int
wh_sha256(const void *in, size_t len, unsigned char out[WH_SHA256_LEN])
{
	unsigned int	n = 0;

	if (sha256_alg == NULL &&
	    (sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return (-1);
	if (sha256_ctx == NULL && (sha256_ctx = EVP_MD_CTX_new()) == NULL)
		return (-1);
	if (EVP_DigestInit_ex2(sha256_ctx, sha256_alg, NULL) != 1 ||
	    EVP_DigestUpdate(sha256_ctx, in, len) != 1 ||
	    EVP_DigestFinal_ex(sha256_ctx, out, &n) != 1 ||
	    n != WH_SHA256_LEN)
		return (-1);
	return (0);
}

/* Forget every cached key (at exit, so that no secret lingers). */
void
wh_sign_cleanup(void)
{
	size_t	i;

	for (i = 0; i < KEY_CACHE; i++) {
		EVP_MAC_CTX_free(key_cache[i].ctx);
		explicit_bzero(&key_cache[i], sizeof(key_cache[i]));
	}
	EVP_MAC_free(hmac_alg);
	EVP_MD_CTX_free(sha256_ctx);
	EVP_MD_free(sha256_alg);
	sha256_ctx = NULL;
	sha256_alg = NULL;
	hmac_alg = NULL;
}

/*
 * secretbox.c: AES-256-GCM sealing of signing secrets (see secretbox.h
 * for the format and the rotation procedure). A fresh random 96-bit nonce
 * per seal; with the few thousand secrets a deployment writes per key,
 * random nonces are far from their collision bound.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "encode.h"
#include "secretbox.h"

#define SEAL_VERSION	0x01
#define NONCE_LEN	12
#define TAG_LEN		16

static const struct wh_secrets	*ring;

static int
sb_err(char *err, size_t len, const char *msg)
{
	(void)snprintf(err, len, "WH_SECRETS_KEY: %s", msg);
	return (-1);
}

/* One "kid:base64key" entry of len bytes. */
static int
parse_one(const char *s, size_t len, struct wh_secrets_key *k, char *err,
    size_t errlen)
{
	const char	*colon;
	unsigned char	 raw[WH_SECRETS_KEY_LEN + 8];
	size_t		 klen, i;
	int		 n;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if ((colon = memchr(s, ':', len)) == NULL)
		return (sb_err(err, errlen, "each key is kid:base64(32 "
		    "bytes)"));
	klen = (size_t)(colon - s);
	if (klen == 0 || klen > WH_SECRETS_KID_MAX)
		return (sb_err(err, errlen, "a kid is 1 to 16 characters"));
	for (i = 0; i < klen; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-'))
			return (sb_err(err, errlen, "a kid is made of "
			    "A-Z a-z 0-9 _ -"));
	}
	n = wh_b64_decode(colon + 1, len - klen - 1, raw, sizeof(raw));
	if (n != WH_SECRETS_KEY_LEN) {
		explicit_bzero(raw, sizeof(raw));
		return (sb_err(err, errlen, "a key is the base64 of exactly "
		    "32 random bytes (openssl rand -base64 32)"));
	}
	memcpy(k->kid, s, klen);
	k->kid[klen] = '\0';
	memcpy(k->key, raw, WH_SECRETS_KEY_LEN);
	explicit_bzero(raw, sizeof(raw));
	return (0);
}

int
wh_secrets_parse(const char *spec, struct wh_secrets *r, char *err,
    size_t errlen)
{
	const char	*p, *comma;
	size_t		 len, i;

	memset(r, 0, sizeof(*r));
	if (spec == NULL || *spec == '\0')
		return (0);
	for (p = spec; ; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (r->n == WH_SECRETS_KEYS_MAX)
			return (sb_err(err, errlen, "at most 4 keys"));
		if (parse_one(p, len, &r->keys[r->n], err, errlen) == -1) {
			explicit_bzero(r, sizeof(*r));
			return (-1);
		}
		for (i = 0; i < r->n; i++) {
			if (strcmp(r->keys[i].kid, r->keys[r->n].kid) == 0) {
				explicit_bzero(r, sizeof(*r));
				return (sb_err(err, errlen, "a kid is used "
				    "twice"));
			}
		}
		r->n++;
		if (comma == NULL)
			break;
	}
	return (0);
}

void
wh_secrets_use(const struct wh_secrets *r)
{
	ring = r != NULL && r->n > 0 ? r : NULL;
}

const struct wh_secrets *
wh_secrets_ring(void)
{
	return (ring);
}

/*
 * One AES-256-GCM pass: encrypt (enc = 1) or decrypt in to out; the tag
 * is written (encrypt) or checked (decrypt). 0 or -1.
 */
static int
gcm(int enc, const unsigned char *key, const unsigned char *nonce,
    const char *aad, const unsigned char *in, size_t len,
    unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX	*c;
	int		 n, rc = -1;

	if (len > 0x7fffffff || (c = EVP_CIPHER_CTX_new()) == NULL)
		return (-1);
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return (rc);
}

int
wh_secret_seal(const struct wh_secrets *r, const char *aad,
    const unsigned char *pt, size_t ptlen, struct wh_buf *out)
{
	const struct wh_secrets_key	*k;
	unsigned char			 head[2 + WH_SECRETS_KID_MAX +
					    NONCE_LEN];
	unsigned char			 tag[TAG_LEN], *ct;
	size_t				 kidlen, hlen, mark = out->len;

	if (r == NULL || r->n == 0 || pt == NULL)
		return (-1);
	k = &r->keys[0];
	kidlen = strlen(k->kid);
	head[0] = SEAL_VERSION;
	head[1] = (unsigned char)kidlen;
	memcpy(head + 2, k->kid, kidlen);
	hlen = 2 + kidlen;
	if (RAND_bytes(head + hlen, NONCE_LEN) != 1)
		return (-1);
	if (wh_buf_append(out, head, hlen + NONCE_LEN) == -1 ||
	    wh_buf_reserve(out, ptlen + TAG_LEN) == -1)
		goto fail;
	ct = (unsigned char *)out->data + out->len;
	if (gcm(1, k->key, head + hlen, aad, pt, ptlen, ct, tag) == -1)
		goto fail;
	out->len += ptlen;
	if (wh_buf_append(out, tag, TAG_LEN) == -1)
		goto fail;
	return (0);
fail:
	out->len = mark;
	return (-1);
}

int
wh_secret_open(const struct wh_secrets *r, const char *aad,
    const unsigned char *in, size_t inlen, unsigned char *out,
    size_t outlen)
{
	const struct wh_secrets_key	*k = NULL;
	unsigned char			 tag[TAG_LEN];
	size_t				 kidlen, i, ctlen;

	if (r == NULL || inlen < 2 || in[0] != SEAL_VERSION)
		return (-1);
	kidlen = in[1];
	if (kidlen == 0 || kidlen > WH_SECRETS_KID_MAX ||
	    inlen < 2 + kidlen + NONCE_LEN + TAG_LEN)
		return (-1);
	for (i = 0; i < r->n; i++) {
		if (strlen(r->keys[i].kid) == kidlen &&
		    memcmp(r->keys[i].kid, in + 2, kidlen) == 0)
			k = &r->keys[i];
	}
	if (k == NULL)
		return (-1);
	ctlen = inlen - 2 - kidlen - NONCE_LEN - TAG_LEN;
	if (ctlen > outlen || ctlen > 0x7fffffff)
		return (-1);
	memcpy(tag, in + inlen - TAG_LEN, TAG_LEN);
	if (gcm(0, k->key, in + 2 + kidlen, aad, in + 2 + kidlen + NONCE_LEN,
	    ctlen, out, tag) == -1) {
		explicit_bzero(out, ctlen);
		return (-1);
	}
	return ((int)ctlen);
}

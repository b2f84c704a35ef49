/*
 * sign.h: the two signatures of every delivered request (docs/design.md,
 * "The delivered request").
 *
 * Streem's documented scheme: HMAC-SHA256 keyed with the shared secret
 * bytes over "Name=Value;" for each signed header, in order, followed by
 * the raw body; lowercase hex.
 *
 * Standard Webhooks: HMAC-SHA256 over id "." timestamp "." body with the
 * same key bytes; "v1," + base64. Its asymmetric form "v1a," + base64
 * of an Ed25519 signature of the same input, for keys made as ed25519.
 */
#ifndef WH_SIGN_H
#define WH_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"

#define WH_SIG_HEX_LEN		64	/* hex chars of one Streem signature */
#define WH_SIG_SW_LEN		47	/* "v1," + 44 base64 chars, no NUL */
#define WH_ED25519_KEY_LEN	32	/* raw private (seed) or public key */
#define WH_SIG_V1A_LEN		92	/* "v1a," + 88 base64 chars, no NUL */
/* "whpk_" + base64 of a public key, NUL included. */
#define WH_SWPUBKEY_MAX		(5 + WH_B64_LEN(WH_ED25519_KEY_LEN))
#define WH_SECRET_MIN		16	/* bytes of a shared secret */
#define WH_SECRET_MAX		256
/* "whsec_" + base64 of the longest secret, NUL included. */
#define WH_SWSECRET_MAX		(6 + WH_B64_LEN(WH_SECRET_MAX))

struct wh_sign_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

/*
 * Streem-Signature for one key. hdrs are the signed headers in signing
 * order (Streem-Sent-At first, then the custom ones sorted by name).
 * out receives 64 hex chars and a NUL (65 bytes). 0 on success, -1 on
 * failure.
 */
int	wh_sign_streem(const unsigned char *key, size_t keylen,
	    const struct wh_sign_header *hdrs, size_t nhdrs,
	    const char *body, size_t bodylen, char out[WH_SIG_HEX_LEN + 1]);

/*
 * One Standard Webhooks signature "v1,<base64>" (NUL-terminated, 49 bytes)
 * over msg_id "." ts "." body. 0 on success, -1 on failure.
 */
int	wh_sign_standard(const unsigned char *key, size_t keylen,
	    const char *msg_id, int64_t ts, const char *body, size_t bodylen,
	    char out[WH_SIG_SW_LEN + 1]);

/*
 * Standard Webhooks' asymmetric signature "v1a,<base64>" (NUL-terminated)
 * with the raw Ed25519 private key priv over msg_id "." ts "." body.
 * 0 on success, -1 on failure.
 */
int	wh_sign_ed25519(const unsigned char priv[WH_ED25519_KEY_LEN],
	    const char *msg_id, int64_t ts, const char *body, size_t bodylen,
	    char out[WH_SIG_V1A_LEN + 1]);

/* A fresh Ed25519 private key (raw 32 bytes). 0, or -1. */
int	wh_ed25519_generate(unsigned char priv[WH_ED25519_KEY_LEN]);

/*
 * "whpk_" + base64 of priv's public key into out (WH_SWPUBKEY_MAX bytes).
 * Chars written (no NUL), or -1.
 */
int	wh_ed25519_public(const unsigned char priv[WH_ED25519_KEY_LEN],
	    char *out, size_t outlen);

/*
 * "whsec_" + base64(secret). Returns chars written (no NUL) or -1 when
 * outlen is too small.
 */
int	wh_standard_secret(const unsigned char *secret, size_t len,
	    char *out, size_t outlen);

/* Free the keyed HMAC contexts sign.c keeps (and wipe their keys). */
void	wh_sign_cleanup(void);

/* Constant-time comparison of two equal-length byte strings: 1 if equal. */
int	wh_ct_equal(const void *, const void *, size_t);

#define WH_SHA256_LEN		32
/* SHA-256 of in[0..len) into out. 0, or -1 when OpenSSL fails. */
int	wh_sha256(const void *in, size_t len, unsigned char out[WH_SHA256_LEN]);

#endif

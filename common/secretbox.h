/*
 * secretbox.h: signing secrets encrypted at rest (AES-256-GCM, OpenSSL).
 *
 * WH_SECRETS_KEY holds a keyring: "kid:base64(32 bytes)[,kid:...]". The
 * first key seals every secret written; any key of the ring opens what it
 * sealed, so a rotation is: put the new key first and keep the old one
 * after it, run `webhooks-api --reencrypt-secrets`, then drop the old
 * key. Without WH_SECRETS_KEY secrets are stored as they are (and sealed
 * ones cannot be read).
 *
 * A sealed secret is 0x01 | kid length | kid | 12-byte nonce | ciphertext
 * | 16-byte tag; the additional data binds it to its record
 * ("<webhook_sid>:<signing key sid>"), so a sealed value copied to another
 * key does not open.
 */
#ifndef WH_SECRETBOX_H
#define WH_SECRETBOX_H

#include <stddef.h>

#include "buf.h"

#define WH_SECRETS_KEYS_MAX	4
#define WH_SECRETS_KID_MAX	16
#define WH_SECRETS_KEY_LEN	32

struct wh_secrets_key {
	char		kid[WH_SECRETS_KID_MAX + 1];
	unsigned char	key[WH_SECRETS_KEY_LEN];
};

struct wh_secrets {
	struct wh_secrets_key	keys[WH_SECRETS_KEYS_MAX];
	size_t			n;		/* 0: store in the clear */
};

/* Parse a WH_SECRETS_KEY value (NULL or "" is an empty ring). */
int	wh_secrets_parse(const char *spec, struct wh_secrets *,
	    char *err, size_t errlen);

/* The ring model.c seals and opens signing secrets with (NULL: none). */
void	wh_secrets_use(const struct wh_secrets *);
const struct wh_secrets *wh_secrets_ring(void);

/* Seal pt with the ring's first key, appending to out. 0 or -1. */
int	wh_secret_seal(const struct wh_secrets *, const char *aad,
	    const unsigned char *pt, size_t ptlen, struct wh_buf *out);

/*
 * Open a sealed value into out (at most outlen bytes). The plaintext's
 * length, or -1 (unknown kid, tampered, wrong record, malformed).
 */
int	wh_secret_open(const struct wh_secrets *, const char *aad,
	    const unsigned char *in, size_t inlen, unsigned char *out,
	    size_t outlen);

#endif

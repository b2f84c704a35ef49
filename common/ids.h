/*
 * ids.h: resource ids. A prefix ("wh_", "sk_", "evt_", ...) followed by
 * 128 random bits in URL-safe base64 without padding (22 chars), so ids
 * are unguessable and safe in paths and Redis keys.
 */
#ifndef WH_IDS_H
#define WH_IDS_H

#include <stddef.h>

#define WH_ID_RAND_CHARS	22
#define WH_ID_MAX		64	/* buffer size for any id we make or accept */

/* Random id with prefix; 0 on success, -1 (short buffer, RNG failure). */
int	wh_id_new(const char *prefix, char *out, size_t outlen);

/*
 * A generated secret (signing keys' shared_secret, API key secrets, the
 * page token key): 32 bytes from the OpenSSL CSPRNG as URL-safe base64
 * text, 256 bits, printable, and safe in a header, a URL or a JSON
 * string without escaping. out holds WH_SECRET_LEN + 1 bytes at least.
 * 0, or -1 on failure.
 */
#define WH_SECRET_BYTES		32
#define WH_SECRET_LEN		43	/* chars, without the NUL */
int	wh_secret_new(char *out, size_t outlen);

/*
 * Stable event sid for an entry published without one: "evt_" + first
 * 22 URL-safe base64 chars of SHA-256(company_sid ":" stream_entry_id).
 * The same entry always yields the same sid, across dispatchers and retries.
 */
int	wh_id_event_derived(const char *company_sid, const char *entry_id,
	    char *out, size_t outlen);

/*
 * Whether s looks like one of our ids or an externally supplied sid:
 * 1..WH_ID_MAX-1 chars of [A-Za-z0-9_-]. Used to refuse path tricks.
 */
int	wh_id_valid(const char *s, size_t len);

/* len (at most 256) random bytes from the ids' pool. 0 or -1. */
int	wh_id_random(unsigned char *out, size_t len);

#endif

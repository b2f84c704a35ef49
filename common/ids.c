/*
 * ids.c: resource ids. A random id is a prefix and 16 bytes from the
 * OpenSSL CSPRNG in URL-safe base64 (22 chars). A derived event sid is a
 * pure function of the company and the stream entry id (SHA-256), so every
 * dispatcher and every retry of one entry names the event the same way and
 * receivers can dedupe on it.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "encode.h"
#include "ids.h"
#include "sign.h"

#define ID_RAND_BYTES	16	/* 128 bits: 22 base64 chars */
#define ID_POOL		(256 * ID_RAND_BYTES)	/* 4 KiB: a refill per 128 requests */
#define EVT_PREFIX	"evt_"
#define EVT_PREFIX_LEN	(sizeof(EVT_PREFIX) - 1)

static unsigned char	pool[ID_POOL];
static size_t		pool_left;
static pthread_once_t	pool_once = PTHREAD_ONCE_INIT;
static int		pool_forksafe;	/* pool_drop runs in every child */

/* In a child just forked: forget the parent's pool. */
static void
pool_drop(void)
{
	OPENSSL_cleanse(pool, sizeof(pool));
	pool_left = 0;
}

static void
pool_register(void)
{
	pool_forksafe = pthread_atfork(NULL, NULL, pool_drop) == 0;
}

/*
 * The random bytes of ids come from a pool that RAND_bytes refills:
 * the api makes two ids per request (the request's and the event's), and
 * each RAND_bytes call costs OpenSSL 3 a lock and a DRBG update. The pool
 * belongs to one process: a fork handler empties it in every child (Kore
 * forks its workers from a parent that may have made ids), so no two
 * processes ever hand out the same bytes. That handler replaced a getpid()
 * per id, two system calls per published event. Should it fail to
 * register, every id calls RAND_bytes itself. Each byte taken is wiped.
 * Secrets never come from here (wh_secret_new calls RAND_bytes itself).
 */
static int
id_random(unsigned char *out, size_t len)
{
	if (len > sizeof(pool))
		return (-1);
	if (pthread_once(&pool_once, pool_register) != 0 || !pool_forksafe)
		return (RAND_bytes(out, (int)len) == 1 ? 0 : -1);
	if (pool_left < len) {
		if (RAND_bytes(pool, sizeof(pool)) != 1) {
			pool_left = 0;
			return (-1);
		}
		pool_left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - pool_left, len);
	OPENSSL_cleanse(pool + sizeof(pool) - pool_left, len);
	pool_left -= len;
	return (0);
}

/*
 * prefix then the URL-safe base64 of raw (chars of it) into out; raw is
 * wiped either way. The one encoding of ids and of generated secrets.
 */
static int
random_text(const char *prefix, unsigned char *raw, size_t rawlen,
    size_t chars, char *out, size_t outlen)
{
	size_t	plen;
	int	n;

	plen = strlen(prefix);
	if (outlen < plen + chars + 1) {
		OPENSSL_cleanse(raw, rawlen);
		return (-1);
	}
	memcpy(out, prefix, plen);
	n = wh_b64url_encode(raw, rawlen, out + plen, outlen - plen);
	OPENSSL_cleanse(raw, rawlen);
	if (n < 0 || (size_t)n != chars) {
		out[0] = '\0';
		return (-1);
	}
	return (0);
}

int
wh_id_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char	raw[ID_RAND_BYTES];

	if (id_random(raw, sizeof(raw)) == -1)
		return (-1);
	return (random_text(prefix, raw, sizeof(raw), WH_ID_RAND_CHARS, out,
	    outlen));
}

/*
 * Straight from the CSPRNG, not through the ids' pool: a secret's bytes
 * are never held in memory before it is made.
 */
int
wh_secret_new(char *out, size_t outlen)
{
	unsigned char	raw[WH_SECRET_BYTES];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return (-1);
	return (random_text("", raw, sizeof(raw), WH_SECRET_LEN, out, outlen));
}

/*
 * "evt_" + the first 22 chars of the URL-safe base64 of the whole digest.
 * The full digest is encoded (not just 16 bytes of it) so that the 22nd
 * char carries hash bits, exactly as the header describes, and any other
 * implementation of the rule gets the same sid.
 */
int
wh_id_event_derived(const char *company_sid, const char *entry_id,
    char *out, size_t outlen)
{
	unsigned char	 md[WH_SHA256_LEN];
	char		 b64[WH_B64_LEN(WH_SHA256_LEN)];
	char		 in[2 * WH_ID_MAX + 2];
	int		 n;

	if (outlen < EVT_PREFIX_LEN + WH_ID_RAND_CHARS + 1)
		return (-1);
	n = snprintf(in, sizeof(in), "%s:%s", company_sid, entry_id);
	if (n < 0 || (size_t)n >= sizeof(in) ||
	    wh_sha256(in, (size_t)n, md) == -1)
		return (-1);
	if (wh_b64url_encode(md, sizeof(md), b64, sizeof(b64)) <
	    WH_ID_RAND_CHARS)
		return (-1);
	memcpy(out, EVT_PREFIX, EVT_PREFIX_LEN);
	memcpy(out + EVT_PREFIX_LEN, b64, WH_ID_RAND_CHARS);
	out[EVT_PREFIX_LEN + WH_ID_RAND_CHARS] = '\0';
	return (0);
}

int
wh_id_valid(const char *s, size_t len)
{
	size_t		i;
	unsigned char	c;

	if (len == 0 || len > WH_ID_MAX - 1)
		return (0);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return (0);
	}
	return (1);
}

/* Random bytes from the same pool, for trace and span ids (trace.c). */
int
wh_id_random(unsigned char *out, size_t len)
{
	return (id_random(out, len));
}

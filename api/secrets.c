/*
 * secrets.c: every secret the api makes (signing keys' shared_secret,
 * API key secrets, the page token key) is 32 bytes from the OpenSSL
 * CSPRNG as URL-safe base64 text: 256 bits, printable, and safe in a
 * header, a URL or a JSON string without escaping.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api.h"
#include "encode.h"

/* out holds at least API_SECRET_LEN + 1 bytes. 0, or -1 on failure. */
int
api_secret_new(char *out, size_t outlen)
{
	unsigned char	raw[API_SECRET_BYTES];
	int		n;

	if (outlen < API_SECRET_LEN + 1 || RAND_bytes(raw, sizeof(raw)) != 1)
		return (-1);
	n = wh_b64url_encode(raw, sizeof(raw), out, outlen);
	OPENSSL_cleanse(raw, sizeof(raw));
	return (n == API_SECRET_LEN ? 0 : -1);
}

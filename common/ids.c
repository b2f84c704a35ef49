/*
 * ids.c: resource ids. A random id is a prefix and 16 bytes from the
 * OpenSSL CSPRNG in URL-safe base64 (22 chars). A derived event sid is a
 * pure function of the company and the stream entry id (SHA-256), so every
 * dispatcher and every retry of one entry names the event the same way and
 * receivers can dedupe on it.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "encode.h"
#include "ids.h"

#define ID_RAND_BYTES	16	/* 128 bits: 22 base64 chars */
#define EVT_PREFIX	"evt_"
#define EVT_PREFIX_LEN	(sizeof(EVT_PREFIX) - 1)
#define SHA256_LEN	32

int
wh_id_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char	raw[ID_RAND_BYTES];
	size_t		plen;
	int		n;

	plen = strlen(prefix);
	if (outlen < plen + WH_ID_RAND_CHARS + 1)
		return (-1);
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return (-1);
	memcpy(out, prefix, plen);
	n = wh_b64url_encode(raw, sizeof(raw), out + plen, outlen - plen);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (n != WH_ID_RAND_CHARS) {
		out[0] = '\0';
		return (-1);
	}
	return (0);
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
	EVP_MD_CTX	*ctx;
	unsigned char	 md[SHA256_LEN];
	char		 b64[WH_B64_LEN(SHA256_LEN)];
	unsigned int	 mdlen = 0;
	int		 ok;

	if (outlen < EVT_PREFIX_LEN + WH_ID_RAND_CHARS + 1)
		return (-1);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (-1);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, company_sid, strlen(company_sid)) == 1 &&
	    EVP_DigestUpdate(ctx, ":", 1) == 1 &&
	    EVP_DigestUpdate(ctx, entry_id, strlen(entry_id)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == SHA256_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
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

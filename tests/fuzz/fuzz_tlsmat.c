/*
 * fuzz_tlsmat.c: the write-time checks of a webhook's TLS material
 * (common/tlsmat.c) on any bytes: the input is a certificate and a key
 * separated by the first "\n==\n" (all of it is the certificate when
 * there is none), and the whole of it is also a tls_ca_pem.
 *
 * Checks, beyond memory safety:
 * - an accepted pair describes itself: subject and issuer are ASCII
 *   text NUL-terminated within their buffers (they go into JSON
 *   answers), not_after is after now;
 * - wh_tls_cert_info agrees with the check about the certificate's
 *   expiry (the same text is read the same way twice);
 * - every refusal names certificate_pem or private_key_pem.
 */
#include "tlsmat.h"

#include "fuzz.h"

#define NOW_MS	1795860020000LL	/* 2026-11-28 */

static int
ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x7f)
			return (0);
	return (1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wh_tls_info	 info, again;
	const char		*why, *sep;
	char			*s;
	size_t			 clen, klen;

	if ((s = fuzz_cstr(data, size)) == NULL)
		return (0);
	sep = memmem(s, size, "\n==\n", 4);
	clen = sep != NULL ? (size_t)(sep - s) : size;
	klen = sep != NULL ? size - clen - 4 : 0;
	why = wh_tls_client_check(s, clen, sep != NULL ? sep + 4 : "", klen,
	    NOW_MS, &info);
	if (why == NULL) {
		FUZZ_CHECK(memchr(info.subject, '\0', sizeof(info.subject)));
		FUZZ_CHECK(memchr(info.issuer, '\0', sizeof(info.issuer)));
		FUZZ_CHECK(ascii(info.subject) && ascii(info.issuer));
		FUZZ_CHECK(info.not_after > NOW_MS);
		FUZZ_CHECK(wh_tls_cert_info(s, clen, &again) == 0);
		FUZZ_CHECK(again.not_after == info.not_after);
		FUZZ_CHECK(strcmp(again.subject, info.subject) == 0);
	} else
		FUZZ_CHECK(strstr(why, "certificate_pem") != NULL ||
		    strstr(why, "private_key_pem") != NULL);
	why = wh_tls_ca_check(s, size);
	FUZZ_CHECK(why == NULL || *why != '\0');
	free(s);
	return (0);
}

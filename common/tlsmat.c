/*
 * tlsmat.c: client certificates and private CAs as webhooks carry them,
 * read with OpenSSL from memory. Write-time checks are what a handshake
 * would find too late: a key that is not the certificate's, an expired
 * certificate, text that is not PEM. An encrypted private key is refused
 * (the password callback declines) rather than prompting on a terminal.
 */
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tlsmat.h"

#define CA_MAX		64	/* certificates in one tls_ca_pem */

/* Never ask for a password: an encrypted key does not load. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return (-1);
}

static X509 *
cert_read(const char *pem, size_t len)
{
	BIO	*b;
	X509	*x;

	if (len == 0 || len > WH_PEM_MAX ||
	    (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return (NULL);
	x = PEM_read_bio_X509(b, NULL, no_password, NULL);
	BIO_free(b);
	ERR_clear_error();
	return (x);
}

/*
 * name as RFC 2253 text into out, cut to fit. Bytes above 0x7f are
 * escaped (\XX, RFC 2253's flags keep ESC_MSB), so the text is ASCII: a
 * cut never splits a character and any subject renders as JSON.
 */
static void
name_text(const X509_NAME *name, char out[WH_TLS_NAME_MAX])
{
	BIO	*b;
	int	 n = 0;

	out[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, out, WH_TLS_NAME_MAX - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

static int
info_of(X509 *x, struct wh_tls_info *info)
{
	struct tm	tm;

	memset(info, 0, sizeof(*info));
	name_text(X509_get_subject_name(x), info->subject);
	name_text(X509_get_issuer_name(x), info->issuer);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return (-1);
	info->not_after = (int64_t)timegm(&tm) * 1000;
	return (0);
}

int
wh_tls_cert_info(const char *cert, size_t certlen, struct wh_tls_info *info)
{
	X509	*x;
	int	 rc;

	if ((x = cert_read(cert, certlen)) == NULL)
		return (-1);
	rc = info_of(x, info);
	X509_free(x);
	return (rc);
}

const char *
wh_tls_client_check(const char *cert, size_t certlen, const char *key,
    size_t keylen, int64_t now_ms, struct wh_tls_info *info)
{
	struct wh_tls_info	 mine;
	const char		*why = NULL;
	EVP_PKEY		*pk = NULL;
	X509			*x;
	BIO			*b = NULL;

	if (info == NULL)
		info = &mine;
	if ((x = cert_read(cert, certlen)) == NULL)
		return ("certificate_pem is not a PEM certificate");
	if (keylen == 0 || keylen > WH_PEM_MAX ||
	    (b = BIO_new_mem_buf(key, (int)keylen)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(b, NULL, no_password,
	    NULL)) == NULL)
		why = "private_key_pem is not an unencrypted PEM private key";
	else if (X509_check_private_key(x, pk) != 1)
		why = "private_key_pem is not the certificate's key";
	else if (info_of(x, info) == -1)
		why = "certificate_pem has no readable expiry";
	else if (info->not_after <= now_ms)
		why = "certificate_pem has expired";
	EVP_PKEY_free(pk);
	BIO_free(b);
	X509_free(x);
	ERR_clear_error();
	return (why);
}

const char *
wh_tls_ca_check(const char *pem, size_t len)
{
	BIO	*b;
	X509	*x;
	int	 n = 0;

	if (len == 0 || len > WH_PEM_MAX)
		return ("must be PEM certificates, at most 32 KiB");
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return ("could not be read");
	while (n <= CA_MAX &&
	    (x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	BIO_free(b);
	ERR_clear_error();
	if (n == 0)
		return ("holds no PEM certificate");
	if (n > CA_MAX)
		return ("holds more than 64 certificates");
	return (NULL);
}

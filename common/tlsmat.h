/*
 * tlsmat.h: the TLS material a webhook may carry (a client certificate
 * with its private key, a private CA), checked when it is written and
 * described when it is shown. PEM text only; nothing here touches a file.
 */
#ifndef WH_TLSMAT_H
#define WH_TLSMAT_H

#include <stddef.h>
#include <stdint.h>

#define WH_PEM_MAX		(32 * 1024)	/* bytes of one PEM field */
#define WH_TLS_NAME_MAX		256		/* subject/issuer shown */

struct wh_tls_info {
	char	subject[WH_TLS_NAME_MAX];	/* RFC 2253, cut if longer */
	char	issuer[WH_TLS_NAME_MAX];
	int64_t	not_after;			/* ms since the epoch */
};

/*
 * A client certificate and its key: both PEM, the key unencrypted and
 * matching the certificate, the certificate valid at now_ms. NULL when
 * good (info filled when given), else why not (static text).
 */
const char	*wh_tls_client_check(const char *cert, size_t certlen,
		    const char *key, size_t keylen, int64_t now_ms,
		    struct wh_tls_info *info);

/* The certificate's names and expiry (no other check). 0, or -1. */
int		 wh_tls_cert_info(const char *cert, size_t certlen,
		    struct wh_tls_info *info);

/* CA certificates in PEM: one or more, each parses. NULL or why not. */
const char	*wh_tls_ca_check(const char *pem, size_t len);

#endif

/*
 * redis_tls.c: TLS sessions to Redis through OpenSSL (see redis_tls.h).
 *
 * One SSL_CTX serves the whole process: every connection (master,
 * sentinels, the start-up check) uses the same WH_REDIS_TLS_* settings,
 * read once, at the first TLS connect (the start-up check, so that a bad
 * file stops the program at once). Verification is on unless
 * WH_REDIS_TLS_INSECURE=1: the chain against WH_REDIS_TLS_CA_FILE or the
 * system store, and the server's name (WH_REDIS_TLS_SERVER_NAME, else
 * the host connected to; an IP address is checked as one).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "redis_tls.h"

static SSL_CTX	*ctx;

/*
 * Called by OpenSSL when the server asks for a client certificate and
 * none is configured: remember it, so that the failure that follows
 * (at once in TLS 1.2, at the first read in TLS 1.3) is named.
 */
static int
on_cert_request(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	int	*flag = SSL_get_app_data(ssl);

	if (flag != NULL)
		*flag = 1;
	return (0);
}

/* OpenSSL's last error as text after what, into err. */
static void
ssl_err(const char *what, const char *path, char *err, size_t errlen)
{
	char	buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	(void)snprintf(err, errlen, "%s%s%s: %s", what, path[0] ? " " : "",
	    path, buf);
}

static SSL_CTX *
ctx_make(const struct wh_redis_tls *t, char *err, size_t errlen)
{
	SSL_CTX	*c;

	if ((c = SSL_CTX_new(TLS_client_method())) == NULL) {
		ssl_err("TLS: cannot make a context", "", err, errlen);
		return (NULL);
	}
	if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
		ssl_err("TLS: cannot require TLS 1.2", "", err, errlen);
		goto fail;
	}
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * Read ahead: one read(2) takes whatever the socket holds, not a
	 * record header and then its body (two system calls per record).
	 * What it took beyond a record stays in OpenSSL, which is why the
	 * wire reads until SSL_read wants more (redis_wire.c).
	 */
	SSL_CTX_set_read_ahead(c, 1);
	SSL_CTX_set_verify(c, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
	    NULL);
	if (t->ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(c, t->ca_file, NULL) != 1) {
			ssl_err("WH_REDIS_TLS_CA_FILE cannot be used",
			    t->ca_file, err, errlen);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(c) != 1) {
		ssl_err("TLS: the system's CA store cannot be read", "", err,
		    errlen);
		goto fail;
	}
	if (t->cert_file[0] == '\0') {
		SSL_CTX_set_client_cert_cb(c, on_cert_request);
		return (c);
	}
	if (SSL_CTX_use_certificate_chain_file(c, t->cert_file) != 1) {
		ssl_err("WH_REDIS_TLS_CERT_FILE cannot be used", t->cert_file,
		    err, errlen);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c, t->key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(c) != 1) {
		ssl_err("WH_REDIS_TLS_KEY_FILE cannot be used", t->key_file,
		    err, errlen);
		goto fail;
	}
	return (c);
fail:
	SSL_CTX_free(c);
	return (NULL);
}

/* 1 if name is an IPv4 or IPv6 address (checked as such, no SNI). */
static int
is_ip(const char *name)
{
	struct in6_addr	a6;
	struct in_addr	a4;

	return (inet_pton(AF_INET, name, &a4) == 1 ||
	    inet_pton(AF_INET6, name, &a6) == 1);
}

SSL *
wh_tls_session(const struct wh_redis_tls *t, const char *host, int fd,
    int *cert_requested, char *peer, size_t peerlen, char *err,
    size_t errlen)
{
	X509_VERIFY_PARAM	*param;
	SSL			*ssl;
	const char		*name;
	int			 ok;

	if (ctx == NULL && (ctx = ctx_make(t, err, errlen)) == NULL)
		return (NULL);
	if ((ssl = SSL_new(ctx)) == NULL) {
		ssl_err("TLS: cannot make a session", "", err, errlen);
		return (NULL);
	}
	name = t->server_name[0] != '\0' ? t->server_name : host;
	(void)snprintf(peer, peerlen, "%s", name);
	SSL_set_app_data(ssl, cert_requested);
	ok = SSL_set_fd(ssl, fd);
	if (ok == 1 && !is_ip(name))
		ok = SSL_set_tlsext_host_name(ssl, name);
	if (ok == 1 && !t->insecure) {
		param = SSL_get0_param(ssl);
		if (is_ip(name))
			ok = X509_VERIFY_PARAM_set1_ip_asc(param, name);
		else
			ok = SSL_set1_host(ssl, name);
	}
	if (ok != 1) {
		ssl_err("TLS: cannot set up the session for", name, err,
		    errlen);
		SSL_free(ssl);
		return (NULL);
	}
	return (ssl);
}

/* A failed certificate check (v, not X509_V_OK) in words. */
static void
verify_why(long v, const char *peer, char *err, size_t errlen)
{
	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		(void)snprintf(err, errlen, "TLS: expired certificate: the "
		    "server's certificate (or one of its chain) has expired");
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		(void)snprintf(err, errlen, "TLS: the server's certificate is "
		    "not valid yet (check the clocks)");
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		(void)snprintf(err, errlen, "TLS: host name mismatch: the "
		    "server's certificate is not for %s (set "
		    "WH_REDIS_TLS_SERVER_NAME to the name it carries)", peer);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		(void)snprintf(err, errlen, "TLS: unknown CA: the server's "
		    "certificate is not signed by a CA we trust "
		    "(WH_REDIS_TLS_CA_FILE)");
		break;
	default:
		(void)snprintf(err, errlen, "TLS: the server's certificate "
		    "was refused: %s", X509_verify_cert_error_string(v));
		break;
	}
}

void
wh_tls_why(SSL *ssl, int ret, int code, int cert_requested, const char *peer,
    char *err, size_t errlen)
{
	unsigned long	e;
	long		v;
	char		buf[256];

	e = ERR_peek_last_error();
	ERR_clear_error();
	v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		verify_why(v, peer, err, errlen);
		return;
	}
	if (cert_requested) {
		(void)snprintf(err, errlen, "TLS: the server asks for a client "
		    "certificate and none is configured "
		    "(WH_REDIS_TLS_CERT_FILE, WH_REDIS_TLS_KEY_FILE)");
		return;
	}
	if (code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL &&
	    e == 0 && (ret == 0 || errno == 0))) {
		(void)snprintf(err, errlen, "TLS: the server closed the "
		    "connection");
		return;
	}
	if (code == SSL_ERROR_SYSCALL && e == 0) {
		(void)snprintf(err, errlen, "TLS: %s", strerror(errno));
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	(void)snprintf(err, errlen, "TLS: %s", buf);
}

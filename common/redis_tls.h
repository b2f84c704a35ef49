/*
 * redis_tls.h: the OpenSSL side of a Redis wire (common/redis_wire.c):
 * the process' one client context made from WH_REDIS_TLS_*, a session
 * per connection with its checks (chain, host name or IP, TLS 1.2 at
 * least, SNI), and a sentence naming why a handshake or a read failed.
 */
#ifndef WH_REDIS_TLS_H
#define WH_REDIS_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

/*
 * A client session on fd for a server reached as host, verified against
 * t's server name (or host). *cert_requested is set when the server asks
 * for a client certificate and none is configured. The name verified is
 * written to peer. NULL with the reason in err.
 */
SSL	*wh_tls_session(const struct wh_redis_tls *t, const char *host,
	    int fd, int *cert_requested, char *peer, size_t peerlen,
	    char *err, size_t errlen);
/*
 * Why an SSL call on ssl failed (ret and SSL_get_error's code): unknown
 * CA, expired certificate, host name mismatch, a client certificate the
 * server demands, or OpenSSL's own words. Clears OpenSSL's error queue.
 */
void	 wh_tls_why(SSL *ssl, int ret, int code, int cert_requested,
	    const char *peer, char *err, size_t errlen);

#endif

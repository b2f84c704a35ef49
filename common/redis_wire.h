/*
 * redis_wire.h: our one connection to a Redis server, under every way
 * the programs talk to Redis (the api workers on Kore's loop, the
 * dispatcher's epoll loop, the launcher's and the dispatcher's blocking
 * start-up checks).
 *
 * A wire owns its socket: plain TCP, a unix socket, or TLS through
 * OpenSSL, connected without blocking (the TLS handshake too). Commands
 * come already in RESP (common/resp.c) and wait in an output buffer that
 * is written as the socket allows; replies are parsed by hiredis'
 * redisReader and handed, in order, to the callback queued with each
 * command. A subscribed connection's messages go to its push callback.
 * When the wire fails or is freed, every callback still waiting gets a
 * NULL reply.
 *
 * The wire never touches an event loop: the owner asks which events it
 * wants (wh_wire_wants_write), watches its fd, and calls wh_wire_io when
 * the fd is ready.
 */
#ifndef WH_REDIS_WIRE_H
#define WH_REDIS_WIRE_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include "buf.h"
#include "config.h"

struct wh_wire;

/*
 * A reply (a redisReply, NULL when the link failed first). It belongs to
 * the wire and is freed after the callback returns.
 */
typedef void	wh_reply_fn(struct wh_wire *, void *reply, void *priv);

/* States. */
#define WH_WIRE_CONNECTING	0	/* TCP (or unix) connect pending */
#define WH_WIRE_HANDSHAKE	1	/* TLS handshake under way */
#define WH_WIRE_UP		2
#define WH_WIRE_FAILED		3	/* err says why */

/* wh_wire_io's events. */
#define WH_WIRE_EV_READ		0x01
#define WH_WIRE_EV_WRITE	0x02

struct wh_wire_call {
	wh_reply_fn	*cb;
	void		*priv;
};

struct wh_wire {
	int		 fd;
	int		 state;		/* WH_WIRE_* */
	void		*ssl;		/* SSL *, NULL over plain TCP/unix */
	const struct wh_redis_tls *tls;	/* its settings, NULL if plain */
	char		 peer[WH_HOST_MAX];	/* the name verified */
	redisReader	*reader;
	struct wh_buf	 out;		/* formatted commands to send */
	size_t		 out_off;	/* sent up to here */
	size_t		 ssl_retry;	/* an SSL_write to repeat, its length */
	int		 hs_want_write;	/* the handshake waits to write */
	int		 write_wants_read;	/* SSL_write: WANT_READ */
	int		 read_wants_write;	/* SSL_read: WANT_WRITE */
	int		 cert_requested;	/* server asked, we have none */
	struct wh_wire_call *calls;	/* ring of callbacks owed */
	size_t		 head, ncalls, cap;
	wh_reply_fn	*on_push;	/* replies nobody waits for */
	void		*push_priv;
	void		*data;		/* the owner's */
	int		 depth;		/* inside wh_wire_io or a callback */
	int		 freed;		/* wh_wire_free ran inside */
	int		 kept;		/* the callback keeps the reply */
	int		 call_ms;	/* blocking use: each command's bound */
	/* Blocking use in a Redis Cluster: where to follow MOVED / ASK. */
	const struct wh_redis_addr *cluster;
	char		 node_host[WH_HOST_MAX];	/* this node's */
	char		 err[256];
};

/*
 * Start connecting to host:port (or unix_path when not empty), over TLS
 * when tls is not NULL. NULL with the reason in err when it failed at
 * once (a name that does not resolve, a bad TLS setting).
 */
struct wh_wire	*wh_wire_open(const char *host, int port,
		    const char *unix_path, const struct wh_redis_tls *tls,
		    char *err, size_t errlen);
/*
 * hiredis' reply reader with bounds: an array of more than
 * WH_REPLY_ELEMENTS_MAX elements or a string of more than
 * WH_REPLY_STRING_MAX bytes (Redis' own proto-max-bulk-len) is a reader
 * error instead of an allocation of whatever size the server announced.
 */
#define WH_REPLY_ELEMENTS_MAX	(1 << 20)
#define WH_REPLY_STRING_MAX	((size_t)512 << 20)
redisReader	*wh_reader_new(void);
/* A wire with no socket (wh_wire_open's start; the fuzz target's). */
struct wh_wire	*wh_wire_new(void);
/*
 * Bytes from the server: parsed, each complete reply handed to its
 * callback (or the push callback). 0, or -1 when the wire failed (a
 * protocol error, a reply nobody asked for) or a callback freed it.
 */
int		 wh_wire_feed(struct wh_wire *, const char *buf, size_t len);
/*
 * Close and free w; every callback still owed gets a NULL reply first.
 * Safe from inside one of w's callbacks (the wire goes when it returns).
 */
void		 wh_wire_free(struct wh_wire *);
/*
 * Queue a command (formatted here with wh_resp_command) and cb(priv) for
 * its reply. 0, or -1 when the wire has failed or memory runs out.
 */
int		 wh_wire_command(struct wh_wire *, wh_reply_fn *cb,
		    void *priv, int argc, const char **argv,
		    const size_t *lens);
/* Replies that arrive when no callback is owed (a subscription's). */
void		 wh_wire_on_push(struct wh_wire *, wh_reply_fn *,
		    void *priv);
/*
 * The fd is ready for events (WH_WIRE_EV_*; both when unsure): connect,
 * handshake, write and read as far as possible, running callbacks. 0,
 * or -1 when the wire failed (err says why; the owner frees it) or was
 * freed by a callback (then it must not be touched again).
 */
int		 wh_wire_io(struct wh_wire *, int events);
/* Besides reading (always wanted), whether to watch for writing. */
int		 wh_wire_wants_write(const struct wh_wire *);
/* Callbacks still owed a reply. */
size_t		 wh_wire_owed(const struct wh_wire *);
/* From inside a callback: the reply is the callback's to free. */
void		 wh_wire_keep_reply(struct wh_wire *);
/*
 * Blocking: send one command and wait for its reply (any type; the
 * caller frees it with freeReplyObject), at most timeout_ms in all,
 * connecting first if need be. NULL with the reason in err on failure.
 */
redisReply	*wh_wire_call(struct wh_wire *, int timeout_ms, int argc,
		    const char **argv, const size_t *lens, char *err,
		    size_t errlen);

#endif

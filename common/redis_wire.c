/*
 * redis_wire.c: one connection to Redis (see redis_wire.h), plain or TLS.
 *
 * Writing: commands are appended to one output buffer and written when
 * the socket is writable, so that the commands of one loop round leave
 * in one write (one TLS record when they fit). A partial write keeps
 * the rest for the next round. An SSL_write that wants to be repeated
 * (WANT_WRITE, or WANT_READ during a renegotiation or key update) is
 * repeated with the same length; the buffer may have moved meanwhile
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 *
 * Reading: OpenSSL may hold decrypted bytes of a record already read
 * from the socket, which the socket's readiness no longer shows; so over
 * TLS a read goes on until SSL_read says WANT_READ, leaving nothing in
 * OpenSSL that the loop would not wake us for. Over plain TCP a read
 * shorter than the buffer ends it (the level-triggered loop calls again
 * for what comes later).
 *
 * Callbacks may free the wire (or queue commands on it): while the wire
 * is inside wh_wire_io or delivering NULLs, wh_wire_free only marks it,
 * and the outermost frame frees it on the way out.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "redis_tls.h"
#include "redis_wire.h"
#include "resp.h"
#include "timeutil.h"

#define READ_CHUNK		16384
/* An output buffer that grew past this is released once written. */
#define OUT_KEEP		(256 * 1024)
/* Sent bytes are moved out of the buffer once this many pile up. */
#define OUT_COMPACT		(64 * 1024)
#define CALLS_MIN		16

static int
fail(struct wh_wire *w, const char *fmt, const char *arg)
{
	if (w->state != WH_WIRE_FAILED) {
		(void)snprintf(w->err, sizeof(w->err), fmt, arg);
		w->state = WH_WIRE_FAILED;
	}
	return (-1);
}

/* The SSL call returned ret: its reason into w->err. */
static int
fail_tls(struct wh_wire *w, int ret, int code)
{
	char	why[256];

	if (w->state == WH_WIRE_FAILED)
		return (-1);
	wh_tls_why(w->ssl, ret, code, w->cert_requested, w->peer, why,
	    sizeof(why));
	return (fail(w, "%s", why));
}

/* A non-blocking connect to the first address that takes one. */
static int
connect_tcp(struct wh_wire *w, const char *host, int port, char *err,
    size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	char		 service[16];
	int		 fd = -1, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	(void)snprintf(service, sizeof(service), "%d", port);
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
		(void)snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return (-1);
	}
	(void)snprintf(err, errlen, "%s:%d: no address", host, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		(void)snprintf(err, errlen, "%s:%d: %s", host, port,
		    strerror(errno));
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return (-1);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->fd = fd;
	return (0);
}

static int
connect_unix(struct wh_wire *w, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || (connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1 && errno != EINPROGRESS)) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return (-1);
	}
	w->fd = fd;
	return (0);
}

/*
 * hiredis 0.14's reader allocates an array reply's element vector as
 * soon as it has read the header: "*1716383000\r\n" from a broken or
 * hostile server asks for 13 GB before one element has arrived (and a
 * count past INT_MAX reaches calloc as a negative int). Our readers
 * refuse aggregates and strings larger than any reply we ask for; the
 * reader then fails ("out of memory") and the wire is dropped like on
 * any protocol error.
 */
static const redisReplyObjectFunctions	*plain_fns;
static redisReplyObjectFunctions	 bounded_fns;

static void *
bounded_array(const redisReadTask *task, int n)
{
	if (n < 0 || n > WH_REPLY_ELEMENTS_MAX)
		return (NULL);
	return (plain_fns->createArray(task, n));
}

static void *
bounded_string(const redisReadTask *task, char *str, size_t len)
{
	if (len > WH_REPLY_STRING_MAX)
		return (NULL);
	return (plain_fns->createString(task, str, len));
}

redisReader *
wh_reader_new(void)
{
	redisReader	*r;

	if ((r = redisReaderCreate()) == NULL)
		return (NULL);
	if (plain_fns == NULL) {
		plain_fns = r->fn;
		bounded_fns = *plain_fns;
		bounded_fns.createArray = bounded_array;
		bounded_fns.createString = bounded_string;
	}
	r->fn = &bounded_fns;
	return (r);
}

struct wh_wire *
wh_wire_new(void)
{
	struct wh_wire	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	w->fd = -1;
	w->state = WH_WIRE_CONNECTING;
	wh_buf_init(&w->out, 0);
	if ((w->reader = wh_reader_new()) == NULL) {
		free(w);
		return (NULL);
	}
	return (w);
}

struct wh_wire *
wh_wire_open(const char *host, int port, const char *unix_path,
    const struct wh_redis_tls *tls, char *err, size_t errlen)
{
	struct wh_wire	*w;
	int		 rc;

	if ((w = wh_wire_new()) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	w->tls = tls;
	if (unix_path[0] != '\0')
		rc = connect_unix(w, unix_path, err, errlen);
	else
		rc = connect_tcp(w, host, port, err, errlen);
	if (rc == 0 && tls != NULL && (w->ssl = wh_tls_session(tls, host,
	    w->fd, &w->cert_requested, w->peer, sizeof(w->peer), err,
	    errlen)) == NULL)
		rc = -1;
	if (rc == -1) {
		w->state = WH_WIRE_FAILED;
		wh_wire_free(w);
		return (NULL);
	}
	return (w);
}

/* The call owed the next reply, taken off the ring. */
static struct wh_wire_call
calls_shift(struct wh_wire *w)
{
	struct wh_wire_call	c = w->calls[w->head];

	w->head = (w->head + 1) % w->cap;
	w->ncalls--;
	return (c);
}

static int
calls_push(struct wh_wire *w, wh_reply_fn *cb, void *priv)
{
	struct wh_wire_call	*n;
	size_t			 i, cap;

	if (w->ncalls == w->cap) {
		cap = w->cap == 0 ? CALLS_MIN : w->cap * 2;
		if ((n = calloc(cap, sizeof(*n))) == NULL)
			return (-1);
		for (i = 0; i < w->ncalls; i++)
			n[i] = w->calls[(w->head + i) % w->cap];
		free(w->calls);
		w->calls = n;
		w->cap = cap;
		w->head = 0;
	}
	w->calls[(w->head + w->ncalls) % w->cap].cb = cb;
	w->calls[(w->head + w->ncalls) % w->cap].priv = priv;
	w->ncalls++;
	return (0);
}

/* Close the socket and fail every call owed (they may free w: marked). */
static void
wire_close(struct wh_wire *w)
{
	struct wh_wire_call	c;

	if (w->ssl != NULL) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd != -1) {
		(void)close(w->fd);
		w->fd = -1;
	}
	if (w->state != WH_WIRE_FAILED)
		(void)fail(w, "%s", "closed");
	w->depth++;
	while (w->ncalls > 0) {
		c = calls_shift(w);
		if (c.cb != NULL)
			c.cb(w, NULL, c.priv);
	}
	w->depth--;
}

static void
wire_destroy(struct wh_wire *w)
{
	redisReaderFree(w->reader);
	wh_buf_free(&w->out);
	free(w->calls);
	free(w);
}

void
wh_wire_free(struct wh_wire *w)
{
	if (w == NULL || w->freed)
		return;
	w->freed = 1;
	wire_close(w);
	if (w->depth == 0)
		wire_destroy(w);
}

/* Leave a frame of wh_wire_io: -1 and the wire gone if it was freed. */
static int
wire_leave(struct wh_wire *w, int rc)
{
	if (--w->depth == 0 && w->freed) {
		wire_destroy(w);
		return (-1);
	}
	return (w->freed ? -1 : rc);
}

int
wh_wire_command(struct wh_wire *w, wh_reply_fn *cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	size_t	mark = w->out.len;

	if (w->state == WH_WIRE_FAILED || w->freed)
		return (-1);
	if (wh_resp_command(&w->out, argc, argv, lens) == -1)
		return (-1);
	if (calls_push(w, cb, priv) == -1) {
		w->out.len = mark;
		return (-1);
	}
	return (0);
}

void
wh_wire_on_push(struct wh_wire *w, wh_reply_fn *cb, void *priv)
{
	w->on_push = cb;
	w->push_priv = priv;
}

int
wh_wire_wants_write(const struct wh_wire *w)
{
	switch (w->state) {
	case WH_WIRE_CONNECTING:
		return (1);
	case WH_WIRE_HANDSHAKE:
		return (w->hs_want_write);
	case WH_WIRE_UP:
		return (w->read_wants_write || (w->out_off < w->out.len &&
		    !w->write_wants_read));
	default:
		return (0);
	}
}

size_t
wh_wire_owed(const struct wh_wire *w)
{
	return (w->ncalls);
}

void
wh_wire_keep_reply(struct wh_wire *w)
{
	w->kept = 1;
}

/*
 * The connect finished (or failed): on to the handshake, or up. Without
 * a write event a socket with no error may still be connecting.
 */
static int
connect_done(struct wh_wire *w, int events)
{
	socklen_t	len = sizeof(int);
	int		e = 0;

	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY ||
	    (e == 0 && !(events & WH_WIRE_EV_WRITE)))
		return (0);
	if (e != 0)
		return (fail(w, "%s", strerror(e)));
	w->state = w->ssl != NULL ? WH_WIRE_HANDSHAKE : WH_WIRE_UP;
	return (0);
}

static int
handshake(struct wh_wire *w)
{
	int	rc, code;

	ERR_clear_error();
	if ((rc = SSL_connect(w->ssl)) == 1) {
		w->state = WH_WIRE_UP;
		return (0);
	}
	code = SSL_get_error(w->ssl, rc);
	if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
		w->hs_want_write = code == SSL_ERROR_WANT_WRITE;
		return (0);
	}
	return (fail_tls(w, rc, code));
}

/* One write of up to len bytes at p: bytes written, 0 to wait, -1. */
static ssize_t
write_some(struct wh_wire *w, const char *p, size_t len)
{
	ssize_t	n;
	int	code;

	if (w->ssl == NULL) {
		n = send(w->fd, p, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (n);
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return (0);
		return (fail(w, "%s", strerror(errno)));
	}
	if (w->ssl_retry != 0)
		len = w->ssl_retry;
	else if (len > INT32_MAX)
		len = INT32_MAX;
	ERR_clear_error();
	if ((n = SSL_write(w->ssl, p, (int)len)) > 0) {
		w->ssl_retry = 0;
		w->write_wants_read = 0;
		return (n);
	}
	code = SSL_get_error(w->ssl, (int)n);
	if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) {
		w->ssl_retry = len;
		w->write_wants_read = code == SSL_ERROR_WANT_READ;
		return (0);
	}
	return (fail_tls(w, (int)n, code));
}

/* Write what the socket takes; keep the rest. */
static int
flush(struct wh_wire *w)
{
	ssize_t	n;

	while (w->out_off < w->out.len) {
		n = write_some(w, w->out.data + w->out_off,
		    w->out.len - w->out_off);
		if (n == -1)
			return (-1);
		if (n == 0)
			break;
		w->out_off += (size_t)n;
	}
	if (w->out_off == w->out.len) {
		w->out_off = 0;
		if (w->out.cap > OUT_KEEP)
			wh_buf_free(&w->out);
		else
			wh_buf_reset(&w->out);
	} else if (w->out_off >= OUT_COMPACT) {
		memmove(w->out.data, w->out.data + w->out_off,
		    w->out.len - w->out_off);
		w->out.len -= w->out_off;
		w->out_off = 0;
	}
	return (0);
}

/* Hand every complete reply the reader holds to its callback. */
static int
dispatch(struct wh_wire *w)
{
	struct wh_wire_call	 c;
	void			*reply;

	while (!w->freed) {
		if (redisReaderGetReply(w->reader, &reply) != REDIS_OK)
			return (fail(w, "protocol error: %s",
			    w->reader->errstr));
		if (reply == NULL)
			return (0);
		if (w->ncalls > 0)
			c = calls_shift(w);
		else if (w->on_push != NULL) {
			c.cb = w->on_push;
			c.priv = w->push_priv;
		} else {
			freeReplyObject(reply);
			return (fail(w, "%s", "a reply nobody asked for"));
		}
		w->kept = 0;
		if (c.cb != NULL)
			c.cb(w, reply, c.priv);
		if (!w->kept)
			freeReplyObject(reply);
		w->kept = 0;
	}
	return (0);
}

/* One read into buf: bytes read, 0 when nothing more now, -1. */
static ssize_t
read_some(struct wh_wire *w, char *buf, size_t len)
{
	ssize_t	n;
	int	code;

	if (w->ssl == NULL) {
		n = read(w->fd, buf, len);
		if (n > 0)
			return (n);
		if (n == 0)
			return (fail(w, "%s",
			    "the server closed the connection"));
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return (0);
		return (fail(w, "%s", strerror(errno)));
	}
	ERR_clear_error();
	if ((n = SSL_read(w->ssl, buf, (int)len)) > 0) {
		w->read_wants_write = 0;
		return (n);
	}
	code = SSL_get_error(w->ssl, (int)n);
	if (code == SSL_ERROR_WANT_READ)
		return (0);
	if (code == SSL_ERROR_WANT_WRITE) {
		w->read_wants_write = 1;
		return (0);
	}
	return (fail_tls(w, (int)n, code));
}

/* Parse bytes read and run the callbacks of the replies completed. */
static int
feed(struct wh_wire *w, const char *buf, size_t len)
{
	if (redisReaderFeed(w->reader, buf, len) != REDIS_OK)
		return (fail(w, "%s", "out of memory"));
	return (dispatch(w));
}

static int
drain(struct wh_wire *w)
{
	char	buf[READ_CHUNK];
	ssize_t	n;

	for (;;) {
		if ((n = read_some(w, buf, sizeof(buf))) <= 0)
			return ((int)n);
		if (feed(w, buf, (size_t)n) == -1 || w->freed)
			return (-1);
		if (w->ssl == NULL && (size_t)n < sizeof(buf))
			return (0);
	}
}

int
wh_wire_io(struct wh_wire *w, int events)
{
	if (w->state == WH_WIRE_FAILED)
		return (-1);
	w->depth++;
	if (w->state == WH_WIRE_CONNECTING && connect_done(w, events) == -1)
		return (wire_leave(w, -1));
	if (w->state == WH_WIRE_HANDSHAKE && handshake(w) == -1)
		return (wire_leave(w, -1));
	if (w->state != WH_WIRE_UP)
		return (wire_leave(w, 0));
	/* A write waiting on a read is retried on any event, as is a read
	 * waiting on a write: either may be what OpenSSL waited for. */
	if (flush(w) == -1)
		return (wire_leave(w, -1));
	if (drain(w) == -1)
		return (wire_leave(w, -1));
	/* Callbacks may have queued commands: send them now if possible. */
	if (!w->freed && w->out_off < w->out.len && flush(w) == -1)
		return (wire_leave(w, -1));
	return (wire_leave(w, 0));
}

int
wh_wire_feed(struct wh_wire *w, const char *buf, size_t len)
{
	if (w->state == WH_WIRE_FAILED || w->freed)
		return (-1);
	w->depth++;
	return (wire_leave(w, feed(w, buf, len)));
}

/* wh_wire_call's callback: the reply is kept for the caller. */
static void
call_reply(struct wh_wire *w, void *reply, void *priv)
{
	void	**slot = priv;

	*slot = reply;
	if (reply != NULL)
		wh_wire_keep_reply(w);
}

/*
 * wh_wire_call's loop, with SIGPIPE ignored meanwhile: OpenSSL writes
 * with write(2), and a program that did not ignore it (the launcher)
 * must not die when Redis closes first.
 */
static int
call_wait(struct wh_wire *w, void **slot, int timeout_ms)
{
	struct pollfd	pfd;
	int64_t		deadline = wh_mono_ms() + timeout_ms, left;
	int		n, events;

	while (*slot == NULL && w->state != WH_WIRE_FAILED) {
		if ((left = deadline - wh_mono_ms()) <= 0) {
			if (w->state == WH_WIRE_HANDSHAKE)
				return (fail(w, "%s", "TLS: handshake timed "
				    "out"));
			return (fail(w, "%s", w->state == WH_WIRE_UP ?
			    "no answer in time" : "connect timed out"));
		}
		pfd.fd = w->fd;
		pfd.events = POLLIN | (wh_wire_wants_write(w) ? POLLOUT : 0);
		pfd.revents = 0;
		if ((n = poll(&pfd, 1, (int)left)) == -1 && errno != EINTR)
			return (fail(w, "%s", strerror(errno)));
		if (n <= 0)
			continue;
		events = (pfd.revents & POLLOUT) ? WH_WIRE_EV_WRITE : 0;
		if (pfd.revents & ~POLLOUT)
			events |= WH_WIRE_EV_READ;
		if (wh_wire_io(w, events) == -1)
			return (-1);
	}
	return (*slot != NULL ? 0 : -1);
}

redisReply *
wh_wire_call(struct wh_wire *w, int timeout_ms, int argc, const char **argv,
    const size_t *lens, char *err, size_t errlen)
{
	struct sigaction	 ign, old;
	void			*reply = NULL;
	int			 rc;

	if (wh_wire_command(w, call_reply, &reply, argc, argv, lens) == -1) {
		(void)snprintf(err, errlen, "%s", w->state == WH_WIRE_FAILED ?
		    w->err : "out of memory");
		return (NULL);
	}
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &ign, &old);
	rc = call_wait(w, &reply, timeout_ms);
	(void)sigaction(SIGPIPE, &old, NULL);
	if (rc == -1) {
		(void)snprintf(err, errlen, "%s", w->err);
		wire_close(w);	/* the reply owed must not land later */
		return (NULL);
	}
	return (reply);
}

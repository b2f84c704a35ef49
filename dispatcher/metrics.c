/*
 * metrics.c: this dispatcher's own GET /metrics, on WH_METRICS_LISTEN.
 *
 * The counters live in struct dispatcher (bumped where things happen);
 * the attempt latency histogram and the failures by reason are kept
 * here, fed by deliver.c as each transfer ends. Each dispatcher shows
 * only its own figures, so that Prometheus' sum() over the dispatchers
 * it scrapes is right; nothing here needs Redis (webhooks_redis_up says
 * whether the main connection is up).
 *
 * The listener is a small HTTP/1.x server on the dispatcher's loop: it
 * answers GET /metrics and nothing else, one request per connection,
 * then closes. It is exposed to whoever can reach the port: at most
 * CONN_MAX connections at once (a new one closes the oldest, so idle
 * sockets cannot lock the scraper out), a request head of at most
 * HEAD_MAX bytes, each connection closed after CONN_TIMEOUT_MS whatever
 * it did; nothing here ever blocks the loop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "metrics.h"

#define CONN_MAX	8
#define HEAD_MAX	4096
#define CONN_TIMEOUT_MS	5000

/* Failure reasons: a fixed set, so the label's cardinality is bounded. */
static const char *const	reasons[] = {
	"timeout", "connect", "dns", "tls", "http_4xx", "http_5xx", "policy",
	"proxy", "other",
};
#define NREASONS	(sizeof(reasons) / sizeof(reasons[0]))

static const struct wh_mfamily	families[] = {
	WH_MFAMILIES_PROCESS,
	{ "webhooks_redis_up", "gauge",
	    "1 if this dispatcher's main Redis connection is up (on a "
	    "cluster: every master of the slot map connected)." },
	{ "webhooks_dispatcher_events_total", "counter",
	    "Events this dispatcher read from the events stream (those taken "
	    "over from a stopped dispatcher included)." },
	{ "webhooks_dispatcher_claimed_total", "counter",
	    "Stream entries taken over from a dispatcher that stopped "
	    "(XAUTOCLAIM)." },
	{ "webhooks_dispatcher_malformed_total", "counter",
	    "Stream entries moved to the dead letters as malformed." },
	{ "webhooks_delivery_attempts_total", "counter",
	    "Delivery attempts, by outcome: succeeded, retrying (failed, "
	    "another attempt scheduled), dead (failed, no attempt left)." },
	{ "webhooks_delivery_attempt_failures_total", "counter",
	    "Failed delivery attempts, by reason: timeout, connect, dns, tls, "
	    "http_4xx, http_5xx, policy (address refused), proxy, other." },
	{ "webhooks_delivery_attempt_duration_seconds", "histogram",
	    "Duration of delivery attempts, from the start of the transfer "
	    "to its end (answer, error or timeout)." },
	{ "webhooks_deliveries_parked_total", "counter",
	    "Deliveries not attempted because their webhook is disabled "
	    "(kept in the dead letters)." },
	{ "webhooks_deliveries_filtered_total", "counter",
	    "Events a webhook's payload filter left out (no attempt made)." },
	{ "webhooks_deliveries_rate_limited_total", "counter",
	    "Deliveries deferred by their webhook's rate_limit (no attempt "
	    "counted)." },
	WH_MFAMILIES_TRACE,
	{ "webhooks_dispatcher_inflight", "gauge",
	    "HTTP transfers running in this dispatcher." },
	{ "webhooks_dispatcher_queued", "gauge",
	    "Deliveries waiting for a free transfer slot (per-endpoint and "
	    "per-dispatcher limits) in this dispatcher." },
};

struct mconn {
	int			fd;		/* -1: free */
	uint64_t		seq;		/* accept order */
	char			head[HEAD_MAX];
	size_t			len;
	struct wh_buf		out;
	size_t			off;
	struct loop_timer	timer;
};

static struct wh_hist		attempt_latency;
static uint64_t			failures[NREASONS];
static int			listen_fd = -1;
static struct mconn		conns[CONN_MAX];
static uint64_t			accepted;

void
metrics_attempt(int64_t ms)
{
	wh_hist_observe(&attempt_latency, ms * 1000);
}

void
metrics_failure(const char *reason)
{
	size_t	i;

	for (i = 0; i + 1 < NREASONS; i++) {
		if (strcmp(reasons[i], reason) == 0)
			break;
	}
	failures[i]++;
}

/*
 * The main connection is up. On a cluster conn.ready only says that a
 * slot map is known (rconn.h), which stays true with every node down:
 * there it is every master of the map reachable.
 */
static int
redis_up(void)
{
	if (d.main.cl != NULL)
		return (wh_cluster_up(d.main.cl));
	return (d.main.conn.ready ? 1 : 0);
}

static int
metrics_collect(struct wh_mset *set)
{
	static const char *const	outcomes[3] = {
		"outcome=\"succeeded\"", "outcome=\"retrying\"",
		"outcome=\"dead\"",
	};
	const uint64_t			attempts[3] = {
		d.n_delivered, d.n_retried, d.n_dead,
	};
	char				label[32];
	uint64_t			exported, dropped;
	size_t				i;
	int				rc = 0;

	rc |= wh_mset_build_info(set);
	rc |= wh_mset_process(set);
	rc |= wh_mset_gauge(set, "webhooks_redis_up", "", redis_up());
	rc |= wh_mset_counter(set, "webhooks_dispatcher_events_total", "",
	    d.n_events);
	rc |= wh_mset_counter(set, "webhooks_dispatcher_claimed_total", "",
	    d.n_claimed);
	rc |= wh_mset_counter(set, "webhooks_dispatcher_malformed_total", "",
	    d.n_malformed);
	for (i = 0; i < 3; i++)
		rc |= wh_mset_counter(set, "webhooks_delivery_attempts_total",
		    outcomes[i], attempts[i]);
	for (i = 0; i < NREASONS; i++) {
		(void)snprintf(label, sizeof(label), "reason=\"%s\"",
		    reasons[i]);
		rc |= wh_mset_counter(set,
		    "webhooks_delivery_attempt_failures_total", label,
		    failures[i]);
	}
	rc |= wh_mset_counter(set, "webhooks_deliveries_parked_total", "",
	    d.n_parked);
	rc |= wh_mset_counter(set, "webhooks_deliveries_filtered_total", "",
	    d.n_filtered);
	rc |= wh_mset_counter(set, "webhooks_deliveries_rate_limited_total",
	    "", d.n_rate_limited);
	rc |= wh_mset_hist(set, "webhooks_delivery_attempt_duration_seconds",
	    "", &attempt_latency);
	otlp_counts(&exported, &dropped);
	rc |= wh_mset_counter(set, "webhooks_trace_spans_exported_total", "",
	    exported);
	rc |= wh_mset_counter(set, "webhooks_trace_spans_dropped_total", "",
	    dropped);
	rc |= wh_mset_gauge(set, "webhooks_dispatcher_inflight", "",
	    (int64_t)d.inflight);
	rc |= wh_mset_gauge(set, "webhooks_dispatcher_queued", "",
	    (int64_t)d.queued);
	return (rc != 0 ? -1 : 0);
}

static void
conn_close(struct mconn *c)
{
	loop_timer_disarm(&c->timer);
	(void)loop_watch(c->fd, 0, NULL, NULL);
	(void)close(c->fd);
	c->fd = -1;
	wh_buf_free(&c->out);
}

static void
conn_timeout(void *arg)
{
	conn_close(arg);
}

/* Send what the socket takes; the rest when it is writable again. */
static void
conn_write(int fd, int events, void *arg)
{
	struct mconn	*c = arg;
	ssize_t		 n;

	while (c->off < c->out.len) {
		n = send(c->fd, c->out.data + c->off, c->out.len - c->off,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    loop_watch(c->fd, LOOP_WRITE, conn_write, c) == 0)
			return;
		break;
	}
	conn_close(c);
}

/* The whole answer: status line, headers, body; Connection: close. */
static void
conn_answer(struct mconn *c, int status, const char *reason,
    const char *ctype, const char *extra, const char *body, size_t len)
{
	wh_buf_init(&c->out, 0);
	if (wh_buf_appendf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
	    reason, ctype, len, extra) == -1 ||
	    wh_buf_append(&c->out, body, len) == -1) {
		conn_close(c);
		return;
	}
	c->off = 0;
	conn_write(c->fd, LOOP_WRITE, c);
}

static void
conn_problem(struct mconn *c, int status, const char *title,
    const char *extra)
{
	char	body[256];
	int	n;

	n = snprintf(body, sizeof(body), "{\"type\":\"about:blank\","
	    "\"title\":\"%s\",\"status\":%d}", title, status);
	conn_answer(c, status, title, "application/problem+json", extra, body,
	    (size_t)n);
}

/* The value of header name (lower case, with its ':') in head, or NULL. */
static const char *
head_value(char *head, const char *name)
{
	char	*line, *end;
	size_t	 len = strlen(name);

	for (line = strstr(head, "\r\n"); line != NULL; line = end) {
		line += 2;
		if ((end = strstr(line, "\r\n")) == NULL)
			return (NULL);
		if ((size_t)(end - line) > len &&
		    strncasecmp(line, name, len) == 0) {
			*end = '\0';
			line += len;
			while (*line == ' ' || *line == '\t')
				line++;
			return (line);
		}
	}
	return (NULL);
}

/* A complete head: answer it. */
static void
conn_request(struct mconn *c)
{
	struct wh_mset	 set;
	struct wh_buf	 b;
	const char	*path, *auth;
	size_t		 plen;

	if (strncmp(c->head, "GET ", 4) != 0) {
		conn_problem(c, 405, "Method Not Allowed", "Allow: GET\r\n");
		return;
	}
	path = c->head + 4;
	plen = strcspn(path, " ?\r");
	if (plen != 8 || strncmp(path, "/metrics", 8) != 0) {
		conn_problem(c, 404, "Not Found", "");
		return;
	}
	auth = head_value(c->head, "authorization:");
	if (!wh_metrics_token_ok(d.cfg.metrics_token, auth)) {
		conn_problem(c, 401, "Unauthorized",
		    "WWW-Authenticate: Bearer realm=\"metrics\"\r\n");
		return;
	}
	wh_mset_init(&set);
	wh_buf_init(&b, 0);
	if (metrics_collect(&set) == -1 || wh_mset_render(&b, &set, families,
	    sizeof(families) / sizeof(families[0])) == -1)
		conn_problem(c, 500, "Internal Server Error", "");
	else
		conn_answer(c, 200, "OK", WH_METRICS_CONTENT_TYPE, "", b.data,
		    b.len);
	wh_buf_free(&b);
	wh_mset_free(&set);
}

static void
conn_read(int fd, int events, void *arg)
{
	struct mconn	*c = arg;
	ssize_t		 n;

	n = recv(c->fd, c->head + c->len, sizeof(c->head) - 1 - c->len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->head[c->len] = '\0';
	if (memchr(c->head, '\0', c->len) != NULL) {
		conn_problem(c, 400, "Bad Request", "");
		return;
	}
	if (strstr(c->head, "\r\n\r\n") != NULL) {
		/* One request: anything after its head is not read. */
		(void)loop_watch(c->fd, 0, NULL, NULL);
		conn_request(c);
	} else if (c->len == sizeof(c->head) - 1)
		conn_problem(c, 431, "Request Header Fields Too Large", "");
}

static void
on_accept(int fd, int events, void *arg)
{
	struct mconn	*c;
	size_t		 i;
	int		 s;

	while ((s = accept4(listen_fd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		c = NULL;
		for (i = 0; i < CONN_MAX; i++) {
			if (conns[i].fd == -1) {
				c = &conns[i];
				break;
			}
			if (c == NULL || conns[i].seq < c->seq)
				c = &conns[i];
		}
		/* Full: the oldest goes. */
		if (c->fd != -1)
			conn_close(c);
		c->seq = ++accepted;
		c->fd = s;
		c->len = 0;
		c->off = 0;
		wh_buf_init(&c->out, 0);
		if (loop_watch(s, LOOP_READ, conn_read, c) == -1) {
			(void)close(s);
			c->fd = -1;
			continue;
		}
		loop_timer_init(&c->timer, conn_timeout, c);
		loop_timer_arm(&c->timer, CONN_TIMEOUT_MS);
	}
}

/* WH_METRICS_LISTEN, when set: listen there. -1 with err filled. */
int
metrics_start(char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	size_t		 i;
	int		 on = 1, rc;

	for (i = 0; i < CONN_MAX; i++)
		conns[i].fd = -1;
	if (d.cfg.metrics_port[0] == '\0')
		return (0);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(d.cfg.metrics_host, d.cfg.metrics_port, &hints,
	    &res)) != 0) {
		(void)snprintf(err, errlen, "WH_METRICS_LISTEN: %s",
		    gai_strerror(rc));
		return (-1);
	}
	listen_fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, res->ai_protocol);
	if (listen_fd == -1 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR,
	    &on, sizeof(on)) == -1 ||
	    bind(listen_fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(listen_fd, 64) == -1 ||
	    loop_watch(listen_fd, LOOP_READ, on_accept, NULL) == -1) {
		(void)snprintf(err, errlen, "cannot listen on "
		    "WH_METRICS_LISTEN %s:%s: %s", d.cfg.metrics_host,
		    d.cfg.metrics_port, strerror(errno));
		if (listen_fd != -1)
			(void)close(listen_fd);
		listen_fd = -1;
		freeaddrinfo(res);
		return (-1);
	}
	freeaddrinfo(res);
	return (0);
}

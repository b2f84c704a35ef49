/*
 * deliver.c: the HTTP side. libcurl's multi interface on loop.c: curl
 * tells us which sockets to watch and when to wake (socket and timer
 * callbacks), we tell it what happened (curl_multi_socket_action), so
 * hundreds of transfers share one thread and reuse connections per host.
 *
 * A delivery is built at the moment it starts: sent_at, Streem-Sent-At and
 * webhook-timestamp are stamped then, never when the event was queued,
 * because receivers check them against their clock within 500 ms; and
 * stamped (and signed) again when curl has the connection ready, if that
 * took a while (restamp()).
 */
#include <sys/socket.h>

#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "dispatch.h"
#include "json.h"
#include "log.h"
#include "backoff.h"
#include "netpolicy.h"
#include "sign.h"
#include "timeutil.h"
#include "validate.h"

static void	deliver_proxied(struct delivery *, const char *connect_to,
		    const char *why, const char *reason);
static int	deliver_side_start(void *easy);
static curl_socket_t deliver_socket_open(struct curl_sockaddr *);
static int	deliver_socket_close(void *clientp, curl_socket_t fd);

/*
 * The most of an answer ever read: the attempt log and a ~test outcome
 * keep its first KiB. Once the status is known and this much of the body
 * is read, the transfer ends: a receiver streaming an endless body gets
 * no more of our time (and its 2xx is a success).
 */
#define ANSWER_KEEP	(4 * 1024)
#define USER_AGENT	"streem-webhooks/" WH_VERSION
#define SIGNED_MAX	(WH_HEADERS_MAX + 1)	/* Streem-Sent-At + custom */
#define RESTAMP_MS	20	/* older stamps are made again at sending */

static CURLM			*multi;
static struct loop_timer	 curl_timer;
/*
 * Finished easy handles, reset and kept for the next transfers: making
 * one costs a dozen allocations, and a busy dispatcher starts thousands
 * a second. At most WH_DISPATCH_CONCURRENCY are ever kept.
 */
struct spare {
	CURL			*e;
	int			 ready;	/* constant options set, nothing else */
};
static struct spare		*spare;
static size_t			 nspare, spare_cap;
/*
 * Request bodies of finished deliveries, kept for the next ones. A body
 * (~1.2 KiB for a 1 KiB payload) is an allocation large enough that
 * malloc sorts its free lists (malloc_consolidate) for each one, and grown
 * by doubling from 64 bytes it took six reallocs: measured at ~5 % of a
 * dispatcher's CPU. At most WH_DISPATCH_CONCURRENCY are kept, none larger
 * than BODY_KEEP_MAX.
 */
#define BODY_KEEP_MAX	(64 * 1024)
static struct wh_buf		*bodies;
static size_t			 nbodies;
/* Deliveries that failed before reaching curl, finished on the next round. */
static TAILQ_HEAD(, delivery)	 failed_early = TAILQ_HEAD_INITIALIZER(failed_early);
/*
 * Deliveries whose entry's ownership is not confirmed (entry_owned()), to be
 * started (HELD_START, holding their slot) or resolved (HELD_DONE) once
 * a refresh says the entry is still ours, dropped if it is not.
 */
#define HELD_START	1
#define HELD_DONE	2
static TAILQ_HEAD(, delivery)	 held = TAILQ_HEAD_INITIALIZER(held);
static struct loop_timer	 early_timer;

static void	check_done(void);
/* The delivery's owner (delivery.c), told of what a transfer came to. */
static const struct deliver_hooks	*hooks;
static void	add_transfer(struct delivery *);
/* The CA file every transfer trusts (WH_TLS_CA_FILE or curl's default). */
static char			*ca_file;

static void
on_socket_io(int fd, int what, void *arg)
{
	int	flags = 0, running;

	if (what & LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (what & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(multi, fd, flags, &running);
	check_done();
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp)
{
	int	ev = 0;

	if (what == CURL_POLL_REMOVE)
		return (loop_watch(s, 0, NULL, NULL) == 0 ? 0 : -1);
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= LOOP_WRITE;
	return (loop_watch(s, ev, on_socket_io, NULL) == 0 ? 0 : -1);
}

static void
on_curl_timer(void *arg)
{
	int	running;

	(void)curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	check_done();
}

static int
timer_cb(CURLM *m, long ms, void *userp)
{
	if (ms < 0)
		loop_timer_disarm(&curl_timer);
	else
		loop_timer_arm(&curl_timer, ms);
	return (0);
}

/*
 * Refuse forbidden addresses at connect time, after DNS: the address
 * checked is the one the socket would be connected to.
 */
static curl_socket_t
opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct delivery	*dl = clientp;
	const char	*why;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return (CURL_SOCKET_BAD);
	/* Through the proxy the socket is the proxy's: egress.c checked
	 * the target's address before asking for it. */
	why = dl->proxied ? NULL :
	    wh_policy_addr_refused(&d.cfg.net, &a->addr, a->addrlen);
	if (why != NULL) {
		/* curl's error buffer will say "couldn't connect": keep ours. */
		dl->refused = why;
		return (CURL_SOCKET_BAD);
	}
	return (deliver_socket_open(a));
}

/* A socket for curl, watched by the loop (the exporter's too). */
static curl_socket_t
deliver_socket_open(struct curl_sockaddr *a)
{
	curl_socket_t	fd;

	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd != -1 && loop_adopt(fd) == -1) {
		(void)close(fd);
		return (CURL_SOCKET_BAD);
	}
	return (fd);
}

/* Every socket deliver_socket_open made is closed here: the loop
 * forgets it. */
static int
deliver_socket_close(void *clientp, curl_socket_t fd)
{
	(void)clientp;
	loop_forget(fd);
	return (close(fd));
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct delivery	*dl = arg;
	size_t		 len = size * n, keep;

	keep = dl->answer.len < ANSWER_KEEP ? ANSWER_KEEP - dl->answer.len : 0;
	if (keep > len)
		keep = len;
	if (keep > 0)
		(void)wh_buf_append(&dl->answer, p, keep);
	if (keep == len)
		return (len);
	/* More than we keep: the status is known, end the transfer here
	 * (curl reports a write error, which check_done() forgives). */
	dl->answer_cut = 1;
	return (0);
}

static void	finish(struct delivery *);

/* Local failures finish here, never inside the caller that started them. */
static void
on_early_timer(void *arg)
{
	struct delivery	*dl;

	while ((dl = TAILQ_FIRST(&failed_early)) != NULL) {
		TAILQ_REMOVE(&failed_early, dl, queue);
		finish(dl);
	}
}

/*
 * The delivery fails before any transfer, with why as its error and
 * reason as its webhooks_delivery_attempt_failures_total reason.
 */
static void
fail_early_as(struct delivery *dl, const char *why, const char *reason)
{
	(void)snprintf(dl->error, sizeof(dl->error), "%s", why);
	dl->fail_reason = reason;
	metrics_failure(dl->fail_reason);
	TAILQ_INSERT_TAIL(&failed_early, dl, queue);
	loop_timer_arm(&early_timer, 0);
}

static void
fail_early(struct delivery *dl, const char *why)
{
	fail_early_as(dl, why, "other");
}

/*
 * The receiver's Date header, as clock evidence: it has one-second
 * resolution (the receiver's clock read anywhere in [D, D + 1 s)), so
 * the skew kept is the middle of that second minus our clock now; the
 * answer's travel time is not taken off.
 */
static char	last_date[40];		/* the last Date parsed, its ms */
static size_t	last_date_len;
static int64_t	last_date_ms;

static void
peer_date(struct delivery *dl, const char *p, size_t len)
{
	int64_t	ms;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
	    p[len - 1] == ' '))
		len--;
	if (len == 0 || len >= sizeof(dl->peer_date))
		return;
	/* A receiver's Date is the same for a whole second of answers:
	 * parse it once (sscanf was ~1 % of a dispatcher's CPU). */
	if (len == last_date_len && memcmp(p, last_date, len) == 0)
		ms = last_date_ms;
	else if (wh_http_date_parse(p, len, &ms) == -1)
		return;
	else {
		memcpy(last_date, p, len);
		last_date_len = len;
		last_date_ms = ms;
	}
	memcpy(dl->peer_date, p, len);
	dl->peer_date[len] = '\0';
	dl->peer_skew_ms = ms + 500 - wh_now_ms();
}

/* Keep Retry-After for 429 and 503 answers, and the receiver's Date. */
static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct delivery	*dl = arg;
	size_t		 len = size * n;
	int64_t		 ms;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0 &&
	    wh_retry_after_parse(p + 12, len - 12, wh_now_ms(), &ms) == 0)
		dl->retry_after_ms = ms;
	if (len > 5 && strncasecmp(p, "Date:", 5) == 0)
		peer_date(dl, p + 5, len - 5);
	return (len);
}

/* WH_TLS_CA_FILE, else the bundle curl was built to use (may be none). */
static int
ca_file_find(void)
{
	CURL	*e;
	char	*def = NULL;

	if (d.cfg.tls_ca_file[0] != '\0')
		return ((ca_file = strdup(d.cfg.tls_ca_file)) == NULL ? -1 : 0);
	if ((e = curl_easy_init()) == NULL)
		return (-1);
	if (curl_easy_getinfo(e, CURLINFO_CAINFO, &def) == CURLE_OK &&
	    def != NULL && (ca_file = strdup(def)) == NULL) {
		curl_easy_cleanup(e);
		return (-1);
	}
	curl_easy_cleanup(e);
	return (0);
}

/* The trace exporter's transfers ride on ours (otlp.c). */
static const struct otlp_transport	otlp_rides = {
	.start = deliver_side_start,
	.socket_open = deliver_socket_open,
	.socket_close = deliver_socket_close,
};

int
deliver_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return (-1);
	if ((multi = curl_multi_init()) == NULL || ca_file_find() == -1 ||
	    egress_init(deliver_proxied) == -1)
		return (-1);
	otlp_transport(&otlp_rides);
	spare_cap = (size_t)d.cfg.concurrency;
	if ((spare = calloc(spare_cap, sizeof(*spare))) == NULL ||
	    (bodies = calloc(spare_cap, sizeof(*bodies))) == NULL)
		return (-1);
	loop_timer_init(&curl_timer, on_curl_timer, NULL);
	loop_timer_init(&early_timer, on_early_timer, NULL);
	if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb) ||
	    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
	    (long)d.cfg.concurrency))
		return (-1);
	return (0);
}

void
deliver_hooks(const struct deliver_hooks *h)
{
	hooks = h;
}

void
deliver_free(void)
{
	while (nspare > 0)
		curl_easy_cleanup(spare[--nspare].e);
	free(spare);
	spare = NULL;
	while (nbodies > 0)
		wh_buf_free(&bodies[--nbodies]);
	free(bodies);
	bodies = NULL;
	if (multi != NULL)
		(void)curl_multi_cleanup(multi);
	multi = NULL;
	free(ca_file);
	ca_file = NULL;
	curl_global_cleanup();
}

/* A finished delivery's body goes back to the pool, or is freed. */
static void
body_keep(struct wh_buf *b)
{
	if (b->data != NULL && nbodies < spare_cap &&
	    b->cap <= BODY_KEEP_MAX) {
		b->len = 0;
		bodies[nbodies++] = *b;
		wh_buf_init(b, 0);
	} else
		wh_buf_free(b);
}

/* What the transfer layer of dl holds (delivery_free, delivery.c). */
void
deliver_clear(struct delivery *dl)
{
	if (dl->easy != NULL) {
		(void)curl_multi_remove_handle(multi, dl->easy);
		curl_easy_cleanup(dl->easy);
	}
	if (dl->headers != NULL)
		explicit_bzero(dl->headers, dl->headers_size);
	free(dl->headers);
	dl->headers = NULL;
	curl_slist_free_all(dl->connect_to);
	body_keep(&dl->body);
	wh_buf_free(&dl->answer);
}

/*
 * {"event":{...,"payload":<raw>},"sent_at":"..."}; where sent_at's value
 * starts is kept (dl->sent_at_off) for restamp(). Written into a kept
 * buffer when there is one, with room made once for the whole body
 * (BODY_FIXED covers the envelope's fixed text and both times; a string
 * that needs escaping grows it as usual).
 */
#define BODY_FIXED	160
static int
build_body(struct delivery *dl, const char *sent_at)
{
	const struct wh_event	*ev = &dl->entry->task.event;
	struct wh_buf		*b = &dl->body;
	char			 created[WH_RFC3339_LEN + 1];

	if (wh_rfc3339_ms(ev->created_at, created) == -1)
		return (-1);
	if (b->data == NULL && nbodies > 0)
		*b = bodies[--nbodies];
	if (wh_buf_reserve(b, BODY_FIXED + ev->payload_len +
	    strlen(ev->event_sid) + strlen(ev->event_type) +
	    strlen(ev->company_sid)) == -1)
		return (-1);
	if (wh_buf_appendstr(b, "{\"event\":{\"event_sid\":") == -1 ||
	    wh_json_str(b, ev->event_sid, strlen(ev->event_sid)) == -1 ||
	    wh_buf_appendstr(b, ",\"event_type\":") == -1 ||
	    wh_json_str(b, ev->event_type, strlen(ev->event_type)) == -1 ||
	    wh_buf_appendstr(b, ",\"company_sid\":") == -1 ||
	    wh_json_str(b, ev->company_sid, strlen(ev->company_sid)) == -1 ||
	    wh_buf_appendf(b, ",\"created_at\":\"%s\",\"payload\":",
	    created) == -1 ||
	    wh_buf_append(b, ev->payload, ev->payload_len) == -1 ||
	    wh_buf_appendstr(b, "},\"sent_at\":\"") == -1)
		return (-1);
	dl->sent_at_off = b->len;
	if (wh_buf_appendf(b, "%s\"}", sent_at) == -1)
		return (-1);
	return (0);
}

static int
header_cmp(const void *a, const void *b)
{
	const struct wh_sign_header	*x = a, *y = b;

	return (strcmp(x->name, y->name));
}

/* One header line: "name: value", or name alone when value is NULL. */
struct hline {
	const char		*name, *value;
	size_t			 name_len, value_len;
	struct curl_slist	**node;		/* set to its node, if wanted */
};

#define HLINES_MAX	(WH_HEADERS_MAX + 9)	/* + ours: at most 9 */

/*
 * The request's header list in ONE allocation: the curl_slist nodes (a
 * public struct; curl only reads the list) followed by the lines' text.
 * It replaces a vsnprintf and two allocations per line in
 * curl_slist_append (~10 lines per delivery); the block is wiped when
 * freed (a custom header may carry the customer's credentials).
 */
static int
headers_pack(struct delivery *dl, struct hline *l, size_t n)
{
	struct curl_slist	*nodes;
	char			*p;
	size_t			 i, size;

	size = n * sizeof(*nodes);
	for (i = 0; i < n; i++) {
		if (l[i].value == NULL)
			l[i].value_len = 0;
		if (l[i].name_len > SIZE_MAX / 4 ||
		    l[i].value_len > SIZE_MAX / 4 ||
		    size > SIZE_MAX / 2)
			return (-1);
		size += l[i].name_len + (l[i].value != NULL ? 2 : 0) +
		    l[i].value_len + 1;
	}
	if ((nodes = malloc(size)) == NULL)
		return (-1);
	p = (char *)(nodes + n);
	for (i = 0; i < n; i++) {
		nodes[i].data = p;
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
		memcpy(p, l[i].name, l[i].name_len);
		p += l[i].name_len;
		if (l[i].value != NULL) {
			*p++ = ':';
			*p++ = ' ';
			memcpy(p, l[i].value, l[i].value_len);
			p += l[i].value_len;
		}
		*p++ = '\0';
		if (l[i].node != NULL)
			*l[i].node = &nodes[i];
	}
	dl->headers = nodes;
	dl->headers_size = size;
	return (0);
}

/* Add line name (a literal) with value (NUL-terminated or NULL). */
static void
hline_add(struct hline *l, size_t *n, const char *name, const char *value,
    struct curl_slist **node)
{
	l[*n].name = name;
	l[*n].name_len = strlen(name);
	l[*n].value = value;
	l[*n].value_len = value != NULL ? strlen(value) : 0;
	l[*n].node = node;
	(*n)++;
}

/*
 * Header i of the webhook goes out, unless it is a traceparent of its
 * own while propagate_trace sends the attempt's.
 */
static int
header_sent(const struct wh_webhook *w, size_t i)
{
	return (!w->propagate_trace ||
	    strcasecmp(w->headers[i].name, "traceparent") != 0);
}

/* The signed header list: Streem-Sent-At, then the marked ones by name. */
static size_t
signed_list(const struct delivery *dl, const char *sent_at,
    struct wh_sign_header *out)
{
	const struct wh_webhook	*w = dl->hook;
	size_t			 i, ns = 0;

	out[ns].name = "Streem-Sent-At";
	out[ns].name_len = 14;
	out[ns].value = sent_at;
	out[ns].value_len = strlen(sent_at);
	ns++;
	for (i = 0; i < w->nheaders && ns < SIGNED_MAX; i++) {
		if (!w->headers[i].sign || !header_sent(w, i))
			continue;
		out[ns].name = w->headers[i].name;
		out[ns].name_len = strlen(w->headers[i].name);
		out[ns].value = w->headers[i].value;
		out[ns].value_len = strlen(w->headers[i].value);
		ns++;
	}
	qsort(out + 1, ns - 1, sizeof(out[0]), header_cmp);
	return (ns);
}

/*
 * Both signatures, one per active key, of the body as it is now:
 * Streem-Signature (comma-joined hex) over the signed headers and the
 * body into sigs, webhook-signature (space-joined "v1,...") over
 * id.timestamp.body into sw; an ed25519 key signs only the latter
 * ("v1a,...", Streem's scheme is HMAC only).
 */
static int
sign_all(struct delivery *dl, const char *sent_at, int64_t now_ms,
    struct wh_buf *names, struct wh_buf *sigs, struct wh_buf *sw)
{
	struct wh_sign_header	 hdrs[SIGNED_MAX];
	const char		*id = dl->entry->task.event.event_sid;
	char			 hex[WH_SIG_HEX_LEN + 1];
	char			 v1[WH_SIG_SW_LEN + 1];
	char			 v1a[WH_SIG_V1A_LEN + 1];
	size_t			 i, ns;

	ns = signed_list(dl, sent_at, hdrs);
	for (i = 0; names != NULL && i < ns; i++) {
		if ((i > 0 && wh_buf_append(names, ":", 1) == -1) ||
		    wh_buf_append(names, hdrs[i].name, hdrs[i].name_len) == -1)
			return (-1);
	}
	for (i = 0; i < dl->nkeys; i++) {
		if (dl->keys[i]->alg == WH_KEY_ED25519) {
			if (wh_sign_ed25519(dl->keys[i]->secret, id,
			    now_ms / 1000, dl->body.data, dl->body.len,
			    v1a) == -1 || (sw->len > 0 &&
			    wh_buf_append(sw, " ", 1) == -1) ||
			    wh_buf_appendstr(sw, v1a) == -1)
				return (-1);
			continue;
		}
		if (wh_sign_streem(dl->keys[i]->secret, dl->keys[i]->secret_len,
		    hdrs, ns, dl->body.data, dl->body.len, hex) == -1 ||
		    wh_sign_standard(dl->keys[i]->secret,
		    dl->keys[i]->secret_len, id, now_ms / 1000, dl->body.data,
		    dl->body.len, v1) == -1)
			return (-1);
		if ((sigs->len > 0 && wh_buf_append(sigs, ",", 1) == -1) ||
		    (sw->len > 0 && wh_buf_append(sw, " ", 1) == -1) ||
		    wh_buf_appendstr(sigs, hex) == -1 ||
		    wh_buf_appendstr(sw, v1) == -1)
			return (-1);
	}
	if ((names != NULL && wh_buf_cstr(names) == -1) ||
	    wh_buf_cstr(sigs) == -1 || wh_buf_cstr(sw) == -1)
		return (-1);
	return (0);
}

static int
build_headers(struct delivery *dl, const char *sent_at, int64_t now_ms)
{
	struct hline		 l[HLINES_MAX];
	struct wh_buf		 names, sigs, sw;
	const struct wh_webhook	*w = dl->hook;
	char			 ts[24];
	char			 tp[WH_TRACEPARENT_LEN + 1];
	size_t			 i, n = 0;
	int			 rc = -1;

	wh_buf_init(&names, 0);
	wh_buf_init(&sigs, 0);
	wh_buf_init(&sw, 0);
	if (w->nheaders > WH_HEADERS_MAX)
		goto out;
	for (i = 0; i < w->nheaders; i++) {
		if (header_sent(w, i))
			hline_add(l, &n, w->headers[i].name,
			    w->headers[i].value, NULL);
	}
	dl->own_lines = n;
	if (sign_all(dl, sent_at, now_ms, &names, &sigs, &sw) == -1)
		goto out;
	/* propagate_trace: the receiver's work joins the event's trace. */
	if (w->propagate_trace && otlp_traceparent(dl, tp) == 0)
		hline_add(l, &n, "traceparent", tp, NULL);
	(void)snprintf(ts, sizeof(ts), "%lld", (long long)(now_ms / 1000));
	hline_add(l, &n, "Content-Type: application/json", NULL, NULL);
	hline_add(l, &n, "Expect:", NULL, NULL);
	hline_add(l, &n, "Streem-Sent-At", sent_at,
	    (struct curl_slist **)&dl->h_sent_at);
	hline_add(l, &n, "Streem-Signature-Headers", names.data, NULL);
	hline_add(l, &n, "Streem-Signature", sigs.data,
	    (struct curl_slist **)&dl->h_sig);
	hline_add(l, &n, "webhook-id", dl->entry->task.event.event_sid, NULL);
	hline_add(l, &n, "webhook-timestamp", ts,
	    (struct curl_slist **)&dl->h_ts);
	hline_add(l, &n, "webhook-signature", sw.data,
	    (struct curl_slist **)&dl->h_sw);
	if (headers_pack(dl, l, n) == -1)
		goto out;
	dl->stamped_ms = now_ms;
	rc = 0;
out:
	wh_buf_free(&names);
	wh_buf_free(&sigs);
	wh_buf_free(&sw);
	return (rc);
}

/* Overwrite the value after "Name: " in a header line, same length only. */
static int
header_set(void *node, size_t name_len, const char *value, size_t len)
{
	struct curl_slist	*n = node;

	if (n == NULL || strlen(n->data) != name_len + 2 + len)
		return (-1);
	memcpy(n->data + name_len + 2, value, len);
	return (0);
}

/*
 * The connection is ready and the request about to be written (curl's
 * pre-request callback): if the stamp is older than RESTAMP_MS (a TLS
 * handshake, a busy loop round, a slow connect), sent_at and both
 * signatures are made again now, in place (every stamped field has a
 * fixed length), so receivers checking Streem-Sent-At and
 * webhook-timestamp against their clock see the time of sending.
 */
static int
restamp(struct delivery *dl)
{
	struct wh_buf	sigs, sw;
	char		sent_at[WH_RFC3339_LEN + 1], ts[24];
	int64_t		now = wh_now_ms();
	int		rc = -1;

	if (now - dl->stamped_ms < RESTAMP_MS)
		return (0);
	if (wh_rfc3339_ms(now, sent_at) == -1 ||
	    dl->sent_at_off + strlen(sent_at) > dl->body.len)
		return (-1);
	memcpy(dl->body.data + dl->sent_at_off, sent_at, strlen(sent_at));
	wh_buf_init(&sigs, 0);
	wh_buf_init(&sw, 0);
	(void)snprintf(ts, sizeof(ts), "%lld", (long long)(now / 1000));
	if (sign_all(dl, sent_at, now, NULL, &sigs, &sw) == 0 &&
	    header_set(dl->h_sent_at, 14, sent_at, strlen(sent_at)) == 0 &&
	    header_set(dl->h_sig, 16, sigs.data, sigs.len) == 0 &&
	    header_set(dl->h_ts, 17, ts, strlen(ts)) == 0 &&
	    header_set(dl->h_sw, 17, sw.data, sw.len) == 0) {
		dl->stamped_ms = now;
		rc = 0;
	}
	wh_buf_free(&sigs);
	wh_buf_free(&sw);
	return (rc);
}

static int
prereq_cb(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct delivery	*dl = arg;

	if (restamp(dl) == -1) {
		(void)snprintf(dl->error, sizeof(dl->error), "could not sign "
		    "the request again at sending");
		return (CURL_PREREQFUNC_ABORT);
	}
	return (CURL_PREREQFUNC_OK);
}

/*
 * A transfer is over: keep its handle for the next one, or free it. A
 * handle whose transfer set no option beyond those every delivery sets
 * (a POST, no TLS material of the webhook's, no proxy) is kept as it is:
 * curl_easy_reset and setting the constant options again cost more than
 * the rest of the handle's setup. Any other is reset.
 */
static void
easy_release(CURL *e, const struct delivery *dl)
{
	int	plain;

	(void)curl_multi_remove_handle(multi, e);
	plain = dl != NULL && dl->hook->method == WH_METHOD_POST &&
	    dl->hook->tls_cert == NULL && dl->hook->tls_ca == NULL &&
	    !dl->proxied;
	if (nspare < spare_cap) {
		if (!plain)
			curl_easy_reset(e);
		spare[nspare].e = e;
		spare[nspare++].ready = plain;
	} else
		curl_easy_cleanup(e);
}

/*
 * The webhook's own TLS material, from memory (no key on disk). curl
 * copies each blob, and reuses a connection only for a transfer with the
 * same client certificate and CA blobs (its SSL config match compares
 * both), so webhooks with different ones never share a connection.
 * With OpenSSL, curl 7.88 loads CAINFO_BLOB instead of CAINFO (verified:
 * a webhook with a private CA could not reach a receiver the system store
 * vouches for), so ca_add_default() loads the dispatcher's CAs into the
 * same store: the private CA adds to them, it does not replace them.
 */
/*
 * curl's SSL_CTX callback for a webhook with a private CA: curl has put
 * the blob in the context's store (a store of this connection's own:
 * curl shares its cached store only when no blob is set); the CA file
 * the others use is added to it.
 */
static CURLcode
ca_add_default(CURL *e, void *sslctx, void *arg)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(sslctx);

	(void)e;
	(void)arg;
	if (ca_file == NULL)
		return (CURLE_OK);
	if (st == NULL || X509_STORE_load_file(st, ca_file) != 1)
		return (CURLE_SSL_CACERT_BADFILE);
	return (CURLE_OK);
}

static int
setup_tls(CURL *e, const struct wh_webhook *w)
{
	struct curl_blob	 cert, key, ca;
	int			 bad = 0;

	if (w->tls_cert != NULL && w->tls_key != NULL) {
		cert.data = w->tls_cert;
		cert.len = strlen(w->tls_cert);
		cert.flags = CURL_BLOB_COPY;
		key.data = w->tls_key;
		key.len = strlen(w->tls_key);
		key.flags = CURL_BLOB_COPY;
		bad |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
		bad |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		bad |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
		bad |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (w->tls_ca != NULL) {
		ca.data = w->tls_ca;
		ca.len = strlen(w->tls_ca);
		ca.flags = CURL_BLOB_COPY;
		bad |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
		bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION,
		    ca_add_default);
	}
	return (bad);
}

/* The options every delivery's handle has, whatever its webhook. */
static int
easy_constant(CURL *e)
{
	int	bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION,
	    deliver_socket_close);
	bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	bad |= curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/*
	 * Connect directly, whatever http_proxy/https_proxy/all_proxy say:
	 * the address policy checks the address connected to, which through
	 * a proxy would be the proxy's.
	 */
	bad |= curl_easy_setopt(e, CURLOPT_PROXY, "");
	/* TLS is always verified; WH_TLS_CA_FILE replaces the system CAs. */
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (d.cfg.tls_ca_file[0] != '\0')
		bad |= curl_easy_setopt(e, CURLOPT_CAINFO, d.cfg.tls_ca_file);
	return (bad);
}

static int
setup_easy(struct delivery *dl)
{
	CURL	*e;
	int	 bad = 0;

	if (nspare > 0) {
		nspare--;
		e = spare[nspare].e;
		if (!spare[nspare].ready)
			bad |= easy_constant(e);
	} else if ((e = curl_easy_init()) == NULL)
		return (-1);
	else
		bad |= easy_constant(e);
	dl->easy = e;
	bad |= curl_easy_setopt(e, CURLOPT_URL, dl->hook->url);
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)dl->hook->timeout_ms);
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)dl->hook->timeout_ms);
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, dl->headers);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, dl->body.data);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)dl->body.len);
	if (dl->hook->method != WH_METHOD_POST)
		bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
		    wh_method_name(dl->hook->method));
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, dl);
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, dl);
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, dl->error);
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, dl);
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, dl);
	bad |= curl_easy_setopt(e, CURLOPT_PREREQDATA, dl);
	bad |= setup_tls(e, dl->hook);
	return (bad ? -1 : 0);
}

/* Resolve dl if its entry is still ours; hold or drop it otherwise. */
static void
resolve_owned(struct delivery *dl)
{
	switch (entry_owned(dl->entry)) {
	case OWN_LOST:
		hooks->dropped(dl);
		break;
	case OWN_UNSURE:
		dl->held = HELD_DONE;
		TAILQ_INSERT_TAIL(&held, dl, queue);
		break;
	default:
		hooks->attempted(dl);
	}
}

/* The transfer ended (or never began): free its slots, then resolve. */
static void
finish(struct delivery *dl)
{
	d.inflight--;
	dl->latency_ms = dl->started_mono ? wh_mono_ms() - dl->started_mono : 0;
	if (dl->started_mono != 0) {
		metrics_attempt(dl->latency_ms);
		otlp_attempt(dl, dl->error[0] != '\0' ? dl->fail_reason : NULL);
	}
	if (dl->easy != NULL) {
		easy_release(dl->easy, dl);
		dl->easy = NULL;
	}
	hooks->release(dl);
	resolve_owned(dl);
	hooks->start_ready();
}

/*
 * A refresh answered (upkeep.c): held deliveries whose entry is confirmed
 * go on, those of a lost entry are dropped, the others wait for the next.
 */
void
deliver_recheck(void)
{
	struct delivery	*dl, *next;
	int		 own, what;

	for (dl = TAILQ_FIRST(&held); dl != NULL; dl = next) {
		next = TAILQ_NEXT(dl, queue);
		if ((own = entry_owned(dl->entry)) == OWN_UNSURE)
			continue;
		TAILQ_REMOVE(&held, dl, queue);
		what = dl->held;
		dl->held = 0;
		if (what == HELD_DONE) {
			resolve_owned(dl);
			continue;
		}
		if (own == OWN_LOST) {	/* finish() frees its slots */
			fail_early(dl, "another dispatcher took the entry over");
			continue;
		}
		d.inflight--;		/* deliver_start() counts it again */
		deliver_start(dl);
	}
	hooks->start_ready();
}


/*
 * The record as the api would have accepted it: whatever wrote it (a
 * hand edit, a bug), no CR or LF ever reaches the request line or the
 * headers, and only http(s) URLs are fetched.
 */
static const char *
hook_unsafe(const struct wh_webhook *w)
{
	size_t	i;

	if (w->url == NULL || wh_validate_url(w->url, strlen(w->url)) != NULL)
		return ("the webhook's url is not valid");
	for (i = 0; i < w->nheaders; i++) {
		if (wh_validate_header_name(w->headers[i].name,
		    strlen(w->headers[i].name)) != NULL ||
		    wh_validate_header_value(w->headers[i].value,
		    strlen(w->headers[i].value)) != NULL)
			return ("a header of the webhook is not valid");
	}
	return (NULL);
}

/* Streem-Signature needs an HMAC key: ed25519 ones sign only v1a. */
static int
has_hmac_key(const struct delivery *dl)
{
	size_t	i;

	for (i = 0; i < dl->nkeys; i++)
		if (dl->keys[i]->alg == WH_KEY_HMAC)
			return (1);
	return (0);
}

/*
 * Start one delivery now (the endpoint layer counted it in flight). The
 * request is built here so its times are those of the sending.
 */
void
deliver_start(struct delivery *dl)
{
	const char	*why;
	char		 sent_at[WH_RFC3339_LEN + 1];
	int64_t		 now;

	d.inflight++;
	switch (entry_owned(dl->entry)) {
	case OWN_LOST:
		fail_early(dl, "another dispatcher took the entry over");
		return;
	case OWN_UNSURE:
		dl->held = HELD_START;
		TAILQ_INSERT_TAIL(&held, dl, queue);
		return;
	}
	/*
	 * A ~test that waited in its endpoint's queue past its start
	 * deadline (the slots were held by slow transfers) would end after
	 * the api stopped waiting for it (a 504): its outcome says so now.
	 */
	if (entry_test_expired(dl->entry)) {
		fail_early(dl, "not sent: the endpoint's transfers in flight "
		    "left no room before the test's start deadline; try again "
		    "later");
		return;
	}
	now = wh_now_ms();
	if (!has_hmac_key(dl)) {
		fail_early(dl, "the webhook has no active signing key");
		return;
	}
	if ((why = hook_unsafe(dl->hook)) != NULL) {
		fail_early(dl, why);
		return;
	}
	wh_buf_init(&dl->answer, ANSWER_KEEP);	/* a cap: grows as needed */
	if (wh_rfc3339_ms(now, sent_at) == -1 ||
	    build_body(dl, sent_at) == -1 ||
	    build_headers(dl, sent_at, now) == -1 ||
	    wh_buf_cstr(&dl->body) == -1 || setup_easy(dl) == -1) {
		fail_early(dl, "could not build the request");
		return;
	}
	dl->started_mono = wh_mono_ms();
	if (egress_proxied(dl->hook->url)) {
		dl->proxied = 1;
		if (egress_resolve(dl) == -1)
			fail_early(dl, "could not start resolving the target");
		return;
	}
	add_transfer(dl);
}

/* Hand the prepared transfer to curl. */
static void
add_transfer(struct delivery *dl)
{
	if (curl_multi_add_handle(multi, dl->easy) != CURLM_OK) {
		easy_release(dl->easy, dl);
		dl->easy = NULL;
		fail_early(dl, "curl refused the transfer");
	}
}

/*
 * Why a transfer failed, as webhooks_delivery_attempt_failures_total's
 * reason: a small fixed set, whatever curl or the receiver said.
 */
static const char *
failure_reason(CURLcode rc, const struct delivery *dl)
{
	if (dl->refused != NULL)
		return ("policy");
	/* proxy_blame() said the proxy failed before its tunnel was up. */
	if (dl->proxied && strncmp(dl->error, "proxy:", 6) == 0)
		return ("proxy");
	switch (rc) {
	case CURLE_OK:
	case CURLE_WRITE_ERROR:
		if (dl->status >= 400 && dl->status <= 499)
			return ("http_4xx");
		if (dl->status >= 500 && dl->status <= 599)
			return ("http_5xx");
		return ("other");
	case CURLE_OPERATION_TIMEDOUT:
		return ("timeout");
	case CURLE_COULDNT_RESOLVE_HOST:
		return ("dns");
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_PROXY:
		return ("proxy");
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return ("connect");
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return ("tls");
	default:
		return ("other");
	}
}

/* The trace exporter's transfer (otlp.c) ended: hand it back. */
static void
side_done(CURLMsg *m)
{
	CURL		*e = m->easy_handle;
	CURLcode	 result = m->data.result;
	long		 status = 0;

	(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	(void)curl_multi_remove_handle(multi, e);
	otlp_done(e, result, status);
}

/* A transfer of the trace exporter's, on the deliveries' multi. */
static int
deliver_side_start(void *e)
{
	return (curl_multi_add_handle(multi, e) == CURLM_OK ? 0 : -1);
}

/*
 * egress.c resolved and checked the target: ask WH_EGRESS_PROXY for that
 * address (a CONNECT tunnel for http too, so the proxy never picks the
 * address itself); or the delivery fails before the proxy is asked.
 */
static void
deliver_proxied(struct delivery *dl, const char *connect_to, const char *why,
    const char *reason)
{
	struct curl_slist	*l;
	CURL			*e = dl->easy;
	int			 bad = 0;

	if (why != NULL) {
		fail_early_as(dl, why, reason);
		return;
	}
	if ((l = curl_slist_append(NULL, connect_to)) == NULL) {
		fail_early(dl, "could not build the request");
		return;
	}
	dl->connect_to = l;
	bad |= curl_easy_setopt(e, CURLOPT_PROXY, d.cfg.egress_proxy);
	bad |= curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, l);
	bad |= curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	if (bad) {
		fail_early(dl, "could not build the request");
		return;
	}
	add_transfer(dl);
}

/*
 * "HTTP <status>"; a 401 or 403 from a receiver whose clock is surely more
 * than 500 ms from ours (the whole second its Date may stand for is
 * outside the window) says so: receivers checking Streem-Sent-At or
 * webhook-timestamp within 500 ms refuse our stamps for that reason.
 */
static void
http_error(struct delivery *dl)
{
	int64_t	lo = dl->peer_skew_ms - 500, hi = dl->peer_skew_ms + 500;

	if ((dl->status == 401 || dl->status == 403) &&
	    dl->peer_date[0] != '\0' && (lo > 500 || hi < -500))
		(void)snprintf(dl->error, sizeof(dl->error), "HTTP %ld; the "
		    "receiver's clock is %lld ms %s ours (its Date: %s), more "
		    "than the 500 ms a receiver may allow for Streem-Sent-At",
		    dl->status, (long long)(lo > 500 ? lo : -hi),
		    lo > 500 ? "ahead of" : "behind", dl->peer_date);
	else
		(void)snprintf(dl->error, sizeof(dl->error), "HTTP %ld",
		    dl->status);
}

/*
 * A proxied transfer that failed before the proxy's tunnel was up (no
 * connection to the proxy, or its CONNECT answer was not 2xx) failed at
 * the proxy: its error says so first ("proxy: ...").
 */
static void
proxy_blame(struct delivery *dl, CURL *e)
{
	char	why[sizeof(dl->error)];
	long	code = 0;

	if (!dl->proxied || (curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE,
	    &code) == CURLE_OK && code >= 200 && code <= 299))
		return;
	(void)snprintf(why, sizeof(why), "%s", dl->error);
	if (code > 0)
		(void)snprintf(dl->error, sizeof(dl->error), "proxy: CONNECT "
		    "answered %ld (%.200s)", code, why);
	else
		(void)snprintf(dl->error, sizeof(dl->error), "proxy: %.200s",
		    why);
}

static void
check_done(void)
{
	CURLMsg		*m;
	struct delivery	*dl;
	int		 left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&dl) != CURLE_OK || dl == NULL)
			continue;
		if (otlp_owns(dl)) {
			side_done(m);
			continue;
		}
		dl->status = 0;
		(void)curl_easy_getinfo(m->easy_handle,
		    CURLINFO_RESPONSE_CODE, &dl->status);
		if (m->data.result != CURLE_OK &&
		    !(m->data.result == CURLE_WRITE_ERROR && dl->answer_cut &&
		    dl->status > 0)) {
			dl->status = 0;
			if (dl->refused != NULL)
				(void)snprintf(dl->error, sizeof(dl->error),
				    "target refused: %s (WH_ALLOW_PRIVATE_TARGETS, "
				    "WH_ALLOW_CIDRS)", dl->refused);
			else if (dl->error[0] == '\0')
				(void)snprintf(dl->error, sizeof(dl->error),
				    "%s", curl_easy_strerror(m->data.result));
			proxy_blame(dl, m->easy_handle);
		} else if (dl->status < 200 || dl->status > 299) {
			http_error(dl);
		} else
			dl->error[0] = '\0';
		if (dl->error[0] != '\0') {
			dl->fail_reason = failure_reason(m->data.result, dl);
			metrics_failure(dl->fail_reason);
		}
		finish(dl);
	}
}

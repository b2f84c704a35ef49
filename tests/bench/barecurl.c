/*
 * barecurl.c: the "bare libcurl" ceiling of make bench.
 *
 *   barecurl URL CONCURRENCY COUNT REQUEST_FILE
 *
 * POSTs one request COUNT times to URL with libcurl's multi interface,
 * CONCURRENCY transfers in flight, driven the way the dispatcher drives
 * libcurl (epoll, curl_multi_socket_action, the socket and timer
 * callbacks), and nothing else: no Redis, no signing, no request built per
 * transfer. Each easy handle is set up once and added again as soon as
 * its transfer ends, which is the least work libcurl can be asked to do
 * per request. What a dispatcher spends per delivery beyond this program's
 * CPU per request is its own work.
 *
 * REQUEST_FILE is the request a dispatcher really sent (captured by the
 * bench, lib/request.mjs): header lines "Name: value", an empty line, then
 * the body. Host and Content-Length are left to curl, as in the
 * dispatcher; "Expect:" is added, as the dispatcher does (curl would
 * otherwise wait for a 100-continue on a body over 1 KiB).
 *
 * Prints one JSON line at the end: requests done, seconds from the first
 * transfer added to the last one done, and the CPU time of the process.
 * Exits non-zero if any transfer failed or answered outside 2xx.
 */
#include <sys/epoll.h>
#include <sys/resource.h>

#include <errno.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define EVENTS_MAX	256

static int	 ep = -1;
static long	 timeout_ms = -1;	/* curl's next wake-up; -1: none */

static void
die(const char *what)
{
	fprintf(stderr, "barecurl: %s\n", what);
	exit(1);
}

/* curl says which events a socket needs: mirror them in epoll. */
static int
socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct epoll_event	ev;

	(void)e;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
		(void)curl_multi_assign(userp, s, NULL);
		return (0);
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev.events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev.events |= EPOLLOUT;
	if (sockp == NULL) {
		if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == -1)
			return (-1);
		/* Any non-NULL pointer: "this socket is in epoll". */
		(void)curl_multi_assign(userp, s, &ep);
		return (0);
	}
	return (epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == -1 ? -1 : 0);
}

static int
timer_cb(CURLM *m, long ms, void *userp)
{
	(void)m;
	(void)userp;
	timeout_ms = ms;
	return (0);
}

static size_t
discard_cb(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return (size * n);
}

static double
mono_seconds(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* The whole file, NUL-terminated; its length in *len. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		die("cannot open the request file");
	*len = 0;
	for (;;) {
		if (cap - *len < 4096) {
			cap = cap * 2 + 8192;
			if ((buf = realloc(buf, cap)) == NULL)
				die("out of memory");
		}
		n = fread(buf + *len, 1, cap - *len - 1, f);
		if (n == 0)
			break;
		*len += n;
	}
	(void)fclose(f);
	buf[*len] = '\0';
	return (buf);
}

/*
 * Split the request file into a header list (without Host and
 * Content-Length, plus "Expect:") and the body, which stays in place.
 */
static struct curl_slist *
parse_request(char *text, size_t len, char **body, size_t *body_len)
{
	struct curl_slist	*list = NULL, *n;
	char			*line = text, *end;

	while ((end = strchr(line, '\n')) != NULL && end != line) {
		*end = '\0';
		if (strncasecmp(line, "Host:", 5) != 0 &&
		    strncasecmp(line, "Content-Length:", 15) != 0) {
			if ((n = curl_slist_append(list, line)) == NULL)
				die("out of memory");
			list = n;
		}
		line = end + 1;
	}
	if (end == NULL)
		die("the request file has no empty line before the body");
	if ((n = curl_slist_append(list, "Expect:")) == NULL)
		die("out of memory");
	*body = end + 1;
	*body_len = len - (size_t)(*body - text);
	return (n);
}

static CURL *
make_easy(const char *url, struct curl_slist *headers, const char *body,
    size_t body_len)
{
	CURL	*e;
	int	 bad = 0;

	if ((e = curl_easy_init()) == NULL)
		die("curl_easy_init");
	bad |= curl_easy_setopt(e, CURLOPT_URL, url);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_PROXY, "");
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body_len);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	if (bad)
		die("curl_easy_setopt");
	return (e);
}

/* Handle finished transfers; start the next ones. Returns how many ended. */
static long
collect(CURLM *multi, long *started, long count, long *failed)
{
	CURLMsg	*m;
	CURL	*e;
	long	 status, done = 0;
	int	 left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		status = 0;
		(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		if (m->data.result != CURLE_OK || status < 200 || status > 299)
			(*failed)++;
		done++;
		(void)curl_multi_remove_handle(multi, e);
		if (*started < count) {
			(*started)++;
			if (curl_multi_add_handle(multi, e) != CURLM_OK)
				die("curl_multi_add_handle");
		}
	}
	return (done);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[EVENTS_MAX];
	struct curl_slist	*headers;
	struct rusage		 ru;
	CURLM			*multi;
	CURL			**easy;
	char			*text, *body;
	size_t			 len, body_len;
	long			 conc, count, started = 0, done = 0, failed = 0;
	long			 i;
	double			 t0, t1;
	int			 n, k, flags, running;

	if (argc != 5)
		die("usage: barecurl URL CONCURRENCY COUNT REQUEST_FILE");
	conc = strtol(argv[2], NULL, 10);
	count = strtol(argv[3], NULL, 10);
	if (conc < 1 || conc > 100000 || count < 1)
		die("bad CONCURRENCY or COUNT");
	if (conc > count)
		conc = count;
	text = slurp(argv[4], &len);
	headers = parse_request(text, len, &body, &body_len);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL)
		die("curl init");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb) ||
	    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, multi) ||
	    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, conc))
		die("curl_multi_setopt");
	if ((easy = calloc((size_t)conc, sizeof(*easy))) == NULL)
		die("out of memory");

	t0 = mono_seconds();
	for (i = 0; i < conc; i++) {
		easy[i] = make_easy(argv[1], headers, body, body_len);
		started++;
		if (curl_multi_add_handle(multi, easy[i]) != CURLM_OK)
			die("curl_multi_add_handle");
	}
	while (done < count) {
		n = epoll_wait(ep, evs, EVENTS_MAX,
		    timeout_ms < 0 ? 1000 : (int)timeout_ms);
		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		if (n <= 0) {
			timeout_ms = -1;
			(void)curl_multi_socket_action(multi,
			    CURL_SOCKET_TIMEOUT, 0, &running);
		}
		for (k = 0; k < n; k++) {
			flags = 0;
			if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				flags |= CURL_CSELECT_IN;
			if (evs[k].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			(void)curl_multi_socket_action(multi, evs[k].data.fd,
			    flags, &running);
		}
		done += collect(multi, &started, count, &failed);
	}
	t1 = mono_seconds();
	if (getrusage(RUSAGE_SELF, &ru) == -1)
		die("getrusage");
	printf("{\"requests\":%ld,\"failed\":%ld,\"seconds\":%.6f,"
	    "\"cpu_seconds\":%.6f}\n", done, failed, t1 - t0,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	for (i = 0; i < conc; i++) {
		(void)curl_multi_remove_handle(multi, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	free(easy);
	curl_slist_free_all(headers);
	(void)curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(text);
	return (failed > 0 ? 2 : 0);
}

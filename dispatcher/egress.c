/*
 * egress.c: deliveries through WH_EGRESS_PROXY. The proxy would resolve
 * the target itself, so a name resolving (for it) to a private address
 * would slip past the address policy; instead the dispatcher resolves the
 * name, keeps the first address the policy allows (refusing the delivery,
 * before the proxy is asked, when there is none) and asks the proxy for
 * that address (curl's CONNECT_TO; the Host header and TLS SNI keep the
 * name). getaddrinfo() blocks, so each lookup runs on a short-lived
 * thread that hands its result back to the loop through a pipe.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dispatch.h"
#include "loop.h"
#include "netpolicy.h"
#include "validate.h"

struct lookup {
	struct delivery	*dl;
	char		 host[256];
	int		 port;
	char		 target[INET6_ADDRSTRLEN + 2];	/* "1.2.3.4", "[::1]" */
	const char	*refused;	/* the policy's reason for the last */
	int		 gai;		/* getaddrinfo's error, 0 */
};

/* The transfer layer (deliver.c), told where a target resolved to. */
static egress_resolved_fn	*resolved_cb;

static int	pipefd[2] = { -1, -1 };

/* Is host one of WH_EGRESS_NO_PROXY's names, or under one of its domains? */
static int
no_proxy(const char *host, size_t hlen)
{
	const char	*p = d.cfg.egress_no_proxy, *e;
	size_t		 n;

	while (*p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		for (e = p; *e != '\0' && *e != ',' && *e != ' '; e++)
			;
		n = (size_t)(e - p);
		if (n > 0 && *p == '.') {
			p++;
			n--;
		}
		if ((n == 1 && *p == '*') || (n > 0 && n <= hlen &&
		    strncasecmp(host + hlen - n, p, n) == 0 &&
		    (n == hlen || host[hlen - n - 1] == '.')))
			return (1);
		p = e;
	}
	return (0);
}

int
egress_proxied(const char *url)
{
	const char	*host;
	size_t		 hlen;

	if (d.cfg.egress_proxy[0] == '\0')
		return (0);
	if (wh_url_host(url, strlen(url), &host, &hlen) == -1)
		return (0);
	return (!no_proxy(host, hlen));
}

/* The lookup thread: resolve, keep the first allowed address, report. */
static void *
lookup_run(void *arg)
{
	struct lookup		*lk = arg;
	struct addrinfo		 hints, *res = NULL, *ai;
	const char		*why;
	void			*a;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	lk->gai = getaddrinfo(lk->host, NULL, &hints, &res);
	for (ai = res; lk->gai == 0 && ai != NULL; ai = ai->ai_next) {
		why = wh_policy_addr_refused(&d.cfg.net, ai->ai_addr,
		    ai->ai_addrlen);
		if (why != NULL) {
			lk->refused = why;
			continue;
		}
		if (ai->ai_family == AF_INET) {
			a = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
			(void)inet_ntop(AF_INET, a, lk->target,
			    sizeof(lk->target));
		} else if (ai->ai_family == AF_INET6) {
			lk->target[0] = '[';
			a = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			(void)inet_ntop(AF_INET6, a, lk->target + 1,
			    sizeof(lk->target) - 2);
			(void)strcat(lk->target, "]");
		} else
			continue;
		break;
	}
	if (res != NULL)
		freeaddrinfo(res);
	while (write(pipefd[1], &lk, sizeof(lk)) == -1 && errno == EINTR)
		;
	return (NULL);
}

/* A lookup is back: the delivery goes on, or fails with why. */
static void
on_lookup(int fd, int what, void *arg)
{
	struct lookup	*lk;
	char		 connect_to[sizeof(lk->target) + 16], why[400];

	while (read(fd, &lk, sizeof(lk)) == (ssize_t)sizeof(lk)) {
		if (lk->target[0] != '\0') {
			(void)snprintf(connect_to, sizeof(connect_to),
			    "::%s:%d", lk->target, lk->port);
			resolved_cb(lk->dl, connect_to, NULL, NULL);
		} else {
			if (lk->gai != 0)
				(void)snprintf(why, sizeof(why), "could not "
				    "resolve %s: %s", lk->host,
				    gai_strerror(lk->gai));
			else
				(void)snprintf(why, sizeof(why), "target "
				    "refused: %s (WH_ALLOW_PRIVATE_TARGETS, "
				    "WH_ALLOW_CIDRS)", lk->refused ?
				    lk->refused : "no usable address");
			resolved_cb(lk->dl, NULL, why,
			    lk->gai != 0 ? "dns" : "policy");
		}
		free(lk);
	}
}

int
egress_resolve(struct delivery *dl)
{
	struct lookup	*lk;
	pthread_attr_t	 attr;
	pthread_t	 t;
	const char	*host;
	size_t		 hlen;
	int		 rc;

	if ((lk = calloc(1, sizeof(*lk))) == NULL ||
	    wh_url_host(dl->hook->url, strlen(dl->hook->url), &host,
	    &hlen) == -1 || hlen >= sizeof(lk->host) ||
	    (lk->port = wh_url_port(dl->hook->url, strlen(dl->hook->url))) < 0) {
		free(lk);
		return (-1);
	}
	memcpy(lk->host, host, hlen);
	lk->dl = dl;
	if (pthread_attr_init(&attr) != 0) {
		free(lk);
		return (-1);
	}
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, lookup_run, lk);
	(void)pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(lk);
		return (-1);
	}
	return (0);
}

int
egress_init(egress_resolved_fn *resolved)
{
	resolved_cb = resolved;
	if (d.cfg.egress_proxy[0] == '\0')
		return (0);
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-1);
	/* A blocking write end: a lookup thread waits rather than lose it. */
	if (fcntl(pipefd[1], F_SETFL, 0) == -1)
		return (-1);
	return (loop_watch(pipefd[0], LOOP_READ, on_lookup, NULL));
}

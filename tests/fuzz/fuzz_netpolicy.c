/*
 * fuzz_netpolicy.c: the SSRF address policy of common/netpolicy.c on any
 * bytes: URL hosts judged up front (host_refused), addresses
 * judged at connect time (wh_addr_refused) and WH_ALLOW_CIDRS lists.
 *
 * Checks, beyond memory safety:
 * - a host is judged as the address the system's resolver reads it as
 *   (getaddrinfo with AI_NUMERICHOST, which takes "0x7f.1", "2130706433",
 *   octal and IPv6 forms; a host with a ':' is IPv6 or nothing): the same
 *   verdict as for that address at connect time; a host it does not read
 *   as an address is not refused for its range;
 * - with private targets allowed nothing is refused for its range; under
 *   an allow list (WH_ALLOW_CIDRS) a host gets its address's verdict and
 *   an address in the list is allowed;
 * - an IPv4 address carried in IPv6 (mapped, NAT64, 6to4) gets the
 *   verdict of the IPv4 address, named as such;
 * - what IPv6 allows is global unicast (2000::/3);
 * - an allow list parsed, printed again and parsed once more is the same
 *   list, and each range contains its own network address (also in its
 *   IPv4-mapped form).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include "buf.h"
#include "netpolicy.h"

#include "fuzz.h"

/* URL hosts are judged as the api judges them (wh_policy_host_refused):
 * under the default policy, or with WH_ALLOW_PRIVATE_TARGETS. */
static const struct wh_netpolicy	no_private;
static const struct wh_netpolicy	any_private = { .allow_private = 1 };

static int
is_malformed(const char *why)
{
	return (strncmp(why, "malformed", 9) == 0);
}

/* The address a resolver reads host as, if it reads one. */
static int
numeric_host(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo	 hints, *res;
	char		*h, *pct;
	size_t		 n;

	if ((h = strdup(host)) == NULL)
		return (0);
	n = strlen(h);
	if (n > 1 && h[n - 1] == '.')
		h[n - 1] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	if (strchr(h, ':') != NULL) {
		hints.ai_family = AF_INET6;
		if ((pct = strchr(h, '%')) != NULL)
			*pct = '\0';	/* the zone does not change it */
	}
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(h, NULL, &hints, &res) != 0) {
		free(h);
		return (0);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	free(h);
	return (1);
}

/*
 * Under an allow list (WH_ALLOW_CIDRS), a host literal gets the verdict
 * of its address at connect time, and an address the list holds is
 * allowed.
 */
static void
check_policy(const char *host, size_t len, const struct sockaddr *sa,
    socklen_t salen)
{
	static struct wh_netpolicy	 p;
	static int			 ready;
	const char			*up_front, *at_connect;
	char				 err[128];

	if (!ready) {
		FUZZ_CHECK(wh_cidrs_parse("10.0.0.0/8,127.0.0.0/16,fd00::/8,"
		    "::ffff:192.168.0.0/112,64:ff9b::a9fe:0/112", p.cidrs,
		    WH_CIDR_MAX, &p.ncidrs, err, sizeof(err)) == 0);
		ready = 1;
	}
	up_front = wh_policy_host_refused(&p, host, len);
	at_connect = wh_policy_addr_refused(&p, sa, salen);
	FUZZ_CHECK(up_front == at_connect || (up_front != NULL &&
	    at_connect != NULL && strcmp(up_front, at_connect) == 0));
	if (wh_cidr_contains(p.cidrs, p.ncidrs, sa, salen))
		FUZZ_CHECK(at_connect == NULL);
}

static void
check_host(const char *s, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	const char		*why, *at_connect;
	char			*host;

	why = wh_policy_host_refused(&no_private, s, len);
	if (memchr(s, '\0', len) != NULL) {
		FUZZ_CHECK(len == 0 || why != NULL);
		return;
	}
	FUZZ_CHECK(wh_policy_host_refused(&any_private, s, len) == NULL ||
	    is_malformed(wh_policy_host_refused(&any_private, s, len)));
	if ((host = fuzz_cstr((const uint8_t *)s, len)) == NULL)
		return;
	if (len > 0 && numeric_host(host, &ss, &sslen)) {
		check_policy(host, len, (struct sockaddr *)&ss, sslen);
		at_connect = wh_addr_refused((struct sockaddr *)&ss, sslen, 0);
		if (!(why == at_connect || (why != NULL &&
		    at_connect != NULL && strcmp(why, at_connect) == 0))) {
			fprintf(stderr, "host \"%s\": up front \"%s\", at "
			    "connect \"%s\"\n", host, why ? why : "allowed",
			    at_connect ? at_connect : "allowed");
			FUZZ_CHECK(!"the same verdict");
		}
	} else
		FUZZ_CHECK(why == NULL || is_malformed(why));
	free(host);
}

static const char *
refused6(const unsigned char a[16], int allow)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, a, 16);
	return (wh_addr_refused((struct sockaddr *)&sin6, sizeof(sin6),
	    allow));
}

static const char *
refused4(const unsigned char a[4], int allow)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, a, 4);
	return (wh_addr_refused((struct sockaddr *)&sin, sizeof(sin), allow));
}

/* v6 is refused as "<how> <reason of v4>", or allowed with it. */
static void
check_embedded(const unsigned char v6[16], const unsigned char v4[4],
    const char *how)
{
	const char	*r4, *r6;
	size_t		 hl = strlen(how);

	r4 = refused4(v4, 0);
	r6 = refused6(v6, 0);
	if (r4 == NULL) {
		FUZZ_CHECK(r6 == NULL);
		return;
	}
	FUZZ_CHECK(r6 != NULL && strncmp(r6, how, hl) == 0 &&
	    r6[hl] == ' ' && strcmp(r6 + hl + 1, r4) == 0);
}

static void
check_addresses(const uint8_t *data, size_t size)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const unsigned char nat64_local[6] = { 0x00, 0x64, 0xff, 0x9b,
	    0x00, 0x01 };
	unsigned char		a[16], v6[16];
	struct sockaddr_in	sin;
	const char		*r6;

	memset(a, 0, sizeof(a));
	memcpy(a, data, size < 16 ? size : 16);

	FUZZ_CHECK(refused4(a, 1) == NULL && refused6(a, 1) == NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	FUZZ_CHECK(wh_addr_refused((struct sockaddr *)&sin,
	    (socklen_t)(size % sizeof(sin)), 1) != NULL);

	/* Allowed: global unicast, or an allowed IPv4 address inside. */
	if ((r6 = refused6(a, 0)) == NULL)
		FUZZ_CHECK((a[0] & 0xe0) == 0x20 ||
		    memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
		    memcmp(a, nat64_local, 6) == 0);

	memset(v6, 0, sizeof(v6));
	v6[10] = v6[11] = 0xff;
	memcpy(v6 + 12, a, 4);
	check_embedded(v6, a, "IPv4-mapped");

	memset(v6, 0, sizeof(v6));
	v6[1] = 0x64;
	v6[2] = 0xff;
	v6[3] = 0x9b;
	memcpy(v6 + 12, a, 4);
	check_embedded(v6, a, "NAT64");

	memcpy(v6, a, 16);
	v6[0] = 0x20;
	v6[1] = 0x02;
	memcpy(v6 + 2, a, 4);
	check_embedded(v6, a, "6to4");
}

static void
check_cidr_contains(const struct wh_cidr *c, const struct wh_cidr *all,
    size_t n)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	if (c->family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, c->addr, 4);
		FUZZ_CHECK(wh_cidr_contains(all, n, (struct sockaddr *)&sin,
		    sizeof(sin)));
		sin6.sin6_addr.s6_addr[10] = 0xff;
		sin6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(sin6.sin6_addr.s6_addr + 12, c->addr, 4);
	} else
		memcpy(&sin6.sin6_addr, c->addr, 16);
	FUZZ_CHECK(wh_cidr_contains(all, n, (struct sockaddr *)&sin6,
	    sizeof(sin6)));
}

static void
check_cidrs(const uint8_t *data, size_t size)
{
	struct wh_cidr	 c[WH_CIDR_MAX], again[WH_CIDR_MAX];
	struct wh_buf	 b;
	char		*list, err[128], text[INET6_ADDRSTRLEN];
	size_t		 n, n2, i;

	if ((list = fuzz_cstr(data, size)) == NULL)
		return;
	if (wh_cidrs_parse(list, c, WH_CIDR_MAX, &n, err, sizeof(err)) != 0) {
		FUZZ_CHECK(err[0] != '\0');
		free(list);
		return;
	}
	wh_buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(c[i].family == AF_INET || c[i].family == AF_INET6);
		FUZZ_CHECK(c[i].bits >= 0 &&
		    c[i].bits <= (c[i].family == AF_INET ? 32 : 128));
		check_cidr_contains(&c[i], c, n);
		FUZZ_CHECK(inet_ntop(c[i].family, c[i].addr, text,
		    sizeof(text)) != NULL);
		if (wh_buf_appendf(&b, "%s%s/%d", i > 0 ? "," : "", text,
		    c[i].bits) == -1)
			goto out;
	}
	if (wh_buf_cstr(&b) == -1)
		goto out;
	FUZZ_CHECK(wh_cidrs_parse(b.data, again, WH_CIDR_MAX, &n2, err,
	    sizeof(err)) == 0);
	FUZZ_CHECK(n2 == n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(again[i].family == c[i].family &&
		    again[i].bits == c[i].bits &&
		    memcmp(again[i].addr, c[i].addr, 16) == 0);
out:
	wh_buf_free(&b);
	free(list);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_host((const char *)data, size);
	check_addresses(data, size);
	check_cidrs(data, size);
	return (0);
}

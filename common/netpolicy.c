/*
 * netpolicy.c: the SSRF address policy (docs/design.md, "Security").
 *
 * A webhook URL is chosen by a customer, so a delivery must never reach
 * our own network: loopback, RFC 1918, link-local (and the cloud metadata
 * service on it), CGNAT, ULA and the other special-purpose ranges are
 * refused. The dispatcher checks the resolved address at connect time, so
 * DNS tricks do not help; the api checks IP-literal hosts up front so that
 * an obviously bad URL is refused when it is stored.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are
 * judged by the IPv4 address they carry, since that is where the packets
 * end up. IPv6 outside the global unicast block 2000::/3 is unallocated
 * or special and is refused. The tables below are checked in order and
 * the first matching range wins, so a more specific range comes first.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netpolicy.h"

/* Where an IPv4 address was found: plain, or inside an IPv6 address. */
enum embed {
	EMB_NONE,
	EMB_MAPPED,
	EMB_NAT64,
	EMB_6TO4,
	EMB_COUNT
};

enum v4class {
	V4_OK,
	V4_UNSPEC,
	V4_PRIVATE,
	V4_CGNAT,
	V4_LOOPBACK,
	V4_LINKLOCAL,
	V4_METADATA,
	V4_IETF,
	V4_DOC,
	V4_RELAY,
	V4_BENCH,
	V4_MULTICAST,
	V4_RESERVED,
	V4_BROADCAST,
	V4_COUNT
};

#define REASONS(s)	{ s, "IPv4-mapped " s, "NAT64 " s, "6to4 " s }

static const char *const v4_reasons[V4_COUNT][EMB_COUNT] = {
	[V4_OK] =		{ NULL, NULL, NULL, NULL },
	[V4_UNSPEC] =		REASONS("unspecified address"),
	[V4_PRIVATE] =		REASONS("private address (RFC 1918)"),
	[V4_CGNAT] =		REASONS("carrier-grade NAT address"),
	[V4_LOOPBACK] =		REASONS("loopback address"),
	[V4_LINKLOCAL] =	REASONS("link-local address"),
	[V4_METADATA] =		REASONS("cloud metadata address"),
	[V4_IETF] =		REASONS("IETF protocol assignment address"),
	[V4_DOC] =		REASONS("documentation address"),
	[V4_RELAY] =		REASONS("6to4 relay anycast address"),
	[V4_BENCH] =		REASONS("benchmarking address"),
	[V4_MULTICAST] =	REASONS("multicast address"),
	[V4_RESERVED] =		REASONS("reserved address"),
	[V4_BROADCAST] =	REASONS("broadcast address"),
};

struct v4range {
	unsigned char	net[4];
	int		bits;
	enum v4class	cls;
};

static const struct v4range v4_ranges[] = {
	{ { 0, 0, 0, 0 },		8,	V4_UNSPEC },
	{ { 10, 0, 0, 0 },		8,	V4_PRIVATE },
	{ { 100, 100, 100, 200 },	32,	V4_METADATA },	/* Alibaba */
	{ { 100, 64, 0, 0 },		10,	V4_CGNAT },
	{ { 127, 0, 0, 0 },		8,	V4_LOOPBACK },
	{ { 169, 254, 169, 254 },	32,	V4_METADATA },
	{ { 169, 254, 0, 0 },		16,	V4_LINKLOCAL },
	{ { 172, 16, 0, 0 },		12,	V4_PRIVATE },
	{ { 192, 0, 0, 192 },		32,	V4_METADATA },	/* Oracle */
	{ { 192, 0, 0, 0 },		24,	V4_IETF },
	{ { 192, 0, 2, 0 },		24,	V4_DOC },
	{ { 192, 88, 99, 0 },		24,	V4_RELAY },
	{ { 192, 168, 0, 0 },		16,	V4_PRIVATE },
	{ { 198, 18, 0, 0 },		15,	V4_BENCH },
	{ { 198, 51, 100, 0 },		24,	V4_DOC },
	{ { 203, 0, 113, 0 },		24,	V4_DOC },
	{ { 224, 0, 0, 0 },		4,	V4_MULTICAST },
	{ { 255, 255, 255, 255 },	32,	V4_BROADCAST },
	{ { 240, 0, 0, 0 },		4,	V4_RESERVED },
};

/* An IPv6 range either is refused outright or carries an IPv4 address. */
struct v6range {
	unsigned char	 net[16];
	int		 bits;
	const char	*reason;	/* NULL: judge the embedded IPv4 */
	enum embed	 embed;
	size_t		 v4off;		/* where the IPv4 address sits */
};

static const struct v6range v6_ranges[] = {
	{ { 0 }, 128, "unspecified address", EMB_NONE, 0 },
	{ { [15] = 1 }, 128, "loopback address", EMB_NONE, 0 },
	{ { [10] = 0xff, [11] = 0xff }, 96, NULL, EMB_MAPPED, 12 },
	{ { 0 }, 96, "IPv4-compatible address (deprecated)", EMB_NONE, 0 },
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, NULL, EMB_NAT64, 12 },
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, NULL, EMB_NAT64, 12 },
	{ { 0x01, 0x00 }, 64, "discard-only address", EMB_NONE, 0 },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, "documentation address",
	    EMB_NONE, 0 },
	{ { 0x20, 0x01 }, 23, "IETF protocol assignment address",
	    EMB_NONE, 0 },
	{ { 0x20, 0x02 }, 16, NULL, EMB_6TO4, 2 },
	{ { 0x3f, 0xff }, 20, "documentation address", EMB_NONE, 0 },
	{ { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 }, 128,
	    "cloud metadata address", EMB_NONE, 0 },		/* AWS */
	{ { 0xfc }, 7, "unique local address", EMB_NONE, 0 },
	{ { 0xfe, 0x80 }, 10, "link-local address", EMB_NONE, 0 },
	{ { 0xfe, 0xc0 }, 10, "site-local address", EMB_NONE, 0 },
	{ { 0xff }, 8, "multicast address", EMB_NONE, 0 },
};

static int
np_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
np_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return (-1);
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

/* Whether the first bits bits of a and net agree. */
static int
prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
	size_t		full = (size_t)bits / 8;
	unsigned int	rem = (unsigned int)bits % 8;
	unsigned char	mask;

	if (memcmp(a, net, full) != 0)
		return (0);
	if (rem == 0)
		return (1);
	mask = (unsigned char)(0xffu << (8 - rem));
	return ((a[full] & mask) == (net[full] & mask));
}

/* Whether every bit of a past the first bits bits is zero. */
static int
host_bits_zero(const unsigned char *a, size_t alen, int bits)
{
	size_t		i = (size_t)bits / 8;
	unsigned int	rem = (unsigned int)bits % 8;

	if (rem != 0) {
		if ((a[i] & (0xffu >> rem)) != 0)
			return (0);
		i++;
	}
	for (; i < alen; i++) {
		if (a[i] != 0)
			return (0);
	}
	return (1);
}

static enum v4class
v4_class(const unsigned char a[4])
{
	size_t	i;

	for (i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
		if (prefix_match(a, v4_ranges[i].net, v4_ranges[i].bits))
			return (v4_ranges[i].cls);
	}
	return (V4_OK);
}

static const char *
v4_refused(const unsigned char a[4], enum embed how)
{
	return (v4_reasons[v4_class(a)][how]);
}

/*
 * The first matching range decides; an address in none of them is allowed
 * only within global unicast (2000::/3), since everything else is either
 * special-purpose or not allocated and has no business being a target.
 */
static const char *
v6_refused(const unsigned char a[16])
{
	const struct v6range	*r;
	size_t			 i;

	for (i = 0; i < sizeof(v6_ranges) / sizeof(v6_ranges[0]); i++) {
		r = &v6_ranges[i];
		if (!prefix_match(a, r->net, r->bits))
			continue;
		if (r->reason != NULL)
			return (r->reason);
		return (v4_refused(a + r->v4off, r->embed));
	}
	if ((a[0] & 0xe0) != 0x20)
		return ("reserved address");
	return (NULL);
}

/*
 * Copy the IP address out of a sockaddr of len bytes. The copy through
 * sockaddr_storage avoids reading past len or relying on the caller's
 * alignment (libcurl hands us a struct sockaddr sized for the family).
 */
static int
sa_addr(const struct sockaddr *sa, socklen_t len, int *family,
    unsigned char addr[16])
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;

	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return (-1);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, (size_t)len < sizeof(ss) ? (size_t)len : sizeof(ss));

	switch (ss.ss_family) {
	case AF_INET:
		if ((size_t)len < sizeof(sin))
			return (-1);
		memcpy(&sin, &ss, sizeof(sin));
		memcpy(addr, &sin.sin_addr, 4);
		*family = AF_INET;
		return (0);
	case AF_INET6:
		if ((size_t)len < sizeof(sin6))
			return (-1);
		memcpy(&sin6, &ss, sizeof(sin6));
		memcpy(addr, &sin6.sin6_addr, 16);
		*family = AF_INET6;
		return (0);
	default:
		return (-1);
	}
}

/*
 * An IPv4-mapped IPv6 address is the IPv4 host itself; turn it into its
 * IPv4 form so that allow lists written in either form match it.
 */
static void
unmap(int *family, unsigned char addr[16])
{
	static const unsigned char	mapped[12] = {
		[10] = 0xff, [11] = 0xff
	};

	if (*family != AF_INET6 || memcmp(addr, mapped, sizeof(mapped)) != 0)
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
}

const char *
wh_addr_refused(const struct sockaddr *sa, socklen_t len, int allow_private)
{
	unsigned char	addr[16];
	int		family;

	if (sa_addr(sa, len, &family, addr) == -1)
		return ("not an IPv4 or IPv6 address");
	if (allow_private)
		return (NULL);
	if (family == AF_INET)
		return (v4_refused(addr, EMB_NONE));
	return (v6_refused(addr));
}

/*
 * One list entry, "addr" or "addr/bits", already cut at the comma.
 * Spaces around it are tolerated; host bits set past the prefix are
 * refused, since "10.1.2.3/16" is more likely a typo than a network.
 */
static int
cidr_parse_one(const char *s, size_t len, struct wh_cidr *c, char *err,
    size_t errlen)
{
	const char	*slash;
	char		 buf[INET6_ADDRSTRLEN];
	size_t		 alen, i, blen;
	int		 maxbits, shown;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return (np_err(err, errlen, "empty entry in address list"));
	shown = len > 64 ? 64 : (int)len;

	slash = memchr(s, '/', len);
	alen = slash != NULL ? (size_t)(slash - s) : len;
	if (alen == 0 || alen >= sizeof(buf))
		return (np_err(err, errlen, "bad address in \"%.*s\"",
		    shown, s));
	memcpy(buf, s, alen);
	buf[alen] = '\0';

	memset(c, 0, sizeof(*c));
	if (memchr(buf, ':', alen) != NULL) {
		c->family = AF_INET6;
		maxbits = 128;
	} else {
		c->family = AF_INET;
		maxbits = 32;
	}
	if (inet_pton(c->family, buf, c->addr) != 1)
		return (np_err(err, errlen, "bad address in \"%.*s\"",
		    shown, s));

	c->bits = maxbits;
	if (slash != NULL) {
		blen = len - alen - 1;
		if (blen == 0 || blen > 3)
			return (np_err(err, errlen,
			    "bad prefix length in \"%.*s\"", shown, s));
		c->bits = 0;
		for (i = 0; i < blen; i++) {
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				return (np_err(err, errlen,
				    "bad prefix length in \"%.*s\"", shown, s));
			c->bits = c->bits * 10 + (slash[1 + i] - '0');
		}
		if (c->bits > maxbits)
			return (np_err(err, errlen,
			    "prefix length over %d in \"%.*s\"", maxbits,
			    shown, s));
	}
	if (!host_bits_zero(c->addr, (size_t)maxbits / 8, c->bits))
		return (np_err(err, errlen,
		    "host bits set past the prefix in \"%.*s\"", shown, s));

	/* ::ffff:a.b.c.d/n with n >= 96 is an IPv4 range; store it so. */
	if (c->family == AF_INET6 && c->bits >= 96) {
		unmap(&c->family, c->addr);
		if (c->family == AF_INET)
			c->bits -= 96;
	}
	return (0);
}

int
wh_cidrs_parse(const char *list, struct wh_cidr *out, size_t max,
    size_t *n, char *err, size_t errlen)
{
	const char	*p, *comma;
	size_t		 count = 0, len;

	*n = 0;
	if (list == NULL)
		return (0);
	p = list + strspn(list, " \t");
	if (*p == '\0')
		return (0);

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (count == max)
			return (np_err(err, errlen,
			    "too many entries in address list (at most %zu)",
			    max));
		if (cidr_parse_one(p, len, &out[count], err, errlen) == -1)
			return (-1);
		count++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*n = count;
	return (0);
}

int
wh_cidr_contains(const struct wh_cidr *cidrs, size_t n,
    const struct sockaddr *sa, socklen_t len)
{
	unsigned char	addr[16];
	int		family;
	size_t		i;

	if (sa_addr(sa, len, &family, addr) == -1)
		return (0);
	unmap(&family, addr);
	for (i = 0; i < n; i++) {
		if (cidrs[i].family == family &&
		    prefix_match(addr, cidrs[i].addr, cidrs[i].bits))
			return (1);
	}
	return (0);
}

/* Characters of a numeric IPv4 host in any inet_aton(3) form. */
static int
numeric_v4_chars(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (strchr("0123456789abcdefABCDEFxX.", s[i]) == NULL)
			return (0);
	}
	return (1);
}

/*
 * Resolvers accept more IPv4 spellings than inet_pton(3) does:
 * "2130706433", "0x7f.1" and "017700000001" all reach 127.0.0.1. A host
 * made only of digits, hex digits, 'x' and dots is therefore handed to
 * inet_aton(3) as well, and judged as the address it yields. A name that
 * merely looks hexadecimal ("cafe.babe") is not an address to inet_aton
 * and is left to the connect-time check.
 */
/*
 * host (len bytes, no brackets) as an address when it is an IP literal
 * in any form a resolver accepts ("127.1", "0x7f.1", "2130706433",
 * "::ffff:127.0.0.1", "fe80::1%25eth0"): 1 with ss filled, 0 when it is
 * a name, -1 with *why when it looks like a literal but is malformed.
 */
static int
host_literal(const char *host, size_t len, struct sockaddr_storage *ss,
    socklen_t *sl, const char **why)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[256];
	const char		*pct;

	memset(ss, 0, sizeof(*ss));
	if (memchr(host, '\0', len) != NULL) {
		*why = "malformed host";
		return (-1);
	}
	/* "127.0.0.1." is the same host to a resolver. */
	if (len > 1 && host[len - 1] == '.')
		len--;
	if (memchr(host, ':', len) != NULL) {
		/* A zone ("fe80::1%eth0", "%25eth0") does not change it. */
		if ((pct = memchr(host, '%', len)) != NULL)
			len = (size_t)(pct - host);
		if (len >= sizeof(buf) || (memcpy(buf, host, len),
		    buf[len] = '\0', inet_pton(AF_INET6, buf,
		    &sin6->sin6_addr) != 1)) {
			*why = "malformed IPv6 address";
			return (-1);
		}
		sin6->sin6_family = AF_INET6;
		*sl = sizeof(*sin6);
		return (1);
	}
	if (!numeric_v4_chars(host, len))
		return (0);
	if (len >= sizeof(buf)) {
		*why = "malformed numeric address";
		return (-1);
	}
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1 &&
	    inet_aton(buf, &sin->sin_addr) == 0)
		return (0);
	sin->sin_family = AF_INET;
	*sl = sizeof(*sin);
	return (1);
}

const char *
wh_policy_addr_refused(const struct wh_netpolicy *p,
    const struct sockaddr *sa, socklen_t len)
{
	const char	*why;

	if ((why = wh_addr_refused(sa, len, p->allow_private)) == NULL)
		return (NULL);
	if (p->ncidrs > 0 && wh_cidr_contains(p->cidrs, p->ncidrs, sa, len))
		return (NULL);
	return (why);
}

const char *
wh_policy_host_refused(const struct wh_netpolicy *p, const char *host,
    size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = 0;
	const char		*why = NULL;
	int			 rc;

	if (host == NULL || len == 0)
		return (NULL);
	if ((rc = host_literal(host, len, &ss, &sl, &why)) != 1)
		return (why);
	return (wh_policy_addr_refused(p, (struct sockaddr *)&ss, sl));
}

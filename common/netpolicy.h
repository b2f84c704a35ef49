/*
 * netpolicy.h: which network addresses a webhook may be delivered to
 * (docs/design.md, "Security").
 *
 * The dispatcher asks wh_addr_refused() about the very address libcurl is
 * about to connect to (CURLOPT_OPENSOCKETFUNCTION), after DNS, so that a
 * name which resolves, or later rebinds, to an internal address is still
 * refused. The api asks wh_policy_host_refused() about URL hosts that are
 * IP literals, so that an obviously internal target is refused when the
 * webhook is created rather than at every delivery. An optional allow
 * list (WH_ALLOW_CIDRS) lets an operator open specific internal ranges.
 */
#ifndef WH_NETPOLICY_H
#define WH_NETPOLICY_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#define WH_NET_OK	0

/* Most entries a WH_ALLOW_CIDRS list is expected to hold. */
#define WH_CIDR_MAX	32

struct wh_cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];	/* network order, host bits zero */
	int		bits;		/* prefix length */
};

/*
 * NULL when the address may be connected to, else a short static reason
 * ("loopback address", "private address (RFC 1918)", ...). With
 * allow_private set every IPv4 and IPv6 address is allowed; a malformed
 * or non-IP sockaddr is always refused.
 */
const char	*wh_addr_refused(const struct sockaddr *sa, socklen_t len,
		    int allow_private);

/*
 * Parse a comma-separated list such as "10.1.0.0/16,fd00::/8" into at
 * most max entries; a bare address is a single host. 0 with *n set, or -1
 * with a reason in err.
 */
int		 wh_cidrs_parse(const char *list, struct wh_cidr *out,
		    size_t max, size_t *n, char *err, size_t errlen);

/* 1 when the address lies in one of the n ranges, else 0. */
int		 wh_cidr_contains(const struct wh_cidr *cidrs, size_t n,
		    const struct sockaddr *sa, socklen_t len);

/*
 * A deployment's policy: WH_ALLOW_PRIVATE_TARGETS opens every address,
 * WH_ALLOW_CIDRS only the ranges listed (public addresses are always
 * allowed).
 */
struct wh_netpolicy {
	int		allow_private;
	struct wh_cidr	cidrs[WH_CIDR_MAX];
	size_t		ncidrs;
};

/* wh_addr_refused under policy p (its allow list opens ranges). */
const char	*wh_policy_addr_refused(const struct wh_netpolicy *p,
		    const struct sockaddr *, socklen_t);
/*
 * For the api: NULL, or a reason when host (len bytes, no brackets) is an
 * IP literal, in any form a resolver accepts, in a range p refuses.
 */
const char	*wh_policy_host_refused(const struct wh_netpolicy *p,
		    const char *host, size_t len);

#endif

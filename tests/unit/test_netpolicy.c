/*
 * test_netpolicy.c: the SSRF address policy.
 *
 * Every refused range is probed at an address inside it, the edges of the
 * ranges that sit next to public space are probed on both sides, and the
 * IPv6 forms that carry an IPv4 address are checked to be judged by that
 * address. The allow list parser and the IP-literal host check (including
 * the numeric IPv4 spellings resolvers accept) are covered last.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netpolicy.h"

struct probe {
	const char	*addr;
	const char	*reason;	/* NULL: allowed */
};

#define NPROBES(a)	(sizeof(a) / sizeof((a)[0]))

/* URL hosts are judged as the api judges them (wh_policy_host_refused):
 * under the default policy, or with WH_ALLOW_PRIVATE_TARGETS. */
static const struct wh_netpolicy	deny;
static const struct wh_netpolicy	allow = { .allow_private = 1 };

static const struct probe v4_probes[] = {
	{ "0.0.0.0",		"unspecified address" },
	{ "0.255.255.255",	"unspecified address" },
	{ "10.0.0.1",		"private address (RFC 1918)" },
	{ "10.255.255.255",	"private address (RFC 1918)" },
	{ "100.64.0.0",		"carrier-grade NAT address" },
	{ "100.127.255.255",	"carrier-grade NAT address" },
	{ "127.0.0.1",		"loopback address" },
	{ "127.255.255.254",	"loopback address" },
	{ "169.254.0.1",	"link-local address" },
	{ "169.254.169.253",	"link-local address" },
	{ "169.254.169.254",	"cloud metadata address" },
	{ "169.254.169.255",	"link-local address" },
	{ "172.16.0.0",		"private address (RFC 1918)" },
	{ "172.31.255.255",	"private address (RFC 1918)" },
	{ "192.0.0.8",		"IETF protocol assignment address" },
	{ "192.0.2.1",		"documentation address" },
	{ "192.88.99.1",	"6to4 relay anycast address" },
	{ "192.168.1.1",	"private address (RFC 1918)" },
	{ "198.18.0.0",		"benchmarking address" },
	{ "198.19.255.255",	"benchmarking address" },
	{ "198.51.100.7",	"documentation address" },
	{ "203.0.113.9",	"documentation address" },
	{ "224.0.0.1",		"multicast address" },
	{ "239.255.255.250",	"multicast address" },
	{ "240.0.0.1",		"reserved address" },
	{ "255.255.255.254",	"reserved address" },
	{ "255.255.255.255",	"broadcast address" },

	{ "8.8.8.8",		NULL },
	{ "1.1.1.1",		NULL },
	{ "93.184.216.34",	NULL },
	{ "1.0.0.0",		NULL },
	{ "9.255.255.255",	NULL },
	{ "11.0.0.0",		NULL },
	{ "100.63.255.255",	NULL },
	{ "100.128.0.0",	NULL },
	{ "126.255.255.255",	NULL },
	{ "128.0.0.0",		NULL },
	{ "169.253.255.255",	NULL },
	{ "169.255.0.0",	NULL },
	{ "172.15.255.255",	NULL },
	{ "172.32.0.0",		NULL },
	{ "191.255.255.255",	NULL },
	{ "192.0.1.0",		NULL },
	{ "192.0.3.0",		NULL },
	{ "192.88.98.255",	NULL },
	{ "192.88.100.0",	NULL },
	{ "192.167.255.255",	NULL },
	{ "192.169.0.0",	NULL },
	{ "198.17.255.255",	NULL },
	{ "198.20.0.0",		NULL },
	{ "198.51.99.255",	NULL },
	{ "203.0.112.255",	NULL },
	{ "203.0.114.0",	NULL },
	{ "223.255.255.255",	NULL },
};

static const struct probe v6_probes[] = {
	{ "::",			"unspecified address" },
	{ "::1",		"loopback address" },
	{ "::2",		"IPv4-compatible address (deprecated)" },
	{ "::8.8.8.8",		"IPv4-compatible address (deprecated)" },
	{ "100::1",		"discard-only address" },
	{ "100::ffff:ffff:ffff:ffff", "discard-only address" },
	{ "2001:db8::1",	"documentation address" },
	{ "2001:db8:ffff::1",	"documentation address" },
	{ "2001::1",		"IETF protocol assignment address" },
	{ "2001:1ff:ffff::1",	"IETF protocol assignment address" },
	{ "3fff::1",		"documentation address" },
	{ "fc00::1",		"unique local address" },
	{ "fd12:3456::1",	"unique local address" },
	{ "fd00:ec2::254",	"cloud metadata address" },
	{ "fe80::1",		"link-local address" },
	{ "febf:ffff::1",	"link-local address" },
	{ "fec0::1",		"site-local address" },
	{ "feff::1",		"site-local address" },
	{ "ff02::1",		"multicast address" },
	{ "ff05::1:3",		"multicast address" },
	{ "1::1",		"reserved address" },
	{ "4000::1",		"reserved address" },
	{ "e000::1",		"reserved address" },

	{ "2606:4700::1111",	NULL },
	{ "2001:4860:4860::8888", NULL },
	{ "2001:200::1",	NULL },
	{ "2a00:1450:4001::200e", NULL },
	{ "2000::1",		NULL },
	{ "3ffe::1",		NULL },
	{ "2001:db9::1",	NULL },
};

/* IPv6 forms carrying an IPv4 address, judged by that address. */
static const struct probe embedded_probes[] = {
	{ "::ffff:127.0.0.1",	"IPv4-mapped loopback address" },
	{ "::ffff:10.0.0.1",	"IPv4-mapped private address (RFC 1918)" },
	{ "::ffff:169.254.169.254", "IPv4-mapped cloud metadata address" },
	{ "::ffff:0.0.0.0",	"IPv4-mapped unspecified address" },
	{ "::ffff:8.8.8.8",	NULL },
	{ "64:ff9b::127.0.0.1",	"NAT64 loopback address" },
	{ "64:ff9b::7f00:1",	"NAT64 loopback address" },
	{ "64:ff9b::a00:1",	"NAT64 private address (RFC 1918)" },
	{ "64:ff9b::8.8.8.8",	NULL },
	{ "64:ff9b:1::7f00:1",	"NAT64 loopback address" },
	{ "64:ff9b:1:ffff::10.0.0.1", "NAT64 private address (RFC 1918)" },
	{ "64:ff9b:1::808:808",	NULL },
	{ "64:ff9b:2::808:808",	"reserved address" },
	{ "2002:7f00:1::",	"6to4 loopback address" },
	{ "2002:7f00:1::1",	"6to4 loopback address" },
	{ "2002:a00:1:1::1",	"6to4 private address (RFC 1918)" },
	{ "2002:a9fe:a9fe::1",	"6to4 cloud metadata address" },
	{ "2002:808:808::1",	NULL },
};

static const char *
refused4(const char *text, int allow_private)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(443);
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return (wh_addr_refused((struct sockaddr *)&sin, sizeof(sin),
	    allow_private));
}

static const char *
refused6(const char *text, int allow_private)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	return (wh_addr_refused((struct sockaddr *)&sin6, sizeof(sin6),
	    allow_private));
}

/* Fail naming the address, which cmocka's bare string compare does not. */
static void
expect_reason(const char *addr, const char *want, const char *got)
{
	if (want == NULL && got == NULL)
		return;
	if (want != NULL && got != NULL && strcmp(want, got) == 0)
		return;
	fail_msg("%s: want \"%s\", got \"%s\"", addr,
	    want != NULL ? want : "(allowed)", got != NULL ? got : "(allowed)");
}

static void
check_probes(const struct probe *p, size_t n, int v6)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		expect_reason(p[i].addr, p[i].reason,
		    v6 ? refused6(p[i].addr, 0) : refused4(p[i].addr, 0));
		/* The api's literal check agrees with the connect check. */
		expect_reason(p[i].addr, p[i].reason,
		    wh_policy_host_refused(&deny, p[i].addr,
		    strlen(p[i].addr)));
		/* And allowing private targets allows everything. */
		expect_reason(p[i].addr, NULL,
		    v6 ? refused6(p[i].addr, 1) : refused4(p[i].addr, 1));
		expect_reason(p[i].addr, NULL,
		    wh_policy_host_refused(&allow, p[i].addr,
		    strlen(p[i].addr)));
	}
}

static void
test_v4_ranges(void **state)
{
	(void)state;
	check_probes(v4_probes, NPROBES(v4_probes), 0);
}

static void
test_v6_ranges(void **state)
{
	(void)state;
	check_probes(v6_probes, NPROBES(v6_probes), 1);
}

static void
test_v6_embedded_v4(void **state)
{
	(void)state;
	check_probes(embedded_probes, NPROBES(embedded_probes), 1);
}

static void
test_not_an_address(void **state)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	struct sockaddr		sa;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "8.8.8.8", &sin.sin_addr), 1);
	assert_null(wh_addr_refused((struct sockaddr *)&sin, sizeof(sin), 0));
	assert_non_null(wh_addr_refused((struct sockaddr *)&sin,
	    sizeof(sin) - 1, 1));
	assert_non_null(wh_addr_refused(NULL, sizeof(sin), 1));
	assert_non_null(wh_addr_refused((struct sockaddr *)&sin, 0, 1));

	/* A sockaddr_in-sized buffer claiming to be IPv6 is too short. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2606:4700::1111",
	    &sin6.sin6_addr), 1);
	assert_null(wh_addr_refused((struct sockaddr *)&sin6, sizeof(sin6),
	    0));
	assert_non_null(wh_addr_refused((struct sockaddr *)&sin6,
	    sizeof(struct sockaddr_in), 1));

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	assert_non_null(wh_addr_refused(&sa, sizeof(sa), 1));
}

static void
test_cidrs_parse_good(void **state)
{
	struct wh_cidr	c[4];
	size_t		n = 99;
	char		err[128];
	unsigned char	a[16];

	(void)state;
	assert_int_equal(wh_cidrs_parse("10.1.0.0/16,fd00::/8", c, 4, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].family, AF_INET);
	assert_int_equal(c[0].bits, 16);
	assert_int_equal(inet_pton(AF_INET, "10.1.0.0", a), 1);
	assert_memory_equal(c[0].addr, a, 4);
	assert_int_equal(c[1].family, AF_INET6);
	assert_int_equal(c[1].bits, 8);
	assert_int_equal(inet_pton(AF_INET6, "fd00::", a), 1);
	assert_memory_equal(c[1].addr, a, 16);

	/* Spaces, bare hosts, whole families. */
	assert_int_equal(wh_cidrs_parse(" 127.0.0.1 , ::1,0.0.0.0/0,\t::/0 ",
	    c, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(c[0].bits, 32);
	assert_int_equal(c[1].bits, 128);
	assert_int_equal(c[2].bits, 0);
	assert_int_equal(c[3].bits, 0);

	/* An IPv4-mapped range is stored as the IPv4 range. */
	assert_int_equal(wh_cidrs_parse("::ffff:10.2.0.0/112", c, 4, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].family, AF_INET);
	assert_int_equal(c[0].bits, 16);

	/* Empty means no entries. */
	n = 99;
	assert_int_equal(wh_cidrs_parse("", c, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(wh_cidrs_parse("  ", c, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(wh_cidrs_parse(NULL, c, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
}

static void
test_cidrs_parse_bad(void **state)
{
	static const char *const bad[] = {
		"10.1.0.0/33", "fd00::/129", "10.1.0.0/", "10.1.0.0/x",
		"10.1.0.0/16x", "10.1.0.0/-1", "10.1.0.0/+8", "10.1.0.0/0008",
		"10.1/16", "10.1.2.3/16", "fd00::1/8", "/8", "10.0.0.0//8",
		"10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8,,::1", "example.com",
		"10.0.0.256", "fe80::1%eth0/64", "10.0.0.0/8 16",
		"0x0a.0.0.0/8", "1111:2222:3333:4444:5555:6666:7777:8888:9999",
	};
	struct wh_cidr	c[4];
	size_t		i, n;
	char		err[128];

	(void)state;
	for (i = 0; i < NPROBES(bad); i++) {
		err[0] = '\0';
		n = 99;
		if (wh_cidrs_parse(bad[i], c, 4, &n, err, sizeof(err)) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(n, 0);
		assert_true(err[0] != '\0');
	}

	/* More entries than room. */
	assert_int_equal(wh_cidrs_parse("1.0.0.0/8,2.0.0.0/8,3.0.0.0/8",
	    c, 2, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));

	/* No error buffer is fine, and a tiny one is never overrun. */
	assert_int_equal(wh_cidrs_parse("10.0.0.0/99", c, 4, &n, NULL, 0),
	    -1);
	memset(err, 'x', sizeof(err));
	assert_int_equal(wh_cidrs_parse("10.0.0.0/99", c, 4, &n, err, 4),
	    -1);
	assert_int_equal(err[3], '\0');
	assert_int_equal(err[4], 'x');
}

static int
contains4(const struct wh_cidr *c, size_t n, const char *text)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return (wh_cidr_contains(c, n, (struct sockaddr *)&sin, sizeof(sin)));
}

static int
contains6(const struct wh_cidr *c, size_t n, const char *text)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	return (wh_cidr_contains(c, n, (struct sockaddr *)&sin6,
	    sizeof(sin6)));
}

static void
test_cidr_contains(void **state)
{
	struct wh_cidr	c[4];
	size_t		n;
	char		err[128];

	(void)state;
	assert_int_equal(wh_cidrs_parse("10.1.0.0/16,fd00::/8,172.16.0.0/13,"
	    "127.0.0.1", c, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);

	assert_int_equal(contains4(c, n, "10.1.0.0"), 1);
	assert_int_equal(contains4(c, n, "10.1.255.255"), 1);
	assert_int_equal(contains4(c, n, "10.0.255.255"), 0);
	assert_int_equal(contains4(c, n, "10.2.0.0"), 0);
	assert_int_equal(contains4(c, n, "172.23.255.255"), 1);
	assert_int_equal(contains4(c, n, "172.24.0.0"), 0);
	assert_int_equal(contains4(c, n, "127.0.0.1"), 1);
	assert_int_equal(contains4(c, n, "127.0.0.2"), 0);
	assert_int_equal(contains4(c, n, "8.8.8.8"), 0);

	assert_int_equal(contains6(c, n, "fd00::1"), 1);
	assert_int_equal(contains6(c, n, "fdff:ffff::1"), 1);
	assert_int_equal(contains6(c, n, "fc00::1"), 0);
	assert_int_equal(contains6(c, n, "::1"), 0);
	/* The IPv4-mapped form of an allowed IPv4 host is that host. */
	assert_int_equal(contains6(c, n, "::ffff:10.1.2.3"), 1);
	assert_int_equal(contains6(c, n, "::ffff:10.2.2.3"), 0);
	/* But an IPv4 range does not cover NAT64 or 6to4 forms. */
	assert_int_equal(contains6(c, n, "64:ff9b::10.1.2.3"), 0);

	assert_int_equal(contains4(c, 0, "10.1.0.0"), 0);
	assert_int_equal(wh_cidr_contains(c, n, NULL, 0), 0);

	assert_int_equal(wh_cidrs_parse("0.0.0.0/0", c, 4, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(contains4(c, n, "203.0.113.1"), 1);
	assert_int_equal(contains6(c, n, "2001:db8::1"), 0);
}

static void
test_host_literal(void **state)
{
	static const struct probe hosts[] = {
		/* Numeric IPv4 spellings inet_aton(3) accepts. */
		{ "2130706433",		"loopback address" },
		{ "0x7f.1",		"loopback address" },
		{ "0X7F.0.0.1",		"loopback address" },
		{ "017700000001",	"loopback address" },
		{ "0x7f000001",		"loopback address" },
		{ "127.1",		"loopback address" },
		{ "0177.0.0.1",		"loopback address" },
		{ "10.1",		"private address (RFC 1918)" },
		{ "0xa9fea9fe",		"cloud metadata address" },
		{ "0",			"unspecified address" },
		{ "134744072",		NULL },		/* 8.8.8.8 */
		{ "0x8080808",		NULL },
		/* A trailing dot names the same host. */
		{ "127.0.0.1.",		"loopback address" },
		{ "8.8.8.8.",		NULL },
		/* IPv6, with or without a zone. */
		{ "fe80::1%eth0",	"link-local address" },
		{ "fe80::1%25eth0",	"link-local address" },
		{ "::ffff:7f00:1",	"IPv4-mapped loopback address" },
		{ "[::1]",		"malformed IPv6 address" },
		{ "::g",		"malformed IPv6 address" },
		/* Names, including ones that look a bit numeric. */
		{ "example.com",	NULL },
		{ "localhost",		NULL },
		{ "cafe",		NULL },
		{ "deadbeef",		NULL },
		{ "cafe.babe",		NULL },
		{ "1e100.net",		NULL },
		{ "0x",			NULL },
		{ "4294967296",		NULL },
		{ "1.2.3.4.5",		NULL },
		{ ".",			NULL },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < NPROBES(hosts); i++) {
		expect_reason(hosts[i].addr, hosts[i].reason,
		    wh_policy_host_refused(&deny, hosts[i].addr,
		    strlen(hosts[i].addr)));
	}

	/* Lengths are explicit: the host need not be NUL-terminated. */
	assert_string_equal(wh_policy_host_refused(&deny,
	    "127.0.0.1:8080/x", 9),
	    "loopback address");
	assert_null(wh_policy_host_refused(&deny, "8.8.8.8127.0.0.1", 7));
	assert_null(wh_policy_host_refused(&deny, "", 0));
	assert_null(wh_policy_host_refused(&deny, NULL, 0));
	assert_non_null(wh_policy_host_refused(&deny, "127.0.0.1\0.x", 12));
	assert_null(wh_policy_host_refused(&allow, "0x7f.1", 6));
	assert_null(wh_policy_host_refused(&allow, "::1", 3));
}

static void
test_host_literal_long(void **state)
{
	char	host[400];

	(void)state;
	/* Too long to be a name, and numeric: refused, not read past. */
	memset(host, '0', sizeof(host));
	host[sizeof(host) - 1] = '1';
	assert_non_null(wh_policy_host_refused(&deny, host, sizeof(host)));
	/* Too long and not numeric: not a literal. */
	memset(host, 'a', sizeof(host));
	host[10] = 'z';
	assert_null(wh_policy_host_refused(&deny, host, sizeof(host)));
	/* An over-long IPv6 literal. */
	memset(host, ':', sizeof(host));
	assert_string_equal(wh_policy_host_refused(&deny, host, sizeof(host)),
	    "malformed IPv6 address");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_ranges),
		cmocka_unit_test(test_v6_ranges),
		cmocka_unit_test(test_v6_embedded_v4),
		cmocka_unit_test(test_not_an_address),
		cmocka_unit_test(test_cidrs_parse_good),
		cmocka_unit_test(test_cidrs_parse_bad),
		cmocka_unit_test(test_cidr_contains),
		cmocka_unit_test(test_host_literal),
		cmocka_unit_test(test_host_literal_long),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

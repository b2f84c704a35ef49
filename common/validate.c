/*
 * validate.c: what customers and publishers may store. Every rule is a
 * pure function over explicit lengths (embedded NULs are just refused
 * bytes) returning NULL or a fixed sentence. The rules are deliberately
 * narrower than the RFCs where a wider input would reach a header, a
 * signature or a URL parser that might read it differently from us.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "encode.h"
#include "sign.h"
#include "validate.h"

#define HOST_MAX	253
#define LABEL_MAX	63

/*
 * Headers the dispatcher sets itself (or that describe the connection
 * rather than the message). A custom one with these names would clash
 * with, or smuggle around, ours.
 */
static const char *const reserved_headers[] = {
	"Content-Type", "Content-Length", "Content-Encoding", "Host",
	"User-Agent", "Transfer-Encoding", "Connection", "Expect",
	"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "TE", "Trailer", "Upgrade", "HTTP2-Settings",
};

static const char *const reserved_prefixes[] = {
	"Streem-", "webhook-",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
is_alnum(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'));
}

/*
 * Host of a URL: an IPv6 literal in brackets (checked by inet_pton, no
 * zone ids), or dot-separated labels of letters, digits, '-' and '_'
 * (IPv4 dotted quads are such labels; IDNs must come punycoded). One
 * trailing dot (a rooted name) is allowed, empty labels are not.
 */
static const char *
url_host(const char *h, size_t len)
{
	struct in6_addr	a6;
	char		v6[64];
	size_t		i, label;

	if (len == 0)
		return ("the URL has no host");
	if (h[0] == '[') {
		if (len < 3 || h[len - 1] != ']' || len - 2 >= sizeof(v6))
			return ("the URL has a malformed IPv6 address");
		memcpy(v6, h + 1, len - 2);
		v6[len - 2] = '\0';
		if (strlen(v6) != len - 2 || inet_pton(AF_INET6, v6, &a6) != 1)
			return ("the URL has a malformed IPv6 address");
		return (NULL);
	}
	if (h[len - 1] == '.')
		len--;
	if (len == 0 || len > HOST_MAX)
		return ("the URL host is not a valid host name");
	label = 0;
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0)
				return ("the URL host is not a valid host "
				    "name");
			label = 0;
			continue;
		}
		if (!is_alnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '_')
			return ("the URL host is not a valid host name");
		if (++label > LABEL_MAX)
			return ("the URL host is not a valid host name");
	}
	if (label == 0)
		return ("the URL host is not a valid host name");
	return (NULL);
}

/* Optional ":port" after the host: 1..5 digits, 1..65535. */
static const char *
url_port(const char *p, size_t len)
{
	size_t	i;
	long	v;

	if (len == 0 || len > 5)
		return ("the URL port must be 1 to 65535");
	v = 0;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return ("the URL port must be 1 to 65535");
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return ("the URL port must be 1 to 65535");
	return (NULL);
}

/*
 * scheme "://" authority [path-abempty] ["?" query] ["#" fragment], with
 * only printable ASCII anywhere (other characters must be
 * percent-encoded), so curl and the receiver see the URL we checked.
 */
/*
 * The authority of an http(s) URL cut into host (brackets kept) and the
 * optional port after its colon. -1 when the scheme is neither.
 */
static int
url_split(const char *s, size_t len, const char **host, size_t *hlen,
    const char **port, size_t *plen)
{
	const char	*auth, *end;
	size_t		 i, alen;

	if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
		auth = s + 7;
	else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
		auth = s + 8;
	else
		return (-1);
	end = s + len;
	for (alen = 0; auth + alen < end; alen++) {
		if (auth[alen] == '/' || auth[alen] == '?' ||
		    auth[alen] == '#')
			break;
	}
	*host = auth;
	*hlen = alen;
	*port = NULL;
	*plen = 0;
	/* The port colon is the last one, after any "]" of an IPv6 host. */
	for (i = alen; i > 0; i--) {
		if (auth[i - 1] == ']')
			break;
		if (auth[i - 1] == ':') {
			*port = auth + i;
			*plen = alen - i;
			*hlen = i - 1;
			break;
		}
	}
	return (0);
}

const char *
wh_validate_url(const char *s, size_t len)
{
	const char	*host, *port, *why;
	size_t		 i, hlen, plen;

	if (len == 0)
		return ("the URL is empty");
	if (len > WH_URL_MAX)
		return ("the URL is too long");
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return ("the URL must not contain spaces, control or "
			    "non-ASCII characters (percent-encode them)");
	}
	if (url_split(s, len, &host, &hlen, &port, &plen) == -1)
		return ("the URL must start with http:// or https://");
	if (memchr(host, '@', port != NULL ? (size_t)(port - host) + plen :
	    hlen) != NULL)
		return ("the URL must not contain credentials (user@host)");
	if (port != NULL && (why = url_port(port, plen)) != NULL)
		return (why);
	return (url_host(host, hlen));
}

int
wh_url_host(const char *s, size_t len, const char **host, size_t *hlen)
{
	const char	*port;
	size_t		 plen;

	if (url_split(s, len, host, hlen, &port, &plen) == -1)
		return (-1);
	if (*hlen >= 2 && (*host)[0] == '[' && (*host)[*hlen - 1] == ']') {
		(*host)++;
		*hlen -= 2;
	}
	return (0);
}

int
wh_url_port(const char *s, size_t len)
{
	const char	*host, *port;
	size_t		 hlen, plen, i;
	int		 n = 0;

	if (url_split(s, len, &host, &hlen, &port, &plen) == -1)
		return (-1);
	if (port == NULL || plen == 0)
		return (s[4] == 's' || s[4] == 'S' ? 443 : 80);
	for (i = 0; i < plen && i < 5; i++) {
		if (port[i] < '0' || port[i] > '9')
			return (-1);
		n = n * 10 + (port[i] - '0');
	}
	return (i == plen && n > 0 && n < 65536 ? n : -1);
}

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char c)
{
	return (is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c)
	    != NULL));
}

const char *
wh_validate_header_name(const char *s, size_t len)
{
	size_t	i, plen;

	if (len == 0)
		return ("the header name is empty");
	if (len > WH_HEADER_NAME_MAX)
		return ("the header name is too long");
	for (i = 0; i < len; i++) {
		if (!is_tchar((unsigned char)s[i]))
			return ("the header name may contain only letters, "
			    "digits and !#$%&'*+-.^_`|~");
	}
	for (i = 0; i < NELEM(reserved_headers); i++) {
		if (strlen(reserved_headers[i]) == len &&
		    strncasecmp(s, reserved_headers[i], len) == 0)
			return ("this header is set by the webhook service "
			    "and cannot be customized");
	}
	for (i = 0; i < NELEM(reserved_prefixes); i++) {
		plen = strlen(reserved_prefixes[i]);
		if (len >= plen &&
		    strncasecmp(s, reserved_prefixes[i], plen) == 0)
			return ("header names starting with Streem- or "
			    "webhook- are reserved");
	}
	return (NULL);
}

/*
 * Besides CR/LF/NUL (header injection), empty values and surrounding
 * whitespace are refused: curl drops a header with an empty value and
 * receivers trim values, either of which would break a signature that
 * covers the header.
 */
const char *
wh_validate_header_value(const char *s, size_t len)
{
	size_t		i;
	unsigned char	c;

	if (len == 0)
		return ("the header value is empty");
	if (len > WH_HEADER_VALUE_MAX)
		return ("the header value is too long");
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c != '\t' && (c < 0x20 || c > 0x7e))
			return ("the header value may contain only visible "
			    "ASCII, spaces and tabs");
	}
	if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t')
		return ("the header value must not start or end with "
		    "whitespace");
	return (NULL);
}

/* Dotted segments of [a-z0-9_-]+, without the length check. */
static int
event_type_ok(const char *s, size_t len)
{
	size_t		i, seg;
	unsigned char	c;

	seg = 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (seg == 0)
				return (0);
			seg = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return (0);
		seg++;
	}
	return (seg > 0);
}

const char *
wh_validate_event_type(const char *s, size_t len)
{
	if (len == 0)
		return ("the event type is empty");
	if (len > WH_EVENT_TYPE_MAX)
		return ("the event type is too long");
	if (!event_type_ok(s, len))
		return ("the event type must be dot-separated segments of "
		    "a-z, 0-9, _ and -, e.g. call.ended");
	return (NULL);
}

const char *
wh_validate_event_filter(const char *s, size_t len)
{
	if (len == 0)
		return ("the event type filter is empty");
	if (len > WH_EVENT_TYPE_MAX)
		return ("the event type filter is too long");
	if (len == 1 && s[0] == '*')
		return (NULL);
	if (len > 2 && s[len - 2] == '.' && s[len - 1] == '*') {
		if (!event_type_ok(s, len - 2))
			return ("the event type filter must be *, an event "
			    "type, or an event type followed by .*");
		return (NULL);
	}
	if (!event_type_ok(s, len))
		return ("the event type filter must be *, an event type, or "
		    "an event type followed by .*");
	return (NULL);
}

const char *
wh_validate_company_sid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return ("the company sid is empty");
	if (len > WH_COMPANY_SID_MAX)
		return ("the company sid is too long");
	for (i = 0; i < len; i++) {
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return ("the company sid may contain only A-Z, a-z, "
			    "0-9, _ and -");
	}
	return (NULL);
}

const char *
wh_validate_shared_secret(const char *s, size_t len)
{
	size_t	i;

	if (len < WH_SECRET_MIN)
		return ("the shared secret is too short (at least 16 "
		    "characters)");
	if (len > WH_SECRET_MAX)
		return ("the shared secret is too long (at most 256 "
		    "characters)");
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return ("the shared secret may contain only printable "
			    "ASCII characters");
	}
	return (NULL);
}

/* Valid UTF-8 without C0, DEL or C1 control characters. */
const char *
wh_validate_label(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 i;
	int			 n;

	if (len > WH_LABEL_MAX)
		return ("the label is too long");
	for (i = 0; i < len; i += (size_t)n) {
		if ((n = wh_utf8_seq(p + i, len - i, &cp)) == -1)
			return ("the label is not valid UTF-8");
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return ("the label must not contain control "
			    "characters");
	}
	return (NULL);
}

/*
 * "*" matches every type; "a.b.*" matches any type below a.b ("a.b.c",
 * "a.b.c.d") but not "a.b" itself; anything else matches exactly.
 */
int
wh_event_type_matches(const char *filter, const char *type)
{
	size_t	flen, tlen;

	if (filter == NULL || type == NULL)
		return (0);
	flen = strlen(filter);
	tlen = strlen(type);
	if (flen == 1 && filter[0] == '*')
		return (1);
	if (flen >= 2 && filter[flen - 2] == '.' && filter[flen - 1] == '*')
		return (tlen > flen - 1 &&
		    memcmp(filter, type, flen - 1) == 0);
	return (flen == tlen && memcmp(filter, type, flen) == 0);
}

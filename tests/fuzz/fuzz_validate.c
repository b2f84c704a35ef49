/*
 * fuzz_validate.c: the input rules of common/validate.c on any bytes:
 * webhook URLs and custom headers (which the dispatcher hands to
 * libcurl), event types and filters, company sids, labels and shared
 * secrets, from api bodies and from entries published straight into
 * Redis.
 *
 * Checks, beyond memory safety:
 * - an accepted URL is one libcurl parses (its own URL API, as the
 *   dispatcher's CURLOPT_URL does) as http or https, without user or
 *   password, with the same host and port we checked, and wh_url_host()
 *   (what the address policy is asked about) gives that host;
 * - an accepted header name is a token (no ':', whitespace, CR, LF or
 *   NUL), and the verdict does not depend on letter case; an accepted
 *   value holds no CR, LF, NUL or DEL and no surrounding whitespace, so
 *   "Name: value" reads back as that one header;
 * - an accepted event type is a filter too, matches itself, and
 *   "<type>.*" matches below it but not the type itself;
 * - a company sid is valid exactly when it is a valid id (both are used
 *   in Redis keys);
 * - an accepted label escapes to JSON without any \u escape; an
 *   accepted shared secret is printable ASCII of 16 to 256 bytes.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "ids.h"
#include "json.h"
#include "sign.h"
#include "validate.h"

#include "fuzz.h"

static int
curl_part(CURLU *u, CURLUPart what, char **out)
{
	*out = NULL;
	return (curl_url_get(u, what, out, 0) == CURLUE_OK);
}

/* The host and port of an accepted URL, as we read it. */
static void
our_authority(const char *s, size_t len, char *host, size_t hostlen,
    long *port)
{
	const char	*a, *end, *colon = NULL;
	size_t		 alen, i;

	a = s + (tolower((unsigned char)s[4]) == 's' ? 8 : 7);
	end = s + len;
	for (alen = 0; a + alen < end && strchr("/?#", a[alen]) == NULL;
	    alen++)
		;
	for (i = alen; i > 0 && a[i - 1] != ']'; i--) {
		if (a[i - 1] == ':') {
			colon = a + i - 1;
			break;
		}
	}
	*port = -1;
	if (colon != NULL) {
		*port = strtol(colon + 1, NULL, 10);
		alen = (size_t)(colon - a);
	}
	FUZZ_CHECK(alen > 0 && alen < hostlen);
	memcpy(host, a, alen);
	host[alen] = '\0';
}

/* Same host: IP literals by address, names by text (any case). */
static int
same_host(const char *ours, const char *theirs)
{
	unsigned char	a[16], b[16];
	char		v6a[64], v6b[64];
	struct in_addr	in;
	size_t		n;

	if (ours[0] == '[') {
		n = strlen(ours);
		if (theirs[0] != '[' || n - 2 >= sizeof(v6a) ||
		    strlen(theirs) - 2 >= sizeof(v6b))
			return (0);
		memcpy(v6a, ours + 1, n - 2);
		v6a[n - 2] = '\0';
		memcpy(v6b, theirs + 1, strlen(theirs) - 2);
		v6b[strlen(theirs) - 2] = '\0';
		return (inet_pton(AF_INET6, v6a, a) == 1 &&
		    inet_pton(AF_INET6, v6b, b) == 1 && memcmp(a, b, 16) == 0);
	}
	if (strcasecmp(ours, theirs) == 0)
		return (1);
	/* curl writes numeric IPv4 hosts ("0x7f.1") in dotted quads. */
	return (inet_aton(ours, &in) != 0 &&
	    strcmp(inet_ntoa(in), theirs) == 0);
}

/* wh_url_host() gives the host we checked, brackets taken off. */
static void
check_url_host(const char *s, size_t len, const char *ours)
{
	const char	*h;
	size_t		 hlen, olen = strlen(ours);

	FUZZ_CHECK(wh_url_host(s, len, &h, &hlen) == 0);
	FUZZ_CHECK(h >= s && (size_t)(h - s) + hlen <= len);
	if (ours[0] == '[')
		FUZZ_CHECK(hlen == olen - 2 && memcmp(h, ours + 1, hlen) == 0);
	else
		FUZZ_CHECK(hlen == olen && memcmp(h, ours, hlen) == 0);
}

static void
check_url(const char *s, size_t len)
{
	CURLU	*u;
	char	*str, *scheme, *host, *port, *user, *pass;
	char	 ours[WH_URL_MAX + 1];
	long	 our_port;

	if (wh_validate_url(s, len) != NULL)
		return;
	FUZZ_CHECK(len > 0 && len <= WH_URL_MAX);
	FUZZ_CHECK(memchr(s, '\0', len) == NULL);
	if ((str = fuzz_cstr((const uint8_t *)s, len)) == NULL ||
	    (u = curl_url()) == NULL) {
		free(str);
		return;
	}
	if (curl_url_set(u, CURLUPART_URL, str, 0) != CURLUE_OK) {
		fprintf(stderr, "libcurl refuses \"%s\"\n", str);
		FUZZ_CHECK(!"an accepted URL is one libcurl parses");
	}
	FUZZ_CHECK(curl_part(u, CURLUPART_SCHEME, &scheme));
	FUZZ_CHECK(strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	FUZZ_CHECK(!curl_part(u, CURLUPART_USER, &user));
	FUZZ_CHECK(!curl_part(u, CURLUPART_PASSWORD, &pass));
	FUZZ_CHECK(curl_part(u, CURLUPART_HOST, &host));
	our_authority(str, len, ours, sizeof(ours), &our_port);
	check_url_host(s, len, ours);
	if (!same_host(ours, host)) {
		fprintf(stderr, "\"%s\": our host \"%s\", curl's \"%s\"\n",
		    str, ours, host);
		FUZZ_CHECK(!"the same host");
	}
	if (our_port != -1) {
		FUZZ_CHECK(curl_part(u, CURLUPART_PORT, &port));
		FUZZ_CHECK(strtol(port, NULL, 10) == our_port);
		curl_free(port);
	}
	curl_free(user);
	curl_free(pass);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	free(str);
}

static void
check_header(const char *s, size_t len)
{
	char	*low, *up;
	size_t	 i;
	int	 ok;

	ok = wh_validate_header_name(s, len) == NULL;
	if (ok) {
		FUZZ_CHECK(len > 0 && len <= WH_HEADER_NAME_MAX);
		for (i = 0; i < len; i++)
			FUZZ_CHECK(s[i] > 0x20 && s[i] < 0x7f &&
			    strchr(":()<>@,;\\\"/[]?={}", s[i]) == NULL);
	}
	if ((low = fuzz_cstr((const uint8_t *)s, len)) != NULL &&
	    (up = fuzz_cstr((const uint8_t *)s, len)) != NULL) {
		for (i = 0; i < len; i++) {
			low[i] = (char)tolower((unsigned char)low[i]);
			up[i] = (char)toupper((unsigned char)up[i]);
		}
		FUZZ_CHECK((wh_validate_header_name(low, len) == NULL) == ok);
		FUZZ_CHECK((wh_validate_header_name(up, len) == NULL) == ok);
		free(up);
	}
	free(low);

	if (wh_validate_header_value(s, len) != NULL)
		return;
	FUZZ_CHECK(len > 0 && len <= WH_HEADER_VALUE_MAX);
	for (i = 0; i < len; i++)
		FUZZ_CHECK(s[i] != '\r' && s[i] != '\n' && s[i] != '\0' &&
		    s[i] != 0x7f);
	FUZZ_CHECK(s[0] != ' ' && s[0] != '\t' && s[len - 1] != ' ' &&
	    s[len - 1] != '\t');
}

static void
check_event_type(const char *s, size_t len)
{
	char	*type, *f, *below;
	size_t	 i;

	if (wh_validate_event_filter(s, len) == NULL && len >= 2 &&
	    s[len - 2] == '.' && s[len - 1] == '*')
		FUZZ_CHECK(wh_validate_event_type(s, len - 2) == NULL);
	if (wh_validate_event_type(s, len) != NULL)
		return;
	FUZZ_CHECK(wh_validate_event_filter(s, len) == NULL);
	for (i = 0; i < len; i++)
		FUZZ_CHECK(s[i] != '*' && s[i] != '\0');
	if ((type = fuzz_cstr((const uint8_t *)s, len)) == NULL)
		return;
	FUZZ_CHECK(wh_event_type_matches(type, type));
	FUZZ_CHECK(wh_event_type_matches("*", type));
	f = malloc(len + 3);
	below = malloc(len + 3);
	if (f != NULL && below != NULL) {
		memcpy(f, type, len);
		memcpy(f + len, ".*", 3);
		memcpy(below, type, len);
		memcpy(below + len, ".x", 3);
		if (len + 2 <= WH_EVENT_TYPE_MAX)
			FUZZ_CHECK(wh_validate_event_filter(f, len + 2) ==
			    NULL);
		FUZZ_CHECK(!wh_event_type_matches(f, type));
		FUZZ_CHECK(wh_event_type_matches(f, below));
	}
	free(below);
	free(f);
	free(type);
}

static void
check_texts(const char *s, size_t len)
{
	struct wh_buf	b;
	size_t		i;

	FUZZ_CHECK((wh_validate_company_sid(s, len) == NULL) ==
	    wh_id_valid(s, len));

	if (wh_validate_label(s, len) == NULL) {
		FUZZ_CHECK(len <= WH_LABEL_MAX);
		wh_buf_init(&b, 0);
		if (wh_json_str(&b, s, len) == 0) {
			for (i = 1; i + 1 < b.len; i++) {
				if (b.data[i] != '\\')
					continue;
				FUZZ_CHECK(b.data[i + 1] == '"' ||
				    b.data[i + 1] == '\\');
				i++;
			}
		}
		wh_buf_free(&b);
	}

	if (wh_validate_shared_secret(s, len) == NULL) {
		FUZZ_CHECK(len >= WH_SECRET_MIN && len <= WH_SECRET_MAX);
		for (i = 0; i < len; i++)
			FUZZ_CHECK(s[i] >= 0x20 && s[i] <= 0x7e);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;

	check_url(s, size);
	check_header(s, size);
	check_event_type(s, size);
	check_texts(s, size);
	return (0);
}

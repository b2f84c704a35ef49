/*
 * trace.c: W3C traceparent parsing and formatting, ids, and the OTLP
 * headers variable (see trace.h). Everything here reads what a client
 * or an operator wrote: lengths are explicit and nothing is trusted to
 * be NUL-terminated.
 */
#include <string.h>

#include "encode.h"
#include "ids.h"
#include "trace.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* n bytes from 2n lower-case hex digits. 0 or -1. */
static int
unhex(const char *s, size_t n, uint8_t *out)
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < n; i++) {
		if ((hi = hexval(s[2 * i])) == -1 ||
		    (lo = hexval(s[2 * i + 1])) == -1)
			return (-1);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] != 0)
			return (0);
	}
	return (1);
}

int
wh_traceparent_parse(const char *s, size_t len, struct wh_trace *t)
{
	uint8_t	version;

	if (len < WH_TRACEPARENT_LEN || unhex(s, 1, &version) == -1 ||
	    version == 0xff || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return (-1);
	/* Version 00 is exactly this long; a later one may say more. */
	if ((version == 0 && len != WH_TRACEPARENT_LEN) ||
	    (len > WH_TRACEPARENT_LEN && s[WH_TRACEPARENT_LEN] != '-'))
		return (-1);
	if (unhex(s + 3, WH_TRACE_ID_LEN, t->trace_id) == -1 ||
	    unhex(s + 36, WH_SPAN_ID_LEN, t->span_id) == -1 ||
	    unhex(s + 53, 1, &t->flags) == -1)
		return (-1);
	if (all_zero(t->trace_id, WH_TRACE_ID_LEN) ||
	    all_zero(t->span_id, WH_SPAN_ID_LEN))
		return (-1);
	return (0);
}

void
wh_traceparent_format(const struct wh_trace *t, const uint8_t *span,
    char out[WH_TRACEPARENT_LEN + 1])
{
	memcpy(out, "00-", 3);
	(void)wh_hex_encode(t->trace_id, WH_TRACE_ID_LEN, out + 3);
	out[35] = '-';
	(void)wh_hex_encode(span, WH_SPAN_ID_LEN, out + 36);
	out[52] = '-';
	(void)wh_hex_encode(&t->flags, 1, out + 53);
}

int
wh_trace_new_id(uint8_t *out, size_t len)
{
	int	tries;

	/* All zero is invalid; 2^-64 at worst, tried again anyway. */
	for (tries = 0; tries < 4; tries++) {
		if (wh_id_random(out, len) == -1)
			return (-1);
		if (!all_zero(out, len))
			return (0);
	}
	return (-1);
}

/* RFC 9110 tchar. */
static int
is_tchar(char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* One "name=value" of n bytes: checked, decoded, called back. */
static int
header_pair(const char *p, size_t n, wh_header_cb cb, void *arg)
{
	char		 value[WH_OTLP_HEADER_MAX];
	const char	*eq, *v;
	size_t		 nlen, vlen, i, out = 0;
	int		 hi, lo;

	if ((eq = memchr(p, '=', n)) == NULL)
		return (-1);
	nlen = (size_t)(eq - p);
	v = eq + 1;
	vlen = n - nlen - 1;
	trim(&p, &nlen);
	trim(&v, &vlen);
	if (nlen == 0)
		return (-1);
	for (i = 0; i < nlen; i++) {
		if (!is_tchar(p[i]))
			return (-1);
	}
	for (i = 0; i < vlen; i++) {
		if (out == sizeof(value))
			return (-1);
		if (v[i] == '%') {
			if (i + 2 >= vlen)
				return (-1);
			if ((hi = hexval(v[i + 1] | 0x20)) == -1 ||
			    (lo = hexval(v[i + 2] | 0x20)) == -1)
				return (-1);
			value[out++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			value[out++] = v[i];
		if ((unsigned char)value[out - 1] < 0x20 ||
		    value[out - 1] == 0x7f)
			return (-1);
	}
	return (cb(p, nlen, value, out, arg));
}

int
wh_otlp_headers_parse(const char *s, size_t len, wh_header_cb cb, void *arg)
{
	const char	*p = s, *comma;
	size_t		 n, rest = len;

	while (rest > 0) {
		comma = memchr(p, ',', rest);
		n = comma != NULL ? (size_t)(comma - p) : rest;
		if (header_pair(p, n, cb, arg) == -1)
			return (-1);
		if (comma == NULL)
			break;
		p = comma + 1;
		rest -= n + 1;
		if (rest == 0)
			return (-1);	/* a trailing comma */
	}
	return (0);
}

/*
 * body_text.c: the one rewrite a request body gets before Kore's JSON
 * parser reads it (see api_body_unescape below). Pure (bytes in, bytes
 * out, no Kore), so the fuzz targets (tests/fuzz) run it on hostile
 * bodies.
 */
#include <stdint.h>

#include "api.h"
#include "buf.h"
#include "encode.h"

static int
hex4(const char *p, uint32_t *out)
{
	uint32_t	v = 0;
	int		i, c;

	for (i = 0; i < 4; i++) {
		if ((c = wh_hexval((unsigned char)p[i])) == -1)
			return (-1);
		v = v << 4 | (uint32_t)c;
	}
	*out = v;
	return (0);
}

static int
put_utf8(struct wh_buf *b, uint32_t cp)
{
	unsigned char	u[4];
	size_t		n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return (wh_buf_append(b, u, n));
}

/* The escape Kore's parser reads for cp, if there is one. */
static const char *
short_escape(uint32_t cp)
{
	switch (cp) {
	case '"':
		return ("\\\"");
	case '\\':
		return ("\\\\");
	case '\b':
		return ("\\b");
	case '\f':
		return ("\\f");
	case '\n':
		return ("\\n");
	case '\r':
		return ("\\r");
	case '\t':
		return ("\\t");
	default:
		return (NULL);
	}
}

/*
 * Kore's JSON parser knows every string escape but \uXXXX, which many
 * encoders write for any non-ASCII character ("caf\u00e9"). The body,
 * already checked to be valid JSON, is rewritten with those escapes as
 * UTF-8. A control character without a short escape (\u0007, \u0000)
 * becomes DEL (0x7f), which every text rule of the api refuses, so it
 * is still reported against its field; a lone surrogate is an error.
 * 0 with out holding the text, -1 on a lone surrogate or ENOMEM.
 */
int
api_body_unescape(const char *s, size_t len, struct wh_buf *out)
{
	const char	*esc;
	uint32_t	 cp, lo;
	size_t		 i;
	int		 in_str = 0, rc = 0;

	for (i = 0; i < len && rc == 0; i++) {
		if (s[i] == '"')
			in_str = !in_str;
		if (!in_str || s[i] != '\\' || i + 1 >= len) {
			rc = wh_buf_append(out, s + i, 1);
			continue;
		}
		if (s[i + 1] != 'u') {
			rc = wh_buf_append(out, s + i, 2);
			i++;
			continue;
		}
		if (i + 6 > len || hex4(s + i + 2, &cp) == -1)
			return (-1);
		i += 5;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 7 > len || s[i + 1] != '\\' ||
			    s[i + 2] != 'u' || hex4(s + i + 3, &lo) == -1 ||
			    lo < 0xdc00 || lo > 0xdfff)
				return (-1);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else if (cp >= 0xdc00 && cp <= 0xdfff)
			return (-1);
		if ((esc = short_escape(cp)) != NULL)
			rc = wh_buf_appendstr(out, esc);
		else if (cp < 0x20)
			rc = wh_buf_append(out, "\x7f", 1);
		else
			rc = put_utf8(out, cp);
	}
	return (rc);
}

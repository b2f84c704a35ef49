/*
 * encode.c: UTF-8, hex and base64 with explicit lengths. UTF-8 is read
 * and written here once for everything that checks or decodes text (the
 * JSON walks, the field rules). OpenSSL's EVP_EncodeBlock
 * and EVP_DecodeBlock do the base64 work, but they take int lengths, always
 * pad, write whole 3-byte groups (padding zeros included) and skip
 * surrounding whitespace. So the input is fed in bounded chunks of whole
 * groups, the last group goes through a small scratch array, the output
 * size is checked before anything is written, and the input of a decode is
 * checked against the strict alphabet first.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "encode.h"

/* Input bytes per EVP_EncodeBlock call: whole groups, small int. */
#define ENC_CHUNK	(3 * 4096)
/* Input chars per EVP_DecodeBlock call: whole groups, small int. */
#define DEC_CHUNK	(4 * 4096)

/*
 * Decimal digits of v, most significant first, without a NUL: the hot
 * paths (Redis commands, stream timestamps) write numbers with this
 * rather than snprintf.
 */
size_t
wh_dec_encode(uint64_t v, char out[WH_DEC_MAX])
{
	char	tmp[WH_DEC_MAX];
	size_t	n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return (n);
}

size_t
wh_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return (2 * len);
}

/*
 * Encode the whole 3-byte groups of in (len a multiple of 3) into out,
 * which the caller has sized. Returns the chars written; EVP adds a NUL.
 */
static size_t
b64_groups(const unsigned char *in, size_t len, char *out)
{
	size_t	off, n, w;

	w = 0;
	for (off = 0; off < len; off += n) {
		n = len - off;
		if (n > ENC_CHUNK)
			n = ENC_CHUNK;
		w += (size_t)EVP_EncodeBlock((unsigned char *)out + w,
		    in + off, (int)n);
	}
	return (w);
}

int
wh_b64_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	unsigned char	tmp[5];
	size_t		full, need, w;

	if (len > ((size_t)INT_MAX / 4) * 3 - 3)
		return (-1);
	need = ((len + 2) / 3) * 4;
	if (outlen < need + 1)
		return (-1);

	full = len - len % 3;
	w = b64_groups(in, full, out);
	if (len % 3 != 0) {
		(void)EVP_EncodeBlock(tmp, in + full, (int)(len % 3));
		memcpy(out + w, tmp, 4);
		w += 4;
	}
	out[w] = '\0';
	return ((int)w);
}

int
wh_b64url_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	unsigned char	tmp[5];
	size_t		full, need, rest, w, i;

	if (len > ((size_t)INT_MAX / 4) * 3 - 3)
		return (-1);
	rest = len % 3;
	full = len - rest;
	need = (full / 3) * 4 + (rest == 0 ? 0 : rest + 1);
	if (outlen < need + 1)
		return (-1);

	w = b64_groups(in, full, out);
	if (rest != 0) {
		/* One or two '=' in tmp are dropped: unpadded. */
		(void)EVP_EncodeBlock(tmp, in + full, (int)rest);
		memcpy(out + w, tmp, rest + 1);
		w += rest + 1;
	}
	out[w] = '\0';
	for (i = 0; i < w; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return ((int)w);
}

static int
b64_std_char(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/');
}

/*
 * Strict: a multiple of 4 chars of the standard alphabet, with one or two
 * '=' only at the very end. EVP_DecodeBlock alone would also take
 * surrounding whitespace and gives no exact length.
 */
int
wh_b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	unsigned char	 tmp[3];
	const unsigned char *s = (const unsigned char *)in;
	size_t		 i, pad, need, body, off, n, w;

	if (len == 0)
		return (0);
	if (len % 4 != 0 || len > (size_t)INT_MAX)
		return (-1);
	pad = 0;
	if (s[len - 1] == '=') {
		pad = 1;
		if (s[len - 2] == '=')
			pad = 2;
	}
	for (i = 0; i < len - pad; i++) {
		if (!b64_std_char(s[i]))
			return (-1);
	}
	need = (len / 4) * 3 - pad;
	if (need > outlen)
		return (-1);

	/* All groups but the last straight into out: 3 bytes each. */
	body = len - 4;
	w = 0;
	for (off = 0; off < body; off += n) {
		n = body - off;
		if (n > DEC_CHUNK)
			n = DEC_CHUNK;
		if (EVP_DecodeBlock(out + w, s + off, (int)n) !=
		    (int)(n / 4 * 3))
			return (-1);
		w += n / 4 * 3;
	}
	if (EVP_DecodeBlock(tmp, s + body, 4) != 3)
		return (-1);
	memcpy(out + w, tmp, 3 - pad);
	w += 3 - pad;
	return ((int)w);
}

size_t
wh_hash(const void *p, size_t len)
{
	const unsigned char	*s = p;
	size_t			 h = 5381, i;

	for (i = 0; i < len; i++)
		h = h * 33 + s[i];
	return (h);
}

/* The value of one hex digit, or -1. */
int
wh_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * Length of the well-formed UTF-8 sequence at s (Unicode 15, table 3-7:
 * no overlongs, no encoded surrogates, nothing past U+10FFFF) with its
 * code point in *cp, or -1.
 */
int
wh_utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
	unsigned char	c = s[0], lo = 0x80, hi = 0xbf;
	int		n, i;

	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return (-1);
	if (avail < (size_t)n)
		return (-1);
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return (-1);
		lo = 0x80;
		hi = 0xbf;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return (n);
}

size_t
wh_utf8_put(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return (1);
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return (3);
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return (4);
}

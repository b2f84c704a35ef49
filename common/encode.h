/*
 * encode.h: UTF-8, decimal, hex and base64 (standard and URL-safe) with
 * explicit lengths, and the hash of the in-memory tables.
 * OpenSSL does the base64 work; these wrappers fix the alphabet, padding
 * and bounds so callers never guess an output size.
 */
#ifndef WH_ENCODE_H
#define WH_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The well-formed UTF-8 sequence at s (avail bytes left, avail >= 1): its
 * length with its code point in *cp, or -1 (overlong, surrogate, past
 * U+10FFFF, cut short or not a lead byte).
 */
int	wh_utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp);
/* Code point cp (<= U+10FFFF) as UTF-8 into out; returns the length. */
size_t	wh_utf8_put(uint32_t cp, unsigned char out[4]);

/* Bytes needed for the base64 text of n bytes, NUL included. */
#define WH_B64_LEN(n)	((((n) + 2) / 3) * 4 + 1)

/* Digits of a uint64_t in decimal: at most 20. */
#define WH_DEC_MAX	20
/* v in decimal into out (no NUL); the number of digits. */
size_t	wh_dec_encode(uint64_t v, char out[WH_DEC_MAX]);

/* Lowercase hex; out must hold 2*len+1. Returns chars written (no NUL). */
size_t	wh_hex_encode(const unsigned char *, size_t, char *out);

/* The value of one hex digit, or -1. */
int	wh_hexval(unsigned char);

/*
 * The hash of the in-memory tables (djb2): cheap, spreads short ids
 * well, and is not for anything an attacker may choose to collide (the
 * tables it slots are keyed by our own sids or sized caches).
 */
size_t	wh_hash(const void *, size_t);

/* Standard alphabet, padded. Returns chars written or -1 if outlen short. */
int	wh_b64_encode(const unsigned char *, size_t, char *out, size_t outlen);

/* URL-safe alphabet (-_), no padding. Same return convention. */
int	wh_b64url_encode(const unsigned char *, size_t, char *out,
	    size_t outlen);

/*
 * Standard base64 decode (padding required, no whitespace). Returns the
 * number of bytes written, or -1 on bad input or short output.
 */
int	wh_b64_decode(const char *, size_t, unsigned char *out, size_t outlen);

#endif

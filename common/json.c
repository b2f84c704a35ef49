/*
 * json.c: a strict RFC 8259 validator, a top-level member finder and a
 * string escaper. Payloads are carried as the publisher's exact text, so
 * the validator only accepts; it never builds a tree. It is strict where
 * lenient parsers disagree, since whatever we accept is passed on to
 * every receiver's parser: UTF-8 must be well formed (no overlongs, no
 * encoded surrogates, nothing past U+10FFFF), \u escapes of surrogates
 * must come in high+low pairs, nesting is bounded by WH_JSON_DEPTH_MAX
 * (which also bounds the recursion here), and nothing but whitespace may
 * follow the value.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "buf.h"
#include "encode.h"
#include "json.h"

struct jp {
	const unsigned char	*p;
	const unsigned char	*end;
	int			 depth;
	int			 trusted;	/* validated already: skip */
	int			 deep;		/* refused for its depth */
};

static int	jp_value(struct jp *);

/* A walk over buf[0..len), trusted or not, at nesting depth 0. */
static void
jp_init(struct jp *j, const char *buf, size_t len, int trusted)
{
	j->p = (const unsigned char *)buf;
	j->end = j->p + len;
	j->depth = 0;
	j->trusted = trusted;
	j->deep = 0;
}

/* Why a walk failed: WH_JSON_DEEP when it met the depth limit. */
static int
jp_fail(const struct jp *j)
{
	return (j->deep ? WH_JSON_DEEP : WH_JSON_INVALID);
}

/* Names one member walk looks for at most (json.h: n <= 16). */
#define MEMBERS_MAX	16

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL
/* Nonzero when some byte of w is zero (exact for "some"). */
#define ZERO_BYTE(w)		(((w) - ONES) & ~(w) & HIGHS)
/* Nonzero when some byte of w is below n <= 128 (exact for "some"). */
#define BYTE_BELOW(w, n)	(((w) - ONES * (n)) & ~(w) & HIGHS)

/*
 * Skip the plain characters at the start of a string's remaining text:
 * printable ASCII other than '"' and '\\' (and, when the text is trusted,
 * anything but those two). Strings are where the bytes of an event are
 * (a 1 KiB payload is mostly one or a few), so this is the validator's
 * hot loop: sixteen bytes at a time with SSE2 (every x86-64 has it; the
 * first byte that is not plain is found in the block), then eight at a
 * time in a word. The byte-wise loops after it judge whatever this stops
 * at.
 */
static const unsigned char *
plain_run(const unsigned char *p, const unsigned char *end, int trusted)
{
	uint64_t	w;
#if defined(__SSE2__)
	const __m128i	quote = _mm_set1_epi8('"');
	const __m128i	bslash = _mm_set1_epi8('\\');
	const __m128i	space = _mm_set1_epi8(0x20);
	__m128i		v, hit;
	int		mask;

	while (end - p >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote),
		    _mm_cmpeq_epi8(v, bslash));
		/* As signed bytes, both < 0x20 and >= 0x80 are below 0x20. */
		if (!trusted)
			hit = _mm_or_si128(hit, _mm_cmplt_epi8(v, space));
		if ((mask = _mm_movemask_epi8(hit)) != 0)
			return (p + __builtin_ctz((unsigned int)mask));
		p += 16;
	}
#endif

	while (end - p >= 8) {
		memcpy(&w, p, sizeof(w));
		if (ZERO_BYTE(w ^ (ONES * '"')) || ZERO_BYTE(w ^ (ONES * '\\')))
			break;
		if (!trusted && ((w & HIGHS) || BYTE_BELOW(w, 0x20)))
			break;
		p += 8;
	}
	return (p);
}

/* The four hex digits after "\u" at s (avail bytes left) into *v. */
static int
hex4(const unsigned char *s, size_t avail, uint32_t *v)
{
	int	i, h;

	if (avail < 4)
		return (-1);
	*v = 0;
	for (i = 0; i < 4; i++) {
		if ((h = wh_hexval(s[i])) == -1)
			return (-1);
		*v = (*v << 4) | (uint32_t)h;
	}
	return (0);
}

/*
 * The escape at s (just after the backslash): its length in bytes and,
 * in *cp, the code point it stands for. A high surrogate must be followed
 * by "\u" and a low one; a lone surrogate is refused.
 */
static int
escape_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
	uint32_t	lo;

	if (avail < 1)
		return (-1);
	switch (s[0]) {
	case '"':
	case '\\':
	case '/':
		*cp = s[0];
		return (1);
	case 'b':
		*cp = '\b';
		return (1);
	case 'f':
		*cp = '\f';
		return (1);
	case 'n':
		*cp = '\n';
		return (1);
	case 'r':
		*cp = '\r';
		return (1);
	case 't':
		*cp = '\t';
		return (1);
	case 'u':
		break;
	default:
		return (-1);
	}
	if (hex4(s + 1, avail - 1, cp) == -1)
		return (-1);
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return (-1);
	if (*cp < 0xd800 || *cp > 0xdbff)
		return (5);
	if (avail < 7 || s[5] != '\\' || s[6] != 'u' ||
	    hex4(s + 7, avail - 7, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
		return (-1);
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return (11);
}

static void
jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* A string; j->p on the opening quote, left just past the closing one. */
static int
jp_string(struct jp *j)
{
	uint32_t	cp;
	int		n;

	if (j->p >= j->end || *j->p != '"')
		return (-1);
	j->p++;
	if (j->trusted) {
		/* Valid text: only the closing quote matters. */
		while ((j->p = plain_run(j->p, j->end, 1)) < j->end &&
		    *j->p != '"')
			j->p += *j->p == '\\' && j->p + 1 < j->end ? 2 : 1;
		if (j->p >= j->end)
			return (-1);
		j->p++;
		return (0);
	}
	while ((j->p = plain_run(j->p, j->end, 0)) < j->end) {
		if (*j->p == '"') {
			j->p++;
			return (0);
		}
		if (*j->p < 0x20)
			return (-1);
		if (*j->p == '\\') {
			n = escape_seq(j->p + 1, (size_t)(j->end - j->p - 1),
			    &cp);
			if (n == -1)
				return (-1);
			j->p += 1 + n;
		} else if (*j->p >= 0x80) {
			n = wh_utf8_seq(j->p, (size_t)(j->end - j->p), &cp);
			if (n == -1)
				return (-1);
			j->p += n;
		} else
			j->p++;
	}
	return (-1);
}

/* Skip one or more digits; -1 if there is none. */
static int
jp_digits(struct jp *j)
{
	const unsigned char	*start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return (j->p == start ? -1 : 0);
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int
jp_number(struct jp *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return (-1);
	if (*j->p == '0')
		j->p++;
	else if (jp_digits(j) == -1)
		return (-1);
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (jp_digits(j) == -1)
			return (-1);
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (jp_digits(j) == -1)
			return (-1);
	}
	return (0);
}

static int
jp_literal(struct jp *j, const char *lit, size_t len)
{
	if ((size_t)(j->end - j->p) < len || memcmp(j->p, lit, len) != 0)
		return (-1);
	j->p += len;
	return (0);
}

/* One level deeper; -1 (and j->deep) past WH_JSON_DEPTH_MAX. */
static int
jp_enter(struct jp *j)
{
	if (++j->depth > WH_JSON_DEPTH_MAX) {
		j->deep = 1;
		return (-1);
	}
	return (0);
}

static int
jp_array(struct jp *j)
{
	if (jp_enter(j) == -1)
		return (-1);
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		j->depth--;
		return (0);
	}
	for (;;) {
		if (jp_value(j) == -1)
			return (-1);
		jp_ws(j);
		if (j->p >= j->end)
			return (-1);
		if (*j->p == ']')
			break;
		if (*j->p != ',')
			return (-1);
		j->p++;
		jp_ws(j);
	}
	j->p++;
	j->depth--;
	return (0);
}

/*
 * One member, j->p on its name's opening quote: "name" : value, with the
 * name's contents (escapes as written) in [*ns, *ne) and the value in
 * [*vs, *ve). Inlined: it is the validator's inner loop for objects.
 */
static inline __attribute__((always_inline)) int
jp_member(struct jp *j, const unsigned char **ns, const unsigned char **ne,
    const unsigned char **vs, const unsigned char **ve)
{
	*ns = j->p + 1;
	if (jp_string(j) == -1)
		return (-1);
	*ne = j->p - 1;
	jp_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return (-1);
	j->p++;
	jp_ws(j);
	*vs = j->p;
	if (jp_value(j) == -1)
		return (-1);
	*ve = j->p;
	return (0);
}

static int
jp_object(struct jp *j)
{
	const unsigned char	*ns, *ne, *vs, *ve;

	if (jp_enter(j) == -1)
		return (-1);
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		j->depth--;
		return (0);
	}
	for (;;) {
		if (jp_member(j, &ns, &ne, &vs, &ve) == -1)
			return (-1);
		jp_ws(j);
		if (j->p >= j->end)
			return (-1);
		if (*j->p == '}')
			break;
		if (*j->p != ',')
			return (-1);
		j->p++;
		jp_ws(j);
	}
	j->p++;
	j->depth--;
	return (0);
}

/* One value, no surrounding whitespace. */
static int
jp_value(struct jp *j)
{
	if (j->p >= j->end)
		return (-1);
	switch (*j->p) {
	case '{':
		return (jp_object(j));
	case '[':
		return (jp_array(j));
	case '"':
		return (jp_string(j));
	case 't':
		return (jp_literal(j, "true", 4));
	case 'f':
		return (jp_literal(j, "false", 5));
	case 'n':
		return (jp_literal(j, "null", 4));
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return (jp_number(j));
		return (-1);
	}
}

int
wh_json_check(const char *buf, size_t len)
{
	struct jp	j;

	if (buf == NULL)
		return (WH_JSON_INVALID);
	jp_init(&j, buf, len, 0);
	jp_ws(&j);
	if (jp_value(&j) == -1)
		return (jp_fail(&j));
	jp_ws(&j);
	return (j.p == j.end ? 0 : WH_JSON_INVALID);
}

int
wh_json_valid(const char *buf, size_t len)
{
	return (wh_json_check(buf, len) == 0);
}

/*
 * Whether the (already validated) string contents [s, e) decode to
 * exactly name: "event\u005ftype" is the member "event_type", as any
 * other parser of the same text would read it.
 */
static int
key_equals(const unsigned char *s, const unsigned char *e, const char *name,
    size_t nlen)
{
	unsigned char	u[4];
	uint32_t	cp;
	size_t		off, n;
	int		k;

	off = 0;
	while (s < e) {
		if (*s == '\\') {
			if ((k = escape_seq(s + 1, (size_t)(e - s - 1),
			    &cp)) == -1)
				return (0);
			s += 1 + k;
			n = wh_utf8_put(cp, u);
			if (nlen - off < n || memcmp(name + off, u, n) != 0)
				return (0);
			off += n;
		} else {
			if (off >= nlen || (unsigned char)name[off] != *s)
				return (0);
			off++;
			s++;
		}
	}
	return (off == nlen);
}

/*
 * Open the object at the start of the walk's text (whitespace allowed):
 * j->p is left on its first member or its closing brace. The object
 * itself is depth 1, as wh_json_valid counts it.
 */
static int
obj_open(struct jp *j)
{
	j->depth = 1;
	jp_ws(j);
	if (j->p >= j->end || *j->p != '{')
		return (-1);
	j->p++;
	jp_ws(j);
	return (0);
}

/*
 * The next member of an object opened with obj_open: 1 with its name's
 * contents (between the quotes, escapes as written) in [*ns, *ne) and its
 * value in [*vs, *ve); 0 past the closing brace, where nothing but
 * whitespace may follow; -1 when the text is not a valid object. Each
 * member is validated (unless trusted) as the walk passes it, so callers
 * read and check a body in one pass.
 */
static int
obj_next(struct jp *j, const unsigned char **ns, const unsigned char **ne,
    const unsigned char **vs, const unsigned char **ve)
{
	if (j->p >= j->end)
		return (-1);
	if (*j->p == '}') {
		j->p++;
		jp_ws(j);
		return (j->p == j->end ? 0 : -1);
	}
	if (jp_member(j, ns, ne, vs, ve) == -1)
		return (-1);
	jp_ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		jp_ws(j);
		/* A member must follow: no "{"a":1,}". */
		if (j->p >= j->end || *j->p == '}')
			return (-1);
	} else if (j->p >= j->end || *j->p != '}')
		return (-1);
	return (1);
}

/*
 * Walk the top level of an object text and give the raw span of each of
 * the n names asked for. Returns a bit set of the names found; -1 when
 * the text is not a JSON object (WH_JSON_DEEP when it nests too deep),
 * -2 when a name occurs twice at the top level (parsers disagree on
 * which one wins, so the text is ambiguous and refused). With trusted set
 * the text is known to be valid (one cheap walk that skips values);
 * otherwise the walk validates it as it goes, with the same rules as
 * wh_json_valid.
 */
static int
members_walk(const char *buf, size_t len, const char *const *names,
    size_t n, const char **vals, size_t *vlens, int trusted)
{
	struct jp		 j;
	const unsigned char	*ns, *ne, *vs, *ve;
	size_t			 i, nlen[MEMBERS_MAX];
	int			 found = 0, repeated = 0, rc;

	if (n > MEMBERS_MAX)
		return (-1);
	for (i = 0; i < n; i++)
		nlen[i] = strlen(names[i]);
	jp_init(&j, buf, len, trusted);
	if (obj_open(&j) == -1)
		return (-1);
	while ((rc = obj_next(&j, &ns, &ne, &vs, &ve)) == 1) {
		for (i = 0; i < n; i++) {
			if (!key_equals(ns, ne, names[i], nlen[i]))
				continue;
			if (found & (1 << i)) {
				/* Untrusted: still invalid (-1) first. */
				if (trusted)
					return (-2);
				repeated = 1;
			}
			found |= 1 << i;
			vals[i] = (const char *)vs;
			vlens[i] = (size_t)(ve - vs);
		}
	}
	if (rc == -1)
		return (jp_fail(&j));
	return (repeated ? -2 : found);
}

int
wh_json_member(const char *buf, size_t len, const char *name,
    const char **val, size_t *vlen)
{
	const char	*names[1] = { name };
	int		 found;

	if ((found = members_walk(buf, len, names, 1, val, vlen, 0)) < 0)
		return (-1);
	return (found & 1);
}

int
wh_json_members_trusted(const char *buf, size_t len,
    const char *const *names, size_t n, const char **vals, size_t *vlens)
{
	int	found;

	found = members_walk(buf, len, names, n, vals, vlens, 1);
	return (found < 0 ? -1 : found);
}

int
wh_json_members(const char *buf, size_t len, const char *const *names,
    size_t n, const char **vals, size_t *vlens)
{
	if (buf == NULL)
		return (-1);
	return (members_walk(buf, len, names, n, vals, vlens, 0));
}

int
wh_json_object(const char *buf, size_t len, struct wh_json_member *m,
    size_t max, int trusted)
{
	struct jp		 j;
	const unsigned char	*ns, *ne, *vs, *ve;
	size_t			 n = 0;
	int			 rc;

	if (buf == NULL)
		return (WH_JSON_INVALID);
	jp_init(&j, buf, len, trusted);
	if (obj_open(&j) == -1)
		return (WH_JSON_INVALID);
	while ((rc = obj_next(&j, &ns, &ne, &vs, &ve)) == 1) {
		if (n < max) {
			m[n].name = (const char *)ns;
			m[n].nlen = (size_t)(ne - ns);
			m[n].val = (const char *)vs;
			m[n].vlen = (size_t)(ve - vs);
		}
		if (n == INT_MAX)
			return (WH_JSON_INVALID);
		n++;
	}
	if (rc == -1)
		return (jp_fail(&j));
	return ((int)n);
}

int
wh_json_elements(const char *buf, size_t len, const char **vals,
    size_t *lens, size_t max)
{
	if (!wh_json_valid(buf, len))
		return (-1);
	return (wh_json_elements_trusted(buf, len, vals, lens, max));
}

/*
 * Walk the elements of an array text known to be valid, giving the spans
 * of those from index `from` on: at most max of them, then -2 (more
 * follow) or, with stop set, the max found. Returns the number given, -1
 * if the text is not an array.
 */
static int
elements_walk(const char *buf, size_t len, size_t from, const char **vals,
    size_t *lens, size_t max, int stop)
{
	struct jp		 j;
	const unsigned char	*vs;
	size_t			 i = 0, n = 0;

	jp_init(&j, buf, len, 1);
	j.depth = 1;
	jp_ws(&j);
	if (j.p >= j.end || *j.p != '[')
		return (-1);
	j.p++;
	jp_ws(&j);
	while (j.p < j.end && *j.p != ']') {
		vs = j.p;
		if (jp_value(&j) == -1)
			return (-1);
		if (i++ >= from) {
			if (n == max)
				return (stop ? (int)n : -2);
			vals[n] = (const char *)vs;
			lens[n++] = (size_t)(j.p - vs);
			if (stop && n == max)
				return ((int)n);
		}
		jp_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			jp_ws(&j);
		}
	}
	return ((int)n);
}

int
wh_json_elements_trusted(const char *buf, size_t len, const char **vals,
    size_t *lens, size_t max)
{
	return (elements_walk(buf, len, 0, vals, lens, max, 0));
}

/*
 * Decode a JSON string (quotes included) into out, NUL-terminated. A
 * U+0000 is refused (-2) when nul is -1, else written as the byte nul.
 */
static int
string_decode(const char *text, size_t len, char *out, size_t outlen,
    int nul)
{
	struct jp		 j;
	const unsigned char	*s, *e;
	unsigned char		 u[4];
	uint32_t		 cp;
	size_t			 off = 0, n, run;
	int			 k;

	jp_init(&j, text, len, 0);
	if (outlen == 0 || jp_string(&j) == -1 || j.p != j.end)
		return (-1);
	s = (const unsigned char *)text + 1;
	e = j.end - 1;
	while (s < e) {
		/* Runs without escapes are copied whole. */
		if ((run = (size_t)(plain_run(s, e, 1) - s)) > 0) {
			if (outlen - off <= run)
				return (-2);
			memcpy(out + off, s, run);
			off += run;
			s += run;
			continue;
		}
		if (*s == '\\') {
			if ((k = escape_seq(s + 1, (size_t)(e - s - 1),
			    &cp)) == -1)
				return (-1);
			s += 1 + k;
			if (cp == 0 && nul == -1)
				return (-2);
			if (cp == 0)
				cp = (uint32_t)nul;
			n = wh_utf8_put(cp, u);
		} else {
			u[0] = *s++;
			n = 1;
		}
		if (outlen - off <= n)
			return (-2);
		memcpy(out + off, u, n);
		off += n;
	}
	out[off] = '\0';
	return ((int)off);
}

int
wh_json_string(const char *text, size_t len, char *out, size_t outlen)
{
	return (string_decode(text, len, out, outlen, -1));
}

int
wh_json_text(const char *text, size_t len, char *out, size_t outlen)
{
	return (string_decode(text, len, out, outlen, 0x7f));
}

/*
 * Quote and escape s. Valid UTF-8 is copied as is; a byte that does not
 * start a well-formed sequence becomes U+FFFD, so the output is always
 * valid JSON (log lines carry whatever a peer sent us).
 */
int
wh_json_str(struct wh_buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[6];
	const char		*rep;
	uint32_t		 cp;
	size_t			 i, run, rlen;
	int			 n;

	if (wh_buf_append(b, "\"", 1) == -1)
		return (-1);
	run = 0;
	for (i = 0; i < len; ) {
		/* Printable ASCII but '"' and '\\' goes as it is, in runs. */
		if ((i = (size_t)(plain_run(p + i, p + len, 0) - p)) >= len)
			break;
		rep = NULL;
		rlen = 0;
		n = 1;
		if (p[i] >= 0x80) {
			if ((n = wh_utf8_seq(p + i, len - i, &cp)) == -1) {
				rep = "\\ufffd";
				rlen = 6;
				n = 1;
			}
		} else if (p[i] == '"') {
			rep = "\\\"";
			rlen = 2;
		} else if (p[i] == '\\') {
			rep = "\\\\";
			rlen = 2;
		} else if (p[i] < 0x20) {
			rlen = 2;
			switch (p[i]) {
			case '\b':
				rep = "\\b";
				break;
			case '\f':
				rep = "\\f";
				break;
			case '\n':
				rep = "\\n";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\t':
				rep = "\\t";
				break;
			default:
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[p[i] >> 4];
				esc[5] = hex[p[i] & 0x0f];
				rep = esc;
				rlen = 6;
				break;
			}
		}
		if (rep == NULL) {
			i += (size_t)n;
			continue;
		}
		if (wh_buf_append(b, p + run, i - run) == -1 ||
		    wh_buf_append(b, rep, rlen) == -1)
			return (-1);
		i += (size_t)n;
		run = i;
	}
	if (wh_buf_append(b, p + run, len - run) == -1 ||
	    wh_buf_append(b, "\"", 1) == -1)
		return (-1);
	return (0);
}

int
wh_json_element_trusted(const char *buf, size_t len, size_t index,
    const char **val, size_t *vlen)
{
	int	n;

	if ((n = elements_walk(buf, len, index, val, vlen, 1, 1)) < 0)
		return (-1);
	return (n);
}

/*
 * Compare decoded string contents with s one escape at a time, so that
 * a payload string of any length is compared without a copy: the
 * publisher may write "call\u002eended" for "call.ended".
 */
int
wh_json_string_cmp(const char *text, size_t len, const char *s, size_t slen,
    int prefix)
{
	const unsigned char	*p, *e;
	unsigned char		 u[4];
	uint32_t		 cp;
	size_t			 off = 0, n;
	int			 k;

	if (len < 2 || text[0] != '"' || text[len - 1] != '"')
		return (-1);
	p = (const unsigned char *)text + 1;
	e = (const unsigned char *)text + len - 1;
	while (p < e) {
		if (prefix && off == slen)
			return (0);
		if (*p == '\\') {
			if ((k = escape_seq(p + 1, (size_t)(e - p - 1),
			    &cp)) == -1)
				return (-1);
			p += 1 + k;
			n = wh_utf8_put(cp, u);
		} else {
			u[0] = *p++;
			n = 1;
		}
		if (slen - off < n || memcmp(s + off, u, n) != 0)
			return (1);
		off += n;
	}
	return (off == slen ? 0 : 1);
}

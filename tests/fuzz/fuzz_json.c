/*
 * fuzz_json.c: common/json.c on any bytes. Every api request body and
 * every payload published straight into Redis goes through the checker
 * and the member finder; the escaper writes peers' bytes into our logs
 * and delivered bodies.
 *
 * Checks, beyond memory safety:
 * - validity does not depend on surrounding whitespace;
 * - the member finder answers only for valid objects, and a value it
 *   finds lies inside the text, is trimmed and is valid JSON itself;
 * - a value wrapped as {"k":<value>} is found again byte for byte;
 * - the escaper always writes one valid JSON string, and a name it
 *   escaped is found again as a member under the same name and decodes
 *   back to the same bytes;
 * - the array splitter answers only for valid arrays; its elements are
 *   inside the text, trimmed and valid, and joined again they split the
 *   same; a cap below their number is reported as such;
 * - a decoded string is valid UTF-8 without NUL, and escaped again it
 *   decodes to the same bytes;
 * - on valid text, the faster "trusted" walks (wh_json_members_trusted,
 *   wh_json_elements_trusted) find exactly what the checked ones find;
 * - the one-pass reader (wh_json_members) refuses exactly what is not a
 *   valid object (with wh_json_check's reason), tells a repeated name apart, and otherwise finds what
 *   the trusted walk finds;
 * - wh_json_check agrees with wh_json_valid, and a valid text inside 64
 *   more arrays is refused as nested too deep exactly when it is an array
 *   or an object itself;
 * - the object walk every api body goes through (wh_json_object) accepts
 *   exactly the valid objects and otherwise gives wh_json_check's reason;
 *   its members lie inside the text, names between their quotes, values
 *   trimmed and valid; the trusted walk and a smaller cap list the same
 *   members; the members written out again list the same; a cut copy of
 *   a valid object (in a buffer of exactly its size, so that a read past
 *   the end is caught) is refused;
 * - wh_json_text decodes what wh_json_string decodes, the same bytes but
 *   U+0000 as DEL.
 */
#include "buf.h"
#include "json.h"

#include "fuzz.h"

static const char *const names[] = {
	"payload", "event_type", "company_sid", "event_sid", "k", "", NULL
};

static int
is_ws(char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/* The text's first non-whitespace byte, or 0. */
static char
first_byte(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len && is_ws(s[i]); i++)
		;
	return (i < len ? s[i] : 0);
}

static void
check_whitespace(const char *s, size_t len, int valid)
{
	struct wh_buf	b;

	wh_buf_init(&b, 0);
	if (wh_buf_append(&b, " \r\n", 3) == -1 ||
	    wh_buf_append(&b, s, len) == -1 ||
	    wh_buf_append(&b, "\t ", 2) == -1) {
		wh_buf_free(&b);
		return;
	}
	FUZZ_CHECK(wh_json_valid(b.data, b.len) == valid);
	wh_buf_free(&b);
}

static void
check_members(const char *s, size_t len, int valid)
{
	const char	*v;
	size_t		 i, vlen;
	int		 rc, obj;

	obj = valid && first_byte(s, len) == '{';
	for (i = 0; names[i] != NULL; i++) {
		v = NULL;
		vlen = 0;
		rc = wh_json_member(s, len, names[i], &v, &vlen);
		FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
		if (!obj)
			FUZZ_CHECK(rc == -1);
		if (rc != 1)
			continue;
		FUZZ_CHECK(v >= s && vlen > 0 && vlen <= len &&
		    (size_t)(v - s) <= len - vlen);
		FUZZ_CHECK(!is_ws(v[0]) && !is_ws(v[vlen - 1]));
		FUZZ_CHECK(wh_json_valid(v, vlen));
	}
}

/* {"k":<text>}: when that is valid, "k" is exactly the text, trimmed. */
static void
check_wrapped(const char *s, size_t len, int valid)
{
	struct wh_buf	 b;
	const char	*v;
	size_t		 vlen, lead, trail;

	wh_buf_init(&b, 0);
	if (wh_buf_append(&b, "{\"k\":", 5) == -1 ||
	    wh_buf_append(&b, s, len) == -1 ||
	    wh_buf_append(&b, "}", 1) == -1) {
		wh_buf_free(&b);
		return;
	}
	if (valid && wh_json_valid(b.data, b.len)) {
		for (lead = 0; lead < len && is_ws(s[lead]); lead++)
			;
		for (trail = 0; trail < len - lead &&
		    is_ws(s[len - 1 - trail]); trail++)
			;
		FUZZ_CHECK(wh_json_member(b.data, b.len, "k", &v,
		    &vlen) == 1);
		FUZZ_CHECK(vlen == len - lead - trail &&
		    memcmp(v, s + lead, vlen) == 0);
	}
	wh_buf_free(&b);
}

#define ELEMS_MAX	16
#define STRING_MAX	8192

/*
 * Text t, escaped from the len bytes of s, decodes back to s unless s
 * held a NUL (refused) or invalid UTF-8 (replaced by U+FFFD).
 */
static void
check_decode_back(const char *t, size_t tlen, const char *s, size_t len)
{
	char	*out;
	int	 n;

	if (memmem(t, tlen, "\\ufffd", 6) != NULL ||
	    (out = malloc(STRING_MAX)) == NULL)
		return;
	n = wh_json_string(t, tlen, out, STRING_MAX);
	if (memchr(s, '\0', len) != NULL)
		FUZZ_CHECK(n == -2);
	else if (len < STRING_MAX)
		FUZZ_CHECK(n >= 0 && (size_t)n == len &&
		    memcmp(out, s, len) == 0);
	free(out);
}

static void
check_string(const char *s, size_t len, int valid)
{
	struct wh_buf	 b;
	char		*out, *again;
	int		 n, m;

	if ((out = malloc(STRING_MAX)) == NULL)
		return;
	n = wh_json_string(s, len, out, STRING_MAX);
	FUZZ_CHECK(n >= -2);
	if (valid && len > 1 && s[0] == '"' && s[len - 1] == '"')
		FUZZ_CHECK(n != -1);
	if (n >= 0) {
		FUZZ_CHECK(valid && strlen(out) == (size_t)n);
		wh_buf_init(&b, 0);
		if (wh_json_str(&b, out, (size_t)n) == 0 &&
		    (again = malloc(STRING_MAX)) != NULL) {
			FUZZ_CHECK(memmem(b.data, b.len, "\\ufffd", 6) ==
			    NULL || memmem(out, (size_t)n, "\\ufffd", 6) !=
			    NULL);
			m = wh_json_string(b.data, b.len, again, STRING_MAX);
			FUZZ_CHECK(m == n &&
			    memcmp(again, out, (size_t)n) == 0);
			free(again);
		}
		wh_buf_free(&b);
	}
	free(out);
}

static void
check_elements(const char *s, size_t len, int valid)
{
	const char	*v[ELEMS_MAX], *v2[ELEMS_MAX];
	size_t		 l[ELEMS_MAX], l2[ELEMS_MAX], i;
	struct wh_buf	 b;
	int		 n, n2;

	n = wh_json_elements(s, len, v, l, ELEMS_MAX);
	if (!valid || first_byte(s, len) != '[') {
		FUZZ_CHECK(n == -1);
		return;
	}
	FUZZ_CHECK(n >= 0 || n == -2);
	if (n < 0)
		return;
	wh_buf_init(&b, 0);
	if (wh_buf_append(&b, "[", 1) == -1)
		goto out;
	for (i = 0; i < (size_t)n; i++) {
		FUZZ_CHECK(v[i] >= s && l[i] > 0 &&
		    (size_t)(v[i] - s) + l[i] <= len);
		FUZZ_CHECK(!is_ws(v[i][0]) && !is_ws(v[i][l[i] - 1]));
		FUZZ_CHECK(wh_json_valid(v[i], l[i]));
		if ((i > 0 && wh_buf_append(&b, ",", 1) == -1) ||
		    wh_buf_append(&b, v[i], l[i]) == -1)
			goto out;
	}
	if (wh_buf_append(&b, "]", 1) == -1)
		goto out;
	n2 = wh_json_elements(b.data, b.len, v2, l2, ELEMS_MAX);
	FUZZ_CHECK(n2 == n);
	for (i = 0; i < (size_t)n; i++)
		FUZZ_CHECK(l2[i] == l[i] && memcmp(v2[i], v[i], l[i]) == 0);
	if (n > 0)
		FUZZ_CHECK(wh_json_elements(s, len, v2, l2,
		    (size_t)n - 1) == -2);
out:
	wh_buf_free(&b);
}

/* The trusted walks agree with the checked ones on valid text. */
static void
check_trusted(const char *s, size_t len, int valid)
{
	const char	*v[ELEMS_MAX], *v2[ELEMS_MAX], *mv;
	size_t		 l[ELEMS_MAX], l2[ELEMS_MAX], ml, i, n;
	int		 bits, rc, dup = 0, e1, e2;

	if (!valid)
		return;
	for (n = 0; names[n] != NULL; n++)
		;
	bits = wh_json_members_trusted(s, len, names, n, v, l);
	for (i = 0; i < n; i++) {
		rc = wh_json_member(s, len, names[i], &mv, &ml);
		if (rc == -1 && first_byte(s, len) == '{')
			dup = 1;	/* this name given twice */
		if (bits < 0 || rc == -1)
			continue;
		FUZZ_CHECK(((bits >> i) & 1) == rc);
		if (rc == 1)
			FUZZ_CHECK(v[i] == mv && l[i] == ml);
	}
	if (first_byte(s, len) != '{' || dup)
		FUZZ_CHECK(bits == -1);
	else
		FUZZ_CHECK(bits >= 0);

	e1 = wh_json_elements(s, len, v, l, ELEMS_MAX);
	e2 = wh_json_elements_trusted(s, len, v2, l2, ELEMS_MAX);
	FUZZ_CHECK(e1 == e2);
	for (i = 0; e1 > 0 && i < (size_t)e1; i++)
		FUZZ_CHECK(v[i] == v2[i] && l[i] == l2[i]);
}

/* wh_json_members: validity and members in one walk. */
static void
check_one_pass(const char *s, size_t len, int valid)
{
	const char	*v[ELEMS_MAX], *tv[ELEMS_MAX];
	size_t		 l[ELEMS_MAX], tl[ELEMS_MAX], i, n;
	int		 bits, tbits;

	for (n = 0; names[n] != NULL; n++)
		;
	bits = wh_json_members(s, len, names, n, v, l);
	if (!valid && first_byte(s, len) == '{') {
		/* The reason the checker gives: invalid, or too deep. */
		FUZZ_CHECK(bits == wh_json_check(s, len));
		return;
	}
	if (!valid || first_byte(s, len) != '{') {
		FUZZ_CHECK(bits == -1);
		return;
	}
	tbits = wh_json_members_trusted(s, len, names, n, tv, tl);
	if (tbits == -1) {
		FUZZ_CHECK(bits == -2);
		return;
	}
	FUZZ_CHECK(bits == tbits);
	for (i = 0; i < n; i++) {
		if ((bits >> i) & 1)
			FUZZ_CHECK(v[i] == tv[i] && l[i] == tl[i]);
	}
}

#define DEEP_WRAP	WH_JSON_DEPTH_MAX

/* wh_json_check's reasons, and depth counted as the api counts it. */
static void
check_reason(const char *s, size_t len, int valid)
{
	struct wh_buf	b;
	char		c;
	int		rc, i;

	rc = wh_json_check(s, len);
	FUZZ_CHECK(rc == 0 || rc == WH_JSON_INVALID || rc == WH_JSON_DEEP);
	FUZZ_CHECK((rc == 0) == valid);
	if (!valid)
		return;
	wh_buf_init(&b, 0);
	for (i = 0; i < DEEP_WRAP; i++)
		if (wh_buf_append(&b, "[", 1) == -1)
			goto out;
	if (wh_buf_append(&b, s, len) == -1)
		goto out;
	for (i = 0; i < DEEP_WRAP; i++)
		if (wh_buf_append(&b, "]", 1) == -1)
			goto out;
	c = first_byte(s, len);
	rc = wh_json_check(b.data, b.len);
	FUZZ_CHECK(rc == ((c == '[' || c == '{') ? WH_JSON_DEEP : 0));
out:
	wh_buf_free(&b);
}

#define OBJ_MAX	32

/* A copy of s[0..len) in a buffer of exactly len bytes (NULL if none). */
static char *
exact_copy(const char *s, size_t len)
{
	char	*c;

	if ((c = malloc(len ? len : 1)) != NULL)
		memcpy(c, s, len);
	return (c);
}

static void
check_object(const char *s, size_t len, int valid)
{
	struct wh_json_member	 m[OBJ_MAX], t[OBJ_MAX], r[OBJ_MAX];
	struct wh_buf		 b;
	char			*cut;
	size_t			 i, k, step, shown, end;
	int			 n, nt, nr, obj;

	obj = valid && first_byte(s, len) == '{';
	n = wh_json_object(s, len, m, OBJ_MAX, 0);
	if (!obj) {
		FUZZ_CHECK(n < 0);
		if (first_byte(s, len) == '{')
			FUZZ_CHECK(n == wh_json_check(s, len));
		else
			FUZZ_CHECK(n == WH_JSON_INVALID);
		return;
	}
	FUZZ_CHECK(n >= 0);
	shown = (size_t)n < OBJ_MAX ? (size_t)n : OBJ_MAX;
	for (i = 0; i < shown; i++) {
		FUZZ_CHECK(m[i].name > s && m[i].name[-1] == '"' &&
		    (size_t)(m[i].name - s) + m[i].nlen < len &&
		    m[i].name[m[i].nlen] == '"');
		FUZZ_CHECK(m[i].val > m[i].name && m[i].vlen > 0 &&
		    (size_t)(m[i].val - s) + m[i].vlen <= len);
		FUZZ_CHECK(!is_ws(m[i].val[0]) &&
		    !is_ws(m[i].val[m[i].vlen - 1]));
		FUZZ_CHECK(wh_json_valid(m[i].val, m[i].vlen));
	}
	nt = wh_json_object(s, len, t, OBJ_MAX, 1);
	FUZZ_CHECK(nt == n);
	for (i = 0; i < shown; i++)
		FUZZ_CHECK(t[i].name == m[i].name && t[i].nlen == m[i].nlen &&
		    t[i].val == m[i].val && t[i].vlen == m[i].vlen);
	if (n > 0) {
		FUZZ_CHECK(wh_json_object(s, len, t, shown - 1, 0) == n);
		for (i = 0; i + 1 < shown; i++)
			FUZZ_CHECK(t[i].val == m[i].val);
	}

	/* Written out again, the members list the same. */
	wh_buf_init(&b, 0);
	if (wh_buf_append(&b, "{", 1) == -1)
		goto cuts;
	for (i = 0; i < shown; i++) {
		if ((i > 0 && wh_buf_append(&b, ",", 1) == -1) ||
		    wh_buf_append(&b, m[i].name - 1, m[i].nlen + 2) == -1 ||
		    wh_buf_append(&b, ":", 1) == -1 ||
		    wh_buf_append(&b, m[i].val, m[i].vlen) == -1)
			goto cuts;
	}
	if (wh_buf_append(&b, "}", 1) == -1)
		goto cuts;
	nr = wh_json_object(b.data, b.len, r, OBJ_MAX, 0);
	FUZZ_CHECK(nr == (int)shown);
	for (i = 0; i < shown; i++)
		FUZZ_CHECK(r[i].nlen == m[i].nlen && r[i].vlen == m[i].vlen &&
		    memcmp(r[i].name, m[i].name, m[i].nlen) == 0 &&
		    memcmp(r[i].val, m[i].val, m[i].vlen) == 0);
cuts:
	wh_buf_free(&b);

	/* Cut anywhere before its closing brace, it is no object. */
	for (end = len; end > 0 && is_ws(s[end - 1]); end--)
		;
	step = end / 16 + 1;
	for (k = 0; k < end; k += step) {
		if ((cut = exact_copy(s, k)) == NULL)
			return;
		FUZZ_CHECK(wh_json_object(cut, k, t, OBJ_MAX, 0) < 0);
		FUZZ_CHECK(!wh_json_valid(cut, k));
		free(cut);
	}
}

/* wh_json_text is wh_json_string with U+0000 as DEL. */
static void
check_text(const char *s, size_t len)
{
	char	*a, *b;
	int	 n, m, k;

	a = malloc(STRING_MAX);
	b = malloc(STRING_MAX);
	if (a == NULL || b == NULL)
		goto out;
	n = wh_json_string(s, len, a, STRING_MAX);
	m = wh_json_text(s, len, b, STRING_MAX);
	if (n >= 0) {
		FUZZ_CHECK(m == n && memcmp(a, b, (size_t)n) == 0);
	} else if (n == -1)
		FUZZ_CHECK(m == -1);
	else if (m >= 0) {
		/* Refused for a U+0000 (or room): no NUL in what it wrote. */
		FUZZ_CHECK(strlen(b) == (size_t)m);
		for (k = 0; k < m; k++)
			FUZZ_CHECK(b[k] != '\0');
	}
out:
	free(a);
	free(b);
}

static void
check_escape(const char *s, size_t len)
{
	struct wh_buf	 b, obj;
	const char	*v;
	char		*name;
	size_t		 vlen;

	wh_buf_init(&b, 0);
	wh_buf_init(&obj, 0);
	FUZZ_CHECK(wh_json_str(&b, s, len) == 0);
	FUZZ_CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
	FUZZ_CHECK(wh_json_valid(b.data, b.len));
	check_decode_back(b.data, b.len, s, len);

	/* Invalid UTF-8 becomes U+FFFD and no longer names the input. */
	if (memchr(s, '\0', len) == NULL &&
	    memmem(b.data, b.len, "\\ufffd", 6) == NULL &&
	    wh_buf_append(&obj, "{", 1) == 0 &&
	    wh_buf_append(&obj, b.data, b.len) == 0 &&
	    wh_buf_append(&obj, ":true}", 6) == 0 &&
	    (name = fuzz_cstr((const uint8_t *)s, len)) != NULL) {
		FUZZ_CHECK(wh_json_member(obj.data, obj.len, name, &v,
		    &vlen) == 1);
		FUZZ_CHECK(vlen == 4 && memcmp(v, "true", 4) == 0);
		free(name);
	}
	wh_buf_free(&obj);
	wh_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	int		 valid;

	valid = wh_json_valid(s, size);
	FUZZ_CHECK(valid == 0 || valid == 1);
	check_whitespace(s, size, valid);
	check_members(s, size, valid);
	check_wrapped(s, size, valid);
	check_elements(s, size, valid);
	check_trusted(s, size, valid);
	check_one_pass(s, size, valid);
	check_string(s, size, valid);
	check_reason(s, size, valid);
	check_object(s, size, valid);
	check_text(s, size);
	check_escape(s, size);
	return (0);
}

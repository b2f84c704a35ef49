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
 *   escaped is found again as a member under the same name.
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
	check_escape(s, size);
	return (0);
}

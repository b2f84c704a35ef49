/*
 * fuzz_body.c: the api's request body handling up to Kore's JSON parser
 * (api/fields.c body_parse): our strict checker (common/json.c) and the
 * rewrite of \uXXXX escapes (api/body_text.c) that Kore's parser does
 * not know. Kore's parser itself and the field readers after it
 * (api_field_*, api_webhook_parse) work on Kore's item tree: Kore is a
 * program, not a library we can link, so they are left to the e2e tests
 * (api-fuzz and api-validation, also run under ASan by make sanitize).
 *
 * Checks, on any bytes (the rewrite must stay in bounds even on text the
 * api never hands it) and, for valid JSON (what it is given):
 * - the rewrite succeeds (the checker already refused lone surrogates);
 * - the result is valid JSON with no \u escape left and no longer than
 *   the input, and is the input itself when it held no \u escape;
 * - rewriting the result again changes nothing.
 */
#include "api.h"
#include "json.h"

#include "fuzz.h"

/* Whether a string of text t holds a \u escape. */
static int
has_u_escape(const char *t, size_t len)
{
	size_t	i;
	int	in_str = 0;

	for (i = 0; i < len; i++) {
		if (t[i] == '"')
			in_str = !in_str;
		else if (in_str && t[i] == '\\' && i + 1 < len) {
			if (t[i + 1] == 'u')
				return (1);
			i++;
		}
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	struct wh_buf	 out, again;
	int		 rc;

	wh_buf_init(&out, 0);
	wh_buf_init(&again, 0);
	rc = api_body_unescape(s, size, &out);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (wh_json_valid(s, size)) {
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(out.len <= size);
		FUZZ_CHECK(wh_json_valid(out.data, out.len));
		FUZZ_CHECK(!has_u_escape(out.data, out.len));
		if (!has_u_escape(s, size))
			FUZZ_CHECK(out.len == size &&
			    memcmp(out.data, s, size) == 0);
		FUZZ_CHECK(api_body_unescape(out.data, out.len, &again) == 0);
		FUZZ_CHECK(again.len == out.len &&
		    memcmp(again.data, out.data, out.len) == 0);
	}
	wh_buf_free(&again);
	wh_buf_free(&out);
	return (0);
}

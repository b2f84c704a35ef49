/*
 * fuzz_query.c: the api's query string parser (api/query.c), linked
 * as it is. Kore hands the module the raw query string of the request
 * target; api_query_parse() splits and percent-decodes it. Its one tie
 * to Kore is the 400 it writes through api_problem(), which this target
 * defines to record the answer instead of sending it.
 *
 * Checks, beyond memory safety (and no leak, on every path):
 * - a refusal is exactly one invalid-parameter problem (400) and leaves
 *   nothing allocated; a success writes no answer;
 * - what is accepted has only allowed names, each once, at most
 *   API_QUERY_MAX of them, no control characters, and one pair per
 *   nonempty '&'-separated part; api_query_get() finds each value;
 * - the pairs, percent-encoded again, parse back to the same pairs.
 */
#include "api.h"

#include "fuzz.h"

static const char *const allowed[] = {
	"company_sid", "page_size", "sort", "page_token", "a b", "é", NULL
};

static int			problems;
static enum api_problem_kind	problem_kind;
static char	problem_field[256];

/* The api's error answer; here only recorded for the checks. */
int
api_problem(struct api_ctx *ctx, enum api_problem_kind kind,
    const char *detail, const char *field)
{
	FUZZ_CHECK(detail != NULL && *detail != '\0');
	problems++;
	problem_kind = kind;
	(void)snprintf(problem_field, sizeof(problem_field), "%s",
	    field != NULL ? field : "");
	return (API_DONE);
}

static int
parse(const char *qs, struct api_query *q)
{
	struct http_request	req;
	struct api_ctx		ctx;

	memset(&req, 0, sizeof(req));
	memset(&ctx, 0, sizeof(ctx));
	req.query_string = (char *)qs;
	ctx.req = &req;
	problems = 0;
	problem_kind = API_P_KINDS;
	problem_field[0] = '\0';
	return (api_query_parse(&ctx, allowed, q));
}

static int
is_allowed(const char *name)
{
	size_t	i;

	for (i = 0; allowed[i] != NULL; i++) {
		if (strcmp(allowed[i], name) == 0)
			return (1);
	}
	return (0);
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return (1);
	}
	return (0);
}

/* Nonempty '&'-separated parts of qs. */
static size_t
parts(const char *qs)
{
	size_t	n = 0, len = 0;

	for (;; qs++) {
		if (*qs == '&' || *qs == '\0') {
			if (len > 0)
				n++;
			len = 0;
			if (*qs == '\0')
				return (n);
		} else
			len++;
	}
}

/* Percent-encode what the parser would read as syntax or refuse. */
static int
pct_encode(struct wh_buf *b, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;
	char			e[3];

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c > 0x20 && c < 0x7f && strchr("&=%+", c) == NULL) {
			if (wh_buf_append(b, s, 1) == -1)
				return (-1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 0x0f];
		if (wh_buf_append(b, e, 3) == -1)
			return (-1);
	}
	return (0);
}

static void
check_accepted(const char *qs, struct api_query *q)
{
	struct api_query	 again;
	struct wh_buf		 b;
	size_t			 i, j, mark;

	FUZZ_CHECK(problems == 0);
	FUZZ_CHECK(q->n <= API_QUERY_MAX && q->n == parts(qs));
	for (i = 0; i < q->n; i++) {
		FUZZ_CHECK(is_allowed(q->name[i]));
		FUZZ_CHECK(!has_control(q->value[i]));
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(q->name[i], q->name[j]) != 0);
		FUZZ_CHECK(api_query_get(q, q->name[i]) == q->value[i]);
	}

	/* Encoded again; a part that grew past the parser's cap is skipped. */
	wh_buf_init(&b, 0);
	for (i = 0; i < q->n; i++) {
		if (i > 0 && wh_buf_append(&b, "&", 1) == -1)
			goto out;
		mark = b.len;
		if (pct_encode(&b, q->name[i]) == -1 ||
		    wh_buf_append(&b, "=", 1) == -1 ||
		    pct_encode(&b, q->value[i]) == -1)
			goto out;
		if (b.len - mark > 4096)
			goto out;
	}
	if (wh_buf_cstr(&b) == -1)
		goto out;
	FUZZ_CHECK(parse(b.data, &again) == 0);
	FUZZ_CHECK(again.n == q->n);
	for (i = 0; i < q->n; i++) {
		FUZZ_CHECK(strcmp(again.name[i], q->name[i]) == 0);
		FUZZ_CHECK(strcmp(again.value[i], q->value[i]) == 0);
	}
	api_query_free(&again);
out:
	wh_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_query	 q;
	char			*qs;

	/* Kore gives the module a C string: a NUL ends it. */
	if ((qs = fuzz_cstr(data, size)) == NULL)
		return (0);
	if (parse(qs, &q) == 0) {
		check_accepted(qs, &q);
	} else {
		FUZZ_CHECK(problems == 1 &&
		    problem_kind == API_P_INVALID_PARAMETER);
		FUZZ_CHECK(q.n == 0);
	}
	api_query_free(&q);
	free(qs);
	return (0);
}

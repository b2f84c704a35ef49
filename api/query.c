/*
 * query.c: the query string of a request, parsed here rather than by
 * Kore. Kore keeps only the arguments a route declares validators for
 * and drops the rest in silence; a strict API does the opposite: every
 * parameter is seen, so that a misspelt one ("pagesize=5") is refused
 * with a 400 naming it instead of quietly giving ten items.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "encode.h"

#define QUERY_VALUE_MAX		4096

/*
 * Percent-decode s[0..len) ("+" is a space) into a new string. NULL on a
 * malformed escape, a control character (NUL included) or ENOMEM.
 */
static char *
decode(const char *s, size_t len)
{
	char		*out;
	size_t		 i, o = 0;
	int		 hi, lo;
	unsigned char	 c;

	if ((out = malloc(len + 1)) == NULL)
		return (NULL);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= len)
				goto bad;
			if ((hi = wh_hexval((unsigned char)s[i + 1])) == -1 ||
			    (lo = wh_hexval((unsigned char)s[i + 2])) == -1)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (out);
bad:
	free(out);
	return (NULL);
}

static int
query_bad(struct api_ctx *ctx, struct api_query *q, const char *detail,
    const char *field)
{
	(void)api_problem(ctx, API_P_INVALID_PARAMETER, detail, field);
	api_query_free(q);
	return (-1);
}

/*
 * Split "a=1&b=2" into q, refusing unknown names (allowed is
 * NULL-terminated), repeated names, malformed escapes and oversized
 * values. -1 with a 400 written.
 */
int
api_query_parse(struct api_ctx *ctx, const char *const *allowed,
    struct api_query *q)
{
	const char		*qs, *p, *amp, *eq;
	const char *const	*a;
	size_t			 len, i;

	memset(q, 0, sizeof(*q));
	if (ctx->req == NULL || (qs = ctx->req->query_string) == NULL)
		return (0);
	for (p = qs; *p != '\0'; p = *amp ? amp + 1 : amp) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		len = (size_t)(amp - p);
		if (len == 0)
			continue;
		if (q->n >= API_QUERY_MAX)
			return (query_bad(ctx, q, "Too many query parameters.",
			    NULL));
		if ((eq = memchr(p, '=', len)) == NULL)
			eq = amp;
		if (len > QUERY_VALUE_MAX ||
		    (q->name[q->n] = decode(p, (size_t)(eq - p))) == NULL ||
		    (q->value[q->n] = decode(eq < amp ? eq + 1 : amp,
		    eq < amp ? (size_t)(amp - eq - 1) : 0)) == NULL) {
			q->n++;
			return (query_bad(ctx, q, "A query parameter is "
			    "malformed or too long.", NULL));
		}
		q->n++;
		for (a = allowed; *a != NULL; a++) {
			if (strcmp(*a, q->name[q->n - 1]) == 0)
				break;
		}
		if (*a == NULL)
			return (query_bad(ctx, q, "is not a known query "
			    "parameter", q->name[q->n - 1]));
		for (i = 0; i + 1 < q->n; i++) {
			if (strcmp(q->name[i], q->name[q->n - 1]) == 0)
				return (query_bad(ctx, q, "is given more than "
				    "once", q->name[i]));
		}
	}
	return (0);
}

const char *
api_query_get(const struct api_query *q, const char *name)
{
	size_t	i;

	for (i = 0; i < q->n; i++) {
		if (strcmp(q->name[i], name) == 0)
			return (q->value[i]);
	}
	return (NULL);
}

void
api_query_free(struct api_query *q)
{
	size_t	i;

	for (i = 0; i < q->n; i++) {
		free(q->name[i]);
		free(q->value[i]);
	}
	memset(q, 0, sizeof(*q));
}

/*
 * list.c: every collection the api lists (webhooks, signing keys, API
 * keys) is read, sorted and cut into pages here, the same way.
 *
 * Items are ordered by (sort value, sid), a total order, ascending or
 * the exact reverse. A page token holds the (value, sid) of the last
 * item shown and the next page starts strictly after it, so inserts and
 * deletes between two pages never make an item that existed on both
 * sides of them skip or repeat (keyset pagination). Strings compare as
 * bytes (so "Zeta" sorts before "alpha").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"

static const char *const	params_company[] = {
	"page_size", "sort", "page_token", "company_sid", NULL
};
static const char *const	params_plain[] = {
	"page_size", "sort", "page_token", NULL
};

static const struct {
	const char	*name;
	int		 field;
} sort_fields[] = {
	{ "created_at",	API_SORT_CREATED },
	{ "url",	API_SORT_URL },
	{ "label",	API_SORT_LABEL },
};

#define NSORT	(sizeof(sort_fields) / sizeof(sort_fields[0]))

/* "must be one of created_at, label (each .asc or .desc)" for sorts. */
static int
sort_problem(struct api_ctx *ctx, int sorts)
{
	const char	*sep = " ";
	char		 msg[128];
	size_t		 i, off;
	int		 n;

	off = (size_t)snprintf(msg, sizeof(msg), "must be one of");
	for (i = 0; i < NSORT; i++) {
		if (!(sorts & sort_fields[i].field))
			continue;
		n = snprintf(msg + off, sizeof(msg) - off, "%s%s", sep,
		    sort_fields[i].name);
		if (n > 0 && (size_t)n < sizeof(msg) - off)
			off += (size_t)n;
		sep = ", ";
	}
	(void)snprintf(msg + off, sizeof(msg) - off, ", optionally followed "
	    "by .asc or .desc");
	return (api_problem(ctx, API_P_INVALID_PARAMETER, msg, "sort"));
}

/* field[.asc|.desc] among the sorts allowed. -1 with a 400 written. */
static int
parse_sort(struct api_ctx *ctx, struct api_list *list, const char *v,
    int sorts)
{
	const char	*dot;
	size_t		 flen, i;

	if ((dot = strchr(v, '.')) == NULL)
		dot = v + strlen(v);
	flen = (size_t)(dot - v);
	for (i = 0; i < NSORT; i++) {
		if ((sorts & sort_fields[i].field) &&
		    strlen(sort_fields[i].name) == flen &&
		    memcmp(sort_fields[i].name, v, flen) == 0)
			break;
	}
	if (i == NSORT)
		return (sort_problem(ctx, sorts), -1);
	list->field = sort_fields[i].field;
	if (*dot == '\0' || strcmp(dot, ".asc") == 0)
		list->desc = 0;
	else if (strcmp(dot, ".desc") == 0)
		list->desc = 1;
	else
		return (sort_problem(ctx, sorts), -1);
	return (0);
}

/*
 * Read page_size, sort, page_token (and company_sid when company_ok)
 * from the query; anything else is refused. -1 with a 400 written.
 */
int
api_list_parse(struct api_ctx *ctx, struct api_list *list, int sorts,
    int company_ok)
{
	return (api_list_parse_with(ctx, list, sorts, company_ok ?
	    params_company : params_plain));
}

/*
 * api_list_parse for a list that takes its own query parameters
 * (allowed, NULL-terminated; page_size, page_token, sort and
 * company_sid are read when among them). -1 with a 400 written.
 */
int
api_list_parse_with(struct api_ctx *ctx, struct api_list *list, int sorts,
    const char *const *allowed)
{
	const char	*v;
	char		*end;
	long		 n;

	memset(list, 0, sizeof(*list));
	list->page_size = API_PAGE_DEFAULT;
	list->field = API_SORT_CREATED;
	if (api_query_parse(ctx, allowed, &list->query) == -1)
		return (-1);
	if ((v = api_query_get(&list->query, "page_size")) != NULL) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 1 ||
		    n > API_PAGE_MAX)
			return (api_problem(ctx, API_P_INVALID_PARAMETER,
			    "must be a whole number from 1 to 100",
			    "page_size"), -1);
		list->page_size = (int)n;
	}
	if ((v = api_query_get(&list->query, "sort")) != NULL &&
	    parse_sort(ctx, list, v, sorts) == -1)
		return (-1);
	list->token = api_query_get(&list->query, "page_token");
	list->company = api_query_get(&list->query, "company_sid");
	return (0);
}

/*
 * The company a list is of: a company key's own (naming another is a
 * 404, as for any of its resources), else the one the admin key names,
 * or NULL when it names none (and that is allowed). -1 with the answer
 * (400, 404) written.
 */
int
api_list_company(struct api_ctx *ctx, const struct api_list *list,
    int required, const char **out)
{
	const char	*c = list->company, *why;

	*out = NULL;
	if (!ctx->who.admin) {
		if (c != NULL && strcmp(c, ctx->who.company_sid) != 0)
			return (api_problem(ctx, API_P_NOT_FOUND, "No such "
			    "company.", "company_sid"), -1);
		*out = ctx->who.company_sid;
		return (0);
	}
	if (c == NULL && required)
		return (api_problem(ctx, API_P_INVALID_PARAMETER, "is required "
		    "with an admin API key", "company_sid"), -1);
	if (c != NULL && (why = wh_validate_company_sid(c,
	    strlen(c))) != NULL)
		return (api_problem(ctx, API_P_INVALID_PARAMETER, why,
		    "company_sid"), -1);
	*out = c;
	return (0);
}

/*
 * Ask for the page token secret if needed, then (when index is given)
 * the whole index: ZRANGE 0 -1 WITHSCORES. -1: nothing could be sent.
 */
int
api_list_begin(struct api_ctx *ctx, struct api_list *list, const char *index)
{
	const char	*argv[5];

	if ((list->nsecret = api_cursor_fetch(ctx)) == -1) {
		list->nsecret = 0;
		return (-1);
	}
	if (index == NULL)
		return (0);
	argv[0] = "ZRANGE";
	argv[1] = index;
	argv[2] = "0";
	argv[3] = "-1";
	argv[4] = "WITHSCORES";
	if (api_redis_cmd(ctx, 5, argv, NULL) == -1) {
		if (list->nsecret == 0)
			return (-1);
		/* Answered (503) once the others reply. */
		ctx->redis_failed = 1;
	}
	return (0);
}

/*
 * The first replies of the step were the secret's (list->nsecret of
 * them): keep it, then check the page token. -1 with an answer written.
 */
int
api_list_open(struct api_ctx *ctx, struct api_list *list)
{
	if (list->nsecret > 0 && api_cursor_take(ctx, 0) == -1)
		return (api_problem_redis(ctx), -1);
	if (list->token != NULL && api_cursor_open(list) == -1)
		return (api_problem(ctx, API_P_INVALID_PAGE_TOKEN, "is not a "
		    "valid page token for this list and sort order",
		    "page_token"), -1);
	return (0);
}

/* The order of the list: sort value, then sid; bytes for strings. */
static int
item_cmp(const struct api_item *a, const struct api_item *b)
{
	size_t	n;
	int	c;

	if (a->str != NULL && b->str != NULL) {
		n = a->slen < b->slen ? a->slen : b->slen;
		if (n > 0 && (c = memcmp(a->str, b->str, n)) != 0)
			return (c);
		if (a->slen != b->slen)
			return (a->slen < b->slen ? -1 : 1);
	} else if (a->num != b->num)
		return (a->num < b->num ? -1 : 1);
	return (strcmp(a->sid, b->sid));
}

static int
item_qsort(const void *a, const void *b)
{
	return (item_cmp(a, b));
}

/*
 * A token holds at most the first 1 KiB of a value. The item it names,
 * if it still starts with that, gives the full value back (the token is
 * then exact); if it was deleted or changed meanwhile, the prefix stands
 * for it, which may show again items sharing that 1 KiB prefix (a repeat
 * is the only inexactness, never a skip).
 */
static void
cursor_complete(struct api_list *list, const struct api_item *items,
    size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(items[i].sid, list->cursor.sid) == 0 &&
		    items[i].str != NULL &&
		    items[i].slen >= list->cursor.slen &&
		    memcmp(items[i].str, list->cursor.str,
		    list->cursor.slen) == 0) {
			list->cursor.str = items[i].str;
			list->cursor.slen = items[i].slen;
			return;
		}
	}
}

/*
 * Sort items (all of one kind: str set for url and label, num for
 * created_at) and pick the page: up to page_size of them strictly after
 * the cursor in the requested direction. -1 on ENOMEM.
 */
int
api_list_select(struct api_list *list, struct api_item *items, size_t n)
{
	const struct api_item	*it;
	size_t			 i;
	int			 c;

	free(list->sel);
	list->nsel = 0;
	list->more = 0;
	if ((list->sel = calloc((size_t)list->page_size,
	    sizeof(*list->sel))) == NULL)
		return (-1);
	if (n > 0)
		qsort(items, n, sizeof(*items), item_qsort);
	if (list->after && list->cut)
		cursor_complete(list, items, n);
	for (i = 0; i < n; i++) {
		it = list->desc ? &items[n - 1 - i] : &items[i];
		if (list->after) {
			c = item_cmp(it, &list->cursor);
			if (list->desc ? c >= 0 : c <= 0)
				continue;
		}
		if (list->nsel == (size_t)list->page_size) {
			list->more = 1;
			break;
		}
		list->sel[list->nsel++] = it;
	}
	return (0);
}

/*
 * {"<name>":[recs...],"next_page_token":"..."|null}. The token resumes
 * after next (NULL: this was the last page). The buffer is wiped, as
 * signing key pages hold secrets.
 */
int
api_list_respond(struct api_ctx *ctx, const struct api_list *list,
    const char *name, api_render_fn render, const void *const *recs,
    size_t nrecs, const struct api_item *next)
{
	struct wh_buf	b;
	size_t		i;
	int		rc = -1;

	wh_buf_init(&b, 0);
	if (wh_buf_appendf(&b, "{\"%s\":[", name) == -1)
		goto out;
	for (i = 0; i < nrecs; i++) {
		if ((i > 0 && wh_buf_append(&b, ",", 1) == -1) ||
		    render(&b, recs[i]) == -1)
			goto out;
	}
	if (wh_buf_appendstr(&b, "],\"next_page_token\":") == -1)
		goto out;
	if (next == NULL) {
		if (wh_buf_appendstr(&b, "null}") == -1)
			goto out;
	} else if (wh_buf_append(&b, "\"", 1) == -1 ||
	    api_cursor_seal(list, next, &b) == -1 ||
	    wh_buf_appendstr(&b, "\"}") == -1)
		goto out;
	rc = api_json(ctx, 200, &b);
out:
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	wh_buf_free(&b);
	if (rc == -1)
		return (api_problem_nomem(ctx));
	return (API_DONE);
}

void
api_list_free(struct api_list *list)
{
	api_query_free(&list->query);
	free(list->cursor_buf);
	free(list->sel);
	list->cursor_buf = NULL;
	list->sel = NULL;
}

/*
 * Items from a ZRANGE ... WITHSCORES reply (member, score, ...): the
 * score is the creation time in ms, the member a sid. The sids point
 * into the reply. -1 on ENOMEM or a reply of another shape.
 */
static int
zset_items(const struct api_reply *r, struct api_item **out, size_t *np)
{
	struct api_item	*items;
	const char	*sid;
	size_t		 i, n = 0;
	char		*end;
	double		 score;

	*out = NULL;
	*np = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->nelem % 2 != 0)
		return (-1);
	if ((items = calloc(r->nelem / 2 + 1, sizeof(*items))) == NULL)
		return (-1);
	for (i = 0; i + 1 < r->nelem; i += 2) {
		if (r->elem[i]->type != REDIS_REPLY_STRING ||
		    r->elem[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		sid = r->elem[i]->str;
		score = strtod(r->elem[i + 1]->str, &end);
		if (!wh_id_valid(sid, r->elem[i]->len) || *end != '\0')
			continue;
		items[n].sid = sid;
		items[n].num = (int64_t)score;
		n++;
	}
	*out = items;
	*np = n;
	return (0);
}

/*
 * The sids of an index (a ZRANGE ... WITHSCORES reply, scored by
 * creation time), copied out of the reply: with page, only those of the
 * page the list asks for (sorted by created_at, the index alone decides
 * it; ids->last keeps the page's end for the next token), else all.
 * -1 on ENOMEM or a reply of another shape.
 */
int
api_list_ids(struct api_list *list, const struct api_reply *r, int page,
    struct api_ids *ids)
{
	struct api_item	*items;
	const char	*sid;
	size_t		 n, i;
	int		 rc = 0;

	memset(ids, 0, sizeof(*ids));
	if (zset_items(r, &items, &n) == -1)
		return (-1);
	if (page) {
		if (api_list_select(list, items, n) == -1)
			rc = -1;
		n = list->nsel;
		if (rc == 0 && list->more) {
			ids->last = *list->sel[n - 1];
			memcpy(ids->last_sid, ids->last.sid,
			    strlen(ids->last.sid) + 1);
			ids->last.sid = ids->last_sid;
		}
	}
	if (rc == 0 && (ids->sid = calloc(n + 1, sizeof(*ids->sid))) == NULL)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++) {
		sid = page ? list->sel[i]->sid : items[i].sid;
		if ((ids->sid[i] = strdup(sid)) == NULL)
			rc = -1;
		else
			ids->n++;
	}
	free(items);
	return (rc);
}

void
api_ids_free(struct api_ids *ids)
{
	size_t	i;

	for (i = 0; i < ids->n; i++)
		free(ids->sid[i]);
	free(ids->sid);
	memset(ids, 0, sizeof(*ids));
}

/*
 * fuzz_cursor.c: the api's page tokens (api/cursor.c). A page_token comes
 * back from any client in the query string; api_cursor_open() decodes it
 * (URL-safe base64), checks its MAC and reads the position it holds.
 * The cursor code is linked as it is; its two ties to the rest of the
 * api are defined here: the config (api_cfg, for the key prefix) and
 * api_redis_cmd(), which answers the SET NX / GET of the token secret
 * the way Redis would, so the secret is installed by the real path.
 *
 * The first input byte picks the list (sort field, direction), the rest
 * is both a token and the material for a position. Checks:
 * - the input as a token is refused (it cannot carry a valid MAC),
 *   without reading out of bounds on any length or alphabet;
 * - a token sealed for a position opens to that position (a value
 *   longer than the token can hold comes back cut and marked so), on
 *   the same list only: another scope, sort field or direction refuses it;
 * - a token with one character changed is refused, or opens to the
 *   same position (base64's unused low bits).
 */
#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"

#include "fuzz.h"

#define CURSOR_STR_MAX	1024	/* cursor.c: longest value kept */

struct wh_config	api_cfg = { .prefix = "wh:" };

static char	 stored[128];
static size_t	 stored_len;

static struct api_reply *
reply_new(int type, const char *s, size_t len)
{
	struct api_reply	*r;

	FUZZ_CHECK((r = calloc(1, sizeof(*r))) != NULL);
	r->type = type;
	if (s != NULL) {
		FUZZ_CHECK((r->str = malloc(len + 1)) != NULL);
		memcpy(r->str, s, len);
		r->str[len] = '\0';
		r->len = len;
	}
	return (r);
}

/* Redis, for the one key cursor.c asks about: its reply joins ctx. */
int
api_redis_cmd(struct api_ctx *ctx, int argc, const char **argv,
    const size_t *lens)
{
	char			 key[WH_KEY_MAX];
	struct api_reply	*r;

	FUZZ_CHECK(wh_key_cursor_secret(key, sizeof(key), "wh:") != -1);
	FUZZ_CHECK(lens == NULL && argc >= 2 && strcmp(argv[1], key) == 0);
	FUZZ_CHECK(ctx->nreplies < API_REPLIES_MAX);
	if (argc == 4 && strcmp(argv[0], "SET") == 0 &&
	    strcmp(argv[3], "NX") == 0) {
		if (stored_len == 0) {
			stored_len = strlen(argv[2]);
			FUZZ_CHECK(stored_len < sizeof(stored));
			memcpy(stored, argv[2], stored_len);
			r = reply_new(REDIS_REPLY_STATUS, "OK", 2);
		} else
			r = reply_new(REDIS_REPLY_NIL, NULL, 0);
	} else {
		FUZZ_CHECK(argc == 2 && strcmp(argv[0], "GET") == 0);
		r = reply_new(REDIS_REPLY_STRING, stored, stored_len);
	}
	ctx->replies[ctx->nreplies++] = r;
	return (0);
}

/* The token secret, as the first list request of a worker gets it. */
static void
secret_setup(void)
{
	struct api_ctx	ctx;
	size_t		i;

	if (stored_len > 0)
		return;
	memset(&ctx, 0, sizeof(ctx));
	FUZZ_CHECK(api_cursor_fetch(&ctx) == 2);
	FUZZ_CHECK(api_cursor_take(&ctx, 0) == 0);
	FUZZ_CHECK(api_cursor_fetch(&ctx) == 0);	/* now cached */
	for (i = 0; i < ctx.nreplies; i++) {
		free(ctx.replies[i]->str);
		free(ctx.replies[i]);
	}
}

static void
list_init(struct api_list *l, int field, int desc, const char *scope)
{
	memset(l, 0, sizeof(*l));
	l->field = field;
	l->desc = desc;
	(void)snprintf(l->scope, sizeof(l->scope), "%s", scope);
}

/* Open token on list l; 0 with l->cursor set, or -1. */
static int
open_on(struct api_list *l, const char *token)
{
	l->token = token;
	return (api_cursor_open(l));
}

static int
same_position(const struct api_list *a, const struct api_list *b)
{
	if (strcmp(a->cursor.sid, b->cursor.sid) != 0 || a->cut != b->cut)
		return (0);
	if (a->cursor.str == NULL || b->cursor.str == NULL)
		return (a->cursor.str == b->cursor.str &&
		    a->cursor.num == b->cursor.num);
	return (a->cursor.slen == b->cursor.slen &&
	    memcmp(a->cursor.str, b->cursor.str, a->cursor.slen) == 0);
}

static void
check_sealed(struct api_list *l, const uint8_t *data, size_t size)
{
	struct api_list	 other, back, changed;
	struct api_item	 item;
	struct wh_buf	 tok;
	char		 sid[WH_ID_MAX], *t;
	size_t		 sidlen, i, at;
	uint64_t	 v = 0;

	/* A sid of id characters from the input, then the value. */
	sidlen = size > 0 ? 1 + data[0] % (WH_ID_MAX - 1) : 1;
	for (i = 0; i < sidlen; i++)
		sid[i] = "abcdefghijklmnopqrstuvwxyz_-0123456789ABCDEFGHIJKLM"
		    "NOPQRSTUVWXYZ"[i < size ? data[i] % 64 : 0];
	sid[sidlen] = '\0';
	memset(&item, 0, sizeof(item));
	item.sid = sid;
	if (l->field == API_SORT_CREATED) {
		for (i = 0; i < 8 && i < size; i++)
			v = v << 8 | data[i];
		item.num = (int64_t)v;
	} else {
		item.str = (const char *)data;
		item.slen = size;
	}
	wh_buf_init(&tok, 0);
	FUZZ_CHECK(api_cursor_seal(l, &item, &tok) == 0);
	FUZZ_CHECK(wh_buf_cstr(&tok) == 0);

	list_init(&back, l->field, l->desc, l->scope);
	FUZZ_CHECK(open_on(&back, tok.data) == 0);
	FUZZ_CHECK(back.after == 1 && strcmp(back.cursor.sid, sid) == 0);
	if (l->field == API_SORT_CREATED)
		FUZZ_CHECK(back.cursor.str == NULL &&
		    back.cursor.num == item.num && !back.cut);
	else {
		FUZZ_CHECK(back.cut == (size > CURSOR_STR_MAX));
		FUZZ_CHECK(back.cursor.slen == (size > CURSOR_STR_MAX ?
		    CURSOR_STR_MAX : size));
		FUZZ_CHECK(back.cursor.slen == 0 || memcmp(back.cursor.str,
		    data, back.cursor.slen) == 0);
	}

	list_init(&other, l->field, l->desc, "webhooks:CO_other");
	FUZZ_CHECK(open_on(&other, tok.data) == -1);
	free(other.cursor_buf);
	list_init(&other, l->field, !l->desc, l->scope);
	FUZZ_CHECK(open_on(&other, tok.data) == -1);
	free(other.cursor_buf);
	list_init(&other, l->field == API_SORT_URL ? API_SORT_LABEL :
	    API_SORT_URL, l->desc, l->scope);
	FUZZ_CHECK(open_on(&other, tok.data) == -1);
	free(other.cursor_buf);

	/* One character changed, to another of the alphabet. */
	if ((t = strdup(tok.data)) != NULL) {
		at = (size > 1 ? data[1] : 0) % tok.len;
		t[at] = t[at] == 'A' ? 'B' : 'A';
		list_init(&changed, l->field, l->desc, l->scope);
		if (open_on(&changed, t) == 0)
			FUZZ_CHECK(same_position(&changed, &back));
		free(changed.cursor_buf);
		free(t);
	}
	free(back.cursor_buf);
	wh_buf_free(&tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 fields[] = {
		API_SORT_CREATED, API_SORT_URL, API_SORT_LABEL
	};
	struct api_list		 l;
	char			*token;

	secret_setup();
	if (size == 0)
		return (0);
	list_init(&l, fields[data[0] % 3], (data[0] >> 2) & 1,
	    "webhooks:CO_1");
	data++;
	size--;

	if ((token = fuzz_cstr(data, size)) == NULL)
		return (0);
	FUZZ_CHECK(open_on(&l, token) == -1);
	free(l.cursor_buf);
	l.cursor_buf = NULL;
	free(token);

	check_sealed(&l, data, size);
	return (0);
}

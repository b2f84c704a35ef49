/*
 * cursor.c: page tokens.
 *
 * A token is the position after which the next page starts: the sort
 * value and the sid of the last item shown (keyset pagination, so an
 * item created or deleted between two pages never makes another one skip
 * or repeat). It is URL-safe base64 of
 *
 *   1 | 'n' int64 (big endian)            created_at
 *     | 's' u16 length, bytes             url or label
 *     | 't' u16 length, bytes             the first CURSOR_STR_MAX bytes
 *   | u8 sid length, sid | HMAC-SHA256
 *
 * Kore refuses request targets of 2000 bytes or more, so a value (a url
 * may have 2048 bytes) is cut to CURSOR_STR_MAX bytes ('t'); list.c then
 * takes the full value from the item with the cursor's sid.
 *
 * The MAC covers the collection the token belongs to (list->scope: the
 * resource and its company or webhook), the sort field and direction,
 * and the payload, under a secret kept in Redis (wh:cursor_secret), so
 * a token cannot be forged, altered, or carried to another company's
 * list or another sort order, on any worker and across restarts. The
 * first worker to need the secret creates it (SET NX); every worker
 * caches what Redis holds.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "keys.h"
#include "sign.h"

#define CURSOR_VERSION		1
#define CURSOR_MAC_LEN		32
#define CURSOR_SECRET_MIN	16
#define CURSOR_STR_MAX		1024
/* Version, kind, the longest value and length, sid and its length, MAC. */
#define CURSOR_RAW_MAX	(4 + CURSOR_STR_MAX + 1 + WH_ID_MAX + CURSOR_MAC_LEN)

static char	secret[128];
static size_t	secret_len;

/*
 * Ask Redis for the secret unless this worker has it: SET NX a fresh one
 * (only the first ever wins), then GET what is there. Returns how many
 * replies the caller must hand to api_cursor_take() (0 or 2), -1 when
 * nothing could be sent.
 */
int
api_cursor_fetch(struct api_ctx *ctx)
{
	char		 key[WH_KEY_MAX], fresh[WH_SECRET_LEN + 1];
	const char	*argv[4];

	if (secret_len > 0)
		return (0);
	if (wh_key_cursor_secret(key, sizeof(key), api_cfg.prefix) == -1 ||
	    wh_secret_new(fresh, sizeof(fresh)) == -1)
		return (-1);
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = fresh;
	argv[3] = "NX";
	if (api_redis_cmd(ctx, 4, argv, NULL) == -1)
		return (-1);
	argv[0] = "GET";
	if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
		ctx->redis_failed = 1;
	return (2);
}

/* The replies of api_cursor_fetch() start at replies[at]. */
int
api_cursor_take(struct api_ctx *ctx, size_t at)
{
	struct api_reply	*r;

	if (at + 1 >= ctx->nreplies)
		return (-1);
	r = ctx->replies[at + 1];
	if (r->type != REDIS_REPLY_STRING || r->len < CURSOR_SECRET_MIN ||
	    r->len >= sizeof(secret))
		return (-1);
	memcpy(secret, r->str, r->len);
	secret_len = r->len;
	return (0);
}

/* HMAC over scope, NUL, field, direction, payload. */
static int
cursor_mac(const struct api_list *list, const unsigned char *p, size_t len,
    unsigned char mac[CURSOR_MAC_LEN])
{
	unsigned char	*in;
	unsigned int	 mlen = 0;
	size_t		 slen, n;
	int		 ok;

	if (secret_len == 0)
		return (-1);
	slen = strlen(list->scope);
	n = slen + 3 + len;
	if ((in = malloc(n)) == NULL)
		return (-1);
	memcpy(in, list->scope, slen);
	in[slen] = '\0';
	in[slen + 1] = (unsigned char)list->field;
	in[slen + 2] = (unsigned char)list->desc;
	memcpy(in + slen + 3, p, len);
	ok = HMAC(EVP_sha256(), secret, (int)secret_len, in, n, mac,
	    &mlen) != NULL && mlen == CURSOR_MAC_LEN;
	free(in);
	return (ok ? 0 : -1);
}

/* The token that resumes after item, appended to out as text. */
int
api_cursor_seal(const struct api_list *list, const struct api_item *item,
    struct wh_buf *out)
{
	unsigned char	 raw[CURSOR_RAW_MAX];
	char		*text;
	size_t		 n = 0, sidlen, slen;
	uint64_t	 v;
	int		 i, len;

	sidlen = strlen(item->sid);
	if (sidlen >= WH_ID_MAX)
		return (-1);
	raw[n++] = CURSOR_VERSION;
	if (item->str == NULL) {
		raw[n++] = 'n';
		v = (uint64_t)item->num;
		for (i = 7; i >= 0; i--)
			raw[n++] = (unsigned char)(v >> (i * 8));
	} else {
		slen = item->slen > CURSOR_STR_MAX ? CURSOR_STR_MAX :
		    item->slen;
		raw[n++] = slen < item->slen ? 't' : 's';
		raw[n++] = (unsigned char)(slen >> 8);
		raw[n++] = (unsigned char)slen;
		memcpy(raw + n, item->str, slen);
		n += slen;
	}
	raw[n++] = (unsigned char)sidlen;
	memcpy(raw + n, item->sid, sidlen);
	n += sidlen;
	if (cursor_mac(list, raw, n, raw + n) == -1)
		return (-1);
	n += CURSOR_MAC_LEN;

	if (wh_buf_reserve(out, WH_B64_LEN(n)) == -1)
		return (-1);
	text = out->data + out->len;
	if ((len = wh_b64url_encode(raw, n, text, WH_B64_LEN(n))) == -1)
		return (-1);
	out->len += (size_t)len;
	return (0);
}

/* URL-safe base64 without padding into bytes; -1 when malformed. */
static int
b64url_decode(const char *s, size_t len, unsigned char *out, size_t outlen)
{
	char	*std;
	size_t	 i, n;
	int	 rc;

	if (len % 4 == 1)
		return (-1);
	n = (len + 3) / 4 * 4;
	if ((std = malloc(n)) == NULL)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] == '-')
			std[i] = '+';
		else if (s[i] == '_')
			std[i] = '/';
		else if (s[i] == '+' || s[i] == '/' || s[i] == '=') {
			free(std);
			return (-1);
		} else
			std[i] = s[i];
	}
	for (; i < n; i++)
		std[i] = '=';
	rc = wh_b64_decode(std, n, out, outlen);
	free(std);
	return (rc);
}

/*
 * Check list->token and fill list->cursor from it. -1 when it is not a
 * token this api made for this collection and sort order.
 */
int
api_cursor_open(struct api_list *list)
{
	unsigned char	 mac[CURSOR_MAC_LEN], *raw;
	size_t		 tlen, n, off, vlen = 0, sidlen;
	uint64_t	 v = 0;
	int		 got, i;

	tlen = strlen(list->token);
	if (tlen == 0 || tlen > WH_B64_LEN(CURSOR_RAW_MAX))
		return (-1);
	if ((raw = malloc(CURSOR_RAW_MAX + 3)) == NULL)
		return (-1);
	free(list->cursor_buf);
	list->cursor_buf = raw;
	if ((got = b64url_decode(list->token, tlen, raw,
	    CURSOR_RAW_MAX + 3)) < 2 + 1 + CURSOR_MAC_LEN)
		return (-1);
	n = (size_t)got - CURSOR_MAC_LEN;
	if (cursor_mac(list, raw, n, mac) == -1 ||
	    !wh_ct_equal(mac, raw + n, CURSOR_MAC_LEN))
		return (-1);
	if (raw[0] != CURSOR_VERSION)
		return (-1);

	off = 2;
	memset(&list->cursor, 0, sizeof(list->cursor));
	if (raw[1] == 'n' && list->field == API_SORT_CREATED) {
		if (off + 8 > n)
			return (-1);
		for (i = 0; i < 8; i++)
			v = v << 8 | raw[off++];
		list->cursor.num = (int64_t)v;
	} else if ((raw[1] == 's' || raw[1] == 't') &&
	    list->field != API_SORT_CREATED) {
		list->cut = raw[1] == 't';
		if (off + 2 > n)
			return (-1);
		vlen = (size_t)raw[off] << 8 | raw[off + 1];
		off += 2;
		if (off + vlen > n)
			return (-1);
		/* The value is bytes; moved right by one to NUL-end it. */
		memmove(raw + off - 1, raw + off, vlen);
		list->cursor.str = (const char *)raw + off - 1;
		list->cursor.slen = vlen;
		off += vlen;
	} else
		return (-1);
	if (off + 1 > n || (sidlen = raw[off]) == 0 || off + 1 + sidlen != n ||
	    !wh_id_valid((const char *)raw + off + 1, sidlen))
		return (-1);
	memmove(raw + off, raw + off + 1, sidlen);
	raw[off + sidlen] = '\0';
	list->cursor.sid = (const char *)raw + off;
	list->after = 1;
	return (0);
}

/*
 * auth.c: API keys. "Authorization: Basic base64(key_id:secret)"; the
 * secret is kept in Redis only as its SHA-256 (wh:apikey:<key_id>) and
 * compared in constant time. An unknown key id costs the same work as a
 * wrong secret (a dummy hash is compared), so timing does not tell which
 * key ids exist. company_sid "*" marks an admin key.
 */
#include <openssl/sha.h>

#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "keys.h"
#include "sign.h"

#define AUTH_HEADER_MAX		1024

static const char	dummy_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static int
unauthorized(struct api_ctx *ctx)
{
	return (api_problem(ctx, 401, "A valid API key is required: "
	    "Authorization: Basic base64(key_id:secret).", NULL));
}

/*
 * Parse the header and ask Redis for the key. Returns API_WAIT with the
 * lookup in flight, or API_DONE with a 401/503 written.
 */
int
api_auth_begin(struct api_ctx *ctx)
{
	const char	*hdr, *argv[4];
	unsigned char	 raw[AUTH_HEADER_MAX];
	char		 key[WH_KEY_MAX];
	unsigned char	*colon;
	size_t		 hlen, idlen;
	int		 n;

	if (!http_request_header(ctx->req, "authorization", &hdr))
		return (unauthorized(ctx));
	hlen = strlen(hdr);
	if (hlen < 7 || hlen > AUTH_HEADER_MAX ||
	    strncasecmp(hdr, "Basic ", 6) != 0)
		return (unauthorized(ctx));
	hdr += 6;
	hlen -= 6;
	while (hlen > 0 && *hdr == ' ') {
		hdr++;
		hlen--;
	}
	if ((n = wh_b64_decode(hdr, hlen, raw, sizeof(raw) - 1)) <= 0)
		return (unauthorized(ctx));
	if ((colon = memchr(raw, ':', (size_t)n)) == NULL)
		return (unauthorized(ctx));
	idlen = (size_t)(colon - raw);
	if (!wh_id_valid((const char *)raw, idlen))
		return (unauthorized(ctx));
	memcpy(ctx->who.key_id, raw, idlen);
	ctx->who.key_id[idlen] = '\0';
	(void)SHA256(colon + 1, (size_t)n - idlen - 1, ctx->auth_hash);
	explicit_bzero(raw, sizeof(raw));

	if (wh_key_apikey(key, sizeof(key), api_cfg.prefix,
	    ctx->who.key_id) == -1)
		return (unauthorized(ctx));
	argv[0] = "HMGET";
	argv[1] = key;
	argv[2] = "secret_sha256";
	argv[3] = "company_sid";
	if (api_redis_cmd(ctx, 4, argv, NULL) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/* The key's record arrived: decide. 1 when authenticated, else API_DONE
 * with the 401 (or 503) written. */
int
api_auth_finish(struct api_ctx *ctx)
{
	struct api_reply	*r;
	const char		*stored;
	char			 given[2 * SHA256_DIGEST_LENGTH + 1];
	int			 known;

	r = ctx->nreplies == 1 ? ctx->replies[0] : NULL;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->nelem != 2)
		return (api_problem_redis(ctx));

	known = r->elem[0]->type == REDIS_REPLY_STRING &&
	    r->elem[0]->len == sizeof(given) - 1 &&
	    r->elem[1]->type == REDIS_REPLY_STRING &&
	    r->elem[1]->len > 0 && r->elem[1]->len < WH_ID_MAX;
	stored = known ? r->elem[0]->str : dummy_hash;

	(void)wh_hex_encode(ctx->auth_hash, sizeof(ctx->auth_hash), given);
	explicit_bzero(ctx->auth_hash, sizeof(ctx->auth_hash));
	if (!wh_ct_equal(given, stored, sizeof(given) - 1) || !known) {
		api_ctx_clear_replies(ctx);
		return (unauthorized(ctx));
	}

	if (strcmp(r->elem[1]->str, "*") == 0) {
		ctx->who.admin = 1;
	} else {
		memcpy(ctx->who.company_sid, r->elem[1]->str,
		    r->elem[1]->len + 1);
	}
	ctx->authed = 1;
	api_ctx_clear_replies(ctx);
	return (1);
}

/* Whether the caller may see resources of company_sid. */
int
api_company_visible(const struct api_ctx *ctx, const char *company_sid)
{
	if (ctx->who.admin)
		return (1);
	return (strcmp(ctx->who.company_sid, company_sid) == 0);
}

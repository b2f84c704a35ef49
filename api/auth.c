/*
 * auth.c: API keys. "Authorization: Basic base64(key_id:secret)"; the
 * secret is kept in Redis only as its SHA-256 (wh:apikey:<key_id>) and
 * compared in constant time. An unknown key id costs the same work as a
 * wrong secret (a dummy hash is compared), so timing does not tell which
 * key ids exist. company_sid "*" marks an admin key.
 *
 * A portal session (portal_sessions.c) authenticates with "Authorization:
 * Bearer <sid>.<secret>" against wh:portal:<sid> the same way; it is
 * never cached, so ending one takes effect at once, and its failures
 * count like a key's.
 *
 * Failed attempts are counted in Redis per client (wh:authfail:ip:<client>
 * for a window of FAIL_WINDOW_MS, shared by every api worker and
 * instance): the client is its IPv4 address, or its IPv6 /64 (one host
 * commonly holds a whole /64, so counting single IPv6 addresses would
 * count nothing). Past WH_AUTH_FAILURES_MAX failures in the window, that
 * client's authentications answer 429 with Retry-After without looking at
 * the secret. The counter is read in the same pipeline as the key, so this
 * costs no extra round trip.
 *
 * Nothing is counted per key id: key ids are not secrets (they appear in
 * logs and dashboards), and a per-key count would let anyone who knows one
 * lock its owner out from wherever the owner is. Guessing a secret stays
 * infeasible without it: the api mints secrets of 32 random bytes (the
 * operator chooses WH_BOOTSTRAP_KEY's: docs/operations.md asks for as
 * many), so even a million addresses at the allowed rate make some 10^7
 * guesses a minute against a space of 2^256; the throttle is there to
 * shed the load and noise of a flood, and it falls on the flooding client
 * alone. Behind a proxy every client shares the proxy's address: put the
 * limit there.
 *
 * A key that authenticated is remembered by the worker for CACHE_MS (its
 * secret's hash, its company), so a busy client costs one Redis round
 * trip per request instead of two; a deleted key may therefore work for
 * up to CACHE_MS more on other workers (api_auth_forget() clears this
 * worker's copy at once). Only successes are cached: every failure goes
 * to Redis and is counted.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "keys.h"
#include "sign.h"
#include "timeutil.h"

#define AUTH_HEADER_MAX		1024
#define CACHE_SLOTS		1024
#define CACHE_MS		1000
#define FAIL_WINDOW_MS		"60000"
#define FAIL_RETRY_AFTER	"60"

struct cached_key {
	char		key_id[WH_ID_MAX];
	unsigned char	hash[WH_SHA256_LEN];
	char		company_sid[WH_ID_MAX];
	int		admin;
	uint64_t	until;		/* kore_time_ms() */
};

static struct cached_key	cache[CACHE_SLOTS];

static const char	dummy_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static int
unauthorized(struct api_ctx *ctx)
{
	return (api_problem(ctx, API_P_UNAUTHORIZED, "A valid API key is "
	    "required: Authorization: Basic base64(key_id:secret).", NULL));
}

static struct cached_key *
cache_slot(const char *key_id)
{
	return (&cache[wh_hash(key_id, strlen(key_id)) % CACHE_SLOTS]);
}

/* 1 when key_id with this secret hash authenticated recently here. */
static int
cache_hit(struct api_ctx *ctx)
{
	struct cached_key	*c = cache_slot(ctx->who.key_id);

	if (c->until <= kore_time_ms() ||
	    strcmp(c->key_id, ctx->who.key_id) != 0 ||
	    !wh_ct_equal(c->hash, ctx->auth_hash, sizeof(c->hash)))
		return (0);
	ctx->who.admin = c->admin;
	memcpy(ctx->who.company_sid, c->company_sid,
	    sizeof(ctx->who.company_sid));
	ctx->authed = 1;
	explicit_bzero(ctx->auth_hash, sizeof(ctx->auth_hash));
	return (1);
}

static void
cache_put(const struct api_ctx *ctx, const unsigned char *hash)
{
	struct cached_key	*c = cache_slot(ctx->who.key_id);

	(void)snprintf(c->key_id, sizeof(c->key_id), "%s", ctx->who.key_id);
	memcpy(c->hash, hash, sizeof(c->hash));
	memcpy(c->company_sid, ctx->who.company_sid, sizeof(c->company_sid));
	c->admin = ctx->who.admin;
	c->until = kore_time_ms() + CACHE_MS;
}

void
api_auth_forget(const char *key_id)
{
	struct cached_key	*c = cache_slot(key_id);

	if (strcmp(c->key_id, key_id) == 0)
		explicit_bzero(c, sizeof(*c));
}

/*
 * The client whose failures are counted, as text: an IPv4 address (also
 * when it arrives IPv4-mapped on an IPv6 socket) or an IPv6 /64 prefix.
 */
static void
client_text(struct api_ctx *ctx, char *out, size_t len)
{
	struct connection	*c = ctx->req->owner;
	struct in6_addr		 net;
	char			 a[INET6_ADDRSTRLEN];

	out[0] = '\0';
	if (c->family == AF_INET) {
		(void)inet_ntop(AF_INET, &c->addr.ipv4.sin_addr, out,
		    (socklen_t)len);
	} else if (c->family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&c->addr.ipv6.sin6_addr)) {
		(void)inet_ntop(AF_INET, &c->addr.ipv6.sin6_addr.s6_addr[12],
		    out, (socklen_t)len);
	} else if (c->family == AF_INET6) {
		net = c->addr.ipv6.sin6_addr;
		memset(&net.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &net, a, sizeof(a)) != NULL)
			(void)snprintf(out, len, "%s/64", a);
	}
	if (out[0] == '\0')
		(void)snprintf(out, len, "local");
}

static int
fail_key(struct api_ctx *ctx, char *out, size_t len)
{
	char	client[INET6_ADDRSTRLEN + 4];

	client_text(ctx, client, sizeof(client));
	return (wh_key_authfail(out, len, api_cfg.prefix, client));
}

/*
 * Count one failure (fire and forget: the answer does not wait on it).
 * The window starts with the first failure (PEXPIRE ... NX).
 */
static void
fail_count(struct api_ctx *ctx)
{
	const char	*argv[4];
	char		 key[WH_KEY_MAX];

	if (fail_key(ctx, key, sizeof(key)) == -1)
		return;
	argv[0] = "INCR";
	argv[1] = key;
	(void)api_redis_cmd_quiet(ctx, 2, argv, NULL);
	argv[0] = "PEXPIRE";
	argv[2] = FAIL_WINDOW_MS;
	argv[3] = "NX";
	(void)api_redis_cmd_quiet(ctx, 4, argv, NULL);
}

static int
too_many(struct api_ctx *ctx)
{
	if (ctx->req != NULL)
		http_response_header(ctx->req, "retry-after",
		    FAIL_RETRY_AFTER);
	return (api_problem(ctx, API_P_AUTH_THROTTLED, "Too many failed "
	    "authentications from this address; retry later.", NULL));
}

/* A count from GET's answer (nil: none). */
static long long
fail_seen(const struct api_reply *r)
{
	if (r->type != REDIS_REPLY_STRING)
		return (0);
	return (strtoll(r->str, NULL, 10));
}

/* The fields read of an API key's record and of a portal session's. */
static const char *const	key_fields[] = {
	"secret_sha256", "company_sid"
};
static const char *const	session_fields[] = {
	"secret_sha256", "company_sid", "read_only", "expires_at"
};

/*
 * Ask for this client's failure count and the credential's record (the
 * fields of the hash at key), pipelined: API_WAIT, or API_DONE with the
 * answer written.
 */
static int
lookup_send(struct api_ctx *ctx, const char *key, const char *const *fields,
    int nfields)
{
	const char	*argv[6];
	char		 kfail[WH_KEY_MAX];
	int		 i;

	if (nfields > 4 || fail_key(ctx, kfail, sizeof(kfail)) == -1)
		return (unauthorized(ctx));
	argv[0] = "GET";
	argv[1] = kfail;
	if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
		return (api_problem_redis(ctx));
	argv[0] = "HMGET";
	argv[1] = key;
	for (i = 0; i < nfields; i++)
		argv[2 + i] = fields[i];
	if (api_redis_cmd(ctx, 2 + nfields, argv, NULL) == -1)
		return (api_problem_redis(ctx));
	return (API_WAIT);
}

/*
 * "Bearer <sid>.<secret>" of a portal session: the same lookup as a key's
 * (failure count, then the record), never served from the cache.
 */
static int
bearer_begin(struct api_ctx *ctx, const char *tok, size_t len)
{
	const char	*dot;
	char		 key[WH_KEY_MAX];
	size_t		 idlen;

	while (len > 0 && *tok == ' ') {
		tok++;
		len--;
	}
	if ((dot = memchr(tok, '.', len)) == NULL)
		return (unauthorized(ctx));
	idlen = (size_t)(dot - tok);
	if (idlen < 4 || strncmp(tok, "ps_", 3) != 0 ||
	    !wh_id_valid(tok, idlen) || len - idlen - 1 == 0 ||
	    len - idlen - 1 > 128)
		return (unauthorized(ctx));
	memcpy(ctx->who.key_id, tok, idlen);
	ctx->who.key_id[idlen] = '\0';
	ctx->who.portal = 1;
	if (wh_sha256(dot + 1, len - idlen - 1, ctx->auth_hash) == -1)
		return (api_problem_nomem(ctx));
	if (wh_key_portal_session(key, sizeof(key), api_cfg.prefix,
	    ctx->who.key_id) == -1)
		return (unauthorized(ctx));
	return (lookup_send(ctx, key, session_fields, 4));
}

/*
 * Parse the header and ask Redis for the key. Returns API_WAIT with the
 * lookup in flight, API_NEXT when the worker's cache already knows the
 * key (authenticated), or API_DONE with a 401/503 written.
 */
int
api_auth_begin(struct api_ctx *ctx)
{
	const char	*hdr;
	unsigned char	 raw[AUTH_HEADER_MAX];
	char		 key[WH_KEY_MAX];
	unsigned char	*colon;
	size_t		 hlen, idlen;
	int		 n, hashed;

	if (!http_request_header(ctx->req, "authorization", &hdr))
		return (unauthorized(ctx));
	hlen = strlen(hdr);
	if (hlen > 7 && hlen <= AUTH_HEADER_MAX &&
	    strncasecmp(hdr, "Bearer ", 7) == 0)
		return (bearer_begin(ctx, hdr + 7, hlen - 7));
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
	hashed = wh_sha256(colon + 1, (size_t)n - idlen - 1, ctx->auth_hash);
	explicit_bzero(raw, sizeof(raw));
	if (hashed == -1)
		return (api_problem_nomem(ctx));
	if (cache_hit(ctx))
		return (API_NEXT);

	if (wh_key_apikey(key, sizeof(key), api_cfg.prefix,
	    ctx->who.key_id) == -1)
		return (unauthorized(ctx));
	return (lookup_send(ctx, key, key_fields, 2));
}

/*
 * A portal session's record is whole, of a company (never "*") and not
 * past its expires_at (Redis expires it then too; this closes the gap
 * until it does).
 */
static int
session_live(const struct api_reply *r)
{
	if (r->elem[3]->type != REDIS_REPLY_STRING ||
	    strcmp(r->elem[1]->str, "*") == 0)
		return (0);
	return (strtoll(r->elem[3]->str, NULL, 10) > wh_now_ms());
}

/* The key's record arrived: decide. 1 when authenticated, else API_DONE
 * with the 401 (or 503) written. */
int
api_auth_finish(struct api_ctx *ctx)
{
	struct api_reply	*r;
	const char		*stored;
	char			 given[2 * WH_SHA256_LEN + 1];
	unsigned char		 hash[WH_SHA256_LEN];
	int			 known;

	if (ctx->nreplies != 2 ||
	    ctx->replies[0]->type == REDIS_REPLY_ERROR)
		return (api_problem_redis(ctx));
	if (fail_seen(ctx->replies[0]) >= api_cfg.auth_fail_max) {
		explicit_bzero(ctx->auth_hash, sizeof(ctx->auth_hash));
		api_ctx_clear_replies(ctx);
		return (too_many(ctx));
	}
	r = ctx->replies[1];
	if (r->type != REDIS_REPLY_ARRAY ||
	    r->nelem != (ctx->who.portal ? 4 : 2))
		return (api_problem_redis(ctx));

	known = r->elem[0]->type == REDIS_REPLY_STRING &&
	    r->elem[0]->len == sizeof(given) - 1 &&
	    r->elem[1]->type == REDIS_REPLY_STRING &&
	    r->elem[1]->len > 0 && r->elem[1]->len < WH_ID_MAX;
	stored = known ? r->elem[0]->str : dummy_hash;

	(void)wh_hex_encode(ctx->auth_hash, sizeof(ctx->auth_hash), given);
	memcpy(hash, ctx->auth_hash, sizeof(hash));
	explicit_bzero(ctx->auth_hash, sizeof(ctx->auth_hash));
	if (!wh_ct_equal(given, stored, sizeof(given) - 1) || !known ||
	    (ctx->who.portal && !session_live(r))) {
		explicit_bzero(hash, sizeof(hash));
		api_ctx_clear_replies(ctx);
		fail_count(ctx);
		return (unauthorized(ctx));
	}

	if (ctx->who.portal) {
		memcpy(ctx->who.company_sid, r->elem[1]->str,
		    r->elem[1]->len + 1);
		ctx->who.read_only = r->elem[2]->type == REDIS_REPLY_STRING &&
		    strcmp(r->elem[2]->str, "0") != 0;
		ctx->authed = 1;
		explicit_bzero(hash, sizeof(hash));
		api_ctx_clear_replies(ctx);
		return (1);
	}
	if (strcmp(r->elem[1]->str, "*") == 0) {
		ctx->who.admin = 1;
	} else {
		memcpy(ctx->who.company_sid, r->elem[1]->str,
		    r->elem[1]->len + 1);
	}
	ctx->authed = 1;
	cache_put(ctx, hash);
	explicit_bzero(hash, sizeof(hash));
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

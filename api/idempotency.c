/*
 * idempotency.c: the Idempotency-Key header on every POST.
 *
 * A client that did not hear the answer to a POST (a timeout, a dropped
 * connection) sends it again with the same Idempotency-Key and must not
 * create a second webhook, key or event. The first request claims
 * wh:idemkey:<api key id>:<Idempotency-Key> with SET NX (a placeholder
 * "P<hash>" living 60 s), runs, and its successful (2xx) answer is stored
 * as "D<hash><status>\n<type>\n<location>\n<body>" for 24 h *before* it is
 * sent, so a retry that follows the answer always finds it. <hash> is the
 * SHA-256 of method, path and body:
 *   - same key, same request, answer stored: the stored answer, exactly,
 *     with Idempotent-Replayed: true;
 *   - same key, same request, still running: 409, retry shortly;
 *   - same key, another request: 422 naming Idempotency-Key;
 *   - Redis answering an error: 503 with Retry-After, nothing claimed.
 * An error answer (4xx, 5xx) is not stored: the key is released, so the
 * corrected or retried request runs again.
 */
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "encode.h"
#include "keys.h"

#define IDEM_VALUE_MAX		255
#define IDEM_HASH_LEN		64
/*
 * The claim outlives the longest request: POST .../~test waits up to
 * 2 s + timeout_ms (at most 30 s) + 1 s (test_delivery.c). A claim that ran
 * out while its request still ran would let a retry run it again.
 */
#define IDEM_PENDING_TTL	"60"
#define IDEM_DONE_TTL		"86400"
#define IDEM_TYPE_MAX		64

struct api_idem {
	char		 key[WH_KEY_MAX + IDEM_VALUE_MAX];
	char		 hash[IDEM_HASH_LEN + 1];
	int		 capturing;	/* the next answer is kept */
	int		 captured;
	int		 status;
	char		 type[IDEM_TYPE_MAX];
	struct wh_buf	 body;
};

void
api_idem_free(struct api_idem *im)
{
	if (im == NULL)
		return;
	wh_buf_free(&im->body);
	free(im);
}

/* SHA-256 over method, path and body, as lowercase hex. */
static int
request_hash(struct api_ctx *ctx, char out[IDEM_HASH_LEN + 1])
{
	EVP_MD_CTX	*md;
	unsigned char	 d[32];
	unsigned int	 dlen = 0;
	const char	*body, *method;
	size_t		 blen;
	int		 ok;

	api_body(ctx, &body, &blen);
	method = http_method_text(ctx->req->method);
	if ((md = EVP_MD_CTX_new()) == NULL)
		return (-1);
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, method, strlen(method)) == 1 &&
	    EVP_DigestUpdate(md, "\n", 1) == 1 &&
	    EVP_DigestUpdate(md, ctx->req->path, strlen(ctx->req->path)) == 1 &&
	    EVP_DigestUpdate(md, "\n", 1) == 1 &&
	    EVP_DigestUpdate(md, body, blen) == 1 &&
	    EVP_DigestFinal_ex(md, d, &dlen) == 1 && dlen == sizeof(d);
	EVP_MD_CTX_free(md);
	if (!ok)
		return (-1);
	(void)wh_hex_encode(d, sizeof(d), out);
	return (0);
}

static int
bad_header(struct api_ctx *ctx)
{
	return (api_problem(ctx, API_P_INVALID_HEADER, "must be 1 to 255 "
	    "printable ASCII characters", "Idempotency-Key"));
}

/*
 * A POST with the header: claim the key (SET NX) and read what it holds
 * (GET), pipelined. API_NEXT when there is nothing to do.
 */
int
api_idem_begin(struct api_ctx *ctx)
{
	struct api_idem	*im;
	const char	*hv, *argv[6];
	char		 pending[IDEM_HASH_LEN + 2];
	size_t		 len, i;

	if (ctx->req == NULL || ctx->req->method != HTTP_METHOD_POST ||
	    !http_request_header(ctx->req, "idempotency-key", &hv))
		return (API_NEXT);
	len = strlen(hv);
	if (len == 0 || len > IDEM_VALUE_MAX)
		return (bad_header(ctx));
	for (i = 0; i < len; i++) {
		if ((unsigned char)hv[i] < 0x20 || (unsigned char)hv[i] > 0x7e)
			return (bad_header(ctx));
	}
	if ((im = calloc(1, sizeof(*im))) == NULL)
		return (api_problem_nomem(ctx));
	wh_buf_init(&im->body, 0);
	ctx->idem = im;
	if (wh_key_idemkey(im->key, sizeof(im->key), api_cfg.prefix,
	    ctx->who.key_id, hv) == -1)
		return (bad_header(ctx));
	if (request_hash(ctx, im->hash) == -1)
		return (api_problem_nomem(ctx));
	pending[0] = 'P';
	memcpy(pending + 1, im->hash, IDEM_HASH_LEN + 1);

	argv[0] = "SET";
	argv[1] = im->key;
	argv[2] = pending;
	argv[3] = "NX";
	argv[4] = "EX";
	argv[5] = IDEM_PENDING_TTL;
	if (api_redis_cmd(ctx, 6, argv, NULL) == -1)
		return (api_problem_redis(ctx));
	argv[0] = "GET";
	if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
		ctx->redis_failed = 1;
	return (API_WAIT);
}

/* Send a stored answer again, exactly as it was. */
static int
replay(struct api_ctx *ctx, const struct api_reply *r)
{
	const char	*p, *end, *type, *loc, *nl;
	size_t		 tlen, llen;
	char		 tbuf[IDEM_TYPE_MAX];
	int		 status, i;

	p = r->str + 1 + IDEM_HASH_LEN;
	end = r->str + r->len;
	if (end - p < 4)
		goto bad;
	for (status = 0, i = 0; i < 3; i++) {
		if (p[i] < '0' || p[i] > '9')
			goto bad;
		status = status * 10 + (p[i] - '0');
	}
	if (p[3] != '\n' || status < 200 || status > 299)
		goto bad;
	type = p + 4;
	if ((nl = memchr(type, '\n', (size_t)(end - type))) == NULL)
		goto bad;
	tlen = (size_t)(nl - type);
	loc = nl + 1;
	if ((nl = memchr(loc, '\n', (size_t)(end - loc))) == NULL)
		goto bad;
	llen = (size_t)(nl - loc);
	if (tlen >= sizeof(tbuf) || llen >= sizeof(ctx->location))
		goto bad;
	memcpy(tbuf, type, tlen);
	tbuf[tlen] = '\0';
	memcpy(ctx->location, loc, llen);
	ctx->location[llen] = '\0';
	if (ctx->req != NULL)
		http_response_header(ctx->req, "idempotent-replayed", "true");
	api_respond_raw(ctx, status, tlen ? tbuf : NULL, nl + 1,
	    (size_t)(end - nl - 1));
	return (API_DONE);
bad:
	return (api_problem(ctx, API_P_INTERNAL, "The answer stored for this "
	    "Idempotency-Key could not be read.", NULL));
}

/*
 * The claim's replies: ours (API_NEXT: run the request, keep its
 * answer), or someone else's: replay, 409 or 422.
 */
int
api_idem_check(struct api_ctx *ctx)
{
	struct api_idem		*im = ctx->idem;
	struct api_reply	*set, *got;

	if (ctx->nreplies != 2)
		return (api_problem_redis(ctx));
	set = ctx->replies[0];
	got = ctx->replies[1];
	/*
	 * Only nil means "held by another request": an error (out of memory,
	 * READONLY during a failover) claimed nothing and is the data store
	 * failing, answered 503 like everywhere else.
	 */
	if ((set->type != REDIS_REPLY_STATUS && set->type != REDIS_REPLY_NIL) ||
	    (got->type != REDIS_REPLY_STRING && got->type != REDIS_REPLY_NIL))
		return (api_problem_redis(ctx));
	if (set->type == REDIS_REPLY_STATUS) {
		im->capturing = 1;
		api_ctx_clear_replies(ctx);
		return (API_NEXT);
	}
	if (got->type == REDIS_REPLY_STRING &&
	    got->len >= 1 + IDEM_HASH_LEN &&
	    memcmp(got->str + 1, im->hash, IDEM_HASH_LEN) != 0)
		return (api_problem(ctx, API_P_IDEMPOTENCY_KEY_REUSED, "was "
		    "already used with another request (method, path or body) "
		    "in the last 24 hours", "Idempotency-Key"));
	if (got->type == REDIS_REPLY_STRING && got->str[0] == 'D')
		return (replay(ctx, got));
	/* Still running (or its claim ran out just now). */
	if (ctx->req != NULL)
		http_response_header(ctx->req, "retry-after", "1");
	return (api_problem(ctx, API_P_IDEMPOTENCY_IN_PROGRESS, "A request "
	    "with this Idempotency-Key is still being processed; retry "
	    "shortly.", "Idempotency-Key"));
}

/* respond.c hands us the answer; 1 when it is kept (not yet sent). */
int
api_idem_capture(struct api_ctx *ctx, int status, const char *type,
    const void *body, size_t len)
{
	struct api_idem	*im = ctx->idem;

	if (im == NULL || !im->capturing)
		return (0);
	im->capturing = 0;
	if ((type != NULL && strlen(type) >= sizeof(im->type)) ||
	    wh_buf_append(&im->body, body, len) == -1)
		return (0);
	im->captured = 1;
	im->status = status;
	(void)snprintf(im->type, sizeof(im->type), "%s", type ? type : "");
	return (1);
}

/*
 * Store a 2xx answer (SET ... EX 86400) or release the key (DEL), then
 * wait for Redis before the answer goes out. API_NEXT when nothing was
 * kept.
 */
int
api_idem_save(struct api_ctx *ctx)
{
	struct api_idem	*im = ctx->idem;
	struct wh_buf	 rec;
	const char	*argv[5];
	size_t		 lens[5];
	int		 rc, i;

	if (im == NULL || !im->captured)
		return (API_NEXT);
	if (im->status < 200 || im->status > 299) {
		argv[0] = "DEL";
		argv[1] = im->key;
		rc = api_redis_cmd(ctx, 2, argv, NULL);
	} else {
		wh_buf_init(&rec, 0);
		rc = wh_buf_appendf(&rec, "D%s%03d\n%s\n%s\n", im->hash,
		    im->status, im->type, ctx->location);
		if (rc == 0)
			rc = wh_buf_append(&rec, im->body.data, im->body.len);
		if (rc == 0) {
			argv[0] = "SET";
			argv[1] = im->key;
			argv[2] = rec.data;	/* bytes, not a string */
			argv[3] = "EX";
			argv[4] = IDEM_DONE_TTL;
			for (i = 0; i < 5; i++)
				lens[i] = i == 2 ? rec.len : strlen(argv[i]);
			rc = api_redis_cmd(ctx, 5, argv, lens);
		}
		wh_buf_free(&rec);
	}
	if (rc == -1) {
		api_idem_flush(ctx);
		return (API_DONE);
	}
	return (API_WAIT);
}

/* The kept answer goes out (whatever Redis said about storing it). */
void
api_idem_flush(struct api_ctx *ctx)
{
	struct api_idem	*im = ctx->idem;

	if (im == NULL || !im->captured)
		return;
	im->captured = 0;
	api_respond_raw(ctx, im->status, im->type[0] ? im->type : NULL,
	    im->body.data, im->body.len);
}

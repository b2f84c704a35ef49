/*
 * model.c: the stored records and tasks, and their msgpack codecs.
 *
 * Every record is a msgpack map keyed by field name with a "v" version,
 * so a newer binary may add fields and an older one skips what it does
 * not know. The encoders refuse to write what the decoders would refuse
 * to read, and leave the output buffer as they found it when they fail.
 * Decoding trusts nothing: the bytes are walked once without allocating
 * before msgpack-c sees them (see prescan()), every type and size is
 * checked, a known key may appear only once, text fields may not hold
 * NUL bytes, and any failure leaves the struct freed and zeroed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "model.h"
#include "secretbox.h"
#include "tlsmat.h"
#include "trace.h"
#include "validate.h"

#define MODEL_VERSION	1

/* Sanity bounds for stored data; the api validates far tighter ones. */
#define TEXT_MAX	(1U << 20)	/* any text field but the payload */
#define LIST_MAX	1024		/* headers, event types */
#define SECRET_MAX	4096

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const method_names[] = { NULL, "POST", "PUT", "PATCH" };

/* The method's name, or NULL for a value that is not a WH_METHOD_*. */
const char *
wh_method_name(int m)
{
	if (m < WH_METHOD_POST || m > WH_METHOD_PATCH)
		return (NULL);
	return (method_names[m]);
}

int
wh_method_parse(const char *s, size_t len)
{
	int	m;

	if (s == NULL)
		return (0);
	for (m = WH_METHOD_POST; m <= WH_METHOD_PATCH; m++) {
		if (strlen(method_names[m]) == len &&
		    memcmp(method_names[m], s, len) == 0)
			return (m);
	}
	return (0);
}

void
wh_webhook_free(struct wh_webhook *w)
{
	size_t	i;

	free(w->sid);
	free(w->company_sid);
	free(w->label);
	free(w->url);
	free(w->disabled_reason);
	free(w->tls_cert);
	free(w->tls_ca);
	free(w->filter);
	if (w->tls_key != NULL)
		explicit_bzero(w->tls_key, strlen(w->tls_key));
	free(w->tls_key);
	if (w->headers != NULL) {
		for (i = 0; i < w->nheaders; i++) {
			free(w->headers[i].name);
			free(w->headers[i].value);
		}
	}
	free(w->headers);
	if (w->event_types != NULL) {
		for (i = 0; i < w->nevent_types; i++)
			free(w->event_types[i]);
	}
	free(w->event_types);
	memset(w, 0, sizeof(*w));
}

/* The secret is wiped before it goes back to the allocator. */
void
wh_signing_key_free(struct wh_signing_key *k)
{
	free(k->sid);
	free(k->webhook_sid);
	free(k->label);
	if (k->secret != NULL)
		explicit_bzero(k->secret, k->secret_len);
	free(k->secret);
	memset(k, 0, sizeof(*k));
}

void
wh_event_free(struct wh_event *e)
{
	free(e->event_sid);
	free(e->company_sid);
	free(e->event_type);
	free(e->payload);
	free(e->traceparent);
	free(e->ordering_key);
	free(e->entry_id);
	memset(e, 0, sizeof(*e));
}

void
wh_task_free(struct wh_task *t)
{
	wh_event_free(&t->event);
	free(t->webhook_sid);
	free(t->last_error);
	memset(t, 0, sizeof(*t));
}

int
wh_signing_key_active(const struct wh_signing_key *k, int64_t now_ms)
{
	return (k->expires_at == 0 || now_ms < k->expires_at);
}

/*
 * ---- encoding ----
 *
 * Every helper returns 0 or -1; a packer call fails only when the write
 * callback (wh_buf_append) does, which it reports as non-zero.
 */

static int
pk_write(void *data, const char *p, size_t len)
{
	return (wh_buf_append(data, p, len) == -1 ? -1 : 0);
}

static int
pk_str(msgpack_packer *pk, const char *s, size_t len)
{
	if (msgpack_pack_str(pk, len) != 0 ||
	    msgpack_pack_str_body(pk, s, len) != 0)
		return (-1);
	return (0);
}

static int
pk_key(msgpack_packer *pk, const char *name)
{
	return (pk_str(pk, name, strlen(name)));
}

/*
 * A text field the decoder will accept back: present, within TEXT_MAX
 * and, when it identifies something (nonempty), not "".
 */
static int
text_ok(const char *s, int nonempty)
{
	size_t	len;

	if (s == NULL)
		return (0);
	len = strlen(s);
	return (len <= TEXT_MAX && (len > 0 || !nonempty));
}

static int
pk_kv_str(msgpack_packer *pk, const char *name, const char *v)
{
	if (pk_key(pk, name) == -1)
		return (-1);
	return (pk_str(pk, v, strlen(v)));
}

static int
pk_kv_i64(msgpack_packer *pk, const char *name, int64_t v)
{
	if (pk_key(pk, name) == -1 || msgpack_pack_int64(pk, v) != 0)
		return (-1);
	return (0);
}

static int
pk_kv_u32(msgpack_packer *pk, const char *name, uint32_t v)
{
	if (pk_key(pk, name) == -1 || msgpack_pack_uint32(pk, v) != 0)
		return (-1);
	return (0);
}

static int
pk_kv_bool(msgpack_packer *pk, const char *name, int v)
{
	if (pk_key(pk, name) == -1)
		return (-1);
	if ((v ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) != 0)
		return (-1);
	return (0);
}

static int	tls_pack(msgpack_packer *, const struct wh_webhook *);

/* What the decoder accepts back: 0 to 20 delays of 1 s to 24 h. */
static int
schedule_ok(const struct wh_schedule *s)
{
	uint32_t	i;

	if (s->n > WH_SCHEDULE_MAX)
		return (0);
	for (i = 0; i < s->n; i++) {
		if (s->delay_s[i] < WH_SCHEDULE_MIN_S ||
		    s->delay_s[i] > WH_SCHEDULE_MAX_S)
			return (0);
	}
	return (1);
}

/* rate_limit: none (both 0), or both 1 to WH_RATE_MAX. */
static int
rate_ok(const struct wh_webhook *w)
{
	if (w->rate_per_second == 0 && w->rate_burst == 0)
		return (1);
	return (w->rate_per_second >= 1 && w->rate_per_second <= WH_RATE_MAX &&
	    w->rate_burst >= 1 && w->rate_burst <= WH_RATE_MAX);
}

/*
 * The delivery-control fields (issue 21), each written only when set so
 * that a webhook using none of them is stored as before.
 */
static int
control_pack(msgpack_packer *pk, const struct wh_webhook *w)
{
	uint32_t	i;

	if (w->retry.n > 0) {
		if (pk_key(pk, "retry_schedule_s") == -1 ||
		    msgpack_pack_array(pk, w->retry.n) != 0)
			return (-1);
		for (i = 0; i < w->retry.n; i++) {
			if (msgpack_pack_uint32(pk, w->retry.delay_s[i]) != 0)
				return (-1);
		}
	}
	if (w->filter != NULL && pk_kv_str(pk, "filter", w->filter) == -1)
		return (-1);
	/* rate_limit as [per_second, burst]. */
	if (w->rate_per_second != 0 && (pk_key(pk, "rate_limit") == -1 ||
	    msgpack_pack_array(pk, 2) != 0 ||
	    msgpack_pack_uint32(pk, w->rate_per_second) != 0 ||
	    msgpack_pack_uint32(pk, w->rate_burst) != 0))
		return (-1);
	return (0);
}

static int
webhook_encodable(const struct wh_webhook *w)
{
	size_t	i;

	/* A client certificate goes with its key, both PEM text. */
	if ((w->tls_cert != NULL) != (w->tls_key != NULL) ||
	    (w->tls_cert != NULL && (!text_ok(w->tls_cert, 1) ||
	    !text_ok(w->tls_key, 1))) ||
	    (w->tls_ca != NULL && !text_ok(w->tls_ca, 1)))
		return (0);
	if ((w->filter != NULL && !text_ok(w->filter, 1)) ||
	    !schedule_ok(&w->retry) || !rate_ok(w))
		return (0);

	if (!text_ok(w->sid, 1) || !text_ok(w->company_sid, 1) ||
	    !text_ok(w->url, 1) || wh_method_name(w->method) == NULL ||
	    (w->label != NULL && !text_ok(w->label, 0)) ||
	    (w->disabled_reason != NULL && !text_ok(w->disabled_reason, 0)))
		return (0);
	if (w->nheaders > LIST_MAX || (w->nheaders > 0 && w->headers == NULL))
		return (0);
	for (i = 0; i < w->nheaders; i++) {
		if (!text_ok(w->headers[i].name, 1) ||
		    !text_ok(w->headers[i].value, 0))
			return (0);
	}
	if (w->nevent_types > LIST_MAX ||
	    (w->nevent_types > 0 && w->event_types == NULL))
		return (0);
	for (i = 0; i < w->nevent_types; i++) {
		if (!text_ok(w->event_types[i], 1))
			return (0);
	}
	return (1);
}

static int
webhook_pack(msgpack_packer *pk, const struct wh_webhook *w)
{
	size_t	i;

	/* Optional keys are written only when set: older readers skip them. */
	if (msgpack_pack_map(pk, 12 + (w->label != NULL) +
	    (w->disabled_reason != NULL) + 2 * (w->tls_cert != NULL) +
	    (w->tls_ca != NULL) + (w->retry.n > 0) +
	    (w->filter != NULL) + (w->rate_per_second != 0) +
	    (w->propagate_trace != 0)) != 0 ||
	    pk_kv_i64(pk, "v", MODEL_VERSION) == -1 ||
	    pk_kv_str(pk, "sid", w->sid) == -1 ||
	    pk_kv_str(pk, "company_sid", w->company_sid) == -1)
		return (-1);
	if (w->label != NULL && pk_kv_str(pk, "label", w->label) == -1)
		return (-1);
	if (pk_kv_str(pk, "url", w->url) == -1 ||
	    pk_kv_i64(pk, "method", w->method) == -1 ||
	    pk_kv_u32(pk, "timeout_ms", w->timeout_ms) == -1 ||
	    pk_kv_u32(pk, "max_attempts", w->max_attempts) == -1 ||
	    pk_key(pk, "headers") == -1 ||
	    msgpack_pack_array(pk, w->nheaders) != 0)
		return (-1);
	for (i = 0; i < w->nheaders; i++) {
		if (msgpack_pack_map(pk, 3) != 0 ||
		    pk_kv_str(pk, "name", w->headers[i].name) == -1 ||
		    pk_kv_str(pk, "value", w->headers[i].value) == -1 ||
		    pk_kv_bool(pk, "sign", w->headers[i].sign) == -1)
			return (-1);
	}
	if (pk_key(pk, "event_types") == -1 ||
	    msgpack_pack_array(pk, w->nevent_types) != 0)
		return (-1);
	for (i = 0; i < w->nevent_types; i++) {
		if (pk_str(pk, w->event_types[i],
		    strlen(w->event_types[i])) == -1)
			return (-1);
	}
	if (pk_kv_bool(pk, "enabled", w->enabled) == -1 ||
	    (w->propagate_trace && pk_kv_bool(pk, "propagate_trace", 1) == -1))
		return (-1);
	if (w->disabled_reason != NULL && pk_kv_str(pk, "disabled_reason",
	    w->disabled_reason) == -1)
		return (-1);
	if (tls_pack(pk, w) == -1 || control_pack(pk, w) == -1)
		return (-1);
	if (pk_kv_i64(pk, "created_at", w->created_at) == -1 ||
	    pk_kv_i64(pk, "updated_at", w->updated_at) == -1)
		return (-1);
	return (0);
}

int
wh_webhook_encode(const struct wh_webhook *w, struct wh_buf *out)
{
	msgpack_packer	pk;
	size_t		mark = out->len;

	if (!webhook_encodable(w))
		return (-1);
	msgpack_packer_init(&pk, out, pk_write);
	if (webhook_pack(&pk, w) == -1) {
		out->len = mark;
		return (-1);
	}
	return (0);
}

/* "<webhook_sid>:<sid>": what a sealed secret is bound to. */
static int
secret_aad(const char *webhook_sid, const char *sid, char *out, size_t len)
{
	int	n;

	n = snprintf(out, len, "%s:%s", webhook_sid, sid);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

/*
 * A secret under name: sealed (under enc_name) when a WH_SECRETS_KEY ring
 * is in use (secretbox.h) and bound to aad, else as it is.
 */
static int
sealed_pack(msgpack_packer *pk, const char *name, const char *enc_name,
    const char *aad, const unsigned char *p, size_t len)
{
	const struct wh_secrets	*ring = wh_secrets_ring();
	struct wh_buf		 sealed;
	int			 rc = -1;

	if (ring == NULL)
		return (pk_key(pk, name) == -1 ||
		    msgpack_pack_bin(pk, len) != 0 ||
		    msgpack_pack_bin_body(pk, p, len) != 0 ? -1 : 0);
	wh_buf_init(&sealed, 0);
	if (wh_secret_seal(ring, aad, p, len, &sealed) == 0 &&
	    pk_key(pk, enc_name) == 0 &&
	    msgpack_pack_bin(pk, sealed.len) == 0 &&
	    msgpack_pack_bin_body(pk, sealed.data, sealed.len) == 0)
		rc = 0;
	wh_buf_free(&sealed);
	return (rc);
}

/* The signing secret: "secret", or "secret_enc" sealed. */
static int
secret_pack(msgpack_packer *pk, const struct wh_signing_key *k)
{
	char	aad[2 * 64 + 2];

	if (secret_aad(k->webhook_sid, k->sid, aad, sizeof(aad)) == -1)
		return (-1);
	return (sealed_pack(pk, "secret", "secret_enc", aad, k->secret,
	    k->secret_len));
}

/*
 * A webhook's TLS material: the client certificate and its key (the key
 * sealed like signing secrets, bound to "<sid>:tls_key"), the private CA.
 */
static int
tls_pack(msgpack_packer *pk, const struct wh_webhook *w)
{
	char	aad[64 + 10];

	if (w->tls_cert != NULL && (secret_aad(w->sid, "tls_key", aad,
	    sizeof(aad)) == -1 || pk_kv_str(pk, "tls_cert", w->tls_cert) == -1 ||
	    sealed_pack(pk, "tls_key", "tls_key_enc", aad,
	    (const unsigned char *)w->tls_key, strlen(w->tls_key)) == -1))
		return (-1);
	if (w->tls_ca != NULL && pk_kv_str(pk, "tls_ca", w->tls_ca) == -1)
		return (-1);
	return (0);
}

/* An ed25519 key's secret is its raw private key: exactly 32 bytes. */
static int
key_secret_ok(const struct wh_signing_key *k)
{
	if (k->alg == WH_KEY_ED25519)
		return (k->secret_len == 32);
	return (k->alg == WH_KEY_HMAC && k->secret_len > 0 &&
	    k->secret_len <= SECRET_MAX);
}

static int
key_pack(msgpack_packer *pk, const struct wh_signing_key *k)
{
	if (msgpack_pack_map(pk, 6 + (k->label != NULL) +
	    (k->alg != WH_KEY_HMAC)) != 0 ||
	    pk_kv_i64(pk, "v", MODEL_VERSION) == -1 ||
	    pk_kv_str(pk, "sid", k->sid) == -1 ||
	    pk_kv_str(pk, "webhook_sid", k->webhook_sid) == -1)
		return (-1);
	if (k->label != NULL && pk_kv_str(pk, "label", k->label) == -1)
		return (-1);
	if (k->alg != WH_KEY_HMAC && pk_kv_i64(pk, "alg", k->alg) == -1)
		return (-1);
	if (secret_pack(pk, k) == -1 ||
	    pk_kv_i64(pk, "created_at", k->created_at) == -1 ||
	    pk_kv_i64(pk, "expires_at", k->expires_at) == -1)
		return (-1);
	return (0);
}

int
wh_signing_key_encode(const struct wh_signing_key *k, struct wh_buf *out)
{
	msgpack_packer	pk;
	size_t		mark = out->len;

	if (!text_ok(k->sid, 1) || !text_ok(k->webhook_sid, 1) ||
	    (k->label != NULL && !text_ok(k->label, 0)) ||
	    k->secret == NULL || !key_secret_ok(k))
		return (-1);
	msgpack_packer_init(&pk, out, pk_write);
	if (key_pack(&pk, k) == -1) {
		out->len = mark;
		return (-1);
	}
	return (0);
}

/* The event map: its fields, and the optional ones only when set. */
static int
event_pack(msgpack_packer *pk, const struct wh_event *e)
{
	if (msgpack_pack_map(pk, 5 + (e->traceparent != NULL) +
	    (e->ordering_key != NULL) + (e->entry_id != NULL)) != 0 ||
	    pk_kv_str(pk, "event_sid", e->event_sid) == -1 ||
	    pk_kv_str(pk, "company_sid", e->company_sid) == -1 ||
	    pk_kv_str(pk, "event_type", e->event_type) == -1 ||
	    pk_key(pk, "payload") == -1 ||
	    pk_str(pk, e->payload, e->payload_len) == -1 ||
	    pk_kv_i64(pk, "created_at", e->created_at) == -1 ||
	    (e->traceparent != NULL &&
	    pk_kv_str(pk, "traceparent", e->traceparent) == -1) ||
	    (e->ordering_key != NULL &&
	    pk_kv_str(pk, "ordering_key", e->ordering_key) == -1) ||
	    (e->entry_id != NULL &&
	    pk_kv_str(pk, "entry_id", e->entry_id) == -1))
		return (-1);
	return (0);
}

static int
task_pack(msgpack_packer *pk, const struct wh_task *t)
{
	if (msgpack_pack_map(pk, 6 + (t->last_error != NULL) +
	    (t->match != 0)) != 0 ||
	    pk_kv_i64(pk, "v", MODEL_VERSION) == -1 ||
	    pk_key(pk, "event") == -1 ||
	    event_pack(pk, &t->event) == -1 ||
	    pk_kv_str(pk, "webhook_sid", t->webhook_sid) == -1 ||
	    pk_kv_u32(pk, "attempt", t->attempt) == -1 ||
	    pk_kv_i64(pk, "first_attempt_at", t->first_attempt_at) == -1 ||
	    pk_kv_i64(pk, "due_at", t->due_at) == -1)
		return (-1);
	if (t->last_error != NULL &&
	    pk_kv_str(pk, "last_error", t->last_error) == -1)
		return (-1);
	if (t->match && (pk_key(pk, "match") == -1 ||
	    msgpack_pack_true(pk) != 0))
		return (-1);
	return (0);
}

/*
 * What every encoded event must be: the text fields present, a valid
 * traceparent and ordering key when given, and the payload's exact bytes
 * (JSON text is UTF-8, and a raw NUL can never be part of it, so one is
 * refused here as it is when decoding).
 */
static int
event_ok(const struct wh_event *e)
{
	struct wh_trace	tc;
	size_t		n;

	if (!text_ok(e->event_sid, 1) || !text_ok(e->company_sid, 1) ||
	    !text_ok(e->event_type, 1) ||
	    (e->traceparent != NULL && wh_traceparent_parse(e->traceparent,
	    strlen(e->traceparent), &tc) == -1))
		return (0);
	if (e->ordering_key != NULL && ((n = strlen(e->ordering_key)) == 0 ||
	    n > WH_ORDERING_KEY_MAX))
		return (0);
	if (e->entry_id != NULL && !text_ok(e->entry_id, 1))
		return (0);
	return (e->payload != NULL && e->payload_len > 0 &&
	    e->payload_len <= UINT32_MAX &&
	    memchr(e->payload, '\0', e->payload_len) == NULL);
}

int
wh_task_encode(const struct wh_task *t, struct wh_buf *out)
{
	msgpack_packer	pk;
	size_t		mark = out->len;

	if (!event_ok(&t->event) || !text_ok(t->webhook_sid, 1) ||
	    (t->last_error != NULL && !text_ok(t->last_error, 0)) ||
	    t->attempt == 0)
		return (-1);
	msgpack_packer_init(&pk, out, pk_write);
	if (task_pack(&pk, t) == -1) {
		out->len = mark;
		return (-1);
	}
	return (0);
}

int
wh_event_encode(const struct wh_event *e, struct wh_buf *out)
{
	msgpack_packer	pk;
	size_t		mark = out->len;

	if (!event_ok(e))
		return (-1);
	msgpack_packer_init(&pk, out, pk_write);
	if (event_pack(&pk, e) == -1) {
		out->len = mark;
		return (-1);
	}
	return (0);
}

/* ---- decoding ---- */

/* Big-endian unsigned integer of n (1, 2 or 4) bytes. */
static uint64_t
be_uint(const unsigned char *p, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return (v);
}

/*
 * msgpack-c allocates a container's element storage as soon as it reads
 * the count, so five hostile bytes claiming a map of 2^32 entries would
 * ask it for ~200 GB. Walk the bytes first, allocating nothing: every
 * object takes at least one byte, so a container counting more children
 * than bytes remain is malformed, which bounds what msgpack-c allocates
 * to a small multiple of len. Also insists on exactly one object that
 * fills buf and refuses the never-used type byte 0xc1.
 *
 * Each pending object needs one of the bytes left, checked at the top of
 * the loop, so len - pos - pending never wraps.
 */
static int
prescan(const unsigned char *p, size_t len)
{
	enum { SCALAR, DATA, ARRAY, MAP }	 kind;
	size_t		 pos = 0, pending = 1, lenbytes;
	uint64_t	 skip, children, n;
	unsigned char	 c;

	while (pending > 0) {
		if (pending > len - pos)
			return (-1);
		c = p[pos++];
		pending--;
		kind = SCALAR;
		lenbytes = 0;	/* size of the explicit length field */
		skip = 0;	/* bytes after it (ext type, data) */
		children = 0;

		if (c <= 0x7f || c >= 0xe0) {
			/* positive or negative fixint */
		} else if (c <= 0x8f) {
			children = 2 * (uint64_t)(c & 0x0f);
		} else if (c <= 0x9f) {
			children = c & 0x0f;
		} else if (c <= 0xbf) {
			skip = c & 0x1f;	/* fixstr */
		} else {
			switch (c) {
			case 0xc0:	/* nil */
			case 0xc2:	/* false */
			case 0xc3:	/* true */
				break;
			case 0xc4:	/* bin 8 */
			case 0xd9:	/* str 8 */
				kind = DATA;
				lenbytes = 1;
				break;
			case 0xc5:	/* bin 16 */
			case 0xda:	/* str 16 */
				kind = DATA;
				lenbytes = 2;
				break;
			case 0xc6:	/* bin 32 */
			case 0xdb:	/* str 32 */
				kind = DATA;
				lenbytes = 4;
				break;
			case 0xc7:	/* ext 8/16/32: length, type, data */
			case 0xc8:
			case 0xc9:
				kind = DATA;
				lenbytes = (size_t)1 << (c - 0xc7);
				skip = 1;
				break;
			case 0xdc:	/* array 16, 32 */
			case 0xdd:
				kind = ARRAY;
				lenbytes = c == 0xdc ? 2 : 4;
				break;
			case 0xde:	/* map 16, 32 */
			case 0xdf:
				kind = MAP;
				lenbytes = c == 0xde ? 2 : 4;
				break;
			case 0xcc:	/* uint 8, int 8 */
			case 0xd0:
				skip = 1;
				break;
			case 0xcd:
			case 0xd1:
				skip = 2;
				break;
			case 0xca:	/* float 32 */
			case 0xce:
			case 0xd2:
				skip = 4;
				break;
			case 0xcb:	/* float 64 */
			case 0xcf:
			case 0xd3:
				skip = 8;
				break;
			case 0xd4:	/* fixext 1..16: type, data */
			case 0xd5:
			case 0xd6:
			case 0xd7:
			case 0xd8:
				skip = 1 + ((uint64_t)1 << (c - 0xd4));
				break;
			default:	/* 0xc1, never used */
				return (-1);
			}
		}

		if (lenbytes > 0) {
			if (lenbytes > len - pos - pending)
				return (-1);
			n = be_uint(p + pos, lenbytes);
			pos += lenbytes;
			if (kind == DATA)
				skip += n;
			else if (kind == ARRAY)
				children = n;
			else
				children = 2 * n;
		}
		if (skip > len - pos - pending)
			return (-1);
		pos += (size_t)skip;
		if (children > len - pos - pending)
			return (-1);
		pending += (size_t)children;
	}
	return (pos == len ? 0 : -1);
}

/* Parse exactly one msgpack map covering all of buf. */
static int
unpack_map(const char *buf, size_t len, msgpack_unpacked *res)
{
	size_t	off = 0;

	msgpack_unpacked_init(res);
	if (buf == NULL || len == 0 ||
	    prescan((const unsigned char *)buf, len) == -1)
		return (-1);
	if (msgpack_unpack_next(res, buf, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len ||
	    res->data.type != MSGPACK_OBJECT_MAP)
		return (-1);
	return (0);
}

/*
 * Which of names[] the map key k is: its index, -1 for a key we do not
 * know (skipped) and -2 for a key that is not a string (malformed).
 */
static int
key_index(const msgpack_object *k, const char *const *names, size_t n)
{
	size_t	i, len;

	if (k->type != MSGPACK_OBJECT_STR)
		return (-2);
	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		if (k->via.str.size == len &&
		    memcmp(k->via.str.ptr, names[i], len) == 0)
			return ((int)i);
	}
	return (-1);
}

/*
 * Look up a map entry's key and mark it seen: the field index, -1 to skip
 * the entry, -2 when malformed (not a string key, or a known key twice).
 */
static int
field(const msgpack_object_kv *kv, const char *const *names, size_t n,
    uint32_t *seen)
{
	int	i;

	if ((i = key_index(&kv->key, names, n)) < 0)
		return (i);
	if (*seen & (1U << i))
		return (-2);
	*seen |= 1U << i;
	return (i);
}

/*
 * A copy of bytes that must be text: no NUL inside, at most max bytes,
 * and at least one when nonempty. NUL-terminated; the length in *lenp.
 */
static int
copy_text(const char *p, size_t len, size_t max, int nonempty, char **out,
    size_t *lenp)
{
	char	*s;

	if (len > max || (nonempty && len == 0) ||
	    (len > 0 && memchr(p, '\0', len) != NULL))
		return (-1);
	if ((s = malloc(len + 1)) == NULL)
		return (-1);
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	if (lenp != NULL)
		*lenp = len;
	return (0);
}

static int
get_str(const msgpack_object *o, int nonempty, char **out)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return (-1);
	return (copy_text(o->via.str.ptr, o->via.str.size, TEXT_MAX, nonempty,
	    out, NULL));
}

/* A private key kept as bytes: PEM text, no NUL inside. */
static int
get_bin_text(const msgpack_object *o, char **out)
{
	if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size == 0 ||
	    o->via.bin.size > WH_PEM_MAX ||
	    memchr(o->via.bin.ptr, '\0', o->via.bin.size) != NULL ||
	    (*out = malloc(o->via.bin.size + 1)) == NULL)
		return (-1);
	memcpy(*out, o->via.bin.ptr, o->via.bin.size);
	(*out)[o->via.bin.size] = '\0';
	return (0);
}

static int
get_i64(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return (-1);
		*out = (int64_t)o->via.u64;
		return (0);
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return (0);
	}
	return (-1);
}

static int
get_u32(const msgpack_object *o, uint32_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 > UINT32_MAX)
		return (-1);
	*out = (uint32_t)o->via.u64;
	return (0);
}

static int
get_bool(const msgpack_object *o, int *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return (-1);
	*out = o->via.boolean ? 1 : 0;
	return (0);
}

/*
 * "v": absent means 1 (hand-written records); a version newer than ours
 * is an incompatible change (compatible ones only add keys), so refuse it.
 */
static int
check_version(const msgpack_object *o)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 < 1 ||
	    o->via.u64 > MODEL_VERSION)
		return (-1);
	return (0);
}

static const char *const header_keys[] = { "name", "value", "sign" };
enum { HK_NAME, HK_VALUE, HK_SIGN };

static int
decode_header(const msgpack_object *m, struct wh_header *h)
{
	const msgpack_object_kv	*kv;
	uint32_t		 i, seen = 0;
	int			 rc;

	if (m->type != MSGPACK_OBJECT_MAP)
		return (-1);
	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		switch (field(kv, header_keys, NITEMS(header_keys), &seen)) {
		case -2:
			return (-1);
		case HK_NAME:
			rc = get_str(&kv->val, 1, &h->name);
			break;
		case HK_VALUE:
			rc = get_str(&kv->val, 0, &h->value);
			break;
		case HK_SIGN:
			rc = get_bool(&kv->val, &h->sign);
			break;
		default:
			rc = 0;
			break;
		}
		if (rc == -1)
			return (-1);
	}
	if (h->name == NULL || h->value == NULL)
		return (-1);
	return (0);
}

/* nheaders counts the slots handed out, so a failure frees just those. */
static int
decode_headers(const msgpack_object *o, struct wh_webhook *w)
{
	uint32_t	i;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > LIST_MAX)
		return (-1);
	if (o->via.array.size == 0)
		return (0);
	if ((w->headers = calloc(o->via.array.size,
	    sizeof(*w->headers))) == NULL)
		return (-1);
	for (i = 0; i < o->via.array.size; i++) {
		w->nheaders = i + 1;
		if (decode_header(&o->via.array.ptr[i], &w->headers[i]) == -1)
			return (-1);
	}
	return (0);
}

static int
decode_event_types(const msgpack_object *o, struct wh_webhook *w)
{
	uint32_t	i;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > LIST_MAX)
		return (-1);
	if (o->via.array.size == 0)
		return (0);
	if ((w->event_types = calloc(o->via.array.size,
	    sizeof(*w->event_types))) == NULL)
		return (-1);
	for (i = 0; i < o->via.array.size; i++) {
		w->nevent_types = i + 1;
		if (get_str(&o->via.array.ptr[i], 1, &w->event_types[i]) == -1)
			return (-1);
	}
	return (0);
}

static int	tls_key_open(const msgpack_object *, struct wh_webhook *);

/* rate_limit: [per_second, burst], each 1 to WH_RATE_MAX. */
static int
decode_rate(const msgpack_object *o, struct wh_webhook *w)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
	    get_u32(&o->via.array.ptr[0], &w->rate_per_second) == -1 ||
	    get_u32(&o->via.array.ptr[1], &w->rate_burst) == -1 ||
	    w->rate_per_second == 0 || !rate_ok(w)) {
		w->rate_per_second = w->rate_burst = 0;
		return (-1);
	}
	return (0);
}

/* retry_schedule_s: 1 to 20 delays, each within the api's bounds. */
static int
decode_schedule(const msgpack_object *o, struct wh_schedule *s)
{
	uint32_t	i;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
	    o->via.array.size > WH_SCHEDULE_MAX)
		return (-1);
	for (i = 0; i < o->via.array.size; i++) {
		if (get_u32(&o->via.array.ptr[i], &s->delay_s[i]) == -1 ||
		    s->delay_s[i] < WH_SCHEDULE_MIN_S ||
		    s->delay_s[i] > WH_SCHEDULE_MAX_S) {
			s->n = 0;
			return (-1);
		}
	}
	s->n = o->via.array.size;
	return (0);
}

static const char *const webhook_keys[] = {
	"v", "sid", "company_sid", "label", "url", "method", "timeout_ms",
	"max_attempts", "headers", "event_types", "enabled", "created_at",
	"updated_at", "disabled_reason", "tls_cert", "tls_key", "tls_key_enc",
	"tls_ca", "retry_schedule_s", "filter", "rate_limit", "propagate_trace"
};
enum {
	WK_V, WK_SID, WK_COMPANY, WK_LABEL, WK_URL, WK_METHOD, WK_TIMEOUT,
	WK_ATTEMPTS, WK_HEADERS, WK_TYPES, WK_ENABLED, WK_CREATED, WK_UPDATED,
	WK_DISABLED_REASON, WK_TLS_CERT, WK_TLS_KEY, WK_TLS_KEY_ENC, WK_TLS_CA,
	WK_RETRY, WK_FILTER, WK_RATE, WK_PROPAGATE
};

static int
webhook_field(const msgpack_object_kv *kv, int idx, struct wh_webhook *w)
{
	switch (idx) {
	case WK_V:
		return (check_version(&kv->val));
	case WK_SID:
		return (get_str(&kv->val, 1, &w->sid));
	case WK_COMPANY:
		return (get_str(&kv->val, 1, &w->company_sid));
	case WK_LABEL:
		return (get_str(&kv->val, 0, &w->label));
	case WK_URL:
		return (get_str(&kv->val, 1, &w->url));
	case WK_METHOD:
		if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    kv->val.via.u64 < WH_METHOD_POST ||
		    kv->val.via.u64 > WH_METHOD_PATCH)
			return (-1);
		w->method = (int)kv->val.via.u64;
		return (0);
	case WK_TIMEOUT:
		return (get_u32(&kv->val, &w->timeout_ms));
	case WK_ATTEMPTS:
		return (get_u32(&kv->val, &w->max_attempts));
	case WK_HEADERS:
		return (decode_headers(&kv->val, w));
	case WK_TYPES:
		return (decode_event_types(&kv->val, w));
	case WK_ENABLED:
		return (get_bool(&kv->val, &w->enabled));
	case WK_CREATED:
		return (get_i64(&kv->val, &w->created_at));
	case WK_UPDATED:
		return (get_i64(&kv->val, &w->updated_at));
	case WK_DISABLED_REASON:
		return (get_str(&kv->val, 0, &w->disabled_reason));
	case WK_TLS_CERT:
		return (get_str(&kv->val, 1, &w->tls_cert));
	case WK_TLS_KEY:
		return (get_bin_text(&kv->val, &w->tls_key));
	case WK_TLS_KEY_ENC:
		return (0);	/* opened by webhook_fields, once sid is known */
	case WK_TLS_CA:
		return (get_str(&kv->val, 1, &w->tls_ca));
	case WK_RETRY:
		return (decode_schedule(&kv->val, &w->retry));
	case WK_FILTER:
		return (get_str(&kv->val, 1, &w->filter));
	case WK_RATE:
		return (decode_rate(&kv->val, w));
	case WK_PROPAGATE:
		return (get_bool(&kv->val, &w->propagate_trace));
	default:
		return (-1);
	}
}

/*
 * Fields a record may lack get the api's defaults, so that a record
 * written without them still delivers (a zero timeout would mean none).
 */
static int
webhook_fields(const msgpack_object *m, struct wh_webhook *w)
{
	const msgpack_object_kv	*kv;
	const msgpack_object	*sealed = NULL;
	uint32_t		 i, seen = 0;
	int			 idx;

	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		idx = field(kv, webhook_keys, NITEMS(webhook_keys), &seen);
		if (idx == -2)
			return (-1);
		if (idx == WK_TLS_KEY_ENC)
			sealed = &kv->val;
		if (idx >= 0 && webhook_field(kv, idx, w) == -1)
			return (-1);
	}
	if (w->sid == NULL || w->company_sid == NULL || w->url == NULL ||
	    w->method == 0)
		return (-1);
	if (sealed != NULL && (w->tls_key != NULL ||
	    tls_key_open(sealed, w) == -1))
		return (-1);
	if ((w->tls_cert != NULL) != (w->tls_key != NULL))
		return (-1);
	if (!(seen & (1U << WK_TIMEOUT)))
		w->timeout_ms = WH_TIMEOUT_DEFAULT;
	if (!(seen & (1U << WK_ATTEMPTS)))
		w->max_attempts = WH_ATTEMPTS_DEFAULT;
	if (!(seen & (1U << WK_ENABLED)))
		w->enabled = 1;
	return (0);
}

int
wh_webhook_decode(const char *buf, size_t len, struct wh_webhook *w)
{
	msgpack_unpacked	res;
	int			rc = -1;

	memset(w, 0, sizeof(*w));
	if (unpack_map(buf, len, &res) == 0)
		rc = webhook_fields(&res.data, w);
	msgpack_unpacked_destroy(&res);
	if (rc == -1)
		wh_webhook_free(w);
	return (rc);
}

static const char *const key_keys[] = {
	"v", "sid", "webhook_sid", "label", "secret", "created_at",
	"expires_at", "secret_enc", "alg"
};
enum {
	KK_V, KK_SID, KK_WEBHOOK, KK_LABEL, KK_SECRET, KK_CREATED, KK_EXPIRES,
	KK_SECRET_ENC, KK_ALG
};

static int
key_field(const msgpack_object_kv *kv, int idx, struct wh_signing_key *k)
{
	const msgpack_object	*o = &kv->val;
	int64_t			 alg;

	switch (idx) {
	case KK_V:
		return (check_version(o));
	case KK_SID:
		return (get_str(o, 1, &k->sid));
	case KK_WEBHOOK:
		return (get_str(o, 1, &k->webhook_sid));
	case KK_LABEL:
		return (get_str(o, 0, &k->label));
	case KK_SECRET:
		if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size == 0 ||
		    o->via.bin.size > SECRET_MAX)
			return (-1);
		if ((k->secret = malloc(o->via.bin.size)) == NULL)
			return (-1);
		memcpy(k->secret, o->via.bin.ptr, o->via.bin.size);
		k->secret_len = o->via.bin.size;
		return (0);
	case KK_CREATED:
		return (get_i64(o, &k->created_at));
	case KK_EXPIRES:
		return (get_i64(o, &k->expires_at));
	case KK_SECRET_ENC:
		return (0);	/* opened by key_fields, once sids are known */
	case KK_ALG:
		if (get_i64(o, &alg) == -1 || (alg != WH_KEY_HMAC &&
		    alg != WH_KEY_ED25519))
			return (-1);
		k->alg = (int)alg;
		return (0);
	default:
		return (-1);
	}
}

/*
 * A sealed value (bound to aad) opened with the ring in use into a new
 * heap copy of at most max bytes, NUL-terminated. Its length, or -1.
 */
static int
sealed_open(const msgpack_object *o, const char *aad, size_t max,
    unsigned char **out)
{
	unsigned char	*plain;
	int		 n;

	if (o->type != MSGPACK_OBJECT_BIN || (plain = malloc(max + 1)) == NULL)
		return (-1);
	n = wh_secret_open(wh_secrets_ring(), aad,
	    (const unsigned char *)o->via.bin.ptr, o->via.bin.size, plain,
	    max);
	if (n <= 0) {
		explicit_bzero(plain, max + 1);
		free(plain);
		return (-1);
	}
	plain[n] = '\0';
	*out = plain;
	return (n);
}

/* A sealed secret into k->secret, with the ring in use. */
static int
secret_open(const msgpack_object *o, struct wh_signing_key *k)
{
	char	aad[2 * 64 + 2];
	int	n;

	if (secret_aad(k->webhook_sid, k->sid, aad, sizeof(aad)) == -1 ||
	    (n = sealed_open(o, aad, SECRET_MAX, &k->secret)) == -1)
		return (-1);
	k->secret_len = (size_t)n;
	return (0);
}

/* The client certificate's sealed key into w->tls_key (PEM text). */
static int
tls_key_open(const msgpack_object *o, struct wh_webhook *w)
{
	unsigned char	*p;
	char		 aad[64 + 10];
	int		 n;

	if (secret_aad(w->sid, "tls_key", aad, sizeof(aad)) == -1 ||
	    (n = sealed_open(o, aad, WH_PEM_MAX, &p)) == -1)
		return (-1);
	if (memchr(p, '\0', (size_t)n) != NULL) {
		explicit_bzero(p, (size_t)n);
		free(p);
		return (-1);
	}
	w->tls_key = (char *)p;
	return (0);
}

static int
key_fields(const msgpack_object *m, struct wh_signing_key *k)
{
	const msgpack_object_kv	*kv;
	const msgpack_object	*sealed = NULL;
	uint32_t		 i, seen = 0;
	int			 idx;

	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		idx = field(kv, key_keys, NITEMS(key_keys), &seen);
		if (idx == -2)
			return (-1);
		if (idx == KK_SECRET_ENC)
			sealed = &kv->val;
		if (idx >= 0 && key_field(kv, idx, k) == -1)
			return (-1);
	}
	if (k->sid == NULL || k->webhook_sid == NULL)
		return (-1);
	/* Either form, never both. */
	if (sealed != NULL && (k->secret != NULL ||
	    secret_open(sealed, k) == -1))
		return (-1);
	if (k->secret == NULL || !key_secret_ok(k))
		return (-1);
	return (0);
}

int
wh_signing_key_decode(const char *buf, size_t len, struct wh_signing_key *k)
{
	msgpack_unpacked	res;
	int			rc = -1;

	memset(k, 0, sizeof(*k));
	if (unpack_map(buf, len, &res) == 0)
		rc = key_fields(&res.data, k);
	msgpack_unpacked_destroy(&res);
	if (rc == -1)
		wh_signing_key_free(k);
	return (rc);
}

static const char *const event_keys[] = {
	"event_sid", "company_sid", "event_type", "payload", "created_at",
	"traceparent", "ordering_key", "entry_id"
};
enum { EK_SID, EK_COMPANY, EK_TYPE, EK_PAYLOAD, EK_CREATED, EK_TRACE,
	EK_OKEY, EK_ENTRY };

/*
 * The payload is raw JSON: a str, or a bin from a writer that treats it
 * as bytes. Either way it must be nonempty and hold no NUL.
 */
static int
event_field(const msgpack_object_kv *kv, int idx, struct wh_event *e)
{
	const msgpack_object	*o = &kv->val;
	struct wh_trace		 tc;

	switch (idx) {
	case EK_SID:
		return (get_str(o, 1, &e->event_sid));
	case EK_COMPANY:
		return (get_str(o, 1, &e->company_sid));
	case EK_TYPE:
		return (get_str(o, 1, &e->event_type));
	case EK_PAYLOAD:
		if (o->type == MSGPACK_OBJECT_STR)
			return (copy_text(o->via.str.ptr, o->via.str.size,
			    SIZE_MAX, 1, &e->payload, &e->payload_len));
		if (o->type == MSGPACK_OBJECT_BIN)
			return (copy_text(o->via.bin.ptr, o->via.bin.size,
			    SIZE_MAX, 1, &e->payload, &e->payload_len));
		return (-1);
	case EK_CREATED:
		return (get_i64(o, &e->created_at));
	case EK_TRACE:
		/* Optional (tasks written before it are without). */
		return (get_str(o, 1, &e->traceparent) == -1 ||
		    wh_traceparent_parse(e->traceparent,
		    strlen(e->traceparent), &tc) == -1 ? -1 : 0);
	case EK_OKEY:
		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size > WH_ORDERING_KEY_MAX)
			return (-1);
		return (get_str(o, 1, &e->ordering_key));
	case EK_ENTRY:
		return (get_str(o, 1, &e->entry_id));
	default:
		return (-1);
	}
}

static int
event_fields(const msgpack_object *m, struct wh_event *e)
{
	const msgpack_object_kv	*kv;
	uint32_t		 i, seen = 0;
	int			 idx;

	if (m->type != MSGPACK_OBJECT_MAP)
		return (-1);
	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		idx = field(kv, event_keys, NITEMS(event_keys), &seen);
		if (idx == -2)
			return (-1);
		if (idx >= 0 && event_field(kv, idx, e) == -1)
			return (-1);
	}
	if (e->event_sid == NULL || e->company_sid == NULL ||
	    e->event_type == NULL || e->payload == NULL)
		return (-1);
	return (0);
}

static const char *const task_keys[] = {
	"v", "event", "webhook_sid", "attempt", "first_attempt_at", "due_at",
	"last_error", "match"
};
enum { TK_V, TK_EVENT, TK_WEBHOOK, TK_ATTEMPT, TK_FIRST, TK_DUE, TK_ERROR,
	TK_MATCH };

static int
task_field(const msgpack_object_kv *kv, int idx, struct wh_task *t)
{
	const msgpack_object	*o = &kv->val;

	switch (idx) {
	case TK_V:
		return (check_version(o));
	case TK_EVENT:
		return (event_fields(o, &t->event));
	case TK_WEBHOOK:
		return (get_str(o, 1, &t->webhook_sid));
	case TK_ATTEMPT:
		if (get_u32(o, &t->attempt) == -1 || t->attempt == 0)
			return (-1);
		return (0);
	case TK_FIRST:
		return (get_i64(o, &t->first_attempt_at));
	case TK_DUE:
		return (get_i64(o, &t->due_at));
	case TK_ERROR:
		return (get_str(o, 0, &t->last_error));
	case TK_MATCH:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return (-1);
		t->match = o->via.boolean;
		return (0);
	default:
		return (-1);
	}
}

static int
task_fields(const msgpack_object *m, struct wh_task *t)
{
	const msgpack_object_kv	*kv;
	uint32_t		 i, seen = 0;
	int			 idx;

	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		idx = field(kv, task_keys, NITEMS(task_keys), &seen);
		if (idx == -2)
			return (-1);
		if (idx >= 0 && task_field(kv, idx, t) == -1)
			return (-1);
	}
	if (!(seen & (1U << TK_EVENT)) || t->webhook_sid == NULL ||
	    t->attempt == 0)
		return (-1);
	return (0);
}

int
wh_task_decode(const char *buf, size_t len, struct wh_task *t)
{
	msgpack_unpacked	res;
	int			rc = -1;

	memset(t, 0, sizeof(*t));
	if (unpack_map(buf, len, &res) == 0)
		rc = task_fields(&res.data, t);
	msgpack_unpacked_destroy(&res);
	if (rc == -1)
		wh_task_free(t);
	return (rc);
}

int
wh_event_decode(const char *buf, size_t len, struct wh_event *e)
{
	msgpack_unpacked	res;
	int			rc = -1;

	memset(e, 0, sizeof(*e));
	if (unpack_map(buf, len, &res) == 0)
		rc = event_fields(&res.data, e);
	msgpack_unpacked_destroy(&res);
	if (rc == -1)
		wh_event_free(e);
	return (rc);
}

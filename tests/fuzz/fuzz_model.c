/*
 * fuzz_model.c: the msgpack decoders of common/model.c (webhook,
 * signing key, task) on any bytes. Records come back from Redis, where
 * anyone with access to it (or a bug elsewhere) may have written
 * anything, and tasks travel between dispatchers through the retry set.
 * Each input is offered to all three decoders.
 *
 * Checks, beyond memory safety (msgpack-c allocates by the counts it
 * reads; the decoders' prescan must keep that bounded) and no leaks:
 * - a refusal leaves the struct zeroed;
 * - what is accepted encodes again, decodes to an equal record, and
 *   encodes to the same bytes again (the encoding is canonical);
 * - text fields hold no NUL and required ones are present;
 * - with a WH_SECRETS_KEY ring in use, an accepted signing key encodes
 *   with its secret sealed and decodes (opening it) to an equal record;
 * - a sealed secret (common/secretbox.c) cannot be forged: the input as
 *   a sealed value never opens; the input sealed opens to itself, only
 *   for its own record, and not once any byte of it is changed.
 */
#include "buf.h"
#include "model.h"
#include "secretbox.h"

#include "fuzz.h"

static int
is_zero(const void *p, size_t len)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (c[i] != 0)
			return (0);
	}
	return (1);
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

static int
webhook_eq(const struct wh_webhook *a, const struct wh_webhook *b)
{
	size_t	i;

	if (!str_eq(a->sid, b->sid) || !str_eq(a->company_sid,
	    b->company_sid) || !str_eq(a->label, b->label) ||
	    !str_eq(a->url, b->url) ||
	    !str_eq(a->disabled_reason, b->disabled_reason) ||
	    a->method != b->method ||
	    a->timeout_ms != b->timeout_ms ||
	    a->max_attempts != b->max_attempts ||
	    a->nheaders != b->nheaders ||
	    a->nevent_types != b->nevent_types || a->enabled != b->enabled ||
	    a->created_at != b->created_at || a->updated_at != b->updated_at)
		return (0);
	/* The delivery-control fields (issue 21). */
	if (!str_eq(a->filter, b->filter) || a->retry.n != b->retry.n ||
	    memcmp(a->retry.delay_s, b->retry.delay_s,
	    a->retry.n * sizeof(a->retry.delay_s[0])) != 0 ||
	    a->rate_per_second != b->rate_per_second ||
	    a->rate_burst != b->rate_burst)
		return (0);
	for (i = 0; i < a->nheaders; i++) {
		if (!str_eq(a->headers[i].name, b->headers[i].name) ||
		    !str_eq(a->headers[i].value, b->headers[i].value) ||
		    a->headers[i].sign != b->headers[i].sign)
			return (0);
	}
	for (i = 0; i < a->nevent_types; i++) {
		if (!str_eq(a->event_types[i], b->event_types[i]))
			return (0);
	}
	return (1);
}

static int
key_eq(const struct wh_signing_key *a, const struct wh_signing_key *b)
{
	return (str_eq(a->sid, b->sid) &&
	    str_eq(a->webhook_sid, b->webhook_sid) &&
	    str_eq(a->label, b->label) && a->secret_len == b->secret_len &&
	    memcmp(a->secret, b->secret, a->secret_len) == 0 &&
	    a->created_at == b->created_at && a->expires_at == b->expires_at);
}

static int
task_eq(const struct wh_task *a, const struct wh_task *b)
{
	const struct wh_event	*x = &a->event, *y = &b->event;

	return (str_eq(x->event_sid, y->event_sid) &&
	    str_eq(x->company_sid, y->company_sid) &&
	    str_eq(x->event_type, y->event_type) &&
	    x->payload_len == y->payload_len &&
	    memcmp(x->payload, y->payload, x->payload_len) == 0 &&
	    x->created_at == y->created_at &&
	    str_eq(a->webhook_sid, b->webhook_sid) &&
	    a->attempt == b->attempt &&
	    a->first_attempt_at == b->first_attempt_at &&
	    a->due_at == b->due_at && str_eq(a->last_error, b->last_error));
}

static void
check_webhook(const char *p, size_t len)
{
	struct wh_webhook	w, w2;
	struct wh_buf		b1, b2;
	size_t			i;

	if (wh_webhook_decode(p, len, &w) == -1) {
		FUZZ_CHECK(is_zero(&w, sizeof(w)));
		return;
	}
	FUZZ_CHECK(w.sid != NULL && *w.sid != '\0');
	FUZZ_CHECK(w.company_sid != NULL && *w.company_sid != '\0');
	FUZZ_CHECK(w.url != NULL && *w.url != '\0');
	FUZZ_CHECK(wh_method_name(w.method) != NULL);
	for (i = 0; i < w.nheaders; i++)
		FUZZ_CHECK(w.headers[i].name[0] != '\0' &&
		    w.headers[i].value != NULL);
	wh_buf_init(&b1, 0);
	wh_buf_init(&b2, 0);
	FUZZ_CHECK(wh_webhook_encode(&w, &b1) == 0);
	FUZZ_CHECK(wh_webhook_decode(b1.data, b1.len, &w2) == 0);
	FUZZ_CHECK(webhook_eq(&w, &w2));
	FUZZ_CHECK(wh_webhook_encode(&w2, &b2) == 0);
	FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	wh_buf_free(&b1);
	wh_buf_free(&b2);
	wh_webhook_free(&w2);
	wh_webhook_free(&w);
}

#define SEALED_MAX	8192

/* Two keys, as WH_SECRETS_KEY would give them (the first one seals). */
static const struct wh_secrets *
ring(void)
{
	static struct wh_secrets	r;
	static int			ready;
	char				err[128];

	if (!ready) {
		FUZZ_CHECK(wh_secrets_parse("k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NT"
		    "Y3ODlhYmNkZWY=,k1:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDM"
		    "yMTA=", &r, err, sizeof(err)) == 0);
		FUZZ_CHECK(r.n == 2);
		ready = 1;
	}
	return (&r);
}

/* The key decoded with the ring in use: sealed on the way back out. */
static void
check_key_sealed(const char *p, size_t len)
{
	struct wh_signing_key	k, k2;
	struct wh_buf		b;

	wh_secrets_use(ring());
	if (wh_signing_key_decode(p, len, &k) == -1) {
		FUZZ_CHECK(is_zero(&k, sizeof(k)));
		wh_secrets_use(NULL);
		return;
	}
	wh_buf_init(&b, 0);
	FUZZ_CHECK(wh_signing_key_encode(&k, &b) == 0);
	FUZZ_CHECK(memmem(b.data, b.len, "secret_enc", 10) != NULL);
	FUZZ_CHECK(wh_signing_key_decode(b.data, b.len, &k2) == 0);
	FUZZ_CHECK(key_eq(&k, &k2));
	wh_signing_key_free(&k2);
	wh_secrets_use(NULL);	/* no ring: a sealed secret cannot open */
	FUZZ_CHECK(wh_signing_key_decode(b.data, b.len, &k2) == -1);
	wh_buf_free(&b);
	wh_signing_key_free(&k);
}

static void
check_secretbox(const uint8_t *data, size_t size)
{
	const struct wh_secrets	*r = ring();
	struct wh_buf		 sealed;
	unsigned char		*out;
	size_t			 at;

	if ((out = malloc(SEALED_MAX)) == NULL)
		return;
	FUZZ_CHECK(wh_secret_open(r, "wh_1:sk_1", data, size, out,
	    SEALED_MAX) == -1);
	wh_buf_init(&sealed, 0);
	if (size > 0 && size <= SEALED_MAX &&
	    wh_secret_seal(r, "wh_1:sk_1", data, size, &sealed) == 0) {
		FUZZ_CHECK(wh_secret_open(r, "wh_1:sk_1",
		    (unsigned char *)sealed.data, sealed.len, out,
		    SEALED_MAX) == (int)size && memcmp(out, data, size) == 0);
		FUZZ_CHECK(wh_secret_open(r, "wh_1:sk_2",
		    (unsigned char *)sealed.data, sealed.len, out,
		    SEALED_MAX) == -1);
		at = data[0] % sealed.len;
		sealed.data[at] ^= (char)(1 + data[size - 1] % 255);
		FUZZ_CHECK(wh_secret_open(r, "wh_1:sk_1",
		    (unsigned char *)sealed.data, sealed.len, out,
		    SEALED_MAX) == -1);
	}
	wh_buf_free(&sealed);
	free(out);
}

static void
check_key(const char *p, size_t len)
{
	struct wh_signing_key	k, k2;
	struct wh_buf		b1, b2;

	if (wh_signing_key_decode(p, len, &k) == -1) {
		FUZZ_CHECK(is_zero(&k, sizeof(k)));
		return;
	}
	FUZZ_CHECK(k.sid != NULL && *k.sid != '\0');
	FUZZ_CHECK(k.webhook_sid != NULL && *k.webhook_sid != '\0');
	FUZZ_CHECK(k.secret != NULL && k.secret_len > 0);
	wh_buf_init(&b1, 0);
	wh_buf_init(&b2, 0);
	FUZZ_CHECK(wh_signing_key_encode(&k, &b1) == 0);
	FUZZ_CHECK(wh_signing_key_decode(b1.data, b1.len, &k2) == 0);
	FUZZ_CHECK(key_eq(&k, &k2));
	FUZZ_CHECK(wh_signing_key_encode(&k2, &b2) == 0);
	FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	wh_buf_free(&b1);
	wh_buf_free(&b2);
	wh_signing_key_free(&k2);
	wh_signing_key_free(&k);
}

static void
check_task(const char *p, size_t len)
{
	struct wh_task	t, t2;
	struct wh_buf	b1, b2;

	if (wh_task_decode(p, len, &t) == -1) {
		FUZZ_CHECK(is_zero(&t, sizeof(t)));
		return;
	}
	FUZZ_CHECK(t.event.event_sid != NULL && t.event.company_sid != NULL &&
	    t.event.event_type != NULL && t.webhook_sid != NULL);
	FUZZ_CHECK(t.event.payload != NULL && t.event.payload_len > 0 &&
	    strlen(t.event.payload) == t.event.payload_len);
	FUZZ_CHECK(t.attempt > 0);
	wh_buf_init(&b1, 0);
	wh_buf_init(&b2, 0);
	FUZZ_CHECK(wh_task_encode(&t, &b1) == 0);
	FUZZ_CHECK(wh_task_decode(b1.data, b1.len, &t2) == 0);
	FUZZ_CHECK(task_eq(&t, &t2));
	FUZZ_CHECK(wh_task_encode(&t2, &b2) == 0);
	FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	wh_buf_free(&b1);
	wh_buf_free(&b2);
	wh_task_free(&t2);
	wh_task_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data;

	check_webhook(p, size);
	check_key(p, size);
	check_key_sealed(p, size);
	check_task(p, size);
	check_secretbox(data, size);
	return (0);
}

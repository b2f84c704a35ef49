/*
 * render.c: the public JSON shape of each resource, written in one place
 * so that every route shows the same fields the same way. Times are
 * RFC 3339 UTC with milliseconds; an absent expiry is null.
 */
#include <string.h>

#include "api.h"
#include "json.h"
#include "model.h"
#include "sign.h"
#include "timeutil.h"

static int
field_str(struct wh_buf *b, const char *name, const char *v, int first)
{
	if (!first && wh_buf_append(b, ",", 1) == -1)
		return (-1);
	if (wh_buf_appendf(b, "\"%s\":", name) == -1)
		return (-1);
	if (v == NULL)
		return (wh_buf_appendstr(b, "null"));
	return (wh_json_str(b, v, strlen(v)));
}

static int
field_time(struct wh_buf *b, const char *name, int64_t ms)
{
	char	ts[WH_RFC3339_LEN + 1];

	if (ms <= 0)
		return (wh_buf_appendf(b, ",\"%s\":null", name));
	if (wh_rfc3339_ms(ms, ts) == -1)
		return (-1);
	return (wh_buf_appendf(b, ",\"%s\":\"%s\"", name, ts));
}

/* The endpoint's health: counts, and times (null: never). */
static int
render_health(struct wh_buf *b, const struct wh_health *h)
{
	if (wh_buf_appendf(b, ",\"health\":{\"consecutive_failures\":%lld",
	    (long long)h->consecutive_failures) == -1 ||
	    field_time(b, "failing_since", h->failing_since) == -1 ||
	    field_time(b, "last_success_at", h->last_success_at) == -1 ||
	    field_time(b, "last_failure_at", h->last_failure_at) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/* A time that is always one (0 is the epoch, not "never"). */
static int
field_instant(struct wh_buf *b, const char *name, int64_t ms)
{
	char	ts[WH_RFC3339_LEN + 1];

	if (wh_rfc3339_ms(ms > 0 ? ms : 0, ts) == -1)
		return (-1);
	return (wh_buf_appendf(b, ",\"%s\":\"%s\"", name, ts));
}

/* A struct api_webhook_view: the record, then its endpoint's health. */
int
api_render_webhook(struct wh_buf *b, const void *p)
{
	const struct api_webhook_view	*v = p;
	const struct wh_webhook		*w = v->w;
	size_t				 i;

	if (wh_buf_append(b, "{", 1) == -1 ||
	    field_str(b, "sid", w->sid, 1) == -1 ||
	    field_str(b, "company_sid", w->company_sid, 0) == -1 ||
	    field_str(b, "label", w->label ? w->label : "", 0) == -1 ||
	    field_str(b, "url", w->url, 0) == -1 ||
	    field_str(b, "method", wh_method_name(w->method), 0) == -1 ||
	    wh_buf_appendf(b, ",\"timeout_ms\":%u,\"max_attempts\":%u,"
	    "\"headers\":[", w->timeout_ms, w->max_attempts) == -1)
		return (-1);
	for (i = 0; i < w->nheaders; i++) {
		if ((i > 0 && wh_buf_append(b, ",", 1) == -1) ||
		    wh_buf_append(b, "{", 1) == -1 ||
		    field_str(b, "name", w->headers[i].name, 1) == -1 ||
		    field_str(b, "value", w->headers[i].value, 0) == -1 ||
		    wh_buf_appendf(b, ",\"include_in_request_signature\":%s}",
		    w->headers[i].sign ? "true" : "false") == -1)
			return (-1);
	}
	if (wh_buf_appendstr(b, "],\"event_types\":[") == -1)
		return (-1);
	for (i = 0; i < w->nevent_types; i++) {
		if ((i > 0 && wh_buf_append(b, ",", 1) == -1) ||
		    wh_json_str(b, w->event_types[i],
		    strlen(w->event_types[i])) == -1)
			return (-1);
	}
	if (wh_buf_appendf(b, "],\"enabled\":%s",
	    w->enabled ? "true" : "false") == -1 ||
	    field_str(b, "disabled_reason", w->disabled_reason, 0) == -1 ||
	    field_time(b, "created_at", w->created_at) == -1 ||
	    field_time(b, "updated_at", w->updated_at) == -1 ||
	    api_render_webhook_tls(b, w) == -1 ||
	    api_render_webhook_control(b, w) == -1 ||
	    render_health(b, &v->health) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/*
 * Secrets are rendered: callers show keys only to their own company. An
 * ed25519 key shows its public key only, never the private one.
 */
int
api_render_signing_key(struct wh_buf *b, const void *p)
{
	const struct wh_signing_key	*k = p;
	char				 sw[WH_SWSECRET_MAX];
	char				 pub[WH_SWPUBKEY_MAX];
	int				 ed = k->alg == WH_KEY_ED25519;

	if ((ed && wh_ed25519_public(k->secret, pub, sizeof(pub)) == -1) ||
	    (!ed && wh_standard_secret(k->secret, k->secret_len, sw,
	    sizeof(sw)) == -1))
		return (-1);
	if (wh_buf_append(b, "{", 1) == -1 ||
	    field_str(b, "sid", k->sid, 1) == -1 ||
	    field_str(b, "webhook_sid", k->webhook_sid, 0) == -1 ||
	    field_str(b, "label", k->label ? k->label : "", 0) == -1 ||
	    field_str(b, "algorithm", ed ? "ed25519" : "hmac-sha256",
	    0) == -1)
		return (-1);
	if (ed && field_str(b, "public_key", pub, 0) == -1)
		return (-1);
	if (!ed && (wh_buf_appendstr(b, ",\"shared_secret\":") == -1 ||
	    wh_json_str(b, (const char *)k->secret, k->secret_len) == -1 ||
	    field_str(b, "standard_webhooks_secret", sw, 0) == -1))
		return (-1);
	if (field_time(b, "created_at", k->created_at) == -1 ||
	    field_time(b, "expires_at", k->expires_at) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/*
 * An API key: company_sid null and admin true for an admin key. The
 * secret appears only in the answer that created the key.
 */
int
api_render_api_key(struct wh_buf *b, const void *p)
{
	const struct api_key	*k = p;
	int			 admin;

	admin = strcmp(k->company_sid, "*") == 0;
	if (wh_buf_append(b, "{", 1) == -1 ||
	    field_str(b, "key_id", k->key_id, 1) == -1 ||
	    field_str(b, "company_sid", admin ? NULL : k->company_sid,
	    0) == -1 ||
	    wh_buf_appendf(b, ",\"admin\":%s",
	    admin ? "true" : "false") == -1 ||
	    field_str(b, "label", k->label, 0) == -1 ||
	    field_time(b, "created_at", k->created_at) == -1)
		return (-1);
	if (k->secret != NULL && field_str(b, "secret", k->secret, 0) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/*
 * A ~recover job: its window, where it is (queued, running, done) and
 * what it did (scanned dead letters, moved to another delivery, skipped
 * because the stream had trimmed them).
 */
int
api_render_job(struct wh_buf *b, const void *p)
{
	const struct api_job	*j = p;

	if (wh_buf_append(b, "{", 1) == -1 ||
	    field_str(b, "sid", j->sid, 1) == -1 ||
	    field_str(b, "kind", "recover", 0) == -1 ||
	    field_str(b, "webhook_sid", j->webhook_sid, 0) == -1 ||
	    field_str(b, "company_sid", j->company_sid, 0) == -1 ||
	    field_str(b, "include", j->include_all ? "all" : "dead", 0) == -1 ||
	    field_instant(b, "since", j->since) == -1 ||
	    field_instant(b, "until", j->until) == -1 ||
	    field_str(b, "state", j->state, 0) == -1 ||
	    wh_buf_appendf(b, ",\"scanned\":%lld,\"moved\":%lld,"
	    "\"skipped\":%lld", (long long)j->scanned, (long long)j->moved,
	    (long long)j->skipped) == -1 ||
	    field_time(b, "created_at", j->created_at) == -1 ||
	    field_time(b, "updated_at", j->updated_at) == -1 ||
	    field_time(b, "finished_at", j->finished_at) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/*
 * A portal session; the url (which holds the token) only in the answer
 * that opened it.
 */
int
api_render_portal_session(struct wh_buf *b, const void *p)
{
	const struct api_portal_session	*s = p;

	if (wh_buf_append(b, "{", 1) == -1 ||
	    field_str(b, "sid", s->sid, 1) == -1 ||
	    field_str(b, "company_sid", s->company_sid, 0) == -1 ||
	    wh_buf_appendf(b, ",\"read_only\":%s",
	    s->read_only ? "true" : "false") == -1 ||
	    field_time(b, "expires_at", s->expires_at) == -1)
		return (-1);
	if (s->url != NULL && field_str(b, "url", s->url, 0) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

/*
 * A kept event: its fields as delivered, the payload byte for byte (it
 * was checked as JSON when kept, and is checked again here: what Redis
 * holds is not trusted to be ours).
 */
int
api_render_event(struct wh_buf *b, const void *p)
{
	const struct wh_event	*e = p;

	if (!wh_json_valid(e->payload, e->payload_len) ||
	    wh_buf_append(b, "{", 1) == -1 ||
	    field_str(b, "event_sid", e->event_sid, 1) == -1 ||
	    field_str(b, "company_sid", e->company_sid, 0) == -1 ||
	    field_str(b, "event_type", e->event_type, 0) == -1 ||
	    field_str(b, "ordering_key", e->ordering_key, 0) == -1 ||
	    field_instant(b, "created_at", e->created_at) == -1 ||
	    wh_buf_appendstr(b, ",\"payload\":") == -1 ||
	    wh_buf_append(b, e->payload, e->payload_len) == -1)
		return (-1);
	return (wh_buf_append(b, "}", 1));
}

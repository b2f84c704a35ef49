/*
 * model.c: the stored records and tasks, and their msgpack codecs.
 *
 * Every record is a msgpack map keyed by field name with a "v" version,
 * so a newer binary may add fields and an older one skips what it does
 * not know. Decoding trusts nothing: types and sizes are checked, text
 * fields may not hold NUL bytes, and any failure leaves the struct freed
 * and zeroed.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "model.h"

#define MODEL_VERSION	1
#define STR_MAX		(1 << 20)	/* any text field; payloads excepted */

static const char *const method_names[] = { NULL, "POST", "PUT", "PATCH" };

const char *
wh_method_name(int m)
{
	if (m < WH_METHOD_POST || m > WH_METHOD_PATCH)
		return ("POST");
	return (method_names[m]);
}

int
wh_method_parse(const char *s, size_t len)
{
	int	m;

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
	for (i = 0; i < w->nheaders; i++) {
		free(w->headers[i].name);
		free(w->headers[i].value);
	}
	free(w->headers);
	for (i = 0; i < w->nevent_types; i++)
		free(w->event_types[i]);
	free(w->event_types);
	memset(w, 0, sizeof(*w));
}

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

/* ---- encoding ---- */

static int
pk_write(void *data, const char *p, size_t len)
{
	return (wh_buf_append(data, p, len));
}

static int
pk_str(msgpack_packer *pk, const char *s, size_t len)
{
	if (msgpack_pack_str(pk, len) != 0)
		return (-1);
	return (msgpack_pack_str_body(pk, s, len) != 0 ? -1 : 0);
}

static int
pk_key(msgpack_packer *pk, const char *name)
{
	return (pk_str(pk, name, strlen(name)));
}

/* "name": "value" (an absent value is written as ""). */
static int
pk_kv_str(msgpack_packer *pk, const char *name, const char *v)
{
	if (pk_key(pk, name) == -1)
		return (-1);
	return (pk_str(pk, v ? v : "", v ? strlen(v) : 0));
}

static int
pk_kv_i64(msgpack_packer *pk, const char *name, int64_t v)
{
	if (pk_key(pk, name) == -1)
		return (-1);
	return (msgpack_pack_int64(pk, v) != 0 ? -1 : 0);
}

int
wh_webhook_encode(const struct wh_webhook *w, struct wh_buf *out)
{
	msgpack_packer	pk;
	size_t		i;

	msgpack_packer_init(&pk, out, pk_write);
	if (msgpack_pack_map(&pk, 13) != 0 ||
	    pk_kv_i64(&pk, "v", MODEL_VERSION) == -1 ||
	    pk_kv_str(&pk, "sid", w->sid) == -1 ||
	    pk_kv_str(&pk, "company_sid", w->company_sid) == -1 ||
	    pk_kv_str(&pk, "label", w->label) == -1 ||
	    pk_kv_str(&pk, "url", w->url) == -1 ||
	    pk_kv_i64(&pk, "method", w->method) == -1 ||
	    pk_kv_i64(&pk, "timeout_ms", w->timeout_ms) == -1 ||
	    pk_kv_i64(&pk, "max_attempts", w->max_attempts) == -1 ||
	    pk_key(&pk, "headers") == -1 ||
	    msgpack_pack_array(&pk, w->nheaders) != 0)
		return (-1);
	for (i = 0; i < w->nheaders; i++) {
		if (msgpack_pack_map(&pk, 3) != 0 ||
		    pk_kv_str(&pk, "name", w->headers[i].name) == -1 ||
		    pk_kv_str(&pk, "value", w->headers[i].value) == -1 ||
		    pk_key(&pk, "sign") == -1 ||
		    (w->headers[i].sign ? msgpack_pack_true(&pk) :
		    msgpack_pack_false(&pk)) != 0)
			return (-1);
	}
	if (pk_key(&pk, "event_types") == -1 ||
	    msgpack_pack_array(&pk, w->nevent_types) != 0)
		return (-1);
	for (i = 0; i < w->nevent_types; i++) {
		if (pk_str(&pk, w->event_types[i],
		    strlen(w->event_types[i])) == -1)
			return (-1);
	}
	if (pk_key(&pk, "enabled") == -1 ||
	    (w->enabled ? msgpack_pack_true(&pk) :
	    msgpack_pack_false(&pk)) != 0 ||
	    pk_kv_i64(&pk, "created_at", w->created_at) == -1 ||
	    pk_kv_i64(&pk, "updated_at", w->updated_at) == -1)
		return (-1);
	return (0);
}

int
wh_signing_key_encode(const struct wh_signing_key *k, struct wh_buf *out)
{
	msgpack_packer	pk;

	msgpack_packer_init(&pk, out, pk_write);
	if (msgpack_pack_map(&pk, 7) != 0 ||
	    pk_kv_i64(&pk, "v", MODEL_VERSION) == -1 ||
	    pk_kv_str(&pk, "sid", k->sid) == -1 ||
	    pk_kv_str(&pk, "webhook_sid", k->webhook_sid) == -1 ||
	    pk_kv_str(&pk, "label", k->label) == -1 ||
	    pk_key(&pk, "secret") == -1 ||
	    msgpack_pack_bin(&pk, k->secret_len) != 0 ||
	    msgpack_pack_bin_body(&pk, k->secret, k->secret_len) != 0 ||
	    pk_kv_i64(&pk, "created_at", k->created_at) == -1 ||
	    pk_kv_i64(&pk, "expires_at", k->expires_at) == -1)
		return (-1);
	return (0);
}

int
wh_task_encode(const struct wh_task *t, struct wh_buf *out)
{
	msgpack_packer		 pk;
	const struct wh_event	*e = &t->event;

	msgpack_packer_init(&pk, out, pk_write);
	if (msgpack_pack_map(&pk, t->last_error ? 7 : 6) != 0 ||
	    pk_kv_i64(&pk, "v", MODEL_VERSION) == -1 ||
	    pk_key(&pk, "event") == -1 ||
	    msgpack_pack_map(&pk, 5) != 0 ||
	    pk_kv_str(&pk, "event_sid", e->event_sid) == -1 ||
	    pk_kv_str(&pk, "company_sid", e->company_sid) == -1 ||
	    pk_kv_str(&pk, "event_type", e->event_type) == -1 ||
	    pk_key(&pk, "payload") == -1 ||
	    pk_str(&pk, e->payload ? e->payload : "",
	    e->payload ? e->payload_len : 0) == -1 ||
	    pk_kv_i64(&pk, "created_at", e->created_at) == -1 ||
	    pk_kv_str(&pk, "webhook_sid", t->webhook_sid) == -1 ||
	    pk_kv_i64(&pk, "attempt", t->attempt) == -1 ||
	    pk_kv_i64(&pk, "first_attempt_at", t->first_attempt_at) == -1 ||
	    pk_kv_i64(&pk, "due_at", t->due_at) == -1)
		return (-1);
	if (t->last_error != NULL &&
	    pk_kv_str(&pk, "last_error", t->last_error) == -1)
		return (-1);
	return (0);
}

/* ---- decoding ---- */

static int
key_is(const msgpack_object *k, const char *name)
{
	size_t	len = strlen(name);

	return (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
	    memcmp(k->via.str.ptr, name, len) == 0);
}

/* A text field: str, no NUL, bounded; a heap copy in *out. */
static int
get_str(const msgpack_object *o, char **out, size_t *lenp, size_t max)
{
	char	*s;

	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return (-1);
	if ((s = malloc(o->via.str.size + 1)) == NULL)
		return (-1);
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	free(*out);
	*out = s;
	if (lenp != NULL)
		*lenp = o->via.str.size;
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
	int64_t	v;

	if (get_i64(o, &v) == -1 || v < 0 || v > UINT32_MAX)
		return (-1);
	*out = (uint32_t)v;
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

/* Parse exactly one msgpack map covering all of buf. */
static int
unpack_map(const char *buf, size_t len, msgpack_unpacked *res)
{
	size_t	off = 0;

	msgpack_unpacked_init(res);
	if (msgpack_unpack_next(res, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || res->data.type != MSGPACK_OBJECT_MAP)
		return (-1);
	return (0);
}

static int
decode_headers(const msgpack_object *o, struct wh_webhook *w)
{
	const msgpack_object_kv	*kv;
	struct wh_header	*h;
	uint32_t		 i, j;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1024)
		return (-1);
	if (o->via.array.size == 0)
		return (0);
	if ((w->headers = calloc(o->via.array.size, sizeof(*h))) == NULL)
		return (-1);
	for (i = 0; i < o->via.array.size; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
			return (-1);
		h = &w->headers[i];
		w->nheaders = i + 1;
		for (j = 0; j < o->via.array.ptr[i].via.map.size; j++) {
			kv = &o->via.array.ptr[i].via.map.ptr[j];
			if (key_is(&kv->key, "name")) {
				if (get_str(&kv->val, &h->name, NULL,
				    STR_MAX) == -1)
					return (-1);
			} else if (key_is(&kv->key, "value")) {
				if (get_str(&kv->val, &h->value, NULL,
				    STR_MAX) == -1)
					return (-1);
			} else if (key_is(&kv->key, "sign")) {
				if (get_bool(&kv->val, &h->sign) == -1)
					return (-1);
			}
		}
		if (h->name == NULL || h->value == NULL)
			return (-1);
	}
	return (0);
}

static int
decode_event_types(const msgpack_object *o, struct wh_webhook *w)
{
	uint32_t	i;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1024)
		return (-1);
	if (o->via.array.size == 0)
		return (0);
	if ((w->event_types = calloc(o->via.array.size,
	    sizeof(char *))) == NULL)
		return (-1);
	for (i = 0; i < o->via.array.size; i++) {
		w->nevent_types = i + 1;
		if (get_str(&o->via.array.ptr[i], &w->event_types[i], NULL,
		    STR_MAX) == -1)
			return (-1);
	}
	return (0);
}

static int
webhook_fields(const msgpack_object *m, struct wh_webhook *w)
{
	const msgpack_object_kv	*kv;
	int64_t			 method = 0;
	uint32_t		 i;
	int			 rc = 0;

	w->enabled = 1;
	for (i = 0; i < m->via.map.size && rc == 0; i++) {
		kv = &m->via.map.ptr[i];
		if (key_is(&kv->key, "sid"))
			rc = get_str(&kv->val, &w->sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "company_sid"))
			rc = get_str(&kv->val, &w->company_sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "label"))
			rc = get_str(&kv->val, &w->label, NULL, STR_MAX);
		else if (key_is(&kv->key, "url"))
			rc = get_str(&kv->val, &w->url, NULL, STR_MAX);
		else if (key_is(&kv->key, "method")) {
			rc = get_i64(&kv->val, &method);
			if (rc == 0 && (method < WH_METHOD_POST ||
			    method > WH_METHOD_PATCH))
				rc = -1;
			w->method = (int)method;
		} else if (key_is(&kv->key, "timeout_ms"))
			rc = get_u32(&kv->val, &w->timeout_ms);
		else if (key_is(&kv->key, "max_attempts"))
			rc = get_u32(&kv->val, &w->max_attempts);
		else if (key_is(&kv->key, "headers"))
			rc = decode_headers(&kv->val, w);
		else if (key_is(&kv->key, "event_types"))
			rc = decode_event_types(&kv->val, w);
		else if (key_is(&kv->key, "enabled"))
			rc = get_bool(&kv->val, &w->enabled);
		else if (key_is(&kv->key, "created_at"))
			rc = get_i64(&kv->val, &w->created_at);
		else if (key_is(&kv->key, "updated_at"))
			rc = get_i64(&kv->val, &w->updated_at);
	}
	if (rc == 0 && (w->sid == NULL || w->company_sid == NULL ||
	    w->url == NULL || w->method == 0))
		rc = -1;
	return (rc);
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

static int
key_fields(const msgpack_object *m, struct wh_signing_key *k)
{
	const msgpack_object_kv	*kv;
	uint32_t		 i;
	int			 rc = 0;

	for (i = 0; i < m->via.map.size && rc == 0; i++) {
		kv = &m->via.map.ptr[i];
		if (key_is(&kv->key, "sid"))
			rc = get_str(&kv->val, &k->sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "webhook_sid"))
			rc = get_str(&kv->val, &k->webhook_sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "label"))
			rc = get_str(&kv->val, &k->label, NULL, STR_MAX);
		else if (key_is(&kv->key, "secret")) {
			if (kv->val.type != MSGPACK_OBJECT_BIN ||
			    kv->val.via.bin.size == 0 ||
			    kv->val.via.bin.size > 4096 || k->secret != NULL) {
				rc = -1;
				continue;
			}
			if ((k->secret = malloc(kv->val.via.bin.size)) == NULL) {
				rc = -1;
				continue;
			}
			memcpy(k->secret, kv->val.via.bin.ptr,
			    kv->val.via.bin.size);
			k->secret_len = kv->val.via.bin.size;
		} else if (key_is(&kv->key, "created_at"))
			rc = get_i64(&kv->val, &k->created_at);
		else if (key_is(&kv->key, "expires_at"))
			rc = get_i64(&kv->val, &k->expires_at);
	}
	if (rc == 0 && (k->sid == NULL || k->webhook_sid == NULL ||
	    k->secret == NULL))
		rc = -1;
	return (rc);
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

static int
event_fields(const msgpack_object *m, struct wh_event *e)
{
	const msgpack_object_kv	*kv;
	uint32_t		 i;
	int			 rc = 0;

	if (m->type != MSGPACK_OBJECT_MAP)
		return (-1);
	for (i = 0; i < m->via.map.size && rc == 0; i++) {
		kv = &m->via.map.ptr[i];
		if (key_is(&kv->key, "event_sid"))
			rc = get_str(&kv->val, &e->event_sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "company_sid"))
			rc = get_str(&kv->val, &e->company_sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "event_type"))
			rc = get_str(&kv->val, &e->event_type, NULL, STR_MAX);
		else if (key_is(&kv->key, "payload"))
			rc = get_str(&kv->val, &e->payload, &e->payload_len,
			    SIZE_MAX);
		else if (key_is(&kv->key, "created_at"))
			rc = get_i64(&kv->val, &e->created_at);
	}
	if (rc == 0 && (e->event_sid == NULL || e->company_sid == NULL ||
	    e->event_type == NULL || e->payload == NULL))
		rc = -1;
	return (rc);
}

static int
task_fields(const msgpack_object *m, struct wh_task *t)
{
	const msgpack_object_kv	*kv;
	uint32_t		 i;
	int			 rc = 0, have_event = 0;

	for (i = 0; i < m->via.map.size && rc == 0; i++) {
		kv = &m->via.map.ptr[i];
		if (key_is(&kv->key, "event")) {
			if (have_event++)
				rc = -1;
			else
				rc = event_fields(&kv->val, &t->event);
		} else if (key_is(&kv->key, "webhook_sid"))
			rc = get_str(&kv->val, &t->webhook_sid, NULL, STR_MAX);
		else if (key_is(&kv->key, "attempt"))
			rc = get_u32(&kv->val, &t->attempt);
		else if (key_is(&kv->key, "first_attempt_at"))
			rc = get_i64(&kv->val, &t->first_attempt_at);
		else if (key_is(&kv->key, "due_at"))
			rc = get_i64(&kv->val, &t->due_at);
		else if (key_is(&kv->key, "last_error"))
			rc = get_str(&kv->val, &t->last_error, NULL, STR_MAX);
	}
	if (rc == 0 && (!have_event || t->webhook_sid == NULL ||
	    t->attempt == 0))
		rc = -1;
	return (rc);
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

/*
 * fuzz_stream.c: stream entries as the dispatcher reads them
 * (dispatcher/entry.c). wh:{0}:events is a public contract: any service
 * may XADD company_sid, event_type, payload and optionally event_sid and
 * ts, as plain strings, with any other fields beside them. Entries of
 * wh:{0}:retries hold one msgpack "task".
 *
 * The input is the entry: its id, then its field names and values,
 * separated by 0x1e bytes; an element that is just 0x1f stands for a
 * reply that is not a string. Strings are built the way hiredis hands
 * them over (length plus a NUL after the bytes), in buffers of exactly
 * that size, so a read past one is caught.
 *
 * Checks, for an accepted event entry:
 * - every known field was given once, by its exact name (a name with a
 *   NUL inside is another name), and the event holds those values: a
 *   valid company sid and dotted event type, a valid event sid (the one
 *   given, or one derived the same way every time), a payload that is
 *   JSON within the cap, byte for byte;
 * - ts, when given, is exactly its decimal digits, and created_at is a
 *   time the delivered body can carry (RFC 3339, four-digit year);
 * - the event survives the retry path: as a task it encodes, and a
 *   retries entry's "task" field holding it decodes to the same event.
 * Each element is also offered as the "task" of a retries entry: an
 * accepted task has a valid webhook sid and an attempt. A refusal always
 * says why.
 */
#include <limits.h>

#include "dispatch.h"
#include "ids.h"
#include "json.h"
#include "keys.h"
#include "timeutil.h"
#include "validate.h"

#include "fuzz.h"

#define FIELDS_MAX	64
#define EVENT_MAX	512	/* WH_EVENT_MAX_BYTES, small: reachable */

static const char *const known[] = {
	"company_sid", "event_type", "payload", "event_sid", "ts", NULL
};

struct raw_entry {
	char		*id;
	redisReply	 fields;
	redisReply	*elem[FIELDS_MAX];
	redisReply	 item[FIELDS_MAX];
};

static void
entry_free(struct raw_entry *e)
{
	size_t	i;

	free(e->id);
	for (i = 0; i < e->fields.elements; i++)
		free(e->item[i].str);
}

static int
entry_split(const uint8_t *data, size_t size, struct raw_entry *e)
{
	const uint8_t	*p = data, *end = data + size, *sep;
	size_t		 len, n = 0;
	redisReply	*r;

	memset(e, 0, sizeof(*e));
	e->fields.type = REDIS_REPLY_ARRAY;
	e->fields.element = e->elem;
	sep = memchr(p, 0x1e, size);
	len = sep != NULL ? (size_t)(sep - p) : size;
	if (len >= ENTRY_ID_MAX || (e->id = fuzz_cstr(p, len)) == NULL)
		return (-1);
	p = sep;
	while (p != NULL && n < FIELDS_MAX) {
		p++;
		sep = memchr(p, 0x1e, (size_t)(end - p));
		len = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);
		r = &e->item[n];
		e->elem[n] = r;
		e->fields.elements = ++n;
		if (len == 1 && *p == 0x1f) {
			r->type = REDIS_REPLY_INTEGER;
			r->integer = 1;
		} else {
			r->type = REDIS_REPLY_STRING;
			r->len = len;
			if ((r->str = fuzz_cstr(p, len)) == NULL)
				return (-1);
		}
		p = sep;
	}
	return (0);
}

static int
is_named(const redisReply *k, const char *name)
{
	return (k->type == REDIS_REPLY_STRING && k->len == strlen(name) &&
	    memcmp(k->str, name, k->len) == 0);
}

/* The value of the field named exactly name; NULL if absent. */
static const redisReply *
field(const struct raw_entry *e, const char *name, int *count)
{
	const redisReply	*v = NULL;
	size_t			 i;

	*count = 0;
	for (i = 0; i + 1 < e->fields.elements; i += 2) {
		if (is_named(e->elem[i], name)) {
			if (v == NULL)
				v = e->elem[i + 1];
			(*count)++;
		}
	}
	return (v);
}

static int
same_text(const redisReply *v, const char *s)
{
	return (v != NULL && v->type == REDIS_REPLY_STRING && s != NULL &&
	    v->len == strlen(s) && memcmp(v->str, s, v->len) == 0);
}

/* The event as a task, back through a retries entry's "task" field. */
static void
check_retry_path(const struct wh_event *ev)
{
	struct wh_task	 t, back;
	struct wh_buf	 b;
	redisReply	 v;

	memset(&t, 0, sizeof(t));
	t.event = *ev;
	t.webhook_sid = "wh_fuzz";
	t.attempt = 2;
	t.first_attempt_at = ev->created_at;
	t.due_at = ev->created_at + 1;
	wh_buf_init(&b, 0);
	FUZZ_CHECK(wh_task_encode(&t, &b) == 0);

	memset(&v, 0, sizeof(v));
	v.type = REDIS_REPLY_STRING;
	v.str = b.data;
	v.len = b.len;
	memset(&back, 0, sizeof(back));
	FUZZ_CHECK(entry_task_decode(&back, &v) == NULL);
	FUZZ_CHECK(strcmp(back.event.event_sid, ev->event_sid) == 0 &&
	    strcmp(back.event.company_sid, ev->company_sid) == 0 &&
	    strcmp(back.event.event_type, ev->event_type) == 0 &&
	    back.event.payload_len == ev->payload_len &&
	    memcmp(back.event.payload, ev->payload, ev->payload_len) == 0 &&
	    back.event.created_at == ev->created_at && back.attempt == 2);
	wh_task_free(&back);
	wh_buf_free(&b);
}

static void
check_event(const struct raw_entry *e)
{
	struct wh_event		 ev, ev2;
	const redisReply	*v;
	const char		*why;
	char			 when[WH_RFC3339_LEN + 1];
	long long		 ts;
	size_t			 i;
	int			 count;

	memset(&ev, 0, sizeof(ev));
	why = entry_event_parse(&ev, e->id, &e->fields, EVENT_MAX);
	if (why != NULL) {
		FUZZ_CHECK(*why != '\0');
		wh_event_free(&ev);
		return;
	}
	for (i = 0; known[i] != NULL; i++) {
		(void)field(e, known[i], &count);
		FUZZ_CHECK(count <= 1);
	}
	FUZZ_CHECK(same_text(field(e, "company_sid", &count),
	    ev.company_sid));
	FUZZ_CHECK(wh_validate_company_sid(ev.company_sid,
	    strlen(ev.company_sid)) == NULL);
	FUZZ_CHECK(same_text(field(e, "event_type", &count), ev.event_type));
	FUZZ_CHECK(wh_validate_event_type(ev.event_type,
	    strlen(ev.event_type)) == NULL);
	FUZZ_CHECK(same_text(field(e, "payload", &count), ev.payload));
	FUZZ_CHECK(ev.payload_len == strlen(ev.payload) &&
	    ev.payload_len <= EVENT_MAX &&
	    wh_json_valid(ev.payload, ev.payload_len));
	FUZZ_CHECK(wh_id_valid(ev.event_sid, strlen(ev.event_sid)));
	if ((v = field(e, "event_sid", &count)) != NULL)
		FUZZ_CHECK(same_text(v, ev.event_sid));
	else {
		memset(&ev2, 0, sizeof(ev2));
		FUZZ_CHECK(entry_event_parse(&ev2, e->id, &e->fields,
		    EVENT_MAX) == NULL);
		FUZZ_CHECK(strcmp(ev.event_sid, ev2.event_sid) == 0);
		wh_event_free(&ev2);
	}
	if ((v = field(e, "ts", &count)) != NULL) {
		ts = 0;
		for (i = 0; i < v->len; i++) {
			FUZZ_CHECK(v->str[i] >= '0' && v->str[i] <= '9');
			FUZZ_CHECK(ts <= (LLONG_MAX - (v->str[i] - '0')) / 10);
			ts = ts * 10 + (v->str[i] - '0');
		}
		FUZZ_CHECK(ev.created_at == ts);
	}
	FUZZ_CHECK(ev.created_at > 0);
	if (wh_rfc3339_ms(ev.created_at, when) != 0) {
		fprintf(stderr, "created_at %lld cannot be delivered\n",
		    (long long)ev.created_at);
		FUZZ_CHECK(!"created_at fits RFC 3339");
	}
	check_retry_path(&ev);
	wh_event_free(&ev);
}

/* Every element as the "task" of a retries entry. */
static void
check_task(const struct raw_entry *e)
{
	struct wh_task	 t;
	const char	*why;
	size_t		 i;

	for (i = 0; i < e->fields.elements; i++) {
		memset(&t, 0, sizeof(t));
		if ((why = entry_task_decode(&t, e->elem[i])) == NULL) {
			FUZZ_CHECK(wh_id_valid(t.webhook_sid,
			    strlen(t.webhook_sid)));
			FUZZ_CHECK(t.attempt >= 1 && t.event.payload != NULL);
		} else
			FUZZ_CHECK(*why != '\0');
		wh_task_free(&t);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raw_entry	e;

	if (entry_split(data, size, &e) == 0) {
		check_event(&e);
		check_task(&e);
	}
	entry_free(&e);
	return (0);
}

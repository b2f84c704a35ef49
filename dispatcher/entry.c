/*
 * entry.c: what a stream entry says, read from the fields Redis handed
 * us. An entry of wh:{0}:events is the public format of docs/design.md (plain
 * string fields company_sid, event_type, payload, event_sid, ts) that any
 * service may XADD, so nothing in it is trusted; an entry of
 * wh:{0}:retries holds one msgpack task. Kept apart from consume.c, with
 * no dispatcher state, so the fuzz targets (tests/fuzz) run exactly this
 * code on hostile entries.
 *
 * Also what every layer asks of an entry it works for, at the bottom of
 * the dispatcher's call graph so that none calls up for it: is it still
 * ours (entry_owned), why it failed (entry_failed), is a ~test too late.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ids.h"
#include "json.h"
#include "keys.h"
#include "timeutil.h"
#include "trace.h"
#include "validate.h"

static char *
reply_strdup(const redisReply *r)
{
	char	*s;

	if (r->type != REDIS_REPLY_STRING || memchr(r->str, '\0', r->len))
		return (NULL);
	if ((s = malloc(r->len + 1)) == NULL)
		return (NULL);
	memcpy(s, r->str, r->len);
	s[r->len] = '\0';
	return (s);
}

/*
 * Milliseconds since the epoch, as decimal digits only (no sign, no
 * spaces, no overflow), positive and within what RFC 3339 can carry in
 * the delivered body (up to year 9999). 0 or -1.
 */
static int
ms_parse(const char *s, size_t len, int64_t *ms)
{
	char	when[WH_RFC3339_LEN + 1];
	int64_t	v = 0;
	size_t	i;

	if (len == 0 || len > 18)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');	/* 18 digits < 2^63 */
	}
	if (v <= 0 || wh_rfc3339_ms(v, when) == -1)
		return (-1);
	*ms = v;
	return (0);
}

/* The fields of the public format, each taken only by its exact name. */
static const char *const event_fields[] = {
	"company_sid", "event_type", "event_sid", "payload", "ts",
	"traceparent", "ordering_key"
};
enum { EF_COMPANY, EF_TYPE, EF_SID, EF_PAYLOAD, EF_TS, EF_TRACE, EF_OKEY,
	EF_COUNT };

/*
 * An event entry's fields (the public format) into ev, which starts
 * zeroed and is freed by the caller either way. Other fields are the
 * publisher's own and ignored; one of ours given twice is refused, since
 * readers of the entry would disagree on which one counts. NULL, or why
 * not.
 */
const char *
entry_event_parse(struct wh_event *ev, const char *entry_id,
    const redisReply *fields, size_t event_max)
{
	const redisReply *k, *v;
	size_t		 i, f;
	unsigned int	 seen = 0;
	int64_t		 ms;
	struct wh_trace	 tc;

	for (i = 0; i + 1 < fields->elements; i += 2) {
		k = fields->element[i];
		v = fields->element[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			return ("field is not a string");
		for (f = 0; f < EF_COUNT; f++) {
			if (k->len == strlen(event_fields[f]) &&
			    memcmp(k->str, event_fields[f], k->len) == 0)
				break;
		}
		if (f == EF_COUNT)
			continue;
		if (seen & (1U << f))
			return ("a field is given more than once");
		if (memchr(v->str, '\0', v->len) != NULL)
			return ("a field holds a NUL byte");
		seen |= 1U << f;
		switch (f) {
		case EF_COMPANY:
			ev->company_sid = reply_strdup(v);
			break;
		case EF_TYPE:
			ev->event_type = reply_strdup(v);
			break;
		case EF_SID:
			ev->event_sid = reply_strdup(v);
			break;
		case EF_PAYLOAD:
			if ((ev->payload = reply_strdup(v)) != NULL)
				ev->payload_len = v->len;
			break;
		case EF_TRACE:
			/* Not ours to refuse the event for: an invalid
			 * context is dropped, as W3C asks. */
			if (wh_traceparent_parse(v->str, v->len, &tc) == 0)
				ev->traceparent = reply_strdup(v);
			break;
		case EF_OKEY:
			if (v->len == 0 || v->len > WH_ORDERING_KEY_MAX)
				return ("ordering_key is not 1 to 128 bytes");
			ev->ordering_key = reply_strdup(v);
			break;
		default:
			if (ms_parse(v->str, v->len, &ev->created_at) == -1)
				return ("ts is not milliseconds since the "
				    "epoch");
			break;
		}
	}
	if (ev->company_sid == NULL ||
	    wh_validate_company_sid(ev->company_sid,
	    strlen(ev->company_sid)) != NULL)
		return ("company_sid is missing or not valid");
	if (ev->event_type == NULL ||
	    wh_validate_event_type(ev->event_type,
	    strlen(ev->event_type)) != NULL)
		return ("event_type is missing or not a dotted name");
	if (ev->payload == NULL)
		return ("payload is missing");
	if (ev->payload_len > event_max)
		return ("payload is larger than WH_EVENT_MAX_BYTES");
	if (!wh_json_valid(ev->payload, ev->payload_len))
		return ("payload is not JSON");
	if (ev->event_sid != NULL &&
	    !wh_id_valid(ev->event_sid, strlen(ev->event_sid)))
		return ("event_sid is not a valid id");
	if (ev->event_sid == NULL) {
		/* Stable across dispatchers and retries of the same entry. */
		if ((ev->event_sid = malloc(WH_ID_MAX)) == NULL ||
		    wh_id_event_derived(ev->company_sid, entry_id,
		    ev->event_sid, WH_ID_MAX) == -1)
			return ("cannot derive an event_sid");
	}
	/* Without ts, the entry id's time ("<ms>-<seq>", maybe chosen). */
	if (ev->created_at == 0 && ms_parse(entry_id, strcspn(entry_id, "-"),
	    &ms) == 0)
		ev->created_at = ms;
	if (ev->created_at == 0)
		ev->created_at = wh_now_ms();
	return (NULL);
}

/*
 * The "task" field of a retry entry (consume.c finds it beside the
 * fields of a ~test): the msgpack task into t (zeroed; freed by the
 * caller either way). NULL, or why not.
 */
const char *
entry_task_decode(struct wh_task *t, const redisReply *task)
{
	if (task->type != REDIS_REPLY_STRING ||
	    wh_task_decode(task->str, task->len, t) == -1)
		return ("task is not a valid record");
	if (!wh_id_valid(t->webhook_sid, strlen(t->webhook_sid)))
		return ("task webhook_sid is not valid");
	return (NULL);
}

/* Set by upkeep.c (entry_ownership_init); 0: never unsure. */
static int64_t	 unsure_after_ms;
static void	(*refresh_wanted)(void);

/* upkeep.c's refresh is asked for as soon as an entry is unsure. */
void
entry_ownership_init(int64_t claim_idle_ms, void (*refresh)(void))
{
	unsure_after_ms = claim_idle_ms * 2 / 3;
	refresh_wanted = refresh;
}

/*
 * Is en still ours? Confirmed by a refresh (or the read) less than two
 * thirds of WH_CLAIM_IDLE_MS ago, it is: nobody may claim it before it
 * has been idle that long. Older than that (the process was paused, or
 * Redis did not answer), it may have been taken over: nothing of it is
 * sent or resolved until the next refresh says (deliver.c).
 */
int
entry_owned(const struct entry *en)
{
	int	late;

	if (en->lost)
		return (OWN_LOST);
	late = unsure_after_ms > 0 &&
	    wh_mono_ms() - en->held_since >= unsure_after_ms;
	/* Handed on by order_finish: ours for as long as we can be sure
	 * its lease (WH_CLAIM_IDLE_MS) lasts; then its guard repeats it. */
	if (en->handed != NULL)
		return (late ? OWN_LOST : OWN_YES);
	if (late) {
		if (refresh_wanted != NULL)
			refresh_wanted();
		return (OWN_UNSURE);
	}
	return (OWN_YES);
}

/* The first reason an entry failed, kept for its log line. */
void
entry_failed(struct entry *en, const char *why)
{
	if (en->fail[0] == '\0' && why != NULL)
		(void)snprintf(en->fail, sizeof(en->fail), "%s", why);
}

/* A ~test nobody waits for any more: acked without sending it. */
int
entry_test_expired(const struct entry *en)
{
	return (en->reply_key != NULL && wh_now_ms() > en->test_deadline);
}

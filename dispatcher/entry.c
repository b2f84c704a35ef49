/*
 * entry.c: what a stream entry says, read from the fields Redis handed
 * us. An entry of wh:{0}:events is the public format of DESIGN.md (plain
 * string fields company_sid, event_type, payload, event_sid, ts) that any
 * service may XADD, so nothing in it is trusted; an entry of
 * wh:{0}:retries holds one msgpack task. Kept apart from consume.c, with
 * no dispatcher state, so the fuzz targets (tests/fuzz) run exactly this
 * code on hostile entries.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ids.h"
#include "json.h"
#include "keys.h"
#include "timeutil.h"
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
 * An event entry's fields (the public format) into ev, which starts
 * zeroed and is freed by the caller either way. NULL, or why not.
 */
const char *
entry_event_parse(struct wh_event *ev, const char *entry_id,
    const redisReply *fields, size_t event_max)
{
	const redisReply *k, *v;
	size_t		 i;
	char		*end;
	long long	 ms;

	for (i = 0; i + 1 < fields->elements; i += 2) {
		k = fields->element[i];
		v = fields->element[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			return ("field is not a string");
		if (!strcmp(k->str, "company_sid") && ev->company_sid == NULL)
			ev->company_sid = reply_strdup(v);
		else if (!strcmp(k->str, "event_type") &&
		    ev->event_type == NULL)
			ev->event_type = reply_strdup(v);
		else if (!strcmp(k->str, "event_sid") && ev->event_sid == NULL)
			ev->event_sid = reply_strdup(v);
		else if (!strcmp(k->str, "payload") && ev->payload == NULL) {
			if ((ev->payload = reply_strdup(v)) != NULL)
				ev->payload_len = v->len;
		} else if (!strcmp(k->str, "ts")) {
			ms = strtoll(v->str, &end, 10);
			if (end == v->str || *end != '\0' || ms <= 0)
				return ("ts is not milliseconds since the "
				    "epoch");
			ev->created_at = ms;
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
	if (ev->created_at == 0) {
		ms = strtoll(entry_id, &end, 10);
		ev->created_at = ms > 0 ? ms : wh_now_ms();
	}
	return (NULL);
}

/*
 * A retry entry: one field "task" holding the msgpack task, into t
 * (zeroed; freed by the caller either way). NULL, or why not.
 */
const char *
entry_task_parse(struct wh_task *t, const redisReply *fields)
{
	const redisReply	*k, *v;
	size_t			 i;

	for (i = 0; i + 1 < fields->elements; i += 2) {
		k = fields->element[i];
		v = fields->element[i + 1];
		if (k->type == REDIS_REPLY_STRING &&
		    v->type == REDIS_REPLY_STRING &&
		    strcmp(k->str, WH_TASK_FIELD) == 0) {
			if (wh_task_decode(v->str, v->len, t) == -1)
				return ("task is not a valid record");
			if (!wh_id_valid(t->webhook_sid,
			    strlen(t->webhook_sid)))
				return ("task webhook_sid is not valid");
			return (NULL);
		}
	}
	return ("task field is missing");
}

/*
 * entry.c: stream entries (attempt log lines, dead letters) as JSON.
 *
 * Their fields are plain strings written by the dispatchers, but a Redis
 * hand edit or a newer writer could leave anything there, so each value
 * is shown only as what it claims to be: a count only if it is digits, a
 * time only if it is RFC 3339, else null; text is escaped as JSON.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "json.h"
#include "timeutil.h"

/* The ms part of a stream entry id ("1732780800123-0"); 0 if none. */
int64_t
api_entry_ms(const char *id)
{
	int64_t	v = 0;

	while (*id >= '0' && *id <= '9' && v < INT64_MAX / 10)
		v = v * 10 + (*id++ - '0');
	return (v);
}

/* The value of name in an entry's [field, value, ...]; NULL if none. */
const struct api_reply *
api_entry_field(const struct api_reply *fields, const char *name)
{
	size_t	i;

	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return (NULL);
	for (i = 0; i + 1 < fields->nelem; i += 2) {
		if (fields->elem[i]->type == REDIS_REPLY_STRING &&
		    fields->elem[i + 1]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->elem[i]->str, name) == 0)
			return (fields->elem[i + 1]);
	}
	return (NULL);
}

/* ,"name":<count>; null if not digits (or "0" when zero_null). */
int
api_json_count(struct wh_buf *b, const char *name, const struct api_reply *v,
    int zero_null)
{
	size_t	i;

	if (v == NULL || v->len == 0 || v->len > 18 ||
	    (zero_null && strcmp(v->str, "0") == 0))
		return (wh_buf_appendf(b, ",\"%s\":null", name));
	for (i = 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return (wh_buf_appendf(b, ",\"%s\":null", name));
	}
	return (wh_buf_appendf(b, ",\"%s\":%lld", name,
	    strtoll(v->str, NULL, 10)));
}

/* ,"name":"<text>"; absent is null (or "" unless empty_null), empty too
 * when empty_null. */
int
api_json_text(struct wh_buf *b, const char *name, const struct api_reply *v,
    int empty_null)
{
	if (wh_buf_appendf(b, ",\"%s\":", name) == -1)
		return (-1);
	if (v == NULL || (empty_null && v->len == 0))
		return (wh_buf_appendstr(b, empty_null ? "null" : "\"\""));
	return (wh_json_str(b, v->str, v->len));
}

/* ,"name":"<time>" as stored when it is RFC 3339, else null. */
int
api_json_time(struct wh_buf *b, const char *name, const struct api_reply *v)
{
	int64_t	ms;

	if (v == NULL || wh_rfc3339_parse(v->str, v->len, &ms) == -1)
		return (wh_buf_appendf(b, ",\"%s\":null", name));
	return (api_json_text(b, name, v, 0));
}

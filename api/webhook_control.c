/*
 * webhook_control.c: the delivery-control fields of a webhook as clients
 * write and read them (issue 21). retry_schedule_s is 1 to 20 delays in
 * whole seconds (common/schedule.c); filter is a JSON expression over the
 * event (common/filter.c, docs/filters.md), checked and compiled here at
 * write time so that a dispatcher never meets one it cannot use, and
 * kept as the text given; rate_limit {per_second, burst} is the shared
 * per-endpoint limit (common/lua/ratelimit.lua, docs/ratelimit.md). null
 * (or absent on POST) means none of them. propagate_trace (issue 22, a
 * boolean, false by default) has each attempt send its traceparent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "filter.h"
#include "json.h"
#include "model.h"
#include "schedule.h"
#include "validate.h"

static const struct api_field_spec	rate_fields[] = {
	{ "per_second", 0 }, { "burst", 0 },
	{ NULL, 0 }
};

/* rate_limit into w->rate_*: both whole numbers 1 to WH_RATE_MAX. */
static int
parse_rate(struct api_obj *obj, struct wh_webhook *w, struct api_errors *e)
{
	struct api_obj	 o;
	long long	 rate, burst;
	size_t		 errs = e->n;

	switch (api_field_object(obj, "rate_limit", e, &o)) {
	case 0:
		return (0);	/* null: none */
	case -1:
		return (e->n > errs ? 0 : -1);
	}
	api_fields_check(&o, rate_fields, "", e);
	/* Both required: absent and null read as 0, outside the range. */
	if (api_field_int(&o, "per_second", e, 1, WH_RATE_MAX, 0,
	    &rate) == 0 && rate == 0)
		api_errors_add(e, "per_second", "is required");
	if (api_field_int(&o, "burst", e, 1, WH_RATE_MAX, 0, &burst) == 0 &&
	    burst == 0)
		api_errors_add(e, "burst", "is required");
	api_errors_prefix(e, errs, "rate_limit.");
	if (e->n > errs)
		return (0);
	w->rate_per_second = (uint32_t)rate;
	w->rate_burst = (uint32_t)burst;
	return (0);
}

/* retry_schedule_s into w->retry; a refusal names the element. */
static void
parse_schedule(struct api_obj *obj, struct wh_webhook *w,
    struct api_errors *e)
{
	struct wh_schedule_err	 err;
	const char		*arr;
	char			 field[32];
	size_t			 alen;

	if (api_field_array(obj, "retry_schedule_s", e, &arr, &alen) != 1)
		return;		/* null, or "must be an array" */
	if (wh_schedule_parse(arr, alen, &w->retry, &err) == 0)
		return;
	if (err.index >= 0) {
		(void)snprintf(field, sizeof(field), "retry_schedule_s[%d]",
		    err.index);
		api_errors_add(e, field, "%s", err.reason);
	} else
		api_errors_add(e, "retry_schedule_s", "%s", err.reason);
}

/*
 * filter into w->filter, compiled once to check it (the program itself
 * is for the dispatcher); a refusal gives the byte offset in the filter's
 * text and the JSON pointer of the fault (none at the top). -1 on ENOMEM.
 */
static int
parse_filter(struct api_obj *obj, struct wh_webhook *w,
    struct api_errors *e)
{
	struct wh_filter	*f;
	struct wh_filter_err	 err;
	const char		*text, *why;
	size_t			 len;
	int			 rc;

	if (api_field_json(obj, "filter", &text, &len) != 1)
		return (0);
	if ((f = malloc(sizeof(*f))) == NULL)
		return (-1);
	memset(&err, 0, sizeof(err));
	rc = wh_filter_compile(text, len, f, &err);
	free(f);
	if (rc == -1) {
		why = err.reason != NULL ? err.reason : "not a valid filter";
		if (err.pointer[0] == '\0')
			api_errors_add(e, "filter", "at offset %zu: %s",
			    err.offset, why);
		else
			api_errors_add(e, "filter", "at offset %zu (%s): %s",
			    err.offset, err.pointer, why);
		return (0);
	}
	if ((w->filter = strndup(text, len)) == NULL)
		return (-1);
	return (0);
}

int
api_webhook_control_parse(struct api_obj *obj, int create,
    struct api_webhook_input *in, struct api_errors *e)
{
	if (create || api_field_present(obj, "retry_schedule_s")) {
		in->given |= API_WB_SCHEDULE;
		parse_schedule(obj, &in->w, e);
	}
	if (create || api_field_present(obj, "filter")) {
		in->given |= API_WB_FILTER;
		if (parse_filter(obj, &in->w, e) == -1)
			return (-1);
	}
	if (create || api_field_present(obj, "rate_limit")) {
		in->given |= API_WB_RATE;
		if (parse_rate(obj, &in->w, e) == -1)
			return (-1);
	}
	if (create || api_field_present(obj, "propagate_trace")) {
		in->given |= API_WB_TRACE;
		in->w.propagate_trace = api_field_bool(obj, "propagate_trace",
		    e, 0);
	}
	return (0);
}

/* As api_webhook_apply: what dst held moves into in, freed with it. */
void
api_webhook_control_apply(struct wh_webhook *dst,
    struct api_webhook_input *in)
{
	char	*t;

	if (in->given & API_WB_SCHEDULE)
		dst->retry = in->w.retry;
	if (in->given & API_WB_RATE) {
		dst->rate_per_second = in->w.rate_per_second;
		dst->rate_burst = in->w.rate_burst;
	}
	if (in->given & API_WB_TRACE)
		dst->propagate_trace = in->w.propagate_trace;
	if (in->given & API_WB_FILTER) {
		t = dst->filter;
		dst->filter = in->w.filter;
		in->w.filter = t;
	}
}

/*
 * ,"retry_schedule_s":[...]|null,"filter":{...}|null,"rate_limit":
 * {"per_second":N,"burst":B}|null,"propagate_trace":bool. The filter is the
 * stored text as given; one that is not JSON (a record edited by hand)
 * is shown as null rather than breaking the document.
 */
int
api_render_webhook_control(struct wh_buf *b, const struct wh_webhook *w)
{
	uint32_t	i;
	int		rc;

	if (wh_buf_appendstr(b, ",\"retry_schedule_s\":") == -1)
		return (-1);
	if (w->retry.n == 0 && wh_buf_appendstr(b, "null") == -1)
		return (-1);
	for (i = 0; i < w->retry.n; i++) {
		if (wh_buf_appendf(b, "%s%u", i == 0 ? "[" : ",",
		    w->retry.delay_s[i]) == -1)
			return (-1);
	}
	if (w->retry.n > 0 && wh_buf_append(b, "]", 1) == -1)
		return (-1);
	if (wh_buf_appendstr(b, ",\"filter\":") == -1)
		return (-1);
	if (w->filter == NULL || !wh_json_valid(w->filter, strlen(w->filter)))
		rc = wh_buf_appendstr(b, "null");
	else
		rc = wh_buf_appendstr(b, w->filter);
	if (rc == -1)
		return (-1);
	if (w->rate_per_second == 0)
		rc = wh_buf_appendstr(b, ",\"rate_limit\":null");
	else
		rc = wh_buf_appendf(b, ",\"rate_limit\":{\"per_second\":%u,"
		    "\"burst\":%u}", w->rate_per_second, w->rate_burst);
	if (rc == -1)
		return (-1);
	return (wh_buf_appendf(b, ",\"propagate_trace\":%s",
	    w->propagate_trace ? "true" : "false"));
}

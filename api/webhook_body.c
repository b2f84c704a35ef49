/*
 * webhook_body.c: a webhook as a client writes it, for both POST (every
 * field, defaults for those not given) and PATCH (only the fields given
 * change), so the two can never validate differently. A field given as
 * null means its default (label "", method POST, headers [], ...), the
 * same on both routes; url may not be null.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "json.h"
#include "model.h"
#include "validate.h"

static const struct api_field_spec	create_fields[] = {
	{ "company_sid", 0 }, { "label", 0 }, { "url", 0 }, { "method", 0 },
	{ "timeout_ms", 0 }, { "max_attempts", 0 }, { "headers", 0 },
	{ "event_types", 0 }, { "enabled", 0 },
	{ "tls_client_certificate", 0 }, { "tls_ca_pem", 0 },
	{ "retry_schedule_s", 0 }, { "filter", 0 }, { "rate_limit", 0 },
	{ "propagate_trace", 0 },
	{ "sid", 1 }, { "created_at", 1 }, { "updated_at", 1 },
	{ "disabled_reason", 1 }, { "health", 1 },
	{ NULL, 0 }
};

static const struct api_field_spec	update_fields[] = {
	{ "label", 0 }, { "url", 0 }, { "method", 0 }, { "timeout_ms", 0 },
	{ "max_attempts", 0 }, { "headers", 0 }, { "event_types", 0 },
	{ "enabled", 0 },
	{ "tls_client_certificate", 0 }, { "tls_ca_pem", 0 },
	{ "retry_schedule_s", 0 }, { "filter", 0 }, { "rate_limit", 0 },
	{ "propagate_trace", 0 },
	{ "company_sid", 1 }, { "sid", 1 }, { "created_at", 1 },
	{ "updated_at", 1 }, { "disabled_reason", 1 }, { "health", 1 },
	{ NULL, 0 }
};

static const struct api_field_spec	header_fields[] = {
	{ "name", 0 }, { "value", 0 }, { "include_in_request_signature", 0 },
	{ NULL, 0 }
};

/*
 * The elements of the array text arr[0..len) (checked already), at most
 * max; -1 with "<field> at most max <what>" added when there are more.
 */
static int
elements(const char *arr, size_t len, const char **vals, size_t *lens,
    size_t max, const char *field, const char *what, struct api_errors *e)
{
	int	n;

	if ((n = wh_json_elements_trusted(arr, len, vals, lens, max)) < 0) {
		api_errors_add(e, field, "at most %zu %s", max, what);
		return (-1);
	}
	return (n);
}

/* Custom headers: names valid and unique, values free of CR/LF. */
static int
parse_headers(struct api_obj *obj, const char *arr, size_t len,
    struct wh_webhook *w, struct api_errors *e)
{
	struct api_obj	 h;
	const char	*vals[WH_HEADERS_MAX], *name, *value, *why;
	char		 field[64];
	size_t		 lens[WH_HEADERS_MAX], n, i, errs;
	int		 count, sign;

	if ((count = elements(arr, len, vals, lens, WH_HEADERS_MAX, "headers",
	    "headers", e)) <= 0)
		return (count);
	if ((w->headers = calloc((size_t)count, sizeof(*w->headers))) == NULL)
		return (-1);
	for (i = 0; i < (size_t)count; i++) {
		(void)snprintf(field, sizeof(field), "headers[%zu]", i);
		switch (api_element_object(obj, vals[i], lens[i], &h)) {
		case -1:
			return (-1);
		case 0:
			api_errors_add(e, field, "must be an object with name "
			    "and value");
			return (-1);
		}
		errs = e->n;
		(void)snprintf(field, sizeof(field), "headers[%zu].", i);
		api_fields_check(&h, header_fields, "", e);
		name = api_field_str(&h, "name", e, 1);
		value = api_field_str(&h, "value", e, 1);
		sign = api_field_bool(&h, "include_in_request_signature", e, 0);
		api_errors_prefix(e, errs, field);
		if (name == NULL || value == NULL || e->n > errs)
			return (-1);
		(void)snprintf(field, sizeof(field), "headers[%zu].name", i);
		if ((why = wh_validate_header_name(name,
		    strlen(name))) != NULL) {
			api_errors_add(e, field, "%s", why);
			return (-1);
		}
		for (n = 0; n < w->nheaders; n++) {
			if (strcasecmp(w->headers[n].name, name) == 0) {
				api_errors_add(e, field, "repeats an earlier "
				    "header");
				return (-1);
			}
		}
		(void)snprintf(field, sizeof(field), "headers[%zu].value", i);
		if ((why = wh_validate_header_value(value,
		    strlen(value))) != NULL) {
			api_errors_add(e, field, "%s", why);
			return (-1);
		}
		w->headers[i].sign = sign;
		w->nheaders = i + 1;
		if ((w->headers[i].name = strdup(name)) == NULL ||
		    (w->headers[i].value = strdup(value)) == NULL)
			return (-1);
	}
	return (0);
}

static int
parse_event_types(struct api_obj *obj, const char *arr, size_t len,
    struct wh_webhook *w, struct api_errors *e)
{
	const char	*vals[WH_EVENT_TYPES_MAX], *why, *s;
	size_t		 lens[WH_EVENT_TYPES_MAX], i, k;
	int		 count;

	if ((count = elements(arr, len, vals, lens, WH_EVENT_TYPES_MAX,
	    "event_types", "entries", e)) <= 0)
		return (count);
	if ((w->event_types = calloc((size_t)count, sizeof(char *))) == NULL)
		return (-1);
	for (k = 0; k < (size_t)count; k++) {
		if ((s = api_element_str(obj, vals[k], lens[k])) == NULL) {
			if (vals[k][0] == '"')
				return (-1);	/* ENOMEM */
			api_errors_add(e, "event_types", "must hold strings");
			return (-1);
		}
		why = wh_validate_event_filter(s, strlen(s));
		if (why != NULL) {
			api_errors_add(e, "event_types", "\"%.40s\" %s", s,
			    why);
			return (-1);
		}
		for (i = 0; i < w->nevent_types; i++) {
			if (strcmp(w->event_types[i], s) == 0)
				break;
		}
		if (i < w->nevent_types)
			continue;	/* a repeat adds nothing */
		if ((w->event_types[w->nevent_types] = strdup(s)) == NULL)
			return (-1);
		w->nevent_types++;
	}
	return (0);
}

/*
 * The company a new webhook belongs to: an admin key names it, a company
 * key implies it (and may repeat it, but not name another).
 */
static void
write_company(struct api_ctx *ctx, struct api_obj *obj,
    struct api_webhook_input *in, struct api_errors *e)
{
	const char	*given, *why;

	given = api_field_str(obj, "company_sid", e, 0);
	if (!ctx->who.admin) {
		if (given != NULL && strcmp(given, ctx->who.company_sid) != 0)
			api_errors_add(e, "company_sid", "this API key acts "
			    "only within its own company");
		given = ctx->who.company_sid;
	} else if (given == NULL) {
		if (!api_field_present(obj, "company_sid"))
			api_errors_add(e, "company_sid", "is required with an "
			    "admin API key");
		return;
	} else if ((why = wh_validate_company_sid(given,
	    strlen(given))) != NULL) {
		api_errors_add(e, "company_sid", "%s", why);
		return;
	}
	(void)snprintf(in->company, sizeof(in->company), "%s", given);
}

static int
parse_method(struct api_obj *obj, struct wh_webhook *w,
    struct api_errors *e)
{
	const char	*method;
	char		 m[8];
	size_t		 i;

	w->method = WH_METHOD_POST;
	if ((method = api_field_str(obj, "method", e, 0)) == NULL)
		return (0);
	for (i = 0; method[i] != '\0' && i < sizeof(m) - 1; i++)
		m[i] = (char)toupper((unsigned char)method[i]);
	m[i] = '\0';
	if ((w->method = wh_method_parse(m, strlen(method))) == 0) {
		api_errors_add(e, "method", "must be POST, PUT or PATCH");
		return (-1);
	}
	return (0);
}

/*
 * A webhook URL: well formed, and not an IP literal in a range the
 * dispatchers refuse (WH_ALLOW_PRIVATE_TARGETS, WH_ALLOW_CIDRS). Names
 * are checked by the dispatcher at connect time, after DNS, since what a
 * name resolves to may change.
 */
static const char *
url_check(const char *url)
{
	static char	 msg[160];
	const char	*why, *host;
	size_t		 hlen;

	if ((why = wh_validate_url(url, strlen(url))) != NULL)
		return (why);
	if (wh_url_host(url, strlen(url), &host, &hlen) == 0 &&
	    (why = wh_policy_host_refused(&api_cfg.net, host, hlen)) != NULL) {
		(void)snprintf(msg, sizeof(msg), "the URL's host is refused "
		    "(%s); webhooks deliver to public addresses only", why);
		return (msg);
	}
	return (NULL);
}

/*
 * Read the body into in: the fields given (in->given, API_WB_*), with
 * their defaults when null. Errors say what is wrong; -1 on ENOMEM.
 */
int
api_webhook_parse(struct api_ctx *ctx, struct api_obj *obj,
    int create, struct api_webhook_input *in, struct api_errors *e)
{
	struct wh_webhook	*w = &in->w;
	const char		*label, *url, *why, *arr;
	size_t			 alen;
	long long		 v;

	memset(in, 0, sizeof(*in));
	api_fields_check(obj, create ? create_fields : update_fields, "", e);
	if (create)
		write_company(ctx, obj, in, e);

	if (create || api_field_present(obj, "label")) {
		in->given |= API_WB_LABEL;
		label = api_field_str(obj, "label", e, 0);
		if (label != NULL && (why = wh_validate_label(label,
		    strlen(label))) != NULL)
			api_errors_add(e, "label", "%s", why);
		if ((w->label = strdup(label ? label : "")) == NULL)
			return (-1);
	}
	if (create || api_field_present(obj, "url")) {
		in->given |= API_WB_URL;
		url = api_field_str(obj, "url", e, 1);
		if (url != NULL && (why = url_check(url)) != NULL)
			api_errors_add(e, "url", "%s", why);
		if (url != NULL && (w->url = strdup(url)) == NULL)
			return (-1);
	}
	if (create || api_field_present(obj, "method")) {
		in->given |= API_WB_METHOD;
		(void)parse_method(obj, w, e);
	}
	if (create || api_field_present(obj, "timeout_ms")) {
		in->given |= API_WB_TIMEOUT;
		if (api_field_int(obj, "timeout_ms", e, WH_TIMEOUT_MIN,
		    WH_TIMEOUT_MAX, WH_TIMEOUT_DEFAULT, &v) == 0)
			w->timeout_ms = (uint32_t)v;
	}
	if (create || api_field_present(obj, "max_attempts")) {
		in->given |= API_WB_ATTEMPTS;
		if (api_field_int(obj, "max_attempts", e, WH_ATTEMPTS_MIN,
		    WH_ATTEMPTS_MAX, WH_ATTEMPTS_DEFAULT, &v) == 0)
			w->max_attempts = (uint32_t)v;
	}
	if (create || api_field_present(obj, "enabled")) {
		in->given |= API_WB_ENABLED;
		w->enabled = api_field_bool(obj, "enabled", e, 1);
	}
	if (create || api_field_present(obj, "headers")) {
		in->given |= API_WB_HEADERS;
		if (api_field_array(obj, "headers", e, &arr, &alen) == 1 &&
		    parse_headers(obj, arr, alen, w, e) == -1 && e->n == 0)
			return (-1);
	}
	if (create || api_field_present(obj, "event_types")) {
		in->given |= API_WB_EVENT_TYPES;
		if (api_field_array(obj, "event_types", e, &arr, &alen) ==
		    1 && parse_event_types(obj, arr, alen, w, e) == -1 &&
		    e->n == 0)
			return (-1);
	}
	if (api_webhook_control_parse(obj, create, in, e) == -1)
		return (-1);
	return (api_webhook_tls_parse(obj, create, in, e));
}

static void
swap_str(char **a, char **b)
{
	char	*t = *a;

	*a = *b;
	*b = t;
}

/*
 * Move the given fields of in into dst. What dst held moves into in,
 * to be freed with it, so nothing is copied and nothing leaks.
 */
void
api_webhook_apply(struct wh_webhook *dst, struct api_webhook_input *in)
{
	struct wh_webhook	*src = &in->w;
	struct wh_header	*h;
	char			**t;
	size_t			 n;

	if (in->given & API_WB_LABEL)
		swap_str(&dst->label, &src->label);
	if (in->given & API_WB_URL)
		swap_str(&dst->url, &src->url);
	if (in->given & API_WB_METHOD)
		dst->method = src->method;
	if (in->given & API_WB_TIMEOUT)
		dst->timeout_ms = src->timeout_ms;
	if (in->given & API_WB_ATTEMPTS)
		dst->max_attempts = src->max_attempts;
	if (in->given & API_WB_ENABLED) {
		dst->enabled = src->enabled;
		if (dst->enabled)	/* whatever disabled it is over */
			swap_str(&dst->disabled_reason, &src->disabled_reason);
	}
	if (in->given & API_WB_HEADERS) {
		h = dst->headers;
		n = dst->nheaders;
		dst->headers = src->headers;
		dst->nheaders = src->nheaders;
		src->headers = h;
		src->nheaders = n;
	}
	if (in->given & API_WB_EVENT_TYPES) {
		t = dst->event_types;
		n = dst->nevent_types;
		dst->event_types = src->event_types;
		dst->nevent_types = src->nevent_types;
		src->event_types = t;
		src->nevent_types = n;
	}
	api_webhook_tls_apply(dst, in);
	api_webhook_control_apply(dst, in);
	in->given = 0;
}

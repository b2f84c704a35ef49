/*
 * fields.c: typed access to a request body's fields with Kore's JSON
 * parser, collecting one error per bad field instead of stopping at the
 * first, so a client fixes everything in one round.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "encode.h"
#include "json.h"
#include "timeutil.h"

/* Parse the body into json; -1 with a 400 written. */
static int
body_parse(struct api_ctx *ctx, struct kore_json *json, int empty_ok)
{
	const char	*body;
	size_t		 len;

	api_body(ctx, &body, &len);
	if (len == 0 && empty_ok) {
		body = "{}";
		len = 2;
	}
	kore_json_init(json, "", 0);
	if (len == 0)
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body "
		    "must be a JSON object.", NULL), -1);
	if (!wh_json_valid(body, len))
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body "
		    "is not valid JSON.", NULL), -1);
	if (memchr(body, '\\', len) != NULL) {
		wh_buf_reset(&ctx->body_text);
		if (api_body_unescape(body, len, &ctx->body_text) == -1)
			return (api_problem(ctx, API_P_INVALID_BODY, "The "
			    "request body holds a lone UTF-16 surrogate "
			    "escape.", NULL), -1);
		body = ctx->body_text.data;
		len = ctx->body_text.len;
	}
	kore_json_init(json, body, len);
	if (!kore_json_parse(json))
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body "
		    "is not valid JSON (or nests deeper than 10 levels).",
		    NULL), -1);
	if (json->root->type != KORE_JSON_TYPE_OBJECT)
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body "
		    "must be a JSON object.", NULL), -1);
	return (0);
}

/*
 * Parse the body as a JSON object. A body holding one member named
 * `wrapper` ({"webhook": {...}}) gives that object, any other body is
 * the object itself. An empty body is {} when empty_ok. Members beside
 * the wrapper are recorded in e. NULL with an answer written (400, or
 * 422 for a wrapper that is not an object) and json cleaned up; else
 * the caller cleans json up when done with the fields.
 */
struct kore_json_item *
api_body_object(struct api_ctx *ctx, struct kore_json *json,
    const char *wrapper, int empty_ok, struct api_errors *e)
{
	struct kore_json_item	*it, *inner = NULL;

	if (body_parse(ctx, json, empty_ok) == -1) {
		kore_json_cleanup(json);
		return (NULL);
	}
	if (wrapper == NULL)
		return (json->root);
	TAILQ_FOREACH(it, &json->root->data.items, list) {
		if (it->name != NULL && strcmp(it->name, wrapper) == 0)
			inner = it;
	}
	if (inner == NULL)
		return (json->root);
	if (inner->type != KORE_JSON_TYPE_OBJECT) {
		kore_json_cleanup(json);
		(void)api_problem(ctx, API_P_VALIDATION, "must be an object",
		    wrapper);
		return (NULL);
	}
	TAILQ_FOREACH(it, &json->root->data.items, list) {
		if (it != inner)
			api_errors_add(e, it->name, "is not a known field (the "
			    "fields go inside \"%s\")", wrapper);
	}
	return (inner);
}

/*
 * How reading a body ended: ENOMEM (rc -1) is a 500, field errors a 422
 * "The <what> is not valid". 0 when neither, else -1 with the answer
 * written.
 */
int
api_body_verdict(struct api_ctx *ctx, int rc, const struct api_errors *e,
    const char *what)
{
	char	detail[96];

	if (rc == -1)
		return (api_problem_nomem(ctx), -1);
	if (e->n == 0)
		return (0);
	(void)snprintf(detail, sizeof(detail), "The %s is not valid; see "
	    "errors.", what);
	return (api_problem_errors(ctx, API_P_VALIDATION, detail, e), -1);
}

/*
 * Refuse what a route does not take: unknown members, read-only ones,
 * and members given twice (which parsers disagree about). prefix names
 * a nested object in the error ("headers[2].").
 */
void
api_fields_check(struct kore_json_item *obj, const struct api_field_spec *spec,
    const char *prefix, struct api_errors *e)
{
	struct kore_json_item		*it, *prev;
	const struct api_field_spec	*f;
	char				 field[64];

	TAILQ_FOREACH(it, &obj->data.items, list) {
		(void)snprintf(field, sizeof(field), "%s%s", prefix,
		    it->name);
		for (prev = TAILQ_FIRST(&obj->data.items); prev != it;
		    prev = TAILQ_NEXT(prev, list)) {
			if (strcmp(prev->name, it->name) == 0)
				break;
		}
		if (prev != it) {
			api_errors_add(e, field, "appears more than once");
			continue;
		}
		for (f = spec; f->name != NULL; f++) {
			if (strcmp(f->name, it->name) == 0)
				break;
		}
		if (f->name == NULL)
			api_errors_add(e, field, "is not a known field");
		else if (f->readonly)
			api_errors_add(e, field, "is read-only");
	}
}

/* A direct member of obj by name, of any type; NULL if absent. */
static struct kore_json_item *
member(struct kore_json_item *obj, const char *name)
{
	struct kore_json_item	*it;

	TAILQ_FOREACH(it, &obj->data.items, list) {
		if (it->name != NULL && strcmp(it->name, name) == 0)
			return (it);
	}
	return (NULL);
}

static int
is_null(struct kore_json_item *it)
{
	return (it->type == KORE_JSON_TYPE_LITERAL &&
	    it->data.literal == KORE_JSON_NULL);
}

/* Given at all, null included: what a partial update changes. */
int
api_field_present(struct kore_json_item *obj, const char *name)
{
	return (member(obj, name) != NULL);
}

/*
 * An RFC 3339 time, or null (0: never). Returns 1 when given, 0 when
 * absent, -1 when wrong (an error is added).
 */
int
api_field_time(struct kore_json_item *obj, const char *name,
    struct api_errors *e, int64_t *out)
{
	struct kore_json_item	*it;

	*out = 0;
	if ((it = member(obj, name)) == NULL)
		return (0);
	if (is_null(it))
		return (1);
	if (it->type != KORE_JSON_TYPE_STRING ||
	    wh_rfc3339_parse(it->data.string, strlen(it->data.string),
	    out) == -1 || *out <= 0) {
		api_errors_add(e, name, "must be an RFC 3339 time such as "
		    "2026-11-28T10:00:00Z, or null");
		return (-1);
	}
	return (1);
}

const char *
api_field_str(struct kore_json_item *obj, const char *name,
    struct api_errors *e, int required)
{
	struct kore_json_item	*it;

	if ((it = member(obj, name)) == NULL || is_null(it)) {
		if (required)
			api_errors_add(e, name, "is required");
		return (NULL);
	}
	if (it->type != KORE_JSON_TYPE_STRING) {
		api_errors_add(e, name, "must be a string");
		return (NULL);
	}
	return (it->data.string);
}

/*
 * An integer within [lo, hi]; def when absent. Kore types positive
 * integers as INTEGER_U64 and negative ones as INTEGER; 5000.0 is a
 * NUMBER and is refused (we ask for whole numbers).
 */
int
api_field_int(struct kore_json_item *obj, const char *name,
    struct api_errors *e, long long lo, long long hi, long long def,
    long long *out)
{
	struct kore_json_item	*it;
	long long		 v;

	*out = def;
	if ((it = member(obj, name)) == NULL || is_null(it))
		return (0);
	if (it->type == KORE_JSON_TYPE_INTEGER)
		v = it->data.s64;
	else if (it->type == KORE_JSON_TYPE_INTEGER_U64 &&
	    it->data.u64 <= (unsigned long long)hi)
		v = (long long)it->data.u64;
	else if (it->type == KORE_JSON_TYPE_INTEGER_U64)
		v = hi + 1;
	else {
		api_errors_add(e, name, "must be a whole number");
		return (-1);
	}
	if (v < lo || v > hi) {
		api_errors_add(e, name, "must be from %lld to %lld", lo, hi);
		return (-1);
	}
	*out = v;
	return (0);
}

int
api_field_bool(struct kore_json_item *obj, const char *name,
    struct api_errors *e, int def)
{
	struct kore_json_item	*it;

	if ((it = member(obj, name)) == NULL || is_null(it))
		return (def);
	if (it->type != KORE_JSON_TYPE_LITERAL ||
	    it->data.literal == KORE_JSON_NULL) {
		api_errors_add(e, name, "must be true or false");
		return (def);
	}
	return (it->data.literal == KORE_JSON_TRUE);
}

/* Members of an array (or object). */
size_t
api_json_len(struct kore_json_item *arr)
{
	struct kore_json_item	*it;
	size_t			 n = 0;

	TAILQ_FOREACH(it, &arr->data.items, list)
		n++;
	return (n);
}

struct kore_json_item *
api_field_array(struct kore_json_item *obj, const char *name,
    struct api_errors *e)
{
	struct kore_json_item	*it;

	if ((it = member(obj, name)) == NULL || is_null(it))
		return (NULL);
	if (it->type != KORE_JSON_TYPE_ARRAY) {
		api_errors_add(e, name, "must be an array");
		return (NULL);
	}
	return (it);
}

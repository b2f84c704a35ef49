/*
 * fields.c: typed access to a request body's fields with Kore's JSON
 * parser, collecting one error per bad field instead of stopping at the
 * first, so a client fixes everything in one round.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"

/*
 * Parse the body as a JSON object. If it holds an object member named
 * `wrapper` ({"webhook": {...}}), that object is returned, else the body
 * itself. NULL with a 400 written when the body is not a JSON object.
 */
struct kore_json_item *
api_body_object(struct api_ctx *ctx, struct kore_json *json,
    const char *wrapper)
{
	struct kore_json_item	*inner;
	const char		*body;
	size_t			 len;

	api_body(ctx, &body, &len);
	kore_json_init(json, body, len);
	if (len == 0) {
		(void)api_problem(ctx, 400, "The request body must be a JSON "
		    "object.", NULL);
		return (NULL);
	}
	if (!kore_json_parse(json)) {
		(void)api_problem(ctx, 400, "The request body is not valid "
		    "JSON.", NULL);
		return (NULL);
	}
	if (json->root->type != KORE_JSON_TYPE_OBJECT) {
		(void)api_problem(ctx, 400, "The request body must be a JSON "
		    "object.", NULL);
		return (NULL);
	}
	if (wrapper != NULL && (inner = kore_json_find_object(json->root,
	    wrapper)) != NULL)
		return (inner);
	return (json->root);
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

/*
 * fields.c: typed access to a request body's fields, collecting one error
 * per bad field instead of stopping at the first, so a client fixes
 * everything in one round.
 *
 * Every route reads its body the same way: one walk of common/json.c
 * checks the whole text and lists the top-level members (raw spans, no
 * tree); a nested object or array (the "webhook" wrapper, headers,
 * event_types) is walked again only as far as its own span, trusted, since
 * it was checked already. Names are decoded once, string values when
 * asked for, into one buffer sized from the body: time and memory are
 * linear in the body, whatever its strings hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "json.h"
#include "timeutil.h"

/* Members a body starts with room for (it grows for larger objects). */
#define MEMBERS_FIRST	64

/*
 * Room for n bytes of decoded text. Each name and each string value is
 * decoded at most once and is never longer than its quoted JSON text, so
 * the body's own length (plus one for {}) is always enough; a NULL here
 * would be a bug, reported as a 500 rather than read past.
 */
static char *
text_room(struct api_body *b, size_t *avail)
{
	if (b->text == NULL || b->used >= b->size) {
		b->nomem = 1;
		return (NULL);
	}
	*avail = b->size - b->used;
	return (b->text + b->used);
}

/*
 * The JSON string text[0..len) (quotes included, checked already)
 * decoded and NUL-terminated in the body's text buffer; NULL when out
 * of room (b->nomem set).
 */
static const char *
text_decode(struct api_body *b, const char *text, size_t len)
{
	char	*out;
	size_t	 avail;
	int	 n;

	if ((out = text_room(b, &avail)) == NULL)
		return (NULL);
	if ((n = wh_json_text(text, len, out, avail)) < 0) {
		b->nomem = 1;
		return (NULL);
	}
	b->used += (size_t)n + 1;
	return (out);
}

/*
 * Read the object text[0..len) into o: its members appended to the
 * body's list, names decoded. The walk validates the text unless
 * trusted. 0, WH_JSON_INVALID or WH_JSON_DEEP, or -2 on ENOMEM.
 */
static int
obj_read(struct api_body *b, const char *text, size_t len, int trusted,
    struct api_obj *o)
{
	struct wh_json_member	*m;
	struct api_member	*am;
	size_t			 i, want;
	int			 n;

	if (b->mem == NULL) {
		if ((b->mem = calloc(MEMBERS_FIRST, sizeof(*b->mem))) == NULL ||
		    (b->raw = calloc(MEMBERS_FIRST, sizeof(*b->raw))) == NULL)
			return (-2);
		b->cap = MEMBERS_FIRST;
	}
	n = wh_json_object(text, len, b->raw, b->cap - b->nmem, trusted);
	if (n < 0)
		return (n);
	if ((size_t)n > b->cap - b->nmem) {
		/* More members than room: grow, then list them (trusted). */
		want = b->nmem + (size_t)n;
		if (want < b->cap * 2)
			want = b->cap * 2;	/* a few reallocations in all */
		if ((am = reallocarray(b->mem, want, sizeof(*am))) == NULL)
			return (-2);
		b->mem = am;
		if ((m = reallocarray(b->raw, want, sizeof(*m))) == NULL)
			return (-2);
		b->raw = m;
		b->cap = want;
		(void)wh_json_object(text, len, b->raw, b->cap - b->nmem, 1);
	}
	o->body = b;
	o->first = b->nmem;
	o->n = (size_t)n;
	for (i = 0; i < o->n; i++) {
		m = &b->raw[i];
		am = &b->mem[o->first + i];
		am->val = m->val;
		am->vlen = m->vlen;
		am->str = NULL;
		if ((am->name = text_decode(b, m->name - 1, m->nlen + 2)) ==
		    NULL)
			return (-2);
	}
	b->nmem += o->n;
	return (0);
}

void
api_body_free(struct api_body *b)
{
	free(b->mem);
	free(b->raw);
	free(b->text);
	memset(b, 0, sizeof(*b));
}

/*
 * Read the request body as a JSON object into b->root; -1 with a 400 (or
 * 500) written. A body that fails the walk is told apart once more: not
 * JSON at all, JSON but not an object, or nested too deep.
 */
static int
body_parse(struct api_ctx *ctx, struct api_body *b, int empty_ok)
{
	const char	*text;
	size_t		 len;
	int		 rc;

	api_body(ctx, &text, &len);
	if (len == 0 && empty_ok) {
		text = "{}";
		len = 2;
	}
	if (len == 0)
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body must be a JSON "
		    "object.", NULL), -1);
	b->size = len + 1;
	if ((b->text = malloc(b->size)) == NULL)
		return (api_problem_nomem(ctx), -1);
	if ((rc = obj_read(b, text, len, 0, &b->root)) == 0)
		return (0);
	if (rc == -2)
		return (api_problem_nomem(ctx), -1);
	if (rc == WH_JSON_INVALID)
		rc = wh_json_check(text, len);
	if (rc == WH_JSON_DEEP)
		return (api_problem_deep(ctx), -1);
	if (rc == 0)
		return (api_problem(ctx, API_P_INVALID_BODY, "The request body must be a JSON "
		    "object.", NULL), -1);
	return (api_problem(ctx, API_P_INVALID_BODY, "The request body is not valid JSON.",
	    NULL), -1);
}

/*
 * A body nested deeper than WH_JSON_DEPTH_MAX: said as such (it may be
 * valid JSON), for every route.
 */
int
api_problem_deep(struct api_ctx *ctx)
{
	char	detail[128];

	(void)snprintf(detail, sizeof(detail), "The request body is nested "
	    "too deep (arrays and objects more than %d levels deep).",
	    WH_JSON_DEPTH_MAX);
	return (api_problem(ctx, API_P_BODY_TOO_DEEP, detail, NULL));
}

static struct api_member *
member_at(struct api_obj *o, size_t i)
{
	return (&o->body->mem[o->first + i]);
}

/*
 * Read the body as a JSON object. A body holding a member named
 * `wrapper` ({"webhook": {...}}) gives that object (the last one, if
 * named twice), any other body is the object itself. An empty body is {}
 * when empty_ok. Members beside the wrapper are recorded in e. NULL with
 * an answer written (400, or 422 for a wrapper that is not an object) and
 * b freed; else the caller frees b (api_body_verdict) when done.
 */
struct api_obj *
api_body_object(struct api_ctx *ctx, struct api_body *b, const char *wrapper,
    int empty_ok, struct api_errors *e)
{
	struct api_member	*it;
	size_t			 i, inner;

	memset(b, 0, sizeof(*b));
	if (body_parse(ctx, b, empty_ok) == -1) {
		api_body_free(b);
		return (NULL);
	}
	if (wrapper == NULL)
		return (&b->root);
	inner = b->root.n;
	for (i = 0; i < b->root.n; i++) {
		if (strcmp(member_at(&b->root, i)->name, wrapper) == 0)
			inner = i;
	}
	if (inner == b->root.n)
		return (&b->root);
	it = member_at(&b->root, inner);
	if (it->val[0] != '{' ||
	    obj_read(b, it->val, it->vlen, 1, &b->inner) != 0) {
		if (it->val[0] == '{')
			(void)api_problem_nomem(ctx);
		else
			(void)api_problem(ctx, API_P_VALIDATION, "must be an object",
			    wrapper);
		api_body_free(b);
		return (NULL);
	}
	for (i = 0; i < b->root.n && e->n < API_ERRORS_MAX; i++) {
		if (i != inner)
			api_errors_add(e, member_at(&b->root, i)->name,
			    "is not a known field (the fields go inside "
			    "\"%s\")", wrapper);
	}
	return (&b->inner);
}

/*
 * How reading a body ended, with b freed: ENOMEM (rc -1, or text the
 * body could not hold) is a 500, field errors a 422 "The <what> is not
 * valid". 0 when neither, else -1 with the answer written.
 */
int
api_body_verdict(struct api_ctx *ctx, struct api_body *b, int rc,
    const struct api_errors *e, const char *what)
{
	char	detail[96];

	if (b->nomem)
		rc = -1;
	api_body_free(b);
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
 * a nested object in the error ("headers[2]."). Once e is full nothing
 * more can be added, so the walk stops there: a body of many thousand
 * members costs no more than one of a few dozen (every member past the
 * route's own fields adds an error).
 */
void
api_fields_check(struct api_obj *obj, const struct api_field_spec *spec,
    const char *prefix, struct api_errors *e)
{
	const struct api_field_spec	*f;
	const char			*name;
	char				 field[64];
	size_t				 i, k;

	for (i = 0; i < obj->n && e->n < API_ERRORS_MAX; i++) {
		name = member_at(obj, i)->name;
		(void)snprintf(field, sizeof(field), "%s%s", prefix, name);
		for (k = 0; k < i; k++) {
			if (strcmp(member_at(obj, k)->name, name) == 0)
				break;
		}
		if (k < i) {
			api_errors_add(e, field, "appears more than once");
			continue;
		}
		for (f = spec; f->name != NULL; f++) {
			if (strcmp(f->name, name) == 0)
				break;
		}
		if (f->name == NULL)
			api_errors_add(e, field, "is not a known field");
		else if (f->readonly)
			api_errors_add(e, field, "is read-only");
	}
}

/* A direct member of obj by name (its first), of any type; NULL if absent. */
static struct api_member *
member(struct api_obj *obj, const char *name)
{
	size_t	i;

	for (i = 0; i < obj->n; i++) {
		if (strcmp(member_at(obj, i)->name, name) == 0)
			return (member_at(obj, i));
	}
	return (NULL);
}

static int
is_null(const struct api_member *it)
{
	return (it->vlen == 4 && memcmp(it->val, "null", 4) == 0);
}

/* A string member's value, decoded once; NULL if not a string (or ENOMEM). */
static const char *
member_str(struct api_obj *obj, struct api_member *it)
{
	if (it->val[0] != '"')
		return (NULL);
	if (it->str == NULL)
		it->str = text_decode(obj->body, it->val, it->vlen);
	return (it->str);
}

/* Given at all, null included: what a partial update changes. */
int
api_field_present(struct api_obj *obj, const char *name)
{
	return (member(obj, name) != NULL);
}

/*
 * An RFC 3339 time, or null (0: never). Returns 1 when given, 0 when
 * absent, -1 when wrong (an error is added).
 */
int
api_field_time(struct api_obj *obj, const char *name, struct api_errors *e,
    int64_t *out)
{
	struct api_member	*it;
	const char		*s;

	*out = 0;
	if ((it = member(obj, name)) == NULL)
		return (0);
	if (is_null(it))
		return (1);
	if ((s = member_str(obj, it)) == NULL ||
	    wh_rfc3339_parse(s, strlen(s), out) == -1 || *out <= 0) {
		api_errors_add(e, name, "must be an RFC 3339 time such as "
		    "2026-11-28T10:00:00Z, or null");
		return (-1);
	}
	return (1);
}

const char *
api_field_str(struct api_obj *obj, const char *name, struct api_errors *e,
    int required)
{
	struct api_member	*it;

	if ((it = member(obj, name)) == NULL || is_null(it)) {
		if (required)
			api_errors_add(e, name, "is required");
		return (NULL);
	}
	if (it->val[0] != '"') {
		api_errors_add(e, name, "must be a string");
		return (NULL);
	}
	return (member_str(obj, it));
}

/*
 * The JSON number text s[0..len) (checked already) as a whole number
 * within [lo, hi] into *out: 0, -1 when it has a fraction or an exponent
 * (5000.0 and 5e3 are refused: we ask for whole numbers), 1 when out of
 * range, however many digits it has.
 */
static int
whole_number(const char *s, size_t len, long long lo, long long hi,
    long long *out)
{
	unsigned long long	 v = 0, lim;
	unsigned int		 d;
	size_t			 i = 0;
	int			 neg = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len || memchr(s, '.', len) != NULL ||
	    memchr(s, 'e', len) != NULL || memchr(s, 'E', len) != NULL)
		return (-1);
	/* The bound's magnitude on the number's side (0 if beyond it). */
	if (neg)
		lim = lo < 0 ? 0ULL - (unsigned long long)lo : 0;
	else
		lim = hi > 0 ? (unsigned long long)hi : 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		d = (unsigned int)(s[i] - '0');
		/* v * 10 + d cannot wrap once v <= lim / 10. */
		if (v > lim / 10 || v * 10 + d > lim)
			return (1);
		v = v * 10 + d;
	}
	*out = neg ? (long long)(0ULL - v) : (long long)v;
	if (*out < lo || *out > hi)
		return (1);
	return (0);
}

/* An integer within [lo, hi]; def when absent or null. */
int
api_field_int(struct api_obj *obj, const char *name, struct api_errors *e,
    long long lo, long long hi, long long def, long long *out)
{
	struct api_member	*it;
	long long		 v;
	int			 rc;

	*out = def;
	if ((it = member(obj, name)) == NULL || is_null(it))
		return (0);
	if (it->val[0] == '-' || (it->val[0] >= '0' && it->val[0] <= '9'))
		rc = whole_number(it->val, it->vlen, lo, hi, &v);
	else
		rc = -1;
	if (rc == -1) {
		api_errors_add(e, name, "must be a whole number");
		return (-1);
	}
	if (rc == 1) {
		api_errors_add(e, name, "must be from %lld to %lld", lo, hi);
		return (-1);
	}
	*out = v;
	return (0);
}

int
api_field_bool(struct api_obj *obj, const char *name, struct api_errors *e,
    int def)
{
	struct api_member	*it;

	if ((it = member(obj, name)) == NULL || is_null(it))
		return (def);
	if (it->vlen == 4 && memcmp(it->val, "true", 4) == 0)
		return (1);
	if (it->vlen == 5 && memcmp(it->val, "false", 5) == 0)
		return (0);
	api_errors_add(e, name, "must be true or false");
	return (def);
}

/*
 * The raw text of an array member into *arr, *len: 1 when given, 0 when
 * absent or null, -1 when not an array (an error is added).
 */
int
api_field_array(struct api_obj *obj, const char *name, struct api_errors *e,
    const char **arr, size_t *len)
{
	struct api_member	*it;

	if ((it = member(obj, name)) == NULL || is_null(it))
		return (0);
	if (it->val[0] != '[') {
		api_errors_add(e, name, "must be an array");
		return (-1);
	}
	*arr = it->val;
	*len = it->vlen;
	return (1);
}

/*
 * An object member read into o: 1 when given, 0 when absent or null, -1
 * when not an object (an error is added) or on ENOMEM.
 */
int
api_field_object(struct api_obj *obj, const char *name, struct api_errors *e,
    struct api_obj *o)
{
	struct api_member	*it;
	int			 rc;

	if ((it = member(obj, name)) == NULL || is_null(it))
		return (0);
	if ((rc = api_element_object(obj, it->val, it->vlen, o)) == 0)
		api_errors_add(e, name, "must be an object");
	return (rc == 1 ? 1 : -1);
}

/*
 * An element of an array read with api_field_array, as an object into o
 * (1), or 0 when it is not an object; -1 on ENOMEM.
 */
int
api_element_object(struct api_obj *parent, const char *text, size_t len,
    struct api_obj *o)
{
	if (text[0] != '{')
		return (0);
	if (obj_read(parent->body, text, len, 1, o) != 0) {
		parent->body->nomem = 1;
		return (-1);
	}
	return (1);
}

/*
 * An element of an array read with api_field_array as a decoded string;
 * NULL when it is not a string (or on ENOMEM, which the verdict reports).
 * Each element is to be asked for once.
 */
const char *
api_element_str(struct api_obj *parent, const char *text, size_t len)
{
	if (text[0] != '"')
		return (NULL);
	return (text_decode(parent->body, text, len));
}

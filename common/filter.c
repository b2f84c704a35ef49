/*
 * filter.c: the payload filter language (filter.h, docs/filters.md).
 *
 * Compiling walks the filter's JSON text (already validated, so the
 * trusted walkers of json.c apply) and writes a flat program: one node
 * per operator in prefix order, each knowing where its operands end, plus
 * tables of path segments and literals and a pool of their bytes. Every
 * table is bounded, and so is nesting, so a compiled filter is a fixed
 * size and evaluation is a bounded recursion over it. Errors name the
 * byte offset and the JSON pointer of the offending value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "json.h"

struct fc {
	const char		*base;	/* the whole filter text */
	struct wh_filter	*f;
	struct wh_filter_err	*err;
	char			 ptr[128];
	size_t			 ptrlen;
};

static const struct {
	const char	*name;
	uint8_t		 op;
} ops[] = {
	{ "and", WH_FOP_AND }, { "or", WH_FOP_OR }, { "not", WH_FOP_NOT },
	{ "eq", WH_FOP_EQ }, { "in", WH_FOP_IN }, { "exists", WH_FOP_EXISTS },
	{ "prefix", WH_FOP_PREFIX }, { "lt", WH_FOP_LT }, { "le", WH_FOP_LE },
	{ "gt", WH_FOP_GT }, { "ge", WH_FOP_GE },
};
#define NOPS	(sizeof(ops) / sizeof(ops[0]))

/*
 * A payload number longer than this compares as no number at all: its
 * value as a double would not change past the first few dozen digits,
 * and a bound keeps the copy on the stack.
 */
#define NUM_TEXT_MAX	127

static int	compile_node(struct fc *, const char *, size_t, int);

static int
fail(struct fc *c, const char *at, const char *reason)
{
	if (c->err != NULL) {
		c->err->offset = (size_t)(at - c->base);
		memcpy(c->err->pointer, c->ptr, c->ptrlen);
		c->err->pointer[c->ptrlen] = '\0';
		c->err->reason = reason;
	}
	return (-1);
}

/*
 * Append a JSON pointer segment (operator names and indexes only, which
 * need no RFC 6901 escapes); returns the length to restore afterwards.
 * The deepest pointer (8 levels of "/op/index", then a path element) is
 * well under the buffer: the length check is only a guard.
 */
static size_t
ptr_push(struct fc *c, const char *seg)
{
	size_t	old = c->ptrlen, n = strlen(seg);

	if (old + 1 + n >= sizeof(c->ptr))
		return (old);
	c->ptr[old] = '/';
	memcpy(c->ptr + old + 1, seg, n);
	c->ptrlen = old + 1 + n;
	return (old);
}

static size_t
ptr_push_index(struct fc *c, size_t i)
{
	char	num[24];

	(void)snprintf(num, sizeof(num), "%zu", i);
	return (ptr_push(c, num));
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return (p);
}

/* Copy n bytes into the pool (and a NUL); their offset or -1. */
static int
pool_add(struct wh_filter *f, const char *s, size_t n)
{
	int	off;

	if (sizeof(f->pool) - f->poollen < n + 1)
		return (-1);
	off = f->poollen;
	memcpy(f->pool + off, s, n);
	f->pool[off + n] = '\0';
	f->poollen += n + 1;
	return (off);
}

/*
 * A JSON number's text as a double: the strtod of a NUL-terminated copy
 * (the text is not terminated where it lies). -1 when it is not a
 * number or is longer than max bytes.
 */
static int
number_value(const char *v, size_t len, size_t max, double *out)
{
	char	buf[128];
	char	*end;

	if (len == 0 || len >= sizeof(buf) || len > max ||
	    !(*v == '-' || (*v >= '0' && *v <= '9')))
		return (-1);
	memcpy(buf, v, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	return (end == buf + len ? 0 : -1);
}

/* One segment of a dotted path: a member name or [index]. */
static int
add_seg(struct fc *c, const char *at, uint8_t kind, const char *name,
    size_t nlen, uint32_t index)
{
	struct wh_filter	*f = c->f;
	struct wh_filter_seg	*s;
	int			 off = 0;

	if (f->nseg >= WH_FILTER_SEGS_MAX)
		return (fail(c, at, "too many path segments"));
	if (kind == WH_FSEG_MEMBER && (off = pool_add(f, name, nlen)) == -1)
		return (fail(c, at, "filter too large"));
	s = &f->segs[f->nseg++];
	s->kind = kind;
	s->off = (uint16_t)off;
	s->index = index;
	return (0);
}

static int
root_of(const char *s, size_t n, uint8_t *root)
{
	if (n == 10 && memcmp(s, "event_type", 10) == 0)
		*root = WH_FROOT_EVENT_TYPE;
	else if (n == 7 && memcmp(s, "payload", 7) == 0)
		*root = WH_FROOT_PAYLOAD;
	else
		return (-1);
	return (0);
}

/*
 * "payload.a.b[2].c": a root, then ".name" or "[digits]" segments. A
 * name is any bytes but '.', '[' and ']'; a name holding those is
 * written in the array form instead.
 */
static int
path_dotted(struct fc *c, const char *at, const char *p, size_t len,
    struct wh_filter_node *n)
{
	const char	*end = p + len, *s;
	uint32_t	 idx;

	for (s = p; p < end && *p != '.' && *p != '['; p++)
		;
	if (root_of(s, (size_t)(p - s), &n->root) == -1)
		return (fail(c, at,
		    "a path starts with event_type or payload"));
	n->seg = c->f->nseg;
	while (p < end) {
		if (*p == '.') {
			for (s = ++p; p < end && *p != '.' && *p != '[' &&
			    *p != ']'; p++)
				;
			if (p == s)
				return (fail(c, at, "empty name in path"));
			if (add_seg(c, at, WH_FSEG_MEMBER, s, (size_t)(p - s),
			    0) == -1)
				return (-1);
		} else if (*p == '[') {
			idx = 0;
			for (s = ++p; p < end && *p >= '0' && *p <= '9'; p++) {
				if (p - s >= 9)
					return (fail(c, at,
					    "array index too large"));
				idx = idx * 10 + (uint32_t)(*p - '0');
			}
			if (p == s || p >= end || *p != ']')
				return (fail(c, at,
				    "expected [digits] in path"));
			p++;
			if (add_seg(c, at, WH_FSEG_INDEX, NULL, 0, idx) == -1)
				return (-1);
		} else
			return (fail(c, at, "expected . or [ in path"));
	}
	return (0);
}

/* ["payload", "a.b", 2]: a root, then names and indexes as they are. */
static int
path_array(struct fc *c, const char *v, size_t len, struct wh_filter_node *n)
{
	const char	*el[WH_FILTER_PATH_MAX / 2 + 1];
	size_t		 ell[WH_FILTER_PATH_MAX / 2 + 1], i, old;
	char		 name[WH_FILTER_PATH_MAX];
	double		 d;
	int		 k, nel;

	nel = wh_json_elements_trusted(v, len, el, ell, WH_FILTER_PATH_MAX / 2);
	if (nel < 1)
		return (fail(c, v, "a path array holds 1 to 128 steps"));
	for (i = 0; i < (size_t)nel; i++) {
		old = ptr_push_index(c, i);
		if (i > 0 && el[i][0] != '"') {
			/* Digits only: no sign, fraction or exponent. */
			if (el[i][0] == '-' || memchr(el[i], '.', ell[i]) ||
			    memchr(el[i], 'e', ell[i]) ||
			    memchr(el[i], 'E', ell[i]) ||
			    number_value(el[i], ell[i], 9, &d) == -1)
				return (fail(c, el[i],
				    "expected a name or an array index"));
			if (add_seg(c, el[i], WH_FSEG_INDEX, NULL, 0,
			    (uint32_t)d) == -1)
				return (-1);
		} else {
			if ((k = wh_json_string(el[i], ell[i], name,
			    sizeof(name))) < 0)
				return (fail(c, el[i], k == -1 ?
				    "expected a name" :
				    "name too long or holds \\u0000"));
			if (i == 0) {
				if (root_of(name, (size_t)k, &n->root) == -1)
					return (fail(c, el[i], "a path starts "
					    "with event_type or payload"));
				n->seg = c->f->nseg;
			} else if (add_seg(c, el[i], WH_FSEG_MEMBER, name,
			    (size_t)k, 0) == -1)
				return (-1);
		}
		c->ptrlen = old;
	}
	return (0);
}

static int
compile_path(struct fc *c, const char *v, size_t len,
    struct wh_filter_node *n)
{
	char	buf[WH_FILTER_PATH_MAX];
	int	k;

	if (*v == '[') {
		if (path_array(c, v, len, n) == -1)
			return (-1);
	} else if (*v == '"') {
		if ((k = wh_json_string(v, len, buf, sizeof(buf))) < 0)
			return (fail(c, v, "path too long or holds \\u0000"));
		if (path_dotted(c, v, buf, (size_t)k, n) == -1)
			return (-1);
	} else
		return (fail(c, v, "expected a path (a string or an array)"));
	if (c->f->nseg - n->seg > 255)
		return (fail(c, v, "path too long"));
	n->nseg = (uint8_t)(c->f->nseg - n->seg);
	if (n->root == WH_FROOT_EVENT_TYPE && n->nseg > 0)
		return (fail(c, v, "event_type has no members"));
	return (0);
}

/* One literal: a string, a number, true, false or null. */
static int
compile_lit(struct fc *c, const char *v, size_t len)
{
	struct wh_filter	*f = c->f;
	struct wh_filter_lit	*l;
	char			 buf[WH_FILTER_SRC_MAX];
	int			 k, off;

	if (f->nlit >= WH_FILTER_LITS_MAX)
		return (fail(c, v, "too many values"));
	l = &f->lits[f->nlit];
	memset(l, 0, sizeof(*l));
	switch (*v) {
	case '"':
		if ((k = wh_json_string(v, len, buf, sizeof(buf))) < 0)
			return (fail(c, v, "string holds \\u0000"));
		if ((off = pool_add(f, buf, (size_t)k)) == -1)
			return (fail(c, v, "filter too large"));
		l->type = WH_FLIT_STRING;
		l->off = (uint16_t)off;
		l->len = (uint16_t)k;
		break;
	case 't':
		l->type = WH_FLIT_TRUE;
		break;
	case 'f':
		l->type = WH_FLIT_FALSE;
		break;
	case 'n':
		l->type = WH_FLIT_NULL;
		break;
	case '{':
	case '[':
		return (fail(c, v, "expected a string, number, true, false "
		    "or null"));
	default:
		if (number_value(v, len, WH_FILTER_NUM_MAX, &l->num) == -1 ||
		    !isfinite(l->num))
			return (fail(c, v, "number too long or too large"));
		l->type = WH_FLIT_NUMBER;
		break;
	}
	f->nlit++;
	return (0);
}

/*
 * The operands of a comparison: [path, value], or for "in" [path,
 * [values...]]; for "exists" the path alone. Types are checked here so
 * that a filter that can never match as written is refused.
 */
static int
compile_cmp(struct fc *c, const char *v, size_t len,
    struct wh_filter_node *n)
{
	const char		*el[3], *li[WH_FILTER_LIST_MAX + 1];
	size_t			 ell[3], lil[WH_FILTER_LIST_MAX + 1], old;
	int			 nel, nli, i;
	struct wh_filter_lit	*l;

	if (n->op == WH_FOP_EXISTS)
		return (compile_path(c, v, len, n));
	if (*v != '[' || (nel = wh_json_elements_trusted(v, len, el, ell,
	    2)) != 2)
		return (fail(c, v, "expected [path, value]"));
	old = ptr_push_index(c, 0);
	if (compile_path(c, el[0], ell[0], n) == -1)
		return (-1);
	c->ptrlen = old;
	old = ptr_push_index(c, 1);
	n->lit = c->f->nlit;
	if (n->op == WH_FOP_IN) {
		if (*el[1] != '[' || (nli = wh_json_elements_trusted(el[1],
		    ell[1], li, lil, WH_FILTER_LIST_MAX)) < 1)
			return (fail(c, el[1],
			    "expected a list of 1 to 32 values"));
		for (i = 0; i < nli; i++) {
			size_t	o2 = ptr_push_index(c, (size_t)i);

			if (compile_lit(c, li[i], lil[i]) == -1)
				return (-1);
			c->ptrlen = o2;
		}
	} else if (compile_lit(c, el[1], ell[1]) == -1)
		return (-1);
	n->nlit = (uint8_t)(c->f->nlit - n->lit);
	for (i = 0; i < n->nlit; i++) {
		l = &c->f->lits[n->lit + i];
		if ((n->op == WH_FOP_PREFIX || n->root == WH_FROOT_EVENT_TYPE)
		    && l->type != WH_FLIT_STRING)
			return (fail(c, el[1], "expected a string"));
		if (n->op >= WH_FOP_LT && l->type != WH_FLIT_NUMBER)
			return (fail(c, el[1], "expected a number"));
	}
	c->ptrlen = old;
	return (0);
}

/* The single operator of an object {"op": operands}. */
static int
find_op(struct fc *c, const char *v, size_t len, uint8_t *op,
    const char **val, size_t *vlen)
{
	const char	*end = v + len, *p, *ks, *names[1];
	char		 name[16];
	size_t		 i;
	int		 k;

	if (len < 2 || *v != '{' || *(p = skip_ws(v + 1, end)) == '}')
		return (fail(c, v, "expected an object with one operator"));
	ks = p;
	for (p++; p < end && *p != '"'; p += *p == '\\' ? 2 : 1)
		;
	if ((k = wh_json_string(ks, (size_t)(p + 1 - ks), name,
	    sizeof(name))) < 0)
		return (fail(c, ks, "unknown operator"));
	for (i = 0; i < NOPS; i++) {
		if (strcmp(name, ops[i].name) == 0)
			break;
	}
	if (i == NOPS)
		return (fail(c, ks, "unknown operator"));
	*op = ops[i].op;
	names[0] = name;
	if (wh_json_members_trusted(v, len, names, 1, val, vlen) != 1)
		return (fail(c, ks, "operator repeated"));
	p = skip_ws(*val + *vlen, end);
	if (p != end - 1)
		return (fail(c, p, "one operator per object"));
	(void)ptr_push(c, name);
	return (0);
}

static int
compile_node(struct fc *c, const char *v, size_t len, int depth)
{
	struct wh_filter	*f = c->f;
	struct wh_filter_node	*n;
	const char		*val, *el[WH_FILTER_LIST_MAX + 1];
	size_t			 vlen, ell[WH_FILTER_LIST_MAX + 1], old, o2;
	uint16_t		 at;
	uint8_t			 op;
	int			 nel, i;

	old = c->ptrlen;
	if (depth > WH_FILTER_DEPTH_MAX)
		return (fail(c, v, "nested too deep"));
	if (f->nnode >= WH_FILTER_NODES_MAX)
		return (fail(c, v, "too many operators"));
	if (find_op(c, v, len, &op, &val, &vlen) == -1)
		return (-1);
	at = f->nnode++;
	n = &f->node[at];
	memset(n, 0, sizeof(*n));
	n->op = op;
	if (op == WH_FOP_AND || op == WH_FOP_OR) {
		if (*val != '[' || (nel = wh_json_elements_trusted(val, vlen,
		    el, ell, WH_FILTER_LIST_MAX)) < 1)
			return (fail(c, val,
			    "expected a list of 1 to 32 filters"));
		for (i = 0; i < nel; i++) {
			o2 = ptr_push_index(c, (size_t)i);
			if (compile_node(c, el[i], ell[i], depth + 1) == -1)
				return (-1);
			c->ptrlen = o2;
		}
	} else if (op == WH_FOP_NOT) {
		if (compile_node(c, val, vlen, depth + 1) == -1)
			return (-1);
	} else if (compile_cmp(c, val, vlen, &f->node[at]) == -1)
		return (-1);
	f->node[at].next = f->nnode;
	c->ptrlen = old;
	return (0);
}

int
wh_filter_compile(const char *src, size_t len, struct wh_filter *f,
    struct wh_filter_err *err)
{
	struct fc	c;
	const char	*p, *end;

	memset(&c, 0, sizeof(c));
	c.base = src;
	c.f = f;
	c.err = err;
	f->nnode = f->nseg = f->nlit = f->poollen = 0;
	if (len > WH_FILTER_SRC_MAX)
		return (fail(&c, src, "filter longer than 4096 bytes"));
	if (!wh_json_valid(src, len))
		return (fail(&c, src, "not valid JSON"));
	end = src + len;
	p = skip_ws(src, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (compile_node(&c, p, (size_t)(end - p), 1) == -1) {
		f->nnode = 0;
		return (-1);
	}
	return (0);
}

/* ---------------------------------------------------------------- match */

/*
 * The raw JSON span a payload path names: 1 found, 0 absent (a member
 * missing, an index past the end, a step into a scalar, or a repeated
 * member name, which readers disagree on).
 */
static int
resolve(const struct wh_filter *f, const struct wh_filter_node *n,
    const char *payload, size_t plen, const char **v, size_t *vlen)
{
	const struct wh_filter_seg	*s;
	const char			*names[1];
	size_t				 i;

	*v = payload;
	*vlen = plen;
	for (i = 0; i < n->nseg; i++) {
		s = &f->segs[n->seg + i];
		if (s->kind == WH_FSEG_MEMBER) {
			names[0] = f->pool + s->off;
			if (wh_json_members_trusted(*v, *vlen, names, 1, v,
			    vlen) != 1)
				return (0);
		} else if (wh_json_element_trusted(*v, *vlen, s->index, v,
		    vlen) != 1)
			return (0);
	}
	return (1);
}

/* Whether the JSON value v equals literal l (numbers as numbers). */
static int
lit_equals(const struct wh_filter *f, const struct wh_filter_lit *l,
    const char *v, size_t vlen)
{
	double	d;

	switch (l->type) {
	case WH_FLIT_STRING:
		return (wh_json_string_cmp(v, vlen, f->pool + l->off, l->len,
		    0) == 0);
	case WH_FLIT_NUMBER:
		return (number_value(v, vlen, NUM_TEXT_MAX, &d) == 0 && d == l->num);
	case WH_FLIT_TRUE:
		return (vlen == 4 && memcmp(v, "true", 4) == 0);
	case WH_FLIT_FALSE:
		return (vlen == 5 && memcmp(v, "false", 5) == 0);
	default:
		return (vlen == 4 && memcmp(v, "null", 4) == 0);
	}
}

/* A comparison on the event_type bytes (literals there are strings). */
static int
match_event_type(const struct wh_filter *f, const struct wh_filter_node *n,
    const char *et, size_t etlen)
{
	const struct wh_filter_lit	*l;
	int				 i;

	for (i = 0; i < n->nlit; i++) {
		l = &f->lits[n->lit + i];
		if (n->op == WH_FOP_PREFIX ? etlen >= l->len &&
		    memcmp(et, f->pool + l->off, l->len) == 0 :
		    etlen == l->len && memcmp(et, f->pool + l->off,
		    l->len) == 0)
			return (1);
	}
	return (n->op == WH_FOP_EXISTS);
}

static int
match_cmp(const struct wh_filter *f, const struct wh_filter_node *n,
    const char *et, size_t etlen, const char *payload, size_t plen)
{
	const struct wh_filter_lit	*l = &f->lits[n->lit];
	const char			*v;
	size_t				 vlen;
	double				 d;
	int				 i;

	if (n->root == WH_FROOT_EVENT_TYPE)
		return (match_event_type(f, n, et, etlen));
	if (!resolve(f, n, payload, plen, &v, &vlen))
		return (0);
	switch (n->op) {
	case WH_FOP_EXISTS:
		return (1);
	case WH_FOP_EQ:
	case WH_FOP_IN:
		for (i = 0; i < n->nlit; i++) {
			if (lit_equals(f, &l[i], v, vlen))
				return (1);
		}
		return (0);
	case WH_FOP_PREFIX:
		return (wh_json_string_cmp(v, vlen, f->pool + l->off, l->len,
		    1) == 0);
	default:
		/* NaN never comes out of a JSON number: totally ordered. */
		if (number_value(v, vlen, NUM_TEXT_MAX, &d) == -1)
			return (0);
		if (n->op == WH_FOP_LT)
			return (d < l->num);
		if (n->op == WH_FOP_LE)
			return (d <= l->num);
		if (n->op == WH_FOP_GT)
			return (d > l->num);
		return (d >= l->num);
	}
}

/* Node i; its operands are i + 1 up to node[i].next. */
static int
match_node(const struct wh_filter *f, uint16_t i, const char *et,
    size_t etlen, const char *payload, size_t plen)
{
	const struct wh_filter_node	*n = &f->node[i];
	uint16_t			 k;

	switch (n->op) {
	case WH_FOP_AND:
	case WH_FOP_OR:
		for (k = i + 1; k < n->next; k = f->node[k].next) {
			if (match_node(f, k, et, etlen, payload, plen) !=
			    (n->op == WH_FOP_AND))
				return (n->op == WH_FOP_OR);
		}
		return (n->op == WH_FOP_AND);
	case WH_FOP_NOT:
		return (!match_node(f, i + 1, et, etlen, payload, plen));
	default:
		return (match_cmp(f, n, et, etlen, payload, plen));
	}
}

int
wh_filter_match(const struct wh_filter *f, const char *event_type,
    size_t etlen, const char *payload, size_t plen)
{
	if (f->nnode == 0)
		return (1);
	return (match_node(f, 0, event_type, etlen, payload, plen));
}

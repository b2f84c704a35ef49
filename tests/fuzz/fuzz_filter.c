/*
 * fuzz_filter.c: payload filters (common/filter.c) on any bytes. The
 * input is "<filter>\0<event_type>\0<payload>": the filter text comes
 * from a customer's webhook, the event from a publisher.
 *
 * Checks, beyond memory safety:
 * - a refused filter names an offset inside its text and a reason, and
 *   leaves an empty program;
 * - an accepted one is within every bound and well formed: each node's
 *   operands end after it and within its parent's, the root's at the end;
 * - matching (valid JSON payloads only, as the stream carries) is
 *   deterministic, and {"not": f} matches exactly when f does not,
 *   {"and": [f, f]} and {"or": [f, f]} exactly when f does, whenever
 *   those compile (they may not: depth and size bounds).
 */
#include "filter.h"
#include "json.h"

#include "fuzz.h"

static struct wh_filter	F, G;

static void
check_program(const struct wh_filter *f)
{
	uint16_t	i, k;

	FUZZ_CHECK(f->nnode >= 1 && f->nnode <= WH_FILTER_NODES_MAX);
	FUZZ_CHECK(f->nseg <= WH_FILTER_SEGS_MAX);
	FUZZ_CHECK(f->nlit <= WH_FILTER_LITS_MAX);
	FUZZ_CHECK(f->poollen <= sizeof(f->pool));
	FUZZ_CHECK(f->node[0].next == f->nnode);
	for (i = 0; i < f->nnode; i++) {
		FUZZ_CHECK(f->node[i].next > i &&
		    f->node[i].next <= f->nnode);
		FUZZ_CHECK(f->node[i].seg + f->node[i].nseg <= f->nseg);
		FUZZ_CHECK(f->node[i].lit + f->node[i].nlit <= f->nlit);
		if (f->node[i].op == WH_FOP_NOT)
			FUZZ_CHECK(f->node[i + 1].next == f->node[i].next);
		if (f->node[i].op > WH_FOP_NOT)
			FUZZ_CHECK(f->node[i].next == i + 1);
		/* Operands tile the node's span exactly. */
		for (k = i + 1; k < f->node[i].next; k = f->node[k].next)
			FUZZ_CHECK(f->node[k].next <= f->node[i].next);
	}
}

/* Compile wrap = pre + src + post into G; 1 if it compiled. */
static int
wrapped(const char *pre, const char *src, size_t len, const char *mid,
    const char *post)
{
	char	buf[3 * WH_FILTER_SRC_MAX];
	size_t	n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "%s", pre);
	memcpy(buf + n, src, len);
	n += len;
	if (mid != NULL) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", mid);
		memcpy(buf + n, src, len);
		n += len;
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", post);
	return (wh_filter_compile(buf, n, &G, NULL) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*src = (const char *)data, *et, *pl, *z;
	struct wh_filter_err	 err;
	size_t			 slen, etlen, plen;
	int			 r;

	if (size > 2 * WH_FILTER_SRC_MAX)
		return (0);
	if ((z = memchr(src, '\0', size)) == NULL) {
		slen = size;
		et = pl = "";
		etlen = plen = 0;
	} else {
		slen = (size_t)(z - src);
		et = z + 1;
		if ((z = memchr(et, '\0', size - slen - 1)) == NULL) {
			etlen = size - slen - 1;
			pl = "";
			plen = 0;
		} else {
			etlen = (size_t)(z - et);
			pl = z + 1;
			plen = size - slen - etlen - 2;
		}
	}

	memset(&err, 0, sizeof(err));
	if (wh_filter_compile(src, slen, &F, &err) == -1) {
		FUZZ_CHECK(err.reason != NULL);
		FUZZ_CHECK(err.offset <= slen);
		FUZZ_CHECK(strlen(err.pointer) < sizeof(err.pointer));
		FUZZ_CHECK(F.nnode == 0);
		return (0);
	}
	FUZZ_CHECK(slen <= WH_FILTER_SRC_MAX);
	check_program(&F);
	if (!wh_json_valid(pl, plen))
		pl = "{}", plen = 2;

	r = wh_filter_match(&F, et, etlen, pl, plen);
	FUZZ_CHECK(r == 0 || r == 1);
	FUZZ_CHECK(wh_filter_match(&F, et, etlen, pl, plen) == r);
	if (wrapped("{\"not\":", src, slen, NULL, "}")) {
		check_program(&G);
		FUZZ_CHECK(wh_filter_match(&G, et, etlen, pl, plen) == !r);
	}
	if (wrapped("{\"and\":[", src, slen, ",", "]}"))
		FUZZ_CHECK(wh_filter_match(&G, et, etlen, pl, plen) == r);
	if (wrapped("{\"or\":[", src, slen, ",", "]}"))
		FUZZ_CHECK(wh_filter_match(&G, et, etlen, pl, plen) == r);
	return (0);
}

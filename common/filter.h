/*
 * filter.h: payload filters, the webhook field `filter` (docs/filters.md).
 *
 * A filter is JSON: an object with one operator, e.g.
 *   {"and": [{"eq": ["event_type", "call.ended"]},
 *            {"gt": ["payload.duration", 30]}]}
 * It is checked and compiled once (when a webhook is written, and again
 * when a dispatcher caches it) into a flat, bounded program held in a
 * struct wh_filter, then evaluated against each event without allocating.
 */
#ifndef WH_FILTER_H
#define WH_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define WH_FILTER_SRC_MAX	4096	/* bytes of filter text */
#define WH_FILTER_NODES_MAX	64	/* operators in one filter */
#define WH_FILTER_DEPTH_MAX	8	/* and/or/not nesting */
#define WH_FILTER_LIST_MAX	32	/* operands of and/or, values of in */
#define WH_FILTER_SEGS_MAX	128	/* path segments, all paths together */
#define WH_FILTER_LITS_MAX	128	/* literal values, all together */
#define WH_FILTER_PATH_MAX	256	/* bytes of one path */
#define WH_FILTER_NUM_MAX	64	/* bytes of a number literal */

enum wh_filter_op {
	WH_FOP_AND, WH_FOP_OR, WH_FOP_NOT, WH_FOP_EQ, WH_FOP_IN,
	WH_FOP_EXISTS, WH_FOP_PREFIX, WH_FOP_LT, WH_FOP_LE, WH_FOP_GT,
	WH_FOP_GE
};

/* One operator; its operands follow it (prefix order). */
struct wh_filter_node {
	uint8_t		op;
	uint8_t		root;	/* WH_FROOT_*, comparisons only */
	uint8_t		nseg;	/* path segments after the root */
	uint8_t		nlit;
	uint16_t	seg;	/* first segment in segs[] */
	uint16_t	lit;	/* first literal in lits[] */
	uint16_t	next;	/* the node after this one's operands */
};

#define WH_FROOT_EVENT_TYPE	0
#define WH_FROOT_PAYLOAD	1

#define WH_FSEG_MEMBER		0
#define WH_FSEG_INDEX		1

struct wh_filter_seg {
	uint8_t		kind;	/* WH_FSEG_* */
	uint16_t	off;	/* member name in pool (NUL-terminated) */
	uint32_t	index;
};

#define WH_FLIT_STRING		0
#define WH_FLIT_NUMBER		1
#define WH_FLIT_TRUE		2
#define WH_FLIT_FALSE		3
#define WH_FLIT_NULL		4

struct wh_filter_lit {
	uint8_t		type;	/* WH_FLIT_* */
	uint16_t	off;	/* string bytes in pool */
	uint16_t	len;
	double		num;
};

struct wh_filter {
	uint16_t		nnode;
	uint16_t		nseg;
	uint16_t		nlit;
	uint16_t		poollen;
	struct wh_filter_node	node[WH_FILTER_NODES_MAX];
	struct wh_filter_seg	segs[WH_FILTER_SEGS_MAX];
	struct wh_filter_lit	lits[WH_FILTER_LITS_MAX];
	/* Decoded strings are never longer than their text, plus NULs. */
	char			pool[WH_FILTER_SRC_MAX + WH_FILTER_SEGS_MAX +
				    WH_FILTER_LITS_MAX];
};

/* Where and why a filter text was refused. */
struct wh_filter_err {
	size_t		 offset;	/* byte offset in the filter text */
	char		 pointer[128];	/* JSON pointer into the filter */
	const char	*reason;
};

/*
 * Check and compile the filter text src[0..len) into f. 0 on success;
 * -1 with err filled in (err may be NULL); f is then left empty and
 * must not be used.
 */
int	wh_filter_compile(const char *src, size_t len, struct wh_filter *f,
	    struct wh_filter_err *err);

/*
 * 1 when the event matches f, else 0. payload must be valid JSON text
 * (as every event in the stream is: wh_json_valid); event_type is its
 * raw bytes.
 */
int	wh_filter_match(const struct wh_filter *f, const char *event_type,
	    size_t etlen, const char *payload, size_t plen);

#endif

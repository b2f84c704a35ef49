/*
 * json.h: the little JSON the C side needs outside Kore.
 *
 * Event payloads travel as the publisher's exact JSON text (numbers are
 * never re-printed), so we need to validate JSON text, find the raw span
 * of a top-level member, and escape strings when we write JSON ourselves.
 * Every api request body is read with these walks too (api/fields.c).
 */
#ifndef WH_JSON_H
#define WH_JSON_H

#include <stddef.h>

#include "buf.h"

#define WH_JSON_DEPTH_MAX	64

/* Why a text was refused (the walks below return these). */
#define WH_JSON_INVALID		(-1)
#define WH_JSON_REPEATED	(-2)	/* wh_json_members: a name twice */
#define WH_JSON_DEEP		(-3)	/* arrays and objects nest too deep */

/*
 * 1 when buf[0..len) is exactly one valid JSON value (RFC 8259, UTF-8,
 * surrounding whitespace allowed, depth <= WH_JSON_DEPTH_MAX), else 0.
 */
int	wh_json_valid(const char *, size_t);
/*
 * The same verdict with its reason: 0 valid, WH_JSON_DEEP when the first
 * fault met is nesting deeper than WH_JSON_DEPTH_MAX, else WH_JSON_INVALID.
 */
int	wh_json_check(const char *, size_t);

/*
 * In a JSON object text, find top-level member `name` and give the raw
 * span of its value (whitespace trimmed). 1 found, 0 not found, -1 if the
 * text is not a valid JSON object.
 */
int	wh_json_member(const char *, size_t, const char *name,
	    const char **val, size_t *vlen);

/*
 * The raw spans of the top-level members names[0..n) (n <= 16) of a
 * JSON object text, in one pass that also validates it (the rules of
 * wh_json_valid). A bit set of those found, -1 if the text is not a valid
 * JSON object (WH_JSON_DEEP if it nests too deep), -2 if a name asked for
 * repeats.
 */
int	wh_json_members(const char *, size_t, const char *const *names,
	    size_t n, const char **vals, size_t *lens);
/*
 * The same for text already checked with wh_json_valid (a faster walk
 * that skips values): -1 if the text is not an object or a name repeats.
 */
int	wh_json_members_trusted(const char *, size_t, const char *const *names,
	    size_t n, const char **vals, size_t *lens);

/* One member of an object text, as wh_json_object finds it. */
struct wh_json_member {
	const char	*name;	/* between its quotes, escapes as written */
	size_t		 nlen;
	const char	*val;	/* the value's raw text, trimmed */
	size_t		 vlen;
};

/*
 * Every top-level member of a JSON object text, in order, in one walk
 * that validates the whole text as it goes (the rules of wh_json_valid)
 * unless trusted says it was validated already. The first max members
 * go into m. Returns the number of members (which may exceed max),
 * WH_JSON_INVALID if the text is not a valid object, WH_JSON_DEEP if it
 * nests deeper than WH_JSON_DEPTH_MAX.
 */
int	wh_json_object(const char *, size_t, struct wh_json_member *m,
	    size_t max, int trusted);

/*
 * The raw spans of the elements of a JSON array text, up to max of them.
 * Returns their number, -1 if the text is not a valid array, -2 if it
 * has more than max elements.
 */
int	wh_json_elements(const char *, size_t, const char **vals,
	    size_t *lens, size_t max);
/* The same for text already checked with wh_json_valid. */
int	wh_json_elements_trusted(const char *, size_t, const char **vals,
	    size_t *lens, size_t max);

/*
 * Decode the JSON string value text[0..len) (quotes included, escapes,
 * \uXXXX pairs too) into out as NUL-terminated UTF-8. Returns the length,
 * -1 if the text is not one JSON string, -2 if it does not fit in outlen
 * or holds U+0000 (which no C string can carry).
 */
int	wh_json_string(const char *, size_t, char *out, size_t outlen);
/*
 * The same, but U+0000 becomes DEL (0x7f): for text checked by rules
 * that refuse control characters, so that a "\u0000" is reported by the
 * rule of its field like any other control character.
 */
int	wh_json_text(const char *, size_t, char *out, size_t outlen);

/*
 * The raw span of element `index` (0-based) of a JSON array text already
 * checked with wh_json_valid, without a table of every element: 1 found,
 * 0 when the array is shorter, -1 if the text is not an array.
 */
int	wh_json_element_trusted(const char *, size_t, size_t index,
	    const char **val, size_t *vlen);

/*
 * Compare the JSON string text[0..len) (quotes included), decoded, with
 * the bytes s[0..slen): 0 when equal (with prefix set: when s is a prefix
 * of it), 1 when not, -1 if the text is not a JSON string.
 */
int	wh_json_string_cmp(const char *, size_t, const char *s, size_t slen,
	    int prefix);

/* Append s as a quoted, escaped JSON string. -1 on failure. */
int	wh_json_str(struct wh_buf *, const char *s, size_t len);

#endif

/*
 * buf.c: the growable byte buffer shared by common/, the api and the
 * dispatcher. Storage grows by doubling; every size computation is checked
 * for overflow, and a buffer with a cap (max) refuses to hold more than max
 * content bytes so that one oversized input cannot balloon memory. The NUL
 * added by wh_buf_cstr() is not content and may sit one byte past the cap.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN_CAP	64

void
wh_buf_init(struct wh_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
wh_buf_free(struct wh_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
wh_buf_reset(struct wh_buf *b)
{
	b->len = 0;
}

/* Make room for `need` bytes of storage in total; never checks the cap. */
static int
buf_grow(struct wh_buf *b, size_t need)
{
	size_t	 ncap;
	char	*p;

	if (need <= b->cap)
		return (0);
	ncap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	/* Do not over-allocate far beyond the cap (+1 for the NUL). */
	if (b->max != 0 && ncap > b->max + 1 && need <= b->max + 1)
		ncap = b->max + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return (-1);
	b->data = p;
	b->cap = ncap;
	return (0);
}

int
wh_buf_reserve(struct wh_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len)
		return (-1);
	if (b->max != 0 && b->len + extra > b->max)
		return (-1);
	return (buf_grow(b, b->len + extra));
}

int
wh_buf_append(struct wh_buf *b, const void *p, size_t len)
{
	if (len == 0)
		return (0);
	if (wh_buf_reserve(b, len) == -1)
		return (-1);
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return (0);
}

int
wh_buf_appendstr(struct wh_buf *b, const char *s)
{
	return (wh_buf_append(b, s, strlen(s)));
}

/*
 * Format straight into the spare room; when it does not fit, grow to the
 * size vsnprintf reported and format once more.
 */
int
wh_buf_appendf(struct wh_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room, want;
	int	 n;

	want = BUF_MIN_CAP;
	if (b->max != 0 && b->max - b->len < want)
		want = b->max - b->len;
	if (wh_buf_reserve(b, want) == -1)
		return (-1);
	room = b->cap - b->len;

	va_start(ap, fmt);
	n = vsnprintf(b->data == NULL ? NULL : b->data + b->len, room, fmt,
	    ap);
	va_end(ap);
	if (n < 0)
		return (-1);
	if ((size_t)n < room) {
		if (b->max != 0 && b->len + (size_t)n > b->max)
			return (-1);
		b->len += (size_t)n;
		return (0);
	}

	/* vsnprintf needs room for its NUL too. */
	if (wh_buf_reserve(b, (size_t)n) == -1 ||
	    buf_grow(b, b->len + (size_t)n + 1) == -1)
		return (-1);
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		return (-1);
	b->len += (size_t)n;
	return (0);
}

int
wh_buf_cstr(struct wh_buf *b)
{
	if (b->len == SIZE_MAX || buf_grow(b, b->len + 1) == -1)
		return (-1);
	b->data[b->len] = '\0';
	return (0);
}

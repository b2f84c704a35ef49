/*
 * http_frame.c: the framing decision for one HTTP/1.1 request, as a pure
 * function over the bytes read so far.
 *
 * Kore 4.1 found the end of the header block and then took every byte
 * after it as body: when a read held more than Content-Length (extra
 * bytes, a pipelined request) its unsigned "bytes left" went negative and
 * the connection was stuck buffering forever. Our patch to Kore's
 * http_header_recv() asks this function instead: where the head ends,
 * the body's length (RFC 9112 section 6.3: one Content-Length value and
 * no Transfer-Encoding beside it), how much of the body is already here,
 * and how many bytes are the next request's. It never reads outside
 * buf[0..avail) and the parts always add up: head_len + body_now +
 * leftover == avail (tests/fuzz/fuzz_http.c checks it on any split).
 */
#include <string.h>

#include "http_frame.h"

/* Up to 18 significant digits: any such value fits an int64_t. */
#define FRAME_LENGTH_DIGITS	18

/*
 * Is the field line p[0..len) named name (lowercase), colon right after?
 * Field names are case-insensitive; no locale is involved.
 */
static int
frame_name_is(const uint8_t *p, size_t len, const char *name)
{
	size_t	i, n;
	uint8_t	ch;

	n = strlen(name);
	if (len <= n || p[n] != ':')
		return (0);
	for (i = 0; i < n; i++) {
		ch = p[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch - 'A' + 'a');
		if (ch != (uint8_t)name[i])
			return (0);
	}
	return (1);
}

/*
 * One Content-Length value: optional whitespace, digits, optional
 * whitespace, nothing else (a list such as "5, 5" is refused). Repeated
 * fields must all say the same. 0, or the status to answer.
 */
static int
frame_length(const uint8_t *p, size_t len, struct http_frame *f)
{
	uint64_t	v;
	size_t		i, digits;

	i = 0;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == len || p[i] < '0' || p[i] > '9')
		return (400);
	while (i + 1 < len && p[i] == '0' && p[i + 1] >= '0' && p[i + 1] <= '9')
		i++;
	v = 0;
	for (digits = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
		if (++digits > FRAME_LENGTH_DIGITS)
			return (413);
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i != len)
		return (400);
	if (f->has_length && f->length != v)
		return (400);
	f->has_length = 1;
	f->length = v;
	return (0);
}

/* A field line (not the request line): 0, or the status to answer. */
static int
frame_field(const uint8_t *p, size_t len, struct http_frame *f)
{
	/* obs-fold (RFC 9112 section 5.2): refused, not unfolded. */
	if (p[0] == ' ' || p[0] == '\t')
		return (400);
	if (frame_name_is(p, len, "content-length"))
		return (frame_length(p + 15, len - 15, f));
	if (frame_name_is(p, len, "transfer-encoding"))
		f->has_te = 1;
	return (0);
}

/*
 * buf[0..avail) are the bytes read for a request, cap the most the
 * header buffer holds (avail <= cap), max_lines the most lines the head
 * may have (request line included). HTTP_FRAME_MORE: read on;
 * HTTP_FRAME_DONE: *f is filled; else the HTTP status to answer before
 * closing (400 malformed, 413 length beyond any limit, 431 head too
 * large). The head ends at its first empty line; a CR that does not end
 * a line is refused, so that no reader of these bytes can see a line
 * break this function did not.
 */
int
http_frame_parse(const uint8_t *buf, size_t avail, size_t cap,
    size_t max_lines, struct http_frame *f)
{
	const uint8_t	*nl;
	size_t		 off, end, len, lines, rest;
	int		 rc;

	memset(f, 0, sizeof(*f));
	if (avail > cap)
		avail = cap;
	off = 0;
	lines = 0;
	for (;;) {
		if ((nl = memchr(buf + off, '\n', avail - off)) == NULL)
			return (avail == cap ? 431 : HTTP_FRAME_MORE);
		end = (size_t)(nl - buf);
		len = end - off;
		if (len > 0 && buf[end - 1] == '\r')
			len--;
		if (memchr(buf + off, '\r', len) != NULL)
			return (400);
		if (len == 0)
			break;
		if (++lines > max_lines)
			return (431);
		if (lines > 1 && (rc = frame_field(buf + off, len, f)) != 0)
			return (rc);
		off = end + 1;
	}
	if (lines == 0 || (f->has_te && f->has_length))
		return (400);

	f->head_text = off;
	f->head_len = end + 1;
	rest = avail - f->head_len;
	f->body_now = (uint64_t)rest < f->length ? rest : (size_t)f->length;
	f->body_left = f->length - f->body_now;
	f->leftover = rest - f->body_now;
	return (HTTP_FRAME_DONE);
}

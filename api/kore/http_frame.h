/*
 * http_frame.h: where one HTTP/1.1 request ends among the bytes read from
 * a connection. Compiled into our patched Kore (api/kore/patches) and into
 * the framing fuzz target (tests/fuzz/fuzz_http.c); a pure function with
 * no Kore types, so that the decision can be tested on its own.
 */
#ifndef HTTP_FRAME_H
#define HTTP_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Results of http_frame_parse() other than an HTTP status. */
#define HTTP_FRAME_MORE		0	/* the header block is not complete */
#define HTTP_FRAME_DONE		1	/* *f describes the request */

struct http_frame {
	size_t		head_len;	/* request line, fields, empty line */
	size_t		head_text;	/* head_len without the empty line */
	size_t		body_now;	/* body bytes already in the buffer */
	uint64_t	body_left;	/* body bytes still to be read */
	size_t		leftover;	/* bytes after the body: the next request */
	uint64_t	length;		/* Content-Length (0 when absent) */
	int		has_length;	/* a Content-Length field was sent */
	int		has_te;		/* a Transfer-Encoding field was sent */
};

int	http_frame_parse(const uint8_t *, size_t, size_t, size_t,
	    struct http_frame *);

#endif

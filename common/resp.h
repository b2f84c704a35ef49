/*
 * resp.h: a Redis command in RESP (the protocol's multi-bulk form), made
 * by us straight into a connection's output buffer.
 */
#ifndef WH_RESP_H
#define WH_RESP_H

#include <stddef.h>

#include "buf.h"

/*
 * Appends "*argc\r\n" and "$len\r\n<bytes>\r\n" for each argument to b
 * (lens NULL: every argument is a C string). 0, or -1 (b unchanged in
 * length) when b cannot grow or argc is not positive.
 */
int	wh_resp_command(struct wh_buf *b, int argc, const char **argv,
	    const size_t *lens);

#endif

/*
 * resp.c: formatting Redis commands ourselves.
 *
 * hiredis' redisAsyncCommandArgv formatted each argument with sdscatfmt
 * ("$%u\r\n") into a fresh sds string before copying the result into its
 * output buffer: on the api's publishing path that formatting was about
 * 4 % of a worker's CPU per event. Here the whole command is sized first
 * and written with plain copies straight into the output buffer of the
 * connection (common/redis_wire.c).
 */
#include <string.h>

#include "encode.h"
#include "resp.h"

/* "<mark><n>\r\n" at p; the bytes written (at most 23). */
static size_t
resp_head(char *p, char mark, size_t n)
{
	size_t	len;

	p[0] = mark;
	len = 1 + wh_dec_encode(n, p + 1);
	p[len++] = '\r';
	p[len++] = '\n';
	return (len);
}

int
wh_resp_command(struct wh_buf *b, int argc, const char **argv,
    const size_t *lens)
{
	size_t	need, len, i;
	char	*p;

	if (argc <= 0)
		return (-1);
	/* Each head is at most 1 + 20 digits + CRLF; the CRLF after data. */
	need = 23;
	for (i = 0; i < (size_t)argc; i++) {
		len = lens != NULL ? lens[i] : strlen(argv[i]);
		if (len > SIZE_MAX - need - 25)
			return (-1);
		need += 25 + len;
	}
	if (wh_buf_reserve(b, need) == -1)
		return (-1);
	p = b->data + b->len;
	p += resp_head(p, '*', (size_t)argc);
	for (i = 0; i < (size_t)argc; i++) {
		len = lens != NULL ? lens[i] : strlen(argv[i]);
		p += resp_head(p, '$', len);
		if (len > 0)
			memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	b->len = (size_t)(p - b->data);
	return (0);
}

/*
 * resp.h: a Redis command in RESP (the protocol's multi-bulk form), made
 * by us and handed to hiredis ready to send.
 */
#ifndef WH_RESP_H
#define WH_RESP_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "buf.h"

/*
 * Appends "*argc\r\n" and "$len\r\n<bytes>\r\n" for each argument to b
 * (lens NULL: every argument is a C string). 0, or -1 (b unchanged in
 * length) when b cannot grow or argc is not positive.
 */
int	wh_resp_command(struct wh_buf *b, int argc, const char **argv,
	    const size_t *lens);

/*
 * Queues the command on ac with cb(priv) for its reply, as
 * redisAsyncCommandArgv does; 0, or -1 when hiredis refuses or memory
 * runs out.
 */
int	wh_redis_command(redisAsyncContext *ac, redisCallbackFn *cb,
	    void *priv, int argc, const char **argv, const size_t *lens);

#endif

/*
 * sleep.c: a request that waits for something other than a Redis reply
 * (the outcome of a ~test, which a dispatcher pushes to a list) polls:
 * it sleeps on a one-shot Kore timer and asks Redis again. The worker is
 * never blocked (no BLPOP on the connection all its requests share).
 *
 * The timer counts as one reply awaited (ctx->pending), so module.c sees
 * the handler waiting exactly as for a command in flight, and a request
 * Kore frees meanwhile (the client went away) leaves its ctx to the
 * timer, which frees it: the rule redis.c follows for replies.
 */
#include "api.h"

static void
wake(void *arg, u_int64_t now)
{
	api_ctx_reply_done(arg);
}

/* Wake the request after ms; -1 if no timer could be set. */
int
api_ctx_sleep(struct api_ctx *ctx, u_int64_t ms)
{
	if (kore_timer_add(wake, ms, ctx, KORE_TIMER_ONESHOT) == NULL)
		return (-1);
	ctx->pending++;
	return (0);
}

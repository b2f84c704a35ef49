/*
 * rscript.c: the dispatcher's Lua scripts (common/lua/), called with
 * EVALSHA so that a script's text does not travel with every attempt.
 *
 * Every script is loaded (SCRIPT LOAD) each time the main connection
 * comes up, before any other command is sent on it; commands on one
 * connection run in order, so an EVALSHA always finds its script, also
 * after Redis restarted empty. Should one vanish anyway (SCRIPT FLUSH by
 * hand), the call fails like any Redis error does (a resolution's job is
 * abandoned and its entry claimed again later: at least once, never
 * lost) and the scripts are loaded again at once.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "scripts.h"

#define RSCRIPT_ARGV_MAX	64

struct rscript	rs_attempt = { wh_lua_attempt_record, "attempt_record", "" };
struct rscript	rs_dead = { wh_lua_dead_letter, "dead_letter", "" };
struct rscript	rs_requeue = { wh_lua_dead_requeue, "dead_requeue", "" };
struct rscript	rs_cas = { wh_lua_webhook_cas, "webhook_cas", "" };
struct rscript	rs_refresh = { wh_lua_refresh_owned, "refresh_owned", "" };
struct rscript	rs_entry_dead = { wh_lua_dead_entry, "dead_entry", "" };
struct rscript	rs_ratelimit = { wh_lua_ratelimit, "ratelimit", "" };

static struct rscript *const	all[] = {
	&rs_attempt, &rs_dead, &rs_requeue, &rs_cas, &rs_refresh,
	&rs_entry_dead, &rs_ratelimit
};
#define NSCRIPTS	(sizeof(all) / sizeof(all[0]))

/* The caller's callback, run after our look at the reply. */
struct call {
	const struct rscript	*s;
	wh_reply_fn		*cb;
	void			*priv;
};

int
rscript_init(void)
{
	size_t	i;

	for (i = 0; i < NSCRIPTS; i++) {
		if (wh_script_sha1(all[i]->text, all[i]->sha) == -1)
			return (-1);
	}
	return (0);
}

static void
on_loaded(struct wh_wire *w, void *r, void *priv)
{
	const struct rscript	*s = priv;
	redisReply		*reply = r;

	if (reply != NULL && (reply->type != REDIS_REPLY_STRING ||
	    strcmp(reply->str, s->sha) != 0))
		wh_log(WH_LOG_ERROR, "redis refused a script", "script",
		    s->name, "error", reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "unexpected SHA-1", NULL);
}

/* SCRIPT LOAD each script on c (its on_up hook runs this first). */
void
rscript_load(struct rconn *c)
{
	const char	*argv[3];
	size_t		 i;

	argv[0] = "SCRIPT";
	argv[1] = "LOAD";
	for (i = 0; i < NSCRIPTS; i++) {
		argv[2] = all[i]->text;
		(void)rconn_cmd(c, on_loaded, all[i], 3, argv, NULL);
	}
}

static void
on_reply(struct wh_wire *w, void *r, void *priv)
{
	struct call	*call = priv;
	redisReply	*reply = r;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		wh_log(WH_LOG_WARN, "redis lost our scripts; loading them "
		    "again", NULL);
		rscript_load(&d.main);
	} else if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    call->cb == NULL)
		wh_log(WH_LOG_WARN, "a script failed", "script", call->s->name,
		    "error", reply->str, NULL);
	if (call->cb != NULL)
		call->cb(w, r, call->priv);
	free(call);
}

/*
 * EVALSHA s with nkeys keys, then the arguments (argv holds the keys
 * first; argc counts both; lens may be NULL). cb (may be NULL) gets the
 * reply as from rconn_cmd. 0 when sent, -1 when not (cb is not called).
 * A batch (attempt records) may pass hundreds of arguments.
 */
int
rscript_call(struct rconn *c, const struct rscript *s, wh_reply_fn *cb,
    void *priv, int nkeys, int argc, const char **argv, const size_t *lens)
{
	const char	*stack_av[RSCRIPT_ARGV_MAX + 3], **av = stack_av;
	size_t		 stack_al[RSCRIPT_ARGV_MAX + 3], *al = stack_al;
	size_t		 max = RSCRIPT_ARGV_MAX + 3;
	char		 nk[12];
	struct call	*call = NULL;
	int		 n, rc = -1;

	if (argc > RSCRIPT_ARGV_MAX) {
		max = (size_t)argc + 3;
		av = calloc(max, sizeof(*av));
		al = calloc(max, sizeof(*al));
		if (av == NULL || al == NULL)
			goto out;
	}
	if ((n = wh_script_args("EVALSHA", s->sha, nkeys, argc, argv, lens,
	    av, al, max, nk)) == -1 ||
	    (call = malloc(sizeof(*call))) == NULL)
		goto out;
	call->s = s;
	call->cb = cb;
	call->priv = priv;
	if (rconn_cmd(c, on_reply, call, n, av, al) == 0) {
		call = NULL;	/* on_reply frees it */
		rc = 0;
	}
out:
	free(call);
	if (av != stack_av)
		free(av);
	if (al != stack_al)
		free(al);
	return (rc);
}

/*
 * upkeep.c: the dispatcher's periodic work.
 *
 * - Moving due retries: a Lua script (common/lua/retry_move_due.lua,
 *   by EVALSHA) moves members of a partition's wh:{p}:retry whose time
 *   has come into its wh:{p}:retries, atomically, in batches; every
 *   dispatcher runs it for every partition, and atomicity means each
 *   task moves once.
 * - Claiming: entries left pending by a dispatcher that died are taken
 *   over with XAUTOCLAIM once idle longer than WH_CLAIM_IDLE_MS.
 * - Refreshing: a live dispatcher resets the idle time of the entries it
 *   still owns (common/lua/refresh_owned.lua), so a long queue wait or a
 *   slow transfer is never mistaken for a dead owner; and learns which
 *   another dispatcher took over while it was paused longer than
 *   WH_CLAIM_IDLE_MS, which it then stops working on (job_owned()).
 * - Recovery jobs and the dead letters' age cap (jobs.c, retention.c)
 *   run on timers of their own, started and stopped with these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

#define MOVE_EVERY_MS	100
#define MOVE_BATCH	"500"
#define CLAIM_COUNT	"256"
#define REFRESH_MAX	500

struct claim_state {
	const char	*stream;
	char		 cursor[64];
	int		 busy;
	int64_t		 sent;		/* mono ms of the XAUTOCLAIM */
};

static struct loop_timer	move_timer, claim_timer, refresh_timer;
/* Two a partition: its events, its retries. */
static struct claim_state	*claims;
static int			moving;		/* calls in flight */
static int			more_due;	/* one moved a full batch */

static void
on_moved(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	if (moving > 0)
		moving--;
	if (d.stopping)
		return;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer >= atoi(MOVE_BATCH))
		more_due = 1;
	/* Once every partition's call answered. */
	if (moving == 0) {
		loop_timer_arm(&move_timer, more_due ? 0 : MOVE_EVERY_MS);
		more_due = 0;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "moving due retries failed", "error",
		    reply->str, NULL);
}

static void
move_due(void *arg)
{
	const char	*argv[4];
	char		 now[24];
	unsigned	 p;

	if (d.stopping)
		return;
	endpoint_trim();
	hookcache_tick();
	if (moving || !d.main.conn.ready) {
		loop_timer_arm(&move_timer, MOVE_EVERY_MS);
		return;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	argv[2] = now;
	argv[3] = MOVE_BATCH;
	for (p = 0; p < d.nparts; p++) {
		argv[0] = d.parts[p].k_retry;
		argv[1] = d.parts[p].k_retries;
		if (rconn_script(&d.main, wh_lua_retry_move_due, on_moved,
		    NULL, 2, 4, argv, NULL) == 0)
			moving++;
	}
	if (moving == 0)
		loop_timer_arm(&move_timer, MOVE_EVERY_MS);
}

static int64_t
claim_period(void)
{
	int64_t	p = d.cfg.claim_idle_ms / 4;

	return (p < 250 ? 250 : p);
}

/* XAUTOCLAIM reply: [next cursor, [entries], [deleted ids] (Redis 7)]. */
static void
on_claimed(struct wh_wire *w, void *r, void *priv)
{
	struct claim_state	*cs = priv;
	redisReply		*reply = r;

	cs->busy = 0;
	if (reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		if (strncmp(reply->str, "NOGROUP", 7) == 0)
			group_create();
		else
			wh_log(WH_LOG_ERROR, "XAUTOCLAIM failed", "error",
			    reply->str, NULL);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING)
		return;
	(void)snprintf(cs->cursor, sizeof(cs->cursor), "%s",
	    reply->element[0]->str);
	if (reply->element[1]->type == REDIS_REPLY_ARRAY &&
	    reply->element[1]->elements > 0) {
		wh_log(WH_LOG_INFO, "claimed entries of another dispatcher",
		    "stream", cs->stream, NULL);
		consume_entries(cs->stream, reply->element[1], 1, cs->sent);
	}
}

static void
claim_one(struct claim_state *cs)
{
	const char	*argv[9];
	char		 idle[24];

	if (cs->busy)
		return;
	(void)snprintf(idle, sizeof(idle), "%lld",
	    (long long)d.cfg.claim_idle_ms);
	argv[0] = "XAUTOCLAIM"; argv[1] = cs->stream; argv[2] = WH_GROUP;
	argv[3] = d.consumer; argv[4] = idle; argv[5] = cs->cursor;
	argv[6] = "COUNT"; argv[7] = CLAIM_COUNT;
	cs->sent = wh_mono_ms();
	if (rconn_cmd(&d.main, on_claimed, cs, 8, argv, NULL) == 0)
		cs->busy = 1;
}

static void
claim(void *arg)
{
	size_t	i;

	if (d.stopping)
		return;
	for (i = 0; claims != NULL && i < 2 * (size_t)d.nparts; i++) {
		if (d.main.conn.ready && d.njobs < (size_t)d.cfg.concurrency)
			claim_one(&claims[i]);
	}
	loop_timer_arm(&claim_timer, claim_period());
}

/*
 * Is job still ours? Confirmed by a refresh (or the read) less than two
 * thirds of WH_CLAIM_IDLE_MS ago, it is: nobody may claim it before it
 * has been idle that long. Older than that (the process was paused, or
 * Redis did not answer), it may have been taken over: nothing of it is
 * sent or resolved until the next refresh says (deliver.c).
 */
int
job_owned(const struct job *job)
{
	if (job->lost)
		return (OWN_LOST);
	if (wh_mono_ms() - job->held_since >= d.cfg.claim_idle_ms * 2 / 3) {
		loop_timer_arm(&refresh_timer, 0);
		return (OWN_UNSURE);
	}
	return (OWN_YES);
}

struct refresh_call {
	const char	*stream;
	uint64_t	 token;
	int64_t		 sent;		/* mono ms */
};

static uint64_t	refresh_tokens;

static int
id_listed(const char *id, const redisReply *ids)
{
	size_t	i;

	for (i = 0; i < ids->elements; i++) {
		if (ids->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(ids->element[i]->str, id) == 0)
			return (1);
	}
	return (0);
}

/*
 * The refresh's answer: the ids we lost. Those jobs are given up at once
 * (deliver.c drops what they still had to send or to resolve; the entry
 * is not acked: its new owner resolves it); the others are ours as of
 * the time the refresh was sent.
 */
static void
on_refreshed(struct wh_wire *w, void *r, void *priv)
{
	struct refresh_call	*call = priv;
	redisReply		*reply = r;
	struct job		*job;
	int			 ok;

	ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "refreshing entries failed", "error",
		    reply->str, NULL);
	TAILQ_FOREACH(job, &d.jobs, all) {
		if (job->refreshing != call->token)
			continue;
		job->refreshing = 0;
		if (!ok)
			continue;
		if (id_listed(job->entry_id, reply)) {
			job->lost = 1;
			wh_log(WH_LOG_WARN, "entry taken over by another "
			    "dispatcher; left to it", "entry_id",
			    job->entry_id, "event_sid",
			    job->task.event.event_sid, NULL);
		} else
			job->held_since = call->sent;
	}
	free(call);
	deliver_recheck();
}

/* One refresh_owned.lua call for up to REFRESH_MAX of stream's jobs. */
static int
refresh_batch(const char *stream, int64_t older_than)
{
	const char		*argv[REFRESH_MAX + 3];
	struct refresh_call	*call;
	struct job		*job;
	int			 argc = 3;

	if ((call = calloc(1, sizeof(*call))) == NULL)
		return (0);
	call->stream = stream;
	call->token = ++refresh_tokens;
	call->sent = wh_mono_ms();
	argv[0] = stream; argv[1] = WH_GROUP; argv[2] = d.consumer;
	TAILQ_FOREACH(job, &d.jobs, all) {
		if (job->stream != stream || job->lost || job->refreshing ||
		    job->held_since > older_than)
			continue;
		argv[argc++] = job->entry_id;
		job->refreshing = call->token;
		if (argc == REFRESH_MAX + 3)
			break;
	}
	if (argc == 3) {
		free(call);
		return (0);
	}
	if (rconn_script(&d.main, wh_lua_refresh_owned, on_refreshed, call, 1,
	    argc, argv, NULL) == -1) {
		TAILQ_FOREACH(job, &d.jobs, all) {
			if (job->refreshing == call->token)
				job->refreshing = 0;
		}
		free(call);
		return (0);
	}
	return (argc == REFRESH_MAX + 3);
}

static void
refresh_stream(const char *stream, int64_t older_than)
{
	while (refresh_batch(stream, older_than))
		;
}

static void
refresh(void *arg)
{
	int64_t		third = d.cfg.claim_idle_ms / 3;
	unsigned	p;

	for (p = 0; p < d.nparts && d.main.conn.ready; p++) {
		refresh_stream(d.parts[p].k_events, wh_mono_ms() - third);
		refresh_stream(d.parts[p].k_retries, wh_mono_ms() - third);
	}
	loop_timer_arm(&refresh_timer, third / 2 > 100 ? third / 2 : 100);
}

void
upkeep_start(void)
{
	unsigned	p;

	if (claims == NULL && (claims = calloc(2 * (size_t)d.nparts,
	    sizeof(*claims))) == NULL)
		wh_log(WH_LOG_ERROR, "out of memory; nothing will be claimed",
		    NULL);
	for (p = 0; claims != NULL && p < d.nparts; p++) {
		claims[2 * p].stream = d.parts[p].k_events;
		claims[2 * p + 1].stream = d.parts[p].k_retries;
		(void)snprintf(claims[2 * p].cursor,
		    sizeof(claims[2 * p].cursor), "0-0");
		(void)snprintf(claims[2 * p + 1].cursor,
		    sizeof(claims[2 * p + 1].cursor), "0-0");
	}
	loop_timer_init(&move_timer, move_due, NULL);
	loop_timer_init(&claim_timer, claim, NULL);
	loop_timer_init(&refresh_timer, refresh, NULL);
	loop_timer_arm(&move_timer, 0);
	loop_timer_arm(&claim_timer, claim_period());
	loop_timer_arm(&refresh_timer, d.cfg.claim_idle_ms / 6);
	jobs_start();
	retention_start();
}

/* Stop moving and claiming; keep refreshing what we still hold. */
void
upkeep_stop(void)
{
	loop_timer_disarm(&move_timer);
	loop_timer_disarm(&claim_timer);
	jobs_stop();
	retention_stop();
}

/*
 * upkeep.c: the dispatcher's periodic work.
 *
 * - Moving due retries: a Lua script moves members of wh:{0}:retry whose
 *   time has come into wh:{0}:retries, atomically, in batches; every
 *   dispatcher runs it, and atomicity means each task moves once.
 * - Claiming: entries left pending by a dispatcher that died are taken
 *   over with XAUTOCLAIM once idle longer than WH_CLAIM_IDLE_MS.
 * - Refreshing: a live dispatcher resets the idle time of the entries it
 *   still works on (XCLAIM ... JUSTID to itself), so a long queue wait or
 *   a slow transfer is never mistaken for a dead owner.
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
};

static struct loop_timer	move_timer, claim_timer, refresh_timer;
static struct claim_state	claim_events, claim_retries;
static int			moving;

static void
on_moved(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	moving = 0;
	if (d.stopping)
		return;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer >= atoi(MOVE_BATCH))
		loop_timer_arm(&move_timer, 0);	/* more are due */
	else
		loop_timer_arm(&move_timer, MOVE_EVERY_MS);
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "moving due retries failed", "error",
		    reply->str, NULL);
}

static void
move_due(void *arg)
{
	const char	*argv[7];
	char		 now[24];

	if (d.stopping)
		return;
	endpoint_trim();
	hookcache_tick();
	if (moving || !d.main.conn.ready) {
		loop_timer_arm(&move_timer, MOVE_EVERY_MS);
		return;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	argv[0] = "EVAL"; argv[1] = wh_lua_move_due; argv[2] = "2";
	argv[3] = d.k_retry; argv[4] = d.k_retries; argv[5] = now;
	argv[6] = MOVE_BATCH;
	if (rconn_cmd(&d.main, on_moved, NULL, 7, argv, NULL) == 0)
		moving = 1;
	else
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
		consume_entries(cs->stream, reply->element[1], 1);
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
	if (rconn_cmd(&d.main, on_claimed, cs, 8, argv, NULL) == 0)
		cs->busy = 1;
}

static void
claim(void *arg)
{
	if (d.stopping)
		return;
	if (d.main.conn.ready && d.njobs < (size_t)d.cfg.concurrency) {
		claim_one(&claim_events);
		claim_one(&claim_retries);
	}
	loop_timer_arm(&claim_timer, claim_period());
}

/* XCLAIM <our ids> to ourselves with JUSTID: resets their idle time. */
static void
refresh_stream(const char *stream, int64_t older_than)
{
	const char	*argv[REFRESH_MAX + 6];
	struct job	*job;
	int		 argc = 5;

	argv[0] = "XCLAIM"; argv[1] = stream; argv[2] = WH_GROUP;
	argv[3] = d.consumer; argv[4] = "0";
	TAILQ_FOREACH(job, &d.jobs, all) {
		if (job->stream != stream || job->held_since > older_than)
			continue;
		argv[argc++] = job->entry_id;
		job->held_since = wh_mono_ms();
		if (argc == REFRESH_MAX + 5)
			break;
	}
	if (argc == 5)
		return;
	argv[argc++] = "JUSTID";
	(void)rconn_cmd(&d.main, NULL, NULL, argc, argv, NULL);
}

static void
refresh(void *arg)
{
	int64_t	third = d.cfg.claim_idle_ms / 3;

	if (d.main.conn.ready) {
		refresh_stream(d.k_events, wh_mono_ms() - third);
		refresh_stream(d.k_retries, wh_mono_ms() - third);
	}
	loop_timer_arm(&refresh_timer, third / 2 > 100 ? third / 2 : 100);
}

void
upkeep_start(void)
{
	claim_events.stream = d.k_events;
	claim_retries.stream = d.k_retries;
	(void)snprintf(claim_events.cursor, sizeof(claim_events.cursor), "0-0");
	(void)snprintf(claim_retries.cursor, sizeof(claim_retries.cursor),
	    "0-0");
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

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
 *   WH_CLAIM_IDLE_MS, which it then stops working on (entry_owned()).
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
#define MOVE_INFLIGHT	4	/* calls in flight while more are due */
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
/* The retry mover, one a partition. */
struct mover {
	unsigned	 part;
	int		 moving;	/* move calls in flight */
	int		 more_due;	/* the last one moved a full batch */
};
static struct mover		*movers;

/*
 * A move call answered. A full batch means more are due: the next calls
 * go at once (move_due), several in flight, so that a storm is moved at
 * the script's own speed rather than one call per loop round trip (one
 * call of 500 cost Redis ~3 ms of a ~15 ms round trip through a busy
 * loop in the storm bench). Each call is atomic: in flight together they
 * move the next due tasks one after the other, each task once.
 */
static void
on_moved(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	struct mover	*m = priv;
	unsigned	 p;
	int		 moving = 0;

	m->moving--;
	if (d.stopping)
		return;
	m->more_due = reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer >= atoi(MOVE_BATCH);
	for (p = 0; p < d.nparts; p++)
		moving += movers[p].moving;
	if (m->more_due)
		loop_timer_arm(&move_timer, 0);
	else if (moving == 0)
		loop_timer_arm(&move_timer, MOVE_EVERY_MS);
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "moving due retries failed", "error",
		    reply->str, NULL);
}

/* One call of retry_move_due.lua for m's partition; -1 if not sent. */
static int
move_send(struct mover *m)
{
	const char	*argv[4];
	char		 now[24];

	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	argv[2] = now;
	argv[3] = MOVE_BATCH;
	argv[0] = d.parts[m->part].k_retry;
	argv[1] = d.parts[m->part].k_retries;
	if (rconn_script(&d.main, wh_lua_retry_move_due, on_moved, m, 2, 4,
	    argv, NULL) == -1)
		return (-1);
	m->moving++;
	return (0);
}

/*
 * The mover's tick: for each partition one call, or up to MOVE_INFLIGHT
 * while more are due there.
 */
static void
move_due(void *arg)
{
	unsigned	p;
	int		want, moving = 0;

	if (d.stopping)
		return;
	endpoint_trim();
	hookcache_tick();
	if (!d.main.conn.ready || movers == NULL) {
		loop_timer_arm(&move_timer, MOVE_EVERY_MS);
		return;
	}
	for (p = 0; p < d.nparts; p++) {
		want = movers[p].more_due ? MOVE_INFLIGHT : 1;
		while (movers[p].moving < want && move_send(&movers[p]) == 0)
			;
		moving += movers[p].moving;
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
		if (d.main.conn.ready && d.nentries < (size_t)d.cfg.concurrency)
			claim_one(&claims[i]);
	}
	loop_timer_arm(&claim_timer, claim_period());
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
 * The refresh's answer: the ids we lost. Those entries are given up at once
 * (deliver.c drops what they still had to send or to resolve; the entry
 * is not acked: its new owner resolves it); the others are ours as of
 * the time the refresh was sent.
 */
static void
on_refreshed(struct wh_wire *w, void *r, void *priv)
{
	struct refresh_call	*call = priv;
	redisReply		*reply = r;
	struct entry		*en;
	int			 ok;

	ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "refreshing entries failed", "error",
		    reply->str, NULL);
	TAILQ_FOREACH(en, &d.entries, all) {
		if (en->refreshing != call->token)
			continue;
		en->refreshing = 0;
		if (!ok)
			continue;
		if (id_listed(en->entry_id, reply)) {
			en->lost = 1;
			wh_log(WH_LOG_WARN, "entry taken over by another "
			    "dispatcher; left to it", "entry_id",
			    en->entry_id, "event_sid",
			    en->task.event.event_sid, NULL);
		} else
			en->held_since = call->sent;
	}
	free(call);
	deliver_recheck();
}

/* One refresh_owned.lua call for up to REFRESH_MAX of stream's entries. */
static int
refresh_batch(const char *stream, int64_t older_than)
{
	const char		*argv[REFRESH_MAX + 3];
	struct refresh_call	*call;
	struct entry		*en;
	int			 argc = 3;

	if ((call = calloc(1, sizeof(*call))) == NULL)
		return (0);
	call->stream = stream;
	call->token = ++refresh_tokens;
	call->sent = wh_mono_ms();
	argv[0] = stream; argv[1] = WH_GROUP; argv[2] = d.consumer;
	TAILQ_FOREACH(en, &d.entries, all) {
		if (en->stream != stream || en->lost || en->refreshing ||
		    en->held_since > older_than)
			continue;
		argv[argc++] = en->entry_id;
		en->refreshing = call->token;
		if (argc == REFRESH_MAX + 3)
			break;
	}
	if (argc == 3) {
		free(call);
		return (0);
	}
	if (rconn_script(&d.main, wh_lua_refresh_owned, on_refreshed, call, 1,
	    argc, argv, NULL) == -1) {
		TAILQ_FOREACH(en, &d.entries, all) {
			if (en->refreshing == call->token)
				en->refreshing = 0;
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

/* An entry's ownership is unsure (entry.c): refresh now. */
static void
refresh_now(void)
{
	loop_timer_arm(&refresh_timer, 0);
}

void
upkeep_start(void)
{
	unsigned	p;

	if (claims == NULL && (claims = calloc(2 * (size_t)d.nparts,
	    sizeof(*claims))) == NULL)
		wh_log(WH_LOG_ERROR, "out of memory; nothing will be claimed",
		    NULL);
	if (movers == NULL && (movers = calloc(d.nparts,
	    sizeof(*movers))) == NULL)
		wh_log(WH_LOG_ERROR, "out of memory; due retries will not be "
		    "moved", NULL);
	for (p = 0; movers != NULL && p < d.nparts; p++)
		movers[p].part = p;
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
	entry_ownership_init(d.cfg.claim_idle_ms, refresh_now);
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

/*
 * order.c: ordering keys (docs/ordering.md). A delivery of an event that
 * carries an ordering_key K (and its stream entry id, which orders it) to
 * a webhook W asks common/lua/order_start.lua before it is queued: only
 * the head of (W, K), under a lease of ours, is delivered; an event
 * behind it is parked in Redis and handed back through the retry set
 * when the head is done. After the attempt, once its resolution (success,
 * dead letter, retry or deferral) is confirmed by Redis, the delivery
 * calls common/lua/order_finish.lua ("done", or "yield" when a retry of
 * the head is scheduled) before its job may ack its entry: an entry is
 * never acked between start and finish, which is what lets another
 * dispatcher's order_start see an earlier event of K as still pending.
 *
 * The lease is WH_CLAIM_IDLE_MS: a dispatcher that dies holding one
 * leaves its entry pending, claimed by another after that long, which
 * then finds the lease lapsed and delivers the head again. Each delivery
 * has a lease token of its own, so two copies of one event in this
 * dispatcher never both pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

/* An earlier event of K is still in a reader's hands: ask again then. */
#define WAIT_MS		"200"
/* How long (W, K) remembers the last event finished, once idle. */
#define KEEP_MIN_MS	600000

static unsigned long long	lease_seq;

/* Is this job's delivery held in publish order? */
int
order_wanted(const struct job *job)
{
	const struct wh_event	*ev = &job->task.event;

	return (ev->ordering_key != NULL && ev->entry_id != NULL &&
	    job->reply_key == NULL);
}

/* The hold's two keys for dl's webhook and key; -1 if too long. */
static int
order_keys(const struct delivery *dl, char *state, char *parked)
{
	const char	*k = dl->job->task.event.ordering_key;

	if (wh_key_order(state, WH_KEY_MAX, d.cfg.prefix, dl->hook.sid, k,
	    strlen(k)) == -1 || wh_key_order_parked(parked, WH_KEY_MAX,
	    d.cfg.prefix, dl->hook.sid, k, strlen(k)) == -1)
		return (-1);
	return (0);
}

static void
settle(struct delivery *dl, int ok)
{
	struct job	*job = dl->job;

	delivery_free(dl);
	job_delivery_done(job, ok);
}

/* order_start.lua answered: start, park, wait or done. */
static void
on_started(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;
	redisReply	*reply = r;

	if (reply == NULL || (reply->type != REDIS_REPLY_STATUS &&
	    reply->type != REDIS_REPLY_STRING)) {
		wh_log(WH_LOG_WARN, "ordering key not checked; the entry "
		    "stays pending", "event_sid",
		    dl->job->task.event.event_sid, "webhook_sid",
		    dl->hook.sid, "error", reply != NULL &&
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "redis down", NULL);
		job_failed(dl->job, "ordering key not checked");
		settle(dl, 0);
		return;
	}
	if (strcmp(reply->str, "start") == 0) {
		endpoint_enqueue(dl);
		return;
	}
	/* Parked, waiting or a duplicate: the scripts keep its task. */
	dl->order_token[0] = '\0';
	settle(dl, 1);
}

/*
 * Ask whether dl, a delivery of a keyed event, may go now; it is queued
 * only on "start". The task handed to the script is the one a retry of
 * this attempt would be.
 */
void
order_begin(struct delivery *dl)
{
	const struct wh_event	*ev = &dl->job->task.event;
	struct wh_buf		 b;
	const char		*argv[12];
	size_t			 lens[12];
	char			 state[WH_KEY_MAX], parked[WH_KEY_MAX];
	char			 lease[24];
	int			 i;

	(void)snprintf(dl->order_token, sizeof(dl->order_token), "%s:%llu",
	    d.consumer, ++lease_seq);
	(void)snprintf(lease, sizeof(lease), "%lld",
	    (long long)d.cfg.claim_idle_ms);
	wh_buf_init(&b, 0);
	if (order_keys(dl, state, parked) == -1 ||
	    resolve_task_encode(dl, dl->attempt, wh_now_ms(), &b) == -1) {
		wh_buf_free(&b);
		wh_log(WH_LOG_ERROR, "ordered task not built; entry left "
		    "pending", "event_sid", ev->event_sid, NULL);
		dl->order_token[0] = '\0';
		job_failed(dl->job, "ordered task not built");
		settle(dl, 0);
		return;
	}
	argv[0] = state; argv[1] = parked; argv[2] = d.k_events;
	argv[3] = d.k_retry; argv[4] = ev->entry_id; argv[5] = b.data;
	argv[6] = dl->order_token; argv[7] = lease;
	argv[8] = ev->company_sid; argv[9] = ev->ordering_key;
	argv[10] = WH_GROUP; argv[11] = WAIT_MS;
	for (i = 0; i < 12; i++)
		lens[i] = argv[i] == b.data ? b.len : strlen(argv[i]);
	if (rconn_script(&d.main, wh_lua_order_start, on_started, dl, 4, 12,
	    argv, lens) == -1)
		on_started(NULL, NULL, dl);
	wh_buf_free(&b);
}

static void
on_finished(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;
	redisReply	*reply = r;
	int		 ok;

	ok = reply != NULL && reply->type != REDIS_REPLY_ERROR;
	if (!ok) {
		wh_log(WH_LOG_WARN, "ordering key not handed on; the entry "
		    "stays pending", "event_sid",
		    dl->job->task.event.event_sid, "webhook_sid",
		    dl->hook.sid, NULL);
		job_failed(dl->job, "ordering key not handed on");
	} else if ((reply->type == REDIS_REPLY_STATUS ||
	    reply->type == REDIS_REPLY_STRING) &&
	    strcmp(reply->str, "stale") == 0)
		wh_log(WH_LOG_WARN, "ordering lease lost before finishing "
		    "(a stall longer than WH_CLAIM_IDLE_MS?)", "event_sid",
		    dl->job->task.event.event_sid, "webhook_sid",
		    dl->hook.sid, NULL);
	settle(dl, ok);
}

/*
 * dl's resolution is confirmed: hand (W, K) on. 1 when a call is made
 * (its answer settles dl), 0 for a delivery that holds no lease.
 */
int
order_finish(struct delivery *dl)
{
	const char	*argv[7];
	char		 state[WH_KEY_MAX], parked[WH_KEY_MAX], keep[24];
	int64_t		 ms;

	if (dl->order_token[0] == '\0')
		return (0);
	if (order_keys(dl, state, parked) == -1)
		return (0);
	ms = d.cfg.claim_idle_ms * 4;
	(void)snprintf(keep, sizeof(keep), "%lld",
	    (long long)(ms > KEEP_MIN_MS ? ms : KEEP_MIN_MS));
	argv[0] = state; argv[1] = parked; argv[2] = d.k_retry;
	argv[3] = dl->job->task.event.entry_id; argv[4] = dl->order_token;
	argv[5] = dl->order_yield ? "yield" : "done"; argv[6] = keep;
	if (rconn_script(&d.main, wh_lua_order_finish, on_finished, dl, 3, 7,
	    argv, NULL) == -1)
		on_finished(NULL, NULL, dl);
	return (1);
}

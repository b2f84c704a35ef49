/*
 * order.c: ordering keys (docs/ordering.md). A delivery of an event that
 * carries an ordering_key K (and its stream entry id, which orders it) to
 * a webhook W asks common/lua/order_start.lua before it is queued (one
 * call for the keyed deliveries made in one round of the loop): only
 * the head of (W, K), under a lease of ours, is delivered; an event
 * behind it is parked in Redis and, when the head is done, handed on by
 * order_finish to the dispatcher that finished it, which delivers it at
 * once under a lease of its own (order_handed). After the attempt, once its resolution (success,
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
#include "loop.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

/* An earlier event of K is still in a reader's hands: ask again then. */
#define WAIT_MS		"200"
/* How long (W, K) remembers the last event finished, once idle. */
#define KEEP_MIN_MS	600000

/* Deliveries asked about in one order_start call, at most. */
#define ORDER_BATCH	64

static unsigned long long	lease_seq;
static order_go_fn		*go_cb;
static order_settled_fn		*settled_cb;
static order_handed_fn		*handed_cb;
/* Deliveries waiting for the next order_start call, oldest first. */
static struct delivery		*ask_head, **ask_tail = &ask_head;
static size_t			 nask;
static struct loop_timer	 ask_timer;

static void	ask_flush(void *);

/* go: queue a delivery that may start; settled: one that will not. */
void
order_init(order_go_fn *go, order_settled_fn *settled)
{
	go_cb = go;
	settled_cb = settled;
	loop_timer_init(&ask_timer, ask_flush, NULL);
}

/* A lease token of ours, new each time: this consumer and a sequence. */
static void
lease_token(char *out, size_t len)
{
	(void)snprintf(out, len, "%s:%llu", d.consumer, ++lease_seq);
}

/* handed: the entry's owner (consume.c) takes a task order_finish handed. */
void
order_on_handed(order_handed_fn *handed)
{
	handed_cb = handed;
}

/*
 * dl delivers an event order_finish handed to us (it holds the lease
 * token its entry was started under, from delivery_make): it goes at
 * once, unasked. 0 when dl is not such a delivery.
 */
int
order_handed(struct delivery *dl)
{
	if (dl->entry->handed == NULL)
		return (0);
	go_cb(dl);
	return (1);
}

/* Are this entry's deliveries held in publish order? */
int
order_wanted(const struct entry *en)
{
	const struct wh_event	*ev = &en->task.event;

	return (ev->ordering_key != NULL && ev->entry_id != NULL &&
	    en->reply_key == NULL);
}

/*
 * The hold's two keys for dl's webhook and key, in the slot of its
 * company's partition (that of the queue keys order_start and
 * order_finish touch with them); -1 if too long.
 */
static int
order_keys(const struct delivery *dl, char *state, char *parked)
{
	const char	*k = dl->entry->task.event.ordering_key;
	unsigned	 p = dl->entry->home;

	if (wh_key_order(state, WH_KEY_MAX, d.cfg.prefix, p, dl->hook->sid,
	    k, strlen(k)) == -1 || wh_key_order_parked(parked, WH_KEY_MAX,
	    d.cfg.prefix, p, dl->hook->sid, k, strlen(k)) == -1)
		return (-1);
	return (0);
}

/* order_start.lua answered dl: start, park, wait or done (NULL: failed). */
static void
started(struct delivery *dl, const redisReply *reply)
{
	if (reply == NULL || (reply->type != REDIS_REPLY_STATUS &&
	    reply->type != REDIS_REPLY_STRING)) {
		wh_log(WH_LOG_WARN, "ordering key not checked; the entry "
		    "stays pending", "event_sid",
		    dl->entry->task.event.event_sid, "webhook_sid",
		    dl->hook->sid, "error", reply != NULL &&
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "redis down", NULL);
		dl->order_token[0] = '\0';
		entry_failed(dl->entry, "ordering key not checked");
		settled_cb(dl, 0);
		return;
	}
	if (strcmp(reply->str, "start") == 0) {
		go_cb(dl);
		return;
	}
	/* Parked, waiting or a duplicate: the scripts keep its task. */
	dl->order_token[0] = '\0';
	settled_cb(dl, 1);
}

/* One order_start call's deliveries, in the order asked. */
struct ask_batch {
	size_t		 n;
	struct delivery	*dl[ORDER_BATCH];
};

/* The answers of one order_start call, one per delivery asked. */
static void
on_started(struct wh_wire *w, void *r, void *priv)
{
	struct ask_batch	*b = priv;
	redisReply		*reply = r;
	size_t			 i;
	int			 whole;

	whole = reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == b->n;
	for (i = 0; i < b->n; i++) {
		free(b->dl[i]->order_task);
		b->dl[i]->order_task = NULL;
		started(b->dl[i], whole ? reply->element[i] :
		    (reply != NULL && reply->type == REDIS_REPLY_ERROR ?
		    reply : NULL));
	}
	free(b);
}

/*
 * Ask order_start about the deliveries waiting (at most ORDER_BATCH of
 * them, oldest first) in one call: a read batch's keyed deliveries cost
 * Redis one script run, not one each.
 */
static void
ask_flush(void *arg)
{
	static const char	*argv[6 + 7 * ORDER_BATCH];
	static size_t		 lens[6 + 7 * ORDER_BATCH];
	static char		 keys[2 * ORDER_BATCH][WH_KEY_MAX];
	unsigned		 p;
	struct ask_batch	*b;
	struct delivery		*dl;
	const struct wh_event	*ev;
	char			 lease[24];
	size_t			 i, nk, na;

	(void)arg;
	if (ask_head == NULL)
		return;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		while ((dl = ask_head) != NULL) {
			ask_head = dl->order_next;
			free(dl->order_task);
			dl->order_task = NULL;
			started(dl, NULL);
		}
		ask_tail = &ask_head;
		nask = 0;
		return;
	}
	/* One call touches one partition's keys: the first waiting
	 * delivery's, with every other of that partition, in order. */
	p = ask_head->entry->home;
	ask_tail = &ask_head;
	while ((dl = *ask_tail) != NULL) {
		if (b->n < ORDER_BATCH &&
		    dl->entry->home == p) {
			*ask_tail = dl->order_next;
			nask--;
			b->dl[b->n++] = dl;
		} else
			ask_tail = &dl->order_next;
	}
	if (ask_head != NULL)
		loop_timer_arm(&ask_timer, 0);
	(void)snprintf(lease, sizeof(lease), "%lld",
	    (long long)d.cfg.claim_idle_ms);
	nk = 2 + 2 * b->n;
	argv[0] = d.parts[p].k_events;
	argv[1] = d.parts[p].k_retry;
	na = nk;
	argv[na++] = lease;
	argv[na++] = WH_GROUP;
	argv[na++] = WAIT_MS;
	argv[na++] = "";		/* now: Redis TIME */
	for (i = 0; i < b->n; i++) {
		dl = b->dl[i];
		ev = &dl->entry->task.event;
		(void)order_keys(dl, keys[2 * i], keys[2 * i + 1]);
		argv[2 + 2 * i] = keys[2 * i];
		argv[3 + 2 * i] = keys[2 * i + 1];
		argv[na++] = ev->entry_id;
		argv[na++] = dl->order_task;
		argv[na++] = dl->order_token;
		argv[na++] = ev->company_sid;
		argv[na++] = ev->ordering_key;
	}
	for (i = 0; i < na; i++)
		lens[i] = strlen(argv[i]);
	for (i = 0; i < b->n; i++)
		lens[nk + 4 + 5 * i + 1] = b->dl[i]->order_task_len;
	if (rconn_script(&d.main, wh_lua_order_start, on_started, b, (int)nk,
	    (int)na, argv, lens) == -1)
		on_started(NULL, NULL, b);
}

/*
 * Ask whether dl, a delivery of a keyed event, may go now; it is queued
 * only on "start". task is what a retry of this attempt would be: the
 * script keeps it when it parks dl or asks again later. The question
 * waits for the end of this loop round, to go with the others asked in
 * it (in the order asked: the stream's, within a read batch).
 */
void
order_begin(struct delivery *dl, const char *task, size_t task_len)
{
	char	 state[WH_KEY_MAX], parked[WH_KEY_MAX];

	lease_token(dl->order_token, sizeof(dl->order_token));
	if (order_keys(dl, state, parked) == -1 ||
	    (dl->order_task = malloc(task_len + 1)) == NULL) {
		started(dl, NULL);
		return;
	}
	memcpy(dl->order_task, task, task_len);
	dl->order_task[task_len] = '\0';
	dl->order_task_len = task_len;
	dl->order_next = NULL;
	*ask_tail = dl;
	ask_tail = &dl->order_next;
	if (nask++ == 0)
		loop_timer_arm(&ask_timer, 0);
	if (nask >= ORDER_BATCH)
		ask_flush(NULL);
}

static void
on_finished(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;
	redisReply	*reply = r;
	int		 ok;

	ok = reply != NULL && reply->type != REDIS_REPLY_ERROR;
	/* {"next", id, task, token[, counter]}: the next event is ours to
	 * deliver (the change counter on one Redis: order_finish). */
	if (ok && reply->type == REDIS_REPLY_ARRAY && (reply->elements == 4 ||
	    reply->elements == 5) &&
	    reply->element[3]->type == REDIS_REPLY_STRING && handed_cb != NULL)
		handed_cb(reply->element[2], reply->element[3]->str,
		    reply->elements == 5 ? reply->element[4] : NULL);
	if (!ok) {
		wh_log(WH_LOG_WARN, "ordering key not handed on; the entry "
		    "stays pending", "event_sid",
		    dl->entry->task.event.event_sid, "webhook_sid",
		    dl->hook->sid, NULL);
		entry_failed(dl->entry, "ordering key not handed on");
	} else if ((reply->type == REDIS_REPLY_STATUS ||
	    reply->type == REDIS_REPLY_STRING) &&
	    strcmp(reply->str, "stale") == 0)
		wh_log(WH_LOG_WARN, "ordering lease lost before finishing "
		    "(a stall longer than WH_CLAIM_IDLE_MS?)", "event_sid",
		    dl->entry->task.event.event_sid, "webhook_sid",
		    dl->hook->sid, NULL);
	settled_cb(dl, ok);
}

/*
 * dl's resolution is confirmed: hand (W, K) on. 1 when a call is made
 * (its answer settles dl), 0 for a delivery that holds no lease.
 */
int
order_finish(struct delivery *dl)
{
	const struct wh_event	*ev = &dl->entry->task.event;
	const struct partition	*p = &d.parts[dl->entry->home];
	const char		*argv[12];
	char			 state[WH_KEY_MAX], parked[WH_KEY_MAX];
	char			 keep[24], lease[24], next[160];
	char			 counter[WH_KEY_MAX];
	int64_t			 ms;
	int			 nk;

	if (dl->order_token[0] == '\0')
		return (0);
	if (order_keys(dl, state, parked) == -1)
		return (0);
	ms = d.cfg.claim_idle_ms * 4;
	(void)snprintf(keep, sizeof(keep), "%lld",
	    (long long)(ms > KEEP_MIN_MS ? ms : KEEP_MIN_MS));
	(void)snprintf(lease, sizeof(lease), "%lld",
	    (long long)d.cfg.claim_idle_ms);
	/* The next event comes back to us under this token; draining, it
	 * goes through the retry set instead, for whoever is left. */
	next[0] = '\0';
	if (!d.stopping && handed_cb != NULL)
		lease_token(next, sizeof(next));
	/* On one Redis it reads the change counter for the next event too;
	 * in a cluster that key is in another slot. */
	nk = 4;
	if (d.cfg.redis.ncluster == 0 && wh_key_webhooks_version(counter,
	    sizeof(counter), d.cfg.prefix) != -1)
		nk = 5;
	argv[0] = state; argv[1] = parked; argv[2] = p->k_retry;
	argv[3] = p->k_events;
	argv[4] = counter;
	argv[nk] = ev->entry_id; argv[nk + 1] = dl->order_token;
	argv[nk + 2] = dl->order_yield ? "yield" : "done";
	argv[nk + 3] = keep; argv[nk + 4] = lease; argv[nk + 5] = next;
	argv[nk + 6] = WH_GROUP;
	if (rconn_script(&d.main, wh_lua_order_finish, on_finished, dl, nk,
	    nk + 7, argv, NULL) == -1)
		on_finished(NULL, NULL, dl);
	return (1);
}

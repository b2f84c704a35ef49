/*
 * consume.c: a stream entry's life: read from one of the work streams
 * (the events and retries of every partition), fanned out to the
 * company's webhooks (hookcache.c, one delivery each: delivery.c),
 * resolved once every delivery is, acked. The layers below report back
 * through the callbacks consume_init() gives them.
 *
 * Reading uses a connection of its own (XREADGROUP ... BLOCK would stall
 * every other reply on a shared one) and asks only for as many entries as
 * there is room for, so slow receivers slow the reading instead of
 * filling memory. On one Redis a single XREADGROUP reads every stream,
 * and the webhooks' change counter its batch waits for (hookcache.c) is
 * read on that connection too, right behind it: no round trip of its
 * own, and no wait behind the main connection's attempt records and acks
 * while the endpoints' queues run dry. In a Redis Cluster a command stays
 * in one slot, so each partition is read by a reader of its own (struct
 * reader: its own connection, its own read in flight, sent again as soon
 * as it is answered), and the counter, in another slot, is read on the
 * main connection after a reply. On one shared link the partitions'
 * blocking reads would wait for one another: a node serves one
 * connection's commands in turn, the cluster layer hands replies back in
 * order, and Redis ends an idle BLOCK only at its next cron tick (100 ms
 * at the default hz 10, whatever the timeout asked), so a due retry
 * waited up to ~570 ms on an idle 3-master cluster with 8 partitions
 * (docs/performance.md). Acks are gathered per stream and sent as one
 * XACK + XDEL pair per loop round.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "filter.h"
#include "ids.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"
#include "validate.h"

static void	entry_delivery_done(struct entry *, int ok);
static void	consume_fan_out(struct entry *, struct hc_hook **, size_t);
static void	consume_handed(const struct redisReply *, const char *,
		    const struct redisReply *);
static void	handed_flush(void *);
/* Entries order_finish handed us in this loop round (consume_handed). */
static struct read_batch	*handed_batch;
static struct loop_timer	 handed_timer;

#define READ_BLOCK_MS	"1000"
#define READ_SHARE_MIN	32
#define ACK_BATCH_MAX	512

struct ack_batch {
	const char	*stream;
	char		*ids[ACK_BATCH_MAX];
	size_t		 n;
	int		 waits;		/* WAITs owed (held batches) */
	long long	 fewest;	/* fewest replicas they counted */
};

/* Two a partition: events, retries (ack_of()). */
static struct ack_batch	*acks;
static struct loop_timer ack_timer;
static int		 ack_timer_ready;
/* After an error reply (e.g. LOADING while Redis replays its AOF). */
static struct loop_timer retry_read_timer, retry_group_timer;
static int		 retry_timers_ready;

#define ERROR_PAUSE_MS	500

static void	read_entries(void);

/* The ack batch of en's stream; NULL when out of memory. */
static struct ack_batch *
ack_of(const struct entry *en)
{
	if (acks == NULL && (acks = calloc(2 * (size_t)d.nparts,
	    sizeof(*acks))) == NULL)
		return (NULL);
	return (&acks[2 * en->part + (en->kind == ENTRY_EVENT ? 0 : 1)]);
}

static void
retry_read(void *arg)
{
	consume_maybe_read();
}

static void
retry_group(void *arg)
{
	group_create();
}

static void
retry_later(struct loop_timer *t)
{
	if (!retry_timers_ready) {
		loop_timer_init(&retry_read_timer, retry_read, NULL);
		loop_timer_init(&retry_group_timer, retry_group, NULL);
		retry_timers_ready = 1;
	}
	loop_timer_arm(t, ERROR_PAUSE_MS);
}

/* XGROUP CREATE answered (or BUSYGROUP): start reading. */
static void
on_group(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "BUSYGROUP", 9) != 0) {
		wh_log(WH_LOG_ERROR, "cannot create the consumer group; "
		    "trying again", "stream", priv, "error", reply->str, NULL);
		retry_later(&retry_group_timer);
		return;
	}
	consume_maybe_read();
}

/*
 * The group reads each stream from id 0: whatever is still in a stream
 * is work not done (acked entries are deleted).
 */
void
group_create(void)
{
	const char	*argv[6] = { "XGROUP", "CREATE", NULL, WH_GROUP, "0",
			    "MKSTREAM" };
	unsigned	 p;

	for (p = 0; p < d.nparts; p++) {
		argv[2] = d.parts[p].k_events;
		(void)rconn_cmd(&d.main, on_group, d.parts[p].k_events, 6,
		    argv, NULL);
		argv[2] = d.parts[p].k_retries;
		(void)rconn_cmd(&d.main, on_group, d.parts[p].k_retries, 6,
		    argv, NULL);
	}
}

/* The company's webhooks could not be read: the entry is abandoned. */
static void
lookup_failed(struct entry *en, const char *why)
{
	entry_failed(en, why);
	entry_delivery_done(en, 0);
}

/*
 * The layers below report back to the stream entry's life through these
 * callbacks: the cache with an entry's webhooks, a delivery once resolved,
 * the endpoints when trimming made room.
 */
void
consume_init(void)
{
	hookcache_init(consume_fan_out, lookup_failed);
	delivery_init(entry_delivery_done);
	order_on_handed(consume_handed);
	loop_timer_init(&handed_timer, handed_flush, NULL);
	endpoint_on_room(consume_maybe_read);
}

void
consume_up(struct rconn *c)
{
	group_create();
}

/* The reader whose connection c is. */
static struct reader *
reader_of(struct rconn *c)
{
	unsigned	i;

	for (i = 0; i < d.nreaders; i++)
		if (&d.readers[i].conn == c)
			return (&d.readers[i]);
	return (NULL);
}

/* A reader's link is down: its read in flight, if any, is lost. */
static void
reader_down(struct rconn *c)
{
	struct reader	*r;

	if ((r = reader_of(c)) != NULL)
		r->reading = 0;
}

/* A reader's link is (back) up: read again. */
static void
reader_up(struct rconn *c)
{
	reader_down(c);
	consume_maybe_read();
}

/*
 * One reader of every partition on one Redis (one XREADGROUP reads all
 * the streams), one a partition in a cluster (a command stays in one
 * slot). -1 when out of memory.
 */
int
consume_readers_start(void)
{
	struct reader	*r;
	unsigned	 i, n;

	n = d.cfg.redis.ncluster > 0 ? d.nparts : 1;
	if ((d.readers = calloc(n, sizeof(*d.readers))) == NULL)
		return (-1);
	d.nreaders = n;
	for (i = 0; i < n; i++) {
		r = &d.readers[i];
		r->from = n == 1 ? 0 : i;
		r->to = n == 1 ? d.nparts : i + 1;
		if (n == 1)
			(void)snprintf(r->name, sizeof(r->name), "read");
		else
			(void)snprintf(r->name, sizeof(r->name), "read %u", i);
		(void)rconn_start(&r->conn, r->name, &d.cfg.redis, reader_up,
		    reader_down);
	}
	return (0);
}

/* The sentinels moved the master: every reader leaves the old one. */
void
consume_readers_kick(void)
{
	unsigned	i;

	for (i = 0; i < d.nreaders; i++)
		rconn_kick(&d.readers[i].conn);
}

void
consume_readers_stop(void)
{
	unsigned	i;

	for (i = 0; i < d.nreaders; i++)
		rconn_stop(&d.readers[i].conn);
}

/*
 * Room for more work: transfers, queued deliveries, and entries read but
 * not fanned out yet (each will make at least one delivery), so reading
 * never runs ahead of what the endpoints' queues may take.
 */
static size_t
room(void)
{
	size_t	cap = (size_t)d.cfg.concurrency, used;

	used = d.inflight + d.queued + d.unfanned;
	return (used >= cap ? 0 : cap - used);
}

void
consume_maybe_read(void)
{
	size_t	cap = (size_t)d.cfg.concurrency;

	if (d.stopping || !d.main.conn.ready)
		return;
	if (room() == 0 || d.nentries >= 2 * cap)
		return;
	read_entries();
}

static void
entry_fanned(struct entry *en)
{
	if (!en->unfanned)
		return;
	en->unfanned = 0;
	d.unfanned--;
}

static void
entry_free(struct entry *en)
{
	entry_fanned(en);
	TAILQ_REMOVE(&d.entries, en, all);
	d.nentries--;
	wh_task_free(&en->task);
	free(en->handed);
	free(en->reply_key);
	free(en);
	consume_maybe_read();
}

static void
ack_fire(void *arg)
{
	acks_flush();
}

static void
on_ack(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_WARN, "ack failed; entries stay pending and "
		    "will be claimed again", "error", reply ? reply->str :
		    "redis down", NULL);
}

/*
 * XACK and XDEL of one batch inside MULTI/EXEC: applied (and written to
 * the AOF) together, so a crash never leaves an entry acked but not
 * deleted, or deleted but pending.
 */
static void
acks_send(struct ack_batch *b)
{
	const char	*argv[ACK_BATCH_MAX + 3];
	size_t		 i;

	argv[0] = "MULTI";
	if (rconn_cmd(&d.main, NULL, NULL, 1, argv, NULL) == -1) {
		wh_log(WH_LOG_WARN, "redis down; acks dropped, entries will "
		    "be claimed again", NULL);
		goto out;
	}
	argv[0] = "XACK";
	argv[1] = b->stream;
	argv[2] = WH_GROUP;
	for (i = 0; i < b->n; i++)
		argv[3 + i] = b->ids[i];
	(void)rconn_cmd(&d.main, NULL, NULL, (int)(3 + b->n), argv, NULL);
	argv[0] = "XDEL";
	for (i = 0; i < b->n; i++)
		argv[2 + i] = b->ids[i];
	(void)rconn_cmd(&d.main, NULL, NULL, (int)(2 + b->n), argv, NULL);
	argv[0] = "EXEC";
	(void)rconn_cmd(&d.main, on_ack, NULL, 1, argv, NULL);
out:
	for (i = 0; i < b->n; i++)
		free(b->ids[i]);
	b->n = 0;
}

/*
 * WH_REDIS_WAIT_REPLICAS: the WAIT sent before a batch's acks came back.
 * The entries' outcomes (attempt records, retries, dead letters) were
 * written on this link before it; only when k replicas have them are the
 * entries acked. Otherwise they stay pending and are claimed again: a
 * master lost now costs a delivery made twice, never one lost.
 */
static void
on_waited(struct wh_wire *w, void *r, void *priv)
{
	struct ack_batch	*b = priv;
	redisReply		*reply = r;
	char			 n[24];
	size_t			 i;
	long long		 got;

	got = reply != NULL && reply->type == REDIS_REPLY_INTEGER ?
	    reply->integer : -1;
	if (got < b->fewest)
		b->fewest = got;
	if (--b->waits > 0)
		return;
	if (b->fewest >= d.cfg.wait_replicas) {
		acks_send(b);
	} else {
		(void)snprintf(n, sizeof(n), "%lld", b->fewest);
		wh_log(WH_LOG_WARN, "fewer replicas than "
		    "WH_REDIS_WAIT_REPLICAS confirmed; entries stay pending "
		    "and will be claimed again", "replicas", n, NULL);
		for (i = 0; i < b->n; i++)
			free(b->ids[i]);
	}
	free(b);
}

/*
 * In a Redis Cluster a WAIT covers only the link to one master, the one
 * the command before it went to: the entries' outcomes were written to
 * the master of the {g} slot (attempt records) and to that of their
 * company's partition (retries, dead letters), which is the stream's own
 * partition unless a publisher put an event in another one. So a WAIT
 * goes to each of those two slots, each after a read of a key of that
 * slot that routes it there, and the batch is acked once both counted k
 * replicas. (Only those two: a master without a replica elsewhere holds
 * up no other partition's acks.)
 */
static void
wait_every_master(struct ack_batch *held)
{
	const char	*argv[3];
	char		 gkey[WH_KEY_MAX], k[WH_WAIT_NUM];
	int		 i, kind, n = 2;
	unsigned	 p = 0;

	held->waits = n;
	if (wh_key_webhooks_version(gkey, sizeof(gkey), d.cfg.prefix) == -1 ||
	    partition_stream(held->stream, &p, &kind) == NULL) {
		for (i = 0; i < n; i++)
			on_waited(NULL, NULL, held);
		return;
	}
	for (i = 0; i < n; i++) {
		argv[0] = "EXISTS";
		argv[1] = i == 0 ? gkey : d.parts[p].k_events;
		argv[2] = NULL;
		if (rconn_cmd(&d.main, NULL, NULL, 2, argv, NULL) == -1) {
			on_waited(NULL, NULL, held);
			continue;
		}
		wh_redis_wait_argv(argv, k, d.cfg.wait_replicas);
		if (rconn_cmd(&d.main, on_waited, held, 3, argv, NULL) == -1)
			on_waited(NULL, NULL, held);
	}
}

static void
batch_flush(struct ack_batch *b)
{
	struct ack_batch	*held;
	const char		*argv[3];
	char			 k[WH_WAIT_NUM];
	size_t			 i;

	if (b->n == 0)
		return;
	if (d.cfg.wait_replicas == 0) {
		acks_send(b);
		return;
	}
	/* The ids move to a batch of their own until the WAIT answers. */
	if ((held = malloc(sizeof(*held))) == NULL) {
		wh_log(WH_LOG_WARN, "out of memory; acks dropped, entries "
		    "will be claimed again", NULL);
		for (i = 0; i < b->n; i++)
			free(b->ids[i]);
		b->n = 0;
		return;
	}
	*held = *b;
	b->n = 0;
	held->fewest = LLONG_MAX;
	if (d.cfg.redis.ncluster > 0) {
		wait_every_master(held);
		return;
	}
	held->waits = 1;
	wh_redis_wait_argv(argv, k, d.cfg.wait_replicas);
	if (rconn_cmd(&d.main, on_waited, held, 3, argv, NULL) == -1)
		on_waited(NULL, NULL, held);
}

/* One MULTI/EXEC of XACK + XDEL per stream, pipelined. */
void
acks_flush(void)
{
	size_t	i;

	for (i = 0; acks != NULL && i < 2 * (size_t)d.nparts; i++)
		batch_flush(&acks[i]);
}

/* Queue the entry's ack; sent at the end of this loop round. */
static void
entry_ack(struct entry *en)
{
	struct ack_batch	*b;

	if (!ack_timer_ready) {
		loop_timer_init(&ack_timer, ack_fire, NULL);
		ack_timer_ready = 1;
	}
	if ((b = ack_of(en)) == NULL) {
		wh_log(WH_LOG_ERROR, "out of memory; entry left pending",
		    "entry_id", en->entry_id, NULL);
		entry_free(en);
		return;
	}
	b->stream = en->stream;
	if (b->n == ACK_BATCH_MAX)
		batch_flush(b);
	if ((b->ids[b->n] = strdup(en->entry_id)) != NULL)
		b->n++;
	else
		wh_log(WH_LOG_ERROR, "out of memory; entry left pending",
		    "entry_id", en->entry_id, NULL);
	loop_timer_arm(&ack_timer, 0);
	entry_free(en);
}

/*
 * An entry whose processing keeps failing (a company index of the wrong
 * type, a record Redis refuses) would be claimed and fail again forever:
 * once the stream has delivered it DELIVERIES_MAX times, it goes to the
 * dead letters with the last failure instead (docs/design.md, "The
 * public stream contract"). Counted by Redis, so whichever dispatcher
 * sees the last failure moves it.
 */
#define DELIVERIES_MAX	"5"
/* Of a field of an entry moved to the dead letters: bytes kept. */
#define FIELD_KEEP	"16384"
#define FIELDS_KEPT	"32"

static void	entry_dead(struct entry *, const char *min, const char *why,
		    wh_reply_fn *);

static void
on_given_up(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	struct entry	*en = priv;
	char		 n[24];

	if (reply != NULL && reply->type == REDIS_REPLY_STRING)
		wh_log(WH_LOG_WARN, "entry kept failing; moved to the dead "
		    "letters", "entry_id", en->entry_id, "event_sid",
		    en->task.event.event_sid, "deliveries", DELIVERIES_MAX,
		    "error", en->fail, NULL);
	else if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer < 0) {
		(void)snprintf(n, sizeof(n), "%lld", -reply->integer);
		wh_log(WH_LOG_WARN, "entry left pending after a failure; it "
		    "will be claimed again", "entry_id", en->entry_id,
		    "event_sid", en->task.event.event_sid, "deliveries", n,
		    "error", en->fail, NULL);
	} else if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		wh_log(WH_LOG_WARN, "entry taken over by another dispatcher; "
		    "left to it", "entry_id", en->entry_id, "event_sid",
		    en->task.event.event_sid, NULL);
	else
		wh_log(WH_LOG_WARN, "entry left pending after a redis "
		    "failure; it will be claimed again", "entry_id",
		    en->entry_id, "event_sid", en->task.event.event_sid,
		    "error", reply == NULL ? "redis down" :
		    reply->type == REDIS_REPLY_ERROR ? reply->str : en->fail,
		    NULL);
	entry_free(en);
}

/*
 * A delivery (or a lookup) of the entry is resolved; ok = 0 abandons. An
 * abandoned entry stays pending (to be claimed again) unless it has been
 * delivered DELIVERIES_MAX times; a lost one belongs to its new owner.
 */
static void
entry_delivery_done(struct entry *en, int ok)
{
	char	why[ERROR_MAX + 64];

	if (!ok)
		en->abandon = 1;
	if (--en->outstanding > 0)
		return;
	/* Handed by order_finish, there is no stream entry to ack: one not
	 * finished is repeated by its guard once its lease lapses. */
	if (en->lost || en->settled || en->handed != NULL) {
		entry_free(en);
		return;
	}
	if (en->abandon) {
		(void)snprintf(why, sizeof(why), "still failing after %s "
		    "deliveries: %s", DELIVERIES_MAX, en->fail[0] ? en->fail :
		    "a step in Redis failed");
		if (d.stopping || !d.main.conn.ready)
			on_given_up(NULL, NULL, en);
		else
			entry_dead(en, DELIVERIES_MAX, why, on_given_up);
		return;
	}
	entry_ack(en);
}

/*
 * The malformed entry's dead letter is written and the entry acked, or it
 * had been taken over meanwhile (0), or Redis failed (it stays pending).
 */
static void
on_malformed_dead(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	struct entry	*en = priv;

	if (reply != NULL && reply->type == REDIS_REPLY_STRING)
		en->settled = 1;
	else if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		en->lost = 1;
	else
		entry_failed(en, reply != NULL && reply->type ==
		    REDIS_REPLY_ERROR ? reply->str : "redis down");
	entry_delivery_done(en, en->settled || en->lost);
}

/*
 * Move en's entry, as it stands in its stream, to the dead letters with
 * reason why, if it is still ours and was delivered at least min times
 * (common/lua/dead_entry.lua: one atomic step with the ack). cb gets the
 * script's reply; it is called with none when nothing could be sent.
 */
static void
entry_dead(struct entry *en, const char *min, const char *why,
    wh_reply_fn *cb)
{
	const char	*argv[10];
	char		 maxlen[24];

	(void)snprintf(maxlen, sizeof(maxlen), "%ld", d.cfg.dead_maxlen);
	argv[0] = en->stream; argv[1] = d.parts[en->part].k_dead;
	argv[2] = WH_GROUP; argv[3] = d.consumer; argv[4] = en->entry_id;
	argv[5] = min; argv[6] = why; argv[7] = FIELD_KEEP;
	argv[8] = FIELDS_KEPT; argv[9] = maxlen;
	if (rconn_script(&d.main, wh_lua_dead_entry, cb, en, 2, 10, argv,
	    NULL) == -1)
		cb(NULL, NULL, en);
}

/*
 * An entry that cannot be delivered as it stands (missing field, payload
 * not JSON, an unreadable task): kept in the dead-letter stream with the
 * reason and its fields, then acked, so it never blocks the stream and is
 * never retried forever.
 */
static void
entry_malformed(struct entry *en, const char *why)
{
	d.n_malformed++;
	wh_log(WH_LOG_WARN, "malformed stream entry dead-lettered",
	    "entry_id", en->entry_id, "stream", en->stream, "reason", why,
	    NULL);
	en->outstanding = 1;
	entry_dead(en, "0", why, on_malformed_dead);
}

/*
 * A retry entry: a field "task" holding the msgpack task, and for a
 * ~test the fields test_delivery.c reads.
 */
static const char *
retry_parse(struct entry *en, const redisReply *fields)
{
	const redisReply	*k, *v, *task = NULL;
	size_t			 i;

	for (i = 0; i + 1 < fields->elements; i += 2) {
		k = fields->element[i];
		v = fields->element[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, WH_TASK_FIELD) == 0)
			task = v;
		else if (test_delivery_parse(en, k->str, k->len, v->str,
		    v->len) == -1)
			return ("test fields are not valid");
	}
	if (task == NULL)
		return ("task field is missing");
	return (entry_task_decode(&en->task, task));
}

/* Fan-out is done for this entry: queue its deliveries. */
static void
entry_fanned_out(struct entry *en)
{
	struct delivery	*dl, *next;

	for (dl = en->ready; dl != NULL; dl = next) {
		next = dl->next_ready;
		dl->next_ready = NULL;
		delivery_queue(dl);
	}
	en->ready = NULL;
	entry_delivery_done(en, 1);	/* the lookup itself */
}

static int
hook_wants(const struct wh_webhook *w, const char *type)
{
	size_t	i;

	if (w->nevent_types == 0)
		return (1);
	for (i = 0; i < w->nevent_types; i++) {
		if (wh_event_type_matches(w->event_types[i], type))
			return (1);
	}
	return (0);
}

/*
 * The webhook's payload filter (compiled by hookcache.c) on a new event:
 * 1 to deliver. An event left out makes no attempt and no log line, only
 * a count (webhooks_deliveries_filtered_total).
 */
static int
filter_passes(const struct entry *en, const struct hc_hook *h)
{
	const struct wh_event	*ev = &en->task.event;

	if (h->filter == NULL)
		return (1);
	if (!h->filter_bad && wh_filter_match(h->filter, ev->event_type,
	    strlen(ev->event_type), ev->payload, ev->payload_len))
		return (1);
	d.n_filtered++;
	return (0);
}

/*
 * Does the entry go to webhook h? An event to each one whose event types
 * and filter it matches, a retry to its own (it matched when it was new),
 * and a ~recover "all" resend (task.match) to its own if it matches now.
 */
static int
entry_targets(const struct entry *en, const struct hc_hook *h)
{
	if (strcmp(h->hook.company_sid, en->task.event.company_sid) != 0)
		return (0);
	if (en->kind == ENTRY_RETRY &&
	    strcmp(h->hook.sid, en->task.webhook_sid) != 0)
		return (0);
	if (en->kind == ENTRY_RETRY && !en->task.match)
		return (1);
	return (hook_wants(&h->hook, en->task.event.event_type) &&
	    filter_passes(en, h));
}

/*
 * The company's webhooks as of en->need (hookcache.c): make the entry's
 * deliveries. A disabled webhook's delivery is parked, not attempted
 * (a ~test is sent all the same: test_delivery.c).
 */
static void
consume_fan_out(struct entry *en, struct hc_hook **hooks, size_t n)
{
	struct delivery	*dl;
	const char	*why;
	int64_t		 delay;
	size_t		 i;
	int		 found = 0, ordered = order_wanted(en);

	entry_fanned(en);
	if (entry_owned(en) == OWN_LOST) {	/* its new owner fans it out */
		entry_fanned_out(en);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!entry_targets(en, hooks[i]))
			continue;
		found = 1;
		/* A keyed delivery must reach order_start before its entry
		 * is acked, so it is never deferred unasked. */
		if (hooks[i]->hook.enabled && !ordered &&
		    endpoint_full(hooks[i]->hook.sid, &delay, &why) &&
		    (dl = delivery_make(en, hooks[i], 0)) != NULL) {
			en->outstanding++;
			resolve_defer(dl, delay, why);
			continue;
		}
		if ((dl = delivery_make(en, hooks[i], 1)) == NULL) {
			wh_log(WH_LOG_ERROR, "out of memory; entry left "
			    "pending", "event_sid", en->task.event.event_sid,
			    NULL);
			en->abandon = 1;
			continue;
		}
		en->outstanding++;
		if (!dl->hook->enabled && en->reply_key == NULL) {
			resolve_park(dl, "webhook disabled");
			continue;
		}
		if (ordered) {
			delivery_ordered(dl);
			continue;
		}
		dl->next_ready = en->ready;
		en->ready = dl;
	}
	if (en->kind == ENTRY_RETRY && !found && en->reply_key != NULL)
		test_delivery_fail(en, NULL, "the webhook no longer exists");
	else if (en->kind == ENTRY_RETRY && !found && !en->task.match)
		wh_log(WH_LOG_INFO, "webhook deleted; retry dropped",
		    "event_sid", en->task.event.event_sid,
		    "webhook_sid", en->task.webhook_sid, NULL);
	entry_fanned_out(en);
}

/*
 * Entries read in one batch wait for the global change counter read after
 * them (see hookcache.c), then look their company up.
 */
struct read_batch {
	TAILQ_HEAD(, entry)	 entries;
	int			 counter;	/* its GET follows its read on
						   the read's link */
};

static struct read_batch *
batch_new(void)
{
	struct read_batch	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		wh_log(WH_LOG_ERROR, "out of memory", NULL);
		return (NULL);
	}
	TAILQ_INIT(&b->entries);
	return (b);
}

/*
 * Look en's company up as of g, the webhooks' change counter read after
 * en was published (g < 0: it could not be read, en is abandoned).
 */
static void
entry_lookup(struct entry *en, long long g)
{
	en->outstanding = 1;	/* the lookup */
	if (g < 0) {
		entry_failed(en, "the webhooks' change counter could not be "
		    "read");
		entry_delivery_done(en, 0);
		return;
	}
	en->need = g;
	hookcache_want(en);
}

static void
on_counter(struct wh_wire *w, void *r, void *priv)
{
	struct read_batch	*b = priv;
	struct entry		*en;
	long long		 g;

	g = hookcache_counter(r);
	if (g >= 0)
		hookcache_global(g);
	while ((en = TAILQ_FIRST(&b->entries)) != NULL) {
		TAILQ_REMOVE(&b->entries, en, wait);
		entry_lookup(en, g);
	}
	free(b);
}

/* GET the global counter on c for b (on_counter); -1 if not sent. */
static int
counter_read(struct rconn *c, struct read_batch *b)
{
	const char	*argv[2];
	char		 key[WH_KEY_MAX];

	argv[0] = "GET";
	argv[1] = key;
	if (wh_key_webhooks_version(key, sizeof(key), d.cfg.prefix) == -1)
		return (-1);
	return (rconn_cmd(c, on_counter, b, 2, argv, NULL));
}

/*
 * b's entries are read: keep its events, and read the counter after them
 * on the main link unless its GET follows its read already (b->counter:
 * on_counter completes it); they are abandoned if it cannot be asked.
 */
static void
batch_send(struct read_batch *b)
{
	if (!TAILQ_EMPTY(&b->entries))
		retain_batch(TAILQ_FIRST(&b->entries));
	if (b->counter)
		return;
	if (TAILQ_EMPTY(&b->entries)) {
		free(b);
		return;
	}
	if (counter_read(&d.main, b) == -1)
		on_counter(NULL, NULL, b);
}

/* b is not used: freed, unless its counter's GET (on_counter) owns it. */
static void
batch_drop(struct read_batch *b)
{
	if (b != NULL && !b->counter)
		free(b);
}

/*
 * Entries read or claimed from stream by a command sent at mono ms sent:
 * each becomes an entry of batch b. entries is the redisReply array of
 * [id, fields] pairs; a deleted entry (nil fields, seen when claiming)
 * has nothing left to do and is just acked.
 * Draining, a read that was already in flight may still answer: its
 * entries stay pending for another dispatcher to claim, like every entry
 * the drain leaves, rather than start deliveries the exit would abandon.
 */
static void
batch_add(struct read_batch *b, const char *stream, const redisReply *entries,
    int claimed, int64_t sent)
{
	const redisReply	*e;
	struct entry		*en;
	const char		*why;
	size_t			 i;
	unsigned		 part;
	int			 kind;

	if (d.stopping || entries == NULL ||
	    entries->type != REDIS_REPLY_ARRAY ||
	    (stream = partition_stream(stream, &part, &kind)) == NULL)
		return;
	for (i = 0; i < entries->elements; i++) {
		e = entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[0]->len >= ENTRY_ID_MAX)
			continue;
		if ((en = calloc(1, sizeof(*en))) == NULL) {
			wh_log(WH_LOG_ERROR, "out of memory", NULL);
			break;
		}
		memcpy(en->entry_id, e->element[0]->str,
		    e->element[0]->len + 1);
		en->stream = stream;
		en->part = part;
		en->kind = kind;
		en->held_since = sent;
		TAILQ_INSERT_TAIL(&d.entries, en, all);
		d.nentries++;
		if (claimed)
			d.n_claimed++;
		if (en->kind == ENTRY_EVENT)
			d.n_events++;
		if (e->element[1]->type != REDIS_REPLY_ARRAY) {
			en->outstanding = 1;
			entry_delivery_done(en, 1);
			continue;
		}
		why = en->kind == ENTRY_EVENT ?
		    entry_event_parse(&en->task.event, en->entry_id,
		    e->element[1], d.cfg.event_max) :
		    retry_parse(en, e->element[1]);
		/* A keyed event is ordered by its entry id (order.c). */
		if (why == NULL && en->kind == ENTRY_EVENT &&
		    en->task.event.ordering_key != NULL &&
		    (en->task.event.entry_id = strdup(en->entry_id)) == NULL) {
			entry_failed(en, "out of memory");	/* left pending */
			en->outstanding = 1;
			entry_delivery_done(en, 0);
			continue;
		}
		if (why != NULL)
			entry_malformed(en, why);
		else if (entry_test_expired(en)) {
			wh_log(WH_LOG_INFO, "test delivery too late; not sent",
			    "event_sid", en->task.event.event_sid,
			    "webhook_sid", en->task.webhook_sid, NULL);
			en->outstanding = 1;
			entry_delivery_done(en, 1);
		} else {
			en->home = partition_index(en->task.event.company_sid);
			en->unfanned = 1;
			d.unfanned++;
			TAILQ_INSERT_TAIL(&b->entries, en, wait);
		}
	}
}

/* Entries claimed from stream (upkeep.c), as batch_add says. */
void
consume_entries(const char *stream, const void *entries, int claimed,
    int64_t sent)
{
	struct read_batch	*b;

	if ((b = batch_new()) == NULL)
		return;
	batch_add(b, stream, entries, claimed, sent);
	batch_send(b);
}

static void
handed_flush(void *arg)
{
	struct read_batch	*b = handed_batch;

	handed_batch = NULL;
	if (b != NULL)
		batch_send(b);
}

/*
 * order_finish handed us the next event of a key, the key's head already
 * under our lease token (order.c): an entry with no stream entry behind
 * it, fanned out to its webhook as a retry is (its task says which) and
 * delivered at once. Its guard in wh:{p}:retry repeats it if we do not
 * finish it, so one we cannot take is just let go. Those of one loop
 * round share one read of the webhooks' change counter, made after the
 * finish that handed them: the newest counter we had read may predate
 * the event (another dispatcher read it), and an event is delivered with
 * every webhook change made before it was published (hookcache.c). On
 * one Redis order_finish reads the counter itself (counter, its fifth
 * element), which spares that round trip: without it a key waited a read
 * of its own between each of its events (ordered/unordered 0.38-0.44
 * against 0.53-0.66 in interleaved bench runs). NULL in a cluster, where
 * the counter is in another slot.
 */
static void
consume_handed(const struct redisReply *task, const char *token,
    const struct redisReply *counter)
{
	struct entry		*en;
	const struct wh_event	*ev;
	const char		*why = "out of memory";
	long long		 g = counter != NULL ?
				    hookcache_counter(counter) : -1;

	if (d.stopping)
		return;
	if (g < 0 && handed_batch == NULL &&
	    (handed_batch = batch_new()) != NULL)
		loop_timer_arm(&handed_timer, 0);
	if ((g < 0 && handed_batch == NULL) ||
	    (en = calloc(1, sizeof(*en))) == NULL)
		goto fail;
	en->kind = ENTRY_RETRY;
	en->held_since = wh_mono_ms();
	ev = &en->task.event;
	if ((why = entry_task_decode(&en->task, task)) != NULL ||
	    ev->entry_id == NULL || ev->ordering_key == NULL ||
	    strlen(ev->entry_id) >= ENTRY_ID_MAX ||
	    (en->handed = strdup(token)) == NULL) {
		wh_task_free(&en->task);
		free(en);
		goto fail;
	}
	(void)snprintf(en->entry_id, sizeof(en->entry_id), "%s",
	    ev->entry_id);
	en->home = en->part = partition_index(ev->company_sid);
	TAILQ_INSERT_TAIL(&d.entries, en, all);
	d.nentries++;
	en->unfanned = 1;
	d.unfanned++;
	if (g < 0) {
		TAILQ_INSERT_TAIL(&handed_batch->entries, en, wait);
		return;
	}
	/* The counter order_finish read after the event was published. */
	hookcache_global(g);
	entry_lookup(en, g);
	return;
fail:
	wh_log(WH_LOG_WARN, "handed ordered task not taken; its guard "
	    "repeats it", "error", why != NULL ? why : "not an ordered task",
	    NULL);
}

/* Why a read failed; reading resumes by itself. */
static void
read_failed(const redisReply *reply)
{
	if (reply == NULL)
		return;		/* link lost; reader_up reads again */
	if (strncmp(reply->str, "NOGROUP", 7) == 0) {
		wh_log(WH_LOG_WARN, "consumer group missing; recreating it",
		    NULL);
		group_create();
		return;
	}
	wh_log(WH_LOG_ERROR, "XREADGROUP failed; trying again", "error",
	    reply->str, NULL);
	retry_later(&retry_read_timer);
}

/*
 * The reply of a read: every stream's entries into one batch. Its
 * counter is read after it: on the read's own link when the read sent
 * it along (priv is then the batch, b->counter set: on_counter completes
 * it), else on the main link now.
 */
static void
on_entries(struct wh_wire *w, void *r, void *priv)
{
	struct reader		*rd = priv;
	struct read_batch	*b = rd->batch;
	redisReply		*reply = r, *s;
	size_t			 i;

	rd->reading = 0;
	rd->batch = NULL;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		read_failed(reply);
		batch_drop(b);
		return;
	}
	if (reply->type == REDIS_REPLY_ARRAY &&
	    (b != NULL || (b = batch_new()) != NULL)) {
		for (i = 0; i < reply->elements; i++) {
			s = reply->element[i];
			if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
			    s->element[0]->type != REDIS_REPLY_STRING)
				continue;
			batch_add(b, s->element[0]->str, s->element[1], 0,
			    rd->sent);
		}
		batch_send(b);
	} else
		batch_drop(b);
	consume_maybe_read();
}

/*
 * XREADGROUP of the events and retries of rd's partitions (the retries
 * first: they have waited already), COUNT each, on rd's own link. With a
 * batch b, the GET of the change counter follows it on the same link:
 * Redis runs it once the read is answered (a blocked read holds the
 * link's next command back), so it is read after the entries were
 * published, as hookcache.c needs, without a round trip of its own or a
 * wait behind the main link's scripts. Not so in a cluster, where the
 * counter's slot is on another node's link: b is NULL there.
 */
static int
read_send(struct reader *rd, const char *count, struct read_batch *b)
{
	const char	**argv;
	unsigned	  p;
	int		  argc = 0, rc;

	if ((argv = calloc(9 + 4 * (size_t)(rd->to - rd->from),
	    sizeof(*argv))) == NULL) {
		free(b);
		return (-1);
	}
	argv[argc++] = "XREADGROUP"; argv[argc++] = "GROUP";
	argv[argc++] = WH_GROUP; argv[argc++] = d.consumer;
	argv[argc++] = "COUNT"; argv[argc++] = count;
	argv[argc++] = "BLOCK"; argv[argc++] = READ_BLOCK_MS;
	argv[argc++] = "STREAMS";
	for (p = rd->from; p < rd->to; p++) {
		argv[argc++] = d.parts[p].k_retries;
		argv[argc++] = d.parts[p].k_events;
	}
	for (p = rd->from; p < rd->to; p++) {
		argv[argc++] = ">";
		argv[argc++] = ">";
	}
	rd->sent = wh_mono_ms();
	rc = rconn_cmd(&rd->conn, on_entries, rd, argc, argv, NULL);
	free(argv);
	if (rc == -1) {
		free(b);
		return (-1);
	}
	rd->reading = 1;
	if (b != NULL) {
		b->counter = counter_read(&rd->conn, b) == 0;
		rd->batch = b;
	}
	return (rc);
}

/*
 * Ask for as many entries as there is room for, spread over the streams
 * (COUNT holds for each), on every reader that has no read in flight.
 */
static void
read_entries(void)
{
	char		 count[24];
	size_t		 n, share, streams = 2 * (size_t)d.nparts;
	unsigned	 i;

	if ((n = room()) > (size_t)d.cfg.read_batch)
		n = (size_t)d.cfg.read_batch;
	/* An even share; with partitions not so small that one busy stream
	 * among many idle ones is read a few entries at a time. */
	share = (n + streams - 1) / streams;
	if (d.nparts > 1 && share < READ_SHARE_MIN)
		share = n < READ_SHARE_MIN ? n : READ_SHARE_MIN;
	(void)snprintf(count, sizeof(count), "%zu", share);
	for (i = 0; i < d.nreaders; i++) {
		if (!d.readers[i].reading && d.readers[i].conn.conn.ready)
			(void)read_send(&d.readers[i], count,
			    d.cfg.redis.ncluster == 0 ? batch_new() : NULL);
	}
}

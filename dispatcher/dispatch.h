/*
 * dispatch.h: what the dispatcher's files share.
 *
 * A struct entry is one stream entry: an event from a partition's
 * wh:{p}:events (first attempts, fanned out to every matching webhook) or
 * a task from its wh:{p}:retries (one later attempt for one webhook). An entry becomes
 * deliveries; each delivery is resolved (succeeded, scheduled for retry,
 * dead-lettered or dropped) and only when all of an entry's deliveries
 * are resolved in Redis is the entry acked and deleted. If any Redis step
 * of an entry fails, it is abandoned instead: it stays pending and is
 * claimed again (at least once, never lost). "Job" means only the
 * ~recover jobs (jobs.c).
 */
#ifndef WH_DISPATCH_H
#define WH_DISPATCH_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "keys.h"
#include "model.h"
#include "rconn.h"
#include "trace.h"

#define ENTRY_ID_MAX	48
#define ERROR_MAX	256

#define ENTRY_EVENT	1
#define ENTRY_RETRY	2

struct delivery;

struct entry {
	char			 entry_id[ENTRY_ID_MAX];
	const char		*stream;	/* a partition's k_events or
						   k_retries */
	unsigned		 part;		/* that partition */
	unsigned		 home;		/* the partition of the event's
						   company (partition.c) */
	int			 kind;		/* ENTRY_EVENT or ENTRY_RETRY */
	struct wh_task		 task;		/* event, and for a retry its
						   webhook, attempt, history */
	int			 outstanding;	/* lookups + deliveries */
	int			 abandon;	/* leave the entry pending */
	int			 lost;		/* another dispatcher took the
						   entry over (upkeep.c) */
	int			 settled;	/* acked by a script already */
	uint64_t		 refreshing;	/* a refresh in flight */
	char			 fail[ERROR_MAX]; /* why it was abandoned */
	size_t			 nhooks;
	size_t			 nlooked;
	struct delivery		*ready;		/* found, not yet queued */
	int64_t			 held_since;	/* mono ms: owned as of then */
	long long		 need;		/* webhooks as of this change
						   counter (hookcache.c) */
	int			 unfanned;	/* read, not yet fanned out */
	char			*handed;	/* handed on by order_finish
						   (no stream entry): the lease
						   token it was started under */
	char			*reply_key;	/* a ~test: where its outcome
						   goes (test_delivery.c) */
	int64_t			 test_deadline;	/* wall ms: not sent after */
	TAILQ_ENTRY(entry)	 all;
	TAILQ_ENTRY(entry)	 wait;		/* a batch's or a cache
						   entry's waiting list */
};

/*
 * One cached webhook (hookcache.c), decoded once per load and borrowed
 * by the deliveries made from it (hookcache_hold/release).
 */
struct hc_hook {
	int			 refs;		/* the cache's + deliveries' */
	struct wh_webhook	 hook;
	struct wh_signing_key	*keys;		/* decoded (secrets opened) */
	size_t			 nkeys;
	struct wh_filter	*filter;	/* compiled hook.filter, NULL:
						   every event */
	int			 filter_bad;	/* stored filter refused: no
						   event matches */
};

struct endpoint;

struct delivery {
	struct entry		*entry;
	struct endpoint		*ep;
	struct hc_hook		*src;		/* held: what hook, keys borrow */
	const struct wh_webhook	*hook;		/* &src->hook */
	const struct wh_signing_key **keys;	/* src's keys active when made */
	size_t			 nkeys;
	uint32_t		 attempt;	/* 1-based */
	int64_t			 first_attempt_at;
	void			*easy;		/* CURL * */
	void			*headers;	/* struct curl_slist *, one block */
	size_t			 headers_size;	/* of that block (wiped) */
	size_t			 own_lines;	/* its first lines: the webhook's */
	void			*h_sent_at;	/* its stamped lines, for */
	void			*h_sig;		/*   deliver.c's restamp() */
	void			*h_ts;
	void			*h_sw;
	size_t			 sent_at_off;	/* in body */
	int64_t			 stamped_ms;
	struct wh_buf		 body;
	struct wh_buf		 answer;	/* first bytes of the response */
	int64_t			 started_mono;
	int64_t			 latency_ms;
	long			 status;	/* HTTP status, 0 if none */
	int64_t			 retry_after_ms; /* -1: none given */
	char			 error[ERROR_MAX];
	const char		*fail_reason;	/* metrics.c's reason, if failed */
	const char		*refused;	/* the address policy's reason */
	int			 proxied;	/* through WH_EGRESS_PROXY */
	char			 peer_date[40];	/* the receiver's Date, "" none */
	int64_t			 peer_skew_ms;	/* its clock minus ours (see
						   deliver.c header_cb) */
	void			*connect_to;	/* its curl_slist (egress.c) */
	int			 held;		/* waits for its entry's ownership
						   to be confirmed (deliver.c) */
	int			 answer_cut;	/* read ANSWER_KEEP, stopped */
	int64_t			 rl_asked;	/* mono ms its rate limiter was
						   asked (ratelimit.c) */
	char			 order_token[160]; /* its ordering lease
						   (consumer:n), "" none */
	char			*order_task;	/* its task, while order_start
						   is being asked */
	size_t			 order_task_len;
	struct delivery		*order_next;	/* waiting to be asked */
	int			 order_yield;	/* resolved by a retry (or a
						   deferral): yield, not done */
	uint8_t			 span_id[WH_SPAN_ID_LEN]; /* sent as
						   traceparent, else 0s */
	struct delivery		*next_ready;
	TAILQ_ENTRY(delivery)	 queue;
	TAILQ_ENTRY(delivery)	 live;		/* delivery.c: every one */
};

TAILQ_HEAD(entry_list, entry);

/* One partition's queue keys (WH_PARTITIONS; partition.c). */
struct partition {
	char			 k_events[WH_KEY_MAX];
	char			 k_retries[WH_KEY_MAX];
	char			 k_retry[WH_KEY_MAX];
	char			 k_dead[WH_KEY_MAX];
};

/*
 * A reading link (consume.c): XREADGROUP ... BLOCK of some partitions on
 * a connection of its own. One reads every partition on one Redis; in a
 * cluster each partition has its own, so that no partition's blocking
 * read waits behind another's on a shared node link.
 */
struct read_batch;

struct reader {
	struct rconn		 conn;
	char			 name[24];	/* for logs ("read", "read 3") */
	unsigned		 from, to;	/* partitions from to to - 1 */
	int			 reading;	/* a read in flight */
	struct read_batch	*batch;		/* its batch, when the change
						   counter's GET follows the
						   read on conn (consume.c) */
	/*
	 * When that read was sent (mono ms): Redis gave us its entries no
	 * earlier, so they are ours as of then (upkeep.c, entry_owned()).
	 */
	int64_t			 sent;
};

struct dispatcher {
	struct wh_config	 cfg;
	char			 consumer[128];
	struct partition	*parts;		/* WH_PARTITIONS of them */
	unsigned		 nparts;
	struct rconn		 main;		/* lookups, acks, schedules */
	struct reader		*readers;	/* consume.c */
	unsigned		 nreaders;
	struct rconn		 watch;		/* Sentinel: failover news */
	int			 stopping;
	struct entry_list	 entries;	/* every entry we hold */
	size_t			 nentries;
	size_t			 unfanned;	/* entries read, not fanned out */
	size_t			 inflight;	/* transfers running */
	size_t			 queued;	/* deliveries waiting for a slot */
	uint64_t		 n_delivered, n_failed, n_retried, n_dead;
	uint64_t		 n_events, n_malformed, n_claimed;
	uint64_t		 n_parked;	/* webhook disabled */
	uint64_t		 n_filtered;	/* events a filter left out */
	uint64_t		 n_rate_limited; /* deferred by a rate_limit */
};

extern struct dispatcher	d;

/*
 * The files in the order one event goes from the stream to the wire; each
 * calls only files below it (tests/lint/callgraph.sh checks, the graph is
 * in docs/internals.md) and hears back through the callbacks it was given.
 */

/* consume.c: a stream entry's life: read, fanned out, resolved, acked. */
void	consume_init(void);
void	consume_up(struct rconn *);
int	consume_readers_start(void);
void	consume_readers_kick(void);
void	consume_readers_stop(void);
void	consume_maybe_read(void);
void	consume_entries(const char *stream, const void *entries,
	    int claimed, int64_t sent);
void	acks_flush(void);
void	group_create(void);

/* hookcache.c: company -> webhooks, checked against change counters. */
typedef void	 hookcache_found_fn(struct entry *, struct hc_hook **, size_t);
typedef void	 hookcache_failed_fn(struct entry *, const char *why);
void	hookcache_init(hookcache_found_fn *, hookcache_failed_fn *);
long long hookcache_counter(const void *redis_reply);
void	hookcache_global(long long);
void	hookcache_want(struct entry *);
void	hookcache_tick(void);
struct hc_hook *hookcache_hold(struct hc_hook *);
void	hookcache_release(struct hc_hook *);
void	hookcache_free(void);

/* delivery.c: a delivery's life: made, queued, sent, resolved, freed. */
typedef void	 delivery_resolved_fn(struct entry *, int ok);
typedef void	 delivery_defer_fn(struct delivery *, int64_t delay_ms,
		    const char *why);
void	delivery_init(delivery_resolved_fn *);
struct delivery *delivery_make(struct entry *, struct hc_hook *,
	    int with_keys);
void	delivery_queue(struct delivery *);
void	delivery_free(struct delivery *);
void	delivery_free_all(void);
void	resolve_defer(struct delivery *, int64_t delay_ms, const char *why);
void	resolve_park(struct delivery *, const char *reason);
void	delivery_ordered(struct delivery *);

/* order.c: ordering keys (docs/ordering.md): go, or settled unattempted. */
typedef void	 order_go_fn(struct delivery *);
typedef void	 order_settled_fn(struct delivery *, int ok);
typedef void	 order_handed_fn(const struct redisReply *task, const char *token,
		     const struct redisReply *counter);
void	order_init(order_go_fn *, order_settled_fn *);
void	order_on_handed(order_handed_fn *);
int	order_handed(struct delivery *);
int	order_wanted(const struct entry *);
void	order_begin(struct delivery *, const char *task, size_t task_len);
int	order_finish(struct delivery *);

/* test_delivery.c: ~test deliveries (sent once, answered to the api). */
typedef void	 test_delivery_done_fn(struct entry *, struct delivery *);
void	test_delivery_init(test_delivery_done_fn *);
int	test_delivery_parse(struct entry *, const char *name, size_t nlen,
	    const char *val, size_t vlen);
void	test_delivery_reply(struct delivery *);
void	test_delivery_fail(struct entry *, struct delivery *,
	    const char *why);

/* record.c: attempts logged (with health), a batch per loop round. */
void	record_attempt(const struct delivery *, const char *outcome, int ok);
void	record_flush(void);

/* autodisable.c: disabling a webhook whose endpoint keeps failing. */
void	autodisable_failed(const char *webhook_sid, const char *company_sid,
	    long long consecutive, int64_t failing_since);

/* endpoint.c: per-endpoint in-flight caps and fair queues. */
void	endpoint_init(delivery_defer_fn *);
void	endpoint_on_room(void (*)(void));
void	endpoint_enqueue(struct delivery *);
int	endpoint_full(const char *sid, int64_t *delay_ms, const char **why);
void	endpoint_release(struct delivery *);
void	endpoint_start_ready(void);
void	endpoint_trim(void);

/* ratelimit.c: a webhook's rate_limit, shared in Redis. */
typedef void	 ratelimit_refused_fn(struct delivery *, int64_t wait_ms,
		    const char *why);
void	ratelimit_init(ratelimit_refused_fn *);
void	ratelimit_start(struct delivery *);
void	ratelimit_pause(const struct delivery *, int64_t pause_ms);

/* deliver.c: the HTTP transfers; what they came to goes to hooks. */
struct deliver_hooks {
	void	(*release)(struct delivery *);	/* its endpoint slot */
	void	(*start_ready)(void);		/* slots freed: start more */
	void	(*attempted)(struct delivery *); /* resolve the attempt */
	void	(*dropped)(struct delivery *);	/* entry lost: let it go */
};
void	deliver_hooks(const struct deliver_hooks *);
int	deliver_init(void);
void	deliver_free(void);
void	deliver_start(struct delivery *);
void	deliver_clear(struct delivery *);
void	deliver_recheck(void);

/*
 * egress.c: deliveries through WH_EGRESS_PROXY. A proxied delivery's
 * target was resolved (connect_to) or not (why, with reason its
 * webhooks_delivery_attempt_failures_total reason).
 */
typedef void	 egress_resolved_fn(struct delivery *, const char *connect_to,
		    const char *why, const char *reason);
int	egress_init(egress_resolved_fn *);
int	egress_proxied(const char *url);
int	egress_resolve(struct delivery *);

/*
 * entry.c: a stream entry's fields as Redis gave them (hiredis
 * redisReply arrays); NULL when usable, else why not (dead-lettered).
 */
struct redisReply;
const char	*entry_event_parse(struct wh_event *, const char *entry_id,
		    const struct redisReply *fields, size_t event_max);
const char	*entry_task_decode(struct wh_task *,
		    const struct redisReply *task);
/* entry.c too: is an entry still ours, why it failed, a late ~test. */
#define OWN_YES		0
#define OWN_UNSURE	1	/* not confirmed lately: wait for a refresh */
#define OWN_LOST	2
void	entry_ownership_init(int64_t claim_idle_ms, void (*refresh)(void));
int	entry_owned(const struct entry *);
void	entry_failed(struct entry *, const char *why);
int	entry_test_expired(const struct entry *);

/* upkeep.c: moving due retries, claiming abandoned entries, ownership. */
void	upkeep_start(void);
void	upkeep_stop(void);

/* metrics.c: this dispatcher's GET /metrics on WH_METRICS_LISTEN. */
int	metrics_start(char *err, size_t errlen);
void	metrics_attempt(int64_t ms);
/* A failed attempt: "timeout", "connect", ... (metrics.c lists them). */
void	metrics_failure(const char *reason);

/* otlp.c: attempt spans exported over OTLP/HTTP (WH_OTLP_ENDPOINT). */
int	otlp_start(char *err, size_t errlen);
void	otlp_attempt(struct delivery *, const char *reason);
void	otlp_log_ids(const struct delivery *, char tid[33], char sid[17]);
int	otlp_traceparent(struct delivery *,
	    char out[WH_TRACEPARENT_LEN + 1]);
int	otlp_owns(const void *priv);
void	otlp_done(void *easy, int result, long status);
void	otlp_counts(uint64_t *exported, uint64_t *dropped);
struct curl_sockaddr;
/* The deliveries' curl multi and loop-watched sockets (deliver.c). */
struct otlp_transport {
	int	(*start)(void *easy);
	int	(*socket_open)(struct curl_sockaddr *);
	int	(*socket_close)(void *clientp, int fd);
};
void	otlp_transport(const struct otlp_transport *);

/* heartbeat.c: the liveness file (WH_HEARTBEAT_FILE) and its check. */
int	heartbeat_start(char *err, size_t errlen);
int	heartbeat_check(int argc, char **argv);
/* jobs.c, retention.c: the upkeep of ~recover jobs and of dead letters. */
void	jobs_start(void);
void	jobs_stop(void);
void	retention_start(void);
void	retention_stop(void);

/* retain.c: the events of a read batch kept (WH_EVENT_RETENTION_MS). */
void	retain_batch(struct entry *first);

/* partition.c: the partitions' keys; which one a company or stream is. */
int	partitions_init(void);
void	partitions_free(void);
unsigned	partition_index(const char *company_sid);
const char	*partition_stream(const char *name, unsigned *part, int *kind);

#endif

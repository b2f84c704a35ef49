/*
 * dispatch.h: what the dispatcher's files share.
 *
 * A job is one stream entry: an event from a partition's wh:{p}:events
 * (first attempts, fanned out to every matching webhook) or a task from
 * its wh:{p}:retries (one later attempt for one webhook). A job becomes deliveries; each
 * delivery is resolved (succeeded, scheduled for retry, dead-lettered or
 * dropped) and only when all of a job's deliveries are resolved in Redis
 * is the entry acked and deleted. If any Redis step of a job fails, the
 * job is abandoned instead: its entry stays pending and is claimed again
 * (at least once, never lost).
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

#define ENTRY_ID_MAX	48
#define ERROR_MAX	256

#define JOB_EVENT	1
#define JOB_RETRY	2

struct delivery;

struct job {
	char			 entry_id[ENTRY_ID_MAX];
	const char		*stream;	/* a partition's k_events or
						   k_retries */
	unsigned		 part;		/* that partition */
	int			 kind;		/* JOB_EVENT or JOB_RETRY */
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
	char			*reply_key;	/* a ~test: where its outcome
						   goes (test_delivery.c) */
	int64_t			 test_deadline;	/* wall ms: not sent after */
	TAILQ_ENTRY(job)	 all;
	TAILQ_ENTRY(job)	 wait;		/* a batch's or a cache
						   entry's waiting list */
};

/* One cached webhook (hookcache.c): decoded, and as stored. */
struct hc_hook {
	struct wh_webhook	 hook;
	char			*rec;
	size_t			 rec_len;
	char			**keys;		/* msgpack signing keys */
	size_t			*key_lens;
	size_t			 nkeys;
	struct wh_filter	*filter;	/* compiled hook.filter, NULL:
						   every event */
	int			 filter_bad;	/* stored filter refused: no
						   event matches */
};

struct endpoint;

struct delivery {
	struct job		*job;
	struct endpoint		*ep;
	struct wh_webhook	 hook;
	struct wh_signing_key	*keys;
	size_t			 nkeys;
	uint32_t		 attempt;	/* 1-based */
	int64_t			 first_attempt_at;
	void			*easy;		/* CURL * */
	void			*headers;	/* struct curl_slist * */
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
	int			 held;		/* waits for its job's ownership
						   to be confirmed (deliver.c) */
	int			 answer_cut;	/* read ANSWER_KEEP, stopped */
	struct delivery		*next_ready;
	TAILQ_ENTRY(delivery)	 queue;
};

TAILQ_HEAD(job_list, job);

/* One partition's queue keys (WH_PARTITIONS; partition.c). */
struct partition {
	char			 k_events[WH_KEY_MAX];
	char			 k_retries[WH_KEY_MAX];
	char			 k_retry[WH_KEY_MAX];
	char			 k_dead[WH_KEY_MAX];
};

struct dispatcher {
	struct wh_config	 cfg;
	char			 consumer[128];
	struct partition	*parts;		/* WH_PARTITIONS of them */
	unsigned		 nparts;
	struct rconn		 main;		/* lookups, acks, schedules */
	struct rconn		 block;		/* XREADGROUP ... BLOCK only */
	struct rconn		 watch;		/* Sentinel: failover news */
	int			 reading;	/* reads in flight */
	int			 stopping;
	struct job_list		 jobs;		/* every entry we hold */
	size_t			 njobs;
	size_t			 unfanned;	/* jobs read, not fanned out */
	size_t			 inflight;	/* transfers running */
	size_t			 queued;	/* deliveries waiting for a slot */
	uint64_t		 n_delivered, n_failed, n_retried, n_dead;
	uint64_t		 n_events, n_malformed, n_claimed;
	uint64_t		 n_parked;	/* webhook disabled */
	uint64_t		 n_filtered;	/* events a filter left out */
	uint64_t		 n_rate_limited; /* deferred by a rate_limit */
};

extern struct dispatcher	d;

/* partition.c: the partitions' keys; which one a company or stream is. */
int	partitions_init(void);
void	partitions_free(void);
const struct partition *partition_of(const char *company_sid);
const char	*partition_stream(const char *name, unsigned *part, int *kind);

/* consume.c: reading, fan-out, job lifecycle, acks. */
void	consume_up(struct rconn *);
void	consume_block_up(struct rconn *);
void	consume_maybe_read(void);
void	consume_entries(const char *stream, const void *entries,
	    int claimed, int64_t sent);
void	consume_fan_out(struct job *, const struct hc_hook *, size_t);
void	job_delivery_done(struct job *, int ok);
void	job_failed(struct job *, const char *why);
void	acks_flush(void);
void	group_create(void);

/* hookcache.c: company -> webhooks, checked against change counters. */
long long hookcache_counter(const void *redis_reply);
void	hookcache_global(long long);
void	hookcache_want(struct job *);
void	hookcache_tick(void);
size_t	hookcache_size(void);
void	hookcache_free(void);

/*
 * entry.c: a stream entry's fields as Redis gave them (hiredis
 * redisReply arrays); NULL when usable, else why not (dead-lettered).
 */
struct redisReply;
const char	*entry_event_parse(struct wh_event *, const char *entry_id,
		    const struct redisReply *fields, size_t event_max);
const char	*entry_task_decode(struct wh_task *,
		    const struct redisReply *task);

/* endpoint.c: per-endpoint in-flight caps and fair queues. */
void	endpoint_enqueue(struct delivery *);
int	endpoint_full(const char *sid, int64_t *delay_ms, const char **why);
void	endpoint_release(struct delivery *);
void	endpoint_start_ready(void);
void	endpoint_trim(void);
void	endpoint_refused(struct delivery *, int64_t wait_ms, const char *why);

/* ratelimit.c: a webhook's rate_limit, shared in Redis. */
void	ratelimit_start(struct delivery *);
void	ratelimit_pause(const struct delivery *, int64_t pause_ms);

/* deliver.c: the HTTP transfers. */
int	deliver_init(void);
void	deliver_free(void);
void	deliver_start(struct delivery *);
void	deliver_recheck(void);
/*
 * A proxied delivery's target was resolved (connect_to) or not (why, with
 * reason its webhooks_delivery_attempt_failures_total reason).
 */
void	deliver_proxied(struct delivery *, const char *connect_to,
	    const char *why, const char *reason);

/* egress.c: deliveries through WH_EGRESS_PROXY. */
int	egress_init(void);
int	egress_proxied(const char *url);
int	egress_resolve(struct delivery *);
void	delivery_free(struct delivery *);

/* resolve.c: what happens after an attempt. */
void	resolve_attempt(struct delivery *);
void	resolve_defer(struct delivery *, int64_t delay_ms, const char *why);
void	resolve_park(struct delivery *, const char *reason);

/* upkeep.c: moving due retries, claiming abandoned entries, ownership. */
#define OWN_YES		0
#define OWN_UNSURE	1	/* not confirmed lately: wait for a refresh */
#define OWN_LOST	2
void	upkeep_start(void);
void	upkeep_stop(void);
int	job_owned(const struct job *);

/* metrics.c: this dispatcher's GET /metrics on WH_METRICS_LISTEN. */
int	metrics_start(char *err, size_t errlen);
void	metrics_attempt(int64_t ms);
/* A failed attempt: "timeout", "connect", ... (metrics.c lists them). */
void	metrics_failure(const char *reason);

/* otlp.c: attempt spans exported over OTLP/HTTP (WH_OTLP_ENDPOINT). */
int	otlp_start(char *err, size_t errlen);
void	otlp_attempt(const struct delivery *, const char *reason);
int	otlp_owns(const void *priv);
void	otlp_done(void *easy, int result, long status);
void	otlp_counts(uint64_t *exported, uint64_t *dropped);
/* deliver.c: start the exporter's transfer on the deliveries' multi;
 * sockets for curl that the loop watches. */
int	deliver_side_start(void *easy);
struct curl_sockaddr;
int	deliver_socket_open(struct curl_sockaddr *);
int	deliver_socket_close(void *clientp, int fd);

/* heartbeat.c: the liveness file (WH_HEARTBEAT_FILE) and its check. */
int	heartbeat_start(char *err, size_t errlen);
int	heartbeat_check(int argc, char **argv);
/* record.c: attempts logged (with health), a batch per loop round. */
void	record_attempt(const struct delivery *, const char *outcome, int ok);
void	record_flush(void);

/* autodisable.c: disabling a webhook whose endpoint keeps failing. */
void	autodisable_failed(const char *webhook_sid, const char *company_sid,
	    long long consecutive, int64_t failing_since);

/* jobs.c, retention.c: the upkeep of ~recover jobs and of dead letters. */
void	jobs_start(void);
void	jobs_stop(void);
void	retention_start(void);
void	retention_stop(void);

/* test_delivery.c: ~test deliveries (sent once, answered to the api). */
int	test_delivery_parse(struct job *, const char *name, size_t nlen,
	    const char *val, size_t vlen);
int	test_delivery_expired(const struct job *);
void	test_delivery_reply(struct delivery *);
void	test_delivery_fail(struct job *, struct delivery *,
	    const char *why);

#endif

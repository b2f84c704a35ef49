/*
 * keys.h: every Redis key name, in one place (docs/design.md, "Redis
 * keys"). Queue keys carry the hash tag of their partition, {0} to
 * {N-1} (WH_PARTITIONS = N, docs/design.md "Partitions"), so that each
 * partition's keys share one slot of a Redis Cluster; N = 1 is {0}.
 *
 * Each builder writes a NUL-terminated name into out and returns its
 * length, or -1 when it does not fit.
 */
#ifndef WH_KEYS_H
#define WH_KEYS_H

#include <stddef.h>

#define WH_KEY_MAX		256

/*
 * A Redis Cluster (on) or one Redis: in a cluster every key that is not a
 * partition's gets the hash tag {g} after the prefix (wh:{g}:webhook:<sid>),
 * and a webhook's dead-letter index the tag of its company's partition, the
 * slot of the dead letters it indexes. Set once, from the configuration.
 */
void	wh_keys_cluster(int on);
#define WH_GROUP		"dispatchers"
/* The field of a wh:{0}:retries entry that holds the msgpack task. */
#define WH_TASK_FIELD		"task"

int	wh_key_webhook(char *out, size_t, const char *pfx, const char *sid);
int	wh_key_webhook_keys(char *out, size_t, const char *pfx,
	    const char *sid);
int	wh_key_company_webhooks(char *out, size_t, const char *pfx,
	    const char *company_sid);
int	wh_key_apikey(char *out, size_t, const char *pfx, const char *key_id);
/*
 * The partition of a company's events, 0 to n - 1: FNV-1a 32 of the
 * company_sid's bytes, modulo n (docs/design.md, "Partitions"; direct
 * publishers compute the same, examples/publish shows it).
 */
unsigned	wh_partition(const char *company_sid, unsigned n);
/* Partition p's queue keys: wh:{p}:events, :retry, :retries, :dead. */
int	wh_key_events(char *out, size_t, const char *pfx, unsigned p);
int	wh_key_retry(char *out, size_t, const char *pfx, unsigned p);
int	wh_key_retries(char *out, size_t, const char *pfx, unsigned p);
int	wh_key_dead(char *out, size_t, const char *pfx, unsigned p);
int	wh_key_attempts(char *out, size_t, const char *pfx,
	    const char *webhook_sid);
/*
 * Publish idempotency of (company_sid, event_sid). queue_slot (a Redis
 * Cluster) puts it in the slot of partition p's stream, which it guards,
 * so that the publish script touches one slot; one Redis keeps the
 * untagged name whatever the partition (a company has one).
 */
int	wh_key_idem(char *out, size_t, const char *pfx, int queue_slot,
	    unsigned p, const char *company_sid, const char *event_sid);
/*
 * Change counters of the webhook configuration, bumped (INCR) by the same
 * script that changes a webhook or its signing keys: one per company and
 * one for all. The dispatchers' company -> webhooks cache (see
 * dispatcher/hookcache.c) reads the global one with every batch of events
 * and re-checks a company's entry only when it moved.
 */
int	wh_key_company_version(char *out, size_t, const char *pfx,
	    const char *company_sid);
int	wh_key_webhooks_version(char *out, size_t, const char *pfx);
/*
 * The sids of the disabled webhooks (set), kept by the scripts that
 * create, change and delete a webhook record; its size is the metric
 * webhooks_endpoints_disabled.
 */
int	wh_key_webhooks_disabled(char *out, size_t, const char *pfx);
/* Every API key id (zset, score: created ms), admin keys included. */
int	wh_key_apikeys(char *out, size_t, const char *pfx);
/* One company's API key ids (zset, score: created ms). */
int	wh_key_company_apikeys(char *out, size_t, const char *pfx,
	    const char *company_sid);
/* The api's secret for page_token MACs (string). */
int	wh_key_cursor_secret(char *out, size_t, const char *pfx);
/* A remembered POST answer: API key id and the client's Idempotency-Key. */
int	wh_key_idemkey(char *out, size_t, const char *pfx,
	    const char *key_id, const char *idempotency_key);
/*
 * Failed authentications from one client (string, INCR; lives one
 * window): an IPv4 address, or an IPv6 /64 written "<prefix>::/64".
 */
int	wh_key_authfail(char *out, size_t, const char *pfx,
	    const char *client);
/*
 * Delivery visibility (docs/design.md, "Redis keys"): a webhook's
 * endpoint health (hash), its dead letters (zset event_sid -> dead_at
 * ms, and a hash event_sid -> entry id in wh:{p}:dead; p, the partition
 * of the webhook's company, names them only in a cluster), one event's
 * attempts across a company's webhooks (zset "<entry id>_<webhook_sid>"
 * -> attempt ms),
 * recovery jobs (hash) and the active ones (hash job_sid -> webhook_sid),
 * and the reply list of one ~test delivery.
 */
int	wh_key_webhook_health(char *out, size_t, const char *pfx,
	    const char *sid);
int	wh_key_webhook_dead(char *out, size_t, const char *pfx, unsigned p,
	    const char *sid);
int	wh_key_webhook_dead_ids(char *out, size_t, const char *pfx,
	    unsigned p, const char *sid);
int	wh_key_event_attempts(char *out, size_t, const char *pfx,
	    const char *company_sid, const char *event_sid);
int	wh_key_job(char *out, size_t, const char *pfx, const char *job_sid);
int	wh_key_jobs(char *out, size_t, const char *pfx);
/*
 * In a Redis Cluster, the dispatcher running a batch of a job (string:
 * its consumer name, SET NX PX WH_CLAIM_IDLE_MS): a batch read from one
 * slot and accounted in another runs on one dispatcher at a time.
 */
int	wh_key_job_lease(char *out, size_t, const char *pfx,
	    const char *job_sid);
int	wh_key_test_reply(char *out, size_t, const char *pfx,
	    const char *reply_id);
/*
 * Delivery control (issue 21; docs/ordering.md): one webhook's shared
 * rate limiter (hash: tat, pause_until; common/lua/ratelimit.lua).
 */
int	wh_key_webhook_rate(char *out, size_t, const char *pfx,
	    const char *sid);
/*
 * Ordering keys (docs/ordering.md): the hold of one (webhook, ordering
 * key) (hash: head, owner, lease_until, last) and the events parked behind
 * it (zset); common/lua/order_start.lua and order_finish.lua. p is the
 * partition of the webhook's company, whose queue keys the scripts touch
 * with them (one slot). The ordering key is given with its length (1 to
 * 128 bytes, any bytes but NUL).
 */
int	wh_key_order(char *out, size_t, const char *pfx, unsigned p,
	    const char *sid, const char *okey, size_t okeylen);
int	wh_key_order_parked(char *out, size_t, const char *pfx, unsigned p,
	    const char *sid, const char *okey, size_t okeylen);

/*
 * Retained events (issue 21, WH_EVENT_RETENTION_MS; docs/design.md): one
 * event's record (string: its msgpack event map, expiring with the
 * retention) and the company's index of them (zset event_sid -> ms the
 * dispatcher kept it), both in the slot of p, the company's partition
 * (wh:{p}:...), with its retries stream, so that keeping a batch and
 * resending from it touch one slot. wh_key_event_kept with event_sid ""
 * gives the records' common prefix, which common/lua/event_resend.lua
 * completes with each sid.
 */
int	wh_key_event_kept(char *out, size_t, const char *pfx, unsigned p,
	    const char *company_sid, const char *event_sid);
int	wh_key_company_events(char *out, size_t, const char *pfx, unsigned p,
	    const char *company_sid);

/*
 * A portal session (hash: secret_sha256, company_sid, read_only,
 * expires_at, created_by), living exactly as long as the session.
 */
int	wh_key_portal_session(char *out, size_t, const char *pfx,
	    const char *session_sid);

/*
 * A webhook's hourly rollup of its attempts (hash: 24 slots of counts and
 * a latency histogram, see common/lua/attempt_record.lua), written with
 * each attempt, read by GET /v1/webhooks/{sid}/stats.
 */
int	wh_key_webhook_hourly(char *out, size_t, const char *pfx,
	    const char *sid);

#endif

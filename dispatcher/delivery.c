/*
 * delivery.c: a delivery's life, made, queued, sent, resolved, freed.
 *
 * Made by the fan-out (consume.c) from a cached webhook it borrows
 * (hookcache.c); queued under its endpoint (endpoint.c), which starts it
 * through the rate limiter (ratelimit.c) and the transfer layer
 * (deliver.c) when there is room. Those layers report back through the
 * callbacks delivery_init() gives them, never by calling up; so does this
 * file to its own owner, the stream entry (delivery_resolved).
 *
 * After an attempt: every attempt is written to the webhook's
 * attempt log (with its event's index and the endpoint's health, in
 * batches: record.c); then the delivery is resolved in Redis: a success is
 * done, a failure is scheduled again in wh:{0}:retry (score = due ms) with
 * the backoff schedule and any Retry-After, or after its last attempt is
 * kept in wh:{0}:dead. The stream entry is acked only once Redis
 * has confirmed each resolution, so a crash in between repeats work but
 * never loses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

static void	resolve_attempt(struct delivery *);

/* The entry's owner (consume.c): one of its deliveries is resolved. */
static delivery_resolved_fn	*resolved_cb;

/* Every delivery not yet freed, wherever it waits (delivery_free_all). */
static TAILQ_HEAD(, delivery)	 live = TAILQ_HEAD_INITIALIZER(live);

static void	resolved_now(struct delivery *, int);
static int	task_encode(const struct delivery *, uint32_t, int64_t,
		    struct wh_buf *);

/*
 * A delivery of en for the cached webhook h, which it borrows (with the
 * keys active now; none for one deferred at once, with_keys = 0): nothing
 * is decoded per delivery. NULL when out of memory.
 */
struct delivery *
delivery_make(struct entry *en, struct hc_hook *h, int with_keys)
{
	struct delivery	*dl;
	size_t		 i;
	int64_t		 now = wh_now_ms();

	if ((dl = calloc(1, sizeof(*dl))) == NULL)
		return (NULL);
	TAILQ_INSERT_TAIL(&live, dl, live);
	dl->retry_after_ms = -1;
	dl->src = hookcache_hold(h);
	dl->hook = &h->hook;
	if (with_keys && (dl->keys = calloc(h->nkeys + 1,
	    sizeof(*dl->keys))) == NULL) {
		delivery_free(dl);
		return (NULL);
	}
	for (i = 0; with_keys && i < h->nkeys; i++) {
		if (wh_signing_key_active(&h->keys[i], now))
			dl->keys[dl->nkeys++] = &h->keys[i];
	}
	dl->entry = en;
	/* Handed on by order_finish: the head of its key under this lease
	 * from the start, so whatever resolves it (even a dead letter for a
	 * disabled webhook) finishes it. */
	if (en->handed != NULL)
		(void)snprintf(dl->order_token, sizeof(dl->order_token), "%s",
		    en->handed);
	if (en->kind == ENTRY_EVENT) {
		dl->attempt = 1;
		dl->first_attempt_at = now;
	} else {
		dl->attempt = en->task.attempt;
		dl->first_attempt_at = en->task.first_attempt_at;
	}
	return (dl);
}

void
delivery_free(struct delivery *dl)
{
	TAILQ_REMOVE(&live, dl, live);
	deliver_clear(dl);
	free(dl->keys);
	hookcache_release(dl->src);
	free(dl);
}

/*
 * At exit, after the drain: free the deliveries still held (transfers
 * running at WH_DRAIN_MS, queued, waiting for the rate limit), with their
 * curl handles, whose only reference is curl's multi handle. Their
 * entries stay pending in Redis for another dispatcher; nothing of them
 * is resolved. The loop must not run again: endpoint queues and timers
 * may still point at them.
 */
void
delivery_free_all(void)
{
	struct delivery	*dl;

	while ((dl = TAILQ_FIRST(&live)) != NULL)
		delivery_free(dl);
}

/* Queue a delivery made by the fan-out under its endpoint. */
void
delivery_queue(struct delivery *dl)
{
	endpoint_enqueue(dl);
}

static void
on_resolved(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;
	struct entry	*en = dl->entry;
	redisReply	*reply = r;
	int		 ok;

	ok = reply != NULL && reply->type != REDIS_REPLY_ERROR;
	if (!ok)
		wh_log(WH_LOG_WARN, "could not record the outcome; the entry "
		    "stays pending", "event_sid", en->task.event.event_sid,
		    "webhook_sid", dl->hook->sid, "error", reply ? reply->str :
		    "redis down", NULL);
	if (!ok)
		entry_failed(en, reply ? reply->str : "redis down");
	resolved_now(dl, ok);
}

static void
resolved_now(struct delivery *dl, int ok)
{
	struct entry	*en = dl->entry;

	if (ok && order_finish(dl))
		return;
	delivery_free(dl);
	resolved_cb(en, ok);
}

/*
 * A ~test's outcome is written (test_delivery.c): dl, if any, is freed,
 * and the entry is never tried again.
 */
static void
test_replied(struct entry *en, struct delivery *dl)
{
	if (dl != NULL)
		delivery_free(dl);
	resolved_cb(en, 1);
}

/*
 * A delivery of an entry another dispatcher took over (deliver.c): its
 * outcome is not ours to record or act on (the new owner delivers and
 * resolves the entry), so it is dropped; the entry, once empty, is let go
 * unacked.
 */
static void
delivery_dropped(struct delivery *dl)
{
	resolved_now(dl, 0);
}

/* An ordered delivery that will make no attempt (order.c): let it go. */
static void
ordered_settled(struct delivery *dl, int ok)
{
	struct entry	*en = dl->entry;

	delivery_free(dl);
	resolved_cb(en, ok);
}

/*
 * dl delivers a keyed event (order_wanted): it is queued only once its
 * key's hold lets it (order.c), which keeps the task a retry of it would
 * be, for when it is handed back. One order_finish handed us is its
 * key's head already: it goes at once.
 */
void
delivery_ordered(struct delivery *dl)
{
	struct wh_buf	b;

	if (order_handed(dl))
		return;
	wh_buf_init(&b, 0);
	if (task_encode(dl, dl->attempt, wh_now_ms(), &b) == -1) {
		wh_buf_free(&b);
		wh_log(WH_LOG_ERROR, "ordered task not built; entry left "
		    "pending", "event_sid", dl->entry->task.event.event_sid,
		    NULL);
		entry_failed(dl->entry, "ordered task not built");
		resolved_now(dl, 0);
		return;
	}
	order_begin(dl, b.data, b.len);
	wh_buf_free(&b);
}

/* Who is told what, below this file; resolved: the entry's owner. */
void
delivery_init(delivery_resolved_fn *resolved)
{
	static const struct deliver_hooks	hooks = {
		.release = endpoint_release,
		.start_ready = endpoint_start_ready,
		.attempted = resolve_attempt,
		.dropped = delivery_dropped,
	};

	resolved_cb = resolved;
	order_init(delivery_queue, ordered_settled);
	deliver_hooks(&hooks);
	endpoint_init(resolve_defer);
	test_delivery_init(test_replied);
}

/* The task that repeats this delivery as attempt `attempt`. */
static int
task_encode(const struct delivery *dl, uint32_t attempt, int64_t due,
    struct wh_buf *out)
{
	struct wh_task	t;

	memset(&t, 0, sizeof(t));
	t.event = dl->entry->task.event;		/* borrowed, not owned */
	t.webhook_sid = dl->hook->sid;
	t.attempt = attempt;
	t.first_attempt_at = dl->first_attempt_at;
	t.due_at = due;
	t.last_error = dl->error[0] ? (char *)dl->error : NULL;
	return (wh_task_encode(&t, out));
}

static void
schedule(struct delivery *dl, uint32_t attempt, int64_t delay_ms)
{
	struct wh_buf	 b;
	const char	*argv[4];
	size_t		 lens[4];
	char		 score[24];
	int64_t		 due = wh_now_ms() + delay_ms;

	dl->order_yield = 1;	/* E stays its key's head meanwhile */
	wh_buf_init(&b, 0);
	if (task_encode(dl, attempt, due, &b) == -1) {
		wh_buf_free(&b);
		resolved_now(dl, 0);
		return;
	}
	(void)snprintf(score, sizeof(score), "%lld", (long long)due);
	argv[0] = "ZADD"; lens[0] = 4;
	argv[1] = d.parts[dl->entry->home].k_retry;
	lens[1] = strlen(argv[1]);
	argv[2] = score; lens[2] = strlen(score);
	argv[3] = b.data; lens[3] = b.len;
	if (rconn_cmd(&d.main, on_resolved, dl, 4, argv, lens) == -1)
		resolved_now(dl, 0);
	wh_buf_free(&b);
}

/*
 * Keep the delivery in its company's partition's wh:{p}:dead, indexed
 * under its webhook
 * (common/lua/dead_letter.lua), so that the api can list it and give it
 * another delivery. Both caps of the stream apply to the index too.
 */
static void
dead_letter(struct delivery *dl, const char *reason)
{
	const struct wh_event	*ev = &dl->entry->task.event;
	struct wh_buf		 b;
	const char		*argv[40];
	size_t			 lens[40];
	char			 hook[WH_KEY_MAX], idx[WH_KEY_MAX];
	char			 ids[WH_KEY_MAX], maxlen[24], attempts[16];
	char			 status[16], nowms[24], oldest[24], age[24];
	char			 first[WH_RFC3339_LEN + 1], now[WH_RFC3339_LEN + 1];
	int64_t			 t = wh_now_ms();
	int			 argc = 0, cluster = d.cfg.redis.ncluster > 0;

	wh_buf_init(&b, 0);
	if (task_encode(dl, dl->attempt, 0, &b) == -1 ||
	    wh_rfc3339_ms(dl->first_attempt_at, first) == -1 ||
	    wh_rfc3339_ms(t, now) == -1 ||
	    wh_key_webhook(hook, sizeof(hook), d.cfg.prefix,
	    dl->hook->sid) == -1 ||
	    wh_key_webhook_dead(idx, sizeof(idx), d.cfg.prefix,
	    dl->entry->home, dl->hook->sid) == -1 ||
	    wh_key_webhook_dead_ids(ids, sizeof(ids), d.cfg.prefix,
	    dl->entry->home, dl->hook->sid) == -1) {
		wh_buf_free(&b);
		resolved_now(dl, 0);
		return;
	}
	(void)snprintf(maxlen, sizeof(maxlen), "%ld", d.cfg.dead_maxlen);
	(void)snprintf(attempts, sizeof(attempts), "%u", dl->attempt);
	(void)snprintf(status, sizeof(status), "%ld", dl->status);
	(void)snprintf(nowms, sizeof(nowms), "%lld", (long long)t);
	(void)snprintf(oldest, sizeof(oldest), "%lld",
	    (long long)(t - d.cfg.dead_max_age_ms));
	(void)snprintf(age, sizeof(age), "%lld",
	    (long long)d.cfg.dead_max_age_ms);
#define ARG(s, l)	do { argv[argc] = (s); lens[argc++] = (l); } while (0)
#define ARGS(s)		ARG((s), strlen(s))
	ARGS(d.parts[dl->entry->home].k_dead);
	ARGS(idx); ARGS(ids);
	/* The record, in another slot of a cluster: then not given. */
	if (!cluster)
		ARGS(hook);
	ARGS(maxlen); ARGS(nowms); ARGS(oldest); ARGS(age);
	ARGS(ev->event_sid);
	ARGS("reason"); ARGS(reason);
	ARGS("event_sid"); ARGS(ev->event_sid);
	ARGS("webhook_sid"); ARGS(dl->hook->sid);
	ARGS("company_sid"); ARGS(ev->company_sid);
	ARGS("event_type"); ARGS(ev->event_type);
	ARGS("attempts"); ARGS(attempts);
	ARGS("last_status"); ARGS(status);
	ARGS("last_error"); ARGS(dl->error);
	ARGS("first_attempt_at"); ARGS(first);
	ARGS("dead_at"); ARGS(now);
	ARGS("payload"); ARG(ev->payload, ev->payload_len);
	ARGS(WH_TASK_FIELD); ARG(b.data, b.len);
#undef ARGS
#undef ARG
	if (rconn_script(&d.main, wh_lua_dead_letter, on_resolved, dl,
	    cluster ? 3 : 4, argc, argv, lens) == -1)
		resolved_now(dl, 0);
	wh_buf_free(&b);
}

static void
resolve_attempt(struct delivery *dl)
{
	const struct wh_event	*ev = &dl->entry->task.event;
	char			 code[16], ms[24], n[16], in[24];
	char			 tid[33], sid[17];
	int64_t			 delay;
	int			 ok, last, logged;
	const char		*outcome;

	ok = dl->error[0] == '\0' && dl->status >= 200 && dl->status <= 299;
	last = dl->attempt >= dl->hook->max_attempts;
	outcome = ok ? "succeeded" : last ? "dead" : "retrying";
	if (dl->entry->reply_key != NULL) {
		test_delivery_reply(dl);
		return;
	}
	record_attempt(dl, outcome, ok);
	/* A success is logged at debug only: no formatting otherwise. */
	if ((logged = !ok || wh_log_enabled(WH_LOG_DEBUG))) {
		(void)snprintf(code, sizeof(code), "%ld", dl->status);
		(void)snprintf(ms, sizeof(ms), "%lld",
		    (long long)dl->latency_ms);
		(void)snprintf(n, sizeof(n), "%u", dl->attempt);
		otlp_log_ids(dl, tid, sid);
	}

	if (ok) {
		d.n_delivered++;
		if (logged)
			wh_log(WH_LOG_DEBUG, "delivered", "event_sid",
			    ev->event_sid, "webhook_sid", dl->hook->sid,
			    "attempt", n, "status", code, "duration_ms", ms,
			    "trace_id", tid[0] ? tid : NULL, "span_id",
			    sid[0] ? sid : NULL, NULL);
		resolved_now(dl, 1);
		return;
	}
	d.n_failed++;
	if (last) {
		d.n_dead++;
		wh_log(WH_LOG_WARN, "delivery failed; no attempts left, "
		    "dead-lettered", "event_sid", ev->event_sid,
		    "webhook_sid", dl->hook->sid, "attempt", n, "status",
		    dl->status ? code : NULL, "error", dl->error,
		    "duration_ms", ms, "trace_id", tid[0] ? tid : NULL,
		    "span_id", sid[0] ? sid : NULL, NULL);
		dead_letter(dl, "max_attempts reached");
		return;
	}
	delay = wh_backoff_schedule_ms(&dl->hook->retry, dl->attempt,
	    d.cfg.retry_scale, arc4random());
	if ((dl->status == 429 || dl->status == 503) &&
	    dl->retry_after_ms >= 0)
		delay = wh_retry_after_clamp(dl->retry_after_ms, delay);
	/* Within the same bound, a 429 slows every dispatcher down. */
	if (dl->status == 429 && dl->retry_after_ms >= 0)
		ratelimit_pause(dl, dl->retry_after_ms < delay ?
		    dl->retry_after_ms : delay);
	(void)snprintf(in, sizeof(in), "%lld", (long long)delay);
	d.n_retried++;
	wh_log(WH_LOG_WARN, "delivery failed; retry scheduled", "event_sid",
	    ev->event_sid, "webhook_sid", dl->hook->sid, "attempt", n,
	    "status", dl->status ? code : NULL, "error", dl->error,
	    "duration_ms", ms, "retry_in_ms", in, "trace_id",
	    tid[0] ? tid : NULL, "span_id", sid[0] ? sid : NULL, NULL);
	schedule(dl, dl->attempt + 1, delay);
}

/*
 * A resolution written for an entry not confirmed ours (entry_owned()) could
 * undo the work of its new owner: the entry is let go instead, it is
 * left pending (claimed again, by us if it still is ours). 1 if so.
 */
static int
not_ours(struct delivery *dl)
{
	if (entry_owned(dl->entry) == OWN_YES)
		return (0);
	entry_failed(dl->entry, "ownership not confirmed");
	resolved_now(dl, 0);
	return (1);
}

/* Not attempted now (endpoint saturated): the same attempt, later. */
void
resolve_defer(struct delivery *dl, int64_t delay_ms, const char *why)
{
	if (not_ours(dl))
		return;
	if (dl->entry->reply_key != NULL) {
		test_delivery_fail(dl->entry, dl, "the endpoint has too many "
		    "deliveries queued; try again later");
		return;
	}
	wh_log(WH_LOG_DEBUG, "delivery deferred", "event_sid",
	    dl->entry->task.event.event_sid, "webhook_sid", dl->hook->sid,
	    "reason", why, NULL);
	schedule(dl, dl->attempt, delay_ms);
}

/* Not attempted at all (webhook disabled): kept with the dead letters. */
void
resolve_park(struct delivery *dl, const char *reason)
{
	if (not_ours(dl))
		return;
	d.n_parked++;
	wh_log(WH_LOG_INFO, "delivery parked in dead letters", "event_sid",
	    dl->entry->task.event.event_sid, "webhook_sid", dl->hook->sid,
	    "reason", reason, NULL);
	dead_letter(dl, reason);
}

/*
 * hookcache.c: each dispatcher's copy of company -> webhooks (records,
 * filters and signing keys, decoded once per load), so that fanning an
 * event out costs no Redis round trip and no decoding in the steady state.
 *
 * Freshness rests on two change counters that the api bumps in the same
 * script as any change of a webhook or its keys (common/keys.h):
 * wh:webhooks:version for all companies, wh:company:<sid>:version for
 * one. consume.c reads the global counter after every batch of entries it
 * read (so the read happens after the entries were published) and asks
 * for each entry's company "as of" that value (en->need):
 *
 * - A company checked while the global counter already had that value is
 *   used as is.
 * - Otherwise the company's counter and index are read (one MULTI); if
 *   the counter did not move, the company is simply marked checked;
 *   otherwise the records and keys are loaded again.
 *
 * A check is stamped with the global value known when it was sent, which
 * Redis had already answered, so whatever the check reads is at least as
 * new. An event published after the api answered a change therefore
 * always meets the changed webhooks. Companies are also re-checked after
 * MAX_AGE_MS (a change made by hand in Redis, without the counters, is
 * seen then), forgotten after IDLE_MS unused, and bounded in number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "encode.h"
#include "filter.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "timeutil.h"

#define BUCKETS		4096
#define MAX_COMPANIES	20000
#define MAX_AGE_MS	30000
#define IDLE_MS		600000

struct company {
	char			*company_sid;
	long long		 version;	/* company counter of hooks[] */
	long long		 valid_at;	/* global counter checked at */
	int64_t			 checked;	/* mono ms of that check */
	int64_t			 used;		/* mono ms */
	int			 loaded;
	int			 fetching;
	struct hc_hook		**hooks;
	size_t			 nhooks;
	/* The check or load in flight. */
	long long		 stamp;
	long long		 next_version;
	struct hc_hook		**next;
	size_t			 nnext, want, got;
	int			 failed;
	char			 why[ERROR_MAX];	/* of the failure */
	TAILQ_HEAD(, entry)	 waiters;
	TAILQ_ENTRY(company)	 lru;
	struct company		*chain;
};

static struct company		*table[BUCKETS];
static TAILQ_HEAD(, company)	 lru = TAILQ_HEAD_INITIALIZER(lru);
static size_t			 ncompanies;
static long long		 global_seen = -1;

static void	fetch(struct company *);

/* What the owner (consume.c) is told: hookcache_init. */
static hookcache_found_fn	*found_cb;
static hookcache_failed_fn	*failed_cb;

void
hookcache_init(hookcache_found_fn *found, hookcache_failed_fn *failed)
{
	found_cb = found;
	failed_cb = failed;
}

static size_t
hash(const char *s)
{
	return (wh_hash(s, strlen(s)) % BUCKETS);
}

/*
 * A webhook is decoded (record, filter, signing keys: an AES-GCM open
 * each when secrets are sealed) once per load, and the deliveries made
 * from it borrow it: each holds a reference, so a refresh or an eviction
 * while transfers are in flight only drops the cache's own, and the last
 * holder frees it.
 */
struct hc_hook *
hookcache_hold(struct hc_hook *h)
{
	h->refs++;
	return (h);
}

void
hookcache_release(struct hc_hook *h)
{
	size_t	i;

	if (h == NULL || --h->refs > 0)
		return;
	wh_webhook_free(&h->hook);
	for (i = 0; i < h->nkeys; i++)
		wh_signing_key_free(&h->keys[i]);
	free(h->keys);
	free(h->filter);
	free(h);
}

static void
hooks_free(struct hc_hook **hooks, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		hookcache_release(hooks[i]);
	free(hooks);
}

static void
company_free(struct company *e)
{
	struct company	**pp;

	for (pp = &table[hash(e->company_sid)]; *pp != NULL;
	    pp = &(*pp)->chain) {
		if (*pp == e) {
			*pp = e->chain;
			break;
		}
	}
	TAILQ_REMOVE(&lru, e, lru);
	ncompanies--;
	hooks_free(e->hooks, e->nhooks);
	hooks_free(e->next, e->nnext);
	free(e->company_sid);
	free(e);
}

static int
company_idle(const struct company *e)
{
	return (!e->fetching && TAILQ_EMPTY(&e->waiters));
}

/* Forget the least recently used idle companies beyond the bound. */
static void
evict(size_t room)
{
	struct company	*e, *next;

	for (e = TAILQ_FIRST(&lru); e != NULL && ncompanies + room >
	    MAX_COMPANIES; e = next) {
		next = TAILQ_NEXT(e, lru);
		if (company_idle(e))
			company_free(e);
	}
}

static struct company *
company_get(const char *company_sid)
{
	struct company	*e;
	size_t		 h = hash(company_sid);

	for (e = table[h]; e != NULL; e = e->chain) {
		if (strcmp(e->company_sid, company_sid) == 0) {
			TAILQ_REMOVE(&lru, e, lru);
			TAILQ_INSERT_TAIL(&lru, e, lru);
			return (e);
		}
	}
	evict(1);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (NULL);
	if ((e->company_sid = strdup(company_sid)) == NULL) {
		free(e);
		return (NULL);
	}
	e->version = -1;
	e->valid_at = -1;
	TAILQ_INIT(&e->waiters);
	e->chain = table[h];
	table[h] = e;
	TAILQ_INSERT_TAIL(&lru, e, lru);
	ncompanies++;
	return (e);
}

/* A counter as read (nil: never bumped, 0); -1 for anything else. */
long long
hookcache_counter(const void *p)
{
	const redisReply	*r = p;
	char			*end;
	long long		 v;

	if (r == NULL)
		return (-1);
	if (r->type == REDIS_REPLY_NIL)
		return (0);
	if (r->type == REDIS_REPLY_INTEGER)
		return (r->integer);
	if (r->type != REDIS_REPLY_STRING)
		return (-1);
	v = strtoll(r->str, &end, 10);
	if (end == r->str || *end != '\0' || v < 0)
		return (-1);
	return (v);
}

/*
 * The global counter as just read. Going back means Redis lost its data
 * (restarted empty): nothing cached can be trusted then.
 */
void
hookcache_global(long long g)
{
	struct company	*e;

	if (g < 0)
		return;
	if (g < global_seen) {
		wh_log(WH_LOG_WARN, "webhook change counter went back; "
		    "forgetting every cached company", NULL);
		TAILQ_FOREACH(e, &lru, lru) {
			e->version = -1;
			e->valid_at = -1;
			e->stamp = -1;	/* a check in flight is void */
		}
	}
	global_seen = g;
}

/*
 * Good enough for entry: checked as of its need, or as of the newest value
 * known (which also covers entries read before the counter went back).
 */
static int
fresh_for(const struct company *e, const struct entry *en)
{
	return (e->loaded && e->valid_at >= 0 &&
	    (en->need <= e->valid_at || e->valid_at == global_seen));
}

/* Hand the waiting entries the company is good for to the owner. */
static void
serve(struct company *e)
{
	struct entry	*en, *next;

	for (en = TAILQ_FIRST(&e->waiters); en != NULL; en = next) {
		next = TAILQ_NEXT(en, wait);
		if (!fresh_for(e, en))
			continue;
		TAILQ_REMOVE(&e->waiters, en, wait);
		found_cb(en, e->hooks, e->nhooks);
	}
	if (!TAILQ_EMPTY(&e->waiters))
		fetch(e);
}

static void
fail_waiters(struct company *e)
{
	struct entry	*en;

	while ((en = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, en, wait);
		failed_cb(en, e->why[0] ? e->why : "the company's webhooks "
		    "could not be read");
	}
}

/* A check or load is over: take its result, then serve. */
static void
fetch_done(struct company *e)
{
	e->fetching = 0;
	if (e->failed) {
		hooks_free(e->next, e->nnext);
		e->next = NULL;
		e->nnext = 0;
		fail_waiters(e);
		return;
	}
	if (e->want > 0 || !e->loaded || e->next_version != e->version) {
		hooks_free(e->hooks, e->nhooks);
		e->hooks = e->next;
		e->nhooks = e->nnext;
		e->next = NULL;
		e->nnext = 0;
		e->version = e->next_version;
		e->loaded = 1;
	}
	e->valid_at = e->stamp;
	e->checked = wh_mono_ms();
	serve(e);
}

/*
 * Compile the webhook's filter once per load, not per event. The api
 * compiled it before storing it, so a refusal here means a record written
 * by other means: that webhook then receives nothing (a filter is a
 * promise of what is not sent) and the fault is logged at each load.
 * -1 on ENOMEM only.
 */
static int
filter_take(struct hc_hook *h)
{
	struct wh_filter_err	err;

	if (h->hook.filter == NULL)
		return (0);
	if ((h->filter = malloc(sizeof(*h->filter))) == NULL)
		return (-1);
	memset(&err, 0, sizeof(err));
	if (wh_filter_compile(h->hook.filter, strlen(h->hook.filter),
	    h->filter, &err) == -1) {
		wh_log(WH_LOG_ERROR, "stored filter refused; the webhook "
		    "receives no events", "webhook_sid", h->hook.sid,
		    "reason", err.reason, NULL);
		h->filter_bad = 1;
	}
	return (0);
}

/* Decode one webhook and its signing keys; NULL on a bad record. */
static struct hc_hook *
hook_take(const redisReply *rec, const redisReply *keys)
{
	struct hc_hook		*h;
	const redisReply	*k;
	size_t			 i;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->refs = 1;
	if (wh_webhook_decode(rec->str, rec->len, &h->hook) == -1 ||
	    filter_take(h) == -1 ||
	    (h->keys = calloc(keys->elements + 1, sizeof(*h->keys))) == NULL) {
		hookcache_release(h);
		return (NULL);
	}
	for (i = 0; i < keys->elements; i++) {
		k = keys->element[i];
		/* An unreadable key signs nothing, as before it was cached. */
		if (k->type == REDIS_REPLY_STRING && wh_signing_key_decode(
		    k->str, k->len, &h->keys[h->nkeys]) == 0)
			h->nkeys++;
	}
	return (h);
}

/* Reply to MULTI GET record, HVALS keys, EXEC of one webhook. */
static void
on_record(struct wh_wire *w, void *r, void *priv)
{
	struct company	*e = priv;
	redisReply	*reply = r, *rec, *keys;
	struct hc_hook	*h;

	e->got++;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2)
		e->failed = 1;
	else {
		rec = reply->element[0];
		keys = reply->element[1];
		/* Deleted since the index was read: not there, then. */
		if (rec->type == REDIS_REPLY_STRING &&
		    keys->type == REDIS_REPLY_ARRAY) {
			if ((h = hook_take(rec, keys)) != NULL)
				e->next[e->nnext++] = h;
			else
				wh_log(WH_LOG_ERROR, "unreadable webhook "
				    "record skipped", "company_sid",
				    e->company_sid, NULL);
		}
	}
	if (e->got == e->want)
		fetch_done(e);
}

static int
record_send(struct company *e, const char *sid)
{
	const char	*argv[2];
	char		 k1[WH_KEY_MAX], k2[WH_KEY_MAX];

	if (!wh_id_valid(sid, strlen(sid)) ||
	    wh_key_webhook(k1, sizeof(k1), d.cfg.prefix, sid) == -1 ||
	    wh_key_webhook_keys(k2, sizeof(k2), d.cfg.prefix, sid) == -1)
		return (-1);
	argv[0] = "MULTI";
	if (rconn_cmd(&d.main, NULL, NULL, 1, argv, NULL) == -1)
		return (-1);
	argv[0] = "GET"; argv[1] = k1;
	(void)rconn_cmd(&d.main, NULL, NULL, 2, argv, NULL);
	argv[0] = "HVALS"; argv[1] = k2;
	(void)rconn_cmd(&d.main, NULL, NULL, 2, argv, NULL);
	argv[0] = "EXEC";
	return (rconn_cmd(&d.main, on_record, e, 1, argv, NULL));
}

/* Keep the first error of a failed EXEC reply, for the entry's log. */
static void
failure_note(struct company *e, const redisReply *reply)
{
	size_t	i;

	if (reply == NULL) {
		(void)snprintf(e->why, sizeof(e->why), "redis down");
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		(void)snprintf(e->why, sizeof(e->why), "%s", reply->str);
		return;
	}
	for (i = 0; reply->type == REDIS_REPLY_ARRAY &&
	    i < reply->elements; i++) {
		if (reply->element[i]->type == REDIS_REPLY_ERROR) {
			(void)snprintf(e->why, sizeof(e->why), "%s",
			    reply->element[i]->str);
			return;
		}
	}
}

/*
 * Reply to MULTI GET company counter, ZRANGE index, EXEC: unchanged
 * counter, the company is good; else load every record.
 */
static void
on_index(struct wh_wire *w, void *r, void *priv)
{
	struct company	*e = priv;
	redisReply	*reply = r, *sids;
	size_t		 i, n;

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 || reply->element[1]->type !=
	    REDIS_REPLY_ARRAY ||
	    (e->next_version = hookcache_counter(reply->element[0])) < 0) {
		failure_note(e, reply);
		e->failed = 1;
		fetch_done(e);
		return;
	}
	if (e->loaded && e->next_version == e->version) {
		fetch_done(e);
		return;
	}
	sids = reply->element[1];
	n = sids->elements;
	if ((e->next = calloc(n + 1, sizeof(*e->next))) == NULL) {
		e->failed = 1;
		fetch_done(e);
		return;
	}
	e->want = n;
	for (i = 0; i < n; i++) {
		if (sids->element[i]->type != REDIS_REPLY_STRING ||
		    record_send(e, sids->element[i]->str) == -1) {
			/* A callback may still come for the others. */
			e->failed = 1;
			e->got++;
		}
	}
	if (e->got == e->want)
		fetch_done(e);
}

static void
fetch(struct company *e)
{
	const char	*argv[4];
	char		 kv[WH_KEY_MAX], ki[WH_KEY_MAX];

	if (e->fetching)
		return;
	e->fetching = 1;
	e->failed = 0;
	e->why[0] = '\0';
	e->want = e->got = 0;
	e->stamp = global_seen;
	if (wh_key_company_version(kv, sizeof(kv), d.cfg.prefix,
	    e->company_sid) == -1 || wh_key_company_webhooks(ki, sizeof(ki),
	    d.cfg.prefix, e->company_sid) == -1)
		goto fail;
	argv[0] = "MULTI";
	if (rconn_cmd(&d.main, NULL, NULL, 1, argv, NULL) == -1)
		goto fail;
	argv[0] = "GET"; argv[1] = kv;
	(void)rconn_cmd(&d.main, NULL, NULL, 2, argv, NULL);
	argv[0] = "ZRANGE"; argv[1] = ki; argv[2] = "0"; argv[3] = "-1";
	(void)rconn_cmd(&d.main, NULL, NULL, 4, argv, NULL);
	argv[0] = "EXEC";
	if (rconn_cmd(&d.main, on_index, e, 1, argv, NULL) == 0)
		return;
fail:
	e->failed = 1;
	fetch_done(e);
}

/*
 * The webhooks of entry's company as of en->need: now from the cache, or
 * after a check: the owner's found or failed callback follows.
 */
void
hookcache_want(struct entry *en)
{
	struct company	*e;
	int64_t		 now = wh_mono_ms();

	if ((e = company_get(en->task.event.company_sid)) == NULL) {
		wh_log(WH_LOG_ERROR, "out of memory", NULL);
		failed_cb(en, NULL);
		return;
	}
	e->used = now;
	if (e->loaded && now - e->checked >= MAX_AGE_MS && !e->fetching)
		e->valid_at = -1;
	if (fresh_for(e, en)) {
		found_cb(en, e->hooks, e->nhooks);
		return;
	}
	TAILQ_INSERT_TAIL(&e->waiters, en, wait);
	fetch(e);
}

/* Forget companies unused for IDLE_MS (called from upkeep's tick). */
void
hookcache_tick(void)
{
	struct company	*e, *next;
	int64_t		 now = wh_mono_ms();

	for (e = TAILQ_FIRST(&lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);
		if (now - e->used < IDLE_MS)
			break;
		if (company_idle(e))
			company_free(e);
	}
}

void
hookcache_free(void)
{
	struct company	*e;

	while ((e = TAILQ_FIRST(&lru)) != NULL) {
		fail_waiters(e);
		company_free(e);
	}
}

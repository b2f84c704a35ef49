/*
 * endpoint.c: per-endpoint fairness. Each webhook may have at most
 * WH_ENDPOINT_CONCURRENCY transfers in flight; its other deliveries wait
 * in its own queue, and endpoints with work take turns for free slots
 * (round robin), so one slow or dead endpoint cannot take every slot.
 *
 * An endpoint that keeps up may queue eight rounds, or a quarter second of
 * what it completes (whichever is more, at most WH_DISPATCH_CONCURRENCY;
 * the rate is learnt as it goes, in 100 ms windows, and kept while the
 * endpoint was active in the last FORGET_MS): a fast receiver is kept
 * busy from the queue rather than through the retry set, and what
 * overflows comes back 50 ms later.
 * One that is stuck (all its slots busy and none freed for STUCK_MS) may
 * queue one round only: the rest is deferred through the
 * retry set (without counting an attempt), which lets those stream
 * entries be acked, so a dead endpoint never holds the reading up for
 * everyone else. upkeep calls endpoint_trim() to apply this to queues
 * that filled up before their endpoint got stuck.
 * A delivery leaving its queue goes through its webhook's rate_limit
 * (ratelimit.c) before it starts.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "encode.h"
#include "log.h"
#include "timeutil.h"

static void	endpoint_refused(struct delivery *, int64_t wait_ms,
		    const char *why);

#define BUCKETS		4096
#define QUEUE_ROUNDS	8	/* a healthy endpoint queues up to 8 x cap */
#define STUCK_MS	200	/* slots full, none freed for this long */
#define DEFER_MS	1000	/* a stuck endpoint's overflow comes back then, */
#define DEFER_MAX_MS	30000	/* or later the longer it has been stuck */
#define BURST_DEFER_MS	50	/* a healthy one's, as soon as it drained */
#define RATE_WINDOW_MS	100	/* completions are counted per window */
#define QUEUE_MS	250	/* a healthy queue may hold this much work */
#define FORGET_MS	30000	/* an idle endpoint is kept this long */

struct endpoint {
	char			*sid;
	size_t			 inflight;
	size_t			 nqueued;
	int			 ready;		/* on the ready list */
	int64_t			 progress;	/* mono ms of last freed slot */
	int64_t			 win_start;	/* mono ms */
	size_t			 win_done;	/* completions in the window */
	double			 rate;		/* completions/s, smoothed */
	double			 rl_line;	/* mono ms: where this dispatcher
						   lines up what its rate_limit
						   refused (endpoint_refused) */
	TAILQ_HEAD(dqueue, delivery) queue;
	TAILQ_ENTRY(endpoint)	 ready_link;
	struct endpoint		*next;		/* hash chain */
};

static struct endpoint		*table[BUCKETS];
/* Told by their owners (endpoint_init, endpoint_on_room). */
static delivery_defer_fn	*defer_cb;
static void			(*room_cb)(void);
static TAILQ_HEAD(, endpoint)	 ready = TAILQ_HEAD_INITIALIZER(ready);

static size_t
hash(const char *s)
{
	return (wh_hash(s, strlen(s)) % BUCKETS);
}

static struct endpoint *
lookup(const char *sid, int create)
{
	struct endpoint	*ep;
	size_t		 h = hash(sid);

	for (ep = table[h]; ep != NULL; ep = ep->next) {
		if (strcmp(ep->sid, sid) == 0)
			return (ep);
	}
	if (!create || (ep = calloc(1, sizeof(*ep))) == NULL)
		return (NULL);
	if ((ep->sid = strdup(sid)) == NULL) {
		free(ep);
		return (NULL);
	}
	TAILQ_INIT(&ep->queue);
	ep->next = table[h];
	table[h] = ep;
	return (ep);
}

/*
 * An endpoint with nothing queued and nothing in flight for FORGET_MS is
 * forgotten (its learnt rate with it); endpoint_trim() looks.
 */
static void
maybe_forget(struct endpoint *ep, int64_t now)
{
	struct endpoint	**pp;

	if (ep->inflight > 0 || ep->nqueued > 0 || ep->ready ||
	    now - ep->progress < FORGET_MS)
		return;
	for (pp = &table[hash(ep->sid)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	free(ep->sid);
	free(ep);
}

static void
mark_ready(struct endpoint *ep)
{
	if (ep->ready || ep->nqueued == 0 ||
	    ep->inflight >= (size_t)d.cfg.endpoint_concurrency)
		return;
	TAILQ_INSERT_TAIL(&ready, ep, ready_link);
	ep->ready = 1;
}

/* Start deliveries while there are free slots, one endpoint at a time. */
void
endpoint_start_ready(void)
{
	struct endpoint	*ep;
	struct delivery	*dl;

	while (d.inflight < (size_t)d.cfg.concurrency &&
	    (ep = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, ep, ready_link);
		ep->ready = 0;
		dl = TAILQ_FIRST(&ep->queue);
		TAILQ_REMOVE(&ep->queue, dl, queue);
		ep->nqueued--;
		d.queued--;
		ep->inflight++;
		ratelimit_start(dl);
		mark_ready(ep);
	}
}

static int
stuck(const struct endpoint *ep, int64_t now)
{
	return (ep->inflight >= (size_t)d.cfg.endpoint_concurrency &&
	    now - ep->progress > STUCK_MS);
}

/*
 * How long a stuck endpoint's overflow waits: as long as it has been
 * stuck (at least DEFER_MS, at most DEFER_MAX_MS), so a dead endpoint's
 * deliveries do not cycle through Redis every second for hours.
 */
static int64_t
stuck_delay(const struct endpoint *ep, int64_t now)
{
	int64_t	for_ms = now - ep->progress;

	if (for_ms < DEFER_MS)
		return (DEFER_MS);
	return (for_ms > DEFER_MAX_MS ? DEFER_MAX_MS : for_ms);
}

static size_t
queue_limit(const struct endpoint *ep, int64_t now)
{
	size_t	rounds, by_rate;

	/* Stuck, or not one answer yet: one round (a dead one must not
	 * fill the queue while it is being found out). */
	if (stuck(ep, now) || (ep->rate == 0 && ep->win_done == 0))
		return ((size_t)d.cfg.endpoint_concurrency);
	rounds = (size_t)d.cfg.endpoint_concurrency * QUEUE_ROUNDS;
	by_rate = (size_t)(ep->rate * QUEUE_MS / 1000);
	if (by_rate > (size_t)d.cfg.concurrency)
		by_rate = (size_t)d.cfg.concurrency;
	return (by_rate > rounds ? by_rate : rounds);
}

/* Count one completion into the endpoint's smoothed rate. */
static void
rate_count(struct endpoint *ep, int64_t now)
{
	double	r;

	ep->win_done++;
	if (ep->win_start == 0)
		ep->win_start = now;
	if (now - ep->win_start < RATE_WINDOW_MS)
		return;
	r = (double)ep->win_done * 1000.0 / (double)(now - ep->win_start);
	ep->rate = ep->rate == 0 ? r : (ep->rate + r) / 2;
	ep->win_start = now;
	ep->win_done = 0;
}

/*
 * Defer what an endpoint queued beyond its limit (newest first): a stuck
 * one keeps one round, a slow one a quarter second of its rate, once the
 * rate is known.
 */
void
endpoint_trim(void)
{
	struct endpoint	*ep, *next;
	struct delivery	*dl;
	int64_t		 now = wh_mono_ms();
	size_t		 i, limit;

	for (i = 0; i < BUCKETS; i++) {
		for (ep = table[i]; ep != NULL; ep = next) {
			next = ep->next;
			if (ep->inflight == 0 && ep->nqueued == 0) {
				maybe_forget(ep, now);
				continue;
			}
			limit = queue_limit(ep, now);
			while (ep->nqueued > limit &&
			    (dl = TAILQ_LAST(&ep->queue, dqueue)) != NULL) {
				/* Not confirmed ours (after a pause, which
				 * also made it look stuck): kept for now. */
				if (entry_owned(dl->entry) != OWN_YES)
					break;
				TAILQ_REMOVE(&ep->queue, dl, queue);
				ep->nqueued--;
				d.queued--;
				dl->ep = NULL;
				if (stuck(ep, now))
					defer_cb(dl, stuck_delay(ep, now),
					    "endpoint stuck");
				else
					defer_cb(dl, BURST_DEFER_MS,
					    "endpoint busy");
			}
		}
	}
	room_cb();
}

/*
 * 1 when a delivery to endpoint sid would be deferred now, with the delay
 * and the reason; consume.c asks before it builds the delivery, so a dead
 * endpoint's overflow costs no decoding of its webhook and keys.
 */
int
endpoint_full(const char *sid, int64_t *delay_ms, const char **why)
{
	struct endpoint	*ep;
	int64_t		 now = wh_mono_ms();

	if ((ep = lookup(sid, 0)) == NULL ||
	    ep->nqueued < queue_limit(ep, now))
		return (0);
	if (stuck(ep, now)) {
		*delay_ms = stuck_delay(ep, now);
		*why = "endpoint stuck";
	} else {
		*delay_ms = BURST_DEFER_MS;
		*why = "endpoint busy";
	}
	return (1);
}

void
endpoint_enqueue(struct delivery *dl)
{
	struct endpoint	*ep;
	const char	*why;
	int64_t		 delay;

	if ((ep = lookup(dl->hook->sid, 1)) == NULL) {
		defer_cb(dl, DEFER_MS, "out of memory");
		return;
	}
	if (ep->inflight == 0 && ep->nqueued == 0)
		ep->progress = wh_mono_ms();
	if (endpoint_full(dl->hook->sid, &delay, &why)) {
		defer_cb(dl, delay, why);
		return;
	}
	dl->ep = ep;
	TAILQ_INSERT_TAIL(&ep->queue, dl, queue);
	ep->nqueued++;
	d.queued++;
	mark_ready(ep);
	endpoint_start_ready();
}

/* A transfer of dl's endpoint has ended: its slot is free again. */
void
endpoint_release(struct delivery *dl)
{
	struct endpoint	*ep = dl->ep;

	if (ep == NULL)
		return;
	dl->ep = NULL;
	ep->inflight--;
	ep->progress = wh_mono_ms();
	rate_count(ep, ep->progress);
	mark_ready(ep);
}

/*
 * The webhook's rate limiter refused dl (ratelimit.c), or could not be
 * asked: its slot is freed without counting a completion, and it is
 * deferred without counting an attempt. The limiter's wait is the same
 * for every delivery refused at that moment, so this dispatcher lines
 * them up one interval (1 / per_second) apart instead of sending them
 * all back at once to be refused again.
 */
static void
endpoint_refused(struct delivery *dl, int64_t wait_ms, const char *why)
{
	struct endpoint	*ep = dl->ep;
	double		 now = (double)wh_mono_ms(), due = now + wait_ms;

	if (ep != NULL) {
		dl->ep = NULL;
		ep->inflight--;
		if (dl->hook->rate_per_second > 0) {
			if (ep->rl_line > due)
				due = ep->rl_line;
			ep->rl_line = due + 1000.0 / dl->hook->rate_per_second;
		}
		mark_ready(ep);
	}
	defer_cb(dl, (int64_t)(due - now + 0.999), why);
	endpoint_start_ready();
}

/*
 * defer: what becomes of a delivery not started now (delivery.c's
 * resolve_defer); the rate limiter's refusals come back here.
 */
void
endpoint_init(delivery_defer_fn *defer)
{
	defer_cb = defer;
	ratelimit_init(endpoint_refused);
}

/* room: called when trimming freed room for more work (consume.c). */
void
endpoint_on_room(void (*room)(void))
{
	room_cb = room;
}

/*
 * ratelimit.c: a webhook's rate_limit {per_second, burst}, one limiter in
 * Redis shared by every dispatcher (common/lua/ratelimit.lua, a GCRA;
 * docs/ratelimit.md). endpoint.c hands us each delivery whose slot it has
 * counted; we ask the limiter before the transfer starts ("reserve"). An
 * allowed delivery starts at once, or, when the limiter counted it for a
 * moment at most HOLD_MS away, then: it keeps its slot and waits here on
 * a timer, since the retry set moves in 100 ms steps and a small burst at
 * a high rate (1 at 50/s) would otherwise sustain a fraction of the rate.
 * The limiter spaces those moments for every dispatcher at once, so no
 * two wait for the same one. A delivery due later is deferred through
 * the retry set by the wait the limiter gave (endpoint_refused: no
 * attempt is counted), so it holds neither a slot nor its stream entry
 * meanwhile.
 * A receiver's 429 with Retry-After pauses the limiter for everyone.
 *
 * The limiter counts requests as they leave; the receiver counts them as
 * they arrive, and the time in between varies (a new connection, a busy
 * dispatcher). So that the receiver, on its own clock, never sees more
 * than burst + per_second x t in t seconds, part of the burst is kept
 * back as room for TRANSIT_MS of such variation: per_second x TRANSIT_MS
 * requests, at most burst - 1; and the limiter is asked for RATE_ROOM_PCT
 * less than per_second, room that grows with the window, for the first
 * requests to an endpoint (a new connection, a dispatcher busy with a
 * flood elsewhere) arriving late while later ones do not.
 * A ~test is never held back: it is one request a person asked for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

/* The limiter could not be asked: try again after this long. */
#define UNAVAILABLE_MS	1000
/*
 * Variation of the time from take to arrival that the burst absorbs, at
 * most burst - 1 (a burst smaller than per_second x TRANSIT_MS keeps
 * less back: docs/ratelimit.md).
 */
#define TRANSIT_MS	100
/* A delivery the limiter counts for at most this far ahead waits here. */
#define HOLD_MS		100
/*
 * A delivery that would leave later than this after the moment it was
 * counted for (the loop was busy: the answer or the timer came late)
 * asks the limiter again rather than go out of turn, bunched with the
 * ones due after it; the moment it was counted for goes unused.
 */
#define LATE_MS		10
/* The sustained rate asked for, below per_second. */
#define RATE_ROOM_PCT	2

/* The burst the limiter is asked for: the webhook's, less the room. */
/* The endpoint layer, told of a refusal (ratelimit_init). */
static ratelimit_refused_fn	*refused_cb;

void
ratelimit_init(ratelimit_refused_fn *refused)
{
	refused_cb = refused;
}

static uint32_t
burst_sent(const struct wh_webhook *w)
{
	uint64_t	room;

	room = ((uint64_t)w->rate_per_second * TRANSIT_MS + 999) / 1000;
	if (room > w->rate_burst - 1)
		room = w->rate_burst - 1;
	return (w->rate_burst - (uint32_t)room);
}

/* A delivery waiting for the moment the limiter counted it for. */
struct rl_hold {
	struct loop_timer	 t;
	struct delivery		*dl;
	int64_t			 due;	/* mono ms, at the earliest */
};

/* Send dl counted for mono ms due, or ask again if that is long past. */
static void
go(struct delivery *dl, int64_t due)
{
	if (wh_mono_ms() - due > LATE_MS && !d.stopping)
		ratelimit_start(dl);
	else
		deliver_start(dl);
}

static void
hold_fire(void *arg)
{
	struct rl_hold	*h = arg;
	struct delivery	*dl = h->dl;
	int64_t		 due = h->due;

	free(h);
	d.inflight--;		/* counted again by either */
	go(dl, due);
}

/*
 * Reply to reserve: {1, 0} allowed now, {1, wait_ms} allowed then (and
 * counted), {0, wait_ms} not (ratelimit.lua).
 */
static void
on_take(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;
	redisReply	*reply = r;
	struct rl_hold	*h;
	long long	 wait;

	(void)w;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER) {
		d.inflight--;
		refused_cb(dl, UNAVAILABLE_MS, "rate limiter "
		    "unavailable");
		return;
	}
	wait = reply->element[1]->integer;
	if (reply->element[0]->integer == 1 && wait > 0 &&
	    (h = calloc(1, sizeof(*h))) != NULL) {
		/* Counted for then: the slot stays held (and drained). */
		h->dl = dl;
		h->due = dl->rl_asked + wait;
		loop_timer_init(&h->t, hold_fire, h);
		loop_timer_arm(&h->t, h->due - wh_mono_ms());
		return;
	}
	d.inflight--;		/* counted again by go() */
	if (reply->element[0]->integer == 1) {
		go(dl, dl->rl_asked + wait);	/* also when no memory */
		return;
	}
	if (wait < 1)
		wait = 1;
	d.n_rate_limited++;
	refused_cb(dl, wait, "rate limited");
}

/* Start dl, through its webhook's limiter when it has one. */
void
ratelimit_start(struct delivery *dl)
{
	const char	*argv[5];
	size_t		 lens[5];
	char		 key[WH_KEY_MAX], rate[32], burst[16], hold[16];

	if (dl->hook->rate_per_second == 0 || dl->entry->reply_key != NULL) {
		deliver_start(dl);
		return;
	}
	if (wh_key_webhook_rate(key, sizeof(key), d.cfg.prefix,
	    dl->hook->sid) == -1) {
		refused_cb(dl, UNAVAILABLE_MS, "rate limiter key");
		return;
	}
	(void)snprintf(rate, sizeof(rate), "%.3f", dl->hook->rate_per_second *
	    (100 - RATE_ROOM_PCT) / 100.0);
	(void)snprintf(burst, sizeof(burst), "%u", burst_sent(dl->hook));
	argv[0] = key; lens[0] = strlen(key);
	(void)snprintf(hold, sizeof(hold), "%d", HOLD_MS);
	argv[1] = "reserve"; lens[1] = 7;
	argv[2] = rate; lens[2] = strlen(rate);
	argv[3] = burst; lens[3] = strlen(burst);
	argv[4] = hold; lens[4] = strlen(hold);
	/* The slot stays counted while the limiter answers. */
	d.inflight++;
	dl->rl_asked = wh_mono_ms();
	if (rconn_script(&d.main, wh_lua_ratelimit, on_take, dl, 1, 5, argv,
	    lens) == -1) {
		d.inflight--;
		refused_cb(dl, UNAVAILABLE_MS, "rate limiter "
		    "unavailable");
	}
}

static void
on_paused(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	(void)w;
	(void)priv;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_WARN, "could not pause the rate limiter",
		    "error", reply != NULL ? reply->str : "redis down", NULL);
}

/*
 * The receiver answered 429 with a Retry-After: no dispatcher sends to
 * it again before pause_ms (the caller bounds it like the retry it
 * schedules). Only for webhooks with a rate_limit, the only ones whose
 * deliveries ask the limiter.
 */
void
ratelimit_pause(const struct delivery *dl, int64_t pause_ms)
{
	const char	*argv[3];
	size_t		 lens[3];
	char		 key[WH_KEY_MAX], ms[24];

	if (dl->hook->rate_per_second == 0 || pause_ms <= 0 ||
	    wh_key_webhook_rate(key, sizeof(key), d.cfg.prefix,
	    dl->hook->sid) == -1)
		return;
	(void)snprintf(ms, sizeof(ms), "%lld", (long long)pause_ms);
	argv[0] = key; lens[0] = strlen(key);
	argv[1] = "pause"; lens[1] = 5;
	argv[2] = ms; lens[2] = strlen(ms);
	(void)rconn_script(&d.main, wh_lua_ratelimit, on_paused, NULL, 1, 3,
	    argv, lens);
}

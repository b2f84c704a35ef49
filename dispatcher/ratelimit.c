/*
 * ratelimit.c: a webhook's rate_limit {per_second, burst}, one limiter in
 * Redis shared by every dispatcher (common/lua/ratelimit.lua, a GCRA;
 * docs/ratelimit.md). endpoint.c hands us each delivery whose slot it has
 * counted; we ask the limiter ("take") before the transfer starts. An
 * allowed delivery starts at once; a refused one is deferred through the
 * retry set by the wait the limiter gave (endpoint_refused: no attempt is
 * counted), so it holds neither a slot nor its stream entry meanwhile.
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
#include <string.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"

/* The limiter could not be asked: try again after this long. */
#define UNAVAILABLE_MS	1000
/*
 * Variation of the time from take to arrival that the burst absorbs. No
 * more: refusals come back through the retry set every 100 ms, so the
 * limiter must let per_second x 100 ms through at once to sustain it.
 */
#define TRANSIT_MS	100
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

/* Reply to take: {1, 0} allowed, {0, wait_ms} not (ratelimit.lua). */
static void
on_take(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;
	redisReply	*reply = r;
	long long	 wait;

	(void)w;
	d.inflight--;		/* deliver_start() counts it again */
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER) {
		refused_cb(dl, UNAVAILABLE_MS, "rate limiter "
		    "unavailable");
		return;
	}
	if (reply->element[0]->integer == 1) {
		deliver_start(dl);
		return;
	}
	wait = reply->element[1]->integer;
	if (wait < 1)
		wait = 1;
	d.n_rate_limited++;
	refused_cb(dl, wait, "rate limited");
}

/* Start dl, through its webhook's limiter when it has one. */
void
ratelimit_start(struct delivery *dl)
{
	const char	*argv[4];
	size_t		 lens[4];
	char		 key[WH_KEY_MAX], rate[32], burst[16];

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
	argv[1] = "take"; lens[1] = 4;
	argv[2] = rate; lens[2] = strlen(rate);
	argv[3] = burst; lens[3] = strlen(burst);
	/* The slot stays counted while the limiter answers. */
	d.inflight++;
	if (rconn_script(&d.main, wh_lua_ratelimit, on_take, dl, 1, 4, argv,
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

/*
 * metrics.c: this dispatcher's figures for the api's GET /metrics.
 *
 * The counters live in struct dispatcher (bumped where things happen);
 * the attempt latency histogram is kept here, fed by deliver.c as each
 * transfer ends. A loop timer publishes them every WH_METRICS_EVERY_MS
 * on the main connection (common/lua/metrics.lua, at most one publish
 * in flight, never waited for); the api sums every live instance. On a
 * clean stop a last publish ("leave") hands the totals over at once, so
 * the dispatcher leaves the live count without waiting to go stale.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "metrics.h"

static struct wh_mpub		pub;
static struct wh_hist		attempt_latency;
static struct loop_timer	pub_timer;
static int			pub_ready;

void
metrics_attempt(int64_t ms)
{
	wh_hist_observe(&attempt_latency, ms * 1000);
}

static int
metrics_collect(struct wh_mset *set)
{
	static const char *const	outcomes[3] = {
		"outcome=\"succeeded\"", "outcome=\"retrying\"",
		"outcome=\"dead\"",
	};
	const uint64_t			attempts[3] = {
		d.n_delivered, d.n_retried, d.n_dead,
	};
	size_t				i;
	int				rc = 0;

	rc |= wh_mset_counter(set, "webhooks_dispatcher_events_total", "",
	    d.n_events);
	rc |= wh_mset_counter(set, "webhooks_dispatcher_claimed_total", "",
	    d.n_claimed);
	rc |= wh_mset_counter(set, "webhooks_dispatcher_malformed_total", "",
	    d.n_malformed);
	for (i = 0; i < 3; i++)
		rc |= wh_mset_counter(set, "webhooks_delivery_attempts_total",
		    outcomes[i], attempts[i]);
	rc |= wh_mset_counter(set, "webhooks_deliveries_parked_total", "",
	    d.n_parked);
	rc |= wh_mset_counter(set, "webhooks_deliveries_filtered_total", "",
	    d.n_filtered);
	rc |= wh_mset_counter(set, "webhooks_deliveries_rate_limited_total",
	    "", d.n_rate_limited);
	rc |= wh_mset_hist(set, "webhooks_delivery_attempt_duration_seconds",
	    "", &attempt_latency);
	rc |= wh_mset_gauge(set, "webhooks_dispatcher_inflight", "",
	    (int64_t)d.inflight);
	rc |= wh_mset_gauge(set, "webhooks_dispatcher_queued", "",
	    (int64_t)d.queued);
	return (rc != 0 ? -1 : 0);
}

static void
on_published(struct wh_wire *w, void *r, void *priv)
{
	wh_mpub_reply(&pub, r);
}

static void
publish(const char *mode)
{
	struct wh_mset	set;
	struct wh_mcall	call;

	if (!pub_ready || !d.main.conn.ready)
		return;
	wh_mset_init(&set);
	if (metrics_collect(&set) == -1 || wh_mcall_build(&call, &pub.keys,
	    mode, pub.self, pub.id, &set) == -1) {
		wh_log(WH_LOG_ERROR, "out of memory (metrics)", NULL);
		wh_mset_free(&set);
		return;
	}
	if (rconn_cmd(&d.main, on_published, NULL, call.argc, call.argv,
	    call.lens) == 0)
		pub.busy = 1;
	wh_mcall_free(&call);
	wh_mset_free(&set);
}

static void
metrics_tick(void *arg)
{
	if (!pub.busy)
		publish("publish");
	loop_timer_arm(&pub_timer, WH_METRICS_EVERY_MS);
}

int
metrics_start(void)
{
	if (wh_mpub_init(&pub, d.cfg.prefix, "dispatcher", d.consumer) == -1)
		return (-1);
	pub_ready = 1;
	loop_timer_init(&pub_timer, metrics_tick, NULL);
	loop_timer_arm(&pub_timer, 0);
	return (0);
}

/* Draining: the last figures, folded into the totals at once. */
void
metrics_leave(void)
{
	loop_timer_disarm(&pub_timer);
	publish("leave");
}

/*
 * metrics.c: this api worker's own figures for GET /metrics: requests by
 * route pattern (never the raw path, which holds ids), method and status;
 * a latency histogram per route and method; events published by outcome.
 *
 * Kore runs several worker processes, each with its own counters. Each
 * keeps them here, in memory, and a Kore timer publishes them every
 * WH_METRICS_EVERY_MS on the worker's async Redis connection (at most one
 * publish in flight, never waiting for it), where metrics_text.c sums
 * every live worker and dispatcher at scrape time.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#define ROUTE_STATS_MAX		64	/* route pattern x method */
#define STATUS_STATS_MAX	512	/* of those x status */
#define NO_ROUTE		"other"	/* the label when none matched */

struct route_stat {
	const char	*pattern;	/* NULL: no route matched */
	int		 method;
	struct wh_hist	 latency;
};

struct status_stat {
	size_t		 route;		/* index into route_stats */
	int		 status;
	uint64_t	 n;
};

static struct route_stat	route_stats[ROUTE_STATS_MAX];
static size_t			nroute_stats;
static struct status_stat	status_stats[STATUS_STATS_MAX];
static size_t			nstatus_stats;
static uint64_t			events_published[3];
static struct wh_mpub		pub;
static int			pub_ready;

static const char *const	outcome_names[3] = {
	"accepted", "duplicate", "conflict",
};

/* The route_stats slot of pattern and method, made if new; -1 if full. */
static int
route_slot(const char *pattern, int method, size_t *at)
{
	size_t	i;

	for (i = 0; i < nroute_stats; i++) {
		if (route_stats[i].pattern == pattern &&
		    route_stats[i].method == method) {
			*at = i;
			return (0);
		}
	}
	if (nroute_stats == ROUTE_STATS_MAX)
		return (-1);
	route_stats[nroute_stats].pattern = pattern;
	route_stats[nroute_stats].method = method;
	*at = nroute_stats++;
	return (0);
}

void
api_metrics_request(struct api_ctx *ctx)
{
	const char	*pattern;
	size_t		 r, i;

	if (ctx->req == NULL)
		return;
	pattern = ctx->route != NULL ? ctx->route->pattern : NULL;
	if (route_slot(pattern, ctx->req->method, &r) == -1)
		return;
	wh_hist_observe(&route_stats[r].latency,
	    wh_mono_us() - ctx->started_us);
	for (i = 0; i < nstatus_stats; i++) {
		if (status_stats[i].route == r &&
		    status_stats[i].status == ctx->status)
			break;
	}
	if (i == nstatus_stats) {
		if (nstatus_stats == STATUS_STATS_MAX)
			return;
		status_stats[i].route = r;
		status_stats[i].status = ctx->status;
		nstatus_stats++;
	}
	status_stats[i].n++;
}

void
api_metrics_events(size_t accepted, size_t duplicates, size_t conflicts)
{
	events_published[0] += accepted;
	events_published[1] += duplicates;
	events_published[2] += conflicts;
}

/* "/v1/webhooks/:/signing-keys/:" is shown "/v1/webhooks/{id}/...". */
static int
route_labels(struct wh_buf *b, const struct route_stat *rs)
{
	char		 route[128];
	const char	*p;
	size_t		 n = 0;

	if (rs->pattern == NULL)
		(void)snprintf(route, sizeof(route), "%s", NO_ROUTE);
	else {
		for (p = rs->pattern; *p != '\0' && n + 5 < sizeof(route);
		    p++) {
			if (*p == ':' && p > rs->pattern && p[-1] == '/' &&
			    (p[1] == '/' || p[1] == '\0')) {
				memcpy(route + n, "{id}", 4);
				n += 4;
			} else
				route[n++] = *p;
		}
		route[n] = '\0';
	}
	wh_buf_reset(b);
	return (wh_label_add(b, "route", route) == -1 ||
	    wh_label_add(b, "method", http_method_text(rs->method)) == -1 ?
	    -1 : 0);
}

/* Everything this worker counted, as the series it publishes. */
static int
metrics_collect(struct wh_mset *set)
{
	struct wh_buf	 labels;
	char		 status[8];
	size_t		 i;
	int		 rc = 0;

	wh_buf_init(&labels, 0);
	for (i = 0; i < nroute_stats && rc == 0; i++) {
		rc |= route_labels(&labels, &route_stats[i]);
		rc |= wh_mset_hist(set, "webhooks_api_request_duration_seconds",
		    labels.data, &route_stats[i].latency);
	}
	for (i = 0; i < nstatus_stats && rc == 0; i++) {
		(void)snprintf(status, sizeof(status), "%d",
		    status_stats[i].status);
		rc |= route_labels(&labels,
		    &route_stats[status_stats[i].route]);
		rc |= wh_label_add(&labels, "status", status);
		rc |= wh_mset_counter(set, "webhooks_api_requests_total",
		    labels.data, status_stats[i].n);
	}
	for (i = 0; i < 3 && rc == 0; i++) {
		wh_buf_reset(&labels);
		rc |= wh_label_add(&labels, "outcome", outcome_names[i]);
		rc |= wh_mset_counter(set, "webhooks_api_events_published_total",
		    labels.data, events_published[i]);
	}
	wh_buf_free(&labels);
	return (rc != 0 ? -1 : 0);
}

static void
on_published(struct wh_wire *w, void *r, void *priv)
{
	wh_mpub_reply(&pub, r);
}

static void
metrics_tick(void *arg, u_int64_t now)
{
	struct wh_mset	set;
	struct wh_mcall	call;

	if (!pub_ready || pub.busy || !api_redis_ready())
		return;
	wh_mset_init(&set);
	if (metrics_collect(&set) == -1 || wh_mcall_build(&call, &pub.keys,
	    "publish", pub.self, pub.id, &set) == -1) {
		wh_log(WH_LOG_ERROR, "out of memory (metrics)", NULL);
		wh_mset_free(&set);
		return;
	}
	if (api_redis_send(on_published, NULL, call.argc, call.argv,
	    call.lens) == 0)
		pub.busy = 1;
	wh_mcall_free(&call);
	wh_mset_free(&set);
}

/* Worker start: name this worker in the registry, publish each second. */
void
api_metrics_start(void)
{
	char	host[64], unique[128];

	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(unique, sizeof(unique), "%s:%ld:%lld", host,
	    (long)getpid(), (long long)wh_now_ms());
	if (wh_mpub_init(&pub, api_cfg.prefix, "api", unique) == -1) {
		wh_log(WH_LOG_ERROR, "metrics keys too long (WH_REDIS_PREFIX)",
		    NULL);
		return;
	}
	pub_ready = 1;
	(void)kore_timer_add(metrics_tick, WH_METRICS_EVERY_MS, NULL, 0);
}

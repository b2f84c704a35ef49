/*
 * metrics.c: the api's own figures for GET /metrics: requests by route
 * pattern (never the raw path, which holds ids), method and status; a
 * latency histogram per route and method; events published by outcome;
 * each worker's CPU time, memory and descriptors.
 *
 * Kore runs several worker processes. Each counts in its own slot of a
 * table the parent maps shared before it forks them, so that whichever
 * worker answers a scrape shows the sum of every worker of this api
 * (one pod, one instance: Prometheus' sum() over the pods is then
 * right), and Redis is not needed to show them. A worker only writes its
 * own slot; the others read it while it may be changing, with atomic
 * loads: each figure is whole, a scrape is not a snapshot across them.
 * A worker Kore restarts takes the slot of the one it replaces (same
 * worker id), so its counters go on from where they were.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#define WORKERS_MAX		64	/* WH_API_WORKERS' bound */
#define ROUTE_STATS_MAX		64	/* route pattern x method */
#define STATUS_STATS_MAX	512	/* of those x status */
#define NO_ROUTE		"other"	/* the label when none matched */
#define TICK_MS			1000	/* a worker's own figures refreshed */
#define LIVE_MS			5000	/* a worker not refreshed: gone */

struct route_stat {
	const char	*pattern;	/* NULL: no route matched; the same
					   address in every forked worker */
	int		 method;
	struct wh_hist	 latency;
};

struct status_stat {
	size_t		 route;		/* index into route */
	int		 status;
	uint64_t	 n;
};

struct worker_stats {
	int64_t			seen_ms;	/* mono; 0 = never ran */
	uint64_t		cpu_before_us;	/* of the workers it replaced */
	uint64_t		cpu_us;		/* this process' own */
	int64_t			rss;
	int64_t			fds;
	size_t			nroute;		/* stored with release */
	struct route_stat	route[ROUTE_STATS_MAX];
	size_t			nstatus;	/* stored with release */
	struct status_stat	status[STATUS_STATS_MAX];
	uint64_t		events[3];
	uint64_t		spans[2];	/* exported, dropped */
};

static struct worker_stats	*slots;		/* WORKERS_MAX, shared */
static struct worker_stats	*me;

static const char *const	outcome_names[3] = {
	"accepted", "duplicate", "conflict",
};

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* The route slot of pattern and method, made if new; -1 if full. */
static int
route_slot(const char *pattern, int method, size_t *at)
{
	size_t	i, n = me->nroute;

	for (i = 0; i < n; i++) {
		if (me->route[i].pattern == pattern &&
		    me->route[i].method == method) {
			*at = i;
			return (0);
		}
	}
	if (n == ROUTE_STATS_MAX)
		return (-1);
	me->route[n].pattern = pattern;
	me->route[n].method = method;
	/* Readers see the entry before they see it counted. */
	__atomic_store_n(&me->nroute, n + 1, __ATOMIC_RELEASE);
	*at = n;
	return (0);
}

void
api_metrics_request(struct api_ctx *ctx)
{
	const char	*pattern;
	size_t		 r, i, n;

	if (ctx->req == NULL || me == NULL)
		return;
	pattern = ctx->route != NULL ? ctx->route->pattern : NULL;
	if (route_slot(pattern, ctx->req->method, &r) == -1)
		return;
	wh_hist_observe(&me->route[r].latency,
	    wh_mono_us() - ctx->started_us);
	n = me->nstatus;
	for (i = 0; i < n; i++) {
		if (me->status[i].route == r &&
		    me->status[i].status == ctx->status)
			break;
	}
	if (i == n) {
		if (n == STATUS_STATS_MAX)
			return;
		me->status[i].route = r;
		me->status[i].status = ctx->status;
		me->status[i].n = 0;
		__atomic_store_n(&me->nstatus, n + 1, __ATOMIC_RELEASE);
	}
	STORE(&me->status[i].n, me->status[i].n + 1);
}

void
api_metrics_events(size_t accepted, size_t duplicates, size_t conflicts)
{
	if (me == NULL)
		return;
	STORE(&me->events[0], me->events[0] + accepted);
	STORE(&me->events[1], me->events[1] + duplicates);
	STORE(&me->events[2], me->events[2] + conflicts);
}

/* tracing.c: this worker's span counts, as they change. */
void
api_metrics_spans(uint64_t exported, uint64_t dropped)
{
	if (me == NULL)
		return;
	STORE(&me->spans[0], exported);
	STORE(&me->spans[1], dropped);
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

/* A histogram another worker may be adding to, figure by figure. */
static void
hist_load(struct wh_hist *to, const struct wh_hist *from)
{
	size_t	i;

	for (i = 0; i < WH_HIST_BUCKETS; i++)
		to->bucket[i] = LOAD(&from->bucket[i]);
	to->count = LOAD(&from->count);
	to->sum_us = LOAD(&from->sum_us);
}

/* One worker's figures, as series (the renderer adds the workers up). */
static int
collect_worker(struct wh_mset *set, struct worker_stats *w, int live)
{
	struct wh_buf	 labels;
	struct wh_hist	 h;
	char		 status[8];
	size_t		 i, nroute, nstatus;
	int		 rc = 0;

	nroute = __atomic_load_n(&w->nroute, __ATOMIC_ACQUIRE);
	nstatus = __atomic_load_n(&w->nstatus, __ATOMIC_ACQUIRE);
	wh_buf_init(&labels, 0);
	for (i = 0; i < nroute && rc == 0; i++) {
		hist_load(&h, &w->route[i].latency);
		rc |= route_labels(&labels, &w->route[i]);
		rc |= wh_mset_hist(set, "webhooks_api_request_duration_seconds",
		    labels.data, &h);
	}
	for (i = 0; i < nstatus && rc == 0; i++) {
		if (w->status[i].route >= nroute)
			continue;
		(void)snprintf(status, sizeof(status), "%d",
		    w->status[i].status);
		rc |= route_labels(&labels, &w->route[w->status[i].route]);
		rc |= wh_label_add(&labels, "status", status);
		rc |= wh_mset_counter(set, "webhooks_api_requests_total",
		    labels.data, LOAD(&w->status[i].n));
	}
	for (i = 0; i < 3 && rc == 0; i++) {
		wh_buf_reset(&labels);
		rc |= wh_label_add(&labels, "outcome", outcome_names[i]);
		rc |= wh_mset_counter(set, "webhooks_api_events_published_total",
		    labels.data, LOAD(&w->events[i]));
	}
	wh_buf_free(&labels);
	rc |= wh_mset_counter(set, "webhooks_trace_spans_exported_total", "",
	    LOAD(&w->spans[0]));
	rc |= wh_mset_counter(set, "webhooks_trace_spans_dropped_total", "",
	    LOAD(&w->spans[1]));
	rc |= wh_mset_micros(set, "webhooks_process_cpu_seconds_total", "",
	    LOAD(&w->cpu_before_us) + LOAD(&w->cpu_us));
	if (live) {
		rc |= wh_mset_gauge(set, "webhooks_process_resident_memory_bytes",
		    "", LOAD(&w->rss));
		rc |= wh_mset_gauge(set, "webhooks_process_open_fds", "",
		    LOAD(&w->fds));
	}
	return (rc != 0 ? -1 : 0);
}

/*
 * Every worker of this api: counters of those gone too (a total never
 * goes down), gauges of the live ones, and how many are live.
 */
int
api_metrics_collect(struct wh_mset *set)
{
	int64_t	now = wh_mono_ms(), seen;
	size_t	i;
	int	live, nlive = 0, rc = 0;

	if (slots == NULL)
		return (wh_mset_gauge(set, "webhooks_api_workers", "", 0));
	for (i = 0; i < WORKERS_MAX && rc == 0; i++) {
		if ((seen = LOAD(&slots[i].seen_ms)) == 0)
			continue;
		live = now - seen < LIVE_MS;
		nlive += live;
		rc |= collect_worker(set, &slots[i], live);
	}
	rc |= wh_mset_gauge(set, "webhooks_api_workers", "", nlive);
	return (rc != 0 ? -1 : 0);
}

/* This worker's own process figures, read from /proc/self. */
static void
refresh_self(void)
{
	struct wh_mset	 set;
	const char	*p, *v;
	size_t		 i;

	wh_mset_init(&set);
	if (wh_mset_process(&set) == 0) {
		p = set.text.data;
		for (i = 0; i < set.n; i++) {
			v = p + strlen(p) + 1;
			if (strcmp(p, "uwebhooks_process_cpu_seconds_total") == 0)
				STORE(&me->cpu_us, strtoull(v, NULL, 10));
			else if (strcmp(p,
			    "gwebhooks_process_resident_memory_bytes") == 0)
				STORE(&me->rss, strtoll(v, NULL, 10));
			else if (strcmp(p, "gwebhooks_process_open_fds") == 0)
				STORE(&me->fds, strtoll(v, NULL, 10));
			p = v + strlen(v) + 1;
		}
	}
	wh_mset_free(&set);
	STORE(&me->seen_ms, wh_mono_ms());
}

static void
metrics_tick(void *arg, u_int64_t now)
{
	refresh_self();
}

/* The parent, before it forks the workers: the shared table. */
int
api_metrics_init(void)
{
	void	*p;

	p = mmap(NULL, WORKERS_MAX * sizeof(*slots), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	slots = p;
	return (0);
}

/* Worker start: take this worker's slot, refresh it each second. */
void
api_metrics_start(void)
{
	if (slots == NULL || worker == NULL || worker->id < 1 ||
	    worker->id > WORKERS_MAX) {
		wh_log(WH_LOG_ERROR, "no metrics slot for this worker", NULL);
		return;
	}
	me = &slots[worker->id - 1];
	/* A restarted worker's CPU time starts again from 0. */
	STORE(&me->cpu_before_us, me->cpu_before_us + me->cpu_us);
	STORE(&me->cpu_us, 0);
	refresh_self();
	(void)kore_timer_add(metrics_tick, TICK_MS, NULL, 0);
}

/*
 * metrics.c: histograms, the series an instance publishes and the calls
 * of common/lua/metrics.lua (see metrics.h). Values travel as decimal
 * integers so that the script can add them exactly; histogram sums are
 * therefore kept in microseconds and turned into seconds by the api when
 * it renders them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "scripts.h"

const char *const	wh_hist_le[WH_HIST_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
	"0.5", "1", "2.5", "5", "10", "30",
};

static const int64_t	hist_bound_us[WH_HIST_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000,
};

/* Arguments of metrics.lua before the field, value pairs. */
#define CALL_HEAD	11

void
wh_hist_observe(struct wh_hist *h, int64_t us)
{
	size_t	i;

	if (us < 0)
		us = 0;
	for (i = 0; i < WH_HIST_BUCKETS; i++) {
		if (us <= hist_bound_us[i]) {
			h->bucket[i]++;
			break;
		}
	}
	h->count++;
	h->sum_us += (uint64_t)us;
}

void
wh_mset_init(struct wh_mset *s)
{
	wh_buf_init(&s->text, 0);
	s->n = 0;
}

void
wh_mset_free(struct wh_mset *s)
{
	wh_buf_free(&s->text);
	s->n = 0;
}

/* One pair: kind, name, {labels} (or {labels,extra}), NUL, value, NUL. */
static int
mset_put(struct wh_mset *s, char kind, const char *name, const char *labels,
    const char *extra, const char *value)
{
	int	rc = 0;

	rc |= wh_buf_append(&s->text, &kind, 1);
	rc |= wh_buf_appendstr(&s->text, name);
	if (labels[0] != '\0' || extra != NULL) {
		rc |= wh_buf_appendf(&s->text, "{%s%s%s}", labels,
		    labels[0] != '\0' && extra != NULL ? "," : "",
		    extra != NULL ? extra : "");
	}
	rc |= wh_buf_append(&s->text, "", 1);
	rc |= wh_buf_appendstr(&s->text, value);
	rc |= wh_buf_append(&s->text, "", 1);
	if (rc != 0)
		return (-1);
	s->n++;
	return (0);
}

int
wh_mset_counter(struct wh_mset *s, const char *name, const char *labels,
    uint64_t v)
{
	char	num[24];

	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return (mset_put(s, 'c', name, labels, NULL, num));
}

int
wh_mset_gauge(struct wh_mset *s, const char *name, const char *labels,
    int64_t v)
{
	char	num[24];

	(void)snprintf(num, sizeof(num), "%lld", (long long)v);
	return (mset_put(s, 'g', name, labels, NULL, num));
}

int
wh_mset_hist(struct wh_mset *s, const char *name, const char *labels,
    const struct wh_hist *h)
{
	char		 series[128], le[32], num[24];
	uint64_t	 below = 0;
	size_t		 i;

	(void)snprintf(series, sizeof(series), "%s_bucket", name);
	for (i = 0; i < WH_HIST_BUCKETS; i++) {
		below += h->bucket[i];
		(void)snprintf(le, sizeof(le), "le=\"%s\"", wh_hist_le[i]);
		(void)snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)below);
		if (mset_put(s, 'c', series, labels, le, num) == -1)
			return (-1);
	}
	(void)snprintf(series, sizeof(series), "%s_sum", name);
	if (wh_mset_counter(s, series, labels, h->sum_us) == -1)
		return (-1);
	(void)snprintf(series, sizeof(series), "%s_count", name);
	return (wh_mset_counter(s, series, labels, h->count));
}

int
wh_label_add(struct wh_buf *b, const char *name, const char *value)
{
	const char	*p;
	int		 rc = 0;

	if (b->len > 0)
		rc |= wh_buf_append(b, ",", 1);
	rc |= wh_buf_appendf(b, "%s=\"", name);
	for (p = value; *p != '\0' && rc == 0; p++) {
		if (*p == '\\')
			rc |= wh_buf_appendstr(b, "\\\\");
		else if (*p == '"')
			rc |= wh_buf_appendstr(b, "\\\"");
		else if (*p == '\n')
			rc |= wh_buf_appendstr(b, "\\n");
		else
			rc |= wh_buf_append(b, p, 1);
	}
	rc |= wh_buf_append(b, "\"", 1);
	/* Kept a C string: callers pass b->data as labels. */
	rc |= wh_buf_cstr(b);
	return (rc != 0 ? -1 : 0);
}

int
wh_mkeys_init(struct wh_mkeys *k, const char *pfx)
{
	if (wh_key_metrics_instances(k->registry, sizeof(k->registry),
	    pfx) == -1 ||
	    wh_key_metrics_retired(k->retired, sizeof(k->retired), pfx) == -1 ||
	    wh_key_metrics_instance(k->prefix, sizeof(k->prefix), pfx,
	    "") == -1)
		return (-1);
	return (0);
}

int
wh_mcall_build(struct wh_mcall *c, const struct wh_mkeys *k, const char *mode,
    const char *self, const char *id, const struct wh_mset *set)
{
	const char	*p;
	size_t		 n, i;

	n = CALL_HEAD + (set != NULL ? 2 * set->n : 0);
	memset(c, 0, sizeof(*c));
	if (wh_script_sha(wh_lua_metrics) == NULL)
		return (-1);
	if ((c->argv = calloc(n, sizeof(*c->argv))) == NULL ||
	    (c->lens = calloc(n, sizeof(*c->lens))) == NULL) {
		wh_mcall_free(c);
		return (-1);
	}
	(void)snprintf(c->num[0], sizeof(c->num[0]), "%d",
	    WH_METRICS_STALE_MS);
	(void)snprintf(c->num[1], sizeof(c->num[1]), "%d", WH_METRICS_TTL_S);
	c->argv[0] = "EVALSHA";
	c->argv[1] = wh_script_sha(wh_lua_metrics);
	c->argv[2] = "3";
	c->argv[3] = k->registry;
	c->argv[4] = k->retired;
	c->argv[5] = self != NULL ? self : k->registry;
	c->argv[6] = mode;
	c->argv[7] = c->num[0];
	c->argv[8] = c->num[1];
	c->argv[9] = k->prefix;
	c->argv[10] = id != NULL ? id : "";
	for (i = 0; i < CALL_HEAD; i++)
		c->lens[i] = strlen(c->argv[i]);
	p = set != NULL ? set->text.data : NULL;
	for (; i < n; i++) {
		c->argv[i] = p;
		c->lens[i] = strlen(p);
		p += c->lens[i] + 1;
	}
	c->argc = (int)n;
	return (0);
}

void
wh_mcall_free(struct wh_mcall *c)
{
	free(c->argv);
	free(c->lens);
	c->argv = NULL;
	c->lens = NULL;
	c->argc = 0;
}

int
wh_mpub_init(struct wh_mpub *p, const char *pfx, const char *kind,
    const char *unique)
{
	int	n;

	memset(p, 0, sizeof(*p));
	n = snprintf(p->id, sizeof(p->id), "%s:%s", kind, unique);
	if (n < 0 || (size_t)n >= sizeof(p->id) ||
	    wh_mkeys_init(&p->keys, pfx) == -1 ||
	    wh_key_metrics_instance(p->self, sizeof(p->self), pfx,
	    p->id) == -1)
		return (-1);
	return (0);
}

void
wh_mpub_reply(struct wh_mpub *p, const redisReply *r)
{
	const char	*why;

	p->busy = 0;
	if (r != NULL && r->type != REDIS_REPLY_ERROR) {
		if (p->failing)
			wh_log(WH_LOG_INFO, "metrics published again", NULL);
		p->failing = 0;
		return;
	}
	/* A lost link is logged by the connection itself. */
	why = r != NULL ? r->str : NULL;
	if (!p->failing && why != NULL)
		wh_log(WH_LOG_WARN, "cannot publish metrics", "error", why,
		    NULL);
	p->failing = why != NULL;
}

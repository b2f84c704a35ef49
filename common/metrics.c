/*
 * metrics.c: histograms, the series a process shows and their rendering
 * in Prometheus' text exposition format (see metrics.h), and the
 * process' own figures. Values are kept as integers so that the api can
 * add its workers' figures exactly; times are therefore kept in
 * microseconds and turned into seconds when rendered.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "metrics.h"
#include "sign.h"

const char *const	wh_hist_le[WH_HIST_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
	"0.5", "1", "2.5", "5", "10", "30",
};

static const int64_t	hist_bound_us[WH_HIST_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000,
};

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

/* A cumulative figure: kind 'c' or 'u'. */
static int
mset_unsigned(struct wh_mset *s, char kind, const char *name,
    const char *labels, uint64_t v)
{
	char	num[24];

	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return (mset_put(s, kind, name, labels, NULL, num));
}

int
wh_mset_counter(struct wh_mset *s, const char *name, const char *labels,
    uint64_t v)
{
	return (mset_unsigned(s, 'c', name, labels, v));
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
wh_mset_micros(struct wh_mset *s, const char *name, const char *labels,
    uint64_t us)
{
	return (mset_unsigned(s, 'u', name, labels, us));
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
	if (wh_mset_micros(s, series, labels, h->sum_us) == -1)
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

/* One series of a set being rendered: its field and (summed) value. */
struct series {
	const char	*field;		/* kind letter, then name{labels} */
	long long	 value;
};

struct scrape {
	struct series	*all;
	size_t		 n;
};

static int
series_cmp(const void *a, const void *b)
{
	const struct series	*x = a, *y = b;

	return (strcmp(x->field + 1, y->field + 1));
}

static int
series_find(const struct scrape *s, const char *key, long long *v)
{
	struct series	 probe, *hit;
	char		 field[256];

	(void)snprintf(field, sizeof(field), "?%s", key);
	probe.field = field;
	hit = bsearch(&probe, s->all, s->n, sizeof(*s->all), series_cmp);
	if (hit == NULL)
		return (0);
	*v = hit->value;
	return (1);
}

/*
 * The set's pairs, sorted by series, equal series added up: the api
 * collects every worker's figures into one set, one after the other.
 */
static int
scrape_read(struct scrape *s, const struct wh_mset *set)
{
	const char	*p;
	size_t		 i, j;

	memset(s, 0, sizeof(*s));
	if (set->n > WH_MSET_MAX)
		return (-1);
	if (set->n == 0)
		return (0);
	if ((s->all = calloc(set->n, sizeof(*s->all))) == NULL)
		return (-1);
	p = set->text.data;
	for (i = 0; i < set->n; i++) {
		s->all[i].field = p;
		p += strlen(p) + 1;
		s->all[i].value = strtoll(p, NULL, 10);
		p += strlen(p) + 1;
	}
	qsort(s->all, set->n, sizeof(*s->all), series_cmp);
	for (i = 0, j = 0; i < set->n; i++) {
		if (j > 0 && series_cmp(&s->all[j - 1], &s->all[i]) == 0)
			s->all[j - 1].value += s->all[i].value;
		else
			s->all[j++] = s->all[i];
	}
	s->n = j;
	return (0);
}

/* Microseconds as seconds. */
static int
render_seconds(struct wh_buf *b, long long us)
{
	return (wh_buf_appendf(b, "%s%lld.%06lld\n", us < 0 ? "-" : "",
	    llabs(us) / 1000000, llabs(us) % 1000000));
}

/* name{labels} of a counter or gauge family, each with its value. */
static int
render_plain(struct wh_buf *b, const struct scrape *s, const char *name)
{
	const char	*f;
	size_t		 i, len = strlen(name);
	int		 rc = 0;

	for (i = 0; i < s->n && rc == 0; i++) {
		f = s->all[i].field + 1;
		if (strncmp(f, name, len) != 0 ||
		    (f[len] != '\0' && f[len] != '{'))
			continue;
		rc |= wh_buf_appendf(b, "%s ", f);
		if (s->all[i].field[0] == 'u')
			rc |= render_seconds(b, s->all[i].value);
		else
			rc |= wh_buf_appendf(b, "%lld\n", s->all[i].value);
	}
	return (rc);
}

/*
 * A histogram family: for each label set (from its _count series), the
 * buckets in bound order, +Inf (= the count), the sum and the count.
 */
static int
render_hist(struct wh_buf *b, const struct scrape *s, const char *name)
{
	const char	*f, *labels;
	char		 count[128], key[256], inner[192];
	long long	 v;
	size_t		 i, j, len;
	int		 rc = 0;

	len = (size_t)snprintf(count, sizeof(count), "%s_count", name);
	for (i = 0; i < s->n && rc == 0; i++) {
		f = s->all[i].field + 1;
		if (strncmp(f, count, len) != 0 ||
		    (f[len] != '\0' && f[len] != '{'))
			continue;
		labels = f + len;	/* "" or "{...}" */
		(void)snprintf(inner, sizeof(inner), "%.*s",
		    labels[0] == '{' ? (int)strlen(labels) - 2 : 0,
		    labels[0] == '{' ? labels + 1 : "");
		for (j = 0; j < WH_HIST_BUCKETS && rc == 0; j++) {
			(void)snprintf(key, sizeof(key),
			    "%s_bucket{%s%sle=\"%s\"}", name, inner,
			    inner[0] != '\0' ? "," : "", wh_hist_le[j]);
			if (!series_find(s, key, &v))
				v = 0;
			rc |= wh_buf_appendf(b, "%s %lld\n", key, v);
		}
		rc |= wh_buf_appendf(b, "%s_bucket{%s%sle=\"+Inf\"} %lld\n",
		    name, inner, inner[0] != '\0' ? "," : "",
		    s->all[i].value);
		(void)snprintf(key, sizeof(key), "%s_sum%s", name, labels);
		if (!series_find(s, key, &v))
			v = 0;
		rc |= wh_buf_appendf(b, "%s ", key);
		rc |= render_seconds(b, v);
		rc |= wh_buf_appendf(b, "%s %lld\n", f, s->all[i].value);
	}
	return (rc);
}

int
wh_mset_render(struct wh_buf *b, const struct wh_mset *set,
    const struct wh_mfamily *fams, size_t nfam)
{
	struct scrape	s;
	size_t		i;
	int		rc = 0;

	if (scrape_read(&s, set) == -1)
		return (-1);
	for (i = 0; i < nfam; i++) {
		rc |= wh_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    fams[i].name, fams[i].help, fams[i].name, fams[i].type);
		if (strcmp(fams[i].type, "histogram") == 0)
			rc |= render_hist(b, &s, fams[i].name);
		else
			rc |= render_plain(b, &s, fams[i].name);
	}
	free(s.all);
	return (rc != 0 ? -1 : 0);
}

/* The first len - 1 bytes of path, NUL-terminated; -1 if unreadable. */
static ssize_t
read_small(const char *path, char *out, size_t len)
{
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, out, len - 1);
	(void)close(fd);
	if (n < 0)
		return (-1);
	out[n] = '\0';
	return (n);
}

/*
 * /proc/self/stat: utime and stime (fields 14 and 15, in clock ticks)
 * and rss (field 24, in pages). The command name (field 2) may hold
 * spaces and parentheses: fields are counted from its last ')'.
 */
static int
proc_stat(uint64_t *cpu_us, int64_t *rss)
{
	char		 text[1024], *p, *end;
	unsigned long long	 v[22];
	long		 hz, page;
	size_t		 i;

	if (read_small("/proc/self/stat", text, sizeof(text)) <= 0 ||
	    (p = strrchr(text, ')')) == NULL)
		return (-1);
	p++;
	/* Fields 3 (state) to 24: skip the state letter. */
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return (-1);
	p++;
	for (i = 0; i < 21; i++) {
		v[i] = strtoull(p, &end, 10);
		if (end == p)
			return (-1);
		p = end;
	}
	hz = sysconf(_SC_CLK_TCK);
	page = sysconf(_SC_PAGESIZE);
	if (hz <= 0 || page <= 0)
		return (-1);
	/* v[0] is field 4: utime is v[10], stime v[11], rss v[20]. */
	*cpu_us = (v[10] + v[11]) * 1000000ULL / (unsigned long long)hz;
	*rss = (int64_t)v[20] * page;
	return (0);
}

/* Entries of /proc/self/fd, less the one the listing itself holds. */
static int
proc_fds(int64_t *n)
{
	DIR		*dir;
	struct dirent	*e;
	int64_t		 c = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] != '.')
			c++;
	}
	(void)closedir(dir);
	*n = c > 0 ? c - 1 : 0;
	return (0);
}

int
wh_mset_build_info(struct wh_mset *set)
{
	return (wh_mset_gauge(set, "webhooks_build_info",
	    "version=\"" WH_VERSION "\"", 1));
}

int
wh_mset_process(struct wh_mset *set)
{
	uint64_t	cpu_us;
	int64_t		rss, fds;
	int		rc = 0;

	if (proc_stat(&cpu_us, &rss) == 0) {
		rc |= wh_mset_micros(set, "webhooks_process_cpu_seconds_total",
		    "", cpu_us);
		rc |= wh_mset_gauge(set,
		    "webhooks_process_resident_memory_bytes", "", rss);
	}
	if (proc_fds(&fds) == 0)
		rc |= wh_mset_gauge(set, "webhooks_process_open_fds", "", fds);
	return (rc != 0 ? -1 : 0);
}

int
wh_metrics_token_ok(const char *token, const char *authorization)
{
	unsigned char	want[WH_SHA256_LEN], got[WH_SHA256_LEN];

	if (token[0] == '\0')
		return (1);
	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return (0);
	/* Equal lengths for the constant-time comparison. */
	if (wh_sha256(token, strlen(token), want) == -1 ||
	    wh_sha256(authorization + 7, strlen(authorization + 7), got) == -1)
		return (0);
	return (wh_ct_equal(want, got, sizeof(want)));
}

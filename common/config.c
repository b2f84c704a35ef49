/*
 * config.c: the WH_* environment, read once and checked whole.
 *
 * Both programs call wh_config_load() before doing anything else. A bad
 * value is refused with one sentence that names the variable, so that an
 * operator reading a crash-looping pod's last line knows what to fix.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "health.h"
#include "ids.h"
#include "log.h"
#include "trace.h"

#define DEFAULT_REDIS_URL	"redis://127.0.0.1:6379/0"
#define DEFAULT_LISTEN		"127.0.0.1:8080"

static int
cfg_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
cfg_err(char *err, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return (-1);
}

static const char *
env_or(const char *name, const char *def)
{
	const char	*v;

	if ((v = getenv(name)) == NULL || *v == '\0')
		return (def);
	return (v);
}

/* Copy with a bound; -1 if src does not fit. */
static int
copy_bounded(char *dst, size_t dlen, const char *src, size_t slen)
{
	if (slen >= dlen)
		return (-1);
	memcpy(dst, src, slen);
	dst[slen] = '\0';
	return (0);
}

/* A whole decimal integer within [lo, hi]; -1 otherwise. */
static int
parse_int(const char *s, long lo, long hi, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return (-1);
	*out = v;
	return (0);
}

static int
env_int(const char *name, long def, long lo, long hi, long *out,
    char *err, size_t errlen)
{
	const char	*v;

	if ((v = getenv(name)) == NULL || *v == '\0') {
		*out = def;
		return (0);
	}
	if (parse_int(v, lo, hi, out) == -1) {
		return (cfg_err(err, errlen, "%s must be a whole number "
		    "from %ld to %ld (got \"%.40s\")", name, lo, hi, v));
	}
	return (0);
}

static int
env_bool(const char *name, int *out, char *err, size_t errlen)
{
	const char	*v;

	v = env_or(name, "0");
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*out = 1;
		return (0);
	}
	if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*out = 0;
		return (0);
	}
	return (cfg_err(err, errlen, "%s must be 0 or 1 (got \"%.40s\")",
	    name, v));
}

/* name's "host:port" or "[v6]:port" into host and port strings. */
static int
parse_listen(const char *name, const char *v, char *host_out, size_t host_len,
    char *port_out, size_t port_len, char *err, size_t errlen)
{
	const char	*colon, *host;
	size_t		 hlen;
	long		 port;

	if (*v == '[') {
		if ((colon = strstr(v, "]:")) == NULL)
			goto bad;
		host = v + 1;
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		if ((colon = strrchr(v, ':')) == NULL)
			goto bad;
		host = v;
		hlen = (size_t)(colon - v);
	}
	if (hlen == 0 || parse_int(colon + 1, 1, 65535, &port) == -1)
		goto bad;
	if (copy_bounded(host_out, host_len, host, hlen) == -1)
		goto bad;
	(void)snprintf(port_out, port_len, "%ld", port);
	return (0);
bad:
	return (cfg_err(err, errlen, "%s must be host:port, "
	    "e.g. 127.0.0.1:8080 or [::1]:8080 (got \"%.80s\")", name, v));
}

/*
 * redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N].
 * Percent-encoding is not decoded: passwords with ':' '@' or '/' must be
 * given some other way (documented in README).
 */
int
wh_redis_url_parse(const char *url, struct wh_redis_addr *a, char *err,
    size_t errlen)
{
	const char	*p, *at, *hend, *colon, *slash, *q;
	long		 v;

	memset(a, 0, sizeof(*a));
	a->port = 6379;

	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		q = strchr(p, '?');
		if (copy_bounded(a->unix_path, sizeof(a->unix_path), p,
		    q ? (size_t)(q - p) : strlen(p)) == -1 || a->unix_path[0] != '/')
			return (cfg_err(err, errlen, "WH_REDIS_URL: unix:// needs "
			    "an absolute socket path"));
		if (q != NULL) {
			if (strncmp(q, "?db=", 4) != 0 ||
			    parse_int(q + 4, 0, 15, &v) == -1)
				return (cfg_err(err, errlen, "WH_REDIS_URL: "
				    "only ?db=N (0-15) may follow a unix path"));
			a->db = (int)v;
		}
		return (0);
	}
	if (strncmp(url, "rediss://", 9) == 0)
		return (cfg_err(err, errlen, "WH_REDIS_URL: rediss:// (TLS) is "
		    "not supported by this build; use redis:// or unix://"));
	if (strncmp(url, "redis://", 8) != 0)
		return (cfg_err(err, errlen, "WH_REDIS_URL must start with "
		    "redis:// or unix:// (got \"%.80s\")", url));

	p = url + 8;
	slash = strchr(p, '/');
	at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL)
			colon = p - 1;	/* "password@" alone, as redis-cli */
		else if (copy_bounded(a->username, sizeof(a->username), p,
		    (size_t)(colon - p)) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: user name "
			    "too long"));
		if (copy_bounded(a->password, sizeof(a->password), colon + 1,
		    (size_t)(at - colon - 1)) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: password "
			    "too long"));
		p = at + 1;
	}

	hend = slash ? slash : p + strlen(p);
	if (*p == '[') {
		if ((q = memchr(p, ']', (size_t)(hend - p))) == NULL)
			return (cfg_err(err, errlen, "WH_REDIS_URL: unclosed ["));
		if (copy_bounded(a->host, sizeof(a->host), p + 1,
		    (size_t)(q - p - 1)) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: bad host"));
		colon = (q + 1 < hend && q[1] == ':') ? q + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(hend - p));
		if (copy_bounded(a->host, sizeof(a->host), p,
		    (size_t)((colon ? colon : hend) - p)) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: bad host"));
	}
	if (a->host[0] == '\0')
		(void)snprintf(a->host, sizeof(a->host), "127.0.0.1");
	if (colon != NULL) {
		char	port[8];

		if (copy_bounded(port, sizeof(port), colon + 1,
		    (size_t)(hend - colon - 1)) == -1 ||
		    parse_int(port, 1, 65535, &v) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: the port "
			    "must be 1-65535"));
		a->port = (int)v;
	}
	if (slash != NULL && slash[1] != '\0') {
		if (parse_int(slash + 1, 0, 15, &v) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: the database "
			    "after / must be 0-15"));
		a->db = (int)v;
	}
	return (0);
}

/* One "host[:port]" or "[v6]:port" of WH_REDIS_SENTINELS. */
static int
sentinel_item(const char *p, size_t len, struct wh_sentinel *s)
{
	const char	*host = p, *colon = NULL, *q;
	size_t		 hlen = len, i;
	char		 port[8];
	long		 v;

	if (len > 0 && *p == '[') {
		if ((q = memchr(p, ']', len)) == NULL)
			return (-1);
		host = p + 1;
		hlen = (size_t)(q - host);
		if (q + 1 < p + len) {
			if (q[1] != ':')
				return (-1);
			colon = q + 1;
		}
	} else if ((colon = memchr(p, ':', len)) != NULL) {
		hlen = (size_t)(colon - p);
		if (memchr(colon + 1, ':', len - hlen - 1) != NULL)
			return (-1);	/* a bare IPv6 address needs [] */
	}
	if (hlen == 0 || copy_bounded(s->host, sizeof(s->host), host,
	    hlen) == -1)
		return (-1);
	for (i = 0; i < hlen; i++) {
		if (!isalnum((unsigned char)host[i]) &&
		    strchr(".-_:%", host[i]) == NULL)
			return (-1);
	}
	s->port = WH_SENTINEL_PORT;
	if (colon == NULL)
		return (0);
	if (copy_bounded(port, sizeof(port), colon + 1,
	    (size_t)(p + len - colon - 1)) == -1 ||
	    parse_int(port, 1, 65535, &v) == -1)
		return (-1);
	s->port = (int)v;
	return (0);
}

int
wh_sentinels_parse(const char *v, struct wh_redis_addr *a, char *err,
    size_t errlen)
{
	const char	*p = v, *end;
	size_t		 len;

	a->nsentinels = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (a->nsentinels == WH_SENTINELS_MAX)
			return (cfg_err(err, errlen, "WH_REDIS_SENTINELS lists "
			    "more than %d sentinels", WH_SENTINELS_MAX));
		if (sentinel_item(p, len, &a->sentinels[a->nsentinels]) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_SENTINELS must be "
			    "a comma-separated list of host[:port] (port "
			    "1-65535, default %d; IPv6 as [addr]:port), got "
			    "\"%.80s\"", WH_SENTINEL_PORT, v));
		a->nsentinels++;
		if (*end == '\0')
			return (0);
		p = end + 1;
	}
}

/* 1 if s is 1 to max - 1 printable characters without spaces or quotes. */
static int
token_ok(const char *s, size_t max)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len >= max)
		return (0);
	for (i = 0; i < len; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\'')
			return (0);
	}
	return (1);
}

/*
 * WH_REDIS_SENTINELS, WH_REDIS_SENTINEL_MASTER, WH_REDIS_SENTINEL_PASSWORD:
 * all or none of the first two; the master's own password, user and db
 * still come from WH_REDIS_URL (its host and port are not used).
 */
static int
load_sentinels(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*list, *name, *pass;
	size_t		 i, len;

	list = env_or("WH_REDIS_SENTINELS", NULL);
	name = env_or("WH_REDIS_SENTINEL_MASTER", NULL);
	pass = env_or("WH_REDIS_SENTINEL_PASSWORD", NULL);
	if (list == NULL) {
		if (name != NULL)
			return (cfg_err(err, errlen, "WH_REDIS_SENTINEL_MASTER "
			    "is set but WH_REDIS_SENTINELS is not"));
		if (pass != NULL)
			return (cfg_err(err, errlen, "WH_REDIS_SENTINEL_PASSWORD "
			    "is set but WH_REDIS_SENTINELS is not"));
		return (0);
	}
	if (cfg->redis.unix_path[0] != '\0')
		return (cfg_err(err, errlen, "WH_REDIS_URL: a unix:// socket "
		    "cannot be combined with WH_REDIS_SENTINELS (use "
		    "redis://[[user]:password@]host/db; the host is not used)"));
	if (wh_sentinels_parse(list, &cfg->redis, err, errlen) == -1)
		return (-1);
	if (name == NULL || !token_ok(name, sizeof(cfg->redis.master_name)))
		return (cfg_err(err, errlen, "WH_REDIS_SENTINEL_MASTER must be "
		    "the master's name as the sentinels know it (1 to %zu "
		    "printable characters, no spaces or quotes) when "
		    "WH_REDIS_SENTINELS is set",
		    sizeof(cfg->redis.master_name) - 1));
	(void)snprintf(cfg->redis.master_name,
	    sizeof(cfg->redis.master_name), "%s", name);
	if (pass == NULL)
		return (0);
	len = strlen(pass);
	for (i = 0; i < len; i++) {
		if ((unsigned char)pass[i] < 0x20 || pass[i] == 0x7f)
			break;
	}
	/* Never echo the value: it is a secret. */
	if (i < len || copy_bounded(cfg->redis.sentinel_password,
	    sizeof(cfg->redis.sentinel_password), pass, len) == -1)
		return (cfg_err(err, errlen, "WH_REDIS_SENTINEL_PASSWORD must "
		    "be at most %zu characters, none of them control "
		    "characters", sizeof(cfg->redis.sentinel_password) - 1));
	return (0);
}

static int
load_bootstrap(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*v, *colon;
	size_t		 idlen, slen, i;

	if ((v = getenv("WH_BOOTSTRAP_KEY")) == NULL || *v == '\0')
		return (0);
	if ((colon = strchr(v, ':')) == NULL)
		goto bad;
	idlen = (size_t)(colon - v);
	slen = strlen(colon + 1);
	if (!wh_id_valid(v, idlen) || slen < 16 ||
	    copy_bounded(cfg->bootstrap_id, sizeof(cfg->bootstrap_id),
	    v, idlen) == -1 ||
	    copy_bounded(cfg->bootstrap_secret, sizeof(cfg->bootstrap_secret),
	    colon + 1, slen) == -1)
		goto bad;
	for (i = 0; i < slen; i++) {
		if (colon[1 + i] < 0x21 || colon[1 + i] > 0x7e)
			goto bad;
	}
	cfg->has_bootstrap = 1;
	return (0);
bad:
	/* Never echo the value: it holds a secret. */
	return (cfg_err(err, errlen, "WH_BOOTSTRAP_KEY must be key_id:secret "
	    "with key_id of [A-Za-z0-9_-] and a secret of 16 to 255 printable "
	    "characters without spaces"));
}

/*
 * How long attempt logs, the per-event attempt index and dead letters are
 * kept (besides their count caps), and after how long an endpoint that
 * fails every attempt is disabled. That period is scaled like the backoff
 * (WH_RETRY_SCALE), so that a test's compressed clock reaches it; the
 * ages are not, they bound memory whatever the clock.
 */
static int
load_retention(struct wh_config *cfg, char *err, size_t errlen)
{
	long	n;

	if (env_int("WH_ATTEMPTS_MAX_AGE_MS", 2592000000L, 1000,
	    31622400000L, &n, err, errlen) == -1)
		return (-1);
	cfg->attempts_max_age_ms = n;
	if (env_int("WH_DEAD_MAX_AGE_MS", 2592000000L, 1000, 31622400000L,
	    &n, err, errlen) == -1)
		return (-1);
	cfg->dead_max_age_ms = n;
	if (env_int("WH_EVENT_ATTEMPTS_TTL_MS", 86400000L, 1000,
	    31622400000L, &n, err, errlen) == -1)
		return (-1);
	cfg->event_attempts_ttl_ms = n < cfg->attempts_max_age_ms ? n :
	    cfg->attempts_max_age_ms;
	if (env_int("WH_DISABLE_AFTER_MS", 432000000L, 0, 31622400000L, &n,
	    err, errlen) == -1)
		return (-1);
	cfg->disable_after_ms = wh_disable_after_scaled(n, cfg->retry_scale);
	return (0);
}

static int
ignore_pair(const char *n, size_t nlen, const char *v, size_t vlen, void *arg)
{
	return (0);
}

/* A "k=v,..." list of name, or -1 with err filled. */
static int
pairs_var(const char *name, char *out, size_t outlen, char *err,
    size_t errlen)
{
	const char	*v = env_or(name, "");

	if (copy_bounded(out, outlen, v, strlen(v)) == -1 ||
	    wh_otlp_headers_parse(v, strlen(v), ignore_pair, NULL) == -1)
		return (cfg_err(err, errlen, "%s must be name=value pairs "
		    "separated by commas (values percent-encoded), at most "
		    "%zu bytes", name, outlen - 1));
	return (0);
}

/*
 * Traces (OTLP/HTTP): WH_OTLP_ENDPOINT, the collector's base URL (spans
 * go to <base>/v1/traces); WH_OTLP_HEADERS, falling back to
 * OTEL_EXPORTER_OTLP_HEADERS; WH_TRACE_SAMPLE; OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES. Header values are secrets: never echoed.
 */
static int
load_tracing(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*v;
	char		*end;
	size_t		 len;

	v = env_or("WH_OTLP_ENDPOINT", "");
	len = strlen(v);
	while (len > 0 && v[len - 1] == '/')
		len--;
	if (len > 0 && ((strncmp(v, "http://", 7) != 0 &&
	    strncmp(v, "https://", 8) != 0) || strpbrk(v, " \t\r\n") != NULL ||
	    copy_bounded(cfg->otlp_endpoint, sizeof(cfg->otlp_endpoint), v,
	    len) == -1))
		return (cfg_err(err, errlen, "WH_OTLP_ENDPOINT must be an "
		    "http:// or https:// URL of at most %zu bytes (got "
		    "\"%.80s\")", sizeof(cfg->otlp_endpoint) - 1, v));
	if (len == 0)
		cfg->otlp_endpoint[0] = '\0';
	if (pairs_var(getenv("WH_OTLP_HEADERS") != NULL ? "WH_OTLP_HEADERS" :
	    "OTEL_EXPORTER_OTLP_HEADERS", cfg->otlp_headers,
	    sizeof(cfg->otlp_headers), err, errlen) == -1 ||
	    pairs_var("OTEL_RESOURCE_ATTRIBUTES", cfg->resource_attrs,
	    sizeof(cfg->resource_attrs), err, errlen) == -1)
		return (-1);
	v = env_or("WH_TRACE_SAMPLE", "1");
	cfg->trace_sample = strtod(v, &end);
	if (end == v || *end != '\0' || !(cfg->trace_sample >= 0 &&
	    cfg->trace_sample <= 1))
		return (cfg_err(err, errlen, "WH_TRACE_SAMPLE must be a ratio "
		    "from 0 to 1 (got \"%.20s\")", v));
	v = env_or("OTEL_SERVICE_NAME", "");
	if (copy_bounded(cfg->service_name, sizeof(cfg->service_name), v,
	    strlen(v)) == -1)
		return (cfg_err(err, errlen, "OTEL_SERVICE_NAME is longer than "
		    "%zu bytes", sizeof(cfg->service_name) - 1));
	return (0);
}

int
wh_config_load(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*v;
	char		*end;
	long		 n, ncpu;
	size_t		 i, len;
	char		 cidr_err[128];

	memset(cfg, 0, sizeof(*cfg));

	v = env_or("WH_REDIS_URL", DEFAULT_REDIS_URL);
	if (copy_bounded(cfg->redis_url, sizeof(cfg->redis_url), v,
	    strlen(v)) == -1)
		return (cfg_err(err, errlen, "WH_REDIS_URL is too long"));
	if (wh_redis_url_parse(v, &cfg->redis, err, errlen) == -1 ||
	    load_sentinels(cfg, err, errlen) == -1)
		return (-1);

	v = getenv("WH_REDIS_PREFIX");
	if (v == NULL)
		v = "wh:";
	len = strlen(v);
	if (len >= sizeof(cfg->prefix) || len > 32)
		return (cfg_err(err, errlen, "WH_REDIS_PREFIX must be at most "
		    "32 characters"));
	for (i = 0; i < len; i++) {
		if (strchr("{}\r\n\t \"", v[i]) != NULL || v[i] < 0x21 ||
		    v[i] > 0x7e)
			return (cfg_err(err, errlen, "WH_REDIS_PREFIX may not "
			    "contain spaces, quotes or braces"));
	}
	memcpy(cfg->prefix, v, len + 1);

	if (parse_listen("WH_API_LISTEN", env_or("WH_API_LISTEN",
	    DEFAULT_LISTEN), cfg->api_host, sizeof(cfg->api_host),
	    cfg->api_port, sizeof(cfg->api_port), err, errlen) == -1)
		return (-1);
	/* The dispatcher's own GET /metrics; unset: none. */
	v = env_or("WH_METRICS_LISTEN", "");
	cfg->metrics_host[0] = cfg->metrics_port[0] = '\0';
	if (v[0] != '\0' && parse_listen("WH_METRICS_LISTEN", v,
	    cfg->metrics_host, sizeof(cfg->metrics_host), cfg->metrics_port,
	    sizeof(cfg->metrics_port), err, errlen) == -1)
		return (-1);

	if ((ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		ncpu = 1;
	if (env_int("WH_API_WORKERS", ncpu > 64 ? 64 : ncpu, 1, 64, &n,
	    err, errlen) == -1)
		return (-1);
	cfg->api_workers = (int)n;

	if (load_bootstrap(cfg, err, errlen) == -1)
		return (-1);
	if (env_bool("WH_ALLOW_PRIVATE_TARGETS", &cfg->net.allow_private,
	    err, errlen) == -1)
		return (-1);
	if (wh_cidrs_parse(getenv("WH_ALLOW_CIDRS"), cfg->net.cidrs,
	    WH_CIDR_MAX, &cfg->net.ncidrs, cidr_err, sizeof(cidr_err)) == -1)
		return (cfg_err(err, errlen, "WH_ALLOW_CIDRS: %s", cidr_err));
	v = env_or("WH_TLS_CA_FILE", "");
	if (strlen(v) >= sizeof(cfg->tls_ca_file))
		return (cfg_err(err, errlen, "WH_TLS_CA_FILE is too long"));
	(void)snprintf(cfg->tls_ca_file, sizeof(cfg->tls_ca_file), "%s", v);

	v = env_or("WH_RETRY_SCALE", "1");
	errno = 0;
	cfg->retry_scale = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' ||
	    !(cfg->retry_scale > 0.0) || cfg->retry_scale > 1000.0)
		return (cfg_err(err, errlen, "WH_RETRY_SCALE must be a number "
		    "greater than 0 and at most 1000 (got \"%.40s\")", v));

	if (env_int("WH_DISPATCH_CONCURRENCY", 512, 1, 100000, &n,
	    err, errlen) == -1)
		return (-1);
	cfg->concurrency = (int)n;
	if (env_int("WH_DISPATCH_BATCH", 256, 1, 10000, &n, err, errlen) == -1)
		return (-1);
	cfg->read_batch = (int)n;
	if (env_int("WH_EVENT_MAX_BYTES", 262144, 1024, 16777216, &n,
	    err, errlen) == -1)
		return (-1);
	cfg->event_max = (size_t)n;

	if (env_int("WH_ENDPOINT_CONCURRENCY", 32, 1, 100000, &n, err,
	    errlen) == -1)
		return (-1);
	cfg->endpoint_concurrency = (int)n;
	/*
	 * An entry pending this long is taken over by another dispatcher, so
	 * it must exceed the longest attempt (timeout_ms up to 30 s) plus a
	 * margin; the owner also refreshes the entries it still holds.
	 */
	if (env_int("WH_CLAIM_IDLE_MS", 35000, 1000, 86400000, &n, err,
	    errlen) == -1)
		return (-1);
	cfg->claim_idle_ms = n;
	if (env_int("WH_DRAIN_MS", 25000, 0, 3600000, &n, err, errlen) == -1)
		return (-1);
	cfg->drain_ms = n;
	if (env_int("WH_ATTEMPTS_MAXLEN", 1000, 10, 1000000, &n, err,
	    errlen) == -1)
		return (-1);
	cfg->attempts_maxlen = n;
	if (wh_secrets_parse(getenv("WH_SECRETS_KEY"), &cfg->secrets, err,
	    errlen) == -1)
		return (-1);
	if (env_int("WH_AUTH_FAILURES_MAX", 20, 1, 1000000, &n, err,
	    errlen) == -1)
		return (-1);
	cfg->auth_fail_max = n;
	if (env_int("WH_DEAD_MAXLEN", 100000, 100, 100000000, &n, err,
	    errlen) == -1)
		return (-1);
	cfg->dead_maxlen = n;
	if (load_retention(cfg, err, errlen) == -1)
		return (-1);

	/* Never echo the value: it is a secret. */
	v = env_or("WH_METRICS_TOKEN", "");
	len = strlen(v);
	for (i = 0; i < len && v[i] > 0x20 && v[i] < 0x7f; i++)
		;
	if ((len > 0 && len < 16) || i < len || copy_bounded(cfg->metrics_token,
	    sizeof(cfg->metrics_token), v, len) == -1)
		return (cfg_err(err, errlen, "WH_METRICS_TOKEN must be 16 to "
		    "255 printable characters without spaces"));

	if (load_tracing(cfg, err, errlen) == -1)
		return (-1);

	v = env_or("WH_LOG_LEVEL", "info");
	if ((cfg->log_level = wh_log_level_parse(v)) == -1)
		return (cfg_err(err, errlen, "WH_LOG_LEVEL must be debug, info, "
		    "warn or error (got \"%.20s\")", v));
	return (0);
}

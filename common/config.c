/*
 * config.c: the WH_* environment, read once and checked whole.
 *
 * Both programs call wh_config_load() before doing anything else. A bad
 * value is refused with one sentence that names the variable, so that an
 * operator reading a crash-looping pod's last line knows what to fix.
 */
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

/* "host:port" or "[v6]:port" into host and port strings. */
static int
parse_listen(const char *v, struct wh_config *cfg, char *err, size_t errlen)
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
	if (copy_bounded(cfg->api_host, sizeof(cfg->api_host), host, hlen) == -1)
		goto bad;
	(void)snprintf(cfg->api_port, sizeof(cfg->api_port), "%ld", port);
	return (0);
bad:
	return (cfg_err(err, errlen, "WH_API_LISTEN must be host:port, "
	    "e.g. 127.0.0.1:8080 or [::1]:8080 (got \"%.80s\")", v));
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

int
wh_config_load(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*v;
	char		*end;
	long		 n, ncpu;
	size_t		 i, len;

	memset(cfg, 0, sizeof(*cfg));

	v = env_or("WH_REDIS_URL", DEFAULT_REDIS_URL);
	if (copy_bounded(cfg->redis_url, sizeof(cfg->redis_url), v,
	    strlen(v)) == -1)
		return (cfg_err(err, errlen, "WH_REDIS_URL is too long"));
	if (wh_redis_url_parse(v, &cfg->redis, err, errlen) == -1)
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

	if (parse_listen(env_or("WH_API_LISTEN", DEFAULT_LISTEN), cfg,
	    err, errlen) == -1)
		return (-1);

	if ((ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		ncpu = 1;
	if (env_int("WH_API_WORKERS", ncpu > 64 ? 64 : ncpu, 1, 64, &n,
	    err, errlen) == -1)
		return (-1);
	cfg->api_workers = (int)n;

	if (load_bootstrap(cfg, err, errlen) == -1)
		return (-1);
	if (env_bool("WH_ALLOW_PRIVATE_TARGETS", &cfg->allow_private,
	    err, errlen) == -1)
		return (-1);

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
	if (env_int("WH_DEAD_MAXLEN", 100000, 100, 100000000, &n, err,
	    errlen) == -1)
		return (-1);
	cfg->dead_maxlen = n;
	if (load_retention(cfg, err, errlen) == -1)
		return (-1);

	v = env_or("WH_LOG_LEVEL", "info");
	if ((cfg->log_level = wh_log_level_parse(v)) == -1)
		return (cfg_err(err, errlen, "WH_LOG_LEVEL must be debug, info, "
		    "warn or error (got \"%.20s\")", v));
	return (0);
}

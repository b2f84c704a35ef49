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
#include "keys.h"
#include "config_vars.h"
#include "encode.h"
#include "endpoint_health.h"
#include "ids.h"
#include "log.h"
#include "trace.h"

#define VAR_INT(name, def, lo, hi, note, by, meaning)			\
	{ #name, 1, def, lo, hi, NULL, note, NULL, by, meaning },
#define VAR_STR(name, def, note, accepted, by, meaning)			\
	{ #name, 0, 0, 0, 0, def, note, accepted, by, meaning },

const struct wh_config_var wh_config_vars[] = {
	WH_CONFIG_VARS(VAR_INT, VAR_STR)
};
const size_t wh_config_nvars =
    sizeof(wh_config_vars) / sizeof(wh_config_vars[0]);

const struct wh_config_var *
wh_config_var(const char *name)
{
	size_t	i;

	for (i = 0; i < wh_config_nvars; i++) {
		if (strcmp(wh_config_vars[i].name, name) == 0)
			return (&wh_config_vars[i]);
	}
	return (NULL);
}

/*
 * The default of a text variable from the table. A name the table lacks
 * is a programming error that every start would hit, so it aborts.
 */
static const char *
var_default(const char *name)
{
	const struct wh_config_var	*v;

	if ((v = wh_config_var(name)) == NULL || v->is_int)
		abort();
	return (v->def_str);
}

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

/*
 * A whole-number variable with the default and range of its table entry
 * (config_vars.h), so that the docs printed from the table are what is
 * enforced. def overrides a computed default (the entry's def < lo).
 */
static int
env_int_var(const char *name, long def, long *out, char *err, size_t errlen)
{
	const struct wh_config_var	*v;

	if ((v = wh_config_var(name)) == NULL || !v->is_int)
		abort();
	return (env_int(name, v->def >= v->lo ? v->def : def, v->lo, v->hi,
	    out, err, errlen));
}

static int
env_bool(const char *name, int *out, char *err, size_t errlen)
{
	const char	*v;

	v = env_or(name, var_default(name));
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

/* A host and its length inside the text read (host_port). */
struct wh_hostport {
	const char	*host;
	size_t		 hlen;
};

/*
 * One "host", "host:port", "[v6]" or "[v6]:port" (len bytes at p), the
 * one reading of an address for WH_API_LISTEN, WH_REDIS_URL,
 * WH_EGRESS_PROXY and each of WH_REDIS_SENTINELS and
 * WH_REDIS_CLUSTER_NODES: the host in h (brackets off; it may be empty, for
 * the caller to refuse or default) and the port in *port (untouched
 * without one). A bare IPv6 address is refused, being ambiguous: its
 * first colon makes the rest the port, which is then not a number. -1
 * when malformed or the port is not 1-65535.
 */
static int
host_port(const char *p, size_t len, struct wh_hostport *h, long *port)
{
	const char	*colon = NULL, *q;
	char		 digits[8];

	h->host = p;
	h->hlen = len;
	if (len > 0 && *p == '[') {
		if ((q = memchr(p, ']', len)) == NULL)
			return (-1);
		h->host = p + 1;
		h->hlen = (size_t)(q - h->host);
		if (q + 1 < p + len) {
			if (q[1] != ':')
				return (-1);
			colon = q + 1;
		}
	} else if ((colon = memchr(p, ':', len)) != NULL)
		h->hlen = (size_t)(colon - p);
	if (colon == NULL)
		return (0);
	if (copy_bounded(digits, sizeof(digits), colon + 1,
	    (size_t)(p + len - colon - 1)) == -1 ||
	    parse_int(digits, 1, 65535, port) == -1)
		return (-1);
	return (0);
}

/* name's "host:port" or "[v6]:port" into host and port strings. */
static int
parse_listen(const char *name, const char *v, char *host_out, size_t host_len,
    char *port_out, size_t port_len, char *err, size_t errlen)
{
	struct wh_hostport	 h;
	long			 port = 0;

	if (host_port(v, strlen(v), &h, &port) == -1 || h.hlen == 0 ||
	    port == 0)
		goto bad;
	if (copy_bounded(host_out, host_len, h.host, h.hlen) == -1)
		goto bad;
	(void)snprintf(port_out, port_len, "%ld", port);
	return (0);
bad:
	return (cfg_err(err, errlen, "%s must be host:port, "
	    "e.g. 127.0.0.1:8080 or [::1]:8080 (got \"%.80s\")", name, v));
}

/*
 * URL percent-decoding of n bytes at src into dst (a C string of dlen),
 * as redis-py and ioredis decode a URL's user and password: "%40" is
 * '@'. -1 on a bad escape, an encoded NUL, or no room.
 */
int
wh_pct_decode(char *dst, size_t dlen, const char *src, size_t n)
{
	size_t	i, o = 0;
	int	hi, lo;

	for (i = 0; i < n; i++, o++) {
		if (o + 1 >= dlen)
			return (-1);
		if (src[i] != '%') {
			dst[o] = src[i];
			continue;
		}
		if (n - i < 3)
			return (-1);
		hi = wh_hexval((unsigned char)src[i + 1]);
		lo = wh_hexval((unsigned char)src[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return (-1);
		dst[o] = (char)(hi << 4 | lo);
		i += 2;
	}
	if (o >= dlen)
		return (-1);
	dst[o] = '\0';
	return (0);
}

/*
 * redis[s]://[[user]:password@]host[:port][/db] or unix:///path[?db=N];
 * rediss:// is Redis over TLS. The user and the password are
 * percent-decoded; the last '@' before the path ends them.
 */
int
wh_redis_url_parse(const char *url, struct wh_redis_addr *a, char *err,
    size_t errlen)
{
	struct wh_hostport	 h;
	const char		*p, *at, *hend, *colon, *slash, *q;
	long			 v;

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
	if (strncmp(url, "rediss://", 9) == 0) {
		a->tls.on = 1;
		p = url + 9;
	} else if (strncmp(url, "redis://", 8) == 0)
		p = url + 8;
	else
		return (cfg_err(err, errlen, "WH_REDIS_URL must start with "
		    "redis://, rediss:// or unix:// (got \"%.80s\")", url));

	slash = strchr(p, '/');
	at = memrchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL)
			colon = p - 1;	/* "password@" alone, as redis-cli */
		else if (wh_pct_decode(a->username, sizeof(a->username), p,
		    (size_t)(colon - p)) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: the user "
			    "name is too long or has a bad %%-escape"));
		if (wh_pct_decode(a->password, sizeof(a->password), colon + 1,
		    (size_t)(at - colon - 1)) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: the "
			    "password is too long or has a bad %%-escape"));
		p = at + 1;
	}

	hend = slash ? slash : p + strlen(p);
	v = a->port;
	if (host_port(p, (size_t)(hend - p), &h, &v) == -1)
		return (cfg_err(err, errlen, "WH_REDIS_URL: the address must "
		    "be host[:port] or [IPv6][:port], the port 1-65535"));
	if (copy_bounded(a->host, sizeof(a->host), h.host, h.hlen) == -1)
		return (cfg_err(err, errlen, "WH_REDIS_URL: bad host"));
	if (a->host[0] == '\0')
		(void)snprintf(a->host, sizeof(a->host), "127.0.0.1");
	a->port = (int)v;
	if (slash != NULL && slash[1] != '\0') {
		if (parse_int(slash + 1, 0, 15, &v) == -1)
			return (cfg_err(err, errlen, "WH_REDIS_URL: the database "
			    "after / must be 0-15"));
		a->db = (int)v;
	}
	return (0);
}

/*
 * One "host[:port]" or "[v6]:port" of WH_REDIS_SENTINELS or
 * WH_REDIS_CLUSTER_NODES, defport when the port is left out.
 */
static int
sentinel_item(const char *p, size_t len, int defport, struct wh_sentinel *s)
{
	struct wh_hostport	 h;
	size_t			 i;
	long			 v = defport;

	if (host_port(p, len, &h, &v) == -1 || h.hlen == 0 ||
	    copy_bounded(s->host, sizeof(s->host), h.host, h.hlen) == -1)
		return (-1);
	for (i = 0; i < h.hlen; i++) {
		if (!isalnum((unsigned char)h.host[i]) &&
		    strchr(".-_:%", h.host[i]) == NULL)
			return (-1);
	}
	s->port = (int)v;
	return (0);
}

/*
 * A comma-separated list of host[:port] (name is the variable, for the
 * error) into list/n, at most WH_SENTINELS_MAX of them.
 */
static int
host_list_parse(const char *v, const char *name, int defport,
    struct wh_sentinel *list, size_t *n, char *err, size_t errlen)
{
	const char	*p = v, *end;
	size_t		 len;

	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (*n == WH_SENTINELS_MAX)
			return (cfg_err(err, errlen, "%s lists more than %d "
			    "servers", name, WH_SENTINELS_MAX));
		if (sentinel_item(p, len, defport, &list[*n]) == -1)
			return (cfg_err(err, errlen, "%s must be a "
			    "comma-separated list of host[:port] (port "
			    "1-65535, default %d; IPv6 as [addr]:port), got "
			    "\"%.80s\"", name, defport, v));
		(*n)++;
		if (*end == '\0')
			return (0);
		p = end + 1;
	}
}

int
wh_sentinels_parse(const char *v, struct wh_redis_addr *a, char *err,
    size_t errlen)
{
	return (host_list_parse(v, "WH_REDIS_SENTINELS", WH_SENTINEL_PORT,
	    a->sentinels, &a->nsentinels, err, errlen));
}

int
wh_cluster_nodes_parse(const char *v, struct wh_redis_addr *a, char *err,
    size_t errlen)
{
	return (host_list_parse(v, "WH_REDIS_CLUSTER_NODES", 6379,
	    a->cluster, &a->ncluster, err, errlen));
}

/*
 * WH_REDIS_CLUSTER_NODES: the seed nodes of a Redis Cluster. Credentials
 * and TLS still come from WH_REDIS_URL (its host and port are not used);
 * a cluster has only database 0, and no Sentinel.
 */
static int
load_cluster(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*list = env_or("WH_REDIS_CLUSTER_NODES", NULL);

	cfg->redis.ncluster = 0;
	if (list == NULL)
		return (0);
	if (cfg->redis.nsentinels > 0)
		return (cfg_err(err, errlen, "WH_REDIS_CLUSTER_NODES cannot be "
		    "combined with WH_REDIS_SENTINELS"));
	if (cfg->redis.unix_path[0] != '\0' || cfg->redis.db != 0)
		return (cfg_err(err, errlen, "WH_REDIS_CLUSTER_NODES needs a "
		    "redis:// or rediss:// WH_REDIS_URL with database 0 (only "
		    "its user, password and TLS are used)"));
	return (wh_cluster_nodes_parse(list, &cfg->redis, err, errlen));
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

/* A file name variable into dst ("" when unset); -1 if too long. */
static int
env_path(const char *name, char *dst, size_t dlen, char *err, size_t errlen)
{
	const char	*v = env_or(name, "");

	if (copy_bounded(dst, dlen, v, strlen(v)) == -1)
		return (cfg_err(err, errlen, "%s is too long", name));
	return (0);
}

/*
 * Redis over TLS: rediss:// (the master), WH_REDIS_SENTINEL_TLS=1 (the
 * sentinels, and so the master they name, as Redis' own TLS Sentinel
 * setups do), WH_REDIS_TLS_CA_FILE, _SERVER_NAME, _CERT_FILE, _KEY_FILE,
 * _INSECURE. Files are read at the first connect (common/redis_tls.c).
 */
static int
load_redis_tls(struct wh_redis_addr *a, char *err, size_t errlen)
{
	struct wh_redis_tls	*t = &a->tls;

	if (env_bool("WH_REDIS_SENTINEL_TLS", &t->sentinels, err,
	    errlen) == -1 ||
	    env_bool("WH_REDIS_TLS_INSECURE", &t->insecure, err,
	    errlen) == -1 ||
	    env_path("WH_REDIS_TLS_CA_FILE", t->ca_file, sizeof(t->ca_file),
	    err, errlen) == -1 ||
	    env_path("WH_REDIS_TLS_SERVER_NAME", t->server_name,
	    sizeof(t->server_name), err, errlen) == -1 ||
	    env_path("WH_REDIS_TLS_CERT_FILE", t->cert_file,
	    sizeof(t->cert_file), err, errlen) == -1 ||
	    env_path("WH_REDIS_TLS_KEY_FILE", t->key_file, sizeof(t->key_file),
	    err, errlen) == -1)
		return (-1);
	if (t->sentinels && a->nsentinels == 0)
		return (cfg_err(err, errlen, "WH_REDIS_SENTINEL_TLS is set but "
		    "WH_REDIS_SENTINELS is not"));
	if (t->sentinels)
		t->on = 1;
	if ((t->cert_file[0] == '\0') != (t->key_file[0] == '\0'))
		return (cfg_err(err, errlen, "WH_REDIS_TLS_CERT_FILE and "
		    "WH_REDIS_TLS_KEY_FILE go together"));
	if (!t->on && (t->insecure || t->ca_file[0] != '\0' ||
	    t->server_name[0] != '\0' || t->cert_file[0] != '\0'))
		return (cfg_err(err, errlen, "WH_REDIS_TLS_* is set but "
		    "WH_REDIS_URL is not rediss:// (nor "
		    "WH_REDIS_SENTINEL_TLS=1)"));
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
 * WH_PORTAL_FRAME_ANCESTORS: the CSP frame-ancestors sources of /portal/
 * (who may embed it), 'none' unless set. It goes into a response header
 * as it is, so only printable ASCII without the characters that end a
 * CSP directive or policy (; ,) or quote a header is taken.
 */
static int
load_frame_ancestors(struct wh_config *cfg, char *err, size_t errlen)
{
	const char	*v;
	size_t		 i, len;

	v = env_or("WH_PORTAL_FRAME_ANCESTORS",
	    var_default("WH_PORTAL_FRAME_ANCESTORS"));
	len = strlen(v);
	for (i = 0; i < len; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ';' ||
		    v[i] == ',' || v[i] == '"' || v[i] == '\\')
			break;
	}
	if (i < len || copy_bounded(cfg->portal_frame_ancestors,
	    sizeof(cfg->portal_frame_ancestors), v, len) == -1)
		return (cfg_err(err, errlen, "WH_PORTAL_FRAME_ANCESTORS must be "
		    "CSP sources separated by spaces (e.g. 'self' "
		    "https://dash.example.com), at most 511 characters"));
	return (0);
}

/*
 * How long attempt logs, the per-event attempt index, dead letters and
 * the events themselves (for a resend) are kept (besides their count caps), and after how long an endpoint that
 * fails every attempt is disabled. That period is scaled like the backoff
 * (WH_RETRY_SCALE), so that a test's compressed clock reaches it; the
 * ages are not, they bound memory whatever the clock.
 */
static int
load_retention(struct wh_config *cfg, char *err, size_t errlen)
{
	long	n;

	if (env_int_var("WH_ATTEMPTS_MAX_AGE_MS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->attempts_max_age_ms = n;
	if (env_int_var("WH_DEAD_MAX_AGE_MS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->dead_max_age_ms = n;
	if (env_int_var("WH_EVENT_ATTEMPTS_TTL_MS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->event_attempts_ttl_ms = n < cfg->attempts_max_age_ms ? n :
	    cfg->attempts_max_age_ms;
	if (env_int_var("WH_EVENT_RETENTION_MS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->event_retention_ms = n;
	if (env_int_var("WH_DISABLE_AFTER_MS", 0, &n, err, errlen) == -1)
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
	v = env_or("WH_TRACE_SAMPLE", var_default("WH_TRACE_SAMPLE"));
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

/*
 * WH_EGRESS_PROXY: "http://host:port" (nothing else: no credentials, no
 * path, no https proxy) or unset; WH_EGRESS_NO_PROXY: comma-separated
 * host names or domains delivered to directly.
 */
static int
egress_env(struct wh_config *cfg, char *err, size_t errlen)
{
	struct wh_hostport	 h;
	const char		*v;
	long			 port = -1;

	v = env_or("WH_EGRESS_PROXY", "");
	if (*v != '\0' && (strncmp(v, "http://", 7) != 0 ||
	    strlen(v) >= sizeof(cfg->egress_proxy) ||
	    host_port(v + 7, strlen(v + 7), &h, &port) == -1 ||
	    h.hlen == 0 || port == -1 ||
	    strcspn(h.host, "/@?") < h.hlen))
		return (cfg_err(err, errlen, "WH_EGRESS_PROXY must be "
		    "http://host:port"));
	(void)snprintf(cfg->egress_proxy, sizeof(cfg->egress_proxy), "%s", v);
	v = env_or("WH_EGRESS_NO_PROXY", "");
	if (strlen(v) >= sizeof(cfg->egress_no_proxy))
		return (cfg_err(err, errlen, "WH_EGRESS_NO_PROXY is too long"));
	(void)snprintf(cfg->egress_no_proxy, sizeof(cfg->egress_no_proxy),
	    "%s", v);
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

	v = env_or("WH_REDIS_URL", var_default("WH_REDIS_URL"));
	if (copy_bounded(cfg->redis_url, sizeof(cfg->redis_url), v,
	    strlen(v)) == -1)
		return (cfg_err(err, errlen, "WH_REDIS_URL is too long"));
	if (wh_redis_url_parse(v, &cfg->redis, err, errlen) == -1 ||
	    load_sentinels(cfg, err, errlen) == -1 ||
	    load_cluster(cfg, err, errlen) == -1 ||
	    load_redis_tls(&cfg->redis, err, errlen) == -1)
		return (-1);

	v = getenv("WH_REDIS_PREFIX");
	if (v == NULL)
		v = var_default("WH_REDIS_PREFIX");
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
	    var_default("WH_API_LISTEN")), cfg->api_host, sizeof(cfg->api_host),
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
	if (env_int_var("WH_API_WORKERS", ncpu > 64 ? 64 : ncpu, &n,
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
	if (egress_env(cfg, err, errlen) == -1)
		return (-1);

	v = env_or("WH_RETRY_SCALE", var_default("WH_RETRY_SCALE"));
	errno = 0;
	cfg->retry_scale = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' ||
	    !(cfg->retry_scale > 0.0) || cfg->retry_scale > 1000.0)
		return (cfg_err(err, errlen, "WH_RETRY_SCALE must be a number "
		    "greater than 0 and at most 1000 (got \"%.40s\")", v));

	if (env_int_var("WH_DISPATCH_CONCURRENCY", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->concurrency = (int)n;
	if (env_int_var("WH_DISPATCH_BATCH", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->read_batch = (int)n;
	if (env_int_var("WH_REDIS_WAIT_REPLICAS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->wait_replicas = (int)n;
	if (env_int_var("WH_PARTITIONS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->partitions = (unsigned)n;
	if (env_int_var("WH_EVENT_MAX_BYTES", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->event_max = (size_t)n;

	if (env_int_var("WH_ENDPOINT_CONCURRENCY", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->endpoint_concurrency = (int)n;
	/*
	 * An entry pending this long is taken over by another dispatcher, so
	 * it must exceed the longest attempt (timeout_ms up to 30 s) plus a
	 * margin; the owner also refreshes the entries it still holds.
	 */
	if (env_int_var("WH_CLAIM_IDLE_MS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->claim_idle_ms = n;
	if (env_int_var("WH_DRAIN_MS", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->drain_ms = n;
	if (env_int_var("WH_ATTEMPTS_MAXLEN", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->attempts_maxlen = n;
	if (wh_secrets_parse(getenv("WH_SECRETS_KEY"), &cfg->secrets, err,
	    errlen) == -1)
		return (-1);
	if (env_int_var("WH_AUTH_FAILURES_MAX", 0, &n, err, errlen) == -1)
		return (-1);
	cfg->auth_fail_max = n;
	if (env_int_var("WH_DEAD_MAXLEN", 0, &n, err, errlen) == -1)
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
	if (load_frame_ancestors(cfg, err, errlen) == -1)
		return (-1);

	v = env_or("WH_LOG_LEVEL", var_default("WH_LOG_LEVEL"));
	if ((cfg->log_level = wh_log_level_parse(v)) == -1)
		return (cfg_err(err, errlen, "WH_LOG_LEVEL must be debug, info, "
		    "warn or error (got \"%.20s\")", v));
	/* Key names follow the deployment (keys.h: the cluster's tags). */
	wh_keys_cluster(cfg->redis.ncluster > 0);
	return (0);
}

void
wh_config_start(struct wh_config *cfg, struct wh_caps *caps,
    const char *program)
{
	char	err[512];

	if (wh_config_load(cfg, err, sizeof(err)) == -1 ||
	    (caps != NULL && wh_caps_load(caps, err, sizeof(err)) == -1)) {
		wh_log(WH_LOG_ERROR, err, NULL);
		exit(2);
	}
	wh_log_init(program, cfg->log_level);
	wh_secrets_use(&cfg->secrets);
}

/*
 * WH_MAX_WEBHOOKS_PER_COMPANY. A company's webhook list is loaded whole
 * to be sorted by url or label, so the cap bounds the work (and memory)
 * of one list request as much as it bounds abuse.
 */
int
wh_caps_load(struct wh_caps *lim, char *err, size_t errlen)
{
	const struct wh_config_var	*var;
	const char			*v;
	char				*end;
	long				 n;

	/* Default and range from the one table (config_vars.h). */
	var = wh_config_var("WH_MAX_WEBHOOKS_PER_COMPANY");
	lim->max_webhooks = var->def;
	if ((v = getenv("WH_MAX_WEBHOOKS_PER_COMPANY")) == NULL || *v == '\0')
		return (0);
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || errno != 0 || *end != '\0' ||
	    n < var->lo || n > var->hi) {
		(void)snprintf(err, errlen, "WH_MAX_WEBHOOKS_PER_COMPANY must "
		    "be a whole number from %ld to %ld (got \"%.40s\")",
		    var->lo, var->hi, v);
		return (-1);
	}
	lim->max_webhooks = n;
	return (0);
}

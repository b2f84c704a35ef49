/*
 * config.h: both programs are configured only by WH_* environment
 * variables (docs/operations.md, "Configuration"; each one is defined in
 * config_vars.h). wh_config_load() reads and checks all of them once at
 * start, so a mistake is one clear line and a non-zero exit, never a
 * surprise later.
 */
#ifndef WH_CONFIG_H
#define WH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "netpolicy.h"
#include "secretbox.h"

#define WH_HOST_MAX	256
#define WH_SENTINELS_MAX	16
#define WH_SENTINEL_PORT	26379

struct wh_sentinel {
	char		host[WH_HOST_MAX];
	int		port;
};

/*
 * Redis over TLS: rediss:// in WH_REDIS_URL, WH_REDIS_TLS_* and
 * WH_REDIS_SENTINEL_TLS (sentinels and master both over TLS).
 */
struct wh_redis_tls {
	int		on;			/* the master over TLS */
	int		sentinels;		/* the sentinels over TLS */
	int		insecure;		/* no verification at all */
	char		ca_file[1024];		/* "" = the system store */
	char		server_name[WH_HOST_MAX];	/* "" = the host */
	char		cert_file[1024];	/* client certificate */
	char		key_file[1024];
};

/*
 * Where Redis is: WH_REDIS_URL, or, when sentinels are given, whatever
 * master they name (the URL then only gives password, user and db).
 */
struct wh_redis_addr {
	char		host[WH_HOST_MAX];
	int		port;
	char		unix_path[WH_HOST_MAX];	/* redis+unix / unix:// */
	char		password[256];
	char		username[128];
	int		db;
	struct wh_sentinel sentinels[WH_SENTINELS_MAX]; /* WH_REDIS_SENTINELS */
	size_t		nsentinels;		/* 0: no Sentinel */
	char		master_name[128];	/* WH_REDIS_SENTINEL_MASTER */
	char		sentinel_password[256];	/* WH_REDIS_SENTINEL_PASSWORD */
	struct wh_sentinel cluster[WH_SENTINELS_MAX]; /* WH_REDIS_CLUSTER_NODES */
	size_t		ncluster;		/* 0: no Redis Cluster */
	struct wh_redis_tls tls;
};

struct wh_config {
	struct wh_redis_addr	redis;
	char		redis_url[1024];
	char		prefix[64];		/* WH_REDIS_PREFIX, "wh:" */
	char		api_host[WH_HOST_MAX];	/* WH_API_LISTEN */
	char		api_port[8];
	int		api_workers;		/* WH_API_WORKERS */
	char		bootstrap_id[64];	/* WH_BOOTSTRAP_KEY id part */
	char		bootstrap_secret[256];
	int		has_bootstrap;
	struct wh_netpolicy net;		/* WH_ALLOW_PRIVATE_TARGETS,
						   WH_ALLOW_CIDRS */
	char		tls_ca_file[1024];	/* WH_TLS_CA_FILE, "" = system */
	char		egress_proxy[512];	/* WH_EGRESS_PROXY, "" = none */
	char		egress_no_proxy[1024];	/* WH_EGRESS_NO_PROXY */
	double		retry_scale;		/* WH_RETRY_SCALE */
	int		concurrency;		/* WH_DISPATCH_CONCURRENCY */
	int		read_batch;		/* WH_DISPATCH_BATCH */
	int		wait_replicas;		/* WH_REDIS_WAIT_REPLICAS */
	unsigned	partitions;		/* WH_PARTITIONS, 1.. */
	size_t		event_max;		/* WH_EVENT_MAX_BYTES */
	int		endpoint_concurrency;	/* WH_ENDPOINT_CONCURRENCY */
	int64_t		claim_idle_ms;		/* WH_CLAIM_IDLE_MS */
	int64_t		drain_ms;		/* WH_DRAIN_MS */
	long		attempts_maxlen;	/* WH_ATTEMPTS_MAXLEN */
	long		dead_maxlen;		/* WH_DEAD_MAXLEN */
	int64_t		attempts_max_age_ms;	/* WH_ATTEMPTS_MAX_AGE_MS */
	int64_t		dead_max_age_ms;	/* WH_DEAD_MAX_AGE_MS */
	int64_t		event_attempts_ttl_ms;	/* WH_EVENT_ATTEMPTS_TTL_MS */
	int64_t		event_retention_ms;	/* WH_EVENT_RETENTION_MS, 0 off */
	int64_t		disable_after_ms;	/* WH_DISABLE_AFTER_MS, scaled
						   by WH_RETRY_SCALE; 0 never */
	int		log_level;		/* WH_LOG_LEVEL */
	long		auth_fail_max;		/* WH_AUTH_FAILURES_MAX */
	char		metrics_host[WH_HOST_MAX];	/* WH_METRICS_LISTEN, */
	char		metrics_port[8];		/*   "" = none */
	char		metrics_token[256];	/* WH_METRICS_TOKEN, "" = open */
	char		otlp_endpoint[400];	/* WH_OTLP_ENDPOINT, "" = off */
	char		otlp_headers[1024];	/* WH_OTLP_HEADERS (checked) */
	double		trace_sample;		/* WH_TRACE_SAMPLE, 0 to 1 */
	char		service_name[128];	/* OTEL_SERVICE_NAME, "" =
						   the program's name */
	char		resource_attrs[1024];	/* OTEL_RESOURCE_ATTRIBUTES */
	struct wh_secrets secrets;		/* WH_SECRETS_KEY (see
						   secretbox.h; the caller
						   hands it to
						   wh_secrets_use) */
	char		portal_frame_ancestors[512];
						/* WH_PORTAL_FRAME_ANCESTORS:
						   CSP sources allowed to
						   frame /portal/ */
};

/*
 * Fill cfg from the environment. On error returns -1 and writes one
 * sentence naming the variable into err.
 */
int	wh_config_load(struct wh_config *, char *err, size_t errlen);

/*
 * The api's per-tenant caps that operators may tune, read apart from
 * wh_config_load because only the api (the launcher, which refuses a bad
 * value at start, and the Kore workers, which enforce it) needs them.
 */
struct wh_caps {
	long	max_webhooks;	/* WH_MAX_WEBHOOKS_PER_COMPANY */
};

/*
 * Fill caps from the environment. On error returns -1 and writes one
 * sentence naming the variable into err.
 */
int	wh_caps_load(struct wh_caps *, char *err, size_t errlen);

/*
 * A program's start, the same in each: wh_config_load (and wh_caps_load
 * when caps is not NULL), or one log line saying what is wrong and exit
 * status 2; then the program's log level and the ring of secrets keys.
 */
void	wh_config_start(struct wh_config *, struct wh_caps *caps,
	    const char *program);

/* Parse a redis[s]:// URL into addr. 0 or -1 with a sentence in err. */
int	wh_redis_url_parse(const char *, struct wh_redis_addr *,
	    char *err, size_t errlen);

/* Percent-decode n bytes of src into dst; -1 if bad or too long. */
int	wh_pct_decode(char *dst, size_t dlen, const char *src, size_t n);

/*
 * Parse WH_REDIS_SENTINELS ("host[:port],...") into addr's sentinel
 * list. 0 or -1 with a sentence naming the variable in err.
 */
int	wh_sentinels_parse(const char *, struct wh_redis_addr *,
	    char *err, size_t errlen);
/* The same for WH_REDIS_CLUSTER_NODES (port 6379 by default). */
int	wh_cluster_nodes_parse(const char *, struct wh_redis_addr *,
	    char *err, size_t errlen);

#endif

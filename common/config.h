/*
 * config.h: both programs are configured only by WH_* environment
 * variables (DESIGN.md, "Running"). wh_config_load() reads and checks all
 * of them once at start, so a mistake is one clear line and a non-zero
 * exit, never a surprise later.
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
	double		retry_scale;		/* WH_RETRY_SCALE */
	int		concurrency;		/* WH_DISPATCH_CONCURRENCY */
	int		read_batch;		/* WH_DISPATCH_BATCH */
	size_t		event_max;		/* WH_EVENT_MAX_BYTES */
	int		endpoint_concurrency;	/* WH_ENDPOINT_CONCURRENCY */
	int64_t		claim_idle_ms;		/* WH_CLAIM_IDLE_MS */
	int64_t		drain_ms;		/* WH_DRAIN_MS */
	long		attempts_maxlen;	/* WH_ATTEMPTS_MAXLEN */
	long		dead_maxlen;		/* WH_DEAD_MAXLEN */
	int64_t		attempts_max_age_ms;	/* WH_ATTEMPTS_MAX_AGE_MS */
	int64_t		dead_max_age_ms;	/* WH_DEAD_MAX_AGE_MS */
	int64_t		event_attempts_ttl_ms;	/* WH_EVENT_ATTEMPTS_TTL_MS */
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
};

/*
 * Fill cfg from the environment. On error returns -1 and writes one
 * sentence naming the variable into err.
 */
int	wh_config_load(struct wh_config *, char *err, size_t errlen);

/* Parse a redis:// URL into addr. 0 or -1 with a sentence in err. */
int	wh_redis_url_parse(const char *, struct wh_redis_addr *,
	    char *err, size_t errlen);

/*
 * Parse WH_REDIS_SENTINELS ("host[:port],...") into addr's sentinel
 * list. 0 or -1 with a sentence naming the variable in err.
 */
int	wh_sentinels_parse(const char *, struct wh_redis_addr *,
	    char *err, size_t errlen);

#endif

/*
 * config_vars.h: every WH_* environment variable, in one table. It is the
 * one home of each variable's name, default, accepted range and meaning:
 * common/config.c takes the defaults and the ranges of whole numbers
 * from it, and the configuration table of docs/operations.md is printed
 * from it (build/tests/test_config_vars --print-table), which the unit
 * test checks line for line, so a variable cannot be added, renamed or
 * re-ranged without the docs following.
 *
 * WH_CONFIG_VARS(INT, STR) lists them in the order the docs show them:
 *   INT(name, def, lo, hi, def_note, read_by, meaning)
 *	a whole number from lo to hi, def when unset (def < lo: computed
 *	at start, def_note says how);
 *   STR(name, def, def_note, accepted, read_by, meaning)
 *	anything else: def is the value used when unset (NULL: unset means
 *	off or none, def_note says what), accepted says what is taken.
 * def_note is NULL or a few words shown after the default. The strings
 * are Markdown and hold no '|'.
 */
#ifndef WH_CONFIG_VARS_H
#define WH_CONFIG_VARS_H

#define WH_HEARTBEAT_FILE_DEFAULT	"/tmp/webhooks-dispatcher.heartbeat"

#define WH_CONFIG_VARS(INT, STR)					\
	STR(WH_REDIS_URL, "redis://127.0.0.1:6379/0", NULL,		\
	    "`redis://[[user]:password@]host[:port][/db]` (db 0–15), "	\
	    "`rediss://…` (TLS) or `unix:///path[?db=N]`; user and "	\
	    "password percent-decoded", "both",				\
	    "where Redis is; with `WH_REDIS_SENTINELS`, only its password, " \
	    "user and db are used")					\
	STR(WH_REDIS_SENTINELS, NULL, NULL,				\
	    "1–16 comma-separated `host[:port]` (`[v6]:port` for IPv6), " \
	    "port 1–65535 (26379 by default); needs "			\
	    "`WH_REDIS_SENTINEL_MASTER` and a `redis://` or `rediss://` " \
	    "`WH_REDIS_URL`",						\
	    "both",							\
	    "Redis Sentinels: the master is asked of them at every connect " \
	    "(see \"Redis Sentinel\")")					\
	STR(WH_REDIS_SENTINEL_MASTER, NULL, NULL,			\
	    "1–127 printable characters without spaces or quotes; only with " \
	    "`WH_REDIS_SENTINELS`", "both",				\
	    "the master's name as the sentinels know it "		\
	    "(`sentinel monitor <name> …`)")				\
	STR(WH_REDIS_SENTINEL_PASSWORD, NULL, NULL,			\
	    "up to 255 characters, no control characters; only with "	\
	    "`WH_REDIS_SENTINELS`", "both",				\
	    "the sentinels' own password (`requirepass` in sentinel.conf), " \
	    "when they have one")					\
	STR(WH_REDIS_SENTINEL_TLS, "0", NULL,				\
	    "`0`/`1`; only with `WH_REDIS_SENTINELS`", "both",		\
	    "`1`: the sentinels and the master they name are spoken to over " \
	    "TLS (the TLS settings below apply to both)")	\
	STR(WH_REDIS_CLUSTER_NODES, NULL, NULL,				\
	    "1–16 comma-separated `host[:port]` (`[v6]:port` for IPv6), " \
	    "port 1–65535 (6379 by default); not with "			\
	    "`WH_REDIS_SENTINELS`; `WH_REDIS_URL` `redis://` or "	\
	    "`rediss://` with db 0", "both",				\
	    "seed nodes of a Redis Cluster: the slot map is learnt from " \
	    "them and each command goes to its key's master (see "	\
	    "\"Redis Cluster\"); credentials and TLS as in `WH_REDIS_URL`") \
	STR(WH_REDIS_TLS_CA_FILE, NULL, "the system trust store",	\
	    "a PEM file; only with TLS", "both",			\
	    "the CA certificates Redis' certificate must chain to")	\
	STR(WH_REDIS_TLS_SERVER_NAME, NULL, "the URL's host",		\
	    "a host name; only with TLS", "both",			\
	    "the name Redis' certificate must carry (and the SNI sent), for " \
	    "when one connects by IP address")				\
	STR(WH_REDIS_TLS_CERT_FILE, NULL, "none",			\
	    "a PEM file, with `WH_REDIS_TLS_KEY_FILE`; only with TLS",	\
	    "both", "a client certificate, for servers that require one") \
	STR(WH_REDIS_TLS_KEY_FILE, NULL, "none",			\
	    "a PEM file, with `WH_REDIS_TLS_CERT_FILE`; only with TLS",	\
	    "both", "the client certificate's private key")		\
	STR(WH_REDIS_TLS_INSECURE, "0", NULL,				\
	    "`0`/`1`; only with TLS", "both",				\
	    "`1` turns certificate and host name verification off (logged " \
	    "as a warning at every start; never in production)")	\
	INT(WH_REDIS_WAIT_REPLICAS, 0, 0, 16, NULL, "both",		\
	    "`k` > 0: the api `WAIT`s (`WAIT k 1000`) for k replicas "	\
	    "before it answers 202, else 503 (`Retry-After: 1`; the event " \
	    "may be queued, an `event_sid` makes the retry safe); the "	\
	    "dispatcher before it acks entries, else they stay pending " \
	    "(see \"Redis Sentinel\"); `--reencrypt-secrets` before it " \
	    "exits 0, else 1 (run it again)")				\
	INT(WH_PARTITIONS, 1, 1, 64, NULL, "both",			\
	    "the queue's partitions: a company's events go to "	\
	    "`wh:{p}:events` with p = FNV-1a 32 of its `company_sid` mod " \
	    "the count, and every dispatcher reads every partition; 1 is " \
	    "the single `{0}` queue (see \"Partitions\"); the same on "	\
	    "every program and direct publisher")			\
	STR(WH_REDIS_PREFIX, "wh:", NULL,				\
	    "up to 32 printable characters, no spaces, quotes or braces", \
	    "both", "prefix of every Redis key")			\
	STR(WH_API_LISTEN, "127.0.0.1:8080", NULL,			\
	    "`host:port` or `[v6]:port`, port 1–65535", "api",		\
	    "the api's address")					\
	INT(WH_API_WORKERS, 0, 1, 64, "number of CPUs online, at most 64", \
	    "api", "Kore worker processes (in a container the CPUs online " \
	    "are the node's: set it)")					\
	STR(WH_BOOTSTRAP_KEY, NULL, NULL,				\
	    "`key_id:secret`, key_id of `[A-Za-z0-9_-]`, secret 16–255 " \
	    "printable characters without spaces", "api",		\
	    "an admin API key created (or its secret updated) at api start") \
	STR(WH_ALLOW_PRIVATE_TARGETS, "0", NULL,			\
	    "`0`/`1` (`false`/`true`, `no`/`yes`)",			\
	    "both (api: IP literals in urls; dispatcher: every connect)", \
	    "`1` lets deliveries go to loopback/private addresses "	\
	    "(development, tests)")					\
	STR(WH_ALLOW_CIDRS, NULL, "none",				\
	    "comma-separated `addr[/bits]`, IPv4 or IPv6, host bits zero, " \
	    "at most 32", "both",					\
	    "ranges opened despite the address guard, e.g. "		\
	    "`10.20.0.0/16,fd00:1::/64` (a bare address is one host)")	\
	STR(WH_TLS_CA_FILE, NULL, "the system CAs",			\
	    "a readable PEM file", "dispatcher",			\
	    "a PEM bundle that replaces the system CAs for https deliveries " \
	    "(to trust a private CA, give a bundle holding it and the public " \
	    "CAs you still want); verification is always on")		\
	STR(WH_EGRESS_PROXY, NULL, "none: deliveries connect directly", \
	    "`http://host:port` (no credentials, no path)", "dispatcher", \
	    "an egress proxy every delivery goes through, by HTTP CONNECT "	\
	    "to the address the dispatcher resolved and checked itself "	\
	    "(http targets are tunnelled too); its failures are attempt "	\
	    "errors starting `proxy:`")					\
	STR(WH_EGRESS_NO_PROXY, NULL, "none",				\
	    "comma-separated host names, each matching its subdomains too " \
	    "(`*`: every host)", "dispatcher",				\
	    "targets delivered to directly despite `WH_EGRESS_PROXY`")	\
	INT(WH_AUTH_FAILURES_MAX, 20, 1, 1000000, NULL, "api",		\
	    "failed authentications per client address (IPv6: per /64) " \
	    "within a minute before further attempts answer 429")	\
	STR(WH_SECRETS_KEY, NULL, "secrets stored in the clear",	\
	    "1–4 entries `kid:key`, kid 1–16 of `A-Za-z0-9_-`, key the " \
	    "base64 of exactly 32 bytes (`openssl rand -base64 32`), kids " \
	    "distinct", "both",						\
	    "signing secrets are sealed with AES-256-GCM by the first key; " \
	    "every key listed can open (see \"Secrets at rest\")")	\
	STR(WH_RETRY_SCALE, "1", NULL,					\
	    "a number > 0 and ≤ 1000", "dispatcher",			\
	    "multiplies every backoff delay and `WH_DISABLE_AFTER_MS` "	\
	    "(tests use e.g. `0.001`)")					\
	INT(WH_DISPATCH_CONCURRENCY, 512, 1, 100000, NULL, "dispatcher", \
	    "transfers in flight per dispatcher")			\
	INT(WH_DISPATCH_BATCH, 256, 1, 10000, NULL, "dispatcher",	\
	    "most entries read per `XREADGROUP`")			\
	INT(WH_EVENT_MAX_BYTES, 262144, 1024, 16777216, "256 KiB",	\
	    "both",							\
	    "largest event: the body of `POST /v1/events`, each event of " \
	    "`POST /v1/events:batch`, and a stream entry's `payload` in the " \
	    "dispatcher. The api refuses any single-event body over 1 MiB " \
	    "(a batch body over 5 MiB) before reading it, so through the " \
	    "api the smaller bound wins; entries written straight into " \
	    "Redis get the whole range")				\
	INT(WH_MAX_WEBHOOKS_PER_COMPANY, 1000, 1, 100000, NULL, "api",	\
	    "webhooks one company may have; `POST /v1/webhooks` beyond it " \
	    "is 409")							\
	INT(WH_ENDPOINT_CONCURRENCY, 32, 1, 100000, NULL, "dispatcher",	\
	    "transfers in flight per webhook endpoint, per dispatcher")	\
	INT(WH_CLAIM_IDLE_MS, 35000, 1000, 86400000, NULL, "dispatcher", \
	    "an entry pending this long is claimed by another dispatcher " \
	    "(must exceed the largest `timeout_ms` plus a margin)")	\
	INT(WH_DRAIN_MS, 25000, 0, 3600000, NULL, "dispatcher",		\
	    "on SIGTERM, how long in-flight attempts may finish (keep it " \
	    "under Kubernetes' grace period)")				\
	INT(WH_ATTEMPTS_MAXLEN, 1000, 10, 1000000, NULL, "dispatcher",	\
	    "attempts kept per webhook in `wh:attempts:<sid>` "		\
	    "(approximate cap)")					\
	INT(WH_DEAD_MAXLEN, 100000, 100, 100000000, NULL, "dispatcher",	\
	    "entries kept in `wh:{0}:dead`, and dead letters indexed per " \
	    "webhook (approximate cap)")				\
	INT(WH_ATTEMPTS_MAX_AGE_MS, 2592000000L, 1000, 31622400000L,	\
	    "30 days", "dispatcher",					\
	    "attempts older than this leave the logs (approximate)")	\
	INT(WH_DEAD_MAX_AGE_MS, 2592000000L, 1000, 31622400000L,	\
	    "30 days", "dispatcher",					\
	    "dead letters older than this are dropped (approximate)")	\
	INT(WH_EVENT_ATTEMPTS_TTL_MS, 86400000L, 1000, 31622400000L,	\
	    "24 h", "dispatcher",					\
	    "how long `GET /v1/events/{sid}/attempts` finds an event's " \
	    "attempts (at most `WH_ATTEMPTS_MAX_AGE_MS`); one small key per " \
	    "event costs about 270 bytes (an attempt more, about 60) for " \
	    "that long")						\
	INT(WH_EVENT_RETENTION_MS, 259200000L, 0, 31622400000L, "72 h", \
	    "dispatcher",						\
	    "how long each event is kept for `GET /v1/events/{sid}`, "	\
	    "`~resend` and `~recover` with `include: all`; `0` keeps none; " \
	    "a kept event costs its payload and about 520 bytes for that " \
	    "long")							\
	INT(WH_DISABLE_AFTER_MS, 432000000L, 0, 31622400000L, "5 days",	\
	    "dispatcher",						\
	    "a webhook whose endpoint failed every attempt this long is " \
	    "disabled; times `WH_RETRY_SCALE`; `0` never")		\
	STR(WH_LOG_LEVEL, "info", NULL,					\
	    "`debug`, `info`, `warn`, `error`", "both",			\
	    "the least severe log lines written")			\
	STR(WH_KORE_BIN, NULL, "`webhooks-kore` beside the launcher", \
	    "a command name or path", "api launcher",			\
	    "the kore binary the api launcher runs (ours is patched: "	\
	    "docs/internals.md)")			\
	STR(WH_HEARTBEAT_FILE, WH_HEARTBEAT_FILE_DEFAULT, NULL,		\
	    "an absolute path in a writable directory", "dispatcher",	\
	    "the file its event loop rewrites every second, read by "	\
	    "`webhooks-dispatcher --check-heartbeat` (give each dispatcher " \
	    "on one host its own)")					\
	STR(WH_METRICS_TOKEN, NULL, "`GET /metrics` open",		\
	    "16–255 printable characters without spaces", "both",	\
	    "when set, `GET /metrics` (api and dispatchers) takes "	\
	    "`Authorization: Bearer <token>`")				\
	STR(WH_METRICS_LISTEN, NULL, "none",				\
	    "`host:port` or `[v6]:port`, port 1–65535", "dispatcher",	\
	    "the address of the dispatcher's own `GET /metrics` (e.g. " \
	    "`0.0.0.0:9464`)")						\
	STR(WH_OTLP_ENDPOINT, NULL, "none: no traces",			\
	    "an `http://` or `https://` URL", "both",			\
	    "the OpenTelemetry collector's base URL; spans go to "	\
	    "`<base>/v1/traces` (OTLP/HTTP, JSON)")			\
	STR(WH_OTLP_HEADERS, NULL,					\
	    "`OTEL_EXPORTER_OTLP_HEADERS`, else none",			\
	    "`name=value,…`, values percent-encoded", "both",		\
	    "headers of every export; secret, never logged")		\
	STR(WH_TRACE_SAMPLE, "1", NULL,					\
	    "a ratio from 0 to 1", "both",				\
	    "ratio of sampled traces exported (decided on the trace id, " \
	    "so every process agrees); `0` sends nothing")		\
	STR(WH_PORTAL_FRAME_ANCESTORS, "'none'", "no frame may embed it", \
	    "CSP sources separated by spaces, printable ASCII without "	\
	    "`;` `,` `\"` or backslash, at most 511 characters", "api",	\
	    "the CSP `frame-ancestors` of `/portal/`: who may embed the " \
	    "delivery portal, e.g. `https://dash.streem.example` "	\
	    "(docs/portal.md)")

/* One variable of the table, as config.c and the docs test see it. */
struct wh_config_var {
	const char	*name;
	int		 is_int;
	long		 def, lo, hi;	/* is_int only */
	const char	*def_str;	/* !is_int: NULL when unset is off */
	const char	*def_note;	/* NULL or a few words */
	const char	*accepted;	/* !is_int only */
	const char	*read_by;
	const char	*meaning;
};

extern const struct wh_config_var	wh_config_vars[];
extern const size_t			wh_config_nvars;

/* The entry of a variable, NULL if the table has none of that name. */
const struct wh_config_var	*wh_config_var(const char *name);

#endif

/*
 * main.c: build/webhooks-dispatcher. Checks its environment and Redis at
 * start (one clear line and a non-zero exit if either is wrong), then
 * runs the loop: read events, fan out, deliver, ack. SIGTERM stops the
 * reading, lets transfers in flight finish (each is bounded by its
 * webhook's timeout), flushes the acks and exits 0, which is what a
 * Kubernetes rollout needs.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "secretbox.h"
#include "sign.h"
#include "redis_link.h"
#include "timeutil.h"
#include "validate.h"

#define START_TIMEOUT_S		3

struct dispatcher		d;
static volatile sig_atomic_t	got_term;

static void
on_term(int sig)
{
	got_term = 1;
}

static void
consumer_name(char *out, size_t len)
{
	char	host[64];

	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(out, len, "%s-%ld-%lld", host, (long)getpid(),
	    (long long)wh_now_ms());
}

/* The main link is up (its scripts loaded): the consumer group. */
static void
main_up(struct rconn *c)
{
	consume_up(c);
}

/* The sentinels moved the master: both links leave the old one now. */
static void
failover(struct rconn *c)
{
	rconn_kick(&d.main);
	consume_readers_kick();
}

/*
 * SIGTERM: read and claim no more; let what is in flight finish within
 * WH_DRAIN_MS; ack what finished. Entries still held stay pending and
 * another dispatcher claims them.
 */
static void
drain(void)
{
	int64_t	deadline;
	char	left[24];

	d.stopping = 1;
	wh_log(WH_LOG_INFO, "draining", NULL);
	upkeep_stop();
	if (d.cfg.redis.nsentinels > 0)
		rconn_stop(&d.watch);
	consume_readers_stop();
	deadline = wh_mono_ms() + d.cfg.drain_ms;
	while (d.nentries > 0 && wh_mono_ms() < deadline)
		(void)loop_run_once(100);
	if (d.nentries > 0) {
		(void)snprintf(left, sizeof(left), "%zu", d.nentries);
		wh_log(WH_LOG_WARN, "drain bound reached; entries left "
		    "pending for another dispatcher", "entries", left, NULL);
	}
	record_flush();
	acks_flush();
	/* Let the attempt records and the acks reach Redis. */
	deadline = wh_mono_ms() + 1000;
	while (rconn_owed(&d.main) > 0 && wh_mono_ms() < deadline)
		(void)loop_run_once(50);
	rconn_stop(&d.main);
	(void)loop_run_once(0);
}

int
main(int argc, char **argv)
{
	struct sigaction	sa;
	char			err[512], n1[24], n2[24], n3[24];

	wh_log_init("dispatcher", WH_LOG_INFO);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		(void)printf("webhooks-dispatcher %s\n", WH_VERSION);
		return (0);
	}
	if (argc > 1 && strcmp(argv[1], "--check-heartbeat") == 0)
		return (heartbeat_check(argc - 2, argv + 2));
	if (argc > 1) {
		(void)fprintf(stderr, "usage: webhooks-dispatcher (configured "
		    "by WH_* environment variables; see README)\n"
		    "       webhooks-dispatcher --check-heartbeat [max_age_s]\n"
		    "       webhooks-dispatcher --version\n");
		return (2);
	}
	memset(&d, 0, sizeof(d));
	wh_config_start(&d.cfg, NULL, "dispatcher");
	if (d.cfg.tls_ca_file[0] != '\0' && access(d.cfg.tls_ca_file, R_OK)) {
		wh_log(WH_LOG_ERROR, "WH_TLS_CA_FILE cannot be read", "path",
		    d.cfg.tls_ca_file, NULL);
		return (2);
	}
	/* A synchronous check first, for a clear start-up failure. */
	wh_wire_free(wh_redis_reach(&d.cfg.redis, START_TIMEOUT_S));
	if (partitions_init() == -1) {
		wh_log(WH_LOG_ERROR, "WH_REDIS_PREFIX too long", NULL);
		return (2);
	}
	consumer_name(d.consumer, sizeof(d.consumer));
	TAILQ_INIT(&d.entries);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);

	consume_init();
	if (loop_init() == -1 || deliver_init() == -1 ||
	    wh_script_sha(wh_lua_publish_event) == NULL) {
		wh_log(WH_LOG_ERROR, "cannot set up the event loop, libcurl "
		    "or the scripts", NULL);
		return (1);
	}
	if (heartbeat_start(err, sizeof(err)) == -1) {
		wh_log(WH_LOG_ERROR, err, NULL);
		return (2);
	}
	(void)rconn_start(&d.main, "main", &d.cfg.redis, main_up, NULL);
	if (consume_readers_start() == -1) {
		wh_log(WH_LOG_ERROR, "out of memory", NULL);
		return (1);
	}
	if (d.cfg.redis.nsentinels > 0)
		(void)rconn_watch(&d.watch, &d.cfg.redis, failover);
	upkeep_start();
	if (metrics_start(err, sizeof(err)) == -1 ||
	    otlp_start(err, sizeof(err)) == -1) {
		wh_log(WH_LOG_ERROR, err, NULL);
		return (2);
	}
	(void)snprintf(n1, sizeof(n1), "%d", d.cfg.concurrency);
	wh_log(WH_LOG_INFO, "dispatcher started", "consumer", d.consumer,
	    "concurrency", n1, "private_targets",
	    d.cfg.net.allow_private ? "allowed" : d.cfg.net.ncidrs > 0 ?
	    "refused except WH_ALLOW_CIDRS" : "refused", NULL);

	while (!got_term) {
		if (loop_run_once(1000) == -1) {
			wh_log(WH_LOG_ERROR, "event loop failed", NULL);
			return (1);
		}
	}
	drain();
	(void)snprintf(n1, sizeof(n1), "%llu",
	    (unsigned long long)d.n_delivered);
	(void)snprintf(n2, sizeof(n2), "%llu", (unsigned long long)d.n_failed);
	(void)snprintf(n3, sizeof(n3), "%llu",
	    (unsigned long long)d.n_events);
	wh_log(WH_LOG_INFO, "dispatcher stopped", "events", n3, "delivered",
	    n1, "failed_attempts", n2, NULL);
	delivery_free_all();
	deliver_free();
	hookcache_free();
	partitions_free();
	wh_sign_cleanup();
	loop_free();
	return (0);
}

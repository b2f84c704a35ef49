/*
 * retention.c: dead letters kept no longer than WH_DEAD_MAX_AGE_MS.
 *
 * wh:{0}:dead is capped by count when written (MAXLEN ~); its age cap is
 * applied here, every TRIM_EVERY_MS, with XTRIM MINID ~ <now - age>, so
 * that old entries go even when no new dead letter comes. Any dispatcher
 * may run it; it is idempotent. The per-webhook indexes are trimmed when
 * written (common/lua/dead_letter.lua) and expire as a whole; entries
 * trimmed from the stream are skipped and dropped by their readers. The
 * attempt logs trim themselves when written and expire when idle
 * (common/lua/attempt_record.lua).
 */
#include <stdio.h>

#include "dispatch.h"
#include "log.h"
#include "timeutil.h"

#define TRIM_EVERY_MS	10000

static struct loop_timer	trim_timer;

static void
on_trimmed(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	char		 n[24];

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_WARN, "trimming old dead letters failed",
		    "error", reply->str, NULL);
	else if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer > 0) {
		(void)snprintf(n, sizeof(n), "%lld", reply->integer);
		wh_log(WH_LOG_INFO, "old dead letters trimmed", "entries", n,
		    NULL);
	}
}

static void
trim(void *arg)
{
	const char	*argv[5];
	char		 minid[24];
	unsigned	 p;

	if (d.stopping)
		return;
	(void)snprintf(minid, sizeof(minid), "%lld",
	    (long long)(wh_now_ms() - d.cfg.dead_max_age_ms));
	argv[0] = "XTRIM";
	argv[2] = "MINID";
	argv[3] = "~";
	argv[4] = minid;
	for (p = 0; p < d.nparts && d.main.conn.ready; p++) {
		argv[1] = d.parts[p].k_dead;
		(void)rconn_cmd(&d.main, on_trimmed, NULL, 5, argv, NULL);
	}
	loop_timer_arm(&trim_timer, TRIM_EVERY_MS);
}

void
retention_start(void)
{
	loop_timer_init(&trim_timer, trim, NULL);
	loop_timer_arm(&trim_timer, TRIM_EVERY_MS / 10);
}

void
retention_stop(void)
{
	loop_timer_disarm(&trim_timer);
}

/*
 * jobs.c: working ~recover jobs (POST /v1/webhooks/{sid}/~recover).
 *
 * The api records a job (wh:job:<job_sid>: webhook, window, state,
 * counters) and lists it in wh:{0}:jobs (job_sid -> webhook_sid). Every
 * dispatcher picks an active job at random on its upkeep tick and runs
 * one batch of it: common/lua/dead_requeue.lua moves up to JOB_BATCH of
 * the webhook's dead letters in the window (in wh:{p}:dead of the job's
 * company's partition) to that partition's wh:{p}:retries (attempts
 * counted afresh) and moves the job's counters, in one atomic step. The
 * batch removes what it scanned from the webhook's dead-letter index, so
 * the job needs no cursor and no owner: any dispatcher may run the next
 * batch, two running at once simply take consecutive batches, and a
 * dispatcher that dies between batches loses and doubles nothing. The
 * batch that finds less than a full batch marks the job done.
 *
 * In a Redis Cluster the job's keys are not in the slot of the dead
 * letters (the company's partition): the script moves the batch there and
 * answers its counts, which are then added to the job (one MULTI in the
 * job's slot). Batches still move each letter once; a dispatcher that
 * dies in between loses only that batch's counts, and a job left marked
 * running is done by the next batch, which finds nothing.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

#define JOB_EVERY_MS	250
#define JOB_BATCH	"500"

static struct loop_timer	job_timer;
static int			working;
static char			k_jobs[WH_KEY_MAX];

static void
on_batch(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	working = 0;
	if (d.stopping)
		return;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "a recovery batch failed", "error",
		    reply->str, NULL);
	/* A full batch: more may follow, so go on at once. */
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer == 1)
		loop_timer_arm(&job_timer, 0);
	else
		loop_timer_arm(&job_timer, JOB_EVERY_MS);
}

/* The job being worked (one at a time: working). */
static char	pick_job[WH_ID_MAX], pick_hook[WH_ID_MAX];

static void
pick_done(void)
{
	working = 0;	/* no job (or an error): look again later */
	loop_timer_arm(&job_timer, JOB_EVERY_MS);
}

/*
 * A cluster's batch answered {full, scanned, moved, skipped}: add it to
 * the job, and mark the job done when the batch was not full (a job
 * without a window is done at once: counts NULL).
 */
static void
job_account(const redisReply *counts)
{
	static const char	*names[3] = { "scanned", "moved", "skipped" };
	const char		*argv[8];
	char			 job[WH_KEY_MAX], now[24], n[3][24];
	int			 full = 0, i;

	if (wh_key_job(job, sizeof(job), d.cfg.prefix, pick_job) == -1) {
		pick_done();
		return;
	}
	if (counts != NULL)
		full = counts->element[0]->integer == 1;
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	argv[0] = "MULTI";
	if (rconn_cmd(&d.main, NULL, NULL, 1, argv, NULL) == -1) {
		pick_done();
		return;
	}
	for (i = 0; counts != NULL && i < 3; i++) {
		(void)snprintf(n[i], sizeof(n[i]), "%lld",
		    counts->element[i + 1]->integer);
		argv[0] = "HINCRBY"; argv[1] = job; argv[2] = names[i];
		argv[3] = n[i];
		(void)rconn_cmd(&d.main, NULL, NULL, 4, argv, NULL);
	}
	argv[0] = "HSET"; argv[1] = job; argv[2] = "state";
	argv[3] = full ? "running" : "done"; argv[4] = "updated_at";
	argv[5] = now; argv[6] = "finished_at"; argv[7] = now;
	(void)rconn_cmd(&d.main, NULL, NULL, full ? 6 : 8, argv, NULL);
	if (!full) {
		argv[0] = "HDEL"; argv[1] = k_jobs; argv[2] = pick_job;
		(void)rconn_cmd(&d.main, NULL, NULL, 3, argv, NULL);
	}
	argv[0] = "EXEC";
	if (rconn_cmd(&d.main, NULL, NULL, 1, argv, NULL) == -1) {
		pick_done();
		return;
	}
	working = 0;
	loop_timer_arm(&job_timer, full ? 0 : JOB_EVERY_MS);
}

/* The script's answer to a cluster's batch. */
static void
on_batch_split(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	size_t		 i;

	if (d.stopping) {
		working = 0;
		return;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "a recovery batch failed", "error",
		    reply->str, NULL);
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 4) {
		pick_done();
		return;
	}
	for (i = 0; i < 4; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
			pick_done();
			return;
		}
	}
	job_account(reply);
}

/*
 * The job's company_sid, since, until and state came (nil once the job
 * expired: the script then finds no job and drops it): one batch of it,
 * on the dead letters and the queue of the company's partition.
 */
static void
on_company(struct wh_wire *w, void *r, void *priv)
{
	redisReply		*reply = r, *f[4];
	const struct partition	*part;
	const char		*argv[10];
	char			 idx[WH_KEY_MAX], ids[WH_KEY_MAX];
	char			 job[WH_KEY_MAX], now[24];
	unsigned		 p;
	int			 i, split = d.cfg.redis.ncluster > 0;

	if (d.stopping) {
		working = 0;
		return;
	}
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 4) {
		pick_done();
		return;
	}
	for (i = 0; i < 4; i++) {
		f[i] = reply->element[i];
		if (f[i]->type != REDIS_REPLY_STRING &&
		    f[i]->type != REDIS_REPLY_NIL) {
			pick_done();
			return;
		}
	}
	/* A cluster's job without a window, or done: it leaves the list. */
	if (split && (f[1]->type == REDIS_REPLY_NIL ||
	    f[2]->type == REDIS_REPLY_NIL || (f[3]->type ==
	    REDIS_REPLY_STRING && strcmp(f[3]->str, "done") == 0))) {
		job_account(NULL);
		return;
	}
	p = wh_partition(f[0]->type == REDIS_REPLY_STRING ? f[0]->str : "",
	    d.nparts);
	part = &d.parts[p];
	if (wh_key_webhook_dead(idx, sizeof(idx), d.cfg.prefix, p,
	    pick_hook) == -1 ||
	    wh_key_webhook_dead_ids(ids, sizeof(ids), d.cfg.prefix, p,
	    pick_hook) == -1 ||
	    wh_key_job(job, sizeof(job), d.cfg.prefix, pick_job) == -1) {
		pick_done();
		return;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	argv[0] = idx; argv[1] = ids; argv[2] = part->k_dead;
	argv[3] = part->k_retries; argv[4] = job; argv[5] = k_jobs;
	argv[6] = now; argv[7] = "range"; argv[8] = JOB_BATCH;
	argv[9] = pick_job;
	if (split) {
		/* KEYS[1..4], then ARGV with the window. */
		argv[4] = now; argv[5] = "range"; argv[6] = JOB_BATCH;
		argv[7] = pick_job; argv[8] = f[1]->str; argv[9] = f[2]->str;
		if (rconn_script(&d.main, wh_lua_dead_requeue, on_batch_split,
		    NULL, 4, 10, argv, NULL) == -1)
			pick_done();
		return;
	}
	if (rconn_script(&d.main, wh_lua_dead_requeue, on_batch, NULL, 6, 10,
	    argv, NULL) == -1)
		pick_done();
}

/* HRANDFIELD's [job_sid, webhook_sid]: ask the job's company, window. */
static void
on_pick(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	const char	*argv[6];
	char		 job[WH_KEY_MAX];

	if (d.stopping) {
		working = 0;
		return;
	}
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING) {
		pick_done();
		return;
	}
	if (!wh_id_valid(reply->element[0]->str, reply->element[0]->len) ||
	    !wh_id_valid(reply->element[1]->str, reply->element[1]->len) ||
	    reply->element[0]->len >= sizeof(pick_job) ||
	    reply->element[1]->len >= sizeof(pick_hook) ||
	    wh_key_job(job, sizeof(job), d.cfg.prefix,
	    reply->element[0]->str) == -1) {
		wh_log(WH_LOG_WARN, "an active job is not valid; ignored",
		    NULL);
		pick_done();
		return;
	}
	memcpy(pick_job, reply->element[0]->str, reply->element[0]->len + 1);
	memcpy(pick_hook, reply->element[1]->str, reply->element[1]->len + 1);
	argv[0] = "HMGET"; argv[1] = job; argv[2] = "company_sid";
	argv[3] = "since"; argv[4] = "until"; argv[5] = "state";
	if (rconn_cmd(&d.main, on_company, NULL, 6, argv, NULL) == -1)
		pick_done();
}

static void
job_tick(void *arg)
{
	const char	*argv[4];

	if (d.stopping)
		return;
	if (working || !d.main.conn.ready) {
		loop_timer_arm(&job_timer, JOB_EVERY_MS);
		return;
	}
	argv[0] = "HRANDFIELD";
	argv[1] = k_jobs;
	argv[2] = "1";
	argv[3] = "WITHVALUES";
	if (rconn_cmd(&d.main, on_pick, NULL, 4, argv, NULL) == 0)
		working = 1;
	else
		loop_timer_arm(&job_timer, JOB_EVERY_MS);
}

void
jobs_start(void)
{
	if (wh_key_jobs(k_jobs, sizeof(k_jobs), d.cfg.prefix) == -1)
		return;
	loop_timer_init(&job_timer, job_tick, NULL);
	loop_timer_arm(&job_timer, JOB_EVERY_MS);
}

void
jobs_stop(void)
{
	loop_timer_disarm(&job_timer);
}

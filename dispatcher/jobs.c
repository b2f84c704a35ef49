/*
 * jobs.c: working ~recover jobs (POST /v1/webhooks/{sid}/~recover).
 *
 * A job with include "all" (its hash says so) resends every kept event
 * of its company in the window instead (common/lua/event_resend.lua,
 * with a cursor in the job), each task marked to be delivered only if
 * the webhook's event types and filter take the event (consume.c).
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
 * answers its counts, which are then added to the job in the job's slot
 * (common/lua/job_lease_end.lua, which also moves an include "all" job's
 * cursor only if it is the one the batch read). Batches still move each
 * letter once; a dispatcher that dies in between loses only that batch's
 * counts, and a job left marked running is done by the next batch, which
 * finds nothing.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"
#include "validate.h"

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

/* The job picked, while its kind is asked for. */
struct pick {
	char	job_sid[WH_ID_MAX];
	char	webhook_sid[WH_ID_MAX];
};

static void
batch_failed(void)
{
	working = 0;
	loop_timer_arm(&job_timer, JOB_EVERY_MS);
}

/*
 * The job a cluster's split batch accounts to, its cursor as the batch
 * read it, and its lease (one at a time: working).
 */
static char	pick_job[WH_ID_MAX];
static char	pick_lease[WH_KEY_MAX];
static char	pick_cursor[64];
static char	pick_cursor_n[24];

/*
 * job_lease_end.lua's answer: 0 (the cursor had moved, or the lease was
 * another's) is normal; only an error is worth a line.
 */
static void
on_lease_end(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_ERROR, "a recovery batch could not be "
		    "accounted", "error", reply->str, NULL);
}

/*
 * End a cluster's batch in the job's slot (common/lua/job_lease_end.lua):
 * mode "release" gives the lease back only; "running" or "done" also adds
 * the batch's counts (NULL: none) and, if the cursor is still the one the
 * batch read, writes the job's state and new cursor. Only the lease's
 * holder drops it, so one that lapsed in a stall frees no one else's.
 */
static int
lease_end(const char *mode, const redisReply *counts)
{
	const char	*argv[14];
	char		 job[WH_KEY_MAX], now[24];
	char		 n[3][24], cn[24];
	int		 i, rc;

	if (pick_lease[0] == '\0')
		return (0);
	if (wh_key_job(job, sizeof(job), d.cfg.prefix, pick_job) == -1) {
		pick_lease[0] = '\0';
		return (-1);
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	argv[0] = pick_lease; argv[1] = job; argv[2] = k_jobs;
	argv[3] = d.consumer; argv[4] = mode; argv[5] = pick_job;
	argv[6] = now;
	for (i = 0; i < 3; i++) {
		n[i][0] = '\0';
		if (counts != NULL)
			(void)snprintf(n[i], sizeof(n[i]), "%lld",
			    counts->element[i + 1]->integer);
		argv[7 + i] = n[i];
	}
	argv[10] = pick_cursor; argv[11] = pick_cursor_n;
	argv[12] = ""; argv[13] = "";
	if (counts != NULL && counts->elements == 6) {
		(void)snprintf(cn, sizeof(cn), "%lld",
		    counts->element[5]->integer);
		argv[12] = counts->element[4]->str;
		argv[13] = cn;
	}
	rc = rconn_script(&d.main, wh_lua_job_lease_end, on_lease_end, NULL,
	    3, 14, argv, NULL);
	pick_lease[0] = '\0';
	return (rc);
}

/* A cluster's batch ends without accounting: give its lease back. */
static void
pick_done(void)
{
	(void)lease_end("release", NULL);
	batch_failed();
}

/*
 * A cluster's batch answered {full, scanned, moved, skipped} (and the
 * cursor, cursor_n of an include "all" job): add it to the job, move its
 * cursor, mark the job done when the batch was not full (a job without a
 * window is done at once: counts NULL) and give the lease back, in one
 * script in the job's slot (lease_end).
 */
static void
job_account(const redisReply *counts)
{
	int	full = 0;

	if (counts != NULL)
		full = counts->element[0]->integer == 1;
	if (lease_end(full ? "running" : "done", counts) == -1) {
		batch_failed();
		return;
	}
	working = 0;
	loop_timer_arm(&job_timer, full ? 0 : JOB_EVERY_MS);
}

/*
 * The script's answer to a cluster's batch: 4 integers (dead letters),
 * or 4 integers, the cursor's score (a string) and an integer (kept
 * events).
 */
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
	    (reply->elements != 4 && reply->elements != 6)) {
		pick_done();
		return;
	}
	for (i = 0; i < reply->elements; i++) {
		if (reply->element[i]->type != (i == 4 ? REDIS_REPLY_STRING :
		    REDIS_REPLY_INTEGER)) {
			pick_done();
			return;
		}
	}
	job_account(reply);
}


/*
 * One batch of a job with include "dead": its dead letters, in the
 * company's partition. In a cluster (window given) the split call:
 * KEYS[1..4], the window in ARGV, the counts added after (job_account).
 */
static int
batch_dead(const struct pick *p, const char *company, const char *job,
    const char *now, const char *since, const char *until)
{
	const char	*argv[10];
	char		 idx[WH_KEY_MAX], ids[WH_KEY_MAX];
	unsigned	 pp = partition_index(company);

	if (wh_key_webhook_dead(idx, sizeof(idx), d.cfg.prefix, pp,
	    p->webhook_sid) == -1 ||
	    wh_key_webhook_dead_ids(ids, sizeof(ids), d.cfg.prefix, pp,
	    p->webhook_sid) == -1)
		return (-1);
	argv[0] = idx; argv[1] = ids; argv[2] = d.parts[pp].k_dead;
	argv[3] = d.parts[pp].k_retries; argv[4] = job; argv[5] = k_jobs;
	argv[6] = now; argv[7] = "range"; argv[8] = JOB_BATCH;
	argv[9] = p->job_sid;
	if (since != NULL) {
		argv[4] = now; argv[5] = "range"; argv[6] = JOB_BATCH;
		argv[7] = p->job_sid; argv[8] = since; argv[9] = until;
		return (rconn_script(&d.main, wh_lua_dead_requeue,
		    on_batch_split, NULL, 4, 10, argv, NULL));
	}
	return (rconn_script(&d.main, wh_lua_dead_requeue, on_batch, NULL, 6,
	    10, argv, NULL));
}

/*
 * One batch of a job with include "all": the company's kept events, in
 * its partition's slot. In a cluster (win given: since, until, cursor,
 * cursor_n) the split call: KEYS[1..2], the window and the cursor in
 * ARGV, the counts and the cursor written after (job_account).
 */
static int
batch_all(const struct pick *p, const char *company, const char *job,
    const char *now, const char *const *win)
{
	const char	*argv[14];
	char		 idx[WH_KEY_MAX], pfx[WH_KEY_MAX];
	unsigned	 pp = partition_index(company);
	int		 i;

	if (wh_key_company_events(idx, sizeof(idx), d.cfg.prefix, pp,
	    company) == -1 ||
	    wh_key_event_kept(pfx, sizeof(pfx), d.cfg.prefix, pp, company,
	    "") == -1)
		return (-1);
	argv[0] = idx; argv[1] = d.parts[pp].k_retries;
	argv[2] = job;
	argv[3] = k_jobs; argv[4] = now; argv[5] = "range";
	argv[6] = p->webhook_sid; argv[7] = JOB_BATCH; argv[8] = p->job_sid;
	argv[9] = pfx;
	if (win != NULL) {
		for (i = 2; i < 8; i++)
			argv[i] = argv[i + 2];
		for (i = 0; i < 4; i++)
			argv[8 + i] = win[i] != NULL ? win[i] : "";
		return (rconn_script(&d.main, wh_lua_event_resend,
		    on_batch_split, NULL, 2, 12, argv, NULL));
	}
	return (rconn_script(&d.main, wh_lua_event_resend, on_batch, NULL, 4,
	    10, argv, NULL));
}

/*
 * The job's [include, company_sid, since, until, state, cursor,
 * cursor_n]: run one batch of its kind (the rest matter only to a
 * cluster's split batches, which hold the job's lease).
 */
static void
on_kind(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	struct pick	*p = priv;
	const char	*inc = NULL, *company = NULL, *win[5] = { NULL };
	char		 job[WH_KEY_MAX], now[24];
	int		 rc = -1, i, split = d.cfg.redis.ncluster > 0;

	if (d.stopping) {
		working = 0;
		free(p);
		return;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == 7) {
		if (reply->element[0]->type == REDIS_REPLY_STRING)
			inc = reply->element[0]->str;
		if (reply->element[1]->type == REDIS_REPLY_STRING)
			company = reply->element[1]->str;
		for (i = 0; i < 5; i++)
			if (reply->element[2 + i]->type == REDIS_REPLY_STRING)
				win[i] = reply->element[2 + i]->str;
	}
	/* The cursor as read, compared when the batch is accounted. */
	if ((size_t)snprintf(pick_cursor, sizeof(pick_cursor), "%s",
	    win[3] != NULL ? win[3] : "") >= sizeof(pick_cursor) ||
	    (size_t)snprintf(pick_cursor_n, sizeof(pick_cursor_n), "%s",
	    win[4] != NULL ? win[4] : "") >= sizeof(pick_cursor_n))
		reply = NULL;
	/* A cluster's job without a window, or done. */
	if (split && reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    (win[0] == NULL || win[1] == NULL ||
	    (win[2] != NULL && strcmp(win[2], "done") == 0))) {
		free(p);
		job_account(NULL);
		return;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    wh_key_job(job, sizeof(job), d.cfg.prefix, p->job_sid) != -1) {
		/* The window, then cursor and cursor_n. */
		win[2] = win[3];
		win[3] = win[4];
		if (inc != NULL && strcmp(inc, "all") == 0)
			rc = company != NULL && wh_validate_company_sid(company,
			    strlen(company)) == NULL ? batch_all(p, company,
			    job, now, split ? win : NULL) : -1;
		else
			rc = batch_dead(p, company, job, now,
			    split ? win[0] : NULL, win[1]);
	}
	if (rc == -1) {
		if (reply != NULL && reply->type == REDIS_REPLY_ARRAY)
			wh_log(WH_LOG_WARN, "an active job is not valid; "
			    "ignored", NULL);
		pick_done();
	}
	free(p);
}

/* Ask what kind of job p is (and, in a cluster, its window and cursor). */
static void
ask_kind(struct pick *p)
{
	static const char	*fields[7] = { "include", "company_sid",
				    "since", "until", "state", "cursor",
				    "cursor_n" };
	const char		*argv[9];
	char			 job[WH_KEY_MAX];
	int			 i;

	argv[0] = "HMGET";
	argv[1] = job;
	for (i = 0; i < 7; i++)
		argv[2 + i] = fields[i];
	if (wh_key_job(job, sizeof(job), d.cfg.prefix, p->job_sid) == -1 ||
	    rconn_cmd(&d.main, on_kind, p, 9, argv, NULL) == -1) {
		free(p);
		pick_done();
	}
}

/* SET NX's answer for a cluster's job lease: ours (OK), or another's. */
static void
on_lease(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	struct pick	*p = priv;

	if (d.stopping || reply == NULL || reply->type != REDIS_REPLY_STATUS) {
		/* Another dispatcher runs this job's batch now. */
		pick_lease[0] = '\0';
		free(p);
		if (d.stopping)
			working = 0;
		else
			batch_failed();
		return;
	}
	ask_kind(p);
}

/*
 * In a cluster a batch reads the job in its slot and is accounted there
 * after the work in the partition's: the job's lease, taken before its
 * cursor is read, keeps its batches to one dispatcher at a time, so that
 * an include "all" batch is not resent from a cursor another moves.
 */
static void
take_lease(struct pick *p)
{
	const char	*argv[7];
	char		 ms[24];

	(void)snprintf(pick_job, sizeof(pick_job), "%s", p->job_sid);
	(void)snprintf(ms, sizeof(ms), "%lld",
	    (long long)d.cfg.claim_idle_ms);
	argv[0] = "SET";
	argv[1] = pick_lease;
	argv[2] = d.consumer;
	argv[3] = "NX";
	argv[4] = "PX";
	argv[5] = ms;
	if (wh_key_job_lease(pick_lease, sizeof(pick_lease), d.cfg.prefix,
	    p->job_sid) == -1 ||
	    rconn_cmd(&d.main, on_lease, p, 6, argv, NULL) == -1) {
		pick_lease[0] = '\0';
		free(p);
		batch_failed();
	}
}

/* HRANDFIELD's [job_sid, webhook_sid]: ask what kind of job it is. */
static void
on_pick(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;
	struct pick	*p;
	char		 job[WH_KEY_MAX];

	if (d.stopping) {
		working = 0;
		return;
	}
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING) {
		batch_failed();	/* no job (or an error): look again later */
		return;
	}
	if (!wh_id_valid(reply->element[0]->str, reply->element[0]->len) ||
	    !wh_id_valid(reply->element[1]->str, reply->element[1]->len) ||
	    wh_key_job(job, sizeof(job), d.cfg.prefix,
	    reply->element[0]->str) == -1 ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		wh_log(WH_LOG_WARN, "an active job is not valid; ignored",
		    NULL);
		batch_failed();
		return;
	}
	(void)snprintf(p->job_sid, sizeof(p->job_sid), "%s",
	    reply->element[0]->str);
	(void)snprintf(p->webhook_sid, sizeof(p->webhook_sid), "%s",
	    reply->element[1]->str);
	pick_lease[0] = '\0';
	if (d.cfg.redis.ncluster > 0)
		take_lease(p);
	else
		ask_kind(p);
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

/*
 * recover.c: POST /v1/webhooks/{webhook_sid}/~recover {"since", "until"}
 * gives every dead letter of the webhook with since <= dead_at < until
 * another delivery (attempts counted afresh), as a job: the answer is
 * 202 with the job, whose progress GET /v1/jobs/{job_sid} shows.
 *
 * The api only records the job (wh:job:<job_sid>, a hash kept JOB_TTL_MS)
 * and lists it as active (wh:{0}:jobs, job_sid -> webhook_sid); the
 * dispatchers work it in bounded batches (dispatcher/jobs.c,
 * common/lua/dead_requeue.lua), so a window of any size never holds up
 * an api worker or Redis. An until in the future is now: what dies after
 * the job began (e.g. the same deliveries failing again) is not taken
 * up by it, so a job always ends. Calling twice is safe: a dead letter
 * leaves the index as it is requeued, so the second job finds nothing
 * left to move. A disabled webhook would only park them again: 409.
 *
 * With "include": "all" the job resends every event of the webhook's
 * company kept (WH_EVENT_RETENTION_MS) with since <= kept at < until,
 * delivered or not, each only if the webhook's event types and filter
 * take it (common/lua/event_resend.lua; docs/delivery.md, "Resending").
 * "dead" (the default) is the dead letters as above.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"
#include "scripts.h"
#include "timeutil.h"

#define JOB_TTL_MS	"604800000"	/* 7 days */

static const struct api_field_spec	recover_fields[] = {
	{ "since", 0 }, { "until", 0 }, { "include", 0 }, { NULL, 0 }
};

/* since and until into job; -1 with the answer (400, 422) written. */
static int
read_body(struct api_ctx *ctx, struct api_job *job)
{
	struct api_body		 body;
	struct api_obj		*obj;
	struct api_errors	 e;
	const char		*since, *until, *why, *field, *inc;

	memset(&e, 0, sizeof(e));
	if ((obj = api_body_object(ctx, &body, NULL, 0, &e)) == NULL)
		return (-1);
	api_fields_check(obj, recover_fields, "", &e);
	since = api_field_str(obj, "since", &e, 1);
	until = api_field_str(obj, "until", &e, 1);
	if ((inc = api_field_str(obj, "include", &e, 0)) == NULL ||
	    strcmp(inc, "dead") == 0)
		job->include_all = 0;
	else if (strcmp(inc, "all") == 0)
		job->include_all = 1;
	else
		api_errors_add(&e, "include", "must be \"dead\" or \"all\"");
	if (since != NULL && until != NULL && e.n == 0 &&
	    (why = wh_time_window(since, strlen(since), until, strlen(until),
	    wh_now_ms(), &job->since, &job->until, &field)) != NULL)
		api_errors_add(&e, field, "%s", why);
	return (api_body_verdict(ctx, &body, 0, &e, "recovery"));
}

static int
create_send(struct api_ctx *ctx, const struct api_job *job)
{
	char		 key[WH_KEY_MAX], jobs[WH_KEY_MAX];
	char		 since[24], until[24], now[24];
	const char	*argv[10];

	if (wh_key_job(key, sizeof(key), api_cfg.prefix, job->sid) == -1 ||
	    wh_key_jobs(jobs, sizeof(jobs), api_cfg.prefix) == -1)
		return (-1);
	(void)snprintf(since, sizeof(since), "%lld", (long long)job->since);
	(void)snprintf(until, sizeof(until), "%lld", (long long)job->until);
	(void)snprintf(now, sizeof(now), "%lld", (long long)job->created_at);
	argv[0] = key;
	argv[1] = jobs;
	argv[2] = job->sid;
	argv[3] = job->webhook_sid;
	argv[4] = job->company_sid;
	argv[5] = since;
	argv[6] = until;
	argv[7] = now;
	argv[8] = JOB_TTL_MS;
	argv[9] = job->include_all ? "all" : "dead";
	return (api_redis_eval(ctx, wh_lua_recover_create, 2, 10, argv, NULL));
}

int
api_recover(struct api_ctx *ctx)
{
	struct api_job		*job;
	long long		 v;

	if ((job = api_state(ctx, sizeof(*job), free)) == NULL)
		return (api_problem_nomem(ctx));
	switch (ctx->phase) {
	case 0:
		if (read_body(ctx, job) == -1)
			return (API_DONE);
		return (api_webhook_await(ctx));
	case 1:
		if (api_webhook_enabled(ctx, ctx->replies[0],
		    "recovering its dead letters", job->company_sid) == -1)
			return (API_DONE);
		if (wh_id_new("job_", job->sid, sizeof(job->sid)) == -1)
			return (api_problem_nomem(ctx));
		(void)snprintf(job->webhook_sid, sizeof(job->webhook_sid),
		    "%s", ctx->params[0]);
		(void)snprintf(job->state, sizeof(job->state), "queued");
		job->created_at = job->updated_at = wh_now_ms();
		ctx->phase = 2;
		if (create_send(ctx, job) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	default:
		if (api_reply_int(ctx, &v) == -1)
			return (API_DONE);
		api_location(ctx, "/v1/jobs/%s", job->sid);
		return (api_respond_one(ctx, 202, "job", api_render_job, job));
	}
}

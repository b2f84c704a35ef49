/*
 * jobs.c: GET /v1/jobs/{job_sid}, where a ~recover job is (queued,
 * running, done) and what it did so far. Jobs are kept a week
 * (wh:job:<job_sid>, see recover.c); another company's job answers 404,
 * exactly like a missing one.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "keys.h"

static void
copy_text(char *dst, size_t len, const struct api_reply *v)
{
	size_t	n = v->len < len - 1 ? v->len : len - 1;

	memcpy(dst, v->str, n);
	dst[n] = '\0';
}

static int64_t
number(const struct api_reply *v)
{
	char		*end;
	long long	 n;

	n = strtoll(v->str, &end, 10);
	return (*end == '\0' && n > 0 ? n : 0);
}

/* An HGETALL reply of a job into j; -1 if it is not a job's. */
static int
job_take(const struct api_reply *r, struct api_job *j)
{
	const struct api_reply	*k, *v;
	size_t			 i;

	memset(j, 0, sizeof(*j));
	if (r->type != REDIS_REPLY_ARRAY || r->nelem % 2 != 0)
		return (-1);
	for (i = 0; i + 1 < r->nelem; i += 2) {
		k = r->elem[i];
		v = r->elem[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "sid") == 0)
			copy_text(j->sid, sizeof(j->sid), v);
		else if (strcmp(k->str, "webhook_sid") == 0)
			copy_text(j->webhook_sid, sizeof(j->webhook_sid), v);
		else if (strcmp(k->str, "company_sid") == 0)
			copy_text(j->company_sid, sizeof(j->company_sid), v);
		else if (strcmp(k->str, "state") == 0)
			copy_text(j->state, sizeof(j->state), v);
		else if (strcmp(k->str, "include") == 0)
			j->include_all = v->len == 3 &&
			    memcmp(v->str, "all", 3) == 0;
		else if (strcmp(k->str, "since") == 0)
			j->since = number(v);
		else if (strcmp(k->str, "until") == 0)
			j->until = number(v);
		else if (strcmp(k->str, "scanned") == 0)
			j->scanned = number(v);
		else if (strcmp(k->str, "moved") == 0)
			j->moved = number(v);
		else if (strcmp(k->str, "skipped") == 0)
			j->skipped = number(v);
		else if (strcmp(k->str, "created_at") == 0)
			j->created_at = number(v);
		else if (strcmp(k->str, "updated_at") == 0)
			j->updated_at = number(v);
		else if (strcmp(k->str, "finished_at") == 0)
			j->finished_at = number(v);
	}
	if (j->sid[0] == '\0' || j->company_sid[0] == '\0' ||
	    j->state[0] == '\0')
		return (-1);
	return (0);
}

int
api_jobs_get(struct api_ctx *ctx)
{
	struct api_job	 j;
	char		 key[WH_KEY_MAX];
	const char	*argv[2];

	if (ctx->phase == 0) {
		if (wh_key_job(key, sizeof(key), api_cfg.prefix,
		    ctx->params[0]) == -1)
			return (api_problem_redis(ctx));
		argv[0] = "HGETALL";
		argv[1] = key;
		ctx->phase = 1;
		if (api_redis_cmd(ctx, 2, argv, NULL) == -1)
			return (api_problem_redis(ctx));
		return (API_WAIT);
	}
	if (ctx->nreplies != 1)
		return (api_problem_redis(ctx));
	if (job_take(ctx->replies[0], &j) == -1 ||
	    !api_company_visible(ctx, j.company_sid))
		return (api_problem(ctx, API_P_NOT_FOUND, "No such job.",
		    NULL));
	return (api_respond_one(ctx, 200, "job", api_render_job, &j));
}

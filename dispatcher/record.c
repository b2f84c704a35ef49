/*
 * record.c: attempts recorded in batches.
 *
 * Every attempt goes to its webhook's log, its event's index, its
 * endpoint's health and its hourly rollup
 * (common/lua/attempt_record.lua). One script call per
 * attempt would cost Redis a script invocation each (several times the
 * plain XADD it replaced) and this loop a command each, so the attempts
 * that end in one round of the loop are gathered and sent as one call
 * (at most BATCH_MAX each) when the round ends, as the acks are.
 * Recording is best effort, as the log always was: a batch Redis does
 * not take is logged and dropped, never retried, and never holds up a
 * delivery's resolution. The reply says, for each failure, how long the
 * endpoint has been failing, which may disable its webhook (autodisable.c).
 *
 * Each line keeps the request it was about (its `request` field): the
 * event type, then the header lines as curl sent them (after any
 * restamp), ours first (the signatures), then the endpoint's own (the
 * API shows their values to whoever may read the log, so they are no
 * secret here), whole lines only, within REQUEST_LOGGED bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "dispatch.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

#define BATCH_MAX	32
#define HOOK_KEYS	4	/* webhook, log, health, hourly */
#define ATTEMPT_ARGS	12	/* the 10 field values, at ms, request */
#define HEAD_ARGS	6	/* now, maxlen, oldest, age, ttl, webhooks */
#define ANSWER_LOGGED	1024	/* bytes of the answer kept per attempt */
#define REQUEST_LOGGED	4096	/* bytes of the request's text kept */

/* The strings of one attempt: its keys, its webhook, then its arguments. */
enum {
	F_HOOK, F_LOG, F_EVIDX, F_HEALTH, F_HOURLY, F_SID,
	F_COUNT = F_SID + 1 + ATTEMPT_ARGS
};

/* One attempt: its strings in one block, and who to judge on failure. */
struct record {
	char		*buf;
	size_t		 off[F_COUNT];
	size_t		 len[F_COUNT];
	int		 ok;
	char		 webhook_sid[WH_ID_MAX];
	char		 company_sid[WH_ID_MAX];
};

struct batch {
	struct record	 rec[BATCH_MAX];
	size_t		 order[BATCH_MAX];	/* as sent: batch_order() */
	size_t		 group[BATCH_MAX];	/* each webhook's attempts */
	size_t		 n;
};

static struct batch		*cur;
static struct loop_timer	 flush_timer;
static int			 timer_ready;

/* Free a batch, wiping each block: a request may hold custom headers. */
static void
batch_free(struct batch *b)
{
	const size_t	last = F_COUNT - 1;
	size_t		i;

	for (i = 0; i < b->n; i++) {
		explicit_bzero(b->rec[i].buf, b->rec[i].off[last] +
		    b->rec[i].len[last] + 1);
		free(b->rec[i].buf);
	}
	free(b);
}

/* Each failure's {consecutive_failures, failing_since}: judge it. */
static void
on_recorded(struct wh_wire *w, void *r, void *priv)
{
	struct batch	*b = priv;
	redisReply		*reply = r, *e;
	const struct record	*rec;
	size_t			 i;

	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == b->n) {
		for (i = 0; i < b->n; i++) {
			e = reply->element[i];
			rec = &b->rec[b->order[i]];
			if (rec->ok || e->type != REDIS_REPLY_ARRAY ||
			    e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_INTEGER ||
			    e->element[1]->type != REDIS_REPLY_INTEGER)
				continue;
			autodisable_failed(rec->webhook_sid, rec->company_sid,
			    e->element[0]->integer, e->element[1]->integer);
		}
	} else if (reply != NULL)
		wh_log(WH_LOG_WARN, "recording attempts failed", "error",
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "unexpected reply", NULL);
	batch_free(b);
}

/*
 * The order in which the attempts of b are sent: grouped by webhook, each
 * group in the order its attempts ended, groups in the order of their
 * first attempt (the script does what is per webhook once per group).
 * Fills b->order and b->group (each group's size); returns the number of
 * groups.
 */
static size_t
batch_order(struct batch *b)
{
	size_t	i, j, n = 0, groups = 0;
	char	taken[BATCH_MAX];

	memset(taken, 0, sizeof(taken));
	for (i = 0; i < b->n; i++) {
		if (taken[i])
			continue;
		b->group[groups] = 0;
		for (j = i; j < b->n; j++) {
			if (!taken[j] && strcmp(b->rec[j].webhook_sid,
			    b->rec[i].webhook_sid) == 0) {
				taken[j] = 1;
				b->order[n++] = j;
				b->group[groups]++;
			}
		}
		groups++;
	}
	return (groups);
}

/* One string of a record as the next argument. */
static void
put(const char **argv, size_t *lens, size_t *k, const struct record *rec,
    size_t field)
{
	argv[*k] = rec->buf + rec->off[field];
	lens[*k] = rec->len[field];
	(*k)++;
}

/* Send the batch being gathered, if any (arguments: attempt_record.lua). */
void
record_flush(void)
{
	struct batch		*b = cur;
	const struct record	*first;
	const char		**argv = NULL;
	size_t			 *lens = NULL, i, j, g, k, argc, groups, nkeys;
	char			  head[HEAD_ARGS][24], counts[BATCH_MAX][24];
	int64_t			  t = wh_now_ms();

	if (b == NULL)
		return;
	cur = NULL;
	groups = batch_order(b);
	nkeys = groups * HOOK_KEYS + b->n;
	argc = nkeys + HEAD_ARGS + 2 * groups + b->n * ATTEMPT_ARGS;
	if ((argv = calloc(argc, sizeof(*argv))) == NULL ||
	    (lens = calloc(argc, sizeof(*lens))) == NULL)
		goto fail;
	(void)snprintf(head[0], sizeof(head[0]), "%lld", (long long)t);
	(void)snprintf(head[1], sizeof(head[1]), "%ld",
	    d.cfg.attempts_maxlen);
	(void)snprintf(head[2], sizeof(head[2]), "%lld",
	    (long long)(t - d.cfg.attempts_max_age_ms));
	(void)snprintf(head[3], sizeof(head[3]), "%lld",
	    (long long)d.cfg.attempts_max_age_ms);
	(void)snprintf(head[4], sizeof(head[4]), "%lld",
	    (long long)d.cfg.event_attempts_ttl_ms);
	(void)snprintf(head[5], sizeof(head[5]), "%zu", groups);
	/* KEYS: each webhook's, then each attempt's event index. */
	k = 0;
	for (g = 0, i = 0; g < groups; i += b->group[g++]) {
		first = &b->rec[b->order[i]];
		put(argv, lens, &k, first, F_HOOK);
		put(argv, lens, &k, first, F_LOG);
		put(argv, lens, &k, first, F_HEALTH);
		put(argv, lens, &k, first, F_HOURLY);
	}
	for (i = 0; i < b->n; i++)
		put(argv, lens, &k, &b->rec[b->order[i]], F_EVIDX);
	for (j = 0; j < HEAD_ARGS; j++, k++) {
		argv[k] = head[j];
		lens[k] = strlen(head[j]);
	}
	/* Each webhook's sid and number of attempts, then the attempts. */
	for (g = 0, i = 0; g < groups; i += b->group[g++]) {
		put(argv, lens, &k, &b->rec[b->order[i]], F_SID);
		(void)snprintf(counts[g], sizeof(counts[g]), "%zu", b->group[g]);
		argv[k] = counts[g];
		lens[k++] = strlen(counts[g]);
	}
	for (i = 0; i < b->n; i++) {
		for (j = F_SID + 1; j < F_COUNT; j++)
			put(argv, lens, &k, &b->rec[b->order[i]], j);
	}
	if (rconn_script(&d.main, wh_lua_attempt_record, on_recorded, b,
	    (int)nkeys, (int)argc, argv, lens) == -1)
		goto fail;
	free(argv);
	free(lens);
	return;
fail:
	wh_log(WH_LOG_WARN, "attempts not recorded (redis down or out of "
	    "memory)", NULL);
	free(argv);
	free(lens);
	batch_free(b);
}

static void
flush_fire(void *arg)
{
	record_flush();
}

/* Copy the strings of one attempt into one block (keys, then args). */
static int
record_fill(struct record *rec, const char **s, const size_t *l, size_t n)
{
	size_t	i, total = 0;

	for (i = 0; i < n; i++)
		total += l[i] + 1;
	if ((rec->buf = malloc(total)) == NULL)
		return (-1);
	total = 0;
	for (i = 0; i < n; i++) {
		memcpy(rec->buf + total, s[i], l[i]);
		rec->buf[total + l[i]] = '\0';
		rec->off[i] = total;
		rec->len[i] = l[i];
		total += l[i] + 1;
	}
	return (0);
}

/* Append "\n" line to out (len bytes used) when it fits whole. */
static void
request_line(char *out, size_t *len, const char *line)
{
	size_t	l = strlen(line);

	if (l == 0 || line[l - 1] == ':' || *len + 1 + l > REQUEST_LOGGED)
		return;		/* "Expect:" removes a header: not sent */
	out[(*len)++] = '\n';
	memcpy(out + *len, line, l);
	*len += l;
}

/*
 * The request's text: the event type, then the header lines. The first
 * dl->own_lines lines of dl->headers are the endpoint's own as sent
 * (deliver.c build_headers; a traceparent of its own is not sent when
 * propagate_trace is on); they come last, so that what the size cap
 * leaves out is never a signature. Returns its length.
 */
static size_t
request_text(const struct delivery *dl, char *out)
{
	const struct curl_slist	*n, *own = dl->headers;
	const char		*type = dl->entry->task.event.event_type;
	size_t			 i, len;

	len = strlen(type);
	if (len > REQUEST_LOGGED)
		return (0);
	memcpy(out, type, len);
	for (i = 0; own != NULL && i < dl->own_lines; i++)
		own = own->next;
	for (n = own; n != NULL; n = n->next)
		request_line(out, &len, n->data);
	for (n = dl->headers; n != NULL && n != own; n = n->next)
		request_line(out, &len, n->data);
	return (len);
}

/*
 * Gather one attempt of dl (outcome: succeeded, retrying, dead); sent
 * when this loop round ends or the batch is full.
 */
void
record_attempt(const struct delivery *dl, const char *outcome, int ok)
{
	const struct wh_event	*ev = &dl->entry->task.event;
	struct record		*rec;
	const char		*s[F_COUNT];
	size_t			 l[F_COUNT];
	char			 hook[WH_KEY_MAX], log[WH_KEY_MAX];
	char			 evidx[WH_KEY_MAX], health[WH_KEY_MAX];
	char			 hourly[WH_KEY_MAX];
	char			 attempt[16], status[16], latency[24], skew[24];
	char			 at[WH_RFC3339_LEN + 1], at_ms[24];
	char			 request[REQUEST_LOGGED];
	int64_t			 now = wh_now_ms();
	int			 n = 0, fill;

	if (wh_key_webhook(hook, sizeof(hook), d.cfg.prefix,
	    dl->hook->sid) == -1 ||
	    wh_key_attempts(log, sizeof(log), d.cfg.prefix,
	    dl->hook->sid) == -1 ||
	    wh_key_event_attempts(evidx, sizeof(evidx), d.cfg.prefix,
	    ev->company_sid, ev->event_sid) == -1 ||
	    wh_key_webhook_health(health, sizeof(health), d.cfg.prefix,
	    dl->hook->sid) == -1 ||
	    wh_key_webhook_hourly(hourly, sizeof(hourly), d.cfg.prefix,
	    dl->hook->sid) == -1 || wh_rfc3339_ms(now, at) == -1)
		return;
	(void)snprintf(at_ms, sizeof(at_ms), "%lld", (long long)now);
	(void)snprintf(attempt, sizeof(attempt), "%u", dl->attempt);
	(void)snprintf(status, sizeof(status), "%ld", dl->status);
	(void)snprintf(latency, sizeof(latency), "%lld",
	    (long long)dl->latency_ms);
	skew[0] = '\0';
	if (dl->peer_date[0] != '\0')
		(void)snprintf(skew, sizeof(skew), "%lld",
		    (long long)dl->peer_skew_ms);
#define ARG(v, len)	do { s[n] = (v); l[n++] = (len); } while (0)
#define ARGS(v)		ARG((v), strlen(v))
	ARGS(hook); ARGS(log); ARGS(evidx); ARGS(health); ARGS(hourly);
	ARGS(dl->hook->sid);
	/* The values of event_sid, attempt, outcome, status, error,
	 * latency_ms, at, answer, receiver_date, clock_skew_ms (the script
	 * names them; the last two are "" when the answer had no Date). */
	ARGS(ev->event_sid); ARGS(attempt); ARGS(outcome); ARGS(status);
	ARGS(dl->error); ARGS(latency); ARGS(at);
	ARG(dl->answer.len ? dl->answer.data : "",
	    dl->answer.len < ANSWER_LOGGED ? dl->answer.len : ANSWER_LOGGED);
	ARGS(dl->peer_date); ARGS(skew);
	/* The attempt's time, its score in the event's index. */
	ARGS(at_ms);
	ARG(request, request_text(dl, request));
#undef ARGS
#undef ARG
	if (cur == NULL && (cur = calloc(1, sizeof(*cur))) == NULL) {
		explicit_bzero(request, sizeof(request));
		return;
	}
	rec = &cur->rec[cur->n];
	memset(rec, 0, sizeof(*rec));
	fill = record_fill(rec, s, l, (size_t)n);
	explicit_bzero(request, sizeof(request));
	if (fill == -1)
		return;
	rec->ok = ok;
	(void)snprintf(rec->webhook_sid, sizeof(rec->webhook_sid), "%s",
	    dl->hook->sid);
	(void)snprintf(rec->company_sid, sizeof(rec->company_sid), "%s",
	    ev->company_sid);
	cur->n++;
	if (cur->n == BATCH_MAX) {
		record_flush();
		return;
	}
	if (!timer_ready) {
		loop_timer_init(&flush_timer, flush_fire, NULL);
		timer_ready = 1;
	}
	loop_timer_arm(&flush_timer, 0);
}

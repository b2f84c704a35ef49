/*
 * consume.c: reading the event stream, fanning each event out to the
 * company's webhooks, and acking.
 *
 * Reading uses a connection of its own (XREADGROUP ... BLOCK would stall
 * every other reply on a shared one) and asks only for as many entries as
 * there are free delivery slots, so a slow set of receivers slows the
 * reading instead of filling memory. Acks are gathered and sent as one
 * XACK + XDEL pair per loop round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ids.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "timeutil.h"
#include "validate.h"

#define READ_BLOCK_MS	"1000"
#define ACK_BATCH_MAX	512

static char		*acks[ACK_BATCH_MAX];
static size_t		 nacks;
static struct loop_timer ack_timer;
static int		 ack_timer_ready;

static void	read_entries(void);

/* XGROUP CREATE answered: read from the start of what is left. */
static void
on_group(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "BUSYGROUP", 9) != 0) {
		wh_log(WH_LOG_ERROR, "cannot create the consumer group",
		    "error", reply->str, NULL);
		return;
	}
	consume_maybe_read();
}

/* The group reads from id 0: every entry still in the stream is work. */
static void
group_create(void)
{
	const char	*argv[6] = { "XGROUP", "CREATE", d.k_events, WH_GROUP,
			    "0", "MKSTREAM" };

	if (rconn_cmd(&d.main, on_group, NULL, 6, argv, NULL) == -1)
		wh_log(WH_LOG_WARN, "redis down; group creation deferred",
		    NULL);
}

void
consume_up(struct rconn *c)
{
	group_create();
}

void
consume_block_up(struct rconn *c)
{
	d.reading = 0;
	consume_maybe_read();
}

void
consume_maybe_read(void)
{
	size_t	busy = d.inflight + d.queued;

	if (d.stopping || d.reading || !d.block.ready || !d.main.ready)
		return;
	if (busy >= (size_t)d.cfg.concurrency || d.jobs >= (size_t)
	    d.cfg.concurrency)
		return;
	read_entries();
}

static void
job_free(struct job *job)
{
	wh_event_free(&job->ev);
	free(job);
}

static void
ack_fire(void *arg)
{
	acks_flush();
}

/* Queue the entry's ack; sent at the end of this loop round. */
static void
job_ack(struct job *job)
{
	if (!ack_timer_ready) {
		loop_timer_init(&ack_timer, ack_fire, NULL);
		ack_timer_ready = 1;
	}
	if (nacks == ACK_BATCH_MAX)
		acks_flush();
	if ((acks[nacks] = strdup(job->entry_id)) != NULL)
		nacks++;
	else
		wh_log(WH_LOG_ERROR, "out of memory; entry left pending",
		    "entry_id", job->entry_id, NULL);
	loop_timer_arm(&ack_timer, 0);
	d.jobs--;
	job_free(job);
	consume_maybe_read();
}

static void
on_ack(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_WARN, "ack failed; entries stay pending and "
		    "will be claimed again", "error", reply ? reply->str :
		    "redis down", NULL);
}

/* XACK then XDEL for every gathered id: two commands, pipelined. */
void
acks_flush(void)
{
	const char	*argv[ACK_BATCH_MAX + 3];
	size_t		 i;

	if (nacks == 0)
		return;
	argv[0] = "XACK";
	argv[1] = d.k_events;
	argv[2] = WH_GROUP;
	for (i = 0; i < nacks; i++)
		argv[3 + i] = acks[i];
	if (rconn_cmd(&d.main, on_ack, NULL, (int)(3 + nacks), argv,
	    NULL) == 0) {
		argv[0] = "XDEL";
		argv[2] = acks[0];
		for (i = 1; i < nacks; i++)
			argv[2 + i] = acks[i];
		(void)rconn_cmd(&d.main, on_ack, NULL, (int)(2 + nacks), argv,
		    NULL);
	} else {
		wh_log(WH_LOG_WARN, "redis down; acks dropped, entries will "
		    "be claimed again", NULL);
	}
	for (i = 0; i < nacks; i++)
		free(acks[i]);
	nacks = 0;
}

void
job_delivery_done(struct job *job)
{
	if (--job->outstanding == 0)
		job_ack(job);
}

/*
 * An entry that cannot be delivered as it stands (missing field, payload
 * not JSON): logged and acked so it never blocks the stream. Moving it
 * to the dead-letter stream comes with the events issue.
 */
static void
entry_malformed(struct job *job, const char *why)
{
	d.n_malformed++;
	wh_log(WH_LOG_WARN, "malformed stream entry acked", "entry_id",
	    job->entry_id, "reason", why, NULL);
	job->outstanding = 0;
	job_ack(job);
}

static char *
reply_strdup(const redisReply *r)
{
	char	*s;

	if (r->type != REDIS_REPLY_STRING || memchr(r->str, '\0', r->len))
		return (NULL);
	if ((s = malloc(r->len + 1)) == NULL)
		return (NULL);
	memcpy(s, r->str, r->len);
	s[r->len] = '\0';
	return (s);
}

/* Stream fields to an event. NULL on success, else why not. */
static const char *
entry_parse(struct job *job, const redisReply *fields)
{
	struct wh_event	*ev = &job->ev;
	const redisReply *k, *v;
	size_t		 i;
	char		*end;
	long long	 ms;

	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY ||
	    fields->elements % 2 != 0)
		return ("entry has no field list");
	for (i = 0; i + 1 < fields->elements; i += 2) {
		k = fields->element[i];
		v = fields->element[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			return ("field is not a string");
		if (!strcmp(k->str, "company_sid") && ev->company_sid == NULL)
			ev->company_sid = reply_strdup(v);
		else if (!strcmp(k->str, "event_type") &&
		    ev->event_type == NULL)
			ev->event_type = reply_strdup(v);
		else if (!strcmp(k->str, "event_sid") && ev->event_sid == NULL)
			ev->event_sid = reply_strdup(v);
		else if (!strcmp(k->str, "payload") && ev->payload == NULL) {
			if ((ev->payload = reply_strdup(v)) != NULL)
				ev->payload_len = v->len;
		} else if (!strcmp(k->str, "ts")) {
			ms = strtoll(v->str, &end, 10);
			if (end == v->str || *end != '\0' || ms <= 0)
				return ("ts is not milliseconds since the "
				    "epoch");
			ev->created_at = ms;
		}
	}
	if (ev->company_sid == NULL ||
	    wh_validate_company_sid(ev->company_sid,
	    strlen(ev->company_sid)) != NULL)
		return ("company_sid is missing or not valid");
	if (ev->event_type == NULL ||
	    wh_validate_event_type(ev->event_type,
	    strlen(ev->event_type)) != NULL)
		return ("event_type is missing or not a dotted name");
	if (ev->payload == NULL)
		return ("payload is missing");
	if (!wh_json_valid(ev->payload, ev->payload_len))
		return ("payload is not JSON");
	if (ev->event_sid != NULL &&
	    !wh_id_valid(ev->event_sid, strlen(ev->event_sid)))
		return ("event_sid is not a valid id");
	if (ev->event_sid == NULL) {
		/* Stable across dispatchers and retries of the same entry. */
		if ((ev->event_sid = malloc(WH_ID_MAX)) == NULL ||
		    wh_id_event_derived(ev->company_sid, job->entry_id,
		    ev->event_sid, WH_ID_MAX) == -1)
			return ("cannot derive an event_sid");
	}
	if (ev->created_at == 0) {
		ms = strtoll(job->entry_id, &end, 10);
		ev->created_at = ms > 0 ? ms : wh_now_ms();
	}
	return (NULL);
}

/* Fan-out is done for this job: start its deliveries, or ack at once. */
static void
job_fanned_out(struct job *job)
{
	struct delivery	*dl, *next;

	job->outstanding--;	/* the lookup itself */
	for (dl = job->ready; dl != NULL; dl = next) {
		next = dl->next_ready;
		dl->next_ready = NULL;
		deliver_enqueue(dl);
	}
	job->ready = NULL;
	if (job->outstanding == 0)
		job_ack(job);
}

static int
hook_wants(const struct wh_webhook *w, const char *type)
{
	size_t	i;

	if (w->nevent_types == 0)
		return (1);
	for (i = 0; i < w->nevent_types; i++) {
		if (wh_event_type_matches(w->event_types[i], type))
			return (1);
	}
	return (0);
}

/* Reply to GET webhook + HVALS keys, as one array [record, [keys]]. */
static void
on_hook(redisAsyncContext *ac, void *r, void *priv)
{
	struct job	*job = priv;
	redisReply	*reply = r, *rec, *keys;
	struct delivery	*dl;
	size_t		 i;
	int64_t		 now = wh_now_ms();

	job->nlooked++;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2)
		goto next;
	rec = reply->element[0];
	keys = reply->element[1];
	if (rec->type != REDIS_REPLY_STRING || keys->type !=
	    REDIS_REPLY_ARRAY)
		goto next;	/* deleted meanwhile */
	if ((dl = calloc(1, sizeof(*dl))) == NULL)
		goto next;
	if (wh_webhook_decode(rec->str, rec->len, &dl->hook) == -1 ||
	    !dl->hook.enabled ||
	    strcmp(dl->hook.company_sid, job->ev.company_sid) != 0 ||
	    !hook_wants(&dl->hook, job->ev.event_type) ||
	    (dl->keys = calloc(keys->elements ? keys->elements : 1,
	    sizeof(*dl->keys))) == NULL) {
		delivery_free(dl);
		goto next;
	}
	for (i = 0; i < keys->elements; i++) {
		if (keys->element[i]->type == REDIS_REPLY_STRING &&
		    wh_signing_key_decode(keys->element[i]->str,
		    keys->element[i]->len, &dl->keys[dl->nkeys]) == 0) {
			if (wh_signing_key_active(&dl->keys[dl->nkeys], now))
				dl->nkeys++;
			else
				wh_signing_key_free(&dl->keys[dl->nkeys]);
		}
	}
	dl->job = job;
	job->outstanding++;
	dl->next_ready = job->ready;
	job->ready = dl;
next:
	if (job->nlooked == job->nhooks)
		job_fanned_out(job);
}

/*
 * The company's webhook sids arrived: fetch each record with its keys.
 * MULTI/EXEC makes the record and its keys one consistent reply.
 */
static void
on_company(redisAsyncContext *ac, void *r, void *priv)
{
	struct job	*job = priv;
	redisReply	*reply = r;
	const char	*argv[3];
	char		 k1[WH_KEY_MAX], k2[WH_KEY_MAX];
	size_t		 i;

	if (reply == NULL) {
		/* Redis went away: leave the entry pending, claim later. */
		wh_log(WH_LOG_WARN, "lookup failed; entry left pending",
		    "entry_id", job->entry_id, NULL);
		d.jobs--;
		job_free(job);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
		job_fanned_out(job);
		return;
	}
	job->nhooks = reply->elements;
	for (i = 0; i < reply->elements; i++) {
		if (reply->element[i]->type != REDIS_REPLY_STRING ||
		    !wh_id_valid(reply->element[i]->str,
		    reply->element[i]->len) ||
		    wh_key_webhook(k1, sizeof(k1), d.cfg.prefix,
		    reply->element[i]->str) == -1 ||
		    wh_key_webhook_keys(k2, sizeof(k2), d.cfg.prefix,
		    reply->element[i]->str) == -1) {
			job->nlooked++;
			continue;
		}
		argv[0] = "MULTI";
		(void)rconn_cmd(&d.main, NULL, NULL, 1, argv, NULL);
		argv[0] = "GET"; argv[1] = k1;
		(void)rconn_cmd(&d.main, NULL, NULL, 2, argv, NULL);
		argv[0] = "HVALS"; argv[1] = k2;
		(void)rconn_cmd(&d.main, NULL, NULL, 2, argv, NULL);
		argv[0] = "EXEC";
		if (rconn_cmd(&d.main, on_hook, job, 1, argv, NULL) == -1)
			job->nlooked++;
	}
	if (job->nlooked == job->nhooks)
		job_fanned_out(job);
}

static void
job_lookup(struct job *job)
{
	const char	*argv[4];
	char		 key[WH_KEY_MAX];

	job->outstanding = 1;	/* the lookup */
	if (wh_key_company_webhooks(key, sizeof(key), d.cfg.prefix,
	    job->ev.company_sid) == -1) {
		entry_malformed(job, "company_sid too long");
		return;
	}
	argv[0] = "ZRANGE"; argv[1] = key; argv[2] = "0"; argv[3] = "-1";
	if (rconn_cmd(&d.main, on_company, job, 4, argv, NULL) == -1) {
		d.jobs--;
		job_free(job);
	}
}

static void
on_entries(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r, *stream, *entries, *e;
	struct job	*job;
	const char	*why;
	size_t		 i;

	d.reading = 0;
	if (reply == NULL)
		return;		/* link lost; consume_block_up reads again */
	if (reply->type == REDIS_REPLY_ERROR) {
		if (strncmp(reply->str, "NOGROUP", 7) == 0) {
			wh_log(WH_LOG_WARN, "consumer group missing; "
			    "recreating it", NULL);
			group_create();
			return;
		}
		wh_log(WH_LOG_ERROR, "XREADGROUP failed", "error", reply->str,
		    NULL);
		return;
	}
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
	    (stream = reply->element[0])->type == REDIS_REPLY_ARRAY &&
	    stream->elements == 2 &&
	    (entries = stream->element[1])->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < entries->elements; i++) {
			e = entries->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING ||
			    e->element[0]->len >= ENTRY_ID_MAX)
				continue;
			if ((job = calloc(1, sizeof(*job))) == NULL) {
				wh_log(WH_LOG_ERROR, "out of memory", NULL);
				break;
			}
			memcpy(job->entry_id, e->element[0]->str,
			    e->element[0]->len + 1);
			d.jobs++;
			d.n_events++;
			if ((why = entry_parse(job, e->element[1])) != NULL)
				entry_malformed(job, why);
			else
				job_lookup(job);
		}
	}
	consume_maybe_read();
}

static void
read_entries(void)
{
	const char	*argv[11];
	char		 count[16];
	size_t		 room;

	room = (size_t)d.cfg.concurrency - d.inflight - d.queued;
	if (room > (size_t)d.cfg.read_batch)
		room = (size_t)d.cfg.read_batch;
	(void)snprintf(count, sizeof(count), "%zu", room);
	argv[0] = "XREADGROUP"; argv[1] = "GROUP"; argv[2] = WH_GROUP;
	argv[3] = d.consumer; argv[4] = "COUNT"; argv[5] = count;
	argv[6] = "BLOCK"; argv[7] = READ_BLOCK_MS; argv[8] = "STREAMS";
	argv[9] = d.k_events; argv[10] = ">";
	if (rconn_cmd(&d.block, on_entries, NULL, 11, argv, NULL) == 0)
		d.reading = 1;
}

/*
 * retain.c: every event read from a wh:{p}:events is kept for
 * WH_EVENT_RETENTION_MS (0: none), so that GET /v1/events/{event_sid},
 * ~resend and ~recover with include "all" can find it again after its
 * deliveries are done (docs/delivery.md, "Resending").
 *
 * The dispatcher does it, not the publish script, so that events a
 * service XADDs straight to the stream are kept like the api's. A read
 * batch is kept in one script call (common/lua/event_retain.lua), sent
 * before the batch is fanned out and not waited for: keeping is best
 * effort, as the attempt log is, and never holds up a delivery; a batch
 * Redis refuses is logged and dropped. An event's keys are in the slot
 * of its company's partition (wh:{p}:...); a batch whose events belong to
 * several partitions (a direct publisher that picked another stream) is
 * kept in one call per partition, so that each call touches one slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

#define RETAIN_HEAD	2	/* now, retention */

static void
on_retained(struct wh_wire *w, void *r, void *priv)
{
	redisReply	*reply = r;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		wh_log(WH_LOG_WARN, "events not retained", "error",
		    reply->str, NULL);
}

/* Is j an event of partition p? */
static int
in_part(const struct entry *j, unsigned p)
{
	return (j->kind == ENTRY_EVENT && j->home == p);
}

/* How many of the jobs from first on (the wait list) are p's events. */
static size_t
count_events(struct entry *first, unsigned p)
{
	struct entry	*j;
	size_t		 n = 0;

	for (j = first; j != NULL; j = TAILQ_NEXT(j, wait))
		if (in_part(j, p))
			n++;
	return (n);
}

/*
 * The strings of the call for the n events of partition p, in one buffer:
 * each event's two keys, then its sid and record; offsets and lengths in
 * off and len (keys first, as EVALSHA wants them). -1 when a key or
 * record does not build.
 */
static int
retain_fill(struct entry *first, unsigned p, struct wh_buf *b, size_t *off,
    size_t *len, size_t n)
{
	struct entry		*j;
	const struct wh_event	*ev;
	char			 k[WH_KEY_MAX];
	size_t			 i = 0, mark;

	for (j = first; j != NULL; j = TAILQ_NEXT(j, wait)) {
		if (!in_part(j, p))
			continue;
		ev = &j->task.event;
		if (wh_key_event_kept(k, sizeof(k), d.cfg.prefix, p,
		    ev->company_sid, ev->event_sid) == -1)
			return (-1);
		off[2 * i] = b->len;
		len[2 * i] = strlen(k);
		if (wh_buf_appendstr(b, k) == -1 ||
		    wh_key_company_events(k, sizeof(k), d.cfg.prefix, p,
		    ev->company_sid) == -1)
			return (-1);
		off[2 * i + 1] = b->len;
		len[2 * i + 1] = strlen(k);
		if (wh_buf_appendstr(b, k) == -1)
			return (-1);
		off[2 * n + 2 * i] = b->len;
		len[2 * n + 2 * i] = strlen(ev->event_sid);
		if (wh_buf_appendstr(b, ev->event_sid) == -1)
			return (-1);
		mark = b->len;
		if (wh_event_encode(ev, b) == -1)
			return (-1);
		off[2 * n + 2 * i + 1] = mark;
		len[2 * n + 2 * i + 1] = b->len - mark;
		i++;
	}
	return (0);
}

/*
 * Keep the events of partition p among the entries of one read batch
 * (first and those after it on the wait list), in one call.
 */
static void
retain_part(struct entry *first, unsigned p)
{
	struct wh_buf	 b;
	const char	**argv = NULL;
	size_t		*off = NULL, *lens = NULL, n, argc, i;
	char		 now[24], keep[24];

	if ((n = count_events(first, p)) == 0)
		return;
	wh_buf_init(&b, 0);
	argc = 4 * n + RETAIN_HEAD;
	if ((argv = calloc(argc, sizeof(*argv))) == NULL ||
	    (off = calloc(argc, sizeof(*off))) == NULL ||
	    (lens = calloc(argc, sizeof(*lens))) == NULL)
		goto fail;
	/* Keys at 0..2n, the head after them, then sid and record pairs. */
	if (retain_fill(first, p, &b, off, lens, n) == -1)
		goto fail;
	for (i = 4 * n; i-- > 2 * n; ) {
		off[i + RETAIN_HEAD] = off[i];
		lens[i + RETAIN_HEAD] = lens[i];
	}
	for (i = 0; i < argc; i++)
		argv[i] = b.data + off[i];
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
	(void)snprintf(keep, sizeof(keep), "%lld",
	    (long long)d.cfg.event_retention_ms);
	argv[2 * n] = now;
	lens[2 * n] = strlen(now);
	argv[2 * n + 1] = keep;
	lens[2 * n + 1] = strlen(keep);
	if (rconn_script(&d.main, wh_lua_event_retain, on_retained, NULL,
	    (int)(2 * n), (int)argc, argv, lens) == -1)
		goto fail;
	goto done;
fail:
	wh_log(WH_LOG_WARN, "events not retained (redis down, out of memory "
	    "or a key too long)", NULL);
done:
	free(argv);
	free(off);
	free(lens);
	wh_buf_free(&b);
}

/*
 * Keep the events among the entries of one read batch (first and those
 * after it on the wait list), all valid entries of a wh:{p}:events: one
 * call per partition of their companies, usually one.
 */
void
retain_batch(struct entry *first)
{
	struct entry	*j, *k;
	unsigned	 p;

	if (d.cfg.event_retention_ms <= 0 || !d.main.conn.ready)
		return;
	for (j = first; j != NULL; j = TAILQ_NEXT(j, wait)) {
		if (j->kind != ENTRY_EVENT)
			continue;
		p = j->home;
		/* Kept already with an earlier event of its partition? */
		for (k = first; k != j && !in_part(k, p);
		    k = TAILQ_NEXT(k, wait))
			;
		if (k == j)
			retain_part(first, p);
	}
}

/*
 * test_delivery.c: the dispatcher's half of GET /v1/webhooks/{sid}/~test.
 *
 * The api adds a task to wh:{0}:retries like any retry, with two more
 * fields: reply (the key of a list, wh:test:<id>, where the outcome goes)
 * and deadline (wall-clock ms after which the api no longer waits). So a
 * test takes the normal delivery path: the webhook as it is now, every
 * signing key, the per-endpoint fairness and the address policy at
 * connect time. It is sent even to a disabled webhook (checking an
 * endpoint before enabling it again is the point), and only once: its
 * outcome is pushed to the reply list (expiring after REPLY_TTL_MS)
 * instead of being logged, counted in the endpoint's health, retried or
 * dead-lettered. A test read after its deadline (no dispatcher ran in
 * time) is not sent at all; one not started by then (waiting for a slot
 * of a slow endpoint: deliver.c) is answered as not sent, since it would
 * end after the api stopped waiting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "timeutil.h"

#define REPLY_TTL_MS	"60000"
#define ANSWER_SHOWN	1024	/* bytes of the answer in the outcome */

/*
 * A field of a retries entry besides the task. 1 when it is one of ours
 * (kept in entry), 0 when not, -1 when it is ours but malformed.
 */
int
test_delivery_parse(struct entry *en, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	char		 num[24];
	char		*end;
	long long	 ms;

	if (nlen == 5 && memcmp(name, "reply", 5) == 0) {
		if (en->reply_key != NULL || vlen == 0 || vlen >= WH_KEY_MAX ||
		    memchr(val, '\0', vlen) != NULL)
			return (-1);
		if ((en->reply_key = strndup(val, vlen)) == NULL)
			return (-1);
		return (1);
	}
	if (nlen == 8 && memcmp(name, "deadline", 8) == 0) {
		if (vlen == 0 || vlen >= sizeof(num))
			return (-1);
		memcpy(num, val, vlen);
		num[vlen] = '\0';
		ms = strtoll(num, &end, 10);
		if (*end != '\0' || ms <= 0)
			return (-1);
		en->test_deadline = ms;
		return (1);
	}
	return (0);
}

/* The delivery's owner (delivery.c): the outcome is written. */
static test_delivery_done_fn	*done_cb;

void
test_delivery_init(test_delivery_done_fn *done)
{
	done_cb = done;
}

static void
on_replied_delivery(struct wh_wire *w, void *r, void *priv)
{
	struct delivery	*dl = priv;

	done_cb(dl->entry, dl);	/* never tried again */
}

static void
on_replied_entry(struct wh_wire *w, void *r, void *priv)
{
	done_cb(priv, NULL);
}

/*
 * {"webhook_sid","event_sid","ok","status","error","latency_ms","answer"}
 * pushed to the entry's reply list. With dl, dl is freed once Redis
 * answered; without, the entry waits for that answer too.
 */
static void
reply_send(struct entry *en, struct delivery *dl, const char *error)
{
	struct wh_buf	 b;
	const char	*argv[3];
	size_t		 lens[3], alen = 0;
	long		 status = dl != NULL ? dl->status : 0;
	int		 ok, rc;

	ok = error == NULL && status >= 200 && status <= 299;
	if (dl != NULL)
		alen = dl->answer.len < ANSWER_SHOWN ? dl->answer.len :
		    ANSWER_SHOWN;
	wh_buf_init(&b, 0);
	rc = wh_buf_appendstr(&b, "{\"webhook_sid\":") == -1 ||
	    wh_json_str(&b, en->task.webhook_sid,
	    strlen(en->task.webhook_sid)) == -1 ||
	    wh_buf_appendstr(&b, ",\"event_sid\":") == -1 ||
	    wh_json_str(&b, en->task.event.event_sid,
	    strlen(en->task.event.event_sid)) == -1 ||
	    wh_buf_appendf(&b, ",\"ok\":%s,\"status\":", ok ? "true" :
	    "false") == -1 ||
	    (status > 0 ? wh_buf_appendf(&b, "%ld", status) :
	    wh_buf_appendstr(&b, "null")) == -1 ||
	    wh_buf_appendstr(&b, ",\"error\":") == -1 ||
	    (error != NULL ? wh_json_str(&b, error, strlen(error)) :
	    wh_buf_appendstr(&b, "null")) == -1 ||
	    wh_buf_appendf(&b, ",\"latency_ms\":%lld,\"answer\":",
	    dl != NULL ? (long long)dl->latency_ms : 0LL) == -1 ||
	    wh_json_str(&b, alen ? dl->answer.data : "", alen) == -1 ||
	    wh_buf_append(&b, "}", 1) == -1;
	argv[0] = "LPUSH";
	argv[1] = en->reply_key;
	argv[2] = b.data;
	lens[0] = 5;
	lens[1] = strlen(en->reply_key);
	lens[2] = b.len;
	if (!rc)
		rc = rconn_cmd(&d.main, NULL, NULL, 3, argv, lens) == -1;
	argv[0] = "PEXPIRE";
	argv[2] = REPLY_TTL_MS;
	if (!rc) {
		if (dl == NULL)
			en->outstanding++;
		rc = rconn_cmd(&d.main, dl != NULL ? on_replied_delivery :
		    on_replied_entry, dl != NULL ? (void *)dl : (void *)en, 3,
		    argv, NULL) == -1;
		if (rc && dl == NULL)
			en->outstanding--;
	}
	wh_buf_free(&b);
	wh_log(rc ? WH_LOG_WARN : WH_LOG_INFO, rc ? "test delivery outcome "
	    "lost (redis)" : "test delivery", "event_sid",
	    en->task.event.event_sid, "webhook_sid", en->task.webhook_sid,
	    "error", error, NULL);
	if (rc && dl != NULL)
		done_cb(en, dl);
}

/* The test was attempted: its outcome, whatever it is, is the answer. */
void
test_delivery_reply(struct delivery *dl)
{
	reply_send(dl->entry, dl, dl->error[0] != '\0' ? dl->error : NULL);
}

/* The test cannot be sent (why); dl, if any, is freed. */
void
test_delivery_fail(struct entry *en, struct delivery *dl, const char *why)
{
	reply_send(en, dl, why);
}

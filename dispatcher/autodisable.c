/*
 * autodisable.c: disabling a webhook whose endpoint has failed every
 * attempt for WH_DISABLE_AFTER_MS (scaled by WH_RETRY_SCALE).
 *
 * Every attempt updates the endpoint's health counters in Redis in the
 * same script that logs it (common/lua/attempt_record.lua); the reply to
 * a failure says since when the endpoint has been failing. Once that
 * streak is long enough (wh_health_should_disable), the record is read,
 * decoded, set enabled=false with a disabled_reason, and written back by
 * compare-and-set with the change counters bumped, exactly as a PATCH
 * through the api does (common/lua/webhook_cas.lua), so every
 * dispatcher's cache drops the webhook before its next batch. A record
 * changed meanwhile is read again; one already disabled is left alone.
 * From then on its deliveries are parked in the dead letters (consume.c)
 * until someone enables it again and recovers them.
 *
 * Many failures may cross the line at once: a webhook already being
 * disabled by this dispatcher is not started again (a short list), and
 * another dispatcher racing us finds it disabled, or loses the CAS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "endpoint_health.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "timeutil.h"

#define CAS_TRIES	8
#define REASON_MAX	192

struct disabling {
	char			 webhook_sid[WH_ID_MAX];
	char			 company_sid[WH_ID_MAX];
	long long		 consecutive;
	int64_t			 failing_since;
	int			 tries;
	struct wh_webhook	 hook;
	struct disabling	*next;
};

static struct disabling	*busy;

static void	read_record(struct disabling *);

static void
done(struct disabling *x)
{
	struct disabling	**pp;

	for (pp = &busy; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	wh_webhook_free(&x->hook);
	free(x);
}

static void
on_cas(struct wh_wire *w, void *r, void *priv)
{
	struct disabling	*x = priv;
	redisReply		*reply = r;
	char			 n[24];

	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		wh_log(WH_LOG_WARN, "could not disable a failing webhook; "
		    "the next failure tries again", "webhook_sid",
		    x->webhook_sid, "error", reply != NULL &&
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "redis down", NULL);
		done(x);
		return;
	}
	if (reply->integer == 0 && ++x->tries < CAS_TRIES) {
		read_record(x);		/* changed under us: again */
		return;
	}
	if (reply->integer == 1) {
		(void)snprintf(n, sizeof(n), "%lld", x->consecutive);
		wh_log(WH_LOG_WARN, "webhook disabled: its endpoint kept "
		    "failing", "webhook_sid", x->webhook_sid, "company_sid",
		    x->company_sid, "consecutive_failures", n, NULL);
	}
	done(x);
}

/* The record as read: disable it, unless it is gone or already off. */
static void
on_record(struct wh_wire *w, void *r, void *priv)
{
	struct disabling	*x = priv;
	redisReply		*reply = r;
	struct wh_buf		 rec;
	const char		*argv[10];
	size_t			 lens[10];
	char			 key[WH_KEY_MAX], health[WH_KEY_MAX];
	char			 off[WH_KEY_MAX], cv[WH_KEY_MAX], gv[WH_KEY_MAX];
	char			 since[WH_RFC3339_LEN + 1], *reason;
	int64_t			 now = wh_now_ms();
	int			 i;

	wh_webhook_free(&x->hook);
	if (reply == NULL || reply->type != REDIS_REPLY_STRING ||
	    wh_webhook_decode(reply->str, reply->len, &x->hook) == -1 ||
	    !x->hook.enabled) {
		done(x);
		return;
	}
	if ((reason = malloc(REASON_MAX)) == NULL ||
	    wh_rfc3339_ms(x->failing_since, since) == -1) {
		free(reason);
		done(x);
		return;
	}
	(void)snprintf(reason, REASON_MAX, "every attempt failed since %s "
	    "(%lld in a row); enable the webhook again once its endpoint "
	    "works", since, x->consecutive);
	free(x->hook.disabled_reason);
	x->hook.disabled_reason = reason;
	x->hook.enabled = 0;
	x->hook.updated_at = now > x->hook.updated_at ? now :
	    x->hook.updated_at + 1;
	wh_buf_init(&rec, 0);
	if (wh_webhook_encode(&x->hook, &rec) == -1 ||
	    wh_key_webhook(key, sizeof(key), d.cfg.prefix,
	    x->webhook_sid) == -1 ||
	    wh_key_webhook_health(health, sizeof(health), d.cfg.prefix,
	    x->webhook_sid) == -1 ||
	    wh_key_webhooks_disabled(off, sizeof(off), d.cfg.prefix) == -1 ||
	    wh_key_company_version(cv, sizeof(cv), d.cfg.prefix,
	    x->hook.company_sid) == -1 ||
	    wh_key_webhooks_version(gv, sizeof(gv), d.cfg.prefix) == -1) {
		wh_buf_free(&rec);
		done(x);
		return;
	}
	argv[0] = key;
	argv[1] = health;
	argv[2] = off;
	argv[3] = cv;
	argv[4] = gv;
	argv[5] = reply->str;
	argv[6] = rec.data;
	argv[7] = "0";		/* not a re-enable */
	argv[8] = x->webhook_sid;
	argv[9] = "0";		/* disabled */
	for (i = 0; i < 10; i++)
		lens[i] = strlen(argv[i]);
	lens[5] = reply->len;
	lens[6] = rec.len;
	if (rconn_script(&d.main, wh_lua_webhook_cas, on_cas, x, 5, 10, argv,
	    lens) == -1)
		done(x);
	wh_buf_free(&rec);
}

static void
read_record(struct disabling *x)
{
	const char	*argv[2];
	char		 key[WH_KEY_MAX];

	argv[0] = "GET";
	argv[1] = key;
	if (wh_key_webhook(key, sizeof(key), d.cfg.prefix,
	    x->webhook_sid) == -1 ||
	    rconn_cmd(&d.main, on_record, x, 2, argv, NULL) == -1)
		done(x);
}

/*
 * A failed attempt of webhook_sid was recorded: the endpoint has failed
 * `consecutive` times in a row, since failing_since. Disable the webhook
 * if that has lasted long enough.
 */
void
autodisable_failed(const char *webhook_sid, const char *company_sid,
    long long consecutive, int64_t failing_since)
{
	struct disabling	*x;

	if (!wh_health_should_disable(failing_since, wh_now_ms(),
	    d.cfg.disable_after_ms))
		return;
	for (x = busy; x != NULL; x = x->next) {
		if (strcmp(x->webhook_sid, webhook_sid) == 0)
			return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return;
	(void)snprintf(x->webhook_sid, sizeof(x->webhook_sid), "%s",
	    webhook_sid);
	(void)snprintf(x->company_sid, sizeof(x->company_sid), "%s",
	    company_sid);
	x->consecutive = consecutive;
	x->failing_since = failing_since;
	x->next = busy;
	busy = x;
	read_record(x);
}

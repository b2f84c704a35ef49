/*
 * keys.c: Redis key names (docs/design.md, "Redis keys"). One function a
 * key so that a rename is one edit and no caller formats a key by hand.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "keys.h"

/*
 * In a Redis Cluster (WH_REDIS_CLUSTER_NODES, wh_keys_cluster()) every key
 * that is not a partition's carries the hash tag {g} after the prefix, so
 * that each script and transaction on them stays in one slot; one Redis
 * keeps the untagged names (docs/design.md, "Redis Cluster").
 */
static const char	*ctag = "";

void
wh_keys_cluster(int on)
{
	ctag = on ? "{g}:" : "";
}

/* snprintf with the truncation check every key builder needs. */
static int
key_fmt(size_t len, int n)
{
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (n);
}

int
wh_key_webhook(char *out, size_t len, const char *pfx, const char *sid)
{
	return (key_fmt(len, snprintf(out, len, "%s%swebhook:%s", pfx, ctag, sid)));
}

int
wh_key_webhook_keys(char *out, size_t len, const char *pfx, const char *sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%swebhook:%s:keys", pfx, ctag, sid)));
}

int
wh_key_company_webhooks(char *out, size_t len, const char *pfx,
    const char *company_sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%scompany:%s:webhooks", pfx, ctag, company_sid)));
}

int
wh_key_company_version(char *out, size_t len, const char *pfx,
    const char *company_sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%scompany:%s:version", pfx, ctag, company_sid)));
}

int
wh_key_webhooks_version(char *out, size_t len, const char *pfx)
{
	return (key_fmt(len, snprintf(out, len, "%s%swebhooks:version", pfx, ctag)));
}

int
wh_key_webhooks_disabled(char *out, size_t len, const char *pfx)
{
	return (key_fmt(len, snprintf(out, len, "%s%swebhooks:disabled", pfx, ctag)));
}

int
wh_key_apikey(char *out, size_t len, const char *pfx, const char *key_id)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%sapikey:%s", pfx, ctag, key_id)));
}

/*
 * FNV-1a, 32 bits: a hash any language writes in three lines, so that a
 * direct publisher picks the same partition as the api.
 */
unsigned
wh_partition(const char *company_sid, unsigned n)
{
	const unsigned char	*c = (const unsigned char *)company_sid;
	uint32_t		 h = 2166136261u;

	if (n <= 1)
		return (0);
	for (; *c != '\0'; c++) {
		h ^= *c;
		h *= 16777619u;
	}
	return (h % n);
}

int
wh_key_events(char *out, size_t len, const char *pfx, unsigned p)
{
	return (key_fmt(len, snprintf(out, len, "%s{%u}:events", pfx, p)));
}

int
wh_key_retry(char *out, size_t len, const char *pfx, unsigned p)
{
	return (key_fmt(len, snprintf(out, len, "%s{%u}:retry", pfx, p)));
}

int
wh_key_retries(char *out, size_t len, const char *pfx, unsigned p)
{
	return (key_fmt(len, snprintf(out, len, "%s{%u}:retries", pfx, p)));
}

int
wh_key_dead(char *out, size_t len, const char *pfx, unsigned p)
{
	return (key_fmt(len, snprintf(out, len, "%s{%u}:dead", pfx, p)));
}

int
wh_key_attempts(char *out, size_t len, const char *pfx,
    const char *webhook_sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%sattempts:%s", pfx, ctag, webhook_sid)));
}

int
wh_key_idem(char *out, size_t len, const char *pfx, int queue_slot,
    unsigned p, const char *company_sid, const char *event_sid)
{
	if (queue_slot)
		return (key_fmt(len, snprintf(out, len, "%s{%u}:idem:%s:%s",
		    pfx, p, company_sid, event_sid)));
	return (key_fmt(len, snprintf(out, len, "%sidem:%s:%s",
	    pfx, company_sid, event_sid)));
}

int
wh_key_apikeys(char *out, size_t len, const char *pfx)
{
	return (key_fmt(len, snprintf(out, len, "%s%sapikeys", pfx, ctag)));
}

int
wh_key_company_apikeys(char *out, size_t len, const char *pfx,
    const char *company_sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%scompany:%s:apikeys", pfx, ctag, company_sid)));
}

int
wh_key_cursor_secret(char *out, size_t len, const char *pfx)
{
	return (key_fmt(len, snprintf(out, len, "%s%scursor_secret", pfx, ctag)));
}

int
wh_key_idemkey(char *out, size_t len, const char *pfx, const char *key_id,
    const char *idempotency_key)
{
	return (key_fmt(len, snprintf(out, len, "%s%sidemkey:%s:%s",
	    pfx, ctag, key_id, idempotency_key)));
}

int
wh_key_authfail(char *out, size_t len, const char *pfx, const char *client)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%sauthfail:ip:%s", pfx, ctag, client)));
}

int
wh_key_webhook_health(char *out, size_t len, const char *pfx,
    const char *sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%swebhook:%s:health", pfx, ctag, sid)));
}

int
wh_key_webhook_dead(char *out, size_t len, const char *pfx, unsigned p,
    const char *sid)
{
	if (ctag[0] != '\0')
		return (key_fmt(len, snprintf(out, len,
		    "%s{%u}:webhook:%s:dead", pfx, p, sid)));
	return (key_fmt(len,
	    snprintf(out, len, "%swebhook:%s:dead", pfx, sid)));
}

int
wh_key_webhook_dead_ids(char *out, size_t len, const char *pfx, unsigned p,
    const char *sid)
{
	if (ctag[0] != '\0')
		return (key_fmt(len, snprintf(out, len,
		    "%s{%u}:webhook:%s:dead_ids", pfx, p, sid)));
	return (key_fmt(len,
	    snprintf(out, len, "%swebhook:%s:dead_ids", pfx, sid)));
}

int
wh_key_event_attempts(char *out, size_t len, const char *pfx,
    const char *company_sid, const char *event_sid)
{
	return (key_fmt(len, snprintf(out, len, "%s%sevent:%s:%s:attempts",
	    pfx, ctag, company_sid, event_sid)));
}

int
wh_key_event_kept(char *out, size_t len, const char *pfx, unsigned p,
    const char *company_sid, const char *event_sid)
{
	return (key_fmt(len, snprintf(out, len, "%s{%u}:event:%s:%s",
	    pfx, p, company_sid, event_sid)));
}

int
wh_key_company_events(char *out, size_t len, const char *pfx, unsigned p,
    const char *company_sid)
{
	return (key_fmt(len, snprintf(out, len, "%s{%u}:company:%s:events",
	    pfx, p, company_sid)));
}

int
wh_key_job(char *out, size_t len, const char *pfx, const char *job_sid)
{
	return (key_fmt(len, snprintf(out, len, "%s%sjob:%s", pfx, ctag, job_sid)));
}

int
wh_key_job_lease(char *out, size_t len, const char *pfx, const char *job_sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%sjob:%s:lease", pfx, ctag, job_sid)));
}

int
wh_key_jobs(char *out, size_t len, const char *pfx)
{
	if (ctag[0] != '\0')
		return (key_fmt(len, snprintf(out, len, "%s{g}:jobs", pfx)));
	return (key_fmt(len, snprintf(out, len, "%s{0}:jobs", pfx)));
}

int
wh_key_test_reply(char *out, size_t len, const char *pfx,
    const char *reply_id)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%stest:%s", pfx, ctag, reply_id)));
}

int
wh_key_webhook_rate(char *out, size_t len, const char *pfx, const char *sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%swebhook:%s:rate", pfx, ctag, sid)));
}

/* An ordering key: 1 to 128 bytes, no NUL. */
static int
order_key_ok(const char *okey, size_t okeylen)
{
	return (okeylen > 0 && okeylen <= 128 &&
	    memchr(okey, '\0', okeylen) == NULL);
}

int
wh_key_order(char *out, size_t len, const char *pfx, unsigned p,
    const char *sid, const char *okey, size_t okeylen)
{
	if (!order_key_ok(okey, okeylen))
		return (-1);
	return (key_fmt(len, snprintf(out, len, "%s{%u}:order:%s:%.*s", pfx,
	    p, sid, (int)okeylen, okey)));
}

int
wh_key_order_parked(char *out, size_t len, const char *pfx, unsigned p,
    const char *sid, const char *okey, size_t okeylen)
{
	if (!order_key_ok(okey, okeylen))
		return (-1);
	return (key_fmt(len, snprintf(out, len, "%s{%u}:order:%s:%.*s:parked",
	    pfx, p, sid, (int)okeylen, okey)));
}

int
wh_key_portal_session(char *out, size_t len, const char *pfx,
    const char *session_sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%sportal:%s", pfx, ctag, session_sid)));
}

int
wh_key_webhook_hourly(char *out, size_t len, const char *pfx,
    const char *sid)
{
	return (key_fmt(len,
	    snprintf(out, len, "%s%swebhook:%s:hourly", pfx, ctag, sid)));
}

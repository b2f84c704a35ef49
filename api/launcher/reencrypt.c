/*
 * reencrypt.c: `webhooks-api --reencrypt-secrets`, the second
 * step of rotating WH_SECRETS_KEY (common/secretbox.h). Every signing key
 * record, and every webhook record holding a client certificate's key,
 * is read with the whole ring and written back sealed with its first key
 * (or in the clear when the ring is empty, to turn encryption off). A
 * record is only replaced if it did not change meanwhile (a small
 * compare-and-set script: common/lua/signing_key_cas.lua and
 * webhook_reseal.lua), so the api may keep running. The secret
 * itself does not change, so nothing cached elsewhere goes stale. On a
 * Redis Cluster it works on the master of the {g} slot, which holds every
 * such record (records_wire()), and fails (run it again) unless that
 * master served the slot, unmigrated, both before and after its SCAN: a
 * SCAN asks one node, so keys moved off it meanwhile would be skipped.
 */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "cluster_map.h"
#include "redis_conn.h"
#include "config.h"
#include "keys.h"
#include "launcher.h"
#include "log.h"
#include "model.h"
#include "redis_link.h"
#include "scripts.h"

#define SCAN_COUNT	"200"

struct tally {
	long	seen, rewritten, unreadable, raced;
};

/*
 * EVALSHA script (wh_lua_<name>, a CAS) on key with args: tallied; -1 if
 * Redis failed.
 */
static int
cas(struct wh_wire *c, const char *script, const char *key,
    const char **args, const size_t *alens, int nargs, struct tally *t)
{
	redisReply	*r;
	const char	*argv[4];
	size_t		 lens[4];
	char		 err[256];
	int		 i;

	argv[0] = key; lens[0] = strlen(key);
	for (i = 0; i < nargs && i < 3; i++) {
		argv[1 + i] = args[i];
		lens[1 + i] = alens[i];
	}
	r = wh_redis_script(c, err, sizeof(err), script, 1, 1 + i, argv,
	    lens);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		if (r != NULL)
			freeReplyObject(r);
		return (-1);
	}
	if (r->integer == 1)
		t->rewritten++;
	else
		t->raced++;
	freeReplyObject(r);
	return (0);
}

/*
 * A webhook record (wh:webhook:<sid>, nothing longer): sealed again when
 * it holds a client certificate's key, left alone otherwise.
 */
static int
rewrite_webhook(struct wh_wire *c, const struct wh_config *cfg,
    const char *key, struct tally *t)
{
	struct wh_webhook	 w;
	struct wh_buf		 out;
	redisReply		*r;
	const char		*args[2], *argv[2];
	size_t			 lens[2];
	char			 err[256], base[WH_KEY_MAX];
	int			 rc = 0, blen;

	/* base: the name up to the sid ("wh:webhook:", "wh:{g}:webhook:"). */
	if ((blen = wh_key_webhook(base, sizeof(base), cfg->prefix, "")) ==
	    -1 || strncmp(key, base, (size_t)blen) != 0 ||
	    strchr(key + blen, ':') != NULL)
		return (0);
	argv[0] = "GET"; argv[1] = key;
	if ((r = wh_redis_call(c, err, sizeof(err), 2, argv, NULL)) == NULL)
		return (-1);
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return (0);	/* deleted meanwhile */
	}
	if (wh_webhook_decode(r->str, r->len, &w) == -1) {
		t->unreadable++;
		wh_log(WH_LOG_WARN, "webhook unreadable with this "
		    "WH_SECRETS_KEY ring; left as it is", "key", key, NULL);
		freeReplyObject(r);
		return (0);
	}
	if (w.tls_key != NULL) {
		t->seen++;
		wh_buf_init(&out, 0);
		if (wh_webhook_encode(&w, &out) == -1)
			rc = -1;
		else {
			args[0] = r->str; lens[0] = r->len;
			args[1] = out.data; lens[1] = out.len;
			rc = cas(c, wh_lua_webhook_reseal, key, args, lens, 2,
			    t);
		}
		if (out.data != NULL)
			explicit_bzero(out.data, out.len);
		wh_buf_free(&out);
	}
	wh_webhook_free(&w);
	freeReplyObject(r);
	return (rc);
}

/* One field of one keys hash: decode with the ring, encode, CAS. */
static int
rewrite_one(struct wh_wire *c, const struct wh_config *cfg, const char *hkey,
    const redisReply *field, const redisReply *val, struct tally *t)
{
	struct wh_signing_key	 k;
	struct wh_buf		 out;
	const char		*args[3];
	size_t			 lens[3];
	int			 rc = 0;

	t->seen++;
	if (wh_signing_key_decode(val->str, val->len, &k) == -1) {
		t->unreadable++;
		wh_log(WH_LOG_WARN, "signing key unreadable with this "
		    "WH_SECRETS_KEY ring; left as it is", "key", hkey,
		    "field", field->str, NULL);
		return (0);
	}
	wh_buf_init(&out, 0);
	if (wh_signing_key_encode(&k, &out) == -1) {
		rc = -1;
		goto done;
	}
	args[0] = field->str; lens[0] = field->len;
	args[1] = val->str; lens[1] = val->len;
	args[2] = out.data; lens[2] = out.len;
	rc = cas(c, wh_lua_signing_key_cas, hkey, args, lens, 3, t);
done:
	if (out.data != NULL)
		explicit_bzero(out.data, out.len);
	wh_buf_free(&out);
	wh_signing_key_free(&k);
	return (rc);
}

static int
rewrite_hash(struct wh_wire *c, const struct wh_config *cfg, const char *hkey,
    struct tally *t)
{
	redisReply	*r;
	const char	*argv[2];
	char		 err[256];
	size_t		 i;
	int		 rc = 0;

	argv[0] = "HGETALL"; argv[1] = hkey;
	if ((r = wh_redis_call(c, err, sizeof(err), 2, argv, NULL)) == NULL)
		return (-1);
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return (0);	/* deleted meanwhile, or not a hash */
	}
	for (i = 0; i + 1 < r->elements && rc == 0; i += 2)
		rc = rewrite_one(c, cfg, hkey, r->element[i],
		    r->element[i + 1], t);
	freeReplyObject(r);
	return (rc);
}

typedef int	(*rewrite_fn)(struct wh_wire *, const struct wh_config *,
		    const char *, struct tally *);

/* fn on every key of type matching the SCAN pattern (prefix included). */
static int
scan_each(struct wh_wire *c, const struct wh_config *cfg, const char *pattern,
    const char *type, rewrite_fn fn, struct tally *t)
{
	redisReply	*r;
	const char	*argv[8];
	char		 cursor[32] = "0", err[256];
	size_t		 i;

	do {
		argv[0] = "SCAN"; argv[1] = cursor; argv[2] = "MATCH";
		argv[3] = pattern; argv[4] = "COUNT"; argv[5] = SCAN_COUNT;
		argv[6] = "TYPE"; argv[7] = type;
		r = wh_redis_call(c, err, sizeof(err), 8, argv, NULL);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2) {
			if (r != NULL)
				freeReplyObject(r);
			wh_log(WH_LOG_ERROR, "SCAN failed", NULL);
			return (-1);
		}
		(void)snprintf(cursor, sizeof(cursor), "%s",
		    r->element[0]->str);
		for (i = 0; i < r->element[1]->elements; i++) {
			if (fn(c, cfg, r->element[1]->element[i]->str,
			    t) == -1) {
				freeReplyObject(r);
				wh_log(WH_LOG_ERROR, "re-encryption stopped: "
				    "Redis failed; run it again", NULL);
				return (-1);
			}
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return (0);
}

/*
 * The wire to SCAN and rewrite on: c itself on one Redis. In a cluster
 * every record rewritten is in the {g} slot (docs/design.md), whose keys
 * only the master serving it holds (c's node may be a replica, or serve
 * other slots): a wire of its own to that master, which still follows
 * MOVED and ASK should the slot move meanwhile. NULL if unreachable.
 */
static struct wh_wire *
records_wire(struct wh_wire *c, const struct wh_config *cfg,
    const char *pattern)
{
	struct wh_wire	*w;
	char		 err[256];

	if (cfg->redis.ncluster == 0)
		return (c);
	if ((w = wh_redis_slot_master(c, pattern, strlen(pattern), err,
	    sizeof(err))) == NULL)
		wh_log(WH_LOG_ERROR, "cannot reach the master of the "
		    "records' slot", "key", pattern, "error", err, NULL);
	return (w);
}

/*
 * Whether w's node is the master of the records' slot (that of pattern)
 * and is not migrating it away: only then does its SCAN see every record.
 * 1 yes, 0 no (logged as msg), -1 if Redis failed.
 */
static int
records_settled(struct wh_wire *w, const char *pattern, const char *msg)
{
	redisReply	*r;
	const char	*argv[2] = { "CLUSTER", "NODES" };
	char		 err[256];
	int		 ok;

	if ((r = wh_redis_call(w, err, sizeof(err), 2, argv, NULL)) == NULL) {
		wh_log(WH_LOG_ERROR, "CLUSTER NODES failed: run it again",
		    "error", err, NULL);
		return (-1);
	}
	ok = r->type == REDIS_REPLY_STRING ?
	    wh_cluster_nodes_serves(r->str, r->len,
	    wh_key_slot(pattern, strlen(pattern))) : -1;
	freeReplyObject(r);
	if (ok == 1)
		return (1);
	wh_log(WH_LOG_ERROR, msg, "key", pattern, NULL);
	return (ok == 0 ? 0 : -1);
}

/*
 * WH_REDIS_WAIT_REPLICAS=k: WAIT for k replicas to have every record w
 * rewrote, so that a failover right after an exit 0 cannot bring an old
 * sealing back once the old key is gone. 0 when confirmed (or k = 0).
 */
static int
records_replicated(struct wh_wire *w, const struct wh_config *cfg)
{
	redisReply	*r;
	const char	*argv[3];
	char		 k[WH_WAIT_NUM], err[256];
	int		 ok;

	if (cfg->wait_replicas == 0)
		return (0);
	wh_redis_wait_argv(argv, k, cfg->wait_replicas);
	if ((r = wh_redis_call(w, err, sizeof(err), 3, argv, NULL)) == NULL) {
		wh_log(WH_LOG_ERROR, "WAIT failed: run it again", "error", err,
		    NULL);
		return (-1);
	}
	ok = r->type == REDIS_REPLY_INTEGER &&
	    r->integer >= cfg->wait_replicas;
	freeReplyObject(r);
	if (ok)
		return (0);
	wh_log(WH_LOG_ERROR, "the rewritten records are not on "
	    "WH_REDIS_WAIT_REPLICAS replicas: run it again", NULL);
	return (-1);
}

int
launcher_reencrypt(struct wh_wire *c, const struct wh_config *cfg)
{
	struct tally	 t;
	struct wh_wire	*w;
	char		 n1[24], n2[24], n3[24], n4[24];
	char		 keys[WH_KEY_MAX], hooks[WH_KEY_MAX];
	int		 rc;

	memset(&t, 0, sizeof(t));
	/* SCAN patterns: every webhook's signing keys, every webhook. */
	if (wh_key_webhook_keys(keys, sizeof(keys), cfg->prefix, "*") == -1 ||
	    wh_key_webhook(hooks, sizeof(hooks), cfg->prefix, "*") == -1)
		return (1);
	/* Both patterns' keys share one slot in a cluster ({g}). */
	if ((w = records_wire(c, cfg, keys)) == NULL)
		return (1);
	rc = (w != c && records_settled(w, keys,
	    "the records' slot is migrating (or moved): run it again once "
	    "it is settled") != 1) ||
	    scan_each(w, cfg, keys, "hash", rewrite_hash, &t) == -1 ||
	    scan_each(w, cfg, hooks, "string", rewrite_webhook, &t) == -1 ||
	    (w != c && records_settled(w, keys,
	    "the records' slot moved or began migrating during the run; "
	    "records may have been skipped: run it again") != 1) ||
	    records_replicated(w, cfg) == -1;
	if (w != c)
		wh_wire_free(w);
	if (rc)
		return (1);
	(void)snprintf(n1, sizeof(n1), "%ld", t.seen);
	(void)snprintf(n2, sizeof(n2), "%ld", t.rewritten);
	(void)snprintf(n3, sizeof(n3), "%ld", t.unreadable);
	(void)snprintf(n4, sizeof(n4), "%ld", t.raced);
	wh_log(t.unreadable ? WH_LOG_WARN : WH_LOG_INFO, "signing secrets "
	    "re-encrypted", "keys", n1, "rewritten", n2, "unreadable", n3,
	    "changed_meanwhile", n4, "sealed_with",
	    cfg->secrets.n > 0 ? cfg->secrets.keys[0].kid : "(clear)", NULL);
	return (t.unreadable > 0 || t.raced > 0 ? 1 : 0);
}

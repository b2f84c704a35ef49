/*
 * reencrypt.c: `webhooks-api --reencrypt-secrets`, the second
 * step of rotating WH_SECRETS_KEY (common/secretbox.h). Every signing key
 * record is read with the whole ring and written back sealed with its
 * first key (or in the clear when the ring is empty, to turn encryption
 * off). A record is only replaced if it did not change meanwhile (a small
 * compare-and-set script), so the api may keep running. The secret
 * itself does not change, so nothing cached elsewhere goes stale.
 */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "buf.h"
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

/* One field of one keys hash: decode with the ring, encode, CAS. */
static int
rewrite_one(struct wh_wire *c, const struct wh_config *cfg, const char *hkey,
    const redisReply *field, const redisReply *val, struct tally *t)
{
	struct wh_signing_key	 k;
	struct wh_buf		 out;
	redisReply		*r;
	const char		*argv[4];
	size_t			 lens[4];
	char			 err[256];
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
	argv[0] = hkey; lens[0] = strlen(hkey);
	argv[1] = field->str; lens[1] = field->len;
	argv[2] = val->str; lens[2] = val->len;
	argv[3] = out.data; lens[3] = out.len;
	r = wh_redis_script(c, err, sizeof(err), wh_lua_signing_key_cas, 1, 4,
	    argv, lens);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		rc = -1;
	else if (r->integer == 1)
		t->rewritten++;
	else
		t->raced++;
	if (r != NULL)
		freeReplyObject(r);
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

	argv[0] = "HGETALL";
	argv[1] = hkey;
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

int
launcher_reencrypt(struct wh_wire *c, const struct wh_config *cfg)
{
	struct tally	 t;
	redisReply	*r;
	const char	*argv[8];
	char		 cursor[32] = "0", match[WH_KEY_MAX], err[256];
	char		 n1[24], n2[24], n3[24], n4[24];
	size_t		 i;

	memset(&t, 0, sizeof(t));
	/* A SCAN pattern: every webhook's signing keys. */
	(void)wh_key_webhook_keys(match, sizeof(match), cfg->prefix, "*");
	do {
		argv[0] = "SCAN"; argv[1] = cursor; argv[2] = "MATCH";
		argv[3] = match; argv[4] = "COUNT"; argv[5] = SCAN_COUNT;
		argv[6] = "TYPE"; argv[7] = "hash";
		r = wh_redis_call(c, err, sizeof(err), 8, argv, NULL);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2) {
			if (r != NULL)
				freeReplyObject(r);
			wh_log(WH_LOG_ERROR, "SCAN failed", NULL);
			return (1);
		}
		(void)snprintf(cursor, sizeof(cursor), "%s",
		    r->element[0]->str);
		for (i = 0; i < r->element[1]->elements; i++) {
			if (rewrite_hash(c, cfg, r->element[1]->element[i]->str,
			    &t) == -1) {
				freeReplyObject(r);
				wh_log(WH_LOG_ERROR, "re-encryption stopped: "
				    "Redis failed; run it again", NULL);
				return (1);
			}
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
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

/*
 * scripts.h: the Lua scripts run in Redis. The queue scripts touch only
 * keys of the {0} hash slot, so they stay valid on a Redis Cluster shard;
 * those of publishing and of delivery visibility also touch per-company,
 * per-webhook or per-event keys (each file says which), which one Redis
 * (with Sentinel, as Streem runs it) does not mind.
 */
#ifndef WH_SCRIPTS_H
#define WH_SCRIPTS_H

#include <stddef.h>

/*
 * Move due retries: KEYS[1] = wh:{0}:retry (zset, score = due ms),
 * KEYS[2] = wh:{0}:retries (stream); ARGV[1] = now ms, ARGV[2] = batch.
 * Each member is added to the stream and removed from the zset in the
 * same atomic script, so any number of dispatchers may run it at once
 * and a task is moved exactly once. Returns the number moved.
 */
extern const char	wh_lua_move_due[];

/*
 * Publish one event at most once per (company_sid, event_sid): the text
 * of common/lua/publish_event.lua (its header says keys, arguments and
 * reply). It touches wh:idem:<company_sid>:<event_sid> besides the
 * stream, so unlike the others it is not confined to the {0} slot.
 */
extern const char	wh_lua_publish_event[];

/*
 * Delivery visibility (each file's header says keys, arguments and
 * reply): recording an attempt with the endpoint's health, keeping a
 * dead letter with its per-webhook index, giving dead letters another
 * delivery (one event, or a batch of a ~recover job), and the webhook
 * compare-and-set with the change counters.
 */
extern const char	wh_lua_attempt_record[];
extern const char	wh_lua_dead_letter[];
extern const char	wh_lua_dead_requeue[];
extern const char	wh_lua_webhook_cas[];

/*
 * A dispatcher's hold on its stream entries (each file's header says
 * keys, arguments and reply): refreshing only those it still owns, and
 * moving one entry as it stands to the dead letters.
 */
extern const char	wh_lua_refresh_owned[];
extern const char	wh_lua_dead_entry[];

/*
 * The arguments of EVAL or EVALSHA (cmd) of script (its text or SHA-1)
 * with nkeys keys, then argv[0..argc) (the keys first; lens may be NULL)
 * into av/al (room for max), nk holding the key count's digits. Returns
 * the number of arguments, or -1 when they do not fit.
 */
int	wh_script_args(const char *cmd, const char *script, int nkeys,
	    int argc, const char **argv, const size_t *lens, const char **av,
	    size_t *al, size_t max, char nk[12]);

/* The SHA-1 (hex, NUL-terminated) Redis names a script by, for EVALSHA. */
#define WH_SCRIPT_SHA_LEN	40
int	wh_script_sha1(const char *script, char out[WH_SCRIPT_SHA_LEN + 1]);

#endif

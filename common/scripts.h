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
 * Publish one event at most once per (company_sid, event_sid): the text
 * of common/lua/publish_event.lua (its header says keys, arguments and
 * reply). It touches wh:idem:<company_sid>:<event_sid> besides the
 * stream, outside the {0} slot on one Redis; in a Redis Cluster the api
 * passes wh:{0}:idem:... instead (common/keys.c), in the stream's slot.
 */
extern const char	wh_lua_publish_event[];

/*
 * Moving the retries that came due to the retries stream (every
 * dispatcher, every 100 ms): common/lua/retry_move_due.lua.
 */
extern const char	wh_lua_retry_move_due[];

/*
 * The api's writes that depend on what they read or span several keys
 * (each file's header says keys, arguments and reply): webhooks, their
 * signing keys (the compare-and-set also serves the launcher's
 * re-encryption), API keys, ~recover jobs, a page of dead letters and
 * the delivery portal's sessions.
 */
extern const char	wh_lua_webhook_create[];
extern const char	wh_lua_webhook_delete[];
extern const char	wh_lua_signing_key_add[];
extern const char	wh_lua_signing_key_cas[];
extern const char	wh_lua_webhook_reseal[];
extern const char	wh_lua_signing_key_delete[];
extern const char	wh_lua_api_key_create[];
extern const char	wh_lua_api_key_delete[];
extern const char	wh_lua_recover_create[];
extern const char	wh_lua_dead_letter_page[];
extern const char	wh_lua_portal_session_create[];
extern const char	wh_lua_portal_session_delete[];

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
 * Retained events (WH_EVENT_RETENTION_MS; each file's header says keys,
 * arguments and reply): keeping a batch as a dispatcher reads it, and
 * queueing kept events again for a webhook (one for ~resend, a batch of
 * a ~recover job with include "all").
 */
extern const char	wh_lua_event_retain[];
extern const char	wh_lua_event_resend[];

/*
 * The end of a Redis Cluster ~recover batch in its job's slot: counts,
 * the job's cursor if unmoved, and the lease given back by its holder.
 */
extern const char	wh_lua_job_lease_end[];

/*
 * A dispatcher's hold on its stream entries (each file's header says
 * keys, arguments and reply): refreshing only those it still owns, and
 * moving one entry as it stands to the dead letters.
 */
extern const char	wh_lua_refresh_owned[];
extern const char	wh_lua_dead_entry[];

/*
 * Every script above and below, in one table (common/lua/embed makes
 * it): each connection loads them all when it comes up (SCRIPT LOAD, in
 * common/redis_conn.c, before any other command) and again after Redis
 * answered NOSCRIPT, so callers name a script by its SHA-1 (EVALSHA) and
 * its text does not travel with every call.
 */
#define WH_SCRIPT_SHA_LEN	40
struct wh_script {
	const char	*name;		/* the file's name, for logs */
	const char	*text;		/* wh_lua_<name> */
	char		 sha[WH_SCRIPT_SHA_LEN + 1];	/* see wh_script_sha */
};
extern struct wh_script	wh_scripts[];
extern const size_t	wh_nscripts;

/*
 * The SHA-1 (hex) of wh_lua_<name> text (by address: only the embedded
 * scripts have one), computed for every script on the first call; NULL
 * for a text that is not one of them.
 */
const char	*wh_script_sha(const char *text);
/* The SHA-1 (hex, NUL-terminated) Redis names a text by. */
int	wh_script_sha1(const char *text, char out[WH_SCRIPT_SHA_LEN + 1]);

/*
 * The arguments of EVALSHA of the embedded script text with nkeys keys,
 * then argv[0..argc) (the keys first; lens may be NULL): a->av, a->al,
 * a->n, in a's own room or, for a long list (a batch of attempt records,
 * a page of dead letters), in memory wh_script_argv_free() releases.
 * -1 when text is not embedded, nkeys is out of range or memory is out.
 */
#define WH_SCRIPT_ARGV_ROOM	16
struct wh_script_argv {
	const char	**av;
	size_t		 *al;
	int		  n;
	char		  nk[12];
	const char	 *room_av[WH_SCRIPT_ARGV_ROOM];
	size_t		  room_al[WH_SCRIPT_ARGV_ROOM];
};
int	wh_script_argv(struct wh_script_argv *, const char *text, int nkeys,
	    int argc, const char **argv, const size_t *lens);
void	wh_script_argv_free(struct wh_script_argv *);

/* Whether a Redis error says the script is not loaded (NOSCRIPT). */
int	wh_script_lost(const char *error, size_t len);

/*
 * Delivery control (each file's header says keys, arguments and reply):
 * the rate limiter shared by every dispatcher, and the hold of an
 * ordering key (docs/ordering.md).
 */
extern const char	wh_lua_ratelimit[];
extern const char	wh_lua_order_start[];
extern const char	wh_lua_order_finish[];

#endif

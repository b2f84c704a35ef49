/*
 * scripts.h: the Lua scripts run in Redis. Each touches only keys of the
 * {0} hash slot, so they stay valid on a Redis Cluster shard.
 */
#ifndef WH_SCRIPTS_H
#define WH_SCRIPTS_H

/*
 * Move due retries: KEYS[1] = wh:{0}:retry (zset, score = due ms),
 * KEYS[2] = wh:{0}:retries (stream); ARGV[1] = now ms, ARGV[2] = batch.
 * Each member is added to the stream and removed from the zset in the
 * same atomic script, so any number of dispatchers may run it at once
 * and a task is moved exactly once. Returns the number moved.
 */
extern const char	wh_lua_move_due[];

#endif

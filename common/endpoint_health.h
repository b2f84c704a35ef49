/*
 * endpoint_health.h: an endpoint's delivery health, as the dispatchers
 * keep it in wh:webhook:<sid>:health (a hash, updated with every
 * attempt by common/lua/attempt_record.lua) and as the api shows it, and the rule
 * that disables a webhook whose endpoint has failed every attempt for
 * too long. Pure functions, so the unit tests pin the clock.
 */
#ifndef WH_ENDPOINT_HEALTH_H
#define WH_ENDPOINT_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* Times in ms since the epoch; 0 = never. */
struct wh_health {
	int64_t		consecutive_failures;
	int64_t		failing_since;	/* first failure of the streak */
	int64_t		last_success_at;
	int64_t		last_failure_at;
};

/*
 * WH_DISABLE_AFTER_MS scaled by WH_RETRY_SCALE like the backoff; 0 stays
 * 0 (never disable), any other value is at least 1 ms.
 */
int64_t	wh_disable_after_scaled(int64_t after_ms, double scale);

/*
 * 1 when a streak of failures that began at failing_since has lasted
 * after_ms by now_ms (after_ms 0: never; no streak: never), else 0.
 */
int	wh_health_should_disable(int64_t failing_since, int64_t now_ms,
	    int64_t after_ms);

/*
 * One field of the health hash (name, value as stored: decimal text)
 * into h. Unknown names are ignored (0), a known name with a value that
 * is not a whole number >= 0 is refused (-1, h unchanged).
 */
int	wh_health_field(struct wh_health *, const char *name, size_t nlen,
	    const char *val, size_t vlen);

#endif

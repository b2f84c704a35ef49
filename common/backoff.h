/*
 * backoff.h: when to try a failed delivery again (docs/design.md, "Delivery
 * semantics"): a fixed schedule close to 5s, 5m, 30m, 2h, 5h, 10h, 10h,
 * each with +-20% jitter so that a burst of failures does not come back
 * as a burst, all multiplied by WH_RETRY_SCALE; and a receiver's own
 * Retry-After (on 429 and 503) honoured within [scheduled, 2 x scheduled].
 */
#ifndef WH_BACKOFF_H
#define WH_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#define WH_JITTER_PCT	20

/* The unjittered, unscaled schedule step for attempt `failed`. */
int64_t	wh_backoff_base_ms(uint32_t failed);

/*
 * Parse a Retry-After value (delta-seconds or an IMF-fixdate HTTP date)
 * into a delay in ms from now_ms (0 if the date is past). 0 on success,
 * -1 if malformed.
 */
int	wh_retry_after_parse(const char *, size_t, int64_t now_ms,
	    int64_t *delay_ms);

/* An IMF-fixdate HTTP date (a Date header) into ms. 0, or -1. */
int	wh_http_date_parse(const char *, size_t, int64_t *ms);

/* Clamp a receiver's requested delay into [scheduled, 2 x scheduled]. */
int64_t	wh_retry_after_clamp(int64_t requested_ms, int64_t scheduled_ms);

/*
 * Delay in ms before the attempt after attempt number `failed` (1-based)
 * under a webhook's own schedule (schedule.h; its last step for every
 * later attempt), or the default schedule when s is NULL or empty; with
 * jitter taken from `rnd` (any 32 random bits), scaled by `scale`. Never
 * less than 1 ms.
 */
struct wh_schedule;
int64_t	wh_backoff_schedule_ms(const struct wh_schedule *s, uint32_t failed,
	    double scale, uint32_t rnd);
/* Its unjittered, unscaled step (what wh_retry_after_clamp is given). */
int64_t	wh_backoff_schedule_base_ms(const struct wh_schedule *s,
	    uint32_t failed);

#endif

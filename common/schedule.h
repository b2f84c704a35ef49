/*
 * schedule.h: a webhook's own retry schedule, the field retry_schedule_s
 * (issue 21): 1 to 20 delays in whole seconds, each 1 s to 24 h. The
 * delay after attempt n is the n-th (the last one for every later
 * attempt), with the same jitter, WH_RETRY_SCALE and Retry-After rules as
 * the default schedule (backoff.h, wh_backoff_schedule_ms).
 */
#ifndef WH_SCHEDULE_H
#define WH_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define WH_SCHEDULE_MAX		20
#define WH_SCHEDULE_MIN_S	1
#define WH_SCHEDULE_MAX_S	86400

struct wh_schedule {
	uint32_t	n;	/* 0: the default schedule */
	uint32_t	delay_s[WH_SCHEDULE_MAX];
};

/* Why a schedule was refused, and which element (-1: the whole value). */
struct wh_schedule_err {
	int		 index;
	const char	*reason;
};

/*
 * Check the JSON text of retry_schedule_s (an array of integers; null is
 * the caller's business) and fill s. 0 on success, -1 with err filled in
 * (err may be NULL); s is then left with n = 0.
 */
int	wh_schedule_parse(const char *, size_t, struct wh_schedule *s,
	    struct wh_schedule_err *err);

#endif

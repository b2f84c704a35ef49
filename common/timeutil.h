/*
 * timeutil.h: wall-clock milliseconds and RFC 3339 UTC timestamps with
 * milliseconds and a "Z" ("2026-11-28T10:00:20.021Z"), the only time
 * format on the wire.
 */
#ifndef WH_TIMEUTIL_H
#define WH_TIMEUTIL_H

#include <stdint.h>

#define WH_RFC3339_LEN	24	/* chars, without the NUL */

int64_t	wh_now_ms(void);
/* The same in microseconds (trace spans). */
int64_t	wh_now_us(void);
/* Monotonic milliseconds, for timeouts and latencies. */
int64_t	wh_mono_ms(void);
/* Monotonic microseconds, for latency histograms. */
int64_t	wh_mono_us(void);
/* Formats ms since the epoch; out holds WH_RFC3339_LEN + 1. 0 or -1. */
int	wh_rfc3339_ms(int64_t ms, char out[WH_RFC3339_LEN + 1]);
/*
 * Parses RFC 3339 ("Z" or +hh:mm offset, optional fraction) into ms since
 * the epoch. 0 on success, -1 on malformed input.
 */
int	wh_rfc3339_parse(const char *, size_t, int64_t *ms);

/*
 * The window [since, until) of two RFC 3339 texts, as ~recover takes it:
 * both valid, since before until; an until in the future is now (what is
 * not dead yet cannot be recovered, and a job must have an end). NULL
 * with *since_ms and *until_ms set, or why not, with *field naming the
 * bound at fault ("since" or "until").
 */
const char	*wh_time_window(const char *since, size_t slen,
		    const char *until, size_t ulen, int64_t now_ms,
		    int64_t *since_ms, int64_t *until_ms, const char **field);

#endif

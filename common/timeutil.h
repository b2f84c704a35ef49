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

#endif

/*
 * fuzz_retry_after.c: Retry-After parsing (common/backoff.c) on any
 * bytes. The value comes from whatever answers at a customer's URL and
 * reaches wh_retry_after_parse() exactly as libcurl hands the header
 * line over (trailing CR LF included).
 *
 * Checks, beyond memory safety:
 * - a delay is never negative, and the clamp always keeps it within
 *   [scheduled, 2 x scheduled];
 * - delta-seconds (digits only) give exactly that many seconds;
 * - an accepted HTTP date is a real calendar date: printed again as an
 *   IMF-fixdate (with its true weekday) it gives back the input
 *   (a leap second aside, which folds into the next minute), so nothing
 *   like "31 Feb" is silently moved to another day.
 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "backoff.h"

#include "fuzz.h"

/* 0000-01-01T00:00:00Z: every four-digit year is after it. */
#define YEAR0_MS	(-62167219200000LL)

static void
check_date(const char *s, size_t len, int64_t delay_ms)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	tm;
	time_t		t;
	char		out[64];
	int64_t		at;

	at = YEAR0_MS + delay_ms;
	FUZZ_CHECK(at % 1000 == 0);
	if (s[23] == '6' && s[24] == '0')
		return;		/* :60 reads as :00 of the next minute */
	t = (time_t)(at / 1000);
	FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
	FUZZ_CHECK(snprintf(out, sizeof(out), "%s, %02d %s %04d "
	    "%02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec) == 29);
	if (memcmp(out + 5, s + 5, 24) != 0) {
		fprintf(stderr, "parsed \"%.*s\" as \"%s\"\n", (int)len, s,
		    out);
		FUZZ_CHECK(memcmp(out + 5, s + 5, 24) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	int64_t		 delay = -1, v = 0, sched;
	size_t		 b, e, i;
	int		 digits;

	if (wh_retry_after_parse(s, size, YEAR0_MS, &delay) == -1)
		return (0);
	FUZZ_CHECK(delay >= 0);
	for (sched = 1; sched <= 40LL * 3600 * 1000; sched *= 7)
		FUZZ_CHECK(wh_retry_after_clamp(delay, sched) >= sched &&
		    wh_retry_after_clamp(delay, sched) <= 2 * sched);

	/* The value without the whitespace the parser skips. */
	for (b = 0; b < size && (s[b] == ' ' || s[b] == '\t'); b++)
		;
	for (e = size; e > b && strchr(" \t\r\n", s[e - 1]) != NULL &&
	    s[e - 1] != '\0'; e--)
		;
	FUZZ_CHECK(e > b);
	digits = 1;
	for (i = b; i < e; i++) {
		if (!isdigit((unsigned char)s[i]))
			digits = 0;
	}
	if (digits) {
		FUZZ_CHECK(e - b <= 10);
		for (i = b; i < e; i++)
			v = v * 10 + (s[i] - '0');
		FUZZ_CHECK(delay == v * 1000);
		return (0);
	}
	FUZZ_CHECK(e - b == 29);
	check_date(s + b, e - b, delay);
	return (0);
}

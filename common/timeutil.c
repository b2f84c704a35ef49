/*
 * timeutil.c: clocks and the one wire time format, RFC 3339 in UTC with
 * milliseconds ("2026-11-28T10:00:20.021Z"). Formatting floors to the
 * millisecond, also before 1970, and refuses years that do not fit in four
 * digits so the text is always WH_RFC3339_LEN chars. Parsing is strict
 * (every field range-checked, nothing after the offset) because receivers
 * and publishers compare these stamps against their own clocks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

int64_t
wh_now_ms(void)
{
	return (wh_now_us() / 1000);
}

int64_t
wh_now_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return (0);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int64_t
wh_mono_ms(void)
{
	return (wh_mono_us() / 1000);
}

int64_t
wh_mono_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return (0);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * Stamps come in bursts within one second (created_at of every published
 * event, sent_at of every delivery), so the "YYYY-MM-DDTHH:MM:SS." part
 * of the seconds formatted last is kept and only the milliseconds are
 * written; gmtime_r and snprintf run about once per second instead of
 * once per stamp. Two seconds are kept, because a delivery stamps both
 * its event's created_at (often an earlier second) and the time now.
 * Per process: the api workers and the dispatcher are single threaded.
 */
#define RFC3339_SECS_LEN	20	/* "YYYY-MM-DDTHH:MM:SS." */

struct rfc3339_sec {
	int64_t	secs;
	char	prefix[RFC3339_SECS_LEN + 1];
};

static struct rfc3339_sec	secs_cache[2] = {
	{ INT64_MIN, "" }, { INT64_MIN, "" }
};
static int			secs_newer;	/* index of the last filled */

static int
rfc3339_secs(int64_t secs, char prefix[RFC3339_SECS_LEN + 1])
{
	struct tm	tm;
	time_t		t = (time_t)secs;
	int		n;

	if (gmtime_r(&t, &tm) == NULL)
		return (-1);
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return (-1);
	n = snprintf(prefix, RFC3339_SECS_LEN + 1, "%04d-%02d-%02dT%02d:%02d:"
	    "%02d.", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return (n == RFC3339_SECS_LEN ? 0 : -1);
}

/* The cached prefix of secs, formatted into the older slot if absent. */
static const char *
rfc3339_prefix(int64_t secs)
{
	char	prefix[RFC3339_SECS_LEN + 1];
	int	i;

	for (i = 0; i < 2; i++) {
		if (secs_cache[i].secs == secs)
			return (secs_cache[i].prefix);
	}
	if (rfc3339_secs(secs, prefix) == -1)
		return (NULL);
	secs_newer ^= 1;
	secs_cache[secs_newer].secs = secs;
	memcpy(secs_cache[secs_newer].prefix, prefix, sizeof(prefix));
	return (secs_cache[secs_newer].prefix);
}

int
wh_rfc3339_ms(int64_t ms, char out[WH_RFC3339_LEN + 1])
{
	const char	*prefix;
	int64_t		 secs, frac;

	/* Floor division: -1 ms is 1969-12-31T23:59:59.999Z. */
	secs = ms / 1000;
	frac = ms % 1000;
	if (frac < 0) {
		secs -= 1;
		frac += 1000;
	}
	if ((prefix = rfc3339_prefix(secs)) == NULL)
		return (-1);
	memcpy(out, prefix, RFC3339_SECS_LEN);
	out[RFC3339_SECS_LEN] = (char)('0' + frac / 100);
	out[RFC3339_SECS_LEN + 1] = (char)('0' + frac / 10 % 10);
	out[RFC3339_SECS_LEN + 2] = (char)('0' + frac % 10);
	out[RFC3339_SECS_LEN + 3] = 'Z';
	out[WH_RFC3339_LEN] = '\0';
	return (0);
}

/* Exactly n decimal digits at s into *v; -1 otherwise. */
static int
digits(const char *s, size_t n, int *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		*v = *v * 10 + (s[i] - '0');
	}
	return (0);
}

static int
days_in_month(int year, int month)
{
	static const int	days[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int			leap;

	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (month == 2 && leap)
		return (29);
	return (days[month - 1]);
}

/*
 * date-time from RFC 3339 section 5.6: full-date "T" partial-time
 * time-offset, "T" and "Z" in either case, a fraction of any length (only
 * milliseconds kept, truncated), seconds up to 60 (a leap second folds
 * into the next minute).
 */
int
wh_rfc3339_parse(const char *s, size_t len, int64_t *ms)
{
	struct tm	tm;
	time_t		t;
	size_t		i;
	int		year, mon, day, hh, mm, ss, frac, oh, om, sign, k;

	/* "YYYY-MM-DDTHH:MM:SS" then at least "Z". */
	if (len < 20)
		return (-1);
	if (digits(s, 4, &year) == -1 || s[4] != '-' ||
	    digits(s + 5, 2, &mon) == -1 || s[7] != '-' ||
	    digits(s + 8, 2, &day) == -1 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &hh) == -1 || s[13] != ':' ||
	    digits(s + 14, 2, &mm) == -1 || s[16] != ':' ||
	    digits(s + 17, 2, &ss) == -1)
		return (-1);
	if (mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) || hh > 23 || mm > 59 || ss > 60)
		return (-1);

	i = 19;
	frac = 0;
	if (s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return (-1);
		for (k = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++, k++) {
			if (k < 3)
				frac = frac * 10 + (s[i] - '0');
		}
		for (; k < 3; k++)
			frac *= 10;
	}

	if (i >= len)
		return (-1);
	sign = 0;
	oh = om = 0;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i < 6 || digits(s + i + 1, 2, &oh) == -1 ||
		    s[i + 3] != ':' || digits(s + i + 4, 2, &om) == -1 ||
		    oh > 23 || om > 59)
			return (-1);
		i += 6;
	} else
		return (-1);
	if (i != len)
		return (-1);

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	/* -1 is also a valid answer (1969-12-31T23:59:59Z): ask errno. */
	errno = 0;
	t = timegm(&tm);
	if (t == (time_t)-1 && errno != 0)
		return (-1);

	*ms = (int64_t)t * 1000 + frac -
	    (int64_t)sign * ((int64_t)oh * 60 + om) * 60000;
	return (0);
}

const char *
wh_time_window(const char *since, size_t slen, const char *until,
    size_t ulen, int64_t now_ms, int64_t *since_ms, int64_t *until_ms,
    const char **field)
{
	*field = "since";
	if (wh_rfc3339_parse(since, slen, since_ms) == -1)
		return ("must be an RFC 3339 time such as 2026-11-28T10:00:00Z");
	*field = "until";
	if (wh_rfc3339_parse(until, ulen, until_ms) == -1)
		return ("must be an RFC 3339 time such as 2026-11-28T10:00:00Z");
	if (*since_ms < 0)
		*since_ms = 0;		/* nothing died before 1970 */
	if (*until_ms > now_ms)
		*until_ms = now_ms;
	if (*since_ms >= *until_ms)
		return ("must be later than since (and since must be in the "
		    "past)");
	*field = NULL;
	return (NULL);
}

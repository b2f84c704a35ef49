/*
 * backoff.c: the retry schedule and Retry-After. Pure functions: the
 * caller supplies time and randomness, so the unit tests can pin both.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "schedule.h"

static const int64_t schedule_ms[] = {
	5LL * 1000,		/* after attempt 1 */
	5LL * 60 * 1000,
	30LL * 60 * 1000,
	2LL * 3600 * 1000,
	5LL * 3600 * 1000,
	10LL * 3600 * 1000,
	10LL * 3600 * 1000,	/* and every later one */
};
#define NSTEPS	(sizeof(schedule_ms) / sizeof(schedule_ms[0]))

int64_t
wh_backoff_base_ms(uint32_t failed)
{
	if (failed == 0)
		failed = 1;
	if (failed > NSTEPS)
		failed = NSTEPS;
	return (schedule_ms[failed - 1]);
}

/* A step with its jitter from rnd, scaled: one rule for every schedule. */
static int64_t
jittered(int64_t step_ms, double scale, uint32_t rnd)
{
	double	base, jitter, ms;

	base = (double)step_ms;
	/* rnd maps onto [-20%, +20%] of the step. */
	jitter = ((double)rnd / 4294967295.0 * 2.0 - 1.0) *
	    (WH_JITTER_PCT / 100.0);
	ms = base * (1.0 + jitter) * scale;
	if (ms < 1.0)
		return (1);
	if (ms > 9.0e15)
		return ((int64_t)9.0e15);
	return ((int64_t)ms);
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Strict IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static int
parse_http_date(const char *s, size_t len, int64_t *ms)
{
	struct tm	tm;
	char		mon[4];
	int		i, day, year, hh, mm, ss;
	time_t		t;

	if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return (-1);
	for (i = 5; i < 25; i++) {
		if (i == 7 || i == 11 || i == 16 || i == 19 || i == 22)
			continue;
		if (i >= 8 && i <= 10)
			continue;
		if (!isdigit((unsigned char)s[i]))
			return (-1);
	}
	day = (s[5] - '0') * 10 + (s[6] - '0');
	memcpy(mon, s + 8, 3);
	mon[3] = '\0';
	year = (s[12] - '0') * 1000 + (s[13] - '0') * 100 +
	    (s[14] - '0') * 10 + (s[15] - '0');
	hh = (s[17] - '0') * 10 + (s[18] - '0');
	mm = (s[20] - '0') * 10 + (s[21] - '0');
	ss = (s[23] - '0') * 10 + (s[24] - '0');
	memset(&tm, 0, sizeof(tm));
	for (i = 0; i < 12; i++) {
		if (strcmp(mon, months[i]) == 0)
			break;
	}
	if (i == 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return (-1);
	tm.tm_mon = i;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss == 60 ? 59 : ss;	/* a leap second: added below */
	if ((t = timegm(&tm)) == (time_t)-1)
		return (-1);
	/* timegm() moves a day the month lacks ("31 Feb") on: refuse it. */
	if (tm.tm_mday != day || tm.tm_mon != i)
		return (-1);
	*ms = ((int64_t)t + (ss == 60)) * 1000;
	return (0);
}

int
wh_http_date_parse(const char *s, size_t len, int64_t *ms)
{
	return (parse_http_date(s, len, ms));
}

int
wh_retry_after_parse(const char *s, size_t len, int64_t now_ms,
    int64_t *delay_ms)
{
	int64_t	v = 0, at;
	size_t	i;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len == 0)
		return (-1);
	if (isdigit((unsigned char)s[0])) {
		if (len > 10)
			return (-1);
		for (i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				return (-1);
			v = v * 10 + (s[i] - '0');
		}
		*delay_ms = v * 1000;
		return (0);
	}
	if (parse_http_date(s, len, &at) == -1)
		return (-1);
	*delay_ms = at > now_ms ? at - now_ms : 0;
	return (0);
}

int64_t
wh_retry_after_clamp(int64_t requested_ms, int64_t scheduled_ms)
{
	if (requested_ms < scheduled_ms)
		return (scheduled_ms);
	if (requested_ms > 2 * scheduled_ms)
		return (2 * scheduled_ms);
	return (requested_ms);
}

int64_t
wh_backoff_schedule_base_ms(const struct wh_schedule *s, uint32_t failed)
{
	if (s == NULL || s->n == 0 || s->n > WH_SCHEDULE_MAX)
		return (wh_backoff_base_ms(failed));
	if (failed == 0)
		failed = 1;
	if (failed > s->n)
		failed = s->n;
	return ((int64_t)s->delay_s[failed - 1] * 1000);
}

int64_t
wh_backoff_schedule_ms(const struct wh_schedule *s, uint32_t failed,
    double scale, uint32_t rnd)
{
	return (jittered(wh_backoff_schedule_base_ms(s, failed), scale, rnd));
}

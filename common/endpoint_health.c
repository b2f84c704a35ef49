/*
 * endpoint_health.c: the endpoint health record and the auto-disable
 * rule (see endpoint_health.h). The counters are kept by a Lua script in
 * Redis, atomically with the attempt log line; what to make of them is
 * decided here, in C, where it can be tested.
 */
#include <string.h>

#include "endpoint_health.h"

int64_t
wh_disable_after_scaled(int64_t after_ms, double scale)
{
	double	ms;

	if (after_ms <= 0)
		return (0);
	ms = (double)after_ms * scale;
	if (ms < 1.0)
		return (1);
	if (ms > 9.0e15)
		return ((int64_t)9.0e15);
	return ((int64_t)ms);
}

int
wh_health_should_disable(int64_t failing_since, int64_t now_ms,
    int64_t after_ms)
{
	if (after_ms <= 0 || failing_since <= 0 || now_ms < failing_since)
		return (0);
	return (now_ms - failing_since >= after_ms);
}

static int
whole(const char *v, size_t len, int64_t *out)
{
	int64_t	n = 0;
	size_t	i;

	if (len == 0 || len > 18)
		return (-1);
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return (-1);
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return (0);
}

int
wh_health_field(struct wh_health *h, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} fields[] = {
		{ "consecutive_failures",
		    offsetof(struct wh_health, consecutive_failures) },
		{ "failing_since", offsetof(struct wh_health, failing_since) },
		{ "last_success_at",
		    offsetof(struct wh_health, last_success_at) },
		{ "last_failure_at",
		    offsetof(struct wh_health, last_failure_at) },
	};
	size_t	i;
	int64_t	v;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) != nlen ||
		    memcmp(fields[i].name, name, nlen) != 0)
			continue;
		if (whole(val, vlen, &v) == -1)
			return (-1);
		memcpy((char *)h + fields[i].off, &v, sizeof(v));
		return (0);
	}
	return (0);
}

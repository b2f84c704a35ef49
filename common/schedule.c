/*
 * schedule.c: reading and checking a webhook's retry_schedule_s. Only
 * plain integers are accepted ("30", not "30.0" or "3e1"): a delay is a
 * count of seconds, and one spelling per value keeps what is stored the
 * same as what was sent.
 */
#include <string.h>

#include "json.h"
#include "schedule.h"

static int
refuse(struct wh_schedule *s, struct wh_schedule_err *err, int index,
    const char *reason)
{
	s->n = 0;
	if (err != NULL) {
		err->index = index;
		err->reason = reason;
	}
	return (-1);
}

/*
 * The whole seconds in v[0..len), or -1 unless it is 1 to 86400 written
 * plainly.
 */
static int64_t
delay_value(const char *v, size_t len)
{
	int64_t	n = 0;
	size_t	i;

	if (len == 0 || len > 6 || v[0] < '1' || v[0] > '9')
		return (-1);
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return (-1);
		n = n * 10 + (v[i] - '0');
	}
	if (n < WH_SCHEDULE_MIN_S || n > WH_SCHEDULE_MAX_S)
		return (-1);
	return (n);
}

int
wh_schedule_parse(const char *text, size_t len, struct wh_schedule *s,
    struct wh_schedule_err *err)
{
	const char	*el[WH_SCHEDULE_MAX];
	size_t		 ell[WH_SCHEDULE_MAX];
	int64_t		 d;
	int		 n, i;

	s->n = 0;
	if (text == NULL || !wh_json_valid(text, len))
		return (refuse(s, err, -1, "not valid JSON"));
	n = wh_json_elements_trusted(text, len, el, ell, WH_SCHEDULE_MAX);
	if (n == -2)
		return (refuse(s, err, WH_SCHEDULE_MAX,
		    "at most 20 delays"));
	if (n == -1)
		return (refuse(s, err, -1, "expected an array of seconds"));
	if (n == 0)
		return (refuse(s, err, -1, "at least one delay"));
	for (i = 0; i < n; i++) {
		if ((d = delay_value(el[i], ell[i])) == -1)
			return (refuse(s, err, i, "expected whole seconds "
			    "from 1 to 86400"));
		s->delay_s[i] = (uint32_t)d;
	}
	s->n = (uint32_t)n;
	return (0);
}

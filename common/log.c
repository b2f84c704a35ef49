/*
 * log.c: JSON-line logging on stderr. Each line is built in one buffer
 * and written with a single write(2) so that lines from several processes
 * sharing a terminal or a pipe never interleave mid-line. The first line
 * a process writes carries "version" (WH_VERSION), whatever it says: a
 * program that fails at start writes one line, and a log collected from
 * anywhere still tells which build wrote it. Fields are typed by the one
 * table of their names (log_fields.h): "status":201, not "201".
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "log_fields.h"
#include "timeutil.h"

#define LOG_FIELD(n, t, m)	{ #n, WH_LOGF_##t, m },
const struct wh_log_field	wh_log_fields[] = {
	WH_LOG_FIELDS(LOG_FIELD)
};
const size_t	wh_log_nfields = sizeof(wh_log_fields) /
		    sizeof(wh_log_fields[0]);

static int
field_cmp(const void *key, const void *elem)
{
	return (strcmp(key, ((const struct wh_log_field *)elem)->name));
}

const struct wh_log_field *
wh_log_field(const char *name)
{
	return (bsearch(name, wh_log_fields, wh_log_nfields,
	    sizeof(wh_log_fields[0]), field_cmp));
}

static const char *
digits(const char *p)
{
	while (*p >= '0' && *p <= '9')
		p++;
	return (p);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and nothing more. */
int
wh_log_is_number(const char *s)
{
	const char	*p = s, *q;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = digits(p);
	else
		return (0);
	if (*p == '.') {
		if ((q = digits(p + 1)) == p + 1)
			return (0);
		p = q;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if ((q = digits(p)) == p)
			return (0);
		p = q;
	}
	return (*p == '\0');
}

/* A field's value: bare when the table types it and it is one. */
static int
field_value(struct wh_buf *b, const char *k, const char *v)
{
	const struct wh_log_field	*f = wh_log_field(k);

	if (f != NULL && ((f->type == WH_LOGF_NUMBER &&
	    wh_log_is_number(v)) || (f->type == WH_LOGF_BOOL &&
	    (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))))
		return (wh_buf_appendstr(b, v));
	return (wh_json_str(b, v, strlen(v)));
}

static const char	*log_component = "webhooks";
static int		 log_min = WH_LOG_INFO;
static int		 log_versioned;	/* the first line was written */

static const char	 toolong[] =
    "{\"level\":\"error\",\"msg\":\"log line too long or out of memory\"}\n";
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
wh_log_init(const char *component, int min_level)
{
	log_component = component;
	log_min = min_level;
}

int
wh_log_enabled(int level)
{
	return (level >= log_min);
}

/* WH_LOG_LEVEL: "debug", "info", "warn" or "error"; -1 if none of them. */
int
wh_log_level_parse(const char *s)
{
	int	i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0)
			return (i);
	}
	return (-1);
}

void
wh_log(int level, const char *msg, ...)
{
	struct wh_buf	 b;
	va_list		 ap;
	const char	*k, *v;
	char		 ts[WH_RFC3339_LEN + 1];
	int		 rc;

	if (level < log_min || level < WH_LOG_DEBUG || level > WH_LOG_ERROR)
		return;
	if (wh_rfc3339_ms(wh_now_ms(), ts) == -1)
		ts[0] = '\0';

	/* A log line is bounded: a huge value must not balloon memory. */
	wh_buf_init(&b, 16384);
	rc = wh_buf_appendf(&b, "{\"ts\":\"%s\",\"level\":\"%s\","
	    "\"component\":\"%s\",\"msg\":", ts, level_names[level],
	    log_component);
	if (rc == 0)
		rc = wh_json_str(&b, msg, strlen(msg));
	if (rc == 0 && !log_versioned)
		rc = wh_buf_appendstr(&b, ",\"version\":\"" WH_VERSION "\"");

	va_start(ap, msg);
	while (rc == 0 && (k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL)
			continue;
		if ((rc = wh_buf_append(&b, ",", 1)) == 0 &&
		    (rc = wh_json_str(&b, k, strlen(k))) == 0 &&
		    (rc = wh_buf_append(&b, ":", 1)) == 0)
			rc = field_value(&b, k, v);
	}
	va_end(ap);

	if (rc == 0)
		rc = wh_buf_append(&b, "}\n", 2);
	if (rc == 0) {
		(void)!write(STDERR_FILENO, b.data, b.len);
		log_versioned = 1;
	} else
		(void)!write(STDERR_FILENO, toolong, sizeof(toolong) - 1);
	wh_buf_free(&b);
}

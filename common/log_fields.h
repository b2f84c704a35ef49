/*
 * log_fields.h: every field name a log line may carry besides ts, level,
 * component, msg and version, with its JSON type and meaning: the one
 * list of them. wh_log writes a number or boolean field unquoted when its
 * value is one (else as a string: a line is always valid JSON), and
 * docs/logging.md's field table is printed from this one
 * (test_log_fields checks both, and that every field the code passes is
 * listed here).
 *
 * Names: lower snake_case; a duration or age ends in its unit (_ms,
 * _s); a count is a plural noun or ends in a noun of what is counted.
 * Kept sorted by name (looked up by binary search).
 */
#ifndef WH_LOG_FIELDS_H
#define WH_LOG_FIELDS_H

#include <stddef.h>

#define WH_LOGF_STRING	0
#define WH_LOGF_NUMBER	1
#define WH_LOGF_BOOL	2

#define WH_LOG_FIELDS(F)						\
	F(age_ms, NUMBER, "how old the heartbeat file is")		\
	F(attempt, NUMBER, "delivery attempt number, 1-based")		\
	F(changed_meanwhile, NUMBER, "re-encryption: records changed "	\
	    "by others while it ran, left as they were")		\
	F(command, STRING, "the Redis command a reply belongs to")	\
	F(company_sid, STRING, "the tenant")				\
	F(concurrency, NUMBER, "deliveries in flight at most "		\
	    "(`WH_DISPATCH_CONCURRENCY`)")					\
	F(conn, STRING, "which Redis connection (`master`, a node...)")	\
	F(consecutive_failures, NUMBER, "failures in a row that "	\
	    "disabled a webhook")					\
	F(consumer, STRING, "the dispatcher's consumer name in the "	\
	    "group")							\
	F(delivered, NUMBER, "attempts that succeeded since start")	\
	F(deliveries, NUMBER, "deliveries of one stream entry")		\
	F(duration_ms, NUMBER, "how long a request or an attempt took")	\
	F(ended_by, STRING, "how kore ended: `exit` or `signal`")	\
	F(entries, NUMBER, "stream entries concerned")			\
	F(entry_id, STRING, "a stream entry id")			\
	F(error, STRING, "what went wrong, in words")			\
	F(event_sid, STRING, "the event")				\
	F(events, NUMBER, "events handled since start")			\
	F(failed_attempts, NUMBER, "attempts that failed since start")	\
	F(field, STRING, "a record's field")				\
	F(file, STRING, "a file's path")				\
	F(key, STRING, "a Redis key (never a secret's value)")		\
	F(key_id, STRING, "the API key that authenticated the request")	\
	F(keys, NUMBER, "re-encryption: keys looked at")		\
	F(kore, STRING, "the kore binary run")				\
	F(listen, STRING, "the address listened on")			\
	F(max_age_s, NUMBER, "the heartbeat's allowed age")		\
	F(method, STRING, "the request's HTTP method")			\
	F(path, STRING, "a request's path, or a file's")		\
	F(port, NUMBER, "a TCP port")					\
	F(private_targets, STRING, "the address policy for private "	\
	    "targets")							\
	F(reason, STRING, "why, as a short code or phrase")		\
	F(redirect, STRING, "a cluster redirection: `MOVED` or `ASK`")	\
	F(redis, STRING, "the Redis server reached (no password)")	\
	F(replicas, NUMBER, "replicas that confirmed a write")		\
	F(request_id, STRING, "the request (X-Request-Id)")		\
	F(retry_in_ms, NUMBER, "when the next attempt is due")		\
	F(rewritten, NUMBER, "re-encryption: records rewritten")	\
	F(script, STRING, "a Lua script's name")			\
	F(sealed_with, STRING, "re-encryption: the key id sealed with")	\
	F(sentinel, STRING, "a Redis Sentinel's host")			\
	F(slot, NUMBER, "a Redis Cluster hash slot")			\
	F(source, STRING, "who wrote a relayed line (`kore`)")		\
	F(span_id, STRING, "the span of this request or attempt (16 "	\
	    "hex digits)")						\
	F(status, NUMBER, "an HTTP status")				\
	F(stream, STRING, "a stream's key")				\
	F(switch, STRING, "a sentinel's +switch-master message")	\
	F(to, STRING, "where a redirection points")			\
	F(trace_id, STRING, "the W3C trace this line belongs to (32 "	\
	    "hex digits)")						\
	F(unreadable, NUMBER, "re-encryption: records no key opens")	\
	F(webhook_sid, STRING, "the webhook")				\
	F(workers, NUMBER, "api worker processes")

struct wh_log_field {
	const char	*name;
	int		 type;		/* WH_LOGF_* */
	const char	*meaning;
};

extern const struct wh_log_field	wh_log_fields[];
extern const size_t			wh_log_nfields;

/* The field's entry, NULL when the table lacks it. */
const struct wh_log_field *wh_log_field(const char *name);
/* 1 if s is a JSON number (RFC 8259 grammar), whole string. */
int	wh_log_is_number(const char *s);

#endif

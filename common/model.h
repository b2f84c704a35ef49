/*
 * model.h: the records we keep in Redis and the tasks we pass between
 * dispatchers, with their msgpack codecs.
 *
 * Records are msgpack maps keyed by field name (not positional arrays) so
 * that a newer binary can add fields and an older one still decodes what
 * it knows; unknown keys are skipped. Every string is owned (heap) and
 * freed by the matching *_free(); lengths are explicit where bytes may
 * not be text (secrets, payloads).
 */
#ifndef WH_MODEL_H
#define WH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "schedule.h"

#define WH_METHOD_POST		1
#define WH_METHOD_PUT		2
#define WH_METHOD_PATCH		3

struct wh_header {
	char		*name;
	char		*value;
	int		 sign;		/* include_in_request_signature */
};

struct wh_webhook {
	char		*sid;
	char		*company_sid;
	char		*label;
	char		*url;
	int		 method;	/* WH_METHOD_* */
	uint32_t	 timeout_ms;
	uint32_t	 max_attempts;
	struct wh_header *headers;
	size_t		 nheaders;
	char		**event_types;
	size_t		 nevent_types;
	int		 enabled;
	char		*disabled_reason; /* why the dispatcher disabled it;
					     NULL: none (absent in the record) */
	int64_t		 created_at;	/* ms since the epoch */
	int64_t		 updated_at;
	char		*tls_cert;	/* client certificate PEM, NULL: none */
	char		*tls_key;	/* its private key PEM (with tls_cert;
					   sealed at rest like secrets) */
	char		*tls_ca;	/* private CA PEM, NULL: none */
	struct wh_schedule retry;	/* retry_schedule_s; n = 0: default */
	uint32_t	 rate_per_second; /* rate_limit (ratelimit.lua); */
	uint32_t	 rate_burst;	/*   0 and 0: none */
	char		*filter;	/* filter JSON text as given (filter.h);
					   NULL: every event */
	int		 propagate_trace; /* send the attempt's traceparent;
					     absent in the record: 0 */
};

#define WH_KEY_HMAC		0	/* shared secret: Streem, v1 */
#define WH_KEY_ED25519		1	/* Standard Webhooks v1a only */

struct wh_signing_key {
	char		*sid;
	char		*webhook_sid;
	char		*label;
	int		 alg;		/* WH_KEY_*; record "alg", absent: 0 */
	unsigned char	*secret;	/* shared_secret bytes (UTF-8 text), or
					   the raw Ed25519 private key */
	size_t		 secret_len;
	int64_t		 created_at;
	int64_t		 expires_at;	/* 0 = never */
};

struct wh_event {
	char		*event_sid;
	char		*company_sid;
	char		*event_type;
	char		*payload;	/* raw JSON text, as published */
	size_t		 payload_len;
	int64_t		 created_at;
	char		*traceparent;	/* W3C trace context, valid or NULL */
	char		*ordering_key;	/* 1..WH_ORDERING_KEY_MAX bytes, or
					   NULL: none (docs/ordering.md) */
	char		*entry_id;	/* with ordering_key: its entry id in
					   the events stream, which orders it;
					   NULL in a resend (not ordered) */
};

#define WH_ORDERING_KEY_MAX	128

/* One delivery of one event to one webhook, as scheduled for (re)try. */
struct wh_task {
	struct wh_event	 event;
	char		*webhook_sid;
	uint32_t	 attempt;	/* the attempt this task will make, 1-based */
	int64_t		 first_attempt_at;
	int64_t		 due_at;
	char		*last_error;	/* may be NULL */
	int		 match;		/* a ~recover "all" resend: deliver
					   only if the webhook's event types
					   and filter take the event now */
};

const char	*wh_method_name(int);
/* WH_METHOD_* for "POST"/"PUT"/"PATCH" (exact, uppercase), else 0. */
int		 wh_method_parse(const char *, size_t);

void	wh_webhook_free(struct wh_webhook *);
void	wh_signing_key_free(struct wh_signing_key *);
void	wh_event_free(struct wh_event *);
void	wh_task_free(struct wh_task *);

/* Encoders append to out; 0 on success, -1 on failure. */
int	wh_webhook_encode(const struct wh_webhook *, struct wh_buf *out);
int	wh_signing_key_encode(const struct wh_signing_key *, struct wh_buf *);
int	wh_task_encode(const struct wh_task *, struct wh_buf *out);
/* The event alone, as a task's "event" map (a retained event's record). */
int	wh_event_encode(const struct wh_event *, struct wh_buf *out);

/*
 * Decoders fill a zeroed struct; 0 on success, -1 on malformed input
 * (the struct is then freed and zeroed again). Required fields missing
 * is malformed.
 */
int	wh_webhook_decode(const char *, size_t, struct wh_webhook *);
int	wh_signing_key_decode(const char *, size_t, struct wh_signing_key *);
int	wh_task_decode(const char *, size_t, struct wh_task *);
int	wh_event_decode(const char *, size_t, struct wh_event *);

/* 1 if the key signs at time now_ms (not expired), else 0. */
int	wh_signing_key_active(const struct wh_signing_key *, int64_t now_ms);

#endif

/*
 * validate.h: the rules for what customers and publishers may store.
 *
 * Pure functions, shared by the api (to refuse bad input with a clear
 * message) and the dispatcher (to refuse bad stream entries). Each returns
 * NULL when the value is acceptable, else a short human sentence saying
 * what is wrong (a static string; never echoes the input).
 */
#ifndef WH_VALIDATE_H
#define WH_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#define WH_URL_MAX		2048
#define WH_LABEL_MAX		256
#define WH_HEADERS_MAX		32
#define WH_HEADER_NAME_MAX	256
#define WH_HEADER_VALUE_MAX	4096
#define WH_EVENT_TYPE_MAX	128
#define WH_EVENT_TYPES_MAX	64
#define WH_COMPANY_SID_MAX	63
#define WH_TIMEOUT_MIN		100
#define WH_TIMEOUT_MAX		30000
#define WH_TIMEOUT_DEFAULT	5000
#define WH_ATTEMPTS_MIN		1
#define WH_ATTEMPTS_MAX		20
#define WH_ATTEMPTS_DEFAULT	8

/* http:// or https:// absolute URL with a host, no spaces/controls/userinfo. */
const char	*wh_validate_url(const char *, size_t);
/*
 * The host of a URL that wh_validate_url accepted, without the brackets
 * of an IPv6 literal (for the address policy). -1 if not http(s).
 */
int		 wh_url_host(const char *, size_t, const char **host,
		    size_t *hlen);
/* Its port (the scheme's when none is written), or -1. */
int		 wh_url_port(const char *, size_t);
/* RFC 9110 token, not one we set ourselves (Content-Type, Streem-*, webhook-*, Host ...). */
const char	*wh_validate_header_name(const char *, size_t);
/* Visible ASCII, space and tab; never CR, LF or NUL. */
const char	*wh_validate_header_value(const char *, size_t);
/* Dotted name: segments of [a-z0-9_-], e.g. "call.ended". */
const char	*wh_validate_event_type(const char *, size_t);
/* An event type filter: an exact name, "prefix.*" or "*". */
const char	*wh_validate_event_filter(const char *, size_t);
/* 1..63 chars of [A-Za-z0-9_-]. */
const char	*wh_validate_company_sid(const char *, size_t);
/* Printable ASCII, WH_SECRET_MIN..WH_SECRET_MAX bytes. */
const char	*wh_validate_shared_secret(const char *, size_t);
const char	*wh_validate_label(const char *, size_t);

/* 1 if event_type matches filter (exact, "prefix.*" or "*"). */
int		 wh_event_type_matches(const char *filter, const char *type);

#endif

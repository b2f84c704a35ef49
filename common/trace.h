/*
 * trace.h: W3C Trace Context (traceparent) and the OTLP exporter's
 * settings, shared by both programs. A trace context arrives on
 * POST /v1/events (the traceparent header) or as a stream entry's
 * traceparent field, travels with the event through the stream and the
 * retry set, and each attempt is a span of that trace.
 */
#ifndef WH_TRACE_H
#define WH_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define WH_TRACEPARENT_LEN	55	/* version 00: 2+1+32+1+16+1+2 */
#define WH_TRACE_ID_LEN		16
#define WH_SPAN_ID_LEN		8
#define WH_TRACE_SAMPLED	0x01

struct wh_trace {
	uint8_t	trace_id[WH_TRACE_ID_LEN];
	uint8_t	span_id[WH_SPAN_ID_LEN];	/* the parent's, as received */
	uint8_t	flags;
};

/*
 * Parse a traceparent value of len bytes (no NUL needed). Version 00
 * must be exactly 55 bytes; a later version may carry more after its
 * flags ("-..."), which is ignored; version ff, upper-case hex, an
 * all-zero trace or parent id are refused. 0 or -1.
 */
int	wh_traceparent_parse(const char *, size_t len, struct wh_trace *);
/* Version 00 of t with span as parent id; out holds 56 bytes. */
void	wh_traceparent_format(const struct wh_trace *t, const uint8_t *span,
	    char out[WH_TRACEPARENT_LEN + 1]);
/* A fresh non-zero span id (or trace id, len 16). 0 or -1. */
int	wh_trace_new_id(uint8_t *, size_t len);

/*
 * WH_OTLP_HEADERS / OTEL_EXPORTER_OTLP_HEADERS: "k1=v1,k2=v2", values
 * percent-decoded, whitespace around names and values trimmed. Calls
 * cb(name, name_len, value, value_len, arg) for each pair, the decoded
 * value in a buffer of at most WH_OTLP_HEADER_MAX bytes. Names must be
 * HTTP tokens and values free of control characters (CR, LF, NUL).
 * 0, or -1 at the first malformed pair (none after it is called back).
 */
#define WH_OTLP_HEADER_MAX	1024
typedef int	(*wh_header_cb)(const char *, size_t, const char *, size_t,
		    void *);
int	wh_otlp_headers_parse(const char *, size_t len, wh_header_cb,
	    void *arg);

#endif

/*
 * fuzz_trace.c: the traceparent parser and the OTLP headers parser
 * (common/trace.c) on any bytes. A traceparent comes from whoever calls
 * POST /v1/events or writes the stream; the headers from the operator.
 *
 * Checks, beyond memory safety:
 * - an accepted traceparent has non-zero ids, and formatted again (as
 *   version 00 with its own parent id) it parses to the same context and,
 *   for version 00, gives back the input byte for byte;
 * - every header pair called back has a non-empty name of HTTP token
 *   characters and a value without control characters, no longer than
 *   WH_OTLP_HEADER_MAX.
 */
#include "trace.h"

#include "fuzz.h"

static int
check_pair(const char *n, size_t nlen, const char *v, size_t vlen, void *arg)
{
	size_t	i;

	(void)arg;
	FUZZ_CHECK(nlen > 0 && vlen <= WH_OTLP_HEADER_MAX);
	for (i = 0; i < nlen; i++)
		FUZZ_CHECK(n[i] > 0x20 && n[i] < 0x7f && n[i] != '=' &&
		    n[i] != ',');
	for (i = 0; i < vlen; i++)
		FUZZ_CHECK((unsigned char)v[i] >= 0x20 && v[i] != 0x7f);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	struct wh_trace	 t, again;
	char		 out[WH_TRACEPARENT_LEN + 1];
	static const uint8_t	zero[WH_TRACE_ID_LEN];

	(void)wh_otlp_headers_parse(s, size, check_pair, NULL);
	if (wh_traceparent_parse(s, size, &t) == -1)
		return (0);
	FUZZ_CHECK(memcmp(t.trace_id, zero, WH_TRACE_ID_LEN) != 0);
	FUZZ_CHECK(memcmp(t.span_id, zero, WH_SPAN_ID_LEN) != 0);
	wh_traceparent_format(&t, t.span_id, out);
	FUZZ_CHECK(strlen(out) == WH_TRACEPARENT_LEN);
	FUZZ_CHECK(wh_traceparent_parse(out, WH_TRACEPARENT_LEN, &again) == 0);
	FUZZ_CHECK(memcmp(&t, &again, sizeof(t)) == 0);
	if (s[0] == '0' && s[1] == '0')
		FUZZ_CHECK(size == WH_TRACEPARENT_LEN &&
		    memcmp(out, s, size) == 0);
	return (0);
}

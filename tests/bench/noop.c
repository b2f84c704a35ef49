/*
 * noop.c: the "Kore no-op route" ceiling of make bench.
 *
 * A Kore module as small as a route can be: read the request body, answer
 * 202 with a short JSON body. The bench runs it with the same kore binary
 * and the same configuration as the api (api/conf/webhooks.conf, filled in
 * the same way as api/launcher/main.c does: same workers, limits, keep-alive),
 * which is why the handler has the api's name, api_http: the route line of
 * that file then needs no change. Whatever the api's ingest route costs
 * beyond this module is the api's own work (auth, validation, Redis).
 */
#include <kore/kore.h>
#include <kore/http.h>

int	api_http(struct http_request *);

/* An answer of the size of POST /v1/events' 202 head, roughly. */
static const char answer[] = "{\"accepted\":true}";

int
api_http(struct http_request *req)
{
	char	buf[16384];
	ssize_t	n;
	size_t	total = 0;

	/* Consume the body as a handler that parses it would. */
	while ((n = http_body_read(req, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	if (n == -1) {
		http_response(req, 500, NULL, 0);
		return (KORE_RESULT_OK);
	}
	http_response_header(req, "content-type", "application/json");
	http_response(req, total > 0 ? 202 : 400, answer, sizeof(answer) - 1);
	return (KORE_RESULT_OK);
}

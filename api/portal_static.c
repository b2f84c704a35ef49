/*
 * portal_static.c: GET /portal/<file>, the delivery portal's static
 * files, served from the table api/portal/embed compiles into the module
 * (nothing is read from disk; a name is looked up, never joined to a
 * path). Every answer carries the portal's security headers: a
 * Content-Security-Policy that allows only this origin's own scripts,
 * styles and API calls (no inline script or style, no third party),
 * frame-ancestors from WH_PORTAL_FRAME_ANCESTORS ('none' unless set), no
 * MIME sniffing, no Referer (the URL's fragment holds a session token;
 * browsers never send a fragment, this also keeps the path private). A
 * client that accepts gzip gets the bytes gzipped at build time.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "portal_assets.h"

#define PORTAL_PREFIX	"/portal/"

/*
 * Whether Accept-Encoding accepts gzip: a "gzip" (or "*") element whose
 * q is not zero (RFC 9110 12.5.3). Anything unparsable means no.
 */
static int
accepts_gzip(struct http_request *req)
{
	const char	*v, *p, *end, *semi;
	size_t		 len;

	if (!http_request_header(req, "accept-encoding", &v))
		return (0);
	for (p = v; *p != '\0'; p = *end ? end + 1 : end) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		semi = memchr(p, ';', (size_t)(end - p));
		len = (size_t)((semi ? semi : end) - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!((len == 4 && strncasecmp(p, "gzip", 4) == 0) ||
		    (len == 1 && *p == '*')))
			continue;
		if (semi == NULL)
			return (1);
		/* "q=0", "q=0.0", ... refuse it; any other q accepts. */
		for (semi++; semi < end && (*semi == ' ' || *semi == '\t');
		    semi++)
			;
		if (end - semi >= 3 && strncasecmp(semi, "q=0", 3) == 0 &&
		    strspn(semi + 3, ".0 \t") >= (size_t)(end - semi - 3))
			return (0);
		return (1);
	}
	return (0);
}

static void
security_headers(struct http_request *req)
{
	char	csp[768];

	(void)snprintf(csp, sizeof(csp), "default-src 'self'; "
	    "script-src 'self'; style-src 'self'; img-src 'self'; "
	    "connect-src 'self'; object-src 'none'; base-uri 'none'; "
	    "form-action 'none'; frame-ancestors %s",
	    api_cfg.portal_frame_ancestors);
	http_response_header(req, "content-security-policy", csp);
	http_response_header(req, "x-content-type-options", "nosniff");
	http_response_header(req, "referrer-policy", "no-referrer");
	http_response_header(req, "cross-origin-resource-policy",
	    "same-origin");
	http_response_header(req, "vary", "accept-encoding");
}

int
api_portal_static(struct api_ctx *ctx)
{
	struct http_request		*req = ctx->req;
	const struct portal_asset	*a;
	const char			*name;

	if (strcmp(req->path, "/portal") == 0) {
		api_location(ctx, "%s", PORTAL_PREFIX);
		api_respond_raw(ctx, 308, NULL, NULL, 0);
		return (API_DONE);
	}
	name = req->path + strlen(PORTAL_PREFIX);
	if (*name == '\0')
		name = "index.html";
	for (a = portal_assets; a->name != NULL; a++) {
		if (strcmp(a->name, name) == 0)
			break;
	}
	if (a->name == NULL)
		return (api_problem(ctx, API_P_NO_SUCH_ROUTE, "No such file.",
		    NULL));
	security_headers(req);
	if (accepts_gzip(req)) {
		http_response_header(req, "content-encoding", "gzip");
		api_respond_raw(ctx, 200, a->type, a->gz, a->gz_len);
	} else
		api_respond_raw(ctx, 200, a->type, a->raw, a->raw_len);
	return (API_DONE);
}

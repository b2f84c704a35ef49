/*
 * webhook_tls.c: a webhook's TLS material as clients write and read it.
 * tls_client_certificate {certificate_pem, private_key_pem} is checked
 * at write time (PEM, the key is the certificate's, not expired) and
 * shown as the certificate's subject, issuer and not_after only: the
 * private key is write-only. tls_ca_pem (certificates trusted for this
 * webhook in addition to the dispatcher's CAs) is public and shown as
 * written. null removes either.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "json.h"
#include "model.h"
#include "timeutil.h"
#include "tlsmat.h"

static const struct api_field_spec	cert_fields[] = {
	{ "certificate_pem", 0 }, { "private_key_pem", 0 },
	{ "subject", 1 }, { "issuer", 1 }, { "not_after", 1 },
	{ NULL, 0 }
};

/* tls_client_certificate into w->tls_cert, w->tls_key. -1 on ENOMEM. */
static int
parse_cert(struct api_obj *obj, struct wh_webhook *w, struct api_errors *e)
{
	struct api_obj	 o;
	const char	*cert, *key, *why;
	size_t		 errs = e->n;

	switch (api_field_object(obj, "tls_client_certificate", e, &o)) {
	case 0:
		return (0);	/* null: none */
	case -1:
		return (e->n > errs ? 0 : -1);
	}
	api_fields_check(&o, cert_fields, "", e);
	cert = api_field_str(&o, "certificate_pem", e, 1);
	key = api_field_str(&o, "private_key_pem", e, 1);
	api_errors_prefix(e, errs, "tls_client_certificate.");
	if (cert == NULL || key == NULL || e->n > errs)
		return (0);
	if ((why = wh_tls_client_check(cert, strlen(cert), key, strlen(key),
	    wh_now_ms(), NULL)) != NULL) {
		api_errors_add(e, "tls_client_certificate", "%s", why);
		return (0);
	}
	if ((w->tls_cert = strdup(cert)) == NULL ||
	    (w->tls_key = strdup(key)) == NULL)
		return (-1);
	return (0);
}

int
api_webhook_tls_parse(struct api_obj *obj, int create,
    struct api_webhook_input *in, struct api_errors *e)
{
	const char	*ca, *why;

	if (create || api_field_present(obj, "tls_client_certificate")) {
		in->given |= API_WB_TLS_CERT;
		if (parse_cert(obj, &in->w, e) == -1)
			return (-1);
	}
	if (create || api_field_present(obj, "tls_ca_pem")) {
		in->given |= API_WB_TLS_CA;
		ca = api_field_str(obj, "tls_ca_pem", e, 0);
		if (ca != NULL && (why = wh_tls_ca_check(ca,
		    strlen(ca))) != NULL)
			api_errors_add(e, "tls_ca_pem", "%s", why);
		else if (ca != NULL && (in->w.tls_ca = strdup(ca)) == NULL)
			return (-1);
	}
	return (0);
}

static void
swap(char **a, char **b)
{
	char	*t = *a;

	*a = *b;
	*b = t;
}

/* As api_webhook_apply: what dst held moves into in, freed with it. */
void
api_webhook_tls_apply(struct wh_webhook *dst, struct api_webhook_input *in)
{
	if (in->given & API_WB_TLS_CERT) {
		swap(&dst->tls_cert, &in->w.tls_cert);
		swap(&dst->tls_key, &in->w.tls_key);
	}
	if (in->given & API_WB_TLS_CA)
		swap(&dst->tls_ca, &in->w.tls_ca);
}

/* ,"tls_client_certificate":{...}|null,"tls_ca_pem":"..."|null */
int
api_render_webhook_tls(struct wh_buf *b, const struct wh_webhook *w)
{
	struct wh_tls_info	info;
	char			ts[WH_RFC3339_LEN + 1];

	if (wh_buf_appendstr(b, ",\"tls_client_certificate\":") == -1)
		return (-1);
	if (w->tls_cert == NULL) {
		if (wh_buf_appendstr(b, "null") == -1)
			return (-1);
	} else if (wh_tls_cert_info(w->tls_cert, strlen(w->tls_cert),
	    &info) == -1 || wh_rfc3339_ms(info.not_after, ts) == -1 ||
	    wh_buf_appendstr(b, "{\"subject\":") == -1 ||
	    wh_json_str(b, info.subject, strlen(info.subject)) == -1 ||
	    wh_buf_appendstr(b, ",\"issuer\":") == -1 ||
	    wh_json_str(b, info.issuer, strlen(info.issuer)) == -1 ||
	    wh_buf_appendf(b, ",\"not_after\":\"%s\"}", ts) == -1)
		return (-1);
	if (wh_buf_appendstr(b, ",\"tls_ca_pem\":") == -1)
		return (-1);
	if (w->tls_ca == NULL)
		return (wh_buf_appendstr(b, "null"));
	return (wh_json_str(b, w->tls_ca, strlen(w->tls_ca)));
}

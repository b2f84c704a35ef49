/*
 * api.h: what the files of the Kore module share.
 *
 * A request is served by one state machine (struct api_ctx): route,
 * authenticate, then the resource handler, each step possibly waiting on
 * Redis. Redis replies arrive on the worker's own event loop; the ctx
 * outlives the Kore request if the client goes away while a command is in
 * flight, so a late reply never touches freed memory.
 */
#ifndef WH_API_H
#define WH_API_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "buf.h"
#include "config.h"
#include "ids.h"

#define API_PARAMS_MAX		3
#define API_REPLIES_MAX		16

/* A Redis reply, copied out of hiredis (which frees its own on return). */
struct api_reply {
	int			 type;		/* REDIS_REPLY_* */
	long long		 integer;
	char			*str;		/* string, status, error */
	size_t			 len;
	struct api_reply	**elem;
	size_t			 nelem;
};

struct api_principal {
	char		key_id[WH_ID_MAX];
	char		company_sid[WH_ID_MAX];
	int		admin;
};

struct api_ctx;
typedef int	(*api_handler)(struct api_ctx *);

struct api_route {
	int		 method;		/* HTTP_METHOD_* */
	const char	*pattern;		/* "/v1/webhooks/:" */
	api_handler	 handler;
	int		 auth;			/* 1: needs an API key */
};

struct api_ctx {
	struct http_request	*req;		/* NULL once Kore freed it */
	const struct api_route	*route;
	char			 params[API_PARAMS_MAX][WH_ID_MAX];
	int			 phase;		/* handler-defined step */
	int			 authed;
	struct api_principal	 who;
	unsigned char		 auth_hash[32];	/* SHA-256 of the given secret */
	int			 status;	/* of the response, for the log */
	int			 pending;	/* Redis replies awaited */
	int			 redis_failed;	/* a command got no reply */
	struct api_reply	*replies[API_REPLIES_MAX];
	size_t			 nreplies;
	void			*data;		/* the handler's own state */
	void			(*data_free)(void *);
	char			 request_id[WH_ID_MAX];
};

/* Handler results. */
#define API_DONE	0	/* a response was written */
#define API_WAIT	1	/* Redis commands were sent; sleep */

extern struct wh_config	api_cfg;

/* redis.c: the hiredis <-> Kore event loop adapter. */
int	api_redis_start(void);
int	api_redis_ready(void);
int	api_redis_cmd(struct api_ctx *, int argc, const char **argv,
	    const size_t *lens);
void	api_ctx_release(struct api_ctx *);
void	api_ctx_clear_replies(struct api_ctx *);

/* respond.c: JSON and RFC 9457 problem answers. */
#define API_ERRORS_MAX	16

/* Field errors gathered while validating one request body. */
struct api_errors {
	size_t		 n;
	char		 field[API_ERRORS_MAX][64];
	char		 message[API_ERRORS_MAX][128];
};

void	api_errors_add(struct api_errors *, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int	api_json(struct api_ctx *, int status, struct wh_buf *);
int	api_problem(struct api_ctx *, int status, const char *detail,
	    const char *field);
int	api_problem_errors(struct api_ctx *, int status, const char *detail,
	    const struct api_errors *);
int	api_problem_redis(struct api_ctx *);
int	api_problem_nomem(struct api_ctx *);
void	api_body(struct api_ctx *, const char **, size_t *);

/* auth.c */
int	api_auth_begin(struct api_ctx *);
int	api_auth_finish(struct api_ctx *);
int	api_company_visible(const struct api_ctx *, const char *company_sid);

/* webhooks.c, signing_keys.c, events.c, health.c */
int	api_webhooks_create(struct api_ctx *);
int	api_webhooks_get(struct api_ctx *);
int	api_signing_keys_list(struct api_ctx *);
int	api_events_publish(struct api_ctx *);
int	api_healthz(struct api_ctx *);

/* fields.c: reading request bodies (Kore's JSON) with field errors. */
struct kore_json;
struct kore_json_item;
struct kore_json_item	*api_body_object(struct api_ctx *, struct kore_json *,
			    const char *wrapper);
const char	*api_field_str(struct kore_json_item *, const char *name,
		    struct api_errors *, int required);
int		 api_field_int(struct kore_json_item *, const char *name,
		    struct api_errors *, long long lo, long long hi,
		    long long def, long long *out);
int		 api_field_bool(struct kore_json_item *, const char *name,
		    struct api_errors *, int def);
struct kore_json_item	*api_field_array(struct kore_json_item *,
			    const char *name, struct api_errors *);

/* render.c: resources as JSON. */
struct wh_webhook;
struct wh_signing_key;
int	api_render_webhook(struct wh_buf *, const struct wh_webhook *);
int	api_render_signing_key(struct wh_buf *, const struct wh_signing_key *);

#endif

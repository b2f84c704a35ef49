/*
 * caps.h: the api's per-tenant caps that operators may tune, read from
 * the environment like everything else (docs/operations.md,
 * "Configuration"; default and range in config_vars.h).
 *
 * Kept apart from config.c so that the launcher (which refuses a bad
 * value at start) and the Kore workers (which enforce it) read the
 * variable through the same code.
 */
#ifndef WH_CAPS_H
#define WH_CAPS_H

#include <stddef.h>

struct wh_caps {
	long	max_webhooks;	/* WH_MAX_WEBHOOKS_PER_COMPANY */
};

/*
 * Fill lim from the environment. On error returns -1 and writes one
 * sentence naming the variable into err.
 */
int	wh_caps_load(struct wh_caps *, char *err, size_t errlen);

#endif

/*
 * launcher.h: what the files of build/webhooks-api (the launcher, not
 * the Kore module) share.
 */
#ifndef WH_LAUNCHER_H
#define WH_LAUNCHER_H

#include <hiredis/hiredis.h>

#include "config.h"
#include "redis_wire.h"

/* --reencrypt-secrets: 0 when every signing key was rewritten. */
int	launcher_reencrypt(struct wh_wire *, const struct wh_config *);

#endif

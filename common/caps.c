/*
 * caps.c: WH_MAX_WEBHOOKS_PER_COMPANY. A company's webhook list is
 * loaded whole to be sorted by url or label, so the cap bounds the work
 * (and memory) of one list request as much as it bounds abuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "caps.h"
#include "config_vars.h"

int
wh_caps_load(struct wh_caps *lim, char *err, size_t errlen)
{
	const struct wh_config_var	*var;
	const char			*v;
	char				*end;
	long				 n;

	/* Default and range from the one table (config_vars.h). */
	var = wh_config_var("WH_MAX_WEBHOOKS_PER_COMPANY");
	lim->max_webhooks = var->def;
	if ((v = getenv("WH_MAX_WEBHOOKS_PER_COMPANY")) == NULL || *v == '\0')
		return (0);
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || errno != 0 || *end != '\0' ||
	    n < var->lo || n > var->hi) {
		(void)snprintf(err, errlen, "WH_MAX_WEBHOOKS_PER_COMPANY must "
		    "be a whole number from %ld to %ld (got \"%.40s\")",
		    var->lo, var->hi, v);
		return (-1);
	}
	lim->max_webhooks = n;
	return (0);
}

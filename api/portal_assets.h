/*
 * portal_assets.h: the delivery portal's files, compiled into the api
 * module by api/portal/embed (see the Makefile).
 */
#ifndef WH_PORTAL_ASSETS_H
#define WH_PORTAL_ASSETS_H

#include <stddef.h>

struct portal_asset {
	const char		*name;		/* "app.js": no directories */
	const char		*type;		/* Content-Type */
	const unsigned char	*raw;
	size_t			 raw_len;
	const unsigned char	*gz;		/* gzip -9n of raw */
	size_t			 gz_len;
};

/* Ends with a NULL name. */
extern const struct portal_asset	portal_assets[];

#endif

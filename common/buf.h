/*
 * buf.h: a growable byte buffer with explicit lengths.
 *
 * Kore has kore_buf, but common/ and the dispatcher do not link Kore, so
 * this is the one buffer both sides share. Every append can fail (ENOMEM or
 * the buffer's own cap) and says so: -1 on failure, 0 on success.
 */
#ifndef WH_BUF_H
#define WH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct wh_buf {
	char		*data;
	size_t		 len;
	size_t		 cap;
	size_t		 max;	/* 0 = unbounded, else hard cap in bytes */
};

void	wh_buf_init(struct wh_buf *, size_t max);
void	wh_buf_free(struct wh_buf *);
void	wh_buf_reset(struct wh_buf *);
int	wh_buf_reserve(struct wh_buf *, size_t extra);
int	wh_buf_append(struct wh_buf *, const void *, size_t);
int	wh_buf_appendstr(struct wh_buf *, const char *);
int	wh_buf_appendf(struct wh_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* NUL-terminates without counting the NUL in len; -1 on failure. */
int	wh_buf_cstr(struct wh_buf *);

#endif

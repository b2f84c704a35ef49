/*
 * metrics.h: what both programs need to publish their figures for the
 * api's GET /metrics: the latency histogram every timing uses, the set
 * of series one instance publishes, and the calls of
 * common/lua/metrics.lua that publish them (and that the api reads them
 * back with). Each process counts in its own memory and publishes once a
 * second; nothing here blocks or talks to Redis itself.
 */
#ifndef WH_METRICS_H
#define WH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "keys.h"

#define WH_METRICS_EVERY_MS	1000	/* each instance publishes */
#define WH_METRICS_STALE_MS	5000	/* unseen this long: gone */
#define WH_METRICS_TTL_S	3600	/* a gone instance's hash is kept */

/* Bucket bounds in seconds, as the exposition format's le labels. */
#define WH_HIST_BUCKETS		14
extern const char *const	wh_hist_le[WH_HIST_BUCKETS];

struct wh_hist {
	uint64_t	bucket[WH_HIST_BUCKETS];	/* per bucket, not summed */
	uint64_t	count;
	uint64_t	sum_us;
};

void	wh_hist_observe(struct wh_hist *, int64_t us);

/*
 * The series one instance publishes: "field\0value\0" pairs, a field
 * being "c" (cumulative) or "g" (gauge) then name{labels}.
 */
struct wh_mset {
	struct wh_buf	text;
	size_t		n;
};

void	wh_mset_init(struct wh_mset *);
void	wh_mset_free(struct wh_mset *);
/* labels as made by wh_label_add, or "" for none. 0 or -1 (ENOMEM). */
int	wh_mset_counter(struct wh_mset *, const char *name,
	    const char *labels, uint64_t);
int	wh_mset_gauge(struct wh_mset *, const char *name, const char *labels,
	    int64_t);
/* name_bucket{labels,le=...} (cumulative), name_sum (us), name_count. */
int	wh_mset_hist(struct wh_mset *, const char *name, const char *labels,
	    const struct wh_hist *);
/* Append name="value" to a label list, escaped for the text format. */
int	wh_label_add(struct wh_buf *, const char *name, const char *value);

/* The registry's keys under a WH_REDIS_PREFIX. */
struct wh_mkeys {
	char		registry[WH_KEY_MAX];
	char		retired[WH_KEY_MAX];
	char		prefix[WH_KEY_MAX];	/* of each instance's hash */
};

int	wh_mkeys_init(struct wh_mkeys *, const char *pfx);

/* One EVALSHA of metrics.lua, ready for redis*CommandArgv. */
struct wh_mcall {
	const char	**argv;
	size_t		 *lens;
	int		  argc;
	char		  num[2][24];
};

/*
 * mode "read": self and id NULL, set NULL. The strings given stay
 * referenced by argv: send before they change, then wh_mcall_free().
 */
int	wh_mcall_build(struct wh_mcall *, const struct wh_mkeys *,
	    const char *mode, const char *self, const char *id,
	    const struct wh_mset *);
void	wh_mcall_free(struct wh_mcall *);

/* One instance's publishing state. */
struct wh_mpub {
	struct wh_mkeys	keys;
	char		id[192];		/* kind:unique */
	char		self[WH_KEY_MAX];	/* its hash */
	int		busy;			/* a publish is in flight */
	int		failing;		/* the last one failed */
};

/* kind "api" or "dispatcher"; unique names the process. */
int	wh_mpub_init(struct wh_mpub *, const char *pfx, const char *kind,
	    const char *unique);
/* The reply to a publish: busy cleared, a failure logged once. */
void	wh_mpub_reply(struct wh_mpub *, const redisReply *);

#endif

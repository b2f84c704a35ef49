/*
 * dispatch.h: what the dispatcher's files share.
 *
 * A job is one stream entry (one event). It fans out into deliveries,
 * one per matching webhook; when the last delivery of a job is finished
 * the entry is acked and deleted from the stream (DESIGN.md: the streams
 * hold only work not yet done).
 */
#ifndef WH_DISPATCH_H
#define WH_DISPATCH_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "model.h"
#include "rconn.h"

#define ENTRY_ID_MAX	48

struct job {
	char			 entry_id[ENTRY_ID_MAX];
	struct wh_event		 ev;
	int			 outstanding;	/* lookups + deliveries */
	size_t			 nhooks;	/* lookups expected */
	size_t			 nlooked;
	struct delivery		*ready;		/* found, not yet started */
};

struct delivery {
	struct job		*job;
	struct wh_webhook	 hook;
	struct wh_signing_key	*keys;
	size_t			 nkeys;
	void			*easy;		/* CURL * */
	void			*headers;	/* struct curl_slist * */
	struct wh_buf		 body;
	struct wh_buf		 answer;	/* first bytes of the response */
	int64_t			 started_mono;
	char			 errbuf[256];
	struct delivery		*next_ready;
	TAILQ_ENTRY(delivery)	 queue;
};

struct dispatcher {
	struct wh_config	 cfg;
	char			 consumer[128];
	char			 k_events[256];
	struct rconn		 main;		/* lookups, acks, group admin */
	struct rconn		 block;		/* XREADGROUP ... BLOCK only */
	int			 reading;	/* an XREADGROUP is in flight */
	int			 stopping;	/* SIGTERM: read no more */
	size_t			 jobs;		/* entries held */
	size_t			 inflight;	/* transfers running */
	size_t			 queued;	/* deliveries waiting for a slot */
	/* counters since start, for the log and later for metrics */
	uint64_t		 n_delivered, n_failed, n_events, n_malformed;
};

extern struct dispatcher	d;

/* consume.c */
void	consume_up(struct rconn *);
void	consume_block_up(struct rconn *);
void	consume_maybe_read(void);
void	job_delivery_done(struct job *);
void	acks_flush(void);

/* deliver.c */
int	deliver_init(void);
void	deliver_free(void);
void	deliver_enqueue(struct delivery *);
void	delivery_free(struct delivery *);

#endif

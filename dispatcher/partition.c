/*
 * partition.c: the queue's partitions (WH_PARTITIONS, docs/design.md
 * "Partitions"). Partition p has its own wh:{p}:events, :retries, :retry
 * and :dead; every dispatcher reads every partition, and what it writes
 * for a delivery (a retry, a dead letter) goes to the partition of the
 * event's company, where the api and direct publishers look for it.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "keys.h"
#include "log.h"

int
partitions_init(void)
{
	unsigned	p;

	d.nparts = d.cfg.partitions > 0 ? d.cfg.partitions : 1;
	if ((d.parts = calloc(d.nparts, sizeof(*d.parts))) == NULL)
		return (-1);
	for (p = 0; p < d.nparts; p++) {
		if (wh_key_events(d.parts[p].k_events,
		    sizeof(d.parts[p].k_events), d.cfg.prefix, p) == -1 ||
		    wh_key_retries(d.parts[p].k_retries,
		    sizeof(d.parts[p].k_retries), d.cfg.prefix, p) == -1 ||
		    wh_key_retry(d.parts[p].k_retry,
		    sizeof(d.parts[p].k_retry), d.cfg.prefix, p) == -1 ||
		    wh_key_dead(d.parts[p].k_dead,
		    sizeof(d.parts[p].k_dead), d.cfg.prefix, p) == -1)
			return (-1);
	}
	return (0);
}

void
partitions_free(void)
{
	free(d.parts);
	d.parts = NULL;
	d.nparts = 0;
}

/*
 * The index of a company's partition (docs/design.md "Partitions"): where
 * its retries, dead letters, kept events and ordering holds live, whatever
 * partition a publisher put the event in.
 */
unsigned
partition_index(const char *company_sid)
{
	return (wh_partition(company_sid != NULL ? company_sid : "",
	    d.nparts));
}

/*
 * A stream named in a reply (or one of our own names) as ours: the
 * pointer every job and ack batch keeps, with its partition and its kind
 * (ENTRY_EVENT or ENTRY_RETRY). NULL when it is none of ours.
 */
const char *
partition_stream(const char *name, unsigned *part, int *kind)
{
	unsigned	p;

	for (p = 0; p < d.nparts; p++) {
		if (name == d.parts[p].k_events ||
		    strcmp(name, d.parts[p].k_events) == 0) {
			*part = p;
			*kind = ENTRY_EVENT;
			return (d.parts[p].k_events);
		}
		if (name == d.parts[p].k_retries ||
		    strcmp(name, d.parts[p].k_retries) == 0) {
			*part = p;
			*kind = ENTRY_RETRY;
			return (d.parts[p].k_retries);
		}
	}
	return (NULL);
}

#!/bin/sh
# Publish one event straight into Redis with redis-cli, by the public stream
# contract (an XADD to wh:{p}:events, p the company's partition). Usage:
#   publish.sh COMPANY_SID EVENT_TYPE PAYLOAD_JSON [EVENT_SID]
# With EVENT_SID the event goes through common/lua/publish_event.lua, so a
# repeat within 24 hours is not delivered twice. REDIS_HOST, REDIS_PORT,
# WH_REDIS_PREFIX (default "wh:") and WH_PARTITIONS (default 1, the same as
# the programs') say where. WH_REDIS_CLUSTER_NODES (host:port[,host:port...],
# as the programs take it) publishes to a Redis Cluster instead: redis-cli -c
# from the first node, which follows the cluster's redirections.
set -eu
here=$(dirname "$0")
script="$here/../../common/lua/publish_event.lua"
host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
p=${WH_REDIS_PREFIX:-wh:}
cluster=
if [ -n "${WH_REDIS_CLUSTER_NODES:-}" ]; then
	seed=${WH_REDIS_CLUSTER_NODES%%,*}
	host=${seed%:*}
	port=${seed##*:}
	cluster=-c
fi

# The company's partition (docs/design.md, "Partitions"): FNV-1a 32 of the
# company_sid's bytes, modulo the partition count.
partition() {
	h=2166136261
	for b in $(printf %s "$1" | od -An -tu1); do
		h=$(( ((h ^ b) * 16777619) % 4294967296 ))
	done
	echo $(( h % $2 ))
}
part=$(partition "$1" "${WH_PARTITIONS:-1}")
stream="${p}{$part}:events"

if [ $# -eq 3 ]; then
	# Plain XADD: the dispatcher derives an event_sid from the entry id.
	exec redis-cli $cluster -h "$host" -p "$port" XADD "$stream" '*' \
	    company_sid "$1" event_type "$2" payload "$3"
fi
# --eval takes KEYS, a comma, then ARGV: the window in seconds, then the
# fields. Answers 1, entry id, ts (added) or 0, ts, event_type, same. On a
# cluster the idempotency key is in the stream's slot (docs/publishing.md).
idem="${p}idem:$1:$4"
[ -z "$cluster" ] || idem="${p}{$part}:idem:$1:$4"
exec redis-cli $cluster -h "$host" -p "$port" --eval "$script" \
    "$idem" "$stream" , 86400 \
    company_sid "$1" event_type "$2" payload "$3" event_sid "$4"

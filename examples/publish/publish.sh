#!/bin/sh
# Publish one event straight into Redis with redis-cli, by the public stream
# contract (an XADD to wh:{p}:events, p the company's partition). Usage:
#   publish.sh COMPANY_SID EVENT_TYPE PAYLOAD_JSON [EVENT_SID]
# With EVENT_SID the event goes through common/lua/publish_event.lua, so a
# repeat within 24 hours is not delivered twice. REDIS_HOST, REDIS_PORT,
# WH_REDIS_PREFIX (default "wh:") and WH_PARTITIONS (default 1, the same as
# the programs') say where.
set -eu
here=$(dirname "$0")
script="$here/../../common/lua/publish_event.lua"
host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
p=${WH_REDIS_PREFIX:-wh:}

# The company's partition (docs/design.md, "Partitions"): FNV-1a 32 of the
# company_sid's bytes, modulo the partition count.
partition() {
	h=2166136261
	for b in $(printf %s "$1" | od -An -tu1); do
		h=$(( ((h ^ b) * 16777619) % 4294967296 ))
	done
	echo $(( h % $2 ))
}
stream="${p}{$(partition "$1" "${WH_PARTITIONS:-1}")}:events"

if [ $# -eq 3 ]; then
	# Plain XADD: the dispatcher derives an event_sid from the entry id.
	exec redis-cli -h "$host" -p "$port" XADD "$stream" '*' \
	    company_sid "$1" event_type "$2" payload "$3"
fi
# --eval takes KEYS, a comma, then ARGV: the window in seconds, then the
# fields. Answers 1, entry id, ts (added) or 0, ts, event_type, same.
exec redis-cli -h "$host" -p "$port" --eval "$script" \
    "${p}idem:$1:$4" "$stream" , 86400 \
    company_sid "$1" event_type "$2" payload "$3" event_sid "$4"

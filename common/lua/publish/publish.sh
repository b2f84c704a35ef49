#!/bin/sh
# Publish one event straight into Redis with redis-cli (docs/design.md, "Publishing
# an event straight into Redis"). Usage:
#   publish.sh COMPANY_SID EVENT_TYPE PAYLOAD_JSON [EVENT_SID]
# With EVENT_SID the event goes through common/lua/publish_event.lua, so a
# repeat within 24 hours is not delivered twice. REDIS_HOST, REDIS_PORT and
# WH_REDIS_PREFIX (default "wh:") say where.
set -eu
here=$(dirname "$0")
script="$here/../publish_event.lua"
host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
p=${WH_REDIS_PREFIX:-wh:}

if [ $# -eq 3 ]; then
	# Plain XADD: the dispatcher derives an event_sid from the entry id.
	exec redis-cli -h "$host" -p "$port" XADD "${p}{0}:events" '*' \
	    company_sid "$1" event_type "$2" payload "$3"
fi
# --eval takes KEYS, a comma, then ARGV: the window in seconds, then the
# fields. Answers 1, entry id, ts (added) or 0, ts, event_type, same.
exec redis-cli -h "$host" -p "$port" --eval "$script" \
    "${p}idem:$1:$4" "${p}{0}:events" , 86400 \
    company_sid "$1" event_type "$2" payload "$3" event_sid "$4"

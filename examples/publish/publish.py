#!/usr/bin/env python3
"""Publish one event straight into Redis with redis-py (Debian: python3-redis).

    publish.py COMPANY_SID EVENT_TYPE PAYLOAD_JSON [EVENT_SID]

Without EVENT_SID: a plain XADD (the dispatcher derives an event_sid from
the entry id). With it: the idempotent Lua script shipped in
common/lua/publish_event.lua, registered once and then called by its SHA
(redis-py's register_script falls back to EVAL after a Redis restart).
REDIS_URL (default redis://127.0.0.1:6379), WH_REDIS_PREFIX and
WH_PARTITIONS (default 1, the same as the programs') say where.
WH_REDIS_CLUSTER_NODES (host:port[,host:port...], as the programs take it)
publishes to a Redis Cluster instead (redis-py's RedisCluster), with the
idempotency key in the stream's slot.
"""
import json
import os
import pathlib
import sys

import redis
from redis.cluster import ClusterNode, RedisCluster

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "common" / "lua" / "publish_event.lua"


def partition(company_sid, n):
    """The company's partition (docs/design.md, "Partitions"): FNV-1a 32
    of the company_sid's bytes, modulo the partition count."""
    h = 0x811C9DC5
    for b in company_sid.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h % n


def main():
    company, event_type, payload = sys.argv[1:4]
    event_sid = sys.argv[4] if len(sys.argv) > 4 else None
    json.loads(payload)  # the dispatcher dead-letters a payload that is not JSON
    seeds = os.environ.get("WH_REDIS_CLUSTER_NODES")
    if seeds:
        nodes = [ClusterNode(h, int(port)) for h, port in (s.rsplit(":", 1) for s in seeds.split(","))]
        r = RedisCluster(startup_nodes=nodes)
    else:
        r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    p = os.environ.get("WH_REDIS_PREFIX", "wh:")
    n = int(os.environ.get("WH_PARTITIONS", "1"))
    tag = f"{{{partition(company, n)}}}"
    stream = f"{p}{tag}:events"
    idem = f"{p}{tag}:idem:{company}:{event_sid}" if seeds else f"{p}idem:{company}:{event_sid}"
    if event_sid is None:
        entry_id = r.xadd(stream, {"company_sid": company, "event_type": event_type, "payload": payload})
        print(entry_id.decode())
        return
    publish = r.register_script(SCRIPT.read_text())
    reply = publish(
        keys=[idem, stream],
        args=[86400, "company_sid", company, "event_type", event_type, "payload", payload, "event_sid", event_sid],
    )
    if reply[0] == 1:
        print("added", reply[1].decode(), reply[2].decode())
    elif reply[3] == 1:
        print("repeat", reply[1].decode())
    else:
        sys.exit(f"conflict: {event_sid} was published with another event_type or payload")


if __name__ == "__main__":
    main()

# The dispatcher image: build/webhooks-dispatcher. Build context: the repo root
#   docker build -f docker/dispatcher.Dockerfile -t streem-webhooks-dispatcher .
# Run as many copies as the load needs (compose --scale, a Deployment's
# replicas). The build stage is the same, instruction for instruction, as
# the one in docker/api.Dockerfile, so that the two builds share its cache.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential pkg-config kore libhiredis-dev libcurl4-openssl-dev \
      libmsgpack-dev libcmocka-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile VERSION ./
COPY common/ common/
COPY api/ api/
COPY dispatcher/ dispatcher/
RUN make -j"$(nproc)" all

FROM debian:bookworm-slim
# ca-certificates: deliveries go to https URLs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libhiredis0.14 libcurl4 libmsgpackc2 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin webhooks
COPY --from=build /src/build/webhooks-dispatcher /opt/streem-webhooks/

# The documented defaults (docs/operations.md, "Configuration").
ENV WH_REDIS_URL=redis://127.0.0.1:6379/0 \
    WH_ALLOW_PRIVATE_TARGETS=0 \
    WH_RETRY_SCALE=1 \
    WH_DISPATCH_CONCURRENCY=512

USER 10001:10001
WORKDIR /opt/streem-webhooks

# The dispatcher has no HTTP port: its event loop rewrites a heartbeat file
# every second (WH_HEARTBEAT_FILE, default /tmp/webhooks-dispatcher.heartbeat)
# and --check-heartbeat exits non-zero once it is older than 10 s, the same
# check as the Kubernetes liveness probe (docker/k8s/dispatcher.yaml). A
# Redis outage does not fail it (the dispatcher reconnects by itself).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/opt/streem-webhooks/webhooks-dispatcher", "--check-heartbeat", "10"]

# Exec form: the dispatcher is PID 1 and gets SIGTERM itself (it stops
# reading, finishes or hands back its in-flight attempts, exits 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/streem-webhooks/webhooks-dispatcher"]

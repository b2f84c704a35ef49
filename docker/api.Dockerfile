# The api image: build/webhooks-api (the launcher), the Kore module, its
# configuration template and build/webhooks-kore, our kore (built from the
# sources Debian's kore package ships, with api/kore/patches applied; the
# package is needed to build, not to run). Build context: the repo root
#   docker build -f docker/api.Dockerfile -t streem-webhooks-api .
# The build stage is the same, instruction for instruction, as the one in
# docker/dispatcher.Dockerfile, so that the two builds share its cache.

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
# Our kore needs only libssl3 and libc at run time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libhiredis0.14 libmsgpackc2 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin webhooks
# The launcher finds the module, the template and kore beside itself.
# Owned by root, read-only for the service user.
COPY --from=build /src/build/webhooks-api /src/build/webhooks-api.so \
     /src/build/webhooks-api.conf /src/build/webhooks-kore \
     /opt/streem-webhooks/

# The documented defaults (docs/operations.md, "Configuration"), except the listen
# address: in a container the api must be reachable from outside it.
ENV WH_REDIS_URL=redis://127.0.0.1:6379/0 \
    WH_API_LISTEN=0.0.0.0:8080 \
    WH_ALLOW_PRIVATE_TARGETS=0 \
    WH_RETRY_SCALE=1
# WH_BOOTSTRAP_KEY (key_id:secret) is deliberately not set here: it is a
# secret, given at run time (compose, a Kubernetes Secret).

USER 10001:10001
WORKDIR /opt/streem-webhooks
EXPOSE 8080

# GET /healthz over bash's /dev/tcp: no curl in the image. The port follows
# WH_API_LISTEN; a wildcard or loopback bind is probed on 127.0.0.1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "l=${WH_API_LISTEN:-0.0.0.0:8080}; h=${l%:*}; p=${l##*:}; case $h in 0.0.0.0|''|'[::]') h=127.0.0.1;; '['*) h=${h#[}; h=${h%]};; esac; exec 3<>/dev/tcp/$h/$p || exit 1; printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3; IFS=' ' read -r -t 2 v s _ <&3 && [ \"$s\" = 200 ]"]

# Exec form: the launcher is PID 1 and receives SIGTERM itself; it passes
# it on to kore.
ENTRYPOINT ["/opt/streem-webhooks/webhooks-api"]

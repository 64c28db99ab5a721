# The txhook image: one binary, configured by the environment only.
#
#   docker build -t txhook .
#   docker run --rm --stop-timeout 30 -p 8080:8080 --env-file .env.example -e DATABASE_URL=postgres://... txhook
#
# Stages: chef (toolchain + cargo-chef) -> planner (recipe of the dependency graph) ->
# builder (dependencies in their own cached layer, then txhook) -> runtime (slim Debian).
# docs/deployment.md describes the settings; docker-compose.yml runs it with PostgreSQL.

# Base images, bumped together on purpose: the builder's toolchain is the one CI uses, and
# both stages are Debian 12 (bookworm) so the binary and the runtime share one glibc.
# Pin them by digest in your own registry (docs/deployment.md, "The image").
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=debian:12.13-slim

FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION=0.1.77
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The recipe changes only when Cargo.toml or Cargo.lock does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until the recipe changes.
RUN cargo chef cook --release --locked --bin txhook --recipe-path recipe.json
COPY . .
# Migrations are embedded in the binary (sqlx::migrate!), so migrations/ is part of the context.
# Stripped for the image (about 16 MB instead of 91); the line tables stay in the builder
# stage as /out/txhook.debug for whoever needs to symbolize a backtrace. objcopy is binutils,
# which the Rust slim image has (its gcc depends on it). scripts/image-test.sh checks the result.
RUN mkdir -p /out \
    && cargo build --release --locked --bin txhook \
    && objcopy --only-keep-debug target/release/txhook /out/txhook.debug \
    && objcopy --strip-all target/release/txhook /out/txhook \
    && chmod 0755 /out/txhook

FROM ${RUNTIME_IMAGE} AS runtime

# ca-certificates only. The binary carries its own (webpki) roots for the provider, the
# stream and PostgreSQL; the system bundle is there for sslrootcert= and for private CAs
# mounted beside it. Not pinned to a Debian revision: the archive keeps only the current
# one, so a pin would break the build at the next security update. The base image tag is
# the pin. apt's package caches (*.bin, 70 MB) go too, where the base image does not already
# keep apt from writing them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && groupadd --system --gid 10001 txhook \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin txhook \
    && install -d -m 0755 /srv/txhook

COPY --from=builder /out/txhook /usr/local/bin/txhook

# The labels after the layers: a new REVISION or CREATED changes metadata only, and the
# layers above stay cached (build arguments in scope are part of each RUN's cache key).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="txhook" \
      org.opencontainers.image.description="Receives payment-transaction callbacks and stream events and keeps them, exactly once, in PostgreSQL" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.documentation="docs/deployment.md"

# An empty working directory: txhook reads ./config.toml only when one is there, so the
# image is configured by the environment alone (mount a file here, or pass --config, to use
# one). The process writes nothing to disk: the root filesystem may be read-only.
WORKDIR /srv/txhook
ENV TXHOOK_LISTEN=0.0.0.0:8080
# Numeric, so that runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080

# The binary's own probe (no curl in the image): 0 when /readyz answers 200, on the port of
# TXHOOK_LISTEN.
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s --retries=3 \
    CMD ["txhook", "healthcheck"]

# SIGTERM drains in-flight requests (TXHOOK_SHUTDOWN_TIMEOUT_SECS, 25 s by default): give
# the container at least 30 s to stop (compose stop_grace_period, k8s
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["txhook"]
CMD ["serve"]
